// What node setup does to this node's network namespace and filesystem. One real
// implementation (kernel_node_edge.h) and a stateful fake (fake_node_edge.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "controller/node/host_network.h"

namespace routelet::node {

class NodeEdge {
 public:
  virtual ~NodeEdge() = default;
  virtual Result<HostFacts> inspect(const std::vector<ip::Address>& nodeIPs,
                                    const std::string& bridge) = 0;
  // The bridge present, with its fixed MAC, MTU and every gateway address (no other), up.
  virtual Status ensureBridge(const std::string& bridge, uint32_t mtu,
                              const std::vector<ip::Prefix>& gateways) = 0;
  // A sysctl of this namespace ("net.ipv4.ip_forward"); ENOENT when it does not exist.
  virtual Status setSysctl(const std::string& key, const std::string& value) = 0;
  // Writes atomically when the content differs; returns whether it wrote.
  virtual Result<bool> writeIfChanged(const std::string& path, const std::string& content) = 0;
  // The gateways of the main table's default routes, both families: a node's own podCIDR
  // must never hold one (they are looked up only when the own podCIDR is checked).
  virtual Result<std::vector<ip::Address>> gateways() = 0;
  // The CNI versions the plugin at path speaks (its VERSION answer); ENOENT when there is
  // no such file.
  virtual Result<std::vector<std::string>> pluginVersions(const std::string& path) = 0;
};

}  // namespace routelet::node
