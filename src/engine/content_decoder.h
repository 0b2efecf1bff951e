// ContentDecoder: streaming decoding of an HTTP body's Content-Encoding (gzip, deflate, br and
// stacks of them), so that the scanner sees the bytes the application will see.
//
// Built from the header value (`gzip`, `br`, `gzip, br`, ...). Codings are listed in the order
// they were applied, so they are undone in reverse: for `gzip, br` the body is brotli-decoded and
// the result gunzipped. `identity` and empty list elements are no coding.
//
// Bounded by construction:
// - Decoded bytes are handed to a sink in pieces of at most kPieceBytes, straight out of one
//   fixed buffer per coding: the decoder never holds a whole body, compressed or not.
// - Every coding's output is capped at `max_decoded_bytes`. Past it, decoding stops with
//   kResourceExhausted (a gzip bomb expands 1000:1; stacked codings multiply). The cap applies to
//   intermediate layers too, so a layer that expands to nothing downstream (e.g. empty deflate
//   blocks) cannot make the decoder spin on an unbounded intermediate stream either.
// - zlib keeps a 32 KiB window per stream. Brotli's window can be up to 16 MiB (the format's
//   limit; "large window" brotli is not enabled), allocated by the brotli library when the
//   stream asks for it: that is the per-stream memory cost of accepting `br`.
// Corrupt or truncated data is an error naming the coding and the byte offset in that coding's
// input; nothing loops and nothing decoded before the error is lost.
#ifndef LEAKSCOPE_ENGINE_CONTENT_DECODER_H_
#define LEAKSCOPE_ENGINE_CONTENT_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace leakscope {

struct ContentDecoderOptions {
  // Cap on the decoded size, per coding layer. 0 = no cap (only for trusted input).
  uint64_t max_decoded_bytes = uint64_t{64} << 20;
};

class ContentDecoder {
 public:
  // Largest piece handed to a sink (also the size of each layer's output buffer).
  static constexpr size_t kPieceBytes = 64 * 1024;
  // More codings than this are refused: each one costs a buffer and a decompressor state, and no
  // real server stacks more than two.
  static constexpr size_t kMaxCodings = 4;

  // Receives decoded bytes in order. Returning false stops decoding for good (e.g. the caller's
  // own analysis limit was reached); the decoder then drops all further input.
  using Sink = std::function<bool(std::string_view piece)>;

  // Never fails: a decoder for an unknown coding (`zstd`, `compress`, ...) or for too many
  // codings has a non-OK status() (kUnimplemented) and decodes nothing, so the caller can say
  // why a body went unanalysed.
  static std::unique_ptr<ContentDecoder> Create(std::string_view content_encoding,
                                                ContentDecoderOptions options = {});
  ~ContentDecoder();
  ContentDecoder(const ContentDecoder&) = delete;
  ContentDecoder& operator=(const ContentDecoder&) = delete;

  // The next chunk of encoded body. Decoded bytes go to `sink` as they come. Returns the
  // decoder's status: kInvalidArgument for corrupt data ("gzip: invalid data at byte N ..."),
  // kResourceExhausted when max_decoded_bytes was exceeded (the sink got exactly that many
  // bytes), kUnimplemented for an unsupported coding. Errors are sticky: later calls do nothing
  // and return the same status.
  Status Decode(std::string_view chunk, const Sink& sink);
  // End of the body: flushes what is left and checks every stream ended properly (a cut-off
  // stream is kInvalidArgument "... unexpected end of data"). An empty body is always fine: HEAD
  // and 304 responses carry a Content-Encoding without a body.
  Status Finish(const Sink& sink);

  // Conveniences that append every decoded byte to `out`: memory is then up to
  // max_decoded_bytes. Streaming callers use the Sink forms.
  Status Decode(std::string_view chunk, std::string* out);
  Status Finish(std::string* out);

  // True when the header named no coding: the body is the bytes on the wire.
  bool identity() const { return codings_.empty(); }
  // The codings as applied, lowercased, `identity` dropped, joined by ", " ("gzip, br"); empty
  // for identity. Unsupported names are kept: the report shows what the header said.
  const std::string& encoding() const { return encoding_; }
  const Status& status() const { return status_; }
  // The sink asked to stop.
  bool stopped() const { return stopped_; }
  // Bytes handed to sinks so far.
  uint64_t decoded_bytes() const { return decoded_bytes_; }

  class Layer;  // one coding (defined in the .cc)

 private:
  ContentDecoder() = default;
  // Hands a piece produced by layer `from` on to the next layer, or to the sink after the last
  // one. Returns false when decoding must stop.
  bool Deliver(size_t from, std::string_view piece);
  void Fail(Status status);

  friend class Layer;
  std::vector<std::string> codings_;        // as applied (header order)
  std::vector<std::unique_ptr<Layer>> layers_;  // in decoding order (reverse of codings_)
  std::string encoding_;
  ContentDecoderOptions options_;
  Status status_;
  bool stopped_ = false;
  bool finished_ = false;
  uint64_t decoded_bytes_ = 0;
  const Sink* sink_ = nullptr;              // during Decode/Finish only
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_CONTENT_DECODER_H_
