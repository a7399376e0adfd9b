#include "controller/node/host_network.h"

#include "controller/routes/vxlan.h"

namespace routelet::node {

HostFacts hostFactsFrom(const std::vector<netlink::Link>& links,
                        const std::vector<netlink::AddressEntry>& addresses,
                        const std::vector<ip::Address>& nodeIPs, const std::string& bridge) {
  HostFacts facts;
  auto linkOf = [&](int index) -> const netlink::Link* {
    for (const auto& l : links)
      if (l.index == index) return &l;
    return nullptr;
  };
  for (const auto& a : addresses) {
    const netlink::Link* link = linkOf(a.index);
    if (!link || link->name == bridge) continue;
    // A VTEP address is a host address on the overlay, not a subnet peers live in.
    if (link->name == routes::vxlanDeviceName(ip::Family::kV4) ||
        link->name == routes::vxlanDeviceName(ip::Family::kV6))
      continue;
    const ip::Address& addr = a.prefix.address();
    if (addr.isLoopback()) continue;
    if (!addr.isV4() && addr.bytes()[0] == 0xfe && (addr.bytes()[1] & 0xc0) == 0x80) continue;
    ip::Prefix net = a.prefix.network();
    bool known = false;
    for (const auto& p : facts.onLink) known = known || p == net;
    if (!known) facts.onLink.push_back(net);
    for (const auto& nodeIP : nodeIPs) {
      if (addr == nodeIP && facts.nodeIPInterface.empty()) {
        facts.nodeIPInterface = link->name;
        facts.nodeIPMtu = link->mtu;
        facts.nodeIPIndex = link->index;
      }
    }
  }
  return facts;
}

Result<HostFacts> inspectHost(netlink::Handle& nl, const std::vector<ip::Address>& nodeIPs,
                              const std::string& bridge) {
  auto links = nl.links();
  if (!links) return links.error().wrap("list links");
  auto addresses = nl.addresses();
  if (!addresses) return addresses.error().wrap("list addresses");
  return hostFactsFrom(*links, *addresses, nodeIPs, bridge);
}

bool isOnLink(const std::vector<ip::Prefix>& onLink, const ip::Address& a) {
  for (const auto& p : onLink)
    if (p.contains(a)) return true;
  return false;
}

}  // namespace routelet::node
