// The `routing_number` internal matcher: US ABA routing transit numbers (nine digits, a Federal
// Reserve prefix and the ABA checksum).
#ifndef LEAKSCOPE_ENGINE_INTERNAL_ROUTING_H_
#define LEAKSCOPE_ENGINE_INTERNAL_ROUTING_H_

#include <memory>
#include <string_view>

#include "engine/internal_matcher.h"

namespace leakscope {

// True if `digits` is nine ASCII digits with a valid prefix and ABA checksum.
bool AbaRoutingNumberValid(std::string_view digits);

std::unique_ptr<InternalMatcher> MakeRoutingNumberMatcher();

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_ROUTING_H_
