#include "engine/grpc_walker.h"

#include <gtest/gtest.h>

#include <random>

#include "support/compress.h"
#include "support/protobuf_wire.h"

namespace leakscope {
namespace {

using testing::Bytes;
using testing::Fixed64Field;
using testing::GrpcFrame;
using testing::VarintField;

// Records scalars as "path=text@offset" and checks that every delivered byte is the body's own
// byte at the offset it claims (protobuf strings have no escapes). A scalar of a compressed
// message is "path=text@begin-end", the message's compressed bytes, which every piece claims.
class Recorder : public ScalarSink {
 public:
  explicit Recorder(const std::string& body) : body_(body) {}
  GrpcWalker* walker = nullptr;
  std::vector<std::string> scalars;
  size_t max_piece = 0;

  void OnScalarBegin(bool is_key, bool is_number, uint64_t raw_offset) override {
    EXPECT_FALSE(is_key);
    EXPECT_FALSE(is_number);
    EXPECT_FALSE(open_);
    open_ = true;
    begin_ = next_ = raw_offset;
    current_.clear();
  }
  void OnScalarData(std::string_view decoded, uint64_t rb, uint64_t re) override {
    EXPECT_TRUE(open_);
    max_piece = std::max(max_piece, decoded.size());
    if (!walker->rewritable()) {
      EXPECT_EQ(rb, begin_);
      EXPECT_GT(re, rb);  // the message's declared bytes (the body may end before them)
      end_ = re;
      current_.append(decoded);
      return;
    }
    EXPECT_EQ(rb, next_);
    ASSERT_EQ(re - rb, decoded.size());
    ASSERT_LE(re, body_.size());
    EXPECT_EQ(decoded, std::string_view(body_).substr(rb, re - rb));
    current_.append(decoded);
    next_ = re;
    max_piece = std::max(max_piece, decoded.size());
  }
  void OnScalarEnd(uint64_t raw_end) override {
    EXPECT_TRUE(open_);
    open_ = false;
    if (!walker->rewritable()) {
      if (!current_.empty()) {
        EXPECT_EQ(raw_end, end_);
      }
      scalars.push_back(walker->CurrentPath() + "=" + current_ + "@" + std::to_string(begin_) + "-" +
                        std::to_string(raw_end));
      return;
    }
    EXPECT_EQ(raw_end, next_);
    scalars.push_back(walker->CurrentPath() + "=" + current_ + "@" + std::to_string(begin_));
  }

 private:
  const std::string& body_;
  bool open_ = false;
  uint64_t begin_ = 0, next_ = 0, end_ = 0;
  std::string current_;
};

struct Walked {
  std::vector<std::string> scalars;
  bool ok = false;
  std::string error;
  uint64_t error_offset = 0;
  uint64_t compressed = 0;
  uint64_t decoded = 0;
  std::string unread;
  size_t max_piece = 0;
};

// Feeds `body` in chunks of `chunk` bytes (0: whole), or at the given split points.
Walked Walk(const std::string& body, size_t chunk = 0, GrpcWalker::Limits limits = {},
            const std::vector<size_t>& splits = {}, const std::string& encoding = "") {
  Recorder r(body);
  GrpcWalker w(&r, limits);
  w.SetMessageEncoding(encoding);
  r.walker = &w;
  Walked out;
  out.ok = true;
  std::vector<size_t> cuts = splits;
  if (cuts.empty()) {
    if (chunk == 0) chunk = body.size() + 1;
    for (size_t i = chunk; i < body.size(); i += chunk) cuts.push_back(i);
  }
  size_t from = 0;
  cuts.push_back(body.size());
  for (size_t cut : cuts) {
    if (!out.ok) break;
    out.ok = w.Feed(std::string_view(body).substr(from, cut - from));
    from = cut;
  }
  if (out.ok) out.ok = w.Finish();
  out.error = w.error();
  out.error_offset = w.error_offset();
  out.scalars = r.scalars;
  out.compressed = w.compressed_messages();
  out.decoded = w.decoded_messages();
  out.unread = w.Unread();
  out.max_piece = r.max_piece;
  return out;
}

std::string Customer(int i) {
  return Bytes(1, "Carlos Khan") + VarintField(2, 1000 + i) + Bytes(3, "lucas.novak25@yahoo.com") +
         Bytes(4, "123-45-6789") + Bytes(5, Bytes(1, "8600 Main Road") + Bytes(2, "Portland")) +
         Fixed64Field(6, 0x0101010101010101);
}

TEST(GrpcWalker, StringFieldsOfNestedMessagesWithTheirPaths) {
  const std::string message = Bytes(1, Customer(0)) + Bytes(1, Customer(1)) + VarintField(3, 7);
  const std::string body = GrpcFrame(message) + GrpcFrame(Bytes(2, "second"));
  Walked w = Walk(body);
  ASSERT_TRUE(w.ok) << w.error;
  ASSERT_EQ(w.scalars.size(), 11u);
  EXPECT_EQ(w.scalars[0], "1.1=Carlos Khan@9");
  EXPECT_EQ(w.scalars[1].substr(0, 28), "1.3=lucas.novak25@yahoo.com@");
  EXPECT_EQ(w.scalars[2].substr(0, 16), "1.4=123-45-6789@");
  EXPECT_EQ(w.scalars[3].substr(0, 21), "1.5.1=8600 Main Road@");
  EXPECT_EQ(w.scalars[4].substr(0, 15), "1.5.2=Portland@");
  EXPECT_EQ(w.scalars[10], "2=second@" + std::to_string(body.size() - 6));
}

TEST(GrpcWalker, TextIsAStringEvenWhenItParsesAsScalarFields) {
  // "123-45-6789" reads as field 6 fixed64 ("23-45-67") and field 7 varint ('9'): still text.
  Walked w = Walk(GrpcFrame(Bytes(4, "123-45-6789")));
  ASSERT_TRUE(w.ok) << w.error;
  EXPECT_EQ(w.scalars, (std::vector<std::string>{"4=123-45-6789@7"}));
}

TEST(GrpcWalker, PrintableBytesAreOneStringEvenWhenTheyParseAsAMessage) {
  // Field 1 holding a 40-byte string: tag '\n', length '(' and the text are all printable, so
  // the whole is scanned as text; so is a long run of 'z' (tag 15, length 122, ...).
  const std::string inner = Bytes(1, std::string(24, 'a') + " ssn 123-45-6789");
  ASSERT_EQ(inner.substr(0, 2), "\n(");
  const std::string zs(20000 + 122 * 10, 'z');
  const std::string body = GrpcFrame(Bytes(9, inner) + Bytes(10, zs));
  for (size_t chunk : {0, 1}) {
    Walked w = Walk(body, chunk);
    ASSERT_TRUE(w.ok) << w.error;
    ASSERT_EQ(w.scalars.size(), 2u);
    EXPECT_EQ(w.scalars[0], "9=" + inner + "@7");
    EXPECT_EQ(w.scalars[1], "10=" + zs + "@" + std::to_string(body.size() - zs.size()));
  }
}

TEST(GrpcWalker, BinaryThatIsNoMessageIsDeliveredAsBytes) {
  const std::string blob = std::string("\x00\xff\x07", 3) + "ssn 123-45-6789";
  Walked w = Walk(GrpcFrame(Bytes(2, blob)));
  ASSERT_TRUE(w.ok) << w.error;
  EXPECT_EQ(w.scalars, (std::vector<std::string>{"2=" + blob + "@7"}));
}

TEST(GrpcWalker, LongFieldsStreamWithBoundedPieces) {
  GrpcWalker::Limits limits;
  limits.max_buffered_field = 4096;
  limits.probe_bytes = 512;
  std::string records;
  for (int i = 0; i < 200; ++i) records += Bytes(1, Customer(i));  // a long nested message
  const std::string text = std::string(50000, 'x') + " 123-45-6789";
  const std::string body = GrpcFrame(Bytes(1, text) + Bytes(2, records) + Bytes(3, "tail"));
  Walked whole = Walk(body, 0, limits);
  ASSERT_TRUE(whole.ok) << whole.error;
  ASSERT_EQ(whole.scalars.size(), 1u + 200 * 5 + 1);
  const size_t field2 = 5 + Bytes(1, text).size();  // where field 2's tag is
  EXPECT_EQ(whole.scalars[0], "1=" + text + "@" + std::to_string(field2 - text.size()));
  // Field 2's tag and 3-byte length, the first record's tag and length, the name's tag and length.
  EXPECT_EQ(whole.scalars[1], "2.1.1=Carlos Khan@" + std::to_string(field2 + 4 + 2 + 2));
  EXPECT_EQ(whole.scalars[5 * 200].substr(0, 16), "2.1.5.2=Portland");
  EXPECT_EQ(whole.scalars.back().substr(0, 7), "3=tail@");
  for (size_t chunk : {1, 3, 700, 4096}) {
    Walked w = Walk(body, chunk, limits);
    EXPECT_TRUE(w.ok) << w.error;
    EXPECT_EQ(w.scalars, whole.scalars) << chunk;
    EXPECT_LE(w.max_piece, std::max<size_t>(chunk, limits.probe_bytes)) << "a long field is streamed, not held";
  }
}

TEST(GrpcWalker, SameScalarsForEveryChunking) {
  std::mt19937_64 rng(7);
  std::string body;
  for (int m = 0; m < 20; ++m) {
    std::string message;
    for (int i = 0; i < 1 + m % 4; ++i) message += Bytes(1 + i, Customer(m * 10 + i));
    message += Bytes(7, std::string(20000 + 1000 * m, 'y'));
    body += GrpcFrame(message);
  }
  body += GrpcFrame("grpc-status: 0\r\n", 0x80);
  Walked whole = Walk(body);
  ASSERT_TRUE(whole.ok) << whole.error;
  EXPECT_EQ(whole.scalars.back(), "trailers=grpc-status: 0\r\n@" + std::to_string(body.size() - 16));
  for (int round = 0; round < 20; ++round) {
    std::vector<size_t> splits;
    for (size_t at = rng() % 3000; at < body.size(); at += 1 + rng() % 3000) splits.push_back(at);
    Walked w = Walk(body, 0, {}, splits);
    EXPECT_TRUE(w.ok) << w.error;
    EXPECT_EQ(w.scalars, whole.scalars) << round;
  }
  EXPECT_EQ(Walk(body, 1).scalars, whole.scalars);
}

TEST(GrpcWalker, CompressedMessagesWithoutADecoderAreSkippedAndCounted) {
  const std::string body = GrpcFrame("\x1f\x8b whatever", 0x01) + GrpcFrame(Bytes(1, "plain"));
  for (const char* encoding : {"", "snappy"}) {
    Walked w = Walk(body, 2, {}, {}, encoding);
    ASSERT_TRUE(w.ok) << w.error;
    EXPECT_EQ(w.compressed, 1u);
    EXPECT_EQ(w.decoded, 0u);
    EXPECT_EQ(w.scalars, (std::vector<std::string>{"1=plain@" + std::to_string(body.size() - 5)}));
    EXPECT_NE(w.unread.find("1 compressed gRPC message(s) (11 bytes) were not analysed: "), std::string::npos) << w.unread;
    EXPECT_NE(w.unread.find(*encoding ? "no decoder for grpc-encoding 'snappy'" : "no grpc-encoding header"),
              std::string::npos)
        << w.unread;
  }
}

// The scalars of `message` sent plain, as they would read inside a compressed message sent in
// its place at `begin` with `length` compressed bytes.
std::vector<std::string> AsCompressed(const std::string& message, uint64_t begin, uint64_t length) {
  Walked plain = Walk(GrpcFrame(message));
  EXPECT_TRUE(plain.ok) << plain.error;
  std::vector<std::string> out;
  for (std::string s : plain.scalars) {
    out.push_back(s.substr(0, s.rfind('@') + 1) + std::to_string(begin) + "-" + std::to_string(begin + length));
  }
  return out;
}

TEST(GrpcWalker, CompressedMessagesAreDecodedAndWalkedAsPlainOnes) {
  // Plain and compressed messages in turn, some with fields long enough to be streamed and
  // probed: a compressed message reads as it would plain, its offsets being its compressed bytes.
  for (const char* encoding : {"gzip", "deflate"}) {
    std::string body;
    std::vector<std::string> want;
    for (int m = 0; m < 6; ++m) {
      std::string message = Bytes(1, Customer(m)) + Bytes(2, Customer(m + 100));
      if (m % 3 == 1) message += Bytes(7, "note " + std::string(40000, 'y') + " ssn 123-45-6789");
      if (m % 2 == 0) {
        Walked plain = Walk(GrpcFrame(message));
        for (const std::string& s : plain.scalars) {
          want.push_back(s.substr(0, s.rfind('@') + 1) + std::to_string(body.size() + std::stoull(s.substr(s.rfind('@') + 1))));
        }
        body += GrpcFrame(message);
      } else {
        const std::string packed = std::string(encoding) == "gzip" ? testing::Gzip(message) : testing::Deflate(message, MAX_WBITS);
        for (const std::string& s : AsCompressed(message, body.size() + 5, packed.size())) want.push_back(s);
        body += GrpcFrame(packed, 0x01);
      }
    }
    Walked whole = Walk(body, 0, {}, {}, encoding);
    ASSERT_TRUE(whole.ok) << whole.error;
    EXPECT_EQ(whole.decoded, 3u);
    EXPECT_EQ(whole.compressed, 0u);
    EXPECT_EQ(whole.unread, "");
    EXPECT_EQ(whole.scalars, want) << encoding;
    std::mt19937_64 rng(11);
    for (int round = 0; round < 10; ++round) {
      std::vector<size_t> splits;
      for (size_t at = rng() % 200; at < body.size(); at += 1 + rng() % 700) splits.push_back(at);
      Walked w = Walk(body, 0, {}, splits, encoding);
      EXPECT_TRUE(w.ok) << w.error;
      EXPECT_EQ(w.scalars, want) << encoding << " round " << round;
    }
    EXPECT_EQ(Walk(body, 1, {}, {}, encoding).scalars, want) << encoding;
  }
}

TEST(GrpcWalker, BadCompressedMessagesAreNotedAndTheStreamGoesOn) {
  const std::string packed = testing::Gzip(Bytes(1, "ssn 123-45-6789") + Bytes(2, std::string(5000, 'z')));
  std::string corrupt = packed;
  corrupt[corrupt.size() / 2] ^= 0x55;
  const std::string tail = GrpcFrame(Bytes(1, "after"));
  // Corrupt data: what decoded before the damage is walked, the rest of the message is not.
  {
    const std::string body = GrpcFrame(corrupt, 0x01) + tail;
    Walked w = Walk(body, 3, {}, {}, "gzip");
    ASSERT_TRUE(w.ok) << w.error;
    EXPECT_NE(w.unread.find("1 compressed gRPC message(s) were analysed only in part (gzip:"), std::string::npos)
        << w.unread;
    EXPECT_EQ(w.scalars.back(), "1=after@" + std::to_string(body.size() - 5));
  }
  // A bomb: decoding stops at the limit, for this message and every one after it.
  {
    GrpcWalker::Limits limits;
    limits.max_decoded_bytes = 1000;
    const std::string bomb = testing::Gzip(Bytes(1, std::string(100000, 'a')));
    const std::string body = GrpcFrame(bomb, 0x01) + GrpcFrame(packed, 0x01) + tail;
    Walked w = Walk(body, 0, limits, {}, "gzip");
    ASSERT_TRUE(w.ok) << w.error;
    EXPECT_EQ(w.decoded, 1u);
    EXPECT_EQ(w.compressed, 1u);
    EXPECT_NE(w.unread.find("analysed only in part"), std::string::npos) << w.unread;
    EXPECT_NE(w.unread.find("decoded to 1000 bytes, the limit"), std::string::npos) << w.unread;
    EXPECT_EQ(w.scalars.back(), "1=after@" + std::to_string(body.size() - 5));
    EXPECT_LE(w.max_piece, 1000u);
  }
  // Decoded, not protobuf: the body is not gRPC, as for the same bytes sent plain.
  {
    const std::string body = GrpcFrame(testing::Gzip(std::string("\x0e\x01", 2)), 0x01) + tail;
    Walked w = Walk(body, 0, {}, {}, "gzip");
    EXPECT_FALSE(w.ok);
    EXPECT_NE(w.error.find("in a gzip-compressed message from byte 5: invalid protobuf wire type 6"), std::string::npos)
        << w.error;
    // Found where the message ends, whatever the chunking (the rest of the body is scanned as
    // text from there).
    const size_t message_end = body.size() - tail.size();
    EXPECT_NE(w.error.find("the message ends at byte " + std::to_string(message_end)), std::string::npos) << w.error;
    for (size_t chunk : {size_t{1}, size_t{3}, size_t{0}}) {
      EXPECT_EQ(Walk(body, chunk, {}, {}, "gzip").error_offset, message_end) << chunk;
    }
  }
  // The body ends inside a compressed message: truncated, with what decoded so far delivered.
  {
    const std::string message = Bytes(1, "ssn 123-45-6789") + Bytes(2, std::string(200000, 'q'));
    const std::string body = GrpcFrame(testing::Gzip(message), 0x01);
    Walked w = Walk(body.substr(0, body.size() - 20), 7, {}, {}, "gzip");
    EXPECT_FALSE(w.ok);
    EXPECT_NE(w.error.find("truncated gRPC message"), std::string::npos) << w.error;
    ASSERT_FALSE(w.scalars.empty());
    EXPECT_EQ(w.scalars[0].substr(0, 18), "1=ssn 123-45-6789@");
  }
}

TEST(GrpcWalker, MalformedBodiesFailWithAReason) {
  struct Case {
    std::string body;
    std::string error;
  };
  const std::vector<Case> cases = {
      {std::string("\x02\x00\x00\x00\x01x", 6), "not a gRPC message prefix"},
      {GrpcFrame(std::string("\x0e\x01", 2)), "invalid protobuf wire type 6"},
      {GrpcFrame(std::string("\x0b\x0c", 2)), "groups are not supported"},
      {GrpcFrame(std::string("\x00\x01", 2)), "invalid protobuf field number 0"},
      {GrpcFrame(std::string("\x0a\x05" "ab", 4)), "longer than its message"},
      {GrpcFrame(std::string("\x09" "1234", 5)), "cut off by the end of its message"},
      {GrpcFrame(std::string("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12)), "longer than 10 bytes"},
  };
  for (const Case& c : cases) {
    for (size_t chunk : {0, 1}) {
      Walked w = Walk(c.body, chunk);
      EXPECT_FALSE(w.ok);
      EXPECT_NE(w.error.find(c.error), std::string::npos) << w.error;
    }
  }
}

TEST(GrpcWalker, TruncatedBodyDeliversWhatItHeld) {
  const std::string full = GrpcFrame(Bytes(1, "ssn 123-45-6789 and more"));
  Walked w = Walk(full.substr(0, full.size() - 5), 4);
  EXPECT_FALSE(w.ok);
  EXPECT_NE(w.error.find("truncated gRPC message"), std::string::npos);
  EXPECT_EQ(w.scalars, (std::vector<std::string>{"1=ssn 123-45-6789 and@7"}));
  EXPECT_FALSE(Walk(full.substr(0, 3)).ok) << "a cut message prefix is truncation too";
}

TEST(GrpcWalker, DeepNestingStopsAtTheDepthLimit) {
  // Messages nested 3 000 deep (held whole) and 10 000 deep (streamed, then held): past 32 levels
  // the rest is delivered as bytes, whatever the limits; nothing recurses deeper.
  std::string expected_path = "2";
  for (int i = 1; i < 32; ++i) expected_path += ".2";
  for (int levels : {3000, 10000}) {
    std::string message = Bytes(1, "ssn 123-45-6789");
    for (int i = 0; i < levels; ++i) message = Bytes(2, message);
    GrpcWalker::Limits small;
    small.max_buffered_field = 64;
    small.probe_bytes = 16;
    for (const GrpcWalker::Limits& limits : {GrpcWalker::Limits{}, small}) {
      Walked w = Walk(GrpcFrame(message), 100, limits);
      ASSERT_TRUE(w.ok) << w.error;
      ASSERT_EQ(w.scalars.size(), 1u);
      EXPECT_EQ(w.scalars[0].substr(0, expected_path.size() + 1), expected_path + "=") << levels;
      EXPECT_NE(w.scalars[0].find("ssn 123-45-6789"), std::string::npos);
    }
  }
}

TEST(GrpcWalker, RandomBytesNeverBreakTheWalker) {
  std::mt19937_64 rng(99);
  const std::string valid = GrpcFrame(Bytes(1, Customer(0)) + Bytes(1, Customer(1)));
  for (int round = 0; round < 2000; ++round) {
    std::string body = valid;
    if (round % 2) {
      for (int k = 0; k < 1 + round % 5; ++k) body[rng() % body.size()] = static_cast<char>(rng());
    } else {
      body.resize(1 + rng() % 200);
      for (char& c : body) c = static_cast<char>(rng());
      body[0] = 0;  // mostly a plausible prefix
    }
    GrpcWalker::Limits limits;
    limits.max_buffered_field = 32;
    limits.probe_bytes = 16;
    Walk(body, 1 + rng() % 9, limits);  // the Recorder checks every delivered byte
  }
}

TEST(GrpcWalker, DamagedCompressedMessagesNeverBreakTheWalker) {
  // Compressed messages with bytes flipped anywhere (the prefix, the gzip header, the deflate
  // stream, the checksum), cut short, or random: the walker ends with a report or an error,
  // never a crash or a hang, and every scalar it delivers is within the body's messages.
  std::mt19937_64 rng(5);
  const std::string message = Bytes(1, Customer(0)) + Bytes(2, Customer(1)) + Bytes(7, std::string(3000, 'q'));
  const std::string valid = GrpcFrame(testing::Gzip(message), 0x01) + GrpcFrame(Bytes(1, "after"));
  for (int round = 0; round < 1000; ++round) {
    std::string body = valid;
    switch (round % 3) {
      case 0:
        for (int k = 0; k < 1 + round % 4; ++k) body[rng() % body.size()] = static_cast<char>(rng());
        break;
      case 1:
        body.resize(rng() % body.size());
        break;
      default:
        body = GrpcFrame(std::string(1 + rng() % 300, '\0'), 0x01);
        for (size_t k = 5; k < body.size(); ++k) body[k] = static_cast<char>(rng());
        break;
    }
    GrpcWalker::Limits limits;
    limits.max_buffered_field = 32;
    limits.probe_bytes = 16;
    limits.max_decoded_bytes = 1 + rng() % 20000;
    Walked w = Walk(body, 1 + rng() % 9, limits, {}, round % 2 ? "gzip" : "deflate");
    if (!w.ok) {
      EXPECT_FALSE(w.error.empty());
    }
  }
}

}  // namespace
}  // namespace leakscope
