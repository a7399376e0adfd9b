// The masquerade table's rules and scripts (controller/masquerade/rules.h).
#include "controller/masquerade/rules.h"

#include <gtest/gtest.h>

#include "tests/unit/controller/routes/builders.h"

namespace routelet::masquerade {
namespace {

using routes::testing::makeNode;
using routes::testing::prefix;

std::vector<ip::Prefix> prefixes(const std::vector<std::string>& texts) {
  std::vector<ip::Prefix> out;
  for (const auto& t : texts) out.push_back(prefix(t));
  return out;
}

routes::SelfInfo self4() {
  routes::SelfInfo s;
  s.name = "a";
  s.podCIDRs = prefixes({"10.244.1.0/24"});
  s.nodeIPs = {routes::testing::addr("192.168.1.11")};
  s.onLink = prefixes({"192.168.1.0/24"});
  return s;
}

TEST(MasqueradeTest, OutermostDropsNestedAndDuplicatePrefixesAndSorts) {
  EXPECT_EQ(outermost(prefixes({"10.244.2.0/24", "10.0.0.0/8", "10.244.1.0/24", "10.244.1.0/24",
                                "192.168.0.0/16", "fd00::/64", "fd00::/48", "172.16.0.0/24"})),
            prefixes({"10.0.0.0/8", "172.16.0.0/24", "192.168.0.0/16", "fd00::/48"}));
  // Adjacent is not nested: both stay (an interval set takes them side by side).
  EXPECT_EQ(outermost(prefixes({"10.244.1.0/24", "10.244.0.0/24"})),
            prefixes({"10.244.0.0/24", "10.244.1.0/24"}));
  // Host bits are cleared before comparing.
  EXPECT_EQ(outermost({*ip::Prefix::parse("10.1.2.3/16", false)}), prefixes({"10.1.0.0/16"}));
}

TEST(MasqueradeTest, ExemptsEveryRoutablePodCIDRTheClusterCIDRsAndNonMasquerade) {
  model::NodeCache cache;
  cache.upsert(makeNode("a", {"10.244.1.0/24"}, {"192.168.1.11"}));
  cache.upsert(makeNode("b", {"10.244.2.0/24", "fd00:10:244:2::/64"}, {"192.168.1.12"}));
  cache.upsert(makeNode("c", {}, {"192.168.1.13"}));  // no podCIDR yet
  routes::SelfInfo self = self4();
  self.clusterCIDRs = prefixes({"10.244.0.0/16"});
  auto rules = masqueradeRules(cache, self, prefixes({"100.64.0.0/10"}));
  EXPECT_EQ(rules.sources, prefixes({"10.244.1.0/24"}));
  // The cluster CIDR holds both podCIDRs: one range. A peer's IPv6 range is exempt even
  // though this node routes only IPv4: it is still a pod range of the cluster.
  EXPECT_EQ(rules.keep, prefixes({"10.244.0.0/16", "100.64.0.0/10", "fd00:10:244:2::/64"}));

  self.clusterCIDRs.clear();
  rules = masqueradeRules(cache, self, {});
  EXPECT_EQ(rules.keep, prefixes({"10.244.1.0/24", "10.244.2.0/24", "fd00:10:244:2::/64"}));
}

TEST(MasqueradeTest, APodCIDRNoNodeMayClaimIsNotExempted) {
  // A compromised Node claiming a public range must not send pods' traffic there out
  // unmasqueraded, nor take the node subnet or cloud metadata out of masquerade.
  model::NodeCache cache;
  cache.upsert(makeNode("a", {"10.244.1.0/24"}, {"192.168.1.11"}));
  cache.upsert(makeNode("evil1", {"8.0.0.0/7"}, {"192.168.1.66"}));       // shorter than /8
  cache.upsert(makeNode("evil2", {"192.168.0.0/16"}, {"192.168.1.67"}));  // covers node IPs
  cache.upsert(makeNode("evil3", {"169.254.0.0/16"}, {"192.168.1.68"}));
  routes::SelfInfo self = self4();
  auto rules = masqueradeRules(cache, self, {});
  EXPECT_EQ(rules.keep, prefixes({"10.244.1.0/24"}));
  // With a cluster CIDR, anything outside it is refused as well.
  cache.upsert(makeNode("evil4", {"9.9.9.0/24"}, {"192.168.1.69"}));
  self.clusterCIDRs = prefixes({"10.244.0.0/16"});
  rules = masqueradeRules(cache, self, {});
  EXPECT_EQ(rules.keep, prefixes({"10.244.0.0/16"}));
}

std::vector<ip::Address> keys(const std::vector<std::string>& texts) {
  std::vector<ip::Address> out;
  for (const auto& t : texts) out.push_back(routes::testing::addr(t));
  return out;
}

TEST(MasqueradeTest, ScriptReplacesTheTableWithASetPerPrefixLengthAndEmptySets) {
  MasqueradeRules rules{
      prefixes({"10.244.1.0/24", "fd00:10:244:1::/64"}),
      prefixes({"10.96.0.0/12", "10.244.1.0/24", "10.244.2.0/24", "fd00:10:244:1::/64"})};
  EXPECT_EQ(masqueradeScript(rules),
            "add table inet routelet\n"
            "delete table inet routelet\n"
            "add table inet routelet\n"
            "add chain inet routelet postrouting { type nat hook postrouting priority srcnat; "
            "policy accept; }\n"
            "add chain inet routelet masquerade_v4\n"
            "add set inet routelet exempt_v4_12 { type ipv4_addr; }\n"
            "add rule inet routelet masquerade_v4 ip daddr & 255.240.0.0 @exempt_v4_12 return\n"
            "add set inet routelet exempt_v4_24 { type ipv4_addr; }\n"
            "add rule inet routelet masquerade_v4 ip daddr & 255.255.255.0 @exempt_v4_24 return\n"
            "add rule inet routelet masquerade_v4 ip daddr 224.0.0.0/4 return\n"
            "add rule inet routelet masquerade_v4 masquerade fully-random\n"
            "add set inet routelet local_v4 { type ipv4_addr; }\n"
            "add rule inet routelet postrouting ip saddr & 255.255.255.0 @local_v4 jump "
            "masquerade_v4\n"
            "add chain inet routelet masquerade_v6\n"
            "add set inet routelet exempt_v6_64 { type ipv6_addr; }\n"
            "add rule inet routelet masquerade_v6 ip6 daddr & ffff:ffff:ffff:ffff:: "
            "@exempt_v6_64 return\n"
            "add rule inet routelet masquerade_v6 ip6 daddr ff00::/8 return\n"
            "add rule inet routelet masquerade_v6 masquerade fully-random\n"
            "add set inet routelet local_v6 { type ipv6_addr; }\n"
            "add rule inet routelet postrouting ip6 saddr & ffff:ffff:ffff:ffff:: @local_v6 jump "
            "masquerade_v6\n");
  // A single-stack node has no rule for the other family: nothing of it is masqueraded.
  auto v4only = masqueradeScript({prefixes({"10.244.1.0/24"}), prefixes({"10.244.1.0/24"})});
  EXPECT_EQ(v4only.find("ip6"), std::string::npos);
}

TEST(MasqueradeTest, ElementsFillTheExemptSetsFirstAndTheLocalSetsLast) {
  // Until the local sets hold this node's podCIDRs the rules match nothing: a half-filled
  // exempt set never masquerades traffic to a pod.
  MasqueradeRules rules{
      prefixes({"10.244.1.0/24", "fd00:10:244:1::/64"}),
      prefixes({"10.96.0.0/12", "10.244.1.0/24", "10.244.2.0/24", "fd00:10:244:1::/64"})};
  EXPECT_EQ(masqueradeElements(rules),
            (std::vector<SetChange>{
                {"exempt_v4_12", ip::Family::kV4, true, keys({"10.96.0.0"}), {}},
                {"exempt_v4_24", ip::Family::kV4, true, keys({"10.244.1.0", "10.244.2.0"}), {}},
                {"exempt_v6_64", ip::Family::kV6, true, keys({"fd00:10:244:1::"}), {}},
                {"local_v4", ip::Family::kV4, true, keys({"10.244.1.0"}), {}},
                {"local_v6", ip::Family::kV6, true, keys({"fd00:10:244:1::"}), {}},
            }));
}

TEST(MasqueradeTest, UpdateChangesOnlyTheElementsThatDiffer) {
  MasqueradeRules from{prefixes({"10.244.1.0/24"}), prefixes({"10.244.1.0/24", "10.244.2.0/24"})};
  MasqueradeRules to{prefixes({"10.244.1.0/24"}),
                     prefixes({"10.244.1.0/24", "10.244.3.0/24", "10.244.4.0/24"})};
  EXPECT_EQ(masqueradeUpdate(from, to),
            (std::vector<SetChange>{
                {"exempt_v4_24", ip::Family::kV4, false, keys({"10.244.2.0"}), {}},
                {"exempt_v4_24", ip::Family::kV4, true, keys({"10.244.3.0", "10.244.4.0"}), {}}}));
  EXPECT_EQ(masqueradeUpdate(from, from), std::vector<SetChange>{});
}

TEST(MasqueradeTest, UpdateGivesWayToTheWholeTableWhenTheShapeChanges) {
  MasqueradeRules from{prefixes({"10.244.1.0/24"}), prefixes({"10.244.1.0/24", "10.244.2.0/24"})};
  // A new prefix length needs a set and a rule of its own.
  MasqueradeRules wider{prefixes({"10.244.1.0/24"}),
                        prefixes({"10.244.1.0/24", "10.244.2.0/24", "10.245.0.0/16"})};
  EXPECT_EQ(masqueradeUpdate(from, wider), std::nullopt);
  // The node's own podCIDR changed: the local set's mask changes.
  MasqueradeRules moved{prefixes({"10.244.9.0/25"}),
                        prefixes({"10.244.9.0/25", "10.244.1.0/24", "10.244.2.0/24"})};
  EXPECT_EQ(masqueradeUpdate(from, moved), std::nullopt);
  // The last range of a length gone: its set and rule go too.
  MasqueradeRules narrower{prefixes({"10.244.1.0/24"}), prefixes({"10.244.0.0/16"})};
  EXPECT_EQ(masqueradeUpdate(from, narrower), std::nullopt);
}

TEST(MasqueradeTest, RemovalSucceedsWhetherOrNotTheTableExists) {
  EXPECT_EQ(masqueradeRemovalScript(), "add table inet routelet\ndelete table inet routelet\n");
}

}  // namespace
}  // namespace routelet::masquerade
