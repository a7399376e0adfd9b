// A TunnelEdge for unit tests: the devices it was asked for, by name.
#pragma once

#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "controller/routes/tunnel_edge.h"

namespace routelet::routes {

class FakeTunnelEdge : public TunnelEdge {
 public:
  Result<int> ensureVxlan(const netlink::VxlanSpec& spec, const ip::Prefix& address) override {
    if (!vxlanError.empty()) return makeError(vxlanError, EOPNOTSUPP);
    vxlans[spec.name] = {spec, address};
    return spec.name == "routelet.vxlan" ? 7 : 8;
  }
  Status removeLink(const std::string& name) override {
    vxlans.erase(name);
    removed.push_back(name);
    return okStatus();
  }

  std::map<std::string, std::pair<netlink::VxlanSpec, ip::Prefix>> vxlans;  // by name
  std::vector<std::string> removed;  // links removed, in order
  std::string vxlanError;            // set: ensureVxlan fails with it
};

}  // namespace routelet::routes
