// RegexSummary facts, and the property they exist for: finders that skip text between triggers
// find exactly what a scan of every byte finds.
#include "engine/regex_summary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/report.h"
#include "engine/transaction.h"
#include "support/files.h"
#include "support/report_summary.h"

namespace leakscope {
namespace {

TEST(ClassDensity, IsTheSetsByteWeightsOverAHundredAtMostOne) {
  // Every byte alone, sets of random bytes of every density, and the full set.
  for (int b = 0; b < 256; ++b) {
    ByteSet one;
    one.set(static_cast<size_t>(b));
    EXPECT_EQ(ClassDensity(one), std::min(1.0, ByteWeight(static_cast<unsigned char>(b)) / 100.0)) << b;
  }
  std::mt19937 rng(3);
  for (int round = 0; round < 200; ++round) {
    ByteSet set;
    const unsigned keep = rng() % 257;
    for (size_t b = 0; b < 256; ++b) {
      if (rng() % 256 < keep) set.set(b);
    }
    double weight = 0;
    for (int b = 0; b < 256; ++b) {
      if (set.test(static_cast<size_t>(b))) weight += ByteWeight(static_cast<unsigned char>(b));
    }
    EXPECT_EQ(ClassDensity(set), std::min(1.0, weight / 100.0)) << set.count();
  }
  EXPECT_EQ(ClassDensity(ByteSet().set()), 1.0);
  EXPECT_EQ(ClassDensity(ByteSet()), 0.0);
}

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

TEST(RegexSummary, KnowsWhenEveryMatchStartsAtAWordBoundary) {
  struct Case {
    const char* pattern;
    RegexDialect dialect;
    bool word_start;
  };
  const Case cases[] = {
      {"\\b\\d{3}-\\d{2}", RegexDialect::kRe2, true},
      {"(?-u:\\b)(?:4[0-9]{12}|5[1-5][0-9]{14})(?-u:\\b)", RegexDialect::kRe2, true},  // low_fp's card
      {"(?:\\bab|\\bcd)x", RegexDialect::kRe2, true},   // in every branch
      {"(?:\\bab|cd)x", RegexDialect::kRe2, false},      // not in one
      {"(\\b\\d)+", RegexDialect::kRe2, true},         // a group repeated at least once
      {"(\\b\\d)*x", RegexDialect::kRe2, false},       // or possibly not at all
      {"(?!000)\\b\\d{3}", RegexDialect::kPcre2, true},  // after a lookahead
      {"(\\bx)\\1", RegexDialect::kPcre2, true},
      {"a?\\bb", RegexDialect::kRe2, false},  // a match may start with the optional `a`
      {"\\d{3}\\b", RegexDialect::kRe2, false},
      {"\\B\\d", RegexDialect::kRe2, false},
      {"^\\bx", RegexDialect::kRe2, true},
  };
  for (const Case& c : cases) {
    auto s = SummarizeRegex(c.pattern, c.dialect);
    ASSERT_TRUE(s) << c.pattern;
    EXPECT_EQ(s->starts_at_word_boundary, c.word_start) << c.pattern;
  }
}

TEST(RegexSummary, KnowsTheSecondBytesAfterEachFirstByte) {
  auto s = SummarizeRegex("(?:4[0-9]{12}|6(?:011|5[0-9][0-9])[0-9]{12}|(?:2131|1800)\\d{11})", RegexDialect::kRe2);
  ASSERT_TRUE(s && s->first_pairs);
  EXPECT_EQ(s->first, Bytes("4621"));
  EXPECT_EQ((*s->first_pairs)['4'], Bytes("0123456789"));
  EXPECT_EQ((*s->first_pairs)['6'], Bytes("05"));
  EXPECT_EQ((*s->first_pairs)['2'], Bytes("1"));
  EXPECT_EQ((*s->first_pairs)['1'], Bytes("8"));
  // A one-byte match has no second byte.
  auto one = SummarizeRegex("x|yz", RegexDialect::kRe2);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->first_pairs, nullptr);
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
  ASSERT_EQ(s->trigger_rest.size(), 4u);
  EXPECT_EQ(s->trigger_rest[0].set, Bytes("0123456789"));
  EXPECT_EQ(s->trigger_rest[0].count, 3u);
  EXPECT_EQ(s->trigger_rest[2].count, 4u);
  // The closing [^0-9] (one character, up to 4 bytes) adds its first byte: no digit.
  EXPECT_FALSE((s->trigger_rest[3].set & Bytes("0123456789")).any());
  EXPECT_EQ(s->trigger_rest[3].set.count(), 246u);
  EXPECT_EQ(s->max_lead, 12u);  // [^0-9] (4 bytes) + "+1 " (3) + "(ddd)" (5)
  // A small count range continues the sequence as an element with that range.
  s = SummarizeRegex("[0-9]{1,2}/[0-9]{2}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger_run, 1u);
  ASSERT_EQ(s->trigger_rest.size(), 3u);
  EXPECT_EQ(s->trigger_rest[0].count, 0u);
  EXPECT_EQ(s->trigger_rest[0].max_count, 1u);
  EXPECT_EQ(s->trigger_rest[1].set, Bytes("/"));
  EXPECT_EQ(s->max_lead, 0u);
  // An unbounded count ends it: what follows is preceded by the minimum only.
  s = SummarizeRegex("[0-9]{2,}/[0-9]{2}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger_run, 2u);
  ASSERT_EQ(s->trigger_rest.size(), 2u);
  EXPECT_EQ(s->max_lead, RegexSummary::kUnbounded);
}

TEST(RegexSummary, AMultiByteCharacterClassBoundsASequenceByOneByte) {
  // The reference date: the byte before the first digit is the last byte of [^0-9].
  auto s = SummarizeRegex("[^0-9][0-9]{1,2}[/-][0-9]{1,2}[/-][0-9]{2,4}[^0-9]", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger.count(), 246u);
  EXPECT_FALSE((s->trigger & Bytes("0123456789")).any());
  EXPECT_EQ(s->max_lead, 3u);  // [^0-9] takes up to 4 bytes
  ASSERT_EQ(s->trigger_rest.size(), 6u);
  EXPECT_EQ(s->trigger_rest[0].set, Bytes("0123456789"));
  EXPECT_EQ(s->trigger_rest[0].max_count, 2u);
  EXPECT_EQ(s->trigger_rest[5].count, 1u);
}

TEST(RegexSummary, OneByteAlternativesAndOptionalBytesAreSequenceElements) {
  // The reference SSN's RE2 relaxation: `(-| |)` and its copy are optional separators.
  auto s = SummarizeRegex("\\b\\d{3}(-| |)\\d{2}(-| |)\\d{4}\\b", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger, Bytes("0123456789"));
  EXPECT_EQ(s->trigger_run, 3u);
  ASSERT_EQ(s->trigger_rest.size(), 4u);
  EXPECT_EQ(s->trigger_rest[0].set, Bytes("- "));
  EXPECT_EQ(s->trigger_rest[0].count, 0u);
  EXPECT_EQ(s->trigger_rest[0].max_count, 1u);
  EXPECT_EQ(s->trigger_rest[1].count, 2u);
  EXPECT_EQ(s->trigger_rest[3].count, 4u);
  // Optional elements at the end are dropped: a match need not contain them.
  s = SummarizeRegex("@[a-z]{2}-?", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger_rest.size(), 1u);
  // A choice between a byte and a longer branch ends the sequence with its first byte.
  s = SummarizeRegex("\\d{3}(-|--)\\d{2}", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->trigger_rest.size(), 1u);
  EXPECT_EQ(s->trigger_rest[0].set, Bytes("-"));
  EXPECT_EQ(s->trigger_rest[0].next, nullptr);  // its matches may be one byte
}

TEST(RegexSummary, AGroupAfterASequenceAddsItsFirstBytesAndTheirPairs) {
  // The reference `address` pattern's shape: a space is common, a space followed by the start
  // of a street word is not.
  auto s = SummarizeRegex("\\d (street|road|rd)x", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger, Bytes("0123456789"));
  ASSERT_EQ(s->trigger_rest.size(), 3u);
  EXPECT_EQ(s->trigger_rest[0].set, Bytes(" "));
  EXPECT_EQ(s->trigger_rest[1].set, Bytes("rs"));
  ASSERT_NE(s->trigger_rest[1].next, nullptr);
  EXPECT_EQ((*s->trigger_rest[1].next)['s'], Bytes("t"));
  EXPECT_EQ((*s->trigger_rest[1].next)['r'], Bytes("do"));
  EXPECT_EQ(s->trigger_rest[2].set, Bytes("dot"));
  // Case folding: 's' may also be U+017F (bytes C5 BF), so a non-ASCII first byte may be
  // followed by anything.
  s = SummarizeRegex("(?i)\\d (st|rd)", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->trigger_rest.size(), 3u);
  ASSERT_NE(s->trigger_rest[1].next, nullptr);
  EXPECT_TRUE(s->trigger_rest[1].set.test('S') && s->trigger_rest[1].set.test(0xC5));
  EXPECT_TRUE((*s->trigger_rest[1].next)['S'].test('t') && (*s->trigger_rest[1].next)['S'].test('T'));
  EXPECT_FALSE((*s->trigger_rest[1].next)['S'].test('d'));
  EXPECT_TRUE((*s->trigger_rest[1].next)[0xC5].all());
  // An optional piece before the first character: no pairs (x may come first).
  s = SummarizeRegex("\\d (x?ab|cd)", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  ASSERT_GE(s->trigger_rest.size(), 2u);
  EXPECT_EQ(s->trigger_rest[1].set, Bytes("acx"));
  EXPECT_EQ(s->trigger_rest[1].next, nullptr);
  // A group that can be empty adds nothing.
  s = SummarizeRegex("\\d (ab)?c", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger_rest.size(), 1u);
}

TEST(RegexSummary, ASequenceAfterARunAfterAClassIsPrecededByThem) {
  // `[0-9]+[a-z]* ` before the street word: the space is preceded by letters, then a digit.
  auto s = SummarizeRegex("[0-9]+[a-z]* (st|rd)", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->trigger, Bytes(" "));
  ASSERT_TRUE(s->trigger_prefix.has_value());
  EXPECT_EQ(s->trigger_prefix->first, Bytes("0123456789"));
  EXPECT_EQ(s->trigger_prefix->run, Bytes("abcdefghijklmnopqrstuvwxyz"));
  // Same trigger, and the prefix breaks a tie with the bare one.
  s = SummarizeRegex("\\d+x*y", RegexDialect::kRe2);
  ASSERT_TRUE(s && s->trigger_prefix.has_value());
  EXPECT_EQ(s->trigger_prefix->run, Bytes("x"));
  // Nothing is known across a zero-width piece, or when the class may be absent.
  s = SummarizeRegex("[0-9]+\\b[a-z]* (st|rd)", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->trigger_prefix.has_value());
  s = SummarizeRegex("[0-9]*[a-z]* (st|rd)", RegexDialect::kRe2);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->trigger_prefix.has_value());
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

  // JSON-like filler (letters, quotes, colons, commas) with a lone item that policies match,
  // or nearly match, every 40 to 400 bytes: triggers far apart, so regions fit single triggers
  // and a match may reach exactly as far as a region does.
  std::string SparseText(size_t target) {
    static const char* kItems[] = {"4111111111111111", "41111111111111112", "303-72-8978", "303 72 8978",
                                   "(393) 744-4674", "393.744.4674", "+1 393-744-4674", "12 road",
                                   "8600 Main Road", "12th Street north", "a.b@ex.com", "lucas.novak25@yahoo.com",
                                   "1234567890", "12345678901", "12/25/1990", "1/2/90", "0000-0000-0000-0000",
                                   "5555 5555 5555 4444", "AKIA1234567890ABCDEF", "666-12-3456"};
    std::string out;
    while (out.size() < target) {
      const size_t filler = 40 + Below(360);
      for (size_t i = 0; i < filler; ++i) {
        const size_t r = Below(12);
        out.push_back(r == 0 ? '"' : r == 1 ? ':' : r == 2 ? ',' : static_cast<char>('a' + Below(26)));
      }
      out += Below(2) ? "\"" : ":\"";
      out += kItems[Below(sizeof(kItems) / sizeof(kItems[0]))];
      out += Below(2) ? "\"" : "\",";
    }
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

// `text` as a YAML double-quoted scalar.
std::string YamlQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A policy of one category `c` with one regex rule, configured on every endpoint.
std::string OneRegexPolicy(std::string_view pattern) {
  return "categories:\n  c:\n    - regex: " + YamlQuoted(pattern) +
         "\nendpoints:\n  - matches: \"**\"\n    config:\n      c: {}\n";
}

// A policy with one category per pattern (c0, c1, ...), on every endpoint.
template <size_t N>
std::string RegexPerCategoryPolicy(const char* const (&patterns)[N]) {
  std::string yaml = "categories:\n";
  for (size_t i = 0; i < N; ++i) yaml += "  c" + std::to_string(i) + ":\n    - regex: " + YamlQuoted(patterns[i]) + "\n";
  return yaml + "endpoints:\n  - matches: \"**\"\n";
}

void ExpectSameFinds(const std::string& yaml, const std::string& label, int texts, bool sparse = false) {
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
    const size_t size = 1 + gen.Below(t % 5 == 0 ? 6000 : 700);
    std::string text = sparse ? gen.SparseText(size) : gen.Text(size);
    size_t start = gen.Below(4) == 0 ? gen.Below(text.size()) : 0;
    for (size_t f = 0; f < a.size(); ++f) {
      std::vector<Span> got, want;
      bool limit_a = false, limit_b = false;
      a[f]->FindAll(text, start, &got, &limit_a);
      b[f]->FindAll(text, start, &want, &limit_b);
      if (limit_a || limit_b) continue;  // a backtracking limit may cut either differently
      // With a shared trigger index too (as batches and blocks scan).
      std::vector<Span> indexed;
      TriggerIndex index;
      index.Reset(triggered->get(), text);
      a[f]->FindAll(text, start, &indexed, &limit_a, &index);
      ASSERT_EQ(indexed, got) << label << " finder " << f << " text #" << t << " (indexed)";
      ASSERT_EQ(got.size(), want.size()) << label << " finder " << f << " text #" << t;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], want[i]) << label << " finder " << f << " text #" << t << " match " << i << ": "
                                   << text.substr(want[i].begin, want[i].size());
      }
    }
  }
}

// Whether `seq` occurs at p (every element min..max bytes of its class, in order, within n).
bool SequenceAtBruteForce(const TriggerTables& t, const TriggerTables::Sequence& seq, std::string_view text, size_t p,
                          size_t k = 0) {
  if (k == seq.size()) return true;
  const TriggerTables::Element& e = seq[k];
  const ByteSet& set = t.class_sets[static_cast<size_t>(e.class_id)];
  size_t q = p;
  for (uint32_t c = 0; c <= e.max; ++c) {
    if (c >= e.min && SequenceAtBruteForce(t, seq, text, q, k + 1)) return true;
    if (q >= text.size() || !set.test(static_cast<unsigned char>(text[q]))) return false;
    ++q;
  }
  return false;
}

TEST(TriggerSearch, SequenceBitmapsAreExactlyWhereSequencesOccur) {
  // Policies whose trigger sequences have count ranges at the start, in the middle and at the
  // end, optional elements, one-byte choices, and runs of one class alone (built from runs of
  // half their length); every sequence's bitmap is compared with a check of the sequence at
  // every position (the finders' searches would hide a missed position when another trigger's
  // region covers it).
  const std::string yaml = std::string("categories:\n") +
                           "  a:\n    - regex: " + YamlQuoted("[0-9]{1,2}[/-][0-9]{1,2}[/-][0-9]{2,4}") + "\n" +
                           "  b:\n    - regex: " + YamlQuoted("[^0-9][0-9]{1,2}[/-][0-9]{1,2}[/-][0-9]{2,4}[^0-9]") + "\n" +
                           "  c:\n    - regex: " + YamlQuoted("\\b\\d{3}(-| |)\\d{2}(-| |)\\d{4}\\b") + "\n" +
                           "  d:\n    - regex: " + YamlQuoted("\\d{4}[\\s.-]\\d{4}[\\s.-]\\d{4}") + "\n" +
                           "  e:\n    - regex: " + YamlQuoted("a(b|c|)d{0,3}[0-9]{2,5}") + "\n" +
                           "  f:\n    - regex: " + YamlQuoted("\\d{16}") + "\n" +
                           "  g:\n    - regex: " + YamlQuoted("[0-9]{10}") + "\n" +
                           "  h:\n    - regex: " + YamlQuoted("[0-9]{7}") + "\n" +
                           "  i:\n    - regex: " + YamlQuoted("[0-9]{33}") + "\n" +
                           "  j:\n    - regex: " + YamlQuoted("[0-9]{21}") + "\n" +
                           "endpoints:\n  - matches: \"**\"\n";
  auto policy = LoadPolicy(yaml);
  ASSERT_TRUE(policy.ok()) << policy.status().message();
  auto compiled = CompiledPolicy::Compile(*policy);
  ASSERT_TRUE(compiled.ok());
  const TriggerTables& tables = (*compiled)->triggers();
  ASSERT_GE(tables.sequences.size(), 9u);
  std::mt19937_64 rng(7);
  static const char kBytes[] = "0123456789/- .abcdx\n";
  TriggerIndex index;
  // After the random texts, texts that end where b's last element ([^0-9], marked as the inverse
  // of [0-9]) would need one byte more, at every offset in the bitmap's last word: nothing past
  // a text's end is in any class.
  for (int t = 0; t < 300 + 130; ++t) {
    std::string text;
    if (t >= 300) {
      text = std::string(static_cast<size_t>(t - 300), 'x') + "x12/3/2019";
      index.Reset(compiled->get(), text);
      for (size_t id = 0; id < tables.sequences.size(); ++id) {
        const uint64_t* bits = index.SequenceStarts(static_cast<int>(id));
        for (size_t p = 0; p < text.size(); ++p) {
          ASSERT_EQ(((bits[p / 64] >> (p % 64)) & 1) != 0, SequenceAtBruteForce(tables, tables.sequences[id], text, p))
              << "sequence " << id << " at " << p << " of a text of " << text.size() << " bytes";
        }
      }
      continue;
    }
    const size_t n = rng() % (t % 10 == 0 ? 2000 : 200);
    // Every third text mostly digits, so that long runs occur; every third other one groups of
    // 1 to 5 digits between separators, so that grouped sequences (4-4-4) occur.
    const bool digits = t % 3 == 0;
    const bool groups = t % 3 == 1;
    while (groups && text.size() < n) {
      for (size_t i = 1 + rng() % 5; i > 0; --i) text.push_back(static_cast<char>('0' + rng() % 10));
      text.push_back("/- .x"[rng() % 5]);
    }
    for (size_t i = text.size(); i < n; ++i) {
      text.push_back(digits && rng() % 40 != 0 ? static_cast<char>('0' + rng() % 10)
                                               : kBytes[rng() % (sizeof(kBytes) - 1)]);
    }
    index.Reset(compiled->get(), text);
    for (size_t id = 0; id < tables.sequences.size(); ++id) {
      const uint64_t* bits = index.SequenceStarts(static_cast<int>(id));
      for (size_t p = 0; p < n; ++p) {
        const bool want = SequenceAtBruteForce(tables, tables.sequences[id], text, p);
        ASSERT_EQ(((bits[p / 64] >> (p % 64)) & 1) != 0, want)
            << "sequence " << id << " at " << p << " in \"" << text.substr(p, 20) << "\"";
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

TEST(TriggerSearch, SameMatchesAsFullScanWhereTriggersAreFarApart) {
  // Lone triggers get regions just big enough for their matches; close ones share a slack.
  std::vector<std::string> files = {testing::SharedDir() + "/conformance/reference-policy.yaml"};
  for (const auto& e : std::filesystem::directory_iterator(testing::SharedDir() + "/conformance/leaksignal-examples")) {
    files.push_back(e.path().string());
  }
  for (const std::string& f : files) ExpectSameFinds(testing::ReadFileOrDie(f), f + " (sparse)", 200, /*sparse=*/true);
  ExpectSameFinds(OneRegexPolicy("\\d{16}"), "run (sparse)", 200, true);
  ExpectSameFinds(OneRegexPolicy("[^0-9][0-9]{10}[^0-9]"), "bounded both sides (sparse)", 200, true);
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
      // Count ranges and one-byte choices inside trigger sequences (checked with bitmaps).
      "\\b\\d{3}(-| |)\\d{2}(-| |)\\d{4}\\b",
      "[0-9]{1,2}[/-][0-9]{1,2}[/-][0-9]{2,4}",
      "a(b|c|)d{0,3}[0-9]{2}",
      "(?:-|\\.)?\\d{2,4}x?\\d",
      // A group after a sequence: its first bytes and their pairs (with case folding and an
      // optional first piece).
      "(?i)\\d+[a-z.]* (?:st\\.?|rd|road|ave)\\b",
      "(?i)\\d (st|kw)",
      "[0-9]{2} (?:x?ab|cd|e)",
  };
  ExpectSameFinds(RegexPerCategoryPolicy(kPatterns), "edge patterns", 400);
}


TEST(TriggerSearch, SameMatchesAsFullScanWhereOnlySomeBytesOfAClassStartAMatch) {
  // Card-like patterns: only some digits begin a match, so a region's leftmost match is found by
  // an anchored search at each byte that may start one, not by one unanchored search (whose DFA
  // meets new states all through random digit runs). With word boundaries, a lookahead-free
  // suffix, and matches that end at a region's end.
  static const char* kPatterns[] = {
      "(?:4[0-9]{12}(?:[0-9]{3})?|[25][1-7][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|"
      "3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\\d{3})\\d{11})",
      "4[0-9]{12}(?:[0-9]{3})?",
      "[25][1-7][0-9]{4}",
      "\\b3[47]\\d{3}\\b",
      "(?-u:\\b)(?:4[0-9]{5}|[25][1-7][0-9]{3})(?-u:\\b)",  // only word starts start one
      "(?:\\b4|x)\\d{4}",
      "(?:2131|1800|35\\d{3})\\d{2}",
      "1\\d{2}(?:-\\d)?",
      "[0-4]\\d{3}[a-c]",
      "9\\d{2}$",
  };
  const std::string yaml = RegexPerCategoryPolicy(kPatterns);
  ExpectSameFinds(yaml, "only some digits start a match", 400);
  ExpectSameFinds(yaml, "only some digits start a match (sparse)", 200, /*sparse=*/true);
}

// Random patterns from a grammar of the syntax the analysis handles (and some it gives up on),
// over a small alphabet, against texts of the same alphabet: the summary must never make a
// triggered finder miss or change a match.
class PatternGen {
 public:
  explicit PatternGen(uint64_t seed) : rng_(seed) {}
  size_t Below(size_t n) { return static_cast<size_t>(rng_() % n); }

  std::string Pattern() {
    groups_ = 0;
    std::string flags;
    switch (Below(8)) {
      case 0: flags = "(?i)"; break;
      case 1: flags = "(?m)"; break;
      case 2: flags = "(?s)"; break;
      default: break;
    }
    return flags + Alternation(0);
  }

  std::string Text(size_t size) {
    static const char* kPieces[] = {"a", "b", "1", "9", "-", "@", ".", " ", "x", "A", "B", "\n",
                                    "\xC3\xA9", "ab1", "11-", "a@b.x", "  ", "\xE2\x84\xAA"};
    std::string out;
    while (out.size() < size) {
      const char* piece = kPieces[Below(sizeof(kPieces) / sizeof(kPieces[0]))];
      const size_t repeat = Below(10) == 0 ? 1 + Below(40) : 1;
      for (size_t i = 0; i < repeat; ++i) out += piece;
    }
    return out;
  }

 private:
  std::string Alternation(int depth) {
    std::string out = Concat(depth);
    if (depth < 2 && Below(5) == 0) out += "|" + Concat(depth);
    if (depth > 0 && Below(8) == 0) out += "|";  // an empty branch: `(-| |)` makes a byte optional
    return out;
  }
  std::string Concat(int depth) {
    std::string out;
    const size_t n = 1 + Below(4);
    for (size_t i = 0; i < n; ++i) out += Piece(depth);
    return out;
  }
  std::string Piece(int depth) {
    std::string atom = Atom(depth);
    if (atom.empty()) return atom;
    if (atom[0] == '^' || atom[0] == '$' || atom == "\\b" || atom == "\\B") return atom;  // no quantifier
    static const char* kQuantifiers[] = {"", "", "", "*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "+?", "{0,2}"};
    return atom + kQuantifiers[Below(sizeof(kQuantifiers) / sizeof(kQuantifiers[0]))];
  }
  std::string Atom(int depth) {
    static const char* kAtoms[] = {"a", "b", "1", "-", "@", "\\.", " ", "x", "\xC3\xA9", "\\d", "\\w", "\\s",
                                   "\\D", "\\W", "[0-9]", "[a-z]", "[^0-9]", "[\\s.-]", "[a-zA-Z0-9_.+-]",
                                   ".", "[ab1]", "[^a]", "\\x41", "[[:digit:]]"};
    switch (Below(14)) {
      case 0:
        if (depth < 3) {
          ++groups_;
          return "(" + Alternation(depth + 1) + ")";
        }
        break;
      case 12: {  // lookaround and backreferences: the PCRE2 path (located by an RE2 relaxation)
        static const char* kLookaround[] = {"(?=", "(?!", "(?<=", "(?<!"};
        const char* open = kLookaround[Below(4)];
        if (open[2] == '<') return std::string(open) + (Below(2) ? "a" : "\\d") + ")";  // fixed length
        if (depth < 3) return std::string(open) + Alternation(depth + 1) + ")";
        break;
      }
      case 13:
        if (groups_ > 0) return "\\" + std::to_string(1 + Below(static_cast<size_t>(groups_)));
        break;
      case 1:
        if (depth < 3) return "(?:" + Alternation(depth + 1) + ")";
        break;
      case 2: {
        static const char* kAssertions[] = {"\\b", "\\B", "^", "$"};
        return kAssertions[Below(4)];
      }
      default:
        break;
    }
    return kAtoms[Below(sizeof(kAtoms) / sizeof(kAtoms[0]))];
  }

  std::mt19937_64 rng_;
  int groups_ = 0;  // capturing groups opened so far (backreferences name one of them)
};

TEST(TriggerSearch, SameMatchesAsFullScanForRandomPatterns) {
  int compared = 0;
  int triggered_patterns = 0;
  // LEAKSCOPE_FUZZ_SEEDS=N runs N seeds (the suite runs one; 80 passed when this was written).
  const char* seeds_env = std::getenv("LEAKSCOPE_FUZZ_SEEDS");
  const int seeds = seeds_env != nullptr ? std::max(1, std::atoi(seeds_env)) : 1;
  for (int seed = 0; seed < seeds; ++seed) {
    PatternGen gen(20261127 + static_cast<uint64_t>(seed));
    for (int i = 0; i < 300; ++i) {
      const std::string pattern = gen.Pattern();
      auto policy = LoadPolicy(OneRegexPolicy(pattern));
      if (!policy.ok()) continue;  // RE2 rejects some generated syntax (e.g. a repeated empty group)
      // PCRE2's JIT and interpreter disagree on a few generated patterns (see
      // CompileOptions::pcre2_jit): compare both paths on the interpreter.
      CompileOptions triggered_options;
      triggered_options.pcre2_jit = false;
      CompileOptions plain_options = triggered_options;
      plain_options.trigger_search = false;
      auto triggered = CompiledPolicy::Compile(*policy, triggered_options);
      auto plain = CompiledPolicy::Compile(*policy, plain_options);
      if (!triggered.ok() || !plain.ok()) continue;
      ++compared;
      triggered_patterns += (*triggered)->skips_text(0);
      for (int t = 0; t < 12; ++t) {
        const std::string text = gen.Text(1 + gen.Below(t % 4 == 0 ? 3000 : 300));
        std::vector<Span> got, want, indexed;
        bool limit = false;
        (*triggered)->finders()[0]->FindAll(text, 0, &got, &limit);
        (*plain)->finders()[0]->FindAll(text, 0, &want, &limit);
        TriggerIndex index;
        index.Reset(triggered->get(), text);
        (*triggered)->finders()[0]->FindAll(text, 0, &indexed, &limit, &index);
        if (limit) continue;  // PCRE2's backtracking limit cuts the two searches at different points
        if (got != want) {
          size_t k = 0;
          while (k < got.size() && k < want.size() && got[k] == want[k]) ++k;
          const Span& w = k < want.size() ? want[k] : got[k];
          const size_t from = w.begin > 20 ? static_cast<size_t>(w.begin) - 20 : 0;
          FAIL() << "pattern " << pattern << " text #" << t << ": first difference at match " << k << " near \""
                 << text.substr(from, 60) << "\" (offset " << from << "): got "
                 << (k < got.size() ? std::to_string(got[k].begin) + "-" + std::to_string(got[k].end) : "none")
                 << ", want "
                 << (k < want.size() ? std::to_string(want[k].begin) + "-" + std::to_string(want[k].end) : "none");
        }
        ASSERT_EQ(indexed, want) << "pattern " << pattern << " text #" << t << " (indexed)";
      }
    }
  }
  // The grammar must exercise the trigger search, not only patterns it gives up on.
  EXPECT_GE(compared, 200 * seeds);
  EXPECT_GE(triggered_patterns, compared / 4);
}


// The same random patterns over JSON bodies: scalars scanned in batches (joined, then taken as
// they are or rescanned alone) must report exactly what scanning each scalar alone reports.
std::string JsonString(const std::string& text) {
  std::string out;
  AppendJsonString(text, &out);  // the engine's own writer: valid JSON for any bytes it is given
  return out;
}


TEST(JoinedScan, RandomPatternsReportTheSameInBatchesAsAlone) {
  PatternGen gen(424242);
  int compared = 0;
  int bodies_compared = 0;
  for (int i = 0; i < 150; ++i) {
    const std::string pattern = gen.Pattern();
    auto policy = LoadPolicy(OneRegexPolicy(pattern));
    if (!policy.ok()) continue;
    CompileOptions options;
    options.pcre2_jit = false;  // see SameMatchesAsFullScanForRandomPatterns
    auto compiled = CompiledPolicy::Compile(*policy, options);
    if (!compiled.ok()) continue;
    ++compared;
    for (int b = 0; b < 4; ++b) {
      std::string body = "[";
      const size_t scalars = 1 + gen.Below(60);
      for (size_t k = 0; k < scalars; ++k) {
        if (k > 0) body += ",";
        body += gen.Below(3) == 0 ? "{" + JsonString(gen.Text(1 + gen.Below(8))) + ":" + JsonString(gen.Text(gen.Below(40))) + "}"
                                  : JsonString(gen.Text(gen.Below(b == 0 ? 5000 : 60)));
      }
      body += "]";
      std::string results[2];
      bool limited = false;  // PCRE2's backtracking limit: either scan may miss matches, and says so
      for (int batched = 0; batched < 2; ++batched) {
        TransactionOptions topts;
        topts.batch_values = batched == 1;
        Transaction tx(*compiled, "h", "/x", topts);
        tx.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
        std::string out;
        for (size_t pos = 0; pos < body.size(); pos += 700) {
          tx.OnBody(Direction::kResponse, std::string_view(body).substr(pos, 700), pos + 700 >= body.size(), &out);
        }
        results[batched] = testing::MatchSummary(tx.report(Direction::kResponse));
        for (const std::string& w : tx.report(Direction::kResponse).warnings) {
          limited = limited || w.find("backtracking limit") != std::string::npos;
        }
      }
      if (limited) continue;
      ++bodies_compared;
      ASSERT_EQ(results[1], results[0]) << "pattern " << pattern << " body #" << b;
    }
  }
  EXPECT_GE(compared, 100);
  EXPECT_GE(bodies_compared, 300);
}

}  // namespace
}  // namespace leakscope
