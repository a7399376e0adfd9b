#include "common/fs/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "tests/support/temp_dir.h"

namespace routelet::fs {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  routelet::testing::TempDir tmp_{"fs-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(FilesTest, WriteAtomicReplacesContentAndLeavesNoTempFile) {
  std::string path = dir_ + "/10-routelet.conflist";
  ASSERT_TRUE(writeAtomic(path, "one", 0600).ok());
  ASSERT_TRUE(writeAtomic(path, "two").ok());
  EXPECT_EQ(*readFile(path), "two");
  int count = 0;
  for (auto& e : std::filesystem::directory_iterator(dir_)) {
    (void)e;
    ++count;
  }
  EXPECT_EQ(count, 1);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(FilesTest, WriteAtomicIntoMissingDirFailsNamingThePath) {
  auto st = writeAtomic(dir_ + "/nope/file", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find(dir_ + "/nope/file.tmp."), std::string::npos);
  EXPECT_EQ(st.error().code, ENOENT);
}

TEST_F(FilesTest, ReadFileIsBounded) {
  std::string path = dir_ + "/big";
  ASSERT_TRUE(writeAtomic(path, std::string(5000, 'x')).ok());
  auto r = readFile(path, 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EFBIG);
  EXPECT_EQ(readFile(path, 5000)->size(), 5000u);
}

TEST_F(FilesTest, MakeDirsCreatesNestedAndIsIdempotent) {
  std::string nested = dir_ + "/a/b/c";
  ASSERT_TRUE(makeDirs(nested).ok());
  ASSERT_TRUE(makeDirs(nested).ok());
  EXPECT_TRUE(std::filesystem::is_directory(nested));
  ASSERT_TRUE(writeAtomic(dir_ + "/file", "x").ok());
  auto st = makeDirs(dir_ + "/file");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ENOTDIR);
}

TEST_F(FilesTest, LockExcludesAnotherProcess) {
  std::string lockPath = dir_ + "/lock";
  int go[2], done[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(done), 0);
  // Fork before locking: a child that inherited the parent's lock fd would share its
  // open file description and with it the lock.
  pid_t child = fork();
  if (child == 0) {
    char c;
    if (read(go[0], &c, 1) != 1) _exit(2);
    auto l = FileLock::acquire(lockPath);  // blocks until the parent releases
    c = l.ok() ? 'y' : 'n';
    _exit(write(done[1], &c, 1) == 1 ? 0 : 1);
  }
  auto lock = FileLock::acquire(lockPath);
  ASSERT_TRUE(lock.ok());
  ASSERT_EQ(write(go[1], "g", 1), 1);
  // The child must still be waiting while we hold the lock.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, WNOHANG), 0);
  { auto released = std::move(*lock); }
  char c = 0;
  ASSERT_EQ(read(done[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  waitpid(child, &status, 0);
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
}

}  // namespace
}  // namespace routelet::fs
