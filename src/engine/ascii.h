// ASCII helpers shared by the engine: policy names, header names and `raw_insensitive` rules
// compare ASCII case-insensitively (as LeakSignal does), never by locale.
#ifndef LEAKSCOPE_ENGINE_ASCII_H_
#define LEAKSCOPE_ENGINE_ASCII_H_

#include <string>
#include <string_view>

namespace leakscope {

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
