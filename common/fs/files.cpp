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

// The temp file and the rename of writeAtomic, relative to dirFd; shown names the file in
// errors. flags are added to the temp file's open.
Status writeAtomicAt(int dirFd, const std::string& name, const std::string& shown,
                     const std::string& content, int mode, Durability durability, int flags) {
  std::string tmp = name + ".tmp." + std::to_string(::getpid());
  std::string shownTmp = shown + ".tmp." + std::to_string(::getpid());
  int fd = ::openat(dirFd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | flags, mode);
  if (fd < 0) return errnoError("create " + shownTmp);
  Status st = writeAll(fd, content, shownTmp);
  if (st && ::fchmod(fd, static_cast<mode_t>(mode)) != 0) st = errnoError("chmod " + shownTmp);
  if (st && durability == Durability::kDurable && ::fsync(fd) != 0)
    st = errnoError("fsync " + shownTmp);
  if (::close(fd) != 0 && st) st = errnoError("close " + shownTmp);
  if (st && ::renameat(dirFd, tmp.c_str(), dirFd, name.c_str()) != 0)
    st = errnoError("rename " + shownTmp + " to " + shown);
  if (!st) ::unlinkat(dirFd, tmp.c_str(), 0);
  return st;
}

Result<std::string> readAt(int dirFd, const std::string& name, const std::string& shown,
                           size_t maxBytes, int flags) {
  int fd = ::openat(dirFd, name.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) return errnoError("open " + shown);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = errnoError("read " + shown);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > maxBytes) {
      ::close(fd);
      return makeError(
          "read " + shown + ": file larger than " + std::to_string(maxBytes) + " bytes", EFBIG);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

Status writeAtomic(const std::string& path, const std::string& content, int mode,
                   Durability durability) {
  if (auto st = writeAtomicAt(AT_FDCWD, path, path, content, mode, durability, 0); !st) return st;
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
  return readAt(AT_FDCWD, path, path, maxBytes, 0);
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
  return acquireAt(AT_FDCWD, path, path, 0);
}

Result<FileLock> FileLock::acquireAt(int dirFd, const std::string& name, const std::string& shown,
                                     int flags) {
  int fd = ::openat(dirFd, name.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | flags, 0600);
  if (fd < 0) return errnoError("open lock " + shown);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    Error e = errnoError("lock " + shown);
    ::close(fd);
    return e;
  }
  return FileLock(fd);
}

Result<Dir> Dir::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errnoError("open directory " + path);
  return Dir(fd, path);
}

Result<Dir> Dir::sub(const std::string& name) const {
  int fd = ::openat(fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errnoError("open directory " + path(name));
  return Dir(fd, path(name));
}

Result<std::string> Dir::readFile(const std::string& name, size_t maxBytes) const {
  return readAt(fd(), name, path(name), maxBytes, O_NOFOLLOW);
}

Result<FileLock> Dir::lock(const std::string& name) const {
  return FileLock::acquireAt(fd(), name, path(name), O_NOFOLLOW);
}

Status Dir::writeAtomic(const std::string& name, const std::string& content, int mode) const {
  return writeAtomicAt(fd(), name, path(name), content, mode, Durability::kAtomicOnly, O_NOFOLLOW);
}

Result<int> Dir::openFile(const std::string& name, int flags, int mode,
                          const std::string& verb) const {
  int fd = ::openat(fd_.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errnoError(verb + " " + path(name));
  return fd;
}

Result<bool> writeIfChanged(const std::string& path, const std::string& content) {
  auto current = readFile(path, content.size() + 1);
  if (current && *current == content) return false;
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto st = makeDirs(path.substr(0, slash)); !st) return st.error();
  }
  if (auto st = writeAtomic(path, content); !st) return st.error();
  return true;
}

}  // namespace routelet::fs
