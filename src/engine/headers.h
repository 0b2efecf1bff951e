// HeaderList: the header fields of a request or response, as a host hands them to the engine.
//
// Views, not copies: a proxy filter reads a header map as one serialised buffer from its host
// and keeps that buffer for the stream's life, so names and values point into it (copying each
// into a string, with the request line copied twice more, was a sixth of a bodiless request's
// instructions in the filter, mostly allocation).
// Whoever builds a list keeps the bytes alive while the list is used. Names as sent; the engine
// compares them ignoring ASCII case.
#ifndef LEAKSCOPE_ENGINE_HEADERS_H_
#define LEAKSCOPE_ENGINE_HEADERS_H_

#include <string_view>
#include <utility>
#include <vector>

namespace leakscope {

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_HEADERS_H_
