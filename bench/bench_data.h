// Deterministic inputs shared by the benchmarks (engine_bench.cc, filter_host_bench.cc): API-like
// JSON, gRPC and log bodies from fixed seeds, and the reference policy's text. Our own PRNG rather
// than <random> distributions, whose output differs between standard libraries, so numbers are
// comparable across machines; bench/filter_bench.mjs ports GenerateCustomersJson byte for byte.
#ifndef LEAKSCOPE_BENCH_BENCH_DATA_H_
#define LEAKSCOPE_BENCH_BENCH_DATA_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace leakscope {

constexpr char kAuthority[] = "api.example.com";
constexpr char kPath[] = "/api/customers";
// Envoy hands body data to filters in buffers of about this size.
constexpr size_t kProxyChunkBytes = 16 * 1024;
// The streaming benchmarks use larger chunks, as a proxy does under sustained load.
constexpr size_t kStreamChunkBytes = 64 * 1024;
constexpr uint64_t kMiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Deterministic data generation.

// SplitMix64: tiny, fast, and its output is fully specified, unlike std:: distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  // True with probability `percent`/100.
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Below(10)));
    return s;
  }
  std::string Hex(int n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(kHex[Below(16)]);
    return s;
  }
  std::string Upper(int n) {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(kChars[Below(32)]);
    return s;
  }

 private:
  uint64_t state_;
};

// One customer record as compact JSON.
std::string CustomerJson(Rng& rng, uint64_t id);
// A JSON array of customer records of about `target` bytes.
std::string GenerateCustomersJson(size_t target, uint64_t seed);
// The same records as protobuf messages in gRPC frames, about `target` bytes.
std::string GenerateCustomersGrpc(size_t target, uint64_t seed);
// Log-like text lines, about one in ten carrying sensitive data, about `target` bytes.
std::string GenerateLogText(size_t target, uint64_t seed);
// A JSON array of integers of 1 to 19 digits (ids, timestamps, amounts in cents), about `target`
// bytes: digit runs that card patterns must look into.
std::string GenerateNumbersJson(size_t target, uint64_t seed);
// SSN-shaped values (ddd-dd-dddd) separated by spaces and newlines, about `target` bytes: a
// body where every value is a match.
std::string GenerateSsnText(size_t target, uint64_t seed);
// Short lines naming a phone number or a date of birth ("phone 5551234567", "dob 4/11/1987"),
// some without the word, about `target` bytes: the reference policy's correlations at their
// densest.
std::string GenerateCorrelatedText(size_t target, uint64_t seed);

// Bodies per size (4 MiB in all, between 1 and 64), and the cached bodies of a size.
size_t BodyVariants(size_t size);
using Bodies = std::vector<std::string>;
const Bodies& CachedJson(size_t size);
const Bodies& CachedGrpc(size_t size);
const Bodies& CachedText(size_t size);
const Bodies& CachedNumbersJson(size_t size);
const Bodies& CachedSsnText(size_t size);
const Bodies& CachedCorrelatedText(size_t size);

// The shared conformance reference policy, else examples/policies/default.yaml; empty if neither
// can be read.
const std::string& ReferencePolicyText();

}  // namespace leakscope

#endif  // LEAKSCOPE_BENCH_BENCH_DATA_H_
