// An owned file descriptor: closed when its owner goes, moved but never copied. The one
// place routelet's classes that hold a descriptor (a namespace, a lock, a directory, a
// pipe) get their close and move from.
#pragma once

#include <unistd.h>

#include <utility>

namespace routelet {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  // Gives the descriptor up without closing it: its new owner (a library) closes it.
  int release() { return std::exchange(fd_, -1); }
  // Closes what it holds, then holds fd.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace routelet
