// SegmentScanner: runs a set of finders over one logical text (a text body, one JSON string,
// one header value) that arrives in pieces.
//
// Determinism across chunkings comes from scanning in blocks whose boundaries sit at fixed
// offsets of the segment (multiples of CompileOptions::block_bytes), never at chunk boundaries.
// A block finalises every match that starts more than `max_match_bytes` before its end; the
// window after that is kept and rescanned with the next block. Each finder resumes where its
// last accepted match ended, which reproduces leftmost-first, non-overlapping iteration over the
// whole text for matches no longer than the window.
#ifndef LEAKSCOPE_ENGINE_SEGMENT_SCANNER_H_
#define LEAKSCOPE_ENGINE_SEGMENT_SCANNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/compiled_policy.h"

namespace leakscope {

class SegmentScanner {
 public:
  struct Hit {
    int finder;
    Span span;  // segment offsets
  };
  // Receives finalised hits of one block; `buffer` holds segment bytes from `buffer_base` on.
  using Callback = std::function<void(std::vector<Hit>& hits, std::string_view buffer, uint64_t buffer_base)>;

  explicit SegmentScanner(const CompiledPolicy* policy);

  // Starts a segment scanned by `finders` (indices into policy->finders(); must outlive it).
  void Begin(const std::vector<int>* finders);
  void Feed(std::string_view data, const Callback& cb);
  void End(const Callback& cb);

  // Segment offset before which no further match can start.
  uint64_t finalized() const { return finalized_; }
  // Segment offset of the first byte still buffered.
  uint64_t buffer_base() const { return base_; }
  bool limit_hit() const { return limit_hit_; }

 private:
  void Process(bool final, const Callback& cb);

  const CompiledPolicy* policy_;
  const std::vector<int>* finders_ = nullptr;
  size_t block_;
  size_t window_;
  std::string buf_;
  uint64_t base_ = 0;
  uint64_t total_ = 0;
  uint64_t next_boundary_ = 0;
  uint64_t finalized_ = 0;
  std::vector<uint64_t> next_;
  std::vector<Span> found_;
  std::vector<Hit> hits_;
  std::vector<bool> may_match_;
  bool limit_hit_ = false;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_SEGMENT_SCANNER_H_
