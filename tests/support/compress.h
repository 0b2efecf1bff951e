// Compressors that make test fixtures for the engine's content decoding (zlib and brotli). They
// abort on a library failure (none happens with these parameters): the fuzzers use them too, and
// have no test framework to report to.
#ifndef LEAKSCOPE_TESTS_SUPPORT_COMPRESS_H_
#define LEAKSCOPE_TESTS_SUPPORT_COMPRESS_H_

#include <brotli/encode.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace leakscope::testing {

constexpr int kGzipBits = 16 + MAX_WBITS;
constexpr int kZlibBits = MAX_WBITS;
constexpr int kRawBits = -MAX_WBITS;

// Streams `repeat` copies of `data` through deflate, so large (bomb) inputs never exist in memory.
inline std::string Deflate(std::string_view data, int window_bits, uint64_t repeat = 1, int level = 6,
                           std::string_view dictionary = {}) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  if (!dictionary.empty() && deflateSetDictionary(&zs, reinterpret_cast<const Bytef*>(dictionary.data()),
                                                  static_cast<uInt>(dictionary.size())) != Z_OK) {
    std::abort();
  }
  std::string out;
  std::vector<unsigned char> buf(1 << 16);
  for (uint64_t i = 0; i < repeat; ++i) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    const int flush = i + 1 == repeat ? Z_FINISH : Z_NO_FLUSH;
    int rc;
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&zs, flush);
      out.append(reinterpret_cast<char*>(buf.data()), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }
  deflateEnd(&zs);
  return out;
}

inline std::string Gzip(std::string_view data) { return Deflate(data, kGzipBits); }

inline std::string Brotli(std::string_view data, int quality = 5) {
  size_t size = BrotliEncoderMaxCompressedSize(data.size());
  std::string out(size, '\0');
  if (BrotliEncoderCompress(quality, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, data.size(),
                            reinterpret_cast<const uint8_t*>(data.data()), &size,
                            reinterpret_cast<uint8_t*>(out.data())) != BROTLI_TRUE) {
    std::abort();
  }
  out.resize(size);
  return out;
}

}  // namespace leakscope::testing

#endif  // LEAKSCOPE_TESTS_SUPPORT_COMPRESS_H_
