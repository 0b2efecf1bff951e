#include "engine/internal_matcher.h"

#include <iterator>
#include <string>
#include <utility>

#include "engine/internal_card.h"
#include "engine/internal_error_text.h"
#include "engine/internal_hash.h"
#include "engine/internal_phone.h"
#include "engine/internal_routing.h"
#include "engine/internal_sql.h"

namespace leakscope {
namespace {

constexpr std::string_view kNames[] = {
    "routing_number", "credit_card", "int_phone", "national_phone", "hash", "error_text", "sql",
};

Status NoOptions(std::string_view name, const std::vector<std::string>& options) {
  if (options.empty()) return Status::Ok();
  return InvalidArgumentError("internal matcher " + std::string(name) +
                              " takes no options, got '" + options.front() + "'");
}

}  // namespace

StatusOr<std::unique_ptr<InternalMatcher>> MakeInternalMatcher(
    std::string_view name, const std::vector<std::string>& options) {
  if (name == "credit_card") {
    LEAKSCOPE_RETURN_IF_ERROR(NoOptions(name, options));
    return MakeCreditCardMatcher();
  }
  if (name == "routing_number") {
    LEAKSCOPE_RETURN_IF_ERROR(NoOptions(name, options));
    return MakeRoutingNumberMatcher();
  }
  if (name == "hash") return MakeHashMatcher(options);
  if (name == "error_text") return MakeErrorTextMatcher(options);
  if (name == "sql") {
    LEAKSCOPE_RETURN_IF_ERROR(NoOptions(name, options));
    return MakeSqlMatcher();
  }
  if (name == "int_phone") {
#ifdef LEAKSCOPE_HAVE_PHONENUMBER
    LEAKSCOPE_RETURN_IF_ERROR(NoOptions(name, options));
#endif
    return MakeIntPhoneMatcher();
  }
  if (name == "national_phone") {
#ifdef LEAKSCOPE_HAVE_PHONENUMBER
    if (options.size() != 1) {
      return InvalidArgumentError(
          "internal matcher national_phone needs exactly one option, the region code (e.g. "
          "`!national_phone US`), got " +
          std::to_string(options.size()));
    }
    return MakeNationalPhoneMatcher(options.front());
#else
    return MakeNationalPhoneMatcher(options.empty() ? std::string() : options.front());
#endif
  }
  std::string known;
  for (std::string_view n : kNames) {
    if (!known.empty()) known += ", ";
    known += n;
  }
  return InvalidArgumentError("unknown internal matcher '" + std::string(name) +
                              "' (known: " + known + ")");
}

std::vector<std::string> InternalMatcherNames() {
  return std::vector<std::string>(std::begin(kNames), std::end(kNames));
}

}  // namespace leakscope
