#include "engine/regex_translate.h"

#include <memory>
#include <string>
#include <string_view>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <gtest/gtest.h>
#include <pcre2.h>
#include <re2/re2.h>

namespace leakscope {
namespace {

// Translates `pattern`, expecting success on `engine`; returns the translated pattern.
std::string Translated(std::string_view pattern, RegexEngine engine = RegexEngine::kRe2) {
  StatusOr<TranslatedRegex> t = TranslateRegex(pattern);
  EXPECT_TRUE(t.ok()) << pattern << ": " << t.status().message();
  if (!t.ok()) return "<error>";
  EXPECT_EQ(t->engine, engine) << pattern << " -> " << t->pattern;
  return t->pattern;
}

// Whether the translated RE2 pattern finds a match in `text` (it must compile).
bool Re2Finds(std::string_view pattern, std::string_view text) {
  const std::string translated = Translated(pattern, RegexEngine::kRe2);
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(translated, options);
  EXPECT_TRUE(re.ok()) << translated << ": " << re.error();
  return RE2::PartialMatch(text, re);
}

// Whether a PCRE2 pattern finds a match in `text`, compiled as the engine compiles it.
bool Pcre2Finds(const std::string& pattern, std::string_view text) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  std::unique_ptr<pcre2_code, decltype(&pcre2_code_free)> code(
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset, nullptr),
      &pcre2_code_free);
  EXPECT_NE(code, nullptr) << pattern << ": error " << error_code << " at " << error_offset;
  if (code == nullptr) return false;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(code.get(), nullptr), &pcre2_match_data_free);
  const int rc = pcre2_match(code.get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                             0, data.get(), nullptr);
  EXPECT_TRUE(rc > 0 || rc == PCRE2_ERROR_NOMATCH) << "pcre2_match error " << rc;
  return rc > 0;
}

std::string ErrorOf(std::string_view pattern) {
  StatusOr<TranslatedRegex> t = TranslateRegex(pattern);
  EXPECT_FALSE(t.ok()) << pattern << " unexpectedly translated to " << t->pattern;
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  return t.status().message();
}

// ---- plain RE2 patterns ----

TEST(RegexTranslateTest, PlainPatternIsUnchangedOnRe2) {
  StatusOr<TranslatedRegex> t = TranslateRegex(R"(\d{3}-\d{2})");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->engine, RegexEngine::kRe2);
  EXPECT_EQ(t->pattern, R"(\d{3}-\d{2})");
  EXPECT_EQ(t->note, "");
}

TEST(RegexTranslateTest, RustSyntaxRe2AlreadyAcceptsPassesThrough) {
  for (const char* p : {R"(\Aabc\z)", R"(\x{41}\x42)", R"(\pL\p{Greek}\PN)", R"((?P<year>\d{4}))",
                        R"((?i)x(?-i:y)(?s:.)(?m)^$(?U)a+)", R"(\Q(?u)[\E)", R"(a\-b\#c\ d)"}) {
    EXPECT_EQ(Translated(p), p);
  }
}

// ---- the `u` flag ----

TEST(RegexTranslateTest, DropsUnicodeFlag) {
  EXPECT_EQ(Translated("(?iu)abc"), "(?i)abc");
  EXPECT_EQ(Translated("(?ui)abc"), "(?i)abc");
  EXPECT_EQ(Translated(R"((?u)\bx)"), R"(\bx)");
  EXPECT_EQ(Translated(R"((?-u:\b)x(?-u:\b))"), R"((?:\b)x(?:\b))");
  EXPECT_EQ(Translated("(?u:ab)c"), "(?:ab)c");
  EXPECT_EQ(Translated("(?i-u)x"), "(?i)x");
  EXPECT_EQ(Translated("(?i-u:x)"), "(?i:x)");
  EXPECT_EQ(Translated("(?-iu:x)"), "(?-i:x)");
  EXPECT_EQ(Translated("(?-ui)x"), "(?-i)x");
  EXPECT_EQ(Translated("(?su)a.b"), "(?s)a.b");
  EXPECT_EQ(Translated("(?-u)x"), "x");
}

TEST(RegexTranslateTest, UnicodeFlagRewriteKeepsMeaning) {
  EXPECT_TRUE(Re2Finds(R"((?-u:\b)root(?-u:\b))", "user root logged in"));
  EXPECT_FALSE(Re2Finds(R"((?-u:\b)root(?-u:\b))", "chroot"));
  EXPECT_TRUE(Re2Finds("(?iu)héllo", "HÉLLO"));  // (?i) still folds non-ASCII letters
}

// ---- text that looks like syntax but is escaped or inside a class ----

TEST(RegexTranslateTest, NeverRewritesInsideClassesOrEscapes) {
  EXPECT_EQ(Translated("[(?u)]"), "[(?u)]");
  EXPECT_EQ(Translated("[]a(?u)]"), "[]a(?u)]");
  EXPECT_EQ(Translated("[^](?u)]"), "[^](?u)]");
  EXPECT_EQ(Translated("[[:alpha:](?u)]x"), "[[:alpha:](?u)]x");
  EXPECT_EQ(Translated("[[:^digit:]](?u)"), "[[:^digit:]]");
  EXPECT_EQ(Translated(R"([\](?u)])"), R"([\](?u)])");
  EXPECT_EQ(Translated(R"(\(?u\))"), R"(\(?u\))");
  EXPECT_EQ(Translated(R"(\\(?u))"), R"(\\)");  // an escaped backslash does not escape `(`
  EXPECT_EQ(Translated(R"(\Q(?u)\E(?u))"), R"(\Q(?u)\E)");
  EXPECT_EQ(Translated("[(?=x]"), "[(?=x]");  // not a lookahead: stays on RE2
  EXPECT_EQ(Translated(R"(\(?!x\))"), R"(\(?!x\))");
  // `\1` in a class is not a backreference, so this is RE2's to reject (PCRE2 would read octal).
  EXPECT_NE(ErrorOf(R"([\1]x)").find("invalid escape"), std::string::npos);
}

TEST(RegexTranslateTest, ClassEdgeCasesMatchAsRustWould) {
  EXPECT_TRUE(Re2Finds("^[]]$", "]"));
  EXPECT_TRUE(Re2Finds("^[^]]$", "a"));
  EXPECT_FALSE(Re2Finds("^[^]]$", "]"));
  EXPECT_TRUE(Re2Finds("^[[:alpha:]]+$", "abcXYZ"));
  EXPECT_FALSE(Re2Finds("^[[:alpha:]]+$", "ab1"));
  EXPECT_TRUE(Re2Finds("^[a-zA-Z0-9-.]+$", "a-b.c9"));  // `-` after a range is a literal
  EXPECT_TRUE(Re2Finds("^[-/.]$", "/"));
  EXPECT_TRUE(Re2Finds("^[ .,-]$", "-"));
  EXPECT_FALSE(Re2Finds("^[ .,-]$", "+"));  // `,-]` is not a range
}

TEST(RegexTranslateTest, RejectsRustClassSetSyntaxInsteadOfChangingMeaning) {
  // RE2 would accept these with `[` `&` `-` `~` as literals and silently match something else.
  EXPECT_NE(ErrorOf("[a[bc]]").find("nested character class"), std::string::npos);
  EXPECT_NE(ErrorOf("[a-z&&[^aeiou]]").find("is not supported"), std::string::npos);
  EXPECT_NE(ErrorOf("[a-z&&b]").find("\"&&\""), std::string::npos);
  EXPECT_NE(ErrorOf("[0-9--4]").find("\"--\""), std::string::npos);
  EXPECT_NE(ErrorOf("[a-g~~b-h]").find("\"~~\""), std::string::npos);
  // Escaped, they are literals in every syntax.
  EXPECT_TRUE(Re2Finds(R"(^[a\[b\&\&]+$)", "a[b&"));
}

// ---- other Rust spellings ----

TEST(RegexTranslateTest, RewritesRustOnlySpellings) {
  EXPECT_EQ(Translated("(?<year>[0-9]{4})"), "(?P<year>[0-9]{4})");
  EXPECT_EQ(Translated(R"(\u0041\u{42}\U00000043\U{1F600})"),
            R"(\x{0041}\x{42}\x{00000043}\x{1F600})");
  EXPECT_TRUE(Re2Finds(R"(^\u00e9$)", "é"));
  EXPECT_NE(ErrorOf(R"(\u12)").find(R"(\u12)"), std::string::npos);  // malformed: RE2's error
}

// ---- the `x` flag ----

TEST(RegexTranslateTest, VerboseFlagStripsWhitespaceAndComments) {
  EXPECT_EQ(Translated("(?x) a b # a comment\n c"), "abc");
  EXPECT_EQ(Translated("(?x)\\d{ 3 } - \\d"), "\\d{3}-\\d");
  EXPECT_EQ(Translated("(?ix) a b"), "(?i)ab");
  EXPECT_EQ(Translated("(?x)[ a b ]"), "[ab]");  // like Rust, also inside classes
  EXPECT_EQ(Translated("(?x)[ ^ ] ]"), "[^]]");
  EXPECT_EQ(Translated("(?x)a\\ b\\#c"), "a\\ b\\#c");  // escaped space and # stay
  EXPECT_EQ(Translated("(?x)[\\ a]"), "[\\ a]");
  EXPECT_EQ(Translated("(?x)\\Q a b\\E c"), "\\Q a b\\Ec");
}

TEST(RegexTranslateTest, VerboseFlagIsScopedToItsGroup) {
  EXPECT_EQ(Translated("(?x: a b ) c d"), "(?:ab) c d");
  EXPECT_EQ(Translated("(?:(?x) a b ) c d"), "(?:ab) c d");
  EXPECT_EQ(Translated("(?x)a (?-x: b ) c"), "a(?: b )c");
  EXPECT_EQ(Translated("(?x)a (?-x) b c"), "a b c");
  EXPECT_EQ(Translated("a # b"), "a # b");  // not verbose: # is a literal
  EXPECT_TRUE(Re2Finds("(?x) ^ a \\  b $ # match 'a b'", "a b"));
  EXPECT_FALSE(Re2Finds("(?x) ^ a \\  b $ # match 'a b'", "ab"));
}

// ---- the policy patterns the brief names ----

TEST(RegexTranslateTest, PolicyPatternsCompileOnRe2AndMatch) {
  const std::string date =
      R"((?-u:\b)(19[2-9]\d|20[0-1]\d)(([-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|1\d|2\d|3[0-1]))|((0[1-9]|1[0-2])(0[1-9]|1\d|2\d|3[0-1])))(?-u:\b))";
  EXPECT_TRUE(Re2Finds(date, "born 1999-12-31."));
  EXPECT_TRUE(Re2Finds(date, "on 20101231"));
  EXPECT_TRUE(Re2Finds(date, "1985/7/4"));
  EXPECT_FALSE(Re2Finds(date, "1899-12-31"));
  EXPECT_FALSE(Re2Finds(date, "x1999-12-31"));  // no word boundary before the year

  const std::string street = R"((?iu)[0-9]+[a-zà-ú.,-]* ((highway)|(st\.?))([ .,-]*[a-zà-ú0-9]*)*)";
  EXPECT_TRUE(Re2Finds(street, "at 12 HIGHWAY 5"));
  EXPECT_TRUE(Re2Finds(street, "42É st. Paul"));  // (?i) over à-ú still works
  EXPECT_FALSE(Re2Finds(street, "12 main road"));

  const std::string phone = R"((?u)\b(1[ .-]?)?[2-9]\d{2}[ .-]?\d{3}[ .-]?\d{4}\b)";
  EXPECT_TRUE(Re2Finds(phone, "call 555-123-4567 now"));
  EXPECT_TRUE(Re2Finds(phone, "1 555 123 4567"));
  EXPECT_FALSE(Re2Finds(phone, "id x5551234567x"));

  const std::string email = R"([a-zA-Z0-9_.+-]{2,}@[a-zA-Z0-9-]{3,}\.[a-zA-Z0-9-.]{2,})";
  EXPECT_EQ(Translated(email), email);
  EXPECT_TRUE(Re2Finds(email, "mail bob.smith+x@example.co.uk today"));
  EXPECT_FALSE(Re2Finds(email, "a@bc.d"));

  const std::string address =
      R"((?i)\b\d{1,5} ([a-zA-Z0-9]+ ){0,5}(street|st|avenue),?( [a-zA-Z0-9#,\.]+){0,3}\b)";
  EXPECT_EQ(Translated(address), address);
  EXPECT_TRUE(Re2Finds(address, "lives at 221 Baker STREET, Apt #4 London"));
  EXPECT_FALSE(Re2Finds(address, "lives at Baker Street"));
}

// ---- PCRE2 fallback ----

TEST(RegexTranslateTest, ReferenceSsnPatternGoesToPcre2) {
  const std::string ssn =
      R"((?!(\d){3}(-| |)\1{2}\2\1{4})(?!666|000|9\d{2})(\b\d{3}(-| |)(?!00)\d{2}\4(?!0{4})\d{4}\b))";
  StatusOr<TranslatedRegex> t = TranslateRegex(ssn);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->engine, RegexEngine::kPcre2);
  EXPECT_EQ(t->pattern, ssn);
  EXPECT_EQ(t->note, R"(lookahead (?!, backreference \1, backreference \2, backreference \4)");
  EXPECT_TRUE(Pcre2Finds(t->pattern, "ssn 123-45-6789."));
  EXPECT_TRUE(Pcre2Finds(t->pattern, "ssn 123 45 6789"));
  EXPECT_FALSE(Pcre2Finds(t->pattern, "ssn 123-45 6789"));  // separators must agree (\4)
  EXPECT_FALSE(Pcre2Finds(t->pattern, "111-11-1111"));      // repeated digit (\1, \2)
  EXPECT_FALSE(Pcre2Finds(t->pattern, "666-12-3456"));
  EXPECT_FALSE(Pcre2Finds(t->pattern, "123-00-4567"));
  EXPECT_FALSE(Pcre2Finds(t->pattern, "123-45-0000"));
}

TEST(RegexTranslateTest, NotesEachConstructThatForcesPcre2) {
  struct Case {
    const char* pattern;
    const char* note;
    const char* matches;
    const char* does_not_match;
  };
  const Case cases[] = {
      {"a(?=b)", "lookahead (?=", "ab", "ac"},
      {"a(?!b)", "lookahead (?!", "ac", "ab"},
      {"(?<=a)b", "lookbehind (?<=", "ab", "cb"},
      {"(?<!a)b", "lookbehind (?<!", "cb", "ab"},
      {R"((a)\1)", R"(backreference \1)", "aa", "ab"},
      {R"((?<c>x)\k<c>)", R"(backreference \k<c>)", "xx", "xy"},
      {R"((x)\g{1})", R"(backreference \g{1})", "xx", "xy"},
      {R"((x)\g1)", R"(backreference \g1)", "xx", "xy"},
      {R"((?P<c>x)(?P=c))", "backreference (?P=c)", "xx", "xy"},
  };
  for (const Case& c : cases) {
    StatusOr<TranslatedRegex> t = TranslateRegex(c.pattern);
    ASSERT_TRUE(t.ok()) << c.pattern << ": " << t.status().message();
    EXPECT_EQ(t->engine, RegexEngine::kPcre2) << c.pattern;
    EXPECT_EQ(t->note, c.note) << c.pattern;
    EXPECT_TRUE(Pcre2Finds(t->pattern, c.matches)) << c.pattern;
    EXPECT_FALSE(Pcre2Finds(t->pattern, c.does_not_match)) << c.pattern;
  }
}

TEST(RegexTranslateTest, Pcre2FormGetsTheSameFlagRewrites) {
  EXPECT_EQ(Translated(R"((?iu)(?-u:\b)a(?=b))", RegexEngine::kPcre2), R"((?i)(?:\b)a(?=b))");
  EXPECT_EQ(Translated("(?x) a (?= b ) # c", RegexEngine::kPcre2), "a(?=b)");
  EXPECT_EQ(Translated(R"((?<n>a)\k<n>)", RegexEngine::kPcre2), R"((?P<n>a)\k<n>)");
  EXPECT_TRUE(Pcre2Finds(Translated("(?iu)a(?=b)", RegexEngine::kPcre2), "AB"));
}

TEST(RegexTranslateTest, Pcre2DollarMeansEndOfTextAsInRust) {
  const std::string p = Translated("a(?=b)b$", RegexEngine::kPcre2);
  EXPECT_EQ(p, R"(a(?=b)b\z)");
  EXPECT_TRUE(Pcre2Finds(p, "ab"));
  EXPECT_FALSE(Pcre2Finds(p, "ab\n"));  // PCRE2's plain `$` would match here
  const std::string m = Translated("(?m)a(?=b)b$", RegexEngine::kPcre2);
  EXPECT_EQ(m, "(?m)a(?=b)b$");
  EXPECT_TRUE(Pcre2Finds(m, "ab\nc"));
  EXPECT_EQ(Translated("(?m:a$)(?=x)$", RegexEngine::kPcre2), R"((?m:a$)(?=x)\z)");
  EXPECT_EQ(Translated("a$"), "a$");  // RE2's `$` already means end of text
}

// ---- errors ----

TEST(RegexTranslateTest, InvalidPatternErrorNamesPatternAndReason) {
  const std::string e = ErrorOf("[unclosed");
  EXPECT_NE(e.find("invalid regex \"[unclosed\""), std::string::npos) << e;
  EXPECT_NE(e.find("missing ]"), std::string::npos) << e;
  EXPECT_NE(ErrorOf("a)").find("\"a)\""), std::string::npos);
  EXPECT_NE(ErrorOf("(a").find("\"(a\""), std::string::npos);
  EXPECT_NE(ErrorOf("a\\").find("\"a\\\""), std::string::npos);
  EXPECT_NE(ErrorOf("(?R)a").find("\"(?R)a\""), std::string::npos);  // Rust CRLF flag: no engine
  EXPECT_NE(ErrorOf("[").find("\"[\""), std::string::npos);
  EXPECT_NE(ErrorOf("(?x)[ # ]").find("missing ]"), std::string::npos);  // Rust: # comments here
}

TEST(RegexTranslateTest, PcreOnlyPatternThatPcre2RejectsIsAnError) {
  const std::string e = ErrorOf("(?=a)[b");
  EXPECT_NE(e.find("invalid regex \"(?=a)[b\""), std::string::npos) << e;
  EXPECT_NE(e.find("at offset"), std::string::npos) << e;
  EXPECT_NE(ErrorOf(R"(\k<nope>)").find("nope"), std::string::npos);
}

}  // namespace
}  // namespace leakscope
