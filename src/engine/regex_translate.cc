// Translation of Rust-regex-syntax policy patterns to RE2 (preferred) or PCRE2.
//
// The translation is a hand-written single pass over the pattern. No library translates Rust
// `regex` flag groups to RE2/PCRE2 syntax, and a full regex parser would be far more code than the
// handful of rewrites needed. The pass only has to know enough structure to rewrite correctly:
// escapes (so `\(` is not a group), character classes (so nothing inside `[...]` is mistaken for a
// group, flag or comment), and the group stack (so flags set with `(?x)` end with their group).
// Anything it does not rewrite is copied byte for byte and left for the engine to judge, so the
// engine's own error message reaches the user.
//
// Semantics notes (differences we accept, documented here once):
//  - `u` is dropped. RE2's and PCRE2's (without PCRE2_UCP) \b \d \w \s are ASCII, which is what
//    Rust gives under `(?-u)`; under Rust's default Unicode mode they would also match non-ASCII
//    digits/letters/spaces. Literals and classes such as `[a-zà-ú]` are UTF-8 in both engines.
//  - `x` (verbose) is implemented here and removed from the flags: unescaped ASCII whitespace and
//    `#`-to-end-of-line comments are stripped for the scope of the flag. Like Rust's parser (and
//    unlike PCRE's `x`), this also applies inside character classes. Non-ASCII Unicode whitespace
//    (which Rust would also skip) is kept.
//  - Rust's class set syntax (nested classes `[a[bc]]`, `&&`, `--`, `~~`) has no RE2/PCRE2
//    spelling: both engines would read `[` `&` `-` `~` there as literals and silently match
//    something else, so such patterns are rejected with an explanation instead.
//  - For PCRE2, `$` outside multi-line mode becomes `\z`: in Rust (and RE2) it matches only at the
//    very end, while PCRE2's `$` also matches before a final newline.
#include "engine/regex_translate.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <re2/re2.h>

namespace leakscope {
namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

struct ScanResult {
  std::string re2;    // the pattern for RE2
  std::string pcre2;  // the pattern for PCRE2 (differs only in `$`)
  // Constructs only PCRE2 can run ("lookahead (?!", "backreference \1"), distinct, in order.
  std::vector<std::string> pcre_only;
  // The first Rust construct that neither engine can express; empty if none.
  std::string unsupported;
};

class Translator {
 public:
  explicit Translator(std::string_view pattern) : p_(pattern) {}

  ScanResult Run() {
    while (!AtEnd()) {
      const char c = p_[i_];
      if (mode_.verbose && (IsAsciiSpace(c) || c == '#')) {
        SkipVerboseSpace();
        continue;
      }
      switch (c) {
        case '\\':
          Escape(/*in_class=*/false);
          break;
        case '[':
          Class();
          break;
        case '(':
          GroupOpen();
          break;
        case ')':
          // An unbalanced `)` is copied; the engine reports it.
          if (!saved_.empty()) {
            mode_ = saved_.back();
            saved_.pop_back();
          }
          Emit(")");
          ++i_;
          break;
        case '$':
          out_.re2 += '$';
          out_.pcre2 += mode_.multiline ? "$" : "\\z";
          ++i_;
          break;
        default:
          Emit(p_.substr(i_, 1));
          ++i_;
          break;
      }
    }
    return std::move(out_);
  }

 private:
  // Flags whose scope the pass must track: `x` changes how the pattern is read, `m` changes what
  // `$` means for PCRE2.
  struct Mode {
    bool verbose = false;
    bool multiline = false;
  };

  bool AtEnd() const { return i_ >= p_.size(); }
  char Peek(size_t k = 0) const { return i_ + k < p_.size() ? p_[i_ + k] : '\0'; }
  bool LookingAt(std::string_view s) const { return p_.substr(i_).starts_with(s); }
  void Emit(std::string_view s) {
    out_.re2 += s;
    out_.pcre2 += s;
  }
  // Copies p_[i_, end) and advances.
  void CopyTo(size_t end) {
    if (end > p_.size()) end = p_.size();
    Emit(p_.substr(i_, end - i_));
    i_ = end;
  }
  // Index just past the first `close` at or after `from`, or p_.size() if there is none.
  size_t PastClose(size_t from, char close) const {
    const size_t k = p_.find(close, from);
    return k == std::string_view::npos ? p_.size() : k + 1;
  }

  void NotePcreOnly(std::string construct) {
    for (const std::string& c : out_.pcre_only) {
      if (c == construct) return;
    }
    out_.pcre_only.push_back(std::move(construct));
  }
  void NoteUnsupported(std::string why) {
    if (out_.unsupported.empty()) out_.unsupported = std::move(why);
  }

  // In verbose mode, skips whitespace and `#` comments (to and including the newline).
  void SkipVerboseSpace() {
    if (!mode_.verbose) return;
    while (!AtEnd()) {
      const char c = p_[i_];
      if (IsAsciiSpace(c)) {
        ++i_;
      } else if (c == '#') {
        i_ = PastClose(i_, '\n');
      } else {
        break;
      }
    }
  }

  // At a backslash. Copies one escape sequence as a unit so that its text is never reinterpreted,
  // translating the Rust-only forms and noting backreferences.
  void Escape(bool in_class) {
    if (i_ + 1 >= p_.size()) {  // trailing backslash: the engine reports it
      CopyTo(p_.size());
      return;
    }
    const char c = p_[i_ + 1];
    if (!in_class && c >= '1' && c <= '9') {
      size_t j = i_ + 2;
      while (j < p_.size() && IsDigit(p_[j])) ++j;
      NotePcreOnly("backreference " + std::string(p_.substr(i_, j - i_)));
      CopyTo(j);
      return;
    }
    if (!in_class && (c == 'k' || c == 'g')) {
      // PCRE named/relative backreferences: \k<n> \k'n' \k{n} \g{n} \g1 \g-1 (and \g<n>, a
      // subroutine call, which RE2 cannot run either).
      const char open = Peek(2);
      size_t j = 0;
      if (open == '<') j = PastClose(i_ + 3, '>');
      if (open == '\'') j = PastClose(i_ + 3, '\'');
      if (open == '{') j = PastClose(i_ + 3, '}');
      if (c == 'g' && (IsDigit(open) || open == '-' || open == '+')) {
        j = i_ + 3;
        while (j < p_.size() && IsDigit(p_[j])) ++j;
      }
      if (j != 0) {
        NotePcreOnly("backreference " + std::string(p_.substr(i_, j - i_)));
        CopyTo(j);
        return;
      }
    }
    if (c == 'u' || c == 'U') {
      // Rust: \u007F, \u{7F}, \U0000007F, \U{7F}. RE2 and PCRE2 spell these \x{7F}.
      const size_t start = i_ + 2;
      size_t digits_begin = start, digits_end = start, next = start;
      if (Peek(2) == '{') {
        digits_begin = start + 1;
        digits_end = p_.find('}', digits_begin);
        if (digits_end != std::string_view::npos) next = digits_end + 1;
      } else {
        digits_end = start + (c == 'u' ? 4 : 8);
        if (digits_end <= p_.size()) next = digits_end;
      }
      if (next > start && digits_end > digits_begin) {
        bool all_hex = true;
        for (size_t k = digits_begin; k < digits_end; ++k) all_hex = all_hex && IsHexDigit(p_[k]);
        if (all_hex) {
          Emit("\\x{");
          Emit(p_.substr(digits_begin, digits_end - digits_begin));
          Emit("}");
          i_ = next;
          return;
        }
      }
      CopyTo(i_ + 2);  // malformed: left for the engine to reject
      return;
    }
    if ((c == 'x' || c == 'p' || c == 'P') && Peek(2) == '{') {
      CopyTo(PastClose(i_ + 3, '}'));
      return;
    }
    if (c == 'Q') {
      // Quoted literal text up to \E (RE2 and PCRE2 syntax; copied untouched even in verbose mode).
      const size_t e = p_.find("\\E", i_ + 2);
      CopyTo(e == std::string_view::npos ? p_.size() : e + 2);
      return;
    }
    // Everything else is a two-character escape. If the escaped character is multi-byte UTF-8,
    // its continuation bytes (>= 0x80) follow as ordinary characters, which is harmless.
    CopyTo(i_ + 2);
  }

  // At `[`. Copies the class, stripping verbose whitespace, rejecting Rust set syntax.
  void Class() {
    Emit("[");
    ++i_;
    SkipVerboseSpace();
    if (Peek() == '^') {
      Emit("^");
      ++i_;
      SkipVerboseSpace();
    }
    // A `]` first in the class is a literal (in Rust, RE2 and PCRE alike), as are leading `-`s.
    if (Peek() == ']') {
      Emit("]");
      ++i_;
      SkipVerboseSpace();
    }
    while (Peek() == '-') {
      Emit("-");
      ++i_;
      SkipVerboseSpace();
    }
    while (true) {
      SkipVerboseSpace();
      if (AtEnd()) return;  // unterminated: the engine reports "missing ]"
      const char c = p_[i_];
      if (c == ']') {
        Emit("]");
        ++i_;
        return;
      }
      if (c == '\\') {
        Escape(/*in_class=*/true);
        continue;
      }
      if (c == '[') {
        // `[:alpha:]` / `[:^alpha:]` is a POSIX class in all three syntaxes.
        size_t j = i_ + 1;
        if (j < p_.size() && p_[j] == ':') {
          ++j;
          if (j < p_.size() && p_[j] == '^') ++j;
          const size_t name_begin = j;
          while (j < p_.size() && IsAsciiAlpha(p_[j])) ++j;
          if (j > name_begin && p_.substr(j).starts_with(":]")) {
            CopyTo(j + 2);
            continue;
          }
        }
        NoteUnsupported(
            "nested character class (Rust set syntax) is not supported; write \\[ for a literal [");
        CopyTo(i_ + 1);
        continue;
      }
      if ((c == '&' || c == '-' || c == '~') && Peek(1) == c) {
        NoteUnsupported("character class set operation \"" + std::string(2, c) +
                        "\" (Rust syntax) is not supported; escape the characters to match them "
                        "literally");
        CopyTo(i_ + 2);
        continue;
      }
      CopyTo(i_ + 1);
    }
  }

  // At `(`.
  void GroupOpen() {
    saved_.push_back(mode_);  // restored by the matching `)`
    if (Peek(1) != '?') {
      CopyTo(i_ + 1);
      return;
    }
    struct Lookaround {
      std::string_view text;
      const char* name;
    };
    static constexpr Lookaround kLookarounds[] = {
        {"(?=", "lookahead (?="},
        {"(?!", "lookahead (?!"},
        {"(?<=", "lookbehind (?<="},
        {"(?<!", "lookbehind (?<!"},
    };
    for (const Lookaround& l : kLookarounds) {
      if (LookingAt(l.text)) {
        NotePcreOnly(l.name);
        CopyTo(i_ + l.text.size());
        return;
      }
    }
    if (LookingAt("(?<")) {
      // Named group, Rust 1.9+ spelling. RE2 2022-06-01 only knows `(?P<name>`; PCRE2 knows both.
      Emit("(?P<");
      i_ += 3;
      return;
    }
    if (LookingAt("(?P=")) {
      // PCRE named backreference: a complete atom, not a group.
      saved_.pop_back();
      const size_t end = PastClose(i_, ')');
      NotePcreOnly("backreference " + std::string(p_.substr(i_, end - i_)));
      CopyTo(end);
      return;
    }
    if (LookingAt("(?P<") || LookingAt("(?:")) {
      CopyTo(i_ + (p_[i_ + 2] == 'P' ? 4 : 3));
      return;
    }
    // Flag group: `(?flags)` or `(?flags:`.
    size_t j = i_ + 2;
    while (j < p_.size() && (IsAsciiAlpha(p_[j]) || p_[j] == '-')) ++j;
    if (j == i_ + 2 || j >= p_.size() || (p_[j] != ')' && p_[j] != ':')) {
      CopyTo(i_ + 2);  // not something we rewrite; the engine judges it
      return;
    }
    Mode mode = mode_;
    std::string on, off;
    bool negate = false;
    for (size_t k = i_ + 2; k < j; ++k) {
      const char f = p_[k];
      if (f == '-') {
        negate = true;
        continue;
      }
      if (f == 'u') continue;  // see the file comment: ASCII classes are what Rust's -u gives
      if (f == 'x') {
        mode.verbose = !negate;  // implemented by this pass, so not passed on
        continue;
      }
      if (f == 'm') mode.multiline = !negate;
      (negate ? off : on) += f;
    }
    std::string flags = on;
    if (!off.empty()) flags += "-" + off;
    if (p_[j] == ')') {
      // Sets flags until the end of the enclosing group; opens no group of its own.
      saved_.pop_back();
      if (!flags.empty()) Emit("(?" + flags + ")");
    } else {
      Emit("(?" + flags + ":");
    }
    mode_ = mode;
    i_ = j + 1;
  }

  std::string_view p_;
  size_t i_ = 0;
  Mode mode_;
  std::vector<Mode> saved_;
  ScanResult out_;
};

Status InvalidRegex(std::string_view pattern, std::string_view why) {
  return InvalidArgumentError("invalid regex \"" + std::string(pattern) +
                              "\": " + std::string(why));
}

// Compiles `pattern` with the options the PCRE2 matcher uses, to reject it here rather than at
// scan time. Returns an empty string on success, else the error.
std::string Pcre2CompileError(const std::string& pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                   /*ccontext=*/nullptr);
  if (code != nullptr) {
    pcre2_code_free(code);
    return "";
  }
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(error_code, buffer, sizeof(buffer));
  std::string message = n < 0 ? "PCRE2 error " + std::to_string(error_code)
                              : std::string(reinterpret_cast<const char*>(buffer), n);
  return message + " at offset " + std::to_string(error_offset);
}

}  // namespace

StatusOr<TranslatedRegex> TranslateRegex(std::string_view pattern) {
  ScanResult scan = Translator(pattern).Run();
  if (!scan.unsupported.empty()) return InvalidRegex(pattern, scan.unsupported);

  // A pattern using lookaround or backreferences goes to PCRE2 without asking RE2: RE2 rejects
  // those constructs anyway, except `\12`-style escapes, which RE2 silently reads as octal while
  // PCRE reads a backreference (and Rust rejects them) - trusting RE2 there would change meaning.
  if (scan.pcre_only.empty()) {
    RE2::Options options;  // UTF-8, Perl classes and \b: the defaults
    options.set_log_errors(false);
    RE2 re(scan.re2, options);
    if (!re.ok()) return InvalidRegex(pattern, re.error());
    TranslatedRegex result;
    result.engine = RegexEngine::kRe2;
    result.pattern = std::move(scan.re2);
    return result;
  }

  const std::string error = Pcre2CompileError(scan.pcre2);
  if (!error.empty()) return InvalidRegex(pattern, error);
  TranslatedRegex result;
  result.engine = RegexEngine::kPcre2;
  result.pattern = std::move(scan.pcre2);
  for (const std::string& construct : scan.pcre_only) {
    if (!result.note.empty()) result.note += ", ";
    result.note += construct;
  }
  return result;
}

}  // namespace leakscope
