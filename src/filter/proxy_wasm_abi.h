// Proxy-WASM ABI 0.2.1 as Envoy implements it: the host functions the filter imports and the
// enums it exchanges. Hand-written because no proxy-wasm SDK is packaged in Debian; only the calls
// listed in ../shared/proxy-wasm-abi.md may be declared here (a test checks the built module).
#ifndef LEAKSCOPE_FILTER_PROXY_WASM_ABI_H_
#define LEAKSCOPE_FILTER_PROXY_WASM_ABI_H_

#include <cstddef>
#include <cstdint>

namespace proxy_wasm {

enum class WasmResult : uint32_t {
  kOk = 0,
  kNotFound = 1,
  kBadArgument = 2,
  kSerializationFailure = 3,
  kParseFailure = 4,
  kEmpty = 7,
  kCasMismatch = 8,
  kInternalFailure = 10,
  kUnimplemented = 12,
};

enum class LogLevel : uint32_t { kTrace = 0, kDebug = 1, kInfo = 2, kWarn = 3, kError = 4, kCritical = 5 };

enum class BufferType : uint32_t {
  kHttpRequestBody = 0,
  kHttpResponseBody = 1,
  kDownstreamData = 2,
  kUpstreamData = 3,
  kHttpCallResponseBody = 4,
  kGrpcReceiveBuffer = 5,
  kVmConfiguration = 6,
  kPluginConfiguration = 7,
};

enum class HeaderMapType : uint32_t {
  kRequestHeaders = 0,
  kRequestTrailers = 1,
  kResponseHeaders = 2,
  kResponseTrailers = 3,
  kHttpCallResponseHeaders = 6,
  kHttpCallResponseTrailers = 7,
};

enum class MetricType : uint32_t { kCounter = 0, kGauge = 1, kHistogram = 2 };

enum class StreamType : uint32_t { kRequest = 0, kResponse = 1, kDownstream = 2, kUpstream = 3 };

// Return values of the header and body callbacks.
enum class FilterHeadersStatus : uint32_t { kContinue = 0, kStopIteration = 1 };
enum class FilterDataStatus : uint32_t { kContinue = 0, kStopIterationAndBuffer = 1, kStopIterationNoBuffer = 3 };

}  // namespace proxy_wasm

#define LEAKSCOPE_PROXY_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

extern "C" {
using proxy_wasm::WasmResult;

LEAKSCOPE_PROXY_IMPORT(proxy_log)
WasmResult proxy_log(uint32_t level, const char* message, size_t message_size);
LEAKSCOPE_PROXY_IMPORT(proxy_get_buffer_bytes)
WasmResult proxy_get_buffer_bytes(uint32_t type, uint32_t start, uint32_t length, const char** ptr, size_t* size);
LEAKSCOPE_PROXY_IMPORT(proxy_set_buffer_bytes)
WasmResult proxy_set_buffer_bytes(uint32_t type, uint32_t start, uint32_t length, const char* data, size_t size);
LEAKSCOPE_PROXY_IMPORT(proxy_get_header_map_pairs)
WasmResult proxy_get_header_map_pairs(uint32_t type, const char** ptr, size_t* size);
LEAKSCOPE_PROXY_IMPORT(proxy_remove_header_map_value)
WasmResult proxy_remove_header_map_value(uint32_t type, const char* key, size_t key_size);
LEAKSCOPE_PROXY_IMPORT(proxy_send_local_response)
WasmResult proxy_send_local_response(uint32_t status, const char* details, size_t details_size, const char* body,
                                     size_t body_size, const char* headers, size_t headers_size, int32_t grpc_status);
LEAKSCOPE_PROXY_IMPORT(proxy_close_stream)
WasmResult proxy_close_stream(uint32_t stream_type);
LEAKSCOPE_PROXY_IMPORT(proxy_define_metric)
WasmResult proxy_define_metric(uint32_t type, const char* name, size_t name_size, uint32_t* metric_id);
LEAKSCOPE_PROXY_IMPORT(proxy_increment_metric)
WasmResult proxy_increment_metric(uint32_t metric_id, int64_t offset);
LEAKSCOPE_PROXY_IMPORT(proxy_record_metric)
WasmResult proxy_record_metric(uint32_t metric_id, uint64_t value);
LEAKSCOPE_PROXY_IMPORT(proxy_http_call)
WasmResult proxy_http_call(const char* upstream, size_t upstream_size, const char* headers, size_t headers_size,
                           const char* body, size_t body_size, const char* trailers, size_t trailers_size,
                           uint32_t timeout_ms, uint32_t* token);
LEAKSCOPE_PROXY_IMPORT(proxy_set_tick_period_milliseconds)
WasmResult proxy_set_tick_period_milliseconds(uint32_t period_ms);
LEAKSCOPE_PROXY_IMPORT(proxy_get_property)
WasmResult proxy_get_property(const char* path, size_t path_size, const char** value, size_t* value_size);
LEAKSCOPE_PROXY_IMPORT(proxy_get_current_time_nanoseconds)
WasmResult proxy_get_current_time_nanoseconds(uint64_t* nanoseconds);
}

#endif  // LEAKSCOPE_FILTER_PROXY_WASM_ABI_H_
