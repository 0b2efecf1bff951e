#include "filter/plugin_config.h"

#include <yaml.h>

#include <cstdlib>

namespace leakscope {

namespace {

std::string Loc(const yaml_node_t* n) {
  return "line " + std::to_string(n->start_mark.line + 1) + ":" + std::to_string(n->start_mark.column + 1);
}

std::string Scalar(const yaml_node_t* n) {
  return std::string(reinterpret_cast<const char*>(n->data.scalar.value), n->data.scalar.length);
}


}  // namespace

StatusOr<PluginConfig> ParsePluginConfig(std::string_view text) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return InternalError("libyaml: out of memory");
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  yaml_document_t doc;
  if (!yaml_parser_load(&parser, &doc)) {
    std::string msg = std::string("configuration is not valid YAML or JSON: ") +
                      (parser.problem ? parser.problem : "parse error") + " (line " +
                      std::to_string(parser.problem_mark.line + 1) + ":" +
                      std::to_string(parser.problem_mark.column + 1) + ")";
    yaml_parser_delete(&parser);
    return InvalidArgumentError(msg);
  }
  yaml_parser_delete(&parser);
  struct DocGuard {
    yaml_document_t* d;
    ~DocGuard() { yaml_document_delete(d); }
  } guard{&doc};

  yaml_node_t* root = yaml_document_get_root_node(&doc);
  if (root == nullptr || root->type != YAML_MAPPING_NODE) {
    return InvalidArgumentError("configuration must be a mapping with local_policy");
  }
  PluginConfig config;
  bool have_policy = false;
  for (yaml_node_pair_t* p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; ++p) {
    yaml_node_t* k = yaml_document_get_node(&doc, p->key);
    yaml_node_t* v = yaml_document_get_node(&doc, p->value);
    if (k->type != YAML_SCALAR_NODE) return InvalidArgumentError("configuration: non-string key (" + Loc(k) + ")");
    std::string key = Scalar(k);
    auto expect_uint = [&](uint64_t* out) -> Status {
      std::string s = v->type == YAML_SCALAR_NODE ? Scalar(v) : "";
      if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
        return InvalidArgumentError("configuration." + key + ": expected a non-negative integer (" + Loc(v) + ")");
      }
      *out = std::strtoull(s.c_str(), nullptr, 10);
      return Status::Ok();
    };
    if (key == "local_policy") {
      have_policy = true;
      if (v->type == YAML_SCALAR_NODE) {
        config.policy_yaml = Scalar(v);
      } else if (v->type == YAML_MAPPING_NODE) {
        // Re-use the policy's own text: from the start of its first line (so indentation stays
        // consistent) to its end. The policy loader then reports lines of that text.
        size_t begin = v->start_mark.index - v->start_mark.column;
        size_t end = v->end_mark.index;
        if (end > text.size() || begin > end) return InternalError("configuration: bad marks");
        config.policy_yaml = std::string(v->start_mark.column, ' ') == std::string(text.substr(begin, v->start_mark.column))
                                 ? std::string(text.substr(begin, end - begin))
                                 : std::string(v->start_mark.column, ' ') + std::string(text.substr(v->start_mark.index, end - v->start_mark.index));
      } else {
        return InvalidArgumentError("configuration.local_policy: expected a policy mapping or string (" + Loc(v) + ")");
      }
    } else if (key == "max_analyzed_bytes") {
      LEAKSCOPE_RETURN_IF_ERROR(expect_uint(&config.max_analyzed_bytes));
    } else if (key == "block_status") {
      uint64_t s = 0;
      LEAKSCOPE_RETURN_IF_ERROR(expect_uint(&s));
      if (s < 200 || s > 599) return InvalidArgumentError("configuration.block_status: must be an HTTP status (" + Loc(v) + ")");
      config.block_status = static_cast<uint32_t>(s);
    } else if (key == "block_body") {
      if (v->type != YAML_SCALAR_NODE) return InvalidArgumentError("configuration.block_body: expected a string (" + Loc(v) + ")");
      config.block_body = Scalar(v);
    } else if (key == "log_reports") {
      std::string s = v->type == YAML_SCALAR_NODE ? Scalar(v) : "";
      if (s != "true" && s != "false") return InvalidArgumentError("configuration.log_reports: expected true or false (" + Loc(v) + ")");
      config.log_reports = s == "true";
    } else if (key == "upstream_cluster" || key == "api_key" || key == "deployment_name" ||
               key == "command_authority") {
      if (v->type != YAML_SCALAR_NODE || Scalar(v).empty()) {
        return InvalidArgumentError("configuration." + key + ": expected a non-empty string (" + Loc(v) + ")");
      }
      std::string value = Scalar(v);
      if (key == "upstream_cluster") config.command.upstream_cluster = value;
      if (key == "api_key") config.command.api_key = value;
      if (key == "deployment_name") config.command.deployment_name = value;
      if (key == "command_authority") config.command.authority = value;
    } else if (key == "upload_interval_ms" || key == "policy_pull_interval_ms") {
      uint64_t ms = 0;
      LEAKSCOPE_RETURN_IF_ERROR(expect_uint(&ms));
      if (ms < 100 || ms > 86400000) {
        return InvalidArgumentError("configuration." + key + ": must be between 100 and 86400000 (" + Loc(v) + ")");
      }
      (key == "upload_interval_ms" ? config.command.upload_interval_ms : config.command.policy_pull_interval_ms) = ms;
    } else if (key == "upload_batch_size" || key == "max_queued_reports") {
      uint64_t n = 0;
      LEAKSCOPE_RETURN_IF_ERROR(expect_uint(&n));
      if (n < 1 || n > 100000) {
        return InvalidArgumentError("configuration." + key + ": must be between 1 and 100000 (" + Loc(v) + ")");
      }
      (key == "upload_batch_size" ? config.command.upload_batch_size : config.command.max_queued_reports) = n;
    } else {
      return InvalidArgumentError("configuration: unknown field \"" + key + "\" (" + Loc(k) + ")");
    }
  }
  if (config.command.enabled()) {
    if (config.command.api_key.empty()) return InvalidArgumentError("configuration: api_key is required with upstream_cluster");
    if (config.command.deployment_name.empty()) {
      return InvalidArgumentError("configuration: deployment_name is required with upstream_cluster");
    }
  } else if (!config.command.api_key.empty() || !config.command.deployment_name.empty()) {
    return InvalidArgumentError("configuration: api_key and deployment_name need upstream_cluster (Command mode)");
  } else if (!have_policy) {
    return InvalidArgumentError("configuration: local_policy is required (or upstream_cluster for Command mode)");
  }
  return config;
}

}  // namespace leakscope
