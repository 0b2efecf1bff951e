// Span: a half-open byte range [begin, end) in some text. 64-bit even on wasm32, where size_t is
// 32-bit: stream offsets can pass 4 GiB.
#ifndef LEAKSCOPE_ENGINE_SPAN_H_
#define LEAKSCOPE_ENGINE_SPAN_H_

#include <cstdint>

namespace leakscope {

struct Span {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
  bool operator==(const Span& o) const { return begin == o.begin && end == o.end; }
  bool operator<(const Span& o) const {
    return begin != o.begin ? begin < o.begin : end < o.end;
  }
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_SPAN_H_
