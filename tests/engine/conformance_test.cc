// Runs every case in ../shared/conformance/cases through the engine, feeding each body whole, one
// byte at a time, and at random split points; all three must give the expected report.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/transaction.h"
#include "support/files.h"
#include "support/yaml_tree.h"

namespace leakscope {
namespace {

using testing::YamlNode;

enum class Chunking { kWhole, kOneByte, kRandom };

struct CaseRun {
  DirectionReport report;
  std::string body_out;
};

CaseRun RunDirection(const std::shared_ptr<const CompiledPolicy>& cp, const YamlNode& tx_node,
                     const YamlNode& dir_node, Direction d, Chunking chunking, uint32_t seed) {
  std::string authority, path;
  if (const YamlNode* a = tx_node.Get("authority")) authority = a->scalar;
  if (const YamlNode* p = tx_node.Get("path")) path = p->scalar;
  Transaction tx(cp, authority, path);
  HeaderList headers;
  if (const YamlNode* h = dir_node.Get("headers")) {
    for (const auto& [k, v] : h->entries) headers.emplace_back(k, v.scalar);
  }
  tx.OnHeaders(d, headers);
  std::string body;
  if (const YamlNode* b = dir_node.Get("body")) body = b->scalar;
  CaseRun run;
  std::mt19937 rng(seed);
  size_t pos = 0;
  if (body.empty()) tx.OnBody(d, "", true, &run.body_out);
  while (pos < body.size()) {
    size_t n = body.size() - pos;
    if (chunking == Chunking::kOneByte) n = 1;
    if (chunking == Chunking::kRandom) n = std::min<size_t>(n, 1 + rng() % 17);
    tx.OnBody(d, std::string_view(body).substr(pos, n), pos + n == body.size(), &run.body_out);
    pos += n;
  }
  run.report = tx.report(d);
  return run;
}

void CheckExpected(const DirectionReport& report, const YamlNode* expect, const std::string& label) {
  SCOPED_TRACE(label);
  size_t expected_count = expect ? expect->entries.size() : 0;
  std::vector<std::string> got;
  for (const auto& c : report.categories) got.push_back(c.name);
  std::string got_list;
  for (const auto& g : got) got_list += g + " ";
  EXPECT_EQ(report.categories.size(), expected_count) << "categories reported: " << got_list;
  if (!expect) return;
  for (const auto& [name, want] : expect->entries) {
    const CategoryReport* c = report.Find(name);
    ASSERT_NE(c, nullptr) << "missing category " << name << "; reported: " << got_list;
    if (const YamlNode* count = want.Get("count")) {
      EXPECT_EQ(std::to_string(c->count), count->scalar) << name;
    }
    if (const YamlNode* values = want.Get("values")) {
      std::vector<std::string> want_values;
      for (const YamlNode& v : values->items) want_values.push_back(v.scalar);
      EXPECT_EQ(c->values, want_values) << name;
    }
  }
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConformanceTest, MatchesExpectedReportUnderEveryChunking) {
  const std::string case_path = GetParam();
  YamlNode root;
  ASSERT_TRUE(testing::ParseYamlTree(testing::ReadFileOrDie(case_path), &root)) << case_path;
  std::string policy_text;
  if (const YamlNode* inline_policy = root.Get("policy_inline")) {
    policy_text = inline_policy->scalar;
  } else {
    const YamlNode* p = root.Get("policy");
    ASSERT_NE(p, nullptr);
    auto dir = std::filesystem::path(case_path).parent_path();
    policy_text = testing::ReadFileOrDie((dir / p->scalar).string());
    ASSERT_FALSE(policy_text.empty()) << p->scalar;
  }
  const YamlNode* expect = root.Get("expect");
  ASSERT_NE(expect, nullptr);

  auto policy = LoadPolicy(policy_text);
  std::shared_ptr<const CompiledPolicy> cp;
  std::string error;
  if (policy.ok()) {
    auto compiled = CompiledPolicy::Compile(std::move(*policy));
    if (compiled.ok()) cp = *compiled; else error = compiled.status().message();
  } else {
    error = policy.status().message();
  }
  if (const YamlNode* want_error = expect->Get("error")) {
    ASSERT_FALSE(error.empty()) << "policy loaded but should fail";
    for (const YamlNode& s : want_error->items) EXPECT_NE(error.find(s.scalar), std::string::npos) << error;
    return;
  }
  ASSERT_TRUE(error.empty()) << error;

  const YamlNode empty;
  const YamlNode* tx_node = root.Get("request") ? root.Get("request") : &empty;
  for (Direction d : {Direction::kRequest, Direction::kResponse}) {
    const char* dname = d == Direction::kRequest ? "request" : "response";
    const YamlNode* dir_node = d == Direction::kRequest ? root.Get("request") : root.Get("response");
    if (dir_node == nullptr || dir_node->Get("body") == nullptr) continue;
    for (Chunking ch : {Chunking::kWhole, Chunking::kOneByte, Chunking::kRandom}) {
      for (uint32_t seed : {1u, 2u, 3u}) {
        if (ch != Chunking::kRandom && seed != 1u) continue;
        CaseRun run = RunDirection(cp, *tx_node, *dir_node, d, ch, seed);
        std::string label = std::string(dname) + " chunking " + std::to_string(static_cast<int>(ch)) + " seed " +
                            std::to_string(seed);
        CheckExpected(run.report, expect->Get(dname), label);
        std::string body_key = std::string(dname) + "_body";
        if (const YamlNode* want_body = expect->Get(body_key)) {
          EXPECT_EQ(run.body_out, want_body->scalar) << label;
        } else {
          EXPECT_EQ(run.body_out, dir_node->Get("body")->scalar) << label << ": body must pass unchanged";
        }
      }
    }
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  std::string stem = std::filesystem::path(info.param).stem().string();
  std::replace_if(stem.begin(), stem.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return stem;
}

INSTANTIATE_TEST_SUITE_P(Cases, ConformanceTest, ::testing::ValuesIn(testing::ConformanceCases()), CaseName);

TEST(ConformancePolicies, LeakSignalExamplesAndReferenceLoad) {
  std::vector<std::string> files = {testing::SharedDir() + "/conformance/reference-policy.yaml"};
  for (const auto& e : std::filesystem::directory_iterator(testing::SharedDir() + "/conformance/leaksignal-examples")) {
    files.push_back(e.path().string());
  }
  ASSERT_GE(files.size(), 4u);
  for (const std::string& f : files) {
    auto policy = LoadPolicy(testing::ReadFileOrDie(f));
    ASSERT_TRUE(policy.ok()) << f << ": " << policy.status().message();
    auto compiled = CompiledPolicy::Compile(std::move(*policy));
    EXPECT_TRUE(compiled.ok()) << f << ": " << compiled.status().message();
  }
}

}  // namespace
}  // namespace leakscope
