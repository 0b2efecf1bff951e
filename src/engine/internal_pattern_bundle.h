// PatternBundle: many RE2 patterns searched as one leftmost-longest alternation, with a proven
// upper bound on match length.
//
// The `hash`, `error_text` and `sql` internal matchers each bundle dozens of recognisers. They are
// searched in two stages, both linear:
//  1. A DFA over the patterns' *triggers* (short, mostly literal prefixes such as `$2b$`,
//     `Traceback (`, `SELECT `) finds the next position where some pattern can start. Triggers
//     have no long gaps, so this DFA stays small however many patterns are bundled and whatever
//     the input: cost does not grow with the number of recognisers.
//  2. At that position, one anchored longest-match search of the full patterns runs over a window
//     of at most max_match_length() bytes.
// A single unanchored DFA over the full patterns would be simpler, but patterns with gaps
// ("panic: <message>\ngoroutine N [running]:") make its states track every pending gap at once;
// on adversarial input that blows the DFA cache and RE2 falls back to its much slower NFA.
//
// Streaming needs a real bound on match length (to size the window kept between chunks). A
// pattern is either bounded (`RegexMaxLength` proves the bound from the pattern text) or the
// bundle declares a window: matches are then searched only within that many bytes of their start,
// which bounds them by construction. Gaps are best left unbounded (`[^"\n]*`) under a window:
// counted repetitions ({1,200}) compile to one instruction per count and make the DFA large.
#ifndef LEAKSCOPE_ENGINE_INTERNAL_PATTERN_BUNDLE_H_
#define LEAKSCOPE_ENGINE_INTERNAL_PATTERN_BUNDLE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/span.h"
#include "engine/status.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace leakscope {

// Upper bound, in bytes, on the length of any match of `pattern` under Latin-1 encoding (one byte
// per character-class or literal atom). Returns nullopt if the pattern is unbounded (`*`, `+`,
// `{n,}`) or uses syntax outside the subset the bundles need (`\Q...\E`, `\C`, POSIX `[[:x:]]`
// classes). Zero-width assertions (`^ $ \b \B \A \z`) count as 0.
std::optional<size_t> RegexMaxLength(std::string_view pattern);

// One bundled pattern: every match of `trigger` followed by `rest` (RE2 syntax, ASCII) is a match
// of the pattern. `rest` may be empty. The trigger must be bounded, and should be short and
// gap-free: it is what the first-stage DFA looks for.
struct BundlePattern {
  std::string trigger;
  std::string rest;
};

class PatternBundle {
 public:
  struct Options {
    bool case_insensitive = false;
    // If non-zero, matches are searched within this many bytes of their start, and patterns may
    // be unbounded. If zero, every pattern must be bounded.
    size_t window = 0;
  };

  // Compiles `patterns`. `what` names the bundle in error messages. Patterns are matched as
  // Latin-1 bytes so that arbitrary binary bodies are scanned byte-for-byte and length bounds are
  // exact.
  static StatusOr<std::unique_ptr<PatternBundle>> Create(std::string_view what,
                                                         const std::vector<BundlePattern>& patterns,
                                                         Options options);
  static StatusOr<std::unique_ptr<PatternBundle>> Create(
      std::string_view what, const std::vector<BundlePattern>& patterns) {
    return Create(what, patterns, Options());
  }

  ~PatternBundle();
  PatternBundle(const PatternBundle&) = delete;
  PatternBundle& operator=(const PatternBundle&) = delete;

  // Finds the leftmost-longest match that starts at or after `pos`; bytes before `pos` are context
  // for `\b` and `^`. Returns false if there is none.
  bool FindNext(std::string_view text, size_t pos, Span* match) const;

  // True if the whole of `text` is one match.
  bool FullMatch(std::string_view text) const;

  // Bound on the length of any match: the maximum over the bundled patterns of their own bound,
  // or of the window for unbounded patterns.
  size_t max_match_length() const { return max_match_length_; }

 private:
  PatternBundle(std::unique_ptr<re2::RE2> triggers, std::unique_ptr<re2::RE2> full,
                size_t max_match_length);

  std::unique_ptr<re2::RE2> triggers_;  // alternation of the triggers, leftmost-first
  std::unique_ptr<re2::RE2> full_;      // alternation of trigger+rest, leftmost-longest
  size_t max_match_length_;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_INTERNAL_PATTERN_BUNDLE_H_
