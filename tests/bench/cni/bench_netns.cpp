#include "tests/bench/cni/bench_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/fs/files.h"

namespace routelet::bench::cni {
namespace {
constexpr const char* kNetnsDir = "/run/netns";
}

Result<std::string> NetnsSet::create() {
  if (auto s = fs::makeDirs(kNetnsDir); !s) return s.error();
  std::string path = std::string(kNetnsDir) + "/" + prefix_ + "-" + std::to_string(next_++);
  int placeholder = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (placeholder < 0) return errnoError("create mount point " + path);
  ::close(placeholder);

  int original = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) {
    ::unlink(path.c_str());
    return errnoError("open /proc/thread-self/ns/net");
  }
  Status made = okStatus();
  if (::unshare(CLONE_NEWNET) != 0) {
    made = errnoError("unshare(CLONE_NEWNET) for " + path);
  } else {
    // The bind mount keeps the namespace alive after this thread moves back.
    if (::mount("/proc/thread-self/ns/net", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      made = errnoError("bind-mount the new namespace on " + path);
    }
    if (::setns(original, CLONE_NEWNET) != 0) {
      // Carrying on in the wrong namespace would put plugin links in a random place.
      made = errnoError("return to the original namespace after creating " + path);
    }
  }
  ::close(original);
  if (!made) {
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
    return made.error();
  }
  paths_.push_back(path);
  return path;
}

void NetnsSet::removeAll() {
  for (const auto& path : paths_) {
    ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
  }
  paths_.clear();
}

}  // namespace routelet::bench::cni
