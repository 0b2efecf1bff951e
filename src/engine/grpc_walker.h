// GrpcWalker: an incremental, schema-less reader of gRPC bodies that streams the string fields of
// every protobuf message to a ScalarSink, each with its path of field numbers (`1.4.2`).
//
// A gRPC body is a sequence of messages, each behind a 5-byte prefix (flags, big-endian length);
// gRPC-Web adds trailer frames (flag 0x80), delivered as one scalar with the path `trailers`.
// Without the .proto a length-delimited field may be a string, bytes or a nested message; the
// walker decides per field:
//   1. bytes that are printable UTF-8 text are a string, even when they also parse as a message:
//      much text does ("123-45-6789" reads as a fixed64 and a varint field), and walking it as
//      one would hide the tag and length bytes from the matchers. The price is a message whose
//      tags and lengths all happen to be printable (one 32–126-byte string in field 1): it is
//      scanned whole, under the enclosing field's path;
//   2. otherwise bytes that parse completely as a message are one, walked field by field;
//   3. otherwise they are bytes, delivered as a scalar too: text inside a blob still leaks.
// Fields up to Limits::max_buffered_field bytes are held and classified whole; a longer field is
// classified from its first Limits::probe_bytes and then streamed (as a scalar, or as a message
// whose own fields are walked the same way), so memory is bounded whatever the message size.
// Compressed messages (flag 0x01) are decoded with the stream's `grpc-encoding` (gzip, deflate)
// as they stream, by a ContentDecoder (bounded output), and walked the same way; their scalars'
// raw offsets are the message's compressed bytes (they cannot be rewritten: rewritable()).
// Without an encoding, or with one there is no decoder for (snappy, zstd), they are skipped and
// counted; so is the rest of a message whose compressed data is corrupt, and what decodes past
// Limits::max_decoded_bytes. Unread() says which and why.
//
// Hand-written: protobuf's own parsers need the schema (or build a whole UnknownFieldSet in
// memory) and do not take input in arbitrary chunks; the wasm build has no protobuf library.
#ifndef LEAKSCOPE_ENGINE_GRPC_WALKER_H_
#define LEAKSCOPE_ENGINE_GRPC_WALKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/content_decoder.h"
#include "engine/scalar_parser.h"

namespace leakscope {

class GrpcWalker final : public ScalarParser {
 public:
  struct Limits {
    size_t max_depth = 32;                   // deeper messages are delivered as bytes
    size_t max_buffered_field = 16 * 1024;   // fields up to this size are classified whole
    size_t probe_bytes = 1024;               // a longer field is classified by its first bytes
    // Decoded bytes of all compressed messages together; past it they go unanalysed (a gzip bomb
    // expands 1000:1).
    uint64_t max_decoded_bytes = uint64_t{64} << 20;
  };

  GrpcWalker(ScalarSink* sink, Limits limits);
  explicit GrpcWalker(ScalarSink* sink) : GrpcWalker(sink, Limits()) {}
  ~GrpcWalker() override;

  // The stream's `grpc-encoding` header, with which compressed messages are decoded.
  void SetMessageEncoding(std::string_view encoding) { message_encoding_ = encoding; }

  const char* name() const override { return "gRPC"; }
  bool Feed(std::string_view chunk) override;
  // Returns false if the body ended inside a frame; a field held back is delivered first.
  bool Finish() override;

  bool failed() const override { return failed_; }
  const std::string& error() const override { return error_; }
  uint64_t error_offset() const override { return error_offset_; }
  uint64_t undelivered_from() const override;
  void AppendCurrentPath(ByteBuffer* out) const override;
  bool rewritable() const override { return inner_ == nullptr; }
  // Compressed messages not (or not wholly) analysed: how many, how many bytes, and why.
  std::string Unread() const override;

  uint64_t messages() const { return messages_; }
  // Compressed messages skipped (no decoder for them).
  uint64_t compressed_messages() const { return compressed_messages_; }
  // Compressed messages decoded and walked.
  uint64_t decoded_messages() const { return decoded_messages_; }

 private:
  enum class State : uint8_t {
    kFrameHeader,  // the 5-byte message prefix
    kTag,          // a field's tag varint
    kVarint,       // a varint field's value (skipped)
    kSkip,         // fixed-size field bytes, or a compressed message (skipped)
    kLength,       // a length-delimited field's length varint
    kHold,         // collecting a field of up to max_buffered_field bytes
    kProbe,        // collecting the first probe_bytes of a longer field
    kStream,       // streaming a long string/bytes field, or a trailer frame, to the sink
    kInflate,      // decoding a compressed message into inner_
  };
  class CompressedScalarSink;
  // The walker of one decoded message: no frame prefix, the message ends with its input.
  struct BareMessage {};
  GrpcWalker(ScalarSink* sink, Limits limits, BareMessage);
  struct OpenMessage {
    uint64_t end;    // raw offset one past its last byte
    uint32_t field;  // its field number in the enclosing message (0 for a gRPC message)
  };

  void Run(std::string_view chunk);
  void Fail(const std::string& message);
  // After a frame header or a field: closes messages that ended here and expects what follows.
  void NextField();
  void FieldStart(uint64_t tag);
  void LengthKnown(uint64_t length);
  void HeldFieldComplete();
  void ProbeComplete();
  // Classifies held bytes (see the file comment) and delivers their strings.
  void Classify(std::string_view bytes, uint64_t raw, size_t depth);
  void Deliver(std::string_view bytes, uint64_t raw);
  // Delivers a held-back field as bytes (the body ended or stopped being gRPC inside it).
  void DeliverHeld();
  uint64_t MessageEnd() const { return open_.empty() ? UINT64_MAX : open_.back().end; }
  // A compressed message of `length` bytes begins at offset_: true when it will be decoded.
  bool StartCompressed(uint64_t length);
  void Inflate(std::string_view compressed);
  void EndCompressed();
  // The decoder of the current compressed message failed or stopped: the rest is skipped.
  void NoteUndecoded(const std::string& why);

  ScalarSink* sink_;
  Limits limits_;
  State state_ = State::kFrameHeader;
  uint64_t offset_ = 0;  // raw offset of the next byte
  bool failed_ = false;
  std::string error_;
  uint64_t error_offset_ = 0;

  unsigned char header_[5] = {};
  size_t header_bytes_ = 0;
  uint64_t varint_ = 0;  // varint being read
  int varint_shift_ = 0;
  uint32_t field_ = 0;         // the field being read
  uint64_t remaining_ = 0;     // bytes left in the current field (or skipped run)
  bool in_trailers_ = false;   // kStream is delivering a gRPC-Web trailer frame
  std::string held_;           // kHold / kProbe bytes
  uint64_t held_raw_ = 0;      // raw offset of held_[0]
  std::vector<OpenMessage> open_;  // messages being streamed, outermost first
  std::vector<uint32_t> path_;     // field numbers of the scalar being delivered

  uint64_t messages_ = 0;
  uint64_t compressed_messages_ = 0;
  uint64_t compressed_bytes_ = 0;

  // Compressed messages
  bool bare_ = false;  // this walks one decoded message (see BareMessage)
  std::string message_encoding_;
  std::unique_ptr<ContentDecoder> inflater_;          // the current compressed message's
  std::unique_ptr<GrpcWalker> inner_;                 // walks what inflater_ decodes
  std::unique_ptr<CompressedScalarSink> inner_sink_;  // gives inner_'s scalars the message's offsets
  ContentDecoder::Sink to_inner_;                     // built once
  bool inflating_ = true;       // false once the current message's decoding failed or stopped
  uint64_t message_begin_ = 0;  // raw offset of the current compressed message's first byte
  uint64_t decoded_messages_ = 0;
  uint64_t decoded_bytes_ = 0;       // by the messages before the current one
  uint64_t undecoded_messages_ = 0;  // decoding failed or hit max_decoded_bytes part way
  std::string undecoded_why_;        // the first such failure
  std::string skipped_why_;          // why the first compressed message skipped was
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_GRPC_WALKER_H_
