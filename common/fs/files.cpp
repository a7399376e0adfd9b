#include "common/fs/files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace routelet::fs {
namespace {

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status writeAll(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError("write " + path);
    }
    done += static_cast<size_t>(n);
  }
  return okStatus();
}

}  // namespace

Status writeAtomic(const std::string& path, const std::string& content, int mode,
                   Durability durability) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errnoError("create " + tmp);
  Status st = writeAll(fd, content, tmp);
  if (st && ::fchmod(fd, static_cast<mode_t>(mode)) != 0) st = errnoError("chmod " + tmp);
  if (st && durability == Durability::kDurable && ::fsync(fd) != 0) st = errnoError("fsync " + tmp);
  if (::close(fd) != 0 && st) st = errnoError("close " + tmp);
  if (st && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = errnoError("rename " + tmp + " to " + path);
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (durability == Durability::kAtomicOnly) return okStatus();
  std::string dir = dirOf(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return okStatus();
}

Result<std::string> readFile(const std::string& path, size_t maxBytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoError("open " + path);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = errnoError("read " + path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > maxBytes) {
      ::close(fd);
      return makeError("read " + path + ": file larger than " + std::to_string(maxBytes) + " bytes",
                       EFBIG);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status makeDirs(const std::string& path, int mode) {
  if (path.empty()) return makeError("makeDirs: empty path", EINVAL);
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      return errnoError("mkdir " + cur);
    }
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errnoError("stat " + path);
  if (!S_ISDIR(st.st_mode)) return makeError(path + " exists and is not a directory", ENOTDIR);
  return okStatus();
}

Result<FileLock> FileLock::acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errnoError("open lock " + path);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    Error e = errnoError("lock " + path);
    ::close(fd);
    return e;
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last fd releases the flock
}

}  // namespace routelet::fs
