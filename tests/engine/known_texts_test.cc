#include "engine/known_texts.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace leakscope {
namespace {

// A text is remembered the second time it is inserted (the first only marks its hash as seen).
void Remember(KnownTexts* clean, const std::string& text) {
  clean->Insert(text);
  clean->Insert(text);
}

TEST(KnownTexts, RemembersTextsSeenTwiceAndComparesThemWhole) {
  KnownTexts clean;
  clean.Insert("once");
  EXPECT_FALSE(clean.Contains("once"));
  clean.Insert("once");
  EXPECT_TRUE(clean.Contains("once"));
  // Every length the comparison handles differently (bytes, 4-byte and 8-byte overlapping loads,
  // memcmp past 16), each text differing from a remembered one in any single byte, or in length,
  // is not taken for it.
  for (size_t n = 0; n <= 40; ++n) {
    KnownTexts table;
    std::string text;
    for (size_t i = 0; i < n; ++i) text.push_back(static_cast<char>('a' + (i * 7) % 26));
    Remember(&table, text);
    ASSERT_TRUE(table.Contains(text)) << n;
    for (size_t i = 0; i < n; ++i) {
      std::string other = text;
      other[i] = static_cast<char>(other[i] ^ 0x01);
      EXPECT_FALSE(table.Contains(other)) << n << " byte " << i;
    }
    EXPECT_FALSE(table.Contains(text + "x")) << n;
    if (n > 0) {
      EXPECT_FALSE(table.Contains(std::string_view(text).substr(0, n - 1))) << n;
    }
  }
}

TEST(KnownTexts, KeepsATextsMatchesWithIt) {
  KnownTexts known;
  KnownTexts::Hits hits;
  hits.count = 2;
  hits.hit[0] = KnownTexts::Hit{7, 0, 4};
  hits.hit[1] = KnownTexts::Hit{300, 5, 16};
  known.Insert("plan 123-45-6789", hits);
  EXPECT_EQ(known.Find("plan 123-45-6789"), nullptr);  // first sighting
  known.Insert("plan 123-45-6789", hits);
  const KnownTexts::Hits* found = known.Find("plan 123-45-6789");
  ASSERT_NE(found, nullptr);
  ASSERT_EQ(found->count, 2);
  EXPECT_EQ(found->hit[0].finder, 7);
  EXPECT_EQ(found->hit[1].finder, 300);
  EXPECT_EQ(found->hit[1].begin, 5);
  EXPECT_EQ(found->hit[1].end, 16);
  // A clean text is known with no matches.
  Remember(&known, "basic");
  ASSERT_NE(known.Find("basic"), nullptr);
  EXPECT_EQ(known.Find("basic")->count, 0);
  EXPECT_EQ(known.Find("plan"), nullptr);
}

TEST(KnownTexts, LongTextsAreNotKeptAndAFullTableStartsOver) {
  KnownTexts clean;
  const std::string long_text(KnownTexts::kMaxBytes + 1, 'z');
  Remember(&clean, long_text);
  EXPECT_FALSE(clean.Contains(long_text));
  // Many distinct texts: the table never holds more than its capacity, and what it holds is
  // still found.
  for (int i = 0; i < 2000; ++i) Remember(&clean, "value-" + std::to_string(i));
  EXPECT_TRUE(clean.Contains("value-1999"));
  int kept = 0;
  for (int i = 0; i < 2000; ++i) kept += clean.Contains("value-" + std::to_string(i));
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, static_cast<int>(KnownTexts::kCapacity));
  clean.Clear();
  EXPECT_FALSE(clean.Contains("value-1999"));
}

TEST(KnownTexts, UniqueValuesDoNotPushOutRepeatedOnes) {
  // API records: the same 30 keys in every record, among 25 values seen once each (ids, emails,
  // timestamps), as a transaction consults and fills the table (insert after a miss). Unique
  // values must not get into the table by chance so often that it fills up and starts over:
  // then every key misses again. (With one bit per text in a filter let run to half full, 3 %
  // of these key lookups missed.)
  KnownTexts clean;
  std::vector<std::string> keys;
  for (int k = 0; k < 30; ++k) keys.push_back("key_" + std::to_string(k));
  int key_misses = 0;
  int lookups = 0;
  for (int record = 0; record < 4000; ++record) {
    for (int v = 0; v < 25; ++v) {
      const std::string unique = "value-" + std::to_string(record) + "-" + std::to_string(v);
      if (!clean.Contains(unique)) clean.Insert(unique);
    }
    for (const std::string& key : keys) {
      ++lookups;
      if (clean.Contains(key)) continue;
      if (record >= 2) ++key_misses;  // the first two records teach the keys
      clean.Insert(key);
    }
  }
  EXPECT_LT(key_misses, lookups / 1000) << key_misses << " of " << lookups << " key lookups missed";
}

}  // namespace
}  // namespace leakscope
