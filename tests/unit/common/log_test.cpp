#include "common/base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <regex>
#include <string>

namespace routelet::log {
namespace {

// What write() sends to stderr, captured through a temp file in place of fd 2.
std::string captured(Level level, const std::string& message) {
  std::FILE* tmp = std::tmpfile();
  int saved = dup(STDERR_FILENO);
  dup2(fileno(tmp), STDERR_FILENO);
  write(level, message);
  dup2(saved, STDERR_FILENO);
  close(saved);
  std::string out(4096, '\0');
  std::rewind(tmp);
  out.resize(std::fread(out.data(), 1, out.size(), tmp));
  std::fclose(tmp);
  return out;
}

TEST(Log, OneLineStampedInUtcWithLevelAndComponent) {
  setComponent("routelet-test");
  setLevel(Level::kInfo);
  std::time_t before = std::time(nullptr);
  std::string line = captured(Level::kWarn, "two\nlines");
  std::time_t after = std::time(nullptr);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      line, m,
      std::regex(
          R"((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d{3}Z warn routelet-test: two lines\n)")))
      << line;
  // The same civil time as the C library's UTC conversion, at one of the two instants.
  auto utc = [](std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf);
  };
  EXPECT_TRUE(m[1] == utc(before) || m[1] == utc(after)) << m[1] << " vs " << utc(before);
  EXPECT_EQ(captured(Level::kDebug, "hidden"), "");
}

TEST(Log, NoControlCharactersOrInvalidUtf8ReachTheReader) {
  setLevel(Level::kInfo);
  std::string line = captured(Level::kWarn, "peer \x1b[2Jx\xc3 é\r\n");
  EXPECT_NE(line.find("peer \\x1b[2Jx\\xc3 é  \n"), std::string::npos) << line;
}

}  // namespace
}  // namespace routelet::log
