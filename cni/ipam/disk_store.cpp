#include "cni/ipam/disk_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "cni/ipam/records.h"
#include "common/base/log.h"
#include "common/fs/files.h"

// Layout of dataDir/<network>/ and the write order that makes a crash at any point safe.
//
//   lock                        flock(2) held by every operation; dies with its process
//   attachments/<cid>:<ifname>  the attachment's index: owner, then every address it holds
//   leases/<address>            one per leased address: the index file itself, hard-linked
//                               under the address, so its content names the owner
//   last-reserved.<net>_<len>   round-robin cursor of a subnet: the address last handed out
//
// An allocation (Allocator::allocate), under the lock:
//   1. pick a free address per range (contains: an lstat; under the lock no other plugin
//      creates leases);
//   2. (reserve) create the index with O_CREAT|O_EXCL and write it: the intent names every
//      address before any lease exists (no index of the attachment exists here: settle
//      released any leftover first);
//   3. link(2) the index under each address: link fails with EEXIST as O_EXCL does, so an
//      address is never held twice whatever the index says, and a lease is never torn (it
//      appears whole, after the write). The whole allocation is one inode: creating an inode
//      is what costs on a disk (ext4: a few hundred microseconds), a link is a directory
//      entry;
//   4. rewrite the round-robin cursor without fsync: losing it only restarts the search.
// Invariant: every lease file was named by its owner's index before it was created. A crash
// during 2 leaves a torn index: its attachment's leases are found by a scan (there are none)
// and a repeated ADD or DEL removes it. A crash after 2 or during 3 leaves an index naming
// missing leases: DEL (release) removes exactly those, a repeated ADD of the same attachment
// treats the incomplete index as stale and releases it first, and GC releases it once the
// attachment is no longer valid (after a reboot the runtime's GC lists only the sandboxes
// that still exist). release: unlink the leases (only if owned by the attachment or
// unreadable garbage), then the index; a crash in between leaves an index naming missing
// leases, which a repeated DEL or GC removes. Unlinks are not fsynced: a lease that
// reappears after a power loss is released by GC.
//
// Nothing is fsynced. The order above protects against a plugin killed at any instruction,
// which is what happens on a node (the page cache outlives the process). Durability against
// a power loss would buy nothing: no pod network namespace survives a reboot, so every lease
// is stale afterwards. The agent puts the store on /run (tmpfs), so a reboot empties it --
// host-local keeps its leases under /var/lib and leaks them across reboots -- and a store on
// disk tolerates whatever a power loss leaves (torn or empty files, missing leases; see GC).
// The fsyncs this saves were most of an ADD's time (several ms each on a loaded disk).

namespace routelet::cni::ipam {
namespace {

constexpr size_t kMaxIndexBytes = 64 * 1024;
constexpr size_t kMaxLeaseBytes = 4096;

// Canonical lease file names only: anything else in leases/ is a leftover temp file.
std::optional<ip::Address> leaseName(const std::string& name) {
  auto a = ip::Address::parse(name);
  if (!a || a->str() != name) return std::nullopt;
  return *a;
}

// The store's directories, opened for one operation. Every file is reached through them,
// relative and with O_NOFOLLOW (fs::Dir), never by path: a symlink planted in the store
// (at the lock, a lease, an index, the cursor or a directory) is refused, not written
// through as root.
struct Layout {
  fs::Dir dir, leases, indexes;

  static Result<Layout> open(const std::string& path) {
    auto dir = fs::Dir::open(path);
    if (!dir) return dir.error();
    auto leases = dir->sub("leases");
    if (!leases) return leases.error();
    auto indexes = dir->sub("attachments");
    if (!indexes) return indexes.error();
    return Layout{std::move(*dir), std::move(*leases), std::move(*indexes)};
  }
  static std::string cursor(const ip::Prefix& range) {
    std::string net = range.network().str();
    std::replace(net.begin(), net.end(), '/', '_');
    return "last-reserved." + net;
  }
};

Result<std::vector<std::string>> listDir(const fs::Dir& d) {
  // A descriptor of its own: closedir closes it, and the Dir keeps its own.
  int fd = ::openat(d.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* list = fd < 0 ? nullptr : ::fdopendir(fd);
  if (list == nullptr) {
    Error e = errnoError("list " + d.path());
    if (fd >= 0) ::close(fd);
    return e;
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(list)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(list);
  return names;
}

Status removeFile(const fs::Dir& d, const std::string& name) {
  if (::unlinkat(d.fd(), name.c_str(), 0) != 0 && errno != ENOENT)
    return errnoError("remove " + d.path(name));
  return okStatus();
}

// A new file with its whole content, or nothing: O_EXCL, so an existing file (or link) is
// never overwritten.
Status createFile(const fs::Dir& d, const std::string& name, const std::string& content) {
  auto fd = d.openFile(name, O_WRONLY | O_CREAT | O_EXCL, 0600, "create");
  if (!fd) return fd.error();
  ssize_t n = ::write(*fd, content.data(), content.size());
  Status st = n == static_cast<ssize_t>(content.size())
                  ? okStatus()
                  : (n < 0 ? errnoError("write " + d.path(name))
                           : makeError("short write to " + d.path(name), EIO));
  ::close(*fd);
  if (!st) ::unlinkat(d.fd(), name.c_str(), 0);
  return st;
}

// EEXIST when the address is leased: the last line of defence, even with a damaged index
// an address is never leased to two attachments. linkat(2) without AT_SYMLINK_FOLLOW links
// a symlink itself, never its target.
Status linkLease(const Layout& layout, const Attachment& who, const ip::Address& a) {
  if (::linkat(layout.indexes.fd(), indexFileName(who).c_str(), layout.leases.fd(), a.str().c_str(),
               0) != 0)
    return errnoError("create lease " + layout.leases.path(a.str()));
  return okStatus();
}

enum class FileState { kMissing, kOk, kCorrupt };

struct LeaseFile {
  FileState state = FileState::kMissing;
  Attachment owner;
  std::string problem;  // why it is corrupt
};

Result<LeaseFile> readLease(const Layout& layout, const std::string& name) {
  auto content = layout.leases.readFile(name, kMaxLeaseBytes);
  if (!content) {
    if (content.error().code == ENOENT) return LeaseFile{};
    if (content.error().code != EFBIG) return content.error();
    return LeaseFile{FileState::kCorrupt, {}, "larger than a lease"};
  }
  auto owner = parseLease(*content);
  if (!owner) return LeaseFile{FileState::kCorrupt, {}, owner.error().message};
  return LeaseFile{FileState::kOk, *owner, ""};
}

// What the store records for one attachment, found through its index (no scan) unless the
// index is corrupt.
struct Holding {
  FileState index = FileState::kMissing;
  std::vector<ip::Address> listed;  // addresses the index names
  std::vector<ip::Address> held;    // leases owned by the attachment
  std::vector<ip::Address> torn;    // named by the index but unparsable: a crash in step 3
  bool complete() const { return index == FileState::kOk && held.size() == listed.size(); }
};

// Only for a corrupt index: the one case where the owner's leases cannot be found otherwise.
std::vector<ip::Address> scanOwnedBy(const Layout& layout, const Attachment& who) {
  std::vector<ip::Address> owned;
  auto names = listDir(layout.leases);
  if (!names) {
    log::warn("ipam: " + names.error().message);
    return owned;
  }
  for (const auto& name : *names) {
    auto a = leaseName(name);
    if (!a) continue;
    auto l = readLease(layout, name);
    if (l && l->state == FileState::kOk && l->owner == who) owned.push_back(*a);
  }
  return owned;
}

Result<Holding> loadHolding(const Layout& layout, const Attachment& who) {
  Holding h;
  const std::string path = layout.indexes.path(indexFileName(who));
  auto content = layout.indexes.readFile(indexFileName(who), kMaxIndexBytes);
  if (!content) {
    if (content.error().code == ENOENT) return h;
    if (content.error().code != EFBIG) return content.error();
  }
  auto record = content ? parseIndex(*content) : Result<IndexRecord>(content.error());
  if (!record || record->owner != who) {
    std::string why = record ? "it names " + describe(record->owner) : record.error().message;
    log::warn("ipam: index " + path + " is corrupt (" + why + "); finding " + describe(who) +
              "'s leases by scanning instead");
    h.index = FileState::kCorrupt;
    h.held = scanOwnedBy(layout, who);
    return h;
  }
  h.index = FileState::kOk;
  h.listed = record->addresses;
  for (const auto& a : h.listed) {
    auto l = readLease(layout, a.str());
    if (!l) return l.error();
    if (l->state == FileState::kOk && l->owner == who) h.held.push_back(a);
    if (l->state == FileState::kCorrupt) h.torn.push_back(a);
  }
  return h;
}

// Leases go first and the index last, so a failure or crash leaves the index for a retry.
Status releaseHolding(const Layout& layout, const Attachment& who, const Holding& h) {
  if (h.index == FileState::kMissing) return okStatus();
  Status result;
  for (const auto* list : {&h.held, &h.torn}) {
    for (const auto& a : *list) {
      if (auto st = removeFile(layout.leases, a.str()); !st && result) result = st;
    }
  }
  if (!result) return result;
  return removeFile(layout.indexes, indexFileName(who));
}

std::optional<ip::Address> readCursor(const Layout& layout, const ip::Prefix& range) {
  auto content = layout.dir.readFile(Layout::cursor(range), 256);
  if (!content) return std::nullopt;
  while (!content->empty() && (content->back() == '\n' || content->back() == ' '))
    content->pop_back();
  auto a = ip::Address::parse(*content);
  if (!a) return std::nullopt;  // torn by a crash: start over
  return *a;
}

void writeCursor(const Layout& layout, const ip::Prefix& range, const ip::Address& a) {
  // Overwritten in place at a fixed width, never truncated or renamed over: ext4's
  // auto_da_alloc starts writeback of a file that is truncated and rewritten (or renamed
  // over another), which cost up to 4 ms per ADD here. The reader trims the padding.
  auto fd = layout.dir.openFile(Layout::cursor(range), O_WRONLY | O_CREAT);
  std::string text = a.str();
  text.resize(47, ' ');  // INET6_ADDRSTRLEN - 1: the longest address text
  text += "\n";
  if (!fd || ::pwrite(*fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    log::warn("ipam: cannot record round-robin position in " +
              layout.dir.path(Layout::cursor(range)));
  }
  if (fd) ::close(*fd);
}

// Every lease whose owner can be read, by address.
Result<std::vector<Lease>> readLeases(const Layout& layout) {
  auto names = listDir(layout.leases);
  if (!names) return names.error();
  std::vector<Lease> leases;
  for (const auto& name : *names) {
    auto a = leaseName(name);
    if (!a) continue;
    auto l = readLease(layout, name);
    if (l && l->state == FileState::kOk) {
      leases.push_back({*a, l->owner});
    } else if (!l || l->state == FileState::kCorrupt) {
      log::warn("ipam: lease " + layout.leases.path(name) + " is unusable (" +
                (l ? l->problem : l.error().message) + "); CNI GC repairs or reports it");
    }
  }
  std::sort(leases.begin(), leases.end(),
            [](const Lease& x, const Lease& y) { return x.address < y.address; });
  return leases;
}

}  // namespace

// The store's directories and its lock, held for one operation.
struct LockedFiles {
  Layout layout;
  fs::FileLock lock;
};

DiskStore::DiskStore(std::string dir) : dir_(std::move(dir)) {}
DiskStore::DiskStore(DiskStore&&) noexcept = default;
DiskStore& DiskStore::operator=(DiskStore&&) noexcept = default;
DiskStore::~DiskStore() = default;

Result<DiskStore> DiskStore::open(const std::string& dataDir, const std::string& network) {
  if (dataDir.empty()) return makeError("IPAM dataDir is empty: set dataDir", EINVAL);
  if (auto st = checkFileName("network", network); !st) return st.error();
  const std::string dir = dataDir + "/" + network;
  // Every verb opens the store, and after the first ADD its directories exist: two stats
  // answer that, where makeDirs walks every component of all three paths (14 mkdirs for
  // the default dataDir).
  auto isDir = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  if (isDir(dir + "/leases") && isDir(dir + "/attachments")) return DiskStore(dir);
  for (const auto& d : {dir, dir + "/leases", dir + "/attachments"}) {
    if (auto st = fs::makeDirs(d, 0700); !st) return st.error().wrap("open IPAM store");
  }
  return DiskStore(dir);
}

Status DiskStore::lock() {
  if (locked_) return makeError("IPAM store " + dir_ + " is locked already", EDEADLK);
  auto layout = Layout::open(dir_);
  if (!layout) return layout.error();
  auto lock = layout->dir.lock("lock");
  if (!lock) return lock.error();
  locked_ = std::make_unique<LockedFiles>(LockedFiles{std::move(*layout), std::move(*lock)});
  return okStatus();
}

void DiskStore::unlock() {
  locked_.reset();
}

Result<const LockedFiles*> DiskStore::files() const {
  if (!locked_) return makeError("IPAM store " + dir_ + " used without its lock", ENOLCK);
  return locked_.get();
}

Result<bool> DiskStore::contains(const ip::Address& address) {
  auto files = this->files();
  if (!files) return files.error();
  const Layout& layout = (*files)->layout;
  struct stat st {};
  if (::fstatat(layout.leases.fd(), address.str().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    return true;
  if (errno != ENOENT) return errnoError("stat lease " + layout.leases.path(address.str()));
  return false;
}

Result<std::vector<ip::Address>> DiskStore::leased() {
  auto files = this->files();
  if (!files) return files.error();
  auto names = listDir((*files)->layout.leases);
  if (!names) return names.error();
  std::vector<ip::Address> leased;
  for (const auto& name : *names) {
    if (auto a = leaseName(name)) leased.push_back(*a);
  }
  return leased;
}

std::optional<ip::Address> DiskStore::lastReserved(const ip::Prefix& range) {
  auto files = this->files();
  if (!files) return std::nullopt;
  return readCursor((*files)->layout, range);
}

Status DiskStore::reserve(const Attachment& who, const std::vector<Reservation>& picks) {
  if (auto st = checkAttachment(who); !st) return st;
  if (picks.empty()) return makeError("reserve for " + describe(who) + ": no address", EINVAL);
  auto files = this->files();
  if (!files) return files.error();
  const Layout& layout = (*files)->layout;
  std::vector<ip::Address> picked;
  for (const auto& p : picks) picked.push_back(p.address);
  if (auto st = createFile(layout.indexes, indexFileName(who), formatIndex({who, picked})); !st)
    return st.error().wrap("record leases of " + describe(who));
  Status st;
  size_t created = 0;
  while (st && created < picked.size()) {
    st = linkLease(layout, who, picked[created]);
    if (st) ++created;  // a failed link may be someone else's lease: never undo that one
  }
  if (!st) {  // all or nothing: undo in release order
    Holding undo{FileState::kOk, picked, {}, {}};
    undo.held.assign(picked.begin(), picked.begin() + static_cast<std::ptrdiff_t>(created));
    (void)releaseHolding(layout, who, undo);
    return st;
  }
  for (const auto& p : picks) writeCursor(layout, p.range, p.address);
  return okStatus();
}

Result<std::vector<ip::Address>> DiskStore::listByOwner(const Attachment& who) {
  if (auto st = checkAttachment(who); !st) return st.error();
  auto files = this->files();
  if (!files) return files.error();
  auto h = loadHolding((*files)->layout, who);
  if (!h) return h.error();
  return h->held;
}

Result<std::vector<ip::Address>> DiskStore::settle(const Attachment& who) {
  if (auto st = checkAttachment(who); !st) return st.error();
  auto files = this->files();
  if (!files) return files.error();
  const Layout& layout = (*files)->layout;
  auto h = loadHolding(layout, who);
  if (!h) return h.error();
  if (h->complete() || (h->index == FileState::kCorrupt && !h->held.empty())) {
    if (h->index == FileState::kCorrupt) {  // repair, so DEL finds them without a scan
      (void)layout.indexes.writeAtomic(indexFileName(who), formatIndex({who, h->held}), 0600);
    }
    return h->held;
  }
  if (h->index != FileState::kMissing) {
    log::warn("ipam: " + describe(who) + " has an incomplete allocation (crash during ADD?); " +
              "releasing it first");
    if (auto st = releaseHolding(layout, who, *h); !st) return st.error();
  }
  return std::vector<ip::Address>{};
}

Status DiskStore::release(const Attachment& who) {
  if (auto st = checkAttachment(who); !st) return st;
  auto files = this->files();
  if (!files) return files.error();
  const Layout& layout = (*files)->layout;
  auto h = loadHolding(layout, who);
  if (!h) return h.error();
  return releaseHolding(layout, who, *h);
}

Result<GcReport> DiskStore::releaseExcept(const std::vector<Attachment>& valid) {
  auto files = this->files();
  if (!files) return files.error();
  const Layout& layout = (*files)->layout;
  const std::set<Attachment> keep(valid.begin(), valid.end());
  GcReport report;
  auto fail = [&](const Status& st) {
    if (!st) report.errors.push_back(st.error());
  };

  // Indexes first: which address a valid attachment claims lets a corrupt lease be repaired.
  std::map<ip::Address, Attachment> claimed;
  std::vector<std::string> dropIndexes;
  auto indexNames = listDir(layout.indexes);
  if (!indexNames) return indexNames.error();
  for (const auto& name : *indexNames) {
    const std::string path = layout.indexes.path(name);
    auto content = layout.indexes.readFile(name, kMaxIndexBytes);
    if (!content && content.error().code != EFBIG) {
      // Not read, so not known to be corrupt (a FIFO or directory planted here, an I/O
      // error): left as it is. The leases of attachments not in the valid list go below.
      report.errors.push_back(makeError(
          "attachment index not read, skipped: " + content.error().message, content.error().code));
      continue;
    }
    auto record = content ? parseIndex(*content) : Result<IndexRecord>(content.error());
    if (!record) {
      report.errors.push_back(makeError(
          "attachment index " + path + " is corrupt (" + record.error().message +
              "); removed: leases of attachments not in the valid list are released below",
          EBADMSG));
      fail(removeFile(layout.indexes, name));
    } else if (indexFileName(record->owner) != name) {
      fail(removeFile(layout.indexes, name));  // a temp file of a writeAtomic cut by a crash
    } else if (keep.count(record->owner) != 0) {
      for (const auto& a : record->addresses) claimed.emplace(a, record->owner);
    } else {
      dropIndexes.push_back(name);
    }
  }

  auto leaseNames = listDir(layout.leases);
  if (!leaseNames) return leaseNames.error();
  for (const auto& name : *leaseNames) {
    const std::string path = layout.leases.path(name);
    auto address = leaseName(name);
    if (!address) {
      fail(removeFile(layout.leases, name));  // not a lease: a temp file of a cut repair
      continue;
    }
    auto l = readLease(layout, name);
    if (!l) {
      report.errors.push_back(l.error());
    } else if (l->state == FileState::kCorrupt) {
      auto owner = claimed.find(*address);
      std::string action = "removed, no valid attachment names it";
      Status st;
      if (owner != claimed.end()) {
        action = "rewritten for " + describe(owner->second) + ", whose index names it";
        st = layout.leases.writeAtomic(name, formatLease(owner->second), 0600);
      } else {
        st = removeFile(layout.leases, name);
      }
      report.errors.push_back(
          makeError("lease " + path + " is corrupt (" + l->problem + "); " + action, EBADMSG));
      fail(st);
    } else if (l->state == FileState::kOk && keep.count(l->owner) == 0) {
      auto st = removeFile(layout.leases, name);
      if (st) report.released.push_back({*address, l->owner});
      fail(st);
    }
  }
  for (const auto& name : dropIndexes) fail(removeFile(layout.indexes, name));
  return report;
}

Result<std::vector<Lease>> DiskStore::all() {
  if (auto st = lock(); !st) return st.error();
  auto leases = readLeases(locked_->layout);
  unlock();
  return leases;
}

}  // namespace routelet::cni::ipam
