// The filter's own cost per transaction, natively: src/filter/filter.cc built for the host machine
// and driven through its Proxy-WASM callbacks the way Envoy drives a stream (request headers,
// response headers, body, on_log, on_done, on_delete), with the engine inside it.
//
// bench/filter_bench.mjs times the real leakscope.wasm in V8, but V8's timings drift with the
// machine by tens of percent; here the same code runs natively, where callgrind counts its
// instructions exactly (bench/README.md), so a change to the filter's per-request work can be
// measured to the percent. The host below serves the ABI calls filter.cc makes from plain
// memory, as cheaply as it can: it is a harness for timing, not a model of Envoy
// (tests/filter/proxy_wasm_host.mjs is that, and the tests run the module in it).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench_data.h"
#include "engine/report.h"
#include "filter/command_protocol.h"
#include "filter/proxy_wasm_abi.h"

// The callbacks filter.cc exports.
extern "C" {
void* proxy_on_memory_allocate(size_t size);
void proxy_on_context_create(uint32_t context_id, uint32_t parent_id);
uint32_t proxy_on_vm_start(uint32_t, uint32_t);
uint32_t proxy_on_configure(uint32_t root_id, uint32_t config_size);
uint32_t proxy_on_request_headers(uint32_t id, uint32_t, uint32_t end_of_stream);
uint32_t proxy_on_response_headers(uint32_t id, uint32_t, uint32_t end_of_stream);
uint32_t proxy_on_response_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream);
void proxy_on_log(uint32_t id);
uint32_t proxy_on_done(uint32_t id);
void proxy_on_delete(uint32_t id);
}

namespace leakscope {
namespace {

// What the host serves the stream being driven.
struct HostState {
  std::string plugin_config;
  std::string request_headers;   // serialised header maps (Envoy's format)
  std::string response_headers;
  std::string_view body;         // the current chunk
  uint32_t next_metric_id = 0;
};

HostState& Host() {
  static HostState* host = new HostState();
  return *host;
}

// A copy in memory the module owns (and frees), as a host hands results back.
void GiveToModule(std::string_view bytes, const char** ptr, size_t* size) {
  char* p = static_cast<char*>(proxy_on_memory_allocate(bytes.empty() ? 1 : bytes.size()));
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  *ptr = p;
  *size = bytes.size();
}

}  // namespace
}  // namespace leakscope

// The ABI calls filter.cc imports (filter/proxy_wasm_abi.h).
extern "C" {
using proxy_wasm::WasmResult;

WasmResult proxy_log(uint32_t, const char*, size_t) { return WasmResult::kOk; }
WasmResult proxy_get_buffer_bytes(uint32_t type, uint32_t start, uint32_t length, const char** ptr, size_t* size) {
  leakscope::HostState& h = leakscope::Host();
  std::string_view all = type == static_cast<uint32_t>(proxy_wasm::BufferType::kPluginConfiguration)
                             ? std::string_view(h.plugin_config)
                             : h.body;
  if (start > all.size()) return WasmResult::kBadArgument;
  leakscope::GiveToModule(all.substr(start, length), ptr, size);
  return WasmResult::kOk;
}
WasmResult proxy_set_buffer_bytes(uint32_t, uint32_t, uint32_t, const char*, size_t) { return WasmResult::kOk; }
WasmResult proxy_get_header_map_pairs(uint32_t type, const char** ptr, size_t* size) {
  leakscope::HostState& h = leakscope::Host();
  const bool request = type == static_cast<uint32_t>(proxy_wasm::HeaderMapType::kRequestHeaders);
  leakscope::GiveToModule(request ? h.request_headers : h.response_headers, ptr, size);
  return WasmResult::kOk;
}
WasmResult proxy_remove_header_map_value(uint32_t, const char*, size_t) { return WasmResult::kOk; }
WasmResult proxy_send_local_response(uint32_t, const char*, size_t, const char*, size_t, const char*, size_t,
                                     int32_t) {
  return WasmResult::kOk;
}
WasmResult proxy_close_stream(uint32_t) { return WasmResult::kOk; }
WasmResult proxy_define_metric(uint32_t, const char*, size_t, uint32_t* id) {
  *id = ++leakscope::Host().next_metric_id;
  return WasmResult::kOk;
}
WasmResult proxy_increment_metric(uint32_t, int64_t) { return WasmResult::kOk; }
WasmResult proxy_record_metric(uint32_t, uint64_t) { return WasmResult::kOk; }
WasmResult proxy_http_call(const char*, size_t, const char*, size_t, const char*, size_t, const char*, size_t,
                           uint32_t, uint32_t*) {
  return WasmResult::kInternalFailure;  // local mode: never called
}
WasmResult proxy_set_tick_period_milliseconds(uint32_t) { return WasmResult::kOk; }
// The properties an Istio sidecar's streams read (source address, SPIFFE identities, node metadata).
WasmResult proxy_get_property(const char* path, size_t path_size, const char** value, size_t* value_size) {
  const std::string_view p(path, path_size);
  std::string_view v;
  if (p == std::string_view("source\0address\0", 15)) {
    v = "10.0.0.7:51234";
  } else if (p == std::string_view("connection\0uri_san_local_certificate\0", 37)) {
    v = "spiffe://cluster.local/ns/shop/sa/orders";
  } else if (p == std::string_view("connection\0uri_san_peer_certificate\0", 36)) {
    v = "spiffe://cluster.local/ns/web/sa/frontend";
  } else if (p == std::string_view("node\0metadata\0WORKLOAD_NAME\0", 28)) {
    v = "orders-v1";
  } else {
    return WasmResult::kNotFound;
  }
  leakscope::GiveToModule(v, value, value_size);
  return WasmResult::kOk;
}
WasmResult proxy_get_current_time_nanoseconds(uint64_t* nanoseconds) {
  static uint64_t now = 0;
  *nanoseconds = (now += 1000);
  return WasmResult::kOk;
}
}  // extern "C"

namespace leakscope {
namespace {

constexpr uint32_t kRootId = 1;

// A VM configured with the reference policy in local mode, once per process.
bool Configured() {
  static const bool ok = [] {
    HostState& h = Host();
    h.plugin_config = "{\"local_policy\": ";
    AppendJsonString(ReferencePolicyText(), &h.plugin_config);
    h.plugin_config += "}";
    h.request_headers = SerializeHeaderPairs({{":method", "GET"}, {":scheme", "https"}, {":authority", kAuthority},
                                          {":path", kPath}, {"user-agent", "filter-host-bench"},
                                          {"accept", "application/json"}});
    proxy_on_vm_start(kRootId, 0);
    proxy_on_context_create(kRootId, 0);
    return !ReferencePolicyText().empty() &&
           proxy_on_configure(kRootId, static_cast<uint32_t>(h.plugin_config.size())) != 0;
  }();
  return ok;
}

// One stream: a bodiless GET, then a 200 JSON response whose body comes in `chunk`-byte pieces.
__attribute__((always_inline)) inline void DriveStream(uint32_t id, const std::string& body, size_t chunk) {
  HostState& h = Host();
  h.response_headers = SerializeHeaderPairs(
      {{":status", "200"}, {"content-type", "application/json"}, {"content-length", std::to_string(body.size())}});
  proxy_on_context_create(id, kRootId);
  proxy_on_request_headers(id, 6, 1);
  proxy_on_response_headers(id, 3, 0);
  for (size_t pos = 0; pos < body.size(); pos += chunk) {
    h.body = std::string_view(body).substr(pos, chunk);
    proxy_on_response_body(id, static_cast<uint32_t>(h.body.size()), pos + chunk >= body.size() ? 1 : 0);
  }
  proxy_on_log(id);
  proxy_on_done(id);
  proxy_on_delete(id);
}

// A measured request. Not inlined, so that callgrind counts its instructions per call
// (bench/README.md); the warm-up's requests are not counted with them.
__attribute__((noinline)) void OneRequest(uint32_t id, const std::string& body, size_t chunk) {
  DriveStream(id, body, chunk);
}

// range(0): body size (0: "{}", the filter's fixed cost); range(1): chunk size (0: whole body).
// Every body is sent once before the measured requests: what the VM remembers across requests
// (clean texts, resolved endpoints and services) is then as warm as in steady traffic, and the
// average per request does not depend on how many requests the library chooses to run.
void BM_FilterTransaction(benchmark::State& state) {
  if (!Configured()) {
    state.SkipWithError("the filter did not configure with the reference policy");
    return;
  }
  const size_t size = static_cast<size_t>(state.range(0));
  static const Bodies* empty = new Bodies{"{}"};
  const Bodies& bodies = size == 0 ? *empty : CachedJson(size);
  uint32_t id = kRootId;
  auto chunk_of = [&state](const std::string& body) {
    return state.range(1) > 0 ? static_cast<size_t>(state.range(1)) : body.size();
  };
  for (const std::string& body : bodies) DriveStream(++id, body, chunk_of(body));
  size_t next = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    const std::string& body = bodies[next];
    next = (next + 1) % bodies.size();
    OneRequest(++id, body, chunk_of(body));
    bytes += body.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["bodies"] = static_cast<double>(bodies.size());
}
BENCHMARK(BM_FilterTransaction)
    ->ArgNames({"size", "chunk"})
    ->Args({0, 0})
    ->Args({1024, 0})
    ->Args({16 * 1024, 0})
    ->Args({16 * 1024, 1024})
    ->Args({1024 * 1024, 16 * 1024});  // as filter_bench.mjs sends 1 MiB (Envoy's buffer size)

}  // namespace
}  // namespace leakscope
