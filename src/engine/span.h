// Span: a half-open byte range [begin, end) in some text.
#ifndef LEAKSCOPE_ENGINE_SPAN_H_
#define LEAKSCOPE_ENGINE_SPAN_H_

#include <cstddef>

namespace leakscope {

struct Span {
  size_t begin = 0;
  size_t end = 0;
  size_t size() const { return end - begin; }
  bool operator==(const Span& o) const { return begin == o.begin && end == o.end; }
  bool operator<(const Span& o) const {
    return begin != o.begin ? begin < o.begin : end < o.end;
  }
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_SPAN_H_
