// What the agent learns from, and sets up in, its node's own network namespace.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"

namespace routelet::node {

struct HostFacts {
  // Subnets directly attached to this node (its interfaces' address prefixes), except the
  // pod bridge's and routelet's VXLAN devices': a peer whose node IP is inside one is reachable
  // without a router, which is what a `podCIDR via nodeIP` route needs.
  std::vector<ip::Prefix> onLink;
  // MTU of the interface holding each node IP (0 when no interface holds it).
  uint32_t nodeIPMtu = 0;
  std::string nodeIPInterface;
  int nodeIPIndex = 0;
  // The MTU pods' packets leave the node with: the node IP's interface's, else 1500.
  uint32_t underlayMtu() const { return nodeIPMtu ? nodeIPMtu : 1500; }
};

// Pure: facts from the links and addresses of the namespace. Link-local and loopback
// addresses are left out: a peer is never reached through them.
HostFacts hostFactsFrom(const std::vector<netlink::Link>& links,
                        const std::vector<netlink::AddressEntry>& addresses,
                        const std::vector<ip::Address>& nodeIPs, const std::string& bridge);

// Reads links and addresses through `nl` and calls hostFactsFrom.
Result<HostFacts> inspectHost(netlink::Handle& nl, const std::vector<ip::Address>& nodeIPs,
                              const std::string& bridge);

// True when `a` is inside one of the prefixes.
bool isOnLink(const std::vector<ip::Prefix>& onLink, const ip::Address& a);

}  // namespace routelet::node
