#include "controller/config/options.h"

#include <gtest/gtest.h>

namespace routelet::config {
namespace {

FileReader files(std::map<std::string, std::string> contents) {
  return [contents](const std::string& path) -> Result<std::string> {
    auto it = contents.find(path);
    if (it == contents.end()) return errnoError("open " + path, ENOENT);
    return it->second;
  };
}

Result<Invocation> parse(std::vector<std::string> args, Environment env = {},
                         std::map<std::string, std::string> fileContents = {}) {
  return parseInvocation(args, env, files(fileContents));
}

TEST(OptionsTest, DefaultsAreTheDaemonSetPaths) {
  auto inv = parse({});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command, "run");
  EXPECT_EQ(inv->options.cniConfDir, "/etc/cni/net.d");
  EXPECT_EQ(inv->options.cniBinDir, "/opt/cni/bin");
  EXPECT_EQ(inv->options.bridge, "cni0");
  EXPECT_EQ(inv->options.routeProtocol, 201);
  EXPECT_EQ(inv->options.resyncPeriod, std::chrono::seconds(60));
}

// With hostNetwork, an address of the node answers every pod on it: the endpoints stay on
// loopback unless a setting says otherwise.
TEST(OptionsTest, EndpointsListenOnLoopbackUnlessToldOtherwise) {
  auto inv = parse({});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->options.listen, "127.0.0.1:9654");
  EXPECT_EQ(inv->options.metricsListen, "");
  inv = parse({}, {{"ROUTELET_METRICS_LISTEN", "192.168.1.11:9655"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->options.metricsListen, "192.168.1.11:9655");
  inv = parse({"--metrics-listen", "192.168.1.11"});
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.error().message,
            "flag --metrics-listen \"192.168.1.11\": want HOST:PORT, e.g. 127.0.0.1:9654 or "
            "[::1]:9654");
}

TEST(OptionsTest, FlagsBeatEnvironmentBeatsFile) {
  auto inv = parse({"--bridge=br-flag", "--config", "/etc/routelet/config.yaml"},
                   {{"ROUTELET_BRIDGE", "br-env"}, {"ROUTELET_MTU", "1400"}, {"NODE_NAME", "n1"}},
                   {{"/etc/routelet/config.yaml",
                     "bridge: br-file\nmtu: 9000\nresyncPeriod: 5m\nrunDir: /run/x\n"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->options.bridge, "br-flag");
  EXPECT_EQ(inv->options.mtu, 1400u);
  EXPECT_EQ(inv->options.nodeName, "n1");
  EXPECT_EQ(inv->options.resyncPeriod, std::chrono::seconds(300));
  EXPECT_EQ(inv->options.runDir, "/run/x");
}

TEST(OptionsTest, ProcSysIsWhereTheNodesSysctlsAre) {
  auto inv = parse({}, {{"NODE_NAME", "n1"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->options.procSys, "/proc/sys");
  inv = parse({"--config", "/c.yaml"}, {}, {{"/c.yaml", "procSys: /host/proc/sys\n"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->options.procSys, "/host/proc/sys");
  inv = parse({"--proc-sys", "host/proc/sys"});
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.error().message, "flag --proc-sys \"host/proc/sys\": want an absolute path");
}

TEST(OptionsTest, SubcommandsAndTheirOwnFlags) {
  auto inv = parse({"status", "-o", "json"});
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->command, "status");
  EXPECT_EQ(inv->rest, (std::vector<std::string>{"-o", "json"}));
  auto c = parse({"cleanup", "--dry-run", "--cni-conf-dir", "/tmp/x"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->rest, (std::vector<std::string>{"--dry-run"}));
  EXPECT_EQ(c->options.cniConfDir, "/tmp/x");
}

TEST(OptionsTest, NodeIPsOnePerFamily) {
  auto inv = parse({"--node-ip", "192.168.1.11,fd00::11"});
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->options.nodeIPs.size(), 2u);
  EXPECT_EQ(inv->options.nodeIPs[1].str(), "fd00::11");
  auto bad = parse({"--node-ip", "192.168.1.11,192.168.1.12"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "flag --node-ip \"192.168.1.11,192.168.1.12\": two addresses of one family");
}

TEST(OptionsTest, ClusterCIDRsAndThePodCIDRBound) {
  auto inv = parse({"--cluster-cidr", "10.244.0.0/16,fd00:10:244::/56"},
                   {{"ROUTELET_MIN_POD_CIDR_LENGTH", "16,48"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  ASSERT_EQ(inv->options.clusterCIDRs.size(), 2u);
  EXPECT_EQ(inv->options.clusterCIDRs[1].str(), "fd00:10:244::/56");
  EXPECT_EQ(inv->options.minPodCIDRLengthV4, 16);
  EXPECT_EQ(inv->options.minPodCIDRLengthV6, 48);
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->options.clusterCIDRs.empty());
  EXPECT_EQ(defaults->options.minPodCIDRLengthV4, 8);
  EXPECT_EQ(defaults->options.minPodCIDRLengthV6, 32);
}

TEST(OptionsTest, MaxNodes) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.maxNodes, 0u) << "the API client's own bound";
  auto inv = parse({}, {{"ROUTELET_MAX_NODES", "120000"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->options.maxNodes, 120000u);
  for (const char* bad : {"--max-nodes=0", "--max-nodes=many", "--max-nodes=10000001"}) {
    auto r = parse({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("want a number of Nodes, 1-10000000"), std::string::npos)
        << r.error().message;
  }
}

TEST(OptionsTest, ModeAndVxlanSettings) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.mode, routes::Mode::kAuto);
  EXPECT_EQ(defaults->options.vxlanVNI, 1u);
  EXPECT_EQ(defaults->options.vxlanPort, 8472);
  auto inv = parse({"--mode=host-gw", "--vxlan-port", "4789"}, {{"ROUTELET_VXLAN_VNI", "4096"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_EQ(inv->options.mode, routes::Mode::kHostGw);
  EXPECT_EQ(inv->options.vxlanVNI, 4096u);
  EXPECT_EQ(inv->options.vxlanPort, 4789);
  auto file = parse({"--config=/c.yaml"}, {}, {{"/c.yaml", "mode: vxlan\n"}});
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->options.mode, routes::Mode::kVxlan);
  for (auto [args, want] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--mode=ipip"}, "--mode \"ipip\": \"ipip\" is not a mode: host-gw, auto or vxlan"},
           {{"--vxlan-vni=0"}, "--vxlan-vni \"0\": want a VXLAN network identifier, 1-16777215"},
           {{"--vxlan-vni=16777216"}, "--vxlan-vni \"16777216\""},
           {{"--vxlan-port=70000"}, "--vxlan-port \"70000\": want a UDP port, 1-65535"}}) {
    auto bad = parse(args);
    ASSERT_FALSE(bad.ok()) << args[0];
    EXPECT_NE(bad.error().message.find(want), std::string::npos) << bad.error().message;
  }
}

TEST(OptionsTest, NetworkPolicyIsOnByDefaultAndMaxPodsKeepsTheClientsBound) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->options.networkPolicy);
  EXPECT_EQ(defaults->options.maxPods, 0u);
  auto flags = parse({"--network-policy=off", "--max-pods", "300000"});
  ASSERT_TRUE(flags.ok()) << flags.error().message;
  EXPECT_FALSE(flags->options.networkPolicy);
  EXPECT_EQ(flags->options.maxPods, 300000u);
  // As the shipped ConfigMap writes it.
  auto file = parse({"--config=/c.yaml"}, {}, {{"/c.yaml", "networkPolicy: \"off\"\n"}});
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_FALSE(file->options.networkPolicy);
}

TEST(OptionsTest, MasqueradeBridgeNetfilterAndHairpin) {
  auto defaults = parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->options.masquerade);
  EXPECT_TRUE(defaults->options.bridgeNetfilter);
  EXPECT_TRUE(defaults->options.hairpin);
  EXPECT_TRUE(defaults->options.nonMasqueradeCIDRs.empty());
  auto inv = parse({"--masquerade=off", "--hairpin", "false"},
                   {{"ROUTELET_BRIDGE_NETFILTER", "off"},
                    {"ROUTELET_NON_MASQUERADE_CIDRS", "10.0.0.0/8,fd00::/8"}});
  ASSERT_TRUE(inv.ok()) << inv.error().message;
  EXPECT_FALSE(inv->options.masquerade);
  EXPECT_FALSE(inv->options.hairpin);
  EXPECT_FALSE(inv->options.bridgeNetfilter);
  ASSERT_EQ(inv->options.nonMasqueradeCIDRs.size(), 2u);
  EXPECT_EQ(inv->options.nonMasqueradeCIDRs[1].str(), "fd00::/8");
  // A ConfigMap lists them as YAML does; "" means none.
  auto file = parse({"--config=/c.yaml"}, {},
                    {{"/c.yaml", "nonMasqueradeCIDRs:\n  - 100.64.0.0/10\n  - 172.16.0.0/12\n"}});
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_EQ(file->options.nonMasqueradeCIDRs.size(), 2u);
  EXPECT_EQ(file->options.nonMasqueradeCIDRs[1].str(), "172.16.0.0/12");
  auto none = parse({"--non-masquerade-cidrs="});
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->options.nonMasqueradeCIDRs.empty());
}

TEST(OptionsTest, BadValuesNameTheSourceAndValue) {
  struct Case {
    std::vector<std::string> args;
    Environment env;
    std::string file;
    std::string want;
  };
  std::vector<Case> cases = {
      {{"--mtu=12"}, {}, "", "flag --mtu \"12\": want 0 (auto) or 576-65535"},
      {{"--route-protocol", "2"}, {}, "", "flag --route-protocol \"2\": 2 is used by the kernel"},
      {{"--route-protocol", "256"}, {}, "", "flag --route-protocol \"256\": want a whole number"},
      {{},
       {{"ROUTELET_CNI_CONF_DIR", "relative/dir"}},
       "",
       "environment variable ROUTELET_CNI_CONF_DIR \"relative/dir\": want an absolute path"},
      {{"--bridge", "a-very-long-bridge-name"},
       {},
       "",
       "flag --bridge \"a-very-long-bridge-name\""},
      {{"--resync-period=0s"}, {}, "", "flag --resync-period \"0s\""},
      {{"--listen=nowhere"}, {}, "", "flag --listen \"nowhere\": want HOST:PORT"},
      {{"--log-level=loud"}, {}, "", "flag --log-level \"loud\""},
      {{"--cluster-cidr=10.0.0.0/8,10.1.0.0/16"},
       {},
       "",
       "flag --cluster-cidr \"10.0.0.0/8,10.1.0.0/16\": two ranges of one family"},
      {{"--cluster-cidr=10.0.0.0/33"}, {}, "", "flag --cluster-cidr \"10.0.0.0/33\""},
      {{"--min-pod-cidr-length=8"}, {}, "", "flag --min-pod-cidr-length \"8\": want IPv4,IPv6"},
      {{"--min-pod-cidr-length=33,64"},
       {},
       "",
       "flag --min-pod-cidr-length \"33,64\": want IPv4,IPv6"},
      {{"--mtu"}, {}, "", "flag --mtu needs a value"},
      {{"--config=/c.yaml"},
       {},
       "mtu: [1, 2]\n",
       "config file /c.yaml: mtu must be a single value"},
      {{"--config=/c.yaml"},
       {},
       "bridgee: x\n",
       "config file /c.yaml: unknown setting \"bridgee\""},
      {{"--config=/c.yaml"}, {}, "a: [\n", "config file /c.yaml: not valid YAML"},
      {{"--config=/c.yaml"}, {}, "- a\n", "config file /c.yaml: want a mapping of settings"},
      {{"--config=/c.yaml"}, {}, "portmap: maybe\n", "config file /c.yaml: portmap \"maybe\""},
      {{"--config=/missing.yaml"}, {}, "", "config file /missing.yaml: open /missing.yaml"},
      {{"--masquerade=maybe"}, {}, "", "flag --masquerade \"maybe\": want on or off"},
      {{"--network-policy=maybe"}, {}, "", "flag --network-policy \"maybe\": want on or off"},
      {{"--max-pods=0"}, {}, "", "flag --max-pods \"0\": want a number of Pods, 1-100000000"},
      {{},
       {{"ROUTELET_BRIDGE_NETFILTER", "1"}},
       "",
       "environment variable ROUTELET_BRIDGE_NETFILTER \"1\": want on or off"},
      {{"--non-masquerade-cidrs=10.0.0.0/8,banana"},
       {},
       "",
       "flag --non-masquerade-cidrs \"10.0.0.0/8,banana\": invalid CIDR \"banana\""},
      {{"--non-masquerade-cidrs=10.0.0.5/8"},
       {},
       "",
       "flag --non-masquerade-cidrs \"10.0.0.5/8\": invalid CIDR \"10.0.0.5/8\": host bits set"},
      {{"--non-masquerade-cidrs=0.0.0.0/0"},
       {},
       "",
       "flag --non-masquerade-cidrs \"0.0.0.0/0\": 0.0.0.0/0 would turn masquerade off"},
      {{"--config=/c.yaml"},
       {},
       "nonMasqueradeCIDRs: [10.0.0.0/8, [1]]\n",
       "config file /c.yaml: nonMasqueradeCIDRs must be a value or a list of values"},
      {{"--config=/c.yaml"},
       {},
       "hairpin: [on]\n",
       "config file /c.yaml: hairpin must be a single value"},
  };
  for (const auto& c : cases) {
    std::map<std::string, std::string> fileContents;
    if (!c.file.empty()) fileContents["/c.yaml"] = c.file;
    auto inv = parse(c.args, c.env, fileContents);
    ASSERT_FALSE(inv.ok()) << c.want;
    EXPECT_EQ(inv.error().message.rfind(c.want, 0), 0u)
        << "got: " << inv.error().message << "\nwant prefix: " << c.want;
  }
}

// Another owner's number would make routelet delete that owner's routes as stale.
TEST(OptionsTest, RouteProtocolOfAnotherOwnerIsRefused) {
  for (auto [number, owner] :
       std::vector<std::pair<std::string, std::string>>{{"0", "the kernel (unspec)"},
                                                        {"4", "the kernel (static)"},
                                                        {"12", "bird"},
                                                        {"16", "dhcp"},
                                                        {"18", "keepalived"},
                                                        {"42", "babel"},
                                                        {"80", "Calico Felix"},
                                                        {"99", "openr"},
                                                        {"186", "bgp"},
                                                        {"188", "ospf"},
                                                        {"196", "zstatic (FRR)"}}) {
    auto inv = parse({}, {{"ROUTELET_ROUTE_PROTOCOL", number}});
    ASSERT_FALSE(inv.ok()) << number;
    EXPECT_EQ(inv.error().message, "environment variable ROUTELET_ROUTE_PROTOCOL \"" + number +
                                       "\": " + number + " is used by " + owner +
                                       ": routelet would delete its routes as stale; pick an "
                                       "unused number, such as the default 201");
  }
  for (const char* free : {"5", "200", "201", "255"}) {
    auto inv = parse({"--route-protocol", free});
    ASSERT_TRUE(inv.ok()) << free << ": " << inv.error().message;
  }
}

TEST(OptionsTest, UsageListsEveryFlag) {
  std::string u = usage();
  for (const char* flag : {"--node-name", "--kubeconfig", "--cni-conf-dir", "--route-protocol",
                           "--resync-period", "--listen"}) {
    EXPECT_NE(u.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace routelet::config
