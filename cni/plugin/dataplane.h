// The kernel effects of routelet-cni behind one small interface: the command logic in
// commands.cpp is unit-tested against a stateful fake, the netlink implementation
// (netlink_dataplane.cpp) against the real kernel by the kernel tests.
//
// Errors carry a CNI error code in Error::code: kCodeUnknownContainer when the netns cannot
// be opened, kCodeIfnameExists when CNI_IFNAME is taken, kCodeKernel otherwise.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cni/config/net_conf.h"
#include "common/base/result.h"
#include "common/ip/address.h"

namespace routelet::cni::plugin {

struct AttachSpec {
  std::string netnsPath;
  // The node's bridge, created with these when missing.
  std::string bridge;
  config::MacBytes bridgeMac{};
  std::vector<ip::Prefix> bridgeAddresses;  // gateway/prefix-length, one per range
  uint32_t mtu = 0;
  std::string hostVeth;
  config::MacBytes hostMac{};
  std::string ifname;  // the pod end is created under this name, in the pod netns
  config::MacBytes podMac{};
  std::vector<ip::Prefix> podAddresses;
  std::vector<ip::Address> gateways;  // one default route per family via each
  bool hairpin = true;                // the host veth's bridge port in hairpin mode
};

struct Attached {
  config::MacBytes bridgeMac{};  // the bridge's actual MAC (the agent may have made it)
};

// What CHECK compares against the ADD result.
struct PodView {
  bool podLinkFound = false;
  config::MacBytes podMac{};
  bool podUp = false;
  std::vector<ip::Prefix> podAddresses;
  struct Route {
    ip::Prefix dst;
    std::optional<ip::Address> gw;
  };
  std::vector<Route> podRoutes;  // routes through the pod interface
  bool hostLinkFound = false;
  bool hostOnBridge = false;
  bool hostUp = false;
};

class Dataplane {
 public:
  virtual ~Dataplane() = default;
  // Everything ADD does in the kernel, all or nothing: on failure it removes what it made.
  virtual Result<Attached> attach(const AttachSpec& spec) = 0;
  // Removes the host veth (its pod end goes with it). Succeeds when it is already gone.
  virtual Status detach(const std::string& hostVeth) = 0;
  virtual Result<PodView> inspect(const std::string& netnsPath, const std::string& ifname,
                                  const std::string& hostVeth, const std::string& bridge) = 0;
  // Names of the links enslaved to the bridge (none when the bridge does not exist).
  virtual Result<std::vector<std::string>> bridgePorts(const std::string& bridge) = 0;
};

}  // namespace routelet::cni::plugin
