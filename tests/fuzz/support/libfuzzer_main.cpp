// The libFuzzer entry for one fuzz target; CMake names the header and the entry function
// (routelet_fuzz_target in tests/fuzz/CMakeLists.txt), so no target repeats this file.
#include <cstddef>
#include <cstdint>

#include ROUTELET_FUZZ_HEADER

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)ROUTELET_FUZZ_ENTRY(data, size);
  return 0;
}
