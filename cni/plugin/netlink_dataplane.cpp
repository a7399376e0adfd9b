#include "cni/plugin/netlink_dataplane.h"

#include <cerrno>

#include "cni/config/codes.h"
#include "common/bridge/bridge.h"
#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "common/sysctl/sysctl.h"

namespace routelet::cni::plugin {
namespace {

// The kernel registers loopback first in every network namespace (LOOPBACK_IFINDEX).
constexpr int kLoopbackIndex = 1;
constexpr uint8_t kRtScopeLink = 253;  // RT_SCOPE_LINK

Error kernel(const Error& e, const std::string& context) {
  return makeError(context + ": " + e.message, kCodeKernel);
}

Result<netns::Fd> openPodNetns(const std::string& path) {
  auto fd = netns::Fd::open(path);
  if (!fd)
    return makeError("CNI_NETNS \"" + path + "\" cannot be used: " + fd.error().message,
                     kCodeUnknownContainer);
  return fd;
}

Result<netlink::Handle> openIn(const netns::Fd& ns, const std::string& path) {
  auto h = netlink::Handle::openIn(ns.get());
  if (!h) return kernel(h.error(), "open netlink in " + path);
  return h;
}

Result<netlink::Handle> openHere() {
  auto h = netlink::Handle::open();
  if (!h) return kernel(h.error(), "open netlink");
  return h;
}

// The bridge exists after this, up, with every gateway address: the same setup the agent
// does (common/bridge), since a pod may arrive before the agent has run.
Result<netlink::Link> ensureBridge(netlink::Handle& host, const AttachSpec& spec) {
  auto br = bridge::ensure(host, {spec.bridge, spec.bridgeMac, spec.mtu, spec.bridgeAddresses});
  if (!br) return kernel(br.error(), "bridge " + spec.bridge);
  return br;
}

// Pod side, in the pod netns. podIndex is the pod end's index there.
Status configurePod(netlink::Handle& pod, const netns::Fd& ns, const AttachSpec& spec,
                    int podIndex) {
  if (auto st = pod.rename(podIndex, spec.ifname); !st) {
    if (st.error().code == EEXIST)
      return makeError("CNI_IFNAME \"" + spec.ifname + "\" already exists in " + spec.netnsPath,
                       kCodeIfnameExists);
    return kernel(st.error(), "pod interface " + spec.ifname);
  }
  bool v6 = false;
  for (const auto& a : spec.podAddresses) v6 = v6 || a.family() == ip::Family::kV6;
  if (v6) {
    // Without this the link-local address (and any address without nodad) waits about a
    // second for duplicate address detection; /proc/sys/net resolves against the calling
    // thread's netns, so this one call runs inside the pod's.
    auto entered = netns::Enter::into(ns);
    if (!entered) return kernel(entered.error(), "enter " + spec.netnsPath);
    auto st = sysctl::set("net.ipv6.conf." + spec.ifname + ".accept_dad", "0");
    if (!st) return kernel(st.error(), "pod interface " + spec.ifname);
  }
  for (const auto& a : spec.podAddresses) {
    if (auto st = pod.addAddress(podIndex, a, a.family() == ip::Family::kV6); !st)
      return kernel(st.error(), "pod interface " + spec.ifname);
  }
  if (auto st = pod.setUp(podIndex); !st) return kernel(st.error(), "pod interface " + spec.ifname);
  if (auto st = pod.setUp(kLoopbackIndex); !st) return kernel(st.error(), "pod loopback");
  for (const auto& gw : spec.gateways) {
    netlink::Route r;
    r.dst = *ip::Prefix::parse(gw.isV4() ? "0.0.0.0/0" : "::/0");
    r.gateway = gw;
    r.oif = podIndex;
    if (auto st = pod.replaceRoute(r); !st)
      return kernel(st.error(), "default route via " + gw.str() + " in " + spec.netnsPath);
  }
  return okStatus();
}

Status createVeth(netlink::Handle& host, netlink::Handle& pod, const netns::Fd& ns,
                  const AttachSpec& spec) {
  auto create = [&] {
    return host.createVeth(spec.hostVeth, spec.hostMac, spec.tempName, spec.podMac, spec.mtu,
                           ns.get());
  };
  auto st = create();
  if (!st && st.error().code == EEXIST) {
    // A leftover of an ADD that died before cleaning up: the names are derived from this
    // attachment, whose lease was free a moment ago, so nothing live uses them.
    (void)host.deleteLinkByName(spec.hostVeth);
    (void)pod.deleteLinkByName(spec.tempName);
    st = create();
  }
  if (!st) return kernel(st.error(), "veth " + spec.hostVeth);
  return okStatus();
}

}  // namespace

Result<Attached> NetlinkDataplane::attach(const AttachSpec& spec) {
  auto ns = openPodNetns(spec.netnsPath);
  if (!ns) return ns.error();
  auto host = openHere();
  if (!host) return host.error();
  auto pod = openIn(*ns, spec.netnsPath);
  if (!pod) return pod.error();
  auto br = ensureBridge(*host, spec);
  if (!br) return br.error();
  if (auto st = createVeth(*host, *pod, *ns, spec); !st) return st.error();

  auto attached = [&]() -> Result<Attached> {
    auto hostLink = host->linkByName(spec.hostVeth);
    if (!hostLink) return kernel(hostLink.error(), "host veth " + spec.hostVeth);
    if (auto st = host->setMaster(hostLink->index, br->index); !st)
      return kernel(st.error(), "host veth " + spec.hostVeth + " onto " + spec.bridge);
    if (auto st = host->setUp(hostLink->index); !st)
      return kernel(st.error(), "host veth " + spec.hostVeth);
    auto podLink = pod->linkByName(spec.tempName);
    if (!podLink) return kernel(podLink.error(), "pod end " + spec.tempName);
    if (auto st = configurePod(*pod, *ns, spec, podLink->index); !st) return st.error();
    return Attached{br->mac};
  }();
  if (!attached) {
    // Deleting the host end deletes the pod end too (a veth pair dies together).
    if (auto st = host->deleteLinkByName(spec.hostVeth); !st && st.error().code != ENODEV)
      return makeError(attached.error().message + "; removing " + spec.hostVeth +
                           " failed too: " + st.error().message,
                       attached.error().code);
  }
  return attached;
}

Status NetlinkDataplane::detach(const std::string& hostVeth) {
  auto host = openHere();
  if (!host) return host.error();
  auto st = host->deleteLinkByName(hostVeth);
  if (!st && st.error().code != ENODEV) return kernel(st.error(), "host veth " + hostVeth);
  return okStatus();
}

Result<PodView> NetlinkDataplane::inspect(const std::string& netnsPath, const std::string& ifname,
                                          const std::string& hostVeth, const std::string& bridge) {
  PodView view;
  auto ns = openPodNetns(netnsPath);
  if (!ns) return ns.error();
  auto pod = openIn(*ns, netnsPath);
  if (!pod) return pod.error();
  auto podLink = pod->linkByName(ifname);
  if (podLink) {
    view.podLinkFound = true;
    view.podMac = podLink->mac;
    view.podUp = podLink->up;
    auto addrs = pod->addresses(podLink->index);
    if (!addrs) return kernel(addrs.error(), "addresses of " + ifname);
    for (const auto& a : *addrs) view.podAddresses.push_back(a.prefix);
    auto routes = pod->routes();
    if (!routes) return kernel(routes.error(), "routes in " + netnsPath);
    for (const auto& r : *routes)
      if (r.oif == podLink->index && r.scope != kRtScopeLink)
        view.podRoutes.push_back({r.dst, r.gateway});
  } else if (podLink.error().code != ENODEV) {
    return kernel(podLink.error(), "interface " + ifname);
  }
  auto host = openHere();
  if (!host) return host.error();
  auto hostLink = host->linkByName(hostVeth);
  if (hostLink) {
    view.hostLinkFound = true;
    view.hostUp = hostLink->up;
    auto br = host->linkByName(bridge);
    view.hostOnBridge = br && hostLink->master == br->index;
  } else if (hostLink.error().code != ENODEV) {
    return kernel(hostLink.error(), "host veth " + hostVeth);
  }
  return view;
}

Result<std::vector<std::string>> NetlinkDataplane::bridgePorts(const std::string& bridge) {
  std::vector<std::string> out;
  auto host = openHere();
  if (!host) return host.error();
  auto br = host->linkByName(bridge);
  if (!br) {
    if (br.error().code == ENODEV) return out;
    return kernel(br.error(), "bridge " + bridge);
  }
  auto links = host->links();
  if (!links) return kernel(links.error(), "list links");
  for (const auto& l : *links)
    if (l.master == br->index) out.push_back(l.name);
  return out;
}

}  // namespace routelet::cni::plugin
