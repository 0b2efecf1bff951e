#include "engine/policy.h"

#include <gtest/gtest.h>

namespace leakscope {
namespace {

std::string LoadError(const std::string& yaml) {
  auto p = LoadPolicy(yaml);
  return p.ok() ? std::string() : p.status().message();
}

TEST(PolicyLoad, AllRuleKindsAndTaggedForms) {
  auto p = LoadPolicy(R"(
categories:
  a:
    - raw: x
    - raw_insensitive: Y
    - regex: "\\d+"
    - except: "1"
    - except_regex: "9+"
    - internal: credit_card
  routing:
    matchers: !internal routing_number
    tag: bank
  phone:
    - regex: "\\d{10}"
    - and:
        - internal: !national_phone US
  near:
    - raw: number
    - correlate:
        interest: secondary
        max_distance: 16
        match_group: phone
  hashes:
    - internal: !hash [bcrypt, argon2]
endpoints:
  - matches: ["**", "*/x/#[0-9]+"]
    report_style: sha256
    config:
      a: {action: !redact "XX", contexts: [keys, {header: X-Id}], search: [body, request_header]}
      routing: {report_style: partial_sha256, report_bits: 12}
      near: {name: nearby, content_types: json}
      phone: {action: block}
      hashes: {action: ignore}
report_style: none
report_bits: 32
content_types:
  application/x-custom: json
)");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->categories.size(), 5u);
  EXPECT_EQ(p->categories[0].rules.size(), 6u);
  EXPECT_EQ(p->categories[1].tag, "bank");
  EXPECT_EQ(p->categories[1].rules[0].internal_name, "routing_number");
  EXPECT_EQ(p->categories[2].rules[1].nested[0].internal_options, std::vector<std::string>{"US"});
  EXPECT_EQ(p->categories[3].rules[1].match_group, "phone");
  EXPECT_EQ(p->categories[3].rules[1].interest, CorrelateInterest::kSecondary);
  EXPECT_EQ(p->categories[4].rules[0].internal_options.size(), 2u);
  const MatchConfig& a = p->endpoints[0].config.at("a");
  EXPECT_EQ(*a.action, Action::kRedact);
  EXPECT_EQ(*a.redact_mask, "XX");
  EXPECT_TRUE(a.contexts->keys);
  EXPECT_EQ(a.contexts->headers, std::vector<std::string>{"x-id"});
  EXPECT_EQ(p->report_style, ReportStyle::kNone);
  EXPECT_EQ(p->report_bits, 32u);
  EXPECT_EQ(p->content_types.at("application/x-custom"), "json");
  EXPECT_EQ(p->content_types.at("application/json"), "json");
}

TEST(PolicyLoad, ErrorsNameFieldAndLine) {
  std::string e = LoadError("categories:\n  ssn:\n    - regx: \"\\\\d\"\n");
  EXPECT_NE(e.find("categories.ssn[0]"), std::string::npos) << e;
  EXPECT_NE(e.find("regx"), std::string::npos) << e;
  EXPECT_NE(e.find("line 3:"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - regex: \"(unclosed\"\n");
  EXPECT_NE(e.find("categories.a[0].regex"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - raw: x\nendpoints:\n  - matches: \"**\"\n    config:\n      b: {}\n");
  EXPECT_NE(e.find("endpoints[0].config.b"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown category"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - raw: x\nendpoints:\n  - matches: \"**\"\n    config:\n      a: {action: explode}\n");
  EXPECT_NE(e.find("action"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - raw: x\nbody_collection: []\n");
  EXPECT_NE(e.find("not supported yet: body_collection"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - raw: x\nbogus: 1\n");
  EXPECT_NE(e.find("unknown field \"bogus\""), std::string::npos) << e;

  e = LoadError("categories: [unclosed\n");
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - except: x\n");
  EXPECT_NE(e.find("never match"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - internal: !national_phone US\n");
  EXPECT_NE(e.find("secondary"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - raw: x\n    - correlate: {max_distance: 5, match_group: nope}\n");
  EXPECT_NE(e.find("nope"), std::string::npos) << e;

  e = LoadError("categories:\n  a:\n    - raw: x\nendpoints:\n  - matches: \"**\"\n    config:\n      a: {report_bits: 999}\n");
  EXPECT_NE(e.find("report_bits"), std::string::npos) << e;
}

TEST(PolicyLoad, LegacyQuirksLoadWithWarnings) {
  auto p = LoadPolicy(R"(
categories:
  email:
    - raw: "@"
endpoints:
  - matches: "**"
    config:
      email: {}
      email: {}
body_collection_rate: 0.0
)");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->warnings.size(), 2u);
  std::string all = p->warnings[0].ToString() + "\n" + p->warnings[1].ToString();
  EXPECT_NE(all.find("endpoints[0].config.email: duplicate key"), std::string::npos) << all;
  EXPECT_NE(all.find("body_collection_rate"), std::string::npos) << all;
}

TEST(PolicyLoad, ServiceIdentification) {
  auto p = LoadPolicy(R"(
categories:
  a:
    - raw: x
local_service_name:
  sa: !env SERVICE_NAME
  ns: !raw payments
  workload: {default: {from: !attrs node.metadata.WORKLOAD_NAME, to: none}}
peer_service_name: istio
)");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->local_service_name.sa.kind, ServiceSource::Kind::kEnv);
  EXPECT_EQ(p->local_service_name.sa.value, "SERVICE_NAME");
  EXPECT_EQ(p->local_service_name.ns.value, "payments");
  EXPECT_EQ(p->local_service_name.cluster.kind, ServiceSource::Kind::kIstio);
  ASSERT_EQ(p->local_service_name.workload.choices.size(), 2u);
  EXPECT_EQ(p->local_service_name.workload.choices[0].value, "node.metadata.WORKLOAD_NAME");
  EXPECT_EQ(p->peer_service_name.sa.kind, ServiceSource::Kind::kIstio);
  std::string e = LoadError("categories:\n  a:\n    - raw: x\nlocal_service_name:\n  sa: !nope x\n");
  EXPECT_NE(e.find("local_service_name.sa"), std::string::npos) << e;
  EXPECT_NE(e.find("!nope"), std::string::npos) << e;
}

TEST(PolicyLoad, HostileInputDoesNotCrash) {
  std::string deep = "categories:\n  a:\n    - raw: x\nendpoints: " + std::string(5000, '[') + "\n";
  EXPECT_FALSE(LoadPolicy(deep).ok());
  EXPECT_FALSE(LoadPolicy(std::string("\xff\xfe\x00\x01", 4)).ok());
  EXPECT_FALSE(LoadPolicy("").ok());
  // "Billion laughs": nine levels of ten aliases each.
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) laughs += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    laughs += "]\n";
  }
  laughs += "categories:\n  a:\n    - raw: x\nrules:\n  - {grouping: global, by: ip, filter: {all: *a9}}\n";
  auto p = LoadPolicy(laughs);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("aliases"), std::string::npos) << p.status().message();
  EXPECT_FALSE(LoadPolicy("- just\n- a list\n").ok());
}

// Rules refused after their YAML node was parsed still say where they are.
TEST(PolicyErrors, RulesRefusedInsideCorrelateAndAndSayWhere) {
  const std::string head = "categories:\n  a:\n    - regex: x\n";
  const std::pair<std::string, std::string> cases[] = {
      {head + "    - correlate:\n        max_distance: 3\n        matches:\n          - except: y\n",
       "not supported yet: categories.a[1].correlate.matches[0] (except inside correlate matches) (line 7:13)"},
      {head + "    - correlate:\n        max_distance: 3\n        matches:\n          - and: [{raw: z}]\n",
       "(and inside correlate matches) (line 7:13)"},
      {head + "    - and:\n        - raw: q\n        - and: [{raw: z}]\n", "is not allowed inside and (line 6:11)"},
      {head + "    - correlate:\n        max_distance: 3\n        match_group: nope\n", "unknown category \"nope\" (line 4:7)"},
  };
  for (const auto& [yaml, want] : cases) {
    auto p = LoadPolicy(yaml);
    ASSERT_FALSE(p.ok()) << yaml;
    EXPECT_NE(p.status().message().find(want), std::string::npos) << p.status().message();
  }
}

}  // namespace
}  // namespace leakscope
