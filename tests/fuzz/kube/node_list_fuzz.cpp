// libFuzzer target; build with -DROUTELET_FUZZ=ON and clang.
#include "tests/fuzz/kube/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  routelet::kube::fuzz::nodeList(data, size);
  return 0;
}
