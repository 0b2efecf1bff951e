// Fuzz cases: what the fuzzers (libFuzzer, tests/fuzz/fuzz_target.cc) and the corpus replay test
// (tests/fuzz/fuzz_replay_test.cc) run on each input.
//
// Each check returns an empty string when the engine behaved, else what went wrong. Beyond "does
// not crash" (the sanitizers' part), CheckBodyCase is differential: a body's report and
// forwarded bytes must not depend on how the body is chunked, on batching short values or not,
// or on a PolicyCache shared with earlier transactions — what the engine promises, on bodies no
// one wrote by hand.
#ifndef LEAKSCOPE_TESTS_FUZZ_FUZZ_CASES_H_
#define LEAKSCOPE_TESTS_FUZZ_FUZZ_CASES_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace leakscope::fuzz {

// Input: byte 0 picks the policy, the content type and coding, and the options; bytes 1-2 seed
// the chunk sizes; the rest is the body.
std::string CheckBodyCase(const uint8_t* data, size_t size);

// Input: a policy (YAML). Loading and compiling either succeed or fail with a message naming the
// field and its line; a policy that compiles scans a small body.
std::string CheckPolicyCase(const uint8_t* data, size_t size);

// Input: byte 0 picks a policy (token extraction from a request header or a cookie, header
// matching); the rest is request and response headers, one per line, "name:value". Headers are
// matched and tokens extracted (JWT decoding, JSON paths, metadata) without crashing, and alike
// for a transaction on a fresh PolicyCache and one on a cache that has seen them.
std::string CheckHeadersCase(const uint8_t* data, size_t size);

// Input: byte 0 picks a Content-Encoding (gzip, deflate, br, or two stacked), byte 1 seeds the
// chunk sizes, byte 2 may set a small cap on decoded bytes; the rest is a payload. Compressed by
// zlib and brotli, it decodes back exactly, under any chunking, or up to the cap; and the payload
// itself, decoded as if it were compressed, neither crashes the decoder nor passes the cap.
std::string CheckDecoderCase(const uint8_t* data, size_t size);

// Input: byte 0 picks `grpc-encoding: gzip` or none and the walker's limits, byte 1 seeds the
// chunk sizes; the rest is a gRPC body. The schema-less walker delivers the same scalars (text,
// path, body offsets) and ends the same way whole, chunked and one byte at a time.
std::string CheckGrpcCase(const uint8_t* data, size_t size);

// Input: byte 0 seeds the chunk sizes; the rest is fed to the JSON tokenizer. For a document
// nlohmann/json accepts, the tokenizer delivers the same keys, strings and numbers in the same
// order with the same decoded text (escapes, surrogate pairs) and JSON paths; for anything, it
// does not crash.
std::string CheckJsonCase(const uint8_t* data, size_t size);

// Input: byte 0 even, the rest is a plugin configuration (the filter's `configuration` string);
// odd, a Command policy response (docs/protocol.md). Each parses or is refused with a message;
// a configuration's inline policy, if any, loads or is refused likewise.
std::string CheckFilterInputCase(const uint8_t* data, size_t size);

}  // namespace leakscope::fuzz

#endif  // LEAKSCOPE_TESTS_FUZZ_FUZZ_CASES_H_
