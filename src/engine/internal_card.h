// The `credit_card` internal matcher: payment card numbers of the major issuers, optionally
// grouped with spaces or dashes, with a valid Luhn checksum.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_CARD_H_
#define LEAKSCOPE_ENGINE_INTERNAL_CARD_H_

#include <memory>
#include <string_view>

#include "engine/internal_matcher.h"

namespace leakscope {

// True if `digits` (ASCII digits only) passes the Luhn mod-10 check.
bool LuhnValid(std::string_view digits);

// True if `digits` (ASCII digits only) has an issuer prefix and length of a known card scheme.
bool CardIssuerKnown(std::string_view digits);

std::unique_ptr<InternalMatcher> MakeCreditCardMatcher();

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_CARD_H_
