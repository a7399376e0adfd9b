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
                         ", not a bridge",
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

}  // namespace routelet::bridge
