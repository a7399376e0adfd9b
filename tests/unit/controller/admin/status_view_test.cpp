#include "controller/admin/status_view.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "controller/admin/fake_system.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::admin {
namespace {

using status::AgentStatus;
using status::FeatureStatus;
using status::PeerRecord;
using status::VxlanStatus;

using routes::testing::addr;
using routes::testing::prefix;
using testing::vxlanLink;

netlink::Route route(const char* dst, const char* via, uint8_t proto) {
  netlink::Route r;
  r.dst = prefix(dst);
  r.gateway = addr(via);
  r.protocol = proto;
  r.oif = 2;
  return r;
}

PeerRecord peer(const char* name, const char* cidr, const char* nodeIP,
                const char* state = "programmed", const char* detail = "") {
  return PeerRecord{name, ip::Family::kV4, prefix(cidr), addr(nodeIP), state, detail, ""};
}

// A healthy node: agent ready, both peers' routes in the kernel, bridge up, config first,
// masquerade on with its table in the kernel, bridge netfilter on and its sysctls at 1.
StatusFacts healthy() {
  StatusFacts f;
  f.statusPath = "/run/routelet/status.json";
  AgentStatus a;
  a.node = "lab-1";
  a.ready = true;
  a.state = "ready";
  a.bridge = "cni0";
  a.mtu = 1500;
  a.podCIDRs = {prefix("10.244.1.0/24")};
  a.nodeIPs = {addr("192.168.1.11")};
  a.cniConfig = "/etc/cni/net.d/10-routelet.conflist";
  a.routeProtocol = 201;
  a.peers = {peer("lab-2", "10.244.2.0/24", "192.168.1.12"),
             peer("lab-3", "10.244.3.0/24", "192.168.1.13")};
  a.masquerade = FeatureStatus{true, "3 destination ranges exempt", "", "inet routelet"};
  a.bridgeNetfilter = FeatureStatus{true, "", "", ""};
  a.hairpin = true;
  f.agent = a;
  f.masqueradeTablePresent = true;
  f.bridgeNfCallIptables = "1";
  f.bridgeNfCallIp6tables = "1";
  f.routes = {route("10.244.2.0/24", "192.168.1.12", 201),
              route("10.244.3.0/24", "192.168.1.13", 201), route("0.0.0.0/0", "192.168.1.1", 3)};
  f.bridgeName = "cni0";
  netlink::Link br;
  br.name = "cni0";
  br.kind = "bridge";
  br.up = true;
  br.mtu = 1500;
  f.bridge = br;
  f.cniConfigPath = "/etc/cni/net.d/10-routelet.conflist";
  f.cniConfigPresent = true;
  f.cniConfDirFiles = {"10-routelet.conflist", "README"};
  f.listen = "0.0.0.0:9654";
  f.healthz = {200, "ok"};
  f.readyz = {200, "ok"};
  return f;
}

// Mode auto: lab-2 on-link (direct), lab-3 off the node's subnets, so over routelet.vxlan
// via its VTEP address (the network address of its podCIDR).
StatusFacts overVxlan() {
  auto f = healthy();
  f.agent->vxlan = VxlanStatus{"auto", {{"routelet.vxlan", true, "0e:72:0a:f4:01:00"}}, 1, 1, 2};
  f.agent->peers[0].path = "direct";
  f.agent->peers[1] = peer("lab-3", "10.244.3.0/24", "10.9.9.13");
  f.agent->peers[1].path = "vxlan";
  f.routes[1] = route("10.244.3.0/24", "10.244.3.0", 201);
  f.routes[1].oif = 9;
  f.routes[1].onlink = true;
  f.vxlanLinks = {vxlanLink(9, "routelet.vxlan")};
  return f;
}

const PeerView& peerNamed(const StatusView& v, const std::string& name) {
  for (const auto& p : v.peers)
    if (p.node == name) return p;
  throw std::runtime_error("no peer " + name);
}

TEST(StatusViewTest, HealthyNodeHasNoProblems) {
  auto v = assessStatus(healthy());
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  ASSERT_EQ(v.peers.size(), 2u);
  EXPECT_EQ(v.peers[0].state, "programmed");
  EXPECT_TRUE(v.peers[0].ok);
  EXPECT_TRUE(v.extraRoutes.empty());
  EXPECT_NE(renderStatusText(v).find("\nhealthy\n"), std::string::npos);
}

TEST(StatusViewTest, ProgrammedPeerWhoseRouteIsGoneIsMissing) {
  auto f = healthy();
  f.routes.erase(f.routes.begin() + 1);  // lab-3's route deleted by hand
  auto v = assessStatus(f);
  EXPECT_EQ(peerNamed(v, "lab-2").state, "programmed");
  EXPECT_EQ(peerNamed(v, "lab-3").state, "missing");
  EXPECT_FALSE(peerNamed(v, "lab-3").ok);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0], "1 of 2 peer routes not programmed");
}

TEST(StatusViewTest, ForeignRouteInTheWayAndWrongGateway) {
  auto f = healthy();
  f.routes[0] = route("10.244.2.0/24", "192.168.1.99", 4);    // someone else's (proto static)
  f.routes[1] = route("10.244.3.0/24", "192.168.1.99", 201);  // ours, but an old gateway
  auto v = assessStatus(f);
  EXPECT_EQ(peerNamed(v, "lab-2").state, "conflict");
  EXPECT_NE(peerNamed(v, "lab-2").detail.find("via 192.168.1.99"), std::string::npos);
  EXPECT_EQ(describeState("conflict"), "foreign route in the way");
  EXPECT_EQ(peerNamed(v, "lab-3").state, "stale");
  EXPECT_NE(peerNamed(v, "lab-3").detail.find("192.168.1.13"), std::string::npos);
}

TEST(StatusViewTest, AgentVerdictsOtherThanProgrammedAreKeptAndDegrade) {
  auto f = healthy();
  f.agent->peers[1] =
      peer("lab-3", "10.244.3.0/24", "10.9.9.9", "not-on-link", "node IP 10.9.9.9 is not on-link");
  f.agent->peers.push_back(peer("lab-4", "10.244.4.0/24", "192.168.1.14", "deleting"));
  f.agent->state = "degraded: 1 peer not on-link";
  f.routes.erase(f.routes.begin() + 1);
  auto v = assessStatus(f);
  EXPECT_EQ(peerNamed(v, "lab-3").state, "not-on-link");
  EXPECT_EQ(describeState("not-on-link"), "not on-link");
  EXPECT_TRUE(peerNamed(v, "lab-4").ok);  // a Node being deleted loses its route by design
  EXPECT_EQ(v.problems.size(), 2u);       // the agent's state, and one peer not programmed
  std::string text = renderStatusText(v);
  EXPECT_NE(text.find("not on-link: node IP 10.9.9.9 is not on-link"), std::string::npos) << text;
  EXPECT_NE(text.find("DEGRADED:"), std::string::npos);
}

TEST(StatusViewTest, RoutesNoPeerAccountsForAreListedNotCounted) {
  auto f = healthy();
  f.routes.push_back(route("10.244.9.0/24", "192.168.1.19", 201));
  auto v = assessStatus(f);
  ASSERT_EQ(v.extraRoutes.size(), 1u);
  EXPECT_NE(v.extraRoutes[0].find("10.244.9.0/24"), std::string::npos);
  EXPECT_TRUE(v.problems.empty());
}

TEST(StatusViewTest, NodeLevelProblems) {
  auto f = healthy();
  f.agent.reset();
  f.agentError = "missing";
  f.bridge->up = false;
  f.cniConfigPresent = false;
  f.healthz = {0, "connect 127.0.0.1:9654: Connection refused"};
  auto v = assessStatus(f);
  ASSERT_EQ(v.problems.size(), 4u);
  EXPECT_NE(v.problems[0].find("does not answer on 0.0.0.0:9654"), std::string::npos);
  EXPECT_NE(v.problems[1].find("no agent status in /run/routelet/status.json"), std::string::npos);
  EXPECT_EQ(v.problems[2], "bridge cni0 is down");
  EXPECT_EQ(v.problems[3], "CNI config /etc/cni/net.d/10-routelet.conflist does not exist");
  // Without the agent's account, routelet's routes are still shown.
  EXPECT_EQ(v.extraRoutes.size(), 2u);

  auto g = healthy();
  g.bridge.reset();
  g.agent->ready = false;
  g.agent->notReadyReason = "no podCIDR on Node lab-1";
  g.healthz = {503, "reconcile loop stuck"};
  auto w = assessStatus(g);
  ASSERT_EQ(w.problems.size(), 3u);
  EXPECT_EQ(w.problems[0], "the agent's /healthz says 503 reconcile loop stuck");
  EXPECT_EQ(w.problems[1], "the agent is not ready: no podCIDR on Node lab-1");
  EXPECT_EQ(w.problems[2], "bridge cni0 does not exist");
}

TEST(StatusViewTest, AnotherPluginsConfigAheadInTheConfDir) {
  EXPECT_EQ(firstCniConfig({"10-routelet.conflist", "05-other.conf", "00-notes.txt"}),
            "05-other.conf");
  EXPECT_EQ(firstCniConfig({"a.json", "b.conflist"}), "a.json");
  EXPECT_EQ(firstCniConfig({"README"}), "");
  auto f = healthy();
  f.cniConfDirFiles.push_back("05-other.conflist");
  auto v = assessStatus(f);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("loads 05-other.conflist"), std::string::npos);
  EXPECT_NE(renderStatusText(v).find("(runtime loads 05-other.conflist first)"), std::string::npos);
}

TEST(StatusViewTest, TextIsATableReadableInATerminal) {
  std::string text = renderStatusText(assessStatus(healthy()));
  EXPECT_EQ(text,
            "node        lab-1\n"
            "state       ready\n"
            "agent       /healthz 200 ok, /readyz 200 ok on 0.0.0.0:9654\n"
            "bridge      cni0 up, mtu 1500\n"
            "cni config  /etc/cni/net.d/10-routelet.conflist\n"
            "pod CIDRs   10.244.1.0/24\n"
            "node IPs    192.168.1.11\n"
            "routes      proto 201\n"
            "masquerade  on, table inet routelet, 3 destination ranges exempt\n"
            "net policy  unknown\n"
            "bridge nf   on (iptables 1, ip6tables 1)\n"
            "hairpin     on\n"
            "mode        unknown (the agent is older than --mode)\n"
            "\n"
            "PEER   IPV  NODE IP       POD CIDR       PATH  ROUTE\n"
            "lab-2  4    192.168.1.12  10.244.2.0/24  -     programmed\n"
            "lab-3  4    192.168.1.13  10.244.3.0/24  -     programmed\n"
            "\n"
            "healthy\n");
}

TEST(StatusViewTest, PeersOverVxlanAreCheckedAgainstTheirVtepRoute) {
  auto v = assessStatus(overVxlan());
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  EXPECT_EQ(peerNamed(v, "lab-2").path, "direct");
  EXPECT_EQ(peerNamed(v, "lab-3").path, "vxlan");
  EXPECT_EQ(peerNamed(v, "lab-3").state, "programmed");
  EXPECT_EQ(renderStatusText(v).substr(renderStatusText(v).find("hairpin")),
            "hairpin     on\n"
            "mode        auto: 1 peer routes direct, 1 over VXLAN, 2 tunnel entries\n"
            "vxlan       routelet.vxlan up, mtu 1450, vni 1, port 8472, local 192.168.1.11, "
            "mac 0e:72:0a:f4:01:00\n"
            "\n"
            "PEER   IPV  NODE IP       POD CIDR       PATH    ROUTE\n"
            "lab-2  4    192.168.1.12  10.244.2.0/24  direct  programmed\n"
            "lab-3  4    10.9.9.13     10.244.3.0/24  vxlan   programmed\n"
            "\n"
            "healthy\n");

  // A route via the node IP (as host-gw would make it) is not the VXLAN route.
  auto f = overVxlan();
  f.routes[1] = route("10.244.3.0/24", "10.9.9.13", 201);
  v = assessStatus(f);
  EXPECT_EQ(peerNamed(v, "lab-3").state, "stale");
  EXPECT_EQ(peerNamed(v, "lab-3").detail,
            "the kernel's route goes via 10.9.9.13, the peer's VTEP address is 10.244.3.0");
  // Via the VTEP address, but not through routelet.vxlan.
  f.routes[1] = route("10.244.3.0/24", "10.244.3.0", 201);
  v = assessStatus(f);
  EXPECT_EQ(peerNamed(v, "lab-3").state, "stale");
  EXPECT_EQ(peerNamed(v, "lab-3").detail,
            "the kernel's route goes through dev 2, not routelet.vxlan (9)");
}

TEST(StatusViewTest, AnExpectedVxlanDeviceMissingDownOrNotReadyDegrades) {
  struct Case {
    const char* what;
    std::function<void(StatusFacts&)> change;
    const char* problem;
    const char* line;
  };
  for (const auto& c : std::vector<Case>{
           {"missing", [](StatusFacts& f) { f.vxlanLinks.clear(); },
            "VXLAN device routelet.vxlan (mode auto) does not exist",
            "vxlan       routelet.vxlan MISSING, mac 0e:72:0a:f4:01:00\n"},
           {"down", [](StatusFacts& f) { f.vxlanLinks[0].up = false; },
            "VXLAN device routelet.vxlan (mode auto) is down",
            "vxlan       routelet.vxlan DOWN, mtu 1450"},
           {"not ready", [](StatusFacts& f) { f.agent->vxlan->devices[0].ready = false; },
            "VXLAN device routelet.vxlan (mode auto): the agent reports it not ready",
            "mac 0e:72:0a:f4:01:00, not ready\n"},
           {"not vxlan",
            [](StatusFacts& f) {
              f.vxlanLinks[0].kind = "bridge";
              f.vxlanLinks[0].vxlan.reset();
            },
            "VXLAN device routelet.vxlan (mode auto): the link of that name is a bridge, not a "
            "VXLAN device",
            "vxlan       routelet.vxlan is a bridge, not VXLAN"},
       }) {
    auto f = overVxlan();
    c.change(f);
    auto v = assessStatus(f);
    ASSERT_EQ(v.problems.size(), 1u) << c.what;
    EXPECT_EQ(v.problems[0], c.problem) << c.what;
    std::string text = renderStatusText(v);
    EXPECT_NE(text.find(c.line), std::string::npos) << c.what << "\n" << text;
    EXPECT_NE(text.find("DEGRADED:"), std::string::npos) << c.what;
  }
}

TEST(StatusViewTest, HostGwAndOlderAgentsExpectNoVxlanDevice) {
  auto f = healthy();
  f.agent->vxlan = VxlanStatus{"host-gw", {}, 0, 0, 0};
  auto v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  std::string text = renderStatusText(v);
  EXPECT_NE(text.find("mode        host-gw\n\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("vxlan  "), std::string::npos) << text;

  // A device left in the kernel is shown (cleanup removes it) but not a problem.
  f.vxlanLinks = {vxlanLink(9, "routelet.vxlan")};
  v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  ASSERT_EQ(v.vxlan.devices.size(), 1u);
  EXPECT_FALSE(v.vxlan.devices[0].expected);
  EXPECT_NE(renderStatusText(v).find("vxlan       routelet.vxlan up, mtu 1450, vni 1, port 8472, "
                                     "local 192.168.1.11, not used (mode host-gw)\n"),
            std::string::npos)
      << renderStatusText(v);
  f.agent->vxlan.reset();
  v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  EXPECT_NE(renderStatusText(v).find("local 192.168.1.11, not reported by the agent\n"),
            std::string::npos);
}

TEST(StatusViewTest, JsonCarriesModeDevicesAndPaths) {
  auto f = overVxlan();
  f.vxlanLinks.push_back(vxlanLink(10, "routelet.vxlan6"));
  auto doc = nlohmann::json::parse(renderStatusJson(assessStatus(f)));
  EXPECT_EQ(doc["peers"][0]["path"], "direct");
  EXPECT_EQ(doc["peers"][1]["path"], "vxlan");
  EXPECT_EQ(doc["vxlan"], nlohmann::json::parse(R"({
      "reported": true, "mode": "auto", "direct": 1, "encapsulated": 1, "entries": 2,
      "devices": [
        {"name": "routelet.vxlan", "expected": true, "ready": true, "mac": "0e:72:0a:f4:01:00",
         "present": true, "kind": "vxlan", "up": true, "mtu": 1450, "vni": 1, "port": 8472,
         "local": "192.168.1.11", "underlay": 2, "learning": false},
        {"name": "routelet.vxlan6", "expected": false, "ready": false,
         "present": true, "kind": "vxlan", "up": true, "mtu": 1450, "vni": 1, "port": 8472,
         "local": "192.168.1.11", "underlay": 2, "learning": false}]})"));

  doc = nlohmann::json::parse(renderStatusJson(assessStatus(healthy())));
  EXPECT_FALSE(doc["peers"][0].contains("path"));
  EXPECT_EQ(doc["vxlan"]["reported"], false);
  EXPECT_EQ(doc["vxlan"]["devices"].size(), 0u);
}

// The agent believes the table programmed, but the kernel has none: pods' traffic to the
// outside leaves with pod addresses.
TEST(StatusViewTest, MasqueradeOnWithoutItsTableDegrades) {
  auto f = healthy();
  f.masqueradeTablePresent = false;
  auto v = assessStatus(f);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0], "masquerade is on but nftables table inet routelet does not exist");
  EXPECT_NE(renderStatusText(v).find(
                "masquerade  on, table inet routelet MISSING, 3 destination ranges exempt\n"),
            std::string::npos)
      << renderStatusText(v);

  // Off: no table is what should be, and a leftover one is shown.
  f.agent->masquerade = FeatureStatus{false, "", "", ""};
  v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  EXPECT_NE(renderStatusText(v).find("masquerade  off\n"), std::string::npos);
  f.masqueradeTablePresent = true;
  EXPECT_NE(
      renderStatusText(assessStatus(f)).find("masquerade  off, table inet routelet present\n"),
      std::string::npos);
}

// Which policies isolate each pod of the node, and the policy table checked like
// masquerade's.
TEST(StatusViewTest, NetworkPolicyShowsEachPodAndWhatIsolatesIt) {
  auto f = healthy();
  f.agent->networkPolicy =
      FeatureStatus{true, "2 policies, 1 of 2 local pods isolated", "", "inet routelet_policy"};
  f.agent->policyPods = {{"shop", "web-1", {"shop/deny-all", "shop/from-lb"}, {"shop/egress"}},
                         {"shop", "db-0", {}, {}}};
  f.policyTablePresent = true;
  auto v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  std::string text = renderStatusText(v);
  EXPECT_NE(text.find("net policy  on, table inet routelet_policy, 2 policies, 1 of 2 local pods "
                      "isolated\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("POD         INGRESS ISOLATED BY         EGRESS ISOLATED BY\n"
                      "shop/web-1  shop/deny-all,shop/from-lb  shop/egress\n"
                      "shop/db-0   -                           -\n"),
            std::string::npos)
      << text;
  auto doc = nlohmann::json::parse(renderStatusJson(v));
  EXPECT_EQ(doc["networkPolicy"]["pods"][0]["ingress"][1], "shop/from-lb");

  f.policyTablePresent = false;
  f.agent->policyProblems = {"shop/bad: spec.podSelector: \"x\": expected an object"};
  v = assessStatus(f);
  EXPECT_EQ(v.problems,
            (std::vector<std::string>{
                "network policy is on but nftables table inet routelet_policy does not exist",
                "NetworkPolicy shop/bad: spec.podSelector: \"x\": expected an object"}));
}

TEST(StatusViewTest, UnreadableNftablesDegradesOnlyWhenMasqueradeIsOn) {
  auto f = healthy();
  f.masqueradeTablePresent = false;
  f.nftablesError = "nftables: Operation not permitted";
  auto v = assessStatus(f);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0],
            "cannot read the kernel's nftables tables: nftables: Operation not permitted");
  EXPECT_NE(renderStatusText(v).find("masquerade  on, table inet routelet (cannot read nftables)"),
            std::string::npos)
      << renderStatusText(v);
  f.agent->masquerade->enabled = false;
  EXPECT_TRUE(assessStatus(f).problems.empty());
}

TEST(StatusViewTest, TheAgentsMasqueradeAndBridgeNetfilterErrorsDegrade) {
  auto f = healthy();
  f.agent->masquerade->error = "nftables: Could not process rule: No such file or directory";
  f.agent->bridgeNetfilter->error =
      "net.bridge.bridge-nf-call-iptables does not exist: the br_netfilter module is not loaded";
  f.bridgeNfCallIptables = "";
  f.bridgeNfCallIp6tables = "";
  auto v = assessStatus(f);
  ASSERT_EQ(v.problems.size(), 2u);
  EXPECT_EQ(v.problems[0],
            "the agent cannot program masquerade: nftables: Could not process rule: No such file "
            "or directory");
  EXPECT_EQ(v.problems[1],
            "the agent cannot set bridge netfilter: net.bridge.bridge-nf-call-iptables does not "
            "exist: the br_netfilter module is not loaded");
  std::string text = renderStatusText(v);
  EXPECT_NE(text.find("masquerade  on, table inet routelet, 3 destination ranges exempt, error: "
                      "nftables: Could not process rule"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("bridge nf   on (iptables not available, ip6tables not available), error: "
                      "net.bridge.bridge-nf-call-iptables does not exist"),
            std::string::npos)
      << text;
}

// Something reset a sysctl after the agent set it: Services between pods of this node
// bypass kube-proxy's rules.
TEST(StatusViewTest, BridgeNetfilterOnWithASysctlAtZeroDegrades) {
  auto f = healthy();
  f.bridgeNfCallIp6tables = "0";
  auto v = assessStatus(f);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_EQ(v.problems[0], "bridge netfilter is on but net.bridge.bridge-nf-call-ip6tables is 0");
  EXPECT_NE(renderStatusText(v).find("bridge nf   on (iptables 1, ip6tables 0)\n"),
            std::string::npos);

  f.agent->bridgeNetfilter->enabled = false;  // not routelet's business then
  f.bridgeNfCallIptables = "0";
  v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  EXPECT_NE(renderStatusText(v).find("bridge nf   off (iptables 0, ip6tables 0)\n"),
            std::string::npos);
}

TEST(StatusViewTest, AnOlderAgentThatDoesNotReportTheFeaturesIsNotDegraded) {
  auto f = healthy();
  f.agent->masquerade.reset();
  f.agent->bridgeNetfilter.reset();
  f.agent->hairpin.reset();
  f.masqueradeTablePresent = false;
  f.bridgeNfCallIptables = "0";
  auto v = assessStatus(f);
  EXPECT_TRUE(v.problems.empty()) << v.problems[0];
  std::string text = renderStatusText(v);
  EXPECT_NE(text.find("masquerade  unknown\n"
                      "net policy  unknown\n"
                      "bridge nf   unknown (iptables 0, ip6tables 1)\n"
                      "hairpin     unknown\n"),
            std::string::npos)
      << text;
  f.agent->hairpin = false;
  EXPECT_NE(renderStatusText(assessStatus(f)).find("hairpin     off\n"), std::string::npos);
}

TEST(StatusViewTest, JsonCarriesEveryFieldForScripts) {
  auto f = healthy();
  f.routes.erase(f.routes.begin());
  auto doc = nlohmann::json::parse(renderStatusJson(assessStatus(f)));
  EXPECT_FALSE(doc["healthy"].get<bool>());
  EXPECT_EQ(doc["node"], "lab-1");
  EXPECT_EQ(doc["bridge"]["up"], true);
  EXPECT_EQ(doc["cniConfig"]["runtimeLoads"], "10-routelet.conflist");
  EXPECT_EQ(doc["agent"]["healthz"]["status"], 200);
  ASSERT_EQ(doc["peers"].size(), 2u);
  EXPECT_EQ(doc["peers"][0]["state"], "missing");
  EXPECT_EQ(doc["peers"][0]["ok"], false);
  EXPECT_EQ(doc["peers"][0]["podCIDR"], "10.244.2.0/24");
  EXPECT_EQ(doc["peers"][1]["state"], "programmed");
  EXPECT_EQ(doc["problems"].size(), 1u);
  EXPECT_EQ(doc["masquerade"],
            nlohmann::json::parse(R"({"reported": true, "enabled": true, "table": "inet routelet",
                "tablePresent": true, "detail": "3 destination ranges exempt"})"));
  EXPECT_EQ(doc["bridgeNetfilter"], nlohmann::json::parse(R"({"reported": true, "enabled": true,
                "net.bridge.bridge-nf-call-iptables": "1",
                "net.bridge.bridge-nf-call-ip6tables": "1"})"));
  EXPECT_EQ(doc["hairpin"], true);

  f.agent->masquerade->error = "nftables: boom";
  f.agent->hairpin.reset();
  f.masqueradeTablePresent = false;
  f.nftablesError = "nftables: Operation not permitted";
  f.bridgeNfCallIptables = "";
  doc = nlohmann::json::parse(renderStatusJson(assessStatus(f)));
  EXPECT_EQ(doc["masquerade"]["error"], "nftables: boom");
  EXPECT_EQ(doc["masquerade"]["tablePresent"], false);
  EXPECT_EQ(doc["masquerade"]["nftablesError"], "nftables: Operation not permitted");
  EXPECT_TRUE(doc["bridgeNetfilter"]["net.bridge.bridge-nf-call-iptables"].is_null());
  EXPECT_TRUE(doc["hairpin"].is_null());
}

}  // namespace
}  // namespace routelet::admin
