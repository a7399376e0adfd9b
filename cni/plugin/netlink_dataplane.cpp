#include "cni/plugin/netlink_dataplane.h"

#include <cerrno>
#include <optional>

#include "cni/config/codes.h"
#include "cni/config/names.h"
#include "common/bridge/bridge.h"
#include "common/netlink/message.h"
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

// The pod's namespace, which must not be the node's: a pod end made there would take the
// node's default route ("replace" via the bridge gateway), and its DEL would then delete it
// with the link. The node's is this process's (/proc/self: the runtime execs the plugin in
// it, and this thread has not left it yet).
Result<netns::Fd> openPodNetns(const std::string& path) {
  auto fd = netns::Fd::open(path);
  if (!fd)
    return makeError(
        "CNI_NETNS " + config::quoteValue(path) + " cannot be used: " + fd.error().message,
        kCodeUnknownContainer);
  auto own = netns::Fd::open("/proc/self/ns/net");
  if (!own) return kernel(own.error(), "open routelet-cni's own network namespace");
  auto same = netns::same(*fd, *own);
  if (!same) return kernel(same.error(), "compare CNI_NETNS " + config::quoteValue(path));
  if (*same)
    return makeError("CNI_NETNS " + config::quoteValue(path) +
                         " is the node's own network namespace (routelet-cni's): a pod needs "
                         "a namespace of its own",
                     kCodeInvalidEnv);
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

// The pair in one request: the host end on the bridge and up, the pod end created directly
// in the pod netns under CNI_IFNAME (so it never exists under another name; a name only
// has to be free in the namespace a link is registered in, and veth_newlink registers the
// peer in the target netns). Both ends stay at the MTU and MAC of the spec.
Status createVeth(netlink::Handle& host, const netns::Fd& ns, const AttachSpec& spec,
                  int bridgeIndex) {
  netlink::VethSpec veth;
  veth.name = spec.hostVeth;
  veth.mac = spec.hostMac;
  veth.mtu = spec.mtu;
  veth.master = bridgeIndex;
  veth.up = true;
  veth.peerName = spec.ifname;
  veth.peerMac = spec.podMac;
  veth.peerNsFd = ns.get();
  veth.noLinkLocal = true;
  veth.hairpin = spec.hairpin;
  veth.queues = 1;
  auto st = host.createVeth(veth);
  if (!st && st.error().code == EEXIST) {
    // EEXIST names no side: the host end may be a leftover of an ADD that died before
    // cleaning up (the names are derived from this attachment, whose lease was free a
    // moment ago, so nothing live uses it), or CNI_IFNAME may be taken in the pod netns.
    // Removing the leftover (its peer goes with it) and trying once more tells them apart.
    if (host.deleteLinkByName(spec.hostVeth)) st = host.createVeth(veth);
    if (!st && st.error().code == EEXIST)
      return makeError("CNI_IFNAME \"" + spec.ifname + "\" already exists in " + spec.netnsPath,
                       kCodeIfnameExists);
  }
  if (!st) return kernel(st.error(), "veth " + spec.hostVeth);
  return okStatus();
}

// Pod side, in the pod netns (the calling thread is inside it): addresses, the interface
// and loopback up, a default route per family, as one batch after one lookup of the index.
// Without an IPv6 range the interface makes no IPv6 link-local address: nothing could use
// it, and its duplicate address detection, MLD reports and router solicitation would be
// flooded to every pod on the bridge, under the RTNL lock, each time a pod starts.
Status configurePod(netlink::Handle& pod, const AttachSpec& spec) {
  bool v6 = false;
  for (const auto& a : spec.podAddresses) v6 = v6 || a.family() == ip::Family::kV6;
  if (v6) {
    // Without this the link-local address (and any address without nodad) waits about a
    // second for duplicate address detection. It must precede the link going up, which
    // starts DAD; netlink cannot set it (inet6_set_link_af takes only the token and the
    // address generation mode), and /proc/sys/net is this thread's netns: the pod's.
    auto st = sysctl::set("net.ipv6.conf." + spec.ifname + ".accept_dad", "0");
    if (!st) return kernel(st.error(), "pod interface " + spec.ifname);
  }
  auto link = pod.linkByName(spec.ifname);
  if (!link) return kernel(link.error(), "pod interface " + spec.ifname);
  const int index = link->index;
  const std::string podIf = "pod interface " + spec.ifname;
  // What each request is part of, for the error message (parallel to requests).
  std::vector<std::string> context;
  std::vector<netlink::Request> requests;
  for (const auto& a : spec.podAddresses) {
    context.push_back(podIf);
    requests.push_back(
        {"add address " + a.str() + " to link " + std::to_string(index), [&a, index](uint32_t s) {
           return netlink::buildNewAddress(s, index, a, !a.address().isV4());
         }});
  }
  // It precedes the link going up, which starts IPv6. A kernel without IPv6 refuses it:
  // there is no link-local address then either.
  std::optional<size_t> quietAt;
  if (!v6) {
    quietAt = requests.size();
    context.push_back(podIf);
    requests.push_back({"turn off IPv6 link-local on link " + std::to_string(index),
                        [index](uint32_t s) { return netlink::buildSetNoLinkLocal(s, index); }});
  }
  context.push_back(podIf);
  requests.push_back({"set link " + std::to_string(index) + " up",
                      [index](uint32_t s) { return netlink::buildSetUp(s, index, true); }});
  context.push_back("pod loopback");
  requests.push_back({"set link " + std::to_string(kLoopbackIndex) + " up",
                      [](uint32_t s) { return netlink::buildSetUp(s, kLoopbackIndex, true); }});
  std::vector<netlink::Route> routes;
  routes.reserve(spec.gateways.size());  // requests keep pointers into it
  for (const auto& gw : spec.gateways) {
    netlink::Route r;
    r.dst = *ip::Prefix::parse(gw.isV4() ? "0.0.0.0/0" : "::/0");
    r.gateway = gw;
    r.oif = index;
    routes.push_back(r);
    const netlink::Route& route = routes.back();
    context.push_back("default route via " + gw.str() + " in " + spec.netnsPath);
    requests.push_back({"replace route " + netlink::describe(route), [&route](uint32_t s) {
                          return netlink::buildRoute(s, netlink::RouteOp::Kind::kReplace, route);
                        }});
  }
  // rtnetlink runs the batch in order, so each route finds its address and a link that is
  // up, as it would with one request at a time; the first failure is the one reported.
  auto done = pod.batch(requests);
  if (!done) return kernel(done.error(), podIf);
  for (size_t i = 0; i < done->size(); ++i) {
    const Status& st = (*done)[i];
    if (st || (i == quietAt && netlink::ipv6Absent(st.error()))) continue;
    return kernel(st.error(), context[i]);
  }
  return okStatus();
}

}  // namespace

Result<Attached> NetlinkDataplane::attach(const AttachSpec& spec) {
  auto ns = openPodNetns(spec.netnsPath);
  if (!ns) return ns.error();
  auto host = openHere();
  if (!host) return host.error();
  // In the node's netns: the bridge's accept_ra sysctl is written there.
  auto br = ensureBridge(*host, spec);
  if (!br) return br.error();
  // The rest runs with this thread inside the pod netns, so the pod's socket is opened and
  // its sysctl written with one setns pair per ADD. Sockets stay bound to the netns they
  // were made in: the host handle keeps talking to the node's.
  auto entered = netns::Enter::into(*ns);
  if (!entered) return kernel(entered.error(), "enter " + spec.netnsPath);
  auto pod = netlink::Handle::open();
  if (!pod) return kernel(pod.error(), "open netlink in " + spec.netnsPath);
  if (auto st = createVeth(*host, *ns, spec, br->index); !st) return st.error();
  if (auto st = configurePod(*pod, spec); !st) {
    // Deleting the host end deletes the pod end too (a veth pair dies together).
    if (auto del = host->deleteLinkByName(spec.hostVeth); !del && del.error().code != ENODEV)
      return makeError(st.error().message + "; removing " + spec.hostVeth +
                           " failed too: " + del.error().message,
                       st.error().code);
    return st.error();
  }
  return Attached{br->mac};
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
