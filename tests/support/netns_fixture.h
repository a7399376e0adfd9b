// Helpers for real-kernel tests: named network namespaces that the test creates and
// always removes, and a loud failure when the test cannot run (not root, tool missing).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"

namespace routelet::testing {

// Fails the current test loudly unless running as root with `ip` available. Real-kernel
// tests must never pass silently by skipping.
// Use as: if (!requireRootAndIp()) return;  (the failure is already recorded)
bool requireRootAndIp();

// A network namespace /var/run/netns/<name>, with name "rlt-<tag>-<pid>-<n>" unique per
// process and call, created on construction (loopback up) and deleted on destruction,
// with every link inside it. ROUTELET_TEST_NETNS_PREFIX replaces "rlt-", so test runs on a
// machine whose namespaces are swept by prefix (a lab, another checkout's runs) stay apart.
class TestNetns {
 public:
  explicit TestNetns(const std::string& tag);
  ~TestNetns();
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }

  // Runs a shell command inside the namespace; returns its exit status.
  int run(const std::string& command) const;
  // Same, returning stdout (stderr passes through to the test log).
  std::string output(const std::string& command) const;

 private:
  std::string name_;
  bool ok_ = false;
};

// Runs a shell command in the current namespace; returns exit status / stdout.
int shell(const std::string& command);
std::string shellOutput(const std::string& command);

// Runs f(nl) with this thread inside ns and nl an rtnetlink handle opened there; the thread
// is back in its own namespace when it returns. Use ASSERTs only from the test body: a
// failed one here ends this function, not the test.
template <typename F>
void inside(const TestNetns& ns, F f) {
  auto fd = netns::Fd::open(ns.path());
  ASSERT_TRUE(fd.ok()) << fd.error().message;
  auto entered = netns::Enter::into(*fd);
  ASSERT_TRUE(entered.ok()) << entered.error().message;
  auto nl = netlink::Handle::open();
  ASSERT_TRUE(nl.ok()) << nl.error().message;
  f(*nl);
}

}  // namespace routelet::testing
