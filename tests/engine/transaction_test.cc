#include "engine/transaction.h"

#include <gtest/gtest.h>


#include <cstdio>
#include <random>

#include "engine/content_decoder.h"
#include "engine/policy.h"
#include "support/compress.h"
#include "support/protobuf_wire.h"
#include "support/report_summary.h"

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

TEST(Transaction, CategoriesAreReportedInConfigOrderAndSharedNamesCountTogether) {
  auto cp = Compile(R"(
categories:
  alpha:
    - raw: AAA
  beta:
    - raw: BBB
  zeta:
    - raw: ZZZ
endpoints:
  - matches: "**"
    config:
      zeta: {}
      first:
        matcher: alpha
        name: shared
      second:
        matcher: beta
        name: shared
)");
  for (size_t chunk : {0, 1, 5}) {
    Result r = Scan(cp, "BBB AAA ZZZ BBB", "text/plain", chunk);
    ASSERT_EQ(r.report.categories.size(), 2u) << chunk;
    EXPECT_EQ(r.report.categories[0].name, "zeta") << chunk;
    EXPECT_EQ(r.report.categories[0].count, 1u) << chunk;
    EXPECT_EQ(r.report.categories[1].name, "shared") << chunk;
    EXPECT_EQ(r.report.categories[1].count, 3u) << chunk;
    EXPECT_EQ(r.report.categories[1].values, (std::vector<std::string>{"BBB", "AAA", "BBB"})) << chunk;
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

// A caller that forwards chunks itself passes no output while the body is not held back: the
// report is the same as with one, and nothing needs copying. A caller that does so while the
// body would be held back gets a report that says redactions were not applied.
TEST(Transaction, NoOutputWhenTheBodyIsNotHeldBackReportsTheSame) {
  const std::string body = R"({"people":[{"ssn":"123-45-6789"},{"ssn":"987-65-4321"}]})";
  auto alerting = Compile(kSsnPolicy);
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}}) {
    Transaction tx(alerting, "api.example.com", "/x");
    tx.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
    ASSERT_FALSE(tx.may_hold_body(Direction::kResponse));
    const size_t step = chunk == 0 ? body.size() : chunk;
    for (size_t i = 0; i < body.size(); i += step) {
      tx.OnBody(Direction::kResponse, std::string_view(body).substr(i, step), i + step >= body.size(), nullptr);
    }
    EXPECT_EQ(testing::MatchSummary(tx.report(Direction::kResponse)),
              testing::MatchSummary(Scan(alerting, body, "application/json", chunk).report))
        << chunk;
    EXPECT_TRUE(tx.report(Direction::kResponse).warnings.empty());
  }

  auto redacting = Compile(std::string(kSsnPolicy).replace(std::string(kSsnPolicy).find("ssn: {}"), 7,
                                                           "ssn: {action: !redact \"#\"}"));
  Transaction tx(redacting, "api.example.com", "/x");
  tx.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
  ASSERT_TRUE(tx.may_hold_body(Direction::kResponse));
  tx.OnBody(Direction::kResponse, body, true, nullptr);
  const DirectionReport& report = tx.report(Direction::kResponse);
  EXPECT_FALSE(tx.may_hold_body(Direction::kResponse));
  ASSERT_EQ(report.categories.size(), 1u);
  EXPECT_EQ(report.categories[0].count, 2u);
  EXPECT_EQ(report.decision, Decision::kContinue);  // what was done
  EXPECT_EQ(report.warnings,
            std::vector<std::string>{"body not held back (the host forwarded it as received): redactions were not applied"});
}

// Thousands of redactions applied by one release (a text of SSNs given in one piece, or in
// large chunks): every one is rewritten and nothing else is, whatever the chunking.
TEST(Transaction, DenseRedactionsAreAllAppliedUnderAnyChunking) {
  auto redacting = Compile(std::string(kSsnPolicy).replace(std::string(kSsnPolicy).find("ssn: {}"), 7,
                                                           "ssn: {action: !redact \"<ssn>\"}"));
  std::mt19937_64 rng(14);
  std::string body, want;
  constexpr int kValues = 20000;
  for (int i = 0; i < kValues; ++i) {
    char ssn[16];
    std::snprintf(ssn, sizeof(ssn), "%03d-%02d-%04d", static_cast<int>(rng() % 1000), static_cast<int>(rng() % 100),
                  static_cast<int>(rng() % 10000));
    const char* sep = i % 7 == 0 ? "\n" : " ";
    body += ssn;
    body += sep;
    want += "<ssn>";
    want += sep;
  }
  for (size_t chunk : {size_t{0}, size_t{65536}, size_t{16384}, size_t{1000}}) {
    Result r = Scan(redacting, body, "text/plain", chunk);
    ASSERT_EQ(r.report.categories.size(), 1u) << chunk;
    EXPECT_EQ(r.report.categories[0].count, static_cast<uint64_t>(kValues)) << chunk;
    EXPECT_EQ(r.report.decision, Decision::kRedact) << chunk;
    EXPECT_TRUE(r.body == want) << chunk << ": " << r.body.size() << " bytes forwarded, " << want.size() << " expected";
  }
}

TEST(Transaction, CorrelateInterestPicksTheReportedSpan) {
  const std::string policy = R"(
categories:
  phone:
    - regex: "\\b\\d{10}\\b"
    - correlate:
        interest: INTEREST
        max_distance: 8
        matches:
          - raw: tel
endpoints:
  - matches: "**"
    config:
      phone: {}
)";
  auto with = [&](const std::string& interest) {
    std::string p = policy;
    p.replace(p.find("INTEREST"), 8, interest);
    return Compile(p);
  };
  const std::string body = "tel: 5551234567 and far away, far far away 5559876543";
  for (size_t chunk : {0, 1, 3}) {
    Result primary = Scan(with("primary"), body, "text/plain", chunk);
    ASSERT_EQ(primary.report.categories.size(), 1u);
    EXPECT_EQ(primary.report.categories[0].values, std::vector<std::string>{"5551234567"});
    Result secondary = Scan(with("secondary"), body, "text/plain", chunk);
    ASSERT_EQ(secondary.report.categories.size(), 1u);
    EXPECT_EQ(secondary.report.categories[0].values, std::vector<std::string>{"tel"});
    Result all = Scan(with("all"), body, "text/plain", chunk);
    ASSERT_EQ(all.report.categories.size(), 1u);
    EXPECT_EQ(all.report.categories[0].values, std::vector<std::string>{"tel<2 bytes>5551234567"});
  }
}

// Thousands of primaries and secondaries of one correlation in one body, some near each other
// and some not, with secondaries of different lengths (the near ones may be before or after
// their primary): each primary is decided as alone, under any chunking, and the redactions the
// correlation decides (all of them after the direct matches) rewrite exactly their numbers.
TEST(Transaction, DenseCorrelationsAreDecidedAndRedactedAsAlone) {
  const std::string policy = R"(
categories:
  phone:
    - regex: "\\b\\d{10}\\b"
    - correlate:
        interest: primary
        max_distance: 8
        matches:
          - raw: tel
          - regex: "telephone-[a-z]{0,40}"
  card:
    - regex: "\\b4\\d{15}\\b"
endpoints:
  - matches: "**"
    config:
      phone: {action: !redact "<phone>"}
      card: {action: !redact "<card>"}
)";
  auto cp = Compile(policy);
  std::mt19937_64 rng(1414);
  std::string body, want;
  uint64_t near = 0;
  auto digits = [&](int n) {
    std::string d;
    for (int i = 0; i < n; ++i) d.push_back(static_cast<char>('0' + rng() % 10));
    return d;
  };
  for (int i = 0; i < 6000; ++i) {
    const std::string number = digits(10);
    switch (rng() % 6) {
      case 0:  // a secondary just before
        body += "tel " + number;
        want += "tel <phone>";
        ++near;
        break;
      case 1: {  // a long secondary just after
        const std::string tail(rng() % 40, 'x');
        body += number + " telephone-" + tail;
        want += "<phone> telephone-" + tail;
        ++near;
        break;
      }
      case 2:  // too far from any secondary
        body += "............ " + number + " ............";
        want += "............ " + number + " ............";
        break;
      case 3: {  // a direct match between correlated ones
        const std::string card = "4" + digits(15);
        body += "card " + card;
        want += "card <card>";
        break;
      }
      case 4: {  // a long secondary that ends just before
        const std::string tail(rng() % 40, 'y');
        body += "telephone-" + tail + " " + number;
        want += "telephone-" + tail + " <phone>";
        ++near;
        break;
      }
      default:
        body += "tel ............ " + number;
        want += "tel ............ " + number;
        break;
    }
    body += " ;..........\n";  // farther than max_distance from the next item
    want += " ;..........\n";
  }
  for (size_t chunk : {size_t{0}, size_t{16384}, size_t{777}}) {
    Result r = Scan(cp, body, "text/plain", chunk);
    uint64_t phones = 0;
    for (const CategoryReport& c : r.report.categories) {
      if (c.category == "phone") phones = c.count;
    }
    EXPECT_EQ(phones, near) << chunk;
    EXPECT_TRUE(r.body == want) << chunk << ": the forwarded body differs";
  }
}

const char* kBlockPolicy = R"(
categories:
  secret:
    - raw: TOPSECRET
endpoints:
  - matches: "**"
    config:
      secret: {action: block}
)";

TEST(Transaction, BlockActionIsReportedAsDecision) {
  auto cp = Compile(kBlockPolicy);
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

// The parser's warnings about the analysed bytes come before the limit's, however the body is
// chunked (whole, the limit used to be noted first).
TEST(Transaction, TheAnalysisLimitIsNotedAfterWhatPrecedesIt) {
  auto cp = Compile(kSsnPolicy);
  TransactionOptions topts;
  topts.max_analyzed_bytes = 30;
  const std::string body = R"({"a":"123-45-6789",HHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHHH})";
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{29}}) {
    Result r = Scan(cp, body, "application/json", chunk, "/x", topts);
    ASSERT_EQ(r.report.warnings.size(), 2u) << chunk;
    EXPECT_NE(r.report.warnings[0].find("JSON parsing stopped"), std::string::npos) << chunk;
    EXPECT_NE(r.report.warnings[1].find("analysis limit of 30 bytes"), std::string::npos) << chunk;
  }
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


// ---- compressed bodies ----

using testing::Brotli;
using testing::Deflate;

// gzip (16 + MAX_WBITS), zlib (MAX_WBITS) or raw deflate (-MAX_WBITS) of `repeat` copies of `data`.
std::string Zip(std::string_view data, int window_bits = 16 + MAX_WBITS, int repeat = 1) {
  return Deflate(data, window_bits, static_cast<uint64_t>(repeat));
}

struct EncodedResult {
  DirectionReport report;
  std::string forwarded;
  bool may_hold = false;
};

EncodedResult ScanEncoded(const std::shared_ptr<const CompiledPolicy>& cp, const std::string& body,
                          const std::string& ct, const std::string& encoding, size_t chunk = 0,
                          TransactionOptions topts = {}, Direction d = Direction::kResponse) {
  Transaction tx(cp, "api.example.com", "/x", topts);
  tx.OnHeaders(d, {{"Content-Type", ct}, {"Content-Encoding", encoding}});
  EncodedResult r;
  r.may_hold = tx.may_hold_body(d);
  if (chunk == 0) chunk = body.size() + 1;
  if (body.empty()) tx.OnBody(d, "", true, &r.forwarded);
  for (size_t i = 0; i < body.size(); i += chunk) {
    tx.OnBody(d, std::string_view(body).substr(i, chunk), i + chunk >= body.size(), &r.forwarded);
  }
  r.report = tx.report(d);
  return r;
}

bool HasWarning(const DirectionReport& r, std::string_view needle) {
  for (const std::string& w : r.warnings) {
    if (w.find(needle) != std::string::npos) return true;
  }
  return false;
}

// JSON with an SSN deep inside, after enough filler to span several decoded pieces.
std::string SsnJson() {
  std::string json = R"({"filler":[)";
  for (int i = 0; i < 5000; ++i) json += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(i) + "}";
  json += R"(],"people":[{"name":"x"},{"ssn":"123-45-6789"}]})";
  return json;
}

TEST(TransactionEncoded, SsnInGzipJsonIsFoundWithItsPathAndBytesLeaveUnchanged) {
  auto cp = Compile(kSsnPolicy);
  const std::string json = SsnJson();
  const std::string gz = Zip(json);
  const size_t ssn_at = json.find("123-45-6789");
  for (size_t chunk : {0, 1, 7, 4096}) {
    EncodedResult r = ScanEncoded(cp, gz, "application/json", "gzip", chunk);
    EXPECT_EQ(r.forwarded, gz) << chunk;
    EXPECT_FALSE(r.may_hold);
    EXPECT_EQ(r.report.content_encoding, "gzip");
    EXPECT_EQ(r.report.body_bytes, gz.size());
    EXPECT_EQ(r.report.analyzed_bytes, json.size());
    EXPECT_TRUE(r.report.parse_error.empty()) << r.report.parse_error;
    EXPECT_TRUE(r.report.warnings.empty());
    ASSERT_EQ(r.report.categories.size(), 1u) << chunk;
    const CategoryReport& c = r.report.categories[0];
    EXPECT_EQ(c.count, 1u);
    EXPECT_EQ(c.values, std::vector<std::string>{"123-45-6789"});
    EXPECT_EQ(c.matches[0].path, "people[1].ssn");
    EXPECT_EQ(c.matches[0].offset, ssn_at);  // offsets are in the decoded body
  }
  const std::string json_report = DirectionReportToJson(ScanEncoded(cp, gz, "application/json", "gzip").report);
  EXPECT_NE(json_report.find(R"("content_encoding": "gzip")"), std::string::npos) << json_report;
  // Scanned as the bytes on the wire, the same body shows nothing: the decoding is what finds it.
  EXPECT_TRUE(Scan(cp, gz, "application/json").report.categories.empty());
}

TEST(TransactionEncoded, EveryCodingAndStackDecodesTheSameWay) {
  auto cp = Compile(kSsnPolicy);
  const std::string json = SsnJson();
  const std::pair<std::string, std::string> cases[] = {
      {"gzip", Zip(json)},
      {"deflate", Zip(json, MAX_WBITS)},
      {"deflate", Zip(json, -MAX_WBITS)},
      {"br", Brotli(json)},
      {"gzip, br", Brotli(Zip(json))},
      {"identity, GZIP", Zip(json)},
  };
  for (const auto& [encoding, body] : cases) {
    for (size_t chunk : {0, 13}) {
      EncodedResult r = ScanEncoded(cp, body, "application/json", encoding, chunk);
      EXPECT_EQ(r.forwarded, body) << encoding;
      ASSERT_EQ(r.report.categories.size(), 1u) << encoding;
      EXPECT_EQ(r.report.categories[0].matches[0].path, "people[1].ssn") << encoding;
      EXPECT_TRUE(r.report.warnings.empty()) << encoding;
    }
  }
  // Request bodies too, and the header name in any case.
  Transaction tx(cp, "h", "/p");
  tx.OnHeaders(Direction::kRequest, {{"CONTENT-ENCODING", "br"}});
  std::string out;
  const std::string body = Brotli("text 987-65-4321 text");
  tx.OnBody(Direction::kRequest, body, true, &out);
  EXPECT_EQ(out, body);
  ASSERT_EQ(tx.report(Direction::kRequest).categories.size(), 1u);
  EXPECT_EQ(tx.report(Direction::kRequest).content_encoding, "br");
}

TEST(TransactionEncoded, IdentityIsNotReported) {
  auto cp = Compile(kSsnPolicy);
  EncodedResult r = ScanEncoded(cp, "a 123-45-6789 b", "text/plain", "identity");
  ASSERT_EQ(r.report.categories.size(), 1u);
  EXPECT_EQ(r.report.content_encoding, "");
  EXPECT_EQ(DirectionReportToJson(r.report).find("content_encoding"), std::string::npos);
}

TEST(TransactionEncoded, UnsupportedCodingIsNotScannedAndSaysSo) {
  auto cp = Compile(kSsnPolicy);
  // Were these bytes scanned as they are, the SSN would be found: nothing may be reported.
  const std::string body = "a 123-45-6789 b";
  EncodedResult r = ScanEncoded(cp, body, "text/plain", "zstd", 3);
  EXPECT_EQ(r.forwarded, body);
  EXPECT_TRUE(r.report.categories.empty());
  EXPECT_EQ(r.report.analyzed_bytes, 0u);
  EXPECT_EQ(r.report.content_encoding, "zstd");
  EXPECT_TRUE(HasWarning(r.report, "content-encoding zstd is not supported; the body was not analysed"));
}

TEST(TransactionEncoded, CorruptAndTruncatedBodiesAreReported) {
  auto cp = Compile(kSsnPolicy);
  std::mt19937 rng(5);
  std::string text = "first 123-45-6789 ";
  while (text.size() < 400000) text += std::to_string(rng()) + " ";
  std::string gz = Zip(text);
  std::string corrupt = gz;
  for (size_t i = corrupt.size() - 2000; i < corrupt.size() - 1000; ++i) corrupt[i] = static_cast<char>(rng());
  for (size_t chunk : {0, 1000}) {
    EncodedResult r = ScanEncoded(cp, corrupt, "text/plain", "gzip", chunk);
    EXPECT_EQ(r.forwarded, corrupt);
    EXPECT_EQ(r.report.parse_error.rfind("gzip: invalid data at byte ", 0), 0u) << r.report.parse_error;
    EXPECT_TRUE(HasWarning(r.report, "the rest of the body was not analysed"));
    EXPECT_LT(r.report.analyzed_bytes, text.size());
    // What was decoded before the damage was analysed.
    ASSERT_EQ(r.report.categories.size(), 1u);
    EXPECT_EQ(r.report.categories[0].count, 1u);
  }
  EncodedResult r = ScanEncoded(cp, gz.substr(0, gz.size() / 2), "text/plain", "gzip", 512);
  EXPECT_NE(r.report.parse_error.find("gzip: unexpected end of data"), std::string::npos) << r.report.parse_error;
  ASSERT_EQ(r.report.categories.size(), 1u);
  // JSON cut short by bad compression: the decoding error is named, not the JSON truncation.
  const std::string json = SsnJson();
  r = ScanEncoded(cp, Zip(json).substr(0, 600), "application/json", "gzip");
  EXPECT_EQ(r.report.parse_error.rfind("gzip: unexpected end of data", 0), 0u) << r.report.parse_error;
  // An empty body with a Content-Encoding (HEAD, 304) is fine.
  r = ScanEncoded(cp, "", "application/json", "br");
  EXPECT_TRUE(r.report.parse_error.empty());
  EXPECT_TRUE(r.report.warnings.empty());
}

TEST(TransactionEncoded, GzipBombStopsAtTheDecodedLimit) {
  auto cp = Compile(kSsnPolicy);
  const std::string zeros(1 << 20, '\0');
  const std::string bomb = Zip(zeros, 16 + MAX_WBITS, 64);  // 64 MiB of zeros in ~65 KB
  TransactionOptions topts;
  topts.max_decoded_bytes = 8 << 20;
  EncodedResult r = ScanEncoded(cp, bomb, "text/plain", "gzip", 16384, topts);
  EXPECT_EQ(r.forwarded, bomb);
  EXPECT_TRUE(r.report.truncated);
  EXPECT_EQ(r.report.analyzed_bytes, uint64_t{8} << 20);
  EXPECT_TRUE(HasWarning(r.report, "gzip: decoded data exceeds the limit of 8388608 bytes"));
  // Without max_decoded_bytes the analysis limit bounds decoding: one limit, one warning.
  topts = {};
  topts.max_analyzed_bytes = 1000;
  r = ScanEncoded(cp, bomb, "text/plain", "gzip", 0, topts);
  EXPECT_TRUE(r.report.truncated);
  EXPECT_EQ(r.report.analyzed_bytes, 1000u);
  EXPECT_EQ(r.report.warnings.size(), 1u);
  EXPECT_EQ(r.forwarded, bomb);
  // An analysis limit below the decoded limit stops decoding too.
  topts.max_decoded_bytes = 1 << 20;
  r = ScanEncoded(cp, bomb, "text/plain", "gzip", 4096, topts);
  EXPECT_EQ(r.report.analyzed_bytes, 1000u);
  EXPECT_TRUE(HasWarning(r.report, "analysis limit of 1000 bytes reached"));
}

TEST(TransactionEncoded, RedactionIsSkippedOnCompressedBodies) {
  auto cp = Compile(R"(
categories:
  ssn:
    - regex: "\\b\\d{3}-\\d{2}-\\d{4}\\b"
endpoints:
  - matches: "**"
    config:
      ssn: {action: !redact "###"}
)");
  const std::string gz = Zip(SsnJson());
  for (size_t chunk : {0, 100}) {
    EncodedResult r = ScanEncoded(cp, gz, "application/json", "gzip", chunk);
    EXPECT_FALSE(r.may_hold);  // nothing is held back
    EXPECT_EQ(r.forwarded, gz);
    ASSERT_EQ(r.report.categories.size(), 1u);
    EXPECT_EQ(r.report.categories[0].count, 1u);
    EXPECT_EQ(r.report.decision, Decision::kContinue);  // nothing was redacted
    EXPECT_EQ(r.report.warnings, std::vector<std::string>{"redaction skipped: body is gzip-encoded"});
  }
  // The same body uncompressed is redacted.
  Result plain = Scan(cp, SsnJson(), "application/json");
  EXPECT_EQ(plain.report.decision, Decision::kRedact);
}

TEST(TransactionEncoded, BlockStopsTheCompressedStreamBeforeTheMatch) {
  auto cp = Compile(kBlockPolicy);
  std::mt19937 rng(9);
  std::string text;
  while (text.size() < 300000) text += std::to_string(rng()) + " ";
  const size_t secret_at = text.size();
  text += "TOPSECRET";
  while (text.size() < 400000) text += std::to_string(rng()) + " ";
  const std::string gz = Zip(text);
  for (size_t chunk : {size_t{1000}, size_t{4096}, gz.size() + 1}) {
    EncodedResult r = ScanEncoded(cp, gz, "text/plain", "gzip", chunk);
    EXPECT_TRUE(r.may_hold);
    EXPECT_EQ(r.report.decision, Decision::kBlock);
    ASSERT_LT(r.forwarded.size(), gz.size());
    EXPECT_EQ(gz.compare(0, r.forwarded.size(), r.forwarded), 0);  // a prefix, unmodified
    // What left decodes to text before the secret only.
    std::string leaked;
    (void)ContentDecoder::Create("gzip")->Decode(r.forwarded, &leaked);
    EXPECT_LE(leaked.size(), secret_at) << chunk;
    EXPECT_EQ(leaked.find("TOPSECRET"), std::string::npos);
    if (chunk == 1000) {
      EXPECT_GT(r.forwarded.size(), 0u);  // streaming: earlier chunks did leave
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batched JSON scalars (TransactionOptions::batch_values, the default) must report exactly what
// scanning each scalar alone reports, and both what every finder scanning every byte reports
// (CompileOptions::trigger_search off), whatever the chunking.

// Patterns of every kind the batch treats differently: joinable and exact, joinable but not
// exact (a lookahead reading past its match), not joinable (text anchors, an internal matcher),
// PCRE2 located by RE2, literals, case-insensitive literals, and a key-only category.
const char* kBatchPolicy = R"yaml(
categories:
  ssn:
    - regex: "(?!(\\d){3}(-| |)\\1{2}\\2\\1{4})(?!666|000|9\\d{2})(\\b\\d{3}(-| |)(?!00)\\d{2}\\4(?!0{4})\\d{4}\\b)"
  whole_zip:
    - regex: "^\\d{5}$"
  card:
    - internal: credit_card
  email:
    - regex: "[a-zA-Z0-9_.+-]{2,}@[a-zA-Z0-9-]{3,}\\.[a-zA-Z0-9-.]{2,}"
  phone:
    - regex: "[^0-9](?:\\+1[\\s.-])?(?:\\d{3}|\\(\\d{3}\\))[\\s.-]\\d{3}[\\s.-]\\d{4}[^0-9]"
  ahead:
    - regex: "\\d{4}(?=[\\n ]x)"
  secret:
    - raw: "s3cr3t"
    - raw_insensitive: "Token"
  name_key:
    - raw: first_name
endpoints:
  - matches: "**"
    config:
      ssn: {}
      whole_zip: {}
      card: {}
      email: {}
      phone: {}
      ahead: {}
      secret: {}
      name_key:
        contexts: keys
)yaml";

std::string RandomJson(std::mt19937_64& rng, size_t target) {
  static const char* kValues[] = {
      "123-45-6789", "123 45 6789", "666-12-3456", "ann@example.org", "x", "", "90210", "902100",
      "+1 415-555-0100", "(415) 555-0100", "4111 1111 1111 1111", "4111111111111111", "s3cr3t",
      "TOKEN", "to\\u006ben", "line\\nbreak 1234\\n x", "1234 x", "tab\\there", "\\u00e9t\\u00e9 123-45-6789",
      "quote\\\"d 987-65-4320", "2024-05-03T07:09:50.284Z", "first_name"};
  static const char* kKeys[] = {"first_name", "ssn", "email", "zip", "notes", "Token", "s3cr3t", "a"};
  std::string out = "[";
  while (out.size() < target) {
    if (out.size() > 1) out += ",";
    out += "{";
    const int fields = 1 + static_cast<int>(rng() % 6);
    for (int f = 0; f < fields; ++f) {
      if (f > 0) out += ",";
      out += "\"" + std::string(kKeys[rng() % 8]) + "\":";
      switch (rng() % 8) {
        case 0: out += std::to_string(rng() % 1000000000000ULL); break;
        case 1: out += "[\"" + std::string(kValues[rng() % 22]) + "\",\"" + kValues[rng() % 22] + "\"]"; break;
        case 2: {  // longer than a batched scalar may be: it streams through the block scanner
          std::string big(4000 + rng() % 3000, '~');
          big.replace(rng() % 3000, 11, "123-45-6789");
          big.replace(3980, 16, " ann@example.org");
          out += "\"" + big + "\"";
          break;
        }
        default:
          out += "\"";
          for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) {
            if (k > 0) out += " ";
            out += kValues[rng() % 22];
          }
          out += "\"";
      }
    }
    out += "}";
  }
  return out + "]";
}


TEST(Transaction, BatchedJsonScalarsReportExactlyWhatScanningEachAloneReports) {
  auto cp = Compile(kBatchPolicy);
  CompileOptions every_byte;
  every_byte.trigger_search = false;
  auto reference = Compile(kBatchPolicy, every_byte);
  TransactionOptions alone;
  alone.batch_values = false;
  std::mt19937_64 rng(20261127);
  for (int round = 0; round < 12; ++round) {
    const std::string body = RandomJson(rng, 2000 + rng() % 30000);
    const std::string want = testing::MatchSummary(Scan(reference, body, "application/json", 0, "/x", alone).report);
    ASSERT_NE(want.find("count="), std::string::npos) << "the data must exercise the policy";
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{333}, size_t{16384}}) {
      if (chunk == 1 && body.size() > 8000) continue;  // keeps the test fast; small bodies cover it
      EXPECT_EQ(testing::MatchSummary(Scan(cp, body, "application/json", chunk).report), want)
          << "round " << round << " chunk " << chunk;
      EXPECT_EQ(testing::MatchSummary(Scan(cp, body, "application/json", chunk, "/x", alone).report), want)
          << "round " << round << " chunk " << chunk << " (scalars alone)";
    }
  }
}


TEST(Transaction, RepeatedCleanScalarsAreSkippedWithoutChangingTheReport) {
  // 200 KiB of records repeating keys and values; some values match, in some records only, and
  // clean values have the lengths of matching ones.
  auto cp = Compile(kBatchPolicy);
  std::string body = "[";
  for (int i = 0; body.size() < 200 * 1024; ++i) {
    if (i) body += ",";
    body += R"({"id":)" + std::to_string(i % 7) + R"(,"currency":"USD","ssn":")" +
            (i % 3 == 0 ? "123-45-6789" : "000-00-0000") + R"(","mail":")" + (i % 5 == 0 ? "ann@corp.io" : "ann@corp-io") +
            R"(","note":"call 555 123 4567 or not"})";
  }
  body += "]";
  TransactionOptions alone;
  alone.batch_values = false;
  const std::string want = testing::MatchSummary(Scan(cp, body, "application/json", 0, "/x", alone).report);
  ASSERT_NE(want.find("count="), std::string::npos);
  for (size_t chunk : {size_t{0}, size_t{1000}, size_t{65536}}) {
    EXPECT_TRUE(testing::MatchSummary(Scan(cp, body, "application/json", chunk).report) == want) << chunk;
  }
}

// kSsnPolicy with a more specific endpoint that redacts.
const std::string kEndpointPolicy = std::string(kSsnPolicy) + R"yaml(  - matches: "*/admin/*"
    config:
      ssn: {action: !redact "XXX"}
)yaml";

TEST(PolicyCache, RepeatedTargetsShareOneResolutionAndReportTheSame) {
  auto cp = Compile(kEndpointPolicy);
  PolicyCache cache;
  auto a = cache.Get(cp, "h/admin/users");
  auto b = cache.Get(cp, "h/admin/users");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a->policy_path, cp->Resolve("h/admin/users").policy_path);
  ASSERT_EQ(a->categories.size(), 1u);
  EXPECT_EQ(a->categories[0].action, Action::kRedact);
  EXPECT_EQ(cache.Get(cp, "h/public")->categories[0].action, Action::kAlert);

  // A transaction through the cache reports and redacts exactly as one resolving on its own.
  const std::string body = "{\"ssn\":\"123-45-6789\"}";
  for (const char* path : {"/admin/users", "/public", "/admin/users"}) {
    std::string with_cache, without;
    Transaction t1(cp, "h", path, {}, &cache);
    t1.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
    t1.OnBody(Direction::kResponse, body, true, &with_cache);
    Transaction t2(cp, "h", path);
    t2.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
    t2.OnBody(Direction::kResponse, body, true, &without);
    EXPECT_EQ(with_cache, without) << path;
    EXPECT_EQ(DirectionReportToJson(t1.report(Direction::kResponse)),
              DirectionReportToJson(t2.report(Direction::kResponse)))
        << path;
  }
}

TEST(PolicyCache, ANewPolicyStartsOverAndTheSizeIsBounded) {
  auto first = Compile(kEndpointPolicy);
  auto second = Compile(kSsnPolicy);
  PolicyCache cache(4);
  auto a = cache.Get(first, "h/admin/x");
  EXPECT_EQ(a->categories[0].action, Action::kRedact);
  // Same target, another policy: resolved again under the new one.
  EXPECT_EQ(cache.Get(second, "h/admin/x")->categories[0].action, Action::kAlert);
  // Hostile unique targets: entries never exceed the capacity (it starts over when full).
  auto kept = cache.Get(second, "h/keep");
  for (int i = 0; i < 100; ++i) cache.Get(second, "h/unique/" + std::to_string(i));
  EXPECT_NE(cache.Get(second, "h/keep").get(), kept.get());  // was dropped when the cache filled
}

// Endpoints whose finders differ: a text clean under one endpoint's finders matches under
// another's, as a key or as a value.
const char* kSharedCleanPolicy = R"yaml(
categories:
  ssn:
    - regex: "\\d{3}-\\d{2}-\\d{4}"
  currency:
    - raw: USD
  plan_key:
    - raw: plan
endpoints:
  - matches: "**"
    config:
      ssn: {}
  - matches: "*/billing/**"
    config:
      currency: {}
  - matches: "*/plans/**"
    config:
      plan_key: {contexts: keys}
)yaml";

// The match summary of one response under `path`, through `cache` (nullptr: none), in `chunk`-byte
// chunks.
std::string ScanThrough(PolicyCache* cache, const std::shared_ptr<const CompiledPolicy>& cp, const std::string& path,
                        const std::string& body, size_t chunk = 0) {
  Transaction tx(cp, "h", path, {}, cache);
  tx.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
  std::string out;
  if (chunk == 0) chunk = body.size();
  for (size_t i = 0; i < body.size(); i += chunk) {
    tx.OnBody(Direction::kResponse, std::string_view(body).substr(i, chunk), i + chunk >= body.size(), &out);
  }
  EXPECT_EQ(out, body);
  return testing::MatchSummary(tx.report(Direction::kResponse));
}

TEST(PolicyCache, KnownTextsSharedAcrossTransactionsNeverChangeAReport) {
  auto cp = Compile(kSharedCleanPolicy);
  const std::string body =
      R"({"plan":"USD","items":[{"plan":"basic","currency":"USD","note":"ssn 123-45-6789"},)"
      R"({"plan":"USD","currency":"EUR","note":"none"}]})";
  PolicyCache cache;
  // Many transactions on each endpoint, interleaved, in whole and small chunks: every text recurs
  // often enough to be remembered clean under the endpoints where it is.
  for (int round = 0; round < 20; ++round) {
    for (const char* path : {"/users/1", "/billing/2", "/plans/3", "/billing/plans/4"}) {
      for (size_t chunk : {size_t{0}, size_t{7}}) {
        EXPECT_EQ(ScanThrough(&cache, cp, path, body, chunk), ScanThrough(nullptr, cp, path, body, chunk))
            << path << " round " << round << " chunk " << chunk;
      }
    }
  }
  EXPECT_NE(ScanThrough(&cache, cp, "/billing/2", body).find("currency"), std::string::npos);
  EXPECT_NE(ScanThrough(&cache, cp, "/plans/3", body).find("plan_key"), std::string::npos);
}

TEST(PolicyCache, RecurringKeysMatchedByThePolicysWordsAreRememberedWithTheirMatches) {
  auto cp = Compile(R"yaml(
categories:
  currency:
    - raw: USD
  ssn:
    - regex: "\\d{3}-\\d{2}-\\d{4}"
  plan_key:
    - raw: plan
endpoints:
  - matches: "**"
    config:
      currency: {}
      ssn: {}
      plan_key: {contexts: keys}
)yaml");
  // Keys matched at offsets, by two literal finders, twice by one, more often than a KnownTexts
  // entry holds, and by a pattern; each recurs in every record, beside values of the same text.
  std::string body = "[";
  for (int i = 0; i < 40; ++i) {
    if (i > 0) body += ",";
    body += R"({"pay USD or USD":1,"plan USD":"plan USD","plan 123-45-6789":"plan 123-45-6789",)"
            R"("USD USD USD USD USD":2,"plan":"USD"})";
  }
  body += "]";
  PolicyCache cache;
  for (int round = 0; round < 4; ++round) {
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{13}}) {
      EXPECT_EQ(ScanThrough(&cache, cp, "/p", body, chunk), ScanThrough(nullptr, cp, "/p", body, chunk))
          << "round " << round << " chunk " << chunk;
    }
  }
  auto plan = cache.Plan(*cp, cache.Get(cp, "h/p"), SearchScope::kResponseBody, "application/json");
  KnownTexts* keys = cache.KnownTextsFor(cp.get(), true, plan->key_finders);
  ASSERT_NE(keys, nullptr);
  const KnownTexts::Hits* hits = keys->Find("pay USD or USD");
  ASSERT_NE(hits, nullptr);
  ASSERT_EQ(hits->count, 2);
  EXPECT_EQ(hits->hit[0].begin, 4);
  EXPECT_EQ(hits->hit[1].begin, 11);
  hits = keys->Find("plan USD");
  ASSERT_NE(hits, nullptr);
  EXPECT_EQ(hits->count, 2);
  EXPECT_EQ(keys->Find("USD USD USD USD USD"), nullptr);  // more matches than an entry holds
  EXPECT_EQ(keys->Find("plan 123-45-6789"), nullptr);     // a pattern's match: data, not a name
  // Values that match are never remembered.
  KnownTexts* values = cache.KnownTextsFor(cp.get(), false, plan->value_finders);
  ASSERT_NE(values, nullptr);
  EXPECT_EQ(values->Find("USD"), nullptr);
  EXPECT_EQ(values->Find("plan USD"), nullptr);
}

TEST(PolicyCache, ScanPlansFollowContentTypeAndDirection) {
  // One endpoint scanned as JSON, text or not at all (content_types), in either direction
  // (search): through the cache, each combination gets its own plan, and more content types
  // than the cache keeps plans for change nothing.
  auto cp = Compile(R"yaml(
categories:
  ssn:
    - regex: "\\d{3}-\\d{2}-\\d{4}"
  plan_key:
    - raw: plan
endpoints:
  - matches: "**"
    config:
      ssn: {search: [response_body]}
      plan_key: {contexts: keys, content_types: [json]}
)yaml");
  const std::string body = R"({"plan":"123-45-6789"})";
  PolicyCache cache;
  auto scan = [&](PolicyCache* c, Direction d, const std::string& ct) {
    Transaction tx(cp, "h", "/p", {}, c);
    tx.OnHeaders(d, {{"content-type", ct}});
    std::string out;
    tx.OnBody(d, body, true, &out);
    return testing::MatchSummary(tx.report(d));
  };
  std::vector<std::string> types = {"application/json", "text/plain", "application/json; charset=utf-8", "image/png"};
  for (size_t i = 0; i < PolicyCache::kMaxPlans + 4; ++i) types.push_back("application/x-" + std::to_string(i) + "+json");
  for (int round = 0; round < 2; ++round) {
    for (const std::string& ct : types) {
      for (Direction d : {Direction::kRequest, Direction::kResponse}) {
        EXPECT_EQ(scan(&cache, d, ct), scan(nullptr, d, ct)) << ct << " " << static_cast<int>(d);
      }
    }
  }
  EXPECT_NE(scan(&cache, Direction::kResponse, "application/json").find("plan_key"), std::string::npos);
  EXPECT_EQ(scan(&cache, Direction::kResponse, "text/plain").find("plan_key"), std::string::npos);
  EXPECT_EQ(scan(&cache, Direction::kRequest, "application/json").find("ssn"), std::string::npos);
}

TEST(PolicyCache, PooledBatchScratchNeverCarriesOneTransactionIntoAnother) {
  auto cp = Compile(kSharedCleanPolicy);
  // An escaped string split across chunks is collected in the batch's buffers between them.
  const std::string body =
      R"({"note":"ssn 123-45-6789","items":[{"plan":"basic","note":"call \u0031\u0032\u0033-45-6789 now"},)"
      R"({"currency":"USD","note":"ssn 987-65-4321"}]})";
  const size_t split = body.find("\\u0032");
  ASSERT_NE(split, std::string::npos);
  const std::string reference = ScanThrough(nullptr, cp, "/users/1", body);
  ASSERT_NE(reference.find("ssn"), std::string::npos);
  PolicyCache cache;
  {
    // Abandoned mid-string (a reset stream): its scratch goes back holding the open scalar.
    Transaction abandoned(cp, "h", "/users/1", {}, &cache);
    abandoned.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
    std::string out;
    abandoned.OnBody(Direction::kResponse, std::string_view(body).substr(0, split), false, &out);
  }
  std::unique_ptr<TransactionScratch> pooled = cache.TakeScratch();
  ASSERT_NE(pooled, nullptr) << "an ended transaction gives its batch buffers back";
  cache.ReturnScratch(std::move(pooled));
  // Transactions alive at once, fed in turn, each taking a scratch others used before.
  for (int round = 0; round < 3; ++round) {
    std::vector<std::unique_ptr<Transaction>> live;
    std::vector<std::string> outs(3);
    for (int t = 0; t < 3; ++t) {
      live.push_back(std::make_unique<Transaction>(cp, "h", "/users/1", TransactionOptions{}, &cache));
      live.back()->OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
    }
    for (size_t i = 0; i < body.size(); i += 9) {
      for (int t = 0; t < 3; ++t) {
        live[t]->OnBody(Direction::kResponse, std::string_view(body).substr(i, 9), i + 9 >= body.size(), &outs[t]);
      }
    }
    for (int t = 0; t < 3; ++t) {
      EXPECT_EQ(outs[t], body);
      EXPECT_EQ(testing::MatchSummary(live[t]->report(Direction::kResponse)), reference) << "round " << round << " tx " << t;
    }
    EXPECT_EQ(ScanThrough(&cache, cp, "/users/1", body, 5), reference) << "round " << round;
  }
}

// Ended transactions give their report entries back with their batch buffers (emptied, names
// and lists keeping their capacity); a later transaction's entries reuse them. Endpoints with
// different categories, names, tags, styles, header matches and a value cap, interleaved on one
// cache, report exactly what transactions without a cache report, every field included.
TEST(PolicyCache, ReusedReportEntriesCarryNothingFromEarlierReports) {
  auto cp = Compile(R"yaml(
categories:
  ssn:
    - regex: "\\d{3}-\\d{2}-\\d{4}"
  secret_word:
    matchers:
      - raw: secret
    tag: internal
  currency:
    - raw: USD
endpoints:
  - matches: "*/a/**"
    config:
      ssn: {report_style: sha256}
      secret_word: {}
  - matches: "*/b/**"
    config:
      currency: {name: money, report_style: partial_sha256, report_bits: 12}
      ssn: {search: [response_body, response_header], contexts: values}
)yaml");
  const std::string bodies[] = {
      R"({"x":"123-45-6789 secret","y":["secret","USD","111-22-3333","222-33-4444","333-44-5555"]})",
      R"({"note":"USD USD","ssn":"444-55-6666"})",
      R"([{"secret":"USD"}])",
  };
  auto report = [&](PolicyCache* cache, const std::string& path, const std::string& body) {
    TransactionOptions options;
    options.max_values_per_category = 2;  // values_truncated on some reports
    Transaction tx(cp, "h", path, options, cache);
    tx.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}, {"x-id", "999-88-7777"}});
    tx.OnBody(Direction::kResponse, body, true, nullptr);
    return DirectionReportToJson(tx.report(Direction::kResponse));
  };
  PolicyCache cache;
  for (int round = 0; round < 3; ++round) {
    for (const std::string& body : bodies) {
      for (const char* path : {"/a/1", "/b/2", "/c/3"}) {
        EXPECT_EQ(report(&cache, path, body), report(nullptr, path, body)) << path << " " << body << " round " << round;
      }
    }
  }
}

TEST(PolicyCache, KeepsFewAndSmallScratches) {
  struct Sized : TransactionScratch {
    explicit Sized(size_t n) : bytes(n) {}
    size_t CapacityBytes() const override { return bytes; }
    size_t bytes;
  };
  PolicyCache cache;
  EXPECT_EQ(cache.TakeScratch(), nullptr);
  cache.ReturnScratch(std::make_unique<Sized>(PolicyCache::kMaxPooledScratchBytes + 1));
  EXPECT_EQ(cache.TakeScratch(), nullptr) << "a scratch a large body grew is freed";
  for (size_t i = 0; i < PolicyCache::kPooledScratches + 3; ++i) cache.ReturnScratch(std::make_unique<Sized>(i));
  size_t kept = 0;
  while (cache.TakeScratch() != nullptr) ++kept;
  EXPECT_EQ(kept, PolicyCache::kPooledScratches);
}

// Endpoints */e0, */e1, ... each with its own category: word<i> matches the text w<i>x.
std::string WordPerEndpointPolicy(int endpoints) {
  std::string yaml = "categories:\n";
  std::string config = "endpoints:\n";
  for (int i = 0; i < endpoints; ++i) {
    yaml += "  word" + std::to_string(i) + ":\n    - raw: w" + std::to_string(i) + "x\n";
    config += "  - matches: \"*/e" + std::to_string(i) + "\"\n    config:\n      word" + std::to_string(i) + ": {}\n";
  }
  return yaml + config;
}

TEST(PolicyCache, MoreFinderSetsThanTablesAndPolicyUpdatesStayCorrect) {
  // Endpoints with a category each: more finder sets than the cache keeps tables for.
  const int kSets = static_cast<int>(PolicyCache::kKnownTables) + 3;
  auto cp = Compile(WordPerEndpointPolicy(kSets));
  std::string body = "[";
  for (int i = 0; i < kSets; ++i) body += std::string(i ? "," : "") + "\"w" + std::to_string(i) + "x\",\"other\"";
  body += "]";
  PolicyCache cache;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < kSets; ++i) {
      const std::string path = "/e" + std::to_string(i);
      const std::string got = ScanThrough(&cache, cp, path, body);
      EXPECT_EQ(got, ScanThrough(nullptr, cp, path, body)) << path;
      EXPECT_NE(got.find("word" + std::to_string(i)), std::string::npos) << path;
    }
  }

  // A policy update while a transaction is under way: the old transaction goes on correctly (on
  // its own tables), and the new policy's transactions start from empty ones.
  auto updated = Compile(kSharedCleanPolicy);
  Transaction old_tx(cp, "h", "/e0", {}, &cache);
  old_tx.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
  std::string out;
  old_tx.OnBody(Direction::kResponse, std::string_view(body).substr(0, 10), false, &out);
  EXPECT_EQ(ScanThrough(&cache, updated, "/billing/1", R"(["USD","USD"])"),
            ScanThrough(nullptr, updated, "/billing/1", R"(["USD","USD"])"));
  old_tx.OnBody(Direction::kResponse, std::string_view(body).substr(10), true, &out);
  EXPECT_EQ(testing::MatchSummary(old_tx.report(Direction::kResponse)), ScanThrough(nullptr, cp, "/e0", body));
  EXPECT_EQ(cache.KnownTextsFor(cp.get(), false, {0}), nullptr);  // the cache serves the update now
}

TEST(PolicyCache, ScalarsWaitingAcrossChunksUseTheTablesOfTheirOwnFinders) {
  // A stream that holds nothing back scans its scalars when enough have gathered, maybe chunks
  // later (FlushDue). Meanwhile other transactions may take over the cache's table of clean texts
  // it saw at the first chunk: the texts it found clean must not land in a table that now serves
  // other finders, for which they are matches.
  const int kSets = static_cast<int>(PolicyCache::kKnownTables) + 1;
  auto cp = Compile(WordPerEndpointPolicy(kSets));
  const std::string last = "w" + std::to_string(kSets - 1) + "x";  // a match on the last endpoint only
  PolicyCache cache;
  Transaction waiting(cp, "h", "/e0", {}, &cache);
  waiting.OnHeaders(Direction::kResponse, {{"content-type", "application/json"}});
  std::string out;
  const std::string first = "[\"" + last + "\",\"" + last + "\",\"" + last + "\",";
  waiting.OnBody(Direction::kResponse, first, false, &out);
  // One transaction per other endpoint: the last one takes over the first table made.
  for (int i = 1; i < kSets; ++i) {
    const std::string path = "/e" + std::to_string(i);
    EXPECT_EQ(ScanThrough(&cache, cp, path, "[\"other\"]"), ScanThrough(nullptr, cp, path, "[\"other\"]"));
  }
  waiting.OnBody(Direction::kResponse, "\"w0x\"]", true, &out);
  EXPECT_EQ(testing::MatchSummary(waiting.report(Direction::kResponse)),
            ScanThrough(nullptr, cp, "/e0", first + "\"w0x\"]"));
  const std::string on_last = "[\"" + last + "\"]";
  const std::string path = "/e" + std::to_string(kSets - 1);
  EXPECT_EQ(ScanThrough(&cache, cp, path, on_last), ScanThrough(nullptr, cp, path, on_last));
  EXPECT_NE(ScanThrough(&cache, cp, path, on_last).find("word" + std::to_string(kSets - 1)), std::string::npos);
}

// ---- gRPC bodies (GrpcWalker) ----

// A gRPC response: two messages of customer records and gRPC-Web trailers.
std::string GrpcCustomers() {
  using testing::Bytes;
  std::string body;
  for (int m = 0; m < 2; ++m) {
    std::string message;
    for (int i = 0; i < 3; ++i) {
      message += Bytes(1, Bytes(1, "Ada") + testing::VarintField(2, 100 + i) +
                              Bytes(4, "ssn " + std::to_string(123 + m) + "-45-678" + std::to_string(i)));
    }
    message += Bytes(2, std::string(20000, 'z') + " 987-65-4321");  // streamed, not held
    body += testing::GrpcFrame(message);
  }
  return body + testing::GrpcFrame("grpc-status: 0\r\n", 0x80);
}

TEST(TransactionGrpc, MatchesCarryFieldPathsWhateverTheChunking) {
  auto cp = Compile(kSsnPolicy);
  const std::string body = GrpcCustomers();
  Result whole = Scan(cp, body, "application/grpc");
  EXPECT_EQ(whole.report.parser, "grpc");
  EXPECT_TRUE(whole.report.warnings.empty());
  ASSERT_EQ(whole.report.categories.size(), 1u);
  const CategoryReport& c = whole.report.categories[0];
  ASSERT_EQ(c.count, 8u);
  EXPECT_EQ(c.values[0], "123-45-6780");
  EXPECT_EQ(c.matches[0].path, "1.4");
  EXPECT_EQ(c.matches[3].path, "2");
  EXPECT_EQ(c.values[3], "987-65-4321");
  EXPECT_EQ(c.matches[0].offset, body.find("123-45-6780"));
  EXPECT_EQ(whole.body, body);
  const std::string want = testing::MatchSummary(whole.report);
  for (size_t chunk : {1, 7, 333, 4096}) {
    EXPECT_EQ(testing::MatchSummary(Scan(cp, body, "application/grpc+proto", chunk).report), want) << chunk;
  }
}

TEST(TransactionGrpc, RedactionKeepsEveryLengthPrefixTrue) {
  auto cp = Compile(std::string(kSsnPolicy).replace(std::string(kSsnPolicy).find("ssn: {}"), 7,
                                                    "ssn: {action: !redact \"#*\"}"));
  const std::string body = GrpcCustomers();
  std::string want = body;
  for (size_t at = want.find("-45-"); at != std::string::npos; at = want.find("-45-", at)) {
    want.replace(at - 3, 11, "#*#*#*#*#*#");
  }
  for (size_t at = want.find("987-65-4321"); at != std::string::npos; at = want.find("987-65-4321", at)) {
    want.replace(at, 11, "#*#*#*#*#*#");
  }
  for (size_t chunk : {0, 1, 5, 1000}) {
    Result r = Scan(cp, body, "application/grpc", chunk);
    EXPECT_EQ(r.report.decision, Decision::kRedact);
    EXPECT_EQ(r.report.categories[0].count, 8u);
    EXPECT_TRUE(r.body == want) << "chunk " << chunk;  // (no dump: 40 KB of binary)
  }
}

TEST(TransactionGrpc, ABodyThatIsNotGrpcIsScannedAsTextAndSaysSo) {
  auto cp = Compile(kSsnPolicy);
  for (size_t chunk : {0, 1}) {
    Result r = Scan(cp, "plain text 123-45-6789 sent as gRPC", "application/grpc", chunk);
    EXPECT_TRUE(HasWarning(r.report, "gRPC parsing stopped (not a gRPC message prefix")) << chunk;
    EXPECT_FALSE(r.report.parse_error.empty());
    ASSERT_EQ(r.report.categories.size(), 1u);
    EXPECT_EQ(r.report.categories[0].count, 1u);
    EXPECT_EQ(r.report.categories[0].matches[0].context, "text");
  }
  // Cut off inside a field: what was held is still scanned, and the report says so.
  const std::string cut = GrpcCustomers().substr(0, 40);
  Result r = Scan(cp, cut, "application/grpc", 3);
  EXPECT_NE(r.report.parse_error.find("truncated gRPC message"), std::string::npos);
  ASSERT_EQ(r.report.categories.size(), 1u);
  EXPECT_EQ(r.report.categories[0].count, 1u);
}

TEST(TransactionGrpc, CompressedMessagesWithoutAnEncodingAreReportedAsNotAnalysed) {
  auto cp = Compile(kSsnPolicy);
  const std::string body =
      testing::GrpcFrame(Zip("123-45-6789"), 0x01) + testing::GrpcFrame(testing::Bytes(3, "123-45-6789"));
  Result r = Scan(cp, body, "application/grpc", 4);
  EXPECT_TRUE(HasWarning(r.report, "1 compressed gRPC message(s)"));
  EXPECT_TRUE(HasWarning(r.report, "no grpc-encoding header"));
  ASSERT_EQ(r.report.categories.size(), 1u);
  EXPECT_EQ(r.report.categories[0].count, 1u);
  EXPECT_EQ(r.report.categories[0].matches[0].path, "3");
}

// A gRPC response whose messages are compressed with `encoding` (grpc-encoding), fed in chunks.
Result ScanGrpc(const std::shared_ptr<const CompiledPolicy>& cp, const std::string& body, const std::string& encoding,
                size_t chunk, TransactionOptions topts = {}) {
  Transaction tx(cp, "api.example.com", "/x", topts);
  tx.OnHeaders(Direction::kResponse, {{"content-type", "application/grpc"}, {"grpc-encoding", encoding}});
  Result r;
  for (size_t i = 0; i < body.size(); i += chunk) {
    tx.OnBody(Direction::kResponse, std::string_view(body).substr(i, chunk), i + chunk >= body.size(), &r.body);
  }
  r.report = tx.report(Direction::kResponse);
  return r;
}

TEST(TransactionGrpc, CompressedMessagesAreAnalysedReportedAndBlockedButNotRedacted) {
  using testing::Bytes;
  using testing::GrpcFrame;
  const std::string first = Bytes(1, Bytes(4, "ssn 123-45-6789"));
  const std::string second = Bytes(1, Bytes(4, "ssn 987-65-4321")) + Bytes(2, std::string(30000, 'z'));
  const std::string packed = Zip(second);
  const std::string body = GrpcFrame(first) + GrpcFrame(packed, 0x01) + GrpcFrame("grpc-status: 0\r\n", 0x80);
  const uint64_t message_begin = GrpcFrame(first).size() + 5;
  // Reported with its path; its offset and length are the compressed message's.
  auto cp = Compile(kSsnPolicy);
  for (size_t chunk : {size_t{1}, size_t{64}, body.size()}) {
    Result r = ScanGrpc(cp, body, "gzip", chunk);
    EXPECT_TRUE(r.report.warnings.empty()) << r.report.warnings[0];
    ASSERT_EQ(r.report.categories.size(), 1u);
    const CategoryReport& c = r.report.categories[0];
    ASSERT_EQ(c.count, 2u) << chunk;
    EXPECT_EQ(c.values[1], "987-65-4321");
    EXPECT_EQ(c.matches[1].path, "1.4");
    EXPECT_EQ(c.matches[1].offset, message_begin);
    EXPECT_EQ(c.matches[1].length, packed.size());
    EXPECT_EQ(r.body, body);
  }
  // The cap on decoded bytes is a compressed body's: the analysis limit when there is one.
  TransactionOptions capped;
  capped.max_analyzed_bytes = 1000;
  Result partial = ScanGrpc(cp, body, "gzip", 64, capped);
  EXPECT_TRUE(HasWarning(partial.report, "1 compressed gRPC message(s) were analysed only in part"));
  ASSERT_EQ(partial.report.categories.size(), 1u);
  EXPECT_EQ(partial.report.categories[0].count, 2u) << "the match lies in the first 1000 decoded bytes";
  // Redaction rewrites the plain message; the compressed one leaves as it came, and the report
  // says why.
  auto redacting = Compile(std::string(kSsnPolicy).replace(std::string(kSsnPolicy).find("ssn: {}"), 7,
                                                           "ssn: {action: !redact \"#\"}"));
  for (size_t chunk : {size_t{1}, size_t{64}, body.size()}) {
    Result r = ScanGrpc(redacting, body, "gzip", chunk);
    EXPECT_TRUE(HasWarning(r.report, "redaction skipped: matches in compressed gRPC messages are reported only"));
    EXPECT_EQ(r.report.decision, Decision::kRedact);
    std::string want = body;
    want.replace(want.find("123-45-6789"), 11, "###########");
    EXPECT_TRUE(r.body == want) << chunk;
  }
  // Blocking: no byte of the compressed message leaves, however the body is chunked (it is held
  // until decoded).
  auto blocking = Compile(std::string(kSsnPolicy).replace(std::string(kSsnPolicy).find("ssn: {}"), 7,
                                                          "ssn: {action: block}"));
  const std::string safe_first = GrpcFrame(Bytes(1, Bytes(4, "nothing here")));
  const std::string blocked_body = safe_first + GrpcFrame(packed, 0x01);
  for (size_t chunk : {size_t{1}, size_t{100}, size_t{4096}}) {
    Result r = ScanGrpc(blocking, blocked_body, "gzip", chunk);
    EXPECT_EQ(r.report.decision, Decision::kBlock);
    EXPECT_LE(r.body.size(), safe_first.size() + 5) << chunk;
  }
}

// A scalar of a compressed message maps to the whole message, even when the message happens to be
// exactly as long as the scalar (its decoded bytes are then not the message's bytes one to one).
TEST(TransactionGrpc, AScalarAsLongAsItsCompressedMessageStillMapsToTheWholeMessage) {
  using testing::Bytes;
  using testing::GrpcFrame;
  std::string scalar, packed;
  for (size_t pad = 0; pad < 400 && packed.empty(); ++pad) {
    std::string text = "ssn 123-45-6789 " + std::string(pad, 'z');
    std::string zipped = Zip(Bytes(4, text));
    if (zipped.size() == text.size()) {
      scalar = text;
      packed = zipped;
    }
  }
  ASSERT_FALSE(packed.empty()) << "no padding makes the message as long as its scalar";
  const std::string body = GrpcFrame(packed, 0x01);
  auto cp = Compile(kSsnPolicy);
  for (size_t chunk : {size_t{1}, size_t{7}, body.size()}) {
    Result r = ScanGrpc(cp, body, "gzip", chunk);
    ASSERT_EQ(r.report.categories.size(), 1u) << chunk;
    const CategoryReport& c = r.report.categories[0];
    ASSERT_EQ(c.count, 1u) << chunk;
    EXPECT_EQ(c.values[0], "123-45-6789");
    EXPECT_EQ(c.matches[0].offset, 5u) << chunk;
    EXPECT_EQ(c.matches[0].length, packed.size()) << chunk;
  }
}

// A body cut off inside a compressed message: its matches span the message's bytes that came,
// not the length its prefix declared.
TEST(TransactionGrpc, MatchesInACutOffCompressedMessageEndWithTheBody) {
  using testing::Bytes;
  using testing::GrpcFrame;
  const std::string packed = Zip(Bytes(1, "ssn 123-45-6789") + Bytes(2, std::string(5000, 'q')));
  const std::string whole = GrpcFrame(packed, 0x01);
  const std::string body = whole.substr(0, whole.size() - 10);
  auto cp = Compile(kSsnPolicy);
  for (size_t chunk : {size_t{1}, size_t{16}, body.size()}) {
    Result r = ScanGrpc(cp, body, "gzip", chunk);
    ASSERT_EQ(r.report.categories.size(), 1u) << chunk;
    const MatchRecord& m = r.report.categories[0].matches[0];
    EXPECT_EQ(m.offset, 5u);
    EXPECT_EQ(m.offset + m.length, body.size()) << chunk;
    EXPECT_NE(r.report.parse_error.find("truncated gRPC message"), std::string::npos) << r.report.parse_error;
  }
}

}  // namespace
}  // namespace leakscope
