#include "engine/content_decoder.h"
#include "engine/ascii.h"

#include <brotli/decode.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace leakscope {

// One coding. Input arrives through Write (from the body, or from the previous layer's output),
// output leaves through Emit in pieces of at most kPieceBytes.
class ContentDecoder::Layer {
 public:
  Layer(ContentDecoder* owner, size_t index, std::string name)
      : owner_(owner), index_(index), name_(std::move(name)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  // Consumes all of `in` (never empty). Returns false when decoding must stop; the reason (an
  // error, the limit, or the sink's request) is recorded in the owner.
  virtual bool Write(std::string_view in) = 0;
  // No more input: flushes and checks the stream is complete.
  virtual bool Close() = 0;

 protected:
  // Hands `n` decoded bytes on, enforcing the per-layer output cap.
  bool Emit(const void* data, size_t n) {
    const uint64_t cap = owner_->options_.max_decoded_bytes;
    bool over = false;
    if (cap > 0 && n > cap - out_bytes_) {  // out_bytes_ <= cap always holds
      n = static_cast<size_t>(cap - out_bytes_);
      over = true;
    }
    out_bytes_ += n;
    if (n > 0 && !owner_->Deliver(index_, std::string_view(static_cast<const char*>(data), n))) return false;
    if (over) {
      owner_->Fail(ResourceExhaustedError(name_ + ": decoded data exceeds the limit of " + std::to_string(cap) +
                                          " bytes"));
      return false;
    }
    return true;
  }

  bool Error(const std::string& what) {
    owner_->Fail(InvalidArgumentError(name_ + ": " + what));
    return false;
  }
  bool OutOfMemory() {
    owner_->Fail(ResourceExhaustedError(name_ + ": out of memory"));
    return false;
  }

  // The output buffer, allocated on first use: a body that never arrives costs nothing.
  unsigned char* buffer() {
    if (!buf_) buf_ = std::make_unique<unsigned char[]>(kPieceBytes);
    return buf_.get();
  }

  ContentDecoder* owner_;
  size_t index_;
  std::string name_;
  uint64_t in_bytes_ = 0;   // input consumed: error messages give offsets in this layer's input
  uint64_t out_bytes_ = 0;

 private:
  std::unique_ptr<unsigned char[]> buf_;
};

namespace {

// No coding: the bytes themselves, cut into pieces and capped like decoded output.
class IdentityLayer final : public ContentDecoder::Layer {
 public:
  using Layer::Layer;
  bool Write(std::string_view in) override {
    in_bytes_ += in.size();
    while (!in.empty()) {
      size_t n = std::min(in.size(), ContentDecoder::kPieceBytes);
      if (!Emit(in.data(), n)) return false;
      in.remove_prefix(n);
    }
    return true;
  }
  bool Close() override { return true; }
};

// gzip (RFC 1952) and deflate (RFC 1950 zlib format, or raw RFC 1951 as some servers send it).
class ZlibLayer final : public ContentDecoder::Layer {
 public:
  enum class Format { kGzip, kZlibOrRaw };

  ZlibLayer(ContentDecoder* owner, size_t index, std::string name, Format format)
      : Layer(owner, index, std::move(name)), format_(format) {}
  ~ZlibLayer() override {
    if (initialized_) inflateEnd(&zs_);
  }

  bool Write(std::string_view in) override {
    if (!initialized_) {
      if (format_ == Format::kGzip) {
        if (!Init(16 + MAX_WBITS)) return false;
      } else {
        // "deflate" is supposed to be zlib-wrapped, but servers have long sent raw deflate and
        // browsers accept both. The two header bytes decide (a valid zlib header: compression
        // method 8, window <= 32K, header checksum), so wait for both whatever the chunking.
        size_t take = std::min(in.size(), sizeof(sniff_) - sniff_len_);
        std::memcpy(sniff_ + sniff_len_, in.data(), take);
        sniff_len_ += take;
        in.remove_prefix(take);
        if (sniff_len_ < sizeof(sniff_)) return true;
        const unsigned cmf = sniff_[0], flg = sniff_[1];
        const bool zlib_header = (cmf & 0x0f) == Z_DEFLATED && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
        if (!Init(zlib_header ? MAX_WBITS : -MAX_WBITS)) return false;
        if (!Inflate(std::string_view(reinterpret_cast<const char*>(sniff_), sizeof(sniff_)))) return false;
      }
    }
    return Inflate(in);
  }

  bool Close() override {
    if (!initialized_) {
      return sniff_len_ == 0 ? true : Error("unexpected end of data at byte " + std::to_string(sniff_len_));
    }
    if (ended_) return true;
    // inflate() already produced everything the input allows: a stream without its end is cut.
    return Error("unexpected end of data at byte " + std::to_string(in_bytes_));
  }

 private:
  bool Init(int window_bits) {
    std::memset(&zs_, 0, sizeof(zs_));
    int rc = inflateInit2(&zs_, window_bits);
    if (rc == Z_MEM_ERROR) return OutOfMemory();
    if (rc != Z_OK) return Error("cannot initialise zlib");
    initialized_ = true;
    return true;
  }

  bool Inflate(std::string_view in) {
    // avail_in is 32 bits: feed very large chunks in slices.
    constexpr size_t kSlice = size_t{1} << 30;
    while (!in.empty()) {
      size_t n = std::min(in.size(), kSlice);
      if (!InflateSlice(in.substr(0, n))) return false;
      in.remove_prefix(n);
    }
    return true;
  }

  bool InflateSlice(std::string_view in) {
    unsigned char* buf = buffer();
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs_.avail_in = static_cast<uInt>(in.size());
    for (;;) {
      if (ended_) {
        if (zs_.avail_in == 0) return true;
        // A gzip body may hold several members (RFC 1952 2.2); each is decoded in turn. Anything
        // after a zlib or raw deflate stream is not part of it.
        if (format_ != Format::kGzip) {
          return Error("trailing data at byte " + std::to_string(in_bytes_) + " after the end of the stream");
        }
        if (inflateReset(&zs_) != Z_OK) return Error("cannot reset zlib");
        ended_ = false;
      }
      zs_.next_out = buf;
      zs_.avail_out = static_cast<uInt>(ContentDecoder::kPieceBytes);
      const uInt avail_in_before = zs_.avail_in;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      in_bytes_ += avail_in_before - zs_.avail_in;
      const size_t produced = ContentDecoder::kPieceBytes - zs_.avail_out;
      if (produced > 0 && !Emit(buf, produced)) return false;
      switch (rc) {
        case Z_OK:
          break;
        case Z_STREAM_END:
          ended_ = true;
          continue;
        case Z_BUF_ERROR:  // no progress possible: input used up and output flushed
          return true;
        case Z_NEED_DICT:
          return Error("preset dictionary at byte " + std::to_string(in_bytes_) + " is not supported");
        case Z_MEM_ERROR:
          return OutOfMemory();
        default: {  // Z_DATA_ERROR, Z_STREAM_ERROR
          std::string what = "invalid data at byte " + std::to_string(in_bytes_);
          if (zs_.msg != nullptr) what += std::string(" (") + zs_.msg + ")";
          return Error(what);
        }
      }
      // Z_OK made progress; once the input is used up and the output buffer was not filled,
      // nothing more can come out until the next chunk.
      if (zs_.avail_in == 0 && zs_.avail_out != 0) return true;
    }
  }

  Format format_;
  z_stream zs_;
  bool initialized_ = false;
  bool ended_ = false;
  unsigned char sniff_[2] = {0, 0};
  size_t sniff_len_ = 0;
};

// br (RFC 7932).
class BrotliLayer final : public ContentDecoder::Layer {
 public:
  using Layer::Layer;
  ~BrotliLayer() override {
    if (state_ != nullptr) BrotliDecoderDestroyInstance(state_);
  }

  bool Write(std::string_view in) override {
    if (ended_) return Error("trailing data at byte " + std::to_string(in_bytes_) + " after the end of the stream");
    if (state_ == nullptr) {
      state_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
      if (state_ == nullptr) return OutOfMemory();
    }
    unsigned char* buf = buffer();
    size_t avail_in = in.size();
    const uint8_t* next_in = reinterpret_cast<const uint8_t*>(in.data());
    for (;;) {
      size_t avail_out = ContentDecoder::kPieceBytes;
      uint8_t* next_out = buf;
      const size_t avail_in_before = avail_in;
      const BrotliDecoderResult r =
          BrotliDecoderDecompressStream(state_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      in_bytes_ += avail_in_before - avail_in;
      const size_t produced = ContentDecoder::kPieceBytes - avail_out;
      if (produced > 0 && !Emit(buf, produced)) return false;
      switch (r) {
        case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
          continue;
        case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:  // all of `in` consumed
          return true;
        case BROTLI_DECODER_RESULT_SUCCESS:
          ended_ = true;
          if (avail_in > 0) {
            return Error("trailing data at byte " + std::to_string(in_bytes_) + " after the end of the stream");
          }
          return true;
        case BROTLI_DECODER_RESULT_ERROR:
        default: {
          const BrotliDecoderErrorCode code = BrotliDecoderGetErrorCode(state_);
          std::string reason = BrotliDecoderErrorString(code);
          if (!reason.empty() && reason.front() == '_') reason.erase(0, 1);
          return Error("invalid data at byte " + std::to_string(in_bytes_) + " (" + reason + ")");
        }
      }
    }
  }

  bool Close() override {
    if (state_ == nullptr || ended_) return true;
    return Error("unexpected end of data at byte " + std::to_string(in_bytes_));
  }

 private:
  BrotliDecoderState* state_ = nullptr;
  bool ended_ = false;
};

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::unique_ptr<ContentDecoder> ContentDecoder::Create(std::string_view content_encoding,
                                                       ContentDecoderOptions options) {
  std::unique_ptr<ContentDecoder> d(new ContentDecoder());
  d->options_ = options;
  size_t pos = 0;
  while (pos <= content_encoding.size()) {
    size_t comma = content_encoding.find(',', pos);
    if (comma == std::string_view::npos) comma = content_encoding.size();
    std::string coding = AsciiToLower(TrimOws(content_encoding.substr(pos, comma - pos)));
    pos = comma + 1;
    if (coding.empty() || coding == "identity") continue;
    if (!d->encoding_.empty()) d->encoding_ += ", ";
    d->encoding_ += coding;
    d->codings_.push_back(std::move(coding));
  }
  if (d->codings_.empty()) {
    d->layers_.push_back(std::make_unique<IdentityLayer>(d.get(), 0, "identity"));
    return d;
  }
  if (d->codings_.size() > kMaxCodings) {
    d->status_ = UnimplementedError("content-encoding \"" + d->encoding_ + "\": more than " +
                                    std::to_string(kMaxCodings) + " codings are not supported");
    return d;
  }
  // Undo the codings in reverse order of application.
  for (auto it = d->codings_.rbegin(); it != d->codings_.rend(); ++it) {
    const std::string& c = *it;
    const size_t index = d->layers_.size();
    if (c == "gzip" || c == "x-gzip") {  // x-gzip: the legacy alias (RFC 9110 8.4.1.3)
      d->layers_.push_back(std::make_unique<ZlibLayer>(d.get(), index, c, ZlibLayer::Format::kGzip));
    } else if (c == "deflate") {
      d->layers_.push_back(std::make_unique<ZlibLayer>(d.get(), index, c, ZlibLayer::Format::kZlibOrRaw));
    } else if (c == "br") {
      d->layers_.push_back(std::make_unique<BrotliLayer>(d.get(), index, c));
    } else {
      d->layers_.clear();
      d->status_ = UnimplementedError("content-encoding " + c + " is not supported");
      return d;
    }
  }
  return d;
}

ContentDecoder::~ContentDecoder() = default;

bool ContentDecoder::Deliver(size_t from, std::string_view piece) {
  if (from + 1 < layers_.size()) return layers_[from + 1]->Write(piece);
  decoded_bytes_ += piece.size();
  if (!(*sink_)(piece)) {
    stopped_ = true;
    return false;
  }
  return true;
}

void ContentDecoder::Fail(Status status) {
  if (status_.ok()) status_ = std::move(status);
}

Status ContentDecoder::Decode(std::string_view chunk, const Sink& sink) {
  if (!status_.ok() || stopped_ || finished_ || chunk.empty()) return status_;
  sink_ = &sink;
  layers_.front()->Write(chunk);
  sink_ = nullptr;
  return status_;
}

Status ContentDecoder::Finish(const Sink& sink) {
  if (!status_.ok() || stopped_ || finished_) return status_;
  finished_ = true;
  sink_ = &sink;
  // In decoding order: closing a layer may flush output into the next one, which is still open.
  for (const std::unique_ptr<Layer>& layer : layers_) {
    if (!layer->Close()) break;
  }
  sink_ = nullptr;
  return status_;
}

Status ContentDecoder::Decode(std::string_view chunk, std::string* out) {
  const Sink sink = [out](std::string_view piece) {
    out->append(piece);
    return true;
  };
  return Decode(chunk, sink);
}

Status ContentDecoder::Finish(std::string* out) {
  const Sink sink = [out](std::string_view piece) {
    out->append(piece);
    return true;
  };
  return Finish(sink);
}

}  // namespace leakscope
