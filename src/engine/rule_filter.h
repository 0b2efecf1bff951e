// RuleFilter: LeakSignal's filter language for rules, rate limits and SBAC (service based access
// control): endpoint globs, services, tokens, IPs/CIDRs, per-category match counts, request and
// response headers, traffic direction, combined with any / all / not.
//
// The engine parses and evaluates filters against the facts of one transaction; hosts (the
// filter for SBAC, Command for rules and rate limits) decide what a match means.
#ifndef LEAKSCOPE_ENGINE_RULE_FILTER_H_
#define LEAKSCOPE_ENGINE_RULE_FILTER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/headers.h"

namespace re2 { class RE2; }

namespace leakscope {

class PathGlob;
struct DirectionReport;

// A match rule used as a filter on a whole string (anchored).
struct TextMatcher {
  enum class Kind { kRaw, kRawInsensitive, kRegex } kind = Kind::kRaw;
  std::string text;
  std::shared_ptr<const re2::RE2> regex;
  bool Matches(std::string_view value) const;
};

// A service's identity (LeakSignal's service identification: cluster, namespace, service
// account or name, workload).
struct ServiceIdentity {
  std::string cluster, ns, sa, workload;
  // The metric label: "ns/sa", or the first part that is known, or "" (unknown).
  std::string Label() const;
  // "cluster/ns/sa", the form rules name services in.
  std::string Full() const;
};

// Matches a service: a match rule on the full "cluster/ns/sa" form, or on one part
// (`sa: cartservice`), or any/all of such.
struct ServiceMatcher {
  enum class Kind { kFull, kCluster, kNs, kSa, kWorkload, kAny, kAll } kind = Kind::kFull;
  TextMatcher matcher;
  std::vector<ServiceMatcher> children;
  bool Matches(const ServiceIdentity& s) const;
};

struct IpRange {
  std::array<uint8_t, 16> address{};  // IPv4 as ::ffff:a.b.c.d
  int prefix_bits = 128;
  bool Contains(const std::array<uint8_t, 16>& ip) const;
};
// Parses "10.0.0.0/8", "203.0.113.9", "::1", "2001:db8::/32" (and "ip:port" forms for
// addresses). Returns false on invalid input.
bool ParseIpRange(std::string_view text, IpRange* out);
bool ParseIpAddress(std::string_view text, std::array<uint8_t, 16>* out);

struct RuleFilter {
  enum class Kind {
    kEndpoint, kExcludeEndpoint,
    kPeerService, kExcludePeerService, kLocalService, kExcludeLocalService,
    kToken, kExcludeToken, kIp, kExcludeIp,
    kRequestMatches, kResponseMatches,
    kRequestHeaders, kResponseHeaders,
    kResponseOutbound, kResponseInbound,
    kAny, kAll, kNot,
  };
  Kind kind = Kind::kAll;
  std::vector<std::shared_ptr<const PathGlob>> globs;
  std::vector<TextMatcher> matchers;         // token
  std::vector<ServiceMatcher> services;      // peer_service / local_service
  std::vector<IpRange> ips;
  std::vector<std::pair<std::string, uint64_t>> min_counts;  // category ("*" = all) -> minimum
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case name -> exact value
  std::vector<RuleFilter> children;
};

// What is known about a transaction when a filter is evaluated; absent parts are empty/null.
struct FilterFacts {
  std::string target;         // authority + path (no query)
  ServiceIdentity local_service;
  ServiceIdentity peer_service;
  std::string token;          // "" when none
  std::string ip;             // source address, with or without port
  const DirectionReport* request = nullptr;
  const DirectionReport* response = nullptr;
  const HeaderList* request_headers = nullptr;
  const HeaderList* response_headers = nullptr;
  bool request_inbound = true;  // a server-side proxy sees inbound requests, outbound responses
};

bool EvaluateRuleFilter(const RuleFilter& filter, const FilterFacts& facts);

// SBAC stages, in the order a transaction passes them.
enum class SbacStage {
  kPreRequestHeaders, kOnRequestHeaderChunk, kPostRequestHeaders, kOnRequestBodyChunk, kPostRequestBody,
  kOnResponseHeaderChunk, kPostResponseHeaders, kOnResponseBodyChunk, kPostResponseBody,
  kOnResponseTrailerChunk, kPostResponseTrailers,
};

struct SbacRule {
  std::string name;
  SbacStage stage = SbacStage::kOnRequestHeaderChunk;
  RuleFilter filter;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_RULE_FILTER_H_
