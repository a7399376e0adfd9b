// The kernel's own cost of an ADD's requests and of tearing down one pod's veth pair: the
// floors under any CNI ADD (with an exec) and DEL.
#pragma once

#include <vector>

#include "common/base/result.h"
#include "common/netlink/netlink.h"
#include "tests/bench/cni/bench_netns.h"

namespace routelet::bench::cni {

class VethFloor {
 public:
  // Builds `count` pods before any DEL is timed, each as routelet-cni's ADD does in the
  // kernel: host end up on a bridge in a fresh node namespace, peer "eth0" up with an
  // address and a default route in its own pod namespace. `interrupted` is polled between
  // pods so a signal stops a long setup.
  static Result<VethFloor> prepare(NetnsSet& namespaces, int count, bool (*interrupted)());

  // How long each pod's kernel requests took, in ms: an ADD's kernel share.
  const std::vector<double>& addMs() const { return addMs_; }

  // Times one RTM_DELLINK of pair `index`'s host end (the kernel removes both ends), in ms.
  Result<double> deleteOne(int index);

 private:
  explicit VethFloor(netlink::Handle node) : node_(std::move(node)) {}
  netlink::Handle node_;
  std::vector<double> addMs_;
};

}  // namespace routelet::bench::cni
