#include "engine/rule_filter.h"

#include <gtest/gtest.h>

#include "engine/policy.h"
#include "engine/report.h"

namespace leakscope {
namespace {

RuleFilter Filter(const std::string& yaml_filter) {
  auto p = LoadPolicy("categories:\n  ssn:\n    - raw: x\n  email:\n    - raw: y\nsbac:\n  - stage: post_response_body\n    filter:\n" +
                      yaml_filter);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? p->sbac[0].filter : RuleFilter();
}

DirectionReport Counts(std::initializer_list<std::pair<const char*, uint64_t>> counts) {
  DirectionReport r;
  for (const auto& [name, n] : counts) {
    CategoryReport c;
    c.name = c.category = name;
    c.count = n;
    r.categories.push_back(c);
  }
  return r;
}

TEST(RuleFilter, EndpointsTokensAndCombinators) {
  RuleFilter f = Filter(
      "      all:\n"
      "        - endpoint: \"**/api/**\"\n"
      "        - exclude_endpoint: \"**/api/v1/health\"\n"
      "        - exclude_token: exampleToken123\n");
  FilterFacts facts;
  facts.target = "shop.example.com/api/v2/users";
  EXPECT_TRUE(EvaluateRuleFilter(f, facts));
  facts.token = "exampleToken123";
  EXPECT_FALSE(EvaluateRuleFilter(f, facts));
  facts.token = "";
  facts.target = "shop.example.com/api/v1/health";
  EXPECT_FALSE(EvaluateRuleFilter(f, facts));
  RuleFilter n = Filter("      not:\n        request_headers:\n          hello: world\n");
  HeaderList headers = {{"Hello", "world"}};
  facts.request_headers = &headers;
  EXPECT_FALSE(EvaluateRuleFilter(n, facts));
  headers[0].second = "mars";
  EXPECT_TRUE(EvaluateRuleFilter(n, facts));
}

TEST(RuleFilter, ServicesByPartOrFullName) {
  RuleFilter f = Filter("      peer_service:\n        any:\n        - sa: cartservice\n        - sa: \"regex: check.*\"\n");
  FilterFacts facts;
  facts.peer_service = ServiceIdentity{"cluster.local", "default", "checkoutservice", ""};
  EXPECT_TRUE(EvaluateRuleFilter(f, facts));
  facts.peer_service.sa = "frontend";
  EXPECT_FALSE(EvaluateRuleFilter(f, facts));
  RuleFilter full = Filter("      local_service: cluster.local/default/frontend\n");
  facts.local_service = ServiceIdentity{"cluster.local", "default", "frontend", ""};
  EXPECT_TRUE(EvaluateRuleFilter(full, facts));
}

TEST(RuleFilter, MatchCountsAndIps) {
  RuleFilter f = Filter("      all:\n        - response_outbound\n        - response_matches:\n            ssn: 2\n            \"*\": 3\n");
  DirectionReport r = Counts({{"ssn", 2}, {"email", 1}});
  FilterFacts facts;
  facts.response = &r;
  EXPECT_TRUE(EvaluateRuleFilter(f, facts));
  r.categories[1].count = 0;
  EXPECT_FALSE(EvaluateRuleFilter(f, facts));
  RuleFilter ip = Filter("      ip: [10.0.0.0/8, \"2001:db8::/32\"]\n");
  facts.ip = "10.1.2.3:5555";
  EXPECT_TRUE(EvaluateRuleFilter(ip, facts));
  facts.ip = "[2001:db8::7]:80";
  EXPECT_TRUE(EvaluateRuleFilter(ip, facts));
  facts.ip = "192.168.1.1";
  EXPECT_FALSE(EvaluateRuleFilter(ip, facts));
  facts.ip = "garbage";
  EXPECT_FALSE(EvaluateRuleFilter(ip, facts));
}

TEST(RuleFilter, ErrorsNameTheFilter) {
  auto err = [](const std::string& filter) {
    auto p = LoadPolicy("categories:\n  a:\n    - raw: x\nsbac:\n  - stage: post_request_headers\n    filter:\n" + filter);
    return p.ok() ? std::string() : p.status().message();
  };
  EXPECT_NE(err("      teleport: 1\n").find("sbac[0].filter.teleport"), std::string::npos);
  EXPECT_NE(err("      ip: 999.1.1.1\n").find("invalid IP"), std::string::npos);
  EXPECT_NE(err("      endpoint: \"#(\"\n").find("sbac[0].filter.endpoint"), std::string::npos);
  EXPECT_NE(err("      token: \"regex: (\"\n").find("sbac[0].filter.token"), std::string::npos);
  auto p = LoadPolicy("categories:\n  a:\n    - raw: x\nsbac:\n  - stage: sometime\n    filter: {endpoint: \"**\"}\n");
  EXPECT_NE(p.status().message().find("sometime"), std::string::npos);
}

}  // namespace
}  // namespace leakscope
