// Translation of policy regexes (written for Rust's `regex` crate, sometimes PCRE) to the engine
// that will run them.
//
// LeakSignal policies are written against Rust regex syntax, with PCRE-only constructs in a few
// (the reference SSN pattern uses lookahead and backreferences). RE2 is preferred because it runs
// in linear time; PCRE2 (with match limits) is used only for patterns RE2 cannot express.
#ifndef LEAKSCOPE_ENGINE_REGEX_TRANSLATE_H_
#define LEAKSCOPE_ENGINE_REGEX_TRANSLATE_H_

#include <string>
#include <string_view>

#include "engine/status.h"

namespace leakscope {

enum class RegexEngine { kRe2, kPcre2 };

struct TranslatedRegex {
  RegexEngine engine = RegexEngine::kRe2;
  std::string pattern;  // pattern text for `engine`
  std::string note;     // why PCRE2 was chosen (e.g. "lookahead (?!"), empty for RE2
};

// Translates a Rust-regex-syntax pattern:
//  - flag groups RE2 lacks are rewritten: `u` (Unicode) is dropped from `(?iu)`, `(?u)`,
//    `(?-u:...)` (RE2's \b, \d, \w are already ASCII, as Rust's are under -u); the verbose
//    flag `x` is carried out here (whitespace and `#` comments stripped) because RE2 lacks it;
//    `(?<name>` becomes `(?P<name>`; Rust's `\u{...}` escapes become `\x{...}`;
//  - `\z` / `\A` and other RE2-supported syntax passes through.
// If the pattern uses lookaround (`(?=`, `(?!`, `(?<=`,
// `(?<!`) or backreferences (`\1`..`\9`, `\k<name>`), the PCRE2 form is returned (flag groups
// rewritten for PCRE2 likewise). Otherwise the error names the pattern and RE2's reason.
StatusOr<TranslatedRegex> TranslateRegex(std::string_view pattern);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_REGEX_TRANSLATE_H_
