#include "engine/content_decoder.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "support/compress.h"

namespace leakscope {
namespace {

using testing::Brotli;
using testing::Deflate;
using testing::Gzip;
using testing::kGzipBits;
using testing::kRawBits;
using testing::kZlibBits;

// A gzip member holding `mib` MiB of zeros, about 1 KB per MiB. Deflating 1 GiB takes seconds, so
// one MiB is deflated (full flush: byte-aligned, no reference across it) and that unit repeated.
std::string GzipBomb(uint64_t mib) {
  const std::string zeros(1 << 20, '\0');
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, kRawBits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string unit(deflateBound(&zs, zeros.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
  zs.avail_in = static_cast<uInt>(zeros.size());
  zs.next_out = reinterpret_cast<Bytef*>(unit.data());
  zs.avail_out = static_cast<uInt>(unit.size());
  EXPECT_EQ(deflate(&zs, Z_FULL_FLUSH), Z_OK);
  EXPECT_EQ(zs.avail_in, 0u);
  unit.resize(unit.size() - zs.avail_out);
  deflateEnd(&zs);
  const uLong unit_crc = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(zeros.size()));
  uLong crc = 0;
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);  // gzip header, no name
  out.reserve(10 + unit.size() * mib + 10);
  for (uint64_t i = 0; i < mib; ++i) {
    out += unit;
    crc = crc32_combine(crc, unit_crc, static_cast<z_off_t>(zeros.size()));
  }
  out += std::string("\x03\x00", 2);  // final empty fixed-Huffman block
  const uint64_t isize = (mib << 20) & 0xffffffffu;
  for (int i = 0; i < 4; ++i) out += static_cast<char>((crc >> (8 * i)) & 0xff);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((isize >> (8 * i)) & 0xff);
  return out;
}


// Text with repetition (so it compresses) and variety (so it is not trivial), > several pieces.
std::string SampleText(size_t size, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  static const char* kWords[] = {"alpha", "ssn", "\"card\":", "4111-1111", "{", "}", "\n", "lorem", "ipsum",
                                 "123-45-6789", "\xc3\xa9t\xc3\xa9", "\t", "zz", "[1,2,3]"};
  std::string s;
  while (s.size() < size) {
    s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    if (rng() % 3 == 0) s += std::to_string(rng());
    s += ' ';
  }
  s.resize(size);
  return s;
}

struct Decoded {
  Status status;
  std::string out;
  size_t max_piece = 0;
  size_t pieces = 0;
};

// Decodes `input` fed in chunks whose sizes come from `next_chunk` (0 = all at once).
template <typename NextChunk>
Decoded DecodeWith(std::string_view encoding, std::string_view input, NextChunk next_chunk,
                   ContentDecoderOptions options = {}) {
  auto d = ContentDecoder::Create(encoding, options);
  Decoded r;
  const ContentDecoder::Sink sink = [&r](std::string_view piece) {
    EXPECT_FALSE(piece.empty());
    r.max_piece = std::max(r.max_piece, piece.size());
    ++r.pieces;
    r.out.append(piece);
    return true;
  };
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = next_chunk();
    if (n == 0) n = input.size();
    n = std::min(n, input.size() - pos);
    r.status = d->Decode(input.substr(pos, n), sink);
    pos += n;
    if (!r.status.ok()) return r;
  }
  r.status = d->Finish(sink);
  return r;
}

Decoded DecodeAll(std::string_view encoding, std::string_view input, ContentDecoderOptions options = {}) {
  return DecodeWith(encoding, input, [] { return size_t{0}; }, options);
}

TEST(ContentDecoder, GzipDeflateAndBrotliRoundTrip) {
  const std::string text = SampleText(300000);
  struct Case {
    const char* encoding;
    std::string body;
  } cases[] = {
      {"gzip", Gzip(text)},
      {"x-gzip", Gzip(text)},
      {"deflate", Deflate(text, kZlibBits)},
      {"deflate", Deflate(text, kRawBits)},  // no zlib header: accepted as browsers do
      {"br", Brotli(text)},
  };
  for (const Case& c : cases) {
    Decoded r = DecodeAll(c.encoding, c.body);
    ASSERT_TRUE(r.status.ok()) << c.encoding << ": " << r.status.message();
    EXPECT_EQ(r.out, text) << c.encoding;
    EXPECT_LE(r.max_piece, ContentDecoder::kPieceBytes) << c.encoding;
    EXPECT_GT(r.pieces, 4u) << c.encoding;  // decoded in pieces, not in one go
  }
}

TEST(ContentDecoder, StackedCodingsAreUndoneInReverseOrder) {
  const std::string text = SampleText(100000, 7);
  // `gzip, br`: gzip was applied first, then br.
  Decoded r = DecodeAll("gzip, br", Brotli(Gzip(text)));
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out, text);
  // The other order must not decode the same bytes.
  EXPECT_FALSE(DecodeAll("br, gzip", Brotli(Gzip(text))).status.ok());
  r = DecodeAll(" Deflate ,GZIP,, identity , br", Brotli(Gzip(Deflate(text, kRawBits))));
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out, text);
  EXPECT_EQ(ContentDecoder::Create(" Deflate ,GZIP,, identity , br")->encoding(), "deflate, gzip, br");
}

TEST(ContentDecoder, IdentityPassesBytesThrough) {
  for (const char* e : {"", "identity", " IDENTITY ", ","}) {
    auto d = ContentDecoder::Create(e);
    EXPECT_TRUE(d->identity()) << e;
    EXPECT_TRUE(d->status().ok());
    EXPECT_EQ(d->encoding(), "");
    std::string out;
    ASSERT_TRUE(d->Decode("plain 123-45-6789", &out).ok());
    ASSERT_TRUE(d->Finish(&out).ok());
    EXPECT_EQ(out, "plain 123-45-6789");
  }
  EXPECT_FALSE(ContentDecoder::Create("identity, gzip")->identity());
}

TEST(ContentDecoder, EveryChunkingGivesTheSameOutput) {
  const std::string text = SampleText(150000, 3);
  const std::pair<const char*, std::string> cases[] = {
      {"gzip", Gzip(text)},
      {"deflate", Deflate(text, kZlibBits)},
      {"deflate", Deflate(text, kRawBits)},
      {"br", Brotli(text)},
      {"gzip, br", Brotli(Gzip(text))},
  };
  for (const auto& [encoding, body] : cases) {
    Decoded one = DecodeWith(encoding, body, [] { return size_t{1}; });
    ASSERT_TRUE(one.status.ok()) << encoding << ": " << one.status.message();
    EXPECT_EQ(one.out, text) << encoding << " byte by byte";
    for (uint32_t seed : {1u, 2u, 3u}) {
      std::mt19937 rng(seed);
      Decoded r = DecodeWith(encoding, body, [&rng] { return size_t{1} + rng() % 9000; });
      ASSERT_TRUE(r.status.ok()) << encoding << ": " << r.status.message();
      EXPECT_EQ(r.out, text) << encoding << " seed " << seed;
      EXPECT_LE(r.max_piece, ContentDecoder::kPieceBytes);
    }
  }
}

TEST(ContentDecoder, UnsupportedCodingsDecodeNothingAndSaySo) {
  for (const char* e : {"zstd", "compress", "gzip, zstd", "br, x-custom"}) {
    auto d = ContentDecoder::Create(e);
    EXPECT_FALSE(d->identity()) << e;
    EXPECT_EQ(d->status().code(), StatusCode::kUnimplemented) << e;
    EXPECT_NE(d->status().message().find("not supported"), std::string::npos) << d->status().message();
    bool called = false;
    const ContentDecoder::Sink sink = [&called](std::string_view) { return called = true; };
    EXPECT_EQ(d->Decode("anything", sink).code(), StatusCode::kUnimplemented);
    EXPECT_EQ(d->Finish(sink).code(), StatusCode::kUnimplemented);
    EXPECT_FALSE(called) << e;
  }
  EXPECT_NE(ContentDecoder::Create("gzip, zstd")->status().message().find("zstd"), std::string::npos);
  EXPECT_EQ(ContentDecoder::Create("gzip, zstd")->encoding(), "gzip, zstd");
  // A long stack costs a buffer and a state per coding: refused.
  EXPECT_EQ(ContentDecoder::Create("gzip,gzip,gzip,gzip,gzip")->status().code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(ContentDecoder::Create("gzip,gzip,gzip,gzip")->status().ok());
}

// Bytes the heap holds right now (glibc): to check decoding does not accumulate output.
size_t HeapInUse() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

TEST(ContentDecoder, GzipBombStopsAtTheLimitQuicklyInBoundedMemory) {
  // 1 GiB of zeros in about 1 MB of gzip.
  const std::string bomb = GzipBomb(1024);
  ASSERT_LT(bomb.size(), 2u << 20);
  ContentDecoderOptions options;  // default limit: 64 MiB
  ASSERT_EQ(options.max_decoded_bytes, uint64_t{64} << 20);
  auto d = ContentDecoder::Create("gzip", options);
  uint64_t total = 0;
  size_t max_piece = 0;
  size_t peak = 0;
  const size_t base = HeapInUse();
  const ContentDecoder::Sink sink = [&](std::string_view piece) {
    total += piece.size();
    max_piece = std::max(max_piece, piece.size());
    peak = std::max(peak, HeapInUse());
    return true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  Status s = Status::Ok();
  for (size_t pos = 0; pos < bomb.size() && s.ok(); pos += 256 * 1024) {
    s = d->Decode(std::string_view(bomb).substr(pos, 256 * 1024), sink);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("gzip: decoded data exceeds the limit of 67108864 bytes"), std::string::npos)
      << s.message();
  EXPECT_EQ(total, uint64_t{64} << 20);  // exactly up to the limit, not a byte more
  EXPECT_EQ(d->decoded_bytes(), uint64_t{64} << 20);
  EXPECT_LE(max_piece, ContentDecoder::kPieceBytes);
  // zlib state + window + one 64 KiB buffer; nothing proportional to the output.
  EXPECT_LT(peak - std::min(peak, base), size_t{1} << 20);
  EXPECT_LT(seconds, 10.0);
  // Sticky: nothing more comes out.
  EXPECT_EQ(d->Decode("x", sink).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(total, uint64_t{64} << 20);
}

TEST(ContentDecoder, TheBombIsValidGzip) {
  // The bomb fixture is a real gzip stream: decoded without a limit, it is all zeros to the end
  // and passes the CRC and size checks (16 MiB keeps this quick).
  ContentDecoderOptions options;
  options.max_decoded_bytes = 0;
  auto d = ContentDecoder::Create("gzip", options);
  uint64_t total = 0;
  bool all_zero = true;
  const ContentDecoder::Sink sink = [&](std::string_view piece) {
    total += piece.size();
    all_zero = all_zero && piece.find_first_not_of('\0') == std::string_view::npos;
    return true;
  };
  const std::string bomb = GzipBomb(16);
  EXPECT_TRUE(d->Decode(bomb, sink).ok());
  EXPECT_TRUE(d->Finish(sink).ok());
  EXPECT_EQ(total, uint64_t{16} << 20);
  EXPECT_TRUE(all_zero);
  std::string broken = bomb;
  broken[broken.size() - 5] ^= 1;  // CRC: checked once its 4 bytes are in, before the size
  EXPECT_EQ(DecodeAll("gzip", broken).status.message(), "gzip: invalid data at byte " +
                                                             std::to_string(bomb.size() - 4) +
                                                             " (incorrect data check)");
}

TEST(ContentDecoder, LimitAppliesToEveryLayerOfAStack) {
  // br around a gzip bomb: br output (the gzip stream) is small, the gzip layer's is not.
  const std::string inner = GzipBomb(64);
  ContentDecoderOptions options;
  options.max_decoded_bytes = 5 << 20;
  Decoded r = DecodeAll("gzip, br", Brotli(inner), options);
  EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.out.size(), size_t{5} << 20);
  // And an intermediate layer that expands while the final output stays small is capped too:
  // a gzip stream of 12 MiB of empty stored blocks... as br input, with a 1 MiB cap.
  std::string gz = Deflate("", kGzipBits);
  std::string padded = gz.substr(0, 10);  // gzip header
  std::string empty_stored("\x00\x00\x00\xff\xff", 5);  // BFINAL=0 stored block of length 0
  for (int i = 0; i < 12 << 20; i += 5) padded += empty_stored;
  padded += gz.substr(10);  // the final empty block and the trailer
  ASSERT_TRUE(DecodeAll("gzip", padded).status.ok());
  options.max_decoded_bytes = 1 << 20;
  r = DecodeAll("gzip, br", Brotli(padded, 1), options);
  EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status.message().find("br: decoded data exceeds"), std::string::npos) << r.status.message();
}

TEST(ContentDecoder, LimitIsExact) {
  const std::string text = SampleText(200000, 5);
  ContentDecoderOptions options;
  options.max_decoded_bytes = text.size();
  Decoded r = DecodeAll("gzip", Gzip(text), options);
  EXPECT_TRUE(r.status.ok()) << r.status.message();  // exactly the limit is fine
  EXPECT_EQ(r.out, text);
  options.max_decoded_bytes = text.size() - 1;
  r = DecodeAll("br", Brotli(text), options);
  EXPECT_EQ(r.status.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(r.out, text.substr(0, text.size() - 1));
}

TEST(ContentDecoder, CorruptDataIsAnErrorWithItsOffset) {
  const std::string text = SampleText(200000, 9);
  std::string gz = Gzip(text);
  gz[gz.size() / 2] ^= 0x55;
  gz[gz.size() / 2 + 1] ^= 0xAA;
  Decoded r = DecodeAll("gzip", gz);
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message().rfind("gzip: invalid data at byte ", 0), 0u) << r.status.message();
  // What precedes the damage came out (deflate may emit some garbage before noticing it).
  size_t common = 0;
  while (common < r.out.size() && common < text.size() && r.out[common] == text[common]) ++common;
  EXPECT_GT(common, text.size() / 4);

  r = DecodeAll("gzip", "this is not gzip at all");
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message(), "gzip: invalid data at byte 2 (incorrect header check)");
  r = DecodeAll("br", "\xff\xff\xff\xff this is not brotli");
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message().rfind("br: invalid data at byte ", 0), 0u) << r.status.message();
  r = DecodeAll("deflate", "\xff\xff\xff\xff not deflate");
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status.message().rfind("deflate: invalid data at byte ", 0), 0u) << r.status.message();

  // Sticky.
  auto d = ContentDecoder::Create("gzip");
  std::string out;
  EXPECT_FALSE(d->Decode("garbage!", &out).ok());
  EXPECT_EQ(d->Decode(Gzip("fine"), &out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(d->Finish(&out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, "");

  // A zlib stream that needs a preset dictionary cannot be decoded: an error, not a hang.
  r = DecodeAll("deflate", Deflate("dictionary words", kZlibBits, 1, 6, "dictionary"));
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("preset dictionary"), std::string::npos) << r.status.message();
}

TEST(ContentDecoder, TruncatedStreamsAreErrorsAtTheEnd) {
  const std::string text = SampleText(100000, 11);
  const std::pair<const char*, std::string> cases[] = {
      {"gzip", Gzip(text)}, {"deflate", Deflate(text, kZlibBits)}, {"deflate", Deflate(text, kRawBits)},
      {"br", Brotli(text)}, {"gzip, br", Brotli(Gzip(text))}};
  for (const auto& [encoding, body] : cases) {
    for (size_t keep : {size_t{1}, body.size() / 2, body.size() - 1}) {
      Decoded r = DecodeAll(encoding, std::string_view(body).substr(0, keep));
      EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << encoding << " " << keep;
      EXPECT_NE(r.status.message().find("unexpected end of data at byte"), std::string::npos)
          << encoding << " " << keep << ": " << r.status.message();
      EXPECT_EQ(text.compare(0, r.out.size(), r.out), 0) << encoding << " " << keep;
    }
  }
}

TEST(ContentDecoder, EmptyBodiesAreFine) {
  // HEAD and 304 responses carry a Content-Encoding but no body.
  for (const char* e : {"gzip", "deflate", "br", "gzip, br"}) {
    auto d = ContentDecoder::Create(e);
    std::string out;
    EXPECT_TRUE(d->Decode("", &out).ok()) << e;
    EXPECT_TRUE(d->Finish(&out).ok()) << e;
    EXPECT_EQ(out, "");
  }
}

TEST(ContentDecoder, ConcatenatedGzipMembersAndTrailingData) {
  Decoded r = DecodeWith("gzip", Gzip("first 123-45-6789 ") + Gzip("second"), [] { return size_t{3}; });
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.out, "first 123-45-6789 second");

  // After a zlib, raw deflate or brotli stream nothing else may follow.
  const std::pair<const char*, std::string> cases[] = {
      {"deflate", Deflate("body", kZlibBits)}, {"deflate", Deflate("body", kRawBits)}, {"br", Brotli("body")}};
  for (const auto& [encoding, body] : cases) {
    r = DecodeAll(encoding, body + "XY");
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << encoding;
    EXPECT_EQ(r.status.message(), std::string(encoding) + ": trailing data at byte " +
                                      std::to_string(body.size()) + " after the end of the stream");
    EXPECT_EQ(r.out, "body");
  }
  r = DecodeAll("gzip", Gzip("body") + "XY");
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.out, "body");
}

TEST(ContentDecoder, ASinkCanStopDecoding) {
  const std::string text = SampleText(500000, 13);
  auto d = ContentDecoder::Create("gzip");
  size_t calls = 0;
  const ContentDecoder::Sink sink = [&calls](std::string_view) { return ++calls < 2; };
  EXPECT_TRUE(d->Decode(Gzip(text), sink).ok());
  EXPECT_TRUE(d->stopped());
  EXPECT_EQ(calls, 2u);
  EXPECT_TRUE(d->Finish(sink).ok());
  EXPECT_EQ(calls, 2u);
}

TEST(ContentDecoder, RandomAndMutatedInputNeverCrashesOrHangs) {
  const std::string text = SampleText(20000, 17);
  const std::pair<const char*, std::string> cases[] = {
      {"gzip", Gzip(text)}, {"deflate", Deflate(text, kZlibBits)}, {"deflate", Deflate(text, kRawBits)},
      {"br", Brotli(text)}, {"gzip, br", Brotli(Gzip(text))}};
  std::mt19937 rng(42);
  for (const auto& [encoding, body] : cases) {
    for (int i = 0; i < 150; ++i) {
      std::string input = body;
      if (i % 3 == 0) {
        for (char& c : input) c = static_cast<char>(rng());
      } else {
        for (int k = 0; k < 1 + i % 5; ++k) input[rng() % input.size()] ^= static_cast<char>(1 + rng() % 255);
      }
      ContentDecoderOptions options;
      options.max_decoded_bytes = 1 << 20;
      Decoded r = DecodeWith(encoding, input, [&rng] { return size_t{1} + rng() % 2000; }, options);
      EXPECT_LE(r.out.size(), size_t{1} << 20);
      if (r.status.ok()) continue;  // a flip can land in a part that changes nothing checked
      EXPECT_TRUE(r.status.code() == StatusCode::kInvalidArgument ||
                  r.status.code() == StatusCode::kResourceExhausted)
          << r.status.message();
      EXPECT_EQ(r.status.message().rfind(encoding == std::string("gzip, br") ? "" : encoding, 0), 0u)
          << r.status.message();
    }
  }
}

}  // namespace
}  // namespace leakscope
