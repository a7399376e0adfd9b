#include "controller/node/local_setup.h"

#include <algorithm>

#include "controller/routes/desired.h"
#include "controller/routes/routes_config.h"
#include "controller/routes/vxlan.h"

namespace routelet::node {

OwnNodeIPs ownNodeIPs(const model::Node& own, const model::NodeCache& nodes,
                      const config::Options& options) {
  OwnNodeIPs out;
  routes::SelfInfo choosing;
  choosing.name = own.name;
  choosing.clusterCIDRs = options.clusterCIDRs;
  for (const auto& cidr : own.podCIDRs) {
    std::optional<ip::Address> chosen;
    for (const auto& a : options.nodeIPs)
      if (a.family() == cidr.family()) chosen = a;
    if (!chosen) chosen = routes::chooseNodeIP(own, cidr.family(), nodes, choosing);
    if (chosen)
      out.nodeIPs.push_back(*chosen);
    else
      out.missing.push_back(cidr.family());
  }
  return out;
}

std::optional<std::string> ownPodCIDRRefused(const model::Node& own,
                                             const std::vector<ip::Address>& nodeIPs,
                                             const HostFacts& facts,
                                             const std::vector<ip::Address>& gateways,
                                             const config::Options& options) {
  agent::LocalNode local{own.name, own.podCIDRs, nodeIPs, facts.onLink};
  routes::SelfInfo self = routes::selfInfo(local, config::routesConfig(options));
  std::vector<ip::Address> held = gateways;
  for (const auto* ips : {&own.internalIPs, &own.externalIPs})
    held.insert(held.end(), ips->begin(), ips->end());
  for (const auto& cidr : own.podCIDRs) {
    ip::Prefix net = cidr.network();
    if (auto why = routes::unsafePodCIDR(net, self))
      return "spec.podCIDRs " + net.str() + " " + *why;
    for (const auto& a : held) {
      if (!net.contains(a)) continue;
      bool gateway = std::find(gateways.begin(), gateways.end(), a) != gateways.end();
      return "spec.podCIDRs " + net.str() + " holds " +
             (gateway ? "this node's default gateway " : "this node's address ") + a.str();
    }
  }
  return std::nullopt;
}

LocalSetup localSetup(const model::Node& own, const std::vector<ip::Address>& nodeIPs,
                      const HostFacts& facts, const config::Options& options) {
  LocalSetup s;
  s.local.name = own.name;
  s.local.podCIDRs = own.podCIDRs;
  s.local.nodeIPs = nodeIPs;
  s.local.onLink = facts.onLink;
  s.local.underlayMtu = facts.underlayMtu();
  s.local.nodeIPIndex = facts.nodeIPIndex;
  uint32_t overhead = 0;
  if (options.mode != routes::Mode::kHostGw)
    for (const auto& cidr : own.podCIDRs)
      overhead = std::max(overhead, routes::vxlanOverhead(cidr.family()));
  s.mtu = options.mtu ? options.mtu : facts.underlayMtu() - overhead;
  for (const auto& cidr : own.podCIDRs) {
    s.gateways.push_back(ip::Prefix::make(gatewayOf(cidr), cidr.length()));
    (cidr.family() == ip::Family::kV4 ? s.forwardV4 : s.forwardV6) = true;
  }
  s.conflist = {options.bridge, s.mtu, options.ipamDataDir, own.podCIDRs,
                false,          true,  options.hairpin};
  return s;
}

}  // namespace routelet::node
