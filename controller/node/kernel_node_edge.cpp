#include "controller/node/kernel_node_edge.h"

#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>

#include "common/base/log.h"
#include "common/bridge/bridge.h"
#include "common/fs/files.h"
#include "common/sysctl/sysctl.h"
#include "controller/node/plugin_probe.h"

namespace routelet::node {

Result<HostFacts> KernelNodeEdge::inspect(const std::vector<ip::Address>& nodeIPs,
                                          const std::string& bridge) {
  return inspectHost(nl_, nodeIPs, bridge);
}

Status KernelNodeEdge::ensureBridge(const std::string& bridge, uint32_t mtu,
                                    const std::vector<ip::Prefix>& gateways) {
  bridge::Spec spec{bridge, bridge::bridgeMacFor(bridge), mtu, gateways, procSys_};
  auto link = bridge::ensure(nl_, spec);
  if (!link) return link.error();
  auto removed = bridge::pruneGateways(nl_, *link, gateways);
  if (!removed) return removed.error().wrap("remove old gateway addresses from " + bridge);
  for (const auto& p : *removed)
    log::info("removed " + p.str() + " from bridge " + bridge +
              ": no podCIDR of this node holds it");
  // A new bridge (first pass, or made again after someone deleted it): pods that were on
  // the old one get their ports back, so they are reachable again, not only new pods.
  if (link->index != bridgeIndex_) {
    auto n = bridge::reattachPorts(nl_, *link);
    if (!n) return n.error().wrap("re-attach pod ports to " + bridge);
    if (*n > 0) log::info("re-attached " + std::to_string(*n) + " pod ports to bridge " + bridge);
    bridgeIndex_ = link->index;
  }
  return okStatus();
}

Status KernelNodeEdge::setSysctl(const std::string& key, const std::string& value) {
  return sysctl::set(key, value, procSys_);
}

Result<std::vector<ip::Address>> KernelNodeEdge::gateways() {
  auto routes = nl_.routes(std::nullopt, std::nullopt, RT_TABLE_MAIN);
  if (!routes) return routes.error().wrap("list the main table's routes");
  std::vector<ip::Address> out;
  for (const auto& r : *routes)
    if (r.dst.length() == 0 && r.gateway) out.push_back(*r.gateway);
  return out;
}

Result<bool> KernelNodeEdge::writeIfChanged(const std::string& path, const std::string& content) {
  return fs::writeIfChanged(path, content);
}

Result<std::vector<std::string>> KernelNodeEdge::pluginVersions(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return makeError(path + ": " + std::strerror(errno), errno);
  auto it = probed_.find(path);
  if (it != probed_.end() && it->second.inode == st.st_ino && it->second.size == st.st_size &&
      it->second.mtime.tv_sec == st.st_mtim.tv_sec &&
      it->second.mtime.tv_nsec == st.st_mtim.tv_nsec)
    return it->second.versions;
  Probed fresh{st.st_ino, st.st_size, st.st_mtim, probePluginVersions(path)};
  return probed_.insert_or_assign(path, std::move(fresh)).first->second.versions;
}

}  // namespace routelet::node
