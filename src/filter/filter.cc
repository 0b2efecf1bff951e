// leakscope.wasm: the engine as a Proxy-WASM (ABI 0.2.1) HTTP filter for Envoy and Istio.
//
// Only this file knows about Proxy-WASM. Each HTTP stream gets an engine Transaction; body chunks
// are analysed as they pass and forwarded at once unless a redact or block action needs the
// bounded hold-back window. Reports become Envoy stats and, with `log_reports`, log lines.

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/ascii.h"
#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/short_bytes.h"
#include "engine/string_map.h"
#include "engine/transaction.h"
#include "filter/command_protocol.h"
#include "filter/metric_names.h"
#include "filter/plugin_config.h"
#include "filter/proxy_wasm_abi.h"

using proxy_wasm::BufferType;
using proxy_wasm::FilterDataStatus;
using proxy_wasm::FilterHeadersStatus;
using proxy_wasm::HeaderMapType;
using proxy_wasm::LogLevel;
using proxy_wasm::MetricType;
using proxy_wasm::StreamType;

namespace leakscope {
namespace {

void Log(LogLevel level, const std::string& message) {
  proxy_log(static_cast<uint32_t>(level), message.data(), message.size());
}

// Host-allocated results (proxy_get_*) are owned by the module and must be freed.
struct HostBytes {
  const char* data = nullptr;
  size_t size = 0;
  HostBytes() = default;
  HostBytes(const HostBytes&) = delete;
  HostBytes& operator=(const HostBytes&) = delete;
  ~HostBytes() { Reset(); }
  void Reset() {
    std::free(const_cast<char*>(data));
    data = nullptr;
    size = 0;
  }
  std::string_view view() const { return data ? std::string_view(data, size) : std::string_view(); }
};

bool GetBuffer(BufferType type, size_t start, size_t length, HostBytes* out) {
  return proxy_get_buffer_bytes(static_cast<uint32_t>(type), static_cast<uint32_t>(start),
                                static_cast<uint32_t>(length), &out->data, &out->size) == WasmResult::kOk;
}

// A header map as the host hands it over: its serialisation, kept, and the fields as views of it
// (engine/headers.h): reading a map allocates nothing beyond the host's buffer.
struct HeaderMap {
  HostBytes raw;
  HeaderList fields;
  void Clear() {
    fields.clear();
    raw.Reset();
  }
};

// Reads a header map into *out (replacing what it held). Envoy's serialisation: u32 count,
// (u32 key_len, u32 value_len) per pair, then each key and value followed by a NUL. False (and
// *out empty) if the host has no such map or its bytes are malformed.
bool GetHeaders(HeaderMapType type, HeaderMap* out) {
  out->Clear();
  if (proxy_get_header_map_pairs(static_cast<uint32_t>(type), &out->raw.data, &out->raw.size) != WasmResult::kOk) {
    return false;
  }
  const std::string_view v = out->raw.view();
  auto read_u32 = [&v](size_t at, uint32_t* value) {
    if (at + 4 > v.size()) return false;
    std::memcpy(value, v.data() + at, 4);
    return true;
  };
  uint32_t count = 0;
  if (!read_u32(0, &count) || count > v.size() / 8) {
    const bool empty_map = v.empty();
    out->Clear();
    return empty_map;
  }
  size_t lens = 4;
  size_t data = 4 + static_cast<size_t>(count) * 8;
  out->fields.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t klen = 0, vlen = 0;
    if (!read_u32(lens, &klen) || !read_u32(lens + 4, &vlen) || data + klen + 1 + vlen + 1 > v.size()) {
      out->Clear();
      return false;
    }
    lens += 8;
    const std::string_view key = v.substr(data, klen);
    data += klen + 1;
    out->fields.emplace_back(key, v.substr(data, vlen));
    data += vlen + 1;
  }
  return true;
}

uint64_t NowNanos() {
  uint64_t t = 0;
  proxy_get_current_time_nanoseconds(&t);
  return t;
}

// Reads the property at `path`, in the ABI's encoding (each segment followed by a NUL), into
// *value; false (and *value empty) when the host has none.
bool ReadProperty(std::string_view path, HostBytes* value) {
  value->Reset();
  return proxy_get_property(path.data(), path.size(), &value->data, &value->size) == WasmResult::kOk;
}

// A property path literal in the ABI's encoding, NULs included ("source\0address\0").
template <size_t N>
constexpr std::string_view EncodedPath(const char (&segments)[N]) {
  return std::string_view(segments, N - 1);
}
// Paths every stream reads, encoded once: encoding them per read was most of a read's time in
// the module (profiled in V8).
constexpr std::string_view kSourceAddress = EncodedPath("source\0address\0");
constexpr std::string_view kLocalCertificateUri = EncodedPath("connection\0uri_san_local_certificate\0");
constexpr std::string_view kPeerCertificateUri = EncodedPath("connection\0uri_san_peer_certificate\0");

// Reads the property at a dotted attribute path ("node.metadata.WORKLOAD_NAME", from a policy)
// into *value; false (and *value empty) when the host has none. The path is encoded into a
// buffer kept across calls: a VM runs one callback at a time, and building it anew allocated
// per read.
bool ReadAttribute(std::string_view dotted, std::string* value) {
  static std::string& path = *new std::string();  // never destroyed, like the registry
  path.clear();
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string_view::npos) dot = dotted.size();
    path.append(dotted.substr(start, dot - start));
    path += '\0';
    start = dot + 1;
  }
  HostBytes bytes;
  const bool found = ReadProperty(path, &bytes);
  value->assign(bytes.view());
  return found;
}

// Parses an Istio SPIFFE identity: spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT.
ServiceName FromSpiffe(std::string_view uri) {
  ServiceName out;
  constexpr std::string_view kScheme = "spiffe://";
  if (uri.substr(0, kScheme.size()) != kScheme) return out;
  uri.remove_prefix(kScheme.size());
  size_t slash = uri.find('/');
  out.cluster = std::string(uri.substr(0, slash));
  if (slash == std::string_view::npos) return out;
  std::string_view rest = uri.substr(slash + 1);
  std::vector<std::string_view> parts;
  while (!rest.empty()) {
    size_t s = rest.find('/');
    parts.push_back(rest.substr(0, s));
    rest = s == std::string_view::npos ? std::string_view() : rest.substr(s + 1);
  }
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    if (parts[i] == "ns") out.ns = std::string(parts[i + 1]);
    if (parts[i] == "sa") out.sa = std::string(parts[i + 1]);
  }
  return out;
}

// A service as a stream's stats and reports name it. Shared, immutable: each stream holds the
// resolution it was made with (copying its names and label into every stream was 4 % of a
// bodiless request's instructions).
struct ResolvedService {
  ServiceName name;
  std::string label;  // name.Label(): the metric label
};
using SharedService = std::shared_ptr<const ResolvedService>;

// Whether attribute `dotted` is node metadata, fixed for the proxy's life.
bool IsNodeAttribute(std::string_view dotted) { return dotted.substr(0, 5) == "node."; }

// Whether `src` reads the same for every stream whose connection presents the same certificates:
// all but attributes outside `node.` (request attributes differ per stream). Conservative.
bool SameForConnection(const ServiceSource& src, int depth = 0) {
  switch (src.kind) {
    case ServiceSource::Kind::kAttrs: return IsNodeAttribute(src.value);
    case ServiceSource::Kind::kDefault:
      if (depth > 4) return false;
      for (const ServiceSource& choice : src.choices) {
        if (!SameForConnection(choice, depth + 1)) return false;
      }
      return true;
    default: return true;
  }
}

// Whether `src` may read the connection's SPIFFE identity (Istio's cluster, namespace or account).
bool ReadsCertificate(const ServiceSource& src, int depth = 0) {
  if (src.kind == ServiceSource::Kind::kIstio) return true;
  if (src.kind != ServiceSource::Kind::kDefault || depth > 4) return false;
  for (const ServiceSource& choice : src.choices) {
    if (ReadsCertificate(choice, depth + 1)) return true;
  }
  return false;
}

// What service identification reads, remembered across a VM's streams. Node metadata is fixed
// for the proxy's life, so a `node.*` attribute is read once. A connection's SPIFFE URI is read
// for every stream (streams come from many connections) but parsed only when it differs from
// the last one (a sidecar's connections mostly present the same certificates), and a whole
// resolution is kept while nothing it read changes. Resolving both services anew was the
// largest part of the filter's own cost of a request (profiled).
class ServiceCache {
 public:
  // The local (or peer) service of a stream under `policy`'s identification `id`.
  const SharedService& Resolve(bool local, const std::shared_ptr<const CompiledPolicy>& policy,
                                 const ServiceIdentification& id);

  // The value of attribute `dotted` (empty if the host has none); node attributes from memory.
  const std::string& Attribute(std::string_view dotted) {
    if (!IsNodeAttribute(dotted)) {
      ReadAttribute(dotted, &scratch_);
      return scratch_;
    }
    auto it = node_.find(dotted);
    if (it == node_.end()) {
      // Bounded: node attribute names come from the policy and the Istio defaults.
      if (node_.size() >= kMaxNodeAttributes) node_.clear();
      ReadAttribute(dotted, &scratch_);
      it = node_.emplace(std::string(dotted), scratch_).first;
    }
    return it->second;
  }
  // The identity in this connection's local (or peer) certificate.
  const ServiceName& Spiffe(bool local) {
    Uri& u = spiffe_[local ? 0 : 1];
    HostBytes uri;
    ReadProperty(local ? kLocalCertificateUri : kPeerCertificateUri, &uri);
    scratch_.assign(uri.view());
    if (!u.parsed || scratch_ != u.uri) {
      u.uri = scratch_;
      u.name = FromSpiffe(u.uri);
      u.parsed = true;
      ++u.changes;
    }
    return u.name;
  }

 private:
  struct Uri {
    bool parsed = false;
    uint64_t changes = 0;  // how many different URIs it has held
    std::string uri;
    ServiceName name;
  };
  // The last resolution of a side: valid for streams under the same policy whose certificate
  // (if the identification reads it) is the one it was made with. What the policy's
  // identification reads is worked out once per policy, not per stream.
  struct Memo {
    std::shared_ptr<const CompiledPolicy> policy;  // held: its address is not reused meanwhile
    bool reads_certificate = false;                // ReadsCertificate of a part of the identification
    bool same_for_connection = false;              // SameForConnection of every part
    bool valid = false;
    uint64_t certificate = 0;  // Uri::changes when made
    SharedService value;
  };
  static constexpr size_t kMaxNodeAttributes = 64;
  StringMap<std::string> node_;
  Uri spiffe_[2];
  Memo memo_[2];
  std::string scratch_;
};

// Resolves the policy's service identification for this or the peer service of a stream.
class ServiceResolver {
 public:
  // `spiffe`: the connection's identity, read by the caller when a source may need it
  // (ReadsCertificate); null otherwise.
  ServiceResolver(bool local, ServiceCache* cache, const ServiceName* spiffe)
      : local_(local), cache_(cache), spiffe_(spiffe) {}

  ServiceName Resolve(const ServiceIdentification& id) {
    ServiceName out;
    out.cluster = Source(id.cluster, &ServiceName::cluster);
    out.ns = Source(id.ns, &ServiceName::ns);
    out.sa = Source(id.sa, &ServiceName::sa);
    out.workload = Source(id.workload, &ServiceName::workload);
    return out;
  }

 private:
  std::string Source(const ServiceSource& src, std::string ServiceName::*part, int depth = 0) {
    switch (src.kind) {
      case ServiceSource::Kind::kNone: return std::string();
      case ServiceSource::Kind::kRaw: return src.value;
      case ServiceSource::Kind::kEnv: {
        const char* v = std::getenv(src.value.c_str());
        return v ? std::string(v) : std::string();
      }
      case ServiceSource::Kind::kAttrs: return cache_->Attribute(src.value);
      case ServiceSource::Kind::kIstio:
        if (part == &ServiceName::workload) {
          return local_ ? cache_->Attribute("node.metadata.WORKLOAD_NAME") : std::string();
        }
        return spiffe_ != nullptr ? spiffe_->*part : std::string();
      case ServiceSource::Kind::kDefault:
        for (const ServiceSource& choice : src.choices) {
          if (depth > 4) break;
          std::string v = Source(choice, part, depth + 1);
          if (!v.empty()) return v;
        }
        return std::string();
    }
    return std::string();
  }

  bool local_;
  ServiceCache* cache_;
  const ServiceName* spiffe_;
};

const SharedService& ServiceCache::Resolve(bool local, const std::shared_ptr<const CompiledPolicy>& policy,
                                           const ServiceIdentification& id) {
  Memo& m = memo_[local ? 0 : 1];
  if (m.policy != policy) {
    m.policy = policy;
    m.reads_certificate = ReadsCertificate(id.cluster) || ReadsCertificate(id.ns) || ReadsCertificate(id.sa);
    m.same_for_connection = SameForConnection(id.cluster) && SameForConnection(id.ns) &&
                            SameForConnection(id.sa) && SameForConnection(id.workload);
    m.valid = false;
  }
  const ServiceName* spiffe = m.reads_certificate ? &Spiffe(local) : nullptr;  // this stream's one read
  const uint64_t changes = spiffe_[local ? 0 : 1].changes;
  if (m.valid && (!m.reads_certificate || m.certificate == changes)) return m.value;
  ResolvedService resolved;
  resolved.name = ServiceResolver(local, this, spiffe).Resolve(id);
  resolved.label = resolved.name.Label();
  m.value = std::make_shared<const ResolvedService>(std::move(resolved));
  m.valid = m.same_for_connection;
  m.certificate = changes;
  return m.value;
}

// Envoy stats defined lazily (never from static constructors: hosts trap host calls made
// during _initialize) and cached by name.
class Metrics {
 public:
  void Increment(const std::string& name, int64_t by) {
    uint32_t id = 0;
    if (by > 0 && Id(MetricType::kCounter, name, &id)) proxy_increment_metric(id, by);
  }
  void Record(const std::string& name, uint64_t value) {
    uint32_t id = 0;
    if (Id(MetricType::kHistogram, name, &id)) proxy_record_metric(id, value);
  }

  // A stat used by id once its name has been looked up (`name` makes the name, only then).
  struct Stat {
    bool resolved = false;
    bool defined = false;
    uint32_t id = 0;
  };
  template <typename NameFn>
  void Increment(Stat* stat, NameFn name, int64_t by) {
    if (by > 0 && Resolve(MetricType::kCounter, stat, name)) proxy_increment_metric(stat->id, by);
  }
  template <typename NameFn>
  void Record(Stat* stat, NameFn name, uint64_t value) {
    if (Resolve(MetricType::kHistogram, stat, name)) proxy_record_metric(stat->id, value);
  }

  // The stats one direction of a transaction records under one label set (direction, endpoint,
  // local and peer service). Every transaction built each of their names (labels sanitised and
  // joined) and hashed it, about a tenth of a 1 KiB transaction's time in the module (profiled
  // in V8); now one short key is looked up per direction.
  struct LabelSet {
    Stat transactions, analysis_time_us, body_bytes;
    std::unordered_map<std::string, std::array<Stat, 2>> matches;  // by category: body, header
  };
  LabelSet& LabelSetFor(Direction d, std::string_view endpoint, std::string_view local, std::string_view peer) {
    // The direction's last label set, when the labels are the same (comparing them costs less
    // than building and hashing the key, and consecutive transactions mostly share them).
    Recent& recent = recent_[d == Direction::kRequest ? 0 : 1];
    if (recent.set != nullptr && EqualText(recent.endpoint, endpoint) && EqualText(recent.local, local) &&
        EqualText(recent.peer, peer)) {
      return *recent.set;
    }
    key_.assign(DirectionName(d)).append(1, '\0').append(endpoint).append(1, '\0').append(local).append(1, '\0').append(peer);
    // A cache of ids only (ids_ keeps the stats): starting over bounds it whatever the traffic.
    if (label_sets_.size() >= kMaxLabelSets && label_sets_.find(key_) == label_sets_.end()) {
      label_sets_.clear();
      for (Recent& r : recent_) r.set = nullptr;
    }
    recent.endpoint.assign(endpoint);
    recent.local.assign(local);
    recent.peer.assign(peer);
    recent.set = &label_sets_[key_];  // elements stay in place until cleared
    return *recent.set;
  }
  // The `responses` stat of a status code (by id after its first use, like a LabelSet's).
  Stat& ResponsesStat(std::string_view status) {
    auto it = responses_.find(status);
    if (it != responses_.end()) return it->second;
    if (responses_.size() >= kMaxLabelSets) responses_.clear();
    return responses_[std::string(status)];
  }

 private:
  template <typename NameFn>
  bool Resolve(MetricType type, Stat* stat, NameFn name) {
    if (!stat->resolved) {
      stat->resolved = true;
      stat->defined = Id(type, name(), &stat->id);
    }
    return stat->defined;
  }

  bool Id(MetricType type, const std::string& name, uint32_t* id) {
    auto it = ids_.find(name);
    if (it != ids_.end()) {
      *id = it->second;
      return true;
    }
    if (ids_.size() >= kMaxMetrics) {
      if (!overflow_logged_) {
        overflow_logged_ = true;
        Log(LogLevel::kWarn, "leakscope: more than " + std::to_string(kMaxMetrics) +
                                 " distinct stats; further label combinations are not recorded");
      }
      return false;
    }
    if (proxy_define_metric(static_cast<uint32_t>(type), name.data(), name.size(), id) != WasmResult::kOk) {
      return false;
    }
    ids_.emplace(name, *id);
    return true;
  }
  // Bounds stat cardinality: a policy path with `!` components could otherwise mint a stat per URL.
  static constexpr size_t kMaxMetrics = 10000;
  static constexpr size_t kMaxLabelSets = 1024;
  std::unordered_map<std::string, uint32_t> ids_;
  std::unordered_map<std::string, LabelSet> label_sets_;
  struct Recent {
    std::string endpoint, local, peer;
    LabelSet* set = nullptr;  // in label_sets_
  };
  Recent recent_[2];  // per direction
  StringMap<Stat> responses_;
  std::string key_;
  bool overflow_logged_ = false;
};

class RootContext {
 public:
  bool OnConfigure(size_t config_size) {
    HostBytes bytes;
    if (config_size > 0 && !GetBuffer(BufferType::kPluginConfiguration, 0, config_size, &bytes)) {
      Log(LogLevel::kError, "leakscope: cannot read the plugin configuration");
      return false;
    }
    auto config = ParsePluginConfig(bytes.view());
    if (!config.ok()) {
      Log(LogLevel::kError, "leakscope: invalid configuration: " + config.status().message());
      return false;
    }
    std::shared_ptr<const CompiledPolicy> compiled;
    if (!config->policy_yaml.empty()) {
      std::string error;
      compiled = Compile(config->policy_yaml, &error);
      if (!compiled) {
        Log(LogLevel::kError, "leakscope: invalid policy: " + error);
        return false;
      }
    }
    config_ = std::move(*config);
    policy_ = compiled;
    if (config_.command.enabled()) {
      const CommandConfig& cc = config_.command;
      uint64_t period = std::min(cc.upload_interval_ms, cc.policy_pull_interval_ms);
      proxy_set_tick_period_milliseconds(static_cast<uint32_t>(period));
    }
    return true;
  }

  // Command mode: pull the policy when due, upload queued reports when due.
  void OnTick() {
    if (!config_.command.enabled()) return;
    const CommandConfig& cc = config_.command;
    uint64_t now = NowNanos() / 1000000;
    if (!pull_in_flight_ && (!policy_from_command_ || now - last_pull_ms_ >= cc.policy_pull_interval_ms)) {
      last_pull_ms_ = now;
      std::string path = "/api/v1/policy?deployment=" + cc.deployment_name;
      uint32_t token = 0;
      if (Call("GET", path, "", &token)) {
        pull_in_flight_ = true;
        calls_[token] = PendingCall{PendingCall::kPull, 0};
      }
    }
    if (!upload_in_flight_ && !queue_.empty() &&
        (now - last_upload_ms_ >= cc.upload_interval_ms || queue_.size() >= cc.upload_batch_size)) {
      last_upload_ms_ = now;
      size_t n = std::min<size_t>(queue_.size(), cc.upload_batch_size);
      std::vector<std::string> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      std::string body = UploadBody(cc.deployment_name, policy_id_, now, dropped_unreported_, batch);
      uint32_t token = 0;
      if (Call("POST", "/api/v1/reports", body, &token)) {
        upload_in_flight_ = true;
        calls_[token] = PendingCall{PendingCall::kUpload, n};
        dropped_in_flight_ = dropped_unreported_;
        dropped_unreported_ = 0;
      } else {
        Dropped(n);
      }
    }
  }

  void OnHttpCallResponse(uint32_t token, uint32_t num_headers, size_t body_size) {
    auto it = calls_.find(token);
    if (it == calls_.end()) return;
    PendingCall call = it->second;
    calls_.erase(it);
    std::string status;
    HeaderMap headers;
    if (num_headers > 0 && GetHeaders(HeaderMapType::kHttpCallResponseHeaders, &headers)) {
      for (const auto& [k, v] : headers.fields) {
        if (k == ":status") status = v;
      }
    }
    if (call.kind == PendingCall::kUpload) {
      upload_in_flight_ = false;
      if (status == "200") {
        metrics_.Increment("leakscope.command_uploads", 1);
        CommandOk();
      } else {
        dropped_unreported_ += dropped_in_flight_;
        Dropped(call.reports);
        CommandError("report upload failed (" + (status.empty() ? std::string("no response") : "status " + status) +
                     "); reports are dropped, not queued, while Command is unavailable");
      }
      return;
    }
    pull_in_flight_ = false;
    if (status == "304") {
      CommandOk();
      return;
    }
    if (status != "200") {
      CommandError("policy pull failed (" + (status.empty() ? std::string("no response") : "status " + status) + ")");
      return;
    }
    HostBytes body;
    if (body_size > 0) GetBuffer(BufferType::kHttpCallResponseBody, 0, body_size, &body);
    auto update = ParsePolicyResponse(body.view());
    if (!update.ok()) {
      CommandError("policy pull: " + update.status().message());
      return;
    }
    blocked_ips_ = update->blocked_ips;
    blocked_tokens_ = update->blocked_tokens;
    if (update->policy_id == policy_id_ && policy_from_command_) {
      CommandOk();
      return;
    }
    std::string error;
    auto compiled = Compile(update->policy_yaml, &error);
    if (!compiled) {
      CommandError("policy " + update->policy_id + " from Command is invalid: " + error +
                   (policy_ ? "; the previous policy stays in force" : ""));
      return;
    }
    policy_ = compiled;
    policy_id_ = update->policy_id;
    policy_from_command_ = true;
    metrics_.Increment("leakscope.policy_updates", 1);
    Log(LogLevel::kInfo, "leakscope: policy " + policy_id_ + " from Command is in force");
    CommandOk();
  }

  void QueueReport(std::string report) {
    if (!config_.command.enabled()) return;
    if (queue_.size() >= config_.command.max_queued_reports) {
      Dropped(1);
      return;
    }
    queue_.push_back(std::move(report));
  }

  bool IsBlockedSource(const std::string& ip) const {
    return std::find(blocked_ips_.begin(), blocked_ips_.end(), ip) != blocked_ips_.end();
  }
  bool has_block_list() const { return !blocked_ips_.empty(); }
  bool IsBlockedToken(const std::string& token) const {
    if (std::find(blocked_tokens_.begin(), blocked_tokens_.end(), token) != blocked_tokens_.end()) return true;
    // The policy's own list (blocked_tokens at the root) applies in local mode too.
    const auto& own = policy_->policy().blocked_tokens;
    return std::find(own.begin(), own.end(), token) != own.end();
  }

  const std::shared_ptr<const CompiledPolicy>& policy() const { return policy_; }
  // Endpoint resolutions of the current policy, shared by the VM's streams.
  PolicyCache* policy_cache() { return &policy_cache_; }
  const PluginConfig& config() const { return config_; }
  Metrics& metrics() { return metrics_; }
  ServiceCache* services() { return &services_; }

 private:
  struct PendingCall {
    enum Kind { kUpload, kPull } kind;
    size_t reports;
  };

  std::shared_ptr<const CompiledPolicy> Compile(const std::string& yaml, std::string* error) {
    auto policy = LoadPolicy(yaml);
    if (!policy.ok()) {
      *error = policy.status().message();
      return nullptr;
    }
    std::vector<PolicyWarning> warnings = policy->warnings;
    auto compiled = CompiledPolicy::Compile(std::move(*policy));
    if (!compiled.ok()) {
      *error = compiled.status().message();
      return nullptr;
    }
    for (const PolicyWarning& w : warnings) Log(LogLevel::kWarn, "leakscope: policy warning: " + w.ToString());
    return *compiled;
  }

  bool Call(const std::string& method, const std::string& path, const std::string& body, uint32_t* token) {
    const CommandConfig& cc = config_.command;
    std::string headers = SerializeHeaderPairs({{":method", method},
                                                {":path", path},
                                                {":authority", cc.authority},
                                                {"content-type", "application/json"},
                                                {"authorization", "Bearer " + cc.api_key},
                                                {"x-leakscope-protocol", std::to_string(kCommandProtocolVersion)}});
    WasmResult r = proxy_http_call(cc.upstream_cluster.data(), cc.upstream_cluster.size(), headers.data(),
                                   headers.size(), body.data(), body.size(), nullptr, 0, kCallTimeoutMs, token);
    if (r != WasmResult::kOk) {
      CommandError("cannot call cluster " + cc.upstream_cluster + " (result " +
                   std::to_string(static_cast<uint32_t>(r)) + ")");
      return false;
    }
    return true;
  }

  void Dropped(uint64_t n) {
    dropped_unreported_ += n;
    metrics_.Increment("leakscope.reports_dropped", static_cast<int64_t>(n));
  }

  // Logs a Command problem once, not per request or per tick, until it changes or clears.
  void CommandError(const std::string& message) {
    metrics_.Increment("leakscope.command_errors", 1);
    if (message == last_command_error_) return;
    last_command_error_ = message;
    Log(LogLevel::kWarn, "leakscope: " + message);
  }
  void CommandOk() {
    if (!last_command_error_.empty()) Log(LogLevel::kInfo, "leakscope: Command reachable again");
    last_command_error_.clear();
  }

  static constexpr uint32_t kCallTimeoutMs = 5000;
  PluginConfig config_;
  std::shared_ptr<const CompiledPolicy> policy_;
  PolicyCache policy_cache_;
  Metrics metrics_;
  ServiceCache services_;
  // Command mode
  std::unordered_map<uint32_t, PendingCall> calls_;
  std::deque<std::string> queue_;
  uint64_t dropped_unreported_ = 0;
  uint64_t dropped_in_flight_ = 0;
  uint64_t last_upload_ms_ = 0;
  uint64_t last_pull_ms_ = 0;
  bool upload_in_flight_ = false;
  bool pull_in_flight_ = false;
  bool policy_from_command_ = false;
  std::string policy_id_;
  std::vector<std::string> blocked_ips_;
  std::vector<std::string> blocked_tokens_;
  std::string last_command_error_;
};

class StreamContext {
 public:
  explicit StreamContext(RootContext* root) : root_(root) {}

  FilterHeadersStatus OnHeaders(Direction d, bool end_of_stream) {
    if (!root_->policy() || stopped_) return FilterHeadersStatus::kContinue;
    HeaderMapType type = d == Direction::kRequest ? HeaderMapType::kRequestHeaders : HeaderMapType::kResponseHeaders;
    GetHeaders(type, &headers_[Index(d)]);  // none on failure
    const HeaderList& headers = headers_[Index(d)].fields;
    if (d == Direction::kRequest) {
      std::string_view authority, path;
      for (const auto& [name, v] : headers) {
        // EqualText: no memcmp call per header and name (a C loop in wasm32).
        if (EqualText(name, ":authority") || (EqualText(name, "host") && authority.empty())) authority = v;
        if (EqualText(name, ":path")) path = v;
        if (EqualText(name, ":method")) method_ = v;
      }
      authority_ = authority;
      path_ = path;
      ReadProperty(kSourceAddress, &source_address_bytes_);
      source_address_ = source_address_bytes_.view();
      const Policy& policy = root_->policy()->policy();
      ServiceCache& services = *root_->services();
      local_service_ = services.Resolve(/*local=*/true, root_->policy(), policy.local_service_name);
      peer_service_ = services.Resolve(/*local=*/false, root_->policy(), policy.peer_service_name);
      if (root_->has_block_list() && root_->IsBlockedSource(AddressWithoutPort(source_address_))) {
        root_->metrics().Increment("leakscope.blocked_sources", 1);
        return BlockHeaders("leakscope_blocked_source");
      }
      Start(authority, path);
    } else {
      if (!tx_) Start("", "");
      for (const auto& [name, v] : headers) {
        if (EqualText(name, ":status")) status_ = v;
      }
    }
    uint64_t t0 = NowNanos();
    tx_->OnHeaders(d, headers);
    headers_seen_[Index(d)] = true;
    if (d == Direction::kRequest && tx_->token() && root_->IsBlockedToken(tx_->token()->token)) {
      root_->metrics().Increment("leakscope.blocked_tokens", 1);
      return BlockHeaders("leakscope_blocked_token");
    }
    if (d == Direction::kResponse && tx_->may_hold_body(d)) {
      // The body may be rewritten, so its length is no longer known.
      static const char kContentLength[] = "content-length";
      proxy_remove_header_map_value(static_cast<uint32_t>(type), kContentLength, sizeof(kContentLength) - 1);
    }
    analysis_ns_[Index(d)] += NowNanos() - t0;
    if (end_of_stream) FinishDirection(d);
    SbacStage stage = d == Direction::kRequest ? SbacStage::kPostRequestHeaders : SbacStage::kPostResponseHeaders;
    if (end_of_stream) stage = d == Direction::kRequest ? SbacStage::kPostRequestBody : SbacStage::kPostResponseTrailers;
    if (SbacBlocks(stage)) return BlockHeaders("leakscope_blocked_sbac");
    return FilterHeadersStatus::kContinue;
  }

  FilterDataStatus OnBody(Direction d, size_t body_size, bool end_of_stream) {
    BufferType type = d == Direction::kRequest ? BufferType::kHttpRequestBody : BufferType::kHttpResponseBody;
    if (response_closed_ && d == Direction::kResponse) {
      // A host that still delivers data after proxy_close_stream must not forward it.
      proxy_set_buffer_bytes(static_cast<uint32_t>(type), 0, static_cast<uint32_t>(body_size), "", 0);
      return FilterDataStatus::kStopIterationNoBuffer;
    }
    // Otherwise a stopped stream's own local reply passes through untouched.
    if (!tx_ || stopped_) return FilterDataStatus::kContinue;
    HostBytes chunk;
    if (body_size > 0 && !GetBuffer(type, 0, body_size, &chunk)) return FilterDataStatus::kContinue;
    uint64_t t0 = NowNanos();
    out_.clear();
    tx_->OnBody(d, chunk.view(), end_of_stream, ForwardedBytes(d));
    analysis_ns_[Index(d)] += NowNanos() - t0;
    if (end_of_stream) finished_[Index(d)] = true;
    const DirectionReport& report = tx_->report(d);
    if (report.decision == Decision::kBlock) return Block(d, type, body_size);
    SbacStage stage = d == Direction::kRequest
                          ? (end_of_stream ? SbacStage::kPostRequestBody : SbacStage::kOnRequestBodyChunk)
                          : (end_of_stream ? SbacStage::kPostResponseTrailers : SbacStage::kOnResponseBodyChunk);
    if (SbacBlocks(stage)) {
      out_.clear();  // nothing more of this stream leaves
      return Block(d, type, body_size);
    }
    if (tx_->may_hold_body(d) && out_ != chunk.view()) {
      proxy_set_buffer_bytes(static_cast<uint32_t>(type), 0, static_cast<uint32_t>(body_size), out_.data(), out_.size());
    }
    return FilterDataStatus::kContinue;
  }

  void OnLog() {
    if (!tx_) return;
    for (Direction d : {Direction::kRequest, Direction::kResponse}) {
      if (!headers_seen_[Index(d)]) continue;
      FinishDirection(d);
      Emit(d);
    }
    if (root_->config().command.enabled()) {
      TransactionSummary t;
      t.time_ms = NowNanos() / 1000000;
      t.authority = authority_;
      t.path = path_;
      t.method = method_;
      t.status = status_;
      t.source_address = source_address_;
      t.local_service = Service(local_service_).name;
      t.peer_service = Service(peer_service_).name;
      // The policy this stream was analysed with (a Command update may have replaced the root's).
      const Policy& policy = tx_->policy().policy();
      auto collect = [](const HeaderList& in, const std::vector<std::string>& keep, bool all, auto* out) {
        for (const auto& [k, v] : in) {
          std::string name = AsciiToLower(k);
          bool kept = all || std::find(keep.begin(), keep.end(), name) != keep.end();
          out->emplace_back(name, kept ? std::optional<std::string>(v) : std::nullopt);
        }
      };
      collect(headers_[0].fields, policy.collected_request_headers, policy.collect_all_request_headers, &t.request_headers);
      collect(headers_[1].fields, policy.collected_response_headers, policy.collect_all_response_headers, &t.response_headers);
      t.request_analysis_us = analysis_ns_[0] / 1000;
      t.response_analysis_us = analysis_ns_[1] / 1000;
      if (tx_->token()) {
        t.token = tx_->token()->token;
        t.token_metadata.assign(tx_->token()->metadata.begin(), tx_->token()->metadata.end());
      }
      if (headers_seen_[0]) t.request = &tx_->report(Direction::kRequest);
      if (headers_seen_[1]) t.response = &tx_->report(Direction::kResponse);
      root_->QueueReport(TransactionReportJson(t));
    }
  }

 private:
  static int Index(Direction d) { return d == Direction::kRequest ? 0 : 1; }
  static const ResolvedService& Service(const SharedService& s) {
    static const ResolvedService& unnamed = *new ResolvedService();  // never destroyed, like the registry
    return s ? *s : unnamed;
  }

  void Start(std::string_view authority, std::string_view path) {
    TransactionOptions options;
    options.max_analyzed_bytes = root_->config().max_analyzed_bytes;
    // Per-stream memory inside a VM that every worker carries: reports keep up to 100 values per
    // category (counts stay exact and `values_truncated` says when more matched).
    options.max_values_per_category = 100;
    for (const SbacRule& rule : root_->policy()->policy().sbac) {
      // A rule on body match counts can only stop data that has not left yet.
      if (rule.stage >= SbacStage::kOnRequestBodyChunk) options.hold_bodies = true;
    }
    tx_ = std::make_unique<Transaction>(root_->policy(), authority, path, options, root_->policy_cache());
  }

  // Ends the analysis of what the direction delivered. A stopped stream (blocked) delivers nothing
  // more, but what came before the block is still analysed to the end: a correlation whose
  // window was still open, say, is decided and reported. What the end releases into out_ is
  // never forwarded from here (OnBody clears out_ before its own use).
  void FinishDirection(Direction d) {
    if (finished_[Index(d)]) return;
    finished_[Index(d)] = true;
    out_.clear();
    tx_->OnBody(d, "", true, ForwardedBytes(d));
  }

  // Where the transaction puts the bytes of `d` that may leave: out_ while it may hold the body
  // back, else none (the host's buffer then leaves as it is, and the chunk is not copied).
  std::string* ForwardedBytes(Direction d) {
    return !headers_seen_[Index(d)] || tx_->may_hold_body(d) ? &out_ : nullptr;
  }

  // The configured local reply; `details` is Envoy's response-code details (shown in access logs).
  void SendBlockReply(std::string_view details = "leakscope_blocked") {
    const PluginConfig& config = root_->config();
    proxy_send_local_response(config.block_status, details.data(), details.size(), config.block_body.data(),
                              config.block_body.size(), nullptr, 0, -1);
  }

  FilterHeadersStatus BlockHeaders(std::string_view details) {
    stopped_ = true;
    SendBlockReply(details);
    return FilterHeadersStatus::kStopIteration;
  }

  // Evaluates the policy's SBAC rules that are active at `stage` (a rule is checked from its stage
  // on); true when one matches, which blocks the stream.
  bool SbacBlocks(SbacStage stage) {
    const std::vector<SbacRule>& rules = root_->policy()->policy().sbac;
    if (rules.empty()) return false;
    FilterFacts facts;
    facts.target = tx_->target();
    facts.local_service = Service(local_service_).name;
    facts.peer_service = Service(peer_service_).name;
    if (tx_->token()) facts.token = tx_->token()->token;
    facts.ip = source_address_;
    if (headers_seen_[0]) facts.request = &tx_->report(Direction::kRequest);
    if (headers_seen_[1]) facts.response = &tx_->report(Direction::kResponse);
    facts.request_headers = &headers_[0].fields;
    facts.response_headers = &headers_[1].fields;
    for (const SbacRule& rule : rules) {
      if (rule.stage > stage || !EvaluateRuleFilter(rule.filter, facts)) continue;
      root_->metrics().Increment(MetricName("sbac_blocked", {{"rule", rule.name}}), 1);
      return true;
    }
    return false;
  }

  FilterDataStatus Block(Direction d, BufferType type, size_t body_size) {
    stopped_ = true;
    if (d == Direction::kRequest) {
      SendBlockReply();
    } else {
      // Response headers have left: pass only what precedes the match, then stop the stream.
      proxy_set_buffer_bytes(static_cast<uint32_t>(type), 0, static_cast<uint32_t>(body_size), out_.data(), out_.size());
      proxy_close_stream(static_cast<uint32_t>(StreamType::kResponse));
      response_closed_ = true;
    }
    return FilterDataStatus::kStopIterationNoBuffer;
  }

  void Emit(Direction d) {
    const DirectionReport& r = tx_->report(d);
    Metrics& m = root_->metrics();
    const char* dir = DirectionName(d);
    const std::string& local = Service(local_service_).label;
    const std::string& peer = Service(peer_service_).label;
    Metrics::LabelSet& stats = m.LabelSetFor(d, r.policy_path, local, peer);
    m.Increment(
        &stats.transactions,
        [&] { return MetricName("transactions", {{"direction", dir}, {"local_service", local}, {"peer_service", peer}}); },
        1);
    for (const CategoryReport& c : r.categories) {
      uint64_t header = c.header_count;
      uint64_t body = c.count - header;
      std::array<Metrics::Stat, 2>& matches = stats.matches[c.name];
      m.Increment(
          &matches[0], [&] { return MatchMetricName(c.name, dir, "body", r.policy_path, local, peer); },
          static_cast<int64_t>(body));
      m.Increment(
          &matches[1], [&] { return MatchMetricName(c.name, dir, "header", r.policy_path, local, peer); },
          static_cast<int64_t>(header));
    }
    if (r.decision == Decision::kBlock) m.Increment(MetricName("blocked", {{"direction", dir}}), 1);
    if (r.decision == Decision::kRedact) m.Increment(MetricName("redacted", {{"direction", dir}}), 1);
    if (r.truncated) m.Increment(MetricName("analysis_truncated", {{"direction", dir}}), 1);
    if (!r.parse_error.empty()) m.Increment(MetricName("parse_errors", {{"direction", dir}}), 1);
    if (d == Direction::kResponse && !status_.empty()) {
      m.Increment(&m.ResponsesStat(status_), [&] { return MetricName("responses", {{"status", status_}}); }, 1);
    }
    m.Record(&stats.analysis_time_us, [&] { return MetricName("analysis_time_us", {{"direction", dir}}); },
             analysis_ns_[Index(d)] / 1000);
    m.Record(&stats.body_bytes, [&] { return MetricName("body_bytes", {{"direction", dir}}); }, r.body_bytes);
    if (root_->config().log_reports) Log(LogLevel::kInfo, "leakscope report " + DirectionReportToJson(r, 0));
  }

  RootContext* root_;
  std::unique_ptr<Transaction> tx_;
  std::string out_;
  // Header maps as read (until the stream ends), and fields from them.
  HeaderMap headers_[2];
  std::string_view status_;
  std::string_view authority_, path_, method_;
  HostBytes source_address_bytes_;
  std::string_view source_address_;  // of source_address_bytes_
  // Resolved when the request's headers came; none (Service: unnamed) for a stream whose
  // response came without them.
  SharedService local_service_, peer_service_;
  bool headers_seen_[2] = {false, false};
  bool finished_[2] = {false, false};
  bool stopped_ = false;
  bool response_closed_ = false;
  uint64_t analysis_ns_[2] = {0, 0};
};

struct Registry {
  std::unordered_map<uint32_t, std::unique_ptr<RootContext>> roots;
  // A stream's context lives in its map node: one allocation per stream, not two (nodes stay
  // in place while others come and go).
  std::unordered_map<uint32_t, StreamContext> streams;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: the VM outlives every context
  return *r;
}

StreamContext* Stream(uint32_t id) {
  auto it = registry().streams.find(id);
  return it == registry().streams.end() ? nullptr : &it->second;
}

}  // namespace
}  // namespace leakscope

using leakscope::Direction;
using leakscope::registry;

#define LEAKSCOPE_EXPORT(name) extern "C" __attribute__((export_name(#name)))

LEAKSCOPE_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

LEAKSCOPE_EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) { return std::malloc(size); }

LEAKSCOPE_EXPORT(proxy_on_context_create) void proxy_on_context_create(uint32_t context_id, uint32_t parent_id) {
  auto& reg = registry();
  if (parent_id == 0) {
    reg.roots[context_id] = std::make_unique<leakscope::RootContext>();
    return;
  }
  auto root = reg.roots.find(parent_id);
  if (root == reg.roots.end()) return;
  reg.streams.erase(context_id);  // a host that reuses an id gets a fresh context
  reg.streams.try_emplace(context_id, root->second.get());
}

LEAKSCOPE_EXPORT(proxy_on_vm_start) uint32_t proxy_on_vm_start(uint32_t, uint32_t) { return 1; }

LEAKSCOPE_EXPORT(proxy_on_configure) uint32_t proxy_on_configure(uint32_t root_id, uint32_t config_size) {
  auto it = registry().roots.find(root_id);
  if (it == registry().roots.end()) return 0;
  return it->second->OnConfigure(config_size) ? 1 : 0;
}

LEAKSCOPE_EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t root_id) {
  auto it = registry().roots.find(root_id);
  if (it != registry().roots.end()) it->second->OnTick();
}

namespace {
// A stream callback for either direction; an unknown stream (never created) continues.
uint32_t StreamHeaders(uint32_t id, Direction d, uint32_t end_of_stream) {
  auto* s = leakscope::Stream(id);
  return static_cast<uint32_t>(s ? s->OnHeaders(d, end_of_stream != 0) : proxy_wasm::FilterHeadersStatus::kContinue);
}
uint32_t StreamBody(uint32_t id, Direction d, uint32_t body_size, uint32_t end_of_stream) {
  auto* s = leakscope::Stream(id);
  return static_cast<uint32_t>(s ? s->OnBody(d, body_size, end_of_stream != 0)
                                 : proxy_wasm::FilterDataStatus::kContinue);
}
}  // namespace

LEAKSCOPE_EXPORT(proxy_on_request_headers)
uint32_t proxy_on_request_headers(uint32_t id, uint32_t, uint32_t end_of_stream) {
  return StreamHeaders(id, Direction::kRequest, end_of_stream);
}

LEAKSCOPE_EXPORT(proxy_on_request_body)
uint32_t proxy_on_request_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream) {
  return StreamBody(id, Direction::kRequest, body_size, end_of_stream);
}

LEAKSCOPE_EXPORT(proxy_on_request_trailers) uint32_t proxy_on_request_trailers(uint32_t, uint32_t) { return 0; }

LEAKSCOPE_EXPORT(proxy_on_response_headers)
uint32_t proxy_on_response_headers(uint32_t id, uint32_t, uint32_t end_of_stream) {
  return StreamHeaders(id, Direction::kResponse, end_of_stream);
}

LEAKSCOPE_EXPORT(proxy_on_response_body)
uint32_t proxy_on_response_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream) {
  return StreamBody(id, Direction::kResponse, body_size, end_of_stream);
}

LEAKSCOPE_EXPORT(proxy_on_response_trailers) uint32_t proxy_on_response_trailers(uint32_t, uint32_t) { return 0; }

LEAKSCOPE_EXPORT(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t root_id, uint32_t token, uint32_t num_headers, uint32_t body_size,
                                 uint32_t) {
  auto it = registry().roots.find(root_id);
  if (it != registry().roots.end()) it->second->OnHttpCallResponse(token, num_headers, body_size);
}

LEAKSCOPE_EXPORT(proxy_on_log) void proxy_on_log(uint32_t id) {
  if (auto* s = leakscope::Stream(id)) s->OnLog();
}

LEAKSCOPE_EXPORT(proxy_on_done) uint32_t proxy_on_done(uint32_t) { return 1; }

LEAKSCOPE_EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t id) {
  auto& reg = registry();
  reg.streams.erase(id);
  reg.roots.erase(id);
}
