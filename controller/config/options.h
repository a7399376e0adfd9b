// The agent's configuration: flags, then environment, then a YAML file (the DaemonSet's
// ConfigMap), then defaults. Every path the agent writes is here, so several agents can
// share one filesystem (the local lab runs three on one box).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/log.h"
#include "common/base/result.h"
#include "common/ip/address.h"
#include "controller/routes/routes_config.h"
#include "controller/routes/vxlan.h"

namespace routelet::config {

enum class PortmapMode { kAuto, kOn, kOff };

struct Options {
  std::string configFile;
  std::string nodeName;
  std::string kubeconfig;  // empty: in-cluster service account
  std::string cniConfDir = "/etc/cni/net.d";
  std::string cniConfName = "10-routelet.conflist";
  std::string cniBinDir = "/opt/cni/bin";
  std::string ipamDataDir = "/run/routelet/ipam";  // tmpfs: a reboot frees every lease
  std::string runDir = "/run/routelet";
  // Where the node's sysctls are written (net.ipv4.ip_forward, the bridge's, ...): its
  // /proc/sys, or where a container without privileges has the node's /proc/sys/net mounted
  // writable as <procSys>/net (manifests/routelet.yaml: /host/proc/sys).
  std::string procSys = "/proc/sys";
  std::string bridge = "cni0";
  uint32_t mtu = 0;             // 0: the MTU of the interface holding the node IP
  uint8_t routeProtocol = 201;  // see dist/rt_protos.d/routelet.conf
  std::chrono::seconds resyncPeriod{60};
  // /healthz /readyz /metrics. Loopback: with hostNetwork, 0.0.0.0 would answer every pod.
  std::string listen = "127.0.0.1:9654";
  std::string metricsListen;         // also /metrics alone here, e.g. on the node IP; "": off
  std::vector<ip::Address> nodeIPs;  // --node-ip overrides, at most one per family
  PortmapMode portmap = PortmapMode::kAuto;
  // The cluster's pod ranges, at most one per family (kube-controller-manager's
  // --cluster-cidr); empty: not known. A peer's podCIDR outside them gets no route.
  std::vector<ip::Prefix> clusterCIDRs;
  // The shortest podCIDR a peer may claim, IPv4 and IPv6 (a configured cluster CIDR raises
  // it to its own length).
  uint8_t minPodCIDRLengthV4 = 8;
  uint8_t minPodCIDRLengthV6 = 32;
  // Egress masquerade: packets from this node's podCIDRs to anywhere outside the cluster's
  // pod ranges (every Node's podCIDRs, clusterCIDRs, nonMasqueradeCIDRs) leave with the
  // node's address, through nftables table `inet routelet`.
  bool masquerade = true;
  std::vector<ip::Prefix> nonMasqueradeCIDRs;  // more destinations reached unmasqueraded
  // NetworkPolicy (networking.k8s.io/v1) enforced for this node's pods, through nftables
  // table `inet routelet_policy`. On by default: a policy written and silently ignored is
  // worse than none. Off: the agent neither watches Pods nor keeps the table.
  bool networkPolicy = true;
  // net.bridge.bridge-nf-call-iptables/ip6tables = 1 in the node's namespace, so bridged
  // pod-to-pod packets pass kube-proxy's DNAT and come back un-DNATed.
  bool bridgeNetfilter = true;
  // The conflist's hairpinMode: a pod reaching a Service whose endpoint is itself.
  bool hairpin = true;
  // How peers are reached: host-gw (on-link ones only), auto (on-link ones directly, the
  // rest over VXLAN), vxlan (all over VXLAN). The VXLAN devices (routelet.vxlan,
  // routelet.vxlan6) use this VNI and UDP port on every node.
  routes::Mode mode = routes::Mode::kAuto;
  uint32_t vxlanVNI = routes::kDefaultVxlanVNI;
  uint16_t vxlanPort = routes::kDefaultVxlanPort;
  log::Level logLevel = log::Level::kInfo;
  // The most Nodes a LIST may bring; 0 keeps the API client's bound (kube::kDefaultMaxNodes,
  // what the agent holds within the manifest's 64Mi memory limit). For a larger cluster,
  // raise it together with the limit (tests/bench/README.md has the memory curve).
  uint64_t maxNodes = 0;
  // The most Pods a LIST may bring (NetworkPolicy reads every Pod of the cluster); 0: the
  // default bound, 200 000.
  uint64_t maxPods = 0;
};

// What a parse returns besides Options: the subcommand ("run", "status", "cleanup",
// "version", "help") and its own arguments.
struct Invocation {
  std::string command = "run";
  Options options;
  std::vector<std::string> rest;
};

using Environment = std::map<std::string, std::string>;
using FileReader = std::function<Result<std::string>(const std::string& path)>;

// Pure: argv, environment and a file reader in, Options out. Errors name the flag, the
// variable or the YAML key, and the value.
Result<Invocation> parseInvocation(const std::vector<std::string>& args, const Environment& env,
                                   const FileReader& readFile);

std::string usage();

// Who uses a route protocol number, when it is one routelet must not take: with another
// owner's number it would delete that owner's routes as stale. nullptr for a free number.
const char* routeProtocolOwner(uint8_t protocol);

// What the peer routes controller (and masquerade, which follows its podCIDR rules) reads of
// the options.
routes::RoutesConfig routesConfig(const Options& options);

}  // namespace routelet::config
