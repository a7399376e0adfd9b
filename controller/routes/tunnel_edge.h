// The VXLAN devices peers behind a router are reached through (routelet.vxlan,
// routelet.vxlan6). One real implementation over netlink (kernel_tunnel_edge.h) and a
// fake (fake_tunnel_edge.h).
#pragma once

#include <string>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"

namespace routelet::routes {

class TunnelEdge {
 public:
  virtual ~TunnelEdge() = default;
  // The VXLAN device as spec says (made, or made again when its VNI, port, underlay source
  // or device differ; MTU and MAC corrected; up), holding `address` and no other; returns
  // its ifindex.
  virtual Result<int> ensureVxlan(const netlink::VxlanSpec& spec, const ip::Prefix& address) = 0;
  // Deletes the link if it is there (its routes and entries go with it).
  virtual Status removeLink(const std::string& name) = 0;
};

}  // namespace routelet::routes
