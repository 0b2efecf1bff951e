// Phone numbers are found by a hand-written scanner that proposes a few candidate spans per
// start position and lets libphonenumber decide: validity depends on per-country numbering plans,
// which no regex over the raw text can express, and libphonenumber's own PhoneNumberMatcher is
// lenient in ways that are hard to bound (it runs its own regexes over whole paragraphs).
#include "engine/internal_phone.h"

#ifdef LEAKSCOPE_HAVE_PHONENUMBER

#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <utility>

namespace leakscope {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// libphonenumber's Parse costs microseconds; bounding the attempts per start position keeps the
// scan linear with a small constant even on inputs made of digit groups.
constexpr int kMaxParseAttempts = 3;
// Digit groups in a written number: "+33 1 42 68 53 00" has six.
constexpr size_t kMaxPhoneGroups = 7;
// E.164 allows 15 digits; two more leave room for a written trunk prefix such as "+44 (0)20".
constexpr size_t kMaxPhoneDigits = 17;
// The shortest international numbers (e.g. +290 XXXX, +683 XXXX) have seven digits.
constexpr size_t kMinIntPhoneDigits = 7;
// Some plans have four-digit national numbers.
constexpr size_t kMinNationalPhoneDigits = 4;
// MatchesWhole parses another rule's match; bound the text handed to the parser.
constexpr size_t kMaxWholeLength = 64;

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsSeparator(char c) {
  return c == ' ' || c == '.' || c == '-' || c == '(' || c == ')';
}

// True if two consecutive separators are a layout people write: ") " or ")-" after an area code,
// " (" or "-(" before one. Anything else (double spaces, "--", ". (") ends a candidate.
inline bool SeparatorPairOk(char first, char second) {
  return (first == ')' && (second == ' ' || second == '-' || second == '.')) ||
         ((first == ' ' || first == '-') && second == '(');
}

// Looks for a phone number whose first byte is `b`. The candidate run is `+`/`(`/digit at `b`
// followed by digit groups and separators, at most kMaxPhoneLength bytes. Candidates end at the
// end of a digit group (never followed by a digit) and are tried longest first. Returns the end
// of the first candidate `valid` accepts, or 0.
//
// Before calling `valid` (libphonenumber, costly), a candidate must look like a written number:
// at most kMaxPhoneGroups digit groups, of which at most one besides the first (a country or
// trunk code such as "+1" or "1") has a single digit ("+33 1 42 68 53 00", "+44 (0)20 ..."). This
// keeps digit soup such as "1 2-3 4" from costing a parse per start position.
template <typename Valid>
size_t MatchPhoneAt(std::string_view text, size_t b, size_t min_digits, const Valid& valid) {
  size_t limit = std::min(text.size(), b + kMaxPhoneLength);
  size_t ends[kMaxPhoneLength];
  size_t num_ends = 0;
  size_t digits = 0;
  size_t groups = 0;
  size_t single_digit_groups = 0;  // not counting the first group
  size_t group_len = 0;
  char prev = 0;
  for (size_t i = b; i < limit; ++i) {
    char c = text[i];
    if (IsDigit(c)) {
      ++digits;
      ++group_len;
      bool group_end = i + 1 == text.size() || !IsDigit(text[i + 1]);
      if (!group_end) {
        prev = c;
        continue;
      }
      ++groups;
      if (groups > 1 && group_len == 1) ++single_digit_groups;
      group_len = 0;
      if (groups > kMaxPhoneGroups || single_digit_groups > 1) break;
      if (digits >= min_digits && digits <= kMaxPhoneDigits) ends[num_ends++] = i + 1;
    } else if (i == b && c == '+') {
      // The leading '+' of an international number.
    } else if (!IsSeparator(c) || (i > b && !IsDigit(prev) && !SeparatorPairOk(prev, c))) {
      break;
    }
    prev = c;
  }
  int attempts = 0;
  for (size_t k = num_ends; k-- > 0 && attempts < kMaxParseAttempts;) {
    ++attempts;
    if (valid(text.substr(b, ends[k] - b))) return ends[k];
  }
  return 0;
}

class IntPhoneMatcher : public InternalMatcher {
 public:
  IntPhoneMatcher() : util_(PhoneNumberUtil::GetInstance()) {}

  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t p = start_pos;
    while (p < text.size()) {
      const void* hit = memchr(text.data() + p, '+', text.size() - p);
      if (hit == nullptr) return;
      size_t b = static_cast<const char*>(hit) - text.data();
      size_t end = 0;
      if (b + 1 < text.size() && IsDigit(text[b + 1]) && (b == 0 || !IsDigit(text[b - 1]))) {
        end = MatchPhoneAt(text, b, kMinIntPhoneDigits,
                           [this](std::string_view c) { return Valid(c); });
      }
      if (end != 0) {
        out->push_back(Span{b, end});
        p = end;
      } else {
        p = b + 1;
      }
    }
  }

  bool MatchesWhole(std::string_view text) const override {
    if (text.size() < 2 || text[0] != '+' || !IsDigit(text[1])) return false;
    return MatchPhoneAt(text, 0, kMinIntPhoneDigits,
                        [this](std::string_view c) { return Valid(c); }) == text.size();
  }

  size_t MaxMatchLength() const override { return kMaxPhoneLength; }

 private:
  bool Valid(std::string_view candidate) const {
    PhoneNumber number;
    // "ZZ" (unknown region): the number must carry its own country code.
    if (util_->Parse(std::string(candidate), "ZZ", &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
      return false;
    }
    return util_->IsValidNumber(number);
  }

  const PhoneNumberUtil* util_;
};

class NationalPhoneMatcher : public InternalMatcher {
 public:
  explicit NationalPhoneMatcher(std::string region)
      : util_(PhoneNumberUtil::GetInstance()), region_(std::move(region)) {}

  void FindAll(std::string_view text, size_t start_pos, std::vector<Span>* out) const override {
    size_t p = start_pos;
    // A digit run that began before start_pos is not a candidate start.
    if (p > 0 && p < text.size() && IsDigit(text[p - 1])) {
      while (p < text.size() && IsDigit(text[p])) ++p;
    }
    while (p < text.size()) {
      char c = text[p];
      bool digit = IsDigit(c);
      bool opener = (c == '+' || c == '(') && p + 1 < text.size() && IsDigit(text[p + 1]);
      if ((!digit && !opener) || (p > 0 && IsDigit(text[p - 1]))) {
        ++p;
        continue;
      }
      size_t end = MatchPhoneAt(text, p, kMinNationalPhoneDigits,
                                [this](std::string_view s) { return Valid(s); });
      if (end != 0) {
        out->push_back(Span{p, end});
        p = end;
      } else if (digit) {
        while (p < text.size() && IsDigit(text[p])) ++p;  // inner digits are not starts
      } else {
        ++p;
      }
    }
  }

  bool MatchesWhole(std::string_view text) const override {
    if (text.empty() || text.size() > kMaxWholeLength) return false;
    // The whole text must be the number: Parse alone would skip leading words ("call 650...").
    bool any_digit = false;
    for (char c : text) {
      if (IsDigit(c)) {
        any_digit = true;
      } else if (!IsSeparator(c) && c != '+') {
        return false;
      }
    }
    return any_digit && Valid(text);
  }

  size_t MaxMatchLength() const override { return kMaxPhoneLength; }

  bool SecondaryOnly() const override { return true; }

 private:
  bool Valid(std::string_view candidate) const {
    PhoneNumber number;
    if (util_->Parse(std::string(candidate), region_, &number) !=
        PhoneNumberUtil::NO_PARSING_ERROR) {
      return false;
    }
    return util_->IsValidNumberForRegion(number, region_);
  }

  const PhoneNumberUtil* util_;
  std::string region_;
};

}  // namespace

StatusOr<std::unique_ptr<InternalMatcher>> MakeIntPhoneMatcher() {
  return std::unique_ptr<InternalMatcher>(new IntPhoneMatcher());
}

StatusOr<std::unique_ptr<InternalMatcher>> MakeNationalPhoneMatcher(const std::string& region) {
  // Region codes are upper case in libphonenumber; accept "us" for "US" as a convenience.
  std::string code = region;
  for (char& c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  std::set<std::string> supported;
  PhoneNumberUtil::GetInstance()->GetSupportedRegions(&supported);
  if (supported.count(code) == 0) {
    return InvalidArgumentError("internal matcher national_phone: unknown region code '" + region +
                                "' (expected a region libphonenumber supports, e.g. US, NL)");
  }
  return std::unique_ptr<InternalMatcher>(new NationalPhoneMatcher(code));
}

}  // namespace leakscope

#else  // !LEAKSCOPE_HAVE_PHONENUMBER

namespace leakscope {

StatusOr<std::unique_ptr<InternalMatcher>> MakeIntPhoneMatcher() {
  return UnimplementedError(
      "internal matcher int_phone needs libphonenumber, which this build (wasm32) does not "
      "include");
}

StatusOr<std::unique_ptr<InternalMatcher>> MakeNationalPhoneMatcher(const std::string& region) {
  return UnimplementedError(
      "internal matcher national_phone needs libphonenumber, which this build (wasm32) does not "
      "include");
}

}  // namespace leakscope

#endif  // LEAKSCOPE_HAVE_PHONENUMBER
