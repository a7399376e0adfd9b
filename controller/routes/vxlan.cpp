#include "controller/routes/vxlan.h"

#include <algorithm>
#include <functional>
#include <map>

namespace routelet::routes {

namespace {
constexpr uint8_t kNudPermanent = 0x80;
constexpr uint8_t kMacTag0 = 0x0e;  // locally administered, unicast
constexpr uint8_t kMacTag1 = 0x72;
}  // namespace

const char* modeName(Mode mode) {
  switch (mode) {
    case Mode::kHostGw:
      return "host-gw";
    case Mode::kAuto:
      return "auto";
    case Mode::kVxlan:
      return "vxlan";
  }
  return "unknown";
}

Result<Mode> parseMode(const std::string& text) {
  for (Mode m : {Mode::kHostGw, Mode::kAuto, Mode::kVxlan})
    if (text == modeName(m)) return m;
  return makeError("\"" + text + "\" is not a mode: host-gw, auto or vxlan");
}

const char* vxlanDeviceName(ip::Family family) {
  return family == ip::Family::kV4 ? "routelet.vxlan" : "routelet.vxlan6";
}

uint32_t vxlanOverhead(ip::Family family) {
  return family == ip::Family::kV4 ? 50 : 70;
}

ip::Address vtepAddress(const ip::Prefix& podCIDR) {
  return podCIDR.network().address();
}

netlink::Mac vtepMac(const ip::Prefix& podCIDR) {
  const ip::Prefix net = podCIDR.network();
  const uint8_t* b = net.address().bytes();
  netlink::Mac mac{kMacTag0, kMacTag1, 0, 0, 0, 0};
  // The 32 bits ending at the prefix length (from bit `end - 32`, or 0 for shorter).
  int end = net.family() == ip::Family::kV4 ? 32 : std::max(net.length(), 32);
  int start = end - 32;
  for (int i = 0; i < 32; ++i) {
    int bit = start + i;
    if (b[bit / 8] & (0x80 >> (bit % 8))) mac[2 + i / 8] |= static_cast<uint8_t>(0x80 >> (i % 8));
  }
  return mac;
}

bool isVtepMac(const netlink::Mac& mac) {
  return mac[0] == kMacTag0 && mac[1] == kMacTag1;
}

std::vector<netlink::Neighbor> tunnelEntries(int index, const ip::Prefix& podCIDR,
                                             const ip::Address& nodeIP, uint8_t protocol) {
  netlink::Neighbor neigh;
  neigh.index = index;
  neigh.address = vtepAddress(podCIDR);
  neigh.mac = vtepMac(podCIDR);
  neigh.state = kNudPermanent;
  neigh.protocol = protocol;
  netlink::Neighbor fdb;
  fdb.fdb = true;
  fdb.index = index;
  fdb.address = nodeIP;
  fdb.mac = neigh.mac;
  fdb.state = kNudPermanent;
  return {neigh, fdb};
}

bool ownedEntry(const netlink::Neighbor& observed, uint8_t protocol) {
  if (!(observed.state & kNudPermanent)) return false;
  return observed.fdb ? isVtepMac(observed.mac) : observed.protocol == protocol;
}

bool sameEntry(const netlink::Neighbor& desired, const netlink::Neighbor& observed) {
  return desired.address == observed.address && desired.mac == observed.mac &&
         (observed.state & desired.state) == desired.state &&
         (desired.fdb || desired.protocol == observed.protocol);
}

namespace {

// Entries with their keys, sorted by key; a duplicate key keeps the first. A sorted vector,
// not a map: at 5000 peers a map's nodes were a third of a megabyte of the agent's peak.
using Keyed = std::vector<std::pair<netlink::Neighbor::Key, const netlink::Neighbor*>>;

Keyed byKey(const std::vector<netlink::Neighbor>& entries) {
  Keyed out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.emplace_back(e.key(), &e);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
            out.end());
  return out;
}

NeighborPlan plan(const Keyed& want, const Keyed& have, bool deleteUnwanted,
                  const std::function<bool(const netlink::Neighbor&)>& mayDelete) {
  NeighborPlan out;
  auto w = want.begin();
  auto h = have.begin();
  while (w != want.end() || h != have.end()) {
    if (h == have.end() || (w != want.end() && w->first < h->first)) {
      out.ops.push_back({netlink::NeighborOp::Kind::kReplace, *w->second});
      ++out.adds;
      ++w;
    } else if (w == want.end() || h->first < w->first) {
      if (deleteUnwanted && mayDelete(*h->second)) {
        out.ops.push_back({netlink::NeighborOp::Kind::kDelete, *h->second});
        ++out.deletes;
      }
      ++h;
    } else {
      if (sameEntry(*w->second, *h->second)) {
        ++out.unchanged;
      } else {
        out.ops.push_back({netlink::NeighborOp::Kind::kReplace, *w->second});
        ++out.updates;
      }
      ++w;
      ++h;
    }
  }
  return out;
}

}  // namespace

NeighborPlan planNeighbors(const std::vector<netlink::Neighbor>& desired,
                           const std::vector<netlink::Neighbor>& observed, uint8_t protocol,
                           bool deleteStale) {
  return plan(byKey(desired), byKey(observed), deleteStale,
              [protocol](const netlink::Neighbor& n) { return ownedEntry(n, protocol); });
}

NeighborPlan planPeerNeighbors(const std::vector<netlink::Neighbor>& before,
                               const std::vector<netlink::Neighbor>& after) {
  // What the last pass wrote is routelet's: an entry that stays and is the same needs
  // nothing, one that goes is deleted.
  return plan(byKey(after), byKey(before), true, [](const netlink::Neighbor&) { return true; });
}

}  // namespace routelet::routes
