#include "engine/grpc_walker.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "engine/utf8.h"

namespace leakscope {

namespace {

constexpr uint64_t kMaxFieldNumber = (uint64_t{1} << 29) - 1;

enum WireType { kVarintType = 0, kFixed64Type = 1, kLengthDelimitedType = 2, kFixed32Type = 5 };

// Reads a varint at *pos. False when it is cut off by the end of `b` (*pos == b.size()) or
// longer than the format's 10 bytes.
bool ReadVarint(std::string_view b, size_t* pos, uint64_t* value) {
  uint64_t v = 0;
  for (int shift = 0; shift < 70 && *pos < b.size(); shift += 7) {
    const auto c = static_cast<unsigned char>(b[(*pos)++]);
    v |= uint64_t{c & 0x7Fu} << shift;
    if (!(c & 0x80)) {
      *value = v;
      return true;
    }
  }
  return false;
}

// Walks `b` as the first b.size() bytes of a message of `declared` bytes (declared >= b.size()),
// calling on_length_delimited(field, offset, length) for each length-delimited field wholly in
// `b`. True when every field is valid and stays within `declared`; a field cut off by the end of
// `b` is fine when declared > b.size() (a prefix). Groups (wire types 3 and 4, deprecated) are
// not accepted.
template <typename OnLengthDelimited>
bool ScanFields(std::string_view b, uint64_t declared, OnLengthDelimited&& on_length_delimited) {
  const bool prefix = declared > b.size();
  size_t pos = 0;
  while (pos < b.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(b, &pos, &tag)) return prefix && pos == b.size();
    const uint64_t field = tag >> 3;
    if (field == 0 || field > kMaxFieldNumber) return false;
    switch (tag & 7) {
      case kVarintType: {
        uint64_t ignored = 0;
        if (!ReadVarint(b, &pos, &ignored)) return prefix && pos == b.size();
        break;
      }
      case kFixed64Type:
      case kFixed32Type: {
        const size_t n = (tag & 7) == kFixed64Type ? 8 : 4;
        if (declared - pos < n) return false;
        if (b.size() - pos < n) return true;  // cut off by the end of the prefix
        pos += n;
        break;
      }
      case kLengthDelimitedType: {
        uint64_t length = 0;
        if (!ReadVarint(b, &pos, &length)) return prefix && pos == b.size();
        if (length > declared - pos) return false;
        if (length > b.size() - pos) return true;
        on_length_delimited(static_cast<uint32_t>(field), pos, static_cast<size_t>(length));
        pos += static_cast<size_t>(length);
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

// Printable UTF-8 text: valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
// without control characters other than tab, LF and CR. With `cut_tail`, a sequence cut off by
// the end of `b` is accepted (`b` is a prefix).
bool LooksLikeText(std::string_view b, bool cut_tail) {
  size_t i = 0;
  while (i < b.size()) {
    // Eight printable ASCII bytes at a time (0x20..0x7E: no high bit, none below 0x20, no DEL):
    // the common case, checked with word arithmetic; anything else takes the byte path below.
    constexpr uint64_t kOnes = ~uint64_t{0} / 255;
    constexpr uint64_t kHigh = kOnes * 0x80;
    while (i + 8 <= b.size()) {
      uint64_t w;
      std::memcpy(&w, b.data() + i, 8);
      const uint64_t below_space = (w - kOnes * 0x20) & ~w;       // high bit set where byte < 0x20
      const uint64_t del = ((w ^ (kOnes * 0x7F)) - kOnes) & ~(w ^ (kOnes * 0x7F));  // where byte == 0x7F
      if (((w | below_space | del) & kHigh) != 0) break;
      i += 8;
    }
    if (i >= b.size()) break;
    const auto c = static_cast<unsigned char>(b[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) return false;
      ++i;
      continue;
    }
    const size_t n = Utf8CharLength(b, i);
    if (n == 0) {
      // A character cut off by the end of a prefix is fine: its lead byte and the continuation
      // bytes present.
      const size_t lead = Utf8LeadLength(c);
      if (!cut_tail || lead < 2 || b.size() - i >= lead) return false;
      for (size_t k = i + 1; k < b.size(); ++k) {
        if ((static_cast<unsigned char>(b[k]) & 0xC0) != 0x80) return false;
      }
      return true;
    }
    i += n;
  }
  return true;
}

// Message, not string? See the rules in the header.
bool IsMessage(std::string_view bytes, uint64_t declared, bool cut_tail) {
  return !LooksLikeText(bytes, cut_tail) && ScanFields(bytes, declared, [](uint32_t, size_t, size_t) {});
}

}  // namespace

// Hands the scalars of a decoded message on with the message's raw span for offsets: decoded
// bytes have no raw bytes of their own.
class GrpcWalker::CompressedScalarSink final : public ScalarSink {
 public:
  explicit CompressedScalarSink(ScalarSink* outer) : outer_(outer) {}
  void SetSpan(uint64_t begin, uint64_t end) {
    begin_ = begin;
    end_ = end;
  }
  void OnScalarBegin(bool is_key, bool is_number, uint64_t) override { outer_->OnScalarBegin(is_key, is_number, begin_); }
  void OnScalarData(std::string_view decoded, uint64_t, uint64_t) override { outer_->OnScalarData(decoded, begin_, end_); }
  void OnScalarEnd(uint64_t) override { outer_->OnScalarEnd(end_); }

 private:
  ScalarSink* outer_;
  uint64_t begin_ = 0;
  uint64_t end_ = 0;
};

GrpcWalker::GrpcWalker(ScalarSink* sink, Limits limits) : sink_(sink), limits_(limits) {
  limits_.probe_bytes = std::max<size_t>(limits_.probe_bytes, 16);
  limits_.max_buffered_field = std::max(limits_.max_buffered_field, limits_.probe_bytes);
}

GrpcWalker::GrpcWalker(ScalarSink* sink, Limits limits, BareMessage) : GrpcWalker(sink, limits) {
  bare_ = true;
  open_.push_back(OpenMessage{UINT64_MAX, 0});
  state_ = State::kTag;
}

GrpcWalker::~GrpcWalker() = default;

bool GrpcWalker::Feed(std::string_view chunk) {
  if (failed_) return false;
  Run(chunk);
  return !failed_;
}

bool GrpcWalker::Finish() {
  if (failed_) return false;
  // A decoded message ends with its input, between two fields.
  if (bare_ && state_ == State::kTag && varint_shift_ == 0 && open_.size() == 1) return true;
  if (state_ == State::kInflate) {
    // The body ended inside a compressed message: what decoded of it is delivered.
    if (inflating_ && !inner_->failed()) (void)inflater_->Finish(to_inner_);  // cut off: an error, expected
    if (!inner_->failed()) (void)inner_->Finish();
    inner_.reset();
    inflater_.reset();
    Fail("truncated gRPC message");
    return false;
  }
  switch (state_) {
    case State::kFrameHeader:
      if (header_bytes_ == 0) return true;
      break;
    case State::kStream:
      sink_->OnScalarEnd(offset_);
      break;
    case State::kHold:
    case State::kProbe:
      DeliverHeld();
      break;
    default:
      break;
  }
  Fail(bare_ ? "truncated protobuf message" : "truncated gRPC message");
  return false;
}

bool GrpcWalker::StartCompressed(uint64_t length) {
  if (length == 0 || bare_) return false;
  std::string why;
  std::unique_ptr<ContentDecoder> decoder;
  if (message_encoding_.empty()) {
    why = "the stream has no grpc-encoding header";
  } else if (decoded_bytes_ >= limits_.max_decoded_bytes) {
    why = "the messages before decoded to " + std::to_string(limits_.max_decoded_bytes) + " bytes, the limit";
  } else {
    ContentDecoderOptions options;
    options.max_decoded_bytes = limits_.max_decoded_bytes - decoded_bytes_;
    decoder = ContentDecoder::Create(message_encoding_, options);
    if (!decoder->status().ok() || decoder->identity()) why = "no decoder for grpc-encoding '" + message_encoding_ + "'";
  }
  if (!why.empty()) {
    if (skipped_why_.empty()) skipped_why_ = why;
    return false;
  }
  inflater_ = std::move(decoder);
  if (inner_sink_ == nullptr) {
    inner_sink_ = std::make_unique<CompressedScalarSink>(sink_);
    to_inner_ = [this](std::string_view piece) { return inner_->Feed(piece); };
  }
  inner_sink_->SetSpan(offset_, offset_ + length);
  inner_.reset(new GrpcWalker(inner_sink_.get(), limits_, BareMessage{}));
  inflating_ = true;
  message_begin_ = offset_;
  remaining_ = length;
  state_ = State::kInflate;
  ++messages_;
  ++decoded_messages_;
  return true;
}

void GrpcWalker::Inflate(std::string_view compressed) {
  if (!inflating_) return;
  const Status s = inflater_->Decode(compressed, to_inner_);
  if (inner_->failed()) return;  // EndCompressed reports it
  if (!s.ok()) NoteUndecoded(s.message());
}

void GrpcWalker::EndCompressed() {
  if (inflating_ && !inner_->failed()) {
    const Status s = inflater_->Finish(to_inner_);
    if (!s.ok() && !inner_->failed()) NoteUndecoded(s.message());
  }
  // Decoded whole, a message must end between two fields. Cut short by a decoding problem
  // (noted), it delivers what it held, and its cut-off end is expected.
  if (!inner_->failed()) (void)inner_->Finish();
  if (inflating_ && inner_->failed()) {
    // Decoded, it is not protobuf: as for a message sent plain, the body is not gRPC. The error
    // is where the message ends, where it was found: its compressed bytes may have gone with
    // earlier chunks, and a text scan of the rest of the body must start at the same byte
    // however the body was chunked.
    Fail("in a " + message_encoding_ + "-compressed message from byte " + std::to_string(message_begin_) + ": " +
         inner_->error() + " of it; the message ends");
  }
  decoded_bytes_ += inflater_->decoded_bytes();
  inner_.reset();
  inflater_.reset();
  if (!failed_) NextField();
}

void GrpcWalker::NoteUndecoded(const std::string& why) {
  inflating_ = false;
  ++undecoded_messages_;
  if (undecoded_why_.empty()) undecoded_why_ = why;
}

void GrpcWalker::Fail(const std::string& message) {
  if (failed_) return;
  failed_ = true;
  error_ = message + " at byte " + std::to_string(offset_);
  error_offset_ = offset_;
}

uint64_t GrpcWalker::undelivered_from() const {
  // A compressed message's bytes carry every scalar it decodes to: none may leave before it ends.
  if (state_ == State::kInflate) return message_begin_;
  return state_ == State::kHold || state_ == State::kProbe ? held_raw_ : UINT64_MAX;
}

std::string GrpcWalker::Unread() const {
  std::string out;
  if (compressed_messages_ > 0) {
    out = std::to_string(compressed_messages_) + " compressed gRPC message(s) (" + std::to_string(compressed_bytes_) +
          " bytes) were not analysed: " + skipped_why_;
  }
  if (undecoded_messages_ > 0) {
    if (!out.empty()) out += "; ";
    out += std::to_string(undecoded_messages_) + " compressed gRPC message(s) were analysed only in part (" +
           undecoded_why_ + ")";
  }
  return out;
}

void GrpcWalker::AppendCurrentPath(ByteBuffer* out) const {
  if (inner_ != nullptr) {
    inner_->AppendCurrentPath(out);
    return;
  }
  if (in_trailers_) {
    out->Append("trailers");
    return;
  }
  for (size_t i = 0; i < path_.size(); ++i) {
    if (i > 0) out->Push('.');
    char digits[16];
    auto r = std::to_chars(digits, digits + sizeof(digits), path_[i]);
    out->Append(std::string_view(digits, static_cast<size_t>(r.ptr - digits)));
  }
}

void GrpcWalker::Run(std::string_view chunk) {
  size_t i = 0;
  while (i < chunk.size() && !failed_) {
    const size_t available = chunk.size() - i;
    switch (state_) {
      case State::kFrameHeader: {
        header_[header_bytes_++] = static_cast<unsigned char>(chunk[i++]);
        ++offset_;
        if (header_bytes_ < sizeof(header_)) break;
        header_bytes_ = 0;
        const unsigned flags = header_[0];
        const uint64_t length = (uint64_t{header_[1]} << 24) | (uint64_t{header_[2]} << 16) |
                                (uint64_t{header_[3]} << 8) | uint64_t{header_[4]};
        if (flags & ~0x81u) {
          Fail("not a gRPC message prefix (flags " + std::to_string(flags) + ")");
        } else if (flags & 0x80) {  // gRPC-Web trailers: text, delivered as one scalar
          if (length == 0) break;
          in_trailers_ = true;
          remaining_ = length;
          state_ = State::kStream;
          sink_->OnScalarBegin(false, false, offset_);
        } else if (flags & 0x01) {  // compressed with the stream's grpc-encoding
          if (StartCompressed(length)) break;
          ++compressed_messages_;  // no decoder for it: skipped, counted
          compressed_bytes_ += length;
          remaining_ = length;
          state_ = State::kSkip;
          if (length == 0) NextField();
        } else {
          ++messages_;
          open_.push_back(OpenMessage{offset_ + length, 0});
          NextField();
        }
        break;
      }
      case State::kTag:
      case State::kVarint:
      case State::kLength: {
        if (offset_ >= MessageEnd()) {
          Fail("protobuf field cut off by the end of its message");
          break;
        }
        const auto c = static_cast<unsigned char>(chunk[i++]);
        ++offset_;
        varint_ |= uint64_t{c & 0x7Fu} << varint_shift_;
        if (c & 0x80) {
          varint_shift_ += 7;
          if (varint_shift_ >= 70) Fail("protobuf varint longer than 10 bytes");
          break;
        }
        const uint64_t value = varint_;
        varint_ = 0;
        varint_shift_ = 0;
        if (state_ == State::kTag) {
          FieldStart(value);
        } else if (state_ == State::kLength) {
          LengthKnown(value);
        } else {
          NextField();
        }
        break;
      }
      case State::kSkip: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
        i += n;
        offset_ += n;
        remaining_ -= n;
        if (remaining_ == 0) NextField();
        break;
      }
      case State::kHold:
      case State::kProbe: {
        const uint64_t want = state_ == State::kHold ? remaining_ : limits_.probe_bytes - held_.size();
        const size_t n = static_cast<size_t>(std::min<uint64_t>(want, available));
        held_.append(chunk.data() + i, n);
        i += n;
        offset_ += n;
        remaining_ -= n;
        if (state_ == State::kHold) {
          if (remaining_ == 0) HeldFieldComplete();
        } else if (held_.size() == limits_.probe_bytes) {
          ProbeComplete();
        }
        break;
      }
      case State::kInflate: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
        Inflate(chunk.substr(i, n));
        i += n;
        offset_ += n;
        remaining_ -= n;
        if (remaining_ == 0) EndCompressed();
        break;
      }
      case State::kStream: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, available));
        sink_->OnScalarData(chunk.substr(i, n), offset_, offset_ + n);
        i += n;
        offset_ += n;
        remaining_ -= n;
        if (remaining_ > 0) break;
        sink_->OnScalarEnd(offset_);
        if (in_trailers_) {
          in_trailers_ = false;
        } else {
          path_.pop_back();
        }
        NextField();
        break;
      }
    }
  }
}

void GrpcWalker::NextField() {
  while (!open_.empty() && offset_ >= open_.back().end) {
    open_.pop_back();
    if (!open_.empty()) path_.pop_back();  // a nested message streamed as such ends
  }
  state_ = open_.empty() ? State::kFrameHeader : State::kTag;
}

void GrpcWalker::FieldStart(uint64_t tag) {
  const uint64_t field = tag >> 3;
  if (field == 0 || field > kMaxFieldNumber) {
    Fail("invalid protobuf field number " + std::to_string(field));
    return;
  }
  field_ = static_cast<uint32_t>(field);
  switch (tag & 7) {
    case kVarintType:
      state_ = State::kVarint;
      return;
    case kFixed64Type:
    case kFixed32Type:
      remaining_ = (tag & 7) == kFixed64Type ? 8 : 4;
      if (MessageEnd() - offset_ < remaining_) {
        Fail("protobuf field cut off by the end of its message");
        return;
      }
      state_ = State::kSkip;
      return;
    case kLengthDelimitedType:
      state_ = State::kLength;
      return;
    case 3:
    case 4:
      Fail("protobuf groups are not supported");
      return;
    default:
      Fail("invalid protobuf wire type " + std::to_string(tag & 7));
      return;
  }
}

void GrpcWalker::LengthKnown(uint64_t length) {
  if (length > MessageEnd() - offset_) {
    Fail("protobuf field longer than its message");
    return;
  }
  if (length == 0) {
    NextField();
    return;
  }
  path_.push_back(field_);
  held_.clear();
  held_raw_ = offset_;
  remaining_ = length;
  state_ = length <= limits_.max_buffered_field ? State::kHold : State::kProbe;
}

void GrpcWalker::HeldFieldComplete() {
  Classify(held_, held_raw_, open_.size() + 1);
  held_.clear();
  path_.pop_back();
  NextField();
}

void GrpcWalker::ProbeComplete() {
  const uint64_t declared = held_.size() + remaining_;
  if (open_.size() + 1 <= limits_.max_depth && IsMessage(held_, declared, /*cut_tail=*/true)) {
    // A long message: walk it as it streams, starting with the probe. Its field number stays on
    // path_ until it ends (NextField).
    open_.push_back(OpenMessage{held_raw_ + declared, field_});
    std::string replay;
    replay.swap(held_);
    offset_ = held_raw_;
    state_ = State::kTag;
    Run(replay);  // the probe is shorter than any field it may hold back: no deeper replay
    return;
  }
  sink_->OnScalarBegin(false, false, held_raw_);
  sink_->OnScalarData(held_, held_raw_, held_raw_ + held_.size());
  held_.clear();
  state_ = State::kStream;
}

void GrpcWalker::Classify(std::string_view bytes, uint64_t raw, size_t depth) {
  if (bytes.empty()) return;
  if (depth <= limits_.max_depth && IsMessage(bytes, bytes.size(), /*cut_tail=*/false)) {
    ScanFields(bytes, bytes.size(), [&](uint32_t field, size_t pos, size_t length) {
      path_.push_back(field);
      Classify(bytes.substr(pos, length), raw + pos, depth + 1);
      path_.pop_back();
    });
    return;
  }
  Deliver(bytes, raw);
}

void GrpcWalker::Deliver(std::string_view bytes, uint64_t raw) { sink_->OnScalar(false, false, raw, bytes); }

void GrpcWalker::DeliverHeld() {
  if (!held_.empty()) Deliver(held_, held_raw_);
  held_.clear();
  state_ = State::kFrameHeader;
}

}  // namespace leakscope
