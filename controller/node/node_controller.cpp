#include "controller/node/node_controller.h"

#include <algorithm>

#include "common/base/log.h"
#include "controller/node/local_setup.h"
#include "controller/routes/vxlan.h"

namespace routelet::node {
namespace {

std::string familyLabel(ip::Family f) {
  return f == ip::Family::kV4 ? "ipv4" : "ipv6";
}

}  // namespace

NodeController::NodeController(config::Options options, NodeEdge& edge)
    : options_(std::move(options)), edge_(edge) {}

agent::Wake NodeController::nodeChanged(const model::NodeCache&, const model::Node* before,
                                        const model::Node* after) {
  const std::string& name = after ? after->name : before->name;
  // The own Node's setup may have changed; any change retries a setup that failed.
  return name == options_.nodeName || !healthy_ ? agent::Wake::kWhole : agent::Wake::kNo;
}

agent::Wake NodeController::kernelEvent(const netlink::Event& e, const model::NodeCache&) {
  using Kind = netlink::Event::Kind;
  switch (e.kind) {
    case Kind::kLinkRemoved:
    case Kind::kLinkChanged:
      if (e.linkName == options_.bridge || e.linkName == nodeInterface_) return agent::Wake::kWhole;
      return agent::Wake::kNo;
    case Kind::kAddressAdded:
    case Kind::kAddressRemoved: {
      // The node's subnets changed (on-link peers, the node IP's interface): look again. Not
      // for the VTEP addresses routelet puts on its own VXLAN devices.
      if (e.address && local_) {
        for (const auto& cidr : local_->podCIDRs)
          if (e.address->address() == routes::vtepAddress(cidr)) return agent::Wake::kNo;
      }
      if (e.kind == Kind::kAddressRemoved && e.address &&
          std::find(lastNodeIPs_.begin(), lastNodeIPs_.end(), e.address->address()) !=
              lastNodeIPs_.end())
        addressGone_ = true;
      return agent::Wake::kWhole;
    }
    default:
      return agent::Wake::kNo;
  }
}

void NodeController::afterKernelEvents() {
  if (addressGone_.exchange(false) && nodeAddressGone_) nodeAddressGone_();
}

void NodeController::notReady(agent::Pass& pass, const std::string& reason) const {
  if (!cniConfigWritten_) pass.notReady.push_back(reason);
}

void NodeController::sync(agent::Pass& pass) {
  const model::Node* own = pass.nodes.get(options_.nodeName);
  pass.own = own;
  if (!pass.whole) {
    pass.local = local_;
    return;
  }
  local_.reset();
  healthy_ = false;
  if (!own) {
    if (pass.nodes.synced()) {
      notReady(pass, "own Node " + options_.nodeName + " does not exist");
      logged_.warn("no-own-node", "own Node " + options_.nodeName + " not found; waiting for it");
    }
    return;
  }
  logged_.clear("no-own-node");
  if (own->podCIDRs.empty()) {
    notReady(pass, "Node " + options_.nodeName + " has no spec.podCIDRs yet");
    logged_.warn("no-podcidr", "Node " + options_.nodeName +
                                   " has no spec.podCIDRs yet: waiting (the controller manager "
                                   "assigns them with --allocate-node-cidrs and --cluster-cidr)");
    return;
  }
  logged_.clear("no-podcidr");
  // Logged when they appear. Only the current ones are remembered: every edit of a bad
  // value is a new problem line, and a set of all of them would grow without bound.
  std::set<std::string> problems(own->problems.begin(), own->problems.end());
  for (const auto& problem : problems)
    if (!ownProblems_.contains(problem)) log::warn("own Node: " + problem);
  ownProblems_ = std::move(problems);
  setUp(pass, *own);
  pass.local = local_;
}

void NodeController::setUp(agent::Pass& pass, const model::Node& own) {
  OwnNodeIPs ips = ownNodeIPs(own, pass.nodes, options_);
  for (ip::Family f : ips.missing) {
    logged_.warn("no-node-ip-" + familyLabel(f),
                 "own Node " + options_.nodeName + " has no " + familyLabel(f) +
                     " InternalIP or ExternalIP that is usable (see the log's ignored "
                     "addresses): peers cannot route to its podCIDR " +
                     own.podCIDR(f)->str());
  }
  lastNodeIPs_ = ips.nodeIPs;
  auto facts = edge_.inspect(ips.nodeIPs, options_.bridge);
  if (!facts) {
    notReady(pass, facts.error().message);
    logged_.warn("inspect", "cannot read this node's interfaces: " + facts.error().message);
    return;
  }
  logged_.clear("inspect");
  nodeInterface_ = facts->nodeIPInterface;
  LocalSetup setup = localSetup(own, ips.nodeIPs, *facts, options_);
  status::AgentStatus& r = pass.report;
  r.node = options_.nodeName;
  r.bridge = options_.bridge;
  r.mtu = setup.mtu;
  r.podCIDRs = own.podCIDRs;
  r.nodeIPs = ips.nodeIPs;
  r.cniConfig = options_.cniConfDir + "/" + options_.cniConfName;
  r.hairpin = options_.hairpin;
  pass.reportable = true;
  if (!checked_ || !(*checked_ == setup.local)) {
    auto gateways = edge_.gateways();
    if (!gateways) {
      notReady(pass, gateways.error().message);
      logged_.warn("gateways", "cannot read this node's routes: " + gateways.error().message);
      return;
    }
    logged_.clear("gateways");
    refused_ = ownPodCIDRRefused(own, ips.nodeIPs, *facts, *gateways, options_);
    checked_ = setup.local;
  }
  if (refused_) {
    // Nothing is set up from it (what an earlier, good podCIDR made stays), the node is not
    // ready and says why, and the watch goes on: a corrected Node is picked up at once.
    pass.notReady.push_back("own podCIDR refused: " + *refused_);
    pass.degraded.push_back("own podCIDR refused");
    logged_.warn("own-podcidr", "own Node " + options_.nodeName + ": " + *refused_ +
                                    ": setting up nothing until the Node is corrected");
    return;
  }
  logged_.clear("own-podcidr");
  local_ = setup.local;

  bool ok = true;
  if (auto st = edge_.ensureBridge(options_.bridge, setup.mtu, setup.gateways); !st) {
    ok = false;
    notReady(pass, "bridge " + options_.bridge + ": " + st.error().message);
    logged_.warn("bridge", "cannot set up bridge " + options_.bridge + ": " + st.error().message);
  } else {
    logged_.clear("bridge");
  }
  // Pods on other nodes are reached by forwarding through this node: without it the kernel
  // drops every packet that is not for the node itself.
  Status forwarding = okStatus();
  if (setup.forwardV4) forwarding = edge_.setSysctl("net.ipv4.ip_forward", "1");
  if (forwarding && setup.forwardV6)
    forwarding = edge_.setSysctl("net.ipv6.conf.all.forwarding", "1");
  if (!forwarding) {
    ok = false;
    logged_.warn("forwarding", "cannot enable forwarding: " + forwarding.error().message);
  } else {
    logged_.clear("forwarding");
  }
  if (ok) writeConflist(setup, pass);
  setBridgeNetfilter(pass);
  healthy_ = ok;
  pass.networkReady = cniConfigWritten_ && ok;
  if (!cniConfigWritten_ && pass.notReady.empty())
    pass.notReady.push_back("CNI config not written");
}

void NodeController::writeConflist(const LocalSetup& setup, agent::Pass& pass) {
  CniConfigInputs in = setup.conflist;
  const std::string portmapPath = options_.cniBinDir + "/portmap";
  auto versions = edge_.pluginVersions(portmapPath);
  bool installed = versions || versions.error().code != ENOENT;
  in.portmap = options_.portmap == config::PortmapMode::kOn ||
               (options_.portmap == config::PortmapMode::kAuto && installed);
  if (in.portmap) {
    // A runtime with libcni 1.2+ hands the version it picks from cniVersions to portmap
    // too, and portmap before containernetworking-plugins 1.5 refuses 1.1.0.
    in.offerNewest = versions && std::find(versions->begin(), versions->end(),
                                           kConflistNewestVersion) != versions->end();
    if (!in.offerNewest)
      logged_.warn("portmap-version",
                   "portmap (" + portmapPath + ") " +
                       (versions ? std::string("does not speak CNI ") + kConflistNewestVersion
                                 : "cannot tell its CNI versions: " + versions.error().message) +
                       ": the conflist offers runtimes " + kConflistVersion +
                       " only, without GC and STATUS");
    else
      logged_.clear("portmap-version");
  }
  const std::string path = options_.cniConfDir + "/" + options_.cniConfName;
  auto wrote = edge_.writeIfChanged(path, conflistFor(in));
  if (!wrote) {
    logged_.warn("conflist", "cannot write the CNI config: " + wrote.error().message);
    notReady(pass, "cannot write " + path + ": " + wrote.error().message);
    return;
  }
  logged_.clear("conflist");
  if (*wrote) log::info("wrote " + path);
  cniConfigWritten_ = true;
}

void NodeController::setBridgeNetfilter(agent::Pass& pass) {
  status::FeatureStatus state;
  state.enabled = options_.bridgeNetfilter;
  if (options_.bridgeNetfilter) {
    // Bridged pod-to-pod packets pass kube-proxy's DNAT and come back un-DNATed only
    // through the IP hooks: per network namespace, and present only where br_netfilter is
    // loaded (or built in).
    for (const char* key :
         {"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"}) {
      auto st = edge_.setSysctl(key, "1");
      if (st) continue;
      state.error = st.error().code == ENOENT
                        ? std::string(key) +
                              " does not exist: the br_netfilter module is not loaded "
                              "(modprobe br_netfilter on the node)"
                        : st.error().message;
      break;
    }
    if (!state.error.empty()) {
      logged_.warn("bridge-netfilter",
                   "cannot set bridge netfilter (kube-proxy's Services between pods of this "
                   "node need it): " +
                       state.error);
      pass.degraded.push_back("bridge netfilter not set");
    } else {
      logged_.clear("bridge-netfilter");
    }
  }
  pass.report.bridgeNetfilter = state;
}

}  // namespace routelet::node
