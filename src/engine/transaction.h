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
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/headers.h"
#include "engine/report.h"
#include "engine/token_extractor.h"

namespace leakscope {

struct TransactionOptions {
  uint64_t max_analyzed_bytes = 0;      // per direction; 0 = no limit. The rest passes unanalysed.
  size_t max_values_per_category = 1000;
  size_t json_max_depth = 512;
  // Hold body bytes back until their analysis is final (as for redact/block actions), for hosts
  // that enforce decisions on match counts (SBAC). Bounded by the block size plus the window.
  bool hold_bodies = false;
  // Cap on the decoded size of a compressed body (per coding, see ContentDecoder), and of a gRPC
  // body's compressed messages together. 0 = the analysis limit when one is set, else 64 MiB.
  // Past it decoding stops and the report says so: a gzip bomb costs bounded time and no memory
  // beyond fixed buffers.
  uint64_t max_decoded_bytes = 0;
  // Scan short JSON scalars together, per chunk (see Transaction::DirectionState::FlushBatch).
  // Off: each scalar is scanned on its own; reports are the same (tests compare both).
  bool batch_values = true;
};

class Transaction {
 public:
  // `authority` + `path` select the endpoint configuration (query strings are ignored); with an
  // `cache` (the host's PolicyCache), a repeated target is not resolved again, and known texts
  // and scan plans are shared with the host's other transactions.
  Transaction(std::shared_ptr<const CompiledPolicy> policy, std::string_view authority,
              std::string_view path, TransactionOptions options = {}, PolicyCache* cache = nullptr);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Headers of one direction (names any case). Must come before that direction's body; the
  // `content-type` header selects the parser, `content-encoding` the decoding (gzip, deflate,
  // br and lists of them; other codings leave the body unanalysed, with a report warning).
  void OnHeaders(Direction d, const HeaderList& headers);

  // The next body chunk. Appends to `out` the bytes that may be forwarded now; when the policy
  // redacts on this endpoint, up to a bounded window is held back until it is safe to release.
  // With `end_of_stream` everything left is released.
  //
  // `out` may be nullptr while may_hold_body(d) is false, which the direction's OnHeaders
  // settles: the caller then forwards each chunk as it came (a proxy leaves the chunk in place),
  // and no copy of the body is made. (Given nullptr while it would hold the body, the direction
  // stops holding it, and its report warns that redactions were not applied.)
  //
  // A compressed body is analysed decoded (match offsets are then offsets in the decoded body)
  // but forwarded as received: it cannot be rewritten, so redaction is skipped with a report
  // warning and the decision does not become `redact`. `block` still holds back: whole received
  // chunks are released only once everything they decode to is known to precede any blocked
  // match, so the stream stops at the chunk carrying the match; compressed bytes before that
  // point may have left.
  void OnBody(Direction d, std::string_view chunk, bool end_of_stream, std::string* out);

  const DirectionReport& report(Direction d) const;

  // The caller's token per the endpoint's `token_extractor`, once the headers it reads from
  // arrived (request headers or cookie, or response headers); nullopt if none was found.
  const std::optional<ExtractedToken>& token() const { return token_; }
  const ResolvedEndpoint& endpoint() const { return *endpoint_; }
  const CompiledPolicy& policy() const { return *policy_; }
  // authority + path without the query string: what endpoint globs are matched against.
  const std::string& target() const { return target_; }
  // True when body bytes of `d` may be held back (a redact action is active, or a block action
  // on a compressed body).
  bool may_hold_body(Direction d) const;

 private:
  class DirectionState;
  struct Directions;  // both DirectionStates, in one allocation
  std::shared_ptr<const CompiledPolicy> policy_;
  TransactionOptions options_;
  std::shared_ptr<const ResolvedEndpoint> endpoint_;
  std::optional<ExtractedToken> token_;
  std::string target_;
  std::unique_ptr<Directions> directions_;
  DirectionState& state(Direction d);
  const DirectionState& state(Direction d) const;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_TRANSACTION_H_
