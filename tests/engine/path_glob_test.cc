#include "engine/path_glob.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leakscope {
namespace {

PathGlob MustParse(std::string_view text) {
  StatusOr<PathGlob> g = PathGlob::Parse(text);
  EXPECT_TRUE(g.ok()) << text << ": " << g.status().message();
  if (!g.ok()) return PathGlob::Parse("__parse_failed__").value();
  return std::move(*g);
}

bool GlobMatches(std::string_view glob, std::string_view target) {
  return MustParse(glob).Matches(target);
}

std::string ParseError(std::string_view text) {
  StatusOr<PathGlob> g = PathGlob::Parse(text);
  EXPECT_FALSE(g.ok()) << text << " parsed";
  if (g.ok()) return "";
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  return g.status().message();
}

TEST(SplitPathTargetTest, DropsQueryAndEmptyComponents) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(SplitPathTarget("example.com/api/users/7"), (V{"example.com", "api", "users", "7"}));
  EXPECT_EQ(SplitPathTarget("example.com"), (V{"example.com"}));
  EXPECT_EQ(SplitPathTarget("example.com/"), (V{"example.com"}));
  EXPECT_EQ(SplitPathTarget("h//a///b/"), (V{"h", "a", "b"}));
  EXPECT_EQ(SplitPathTarget("/h/a"), (V{"h", "a"}));
  EXPECT_EQ(SplitPathTarget("h/search?q=a/b&x=?"), (V{"h", "search"}));
  EXPECT_EQ(SplitPathTarget("h?q"), (V{"h"}));
  EXPECT_EQ(SplitPathTarget(""), V{});
  EXPECT_EQ(SplitPathTarget("///"), V{});
}

TEST(PathGlobTest, DoubleStarMatchesEverything) {
  for (const char* t : {"example.com", "example.com/", "example.com/a/b/c", "", "h?x=1"}) {
    EXPECT_TRUE(GlobMatches("**", t)) << t;
  }
}

TEST(PathGlobTest, StarMatchesExactlyOneComponent) {
  EXPECT_TRUE(GlobMatches("*/foo", "any.host/foo"));
  EXPECT_TRUE(GlobMatches("*/foo", "any.host/foo/"));
  EXPECT_FALSE(GlobMatches("*/foo", "host/foo/bar"));
  EXPECT_FALSE(GlobMatches("*/foo", "host"));
  EXPECT_FALSE(GlobMatches("*/foo", "host/bar"));
  EXPECT_TRUE(GlobMatches("*/cart", "shop/cart"));
  EXPECT_TRUE(GlobMatches("*/*", "h/x"));
  EXPECT_FALSE(GlobMatches("*/*", "h"));
}

TEST(PathGlobTest, LiteralComponents) {
  EXPECT_TRUE(GlobMatches("example.com/product", "example.com/product"));
  EXPECT_FALSE(GlobMatches("example.com/product", "example.com/products"));
  EXPECT_FALSE(GlobMatches("example.com/product", "example.org/product"));
  // Paths are case-sensitive; the authority (target component 0) is not.
  EXPECT_TRUE(GlobMatches("Example.COM/Foo", "example.com/Foo"));
  EXPECT_FALSE(GlobMatches("Example.COM/Foo", "example.com/foo"));
  EXPECT_FALSE(GlobMatches("**/Foo", "h/foo"));
  EXPECT_TRUE(GlobMatches("**/foo", "FOO"));  // the only component is the authority
}

TEST(PathGlobTest, QueryAndEmptyComponentsAreIgnored) {
  EXPECT_TRUE(GlobMatches("*/search", "h/search?q=a/b"));
  EXPECT_TRUE(GlobMatches("*/a/b", "h//a///b/"));
  EXPECT_TRUE(GlobMatches("/h//a/", "h/a"));
}

TEST(PathGlobTest, RegexComponents) {
  EXPECT_TRUE(GlobMatches("example.com/product/#[0-9]+", "example.com/product/123"));
  EXPECT_FALSE(GlobMatches("example.com/product/#[0-9]+", "example.com/product/ABC"));
  EXPECT_FALSE(GlobMatches("example.com/product/#[0-9]+", "example.com/product/123abc"));  // whole
  EXPECT_FALSE(GlobMatches("example.com/product/#[0-9]+", "example.com/product/123/x"));
  EXPECT_TRUE(GlobMatches("*/#(?i)[a-f]+", "h/BeeF"));  // Rust flags work
  EXPECT_TRUE(GlobMatches("*/#(?iu)v[0-9]", "h/V2"));   // ... after translation
  EXPECT_TRUE(GlobMatches("*/#a|b", "h/b"));            // alternation is anchored as a whole
  EXPECT_FALSE(GlobMatches("*/#a|b", "h/ab"));
  EXPECT_TRUE(GlobMatches("#.*\\.example\\.com/**", "api.example.com/x"));
}

TEST(PathGlobTest, AffixComponents) {
  EXPECT_TRUE(GlobMatches("*/v1*", "h/v1beta"));
  EXPECT_TRUE(GlobMatches("*/v1*", "h/v1"));
  EXPECT_FALSE(GlobMatches("*/v1*", "h/xv1"));
  EXPECT_TRUE(GlobMatches("*/*.json", "h/data.json"));
  EXPECT_FALSE(GlobMatches("*/*.json", "h/data.jsonp"));
  EXPECT_TRUE(GlobMatches("*/*admin*", "h/superadmin1"));
  EXPECT_TRUE(GlobMatches("*/*admin*", "h/admin"));
  EXPECT_FALSE(GlobMatches("*/*admin*", "h/user"));
  EXPECT_FALSE(GlobMatches("*/*admin*", "h/Admin"));
  EXPECT_TRUE(GlobMatches("api.*/**", "API.example.com/x"));  // authority: case-insensitive
  EXPECT_TRUE(GlobMatches("*.COM/**", "shop.com"));
  EXPECT_TRUE(GlobMatches("*SHOP*/**", "myshop.io"));
}

TEST(PathGlobTest, DoubleStarForms) {
  EXPECT_TRUE(GlobMatches("**/*.php", "h/a/b/x.php"));
  EXPECT_TRUE(GlobMatches("**/*.php", "h/x.php"));
  EXPECT_FALSE(GlobMatches("**/*.php", "h/x.php/y"));
  EXPECT_TRUE(GlobMatches("*/internal/**", "hr.example.com/internal/staff"));
  EXPECT_TRUE(GlobMatches("*/internal/**", "hr.example.com/internal"));
  EXPECT_FALSE(GlobMatches("*/internal/**", "hr.example.com/external/internal"));
  EXPECT_TRUE(GlobMatches("example.com/**", "example.com"));
  EXPECT_FALSE(GlobMatches("example.com/**", "example.org/a"));
  EXPECT_TRUE(GlobMatches("**/a/**/b/**", "h/x/a/y/z/b"));
  EXPECT_FALSE(GlobMatches("**/a/**/b/**", "h/b/y/a"));
  EXPECT_TRUE(GlobMatches("**/**", "h"));
  EXPECT_TRUE(GlobMatches("*/**/#[0-9]+", "h/a/b/42"));
}

TEST(PathGlobTest, PathologicalGlobsAreFast) {
  std::string target = "host";
  for (int i = 0; i < 200; ++i) target += "/c";
  const PathGlob g = MustParse("**/**/**/**/**/x");
  const PathGlob many = MustParse("**/c/**/c/**/c/**/c/**/c/**/c/**/c/**/c/**/x/**");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(g.Matches(target));  // backtracking would need ~200^5 steps
    EXPECT_TRUE(g.Matches(target + "/x"));
    EXPECT_FALSE(many.Matches(target));
    EXPECT_TRUE(many.Matches(target + "/x"));
  }
  // A few ms of work in practice; the bound only catches exponential behaviour.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(g.Display(target + "/x"), "**/**/**/**/**/x");

  std::string long_target = "h";
  for (int i = 0; i < 20000; ++i) long_target += "/p";
  EXPECT_TRUE(MustParse("**/p").Matches(long_target));  // no recursion depth to overflow
}

TEST(PathGlobTest, DisplayPreservesMarkedComponents) {
  EXPECT_EQ(MustParse("hello/!*/test.html").Display("hello/world/test.html"),
            "hello/world/test.html");
  EXPECT_EQ(MustParse("hello/*/test.html").Display("hello/world/test.html"), "hello/*/test.html");
  EXPECT_EQ(MustParse("!*/api/!#[0-9]+").Display("h.io/api/42?x=1"), "h.io/api/42");
  EXPECT_EQ(MustParse("*/api/#[0-9]+").Display("h.io/api/42"), "*/api/#[0-9]+");
  EXPECT_EQ(MustParse("**/!*.php").Display("h/a/x.php"), "**/x.php");
  EXPECT_EQ(MustParse("*/!v1*").Display("h/v1beta"), "*/v1beta");
  EXPECT_EQ(MustParse("!example.com/x").Display("EXAMPLE.com/x"), "EXAMPLE.com/x");
  // Display is built from the components, so extra slashes in the glob do not show.
  EXPECT_EQ(MustParse("/*//x/").Display("h/x"), "*/x");
}

TEST(PathGlobTest, DisplayOfPreservedDoubleStar) {
  EXPECT_EQ(MustParse("!**").Display("h/a/b"), "h/a/b");
  EXPECT_EQ(MustParse("!**").Display(""), "");
  EXPECT_EQ(MustParse("*/!**").Display("h/a/b"), "*/a/b");
  EXPECT_EQ(MustParse("*/!**").Display("h"), "*");  // matched nothing: nothing to show
  EXPECT_EQ(MustParse("!**/x.php").Display("h/a/x.php"), "h/a/x.php");
  EXPECT_EQ(MustParse("*/!**/end").Display("h/a/b/end"), "*/a/b/end");
  // With several `**`, each takes as few components as it can, left to right.
  EXPECT_EQ(MustParse("!**/x/!**").Display("a/x/b/x/c"), "a/x/b/x/c");
  EXPECT_EQ(MustParse("!**/x/**").Display("a/x/b/x/c"), "a/x/**");
  EXPECT_EQ(MustParse("**/x/!**").Display("a/x/b/x/c"), "**/x/b/x/c");
}

TEST(PathGlobTest, ParseErrors) {
  EXPECT_NE(ParseError("").find("empty glob"), std::string::npos);
  EXPECT_NE(ParseError("/").find("empty glob"), std::string::npos);
  EXPECT_NE(ParseError("//").find("empty glob"), std::string::npos);

  const std::string bad_regex = ParseError("example.com/#[0-9");
  EXPECT_NE(bad_regex.find("invalid path glob \"example.com/#[0-9\""), std::string::npos)
      << bad_regex;
  EXPECT_NE(bad_regex.find("component \"#[0-9\""), std::string::npos) << bad_regex;
  EXPECT_NE(bad_regex.find("missing ]"), std::string::npos) << bad_regex;

  EXPECT_NE(ParseError("*/#(a").find("component \"#(a\""), std::string::npos);
  EXPECT_NE(ParseError("*/#").find("empty regex"), std::string::npos);
  EXPECT_NE(ParseError("*/#(?=a)a").find("PCRE2 (lookahead (?=)"), std::string::npos);
  EXPECT_NE(ParseError("*/!").find("component \"!\""), std::string::npos);
  EXPECT_NE(ParseError("*/a*b").find("component \"a*b\""), std::string::npos);
  EXPECT_NE(ParseError("**.php").find("`*` may only be"), std::string::npos);
  EXPECT_NE(ParseError("*/***").find("component \"***\""), std::string::npos);
  EXPECT_NE(ParseError("*/a**").find("component \"a**\""), std::string::npos);
}

TEST(PathGlobTest, IsMovable) {
  std::vector<PathGlob> globs;
  globs.push_back(MustParse("*/#[0-9]+"));
  globs.push_back(MustParse("**"));
  PathGlob moved = std::move(globs[0]);
  globs[0] = MustParse("*/a");
  EXPECT_TRUE(moved.Matches("h/12"));  // the regex moved with it
  EXPECT_FALSE(moved.Matches("h/x"));
  EXPECT_EQ(moved.text(), "*/#[0-9]+");
  EXPECT_TRUE(globs[0].Matches("h/a"));
}

std::vector<std::string> SortedBySpecificity(std::vector<std::string> texts) {
  std::vector<PathGlob> globs;
  for (const std::string& t : texts) globs.push_back(MustParse(t));
  std::sort(globs.begin(), globs.end(), [](const PathGlob& a, const PathGlob& b) {
    return PathGlob::CompareSpecificity(a, b) < 0;
  });
  std::vector<std::string> out;
  for (const PathGlob& g : globs) out.push_back(g.text());
  return out;
}

TEST(PathGlobSpecificityTest, SortsGeneralFirst) {
  const std::vector<std::string> expected = {
      "**", "*/**", "*/api/**", "*/product/*", "*/api/v1", "*/cart/checkout",
  };
  std::vector<std::string> input = {"*/cart/checkout", "*/api/v1", "**",
                                    "*/api/**",        "*/**",     "*/product/*"};
  EXPECT_EQ(SortedBySpecificity(input), expected);
  std::reverse(input.begin(), input.end());
  EXPECT_EQ(SortedBySpecificity(input), expected);
}

TEST(PathGlobSpecificityTest, ComponentKindsOrder) {
  // Same shape; the second component decides: ** < * < #regex < affixes < literal. Among
  // affixes longer text is more specific, and with equal text `*x*` is more general than `*x`
  // (which the text tie-break alone would order the other way).
  const std::vector<std::string> expected = {
      "h/**",  "h/*/**", "h/*",    "h/#[0-9]+", "h/*ab*", "h/*ab",
      "h/ab*", "h/*abc", "h/abc*", "h/*abcd*",  "h/abc",  "h/x/y",
  };
  std::vector<std::string> input = expected;
  std::reverse(input.begin(), input.end());
  EXPECT_EQ(SortedBySpecificity(input), expected);
  std::rotate(input.begin(), input.begin() + 4, input.end());
  EXPECT_EQ(SortedBySpecificity(input), expected);
}

TEST(PathGlobSpecificityTest, IsATotalOrder) {
  const std::vector<std::string> texts = {
      "**",    "*/**",      "*/api/**",  "*/api/v1", "*/cart",     "*/cart/checkout",
      "h/*",   "h/#[0-9]+", "h/#[a-z]+", "h/ab*",    "h/*ab",      "h/*ab*",
      "h/!*",  "!h/*",      "**/x",      "x/**",     "a/**/b",     "a/b/**",
      "H/abc", "h/abc",     "**/**",     "*/!**",    "*/product/*"};
  std::vector<PathGlob> globs;
  for (const std::string& t : texts) globs.push_back(MustParse(t));
  for (size_t i = 0; i < globs.size(); ++i) {
    EXPECT_EQ(PathGlob::CompareSpecificity(globs[i], globs[i]), 0) << texts[i];
    for (size_t j = 0; j < globs.size(); ++j) {
      const int ij = PathGlob::CompareSpecificity(globs[i], globs[j]);
      const int ji = PathGlob::CompareSpecificity(globs[j], globs[i]);
      EXPECT_EQ(ij, -ji) << texts[i] << " vs " << texts[j];
      if (i != j) {
        EXPECT_NE(ij, 0) << texts[i] << " vs " << texts[j];  // distinct texts
      }
      for (size_t k = 0; k < globs.size(); ++k) {
        if (ij < 0 && PathGlob::CompareSpecificity(globs[j], globs[k]) < 0) {
          EXPECT_LT(PathGlob::CompareSpecificity(globs[i], globs[k]), 0)
              << texts[i] << " < " << texts[j] << " < " << texts[k];
        }
      }
    }
  }
}

}  // namespace
}  // namespace leakscope
