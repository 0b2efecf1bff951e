// Loads and equality for short byte strings (keys, enum values, policy literals): fixed-size
// loads that overlap instead of memcpy and memcmp library calls, which for texts of a few bytes
// cost as much as the work around them (measured in clean-text lookups and literal search).
#ifndef LEAKSCOPE_ENGINE_SHORT_BYTES_H_
#define LEAKSCOPE_ENGINE_SHORT_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace leakscope {

// 8 and 4 bytes from any address, in memory order (fixed-size memcpy compiles to one load).
inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline uint32_t Load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// Whether the n bytes at a and at b are equal; up to 16 bytes by two overlapping loads each.
inline bool EqualBytes(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return ((Load64(a) ^ Load64(b)) | (Load64(a + n - 8) ^ Load64(b + n - 8))) == 0;
  if (n >= 4) return ((Load32(a) ^ Load32(b)) | (Load32(a + n - 4) ^ Load32(b + n - 4))) == 0;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_SHORT_BYTES_H_
