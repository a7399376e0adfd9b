#include "controller/routes/desired.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/controller/routes/builders.h"

namespace routelet::routes {
namespace {

using ip::Family;
using testing::addr;
using testing::makeNode;
using testing::prefix;

struct WantRoute {
  std::string dst;
  std::string gateway;
};
struct WantSkip {
  std::string node;
  std::optional<Family> family;
  SkipReason reason;
};

struct Case {
  std::string name;
  std::vector<model::Node> nodes;
  std::vector<WantRoute> routes;
  std::vector<WantSkip> skips;
  SelfInfo self = testing::seedSelf();
  std::vector<WantRoute> programmed = {};  // routelet's routes already in the kernel
  std::vector<std::pair<std::string, std::string>> ignored = {};  // node, address passed over
};

std::vector<netlink::Route> programmedRoutes(const std::vector<WantRoute>& want) {
  std::vector<netlink::Route> out;
  for (const auto& w : want) {
    netlink::Route r;
    r.dst = prefix(w.dst);
    r.gateway = addr(w.gateway);
    r.protocol = 201;
    out.push_back(r);
  }
  return out;
}

model::Node withProblem(model::Node n, std::string problem) {
  n.problems.push_back(std::move(problem));
  return n;
}
model::Node deleting(model::Node n) {
  n.deleting = true;
  return n;
}
SelfInfo v4Only() {
  SelfInfo s = testing::seedSelf();
  s.podCIDRs = {prefix("10.244.1.0/24")};
  return s;
}

// gtest prints a failing parameter with this instead of its bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::vector<Case> cases() {
  return {
      {.name = "seed three nodes, v4 only",
       .nodes = {makeNode("node-1", {"10.244.1.0/24"}, {"192.168.1.11"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"10.244.3.0/24", "192.168.1.13"}},
       .skips = {},
       .self = v4Only()},
      {.name = "self excluded even when listed with a different IP",
       .nodes = {makeNode("node-1", {"10.244.9.0/24"}, {"192.168.1.99"})},
       .routes = {},
       .skips = {}},
      {.name = "dual-stack peer gets one route per family",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"},
                          {"192.168.1.12", "fd00:1::12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"fd00:10:244:2::/64", "fd00:1::12"}},
       .skips = {}},
      {.name = "peer without IPv6 podCIDR in a dual-stack node",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12", "fd00:1::12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kNoPodCIDR}}},
      {.name = "single-stack self ignores the peer's other family",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"},
                          {"192.168.1.12", "fd00:1::12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
      {.name = "no podCIDR at all yet",
       .nodes = {makeNode("node-2", {}, {"192.168.1.12"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNoPodCIDR}},
       .self = v4Only()},
      {.name = "no node IP of the family",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kNoNodeIP}}},
      {.name = "ExternalIP used when there is no InternalIP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
      {.name = "InternalIP preferred over ExternalIP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}, {"192.168.1.200"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
      {.name = "node IP off-link",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNotOnLink}},
       .self = v4Only()},
      {.name = "deleting node gets no route in any family",
       .nodes = {deleting(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})),
                 makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"})},
       .routes = {{"10.244.3.0/24", "192.168.1.13"}},
       .skips = {{"node-2", std::nullopt, SkipReason::kDeleting}},
       .self = v4Only()},
      {.name = "podCIDR overlapping own",
       .nodes = {makeNode("node-2", {"10.244.0.0/16"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.244.1.128/25"}, {"192.168.1.13"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDROverlapsOwn},
                 {"node-3", Family::kV4, SkipReason::kPodCIDROverlapsOwn}},
       .self = v4Only()},
      {.name = "equal podCIDRs, nothing programmed: no name wins",
       .nodes = {makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDRConflict},
                 {"node-3", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only()},
      {.name = "equal podCIDRs: the programmed route stays, whatever the names",
       .nodes = {makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.13"}},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only(),
       .programmed = {{"10.244.2.0/24", "192.168.1.13"}}},
      {.name = "a route programmed via another gateway keeps nobody",
       .nodes = {makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDRConflict},
                 {"node-3", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only(),
       .programmed = {{"10.244.2.0/24", "192.168.1.99"}}},
      {.name = "nested podCIDRs: programmed routes that do not overlap each other stay",
       .nodes = {makeNode("node-a", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-b", {"10.244.2.0/23"}, {"192.168.1.13"}),
                 makeNode("node-c", {"10.244.3.0/24"}, {"192.168.1.14"}),
                 makeNode("node-d", {"10.244.2.128/25"}, {"192.168.1.15"}),
                 makeNode("node-e", {"10.244.4.0/24"}, {"192.168.1.16"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"},
                  {"10.244.3.0/24", "192.168.1.14"},
                  {"10.244.4.0/24", "192.168.1.16"}},
       .skips = {{"node-b", Family::kV4, SkipReason::kPodCIDRConflict},
                 {"node-d", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only(),
       .programmed = {{"10.244.2.0/24", "192.168.1.12"}, {"10.244.3.0/24", "192.168.1.14"}}},
      {.name = "nested podCIDRs whose programmed routes overlap: nobody in the group",
       .nodes = {makeNode("node-a", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-b", {"10.244.2.0/23"}, {"192.168.1.13"}),
                 makeNode("node-e", {"10.244.4.0/24"}, {"192.168.1.16"})},
       .routes = {{"10.244.4.0/24", "192.168.1.16"}},
       .skips = {{"node-a", Family::kV4, SkipReason::kPodCIDRConflict},
                 {"node-b", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only(),
       .programmed = {{"10.244.2.0/24", "192.168.1.12"}, {"10.244.2.0/23", "192.168.1.13"}}},
      {.name = "the claim counts even when the claimant is off-link",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"}),
                 makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDRConflict},
                 {"node-3", Family::kV4, SkipReason::kPodCIDRConflict}},
       .self = v4Only()},
      {.name = "unsafe podCIDRs are refused, the other peers unaffected",
       .nodes =
           {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"},
                     {"192.168.1.12", "fd00:1::12"}),
            makeNode("node-meta", {"169.254.0.0/24", "fe80::/64"}, {"192.168.1.13", "fd00:1::13"}),
            makeNode("node-mcast", {"239.1.0.0/24", "ff02::/64"}, {"192.168.1.14", "fd00:1::14"}),
            makeNode("node-loop", {"127.1.0.0/24", "::1/128"}, {"192.168.1.15", "fd00:1::15"}),
            makeNode("node-wide", {"12.0.0.0/6", "fd00:20::/31"}, {"192.168.1.16", "fd00:1::16"}),
            makeNode("node-net", {"192.168.0.0/16", "fd00:1::/80"},
                     {"192.168.1.17", "fd00:1::17"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"fd00:10:244:2::/64", "fd00:1::12"}},
       .skips = {{"node-loop", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-loop", Family::kV6, SkipReason::kPodCIDRUnsafe},
                 {"node-mcast", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-mcast", Family::kV6, SkipReason::kPodCIDRUnsafe},
                 {"node-meta", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-meta", Family::kV6, SkipReason::kPodCIDRUnsafe},
                 {"node-net", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-net", Family::kV6, SkipReason::kPodCIDRUnsafe},
                 {"node-wide", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-wide", Family::kV6, SkipReason::kPodCIDRUnsafe}}},
      {.name = "a podCIDR over another Node's IP is routed; that address is passed over",
       .nodes = {makeNode("node-2", {"192.168.0.0/16"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"}),
                 makeNode("node-4", {"10.250.0.0/24"}, {"192.168.1.14"}),
                 makeNode("node-5", {"10.244.5.0/24"}, {"10.250.0.5"})},
       .routes = {{"10.244.3.0/24", "192.168.1.13"}, {"10.250.0.0/24", "192.168.1.14"}},
       .skips = {{"node-2", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-5", Family::kV4, SkipReason::kNoUsableNodeIP}},
       .self = v4Only(),
       .ignored = {{"node-5", "10.250.0.5"}}},
      {.name = "another Node's address inside a peer's podCIDR unroutes nobody",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}, {"10.244.3.77"}),
                 makeNode("node-3", {"10.244.3.0/24"}, {"192.168.1.13"}, {"10.244.3.1"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}, {"10.244.3.0/24", "192.168.1.13"}},
       .skips = {},
       .self = v4Only(),
       .ignored = {{"node-2", "10.244.3.77"}, {"node-3", "10.244.3.1"}}},
      {.name = "an InternalIP inside a podCIDR gives way to a usable ExternalIP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"10.244.2.1"}, {"192.168.1.12"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only(),
       .ignored = {{"node-2", "10.244.2.1"}}},
      {.name = "a node IP inside this node's own podCIDR is passed over",
       .nodes = {makeNode("node-1", {"10.244.1.0/24"}, {"192.168.1.11"}),
                 makeNode("node-2", {"10.244.2.0/24"}, {"10.244.1.7"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNoUsableNodeIP}},
       .self =
           [] {
             SelfInfo s = v4Only();
             s.onLink.push_back(prefix("10.244.1.0/24"));  // the bridge's subnet
             return s;
           }(),
       .ignored = {{"node-2", "10.244.1.7"}}},
      {.name = "addresses that are no unicast host, or in the cluster CIDR, are passed over",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"0.0.0.0"}),
                 makeNode("node-3", {"10.244.3.0/24"}, {"127.0.0.1", "224.0.0.1"}),
                 makeNode("node-4", {"10.244.4.0/24"}, {"255.255.255.255"}),
                 makeNode("node-5", {"10.244.5.0/24"}, {}, {"169.254.169.254"}),
                 makeNode("node-6", {"10.244.6.0/24"}, {"10.244.200.9"}),
                 makeNode("node-7", {"10.244.7.0/24"}, {"240.0.0.7", "192.168.1.17"})},
       .routes = {{"10.244.7.0/24", "192.168.1.17"}},
       .skips = {{"node-2", Family::kV4, SkipReason::kNoUsableNodeIP},
                 {"node-3", Family::kV4, SkipReason::kNoUsableNodeIP},
                 {"node-4", Family::kV4, SkipReason::kNoUsableNodeIP},
                 {"node-5", Family::kV4, SkipReason::kNoUsableNodeIP},
                 {"node-6", Family::kV4, SkipReason::kNoUsableNodeIP}},
       .self =
           [] {
             SelfInfo s = v4Only();
             s.clusterCIDRs = {prefix("10.244.0.0/16")};
             return s;
           }(),
       .ignored = {{"node-2", "0.0.0.0"},
                   {"node-3", "127.0.0.1"},
                   {"node-3", "224.0.0.1"},
                   {"node-4", "255.255.255.255"},
                   {"node-5", "169.254.169.254"},
                   {"node-6", "10.244.200.9"},
                   {"node-7", "240.0.0.7"}}},
      {.name = "IPv6 addresses that are no unicast host are passed over",
       .nodes = {makeNode("node-2", {"10.244.2.0/24", "fd00:10:244:2::/64"},
                          {"192.168.1.12", "::1", "fe80::7", "ff02::1", "::ffff:192.168.1.12"},
                          {"::"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kNoUsableNodeIP}},
       .ignored = {{"node-2", "::"},
                   {"node-2", "::1"},
                   {"node-2", "::ffff:192.168.1.12"},
                   {"node-2", "fe80::7"},
                   {"node-2", "ff02::1"}}},
      {.name = "with a cluster CIDR, a podCIDR outside it is refused",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.96.0.0/24"}, {"192.168.1.13"}),
                 makeNode("node-4", {"10.0.0.0/12"}, {"192.168.1.14"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-3", Family::kV4, SkipReason::kPodCIDRUnsafe},
                 {"node-4", Family::kV4, SkipReason::kPodCIDRUnsafe}},
       .self =
           [] {
             SelfInfo s = v4Only();
             s.clusterCIDRs = {prefix("10.244.0.0/16")};
             return s;
           }()},
      {.name = "the prefix bound is a setting",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}),
                 makeNode("node-3", {"10.0.0.0/12"}, {"192.168.1.13"})},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-3", Family::kV4, SkipReason::kPodCIDRUnsafe}},
       .self =
           [] {
             SelfInfo s = v4Only();
             s.minPodCIDRLengthV4 = 16;
             return s;
           }()},
      {.name = "peer announcing this node's IP",
       .nodes = {makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.11"})},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNodeIPIsOwn}},
       .self = v4Only()},
      {.name = "unparsable podCIDR",
       .nodes = {withProblem(makeNode("node-2", {}, {"192.168.1.12"}),
                             "spec.podCIDRs[0] \"garbage\": invalid CIDR")},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kUnparsable}},
       .self = v4Only()},
      {.name = "unparsable address",
       .nodes = {withProblem(makeNode("node-2", {"10.244.2.0/24"}, {}),
                             "status.addresses[0] \"192.168.1.999\": invalid IP address")},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kUnparsable}},
       .self = v4Only()},
      {.name = "problems in one family, the other still routed",
       .nodes = {withProblem(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12", "fd00:1::12"}),
                             "spec.podCIDRs[1] \"fd00::zz/64\": invalid CIDR")},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {{"node-2", Family::kV6, SkipReason::kUnparsable}}},
      {.name = "problems in unrelated fields do not hide the real reason",
       .nodes = {withProblem(makeNode("node-2", {}, {"192.168.1.12"}),
                             "metadata.annotations[routelet.io/mtu] \"x\": too long")},
       .routes = {},
       .skips = {{"node-2", Family::kV4, SkipReason::kNoPodCIDR}},
       .self = v4Only()},
      {.name = "host bits in a podCIDR are cleared",
       .nodes = {[] {
         auto n = makeNode("node-2", {}, {"192.168.1.12"});
         n.podCIDRs.push_back(ip::Prefix::parse("10.244.2.7/24", false).value());
         return n;
       }()},
       .routes = {{"10.244.2.0/24", "192.168.1.12"}},
       .skips = {},
       .self = v4Only()},
  };
}

class DesiredTest : public ::testing::TestWithParam<Case> {};

TEST_P(DesiredTest, Computes) {
  const Case& c = GetParam();
  model::NodeCache cache;
  for (const auto& n : c.nodes) (void)cache.upsert(n);
  Desired d = desiredRoutes(cache, c.self, programmedRoutes(c.programmed));

  ASSERT_EQ(d.routes.size(), c.routes.size());
  for (std::size_t i = 0; i < c.routes.size(); ++i) {
    const auto& r = d.routes[i];
    EXPECT_EQ(r.dst, prefix(c.routes[i].dst));
    ASSERT_TRUE(r.gateway.has_value());
    EXPECT_EQ(*r.gateway, addr(c.routes[i].gateway));
    EXPECT_EQ(r.protocol, c.self.protocol);
    EXPECT_EQ(r.table, 254u);
    EXPECT_EQ(r.scope, 0);
    EXPECT_EQ(r.type, 1);
    // IPv6 asks for the metric the kernel keeps for 0 (1024), so dumps match the plan.
    EXPECT_EQ(r.priority, r.dst.family() == ip::Family::kV6 ? 1024u : 0u);
    EXPECT_EQ(r.oif, 0);
    EXPECT_FALSE(r.onlink);
  }
  ASSERT_EQ(d.skipped.size(), c.skips.size());
  for (std::size_t i = 0; i < c.skips.size(); ++i) {
    EXPECT_EQ(d.skipped[i].node, c.skips[i].node) << i;
    EXPECT_EQ(d.skipped[i].family, c.skips[i].family) << i;
    EXPECT_EQ(d.skipped[i].reason, c.skips[i].reason)
        << i << ": " << skipReasonName(d.skipped[i].reason) << " " << d.skipped[i].detail;
    EXPECT_FALSE(d.skipped[i].detail.empty());
  }
  std::vector<std::pair<std::string, std::string>> ignored;
  for (const auto& i : d.ignored) {
    ignored.emplace_back(i.node, i.address.str());
    EXPECT_FALSE(i.why.empty());
  }
  EXPECT_EQ(ignored, c.ignored);
}

// The targeted pass's computation for one peer gives exactly that peer's share of the whole
// one, or declines, precisely when another Node's podCIDR overlaps the peer's.
TEST_P(DesiredTest, PeerDesiredIsThePeersShareOfTheWhole) {
  const Case& c = GetParam();
  model::NodeCache cache;
  for (const auto& n : c.nodes) (void)cache.upsert(n);
  Desired whole = desiredRoutes(cache, c.self, programmedRoutes(c.programmed));
  for (const auto& [name, node] : cache.nodes()) {
    bool overlapped = false;
    for (const auto& [other, peer] : cache.nodes()) {
      if (other == name) continue;
      for (const auto& b : peer.podCIDRs) {
        for (const auto& a : node.podCIDRs)
          overlapped = overlapped || (other != c.self.name && a.overlaps(b));
        // A node IP inside another Node's podCIDR is passed over because of that Node.
        for (const auto* ips : {&node.internalIPs, &node.externalIPs})
          for (const auto& ip : *ips) overlapped = overlapped || b.contains(ip);
      }
    }
    // A podCIDR over any Node's IP makes that Node pass the IP over.
    for (const auto& [other, peer] : cache.nodes())
      for (const auto* ips : {&peer.internalIPs, &peer.externalIPs})
        for (const auto& ip : *ips)
          for (const auto& a : node.podCIDRs) overlapped = overlapped || a.contains(ip);
    auto mine = peerDesired(cache, c.self, name, &node);
    if (name == c.self.name || !overlapped) {
      ASSERT_TRUE(mine.has_value()) << name;
    } else {
      EXPECT_FALSE(mine.has_value()) << name;
      continue;
    }
    std::vector<netlink::Route> routes;
    for (const auto& r : whole.routes)
      for (const auto& cidr : node.podCIDRs)
        if (name != c.self.name && r.dst == cidr.network()) routes.push_back(r);
    std::vector<Skip> skips;
    for (const auto& sk : whole.skipped)
      if (sk.node == name) skips.push_back(sk);
    std::vector<IgnoredAddress> ignored;
    for (const auto& i : whole.ignored)
      if (i.node == name) ignored.push_back(i);
    EXPECT_EQ(mine->routes, routes) << name;
    EXPECT_EQ(mine->skipped, skips) << name;
    EXPECT_EQ(mine->ignored, ignored) << name;
  }
  // A peer that is not (or no longer) there has nothing.
  auto none = peerDesired(cache, c.self, "not-a-node", nullptr);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->routes.empty() && none->skipped.empty());
}

INSTANTIATE_TEST_SUITE_P(Cases, DesiredTest, ::testing::ValuesIn(cases()),
                         [](const auto& param) { return testing::testName(param.param.name); });

TEST(Desired, SkipDetailsNameFieldAndValue) {
  model::NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.2.12"}));
  (void)cache.upsert(makeNode("node-3", {"10.244.2.0/24"}, {"192.168.1.13"}));
  (void)cache.upsert(withProblem(makeNode("node-4", {}, {"192.168.1.14"}),
                                 "spec.podCIDRs[0] \"garbage\": invalid CIDR"));
  (void)cache.upsert(makeNode("node-5", {"10.244.5.0/24"}, {"192.168.2.15"}));
  (void)cache.upsert(makeNode("node-6", {"169.254.0.0/16"}, {"192.168.1.16"}));
  Desired d = desiredRoutes(cache, v4Only());
  ASSERT_EQ(d.skipped.size(), 5u);
  EXPECT_EQ(d.skipped[0].detail,
            "spec.podCIDRs 10.244.2.0/24 overlaps 10.244.2.0/24 of node node-3: none of them is "
            "routed until the Nodes are corrected");
  EXPECT_EQ(d.skipped[1].detail,
            "spec.podCIDRs 10.244.2.0/24 overlaps 10.244.2.0/24 of node node-2: none of them is "
            "routed until the Nodes are corrected");
  EXPECT_EQ(d.skipped[2].detail, "spec.podCIDRs[0] \"garbage\": invalid CIDR");
  EXPECT_EQ(d.skipped[3].detail,
            "node IP 192.168.2.15 is not inside an on-link prefix of this node (192.168.1.0/24); "
            "mode auto or vxlan would reach it over VXLAN");
  EXPECT_EQ(d.skipped[4].detail,
            "spec.podCIDRs 169.254.0.0/16 overlaps the link-local (metadata services) range "
            "169.254.0.0/16");
}

// A Node claiming a range over 905 others, named to sort first: on an agent that
// programmed the others it takes nothing, and its refusal stays one bounded line; on an agent
// with nothing programmed nobody in the range is routed (docs/operations.md says so).
TEST(Desired, AWideClaimOverManyNodesNeitherWinsNorFloodsTheReport) {
  model::NodeCache cache = testing::largeCluster(5000);
  const SelfInfo self = testing::largeSelf();
  std::vector<netlink::Route> programmed = desiredRoutes(cache, self).routes;
  ASSERT_EQ(programmed.size(), 4999u);
  auto hostile = makeNode("node-0-hostile", {"100.80.0.0/12"}, {"10.0.250.1"});
  (void)cache.upsert(hostile);

  Desired kept = desiredRoutes(cache, self, programmed);
  EXPECT_EQ(kept.routes, programmed);
  ASSERT_EQ(kept.skipped.size(), 1u);
  EXPECT_EQ(kept.skipped[0].node, "node-0-hostile");
  EXPECT_EQ(kept.skipped[0].reason, SkipReason::kPodCIDRConflict);
  EXPECT_LT(kept.skipped[0].detail.size(), 200u) << kept.skipped[0].detail;
  EXPECT_EQ(kept.keptInConflict.size(), 905u);  // node-04096 .. node-05000

  Desired fresh = desiredRoutes(cache, self);
  EXPECT_EQ(fresh.routes.size(), 4999u - 905u);
  EXPECT_EQ(fresh.skipped.size(), 906u);
}

// Issue 23, row 1: one Node listing 256 addresses, one inside every peer's podCIDR, used to
// unroute every peer on every node. Now its addresses are passed over and nobody else loses
// anything, the Node itself included (its InternalIP is usable).
TEST(Desired, OneNodesAddressesInsideEveryPodCIDRUnrouteNobody) {
  model::NodeCache cache;
  std::vector<std::string> hostile;
  for (int i = 0; i < 256; ++i) hostile.push_back("10.244." + std::to_string(i) + ".77");
  (void)cache.upsert(makeNode("node-1", {"10.244.1.0/24"}, {"192.168.1.11"}));
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}, hostile));
  for (int i = 3; i <= 9; ++i)
    (void)cache.upsert(makeNode("node-" + std::to_string(i),
                                {"10.244." + std::to_string(i) + ".0/24"},
                                {"192.168.1.1" + std::to_string(i)}));
  Desired d = desiredRoutes(cache, v4Only());
  EXPECT_EQ(d.routes.size(), 8u);
  EXPECT_TRUE(d.skipped.empty());
  // Passed over: the ones inside a podCIDR (1..9); the others lie in no pod range.
  EXPECT_EQ(d.ignored.size(), 9u);
  for (const auto& i : d.ignored) EXPECT_EQ(i.node, "node-2");
}

TEST(Desired, UsesProtocolAndTableOfSelf) {
  model::NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}));
  SelfInfo self = v4Only();
  self.protocol = 99;
  self.table = 100;
  Desired d = desiredRoutes(cache, self);
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_EQ(d.routes[0].protocol, 99);
  EXPECT_EQ(d.routes[0].table, 100u);
}

TEST(Desired, NoOwnPodCIDRMeansNoRoutes) {
  model::NodeCache cache;
  (void)cache.upsert(makeNode("node-2", {"10.244.2.0/24"}, {"192.168.1.12"}));
  SelfInfo self = testing::seedSelf();
  self.podCIDRs.clear();
  Desired d = desiredRoutes(cache, self);
  EXPECT_TRUE(d.routes.empty());
  EXPECT_TRUE(d.skipped.empty());
}

TEST(Desired, LargeClusterIsSortedAndComplete) {
  model::NodeCache cache = testing::largeCluster(5000);
  Desired d = desiredRoutes(cache, testing::largeSelf());
  ASSERT_EQ(d.routes.size(), 4999u);
  EXPECT_TRUE(d.skipped.empty());
  for (std::size_t i = 1; i < d.routes.size(); ++i)
    EXPECT_LT(d.routes[i - 1].key(), d.routes[i].key());
}

TEST(Desired, SkipReasonNamesAreDistinct) {
  std::set<std::string> names;
  for (auto r :
       {SkipReason::kDeleting, SkipReason::kNoPodCIDR, SkipReason::kNoNodeIP,
        SkipReason::kUnparsable, SkipReason::kPodCIDROverlapsOwn, SkipReason::kPodCIDRConflict,
        SkipReason::kNodeIPIsOwn, SkipReason::kNotOnLink, SkipReason::kPodCIDRUnsafe,
        SkipReason::kNoTunnel, SkipReason::kVtepMacConflict, SkipReason::kNoUsableNodeIP})
    names.insert(skipReasonName(r));
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace routelet::routes
