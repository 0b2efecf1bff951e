#include "engine/short_bytes.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace leakscope {
namespace {

TEST(ShortBytes, CopyBytesCopiesEveryLengthExactly) {
  // Each length on both sides of the 4, 8 and 16-byte paths, into a buffer whose bytes around
  // the copy must stay untouched.
  const std::string source = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
  for (size_t n = 0; n <= 40; ++n) {
    std::string target(64, '#');
    CopyBytes(target.data() + 3, source.data() + 1, n);
    EXPECT_EQ(target.substr(0, 3), "###") << n;
    EXPECT_EQ(target.substr(3, n), source.substr(1, n)) << n;
    EXPECT_EQ(target.substr(3 + n), std::string(61 - n, '#')) << n;
  }
}

TEST(ShortBytes, ByteBufferBehavesAsAStringUnderAppendsPushesAndErasures) {
  std::mt19937_64 rng(7);
  ByteBuffer buffer;
  std::string model;
  EXPECT_TRUE(buffer.empty());
  for (int step = 0; step < 5000; ++step) {
    switch (rng() % 6) {
      case 0:
      case 1:
      case 2: {  // pieces of 0 to 40 bytes (growth happens along the way)
        std::string piece;
        const size_t n = rng() % 41;
        for (size_t i = 0; i < n; ++i) piece.push_back(static_cast<char>('a' + rng() % 26));
        buffer.Append(piece);
        model += piece;
        break;
      }
      case 3:
        buffer.Push('\n');
        model.push_back('\n');
        break;
      case 4: {
        const size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
        buffer.EraseFront(n);
        model.erase(0, n);
        break;
      }
      default: {
        const size_t n = model.empty() ? 0 : model.size() - rng() % (model.size() / 8 + 1);
        buffer.Truncate(n);
        model.resize(n);
        break;
      }
    }
    ASSERT_EQ(buffer.size(), model.size()) << "step " << step;
    ASSERT_EQ(buffer.view(), model) << "step " << step;
  }
}

TEST(ShortBytes, AMovedFromByteBufferIsEmptyAndUsable) {
  ByteBuffer a;
  a.Append("some bytes that need the heap");
  ByteBuffer b = std::move(a);
  EXPECT_EQ(b.view(), "some bytes that need the heap");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the state a move leaves is the point
  EXPECT_EQ(a.capacity(), 0u);
  a.Append("again");
  EXPECT_EQ(a.view(), "again");
  ByteBuffer c;
  c.Append("x");
  c = std::move(b);
  EXPECT_EQ(c.view(), "some bytes that need the heap");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  b.Push('y');
  EXPECT_EQ(b.view(), "y");
}

}  // namespace
}  // namespace leakscope
