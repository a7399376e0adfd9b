// The kernel's own cost of tearing down one pod's veth pair: the floor under any CNI DEL.
#pragma once

#include <vector>

#include "common/base/result.h"
#include "common/netlink/netlink.h"
#include "tests/bench/cni/bench_netns.h"

namespace routelet::bench::cni {

class VethFloor {
 public:
  // Builds `count` pod-like veth pairs before any clock starts: host end up on a bridge
  // in a fresh node namespace, peer "eth0" up with an address in its own pod namespace.
  // `interrupted` is polled between pairs so a signal stops a long setup.
  static Result<VethFloor> prepare(NetnsSet& namespaces, int count, bool (*interrupted)());

  // How long each pair's creation took (one RTM_NEWLINK with the peer placed in its pod
  // namespace), in ms: the kernel's share of a CNI ADD, for context.
  const std::vector<double>& createMs() const { return createMs_; }

  // Times one RTM_DELLINK of pair `index`'s host end (the kernel removes both ends), in ms.
  Result<double> deleteOne(int index);

 private:
  explicit VethFloor(netlink::Handle node) : node_(std::move(node)) {}
  netlink::Handle node_;
  std::vector<double> createMs_;
};

}  // namespace routelet::bench::cni
