// Benchmark (not a test): routelet's NetworkPolicy enforcement (table inet routelet_policy)
// on a node built from network namespaces, beside references measured in the same run. See
// tests/bench/README.md.
//
//   1. traffic: short TCP connections (connect, one byte each way, close) to a server pod
//      that policies isolate, from a client pod on the same bridge and from a pod of another
//      node routed through the node; the table written against the same node without it,
//      without it but with conntrack on, and with it but no pod isolated, rotating, one at
//      a time for latency and many at once for connections per second.
//   2. change: a policy allowing the client created and deleted, in-process as the agent
//      does it (Cluster, desired(), plan(), applyPlan()), against a prober in the client pod
//      trying a new connection every millisecond; then whole rewrites (the agent's start
//      and heal) with that prober on a refused port.
//   3. scale: a cluster of 150 000 pods and 2000 policies: the cache's memory, desired(),
//      a whole write beside `nft -f` of the same ruleset, one pod's label change, and the
//      elements the node holds.
//   4. growth: elements, sets and chains per node as policies grow, at 1000 and 150 000 pods.
//
// Namespaces are bpol<pid>-0 (node), -1 (server pod), -2 (client pod), -3 (the other node's
// pod), -4 (the scale part's writes); all go at the end, also on failure or Ctrl-C. This
// thread enters the node's namespace (then -4) so that the agent's own edge
// (KernelTableEdge) writes there; a thread drains NFNLGRP_NFTABLES there as the agent's
// nf_tables monitor does (the kernel builds its change notices only when someone listens).
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "common/nft/kernel_table_edge.h"
#include "controller/policy/cluster.h"
#include "controller/policy/desired.h"
#include "controller/policy/ruleset.h"
#include "tests/bench/cni/bench_cli.h"
#include "tests/bench/cni/bench_netns.h"
#include "tests/bench/cni/nft_listener.h"
#include "tests/bench/cni/plugin_exec.h"
#include "tests/bench/cni/process_stats.h"
#include "tests/bench/cni/stats.h"
#include "tests/bench/policy/synthetic.h"
#include "tests/bench/policy/traffic.h"

namespace routelet::bench::policy {
namespace {

using cni::fmt;
using cni::Listener;
using cni::loadavg;
using cni::pad;
using cni::resetPeak;
using cni::statusKib;
using cni::summarize;
using cni::Summary;
using cni::threadCpuMs;
using cni::useAgentMalloc;
using routelet::policy::Cluster;
using routelet::policy::Desired;
using routelet::policy::Plan;
using json = nlohmann::json;

// kube-network-policies' own published figures (20 nodes, 1000 pods, 200 identities), the
// reference for parts 1 and 2: it cannot be built here (no Go module access), so they are
// printed, not measured.
constexpr const char* kReferenceNote =
    "kube-network-policies, its own published report (20 nodes, 1000 pods, 200 identities; "
    "not run here)";
constexpr double kRefCreateMs[2] = {307, 333};
constexpr double kRefDeleteMs = 2300;
constexpr double kRefP50Us = 700, kRefP99Us = 1000;
constexpr double kRefConnPerS[2] = {8500, 10300};

struct Settings {
  std::set<std::string> parts{"traffic", "change", "scale", "growth"};
  Shape shape;  // parts 1 and 2
  int policies = 200;
  int rounds = 20;
  int connections = 200;
  int warmup = 20;
  double burstSeconds = 0.5;
  int inFlight = 8;
  int changes = 50;
  int probeIntervalUs = 1000;
  int probeTimeoutMs = 20;
  int rewrites = 20;
  Shape scale{150000, 1000, 1000, 10};
  int scalePolicies = 2000;
  int scaleReps = 3;
  int updates = 10;
  std::vector<int> growth{10, 100, 200, 1000, 2000};
  bool agentMalloc = true;
  std::string nft = "/usr/sbin/nft";
  std::string ip = "/usr/sbin/ip";
  std::string jsonPath;
};

// --- small helpers

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// VmRSS after handing free heap pages back: what the process really holds.
double rssMib() {
  malloc_trim(0);
  return static_cast<double>(statusKib("VmRSS")) / 1024.0;
}

// VmHWM back to VmRSS (proc(5), clear_refs 5): the next VmHWM is the peak of what runs between.
// The agent's allocator settings (controller/main.cpp, tuneMalloc).
json summaryJson(const Summary& x) {
  return {{"count", x.count}, {"p50", x.p50}, {"p99", x.p99},
          {"mean", x.mean},   {"min", x.min}, {"max", x.max}};
}

double median(std::vector<double> v) {
  return v.empty() ? 0 : summarize(std::move(v)).p50;
}

// A program run to its end, untimed; its stdout, or an error with its stderr.
Result<std::string> exec(const std::vector<std::string>& argv) {
  cni::PluginCall call{argv[0],
                       {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                       "",
                       std::vector<std::string>(argv.begin() + 1, argv.end())};
  auto outcome = cni::runPlugin(call);
  if (!outcome) return outcome.error();
  if (outcome->exitCode != 0) {
    std::string line;
    for (const auto& a : argv) line += a + " ";
    return makeError(line + "exited with " + std::to_string(outcome->exitCode) + ": " +
                     outcome->err.substr(0, 400));
  }
  return outcome->out;
}

std::string baseName(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

// Writes sysctls of the namespace at nsPath: /proc/sys/net is the writing thread's namespace's.
Status sysctls(const std::string& nsPath,
               const std::vector<std::pair<std::string, std::string>>& values) {
  Status result = okStatus();
  std::thread t([&] {
    auto fd = netns::Fd::open(nsPath);
    if (!fd) {
      result = fd.error();
      return;
    }
    auto in = netns::Enter::into(*fd);
    if (!in) {
      result = in.error();
      return;
    }
    for (const auto& [key, value] : values) {
      std::string path = "/proc/sys/" + key;
      std::replace(path.begin() + 10, path.end(), '.', '/');
      std::ofstream f(path);
      f << value;
      f.flush();
      if (!f) {
        result = makeError("sysctl " + key + "=" + value + " in " + nsPath +
                           (key.find("bridge") != std::string::npos
                                ? ": bridge netfilter needs the br_netfilter module"
                                : ""));
        return;
      }
    }
  });
  t.join();
  return result;
}

// Drains NFNLGRP_NFTABLES like the agent's nf_tables monitor thread.
// What a Desired asks the node to hold.
struct Counts {
  size_t addressSets = 0, addressElements = 0, portSets = 0, portElements = 0, mapElements = 0,
         chains = 0, rules = 0, localPods = 0, isolated = 0;
  size_t elements() const { return addressElements + portElements + mapElements; }
};

Counts count(const Desired& d) {
  Counts c;
  for (const auto& [name, keys] : d.addressSets) {
    ++c.addressSets;
    c.addressElements += keys.size();
  }
  for (const auto& [name, keys] : d.portSets) {
    ++c.portSets;
    c.portElements += keys.size();
  }
  c.mapElements = d.ingress.size() + d.egress.size();
  c.chains = d.chains.size();
  for (const auto& [name, rules] : d.chains) c.rules += rules.size();
  c.localPods = d.pods.size();
  for (const auto& p : d.pods) c.isolated += !p.ingress.empty() || !p.egress.empty();
  return c;
}

json countsJson(const Counts& c) {
  return {{"address_sets", c.addressSets},
          {"address_elements", c.addressElements},
          {"port_sets", c.portSets},
          {"port_elements", c.portElements},
          {"map_elements", c.mapElements},
          {"elements", c.elements()},
          {"chains", c.chains},
          {"rules", c.rules},
          {"local_pods", c.localPods},
          {"isolated_local_pods", c.isolated}};
}

// A cluster of the shape, filled as the agent's LIST does (one Pod at a time, staged).
void fill(Cluster& c, const Shape& s, int policyCount,
          const std::function<void(const model::PodObject&)>& seen = {}) {
  c.replaceNamespaces(namespaces(s));
  c.beginPods();
  forEachPod(s, [&](const model::PodObject& p) {
    c.stagePod(p);
    if (seen) seen(p);
  });
  c.commitPods();
  c.replacePolicies(policies(s, policyCount));
}

// A Pod of the cluster as a watch event would carry it again.
model::PodObject podObject(const std::string& ns, const std::string& name,
                           const routelet::policy::Pod& p) {
  model::PodObject o;
  o.ns = ns;
  o.name = name;
  o.nodeName = p.local ? kThisNode : "node-0001";
  o.labels = *p.labels;
  if (p.ports) o.ports = *p.ports;
  o.ips = p.ips;
  o.deleting = p.deleting;
  return o;
}

// The whole table as one nft script, elements inline: what a script-only writer runs.
std::string wholeScript(const Plan& p) {
  std::string s = p.sets;
  std::string table = routelet::policy::policyTableName();
  for (const auto& c : p.elements)
    for (size_t at = 0; at < c.keys.size(); at += 500) {
      s += std::string(c.add ? "add" : "delete") + " element " + table + " " + c.set + " {";
      for (size_t i = at; i < c.keys.size() && i < at + 500; ++i)
        s += (i == at ? " " : ", ") + c.keys[i].str();
      s += " }\n";
    }
  return s + p.rest;
}

// --- the node

struct Node {
  std::string node, server, client, remote, scale;  // namespace paths
};

class Bench {
 public:
  Bench(const Settings& s, Node n, std::string dir)
      : s_(s), n_(std::move(n)), dir_(std::move(dir)) {}
  Status run(json& out);

 private:
  Status build();
  Status traffic(json& out);
  Status change(json& out);
  Status scale(json& out);
  Status growth(json& out);

  Status ip(const std::string& nsPath, std::vector<std::string> args) {
    args.insert(args.begin(), {s_.ip, "-n", baseName(nsPath)});
    auto r = exec(args);
    return r ? okStatus() : Status(r.error());
  }
  Status enter(const std::string& nsPath) {
    listener_.reset();
    entered_.reset();
    auto fd = netns::Fd::open(nsPath);
    if (!fd) return fd.error();
    auto in = netns::Enter::into(*fd);
    if (!in) return in.error();
    entered_.emplace(std::move(*in));
    auto l = Listener::start();
    if (!l) return l.error().wrap("nf_tables listener");
    listener_ = std::move(*l);
    return okStatus();
  }
  // Whether a connection from nsPath to the server's port is answered within `wait`.
  Result<bool> answered(const std::string& nsPath, uint16_t port, std::chrono::milliseconds wait) {
    auto p = Prober::start(nsPath, kServerIp, port, std::chrono::microseconds(wait) * 2, wait);
    if (!p) return p.error();
    while ((*p)->resolvedCount() == 0) {
      if (auto e = (*p)->error(); !e.empty()) return makeError("prober: " + e);
      if (cni::interrupted()) return makeError("interrupted");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return (*p)->resolved().front().ok;
  }
  Result<size_t> kernelElements(const std::string& nsPath);
  Status write(const Plan& p) {
    routelet::nft::KernelTableEdge edge(routelet::policy::kPolicyTable);
    return routelet::policy::applyPlan(edge, p);
  }

  const Settings& s_;
  Node n_;
  std::string dir_;
  std::optional<netns::Enter> entered_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<EchoServer> server_;
  Cluster cluster_{kThisNode};  // parts 1 and 2
  Desired applied_;
  std::unique_ptr<Cluster> scaleCluster_;  // part 3's, for part 4
};

Status Bench::build() {
  // No IPv6: the cluster is IPv4, and a new link's duplicate address detection and router
  // solicitations would be traffic nobody asked for.
  for (const auto& ns : {n_.node, n_.server, n_.client, n_.remote, n_.scale}) {
    if (auto st = sysctls(ns, {{"net.ipv6.conf.all.disable_ipv6", "1"},
                               {"net.ipv6.conf.default.disable_ipv6", "1"}});
        !st)
      return st;
    if (auto st = ip(ns, {"link", "set", "lo", "up"}); !st) return st;
  }
  // The node: a bridge with this node's first pod address, forwarding, bridge netfilter
  // (bridged packets between its pods pass the forward hook); conntrack forgets closed
  // connections after a second, so that thousands of short connections a second do not fill
  // the conntrack table (its limit is the machine's, shared with the root namespace).
  if (auto st = ip(n_.node, {"link", "add", "br0", "type", "bridge"}); !st) return st;
  if (auto st = ip(n_.node, {"addr", "add", "10.64.0.1/24", "dev", "br0"}); !st) return st;
  if (auto st = ip(n_.node, {"link", "set", "br0", "up"}); !st) return st;
  if (auto st = sysctls(n_.node, {{"net.ipv4.ip_forward", "1"},
                                  {"net.bridge.bridge-nf-call-iptables", "1"},
                                  {"net.bridge.bridge-nf-call-ip6tables", "1"},
                                  {"net.netfilter.nf_conntrack_tcp_timeout_time_wait", "1"},
                                  {"net.netfilter.nf_conntrack_tcp_timeout_close", "1"},
                                  {"net.netfilter.nf_conntrack_tcp_timeout_fin_wait", "2"},
                                  {"net.netfilter.nf_conntrack_tcp_timeout_close_wait", "2"},
                                  {"net.netfilter.nf_conntrack_tcp_timeout_last_ack", "2"},
                                  {"net.netfilter.nf_conntrack_tcp_timeout_syn_sent", "2"}});
      !st)
    return st;
  struct Pod {
    const std::string* ns;
    const char* host;  // its link's name in the node
    const char* address;
  };
  for (const Pod& p :
       {Pod{&n_.server, "vserver", kServerIp}, Pod{&n_.client, "vclient", kClientIp}}) {
    if (auto st = ip(n_.node, {"link", "add", p.host, "type", "veth", "peer", "name", "eth0",
                               "netns", baseName(*p.ns)});
        !st)
      return st;
    if (auto st = ip(n_.node, {"link", "set", p.host, "master", "br0", "up"}); !st) return st;
    if (auto st = ip(*p.ns, {"addr", "add", std::string(p.address) + "/24", "dev", "eth0"}); !st)
      return st;
    if (auto st = ip(*p.ns, {"link", "set", "eth0", "up"}); !st) return st;
    if (auto st = ip(*p.ns, {"route", "add", "default", "via", "10.64.0.1"}); !st) return st;
  }
  // The other node's pod, routed through this node (its podCIDR on a link of its own).
  if (auto st = ip(n_.node, {"link", "add", "rem", "type", "veth", "peer", "name", "eth0", "netns",
                             baseName(n_.remote)});
      !st)
    return st;
  if (auto st = ip(n_.node, {"addr", "add", "10.64.1.1/24", "dev", "rem"}); !st) return st;
  if (auto st = ip(n_.node, {"link", "set", "rem", "up"}); !st) return st;
  if (auto st = ip(n_.remote, {"addr", "add", std::string(kRemoteIp) + "/24", "dev", "eth0"}); !st)
    return st;
  if (auto st = ip(n_.remote, {"link", "set", "eth0", "up"}); !st) return st;
  if (auto st = ip(n_.remote, {"route", "add", "default", "via", "10.64.1.1"}); !st) return st;
  // Clients reuse ports in TIME_WAIT (timestamps keep that safe) and have more of them.
  for (const auto& ns : {n_.client, n_.remote})
    if (auto st = sysctls(
            ns, {{"net.ipv4.tcp_tw_reuse", "1"}, {"net.ipv4.ip_local_port_range", "1024 65000"}});
        !st)
      return st;
  auto server = EchoServer::start(n_.server, kServerIp, {kServedPort, kProbePort});
  if (!server) return server.error().wrap("server");
  server_ = std::move(*server);
  for (const auto& ns : {n_.client, n_.remote})
    if (auto warm = sequential(ns, kServerIp, kServedPort, 3, 0); !warm)
      return warm.error().wrap("no policy yet, and still no connection");
  return okStatus();
}

Result<size_t> Bench::kernelElements(const std::string& nsPath) {
  auto out = exec({s_.ip, "netns", "exec", baseName(nsPath), s_.nft, "-j", "list", "table", "inet",
                   routelet::policy::kPolicyTable});
  if (!out) return out.error();
  auto j = json::parse(*out, nullptr, false);
  if (j.is_discarded()) return makeError("nft -j list table: not JSON");
  size_t n = 0;
  for (const auto& item : j["nftables"])
    for (const char* kind : {"set", "map"})
      if (item.contains(kind) && item[kind].contains("elem") &&
          item[kind]["name"].get<std::string>() != "owner")
        n += item[kind]["elem"].size();
  return n;
}

// --- 1. traffic

enum class Side { kPolicy, kNone, kConntrack, kEmpty };
constexpr int kSides = 4;
const char* sideLabel(Side s) {
  switch (s) {
    case Side::kPolicy:
      return "policy (table written)";
    case Side::kNone:
      return "no policy (table removed)";
    case Side::kConntrack:
      return "no policy, conntrack on";
    case Side::kEmpty:
      return "table, no pod isolated";
  }
  return "";
}
const char* sideKey(Side s) {
  switch (s) {
    case Side::kPolicy:
      return "policy";
    case Side::kNone:
      return "none";
    case Side::kConntrack:
      return "conntrack";
    case Side::kEmpty:
      return "empty_table";
  }
  return "";
}

// A nat hook with no rule: conntrack on in the node, as routelet's masquerade table (nat
// postrouting) has it on every node; nothing else.
constexpr const char* kConntrackTable =
    "table ip bench_conntrack {\n"
    "  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
    "}\n";
constexpr const char* kConntrackRemoval =
    "add table ip bench_conntrack\ndelete table ip bench_conntrack\n";

Status Bench::traffic(json& out) {
  Desired want = routelet::policy::desired(cluster_);
  Counts counts = count(want);
  auto server = *ip::Address::parse(kServerIp);
  auto client = *ip::Address::parse(kClientIp);
  if (!want.ingress.contains(server) || !want.egress.contains(client))
    return makeError(
        "the generated cluster does not isolate the server (ingress) and the "
        "client (egress)");
  size_t serverPolicies = 0;
  for (const auto& p : want.pods)
    if (p.ns == "shop" && p.name.rfind("server", 0) == 0) serverPolicies = p.ingress.size();
  Plan whole = routelet::policy::plan(nullptr, want);
  // The table of the same cluster without its policies: base chains, empty maps, nobody
  // isolated (what a node with enforcement on pays for a pod no policy selects).
  std::vector<model::NetworkPolicyObject> kept;
  for (const auto& [key, p] : cluster_.policies()) kept.push_back(p);
  cluster_.replacePolicies({});
  Plan empty = routelet::policy::plan(nullptr, routelet::policy::desired(cluster_));
  cluster_.replacePolicies(std::move(kept));
  routelet::nft::KernelTableEdge edge(routelet::policy::kPolicyTable);
  auto setSide = [&](Side side) -> Status {
    if (auto st = edge.nft(routelet::policy::removalScript()); !st) return st;
    if (auto st = edge.nft(kConntrackRemoval); !st) return st;
    if (side == Side::kPolicy) return routelet::policy::applyPlan(edge, whole);
    if (side == Side::kConntrack) return edge.nft(kConntrackTable);
    if (side == Side::kEmpty) return routelet::policy::applyPlan(edge, empty);
    return okStatus();
  };
  // Each side is what it says: the probe port is refused only with the table.
  for (Side side : {Side::kPolicy, Side::kNone, Side::kConntrack, Side::kEmpty}) {
    if (auto st = setSide(side); !st) return st.error().wrap(sideLabel(side));
    auto probeAnswered = answered(n_.client, kProbePort, std::chrono::milliseconds(200));
    if (!probeAnswered) return probeAnswered.error();
    auto servedAnswered = answered(n_.client, kServedPort, std::chrono::milliseconds(1000));
    if (!servedAnswered) return servedAnswered.error();
    bool probe = *probeAnswered, served = *servedAnswered;
    if (probe != (side != Side::kPolicy) || !served)
      return makeError(std::string(sideLabel(side)) + ": client -> server:" +
                       std::to_string(kProbePort) + (probe ? " answered" : " refused") +
                       ", :" + std::to_string(kServedPort) + (served ? " answered" : " refused"));
  }

  struct Path {
    const char* key;
    const char* label;
    const std::string* ns;
  };
  const Path paths[] = {{"same_node", "same node (bridged)", &n_.client},
                        {"cross_node", "other node (routed)", &n_.remote}};
  const Side sides[kSides] = {Side::kPolicy, Side::kNone, Side::kConntrack, Side::kEmpty};
  // Per side and path: every connection's wall time, and per round the figures whose ratios
  // are taken round by round (the sides of one round ran within seconds of each other).
  struct Cell {
    std::vector<double> us, burstUs;
    std::vector<double> p50, cpuUs, rate, burstCpuUs;  // one per round
    uint64_t failed = 0;
  };
  Cell cells[2][kSides];
  out["loadavg_start"] = loadavg();
  for (int round = 0; round < s_.rounds && !cni::interrupted(); ++round) {
    if (round % 5 == 0)
      std::cerr << "policy bench: traffic round " << round + 1 << "/" << s_.rounds << " ("
                << loadavg() << ")\n";
    for (int k = 0; k < kSides; ++k) {
      Side side = sides[(k + round) % kSides];
      if (auto st = setSide(side); !st) return st.error().wrap(sideLabel(side));
      for (int q = 0; q < 2; ++q) {
        int pi = (q + round) % 2;
        const Path& path = paths[pi];
        Cell& cell = cells[pi][static_cast<int>(side)];
        std::string what = std::string(sideLabel(side)) + ", " + path.label;
        if (auto warm = sequential(*path.ns, kServerIp, kServedPort, s_.warmup, 0); !warm)
          return warm.error().wrap(what);
        double serverBefore = server_->cpuMs();
        auto one = sequential(*path.ns, kServerIp, kServedPort, s_.connections, 0);
        if (!one) return one.error().wrap(what);
        double serverCpu = server_->cpuMs() - serverBefore;
        cell.p50.push_back(summarize(one->us).p50);
        cell.cpuUs.push_back((one->cpuMs + serverCpu) * 1e3 / s_.connections);
        cell.us.insert(cell.us.end(), one->us.begin(), one->us.end());
        serverBefore = server_->cpuMs();
        auto many = burst(*path.ns, kServerIp, kServedPort, s_.inFlight, s_.burstSeconds);
        if (!many) return many.error().wrap(what);
        serverCpu = server_->cpuMs() - serverBefore;
        if (many->done == 0) return makeError(what + ": no connection completed in flight");
        cell.rate.push_back(static_cast<double>(many->done) / many->seconds);
        cell.burstCpuUs.push_back((many->cpuMs + serverCpu) * 1e3 /
                                  static_cast<double>(many->done));
        cell.burstUs.insert(cell.burstUs.end(), many->us.begin(), many->us.end());
        cell.failed += many->failed;
      }
    }
  }
  if (cni::interrupted()) return makeError("interrupted");
  if (auto st = setSide(Side::kNone); !st) return st;
  out["loadavg_end"] = loadavg();
  out["counts"] = countsJson(counts);
  out["server_policies"] = serverPolicies;

  std::cout << "1. New connections to an isolated pod: " << s_.shape.pods << " pods, "
            << s_.policies << " policies; the server is selected by " << serverPolicies
            << " (one allows the clients, by a named port), the same-node client by one egress"
               " policy;\n   table "
            << counts.elements() << " elements, " << counts.chains << " chains, " << counts.rules
            << " rules. " << s_.rounds << " rounds, sides rotating; per side, path and round "
            << s_.connections << " connections one at a time (after " << s_.warmup
            << " untimed), then " << s_.burstSeconds << " s with " << s_.inFlight
            << " in flight.\n   CPU: the client's and the server's threads, packet processing "
               "in their context included, per connection (median of rounds).\n   loadavg "
            << out["loadavg_start"].get<std::string>() << " / "
            << out["loadavg_end"].get<std::string>() << "\n"
            << pad("   path", 24) << pad("side", 28)
            << "one at a time: p50 / p99 us  CPU us | in flight: conn/s  CPU us  p50 / p99 us"
               "  failed\n";
  for (int pi = 0; pi < 2; ++pi) {
    json pj;
    for (int si = 0; si < kSides; ++si) {
      Cell& c = cells[pi][si];
      Summary one = summarize(c.us), many = summarize(c.burstUs);
      std::cout << pad(si == 0 ? std::string("   ") + paths[pi].label : "", 24)
                << pad(sideLabel(sides[si]), 28) << fmt("%12.0f", one.p50)
                << fmt(" / %6.0f", one.p99) << fmt("  %6.1f", median(c.cpuUs))
                << fmt(" | %17.0f", median(c.rate)) << fmt("  %6.1f", median(c.burstCpuUs))
                << fmt("  %5.0f", many.p50) << fmt(" / %6.0f", many.p99)
                << fmt("  %6.0f", static_cast<double>(c.failed)) << "\n";
      pj[sideKey(sides[si])] = {{"one_at_a_time_us", summaryJson(one)},
                                {"in_flight_us", summaryJson(many)},
                                {"p50_us_per_round", c.p50},
                                {"cpu_us_per_conn_per_round", c.cpuUs},
                                {"conn_per_s_per_round", c.rate},
                                {"in_flight_cpu_us_per_conn_per_round", c.burstCpuUs},
                                {"failed", c.failed}};
    }
    out["paths"][paths[pi].key] = pj;
  }
  // Ratios of the same round's figures, then their median over the rounds.
  auto perRound = [](const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> r;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) r.push_back(a[i] / b[i]);
    return median(r);
  };
  std::cout << "   ratios policy / reference, median of per-round ratios:\n"
            << pad("", 46) << "  p50  p99(all)  CPU/conn | conn/s  CPU/conn   [goal: within 5%]\n";
  for (int pi = 0; pi < 2; ++pi)
    for (int ref : {1, 2, 3}) {
      Cell& a = cells[pi][0];
      Cell& b = cells[pi][ref];
      json r = {{"p50", perRound(a.p50, b.p50)},
                {"p99_pooled", summarize(a.us).p99 / summarize(b.us).p99},
                {"cpu_per_conn", perRound(a.cpuUs, b.cpuUs)},
                {"conn_per_s", perRound(a.rate, b.rate)},
                {"in_flight_cpu_per_conn", perRound(a.burstCpuUs, b.burstCpuUs)}};
      std::cout << "   " << pad(paths[pi].label, 20)
                << pad(ref == 1   ? "/ no policy"
                       : ref == 2 ? "/ conntrack on"
                                  : "/ table, none isolated",
                       23)
                << fmt("%6.3f", r["p50"].get<double>())
                << fmt("  %6.3f", r["p99_pooled"].get<double>())
                << fmt("    %6.3f", r["cpu_per_conn"].get<double>())
                << fmt(" | %6.3f", r["conn_per_s"].get<double>())
                << fmt("  %6.3f", r["in_flight_cpu_per_conn"].get<double>()) << "\n";
      out["ratios"][std::string(paths[pi].key) + "/" + sideKey(sides[ref])] = r;
    }
  std::cout << "   reference: " << kReferenceNote << ": new connection p50 " << kRefP50Us / 1000
            << " ms, p99 " << kRefP99Us / 1000 << " ms, " << kRefConnPerS[0] / 1000 << "-"
            << kRefConnPerS[1] / 1000 << "k new connections/s\n\n";
  return okStatus();
}

// --- 2. change

Status Bench::change(json& out) {
  routelet::nft::KernelTableEdge edge(routelet::policy::kPolicyTable);
  if (auto st = edge.nft(kConntrackRemoval); !st) return st;
  applied_ = routelet::policy::desired(cluster_);
  if (auto st = routelet::policy::applyPlan(edge, routelet::policy::plan(nullptr, applied_)); !st)
    return st.error().wrap("whole write");
  auto prober =
      Prober::start(n_.client, kServerIp, kProbePort, std::chrono::microseconds(s_.probeIntervalUs),
                    std::chrono::milliseconds(s_.probeTimeoutMs));
  if (!prober) return prober.error();
  Prober& probe = **prober;
  const auto timeout = std::chrono::milliseconds(s_.probeTimeoutMs);
  auto sleepMs = [](int n) { std::this_thread::sleep_for(std::chrono::milliseconds(n)); };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> jitter(0, std::max(1, s_.probeIntervalUs));

  struct Step {
    std::vector<double> desiredMs, planMs, applyMs, cpuMs, totalMs;
  };
  // One change as the agent makes it: the cluster, desired(), plan() against what the kernel
  // holds, applyPlan(); returns when the last transaction is committed.
  auto apply = [&](const std::function<void()>& changeCluster, Step& step) -> Status {
    double cpu = threadCpuMs();
    auto t0 = Clock::now();
    changeCluster();
    Desired want = routelet::policy::desired(cluster_);
    auto t1 = Clock::now();
    Plan p = routelet::policy::plan(&applied_, want);
    auto t2 = Clock::now();
    if (auto st = routelet::policy::applyPlan(edge, p); !st) return st;
    auto t3 = Clock::now();
    step.desiredMs.push_back(ms(t1 - t0));
    step.planMs.push_back(ms(t2 - t1));
    step.applyMs.push_back(ms(t3 - t2));
    step.totalMs.push_back(ms(t3 - t0));
    step.cpuMs.push_back(threadCpuMs() - cpu);
    applied_ = std::move(want);
    return okStatus();
  };
  Step create, remove;
  std::vector<double> permitted, refused;
  int missedCreate = 0, missedDelete = 0, lateAnswers = 0;
  auto allow = probePolicy();
  out["loadavg_start"] = loadavg();
  std::cerr << "policy bench: change, " << s_.changes << " rounds (" << loadavg() << ")\n";
  // Refused before the first round: the table holds no allow-probe.
  sleepMs(s_.probeTimeoutMs + 10);
  for (int round = 0; round < s_.changes && !cni::interrupted(); ++round) {
    // Create: the first attempt answered after the change began.
    std::this_thread::sleep_for(std::chrono::microseconds(jitter(rng)));
    size_t before = probe.resolvedCount();
    auto t0 = Clock::now();
    if (auto st = apply([&] { cluster_.upsertPolicy(allow); }, create); !st)
      return st.error().wrap("create allow-probe");
    std::optional<Clock::time_point> firstOk;
    for (auto deadline = Clock::now() + std::chrono::seconds(3);
         !firstOk && Clock::now() < deadline && !cni::interrupted();) {
      sleepMs(1);
      auto all = probe.resolved();
      for (size_t i = before; i < all.size(); ++i)
        if (all[i].ok && all[i].end > t0 && (!firstOk || all[i].end < *firstOk))
          firstOk = all[i].end;
    }
    if (firstOk)
      permitted.push_back(ms(*firstOk - t0));
    else
      ++missedCreate;
    sleepMs(5);  // a few answered attempts between the two changes

    // Delete: the first attempt refused after the last one answered.
    std::this_thread::sleep_for(std::chrono::microseconds(jitter(rng)));
    t0 = Clock::now();
    if (auto st = apply([&] { cluster_.removePolicy("shop", "allow-probe"); }, remove); !st)
      return st.error().wrap("delete allow-probe");
    auto done = Clock::now();
    std::this_thread::sleep_for(timeout + std::chrono::milliseconds(30));
    auto all = probe.resolved();
    std::vector<Prober::Attempt> around;
    for (const auto& a : all)
      if (a.start > t0 - std::chrono::milliseconds(5) &&
          a.start < done + std::chrono::milliseconds(20))
        around.push_back(a);
    std::sort(around.begin(), around.end(),
              [](const auto& a, const auto& b) { return a.start < b.start; });
    size_t lastOk = 0;
    bool anyOk = false;
    for (size_t i = 0; i < around.size(); ++i)
      if (around[i].ok) {
        lastOk = i;
        anyOk = true;
      }
    size_t from = anyOk ? lastOk + 1 : 0;
    if (from < around.size())
      refused.push_back(ms(around[from].start - t0));
    else
      ++missedDelete;
    for (const auto& a : around)
      if (a.ok && a.start > done + std::chrono::milliseconds(1)) ++lateAnswers;
  }
  if (cni::interrupted()) return makeError("interrupted");
  if (auto e = probe.error(); !e.empty()) return makeError("prober: " + e);

  // Whole rewrites (what the agent does at start and when another process changed its
  // table) with the probe port refused: does any refused connection pass meanwhile?
  std::vector<double> rewriteMs, openMs;
  int answeredDuring = 0, attemptsDuring = 0;
  for (int i = 0; i < s_.rewrites && !cni::interrupted(); ++i) {
    Plan p = routelet::policy::plan(nullptr, applied_);
    auto t0 = Clock::now();
    if (auto st = edge.nft(p.sets); !st) return st.error().wrap("whole rewrite");
    auto t1 = Clock::now();
    if (auto st = edge.elements(p.elements); !st) return st.error().wrap("whole rewrite");
    if (auto st = edge.nft(p.rest); !st) return st.error().wrap("whole rewrite");
    auto t2 = Clock::now();
    rewriteMs.push_back(ms(t2 - t0));
    openMs.push_back(ms(t2 - t1));
    std::this_thread::sleep_for(timeout + std::chrono::milliseconds(10));
    for (const auto& a : probe.resolved())
      if (a.start >= t0 && a.start <= t2) {
        ++attemptsDuring;
        answeredDuring += a.ok;
      }
  }
  prober->reset();
  out["loadavg_end"] = loadavg();

  auto row = [&](const char* label, const std::vector<double>& v, const char* key, json& j) {
    Summary x = summarize(v);
    std::cout << "   " << pad(label, 58) << fmt("%8.2f", x.p50) << fmt(" %8.2f", x.p99)
              << fmt(" %8.2f", x.max) << "\n";
    j[key] = summaryJson(x);
  };
  Counts c = count(applied_);
  std::cout << "2. Policy change -> enforced: " << s_.shape.pods << " pods, " << s_.policies
            << " policies (+ allow-probe), " << c.elements() << " elements; " << s_.changes
            << " rounds; prober in the client pod: an attempt every " << s_.probeIntervalUs
            << " us, given up after " << s_.probeTimeoutMs << " ms\n   loadavg "
            << out["loadavg_start"].get<std::string>() << " / "
            << out["loadavg_end"].get<std::string>() << "\n"
            << pad("", 61) << "  p50 ms   p99 ms   max ms\n";
  row("create: upsertPolicy -> desired+plan+applyPlan done", create.totalMs, "create_applied", out);
  row("  of it desired()", create.desiredMs, "create_desired", out);
  row("  of it plan()", create.planMs, "create_plan", out);
  row("  of it applyPlan()", create.applyMs, "create_apply", out);
  row("  CPU of this thread (kernel commit included)", create.cpuMs, "create_cpu", out);
  row("create: upsertPolicy -> first permitted connection seen", permitted, "create_permitted",
      out);
  row("delete: removePolicy -> desired+plan+applyPlan done", remove.totalMs, "delete_applied", out);
  row("  of it applyPlan()", remove.applyMs, "delete_apply", out);
  row("delete: removePolicy -> first refused attempt sent", refused, "delete_refused", out);
  std::cout << "   missed: create " << missedCreate << ", delete " << missedDelete
            << "; attempts answered after a delete was applied: " << lateAnswers << "\n";
  out["missed_create"] = missedCreate;
  out["missed_delete"] = missedDelete;
  out["late_answers"] = lateAnswers;
  Summary p = summarize(permitted), r = summarize(refused);
  std::cout << "   reference: " << kReferenceNote << ": create -> first permitted "
            << kRefCreateMs[0] << "-" << kRefCreateMs[1] << " ms, delete -> first refused ~"
            << kRefDeleteMs / 1000 << " s\n   ratio routelet p99 / reference: create "
            << fmt("%.3f", p.p99 / kRefCreateMs[0]) << ", delete "
            << fmt("%.4f", r.p99 / kRefDeleteMs) << "   [goal: p99 under 50 ms both ways]\n";
  out["ratio_create_p99_to_reference"] = p.p99 / kRefCreateMs[0];
  out["ratio_delete_p99_to_reference"] = r.p99 / kRefDeleteMs;
  Summary rw = summarize(rewriteMs), open = summarize(openMs);
  std::cout << "   whole rewrite (start, heal), " << rewriteMs.size()
            << " times: " << fmt("%.2f", rw.p50) << " / " << fmt("%.2f", rw.p99)
            << " ms p50 / p99; between its first and last commit (maps empty, no pod isolated) "
            << fmt("%.2f", open.p50) << " / " << fmt("%.2f", open.p99)
            << " ms; refused attempts answered meanwhile: " << answeredDuring << " of "
            << attemptsDuring << "\n\n";
  out["rewrite"] = summaryJson(rw);
  out["rewrite_open"] = summaryJson(open);
  out["rewrite_answered"] = answeredDuring;
  out["rewrite_attempts"] = attemptsDuring;
  return okStatus();
}

// --- 3. scale

Status Bench::scale(json& out) {
  if (auto st = enter(n_.scale); !st) return st;
  const Shape& shape = s_.scale;
  out["loadavg_start"] = loadavg();
  std::cerr << "policy bench: scale, " << shape.pods << " pods (" << loadavg() << ")\n";
  double rss0 = rssMib();
  Cluster cluster(kThisNode);
  auto t = Clock::now();
  fill(cluster, shape, s_.scalePolicies);
  double fillMs = ms(Clock::now() - t);
  double rss1 = rssMib();
  out["fill_ms"] = fillMs;
  out["rss_before_mib"] = rss0;
  out["rss_cluster_mib"] = rss1;
  out["label_sets"] = cluster.labelSets();
  out["pods"] = cluster.podCount();

  // desired(): the whole computation the agent runs on every change.
  std::vector<double> desiredMs, desiredCpu;
  Desired want;
  for (int i = 0; i < s_.scaleReps && !cni::interrupted(); ++i) {
    want = Desired();
    double cpu = threadCpuMs();
    auto t0 = Clock::now();
    want = routelet::policy::desired(cluster);
    desiredMs.push_back(ms(Clock::now() - t0));
    desiredCpu.push_back(threadCpuMs() - cpu);
  }
  if (cni::interrupted()) return makeError("interrupted");
  double rss2 = rssMib();
  out["rss_with_desired_mib"] = rss2;
  // A relist (the Pod watch expired): the agent stages the new LIST beside the Pods in use
  // until it is complete, so both are resident at its end.
  resetPeak();
  double rssRelist = static_cast<double>(statusKib("VmRSS")) / 1024.0;
  cluster.beginPods();
  forEachPod(shape, [&](const model::PodObject& p) { cluster.stagePod(p); });
  cluster.commitPods();
  double relistPeak = static_cast<double>(statusKib("VmHWM")) / 1024.0 - rssRelist;
  out["relist_peak_mib"] = relistPeak;
  Counts counts = count(want);
  out["counts"] = countsJson(counts);

  // Whole writes: the agent's (three steps through KernelTableEdge) against nft -f of the
  // same ruleset with every element inline, alternating.
  routelet::nft::KernelTableEdge edge(routelet::policy::kPolicyTable);
  std::vector<double> planMs, setsMs, elementsMs, restMs, wholeMs, wholeCpu, peakMib, nftMs, nftCpu;
  std::string file = dir_ + "/whole.nft";
  {
    Plan p = routelet::policy::plan(nullptr, want);
    std::ofstream(file) << wholeScript(p);
    out["whole_script_bytes"] = std::filesystem::file_size(file);
    out["rest_script_bytes"] = p.rest.size();
  }
  for (int i = 0; i < s_.scaleReps && !cni::interrupted(); ++i) {
    std::cerr << "policy bench: scale, whole write " << i + 1 << "/" << s_.scaleReps << " ("
              << loadavg() << ")\n";
    resetPeak();
    double rss = static_cast<double>(statusKib("VmRSS")) / 1024.0;
    double cpu = threadCpuMs();
    auto t0 = Clock::now();
    Plan p = routelet::policy::plan(nullptr, want);
    auto t1 = Clock::now();
    if (auto st = edge.nft(p.sets); !st) return st.error().wrap("whole write: sets");
    auto t2 = Clock::now();
    if (auto st = edge.elements(p.elements); !st) return st.error().wrap("whole write: elements");
    auto t3 = Clock::now();
    if (auto st = edge.nft(p.rest); !st) return st.error().wrap("whole write: rest");
    auto t4 = Clock::now();
    wholeCpu.push_back(threadCpuMs() - cpu);
    peakMib.push_back(static_cast<double>(statusKib("VmHWM")) / 1024.0 - rss);
    planMs.push_back(ms(t1 - t0));
    setsMs.push_back(ms(t2 - t1));
    elementsMs.push_back(ms(t3 - t2));
    restMs.push_back(ms(t4 - t3));
    wholeMs.push_back(ms(t4 - t0));
    cni::PluginCall call{s_.nft, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "", {"-f", file}};
    auto outcome = cni::runPlugin(call);
    if (!outcome) return outcome.error();
    if (outcome->exitCode != 0)
      return makeError("nft -f " + file + ": " + outcome->err.substr(0, 400));
    nftMs.push_back(cni::toMs(outcome->elapsed));
    nftCpu.push_back(outcome->cpuMs);
  }
  if (cni::interrupted()) return makeError("interrupted");
  auto byNft = kernelElements(n_.scale);
  if (!byNft) return byNft.error();
  // The agent's write last: the updates below start from it.
  if (auto st = write(routelet::policy::plan(nullptr, want)); !st) return st;
  auto byAgent = kernelElements(n_.scale);
  if (!byAgent) return byAgent.error();
  if (*byAgent != *byNft || *byAgent != counts.elements())
    return makeError("elements in the kernel: agent's write " + std::to_string(*byAgent) +
                     ", nft -f " + std::to_string(*byNft) + ", desired " +
                     std::to_string(counts.elements()));
  out["kernel_elements"] = *byAgent;

  // One pod's label change, as the agent applies it: a pod of another node (it leaves and
  // enters address sets) and a pod of this node (its isolation changes too).
  struct Update {
    const char* key;
    const char* label;
    model::PodObject pod;
    std::vector<double> totalMs, desiredMs, planMs, applyMs, cpuMs;
    std::vector<double> elementChanges, scriptBytes;
  };
  // Pods whose app label goes to the next app and back: a pod of another node whose change
  // alters no element here (the first generated one), one whose change moves it between
  // address sets (the first such, found by trying), and the first isolated pod of this node.
  auto nextApp = [&](model::PodObject pod) {
    for (auto& [key, value] : pod.labels)
      if (key == "app")
        value = "app-" + std::to_string((std::stoi(value.substr(4)) + 1) % shape.appsPerNamespace);
    return pod;
  };
  std::optional<model::PodObject> quietPod, remotePod, localPod;
  for (const auto& [ns, byName] : cluster.pods())
    for (const auto& [name, pod] : byName) {
      if (ns.rfind("ns-", 0) != 0) continue;
      if (!quietPod && !pod.local) quietPod = podObject(ns, name, pod);
      if (!localPod && pod.local && want.ingress.contains(pod.ips[0]))
        localPod = podObject(ns, name, pod);
    }
  // Candidates: pods of other nodes that a same-namespace podSelector peer of a policy
  // selecting a local pod takes in; the first whose change moves an element wins.
  std::vector<model::PodObject> candidates;
  for (const auto& [key, policy] : cluster.policies()) {
    auto byName = cluster.pods().find(key.first);
    if (key.first.rfind("ns-", 0) != 0 || byName == cluster.pods().end() || !policy.podSelector)
      continue;
    bool selectsLocal = false;
    for (const auto& [name, pod] : byName->second)
      selectsLocal = selectsLocal || (pod.local && policy.podSelector->matches(*pod.labels));
    if (!selectsLocal) continue;
    for (const auto* rules : {&policy.ingressRules, &policy.egressRules})
      for (const auto& rule : *rules)
        for (const auto& peer : rule.peers) {
          if (!peer.pods || peer.namespaces || peer.pods->requirements.empty()) continue;
          for (const auto& [name, pod] : byName->second)
            if (!pod.local && peer.pods->matches(*pod.labels) && candidates.size() < 20) {
              candidates.push_back(podObject(key.first, name, pod));
              break;
            }
        }
  }
  for (const auto& pod : candidates) {
    if (cni::interrupted()) return makeError("interrupted");
    cluster.upsertPod(nextApp(pod));
    Plan p = routelet::policy::plan(&want, routelet::policy::desired(cluster));
    cluster.upsertPod(pod);
    if (!p.elements.empty()) {
      remotePod = pod;
      break;
    }
  }
  if (!quietPod || !remotePod || !localPod)
    return makeError(
        "no pod of another node whose label moves it between sets, or no "
        "isolated local pod");
  Update updates[] = {
      {"quiet_pod", "a pod of another node, no element", *quietPod, {}, {}, {}, {}, {}, {}, {}},
      {"remote_pod", "a pod of another node, in sets", *remotePod, {}, {}, {}, {}, {}, {}, {}},
      {"local_pod", "an isolated pod of this node", *localPod, {}, {}, {}, {}, {}, {}, {}}};
  out["updated_pods"] = json::array();
  for (const Update& u : updates) out["updated_pods"].push_back(u.pod.ns + "/" + u.pod.name);
  Desired applied = std::move(want);
  for (int i = 0; i < s_.updates && !cni::interrupted(); ++i)
    for (Update& u : updates) {
      // Even rounds move the pod to the next app, odd ones back.
      model::PodObject changed = i % 2 == 0 ? nextApp(u.pod) : u.pod;
      double cpu = threadCpuMs();
      auto t0 = Clock::now();
      cluster.upsertPod(changed);
      Desired next = routelet::policy::desired(cluster);
      auto t1 = Clock::now();
      Plan p = routelet::policy::plan(&applied, next);
      auto t2 = Clock::now();
      if (auto st = routelet::policy::applyPlan(edge, p); !st)
        return st.error().wrap(std::string("update of ") + u.label);
      auto t3 = Clock::now();
      u.cpuMs.push_back(threadCpuMs() - cpu);
      u.desiredMs.push_back(ms(t1 - t0));
      u.planMs.push_back(ms(t2 - t1));
      u.applyMs.push_back(ms(t3 - t2));
      u.totalMs.push_back(ms(t3 - t0));
      double keys = 0;
      for (const auto& c : p.elements) keys += static_cast<double>(c.keys.size());
      u.elementChanges.push_back(keys);
      u.scriptBytes.push_back(static_cast<double>(p.sets.size() + p.rest.size()));
      applied = std::move(next);
    }
  if (cni::interrupted()) return makeError("interrupted");
  out["loadavg_end"] = loadavg();

  // The 1000-pod reference for desired(): the same generator at the small shape.
  std::vector<double> smallMs;
  {
    Cluster small(kThisNode);
    fill(small, s_.shape, s_.policies);
    for (int i = 0; i < 5; ++i) {
      auto t0 = Clock::now();
      Desired d = routelet::policy::desired(small);
      smallMs.push_back(ms(Clock::now() - t0));
    }
  }

  Summary dw = summarize(desiredMs), dc = summarize(desiredCpu), sm = summarize(smallMs);
  size_t local = applied.pods.size();
  std::cout << "3. Scale: " << cluster.podCount() << " pods in " << cluster.namespaces().size()
            << " namespaces on " << shape.nodes << " nodes (" << local << " on this one), "
            << cluster.policies().size() << " policies\n   loadavg "
            << out["loadavg_start"].get<std::string>() << " / "
            << out["loadavg_end"].get<std::string>() << "\n"
            << "   cache (Cluster): VmRSS " << fmt("%.1f", rss0) << " -> " << fmt("%.1f", rss1)
            << " MiB after filling (+" << fmt("%.1f", rss1 - rss0) << " MiB, "
            << fmt("%.0f", (rss1 - rss0) * 1024 * 1024 / static_cast<double>(cluster.podCount()))
            << " B a pod; " << cluster.labelSets() << " distinct label sets; fill "
            << fmt("%.0f", fillMs) << " ms); with the Desired the agent keeps " << fmt("%.1f", rss2)
            << " MiB (+" << fmt("%.1f", rss2 - rss1) << "); a relist of the Pods adds "
            << fmt("%.1f", relistPeak) << " MiB at its peak\n"
            << "   desired(): " << fmt("%.1f", dw.p50) << " ms p50 (max " << fmt("%.1f", dw.max)
            << "), CPU " << fmt("%.1f", dc.p50) << " ms; reference, the same at " << s_.shape.pods
            << " pods / " << s_.policies << " policies: " << fmt("%.2f", sm.p50) << " ms (ratio "
            << fmt("%.0f", dw.p50 / sm.p50) << ")\n";
  out["desired_ms"] = summaryJson(dw);
  out["desired_cpu_ms"] = summaryJson(dc);
  out["desired_small_ms"] = summaryJson(sm);
  std::cout << "   elements on the node: " << counts.elements() << " (kernel: " << *byAgent
            << "): " << counts.addressElements << " in " << counts.addressSets << " address sets, "
            << counts.portElements << " in " << counts.portSets << " named-port sets, "
            << counts.mapElements << " in the verdict maps; " << counts.chains << " chains, "
            << counts.rules << " rules; " << counts.isolated << " of " << counts.localPods
            << " local pods isolated\n";
  Summary w = summarize(wholeMs), n = summarize(nftMs);
  std::cout << "   whole write (p50 of " << wholeMs.size() << "): agent " << fmt("%.0f", w.p50)
            << " ms (plan " << fmt("%.0f", median(planMs)) << ", sets script "
            << fmt("%.0f", median(setsMs)) << ", elements " << fmt("%.0f", median(elementsMs))
            << ", rest script " << fmt("%.0f", median(restMs)) << "; CPU "
            << fmt("%.0f", median(wholeCpu)) << " ms, peak +" << fmt("%.1f", median(peakMib))
            << " MiB) against nft -f, elements inline, " << fmt("%.0f", n.p50) << " ms (CPU "
            << fmt("%.0f", median(nftCpu)) << "): ratio " << fmt("%.2f", w.p50 / n.p50) << "\n";
  out["whole_ms"] = summaryJson(w);
  out["whole_plan_ms"] = planMs;
  out["whole_sets_ms"] = setsMs;
  out["whole_elements_ms"] = elementsMs;
  out["whole_rest_ms"] = restMs;
  out["whole_cpu_ms"] = wholeCpu;
  out["whole_peak_mib"] = peakMib;
  out["nft_f_ms"] = summaryJson(n);
  out["nft_f_cpu_ms"] = nftCpu;
  for (Update& u : updates) {
    Summary total = summarize(u.totalMs);
    std::cout << "   label change of " << pad(u.label, 34) << ": " << fmt("%.1f", total.p50)
              << " / " << fmt("%.1f", total.p99) << " ms p50 / p99 (desired "
              << fmt("%.1f", median(u.desiredMs)) << ", plan " << fmt("%.1f", median(u.planMs))
              << ", applyPlan " << fmt("%.1f", median(u.applyMs)) << "; CPU "
              << fmt("%.1f", median(u.cpuMs)) << "; " << fmt("%.0f", median(u.elementChanges))
              << " element changes, " << fmt("%.0f", median(u.scriptBytes))
              << " B of script); ratio to the whole write " << fmt("%.3f", total.p50 / w.p50)
              << "\n";
    out["updates"][u.key] = {{"total_ms", summaryJson(total)},
                             {"desired_ms", summaryJson(summarize(u.desiredMs))},
                             {"plan_ms", summaryJson(summarize(u.planMs))},
                             {"apply_ms", summaryJson(summarize(u.applyMs))},
                             {"cpu_ms", summaryJson(summarize(u.cpuMs))},
                             {"element_changes", u.elementChanges},
                             {"script_bytes", u.scriptBytes}};
  }
  std::cout << "\n";
  if (listener_) {
    out["listener_commits"] = listener_->commits();
    out["listener_overruns"] = listener_->overruns();
  }
  // Part 4 reuses this cluster: handed over through growth().
  scaleCluster_ = std::make_unique<Cluster>(std::move(cluster));
  return okStatus();
}

// --- 4. growth

Status Bench::growth(json& out) {
  std::cout << "4. Elements per node as policies grow (the same generator; desired() wall ms,"
               " p50 of 3 at the small size, 1 run at the large)\n"
            << "   " << pad("pods", 8) << pad("policies", 10) << pad("isolated/local", 16)
            << pad("addr sets", 11) << pad("addr elems", 12) << pad("port elems", 12)
            << pad("map elems", 11) << pad("elements", 10) << pad("chains", 8) << pad("rules", 8)
            << "desired() ms\n";
  out["loadavg_start"] = loadavg();
  for (const Shape* shape : {&s_.shape, &s_.scale}) {
    std::unique_ptr<Cluster> made;
    Cluster* c = nullptr;
    if (shape == &s_.scale && scaleCluster_) {
      c = scaleCluster_.get();
    } else {
      made = std::make_unique<Cluster>(kThisNode);
      fill(*made, *shape, 0);
      c = made.get();
    }
    int reps = shape == &s_.shape ? 3 : 1;
    for (int wanted : s_.growth) {
      if (cni::interrupted()) return makeError("interrupted");
      c->replacePolicies(policies(*shape, wanted));
      std::vector<double> took;
      Counts k;
      for (int i = 0; i < reps; ++i) {
        auto t0 = Clock::now();
        Desired d = routelet::policy::desired(*c);
        took.push_back(ms(Clock::now() - t0));
        k = count(d);
      }
      std::cout << "   " << pad(std::to_string(c->podCount()), 8) << pad(std::to_string(wanted), 10)
                << pad(std::to_string(k.isolated) + "/" + std::to_string(k.localPods), 16)
                << pad(std::to_string(k.addressSets), 11)
                << pad(std::to_string(k.addressElements), 12)
                << pad(std::to_string(k.portElements), 12) << pad(std::to_string(k.mapElements), 11)
                << pad(std::to_string(k.elements()), 10) << pad(std::to_string(k.chains), 8)
                << pad(std::to_string(k.rules), 8) << fmt("%.1f", median(took)) << "\n";
      json row = countsJson(k);
      row["pods"] = c->podCount();
      row["policies"] = wanted;
      row["desired_ms"] = median(took);
      out["rows"].push_back(row);
    }
  }
  out["loadavg_end"] = loadavg();
  std::cout << "   loadavg " << out["loadavg_start"].get<std::string>() << " / "
            << out["loadavg_end"].get<std::string>() << "\n";
  return okStatus();
}

Status Bench::run(json& out) {
  if (auto st = enter(n_.node); !st) return st;
  if (auto st = build(); !st) return st.error().wrap("topology");
  fill(cluster_, s_.shape, s_.policies);
  if (s_.parts.contains("traffic"))
    if (auto st = traffic(out["traffic"]); !st) return st.error().wrap("traffic");
  if (s_.parts.contains("change"))
    if (auto st = change(out["change"]); !st) return st.error().wrap("change");
  server_.reset();
  if (s_.parts.contains("scale"))
    if (auto st = scale(out["scale"]); !st) return st.error().wrap("scale");
  if (s_.parts.contains("growth"))
    if (auto st = growth(out["growth"]); !st) return st.error().wrap("growth");
  listener_.reset();
  entered_.reset();
  return okStatus();
}

std::optional<std::vector<int>> parseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto n = cni::parseNumber(item, 1, 100000);
    if (!n) return std::nullopt;
    out.push_back(*n);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

constexpr const char* kUsage =
    "usage: policy_bench [--only traffic,change,scale,growth] [--json FILE]\n"
    "         [--pods 1000] [--namespaces 20] [--nodes 20] [--policies 200]\n"
    "         [--rounds 20] [--connections 200] [--warmup 20] [--burst-ms 500] [--in-flight 8]\n"
    "         [--changes 50] [--probe-interval-us 1000] [--probe-timeout-ms 20] [--rewrites 20]\n"
    "         [--scale-pods 150000] [--scale-namespaces 1000] [--scale-nodes 1000]\n"
    "         [--scale-policies 2000] [--scale-reps 3] [--updates 10]\n"
    "         [--growth 10,100,200,1000,2000] [--glibc-malloc] [--nft PATH] [--ip PATH]\n"
    "Measures routelet's NetworkPolicy table (inet routelet_policy) on a node of network\n"
    "namespaces it makes (bpol<pid>-*) and removes: new connections to an isolated pod\n"
    "against the same pod without the table, policy change -> enforced, and a cluster of\n"
    "150 000 pods. Needs root and bridge netfilter (br_netfilter). See tests/bench/README.md.\n";

int main(int argc, char** argv) {
  Settings s;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--glibc-malloc") {
      s.agentMalloc = false;
      continue;
    }
    bool hasValue = i + 1 < args.size();
    std::string v = hasValue ? args[++i] : "";
    std::optional<int> n;
    auto number = [&](const char* name, int lo, int hi, int* to) {
      if (a != name || !hasValue || !(n = cni::parseNumber(v, lo, hi))) return false;
      *to = *n;
      return true;
    };
    int burstMs = static_cast<int>(s.burstSeconds * 1000);
    if (number("--pods", 10, 240000, &s.shape.pods) ||
        number("--namespaces", 1, 5000, &s.shape.namespaces) ||
        number("--nodes", 3, 5000, &s.shape.nodes) ||
        number("--policies", 1, 100000, &s.policies) || number("--rounds", 1, 1000, &s.rounds) ||
        number("--connections", 1, 1000000, &s.connections) ||
        number("--warmup", 0, 100000, &s.warmup) || number("--in-flight", 1, 1024, &s.inFlight) ||
        number("--changes", 1, 100000, &s.changes) ||
        number("--probe-interval-us", 100, 1000000, &s.probeIntervalUs) ||
        number("--probe-timeout-ms", 1, 10000, &s.probeTimeoutMs) ||
        number("--rewrites", 0, 10000, &s.rewrites) ||
        number("--scale-pods", 10, 1000000, &s.scale.pods) ||
        number("--scale-namespaces", 1, 100000, &s.scale.namespaces) ||
        number("--scale-nodes", 3, 16000, &s.scale.nodes) ||
        number("--scale-policies", 1, 100000, &s.scalePolicies) ||
        number("--scale-reps", 1, 1000, &s.scaleReps) ||
        number("--updates", 0, 10000, &s.updates)) {
      continue;
    }
    if (number("--burst-ms", 10, 600000, &burstMs)) {
      s.burstSeconds = burstMs / 1000.0;
    } else if (hasValue && a == "--only") {
      s.parts.clear();
      std::stringstream in(v);
      std::string part;
      while (std::getline(in, part, ',')) s.parts.insert(part);
      for (const auto& p : s.parts)
        if (p != "traffic" && p != "change" && p != "scale" && p != "growth") {
          std::cerr << kUsage;
          return 2;
        }
    } else if (hasValue && a == "--growth" && parseList(v)) {
      s.growth = *parseList(v);
    } else if (hasValue && a == "--nft") {
      s.nft = v;
    } else if (hasValue && a == "--ip") {
      s.ip = v;
    } else if (hasValue && a == "--json") {
      s.jsonPath = v;
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  for (const Shape* shape : {&s.shape, &s.scale})
    if (auto e = checkShape(*shape); !e.empty()) {
      std::cerr << "policy_bench: a cluster of " << shape->pods << " pods: " << e << "\n";
      return 2;
    }
  if (::geteuid() != 0) {
    std::cerr << "policy_bench: needs root (it creates network namespaces)\n";
    return 2;
  }
  for (const auto& tool : {s.nft, s.ip})
    if (::access(tool.c_str(), X_OK) != 0) {
      std::cerr << "policy_bench: no " << tool
                << " (pass --nft / --ip; Debian: nftables, iproute2)\n";
      return 2;
    }
  cni::installInterruptHandler();
  if (s.agentMalloc) useAgentMalloc();

  char tmpl[] = "/tmp/bpol-policy-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("policy_bench: mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  json out;
  out["settings"] = {{"pods", s.shape.pods},
                     {"namespaces", s.shape.namespaces},
                     {"nodes", s.shape.nodes},
                     {"policies", s.policies},
                     {"scale_pods", s.scale.pods},
                     {"scale_namespaces", s.scale.namespaces},
                     {"scale_nodes", s.scale.nodes},
                     {"scale_policies", s.scalePolicies},
                     {"malloc", s.agentMalloc ? "agent" : "glibc"}};
  out["loadavg_start"] = loadavg();
  std::cout << "NetworkPolicy benchmark: cpus=" << std::thread::hardware_concurrency()
            << ", malloc " << (s.agentMalloc ? "as the agent's" : "glibc's defaults")
            << ", loadavg " << out["loadavg_start"].get<std::string>() << "\n\n";
  Status result = okStatus();
  {
    // Destroyed in reverse: the bench (its threads and sockets, this thread back in its own
    // namespace), then the namespaces.
    cni::NetnsSet spaces("bpol" + std::to_string(::getpid()));
    Node node;
    result = [&]() -> Status {
      for (std::string* path :
           {&node.node, &node.server, &node.client, &node.remote, &node.scale}) {
        auto made = spaces.create();
        if (!made) return made.error();
        *path = *made;
      }
      Bench bench(s, node, dir);
      return bench.run(out);
    }();
  }
  out["loadavg_end"] = loadavg();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  if (!result) {
    std::cerr << "policy_bench: ABORTED: " << result.error().message << "\n";
    return 1;
  }
  std::cout << "\nloadavg start / end: " << out["loadavg_start"].get<std::string>() << " / "
            << out["loadavg_end"].get<std::string>() << "\n";
  if (!s.jsonPath.empty()) std::ofstream(s.jsonPath) << out.dump(1) << "\n";
  return 0;
}

}  // namespace
}  // namespace routelet::bench::policy

int main(int argc, char** argv) {
  return routelet::bench::policy::main(argc, argv);
}
