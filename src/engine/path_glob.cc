// PathGlob: parsing, matching, display and specificity ordering of LeakSignal path globs.
#include "engine/path_glob.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/regex_translate.h"

namespace leakscope {

namespace {

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool CharsEqual(char a, char b, bool fold) {
  return a == b || (fold && AsciiLower(a) == AsciiLower(b));
}

// Does `s` contain `needle` at `pos`?
bool EqualsAt(std::string_view s, size_t pos, std::string_view needle, bool fold) {
  if (pos > s.size() || s.size() - pos < needle.size()) return false;
  for (size_t i = 0; i < needle.size(); ++i) {
    if (!CharsEqual(s[pos + i], needle[i], fold)) return false;
  }
  return true;
}

bool Contains(std::string_view s, std::string_view needle, bool fold) {
  for (size_t pos = 0; pos + needle.size() <= s.size(); ++pos) {
    if (EqualsAt(s, pos, needle, fold)) return true;
  }
  return false;
}

// Specificity of one component as a tuple compared lexicographically (lower = more general).
struct ComponentRank {
  int kind;
  size_t affix_length;  // longer affix text is more specific
  int affix_kind;       // `*x*` is more general than `x*` / `*x` with the same text
  auto operator<=>(const ComponentRank&) const = default;
};

}  // namespace

// The helpers that need the type live here as members: PathGlob::Component is private, so code
// outside PathGlob (including this file's free functions) cannot name it.
struct PathGlob::Component {
  // Ordered from most general to most specific; Rank() relies on this order.
  enum class Kind { kAnyMany, kAny, kRegex, kAffix, kLiteral };
  // For kAffix: where the `*`s are.
  enum class Affix { kNone, kWithin, kPrefix, kSuffix };

  Kind kind = Kind::kLiteral;
  Affix affix = Affix::kNone;
  bool preserve = false;            // leading `!`
  std::string text;                 // literal/affix text without `*`; regex source for kRegex
  std::string display;              // the component as written, without `!`
  std::unique_ptr<re2::RE2> regex;  // kRegex only

  // Parses one non-empty component (the text between slashes) of `glob`.
  static StatusOr<Component> Parse(std::string_view glob, std::string_view raw) {
    auto error = [&](std::string_view why) {
      return InvalidArgumentError("invalid path glob \"" + std::string(glob) + "\": component \"" +
                                  std::string(raw) + "\": " + std::string(why));
    };
    Component c;
    std::string_view s = raw;
    if (s.starts_with('!')) {
      c.preserve = true;
      s.remove_prefix(1);
      if (s.empty()) return error("`!` must be followed by a component");
    }
    c.display = std::string(s);

    if (s == "**") {
      c.kind = Kind::kAnyMany;
      return c;
    }
    if (s == "*") {
      c.kind = Kind::kAny;
      return c;
    }
    if (s.starts_with('#')) {
      s.remove_prefix(1);
      if (s.empty()) return error("empty regex");
      // Policy regexes are Rust syntax: translate flag groups the same way as everywhere else.
      StatusOr<TranslatedRegex> translated = TranslateRegex(s);
      if (!translated.ok()) return error(translated.status().message());
      if (translated->engine != RegexEngine::kRe2) {
        return error("the regex needs PCRE2 (" + translated->note +
                     "), which path globs do not support");
      }
      RE2::Options options;
      options.set_log_errors(false);
      c.regex = std::make_unique<re2::RE2>(translated->pattern, options);
      if (!c.regex->ok()) return error(c.regex->error());  // not expected after translation
      c.kind = Kind::kRegex;
      c.text = std::string(s);
      return c;
    }

    const size_t stars = std::count(s.begin(), s.end(), '*');
    if (stars == 0) {
      c.kind = Kind::kLiteral;
      c.text = std::string(s);
      return c;
    }
    const bool lead = s.front() == '*';
    const bool trail = s.back() == '*';
    if (stars == 2 && lead && trail && s.size() > 2) {
      c.affix = Affix::kWithin;
      c.text = std::string(s.substr(1, s.size() - 2));
    } else if (stars == 1 && trail) {
      c.affix = Affix::kPrefix;
      c.text = std::string(s.substr(0, s.size() - 1));
    } else if (stars == 1 && lead) {
      c.affix = Affix::kSuffix;
      c.text = std::string(s.substr(1));
    } else {
      // E.g. `a*b` or `**.php`. Read as literals these would silently never match (and `**.php`
      // is most likely a mistyped `**/*.php`), so they are rejected; `#a\*b` matches a literal.
      return error("`*` may only be a whole component or at its start and/or end");
    }
    c.kind = Kind::kAffix;
    return c;
  }

  // Whether this component accepts one target component. `fold` is set for the authority
  // (target component 0): host names are case-insensitive, paths are not.
  bool Accepts(std::string_view value, bool fold) const {
    switch (kind) {
      case Kind::kAnyMany:
      case Kind::kAny:
        return true;
      case Kind::kRegex:
        return RE2::FullMatch(value, *regex);  // case is the regex's business: `(?i)`
      case Kind::kLiteral:
        return value.size() == text.size() && EqualsAt(value, 0, text, fold);
      case Kind::kAffix:
        switch (affix) {
          case Affix::kPrefix:
            return EqualsAt(value, 0, text, fold);
          case Affix::kSuffix:
            return value.size() >= text.size() &&
                   EqualsAt(value, value.size() - text.size(), text, fold);
          case Affix::kWithin:
            return Contains(value, text, fold);
          case Affix::kNone:
            break;
        }
        return false;
    }
    return false;
  }

  ComponentRank Rank() const {
    ComponentRank r{static_cast<int>(kind), 0, 0};
    if (kind == Kind::kAffix) {
      r.affix_length = text.size();
      r.affix_kind = affix == Affix::kWithin ? 0 : 1;
    }
    return r;
  }

  static bool HasAnyMany(const std::vector<Component>& glob) {
    return std::any_of(glob.begin(), glob.end(),
                       [](const Component& c) { return c.kind == Kind::kAnyMany; });
  }

  // The match table: ok[g * (T + 1) + t] is true when glob components [g, G) match target
  // components [t, T). Filled bottom-up, so each (g, t) pair is decided once: O(G * T) work however
  // many `**` the glob has, and no recursion whose depth an attacker controls through the path.
  static std::vector<char> MatchTable(const std::vector<Component>& glob,
                                      const std::vector<std::string_view>& target) {
    const size_t G = glob.size();
    const size_t T = target.size();
    const size_t W = T + 1;
    std::vector<char> ok((G + 1) * W, 0);
    ok[G * W + T] = 1;
    for (size_t g = G; g-- > 0;) {
      const Component& c = glob[g];
      for (size_t t = T + 1; t-- > 0;) {
        bool m;
        if (c.kind == Kind::kAnyMany) {
          // Match zero components, or one and stay on this `**`.
          m = ok[(g + 1) * W + t] || (t < T && ok[g * W + t + 1]);
        } else {
          // Test the (possibly regex) component only when the rest can match.
          m = t < T && ok[(g + 1) * W + t + 1] && c.Accepts(target[t], t == 0);
        }
        ok[g * W + t] = m;
      }
    }
    return ok;
  }
};

PathGlob::PathGlob() = default;
PathGlob::PathGlob(PathGlob&&) noexcept = default;
PathGlob& PathGlob::operator=(PathGlob&&) noexcept = default;
PathGlob::~PathGlob() = default;

std::vector<std::string_view> SplitPathTarget(std::string_view target) {
  const size_t query = target.find('?');
  if (query != std::string_view::npos) target = target.substr(0, query);
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (begin <= target.size()) {
    size_t end = target.find('/', begin);
    if (end == std::string_view::npos) end = target.size();
    if (end > begin) parts.push_back(target.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

StatusOr<PathGlob> PathGlob::Parse(std::string_view text) {
  PathGlob glob;
  glob.text_ = std::string(text);
  // Globs split like targets (empty components from `//` or edge slashes are dropped), so a glob
  // written `/api/**` or `example.com//x` still lines up with what it is matched against. Unlike
  // a target, a glob keeps `?`: it may be part of a `#regex` component.
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('/', begin);
    if (end == std::string_view::npos) end = text.size();
    if (end > begin) {
      StatusOr<Component> c = Component::Parse(text, text.substr(begin, end - begin));
      if (!c.ok()) return c.status();
      glob.components_.push_back(std::move(*c));
    }
    begin = end + 1;
  }
  if (glob.components_.empty()) {
    return InvalidArgumentError("invalid path glob \"" + glob.text_ + "\": empty glob");
  }
  return glob;
}

bool PathGlob::Matches(std::string_view target) const {
  const std::vector<std::string_view> parts = SplitPathTarget(target);
  if (!Component::HasAnyMany(components_)) {
    // Common case: one glob component per target component, no table needed.
    if (parts.size() != components_.size()) return false;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!components_[i].Accepts(parts[i], i == 0)) return false;
    }
    return true;
  }
  return Component::MatchTable(components_, parts)[0];
}

std::string PathGlob::Display(std::string_view target) const {
  const std::vector<std::string_view> parts = SplitPathTarget(target);
  const std::vector<char> ok = Component::MatchTable(components_, parts);
  if (!ok[0]) return text_;  // contract violation; the glob text is the safest answer

  // Walk one successful assignment from (0, 0). A `**` takes as few components as it can (it
  // consumes one only when skipping it would fail), so the display is deterministic.
  const size_t G = components_.size();
  const size_t T = parts.size();
  const size_t W = T + 1;
  std::string out;
  auto append = [&out](std::string_view s) {
    if (s.empty()) return;
    if (!out.empty()) out += '/';
    out += s;
  };
  size_t t = 0;
  for (size_t g = 0; g < G; ++g) {
    const Component& c = components_[g];
    if (c.kind != Component::Kind::kAnyMany) {
      append(c.preserve ? parts[t] : std::string_view(c.display));
      ++t;
      continue;
    }
    const size_t begin = t;
    while (!ok[(g + 1) * W + t]) ++t;  // ok[0] guarantees this stops at t <= T
    if (!c.preserve) {
      append(c.display);
    } else {
      for (size_t k = begin; k < t; ++k) append(parts[k]);
    }
  }
  return out;
}

int PathGlob::CompareSpecificity(const PathGlob& a, const PathGlob& b) {
  auto counts = [](const PathGlob& g) {
    size_t fixed = 0, any_many = 0;
    for (const Component& c : g.components_) {
      (c.kind == Component::Kind::kAnyMany ? any_many : fixed)++;
    }
    return std::pair<size_t, size_t>(fixed, any_many);
  };
  const auto [a_fixed, a_many] = counts(a);
  const auto [b_fixed, b_many] = counts(b);
  // 1. More components that each match exactly one target component: more specific.
  if (a_fixed != b_fixed) return a_fixed < b_fixed ? -1 : 1;
  // 2. Then more `**`: more general (`*/api/**` covers `*/api`).
  if (a_many != b_many) return a_many > b_many ? -1 : 1;
  // 3. Then position by position (the lengths are now equal): the first more general component
  //    makes its glob more general.
  for (size_t i = 0; i < a.components_.size(); ++i) {
    const ComponentRank ra = a.components_[i].Rank();
    const ComponentRank rb = b.components_[i].Rank();
    if (ra != rb) return ra < rb ? -1 : 1;
  }
  // 4. Equally specific: the text decides, so the order is total and independent of input order.
  const int c = a.text_.compare(b.text_);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace leakscope
