// ByteSetScanner: finds the next byte of a set in a text, the inner loop of trigger search.
//
// A byte-at-a-time table loop costs a cycle or more per byte and ran once per finder over every
// scanned byte (measured: the largest share of JSON scanning time). Sets that are one byte use
// memchr; with 16-byte vectors (simd16.h: SSE2 on every x86-64, SIMD128 in leakscope.wasm) sets
// of up to eight byte ranges test sixteen bytes per step; elsewhere (the baseline wasm32 module)
// sets of up to three ranges of ASCII bytes (digits, letters, punctuation groups — what policy
// triggers are) test eight bytes per step with word arithmetic (SWAR); other sets fall back to
// the table.
#ifndef LEAKSCOPE_ENGINE_BYTE_SCAN_H_
#define LEAKSCOPE_ENGINE_BYTE_SCAN_H_

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/simd16.h"

namespace leakscope {

#if LEAKSCOPE_SIMD16
// The first byte `c` in [p, p + n), or nullptr, 16 bytes per step (simd16.h). FindByte's wasm
// path; built natively too, on SSE2, so that the tests check it against memchr.
inline const unsigned char* FindByteVectors(const unsigned char* p, size_t n, unsigned char c) {
  const simd16::Vec needle = simd16::Splat(c);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const uint32_t hits = simd16::Mask(simd16::Equal(simd16::Load(p + i), needle));
    if (hits != 0) return p + i + static_cast<size_t>(__builtin_ctz(hits));
  }
  for (; i < n; ++i) {
    if (p[i] == c) return p + i;
  }
  return nullptr;
}
#endif

// The first byte `c` in [p, p + n), or nullptr: memchr, except in the SIMD128 wasm module, where
// wasi-libc's memchr goes a word at a time and the vector loop made 16 KiB transactions ~4 %
// faster in V8 (a literal's rare byte is searched in long joined texts). Natively glibc's memchr
// (AVX2) is faster than SSE2 would be.
inline const unsigned char* FindByte(const unsigned char* p, size_t n, unsigned char c) {
#if LEAKSCOPE_SIMD16 && defined(__wasm_simd128__)
  return FindByteVectors(p, n, c);
#else
  return static_cast<const unsigned char*>(std::memchr(p, c, n));
#endif
}

class ByteSetScanner {
 public:
  // `vectorized` false keeps to the portable word-at-a-time and table paths (tests compare them
  // with the vector ones; LEAKSCOPE_NO_SIMD builds without vectors altogether).
  explicit ByteSetScanner(const std::bitset<256>& set, bool vectorized = true) {
    for (int b = 0; b < 256; ++b) table_[b] = set.test(b);
#if LEAKSCOPE_SIMD16
    vectorized_ = vectorized;
#else
    (void)vectorized;
#endif
    if (set.count() == 1) {
      for (int b = 0; b < 256; ++b) {
        if (set.test(b)) single_ = b;
      }
#if LEAKSCOPE_SIMD16
      std::memset(simd_lo_[0], single_, 16);
#endif
      return;
    }
#if LEAKSCOPE_SIMD16
    int simd_lo[kMaxSimdRanges], simd_hi[kMaxSimdRanges];
    Ranges(set, 0, 256, kMaxSimdRanges, simd_lo, simd_hi, &simd_ranges_);  // none: SWAR or table
    for (int r = 0; r < simd_ranges_; ++r) {
      std::memset(simd_lo_[r], simd_lo[r], 16);
      std::memset(simd_span_[r], simd_hi[r] - simd_lo[r], 16);
    }
#endif
    // Ranges of ASCII bytes, excluding NUL (the word test needs lo >= 1).
    if (set.test(0)) return;
    for (int b = 0x80; b < 256; ++b) {
      if (set.test(b)) return;
    }
    Ranges(set, 1, 0x80, kMaxRanges, lo_, hi_, &ranges_);  // none: the table loop
  }

  bool contains(unsigned char b) const { return table_[b]; }

  // Sets bit i (of word i / 64) of `bits` for each position i < n whose byte is in the set;
  // `bits` holds (n + 63) / 64 words, which this overwrites.
  void Mark(const unsigned char* bytes, size_t n, uint64_t* bits) const {
    const size_t words = (n + 63) / 64;
    size_t p = 0;
#if LEAKSCOPE_SIMD16
    if (vectorized_ && (simd_ranges_ > 0 || single_ >= 0)) {
      // A whole word per 64 bytes: stored, not merged, so it needs no zeroing first.
      for (; p + 64 <= n; p += 64) {
        bits[p / 64] = uint64_t{Match16(bytes + p)} | (uint64_t{Match16(bytes + p + 16)} << 16) |
                       (uint64_t{Match16(bytes + p + 32)} << 32) | (uint64_t{Match16(bytes + p + 48)} << 48);
      }
    }
#endif
    for (size_t w = p / 64; w < words; ++w) bits[w] = 0;
#if LEAKSCOPE_SIMD16
    if (vectorized_ && (simd_ranges_ > 0 || single_ >= 0)) {
      for (; p + 16 <= n; p += 16) bits[p / 64] |= uint64_t{Match16(bytes + p)} << (p % 64);
    }
#endif
    if (kLittleEndian && (ranges_ > 0 || single_ >= 0)) {
      for (; p + 8 <= n; p += 8) {
        uint64_t v;
        std::memcpy(&v, bytes + p, 8);
        uint64_t flags = 0;
        if (single_ >= 0) {
          flags = Equal(v, static_cast<unsigned char>(single_));
        } else {
          flags = Between(v, lo_[0] - 1u, hi_[0] + 1u);  // one range (digits) is the common case
          for (int r = 1; r < ranges_; ++r) flags |= Between(v, lo_[r] - 1u, hi_[r] + 1u);
        }
        if (flags == 0) continue;
        // Gather bit 7 of each byte into one byte (byte i of memory order -> bit i).
        const uint64_t eight = (((flags >> 7) * 0x0102040810204080ULL) >> 56) & 0xff;
        bits[p / 64] |= eight << (p % 64);
      }
    }
    for (; p < n; ++p) {
      if (table_[bytes[p]]) bits[p / 64] |= uint64_t{1} << (p % 64);
    }
  }

  // First position >= from whose byte is in the set, or n.
  size_t Find(const unsigned char* bytes, size_t n, size_t from) const {
    if (single_ >= 0) {
      if (from >= n) return n;
      const unsigned char* hit = FindByte(bytes + from, n - from, static_cast<unsigned char>(single_));
      return hit == nullptr ? n : static_cast<size_t>(hit - bytes);
    }
    size_t p = from;
#if LEAKSCOPE_SIMD16
    if (vectorized_ && simd_ranges_ > 0) {
      while (p + 16 <= n) {
        const uint32_t flags = Match16(bytes + p);
        if (flags != 0) return p + static_cast<size_t>(__builtin_ctz(flags));
        p += 16;
      }
    }
#endif
    if (ranges_ > 0) {
      while (p + 8 <= n) {
        uint64_t w;
        std::memcpy(&w, bytes + p, 8);
        uint64_t flags = 0;
        for (int r = 0; r < ranges_; ++r) flags |= Between(w, lo_[r] - 1u, hi_[r] + 1u);
        if (flags != 0) return p + FirstFlaggedByte(flags);
        p += 8;
      }
    }
    while (p < n && !table_[bytes[p]]) ++p;
    return p;
  }

  // Sets bit 7 of each byte of w equal to b, exactly per byte.
  static uint64_t Equal(uint64_t w, unsigned char b) {
    const uint64_t x = w ^ (kOnes * b);  // matching bytes become 0
    // A byte is 0 iff neither its low 7 bits nor its high bit are set.
    const uint64_t low7_nonzero = ((x & (kOnes * 127)) + kOnes * 127) & (kOnes * 128);
    return ~(low7_nonzero | x) & (kOnes * 128);
  }
  // Index of the first byte (in memory order) whose bit 7 is set.
  static size_t FirstFlaggedByte(uint64_t flags) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return static_cast<size_t>(__builtin_clzll(flags)) / 8;
#else
    return static_cast<size_t>(__builtin_ctzll(flags)) / 8;
#endif
  }

 private:
  static constexpr int kMaxRanges = 3;
  // The maximal runs of `set` within [from, to), as [lo[i], hi[i]]; false (and *count 0) if
  // there are more than `max`.
  static bool Ranges(const std::bitset<256>& set, int from, int to, int max, int* lo, int* hi, int* count) {
    *count = 0;
    for (int b = from; b < to;) {
      if (!set.test(static_cast<size_t>(b))) {
        ++b;
        continue;
      }
      int e = b;
      while (e + 1 < to && set.test(static_cast<size_t>(e + 1))) ++e;
      if (*count == max) {
        *count = 0;
        return false;
      }
      lo[*count] = b;
      hi[*count] = e;
      ++*count;
      b = e + 1;
    }
    return true;
  }
#if LEAKSCOPE_SIMD16
  static constexpr int kMaxSimdRanges = 8;
  // Bit i set if bytes[i] (i < 16) is in the set. A byte is in [lo, lo + span] iff
  // (byte - lo) mod 256, saturating-minus span, is zero. The range bounds are kept as whole
  // vectors: broadcasting them for every 16 bytes cost more than the test itself (measured).
  uint32_t Match16(const unsigned char* bytes) const {
    namespace v16 = simd16;  // qualified: ByteSetScanner::Equal would hide simd16::Equal
    const v16::Vec v = v16::Load(bytes);
    if (single_ >= 0) return v16::Mask(v16::Equal(v, v16::LoadAligned(simd_lo_[0])));
    v16::Vec miss = v16::SubSaturated(v16::Sub(v, v16::LoadAligned(simd_lo_[0])), v16::LoadAligned(simd_span_[0]));
    for (int r = 1; r < simd_ranges_; ++r) {
      // Zero where in range r: the minimum over the ranges is zero where in any.
      miss = v16::Min(miss, v16::SubSaturated(v16::Sub(v, v16::LoadAligned(simd_lo_[r])), v16::LoadAligned(simd_span_[r])));
    }
    return v16::Mask(v16::Equal(miss, v16::Zero()));
  }
  bool vectorized_ = true;
  int simd_ranges_ = 0;
  // Per range, its first byte and its span (last - first), repeated in a whole vector; a
  // one-byte set's byte in simd_lo_[0].
  alignas(16) unsigned char simd_lo_[kMaxSimdRanges][16] = {};
  alignas(16) unsigned char simd_span_[kMaxSimdRanges][16] = {};
#endif
  // Word-at-a-time marking maps memory order to bit order as on little-endian machines (x86-64,
  // wasm32); elsewhere Mark uses the table loop.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  static constexpr bool kLittleEndian = false;
#else
  static constexpr bool kLittleEndian = true;
#endif
  static constexpr uint64_t kOnes = ~0ULL / 255;  // 0x0101...01

  // Sets bit 7 of each byte of w that is > m and < n (0 <= m <= 127, 0 <= n <= 128), exactly
  // per byte: no carry or borrow crosses a byte (the "hasbetween" word trick).
  static uint64_t Between(uint64_t w, uint64_t m, uint64_t n) {
    const uint64_t low7 = w & (kOnes * 127);
    return ((kOnes * (127 + n) - low7) & ~w & (low7 + kOnes * (127 - m))) & (kOnes * 128);
  }
  bool table_[256];
  int single_ = -1;
  int ranges_ = 0;
  int lo_[kMaxRanges] = {};
  int hi_[kMaxRanges] = {};
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_BYTE_SCAN_H_
