#include "common/bridge/bridge.h"

#include <cerrno>

#include "common/sysctl/sysctl.h"

namespace routelet::bridge {

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
  bool v6 = false;
  if (!spec.gateways.empty()) {
    auto present = nl.addresses(link->index);
    if (!present) return present.error();
    for (const auto& gw : spec.gateways) {
      v6 = v6 || !gw.address().isV4();
      bool have = false;
      for (const auto& a : *present) have = have || a.prefix == gw;
      if (have) continue;
      Status st = nl.addAddress(link->index, gw, /*nodad=*/true);
      if (!st && st.error().code != EEXIST) return st.error();
    }
  }
  if (v6) {
    // The bridge is a router for its pods; it must not configure itself from RAs.
    if (auto st = sysctl::set("net.ipv6.conf." + spec.name + ".accept_ra", "0"); !st)
      return st.error();
  }
  if (!link->up) {
    if (auto st = nl.setUp(link->index); !st) return st.error();
    link->up = true;
  }
  return link;
}

bool isPodPortName(std::string_view name) {
  constexpr std::string_view kPrefix = "rl";
  constexpr size_t kHexDigits = 10;
  if (name.size() != kPrefix.size() + kHexDigits || !name.starts_with(kPrefix)) return false;
  for (char c : name.substr(kPrefix.size()))
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
