// Golden files: a scenario's rendered result compared exactly with <dir>/<name>.golden.
// ROUTELET_UPDATE_GOLDEN=1 rewrites the .golden files instead; read the diff before keeping it.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/fs/files.h"

namespace routelet::testing {

// The scenarios in dir (files ending in ext, ".json"), by name without it, sorted.
inline std::vector<std::string> goldenScenarios(const std::string& dir, const std::string& ext) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ext) names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline void expectGolden(const std::string& dir, const std::string& name, const std::string& got) {
  std::string path = (std::filesystem::path(dir) / (name + ".golden")).string();
  const char* update = std::getenv("ROUTELET_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    auto written = fs::writeAtomic(path, got);
    ASSERT_TRUE(written.ok()) << written.error().message;
    GTEST_SKIP() << "rewrote " << path << "; review it and run again without the variable";
  }
  auto want = fs::readFile(path);
  ASSERT_TRUE(want.ok()) << want.error().message
                         << " (create it with ROUTELET_UPDATE_GOLDEN=1, then review it)";
  EXPECT_EQ(got, *want) << "scenario " << name
                        << " changed; if intended, rerun with ROUTELET_UPDATE_GOLDEN=1";
}

}  // namespace routelet::testing
