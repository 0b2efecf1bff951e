// UTF-8 facts the engine needs in several places: how long a well-formed character is, where
// report values must escape invalid bytes, where PCRE2 must not start, what counts as text in
// a protobuf field. One definition, so the three agree on what is well formed.
#ifndef LEAKSCOPE_ENGINE_UTF8_H_
#define LEAKSCOPE_ENGINE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace leakscope {

// Bytes of the character a byte leads: 1 for ASCII, 2 to 4 for a multi-byte lead byte, 0 for a
// continuation byte or a byte that leads nothing in well-formed UTF-8 (0xC0, 0xC1, 0xF5-0xFF).
inline size_t Utf8LeadLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

// Bytes of the well-formed character starting at s[i], or 0 if none starts there: no lead byte,
// a missing or wrong continuation byte (also one cut off by the end of s), an overlong form, a
// surrogate, or a code point past U+10FFFF.
inline size_t Utf8CharLength(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = Utf8LeadLength(c);
  if (len <= 1 || s.size() - i < len) return len == 1 ? 1 : 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 0;  // overlong, surrogate
  if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return 0;  // overlong, > U+10FFFF
  return len;
}

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_UTF8_H_
