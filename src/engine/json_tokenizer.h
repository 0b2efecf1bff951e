// JsonTokenizer: an incremental JSON tokenizer that never buffers the body.
//
// Bodies arrive in chunks split at arbitrary bytes (inside strings, escapes or UTF-8 sequences),
// so the tokenizer is a byte-level state machine that streams decoded string contents to a sink
// and keeps only the current path (with bounded key lengths) and a bounded nesting stack.
// Several concatenated documents (NDJSON, `{}{}`) are accepted. Hand-written because the JSON
// libraries available (nlohmann, jsoncpp, RapidJSON's SAX needs whole strings) either buffer
// whole documents or whole strings, and a single 100 MiB string must not be held in memory.
#ifndef LEAKSCOPE_ENGINE_JSON_TOKENIZER_H_
#define LEAKSCOPE_ENGINE_JSON_TOKENIZER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/scalar_parser.h"

namespace leakscope {

class JsonTokenizer final : public ScalarParser {
 public:
  using Sink = ScalarSink;

  struct Limits {
    size_t max_depth = 512;        // deeper nesting is a parse error (the rest is not JSON-parsed)
    size_t max_key_bytes = 256;    // key text kept for paths; longer keys are truncated
  };

  JsonTokenizer(Sink* sink, Limits limits);
  explicit JsonTokenizer(Sink* sink) : JsonTokenizer(sink, Limits()) {}

  // Starts over on a new body, for `sink`, as a tokenizer constructed afresh would, keeping only
  // its buffers' capacity: a transaction's tokenizer comes from a pool (see PolicyCache), and
  // constructing one and growing its frames and paths cost several allocations per body.
  void Reset(Sink* sink, Limits limits);
  // The bytes its buffers keep allocated (for the pool's bound).
  size_t CapacityBytes() const;

  const char* name() const override { return "JSON"; }
  bool Feed(std::string_view chunk) override;
  // Returns false if the input ended inside a value (truncated JSON).
  bool Finish() override;

  bool failed() const override { return failed_; }
  const std::string& error() const override { return error_; }
  uint64_t error_offset() const override { return error_offset_; }
  // String contents stream to the sink as they are read: nothing is held back.
  uint64_t undelivered_from() const override { return UINT64_MAX; }
  uint64_t documents() const { return documents_; }

  // The path of the current scalar, e.g. `users[3].ssn`; for a key, the path of the object member
  // it names. No allocation once *out has the capacity.
  void AppendCurrentPath(ByteBuffer* out) const override;

 private:
  enum class State : uint8_t {
    kValue,          // expecting a value
    kKeyOrEnd,       // after `{`
    kKey,            // expecting a key (after `,` in an object)
    kColon,
    kCommaOrEnd,     // after a value inside a container
    kValueOrEnd,     // after `[`
    kString,
    kEscape,
    kUnicode,
    kNumber,
    kLiteral,
    kTopLevel,       // between documents
  };
  struct Frame {
    bool is_array = false;
    uint64_t index = 0;
    // The current key: a view into the chunk being fed when the key lay whole in it (most do),
    // copied into `key` only when the chunk ends (FeedChunk's caller); else built in `key`.
    // Copying every key as it came was 3 % of JSON scanning.
    std::string_view key_view;
    bool key_in_chunk = false;
    ByteBuffer key;
    bool key_truncated = false;
  };
  struct Unreserved {};
  JsonTokenizer(Sink* sink, Limits limits, Unreserved) : sink_(sink), limits_(limits) {}
  static std::string_view Key(const Frame& f) { return f.key_in_chunk ? f.key_view : f.key.view(); }
  static void ResetKey(Frame* f) {
    f->key_in_chunk = false;
    f->key.Truncate(0);
    f->key_truncated = false;
  }
  bool FeedChunk(std::string_view chunk);

  void Fail(const std::string& message, uint64_t offset);
  void ValueDone();
  void Push(bool is_array);
  bool BeginValue(char c, uint64_t offset);
  // At the quote or first digit at chunk[*i]: delivers the string or number in one OnScalar call
  // if it ends inside the chunk without escapes, and moves *i past it.
  bool WholeString(std::string_view chunk, size_t* i, bool is_key);
  bool WholeNumber(std::string_view chunk, size_t* i);
  bool WholeValue(std::string_view chunk, size_t* i);
  void TakeComma();
  size_t AfterComma(std::string_view chunk, size_t i);
  void CompactRun(std::string_view chunk, size_t* i);
  void CloseContainer(std::string_view chunk, size_t* i);
  bool WholeLiteral(std::string_view chunk, size_t* i);
  void FlushRun(std::string_view chunk, size_t run_start, size_t i);
  void EmitDecoded(std::string_view decoded, uint64_t raw_begin, uint64_t raw_end);
  void AppendKey(std::string_view decoded);
  static void AppendComponent(const Frame& f, std::string* out);

  Sink* sink_;
  Limits limits_;
  State state_ = State::kTopLevel;
  std::vector<Frame> stack_;  // frames [0, depth_) are live; the rest keep their capacity
  size_t depth_ = 0;
  uint64_t offset_ = 0;  // raw offset of the next byte
  bool in_key_ = false;
  bool failed_ = false;
  std::string error_;
  uint64_t error_offset_ = 0;
  uint64_t documents_ = 0;
  // escape decoding
  uint64_t escape_start_ = 0;
  uint32_t unicode_value_ = 0;
  int unicode_digits_ = 0;
  uint32_t pending_high_surrogate_ = 0;
  uint64_t pending_high_offset_ = 0;
  // literal (true/false/null) matching
  const char* literal_ = nullptr;
  size_t literal_pos_ = 0;
  // number state: last byte class, for validation of simple shape
  std::string pending_key_;  // key being collected for the frame
  // The path of the frames above each open frame, kept as frames open: prefix_lengths_[d] bytes
  // of prefix_ are the path of frames [0, d - 1) (a frame's key or index does not change while
  // a frame inside it is open), so a scalar's path costs one copy and its own component.
  std::string prefix_;
  std::vector<size_t> prefix_lengths_;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_JSON_TOKENIZER_H_
