// Wire format of the filter <-> Command protocol (docs/protocol.md, version 1), kept apart from
// the Proxy-WASM glue so it is unit-tested natively.
#ifndef LEAKSCOPE_FILTER_COMMAND_PROTOCOL_H_
#define LEAKSCOPE_FILTER_COMMAND_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/report.h"
#include "engine/rule_filter.h"
#include "engine/status.h"

namespace leakscope {

constexpr int kCommandProtocolVersion = 1;

using ServiceName = ServiceIdentity;

struct TransactionSummary {
  uint64_t time_ms = 0;
  std::string authority, path, method, status, source_address;
  ServiceName local_service, peer_service;
  // Headers as reported: every name; the value only for collected headers (nullopt otherwise).
  std::vector<std::pair<std::string, std::optional<std::string>>> request_headers, response_headers;
  uint64_t request_analysis_us = 0, response_analysis_us = 0;
  std::string token;                                   // per the endpoint's token_extractor
  std::vector<std::pair<std::string, std::string>> token_metadata;
  const DirectionReport* request = nullptr;   // null when that direction was not seen
  const DirectionReport* response = nullptr;
};

// One element of the `reports` array.
std::string TransactionReportJson(const TransactionSummary& t);

// The body of POST /api/v1/reports; `reports` are TransactionReportJson outputs.
std::string UploadBody(std::string_view deployment_name, std::string_view policy_id, uint64_t sent_at_ms,
                       uint64_t dropped_reports, const std::vector<std::string>& reports);

struct PolicyUpdate {
  std::string policy_id;
  std::string policy_yaml;
  std::vector<std::string> blocked_ips;
  std::vector<std::string> blocked_tokens;
};

// Parses the body of GET /api/v1/policy. Bounded: refuses bodies over 4 MiB.
StatusOr<PolicyUpdate> ParsePolicyResponse(std::string_view body);

// Envoy's header map serialisation (u32 count, u32 sizes, NUL-terminated keys and values).
std::string SerializeHeaderPairs(const std::vector<std::pair<std::string, std::string>>& headers);

// "10.0.0.7:51234" / "[::1]:80" -> "10.0.0.7" / "::1".
std::string AddressWithoutPort(std::string_view address);

}  // namespace leakscope

#endif  // LEAKSCOPE_FILTER_COMMAND_PROTOCOL_H_
