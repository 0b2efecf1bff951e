// File helpers for tests.
#ifndef LEAKSCOPE_TESTS_SUPPORT_FILES_H_
#define LEAKSCOPE_TESTS_SUPPORT_FILES_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace leakscope::testing {

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string();
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string SharedDir() { return LEAKSCOPE_SHARED_DIR; }
inline std::string SourceDir() { return LEAKSCOPE_SOURCE_DIR; }

inline std::vector<std::string> ConformanceCases() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(SharedDir() + "/conformance/cases")) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace leakscope::testing

#endif  // LEAKSCOPE_TESTS_SUPPORT_FILES_H_
