#include "controller/routes/kernel_tunnel_edge.h"

#include <cerrno>

#include "common/base/log.h"

namespace routelet::routes {

Result<int> KernelTunnelEdge::ensureVxlan(const netlink::VxlanSpec& spec,
                                          const ip::Prefix& address) {
  netlink::VxlanInfo want = spec.info;
  want.learning = false;
  auto link = nl_.linkByName(spec.name);
  if (link && (link->kind != "vxlan" || !link->vxlan || !(*link->vxlan == want))) {
    // The VNI, port and source are fixed at creation: a node IP that moved, or new settings,
    // need a new device. Its routes and entries go with the old one; this pass puts them back.
    log::info("re-creating " + spec.name + ": its VXLAN settings differ from routelet's");
    if (auto st = nl_.deleteLink(link->index); !st && st.error().code != ENODEV)
      return st.error().wrap("delete " + spec.name);
    link = makeError("re-created", ENODEV);
  }
  if (!link) {
    if (link.error().code != ENODEV) return link.error().wrap("look up " + spec.name);
    netlink::VxlanSpec create = spec;
    create.info = want;
    if (auto st = nl_.createVxlan(create); !st) return st.error().wrap("create " + spec.name);
    link = nl_.linkByName(spec.name);
    if (!link) return link.error().wrap("look up " + spec.name);
  }
  if (link->mtu != spec.mtu && spec.mtu != 0) {
    if (auto st = nl_.setMtu(link->index, spec.mtu); !st)
      return st.error().wrap("set MTU of " + spec.name);
  }
  if (link->mac != spec.mac) {
    if (auto st = nl_.setMac(link->index, spec.mac); !st)
      return st.error().wrap("set MAC of " + spec.name);
  }
  auto addresses = nl_.addresses(link->index);
  if (!addresses) return addresses.error().wrap("list addresses of " + spec.name);
  bool present = false;
  for (const auto& a : *addresses) {
    if (a.index != link->index) continue;
    if (a.prefix == address) {
      present = true;
    } else if (a.prefix.family() == address.family() && a.scope == 0) {
      // An old VTEP address (the podCIDR changed): a peer's traffic no longer comes to it.
      if (auto st = nl_.deleteAddress(link->index, a.prefix); !st)
        return st.error().wrap("remove " + a.prefix.str() + " from " + spec.name);
    }
  }
  if (!present) {
    if (auto st = nl_.addAddress(link->index, address, true); !st && st.error().code != EEXIST)
      return st.error().wrap("add " + address.str() + " to " + spec.name);
  }
  if (!link->up) {
    if (auto st = nl_.setUp(link->index); !st) return st.error().wrap("bring up " + spec.name);
  }
  return link->index;
}

Status KernelTunnelEdge::removeLink(const std::string& name) {
  auto st = nl_.deleteLinkByName(name);
  if (!st && st.error().code != ENODEV) return st.error().wrap("delete " + name);
  return okStatus();
}

}  // namespace routelet::routes
