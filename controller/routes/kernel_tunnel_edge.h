// The real TunnelEdge: VXLAN devices through rtnetlink in the node's namespace.
#pragma once

#include "common/netlink/netlink.h"
#include "controller/routes/tunnel_edge.h"

namespace routelet::routes {

class KernelTunnelEdge : public TunnelEdge {
 public:
  explicit KernelTunnelEdge(netlink::Handle& nl) : nl_(nl) {}
  Result<int> ensureVxlan(const netlink::VxlanSpec& spec, const ip::Prefix& address) override;
  Status removeLink(const std::string& name) override;

 private:
  netlink::Handle& nl_;
};

}  // namespace routelet::routes
