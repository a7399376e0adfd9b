#include "tests/support/netns_fixture.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace routelet::testing {
namespace {
std::atomic<int> gCounter{0};

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}
}  // namespace

int shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string shellOutput(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

bool requireRootAndIp() {
  if (::geteuid() != 0) {
    ADD_FAILURE() << "REAL-KERNEL TEST CANNOT RUN: it needs root to create network namespaces "
                     "(run scripts/test as root)";
    return false;
  }
  if (shell("command -v ip >/dev/null 2>&1") != 0) {
    ADD_FAILURE() << "REAL-KERNEL TEST CANNOT RUN: `ip` (iproute2) is missing; run scripts/setup";
    return false;
  }
  return true;
}

TestNetns::TestNetns(const std::string& tag) {
  const char* prefix = std::getenv("ROUTELET_TEST_NETNS_PREFIX");
  name_ = std::string(prefix && *prefix ? prefix : "rlt-") + tag + "-" +
          std::to_string(::getpid()) + "-" + std::to_string(gCounter++);
  if (name_.size() > 60) name_ = name_.substr(name_.size() - 60);
  ok_ = shell("ip netns add " + quote(name_)) == 0 &&
        shell("ip -n " + quote(name_) + " link set lo up") == 0;
  if (!ok_) ADD_FAILURE() << "could not create network namespace " << name_;
}

TestNetns::~TestNetns() {
  // Deleting the namespace destroys every link inside it (veth peers outside go too).
  shell("ip netns del " + quote(name_) + " 2>/dev/null");
}

int TestNetns::run(const std::string& command) const {
  return shell("ip netns exec " + quote(name_) + " sh -c " + quote(command));
}

std::string TestNetns::output(const std::string& command) const {
  return shellOutput("ip netns exec " + quote(name_) + " sh -c " + quote(command));
}

}  // namespace routelet::testing
