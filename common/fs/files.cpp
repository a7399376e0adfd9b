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

// How a file is opened. By path: as the operator named it. In a Dir, a directory other
// processes could write to: no symlink is followed; O_NONBLOCK, because open(2) of a FIFO
// waits for a writer (or a reader), so one planted under the name would block the caller,
// and a store operation holds its lock meanwhile; O_NOCTTY, so a terminal device never
// becomes the controlling one; and what fstat does not call a regular file is refused
// before it is read, written or locked.
struct Opening {
  int flags;
  bool regularOnly;
};
constexpr Opening kByPath{0, false};
constexpr Opening kInDir{O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, true};

const char* kindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "of an unknown type";
}

// openat(2) as `how` says; shown names the file and verb the act in an error.
Result<int> openAt(int dirFd, const std::string& name, const std::string& shown, int flags,
                   int mode, const Opening& how, const std::string& verb) {
  int fd = ::openat(dirFd, name.c_str(), flags | how.flags | O_CLOEXEC, mode);
  if (fd < 0) return errnoError(verb + " " + shown);
  if (!how.regularOnly) return fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = errnoError("stat " + shown);
    ::close(fd);
    return e;
  }
  if (S_ISREG(st.st_mode)) return fd;
  ::close(fd);
  return makeError(shown + " is " + kindOf(st.st_mode) +
                       ", not a regular file: routelet never makes one there; remove it",
                   EINVAL);
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
// errors.
Status writeAtomicAt(int dirFd, const std::string& name, const std::string& shown,
                     const std::string& content, int mode, Durability durability,
                     const Opening& how) {
  std::string tmp = name + ".tmp." + std::to_string(::getpid());
  std::string shownTmp = shown + ".tmp." + std::to_string(::getpid());
  auto opened = openAt(dirFd, tmp, shownTmp, O_WRONLY | O_CREAT | O_TRUNC, mode, how, "create");
  if (!opened) return opened.error();
  const int fd = *opened;
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
                           size_t maxBytes, const Opening& how) {
  auto opened = openAt(dirFd, name, shown, O_RDONLY, 0, how, "open");
  if (!opened) return opened.error();
  const int fd = *opened;
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
  if (auto st = writeAtomicAt(AT_FDCWD, path, path, content, mode, durability, kByPath); !st)
    return st;
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
  return readAt(AT_FDCWD, path, path, maxBytes, kByPath);
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
  return acquireAt(AT_FDCWD, path, path, false);
}

Result<FileLock> FileLock::acquireAt(int dirFd, const std::string& name, const std::string& shown,
                                     bool inDir) {
  // flock(2) blocks as LOCK_NB says, whatever O_NONBLOCK the descriptor has.
  auto opened =
      openAt(dirFd, name, shown, O_RDWR | O_CREAT, 0600, inDir ? kInDir : kByPath, "open lock");
  if (!opened) return opened.error();
  const int fd = *opened;
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
  return readAt(fd(), name, path(name), maxBytes, kInDir);
}

Result<FileLock> Dir::lock(const std::string& name) const {
  return FileLock::acquireAt(fd(), name, path(name), true);
}

Status Dir::writeAtomic(const std::string& name, const std::string& content, int mode) const {
  return writeAtomicAt(fd(), name, path(name), content, mode, Durability::kAtomicOnly, kInDir);
}

Result<int> Dir::openFile(const std::string& name, int flags, int mode,
                          const std::string& verb) const {
  return openAt(fd(), name, path(name), flags, mode, kInDir, verb);
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
