#include "common/bridge/bridge.h"

#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>

#include "common/netlink/message.h"
#include "common/sysctl/sysctl.h"

namespace routelet::bridge {

netlink::Mac bridgeMacFor(std::string_view bridge) {
  return netlink::derivedMac(std::string("routelet-bridge/") + std::string(bridge));
}

Result<netlink::Link> ensure(netlink::Handle& nl, const Spec& spec) {
  auto link = nl.linkByName(spec.name);
  if (!link && link.error().code == ENODEV) {
    Status st = nl.createBridge(spec.name, spec.mac, spec.mtu);
    if (!st && st.error().code != EEXIST) return st.error();
    link = nl.linkByName(spec.name);
  }
  if (!link) return link.error();
  if (link->kind != "bridge") {
    return makeError("link " + spec.name + " exists but is a " +
                         (link->kind.empty() ? std::string("device") : link->kind) +
                         ", not a bridge: remove it or configure another bridge name",
                     EEXIST);
  }
  if (link->mac != spec.mac) {
    if (auto st = nl.setMac(link->index, spec.mac); !st) return st.error();
    link->mac = spec.mac;
  }
  if (link->mtu != spec.mtu) {
    if (auto st = nl.setMtu(link->index, spec.mtu); !st) return st.error();
    link->mtu = spec.mtu;
  }
  // Every gateway is added in one batch without listing the bridge's addresses first: the
  // kernel refuses an address the link already has with EEXIST and changes nothing
  // (NLM_F_EXCL; __inet_insert_ifa and inet6_rtm_newaddr check before they insert), which
  // is the same answer a dump would give, one round trip sooner, on every ADD.
  bool v6 = false;
  std::vector<netlink::Request> adds;
  for (const auto& gw : spec.gateways) {
    v6 = v6 || !gw.address().isV4();
    adds.push_back({"add address " + gw.str() + " to " + spec.name, [&gw, &link](uint32_t s) {
                      return netlink::buildNewAddress(s, link->index, gw, /*nodad=*/true);
                    }});
  }
  if (!adds.empty()) {
    auto added = nl.batch(adds);
    if (!added) return added.error();
    for (const auto& st : *added)
      if (!st && st.error().code != EEXIST) return st.error();
  }
  if (v6) {
    // The bridge is a router for its pods; it must not configure itself from RAs.
    if (auto st = sysctl::set("net.ipv6.conf." + spec.name + ".accept_ra", "0", spec.procSys); !st)
      return st.error();
  }
  if (!link->up) {
    if (auto st = nl.setUp(link->index); !st) return st.error();
    link->up = true;
  }
  return link;
}

Result<std::vector<ip::Prefix>> pruneGateways(netlink::Handle& nl, const netlink::Link& bridge,
                                              const std::vector<ip::Prefix>& keep) {
  auto addresses = nl.addresses(bridge.index);
  if (!addresses) return addresses.error();
  std::vector<ip::Prefix> removed;
  for (const auto& a : *addresses) {
    bool gateway = a.scope == RT_SCOPE_UNIVERSE && a.prefix.address() == a.prefix.network().nth(1);
    if (!gateway || std::find(keep.begin(), keep.end(), a.prefix) != keep.end()) continue;
    auto st = nl.deleteAddress(bridge.index, a.prefix);
    if (!st && st.error().code != EADDRNOTAVAIL) return st.error();
    removed.push_back(a.prefix);
  }
  return removed;
}

bool isPodPortName(std::string_view name) {
  if (name.size() != kPodPortPrefix.size() + kPodPortHexDigits || !name.starts_with(kPodPortPrefix))
    return false;
  for (char c : name.substr(kPodPortPrefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<int> reattachPorts(netlink::Handle& nl, const netlink::Link& bridge) {
  auto links = nl.links();
  if (!links) return links.error();
  int attached = 0;
  for (const auto& l : *links) {
    if (l.master != 0 || l.kind != "veth" || !isPodPortName(l.name)) continue;
    if (auto st = nl.setMaster(l.index, bridge.index); !st) return st.error();
    ++attached;
  }
  return attached;
}

}  // namespace routelet::bridge
