// ByteSetScanner: finds the next byte of a set in a text, the inner loop of trigger search.
//
// A byte-at-a-time table loop costs a cycle or more per byte and ran once per finder over every
// scanned byte (measured: the largest share of JSON scanning time). Sets that are one byte use
// memchr; sets of up to three ranges of ASCII bytes (digits, letters, punctuation groups — what
// policy triggers are) test eight bytes per step with word arithmetic (SWAR), which works the
// same on x86-64 and wasm32 without SIMD extensions; other sets fall back to the table.
#ifndef LEAKSCOPE_ENGINE_BYTE_SCAN_H_
#define LEAKSCOPE_ENGINE_BYTE_SCAN_H_

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace leakscope {

class ByteSetScanner {
 public:
  explicit ByteSetScanner(const std::bitset<256>& set) {
    for (int b = 0; b < 256; ++b) table_[b] = set.test(b);
    if (set.count() == 1) {
      for (int b = 0; b < 256; ++b) {
        if (set.test(b)) single_ = b;
      }
      return;
    }
    // Ranges of ASCII bytes, excluding NUL (the word test needs lo >= 1).
    if (set.test(0)) return;
    for (int b = 0x80; b < 256; ++b) {
      if (set.test(b)) return;
    }
    int b = 1;
    while (b < 0x80) {
      if (!set.test(b)) {
        ++b;
        continue;
      }
      int e = b;
      while (e + 1 < 0x80 && set.test(e + 1)) ++e;
      if (ranges_ == kMaxRanges) {
        ranges_ = 0;  // too many: table loop
        return;
      }
      lo_[ranges_] = b;
      hi_[ranges_] = e;
      ++ranges_;
      b = e + 1;
    }
  }

  bool contains(unsigned char b) const { return table_[b]; }

  // First position >= from whose byte is in the set, or n.
  size_t Find(const unsigned char* bytes, size_t n, size_t from) const {
    if (single_ >= 0) {
      if (from >= n) return n;
      const void* hit = std::memchr(bytes + from, single_, n - from);
      return hit == nullptr ? n : static_cast<size_t>(static_cast<const unsigned char*>(hit) - bytes);
    }
    size_t p = from;
    if (ranges_ > 0) {
      while (p + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, bytes + p, 8);
        uint64_t flags = 0;
        for (int r = 0; r < ranges_; ++r) flags |= Between(w, lo_[r] - 1, hi_[r] + 1);
        if (flags != 0) return p + FirstFlaggedByte(flags);
        p += 8;
      }
    }
    while (p < n && !table_[bytes[p]]) ++p;
    return p;
  }

 private:
  static constexpr int kMaxRanges = 3;
  static constexpr uint64_t kOnes = ~0ULL / 255;  // 0x0101...01

  // Sets bit 7 of each byte of w that is > m and < n (0 <= m <= 127, 0 <= n <= 128), exactly
  // per byte: no carry or borrow crosses a byte (the "hasbetween" word trick).
  static uint64_t Between(uint64_t w, uint64_t m, uint64_t n) {
    const uint64_t low7 = w & (kOnes * 127);
    return ((kOnes * (127 + n) - low7) & ~w & (low7 + kOnes * (127 - m))) & (kOnes * 128);
  }
  // Index of the first byte (in memory order) whose bit 7 is set.
  static size_t FirstFlaggedByte(uint64_t flags) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return static_cast<size_t>(__builtin_clzll(flags)) / 8;
#else
    return static_cast<size_t>(__builtin_ctzll(flags)) / 8;
#endif
  }

  bool table_[256];
  int single_ = -1;
  int ranges_ = 0;
  uint64_t lo_[kMaxRanges] = {};
  uint64_t hi_[kMaxRanges] = {};
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_BYTE_SCAN_H_
