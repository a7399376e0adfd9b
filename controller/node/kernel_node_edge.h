// The real NodeEdge: this node's namespace through netlink and /proc/sys, and the files.
#pragma once

#include <sys/stat.h>

#include <map>

#include "common/netlink/netlink.h"
#include "controller/node/node_edge.h"

namespace routelet::node {

class KernelNodeEdge : public NodeEdge {
 public:
  // procSys: where this node's /proc/sys is (Options::procSys).
  KernelNodeEdge(netlink::Handle& nl, std::string procSys)
      : nl_(nl), procSys_(std::move(procSys)) {}
  Result<HostFacts> inspect(const std::vector<ip::Address>& nodeIPs,
                            const std::string& bridge) override;
  Status ensureBridge(const std::string& bridge, uint32_t mtu,
                      const std::vector<ip::Prefix>& gateways) override;
  Status setSysctl(const std::string& key, const std::string& value) override;
  Result<std::vector<ip::Address>> gateways() override;
  Result<bool> writeIfChanged(const std::string& path, const std::string& content) override;
  // Runs the plugin only when its file changed since the last answer.
  Result<std::vector<std::string>> pluginVersions(const std::string& path) override;

 private:
  struct Probed {
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    Result<std::vector<std::string>> versions = std::vector<std::string>{};
  };
  netlink::Handle& nl_;
  std::string procSys_;
  std::map<std::string, Probed> probed_;
  int bridgeIndex_ = 0;  // the bridge's ifindex when last ensured: a change means a new bridge
};

}  // namespace routelet::node
