// The real HostEdge: this node's namespace through netlink, /proc/sys and the filesystem.
#pragma once

#include <sys/stat.h>

#include <map>
#include <optional>

#include "common/netlink/netlink.h"
#include "controller/agent/agent.h"
#include "controller/masquerade/nftables.h"

namespace routelet::agent {

class KernelHost : public HostEdge {
 public:
  explicit KernelHost(netlink::Handle& nl) : nl_(nl) {}
  Result<HostFacts> inspect(const std::vector<ip::Address>& nodeIPs,
                            const std::string& bridge) override;
  Status ensureBridge(const std::string& bridge, uint32_t mtu,
                      const std::vector<ip::Prefix>& gateways) override;
  Status enableForwarding(bool v4, bool v6) override;
  Result<bool> writeIfChanged(const std::string& path, const std::string& content) override;
  bool fileExists(const std::string& path) override;
  // Runs the plugin only when its file changed since the last answer.
  Result<std::vector<std::string>> pluginVersions(const std::string& path) override;
  Status nft(const std::string& script) override;
  Status nftElements(const std::vector<masquerade::SetChange>& changes) override;
  Result<uint32_t> nftPortId() override;
  Status enableBridgeNetfilter() override;
  Result<int> ensureVxlan(const netlink::VxlanSpec& spec, const ip::Prefix& address) override;
  Status removeLink(const std::string& name) override;

 private:
  struct Probed {
    ino_t inode = 0;
    off_t size = 0;
    timespec mtime{};
    Result<std::vector<std::string>> versions = std::vector<std::string>{};
  };
  netlink::Handle& nl_;
  std::optional<netlink::Handle> netfilter_;  // opened at the first element change
  std::map<std::string, Probed> probed_;
  int bridgeIndex_ = 0;  // the bridge's ifindex when last ensured: a change means a new bridge
};

}  // namespace routelet::agent
