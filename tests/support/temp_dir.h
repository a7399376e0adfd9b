// A directory of its own for one test (or fixture), under /tmp, removed with everything in
// it when the object goes: the temp-dir SetUp/TearDown each test file used to spell out.
#pragma once

#include <string>

namespace routelet::testing {

class TempDir {
 public:
  // /tmp/routelet-<tag>-XXXXXX; a failure to make it aborts the test run (nothing a test
  // could do without it).
  explicit TempDir(const std::string& tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace routelet::testing
