// A test network namespace with a netlink Handle bound inside it, for real-kernel tests
// of code that talks netlink (the test links routelet_netlink).
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "tests/support/netns_fixture.h"

namespace routelet::testing {

struct NetlinkSpace {
  explicit NetlinkSpace(const std::string& tag) : ns(tag) {
    auto f = netns::Fd::open(ns.path());
    EXPECT_TRUE(f.ok()) << f.error().message;
    if (!f.ok()) return;
    fd.emplace(std::move(*f));
    auto h = netlink::Handle::openIn(fd->get());
    EXPECT_TRUE(h.ok()) << h.error().message;
    if (h.ok()) handle.emplace(std::move(*h));
  }
  bool ok() const { return ns.ok() && handle.has_value(); }
  int index(const std::string& name) {
    auto l = handle->linkByName(name);
    EXPECT_TRUE(l.ok()) << l.error().message;
    return l.ok() ? l->index : 0;
  }

  TestNetns ns;
  std::optional<netns::Fd> fd;
  std::optional<netlink::Handle> handle;
};

}  // namespace routelet::testing
