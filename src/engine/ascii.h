// ASCII helpers shared by the engine: policy names, header names and `raw_insensitive` rules
// compare ASCII case-insensitively (as LeakSignal does), never by locale; regex word bytes.
#ifndef LEAKSCOPE_ENGINE_ASCII_H_
#define LEAKSCOPE_ENGINE_ASCII_H_

#include <string>
#include <string_view>

namespace leakscope {

// A byte of `\w` as RE2 and PCRE2 (without UCP) define it, and so of `\b`: [0-9A-Za-z_].
inline bool IsAsciiWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string AsciiToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline bool AsciiEqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_ASCII_H_
