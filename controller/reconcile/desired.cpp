#include "controller/reconcile/desired.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <string_view>
#include <utility>

namespace routelet::reconcile {

namespace {

// Accepted podCIDR claims of one family. Accepted claims never overlap, and two CIDR
// prefixes overlap only when one contains the other, so a new prefix can only collide
// with its nearest neighbours in address order: O(log n) per claim instead of a scan.
class Claims {
 public:
  // The owner of an accepted claim overlapping p, if any.
  // net must have its host bits cleared.
  const std::string* overlapping(const ip::Prefix& net) const {
    auto after = claims_.lower_bound(net.address());
    if (after != claims_.end() && after->second.first.overlaps(net)) return after->second.second;
    if (after != claims_.begin()) {
      auto before = std::prev(after);
      if (before->second.first.overlaps(net)) return before->second.second;
    }
    return nullptr;
  }
  // owner must outlive the Claims (it points into the NodeCache).
  void add(const ip::Prefix& net, const std::string* owner) {
    claims_.emplace(net.address(), std::make_pair(net, owner));
  }

 private:
  std::map<ip::Address, std::pair<ip::Prefix, const std::string*>> claims_;
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
    case SkipReason::kNodeIPIsOwn:
      return "node-ip-is-own";
    case SkipReason::kNotOnLink:
      return "not-on-link";
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

// The routes or skips of one peer, appended to out. claim(family, dst) returns the name of
// a peer that already holds an overlapping podCIDR, or nullptr after recording the claim.
template <class Claim>
void appendPeer(const std::string& name, const model::Node& node, const SelfInfo& self,
                const std::vector<ip::Family>& families, Claim&& claim, Desired& out) {
  if (node.deleting) {
    out.skipped.push_back({name, std::nullopt, SkipReason::kDeleting,
                           "metadata.deletionTimestamp is set; its routes are removed"});
    return;
  }
  for (ip::Family family : families) {
    auto skip = [&](SkipReason reason, std::string detail) {
      out.skipped.push_back({name, family, reason, std::move(detail)});
    };
    auto fam = [family] { return std::string("IPv") + ip::familyName(family); };

    // A missing field is kUnparsable when the decoder dropped it, the plain reason
    // otherwise; fieldPrefix selects the problem lines that concern the field.
    auto skipMissing = [&](std::string_view fieldPrefix, SkipReason plain, std::string detail) {
      std::string bad = problemsAbout(node, fieldPrefix);
      if (bad.empty())
        skip(plain, std::move(detail));
      else
        skip(SkipReason::kUnparsable, std::move(bad));
    };

    auto cidr = node.podCIDR(family);
    if (!cidr) {
      skipMissing("spec.podCIDR", SkipReason::kNoPodCIDR,
                  "spec.podCIDRs has no " + fam() + " CIDR");
      continue;
    }
    ip::Prefix dst = cidr->network();
    ip::Prefix own = *self.podCIDR(family);
    if (dst.overlaps(own)) {
      skip(SkipReason::kPodCIDROverlapsOwn,
           "podCIDR " + dst.str() + " overlaps this node's podCIDR " + own.str());
      continue;
    }
    if (const std::string* winner = claim(family, dst)) {
      skip(SkipReason::kPodCIDRConflict,
           "podCIDR " + dst.str() + " overlaps the podCIDR of node " + *winner);
      continue;
    }

    auto gateway = node.nodeIP(family);
    if (!gateway) {
      skipMissing("status.addresses", SkipReason::kNoNodeIP,
                  "status.addresses has no " + fam() + " InternalIP or ExternalIP");
      continue;
    }
    if (self.nodeIP(family) == gateway) {
      skip(SkipReason::kNodeIPIsOwn, "node IP " + gateway->str() + " is this node's own IP");
      continue;
    }
    bool onLink = std::any_of(self.onLink.begin(), self.onLink.end(),
                              [&](const ip::Prefix& p) { return p.contains(*gateway); });
    if (!onLink) {
      skip(SkipReason::kNotOnLink, "node IP " + gateway->str() +
                                       " is not inside an on-link prefix of this node (" +
                                       joinPrefixes(self.onLink, family) + ")");
      continue;
    }

    netlink::Route route;
    route.dst = dst;
    route.gateway = *gateway;
    route.table = self.table;
    route.protocol = self.protocol;
    route.scope = 0;  // RT_SCOPE_UNIVERSE: the gateway is resolved through the on-link route
    route.type = 1;   // RTN_UNICAST
    // The kernel stores an IPv6 route given metric 0 as metric 1024 (IP6_RT_PRIO_USER),
    // and the metric is part of the route's key: asking for 0 would make every pass see
    // its own route as foreign-keyed and stale. Ask for what the kernel keeps.
    route.priority = dst.family() == ip::Family::kV6 ? 1024 : 0;
    out.routes.push_back(std::move(route));
  }
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

}  // namespace

Desired desiredRoutes(const NodeCache& cache, const SelfInfo& self) {
  Desired out;
  std::vector<ip::Family> families = routedFamilies(self);
  std::map<ip::Family, Claims> claims;
  auto claim = [&](ip::Family family, const ip::Prefix& dst, const std::string* name) {
    const std::string* winner = claims[family].overlapping(dst);
    if (!winner) claims[family].add(dst, name);
    return winner;
  };
  // The cache iterates in name order, which makes "first by name wins" a single pass.
  for (const auto& [name, node] : cache.nodes()) {
    if (name == self.name) continue;
    appendPeer(
        name, node, self, families,
        [&](ip::Family f, const ip::Prefix& dst) { return claim(f, dst, &name); }, out);
  }
  sortRoutes(out.routes);
  // Skips were produced in name order and, per node, in family order: already sorted.
  return out;
}

std::optional<Desired> peerDesired(const NodeCache& cache, const SelfInfo& self,
                                   const std::string& name, const model::Node* node) {
  Desired out;
  if (!node || name == self.name) return out;
  // Any other Node (own excepted: its overlap is a local skip) with an overlapping
  // podCIDR, whether or not it claims it now, makes the answer depend on the rest.
  for (const auto& mine : node->podCIDRs)
    if (cache.podCIDROverlap(mine, name, self.name)) return std::nullopt;
  appendPeer(
      name, *node, self, routedFamilies(self),
      [](ip::Family, const ip::Prefix&) -> const std::string* { return nullptr; }, out);
  sortRoutes(out.routes);
  return out;
}

}  // namespace routelet::reconcile
