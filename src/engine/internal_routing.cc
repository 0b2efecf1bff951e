// ABA routing numbers are found by scanning digit runs by hand: the checksum is not a regular
// property, and a run of exactly nine digits can be checked in place in one linear pass.
#include "engine/internal_routing.h"

namespace leakscope {
namespace {

constexpr size_t kRoutingDigits = 9;

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class RoutingNumberMatcher : public InternalMatcher {
 public:
  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t p = start_pos;
    // A digit run that began before start_pos is part of a longer number, not a candidate.
    if (p > 0 && p < text.size() && IsDigit(text[p - 1])) {
      while (p < text.size() && IsDigit(text[p])) ++p;
    }
    while (p < text.size()) {
      if (!IsDigit(text[p])) {
        ++p;
        continue;
      }
      size_t q = p;
      while (q < text.size() && IsDigit(text[q])) ++q;
      if (q - p == kRoutingDigits && AbaRoutingNumberValid(text.substr(p, kRoutingDigits))) {
        out->push_back(Span{p, q});
      }
      p = q;
    }
  }

  bool MatchesWhole(std::string_view text) const override {
    return AbaRoutingNumberValid(text);
  }

  size_t MaxMatchLength() const override { return kRoutingDigits; }
};

}  // namespace

bool AbaRoutingNumberValid(std::string_view digits) {
  if (digits.size() != kRoutingDigits) return false;
  int d[kRoutingDigits];
  bool all_zero = true;
  for (size_t i = 0; i < kRoutingDigits; ++i) {
    if (!IsDigit(digits[i])) return false;
    d[i] = digits[i] - '0';
    all_zero = all_zero && d[i] == 0;
  }
  // 000000000 satisfies both rules (prefix 00 is the US Government) but is a placeholder, never a
  // real routing number, and is common in test data and zero-filled fields.
  if (all_zero) return false;
  // Federal Reserve prefixes: 00-12 (banks), 21-32 (thrifts), 61-72 (electronic), 80 (traveler's
  // cheques).
  int prefix = d[0] * 10 + d[1];
  bool prefix_ok = prefix <= 12 || (prefix >= 21 && prefix <= 32) ||
                   (prefix >= 61 && prefix <= 72) || prefix == 80;
  if (!prefix_ok) return false;
  int sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
  return sum % 10 == 0;
}

std::unique_ptr<InternalMatcher> MakeRoutingNumberMatcher() {
  return std::make_unique<RoutingNumberMatcher>();
}

}  // namespace leakscope
