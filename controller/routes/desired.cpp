#include "controller/routes/desired.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

namespace routelet::routes {

bool isEncapsulated(const netlink::Route& route) {
  return route.onlink && route.oif != 0 && route.gateway && route.dst.address() == *route.gateway;
}

namespace {
bool onLinkFrom(const SelfInfo& self, const ip::Address& nodeIP) {
  return std::any_of(self.onLink.begin(), self.onLink.end(),
                     [&](const ip::Prefix& p) { return p.contains(nodeIP); });
}
}  // namespace

bool overVxlan(const SelfInfo& self, const ip::Address& nodeIP) {
  return self.mode == Mode::kVxlan || (self.mode == Mode::kAuto && !onLinkFrom(self, nodeIP));
}

namespace {

// A podCIDR a peer may be routed to, before overlaps between peers are decided.
struct Claim {
  const std::string* name;  // points into the model::NodeCache
  const model::Node* node;
  ip::Family family;
  ip::Prefix dst;          // host bits cleared
  bool contested = false;  // kept although another claim overlaps it
};

// The decoder's problem lines start with the field path (model::Node::problems).
std::string problemsAbout(const model::Node& node, std::string_view fieldPrefix) {
  std::string out;
  for (const auto& p : node.problems) {
    if (!p.starts_with(fieldPrefix)) continue;
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

std::string joinPrefixes(const std::vector<ip::Prefix>& prefixes, ip::Family family) {
  std::string out;
  for (const auto& p : prefixes) {
    if (p.family() != family) continue;
    if (!out.empty()) out += ", ";
    out += p.str();
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::optional<ip::Prefix> SelfInfo::podCIDR(ip::Family family) const {
  for (const auto& p : podCIDRs)
    if (p.family() == family) return p;
  return std::nullopt;
}

std::optional<ip::Address> SelfInfo::nodeIP(ip::Family family) const {
  for (const auto& a : nodeIPs)
    if (a.family() == family) return a;
  return std::nullopt;
}

const char* skipReasonName(SkipReason reason) {
  switch (reason) {
    case SkipReason::kDeleting:
      return "deleting";
    case SkipReason::kNoPodCIDR:
      return "no-podcidr";
    case SkipReason::kNoNodeIP:
      return "no-node-ip";
    case SkipReason::kUnparsable:
      return "unparsable";
    case SkipReason::kPodCIDROverlapsOwn:
      return "podcidr-overlaps-own";
    case SkipReason::kPodCIDRConflict:
      return "podcidr-conflict";
    case SkipReason::kPodCIDRUnsafe:
      return "podcidr-unsafe";
    case SkipReason::kNoUsableNodeIP:
      return "no-usable-node-ip";
    case SkipReason::kNodeIPIsOwn:
      return "node-ip-is-own";
    case SkipReason::kNotOnLink:
      return "not-on-link";
    case SkipReason::kNoTunnel:
      return "no-tunnel";
    case SkipReason::kVtepMacConflict:
      return "vtep-mac-conflict";
  }
  return "unknown";
}

namespace {

std::vector<ip::Family> routedFamilies(const SelfInfo& self) {
  std::vector<ip::Family> families;
  for (ip::Family f : {ip::Family::kV4, ip::Family::kV6})
    if (self.podCIDR(f)) families.push_back(f);
  return families;
}

ip::Prefix hostPrefix(const ip::Address& a) {
  return ip::Prefix::make(a, a.family() == ip::Family::kV4 ? 32 : 128);
}

std::string familyLabel(ip::Family family) {
  return std::string("IPv") + ip::familyName(family);
}

// The podCIDRs of one peer that may be routed, appended to claims; every other family of the
// peer is skipped, with why, into out.
void claimsOf(const std::string& name, const model::Node& node, const SelfInfo& self,
              const std::vector<ip::Family>& families, std::vector<Claim>& claims, Desired& out) {
  if (node.deleting) {
    out.skipped.push_back({name, std::nullopt, SkipReason::kDeleting,
                           "metadata.deletionTimestamp is set; its routes are removed"});
    return;
  }
  for (ip::Family family : families) {
    auto skip = [&](SkipReason reason, std::string detail) {
      out.skipped.push_back({name, family, reason, std::move(detail)});
    };
    auto cidr = node.podCIDR(family);
    if (!cidr) {
      std::string bad = problemsAbout(node, "spec.podCIDR");
      if (bad.empty())
        skip(SkipReason::kNoPodCIDR, "spec.podCIDRs has no " + familyLabel(family) + " CIDR");
      else
        skip(SkipReason::kUnparsable, std::move(bad));
      continue;
    }
    ip::Prefix dst = cidr->network();
    ip::Prefix own = *self.podCIDR(family);
    if (dst.overlaps(own)) {
      skip(SkipReason::kPodCIDROverlapsOwn,
           "spec.podCIDRs " + dst.str() + " overlaps this node's podCIDR " + own.str());
      continue;
    }
    if (auto why = unsafePodCIDR(dst, self)) {
      skip(SkipReason::kPodCIDRUnsafe, "spec.podCIDRs " + dst.str() + " " + *why);
      continue;
    }
    claims.push_back({&name, &node, family, dst});
  }
}

// The route of one claim that no other overlaps, or why the peer gets none.
void routeClaim(const Claim& c, const model::NodeCache& cache, const SelfInfo& self, Desired& out) {
  auto skip = [&](SkipReason reason, std::string detail) {
    out.skipped.push_back({*c.name, c.family, reason, std::move(detail)});
  };
  std::size_t ignoredBefore = out.ignored.size();
  auto gateway = chooseNodeIP(*c.node, c.family, cache, self, &out.ignored);
  if (!gateway) {
    std::string bad = problemsAbout(*c.node, "status.addresses");
    if (out.ignored.size() > ignoredBefore) {
      std::string why;
      for (auto i = ignoredBefore; i < out.ignored.size(); ++i)
        why += (why.empty() ? "" : "; ") + out.ignored[i].address.str() + " " + out.ignored[i].why;
      skip(SkipReason::kNoUsableNodeIP,
           "status.addresses has no usable " + familyLabel(c.family) + " address: " + why);
    } else if (bad.empty()) {
      skip(SkipReason::kNoNodeIP,
           "status.addresses has no " + familyLabel(c.family) + " InternalIP or ExternalIP");
    } else {
      skip(SkipReason::kUnparsable, std::move(bad));
    }
    return;
  }
  if (self.nodeIP(c.family) == gateway) {
    skip(SkipReason::kNodeIPIsOwn, "node IP " + gateway->str() + " is this node's own IP");
    return;
  }
  if (self.mode == Mode::kHostGw && !onLinkFrom(self, *gateway)) {
    skip(SkipReason::kNotOnLink, "node IP " + gateway->str() +
                                     " is not inside an on-link prefix of this node (" +
                                     joinPrefixes(self.onLink, c.family) +
                                     "); mode auto or vxlan would reach it over VXLAN");
    return;
  }
  netlink::Route route;
  route.dst = c.dst;
  route.gateway = *gateway;
  route.table = self.table;
  route.protocol = self.protocol;
  route.scope = 0;  // RT_SCOPE_UNIVERSE: the gateway is resolved through the on-link route
  route.type = 1;   // RTN_UNICAST
  // The kernel stores an IPv6 route given metric 0 as metric 1024 (IP6_RT_PRIO_USER),
  // and the metric is part of the route's key: asking for 0 would make every pass see
  // its own route as foreign-keyed and stale. Ask for what the kernel keeps.
  route.priority = c.dst.family() == ip::Family::kV6 ? 1024 : 0;
  if (overVxlan(self, *gateway)) {
    int device = self.tunnel(c.family);
    if (device == 0) {
      skip(SkipReason::kNoTunnel, "node IP " + gateway->str() + " is reached over VXLAN, and " +
                                      vxlanDeviceName(c.family) + " is not ready");
      return;
    }
    // The VTEP address is no address of any link: onlink tells the kernel it is reached
    // through the device as it is.
    route.gateway = vtepAddress(c.dst);
    route.oif = device;
    route.onlink = true;
    for (auto& e : tunnelEntries(device, c.dst, *gateway, self.protocol))
      out.neighbors.push_back(std::move(e));
  }
  out.routes.push_back(std::move(route));
}

// Decides overlapping claims (see desiredRoutes); returns the claims that keep their route
// and skips the others into out.
std::vector<Claim> resolveOverlaps(std::vector<Claim> claims, const model::NodeCache& cache,
                                   const SelfInfo& self,
                                   const std::vector<netlink::Route>& programmed, Desired& out) {
  std::set<std::pair<ip::Prefix, ip::Address>> routed;
  for (const auto& r : programmed)
    if (r.gateway) routed.emplace(r.dst.network(), *r.gateway);
  auto isProgrammed = [&](const Claim& c) {
    auto gateway = chooseNodeIP(*c.node, c.family, cache, self);
    return (gateway && routed.count({c.dst, *gateway}) > 0) ||
           routed.count({c.dst, vtepAddress(c.dst)}) > 0;
  };
  // Two prefixes overlap only when one contains the other: in address order (shorter
  // first at equal addresses), a group of overlapping claims is a run in which each starts
  // before the furthest end seen so far.
  std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
    return std::tie(a.dst, *a.name) < std::tie(b.dst, *b.name);
  });
  std::vector<Claim> kept;
  for (std::size_t begin = 0; begin < claims.size();) {
    std::size_t end = begin + 1;
    // The first claim of a run is its widest: a later one that overlapped it and were
    // wider would contain it, so start at the same address and sort before it.
    const ip::Prefix& cover = claims[begin].dst;
    while (end < claims.size() && cover.overlaps(claims[end].dst)) ++end;
    if (end - begin == 1) {
      kept.push_back(claims[begin]);
      begin = end;
      continue;
    }
    // Linear in the run, whatever a hostile claim covers: the programmed claims, in address
    // order, overlap each other exactly when two neighbours do (a prefix that starts inside
    // another lies inside it).
    std::vector<std::size_t> keepers;
    bool keepersOverlap = false;
    for (std::size_t i = begin; i < end; ++i) {
      if (!isProgrammed(claims[i])) continue;
      keepersOverlap = keepersOverlap ||
                       (!keepers.empty() && claims[keepers.back()].dst.overlaps(claims[i].dst));
      keepers.push_back(i);
    }
    if (keepersOverlap) keepers.clear();
    const std::string verdict = keepers.empty()
                                    ? ": none of them is routed until the Nodes are corrected"
                                    : ": routes programmed before the overlap stay";
    const std::string count = std::to_string(end - begin);
    for (std::size_t i = begin, k = 0; i < end; ++i) {
      const Claim& c = claims[i];
      if (k < keepers.size() && keepers[k] == i) {
        ++k;
        kept.push_back(c);
        kept.back().contested = true;
        continue;
      }
      // Named: the run's widest claim, which contains every other (or, for the widest
      // itself, the next): a detail of bounded size however many Nodes a claim covers.
      const Claim& other = claims[i == begin ? begin + 1 : begin];
      out.skipped.push_back(
          {*c.name, c.family, SkipReason::kPodCIDRConflict,
           "spec.podCIDRs " + c.dst.str() + " overlaps " + other.dst.str() + " of node " +
               *other.name + (end - begin > 2 ? " (one of " + count + " overlapping claims)" : "") +
               verdict});
    }
    begin = end;
  }
  return kept;
}

void sortSkips(std::vector<Skip>& skips) {
  std::stable_sort(skips.begin(), skips.end(), [](const Skip& a, const Skip& b) {
    return std::tie(a.node, a.family) < std::tie(b.node, b.family);
  });
}

void sortIgnored(std::vector<IgnoredAddress>& ignored) {
  std::sort(ignored.begin(), ignored.end(), [](const auto& a, const auto& b) {
    return std::tie(a.node, a.address) < std::tie(b.node, b.address);
  });
}

void sortRoutes(std::vector<netlink::Route>& routes) {
  // Keys computed once: Route::key() clears host bits, too slow inside a comparator.
  std::vector<std::pair<netlink::Route::Key, std::size_t>> order;
  order.reserve(routes.size());
  for (std::size_t i = 0; i < routes.size(); ++i) order.emplace_back(routes[i].key(), i);
  std::sort(order.begin(), order.end());
  std::vector<netlink::Route> sorted;
  sorted.reserve(order.size());
  for (const auto& [key, i] : order) sorted.push_back(std::move(routes[i]));
  routes = std::move(sorted);
}

void sortNeighbors(std::vector<netlink::Neighbor>& entries) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.key() < b.key(); });
}

// A peer reached over VXLAN: its VTEP MAC must be no other's (see desiredRoutes).
struct Vtep {
  netlink::Mac mac;
  ip::Family family;
  ip::Prefix dst;
  const std::string* name;
};

// Peers whose VTEP MACs collide lose their route and entries, each named with the other.
void dropVtepMacConflicts(std::vector<Vtep> vteps, Desired& out) {
  std::sort(vteps.begin(), vteps.end(), [](const Vtep& a, const Vtep& b) {
    return std::tie(a.family, a.mac, *a.name) < std::tie(b.family, b.mac, *b.name);
  });
  std::set<ip::Prefix> dropped;
  std::set<std::pair<ip::Family, netlink::Mac>> macs;
  for (std::size_t i = 0; i < vteps.size(); ++i) {
    const Vtep& v = vteps[i];
    const Vtep* other = nullptr;
    if (i > 0 && vteps[i - 1].family == v.family && vteps[i - 1].mac == v.mac)
      other = &vteps[i - 1];
    if (i + 1 < vteps.size() && vteps[i + 1].family == v.family && vteps[i + 1].mac == v.mac)
      other = &vteps[i + 1];
    if (!other) continue;
    dropped.insert(v.dst);
    macs.insert({v.family, v.mac});
    out.skipped.push_back(
        {*v.name, v.family, SkipReason::kVtepMacConflict,
         "spec.podCIDRs " + v.dst.str() + " gives VTEP MAC " + netlink::macString(v.mac) + ", as " +
             other->dst.str() + " of node " + *other->name +
             " does: neither is reached over VXLAN until the Nodes are corrected"});
  }
  if (dropped.empty()) return;
  std::erase_if(out.routes, [&](const netlink::Route& r) {
    return isEncapsulated(r) && dropped.contains(r.dst);
  });
  std::erase_if(out.neighbors, [&](const netlink::Neighbor& e) {
    return e.address && macs.contains({e.address->family(), e.mac});
  });
}

// Addresses that are no unicast host: no pod range may overlap them, and no node IP lie in
// them. Broadcast comes before the reserved range that holds it, to be named as such.
const std::vector<std::pair<ip::Prefix, const char*>>& nonUnicastRanges() {
  static const std::vector<std::pair<ip::Prefix, const char*>> ranges = [] {
    std::vector<std::pair<ip::Prefix, const char*>> out;
    for (auto [cidr, what] : std::initializer_list<std::pair<const char*, const char*>>{
             {"0.0.0.0/8", "this-network"},
             {"127.0.0.0/8", "loopback"},
             {"169.254.0.0/16", "link-local (metadata services)"},
             {"224.0.0.0/4", "multicast"},
             {"255.255.255.255/32", "broadcast"},
             {"240.0.0.0/4", "reserved"},
             {"::/128", "unspecified"},
             {"::1/128", "loopback"},
             {"::ffff:0:0/96", "IPv4-mapped"},
             {"fe80::/10", "link-local"},
             {"ff00::/8", "multicast"}})
      out.emplace_back(ip::Prefix::parse(cidr).value(), what);
    return out;
  }();
  return ranges;
}

}  // namespace

std::optional<std::string> unsafePodCIDR(const ip::Prefix& dst, const SelfInfo& self) {
  const bool v4 = dst.family() == ip::Family::kV4;
  int bound = v4 ? self.minPodCIDRLengthV4 : self.minPodCIDRLengthV6;
  for (const auto& cluster : self.clusterCIDRs) {
    if (cluster.family() != dst.family()) continue;
    if (!cluster.contains(dst.address()) || dst.length() < cluster.length())
      return "is outside the cluster CIDR " + cluster.str();
    bound = std::max(bound, cluster.length());
  }
  if (dst.length() < bound)
    return "is shorter than /" + std::to_string(bound) +
           " (the minPodCIDRLength or clusterCIDRs setting)";
  for (const auto& [range, what] : nonUnicastRanges())
    if (range.overlaps(dst)) return "overlaps the " + std::string(what) + " range " + range.str();
  for (const auto& subnet : self.onLink)
    if (subnet.family() == dst.family() && subnet.overlaps(dst))
      return "overlaps this node's on-link subnet " + subnet.str();
  for (const auto& mine : self.nodeIPs)
    if (dst.contains(mine)) return "covers this node's IP " + mine.str();
  return std::nullopt;
}

std::optional<std::string> unusableNodeIP(const ip::Address& a, const std::string& holder,
                                          const model::NodeCache& cache, const SelfInfo& self) {
  for (const auto& [range, what] : nonUnicastRanges())
    if (range.contains(a)) return "is in the " + std::string(what) + " range " + range.str();
  for (const auto& cluster : self.clusterCIDRs)
    if (cluster.contains(a)) return "lies in the cluster CIDR " + cluster.str();
  if (holder == self.name) return std::nullopt;
  for (const auto& own : self.podCIDRs)
    if (own.contains(a)) return "lies in this node's podCIDR " + own.network().str();
  auto range = cache.podCIDRContaining(
      a, [&](const ip::Prefix& cidr) { return !unsafePodCIDR(cidr, self).has_value(); });
  if (range) return "lies in the podCIDR " + range->first.str() + " of node " + *range->second;
  return std::nullopt;
}

std::optional<ip::Address> chooseNodeIP(const model::Node& node, ip::Family family,
                                        const model::NodeCache& cache, const SelfInfo& self,
                                        std::vector<IgnoredAddress>* ignored) {
  std::optional<ip::Address> chosen;
  for (const auto* ips : {&node.internalIPs, &node.externalIPs}) {
    for (const auto& a : *ips) {
      if (a.family() != family) continue;
      if (auto why = unusableNodeIP(a, node.name, cache, self)) {
        if (ignored) ignored->push_back({node.name, a, std::move(*why)});
      } else if (!chosen) {
        chosen = a;
        if (!ignored) return chosen;
      }
    }
  }
  return chosen;
}

Desired desiredRoutes(const model::NodeCache& cache, const SelfInfo& self,
                      const std::vector<netlink::Route>& programmed) {
  Desired out;
  std::vector<ip::Family> families = routedFamilies(self);
  std::vector<Claim> claims;
  for (const auto& [name, node] : cache.nodes())
    if (name != self.name) claimsOf(name, node, self, families, claims, out);
  std::vector<Vtep> vteps;
  for (const Claim& c : resolveOverlaps(std::move(claims), cache, self, programmed, out)) {
    std::size_t before = out.routes.size();
    routeClaim(c, cache, self, out);
    if (out.routes.size() == before) continue;
    if (c.contested) out.keptInConflict.push_back(out.routes.back());
    if (isEncapsulated(out.routes.back()))
      vteps.push_back({vtepMac(c.dst), c.family, c.dst, c.name});
  }
  dropVtepMacConflicts(std::move(vteps), out);
  sortRoutes(out.routes);
  sortNeighbors(out.neighbors);
  sortSkips(out.skipped);
  sortIgnored(out.ignored);
  return out;
}

std::optional<Desired> peerDesired(const model::NodeCache& cache, const SelfInfo& self,
                                   const std::string& name, const model::Node* node) {
  Desired out;
  if (!node || name == self.name) return out;
  // Any other Node (own excepted: its overlap is a local skip) with an overlapping
  // podCIDR, whether or not it claims it now, makes the answer depend on the rest; so does
  // so does an address of this peer inside another Node's podCIDR, or one of its podCIDRs
  // over another Node's address (that Node's address is then passed over).
  for (const auto& mine : node->podCIDRs)
    if (cache.podCIDROverlap(mine, name, self.name) || cache.nodeIPWithin(mine))
      return std::nullopt;
  for (const auto* ips : {&node->internalIPs, &node->externalIPs})
    for (const auto& a : *ips)
      if (cache.podCIDROverlap(hostPrefix(a), name, std::string())) return std::nullopt;
  std::vector<Claim> claims;
  claimsOf(name, *node, self, routedFamilies(self), claims, out);
  for (const Claim& c : claims) routeClaim(c, cache, self, out);
  sortRoutes(out.routes);
  sortNeighbors(out.neighbors);
  sortSkips(out.skipped);
  sortIgnored(out.ignored);
  return out;
}

}  // namespace routelet::routes
