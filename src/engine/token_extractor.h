// Token extraction (LeakSignal's endpoint `token_extractor`): pulls the caller's token out of a
// request/response header or a request cookie, through a chain of steps (regex, jwt_decode,
// json_path, hash, metadata forks), so reports and rate limits can be keyed by token.
#ifndef LEAKSCOPE_ENGINE_TOKEN_EXTRACTOR_H_
#define LEAKSCOPE_ENGINE_TOKEN_EXTRACTOR_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace re2 { class RE2; }

namespace leakscope {

struct TokenStep {
  enum class Kind { kRegex, kJwtDecode, kJsonPath, kHash, kMetadata };
  Kind kind = Kind::kRegex;
  std::string argument;                                     // regex pattern / JSON path
  std::shared_ptr<const re2::RE2> regex;                    // compiled kRegex
  std::vector<std::pair<std::string, std::vector<TokenStep>>> metadata;  // kMetadata forks
};

struct TokenExtractorConfig {
  enum class Location { kRequest, kRequestCookie, kResponse };
  Location location = Location::kRequest;
  std::string header;  // header (lower-cased) or cookie name
  std::vector<TokenStep> steps;
};

struct ExtractedToken {
  std::string token;
  std::map<std::string, std::string> metadata;
};

// Compiles a regex step (Rust syntax translated like category regexes; RE2 only).
StatusOr<TokenStep> MakeRegexStep(std::string_view pattern);

// Runs the chain on `input`. Returns nullopt if a step finds nothing.
std::optional<ExtractedToken> ExtractToken(const std::vector<TokenStep>& steps, std::string_view input);

// The value of cookie `name` in a Cookie header value ("a=1; b=2").
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

// base64url (or base64) decoding, padding optional. nullopt on invalid input.
std::optional<std::string> DecodeBase64Url(std::string_view in);

// The scalar at a JSONPath such as `$.user.name`, `$.roles[0]`, `$['a b']` in a JSON document.
std::optional<std::string> JsonPathScalar(std::string_view json, std::string_view path);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_TOKEN_EXTRACTOR_H_
