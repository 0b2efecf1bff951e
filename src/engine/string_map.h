// StringMap: an unordered_map keyed by std::string that is looked up with std::string_view
// (C++20 heterogeneous lookup), so a lookup with a view into a body, a header or a path makes no
// key string: the allocation it saved was a measurable part of a small transaction.
#ifndef LEAKSCOPE_ENGINE_STRING_MAP_H_
#define LEAKSCOPE_ENGINE_STRING_MAP_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace leakscope {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>()(s); }
};

template <typename Value>
using StringMap = std::unordered_map<std::string, Value, StringViewHash, std::equal_to<>>;

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_STRING_MAP_H_
