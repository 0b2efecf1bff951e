// libFuzzer target: CheckDecoderCase (fuzz_cases.h). Built with -DLEAKSCOPE_FUZZ=ON (clang,
// ASan + UBSan); see tests/fuzz/README.md.
#include <cstdio>
#include <cstdlib>

#include "fuzz/fuzz_cases.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = leakscope::fuzz::CheckDecoderCase(data, size);
  if (!problem.empty()) {
    fprintf(stderr, "%s\n", problem.c_str());
    abort();  // libFuzzer keeps the input as a crash
  }
  return 0;
}
