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
#include "controller/node/plugin_probe.h"

namespace routelet::agent {

Result<HostFacts> KernelHost::inspect(const std::vector<ip::Address>& nodeIPs,
                                      const std::string& bridge) {
  return node::inspectHost(nl_, nodeIPs, bridge);
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

Result<int> KernelHost::ensureVxlan(const netlink::VxlanSpec& spec, const ip::Prefix& address) {
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

Status KernelHost::removeLink(const std::string& name) {
  auto st = nl_.deleteLinkByName(name);
  if (!st && st.error().code != ENODEV) return st.error().wrap("delete " + name);
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
  Probed fresh{st.st_ino, st.st_size, st.st_mtim, node::probePluginVersions(path)};
  return probed_.insert_or_assign(path, std::move(fresh)).first->second.versions;
}

}  // namespace routelet::agent

namespace routelet::agent {

Status KernelHost::nft(const std::string& script) {
  // A context of its own each time: libnftables keeps what it read of the ruleset in its
  // context, and the agent has no use for that between two rare scripts.
  auto nft = masquerade::Nftables::open();
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

Status KernelHost::nftElements(const std::vector<masquerade::SetChange>& changes) {
  if (auto port = nftPortId(); !port) return port.error();
  std::vector<netlink::Request> requests;
  for (const auto& c : changes) {
    for (std::size_t at = 0; at < c.keys.size(); at += netlink::kNftElementsPerMessage) {
      std::size_t n = std::min(netlink::kNftElementsPerMessage, c.keys.size() - at);
      std::span<const ip::Address> keys(c.keys.data() + at, n);
      requests.push_back(
          {(c.add ? "add " : "delete ") + std::to_string(n) + " elements " +
               (c.add ? "to" : "from") + " set " + masquerade::masqueradeTableName() + " " + c.set,
           [&c, keys](uint32_t seq) {
             return netlink::buildNftSetElements(seq, c.add, NFPROTO_INET,
                                                 masquerade::kMasqueradeTable, c.set, keys);
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
