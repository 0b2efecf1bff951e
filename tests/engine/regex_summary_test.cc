// RegexSummary facts, and the property they exist for: finders that skip text between triggers
// find exactly what a scan of every byte finds.
#include "engine/regex_summary.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "support/files.h"

namespace leakscope {
namespace {

ByteSet Bytes(std::string_view chars) {
  ByteSet s;
  for (unsigned char c : chars) s.set(c);
  return s;
}

TEST(RegexSummary, EmailTriggersOnTheAtSignAndIsConfinedToItsAlphabet) {
  auto s = SummarizeRegex("[a-zA-Z0-9_.+-]{2,}@[a-zA-Z0-9-]{3,}\\.[a-zA-Z0-9-.]{2,}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger, Bytes("@"));
  EXPECT_EQ(s->max_lead, RegexSummary::kUnbounded);
  EXPECT_EQ(s->max_reach, RegexSummary::kUnbounded);
  EXPECT_TRUE(s->alphabet_restricted());
  EXPECT_FALSE(s->alphabet.test('"'));
  EXPECT_FALSE(s->alphabet.test(' '));
  EXPECT_FALSE(s->can_be_empty);
}

TEST(RegexSummary, DigitRunsBoundLeadAndReach) {
  auto s = SummarizeRegex("\\d{16}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger, Bytes("0123456789"));
  EXPECT_EQ(s->trigger_run, 16u);
  EXPECT_EQ(s->max_lead, 0u);
  EXPECT_EQ(s->max_reach, 16u);

  // A bounded prefix before the rarest part: [^0-9] may be a 4-byte character.
  s = SummarizeRegex("[^0-9][0-9]{10}[^0-9]", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger_run, 10u);
  EXPECT_EQ(s->max_lead, 4u);
  EXPECT_EQ(s->max_reach, 18u);
  EXPECT_FALSE(s->alphabet_restricted());
}

TEST(RegexSummary, ConsecutiveFixedClassesFormATriggerSequence) {
  auto s = SummarizeRegex("[^0-9](?:\\+1[\\s.-])?(?:\\d{3}|\\(\\d{3}\\))[\\s.-]\\d{3}[\\s.-]\\d{4}[^0-9]",
                          RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger, Bytes("\t\n\v\f\r .-"));
  ASSERT_EQ(s->trigger_rest.size(), 3u);
  EXPECT_EQ(s->trigger_rest[0].set, Bytes("0123456789"));
  EXPECT_EQ(s->trigger_rest[0].count, 3u);
  EXPECT_EQ(s->trigger_rest[2].count, 4u);
  EXPECT_EQ(s->max_lead, 12u);  // [^0-9] (4 bytes) + "+1 " (3) + "(ddd)" (5)
  // A variable count ends a sequence: what follows is preceded by its minimum only.
  s = SummarizeRegex("[0-9]{1,2}/[0-9]{2}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger_run, 1u);
  ASSERT_EQ(s->trigger_rest.size(), 2u);
  EXPECT_EQ(s->max_lead, 1u);
}

TEST(RegexSummary, AlternationUnitesTheBranchesTriggers) {
  auto s = SummarizeRegex("(?:cat|dog)s?", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_TRUE((s->trigger & Bytes("cd")).any() || (s->trigger & Bytes("ao")).any());
  EXPECT_EQ(s->max_reach, 4u);
  // A branch without a trigger leaves none.
  s = SummarizeRegex("a|b*", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->can_be_empty);
}

TEST(RegexSummary, CaseInsensitiveLettersMayMatchNonAscii) {
  // (?i)k also matches U+212A KELVIN SIGN (3 bytes): the summary must allow for it.
  auto s = SummarizeRegex("(?i)kk", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->trigger.test('k'));
  EXPECT_TRUE(s->trigger.test('K'));
  EXPECT_TRUE(s->trigger.test(0xE2));
  EXPECT_GE(s->max_reach, 6u);
}

TEST(RegexSummary, LookaheadExtendsReachAndBackreferencesRepeatTheirGroup) {
  auto s = SummarizeRegex("(?!000)(\\d{3})-\\1", RegexDialect::kPcre2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->max_reach, 7u);
  EXPECT_EQ(s->trigger_run, 3u);
  // Backreferences are not RE2 syntax.
  EXPECT_FALSE(SummarizeRegex("(a)\\1", RegexDialect::kRe2));
}

TEST(RegexSummary, LeadingLiteralIsLeftToRe2) {
  auto s = SummarizeRegex("AKIA[0-9A-Z]{16}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->leading_literal);
  s = SummarizeRegex("(?i)akia[0-9A-Z]{16}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->leading_literal);
}

TEST(RegexSummary, UnknownSyntaxGivesUp) {
  EXPECT_FALSE(SummarizeRegex("(?x) a b", RegexDialect::kRe2));      // verbose flag
  EXPECT_FALSE(SummarizeRegex("(?|(a)|(b))", RegexDialect::kPcre2));  // branch reset
  EXPECT_FALSE(SummarizeRegex("a)", RegexDialect::kRe2));
  EXPECT_FALSE(SummarizeRegex("\\h+", RegexDialect::kPcre2));
}

// ---------------------------------------------------------------------------------------------
// Differential: every finder of a policy, compiled with and without trigger search, over texts
// built to hit the patterns' edges (digit runs of every length, separators, keywords, '@',
// non-ASCII and invalid UTF-8, long runs that exceed the search regions).

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  // mt19937_64's output (unlike std:: distributions) is fixed by the standard: same texts on
  // every platform.
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }

  std::string Text(size_t target) {
    static const char* kWords[] = {"street", "St.", "Road", "dr", "Ave", "north", "phone", "dob",
                                   "first_name", "Access_Token", "example", "com", "SSN", "card",
                                   "AKIA", "birth_date", "lane", "route", "key", "é", "à", "ú",
                                   "\xE2\x84\xAA", "\xC5\xBF", "\xFF", "\x80", "0000", "666", "000",
                                   "999", "someone@example.com"};
    static const char kSeparators[] = " -./()+@_\n\t\",:;=#[]{}";
    std::string out;
    while (out.size() < target) {
      switch (Below(6)) {
        case 0:
        case 1: {
          size_t n = 1 + Below(Below(4) == 0 ? 40 : 18);
          for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>('0' + Below(10)));
          break;
        }
        case 2:
          out += kWords[Below(sizeof(kWords) / sizeof(kWords[0]))];
          break;
        case 3: {
          size_t n = 1 + Below(3);
          for (size_t i = 0; i < n; ++i) out.push_back(kSeparators[Below(sizeof(kSeparators) - 1)]);
          break;
        }
        case 4: {
          size_t n = 1 + Below(Below(8) == 0 ? 600 : 10);  // sometimes a run longer than a region
          char base = Below(2) ? 'a' : 'A';
          for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(base + Below(26)));
          break;
        }
        default:
          out.push_back(' ');
          break;
      }
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

void ExpectSameFinds(const std::string& yaml, const std::string& label, int texts) {
  auto policy = LoadPolicy(yaml);
  ASSERT_TRUE(policy.ok()) << label << ": " << policy.status().message();
  CompileOptions plain_options;
  plain_options.trigger_search = false;
  auto triggered = CompiledPolicy::Compile(*policy);
  auto plain = CompiledPolicy::Compile(*policy, plain_options);
  ASSERT_TRUE(triggered.ok() && plain.ok()) << label;
  const auto& a = (*triggered)->finders();
  const auto& b = (*plain)->finders();
  ASSERT_EQ(a.size(), b.size());
  Gen gen(0x5eed ^ std::hash<std::string>()(label));
  for (int t = 0; t < texts; ++t) {
    std::string text = gen.Text(1 + gen.Below(t % 5 == 0 ? 6000 : 700));
    size_t start = gen.Below(4) == 0 ? gen.Below(text.size()) : 0;
    for (size_t f = 0; f < a.size(); ++f) {
      std::vector<Span> got, want;
      bool limit_a = false, limit_b = false;
      a[f]->FindAll(text, start, &got, &limit_a);
      b[f]->FindAll(text, start, &want, &limit_b);
      if (limit_a || limit_b) continue;  // a backtracking limit may cut either differently
      ASSERT_EQ(got.size(), want.size()) << label << " finder " << f << " text #" << t;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << label << " finder " << f << " text #" << t << " match " << i << ": "
                                   << text.substr(want[i].begin, want[i].size());
      }
    }
  }
}

TEST(TriggerSearch, SameMatchesAsFullScanForSharedPolicies) {
  std::vector<std::string> files = {testing::SharedDir() + "/conformance/reference-policy.yaml"};
  for (const auto& e : std::filesystem::directory_iterator(testing::SharedDir() + "/conformance/leaksignal-examples")) {
    files.push_back(e.path().string());
  }
  for (const std::string& f : files) ExpectSameFinds(testing::ReadFileOrDie(f), f, 300);
}

TEST(TriggerSearch, SameMatchesAsFullScanForEdgePatterns) {
  // Anchors, boundaries, lookaround, case folding, classes with non-ASCII, alternations whose
  // branches have different triggers, lazy and unbounded repeats.
  static const char* kPatterns[] = {
      "^\\d{3}",
      "\\d{3}$",
      "\\b\\d{4}\\b",
      "(?i)\\bst(reet)?\\b",
      "(?i)k[a-z]{2,5}",
      "[^0-9]\\d{2,3}[^0-9]",
      "(?:\\d{3}|\\(\\d{3}\\))[ .-]\\d{4}",
      "[a-zà-ú]+@[a-z]{2,}",
      "\\d+?\\.\\d{2}",
      "(?s)a.{0,5}b",
      "(?:ab|cd)+e",
      "(?i)(?:north|south) \\w+",
      "(?!000)\\d{3}-(?!00)\\d{2}",
      "(?<=#)\\d{3,}",
      "(\\d)\\1{3}",
      "[[:digit:]]{5}",
      "\\x41\\d",
      "\\QSt.\\E ?\\d",
      "(?P<area>\\d{3})-\\d{3}",
      "[\\s.-]{2}\\d",
      "\\d{2,3}-\\d{4}",
      "[a-z]{3}\\d{2}x",
      "\\d{4}[\\s.-]\\d{4}[\\s.-]\\d{4}",
      "x?\\b\\d\\d-\\d+",
  };
  std::string yaml = "categories:\n";
  int i = 0;
  for (const char* p : kPatterns) {
    std::string escaped;
    for (const char* c = p; *c; ++c) {
      if (*c == '\\' || *c == '"') escaped += '\\';
      escaped += *c;
    }
    yaml += "  c" + std::to_string(i++) + ":\n    - regex: \"" + escaped + "\"\n";
  }
  yaml += "endpoints:\n  - matches: \"**\"\n";
  ExpectSameFinds(yaml, "edge patterns", 400);
}

}  // namespace
}  // namespace leakscope
