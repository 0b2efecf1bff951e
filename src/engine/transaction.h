// Transaction: push-based analysis of one HTTP transaction (request and response).
//
// A host feeds headers and body chunks as they arrive; the transaction scans them against the
// compiled policy, builds a DirectionReport per direction, and returns the body bytes that may
// leave (redacted when the policy says so). Results do not depend on how a body is split into
// chunks: long texts are scanned in blocks at fixed absolute offsets with an overlap window, so
// memory per direction is bounded by the block size plus the window, whatever the body size.
#ifndef LEAKSCOPE_ENGINE_TRANSACTION_H_
#define LEAKSCOPE_ENGINE_TRANSACTION_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/report.h"

namespace leakscope {

struct TransactionOptions {
  uint64_t max_analyzed_bytes = 0;      // per direction; 0 = no limit. The rest passes unanalysed.
  size_t max_values_per_category = 1000;
  size_t json_max_depth = 512;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class Transaction {
 public:
  // `authority` + `path` select the endpoint configuration (query strings are ignored).
  Transaction(std::shared_ptr<const CompiledPolicy> policy, std::string_view authority,
              std::string_view path, TransactionOptions options = {});
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Headers of one direction (names any case). Must come before that direction's body; the
  // `content-type` header selects the parser.
  void OnHeaders(Direction d, const HeaderList& headers);

  // The next body chunk. Appends to `out` the bytes that may be forwarded now; when the policy
  // redacts on this endpoint, up to a bounded window is held back until it is safe to release.
  // With `end_of_stream` everything left is released.
  void OnBody(Direction d, std::string_view chunk, bool end_of_stream, std::string* out);

  const DirectionReport& report(Direction d) const;
  // True when body bytes of `d` may be held back (a redact action is active).
  bool may_hold_body(Direction d) const;

 private:
  class DirectionState;
  std::shared_ptr<const CompiledPolicy> policy_;
  TransactionOptions options_;
  ResolvedEndpoint endpoint_;
  std::unique_ptr<DirectionState> request_;
  std::unique_ptr<DirectionState> response_;
  DirectionState& state(Direction d);
  const DirectionState& state(Direction d) const;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_TRANSACTION_H_
