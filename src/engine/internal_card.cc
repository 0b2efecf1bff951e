// Credit card numbers are found by a hand-written digit scanner rather than a regex: the Luhn
// checksum is not a regular property, and scanning digit runs once lets us check issuer prefix,
// length, grouping and checksum together in a single linear pass with no backtracking.
#include "engine/internal_card.h"

#include <cstdint>

namespace leakscope {
namespace {

constexpr size_t kMinCardDigits = 12;
constexpr size_t kMaxCardDigits = 19;
// A grouped number has at most five groups (4-4-4-4-3); reading one more group lets the scanner
// see that a chain of groups is longer than any card.
constexpr size_t kMaxGroups = 6;
// 19 digits in 4-4-4-4-3 grouping carry four separators.
constexpr size_t kMaxCardLength = kMaxCardDigits + 4;

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr uint32_t Len(int n) { return uint32_t{1} << n; }
constexpr uint32_t Lens(int lo, int hi) {
  uint32_t m = 0;
  for (int n = lo; n <= hi; ++n) m |= Len(n);
  return m;
}

// An issuer identification number range: the first `prefix_digits` digits, read as a number,
// lie in [lo, hi], and the card length is one of `lengths` (bit n set = n digits).
struct IssuerRange {
  int prefix_digits;
  int lo;
  int hi;
  uint32_t lengths;
};

constexpr IssuerRange kIssuers[] = {
    {1, 4, 4, Len(13) | Len(16) | Len(19)},  // Visa (19 for Visa Electron / newer BINs)
    {2, 51, 55, Len(16)},                    // Mastercard
    {4, 2221, 2720, Len(16)},                // Mastercard 2-series
    {2, 34, 34, Len(15)},                    // American Express
    {2, 37, 37, Len(15)},                    // American Express
    {4, 6011, 6011, Lens(16, 19)},           // Discover
    {3, 644, 649, Lens(16, 19)},             // Discover
    {2, 65, 65, Lens(16, 19)},               // Discover
    {3, 300, 305, Lens(14, 19)},             // Diners Club International
    {4, 3095, 3095, Lens(14, 19)},           // Diners Club International
    {2, 36, 36, Lens(14, 19)},               // Diners Club International
    {2, 38, 39, Lens(14, 19)},               // Diners Club International
    {4, 3528, 3589, Lens(16, 19)},           // JCB
    {2, 62, 62, Lens(16, 19)},               // UnionPay (includes Discover's 622126-622925)
    {4, 2200, 2204, Lens(16, 19)},           // Mir
    // Maestro: only its dedicated IINs. Its historical "any 50/56-69 prefix" rule would make
    // most 12-19 digit numbers with a valid checksum (one in ten) look like cards.
    {4, 5018, 5018, Lens(12, 19)},
    {4, 5020, 5020, Lens(12, 19)},
    {4, 5038, 5038, Lens(12, 19)},
    {4, 5893, 5893, Lens(12, 19)},
    {4, 6304, 6304, Lens(12, 19)},
    {4, 6759, 6759, Lens(12, 19)},
    {4, 6761, 6763, Lens(12, 19)},
};

// True if the group lengths (in order) are a grouping people actually write: no grouping, groups
// of four with a shorter-or-equal last group (4-4-4-4, 4-4-4-4-3, 4-4-4-2, ...), or the 4-6-5
// (Amex) and 4-6-4 (Diners) layouts.
bool GroupingOk(const size_t* lens, size_t n) {
  if (n == 1) return true;
  if (n == 3 && lens[0] == 4 && lens[1] == 6 && (lens[2] == 5 || lens[2] == 4)) return true;
  for (size_t i = 0; i + 1 < n; ++i) {
    if (lens[i] != 4) return false;
  }
  return lens[n - 1] >= 1 && lens[n - 1] <= 4;
}

// Looks for a card number starting at `b` (a digit not preceded by a digit). Returns the end of
// the longest valid candidate, or 0 if there is none. `*first_run_end` receives the end of the
// digit run at `b`, where the caller resumes when nothing matches.
size_t MatchCardAt(std::string_view text, size_t b, size_t* first_run_end) {
  size_t lens[kMaxGroups];
  size_t ends[kMaxGroups];
  size_t groups = 0;
  size_t total = 0;
  char sep = 0;
  size_t p = b;
  for (;;) {
    size_t q = p;
    while (q < text.size() && IsDigit(text[q])) ++q;
    if (groups == 0) *first_run_end = q;
    lens[groups] = q - p;
    ends[groups] = q;
    ++groups;
    total += q - p;
    if (total > kMaxCardDigits || groups == kMaxGroups) break;
    // Continue the chain over one separator, the same one throughout (mixed "4111-1111 1111" is
    // not a card layout).
    if (q + 1 < text.size() && (text[q] == ' ' || text[q] == '-') && IsDigit(text[q + 1]) &&
        (sep == 0 || sep == text[q])) {
      sep = text[q];
      p = q + 1;
      continue;
    }
    break;
  }

  // Longest candidate first: each candidate ends at a group end, so it is never followed by a
  // digit. A shorter one is still useful when, e.g., a CVV follows the number after a space.
  char digits[kMaxCardDigits];
  for (size_t j = groups; j >= 1; --j) {
    size_t count = 0;
    for (size_t i = 0; i < j; ++i) count += lens[i];
    if (count < kMinCardDigits || count > kMaxCardDigits || !GroupingOk(lens, j)) continue;
    size_t k = 0;
    for (size_t i = b; i < ends[j - 1]; ++i) {
      if (IsDigit(text[i])) digits[k++] = text[i];
    }
    std::string_view number(digits, k);
    if (CardIssuerKnown(number) && LuhnValid(number)) return ends[j - 1];
  }
  return 0;
}

class CreditCardMatcher : public InternalMatcher {
 public:
  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t p = start_pos;
    // A digit run that began before start_pos is not a candidate start.
    if (p > 0 && p < text.size() && IsDigit(text[p - 1])) {
      while (p < text.size() && IsDigit(text[p])) ++p;
    }
    while (p < text.size()) {
      if (!IsDigit(text[p])) {
        ++p;
        continue;
      }
      size_t run_end = p;
      size_t end = MatchCardAt(text, p, &run_end);
      if (end != 0) {
        out->push_back(Span{p, end});
        p = end;
      } else {
        p = run_end;
      }
    }
  }

  bool MatchesWhole(std::string_view text) const override {
    if (text.empty() || !IsDigit(text[0])) return false;
    size_t run_end = 0;
    return MatchCardAt(text, 0, &run_end) == text.size();
  }

  size_t MaxMatchLength() const override { return kMaxCardLength; }
};

}  // namespace

bool LuhnValid(std::string_view digits) {
  if (digits.empty()) return false;
  int sum = 0;
  bool doubled = false;  // the rightmost (check) digit is not doubled
  for (size_t i = digits.size(); i-- > 0;) {
    char c = digits[i];
    if (!IsDigit(c)) return false;
    int d = c - '0';
    if (doubled) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    doubled = !doubled;
  }
  return sum % 10 == 0;
}

bool CardIssuerKnown(std::string_view digits) {
  size_t n = digits.size();
  if (n < kMinCardDigits || n > kMaxCardDigits) return false;
  for (const IssuerRange& r : kIssuers) {
    if ((r.lengths & Len(static_cast<int>(n))) == 0) continue;
    int prefix = 0;
    for (int i = 0; i < r.prefix_digits; ++i) {
      if (!IsDigit(digits[i])) return false;
      prefix = prefix * 10 + (digits[i] - '0');
    }
    if (prefix >= r.lo && prefix <= r.hi) return true;
  }
  return false;
}

std::unique_ptr<InternalMatcher> MakeCreditCardMatcher() {
  return std::make_unique<CreditCardMatcher>();
}

}  // namespace leakscope
