#include "engine/byte_scan.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace leakscope {
namespace {

// Every kind of set the scanner treats differently (one byte, ASCII ranges, ranges reaching
// into high bytes, NUL, too many ranges, everything but one range) against texts of every
// length around the 8-, 16- and 64-byte steps: Mark and Find must agree with the set itself.
TEST(FindByte, AgreesWithMemchrAtEveryLengthAndPosition) {
  std::mt19937 rng(11);
  std::string text(300, '\0');
  for (char& c : text) c = static_cast<char>('a' + rng() % 8);
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t from = 0; from < 40; ++from) {
    for (size_t n = 0; from + n <= text.size(); n += 1 + n / 16) {
      for (unsigned c : {unsigned{'a'}, unsigned{'h'}, unsigned{'z'}, 0u, 0xffu}) {
        const void* want = std::memchr(bytes + from, static_cast<int>(c), n);
        EXPECT_EQ(FindByte(bytes + from, n, static_cast<unsigned char>(c)), want) << from << " " << n << " " << c;
#if LEAKSCOPE_SIMD16
        EXPECT_EQ(FindByteVectors(bytes + from, n, static_cast<unsigned char>(c)), want) << from << " " << n << " " << c;
#endif
      }
    }
  }
  // A needle in every position of a text that has it once, at each length around the vector size.
  for (size_t n = 1; n <= 70; ++n) {
    for (size_t at = 0; at < n; ++at) {
      std::string hay(n, 'x');
      hay[at] = '@';
      const auto* h = reinterpret_cast<const unsigned char*>(hay.data());
      EXPECT_EQ(FindByte(h, n, '@'), h + at) << n << " " << at;
#if LEAKSCOPE_SIMD16
      EXPECT_EQ(FindByteVectors(h, n, '@'), h + at) << n << " " << at;
#endif
    }
  }
}

TEST(ByteSetScanner, MarkAndFindAgreeWithTheSetForEveryKindOfSet) {
  std::mt19937_64 rng(42);
  std::vector<std::bitset<256>> sets;
  auto range = [](int lo, int hi) {
    std::bitset<256> s;
    for (int b = lo; b <= hi; ++b) s.set(static_cast<size_t>(b));
    return s;
  };
  sets.push_back(range('@', '@'));
  sets.push_back(range('0', '9'));
  sets.push_back(range('0', '9') | range('a', 'z') | range('A', 'Z'));
  sets.push_back(range('\t', '\r') | range(' ', ' ') | range('-', '.'));
  sets.push_back(~range('0', '9'));
  sets.push_back(range(0, 0) | range('x', 'x'));
  sets.push_back(range(0x80, 0xFF) | range('a', 'c'));
  std::bitset<256> many;
  for (int b = 1; b < 256; b += 9) many.set(static_cast<size_t>(b));
  sets.push_back(many);
  for (int k = 0; k < 20; ++k) {
    std::bitset<256> random;
    for (int b = 0; b < 256; ++b) {
      if (rng() % 5 == 0) random.set(static_cast<size_t>(b));
    }
    sets.push_back(random);
  }
  for (const std::bitset<256>& set : sets) {
    for (bool vectorized : {true, false}) {  // 16-byte vectors (where built) and the portable paths
      const ByteSetScanner scanner(set, vectorized);
      for (size_t n : {0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 127, 128, 200, 1000}) {
        std::vector<unsigned char> text(n);
        for (unsigned char& c : text) c = static_cast<unsigned char>(rng() % 3 == 0 ? rng() : '0' + rng() % 40);
        std::vector<uint64_t> bits((n + 63) / 64 + 1, ~uint64_t{0});
        scanner.Mark(text.data(), n, bits.data());
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ((bits[i / 64] >> (i % 64)) & 1, set.test(text[i]) ? 1u : 0u) << "n " << n << " at " << i;
        }
        for (size_t i = n; i < (n + 63) / 64 * 64; ++i) ASSERT_EQ((bits[i / 64] >> (i % 64)) & 1, 0u) << "past n";
        for (size_t from = 0; from <= n; from += 1 + n / 20) {
          size_t want = from;
          while (want < n && !set.test(text[want])) ++want;
          ASSERT_EQ(scanner.Find(text.data(), n, from), want) << "n " << n << " from " << from;
        }
      }
    }
  }
}

}  // namespace
}  // namespace leakscope
