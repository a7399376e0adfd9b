#include "tests/fuzz/support/corpus_replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "common/fs/files.h"

namespace routelet::fuzz {

int replayCorpus(const std::string& dir, Entry entry) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  // A fixed order makes a failure reproduce the same way on every machine.
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    auto read = fs::readFile(path, 16 << 20);
    if (!read.ok()) {
      ADD_FAILURE() << read.error().message;
      continue;
    }
    const std::string& data = *read;
    bool ok = entry(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    std::string name = path.filename();
    if (name.rfind("ok-", 0) == 0) {
      EXPECT_TRUE(ok) << path << " should be accepted";
    } else if (name.rfind("bad-", 0) == 0) {
      EXPECT_FALSE(ok) << path << " should be rejected";
    }
  }
  return static_cast<int>(files.size());
}

}  // namespace routelet::fuzz

namespace routelet::fuzz {

TEST_P(CorpusReplay, EveryFile) {
  EXPECT_GE(replayCorpus(GetParam().dir, GetParam().entry), GetParam().minFiles);
}

}  // namespace routelet::fuzz
