#include "tests/bench/cni/veth_floor.h"

#include <string>

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

Status makePodPair(netlink::Handle& node, int bridgeIndex, const netns::Fd& pod, int index,
                   std::vector<double>& createMs) {
  auto start = Clock::now();
  auto created =
      node.createVeth(hostName(index), macFor(1, index), "eth0", macFor(2, index), kMtu, pod.get());
  createMs.push_back(toMs(Clock::now() - start));
  if (!created) return created;
  auto host = node.linkByName(hostName(index));
  if (!host) return host.error();
  if (auto s = node.setMaster(host->index, bridgeIndex); !s) return s;
  if (auto s = node.setUp(host->index); !s) return s;

  auto inPod = netlink::Handle::openIn(pod.get());
  if (!inPod) return inPod.error();
  auto eth0 = inPod->linkByName("eth0");
  if (!eth0) return eth0.error();
  auto address = ip::Prefix::parseInterface("10.246." + std::to_string(index / 250) + "." +
                                            std::to_string(index % 250 + 2) + "/16");
  if (!address) return address.error();
  if (auto s = inPod->addAddress(eth0->index, *address); !s) return s;
  return inPod->setUp(eth0->index);
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
    if (auto s = makePodPair(floor.node_, bridge->index, *podFd, i, floor.createMs_); !s)
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
