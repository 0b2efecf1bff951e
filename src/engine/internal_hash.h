// The `hash` internal matcher: password hashes in the formats LeakSignal documents (the passlib
// formats), optionally restricted to a subset by the rule's options.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_HASH_H_
#define LEAKSCOPE_ENGINE_INTERNAL_HASH_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/internal_matcher.h"
#include "engine/status.h"

namespace leakscope {

// The hash type names accepted as options, in LeakSignal's documented order.
std::vector<std::string> HashTypeNames();

// `types` selects hash types by name; empty selects all. An unknown name is kInvalidArgument.
StatusOr<std::unique_ptr<InternalMatcher>> MakeHashMatcher(const std::vector<std::string>& types);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_HASH_H_
