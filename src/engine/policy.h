// Policy: the in-memory form of a LeakSignal-compatible L7 policy (YAML).
//
// A policy names *categories* of sensitive data (each a list of match rules) and *endpoints*
// (path globs, each with per-category match configuration). LoadPolicy parses and validates the
// YAML; the result is immutable and compiled separately (see compiled_policy.h) for scanning.
// Every field of LeakSignal's schema is either loaded here or rejected with
// "not supported yet: FIELD"; a few legacy quirks load with a warning.
#ifndef LEAKSCOPE_ENGINE_POLICY_H_
#define LEAKSCOPE_ENGINE_POLICY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/rule_filter.h"
#include "engine/status.h"
#include "engine/token_extractor.h"

namespace leakscope {

// 1-based line and column in the policy text (0 = unknown).
struct SourceLocation {
  int line = 0;
  int column = 0;
  std::string ToString() const;  // "line:column"
};

enum class RuleKind {
  kRaw,               // literal, found anywhere
  kRawInsensitive,    // ASCII case-insensitive literal
  kRegex,             // regex, found anywhere
  kInternal,          // native matcher (credit_card, routing_number, ...)
  kExcept,            // drop a match whose whole text equals this string
  kExceptInsensitive, // same, ASCII case-insensitive
  kExceptRegex,       // drop a match whose whole text matches this regex
  kAnd,               // keep a match only if every nested rule matches its whole text
  kCorrelate,         // keep a match only near a match of a secondary group
};

const char* RuleKindName(RuleKind kind);

enum class CorrelateInterest { kPrimary, kSecondary, kAll };

struct MatchRule {
  RuleKind kind = RuleKind::kRaw;
  std::string text;                          // literal or regex pattern
  std::string internal_name;                 // kInternal
  std::vector<std::string> internal_options; // kInternal: e.g. {"US"}, hash types
  std::vector<MatchRule> nested;             // kAnd rules; kCorrelate `matches`
  // kCorrelate:
  CorrelateInterest interest = CorrelateInterest::kPrimary;
  uint64_t max_distance = 0;
  std::string match_group;  // correlate against another category's matches
  std::string field_path;   // e.g. "categories.ssn[0]"
  SourceLocation location;
};

struct Category {
  std::string name;
  std::vector<MatchRule> rules;
  std::string tag;  // tagged form: `matchers:` + `tag:`
  SourceLocation location;
};

enum class Action { kIgnore, kAlert, kBlock, kRedact };
const char* ActionName(Action action);

enum class ReportStyle { kRaw, kSha256, kPartialSha256, kNone };
const char* ReportStyleName(ReportStyle style);

// Where a category is searched. LeakSignal's `search` field.
enum class SearchScope : uint8_t {
  kBody = 1,            // request and response bodies (default)
  kRequestHeader = 2,
  kResponseHeader = 4,
  kRequestBody = 8,
  kResponseBody = 16,
};
using SearchMask = uint8_t;
constexpr SearchMask kSearchBodies = static_cast<SearchMask>(SearchScope::kRequestBody) |
                                     static_cast<SearchMask>(SearchScope::kResponseBody);
constexpr SearchMask kSearchHeaders = static_cast<SearchMask>(SearchScope::kRequestHeader) |
                                      static_cast<SearchMask>(SearchScope::kResponseHeader);

// A `contexts` entry: which part of a structured body a category applies to.
struct ContextFilter {
  bool keys = false;        // JSON object keys
  bool values = false;      // JSON values (strings, numbers, literals)
  bool values_key = false;  // JSON values, reported by their key path instead of their text
  std::vector<std::string> headers;  // `- header: NAME` (lower-cased)
  bool any_set() const { return keys || values || values_key || !headers.empty(); }
};

// Per-category configuration inside an endpoint (`config: {ssn: {...}}`). Unset fields inherit
// from more general endpoints, then from defaults.
struct MatchConfig {
  std::optional<Action> action;
  std::optional<std::string> redact_mask;  // with Action::kRedact
  std::optional<std::vector<std::string>> content_types;  // parser names / MIME subtypes
  std::optional<ContextFilter> contexts;
  std::optional<SearchMask> search;
  std::optional<ReportStyle> report_style;
  std::optional<uint32_t> report_bits;
  std::optional<std::string> matcher;  // category whose rules to run (default: config key)
  std::optional<std::string> name;     // name reported instead of the config key
  std::vector<std::string> ignore;     // legacy: exact values to drop, on top of `except`
  SourceLocation location;
};

struct Endpoint {
  std::vector<std::string> matches;  // path globs
  std::optional<TokenExtractorConfig> token_extractor;
  std::map<std::string, MatchConfig> config;
  std::vector<std::string> config_order;  // keys of `config` in policy order
  std::optional<ReportStyle> report_style;
  std::optional<uint32_t> report_bits;
  SourceLocation location;
};

// A parsed rule filter / rate limit / alert rule: these drive Command, which evaluates them
// across transactions. The engine validates their shape and keeps them for its hosts.
struct CommandRule {
  std::string kind;  // "ratelimits" or "rules"
  std::string name;
  std::string grouping;
  std::string by;
  std::string action;
  std::string severity;
  uint64_t timespan_secs = 0;
  uint64_t limit = 0;
  std::string filter_yaml;  // the `filter` subtree, re-serialised as compact JSON for Command
  RuleFilter filter;        // the same, parsed and validated
  SourceLocation location;
};

// Where one part of a service's identity comes from (LeakSignal's service identification).
struct ServiceSource {
  enum class Kind { kNone, kIstio, kEnv, kAttrs, kRaw, kDefault };
  Kind kind = Kind::kIstio;
  std::string value;                  // env variable, attribute path (dotted) or raw value
  std::vector<ServiceSource> choices; // kDefault: {from, to}: the first that yields a value
};

// `local_service_name` / `peer_service_name`: how the filter names this service and its peer.
// Defaults suit Istio (SPIFFE identities of the mTLS certificates).
struct ServiceIdentification {
  ServiceSource cluster, ns, sa, workload;
};

struct PolicyWarning {
  std::string field_path;
  SourceLocation location;
  std::string message;
  std::string ToString() const;
};

struct Policy {
  std::vector<Category> categories;  // in policy order
  std::vector<Endpoint> endpoints;   // in policy order
  ReportStyle report_style = ReportStyle::kRaw;
  uint32_t report_bits = 64;
  // MIME type (lower case, no parameters) -> parser name; defaults merged with the policy's.
  std::map<std::string, std::string> content_types;
  std::vector<CommandRule> command_rules;
  std::vector<SbacRule> sbac;  // evaluated by the filter at each stage of a transaction
  std::vector<std::string> blocked_ips;
  std::vector<std::string> blocked_tokens;
  // Headers whose values reports may carry (names lower-case); other headers are reported by name
  // only. `header_collection` (all_request, all_response, all) lifts that for a direction.
  std::vector<std::string> collected_request_headers;
  std::vector<std::string> collected_response_headers;
  bool collect_all_request_headers = false;
  bool collect_all_response_headers = false;
  ServiceIdentification local_service_name;
  ServiceIdentification peer_service_name;
  std::vector<PolicyWarning> warnings;

  const Category* FindCategory(std::string_view name) const;
};

// Parses a policy. Errors name the field path and line:column, e.g.
// `categories.ssn[0]: unknown match rule "regx" (line 3:9)`.
StatusOr<Policy> LoadPolicy(std::string_view yaml_text);

// Parser names the engine knows; content_types values must be one of these.
std::vector<std::string> KnownParserNames();

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_POLICY_H_
