#include "engine/transaction.h"

#include <gtest/gtest.h>

#include <random>

#include "engine/policy.h"

namespace leakscope {
namespace {

std::shared_ptr<const CompiledPolicy> Compile(const std::string& yaml, CompileOptions opts = {}) {
  auto p = LoadPolicy(yaml);
  EXPECT_TRUE(p.ok()) << p.status().message();
  auto c = CompiledPolicy::Compile(std::move(*p), opts);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

struct Result {
  DirectionReport report;
  std::string body;
};

Result Scan(const std::shared_ptr<const CompiledPolicy>& cp, const std::string& body, const std::string& ct,
            size_t chunk = 0, const std::string& path = "/x", TransactionOptions topts = {}) {
  Transaction tx(cp, "api.example.com", path, topts);
  tx.OnHeaders(Direction::kResponse, {{"Content-Type", ct}});
  Result r;
  if (chunk == 0) chunk = body.size() + 1;
  if (body.empty()) tx.OnBody(Direction::kResponse, "", true, &r.body);
  for (size_t i = 0; i < body.size(); i += chunk) {
    tx.OnBody(Direction::kResponse, std::string_view(body).substr(i, chunk), i + chunk >= body.size(), &r.body);
  }
  r.report = tx.report(Direction::kResponse);
  return r;
}

const char* kSsnPolicy = R"(
categories:
  ssn:
    - regex: "\\b\\d{3}-\\d{2}-\\d{4}\\b"
endpoints:
  - matches: "**"
    config:
      ssn: {}
)";

TEST(Transaction, MatchesSpanningBlockBoundariesAreFoundOnce) {
  CompileOptions opts;
  opts.block_bytes = 1024;
  opts.max_match_bytes = 64;
  auto cp = Compile(kSsnPolicy, opts);
  std::string body;
  int expected = 0;
  while (body.size() < 20000) {
    body += std::string(37 + body.size() % 13, 'x') + " 123-45-6789 ";
    ++expected;
  }
  for (size_t chunk : {0, 1, 7, 1000, 1024, 4096}) {
    Result r = Scan(cp, body, "text/plain", chunk);
    ASSERT_EQ(r.report.categories.size(), 1u) << chunk;
    EXPECT_EQ(r.report.categories[0].count, static_cast<uint64_t>(expected)) << chunk;
    EXPECT_EQ(r.body, body);
  }
}

TEST(Transaction, JsonValuesHavePathsAndEscapesAreDecoded) {
  auto cp = Compile(kSsnPolicy);
  Result r = Scan(cp, R"({"people":[{"ssn":"123\u002d45-6789"},{"x":"no"},{"ssn":"987-65-4321"}]})",
                  "application/json", 3);
  ASSERT_EQ(r.report.categories.size(), 1u);
  const CategoryReport& c = r.report.categories[0];
  EXPECT_EQ(c.count, 2u);
  EXPECT_EQ(c.values, (std::vector<std::string>{"123-45-6789", "987-65-4321"}));
  EXPECT_EQ(c.matches[0].path, "people[0].ssn");
  EXPECT_EQ(c.matches[1].path, "people[2].ssn");
  EXPECT_EQ(c.matches[0].context, "value");
}

TEST(Transaction, RedactionInsideEscapedJsonStringAndNumbersKeepsJsonValid) {
  auto cp = Compile(R"(
categories:
  card:
    - regex: "\\d{16}"
endpoints:
  - matches: "**"
    config:
      card: {action: !redact "X\"Y"}
)");
  for (size_t chunk : {0, 1, 5}) {
    Result r = Scan(cp, R"({"a":"4111111111111111","b":4111111111111111,"c":"\u00344111111111111111"})",
                    "application/json", chunk);
    EXPECT_EQ(r.body, R"({"a":"X\"Y","b":"X\"Y","c":"X\"Y1"})") << chunk;
    EXPECT_EQ(r.report.decision, Decision::kRedact);
  }
}

TEST(Transaction, BlockActionIsReportedAsDecision) {
  auto cp = Compile(R"(
categories:
  secret:
    - raw: TOPSECRET
endpoints:
  - matches: "**"
    config:
      secret: {action: block}
)");
  for (size_t chunk : {0, 1, 4}) {
    Result r = Scan(cp, "xx TOPSECRET yy", "text/plain", chunk);
    EXPECT_EQ(r.report.decision, Decision::kBlock);
    // Only the bytes before the blocked match may leave.
    EXPECT_EQ(r.body, "xx ") << chunk;
  }
}

TEST(Transaction, HostileBodiesStayBoundedAndMarked) {
  auto cp = Compile(kSsnPolicy);
  // 100 000-deep nesting: a parse error, and the SSN after it is still found by the text fallback.
  std::string deep = std::string(100000, '[') + "\"123-45-6789\"";
  Result r = Scan(cp, deep, "application/json", 4096);
  EXPECT_NE(r.report.parse_error.find("nested deeper"), std::string::npos);
  ASSERT_EQ(r.report.categories.size(), 1u);
  EXPECT_EQ(r.report.categories[0].count, 1u);
  // Truncated JSON.
  r = Scan(cp, R"({"ssn":"123-45-6789","more":[1,2)", "application/json", 5);
  EXPECT_NE(r.report.parse_error.find("truncated"), std::string::npos);
  EXPECT_EQ(r.report.categories.size(), 1u);
  // Binary and invalid UTF-8.
  std::mt19937 rng(3);
  std::string bin(1 << 20, '\0');
  for (char& c : bin) c = static_cast<char>(rng() % 256);
  bin += " 123-45-6789 ";
  r = Scan(cp, bin, "application/octet-stream", 65536);
  ASSERT_EQ(r.report.categories.size(), 1u);
  EXPECT_GE(r.report.categories[0].count, 1u);
  r = Scan(cp, bin, "application/json", 65536);
  EXPECT_FALSE(r.report.parse_error.empty());
}

TEST(Transaction, AnalysisLimitPassesRestThroughAndSaysSo) {
  auto cp = Compile(kSsnPolicy);
  TransactionOptions topts;
  topts.max_analyzed_bytes = 20;
  std::string body = "123-45-6789 ......... 987-65-4321";
  Result r = Scan(cp, body, "text/plain", 4, "/x", topts);
  EXPECT_TRUE(r.report.truncated);
  EXPECT_EQ(r.report.analyzed_bytes, 20u);
  EXPECT_EQ(r.body, body);
  ASSERT_EQ(r.report.categories.size(), 1u);
  EXPECT_EQ(r.report.categories[0].count, 1u);
}

TEST(Transaction, ValuesAreCappedButCountsExact) {
  auto cp = Compile(kSsnPolicy);
  TransactionOptions topts;
  topts.max_values_per_category = 10;
  std::string body;
  for (int i = 0; i < 100; ++i) body += "123-45-6789 ";
  Result r = Scan(cp, body, "text/plain", 0, "/x", topts);
  EXPECT_EQ(r.report.categories[0].count, 100u);
  EXPECT_EQ(r.report.categories[0].values.size(), 10u);
  EXPECT_TRUE(r.report.categories[0].values_truncated);
}

TEST(Transaction, HeadersAreSearchedWhenConfigured) {
  auto cp = Compile(R"(
categories:
  request_id:
    - regex: "[a-f0-9]{8}-[a-f0-9]{4}"
endpoints:
  - matches: "**"
    config:
      request_id:
        contexts: [{header: x-request-id}]
        search: response_header
)");
  Transaction tx(cp, "h", "/p");
  tx.OnHeaders(Direction::kResponse, {{"X-Request-Id", "deadbeef-0123"}, {"x-other", "deadbeef-4567"}});
  std::string out;
  tx.OnBody(Direction::kResponse, "deadbeef-89ab", true, &out);
  const auto& rep = tx.report(Direction::kResponse);
  ASSERT_EQ(rep.categories.size(), 1u);
  EXPECT_EQ(rep.categories[0].count, 1u);
  EXPECT_EQ(rep.categories[0].matches[0].path, "header:x-request-id");
}

TEST(Transaction, PathologicalRegexInputIsLinear) {
  auto cp = Compile(R"(
categories:
  nested:
    - regex: "(a+)+b"
  email:
    - regex: "[a-zA-Z0-9_.+-]{2,}@[a-zA-Z0-9-]{3,}\\.[a-zA-Z0-9-.]{2,}"
endpoints:
  - matches: "**"
    config:
      nested: {}
      email: {}
)");
  std::string body(4 << 20, 'a');
  Result r = Scan(cp, body, "text/plain", 1 << 16);
  EXPECT_TRUE(r.report.categories.empty());
}

}  // namespace
}  // namespace leakscope
