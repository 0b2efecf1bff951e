// End-to-end tests of the real `leakscope` binary: every conformance case through the CLI exactly
// as ../shared/conformance/README.md describes, plus exit codes and output formats.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/compress.h"
#include "support/files.h"
#include "support/yaml_tree.h"

namespace leakscope {
namespace {

using testing::YamlNode;
namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string out;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''"; else q += c;
  }
  return q + "'";
}

RunResult RunCli(const std::string& args, const std::string& stdin_file = "") {
  std::string cmd = Quote(LEAKSCOPE_CLI_PATH) + " " + args;
  if (!stdin_file.empty()) cmd += " < " + Quote(stdin_file);
  cmd += " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/leakscope-cli-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class CliConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(CliConformance, CliReportMatchesExpectation) {
  const std::string case_path = GetParam();
  YamlNode root;
  ASSERT_TRUE(testing::ParseYamlTree(testing::ReadFileOrDie(case_path), &root));
  TempDir tmp;
  std::string policy_file;
  if (const YamlNode* inline_policy = root.Get("policy_inline")) {
    policy_file = tmp.File("policy.yaml", inline_policy->scalar);
  } else {
    policy_file = (fs::path(case_path).parent_path() / root.Get("policy")->scalar).string();
  }
  const YamlNode* expect = root.Get("expect");
  if (const YamlNode* err = expect->Get("error")) {
    RunResult r = RunCli("policy check " + Quote(policy_file));
    EXPECT_EQ(r.exit_code, 3) << r.out;
    for (const YamlNode& s : err->items) EXPECT_NE(r.out.find(s.scalar), std::string::npos) << r.out;
    return;
  }
  const YamlNode* tx = root.Get("request");
  std::string target = (tx && tx->Get("authority") ? tx->Get("authority")->scalar : "localhost") +
                       (tx && tx->Get("path") ? tx->Get("path")->scalar : "/");
  for (const char* dname : {"request", "response"}) {
    const YamlNode* dir = root.Get(dname);
    if (dir == nullptr || dir->Get("body") == nullptr) continue;
    std::string ct = "text/plain";
    if (const YamlNode* h = dir->Get("headers")) {
      for (const auto& [k, v] : h->entries) {
        if (k == "content-type") ct = v.scalar;
      }
    }
    std::string body_file = tmp.File(std::string(dname) + ".body", dir->Get("body")->scalar);
    std::string out_file = tmp.path() + "/" + dname + ".out";
    RunResult r = RunCli("scan --policy " + Quote(policy_file) + " --content-type " + Quote(ct) + " --path " +
                      Quote(target) + " --direction " + dname + " --output-body " + Quote(out_file) + " " +
                      Quote(body_file));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    std::string json_text = r.out.substr(0, r.out.rfind('}') + 1);
    nlohmann::json report = nlohmann::json::parse(json_text, nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << r.out;
    const nlohmann::json& cats = report["categories"];
    const YamlNode* want = expect->Get(dname);
    EXPECT_EQ(cats.size(), want ? want->entries.size() : 0u) << r.out;
    if (want) {
      for (const auto& [name, w] : want->entries) {
        ASSERT_TRUE(cats.contains(name)) << name << "\n" << r.out;
        if (const YamlNode* count = w.Get("count")) {
          EXPECT_EQ(std::to_string(cats[name]["count"].get<uint64_t>()), count->scalar) << name;
        }
        if (const YamlNode* values = w.Get("values")) {
          std::vector<std::string> wv;
          for (const YamlNode& v : values->items) wv.push_back(v.scalar);
          EXPECT_EQ(cats[name]["values"].get<std::vector<std::string>>(), wv) << name;
        }
      }
    }
    std::string want_body = dir->Get("body")->scalar;
    if (const YamlNode* wb = expect->Get(std::string(dname) + "_body")) want_body = wb->scalar;
    EXPECT_EQ(testing::ReadFileOrDie(out_file), want_body);
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string stem = fs::path(info.param).stem().string();
  std::replace_if(stem.begin(), stem.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return stem;
}

INSTANTIATE_TEST_SUITE_P(Cases, CliConformance, ::testing::ValuesIn(testing::ConformanceCases()), CaseName);

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(RunCli("").exit_code, 2);
  EXPECT_EQ(RunCli("frobnicate").exit_code, 2);
  EXPECT_EQ(RunCli("scan").exit_code, 2);
  EXPECT_EQ(RunCli("scan --policy x --direction sideways").exit_code, 2);
  EXPECT_EQ(RunCli("scan --policy x --bogus").exit_code, 2);
}

TEST(Cli, MissingFilesExitFour) {
  TempDir tmp;
  std::string policy = tmp.File("p.yaml", "categories:\n  a:\n    - raw: x\n");
  EXPECT_EQ(RunCli("scan --policy /nonexistent/p.yaml -").exit_code, 4);
  EXPECT_EQ(RunCli("scan --policy " + Quote(policy) + " /nonexistent/body").exit_code, 4);
}

TEST(Cli, PolicyCheckListsWarningsAndRejectsBadPolicies) {
  RunResult r = RunCli("policy check " + Quote(testing::SharedDir() + "/conformance/reference-policy.yaml"));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("PCRE2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("duplicate key"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("body_collection_rate"), std::string::npos) << r.out;
  TempDir tmp;
  std::string bad = tmp.File("bad.yaml", "categories:\n  a:\n    - regex: \"(\"\n");
  r = RunCli("policy check " + Quote(bad));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.out.find("categories.a[0].regex"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 3:"), std::string::npos) << r.out;
}

TEST(Cli, TableFormatStdinAndFailOnMatch) {
  TempDir tmp;
  std::string policy = tmp.File("p.yaml",
                                "categories:\n  ssn:\n    - regex: \"\\\\d{3}-\\\\d{2}-\\\\d{4}\"\n"
                                "endpoints:\n  - matches: \"**\"\n    config:\n      ssn: {}\n");
  std::string body = tmp.File("b.txt", "ssn 123-45-6789\n");
  RunResult r = RunCli("scan --policy " + Quote(policy) + " --format table -", body);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("ssn"), std::string::npos);
  EXPECT_NE(r.out.find("123-45-6789"), std::string::npos);
  EXPECT_EQ(RunCli("scan --policy " + Quote(policy) + " --fail-on-match " + Quote(body)).exit_code, 1);
  std::string clean = tmp.File("c.txt", "nothing here\n");
  EXPECT_EQ(RunCli("scan --policy " + Quote(policy) + " --fail-on-match " + Quote(clean)).exit_code, 0);
}

TEST(Cli, HeadersGoToTheTransactionAsAProxyWouldPassThem) {
  TempDir tmp;
  std::string policy = tmp.File("p.yaml",
                                "categories:\n  ssn:\n    - regex: \"\\\\d{3}-\\\\d{2}-\\\\d{4}\"\n"
                                "endpoints:\n  - matches: \"**\"\n    config:\n      ssn: {}\n");
  // A gzip-compressed gRPC message, as captured: found only when grpc-encoding is passed.
  const std::string message = std::string("\x0a\x0f", 2) + "ssn 123-45-6789";
  const std::string packed = testing::Gzip(message);
  std::string frame(1, '\x01');
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((packed.size() >> shift) & 0xFF));
  std::string body = tmp.File("grpc.bin", frame + packed);
  const std::string scan = "scan --policy " + Quote(policy) + " --content-type application/grpc ";
  RunResult r = RunCli(scan + "--header 'grpc-encoding: gzip' " + Quote(body));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["categories"]["ssn"]["count"], 1) << r.out;
  EXPECT_EQ(report["categories"]["ssn"]["matches"][0]["path"], "1") << r.out;
  r = RunCli(scan + Quote(body));
  EXPECT_EQ(nlohmann::json::parse(r.out)["categories"].size(), 0u) << r.out;
  EXPECT_NE(r.out.find("no grpc-encoding header"), std::string::npos) << r.out;
  // A gzip Content-Encoding; and a malformed --header is a usage error.
  std::string gz = tmp.File("body.gz", testing::Gzip("ssn 123-45-6789\n"));
  r = RunCli("scan --policy " + Quote(policy) + " --header Content-Encoding:gzip " + Quote(gz));
  EXPECT_EQ(nlohmann::json::parse(r.out)["categories"]["ssn"]["count"], 1) << r.out;
  EXPECT_EQ(RunCli("scan --policy " + Quote(policy) + " --header novalue " + Quote(gz)).exit_code, 2);
}

TEST(Cli, BenchScansSeveralFilesInTurn) {
  TempDir tmp;
  std::string policy = tmp.File("p.yaml",
                                "categories:\n  ssn:\n    - regex: \"\\\\d{3}-\\\\d{2}-\\\\d{4}\"\n"
                                "endpoints:\n  - matches: \"**\"\n    config:\n      ssn: {}\n");
  // 21 and 43 bytes, one and three matches: 4 iterations average 32 bytes and 2 matches.
  std::string one = tmp.File("one.json", R"({"s":"123-45-6789"}  )");
  std::string three = tmp.File("three.json", R"(["123-45-6789","123-45-6789","123-45-6789"])");
  RunResult r = RunCli("bench --policy " + Quote(policy) + " --iterations 4 " + Quote(one) + " " + Quote(three));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("2 files: 4 iterations of 32 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", 2 matches per iteration; per transaction p50 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" us, p99 "), std::string::npos) << r.out;
  EXPECT_EQ(RunCli("bench --policy " + Quote(policy) + " " + Quote(one) + " /nonexistent/body").exit_code, 4);
}

TEST(Cli, BundledSamplesScanWithBundledPolicy) {
  std::string policy = testing::SourceDir() + "/examples/policies/default.yaml";
  RunResult r = RunCli("scan --policy " + Quote(policy) +
                    " --content-type application/json --path shop.example.com/api/customers " +
                    Quote(testing::SourceDir() + "/examples/traffic/customers.json"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;
  EXPECT_EQ(report["categories"]["ssn"]["count"], 2) << r.out;
  EXPECT_EQ(report["categories"]["credit_card"]["count"], 2) << r.out;
  EXPECT_TRUE(report["categories"].contains("bank_routing")) << r.out;
  EXPECT_TRUE(report["categories"].contains("name_key")) << r.out;
}

TEST(Cli, BundledGrpcSampleReportsFieldPaths) {
  std::string policy = testing::SourceDir() + "/examples/policies/default.yaml";
  RunResult r = RunCli("scan --policy " + Quote(policy) +
                       " --content-type application/grpc --path shop.example.com/shop.v1.Customers/List " +
                       Quote(testing::SourceDir() + "/examples/traffic/customers.grpc"));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;
  EXPECT_EQ(report["parser"], "grpc");
  EXPECT_TRUE(report["warnings"].empty()) << r.out;
  const nlohmann::json& categories = report["categories"];
  EXPECT_EQ(categories["ssn"]["count"], 3) << r.out;
  EXPECT_EQ(categories["ssn"]["matches"][0]["path"], "1.5") << r.out;
  EXPECT_EQ(categories["credit_card"]["count"], 3) << r.out;
  EXPECT_EQ(categories["credit_card"]["matches"][2]["path"], "1.6.1") << r.out;
  EXPECT_EQ(categories["email"]["values"][1], "wei.chen@mail.example") << r.out;
  EXPECT_EQ(categories["phone_number"]["count"], 3) << r.out;
}

}  // namespace
}  // namespace leakscope
