// The libFuzzer entry point of every fuzz target: built once per target, with
// LEAKSCOPE_FUZZ_CHECK naming its check in fuzz_cases.h (CMakeLists.txt, LEAKSCOPE_FUZZ=ON;
// see tests/fuzz/README.md).
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_cases.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = leakscope::fuzz::LEAKSCOPE_FUZZ_CHECK(data, size);
  if (!problem.empty()) {
    fprintf(stderr, "%s\n", problem.c_str());
    abort();  // libFuzzer keeps the input as a crash
  }
  return 0;
}
