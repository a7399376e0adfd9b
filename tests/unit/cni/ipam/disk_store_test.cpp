// The disk backend: its files and formats, crash safety, locking between processes, and
// what it refuses (links, FIFOs). Allocation itself is allocator_test.cpp's, on FakeStore.
#include "cni/ipam/disk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "cni/ipam/allocator.h"
#include "cni/ipam/records.h"
#include "common/fs/files.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/cni/ipam/test_addresses.h"

namespace routelet::cni::ipam {
namespace {

namespace stdfs = std::filesystem;

using testing::addr;
using testing::addrs;
using testing::range;

class DiskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = DiskStore::open(root_, "routelet");
    ASSERT_TRUE(s.ok()) << s.error().message;
    disk_.emplace(std::move(*s));
    store_.emplace(*disk_);
  }

  // The allocator over the disk store, as the plugin uses it.
  Allocator& store() { return *store_; }
  DiskStore& disk() { return *disk_; }
  std::string lease(const char* address) const { return disk_->dir() + "/leases/" + address; }
  std::string index(const char* cid, const char* ifname = "eth0") const {
    return disk_->dir() + "/attachments/" + cid + ":" + ifname;
  }
  void put(const std::string& path, const std::string& content) {
    ASSERT_TRUE(fs::writeAtomic(path, content).ok()) << path;
  }
  std::string get(const std::string& path) {
    auto r = fs::readFile(path);
    return r ? *r : "<" + r.error().message + ">";
  }
  // The lease's owner as "<containerId>/<ifname>", or why it has none.
  std::string owner(const std::string& path) {
    auto content = fs::readFile(path);
    if (!content) return "<" + content.error().message + ">";
    auto who = parseLease(*content);
    return who ? who->containerId + "/" + who->ifname : "<" + who.error().message + ">";
  }
  static bool sameInode(const std::string& a, const std::string& b) {
    struct stat sa {
    }, sb{};
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
  }
  std::vector<ip::Address> take(const std::vector<Range>& ranges, const std::string& cid) {
    auto r = store().allocate(ranges, {cid, "eth0"});
    EXPECT_TRUE(r.ok()) << cid << ": " << r.error().message;
    return r ? *r : std::vector<ip::Address>{};
  }
  size_t leaseCount() {
    auto all = disk().all();
    EXPECT_TRUE(all.ok());
    return all ? all->size() : 0;
  }

  routelet::testing::TempDir tmp_{"ipam-test"};
  std::string root_ = tmp_.path();
  std::optional<DiskStore> disk_;
  std::optional<Allocator> store_;
  const Range v4_ = range("10.244.1.0/24", "10.244.1.1");
};

TEST_F(DiskStoreTest, OpenCreatesPrivateDirectoryAndRefusesUnsafeNetworkName) {
  struct stat st {};
  ASSERT_EQ(stat(disk().dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(disk().dir(), root_ + "/routelet");
  auto bad = DiskStore::open(root_, "../escape");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("network \"../escape\""), std::string::npos);
  EXPECT_FALSE(stdfs::exists(root_ + "/../escape"));
}

// The flock is what keeps concurrent plugins apart: a call without it is a bug, refused.
TEST_F(DiskStoreTest, CallsOutsideTheLockAreRefused) {
  const Attachment c1{"c1", "eth0"};
  EXPECT_EQ(disk().reserve(c1, {{addr("10.244.1.2"), v4_.subnet}}).error().code, ENOLCK);
  EXPECT_EQ(disk().contains(addr("10.244.1.2")).error().code, ENOLCK);
  EXPECT_EQ(disk().release(c1).error().code, ENOLCK);
  EXPECT_FALSE(disk().lastReserved(v4_.subnet));
  ASSERT_TRUE(disk().lock().ok());
  EXPECT_EQ(disk().lock().error().code, EDEADLK);
  EXPECT_TRUE(disk().reserve(c1, {{addr("10.244.1.2"), v4_.subnet}}).ok());
  disk().unlock();
  EXPECT_EQ(owner(lease("10.244.1.2")), "c1/eth0");
}

TEST_F(DiskStoreTest, FirstAddressFollowsTheGatewayAndLeaseRecordsOwner) {
  EXPECT_EQ(take({v4_}, "c1"), addrs({"10.244.1.2"}));
  EXPECT_EQ(take({v4_}, "c2"), addrs({"10.244.1.3"}));
  EXPECT_EQ(owner(lease("10.244.1.2")), "c1/eth0");
  EXPECT_EQ(get(index("c2")), "c2\neth0\n10.244.1.3\n");
  // One file per allocation: the lease is the index, linked under the address.
  EXPECT_TRUE(sameInode(lease("10.244.1.3"), index("c2")));
  auto held = store().leasesOf({"c2", "eth0"});
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*held, addrs({"10.244.1.3"}));
}

TEST_F(DiskStoreTest, DualStackReturnsOneAddressPerRangeInOrder) {
  Range v6 = range("fd00:1::/64", "fd00:1::1");
  EXPECT_EQ(take({v4_, v6}, "c1"), addrs({"10.244.1.2", "fd00:1::2"}));
  EXPECT_EQ(get(index("c1")), "c1\neth0\n10.244.1.2\nfd00:1::2\n");
  EXPECT_EQ(owner(lease("fd00:1::2")), "c1/eth0");
  EXPECT_TRUE(sameInode(lease("10.244.1.2"), index("c1")));
  EXPECT_TRUE(sameInode(lease("fd00:1::2"), index("c1")));
}

// The files byte for byte as routelet-cni wrote them before the store was split into the
// allocator and this backend: after an upgrade every lease and cursor reads as it was, so
// running pods keep their addresses and their DEL frees them.
TEST_F(DiskStoreTest, AStoreWrittenBeforeTheSplitIsReadAsItWas) {
  // c1: dual stack, its index hard-linked under both addresses; c2: a lease as GC's repair
  // writes it, beside its index.
  put(index("c1"), "c1\neth0\n10.244.1.2\nfd00:1::2\n");
  ASSERT_EQ(::link(index("c1").c_str(), lease("10.244.1.2").c_str()), 0);
  ASSERT_EQ(::link(index("c1").c_str(), lease("fd00:1::2").c_str()), 0);
  put(index("c2"), "c2\neth0\n10.244.1.3\n");
  put(lease("10.244.1.3"), "c2\neth0\n");
  const std::string v4Cursor = disk().dir() + "/last-reserved.10.244.1.0_24";
  put(v4Cursor, "10.244.1.3" + std::string(37, ' ') + "\n");
  put(disk().dir() + "/last-reserved.fd00:1::_64", "fd00:1::2" + std::string(38, ' ') + "\n");
  put(disk().dir() + "/lock", "");
  const Range v6 = range("fd00:1::/64", "fd00:1::1");

  EXPECT_EQ(*store().leasesOf({"c1", "eth0"}), addrs({"10.244.1.2", "fd00:1::2"}));
  EXPECT_EQ(*store().leasesOf({"c2", "eth0"}), addrs({"10.244.1.3"}));
  EXPECT_EQ(store().allocate({v4_, v6}, {"c1", "eth0"}).error().code, kErrAlreadyAllocated);
  EXPECT_EQ(take({v4_, v6}, "c3"), addrs({"10.244.1.4", "fd00:1::3"}));  // after the cursors
  EXPECT_EQ(get(index("c3")), "c3\neth0\n10.244.1.4\nfd00:1::3\n");
  EXPECT_TRUE(sameInode(lease("fd00:1::3"), index("c3")));
  EXPECT_EQ(get(v4Cursor), "10.244.1.4" + std::string(37, ' ') + "\n");
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.2")));
  EXPECT_FALSE(stdfs::exists(lease("fd00:1::2")));
  EXPECT_FALSE(stdfs::exists(index("c1")));
  auto gc = store().gc({{"c2", "eth0"}, {"c3", "eth0"}});
  ASSERT_TRUE(gc.ok()) << gc.error().message;
  EXPECT_TRUE(gc->released.empty());
  EXPECT_TRUE(gc->errors.empty());
  EXPECT_EQ(leaseCount(), 3u);
}

TEST_F(DiskStoreTest, ReleaseFollowsTheIndexAndDoesNotScanTheLeases) {
  take({v4_}, "c1");
  // Many unrelated leases, one corrupt, and a lease of c1 that its index does not name: a
  // release that scanned would read them all and delete the stray one.
  for (int i = 0; i < 1000; ++i) {
    std::string path = disk().dir() + "/leases/" + addr("10.100.0.0").offset(i).str();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  put(lease("10.244.1.100"), "c1\neth0\n");
  put(lease("10.244.1.101"), "\x01garbage");
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.2")));
  EXPECT_FALSE(stdfs::exists(index("c1")));
  EXPECT_EQ(get(lease("10.244.1.100")), "c1\neth0\n");  // left for GC
  EXPECT_EQ(get(lease("10.244.1.101")), "\x01garbage");
}

TEST_F(DiskStoreTest, GcKeepsValidReleasesTheRestAndGoesOnPastErrors) {
  take({v4_}, "keep");
  take({v4_}, "gone1");
  take({v4_}, "gone2");
  put(lease("10.244.1.200"), "");                  // corrupt, nobody names it
  stdfs::create_directory(lease("10.244.1.201"));  // unreadable as a file
  auto report = store().gc({{"keep", "eth0"}});
  ASSERT_TRUE(report.ok()) << report.error().message;

  std::set<std::string> released;
  for (const auto& l : report->released)
    released.insert(l.owner.containerId + "@" + l.address.str());
  EXPECT_EQ(released, (std::set<std::string>{"gone1@10.244.1.3", "gone2@10.244.1.4"}));
  ASSERT_EQ(report->errors.size(), 2u);
  std::string errors = report->errors[0].message + " | " + report->errors[1].message;
  EXPECT_NE(errors.find("10.244.1.200 is corrupt (file is empty); removed"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("10.244.1.201"), std::string::npos) << errors;

  EXPECT_EQ(owner(lease("10.244.1.2")), "keep/eth0");
  EXPECT_TRUE(stdfs::exists(index("keep")));
  EXPECT_FALSE(stdfs::exists(index("gone1")));
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.3")));
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.200")));
  EXPECT_EQ(leaseCount(), 1u);
}

TEST_F(DiskStoreTest, GcWithoutValidAttachmentsReleasesEverything) {
  take({v4_}, "c1");
  take({v4_}, "c2");
  auto report = store().gc({});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->released.size(), 2u);
  EXPECT_TRUE(report->errors.empty());
  EXPECT_EQ(leaseCount(), 0u);
  EXPECT_TRUE(stdfs::is_empty(disk().dir() + "/attachments"));
}

TEST_F(DiskStoreTest, GcRewritesACorruptLeaseThatAValidIndexNames) {
  take({v4_}, "c1");
  put(lease("10.244.1.2"), "c1\n");  // torn
  auto report = store().gc({{"c1", "eth0"}});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->errors.size(), 1u);
  EXPECT_NE(report->errors[0].message.find("rewritten for container c1 ifname eth0"),
            std::string::npos);
  EXPECT_EQ(get(lease("10.244.1.2")), "c1\neth0\n");
  EXPECT_EQ(*store().leasesOf({"c1", "eth0"}), addrs({"10.244.1.2"}));
}

// Crash leftovers, one per step of the write order documented in disk_store.cpp.

TEST_F(DiskStoreTest, CrashLeftoverTempFilesDoNotDisturbAndGcRemovesThem) {
  put(index("c1") + ".tmp.4242", "c1\neth0\n10.244.1.2\n");  // crash inside writeAtomic
  put(lease("10.244.1.9") + ".tmp.4242", "c9\neth0\n");
  EXPECT_EQ(take({v4_}, "c1"), addrs({"10.244.1.2"}));
  EXPECT_EQ(leaseCount(), 1u);
  auto report = store().gc({{"c1", "eth0"}});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->errors.empty());
  EXPECT_FALSE(stdfs::exists(index("c1") + ".tmp.4242"));
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.9") + ".tmp.4242"));
  EXPECT_TRUE(stdfs::exists(index("c1")));
}

TEST_F(DiskStoreTest, CrashAfterTheIndexBeforeTheLease) {
  put(index("c1"), "c1\neth0\n10.244.1.2\n");           // intent written, lease never created
  EXPECT_EQ(take({v4_}, "c2"), addrs({"10.244.1.2"}));  // the address was never leased
  // c1's stale index names c2's lease: releasing c1 must not free it.
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_EQ(owner(lease("10.244.1.2")), "c2/eth0");
  EXPECT_FALSE(stdfs::exists(index("c1")));
}

TEST_F(DiskStoreTest, RetriedAddAfterACrashReplacesTheIncompleteAllocation) {
  put(index("c1"), "c1\neth0\n10.244.1.2\nfd00::2\n");
  put(lease("10.244.1.2"), "c1\neth0\n");
  put(lease("fd00::2"), "");  // crashed while writing the second lease
  Range v6 = range("fd00::/64", "fd00::1");
  auto r = store().allocate({v4_, v6}, {"c1", "eth0"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, addrs({"10.244.1.2", "fd00::2"}));
  EXPECT_EQ(owner(lease("fd00::2")), "c1/eth0");
}

TEST_F(DiskStoreTest, CrashWhileWritingTheIndex) {
  put(index("c1"), "c1\neth0\n10.244");  // torn: the index was being written, no lease yet
  // DEL finds nothing to free (a scan finds no lease of c1) and removes the torn index.
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_FALSE(stdfs::exists(index("c1")));
  // A retried ADD after the same crash replaces it.
  put(index("c1"), "c1\neth0\n10.244");
  EXPECT_EQ(take({v4_}, "c1"), addrs({"10.244.1.2"}));
  EXPECT_EQ(get(index("c1")), "c1\neth0\n10.244.1.2\n");
  EXPECT_TRUE(sameInode(lease("10.244.1.2"), index("c1")));
}

TEST_F(DiskStoreTest, ReleaseLeavesNoLinkOfTheAllocationBehind) {
  Range v6 = range("fd00:1::/64", "fd00:1::1");
  take({v4_, v6}, "c1");
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_TRUE(stdfs::is_empty(disk().dir() + "/leases"));
  EXPECT_TRUE(stdfs::is_empty(disk().dir() + "/attachments"));
}

TEST_F(DiskStoreTest, ReleaseRemovesAnEmptyLeaseItsIndexNames) {
  put(index("c1"), "c1\neth0\n10.244.1.2\n");
  put(lease("10.244.1.2"), "");
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.2")));
  EXPECT_FALSE(stdfs::exists(index("c1")));
}

TEST_F(DiskStoreTest, LeaseWithoutIndexIsSkippedAndCollectedByGc) {
  put(lease("10.244.1.2"), "orphan\neth0\n");
  EXPECT_EQ(take({v4_}, "c1"), addrs({"10.244.1.3"}));
  auto report = store().gc({{"c1", "eth0"}});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->released.size(), 1u);
  EXPECT_EQ(report->released[0].owner.containerId, "orphan");
  EXPECT_EQ(report->released[0].address, addr("10.244.1.2"));
}

TEST_F(DiskStoreTest, GarbageIndexFallsBackToAScanOnRelease) {
  take({v4_}, "c1");
  put(index("c1"), "\xff\xfe garbage");
  ASSERT_TRUE(store().release({"c1", "eth0"}).ok());
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.2")));
  EXPECT_FALSE(stdfs::exists(index("c1")));
}

TEST_F(DiskStoreTest, GarbageIndexIsRepairedWhenTheAttachmentStillHoldsLeases) {
  take({v4_}, "c1");
  put(index("c1"), "");
  auto again = store().allocate({v4_}, {"c1", "eth0"});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, kErrAlreadyAllocated);
  EXPECT_EQ(get(index("c1")), "c1\neth0\n10.244.1.2\n");
}

TEST_F(DiskStoreTest, GarbageCursorRestartsTheSearch) {
  take({v4_}, "c1");
  put(disk().dir() + "/last-reserved.10.244.1.0_24", "10.244.");
  EXPECT_EQ(take({v4_}, "c2"), addrs({"10.244.1.3"}));
  // Rewritten in place at a fixed width (no truncate): the address, then padding.
  std::string cursor = get(disk().dir() + "/last-reserved.10.244.1.0_24");
  EXPECT_EQ(cursor.substr(0, cursor.find(' ')), "10.244.1.3");
  EXPECT_EQ(cursor.size(), 48u);
}

// Links planted in the store (by anything that can write there) are never followed: the
// plugin runs as root and would otherwise write, create or truncate whatever they name.
TEST_F(DiskStoreTest, SymlinksInTheStoreAreNeverFollowed) {
  std::string victim = root_ + "/victim";
  put(victim, "precious\n");
  take({v4_}, "c1");
  ASSERT_EQ(::unlink((disk().dir() + "/last-reserved.10.244.1.0_24").c_str()), 0);
  ASSERT_EQ(::symlink(victim.c_str(), (disk().dir() + "/last-reserved.10.244.1.0_24").c_str()), 0);
  EXPECT_EQ(take({v4_}, "c2"), addrs({"10.244.1.3"}));  // the cursor is lost, not written
  EXPECT_EQ(get(victim), "precious\n");

  // A link at a lease name holds the address; it is not a way to another file.
  ASSERT_EQ(::symlink(victim.c_str(), lease("10.244.1.4").c_str()), 0);
  EXPECT_EQ(take({v4_}, "c3"), addrs({"10.244.1.5"}));
  auto gc = store().gc({{"c1", "eth0"}, {"c2", "eth0"}, {"c3", "eth0"}});
  ASSERT_TRUE(gc.ok()) << gc.error().message;
  EXPECT_EQ(get(victim), "precious\n");

  // A lock or a directory of the store replaced by a link: every operation refuses.
  std::string lock = disk().dir() + "/lock";
  ASSERT_EQ(::unlink(lock.c_str()), 0);
  ASSERT_EQ(::symlink((root_ + "/made-through-the-lock").c_str(), lock.c_str()), 0);
  auto refused = store().allocate({v4_}, {"c4", "eth0"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ELOOP) << refused.error().message;
  EXPECT_FALSE(stdfs::exists(root_ + "/made-through-the-lock"));
  ASSERT_EQ(::unlink(lock.c_str()), 0);
  stdfs::rename(disk().dir() + "/leases", root_ + "/elsewhere");
  ASSERT_EQ(::symlink((root_ + "/elsewhere").c_str(), (disk().dir() + "/leases").c_str()), 0);
  refused = store().allocate({v4_}, {"c4", "eth0"});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("leases"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(stdfs::exists(root_ + "/elsewhere/10.244.1.6"));
}

// What op returns, computed in a child process that is ended after 10 s: nullopt when it
// was. open(2) of a FIFO waits for a writer, and a test of that must fail, not hang.
std::optional<std::string> inChild(const std::function<std::string()>& op) {
  int pipeFds[2];
  if (::pipe(pipeFds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipeFds[0]);
    ::alarm(10);
    std::string text = op();
    ssize_t n = ::write(pipeFds[1], text.data(), text.size());
    ::_exit(n == static_cast<ssize_t>(text.size()) ? 0 : 1);
  }
  ::close(pipeFds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipeFds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(pipeFds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) return std::nullopt;
  return text;
}

std::string shown(const Result<std::vector<ip::Address>>& r) {
  if (!r) return "error: " + r.error().message;
  std::string out;
  for (const auto& a : *r) out += (out.empty() ? "" : ",") + a.str();
  return out;
}

// Issue 23 row 10, file by file: whatever is planted in the store in place of a file it
// writes, a FIFO above all, is refused with its path and never waited on.
TEST_F(DiskStoreTest, FifoAtTheCursorIsPassedOverNotWaitedFor) {
  take({v4_}, "c1");
  const std::string cursor = disk().dir() + "/last-reserved.10.244.1.0_24";
  ASSERT_EQ(::unlink(cursor.c_str()), 0);
  ASSERT_EQ(::mkfifo(cursor.c_str(), 0600), 0);
  // The cursor is lost (the search starts over), as with a torn one.
  auto got = inChild([&] { return shown(store().allocate({v4_}, {"c2", "eth0"})); });
  ASSERT_TRUE(got) << "allocate blocked on the FIFO at " << cursor;
  EXPECT_EQ(*got, "10.244.1.3");
}

TEST_F(DiskStoreTest, FifoAtALeaseIsReportedByGcWhichGoesOn) {
  take({v4_}, "c1");
  take({v4_}, "c2");
  const std::string fifo = lease("10.244.1.250");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto got = inChild([&] {
    auto report = store().gc({{"c2", "eth0"}});
    if (!report) return "error: " + report.error().message;
    std::string out;
    for (const auto& l : report->released) out += "released " + l.owner.containerId + "; ";
    for (const auto& e : report->errors) out += e.message + "; ";
    return out;
  });
  ASSERT_TRUE(got) << "GC blocked on the FIFO at " << fifo;
  EXPECT_NE(got->find("released c1; "), std::string::npos) << *got;
  EXPECT_NE(got->find(fifo + " is a FIFO, not a regular file"), std::string::npos) << *got;
  EXPECT_EQ(owner(lease("10.244.1.3")), "c2/eth0");
  EXPECT_FALSE(stdfs::exists(lease("10.244.1.2")));
  // Left for whoever planted it; it keeps its address out of use meanwhile.
  EXPECT_TRUE(stdfs::is_fifo(fifo));
  got = inChild([&] { return std::to_string(disk().all()->size()); });
  ASSERT_TRUE(got) << "listing the leases blocked";
  EXPECT_EQ(*got, "1");
}

TEST_F(DiskStoreTest, FifoAtAnIndexIsRefusedNamingItAndSkippedByGc) {
  const std::string fifo = index("c1");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& [what, op] : std::vector<std::pair<std::string, std::function<std::string()>>>{
           {"allocate",
            [&] {
              return shown(store().allocate({v4_}, {"c1", "eth0"}));
            }},
           {"release",
            [&] {
              auto st = store().release({"c1", "eth0"});
              return st ? std::string("released") : "error: " + st.error().message;
            }},
           {"gc", [&] {
              auto report = store().gc({});
              return report && report->errors.size() == 1 ? report->errors[0].message
                                                          : std::string("unexpected report");
            }}}) {
    auto got = inChild(op);
    ASSERT_TRUE(got) << what << " blocked on the FIFO at " << fifo;
    EXPECT_NE(got->find(fifo + " is a FIFO, not a regular file"), std::string::npos)
        << what << ": " << *got;
  }
  EXPECT_TRUE(stdfs::is_fifo(fifo));
}

TEST_F(DiskStoreTest, FifoAtTheLockIsRefusedNamingIt) {
  const std::string lock = disk().dir() + "/lock";
  ASSERT_EQ(::mkfifo(lock.c_str(), 0600), 0);
  auto got = inChild([&] { return shown(store().allocate({v4_}, {"c1", "eth0"})); });
  ASSERT_TRUE(got) << "allocate blocked on the FIFO at " << lock;
  EXPECT_EQ(*got, "error: " + lock + " is a FIFO, not a regular file: routelet never makes one " +
                      "there; remove it");
  EXPECT_TRUE(stdfs::is_empty(disk().dir() + "/leases"));
}

TEST_F(DiskStoreTest, ConcurrentProcessesNeverShareAnAddress) {
  constexpr int kChildren = 20;
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Each child opens its own store (and so its own lock fd) after the fork, then waits
      // for the gate so all allocate at the same time.
      ::close(gate[1]);
      char c;
      (void)::read(gate[0], &c, 1);
      auto s = DiskStore::open(root_, "routelet");
      if (!s) _exit(2);
      auto r = Allocator(*s).allocate({v4_}, {"p" + std::to_string(i), "eth0"});
      _exit(r && r->size() == 1 ? 0 : 1);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // opens the gate
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  auto all = disk().all();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), static_cast<size_t>(kChildren));
  std::set<ip::Address> addresses;
  std::set<std::string> owners;
  for (const auto& l : *all) {
    addresses.insert(l.address);
    owners.insert(l.owner.containerId);
  }
  EXPECT_EQ(addresses.size(), static_cast<size_t>(kChildren));
  EXPECT_EQ(owners.size(), static_cast<size_t>(kChildren));
  EXPECT_EQ(*addresses.begin(), addr("10.244.1.2"));
  EXPECT_EQ(*addresses.rbegin(), addr("10.244.1.21"));
}

}  // namespace
}  // namespace routelet::cni::ipam
