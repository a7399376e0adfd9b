#include "controller/agent/kernel_host.h"

#include <linux/netfilter.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "cni/config/net_conf.h"
#include "common/base/log.h"
#include "common/bridge/bridge.h"
#include "common/fs/files.h"
#include "common/netlink/message.h"
#include "common/sysctl/sysctl.h"
#include "controller/agent/plugin_probe.h"

namespace routelet::agent {

Result<HostFacts> KernelHost::inspect(const std::vector<ip::Address>& nodeIPs,
                                      const std::string& bridge) {
  return inspectHost(nl_, nodeIPs, bridge);
}

Status KernelHost::ensureBridge(const std::string& bridge, uint32_t mtu,
                                const std::vector<ip::Prefix>& gateways) {
  bridge::Spec spec{bridge, cni::config::bridgeMacFor(bridge), mtu, gateways};
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

Status KernelHost::enableForwarding(bool v4, bool v6) {
  // Pods on other nodes are reached by forwarding through this node: without it the
  // kernel drops every packet that is not for the node itself.
  if (v4) {
    if (auto st = sysctl::set("net.ipv4.ip_forward", "1"); !st) return st;
  }
  if (v6) {
    if (auto st = sysctl::set("net.ipv6.conf.all.forwarding", "1"); !st) return st;
  }
  return okStatus();
}

Result<bool> KernelHost::writeIfChanged(const std::string& path, const std::string& content) {
  auto current = fs::readFile(path);
  if (current && *current == content) return false;
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    if (auto st = fs::makeDirs(path.substr(0, slash)); !st) return st.error();
  }
  if (auto st = fs::writeAtomic(path, content); !st) return st.error();
  return true;
}

bool KernelHost::fileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> KernelHost::pluginVersions(const std::string& path) {
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

}  // namespace routelet::agent

namespace routelet::agent {

Status KernelHost::nft(const std::string& script) {
  // A context of its own each time: libnftables keeps what it read of the ruleset in its
  // context, and the agent has no use for that between two rare scripts.
  auto nft = Nftables::open();
  if (!nft) return nft.error();
  return nft->run(script);
}

Result<uint32_t> KernelHost::nftPortId() {
  if (!netfilter_) {
    auto opened = netlink::Handle::openNetfilter();
    if (!opened) return opened.error();
    netfilter_ = std::move(*opened);
  }
  return netfilter_->portId();
}

Status KernelHost::nftElements(const std::vector<reconcile::SetChange>& changes) {
  if (auto port = nftPortId(); !port) return port.error();
  std::vector<netlink::Request> requests;
  for (const auto& c : changes) {
    for (std::size_t at = 0; at < c.keys.size(); at += netlink::kNftElementsPerMessage) {
      std::size_t n = std::min(netlink::kNftElementsPerMessage, c.keys.size() - at);
      std::span<const ip::Address> keys(c.keys.data() + at, n);
      requests.push_back({(c.add ? "add " : "delete ") + std::to_string(n) + " elements " +
                              (c.add ? "to" : "from") + " set " + reconcile::masqueradeTableName() +
                              " " + c.set,
                          [&c, keys](uint32_t seq) {
                            return netlink::buildNftSetElements(
                                seq, c.add, NFPROTO_INET, reconcile::kMasqueradeTable, c.set, keys);
                          }});
    }
  }
  return netfilter_->transaction(requests);
}

Status KernelHost::enableBridgeNetfilter() {
  // Per network namespace, and present only where br_netfilter is loaded (or built in).
  for (const char* key :
       {"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"}) {
    if (auto st = sysctl::set(key, "1"); !st) {
      if (st.error().code == ENOENT)
        return makeError(std::string(key) +
                             " does not exist: the br_netfilter module is not "
                             "loaded (modprobe br_netfilter on the node)",
                         ENOENT);
      return st;
    }
  }
  return okStatus();
}

}  // namespace routelet::agent
