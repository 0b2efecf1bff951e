// The `error_text` internal matcher: leaked error messages and stack traces of common languages,
// databases and runtimes, grouped in families that a rule's options select.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_ERROR_TEXT_H_
#define LEAKSCOPE_ENGINE_INTERNAL_ERROR_TEXT_H_

#include <memory>
#include <string>
#include <vector>

#include "engine/internal_matcher.h"
#include "engine/status.h"

namespace leakscope {

// All family names accepted as options, in LeakSignal's documented order.
std::vector<std::string> ErrorTextFamilyNames();

// The families used when a rule gives no options (js_error ... mongodb_error).
std::vector<std::string> DefaultErrorTextFamilies();

// `families` selects families by name; empty selects the default set. An unknown name is
// kInvalidArgument.
StatusOr<std::unique_ptr<InternalMatcher>> MakeErrorTextMatcher(
    const std::vector<std::string>& families);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_ERROR_TEXT_H_
