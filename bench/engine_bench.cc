// Throughput, scaling and memory benchmarks for the LeakScope engine.
//
// Every benchmark drives the public API the way a proxy filter does: compile a policy once,
// then per HTTP response create a Transaction, pass the headers and feed the body in chunks.
// Inputs are generated deterministically (fixed seeds, our own PRNG rather than <random>
// distributions, whose output differs between standard libraries) so numbers are comparable
// across machines and runs. See bench/README.md for how to run them.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/report.h"
#include "engine/transaction.h"
#include "bench_data.h"
#include "support/files.h"

namespace leakscope {
namespace {

// Compiles `yaml`; on failure returns null and sets *error.
std::shared_ptr<const CompiledPolicy> CompileYaml(const std::string& yaml, std::string* error) {
  if (yaml.empty()) {
    *error = "policy file not found";
    return nullptr;
  }
  StatusOr<Policy> policy = LoadPolicy(yaml);
  if (!policy.ok()) {
    *error = "LoadPolicy: " + policy.status().message();
    return nullptr;
  }
  auto compiled = CompiledPolicy::Compile(std::move(policy).value());
  if (!compiled.ok()) {
    *error = "Compile: " + compiled.status().message();
    return nullptr;
  }
  return std::move(compiled).value();
}

struct PolicyOrError {
  std::shared_ptr<const CompiledPolicy> policy;
  std::string error;
};

// A policy compiled once for the process (never freed: benchmarks run until exit).
const PolicyOrError* CompiledForever(const std::string& yaml) {
  auto* r = new PolicyOrError();
  r->policy = CompileYaml(yaml, &r->error);
  return r;
}

const PolicyOrError& ReferencePolicy() {
  static const PolicyOrError* p = CompiledForever(ReferencePolicyText());
  return *p;
}

// Single-quoted YAML scalars keep regex backslashes literal; only quotes need doubling.
std::string YamlSingleQuoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  out += "'";
  return out;
}

// A policy of `n` distinct categories cycling through the rule shapes real policies use:
// digit-pattern regexes, email-like regexes, token-prefix regexes, raw keywords and
// case-insensitive keywords. Variants are parameterised by index so no two are identical
// (identical rules could be deduplicated and would understate the cost of a category).
std::string GeneratePolicyYaml(int n) {
  static constexpr const char* kTokenPrefixes[] = {"AKIA", "ASIA", "AGPA", "AIDA", "AROA",
                                                   "ANPA", "ANVA", "APKA", "ABIA", "ACCA"};
  static constexpr const char* kKeywords[] = {"api_key", "client_secret", "private_key",
                                              "refresh_token", "session_id", "x-api-token",
                                              "db_password", "signing_key", "webhook_secret",
                                              "auth_code"};
  static constexpr const char* kInsensitive[] = {"password", "passwd", "authorization",
                                                 "bearer", "secret", "credential", "passphrase",
                                                 "pin_code", "security_answer", "otp"};
  std::string categories = "categories:\n";
  std::string config;
  for (int i = 0; i < n; ++i) {
    const int v = i / 5;  // variant within the rule shape
    std::string kind;
    std::string rule;
    switch (i % 5) {
      case 0:
        kind = "regex";
        rule = v == 0 ? "\\b\\d{3}-\\d{2}-\\d{4}\\b"
                      : "\\b\\d{" + std::to_string(2 + v % 4) + "}-\\d{" +
                            std::to_string(3 + v % 3) + "}-\\d{4}\\b";
        break;
      case 1:
        kind = "regex";
        rule = v == 0 ? "\\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}\\b"
                      : "\\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9-]*corp" + std::to_string(v) +
                            "\\.(?:com|net|org)\\b";
        break;
      case 2:
        kind = "regex";
        rule = std::string("\\b") + kTokenPrefixes[v % 10] + "[A-Z0-9]{16}\\b";
        break;
      case 3:
        kind = "raw";
        rule = kKeywords[v % 10] + (v >= 10 ? "_" + std::to_string(v) : std::string());
        break;
      default:
        kind = "raw_insensitive";
        rule = kInsensitive[v % 10] + (v >= 10 ? "_" + std::to_string(v) : std::string());
        break;
    }
    const std::string name = "cat_" + std::to_string(i);
    categories += "  " + name + ":\n    - " + kind + ": " + YamlSingleQuoted(rule) + "\n";
    config += "      " + name + ": {}\n";
  }
  return categories + "endpoints:\n  - matches: '**'\n    config:\n" + config;
}

const PolicyOrError& GeneratedPolicy(int n) {
  static auto* cache = new std::map<int, PolicyOrError>();
  auto it = cache->find(n);
  if (it == cache->end()) {
    PolicyOrError p;
    p.policy = CompileYaml(GeneratePolicyYaml(n), &p.error);
    it = cache->emplace(n, std::move(p)).first;
  }
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// Driving the engine.

uint64_t TotalMatches(const DirectionReport& report) {
  uint64_t n = 0;
  for (const CategoryReport& c : report.categories) n += c.count;
  return n;
}

// Scans one response body as a proxy would: fresh transaction (its endpoint resolved through the
// proxy's cache), headers, then fixed-size chunks. As a proxy does, it takes the forwarded
// output only when the transaction may hold the body back (else the chunk leaves as it came),
// and discards it after each chunk. Returns false if the engine did not analyse the body (a
// misconfigured benchmark).
bool ScanResponse(const std::shared_ptr<const CompiledPolicy>& policy, std::string_view body,
                  const char* content_type, std::string* out, uint64_t* matches) {
  static auto* cache = new PolicyCache();
  Transaction tx(policy, kAuthority, kPath, {}, cache);
  tx.OnHeaders(Direction::kResponse, {{"content-type", content_type}});
  std::string* forwarded = tx.may_hold_body(Direction::kResponse) ? out : nullptr;
  size_t pos = 0;
  do {
    const size_t n = std::min(kProxyChunkBytes, body.size() - pos);
    out->clear();
    tx.OnBody(Direction::kResponse, body.substr(pos, n), pos + n == body.size(), forwarded);
    benchmark::DoNotOptimize(out->data());
    pos += n;
  } while (pos < body.size());
  const DirectionReport& report = tx.report(Direction::kResponse);
  *matches = TotalMatches(report);
  return report.analyzed;
}

void RunScan(benchmark::State& state, const PolicyOrError& policy, const Bodies& bodies,
             const char* content_type) {
  if (!policy.policy) {
    state.SkipWithError(policy.error.c_str());
    return;
  }
  std::string out;
  out.reserve(kProxyChunkBytes * 2);
  uint64_t matches = 0;
  uint64_t total_matches = 0;
  int64_t total_bytes = 0;
  bool analyzed = true;
  size_t next = 0;
  for (auto _ : state) {
    analyzed = ScanResponse(policy.policy, bodies[next], content_type, &out, &matches) && analyzed;
    total_matches += matches;
    total_bytes += static_cast<int64_t>(bodies[next].size());
    next = (next + 1) % bodies.size();
  }
  if (!analyzed) {
    state.SkipWithError("engine did not analyse the body (endpoint or content type mismatch)");
    return;
  }
  state.SetBytesProcessed(total_bytes);
  // Matches per body: a sanity check that the data exercises the policy (0 would mean the
  // benchmark measures only the fast path).
  state.counters["matches"] = static_cast<double>(total_matches) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["bodies"] = static_cast<double>(bodies.size());
}

// ---------------------------------------------------------------------------------------------
// 1-3: throughput.

// Whole engine, reference policy, API-like JSON responses of state.range(0) bytes.
void BM_Json(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedJson(static_cast<size_t>(state.range(0))), "application/json");
}
BENCHMARK(BM_Json)->Arg(1024)->Arg(64 * 1024)->Arg(10 * 1024 * 1024);

// Whole engine, reference policy, log-like text/plain responses.
void BM_Text(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedText(static_cast<size_t>(state.range(0))), "text/plain");
}
BENCHMARK(BM_Text)->Arg(64 * 1024)->Arg(10 * 1024 * 1024);

// Whole engine, reference policy, JSON arrays of integers: digit runs everywhere, where a card
// pattern that only some digits start made RE2's DFA build states all through (2 MB/s once).
void BM_NumbersJson(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedNumbersJson(static_cast<size_t>(state.range(0))), "application/json");
}
BENCHMARK(BM_NumbersJson)->Arg(64 * 1024)->Arg(kMiB);

// Whole engine, reference policy, text where its correlations (a number near "phone", a date
// near "dob") have candidates on every line: each primary was once compared with every queued
// secondary.
void BM_CorrelatedText(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedCorrelatedText(static_cast<size_t>(state.range(0))), "text/plain");
}
BENCHMARK(BM_CorrelatedText)->Arg(64 * 1024)->Arg(kMiB);

// Whole engine with LeakSignal's advanced example policy, which redacts SSNs (the body is held
// back and rewritten as it streams): log-like text, and a text of SSNs alone, every value
// redacted (a release applying thousands of redactions was once quadratic in them).
const PolicyOrError& RedactingPolicy() {
  static const PolicyOrError* p =
      CompiledForever(testing::ReadFileOrDie(testing::SharedDir() + "/conformance/leaksignal-examples/advanced_policy.yaml"));
  return *p;
}
void BM_RedactText(benchmark::State& state) {
  RunScan(state, RedactingPolicy(), CachedText(static_cast<size_t>(state.range(0))), "text/plain");
}
BENCHMARK(BM_RedactText)->Arg(64 * 1024);
void BM_RedactSsnText(benchmark::State& state) {
  RunScan(state, RedactingPolicy(), CachedSsnText(static_cast<size_t>(state.range(0))), "text/plain");
}
BENCHMARK(BM_RedactSsnText)->Arg(64 * 1024)->Arg(kMiB);

// Whole engine, reference policy, gRPC responses carrying the same kind of records as BM_Json
// (protobuf without a schema: GrpcWalker).
void BM_Grpc(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedGrpc(static_cast<size_t>(state.range(0))), "application/grpc");
}
BENCHMARK(BM_Grpc)->Arg(64 * 1024)->Arg(10 * 1024 * 1024);

// How cost grows with the number of categories: 1 MiB JSON, generated N-category policy.
void BM_Categories(benchmark::State& state) {
  RunScan(state, GeneratedPolicy(static_cast<int>(state.range(0))), CachedJson(kMiB), "application/json");
}
BENCHMARK(BM_Categories)->Arg(1)->Arg(10)->Arg(50);

// ---------------------------------------------------------------------------------------------
// 4: memory while streaming a large body.

// Resident set size figures in KiB from /proc/self/status ("VmHWM", "VmRSS"); -1 if unavailable.
long ReadProcStatusKiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) {
      return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
    }
  }
  return -1;
}

long PeakRssKiB() {
  const long hwm = ReadProcStatusKiB("VmHWM");
  if (hwm >= 0) return hwm;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

// Resets the kernel's peak-RSS mark (Linux >= 4.0) so the peak measured afterwards belongs to
// this benchmark, not to an earlier one that held a 10 MiB body. Returns false if unsupported.
bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

uint64_t StreamBytesTarget() {
  uint64_t mib = 1024;
  if (const char* env = std::getenv("LEAKSCOPE_BENCH_STREAM_MIB")) {
    const uint64_t v = std::strtoull(env, nullptr, 10);
    if (v > 0) mib = v;
  }
  return mib * kMiB;
}

// A body made of a prefix, a cycled middle, and a suffix, so gigabytes can be streamed from a
// few MiB of distinct generated data.
struct StreamBody {
  const char* content_type;
  std::string prefix;
  std::string cycle;  // repeated; the streamed middle is cycled_bytes of it, wrapping around
  std::string suffix;
  uint64_t cycled_bytes = 0;
};

enum class StreamKind { kText, kJsonBlob, kJsonArray };

constexpr size_t kCycleBytes = 4 * kMiB;

StreamBody MakeStreamBody(StreamKind kind, uint64_t total) {
  StreamBody b;
  switch (kind) {
    case StreamKind::kText:
      b.content_type = "text/plain";
      b.cycle = GenerateLogText(kCycleBytes, 11);
      break;
    case StreamKind::kJsonBlob: {
      // One huge string value: the tokenizer must not buffer the whole value to scan it.
      b.content_type = "application/json";
      b.prefix = "{\"blob\":\"";
      b.suffix = "\"}";
      const std::string text = GenerateLogText(kCycleBytes, 13);
      b.cycle.reserve(text.size() + text.size() / 50);
      for (char c : text) {
        if (c == '\n') b.cycle += "\\n";  // escaped, as a JSON-embedded log would be
        else b.cycle += c;
      }
      break;
    }
    case StreamKind::kJsonArray: {
      // Many small objects: per-value overhead (paths, contexts) dominates here. The cycle is
      // whole records each followed by ',', so the middle must end on a record boundary.
      b.content_type = "application/json";
      b.prefix = "[";
      b.suffix = "{\"id\":0,\"end\":true}]";
      Rng rng(17);
      uint64_t id = 1;
      std::vector<size_t> record_ends;
      while (b.cycle.size() < kCycleBytes) {
        b.cycle += CustomerJson(rng, id++) + ",";
        record_ends.push_back(b.cycle.size());
      }
      const uint64_t middle = total - std::min<uint64_t>(total, b.prefix.size() + b.suffix.size());
      const uint64_t rest = middle % b.cycle.size();
      auto last = std::upper_bound(record_ends.begin(), record_ends.end(), rest);
      b.cycled_bytes = middle - rest + (last == record_ends.begin() ? 0 : *(last - 1));
      return b;
    }
  }
  b.cycled_bytes = total - std::min<uint64_t>(total, b.prefix.size() + b.suffix.size());
  return b;
}

// Streams `body` through one fresh Transaction in 64 KiB chunks, cycling `ring` (the cycle
// followed by its own first chunk, so every window starting inside the cycle is contiguous and
// every chunk has the full size wherever the cycle wraps). Returns the number of matches.
uint64_t StreamThrough(const std::shared_ptr<const CompiledPolicy>& policy, const StreamBody& body,
                       std::string_view ring, uint64_t cycled_bytes, std::string* out) {
  Transaction tx(policy, kAuthority, kPath);
  tx.OnHeaders(Direction::kResponse, {{"content-type", body.content_type}});
  out->clear();
  tx.OnBody(Direction::kResponse, body.prefix, false, out);
  uint64_t remaining = cycled_bytes;
  size_t pos = 0;
  while (remaining > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kStreamChunkBytes, remaining));
    out->clear();
    tx.OnBody(Direction::kResponse, ring.substr(pos, n), false, out);
    benchmark::DoNotOptimize(out->data());
    remaining -= n;
    pos = (pos + n) % body.cycle.size();
  }
  out->clear();
  tx.OnBody(Direction::kResponse, body.suffix, true, out);
  return TotalMatches(tx.report(Direction::kResponse));
}

// Streams ~LEAKSCOPE_BENCH_STREAM_MIB (default 1024) MiB through one Transaction and reports
// how much the peak RSS grew: per-stream memory must stay bounded (block + window), not grow
// with the body.
void BM_StreamMemory(benchmark::State& state, StreamKind kind) {
  const PolicyOrError& policy = ReferencePolicy();
  if (!policy.policy) {
    state.SkipWithError(policy.error.c_str());
    return;
  }
  const StreamBody body = MakeStreamBody(kind, StreamBytesTarget());
  std::string ring = body.cycle;
  ring.append(body.cycle, 0, std::min(kStreamChunkBytes, body.cycle.size()));
  const uint64_t streamed = body.prefix.size() + body.cycled_bytes + body.suffix.size();
  std::string out;
  out.reserve(kStreamChunkBytes * 2);

  // Warm-up on one cycle of the data: the compiled policy grows shared caches lazily (RE2 DFA
  // states, up to its memory budget), a one-off cost per policy that would otherwise be
  // mistaken for per-stream memory. Reported separately as warmup_rss_growth_MiB.
  bool reset_ok = ResetPeakRss();
  long before = reset_ok ? ReadProcStatusKiB("VmRSS") : PeakRssKiB();
  StreamThrough(policy.policy, body, ring, std::min<uint64_t>(body.cycle.size(), body.cycled_bytes),
                &out);
  const long warm = PeakRssKiB();
  const double warmup_growth_mib = warm > before ? static_cast<double>(warm - before) / 1024 : 0;

  uint64_t matches = 0;
  double seconds = 0;
  double rss_growth_mib = 0;
  for (auto _ : state) {
    // Baseline: current RSS when the peak mark could be reset, else the previous peak (which
    // then hides growth below it; reported as peak_reset=0).
    reset_ok = ResetPeakRss() && reset_ok;
    before = reset_ok ? ReadProcStatusKiB("VmRSS") : PeakRssKiB();
    const auto start = std::chrono::steady_clock::now();
    matches = StreamThrough(policy.policy, body, ring, body.cycled_bytes, &out);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long after = PeakRssKiB();
    rss_growth_mib = after > before ? static_cast<double>(after - before) / 1024 : 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(streamed));
  state.counters["peak_rss_growth_MiB"] = rss_growth_mib;
  state.counters["warmup_rss_growth_MiB"] = warmup_growth_mib;
  state.counters["MB/s"] = seconds > 0 ? static_cast<double>(streamed) / 1e6 / seconds : 0;
  state.counters["body_MiB"] = static_cast<double>(streamed) / kMiB;
  state.counters["matches"] = static_cast<double>(matches);
  state.counters["peak_reset"] = reset_ok ? 1 : 0;
}
BENCHMARK_CAPTURE(BM_StreamMemory, text, StreamKind::kText)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_StreamMemory, json_blob, StreamKind::kJsonBlob)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_StreamMemory, json_array, StreamKind::kJsonArray)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

// ---------------------------------------------------------------------------------------------
// 5: policy compilation (paid on every policy load or update).

void BM_CompilePolicy(benchmark::State& state) {
  StatusOr<Policy> parsed = LoadPolicy(ReferencePolicyText());
  if (!parsed.ok()) {
    state.SkipWithError(ReferencePolicyText().empty() ? "policy file not found"
                                                      : parsed.status().message().c_str());
    return;
  }
  const Policy& policy = parsed.value();
  for (auto _ : state) {
    // Compile takes the Policy by value; the copy is tiny next to building RE2/PCRE2 programs,
    // and pausing the timer around it would cost more than it hides.
    auto compiled = CompiledPolicy::Compile(policy);
    if (!compiled.ok()) {
      state.SkipWithError(compiled.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(compiled.value().get());
  }
  // Bytes of policy YAML per second: only so every benchmark reports a rate; time/op is the
  // figure that matters here.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(ReferencePolicyText().size()));
}
BENCHMARK(BM_CompilePolicy)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace leakscope

BENCHMARK_MAIN();
