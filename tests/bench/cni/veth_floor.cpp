#include "tests/bench/cni/veth_floor.h"

#include <string>

#include "common/netlink/message.h"
#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "tests/bench/cni/plugin_exec.h"

namespace routelet::bench::cni {
namespace {

constexpr uint32_t kMtu = 1500;
constexpr const char* kBridge = "floorbr0";

// Locally administered unicast (bit 1 of the first octet set, bit 0 clear).
netlink::Mac macFor(uint8_t role, int index) {
  return {0x02, 0x42, role, 0, static_cast<uint8_t>(index >> 8), static_cast<uint8_t>(index)};
}

std::string hostName(int index) {
  return "flv" + std::to_string(index);
}

// One pod the way routelet-cni's ADD makes it in the kernel, every request of it timed
// and nothing else (the pod's socket is opened before the clock): one RTM_NEWLINK for the
// pair, the host end enslaved and up and the peer placed in the pod namespace (with the
// host end's IPv6 link-local turned off in the same sendmsg), then in the pod the
// interface's index, and one batch for its address, no IPv6 link-local (the floor's pods
// are IPv4 only), the links up and the route.
Status makePod(netlink::Handle& node, int bridgeIndex, const netns::Fd& pod, int index,
               std::vector<double>& addMs) {
  auto inPod = netlink::Handle::openIn(pod.get());
  if (!inPod) return inPod.error();
  auto address = ip::Prefix::parseInterface("10.246." + std::to_string(index / 250) + "." +
                                            std::to_string(index % 250 + 2) + "/16");
  if (!address) return address.error();
  netlink::Route route;
  route.dst = *ip::Prefix::parse("0.0.0.0/0");
  route.gateway = *ip::Address::parse("10.246.255.254");
  netlink::VethSpec veth;
  veth.name = hostName(index);
  veth.mac = macFor(1, index);
  veth.mtu = kMtu;
  veth.master = bridgeIndex;
  veth.up = true;
  veth.peerName = "eth0";
  veth.peerMac = macFor(2, index);
  veth.peerNsFd = pod.get();
  veth.noLinkLocal = true;
  veth.queues = 1;
  veth.hairpin = true;

  auto start = Clock::now();
  if (auto s = node.createVeth(veth); !s) return s;
  auto eth0 = inPod->linkByName("eth0");
  if (!eth0) return eth0.error();
  const int i = eth0->index;
  route.oif = i;
  auto done = inPod->batch({
      {"address", [&](uint32_t q) { return netlink::buildNewAddress(q, i, *address, false); }},
      {"no link-local", [&](uint32_t q) { return netlink::buildSetNoLinkLocal(q, i); }},
      {"eth0 up", [&](uint32_t q) { return netlink::buildSetUp(q, i, true); }},
      {"lo up", [](uint32_t q) { return netlink::buildSetUp(q, 1, true); }},
      {"route",
       [&](uint32_t q) { return netlink::buildRoute(q, netlink::RouteOp::Kind::kReplace, route); }},
  });
  addMs.push_back(toMs(Clock::now() - start));
  if (!done) return done.error();
  for (const auto& st : *done)
    if (!st) return st;
  return okStatus();
}

}  // namespace

Result<VethFloor> VethFloor::prepare(NetnsSet& namespaces, int count, bool (*interrupted)()) {
  auto nodePath = namespaces.create();
  if (!nodePath) return nodePath.error();
  auto nodeFd = netns::Fd::open(*nodePath);
  if (!nodeFd) return nodeFd.error();
  auto node = netlink::Handle::openIn(nodeFd->get());
  if (!node) return node.error();
  if (auto s = node->createBridge(kBridge, macFor(0, 0), kMtu); !s)
    return s.error().wrap("create bridge " + std::string(kBridge));
  auto bridge = node->linkByName(kBridge);
  if (!bridge) return bridge.error();
  if (auto s = node->setUp(bridge->index); !s) return s.error();

  VethFloor floor(std::move(*node));
  for (int i = 0; i < count; ++i) {
    if (interrupted()) return makeError("interrupted");
    auto podPath = namespaces.create();
    if (!podPath) return podPath.error();
    auto podFd = netns::Fd::open(*podPath);
    if (!podFd) return podFd.error();
    if (auto s = makePod(floor.node_, bridge->index, *podFd, i, floor.addMs_); !s)
      return s.error().wrap("build veth pair " + hostName(i) + " for the floor");
  }
  return floor;
}

Result<double> VethFloor::deleteOne(int index) {
  auto start = Clock::now();
  auto s = node_.deleteLinkByName(hostName(index));
  auto elapsed = Clock::now() - start;
  if (!s) return s.error().wrap("delete " + hostName(index) + " (veth delete floor)");
  return toMs(elapsed);
}

}  // namespace routelet::bench::cni
