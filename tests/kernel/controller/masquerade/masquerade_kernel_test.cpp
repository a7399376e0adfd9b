// The masquerade table against the real kernel, in namespaces of its own: the scripts of
// controller/masquerade/rules.h run through libnftables, the nf_tables monitor names
// who committed, and pod traffic leaves with the node's address only outside the cluster.
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <unistd.h>

#include <string>

#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "common/nft/nftables.h"
#include "controller/masquerade/kernel_masquerade_edge.h"
#include "controller/masquerade/rules.h"
#include "tests/support/netns_fixture.h"

namespace routelet::masquerade {
namespace {

using testing::inside;
using testing::requireRootAndIp;
using testing::shell;
using testing::shellOutput;
using testing::TestNetns;

bool requireNft() {
  if (shell("command -v nft >/dev/null") != 0) {
    ADD_FAILURE() << "this test needs the nft command (Debian package nftables)";
    return false;
  }
  return true;
}

std::vector<ip::Prefix> prefixes(const std::vector<std::string>& texts) {
  std::vector<ip::Prefix> out;
  for (const auto& t : texts) out.push_back(*ip::Prefix::parse(t));
  return out;
}

masquerade::MasqueradeRules rules(const std::vector<std::string>& keep) {
  return {prefixes({"10.244.1.0/24", "fd00:10:244:1::/64"}), prefixes(keep)};
}

// Runs f inside ns on this thread, with the agent's own masquerade edge made there.
template <typename F>
void withEdge(const TestNetns& ns, F f) {
  inside(ns, [&](netlink::Handle&) {
    KernelMasqueradeEdge host;
    f(host);
  });
}

// The whole table for rules, as the agent writes it: shape, then elements.
void program(KernelMasqueradeEdge& host, const masquerade::MasqueradeRules& r) {
  auto st = host.nft(masquerade::masqueradeScript(r));
  ASSERT_TRUE(st.ok()) << st.error().message;
  st = host.elements(masquerade::masqueradeElements(r));
  ASSERT_TRUE(st.ok()) << st.error().message;
}

std::vector<std::string> tablesIn() {
  auto nft = nft::Nftables::open();
  EXPECT_TRUE(nft.ok());
  if (!nft.ok()) return {};
  auto tables = nft->tables();
  EXPECT_TRUE(tables.ok()) << tables.error().message;
  return tables.ok() ? *tables : std::vector<std::string>{};
}

TEST(MasqueradeKernelTest, ShapeAndElementsProgramTheTableAndLeaveOtherTablesAlone) {
  if (!requireRootAndIp() || !requireNft()) return;
  TestNetns ns("masq");
  ASSERT_TRUE(ns.ok());
  ASSERT_EQ(ns.run("nft add table inet other && nft add chain inet other c"), 0);
  withEdge(ns, [&](KernelMasqueradeEdge& host) {
    auto before = rules({"10.96.0.0/12", "10.244.1.0/24", "10.244.2.0/24", "fd00:10:244:1::/64"});
    program(host, before);
    program(host, before);  // replaces whatever holds the name, never fails on it
    std::string listed = ns.output("nft list table inet routelet");
    EXPECT_NE(listed.find("ip daddr & 255.255.255.0 == @exempt_v4_24 return"), std::string::npos)
        << listed;
    EXPECT_NE(listed.find("masquerade fully-random"), std::string::npos) << listed;
    EXPECT_NE(listed.find("hook postrouting"), std::string::npos) << listed;
    EXPECT_NE(ns.output("nft list set inet routelet exempt_v4_24").find("10.244.2.0"),
              std::string::npos);
    EXPECT_NE(ns.output("nft list set inet routelet exempt_v4_12").find("10.96.0.0"),
              std::string::npos);
    EXPECT_NE(ns.output("nft list set inet routelet local_v6").find("fd00:10:244:1::"),
              std::string::npos);

    auto after = rules(
        {"10.96.0.0/12", "10.244.1.0/24", "10.244.3.0/24", "10.244.4.0/24", "fd00:10:244:1::/64"});
    auto update = masquerade::masqueradeUpdate(before, after);
    ASSERT_TRUE(update.has_value());
    auto st = host.elements(*update);
    ASSERT_TRUE(st.ok()) << st.error().message;
    listed = ns.output("nft list set inet routelet exempt_v4_24");
    EXPECT_EQ(listed.find("10.244.2.0"), std::string::npos) << listed;
    EXPECT_NE(listed.find("10.244.3.0"), std::string::npos) << listed;
    EXPECT_NE(listed.find("10.244.4.0"), std::string::npos) << listed;

    // An update against a set someone changed fails whole, naming the set and the reason.
    ASSERT_EQ(ns.run("nft delete element inet routelet exempt_v4_24 '{ 10.244.3.0 }'"), 0);
    auto stale = masquerade::masqueradeUpdate(
        after, rules({"10.96.0.0/12", "10.244.1.0/24", "10.244.5.0/24", "fd00:10:244:1::/64"}));
    st = host.elements(*stale);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message.find("set inet routelet exempt_v4_24"), std::string::npos)
        << st.error().message;
    EXPECT_EQ(ns.output("nft list set inet routelet exempt_v4_24").find("10.244.5.0"),
              std::string::npos)
        << "a failed transaction left part of itself behind";

    EXPECT_EQ(tablesIn(), (std::vector<std::string>{"inet other", "inet routelet"}));
    ASSERT_TRUE(host.nft(masquerade::masqueradeRemovalScript()).ok());
    ASSERT_TRUE(host.nft(masquerade::masqueradeRemovalScript()).ok());  // when absent, too
    EXPECT_EQ(tablesIn(), std::vector<std::string>{"inet other"});
  });
  EXPECT_EQ(ns.run("nft list chain inet other c >/dev/null"), 0);
}

TEST(MasqueradeKernelTest, FiveThousandNodesGoInOneTransaction) {
  if (!requireRootAndIp() || !requireNft()) return;
  TestNetns ns("masqbig");
  ASSERT_TRUE(ns.ok());
  std::vector<std::string> keep = {"10.0.1.0/24"};
  for (int i = 0; i < 5000; ++i) {
    keep.push_back("10." + std::to_string(64 + i / 256) + "." + std::to_string(i % 256) + ".0/24");
    keep.push_back("fd00:" + std::to_string(1000 + i) + "::/64");
  }
  withEdge(ns, [&](KernelMasqueradeEdge& host) {
    program(host,
            {prefixes({"10.0.1.0/24", "fd00:1::/64"}), masquerade::outermost(prefixes(keep))});
  });
  EXPECT_EQ(ns.output("nft list set inet routelet exempt_v4_24 | grep -o '10\\.[0-9.]*' | wc -l"),
            "5001\n");
  EXPECT_EQ(ns.output("nft list set inet routelet exempt_v6_64 | grep -o 'fd00:[0-9]*::' | wc -l"),
            "5000\n");
}

TEST(MasqueradeKernelTest, TheMonitorNamesTheTableAndWhoCommitted) {
  if (!requireRootAndIp() || !requireNft()) return;
  TestNetns ns("masqmon");
  ASSERT_TRUE(ns.ok());
  withEdge(ns, [&](KernelMasqueradeEdge& host) {
    auto monitor = netlink::Monitor::openNftables();
    ASSERT_TRUE(monitor.ok()) << monitor.error().message;
    std::vector<netlink::NftCommit> commits;
    auto collect = [&](std::size_t want) {
      for (int i = 0; i < 50 && commits.size() < want; ++i) {
        auto events = monitor->wait(std::chrono::milliseconds(100));
        ASSERT_TRUE(events.ok()) << events.error().message;
        for (const auto& e : *events)
          if (e.kind == netlink::Event::Kind::kNftCommit) commits.push_back(e.nft);
      }
    };
    program(host, rules({"10.244.1.0/24"}));
    collect(2);  // the shape, then the elements: both ours
    ASSERT_EQ(commits.size(), 2u);
    std::pair<uint8_t, std::string> ours{NFPROTO_INET, "routelet"};
    EXPECT_EQ(commits[0].pid, static_cast<uint32_t>(::getpid()));
    EXPECT_NE(std::find(commits[0].tables.begin(), commits[0].tables.end(), ours),
              commits[0].tables.end());
    EXPECT_EQ(commits[1].pid, static_cast<uint32_t>(::getpid()));
    EXPECT_EQ(commits[1].tables, (std::vector<std::pair<uint8_t, std::string>>{ours}));
    // The element commit names the agent's own socket, by which the agent learns the pid
    // the kernel gives it (in a container, not its getpid()); libnftables' does not.
    auto port = host.portId();
    ASSERT_TRUE(port.ok()) << port.error().message;
    EXPECT_EQ(commits[1].portid, *port);
    EXPECT_NE(commits[0].portid, *port);
    // Someone else deletes one element, then the whole table.
    ASSERT_EQ(ns.run("nft delete element inet routelet exempt_v4_24 '{ 10.244.1.0 }'"), 0);
    ASSERT_EQ(ns.run("nft delete table inet routelet"), 0);
    collect(4);
    ASSERT_EQ(commits.size(), 4u);
    for (std::size_t i = 2; i < 4; ++i) {
      EXPECT_NE(commits[i].pid, static_cast<uint32_t>(::getpid()));
      EXPECT_NE(commits[i].pid, 0u);
      EXPECT_EQ(commits[i].tables, (std::vector<std::pair<uint8_t, std::string>>{ours}));
    }
  });
}

// node: a router with a pod on one side (10.244.1.0/24), a peer node's pod range
// (10.244.2.0/24) on another, and the outside world (192.168.77.0/24, which has no route
// to any pod range) on a third.
struct Topology {
  TestNetns node{"mqnode"}, pod{"mqpod"}, peer{"mqpeer"}, ext{"mqext"};
  bool ok() const { return node.ok() && pod.ok() && peer.ok() && ext.ok(); }
  bool build() {
    auto link = [&](const TestNetns& a, const std::string& aName, const std::string& aAddr,
                    const TestNetns& b, const std::string& bAddr, const std::string& gw) {
      return shell("ip -n " + a.name() + " link add " + aName + " type veth peer name eth0 netns " +
                   b.name()) == 0 &&
             a.run("ip addr add " + aAddr + " dev " + aName + " && ip link set " + aName + " up") ==
                 0 &&
             b.run("ip addr add " + bAddr + " dev eth0 && ip link set eth0 up" +
                   (gw.empty() ? "" : " && ip route add default via " + gw)) == 0;
    };
    return link(node, "p0", "10.244.1.1/24", pod, "10.244.1.2/24", "10.244.1.1") &&
           link(node, "q0", "10.244.2.1/24", peer, "10.244.2.2/24", "10.244.2.1") &&
           link(node, "e0", "192.168.77.1/24", ext, "192.168.77.2/24", "") &&
           node.run("sysctl -qw net.ipv4.ip_forward=1") == 0;
  }
  // What `server` sees as the source of a TCP connection from `client` ("" when none).
  std::string sourceSeen(const TestNetns& client, const TestNetns& server,
                         const std::string& serverIP) {
    std::string out = "/tmp/" + server.name() + ".seen";
    std::string listen =
        "ip netns exec " + server.name() +
        " timeout 3 python3 -c 'import socket,sys\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind((\"0.0.0.0\", 8080)); s.listen(1); print(\"ready\", flush=True)\n"
        "c,a=s.accept(); open(sys.argv[1],\"w\").write(a[0])' " +
        out;
    std::string cmd = "rm -f " + out + "; (" + listen + " | { read r; ip netns exec " +
                      client.name() + " timeout 1 bash -c 'exec 3<>/dev/tcp/" + serverIP +
                      "/8080' ; cat >/dev/null; }) 2>/dev/null; cat " + out +
                      " 2>/dev/null; rm -f " + out;
    return shellOutput(cmd);
  }
};

TEST(MasqueradeKernelTest, PodTrafficLeavesWithTheNodeAddressOnlyOutsideTheCluster) {
  if (!requireRootAndIp() || !requireNft()) return;
  Topology t;
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t.build());
  // The peer's pods know the way back to this node's pods (a routelet route there).
  ASSERT_EQ(t.peer.run("ip route add 10.244.1.0/24 via 10.244.2.1"), 0);
  // Without the table: the outside world cannot answer a pod address.
  EXPECT_EQ(t.sourceSeen(t.pod, t.ext, "192.168.77.2"), "");
  masquerade::MasqueradeRules r{prefixes({"10.244.1.0/24"}),
                                prefixes({"10.244.1.0/24", "10.244.2.0/24"})};
  // The shape alone, sets empty: nothing is masqueraded yet, not even pod to pod.
  withEdge(t.node, [&](KernelMasqueradeEdge& host) {
    ASSERT_TRUE(host.nft(masquerade::masqueradeScript(r)).ok());
  });
  EXPECT_EQ(t.sourceSeen(t.pod, t.peer, "10.244.2.2"), "10.244.1.2");
  withEdge(t.node, [&](KernelMasqueradeEdge& host) {
    ASSERT_TRUE(host.elements(masquerade::masqueradeElements(r)).ok());
  });
  EXPECT_EQ(t.sourceSeen(t.pod, t.ext, "192.168.77.2"), "192.168.77.1");
  // Pod to pod across nodes keeps the pod's address.
  EXPECT_EQ(t.sourceSeen(t.pod, t.peer, "10.244.2.2"), "10.244.1.2");
}

}  // namespace
}  // namespace routelet::masquerade
