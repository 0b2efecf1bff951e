// ScalarParser: what a structured body parser (JSON, gRPC) is to the transaction.
//
// A structured parser turns a body, fed in chunks split anywhere, into scalars — JSON keys,
// strings and numbers, protobuf string fields — each streamed to a ScalarSink with the raw body
// offsets its bytes came from, and knows the path of the scalar being delivered. The transaction
// scans scalars instead of the raw body so that matches carry paths and never span two fields.
#ifndef LEAKSCOPE_ENGINE_SCALAR_PARSER_H_
#define LEAKSCOPE_ENGINE_SCALAR_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/short_bytes.h"

namespace leakscope {

// Receives scalar contents. Offsets are raw byte offsets in the body.
class ScalarSink {
 public:
  virtual ~ScalarSink() = default;
  // A scalar (key, string value or number) begins; `raw_offset` is its first content byte.
  virtual void OnScalarBegin(bool is_key, bool is_number, uint64_t raw_offset) = 0;
  // Decoded bytes of the current scalar, which came from raw bytes [raw_begin, raw_end).
  // Verbatim runs have equal lengths; a decoded escape has a shorter decoded form.
  virtual void OnScalarData(std::string_view decoded, uint64_t raw_begin, uint64_t raw_end) = 0;
  // The scalar ended; `raw_end` is one past its last content byte.
  virtual void OnScalarEnd(uint64_t raw_end) = 0;
  // A whole scalar at once, whose bytes are the raw bytes from `raw_offset` on (no escapes):
  // what the three calls above would deliver. Parsers use it for scalars that lie whole in one
  // chunk (most do); sinks may override it to skip per-piece bookkeeping.
  virtual void OnScalar(bool is_key, bool is_number, uint64_t raw_offset, std::string_view text) {
    OnScalarBegin(is_key, is_number, raw_offset);
    if (!text.empty()) OnScalarData(text, raw_offset, raw_offset + text.size());
    OnScalarEnd(raw_offset + text.size());
  }
};

class ScalarParser {
 public:
  virtual ~ScalarParser() = default;

  // The format's name for reports ("JSON").
  virtual const char* name() const = 0;

  // Feeds the next chunk. Returns false once the input is not in the parser's format (see
  // error()); the sink sees nothing after that, and error_offset() is where parsing stopped.
  virtual bool Feed(std::string_view chunk) = 0;
  // Marks end of input. Returns false if the input ended inside a value (truncated); an open
  // scalar is ended first so its contents still reach the sink.
  virtual bool Finish() = 0;

  virtual bool failed() const = 0;
  virtual const std::string& error() const = 0;
  virtual uint64_t error_offset() const = 0;
  // Raw offset from which fed bytes may still become scalar content the sink has not seen yet
  // (a parser that holds a field back to classify it); UINT64_MAX when it holds nothing back.
  // A redacting host must not release bytes from here on.
  virtual uint64_t undelivered_from() const = 0;
  // What the parser passed over without delivering it (compressed gRPC messages, say), for the
  // report; empty when nothing was.
  virtual std::string Unread() const { return {}; }

  // Whether the scalar being delivered is the body's own bytes at the offsets given, which
  // redaction can rewrite. Not inside a compressed gRPC message: its scalars' offsets are then
  // the message's compressed bytes.
  virtual bool rewritable() const { return true; }

  // Appends the path of the scalar being delivered (e.g. `users[3].ssn`) to *out.
  virtual void AppendCurrentPath(ByteBuffer* out) const = 0;
  std::string CurrentPath() const {
    ByteBuffer out;
    AppendCurrentPath(&out);
    return std::string(out.view());
  }
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_SCALAR_PARSER_H_
