// Network namespaces by path (/var/run/netns/NAME or /proc/PID/ns/net, as CNI_NETNS is).
#pragma once

#include <string>

#include "common/base/result.h"
#include "common/base/unique_fd.h"

namespace routelet::netns {

// An owned file descriptor of a network namespace.
class Fd {
 public:
  static Result<Fd> open(const std::string& path);  // checks it really is a netns
  static Result<Fd> current();                      // this thread's namespace
  int get() const { return fd_.get(); }

 private:
  explicit Fd(int fd) : fd_(fd) {}
  UniqueFd fd_;
};

// Whether two descriptors name one namespace. nsfs gives each namespace a single inode, so
// (st_dev, st_ino) is its identity whichever path opened it (/proc/PID/ns/net, a bind mount
// under /var/run/netns).
Result<bool> same(const Fd& a, const Fd& b);

// Moves the calling thread into a namespace and back when destroyed. Only this thread
// moves (setns(2) is per thread), so keep the guard's scope free of thread hand-offs.
class Enter {
 public:
  static Result<Enter> into(const Fd& target);
  Enter(Enter&& o) noexcept;
  Enter& operator=(Enter&&) = delete;
  Enter(const Enter&) = delete;
  ~Enter();

 private:
  explicit Enter(Fd original) : original_(std::move(original)) {}
  Fd original_;
  bool active_ = true;
};

}  // namespace routelet::netns
