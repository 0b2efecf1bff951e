#include "filter/command_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace leakscope {
namespace {

TEST(CommandProtocol, UploadBodyIsValidJsonWithReports) {
  DirectionReport resp;
  resp.direction = Direction::kResponse;
  CategoryReport c;
  c.name = "ssn";
  c.count = 2;
  c.values = {"01a546", "01a546"};
  resp.categories.push_back(c);
  TransactionSummary t;
  t.time_ms = 42;
  t.authority = "shop";
  t.path = "/a?q=\"secret\"";
  t.status = "200";
  t.local_service = ServiceName{"cluster.local", "shop", "web", ""};
  t.token = "John";
  t.request_headers = {{"authorization", std::nullopt}, {"user-agent", std::string("curl")}};
  t.token_metadata = {{"a", "1"}};
  t.response = &resp;
  std::string body = UploadBody("prod", "p1", 99, 3, {TransactionReportJson(t)});
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["protocol"], 1);
  EXPECT_EQ(j["dropped_reports"], 3);
  EXPECT_EQ(j["reports"][0]["path"], "/a");  // the query string never leaves
  EXPECT_EQ(j["reports"][0]["response"]["categories"]["ssn"]["count"], 2);
  EXPECT_FALSE(j["reports"][0].contains("request"));
  EXPECT_EQ(j["reports"][0]["local_service"]["sa"], "web");
  EXPECT_EQ(j["reports"][0]["token"], "John");
  EXPECT_EQ(j["reports"][0]["request_headers"][0]["name"], "authorization");
  EXPECT_FALSE(j["reports"][0]["request_headers"][0].contains("value"));  // not collected: name only
  EXPECT_EQ(j["reports"][0]["request_headers"][1]["value"], "curl");
  EXPECT_EQ(j["reports"][0]["token_metadata"]["a"], "1");
  EXPECT_EQ(t.local_service.Label(), "shop/web");
  EXPECT_EQ(ServiceName{}.Label(), "");
}

TEST(CommandProtocol, PolicyResponseParses) {
  auto u = ParsePolicyResponse(
      R"({"protocol":1,"policy_id":"v7","policy":"categories:\n  a:\n    - raw: x\n","blocked_ips":["203.0.113.9","::1"],"blocked_tokens":[]})");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->policy_id, "v7");
  EXPECT_EQ(u->policy_yaml, "categories:\n  a:\n    - raw: x\n");
  EXPECT_EQ(u->blocked_ips, (std::vector<std::string>{"203.0.113.9", "::1"}));
}

TEST(CommandProtocol, GarbageIsRefused) {
  EXPECT_FALSE(ParsePolicyResponse("").ok());
  EXPECT_FALSE(ParsePolicyResponse("<html>").ok());
  EXPECT_FALSE(ParsePolicyResponse(R"({"policy_id":"x"})").ok());
  EXPECT_FALSE(ParsePolicyResponse(R"({"policy":"a"}{"policy":"b"})").ok());
  EXPECT_FALSE(ParsePolicyResponse(std::string(100000, '[')).ok());
}

TEST(CommandProtocol, HeaderPairsAndAddresses) {
  std::string s = SerializeHeaderPairs({{":path", "/x"}});
  ASSERT_EQ(s.size(), 4u + 8u + 6u + 3u);
  EXPECT_EQ(s[0], 1);
  EXPECT_EQ(s.substr(12), std::string(":path\0/x\0", 9));
  EXPECT_EQ(AddressWithoutPort("10.0.0.7:51234"), "10.0.0.7");
  EXPECT_EQ(AddressWithoutPort("[::1]:80"), "::1");
  EXPECT_EQ(AddressWithoutPort("::1"), "::1");
  EXPECT_EQ(AddressWithoutPort("10.0.0.7"), "10.0.0.7");
}

}  // namespace
}  // namespace leakscope
