// The real Dataplane: rtnetlink through routelet_netlink, one socket per namespace (the
// node's, where the plugin runs, and the pod's), and one setns into the pod netns for the
// sysctl that netlink cannot set.
#pragma once

#include "cni/plugin/dataplane.h"

namespace routelet::cni::plugin {

class NetlinkDataplane : public Dataplane {
 public:
  Result<Attached> attach(const AttachSpec& spec) override;
  Status detach(const std::string& hostVeth) override;
  Result<PodView> inspect(const std::string& netnsPath, const std::string& ifname,
                          const std::string& hostVeth, const std::string& bridge) override;
  Result<std::vector<std::string>> bridgePorts(const std::string& bridge) override;
};

}  // namespace routelet::cni::plugin
