// This node's setup from its own Node: pure functions of the own Node, the agent's
// options and the facts of the node's interfaces. The controller (node_controller.h)
// gathers the facts and applies what these say.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip/address.h"
#include "controller/agent/pass.h"
#include "controller/config/options.h"
#include "controller/model/node.h"
#include "controller/model/node_cache.h"
#include "controller/node/cni_config.h"
#include "controller/node/host_network.h"

namespace routelet::node {

// The own node IP of each podCIDR's family: the --node-ip of the family, else the first
// usable InternalIP, else ExternalIP, of the own Node (routes::chooseNodeIP). missing: the
// families of a podCIDR with neither.
struct OwnNodeIPs {
  std::vector<ip::Address> nodeIPs;
  std::vector<ip::Family> missing;
};
OwnNodeIPs ownNodeIPs(const model::Node& own, const model::NodeCache& nodes,
                      const config::Options& options);

struct LocalSetup {
  agent::LocalNode local;
  uint32_t mtu = 0;                  // the bridge's and the pods'
  std::vector<ip::Prefix> gateways;  // the bridge's addresses: each podCIDR's first address
  bool forwardV4 = false, forwardV6 = false;
  CniConfigInputs conflist;  // portmap and offerNewest are the controller's to decide
};

// Why this node's own podCIDRs must not be set up, or nullopt when they may. The own Node
// is checked exactly like a peer (routes::unsafePodCIDR: the bounds, the cluster CIDRs, the
// reserved ranges, the node's subnets, its node IPs), and more: a podCIDR holding any
// address the Node lists or a gateway of the node's default routes would put that address
// on the bridge, and the node would answer for its own gateway (ARP answered twice) or
// route half the Internet into cni0. gateways: the default routes' (NodeEdge::gateways).
std::optional<std::string> ownPodCIDRRefused(const model::Node& own,
                                             const std::vector<ip::Address>& nodeIPs,
                                             const HostFacts& facts,
                                             const std::vector<ip::Address>& gateways,
                                             const config::Options& options);

// Over VXLAN a packet carries the outer headers too: pods get an MTU that fits the underlay
// whatever path it takes, so they never fragment (nor depend on ICMP "too big").
LocalSetup localSetup(const model::Node& own, const std::vector<ip::Address>& nodeIPs,
                      const HostFacts& facts, const config::Options& options);

}  // namespace routelet::node
