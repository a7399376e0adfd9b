#include "common/netlink/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>

#include "common/base/log.h"

namespace routelet::netns {
namespace {

// statfs(2) f_type of the namespace filesystem (include/uapi/linux/magic.h NSFS_MAGIC).
constexpr long kNsfsMagic = 0x6e736673;

}  // namespace

Result<Fd> Fd::open(const std::string& path) {
  // O_NONBLOCK: open(2) of a FIFO waits for a writer, so a FIFO given as a namespace would
  // block its caller (a CNI ADD, holding its lease) for ever; it is refused below instead.
  // O_NOCTTY: a terminal device given as one never becomes the controlling terminal.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return errnoError("open network namespace " + path);
  Fd owned(fd);
  struct statfs fs {};
  if (::fstatfs(fd, &fs) != 0) return errnoError("statfs network namespace " + path);
  if (fs.f_type != kNsfsMagic)
    return makeError(path +
                         " is not a network namespace (not on nsfs); pass a path like "
                         "/var/run/netns/NAME or /proc/PID/ns/net",
                     EINVAL);
  // nsfs holds every kind of namespace; NS_GET_NSTYPE (Linux 4.11) tells them apart.
  int type = ::ioctl(fd, NS_GET_NSTYPE);
  if (type >= 0 && type != CLONE_NEWNET)
    return makeError(path + " is not a network namespace (another kind of namespace)", EINVAL);
  return owned;
}

Result<bool> same(const Fd& a, const Fd& b) {
  struct stat sa {};
  struct stat sb {};
  if (::fstat(a.get(), &sa) != 0 || ::fstat(b.get(), &sb) != 0)
    return errnoError("stat network namespace");
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

Result<Fd> Fd::current() {
  // thread-self, not self: setns(2) moves only the calling thread.
  return open("/proc/thread-self/ns/net");
}

Result<Enter> Enter::into(const Fd& target) {
  auto original = Fd::current();
  if (!original.ok()) return original.error().wrap("remember the current network namespace");
  if (::setns(target.get(), CLONE_NEWNET) != 0) return errnoError("enter network namespace");
  return Enter(std::move(*original));
}

Enter::Enter(Enter&& o) noexcept : original_(std::move(o.original_)), active_(o.active_) {
  o.active_ = false;
}

Enter::~Enter() {
  if (!active_) return;
  if (::setns(original_.get(), CLONE_NEWNET) != 0) {
    // A thread left in the wrong namespace would silently configure the wrong network;
    // restarting is cheaper than continuing.
    log::error("cannot return to the original network namespace; aborting");
    std::abort();
  }
}

}  // namespace routelet::netns
