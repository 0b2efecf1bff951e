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
  auto cmd = ParsePluginConfig("upstream_cluster: command\napi_key: k");
  EXPECT_EQ(cmd.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(cmd.status().message().find("not supported yet"), std::string::npos);
}

TEST(MetricNames, LabelsAreEncodedWithoutDots) {
  EXPECT_EQ(MatchMetricName("ssn", "response", "body", "*/api/**"),
            "leakscope.category.ssn.direction.response.part.body.endpoint.*/api/**.matches");
  EXPECT_EQ(MetricName("transactions", {{"direction", "request"}}), "leakscope.direction.request.transactions");
  EXPECT_EQ(SanitizeMetricLabel("a.b c"), "a_b_c");
  EXPECT_EQ(SanitizeMetricLabel(""), "none");
}

}  // namespace
}  // namespace leakscope
