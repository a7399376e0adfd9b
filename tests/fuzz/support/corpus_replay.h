// Replays fuzz corpus directories through fuzz entry points as normal gtests. File names
// say what is expected: "ok-*" must be accepted, "bad-*" rejected, anything else (inputs a
// fuzzer found) only must not break an invariant. A folder's test instantiates the suite:
//
//   INSTANTIATE_TEST_SUITE_P(Ip, CorpusReplay, testing::Values(
//       CorpusTarget{"address", ROUTELET_FUZZ_CORPUS "/address", address, 5}), corpusName);
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace routelet::fuzz {

using Entry = bool (*)(const uint8_t* data, size_t size);

struct CorpusTarget {
  const char* name;
  const char* dir;
  Entry entry;
  int minFiles = 1;  // a corpus that went missing must not pass silently
};

// Returns the number of files replayed; records a gtest failure for every ok-/bad- file
// whose verdict differs.
int replayCorpus(const std::string& dir, Entry entry);

class CorpusReplay : public testing::TestWithParam<CorpusTarget> {};

// gtest prints the parameter in test names; the corpus name says it all.
inline void PrintTo(const CorpusTarget& target, std::ostream* os) {
  *os << target.name;
}

inline std::string corpusName(const testing::TestParamInfo<CorpusTarget>& info) {
  return info.param.name;
}

}  // namespace routelet::fuzz
