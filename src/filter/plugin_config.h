// PluginConfig: the filter's `configuration` string (YAML or JSON) as Envoy hands it over.
//
// Local mode carries the policy inline (`local_policy:` as a mapping or as a YAML string).
// Parsing lives outside the Proxy-WASM glue so it is unit-tested natively.
#ifndef LEAKSCOPE_FILTER_PLUGIN_CONFIG_H_
#define LEAKSCOPE_FILTER_PLUGIN_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace leakscope {

struct CommandConfig {
  std::string upstream_cluster;       // Envoy cluster of Command (empty: local mode)
  std::string authority = "leakscope-command";
  std::string api_key;
  std::string deployment_name;
  uint64_t upload_interval_ms = 5000;
  uint64_t upload_batch_size = 100;
  uint64_t max_queued_reports = 1000;
  uint64_t policy_pull_interval_ms = 30000;
  bool enabled() const { return !upstream_cluster.empty(); }
};

struct PluginConfig {
  std::string policy_yaml;            // text of the policy to load (optional in Command mode)
  CommandConfig command;              // docs/protocol.md
  uint64_t max_analyzed_bytes = 16u << 20;  // per direction; the rest passes unanalysed
  bool log_reports = false;           // log each report at info level ("leakscope report {...}")
  uint32_t block_status = 403;        // local reply for a blocked request
  std::string block_body = "blocked by policy\n";
};

// Parses the plugin configuration. Errors name the field and line:column.
StatusOr<PluginConfig> ParsePluginConfig(std::string_view text);

}  // namespace leakscope

#endif  // LEAKSCOPE_FILTER_PLUGIN_CONFIG_H_
