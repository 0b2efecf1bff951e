#include "filter/plugin_config.h"

#include <gtest/gtest.h>

#include "engine/policy.h"
#include "filter/metric_names.h"

namespace leakscope {
namespace {

TEST(PluginConfig, InlinePolicyMappingKeepsItsText) {
  auto c = ParsePluginConfig(R"(
local_policy:
  categories:
    ssn:
      - regex: "\\d{3}-\\d{2}-\\d{4}"
  endpoints:
    - matches: "**"
      config:
        ssn: {}
max_analyzed_bytes: 1024
log_reports: true
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->max_analyzed_bytes, 1024u);
  EXPECT_TRUE(c->log_reports);
  auto p = LoadPolicy(c->policy_yaml);
  ASSERT_TRUE(p.ok()) << p.status().message() << "\n" << c->policy_yaml;
  EXPECT_EQ(p->categories[0].name, "ssn");
}

TEST(PluginConfig, JsonWithPolicyAsStringOrObject) {
  auto c = ParsePluginConfig(R"({"local_policy": "categories:\n  a:\n    - raw: x\n", "block_status": 451})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->block_status, 451u);
  EXPECT_TRUE(LoadPolicy(c->policy_yaml).ok());
  c = ParsePluginConfig(R"({"local_policy": {"categories": {"a": [{"raw": "x"}]}}})");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto p = LoadPolicy(c->policy_yaml);
  EXPECT_TRUE(p.ok()) << p.status().message() << "\n" << c->policy_yaml;
}

TEST(PluginConfig, ErrorsNameTheProblem) {
  EXPECT_NE(ParsePluginConfig("{{{").status().message().find("not valid YAML"), std::string::npos);
  EXPECT_NE(ParsePluginConfig("[1]").status().message().find("mapping"), std::string::npos);
  EXPECT_NE(ParsePluginConfig("max_analyzed_bytes: 5").status().message().find("local_policy is required"),
            std::string::npos);
  EXPECT_NE(ParsePluginConfig("local_policy: x\nbogus: 1").status().message().find("bogus"), std::string::npos);
  EXPECT_NE(ParsePluginConfig("local_policy: x\nmax_analyzed_bytes: -1").status().message().find("max_analyzed_bytes"),
            std::string::npos);
  EXPECT_NE(ParsePluginConfig("upstream_cluster: command\napi_key: k").status().message().find("deployment_name"),
            std::string::npos);
  EXPECT_NE(ParsePluginConfig("local_policy: x\napi_key: k").status().message().find("upstream_cluster"),
            std::string::npos);
  EXPECT_NE(ParsePluginConfig("upstream_cluster: c\napi_key: k\ndeployment_name: d\nupload_interval_ms: 5")
                .status().message().find("upload_interval_ms"),
            std::string::npos);
}

TEST(PluginConfig, CommandModeNeedsNoLocalPolicy) {
  auto c = ParsePluginConfig(
      "upstream_cluster: leakscope-command\napi_key: secret\ndeployment_name: prod\nupload_batch_size: 10\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->command.enabled());
  EXPECT_EQ(c->command.upload_batch_size, 10u);
  EXPECT_EQ(c->command.upload_interval_ms, 5000u);
  EXPECT_TRUE(c->policy_yaml.empty());
}

TEST(MetricNames, LabelsAreEncodedWithoutDots) {
  EXPECT_EQ(MatchMetricName("ssn", "response", "body", "*/api/**", "shop/web", ""),
            "leakscope.category.ssn.direction.response.part.body.endpoint.*/api/**.local_service.shop/web"
            ".peer_service.none.matches");
  EXPECT_EQ(MetricName("transactions", {{"direction", "request"}}), "leakscope.direction.request.transactions");
  EXPECT_EQ(SanitizeMetricLabel("a.b c"), "a_b_c");
  EXPECT_EQ(SanitizeMetricLabel(""), "none");
}

}  // namespace
}  // namespace leakscope
