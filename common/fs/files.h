// Filesystem edges shared by the plugin and the agent.
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/base/unique_fd.h"

namespace routelet::fs {

// kDurable survives a power loss (fsync of file and directory); kAtomicOnly is enough for
// state that a reboot makes meaningless anyway, and costs no disk flush.
enum class Durability { kDurable, kAtomicOnly };

// Writes content to path so that readers see the old file or the new one, never a torn
// one: temp file in the same directory, (fsync,) rename, (fsync of the directory).
// A runtime may read the CNI conf dir at any moment (containerd watches it).
Status writeAtomic(const std::string& path, const std::string& content, int mode = 0644,
                   Durability durability = Durability::kDurable);

// writeAtomic (making the directory when missing), only when the file's content differs;
// returns whether it wrote. The agent rewrites its CNI config and status file this way, so a
// runtime watching the directory sees a change only when there is one.
Result<bool> writeIfChanged(const std::string& path, const std::string& content);

// Whole file into a string; bounded so a hostile or runaway file cannot exhaust memory.
Result<std::string> readFile(const std::string& path, size_t maxBytes = 1 << 20);

// mkdir -p with the given mode for directories it creates.
Status makeDirs(const std::string& path, int mode = 0755);

// An exclusive flock(2) held for the object's lifetime. flock locks die with the process,
// so a crashed holder never leaves the store locked.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::string& path);

 private:
  friend class Dir;
  explicit FileLock(int fd) : fd_(fd) {}
  // inDir: as Dir opens files (no symlink followed, a regular file only, never blocking).
  static Result<FileLock> acquireAt(int dirFd, const std::string& name, const std::string& shown,
                                    bool inDir);
  UniqueFd fd_;  // closing the last fd releases the flock
};

// A directory opened so that nothing done through it follows a symlink (O_NOFOLLOW at the
// directory itself and at every name inside it): for a store other processes could plant
// a link in, so that a write meant for it never lands elsewhere. Every file opened inside
// must be a regular file, and the open never blocks: a FIFO, socket or device planted
// under a name is refused (EINVAL), naming it, instead of waited on. Names are relative to
// it and have no '/'; errors name the whole path.
class Dir {
 public:
  static Result<Dir> open(const std::string& path);
  Result<Dir> sub(const std::string& name) const;  // a directory inside this one

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  std::string path(const std::string& name) const { return path_ + "/" + name; }

  Result<std::string> readFile(const std::string& name, size_t maxBytes) const;
  // As fs::writeAtomic with Durability::kAtomicOnly.
  Status writeAtomic(const std::string& name, const std::string& content, int mode) const;
  Result<FileLock> lock(const std::string& name) const;
  // open(2) of a regular file inside, with O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC
  // added to flags; verb names the act in an error ("create /run/x: File exists").
  Result<int> openFile(const std::string& name, int flags, int mode = 0600,
                       const std::string& verb = "open") const;

 private:
  Dir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

}  // namespace routelet::fs
