// Filesystem edges shared by the plugin and the agent.
#pragma once

#include <string>

#include "common/base/result.h"

namespace routelet::fs {

// kDurable survives a power loss (fsync of file and directory); kAtomicOnly is enough for
// state that a reboot makes meaningless anyway, and costs no disk flush.
enum class Durability { kDurable, kAtomicOnly };

// Writes content to path so that readers see the old file or the new one, never a torn
// one: temp file in the same directory, (fsync,) rename, (fsync of the directory).
// A runtime may read the CNI conf dir at any moment (containerd watches it).
Status writeAtomic(const std::string& path, const std::string& content, int mode = 0644,
                   Durability durability = Durability::kDurable);

// Whole file into a string; bounded so a hostile or runaway file cannot exhaust memory.
Result<std::string> readFile(const std::string& path, size_t maxBytes = 1 << 20);

// mkdir -p with the given mode for directories it creates.
Status makeDirs(const std::string& path, int mode = 0755);

// An exclusive flock(2) held for the object's lifetime. flock locks die with the process,
// so a crashed holder never leaves the store locked.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::string& path);
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace routelet::fs
