// Named network namespaces for one benchmark run: /run/netns/<prefix>-<n>, the layout
// `ip netns` uses, so CNI_NETNS is a path as a runtime passes it and a human can look
// inside with `ip -n`. All of them go away when the set is destroyed.
#pragma once

#include <string>
#include <vector>

#include "common/base/result.h"

namespace routelet::bench::cni {

class NetnsSet {
 public:
  explicit NetnsSet(std::string prefix) : prefix_(std::move(prefix)) {}
  ~NetnsSet() { removeAll(); }
  NetnsSet(const NetnsSet&) = delete;
  NetnsSet& operator=(const NetnsSet&) = delete;

  // A new empty namespace; returns its path. Done in-process (unshare + bind mount, as
  // `ip netns add` does) because a run needs hundreds and none of this is timed.
  Result<std::string> create();
  // Unmounts and unlinks every namespace made here. The kernel frees a namespace, and
  // every link in it (veth peers outside included), once nothing holds it any more.
  void removeAll();

 private:
  std::string prefix_;
  int next_ = 0;
  std::vector<std::string> paths_;
};

}  // namespace routelet::bench::cni
