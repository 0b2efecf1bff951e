#include "engine/internal_pattern_bundle.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

namespace leakscope {
namespace {

// Recursive-descent walk over the regex subset used by the bundles, computing the longest match.
// The grammar mirrors RE2's: alternation of concatenations of quantified atoms.
class MaxLengthParser {
 public:
  explicit MaxLengthParser(std::string_view p) : p_(p) {}

  std::optional<size_t> Run() {
    std::optional<size_t> n = Alternation();
    if (!n || pos_ != p_.size()) return std::nullopt;
    return n;
  }

 private:
  // Guards the multiplications below; fits the 32-bit size_t of wasm32.
  static constexpr size_t kTooLong = size_t{1} << 30;

  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek() const { return p_[pos_]; }

  std::optional<size_t> Alternation() {
    size_t best = 0;
    for (;;) {
      std::optional<size_t> branch = Concatenation();
      if (!branch) return std::nullopt;
      best = std::max(best, *branch);
      if (AtEnd() || Peek() != '|') return best;
      ++pos_;
    }
  }

  std::optional<size_t> Concatenation() {
    size_t total = 0;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      std::optional<size_t> piece = Repetition();
      if (!piece) return std::nullopt;
      total += *piece;
      if (total > kTooLong) return std::nullopt;
    }
    return total;
  }

  std::optional<size_t> Repetition() {
    std::optional<size_t> atom = Atom();
    if (!atom) return std::nullopt;
    size_t n = *atom;
    while (!AtEnd()) {
      char c = Peek();
      if (c == '*' || c == '+') return std::nullopt;  // unbounded
      if (c == '?') {
        ++pos_;  // at most one copy: the bound is unchanged
      } else if (c == '{') {
        std::optional<size_t> hi = RepeatUpperBound();
        if (!hi || (*hi != 0 && n > kTooLong / *hi)) return std::nullopt;
        n *= *hi;
      } else {
        break;
      }
      if (!AtEnd() && Peek() == '?') ++pos_;  // non-greedy marker does not change the bound
    }
    return n;
  }

  // Parses `{n}` or `{n,m}` at pos_ and returns the upper count; `{n,}` is unbounded.
  std::optional<size_t> RepeatUpperBound() {
    ++pos_;  // '{'
    size_t lo = 0, hi = 0;
    if (!Number(&lo)) return std::nullopt;
    hi = lo;
    if (!AtEnd() && Peek() == ',') {
      ++pos_;
      if (!Number(&hi)) return std::nullopt;
    }
    if (AtEnd() || Peek() != '}') return std::nullopt;
    ++pos_;
    return hi;
  }

  bool Number(size_t* out) {
    size_t start = pos_, v = 0;
    while (!AtEnd() && Peek() >= '0' && Peek() <= '9' && pos_ - start < 6) {
      v = v * 10 + static_cast<size_t>(Peek() - '0');
      ++pos_;
    }
    *out = v;
    return pos_ > start;
  }

  std::optional<size_t> Atom() {
    char c = Peek();
    switch (c) {
      case '(':
        return Group();
      case '[':
        return Class();
      case '\\':
        return Escape();
      case '^':
      case '$':
        ++pos_;
        return 0;
      case '|':
      case ')':
      case '*':
      case '+':
      case '?':
      case '{':
        return std::nullopt;  // misplaced operator
      default:
        ++pos_;  // literal byte or '.'
        return 1;
    }
  }

  std::optional<size_t> Group() {
    ++pos_;  // '('
    if (!AtEnd() && Peek() == '?') {
      ++pos_;
      if (!AtEnd() && Peek() == 'P') {  // (?P<name>...)
        size_t close = p_.find('>', pos_);
        if (close == std::string_view::npos) return std::nullopt;
        pos_ = close + 1;
      } else {
        // Flags: (?i) sets flags for the rest of the group, (?i:...) opens a group.
        while (!AtEnd() && (std::isalpha(static_cast<unsigned char>(Peek())) || Peek() == '-')) {
          ++pos_;
        }
        if (AtEnd()) return std::nullopt;
        if (Peek() == ')') {
          ++pos_;
          return 0;
        }
        if (Peek() != ':') return std::nullopt;
        ++pos_;
      }
    }
    std::optional<size_t> inner = Alternation();
    if (!inner || AtEnd() || Peek() != ')') return std::nullopt;
    ++pos_;
    return inner;
  }

  std::optional<size_t> Class() {
    ++pos_;  // '['
    if (!AtEnd() && Peek() == '^') ++pos_;
    if (!AtEnd() && Peek() == ']') ++pos_;  // a leading ']' is a literal
    while (!AtEnd() && Peek() != ']') {
      if (Peek() == '\\') {
        if (!SkipEscapeBody()) return std::nullopt;
      } else if (Peek() == '[' && pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
        return std::nullopt;  // POSIX classes are not needed; keep the parser small
      } else {
        ++pos_;
      }
    }
    if (AtEnd()) return std::nullopt;
    ++pos_;  // ']'
    return 1;
  }

  std::optional<size_t> Escape() {
    if (pos_ + 1 >= p_.size()) return std::nullopt;
    char c = p_[pos_ + 1];
    if (c == 'b' || c == 'B' || c == 'A' || c == 'z') {
      pos_ += 2;
      return 0;
    }
    if (c == 'Q' || c == 'C') return std::nullopt;
    if (!SkipEscapeBody()) return std::nullopt;
    return 1;
  }

  // Skips `\x`, `\xHH`, `\x{...}`, `\pL`, `\p{...}` starting at the backslash.
  bool SkipEscapeBody() {
    if (pos_ + 1 >= p_.size()) return false;
    char c = p_[pos_ + 1];
    pos_ += 2;
    if (c == 'x' || c == 'p' || c == 'P') {
      if (!AtEnd() && Peek() == '{') {
        size_t close = p_.find('}', pos_);
        if (close == std::string_view::npos) return false;
        pos_ = close + 1;
      } else {
        pos_ += (c == 'x') ? 2 : 1;
        if (pos_ > p_.size()) return false;
      }
    }
    return true;
  }

  std::string_view p_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<size_t> RegexMaxLength(std::string_view pattern) {
  return MaxLengthParser(pattern).Run();
}

StatusOr<std::unique_ptr<PatternBundle>> PatternBundle::Create(
    std::string_view what, const std::vector<BundlePattern>& patterns, Options options) {
  if (patterns.empty()) return InternalError(std::string(what) + ": no patterns to bundle");
  std::string triggers, full;
  size_t max_len = 0;
  for (const BundlePattern& p : patterns) {
    std::string whole = "(?:" + p.trigger + ")";
    if (!p.rest.empty()) whole += "(?:" + p.rest + ")";
    std::optional<size_t> trigger_len = RegexMaxLength(p.trigger);
    if (!trigger_len || *trigger_len == 0) {
      return InternalError(std::string(what) + ": trigger has no finite, non-zero length bound: " +
                           p.trigger);
    }
    std::optional<size_t> len = RegexMaxLength(whole);
    if (options.window != 0) {
      len = std::min(len.value_or(options.window), options.window);
    } else if (!len) {
      return InternalError(std::string(what) + ": unbounded pattern in a bundle without a window: " +
                           whole);
    }
    max_len = std::max(max_len, *len);
    if (!triggers.empty()) triggers += '|';
    triggers += "(?:" + p.trigger + ")";
    if (!full.empty()) full += '|';
    full += whole;
  }
  RE2::Options re_options;
  re_options.set_encoding(RE2::Options::EncodingLatin1);
  re_options.set_case_sensitive(!options.case_insensitive);
  re_options.set_log_errors(false);
  // Stage 1 only needs the leftmost trigger start; leftmost-first lets the DFA stop at the first
  // trigger end instead of extending it.
  auto trigger_re = std::make_unique<RE2>(triggers, re_options);
  if (!trigger_re->ok()) {
    return InternalError(std::string(what) + ": RE2 rejected the triggers: " + trigger_re->error());
  }
  re_options.set_longest_match(true);
  auto full_re = std::make_unique<RE2>(full, re_options);
  if (!full_re->ok()) {
    return InternalError(std::string(what) + ": RE2 rejected the patterns: " + full_re->error());
  }
  return std::unique_ptr<PatternBundle>(
      new PatternBundle(std::move(trigger_re), std::move(full_re), max_len));
}

PatternBundle::PatternBundle(std::unique_ptr<RE2> triggers, std::unique_ptr<RE2> full,
                             size_t max_match_length)
    : triggers_(std::move(triggers)), full_(std::move(full)), max_match_length_(max_match_length) {}

PatternBundle::~PatternBundle() = default;

bool PatternBundle::FindNext(std::string_view text, size_t pos, Span* match) const {
  re2::StringPiece whole(text.data(), text.size());
  re2::StringPiece m;
  while (pos <= text.size() &&
         triggers_->Match(whole, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
    size_t begin = static_cast<size_t>(m.data() - text.data());
    // No match is longer than max_match_length_ (patterns are bounded by it, or only searched
    // within it); bytes past the window still serve as context for a final `\b`.
    size_t window_end = std::min(text.size(), begin + max_match_length_);
    if (full_->Match(whole, begin, window_end, RE2::ANCHOR_START, &m, 1)) {
      match->begin = begin;
      match->end = begin + m.size();
      return true;
    }
    pos = begin + 1;
  }
  return false;
}

bool PatternBundle::FullMatch(std::string_view text) const {
  // Consistent with FindNext: nothing longer than the window is a match.
  if (text.size() > max_match_length_) return false;
  re2::StringPiece whole(text.data(), text.size());
  return full_->Match(whole, 0, text.size(), RE2::ANCHOR_BOTH, nullptr, 0);
}

}  // namespace leakscope
