#include "controller/status/agent_status.h"

#include <gtest/gtest.h>

namespace routelet::status {
namespace {

ip::Prefix prefix(const char* text) {
  return ip::Prefix::parse(text).value();
}
ip::Address addr(const char* text) {
  return ip::Address::parse(text).value();
}

// Node a with peers b (on a's subnet) and c (off it).
AgentStatus statusOfA() {
  AgentStatus s;
  s.node = "a";
  s.ready = true;
  s.state = "degraded: 1 peer not on-link";
  s.bridge = "cni0";
  s.mtu = 1500;
  s.podCIDRs = {prefix("10.244.1.0/24")};
  s.nodeIPs = {addr("192.168.1.11")};
  s.cniConfig = "/etc/cni/net.d/10-routelet.conflist";
  s.routeProtocol = 201;
  s.peers = {{"b", ip::Family::kV4, prefix("10.244.2.0/24"), addr("192.168.1.12"), "programmed", "",
              "direct"},
             {"c", ip::Family::kV4, prefix("10.244.3.0/24"), addr("10.9.9.9"), "not-on-link",
              "10.9.9.9 is not on-link", ""}};
  return s;
}

// The reader must understand exactly what the writer writes: the document comes from the
// agent's own writer, not from a copy of its format.
TEST(AgentStatusTest, ReadsWhatTheAgentWrites) {
  std::string json = writeAgentStatus(statusOfA());
  EXPECT_EQ(json.back(), '\n');
  EXPECT_EQ(json.find('\n'), json.size() - 1);  // one line

  auto s = parseAgentStatus(json);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->node, "a");
  EXPECT_TRUE(s->ready);
  EXPECT_EQ(s->state, "degraded: 1 peer not on-link");
  EXPECT_EQ(s->bridge, "cni0");
  EXPECT_EQ(s->mtu, 1500u);
  EXPECT_EQ(s->cniConfig, "/etc/cni/net.d/10-routelet.conflist");
  EXPECT_EQ(s->routeProtocol, 201);
  ASSERT_EQ(s->podCIDRs.size(), 1u);
  EXPECT_EQ(s->podCIDRs[0], prefix("10.244.1.0/24"));
  ASSERT_EQ(s->nodeIPs.size(), 1u);
  EXPECT_EQ(s->nodeIPs[0], addr("192.168.1.11"));
  ASSERT_EQ(s->peers.size(), 2u);
  EXPECT_EQ(s->peers[0].node, "b");
  EXPECT_EQ(s->peers[0].state, "programmed");
  EXPECT_EQ(s->peers[0].podCIDR, prefix("10.244.2.0/24"));
  EXPECT_EQ(s->peers[0].nodeIP, addr("192.168.1.12"));
  EXPECT_EQ(s->peers[0].family, ip::Family::kV4);
  EXPECT_EQ(s->peers[0].path, "direct");
  EXPECT_EQ(s->peers[1].node, "c");
  EXPECT_EQ(s->peers[1].state, "not-on-link");
  EXPECT_EQ(s->peers[1].detail, "10.9.9.9 is not on-link");
  // What the writer leaves out is what the reader does not make up.
  EXPECT_FALSE(s->masquerade);
  EXPECT_FALSE(s->vxlan);
  EXPECT_EQ(s->notReadyReason, "");
}

TEST(AgentStatusTest, ReadsMasqueradeBridgeNetfilterAndHairpinAsTheAgentWritesThem) {
  AgentStatus in;
  in.node = "a";
  in.masquerade = FeatureStatus{true, "3 destination ranges exempt", "", "inet routelet"};
  in.bridgeNetfilter =
      FeatureStatus{true, "", "net.bridge.bridge-nf-call-iptables does not exist", ""};
  in.hairpin = false;

  auto s = parseAgentStatus(writeAgentStatus(in));
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->masquerade);
  EXPECT_TRUE(s->masquerade->enabled);
  EXPECT_EQ(s->masquerade->detail, "3 destination ranges exempt");
  EXPECT_EQ(s->masquerade->error, "");
  EXPECT_EQ(s->masquerade->table, "inet routelet");
  ASSERT_TRUE(s->bridgeNetfilter);
  EXPECT_TRUE(s->bridgeNetfilter->enabled);
  EXPECT_EQ(s->bridgeNetfilter->error, "net.bridge.bridge-nf-call-iptables does not exist");
  ASSERT_TRUE(s->hairpin);
  EXPECT_FALSE(*s->hairpin);

  in.masquerade = FeatureStatus{};
  in.hairpin = true;
  s = parseAgentStatus(writeAgentStatus(in));
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->masquerade);
  EXPECT_FALSE(s->masquerade->enabled);
  EXPECT_EQ(s->masquerade->table, "");
  EXPECT_TRUE(*s->hairpin);
}

TEST(AgentStatusTest, ReadsNetworkPolicyAndThePodsItIsolatesAsTheAgentWritesThem) {
  AgentStatus in;
  in.node = "a";
  in.networkPolicy =
      FeatureStatus{true, "1 policies, 1 of 2 local pods isolated", "", "inet routelet_policy"};
  in.policyPods = {{"x", "a", {"x/deny"}, {}}, {"x", "b", {}, {"x/out", "x/dns"}}};
  in.policyProblems = {"x/bad: spec.podSelector: expected an object"};
  auto s = parseAgentStatus(writeAgentStatus(in));
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->networkPolicy);
  EXPECT_EQ(s->networkPolicy->table, "inet routelet_policy");
  EXPECT_EQ(s->policyPods, in.policyPods);
  EXPECT_EQ(s->policyProblems, in.policyProblems);
  EXPECT_FALSE(parseAgentStatus(R"({"node":"a","policyPods":[{"namespace":"x"}]})").ok())
      << "a pod without a name";
}

// Mode auto: one peer on-link, one over VXLAN; the device of IPv4 made, with its VTEP MAC.
TEST(AgentStatusTest, ReadsModeDevicesAndPathsAsTheAgentWritesThem) {
  AgentStatus in = statusOfA();
  in.peers[1].state = "programmed";
  in.peers[1].path = "vxlan";
  in.vxlan = VxlanStatus{"auto", {{"routelet.vxlan", true, "0e:72:0a:f4:01:00"}}, 1, 1, 2};

  auto s = parseAgentStatus(writeAgentStatus(in));
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->vxlan);
  EXPECT_EQ(s->vxlan->mode, "auto");
  ASSERT_EQ(s->vxlan->devices.size(), 1u);
  EXPECT_EQ(s->vxlan->devices[0].name, "routelet.vxlan");
  EXPECT_TRUE(s->vxlan->devices[0].ready);
  EXPECT_EQ(s->vxlan->devices[0].mac, "0e:72:0a:f4:01:00");
  EXPECT_EQ(s->vxlan->direct, 1u);
  EXPECT_EQ(s->vxlan->encapsulated, 1u);
  EXPECT_EQ(s->vxlan->entries, 2u);
  ASSERT_EQ(s->peers.size(), 2u);
  EXPECT_EQ(s->peers[0].path, "direct");
  EXPECT_EQ(s->peers[1].path, "vxlan");

  // host-gw writes the mode alone.
  in.vxlan = VxlanStatus{"host-gw", {{"routelet.vxlan", true, "x"}}, 1, 1, 2};
  s = parseAgentStatus(writeAgentStatus(in));
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->vxlan);
  EXPECT_EQ(s->vxlan->mode, "host-gw");
  EXPECT_TRUE(s->vxlan->devices.empty());
  EXPECT_EQ(s->vxlan->encapsulated, 0u);
}

// Names from Node objects are made safe by the decoder; a byte that slipped through is
// replaced, never a reason to throw or to write invalid JSON.
TEST(AgentStatusTest, InvalidUtf8IsReplacedNotThrown) {
  AgentStatus in = statusOfA();
  in.peers[0].detail = "bad \xff byte";
  auto s = parseAgentStatus(writeAgentStatus(in));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_NE(s->peers[0].detail.find("bad "), std::string::npos);
}

TEST(AgentStatusTest, NotReadyReasonAndMissingOptionalFields) {
  auto s = parseAgentStatus(
      R"({"node":"a","ready":false,"notReadyReason":"no podCIDR","peers":[
          {"node":"b","family":"6","state":"no-podcidr"}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->ready);
  EXPECT_EQ(s->notReadyReason, "no podCIDR");
  ASSERT_EQ(s->peers.size(), 1u);
  EXPECT_EQ(s->peers[0].family, ip::Family::kV6);
  EXPECT_FALSE(s->peers[0].podCIDR);
  EXPECT_FALSE(s->peers[0].nodeIP);
  // An agent older than masquerade, bridgeNetfilter and hairpin does not write them.
  EXPECT_FALSE(s->masquerade);
  EXPECT_FALSE(s->bridgeNetfilter);
  EXPECT_FALSE(s->hairpin);
  // Nor one older than --mode a "vxlan" object or peer paths.
  EXPECT_FALSE(s->vxlan);
  EXPECT_EQ(s->peers[0].path, "");
}

TEST(AgentStatusTest, RejectsWhatItCannotTrustNamingTheField) {
  struct Case {
    const char* json;
    const char* mentions;
  };
  for (const auto& c : std::vector<Case>{
           {"not json", "not the agent's status JSON"},
           {"[1,2]", "want a JSON object"},
           {R"({"podCIDRs":["10.0.0.0/33"]})", "podCIDRs"},
           {R"({"nodeIPs":[7]})", "nodeIPs"},
           {R"({"peers":[{"family":"4","state":"programmed"}]})", "peers[].node"},
           {R"({"peers":[{"node":"b","family":"5","state":"x"}]})", "family \"5\""},
           {R"({"peers":[{"node":"b","family":"4","podCIDR":"bogus","state":"x"}]})",
            "podCIDR \"bogus\""},
           {R"({"peers":[{"node":"b","family":"4"}]})", "state missing"},
           {R"({"ready":"yes"})", "not the agent's status JSON"},
           {R"({"masquerade":true})", "masquerade true: want an object"},
           {R"({"masquerade":{}})", "masquerade.enabled: missing"},
           {R"({"masquerade":{"enabled":"yes"}})",
            "masquerade.enabled \"yes\": want true or false"},
           {R"({"masquerade":{"enabled":true,"table":7}})", "masquerade.table 7: want a string"},
           {R"({"bridgeNetfilter":{"enabled":true,"error":["x"]}})",
            "bridgeNetfilter.error [\"x\"]: want a string"},
           {R"({"bridgeNetfilter":null})", "bridgeNetfilter null: want an object"},
           {R"({"hairpin":"on"})", "hairpin \"on\": want true or false"},
           {R"({"vxlan":"auto"})", "vxlan \"auto\": want an object"},
           {R"({"vxlan":{}})", "vxlan.mode: missing"},
           {R"({"vxlan":{"mode":"auto","devices":{}}})", "vxlan.devices {}: want an array"},
           {R"({"vxlan":{"mode":"auto","devices":[{"ready":true}]}})",
            "vxlan.devices[].name: missing"},
           {R"({"vxlan":{"mode":"auto","devices":[{"name":"routelet.vxlan","ready":1}]}})",
            "vxlan device routelet.vxlan ready 1: want true or false"},
           {R"({"vxlan":{"mode":"auto","direct":-1}})", "vxlan.direct -1: want a count"},
           {R"({"vxlan":{"mode":"auto","entries":"3"}})", "vxlan.entries \"3\": want a count"},
       }) {
    auto s = parseAgentStatus(c.json);
    ASSERT_FALSE(s) << c.json;
    EXPECT_NE(s.error().message.find(c.mentions), std::string::npos)
        << c.json << " -> " << s.error().message;
  }
}

}  // namespace
}  // namespace routelet::status
