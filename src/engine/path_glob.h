// PathGlob: LeakSignal's endpoint selector, e.g. `*/api/**`, `example.com/product/#[0-9]+`.
//
// A glob is `/`-separated components matched against `authority/path/components` (the query string
// is not part of the path). Component forms: `*` (any one component), `**` (zero or more),
// `#regex` (RE2, whole component), `prefix*`, `*suffix`, `*within*`, literal text; a leading `!`
// marks a component whose concrete value is preserved in the displayed policy path.
#ifndef LEAKSCOPE_ENGINE_PATH_GLOB_H_
#define LEAKSCOPE_ENGINE_PATH_GLOB_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace re2 { class RE2; }

namespace leakscope {

class PathGlob {
 public:
  // Parses `text`; errors (bad regex component, empty glob) name the offending component.
  static StatusOr<PathGlob> Parse(std::string_view text);

  PathGlob(PathGlob&&) noexcept;
  PathGlob& operator=(PathGlob&&) noexcept;
  ~PathGlob();

  // Matches `target` = authority + path, e.g. "example.com/api/users/7". A query string
  // (`?...`) and leading/trailing slashes of the path are ignored.
  bool Matches(std::string_view target) const;

  // The policy path reported for `target` (which must match): the glob text, with components
  // marked `!` replaced by the concrete component(s) they matched.
  std::string Display(std::string_view target) const;

  // Total order for evaluation: Compare(a, b) < 0 when a is more general than b. General globs
  // apply first and specific ones override them. Among components, literal is most specific,
  // then prefix/suffix/within (longer text more specific), then #regex, then `*`, then `**`;
  // more non-`**` components is more specific.
  static int CompareSpecificity(const PathGlob& a, const PathGlob& b);

  const std::string& text() const { return text_; }

 private:
  struct Component;
  PathGlob();
  std::string text_;
  std::vector<Component> components_;
};

// Splits "authority/path?query" into components (no empty components).
std::vector<std::string_view> SplitPathTarget(std::string_view target);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_PATH_GLOB_H_
