#include "engine/token_extractor.h"

#include <gtest/gtest.h>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/transaction.h"

namespace leakscope {
namespace {

// {"sub":"1234567890","name":"John Doe","iat":1516239022}
constexpr char kJwt[] =
    "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

const TokenExtractorConfig& Extractor(const Policy& p) { return *p.endpoints[0].token_extractor; }

TEST(TokenExtractor, JwtChainWithMetadataFork) {
  auto p = LoadPolicy(R"Y(
categories:
  a:
    - raw: x
endpoints:
  - matches: "**"
    token_extractor:
      location: request
      header: Authorization
      extractor:
        - regex: "Bearer (.+)"
        - jwt_decode
        - metadata:
            a: !regex \d+
            c:
              - json_path: $.sub
              - hash
        - json_path: $.name
        - regex: "\\b[a-zA-Z]{4}\\b"
)Y");
  ASSERT_TRUE(p.ok()) << p.status().message();
  const TokenExtractorConfig& te = Extractor(*p);
  EXPECT_EQ(te.header, "authorization");
  auto t = ExtractToken(te.steps, kJwt);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->token, "John");
  EXPECT_EQ(t->metadata.at("a"), "1234567890");
  EXPECT_EQ(t->metadata.at("c"), "C775E7B757EDE630CD0AA1113BD102661AB38829CA52A6422AB782862F268646");
}

TEST(TokenExtractor, LegacyRegexAndHash) {
  auto p = LoadPolicy(R"Y(
categories:
  a:
    - raw: x
endpoints:
  - matches: "**"
    token_extractor:
      location: request
      header: block_me
      regex: ".*"
      hash: true
)Y");
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto t = ExtractToken(Extractor(*p).steps, "abc");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->token, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
}

TEST(TokenExtractor, StepsThatFindNothing) {
  auto re = MakeRegexStep("^Token (\\w+)$");
  ASSERT_TRUE(re.ok());
  EXPECT_FALSE(ExtractToken({*re}, "Bearer x").has_value());
  TokenStep jwt;
  jwt.kind = TokenStep::Kind::kJwtDecode;
  EXPECT_FALSE(ExtractToken({jwt}, "not-a-jwt").has_value());
  EXPECT_FALSE(ExtractToken({jwt}, "a.!!!.b").has_value());
  EXPECT_FALSE(JsonPathScalar("{\"a\":1}", "$.b").has_value());
  EXPECT_EQ(*JsonPathScalar(R"({"a":{"b":[5,{"c d":"x"}]}})", "$.a.b[1]['c d']"), "x");
  EXPECT_FALSE(JsonPathScalar("{}", "$..a").has_value());
}

TEST(TokenExtractor, CookiesAndBase64) {
  EXPECT_EQ(*CookieValue("a=1; session=\"s3cr3t\"; b=2", "session"), "s3cr3t");
  EXPECT_FALSE(CookieValue("a=1", "session").has_value());
  EXPECT_EQ(*DecodeBase64Url("aGVsbG8"), "hello");
  EXPECT_EQ(*DecodeBase64Url("aGVsbG8="), "hello");
  EXPECT_FALSE(DecodeBase64Url("a").has_value());
}

TEST(TokenExtractor, BadConfigurationsNameTheField) {
  auto bad = [](const std::string& te) {
    auto p = LoadPolicy("categories:\n  a:\n    - raw: x\nendpoints:\n  - matches: \"**\"\n    token_extractor:\n" + te);
    return p.ok() ? std::string() : p.status().message();
  };
  EXPECT_NE(bad("      header: x\n").find("token_extractor.location"), std::string::npos);
  EXPECT_NE(bad("      location: somewhere\n      header: x\n").find("somewhere"), std::string::npos);
  EXPECT_NE(bad("      location: request\n      header: x\n      extractor: [teleport]\n").find("teleport"),
            std::string::npos);
  EXPECT_NE(bad("      location: request\n      header: x\n      extractor: [{regex: \"(\"}]\n").find("extractor[0].regex"),
            std::string::npos);
}

TEST(TokenExtractor, MostSpecificEndpointWins) {
  auto p = LoadPolicy(R"Y(
categories:
  a:
    - raw: x
endpoints:
  - matches: "**"
    token_extractor: {location: request, header: a}
  - matches: "*/admin/**"
    token_extractor: {location: request_cookie, header: Session}
)Y");
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto cp = CompiledPolicy::Compile(std::move(*p));
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ((*cp)->Resolve("h/admin/users").token_extractor->header, "Session");
  EXPECT_EQ((*cp)->Resolve("h/users").token_extractor->header, "a");
}

TEST(TokenExtractor, TransactionExtractsFromCookieHeader) {
  auto p = LoadPolicy(R"Y(
categories:
  a:
    - raw: x
endpoints:
  - matches: "**"
    token_extractor: {location: request_cookie, header: session, extractor: [hash]}
)Y");
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto cp = CompiledPolicy::Compile(std::move(*p));
  ASSERT_TRUE(cp.ok());
  Transaction tx(*cp, "h", "/p");
  EXPECT_FALSE(tx.token().has_value());
  tx.OnHeaders(Direction::kRequest, {{"Cookie", "theme=dark; session=abc"}});
  ASSERT_TRUE(tx.token().has_value());
  EXPECT_EQ(tx.token()->token, "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
}

}  // namespace
}  // namespace leakscope
