#include "filter/command_protocol.h"

#include <cstring>

#include "engine/json_tokenizer.h"

namespace leakscope {

namespace {


void AppendU32(std::string* out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // wasm32 and x86-64 are little-endian, as the ABI specifies
  out->append(b, 4);
}

// Collects top-level scalars of a policy response by JSON path.
class PolicySink : public JsonTokenizer::Sink {
 public:
  JsonTokenizer* tokenizer = nullptr;
  PolicyUpdate update;
  void OnScalarBegin(bool is_key, bool, uint64_t) override {
    is_key_ = is_key;
    value_.clear();
  }
  void OnScalarData(std::string_view decoded, uint64_t, uint64_t) override {
    if (!is_key_) value_.append(decoded);
  }
  void OnScalarEnd(uint64_t) override {
    if (is_key_) return;
    std::string path = tokenizer->CurrentPath();
    if (path == "policy") update.policy_yaml = value_;
    else if (path == "policy_id") update.policy_id = value_;
    else if (path.rfind("blocked_ips[", 0) == 0) update.blocked_ips.push_back(value_);
    else if (path.rfind("blocked_tokens[", 0) == 0) update.blocked_tokens.push_back(value_);
  }

 private:
  bool is_key_ = false;
  std::string value_;
};

void AppendService(std::string* out, const ServiceName& s) {
  *out += "{\"cluster\":";
  AppendJsonString(s.cluster, out);
  *out += ",\"ns\":";
  AppendJsonString(s.ns, out);
  *out += ",\"sa\":";
  AppendJsonString(s.sa, out);
  *out += ",\"workload\":";
  AppendJsonString(s.workload, out);
  *out += "}";
}

}  // namespace

std::string TransactionReportJson(const TransactionSummary& t) {
  std::string out = "{\"time_ms\":" + std::to_string(t.time_ms);
  out += ",\"authority\":";
  AppendJsonString(t.authority, &out);
  out += ",\"path\":";
  AppendJsonString(t.path.substr(0, t.path.find('?')), &out);
  out += ",\"method\":";
  AppendJsonString(t.method, &out);
  out += ",\"status\":";
  AppendJsonString(t.status, &out);
  out += ",\"source_address\":";
  AppendJsonString(t.source_address, &out);
  out += ",\"local_service\":";
  AppendService(&out, t.local_service);
  out += ",\"peer_service\":";
  AppendService(&out, t.peer_service);
  auto headers = [&out](const char* key, const auto& list) {
    out += ",\"";
    out += key;
    out += "\":[";
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) out += ',';
      out += "{\"name\":";
      AppendJsonString(list[i].first, &out);
      if (list[i].second) {
        out += ",\"value\":";
        AppendJsonString(*list[i].second, &out);
      }
      out += '}';
    }
    out += ']';
  };
  headers("request_headers", t.request_headers);
  headers("response_headers", t.response_headers);
  out += ",\"timings\":{\"request_analysis_us\":" + std::to_string(t.request_analysis_us) +
         ",\"response_analysis_us\":" + std::to_string(t.response_analysis_us) + "}";
  if (!t.token.empty()) {
    out += ",\"token\":";
    AppendJsonString(t.token, &out);
    out += ",\"token_metadata\":{";
    for (size_t i = 0; i < t.token_metadata.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(t.token_metadata[i].first, &out);
      out += ':';
      AppendJsonString(t.token_metadata[i].second, &out);
    }
    out += '}';
  }
  if (t.request) out += ",\"request\":" + DirectionReportToJson(*t.request, 0);
  if (t.response) out += ",\"response\":" + DirectionReportToJson(*t.response, 0);
  out += "}";
  return out;
}

std::string UploadBody(std::string_view deployment_name, std::string_view policy_id, uint64_t sent_at_ms,
                       uint64_t dropped_reports, const std::vector<std::string>& reports) {
  std::string out = "{\"protocol\":" + std::to_string(kCommandProtocolVersion) + ",\"deployment_name\":";
  AppendJsonString(deployment_name, &out);
  out += ",\"policy_id\":";
  AppendJsonString(policy_id, &out);
  out += ",\"sent_at_ms\":" + std::to_string(sent_at_ms);
  out += ",\"dropped_reports\":" + std::to_string(dropped_reports);
  out += ",\"reports\":[";
  for (size_t i = 0; i < reports.size(); ++i) {
    if (i) out += ',';
    out += reports[i];
  }
  out += "]}";
  return out;
}

StatusOr<PolicyUpdate> ParsePolicyResponse(std::string_view body) {
  if (body.size() > (4u << 20)) return InvalidArgumentError("policy response larger than 4 MiB");
  PolicySink sink;
  JsonTokenizer::Limits limits;
  limits.max_depth = 16;
  JsonTokenizer tokenizer(&sink, limits);
  sink.tokenizer = &tokenizer;
  if (!tokenizer.Feed(body) || !tokenizer.Finish()) {
    return InvalidArgumentError("policy response is not JSON: " + tokenizer.error());
  }
  if (tokenizer.documents() != 1) return InvalidArgumentError("policy response must be one JSON object");
  if (sink.update.policy_yaml.empty()) return InvalidArgumentError("policy response has no \"policy\"");
  return std::move(sink.update);
}

std::string SerializeHeaderPairs(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  AppendU32(&out, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    AppendU32(&out, static_cast<uint32_t>(k.size()));
    AppendU32(&out, static_cast<uint32_t>(v.size()));
  }
  for (const auto& [k, v] : headers) {
    out += k;
    out += '\0';
    out += v;
    out += '\0';
  }
  return out;
}

std::string AddressWithoutPort(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    size_t close = address.find(']');
    return std::string(address.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  size_t colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon) return std::string(address.substr(0, colon));
  return std::string(address);  // bare IPv6 or no port
}

}  // namespace leakscope
