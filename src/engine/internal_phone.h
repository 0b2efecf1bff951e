// The `int_phone` and `national_phone` internal matchers: phone numbers validated against
// libphonenumber's numbering plans.
//
// Builds without libphonenumber (wasm32) compile these factories to kUnimplemented.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_PHONE_H_
#define LEAKSCOPE_ENGINE_INTERNAL_PHONE_H_

#include <memory>
#include <string>

#include "engine/internal_matcher.h"
#include "engine/status.h"

namespace leakscope {

// Longest candidate span, in bytes, that the phone scanners consider.
inline constexpr size_t kMaxPhoneLength = 24;

// Numbers written with a leading '+' and country code, valid in their country's plan.
StatusOr<std::unique_ptr<InternalMatcher>> MakeIntPhoneMatcher();

// Numbers valid in `region` (a CLDR region code such as "US" or "NL"), with or without the
// country code. Secondary-only: used to confirm another rule's match.
StatusOr<std::unique_ptr<InternalMatcher>> MakeNationalPhoneMatcher(const std::string& region);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_PHONE_H_
