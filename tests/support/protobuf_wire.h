// Protobuf wire format and gRPC framing, written by hand for test bodies (the engine only reads
// them; tests need bodies whose every byte they know).
#ifndef LEAKSCOPE_TESTS_SUPPORT_PROTOBUF_WIRE_H_
#define LEAKSCOPE_TESTS_SUPPORT_PROTOBUF_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace leakscope::testing {

inline std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A length-delimited field (string, bytes or nested message).
inline std::string Bytes(uint32_t field, std::string_view payload) {
  return Varint((uint64_t{field} << 3) | 2) + Varint(payload.size()) + std::string(payload);
}
inline std::string VarintField(uint32_t field, uint64_t v) { return Varint(uint64_t{field} << 3) + Varint(v); }
inline std::string Fixed64Field(uint32_t field, uint64_t v) {
  std::string out = Varint((uint64_t{field} << 3) | 1);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

// One gRPC message behind its 5-byte prefix (flags 0x01: compressed, 0x80: gRPC-Web trailers).
inline std::string GrpcFrame(std::string_view message, uint8_t flags = 0) {
  const auto n = static_cast<uint32_t>(message.size());
  std::string out(1, static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  return out + std::string(message);
}

}  // namespace leakscope::testing

#endif  // LEAKSCOPE_TESTS_SUPPORT_PROTOBUF_WIRE_H_
