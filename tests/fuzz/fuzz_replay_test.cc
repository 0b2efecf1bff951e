// Replays the fuzz corpus (tests/fuzz/corpus: seeds, and inputs fuzzing found interesting or
// that once failed) through the fuzz checks, in the normal test suite: what fuzzing found stays
// fixed, on every build, with or without sanitizers.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "fuzz/fuzz_cases.h"
#include "support/files.h"

namespace leakscope::fuzz {
namespace {

namespace fs = std::filesystem;

// The committed corpus of `kind`, and for policies the policies the project already has.
std::vector<fs::path> Corpus(const std::string& kind) {
  std::vector<fs::path> dirs = {fs::path(LEAKSCOPE_SOURCE_DIR) / "tests/fuzz/corpus" / kind};
  if (kind == "policy") {
    dirs.push_back(fs::path(LEAKSCOPE_SOURCE_DIR) / "examples/policies");
    dirs.push_back(fs::path(LEAKSCOPE_SHARED_DIR) / "conformance/leaksignal-examples");
  }
  std::vector<fs::path> files;
  for (const fs::path& dir : dirs) {
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file()) files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

template <typename Check>
void Replay(const char* kind, Check check) {
  const auto files = Corpus(kind);
  ASSERT_GE(files.size(), 5u) << "the " << kind << " corpus is missing";
  for (const fs::path& f : files) {
    const std::string input = testing::ReadFileOrDie(f.string());
    EXPECT_EQ(check(reinterpret_cast<const uint8_t*>(input.data()), input.size()), "") << f.filename();
  }
}

TEST(FuzzReplay, BodyCorpus) { Replay("body", CheckBodyCase); }
TEST(FuzzReplay, GrpcCorpus) { Replay("grpc", CheckGrpcCase); }
TEST(FuzzReplay, DecoderCorpus) { Replay("decoder", CheckDecoderCase); }
TEST(FuzzReplay, JsonCorpus) { Replay("json", CheckJsonCase); }
TEST(FuzzReplay, HeadersCorpus) { Replay("headers", CheckHeadersCase); }
TEST(FuzzReplay, PolicyCorpus) { Replay("policy", CheckPolicyCase); }
TEST(FuzzReplay, FilterInputCorpus) { Replay("filter_input", CheckFilterInputCase); }

}  // namespace
}  // namespace leakscope::fuzz
