#include "controller/routes/routes_controller.h"

#include <algorithm>
#include <set>

#include "common/base/log.h"
#include "controller/routes/plan.h"

namespace routelet::routes {
namespace {

// Skips that mean a Node claims what it must not (desiredRoutes): counted and reported apart
// from the ordinary ones (no podCIDR yet, being deleted).
bool isRefusal(SkipReason reason) {
  return reason == SkipReason::kPodCIDRUnsafe || reason == SkipReason::kPodCIDRConflict ||
         reason == SkipReason::kVtepMacConflict || reason == SkipReason::kNoUsableNodeIP;
}

auto byKey() {
  return [](const netlink::Neighbor& w, const netlink::Neighbor::Key& k) { return w.key() < k; };
}

}  // namespace

SelfInfo selfInfo(const agent::LocalNode& local, const RoutesConfig& config) {
  SelfInfo self;
  self.name = local.name;
  self.podCIDRs = local.podCIDRs;
  self.nodeIPs = local.nodeIPs;
  self.onLink = local.onLink;
  self.protocol = config.protocol;
  self.clusterCIDRs = config.clusterCIDRs;
  self.minPodCIDRLengthV4 = config.minPodCIDRLengthV4;
  self.minPodCIDRLengthV6 = config.minPodCIDRLengthV6;
  self.mode = config.mode;
  return self;
}

RoutesController::RoutesController(RoutesConfig config, RouteTable& table, TunnelEdge& tunnels,
                                   agent::Metrics& metrics)
    : config_(std::move(config)), tunnels_(tunnels), metrics_(metrics), reconciler_(table) {
  using T = agent::Metrics::Type;
  metrics_.declare("routelet_peers", T::kGauge, "Peer Nodes known from the watch.");
  metrics_.declare("routelet_routes", T::kGauge,
                   "Peer routes by state: programmed, conflict (a foreign route holds the "
                   "destination), failed, skipped (no route possible, see reason).");
  metrics_.declare("routelet_unreachable_peers", T::kGauge,
                   "Peers whose node IP is not on-link from this node, so they get no route.");
  metrics_.declare("routelet_refused_peers", T::kGauge,
                   "Peer routes refused because the Node claims what it must not: a podCIDR "
                   "that is unsafe or overlaps another Node's, or no usable node IP.");
  metrics_.declare("routelet_route_operations_total", T::kCounter,
                   "Route operations sent to the kernel, by operation and result.");
  metrics_.declare("routelet_route_heals_total", T::kCounter,
                   "routelet routes restored after something removed them from the kernel.");
  metrics_.declare("routelet_peer_routes", T::kGauge,
                   "Desired peer routes by path: direct (podCIDR via node IP) or vxlan "
                   "(through routelet.vxlan/routelet.vxlan6).");
  metrics_.declare("routelet_vxlan_entries", T::kGauge,
                   "Neighbour and forwarding entries the VXLAN devices should hold.");
  metrics_.declare("routelet_vxlan_entry_operations_total", T::kCounter,
                   "Neighbour and forwarding entry operations sent to the kernel, by "
                   "operation and result.");
  metrics_.declare("routelet_vxlan_heals_total", T::kCounter,
                   "VXLAN neighbour and forwarding entries restored after someone removed or "
                   "changed them.");
}

agent::Wake RoutesController::nodeChanged(const model::NodeCache&, const model::Node* before,
                                          const model::Node* after) {
  const std::string& name = after ? after->name : before->name;
  if (name == config_.nodeName) return agent::Wake::kNo;  // node setup asks for a whole pass
  if (!targetedOk_ || pendingPeers_.size() >= kMaxTargeted) {
    pendingPeers_.clear();
    return agent::Wake::kWhole;
  }
  // Keeps the version the last pass saw.
  pendingPeers_.try_emplace(name, before ? std::optional<model::Node>(*before) : std::nullopt);
  return agent::Wake::kSoon;
}

const model::Node* RoutesController::peerWithPodCIDR(const model::NodeCache& nodes,
                                                     const ip::Prefix& dst) const {
  for (const auto& name : nodes.withPodCIDR(dst)) {
    if (name == config_.nodeName) continue;
    if (const model::Node* n = nodes.get(name)) return n;
  }
  return nullptr;
}

agent::Wake RoutesController::kernelEvent(const netlink::Event& e, const model::NodeCache& nodes) {
  using Kind = netlink::Event::Kind;
  switch (e.kind) {
    case Kind::kRouteRemoved:
      // One of ours vanished (deleted by hand, or its device went down): heal now. Our own
      // deletes come back here too; the pass finds them not desired.
      if (!e.route || e.route->protocol != config_.protocol) return agent::Wake::kNo;
      healPending_ = true;
      // Many at once (a whole pass deleting stale routes, a link gone): one whole pass
      // answers them all.
      if (!targetedOk_ || pendingHeals_.size() >= kMaxTargeted) return agent::Wake::kWhole;
      pendingHeals_.push_back(*e.route);
      return agent::Wake::kSoon;
    case Kind::kLinkRemoved:
      if ((tunnelV4_ && e.linkIndex == tunnelV4_) || (tunnelV6_ && e.linkIndex == tunnelV6_))
        return agent::Wake::kWhole;
      return agent::Wake::kNo;
    case Kind::kNeighborChanged:
    case Kind::kNeighborRemoved:
      // An entry of a VXLAN device removed or changed by someone else: put it back. Our own
      // writes come back here too, and are what we want.
      if (!tunnelEntryDisturbed(e)) return agent::Wake::kNo;
      tunnelHeal_ = true;
      return agent::Wake::kSoon;
    case Kind::kRouteAdded:
      // Another owner's route at a peer's podCIDR in routelet's table: a targeted pass
      // would replace it when that peer changes. Only a whole pass (which reports it as a
      // conflict) may go on from here.
      if (e.route && e.route->protocol != config_.protocol && e.route->table == lastSelf_.table &&
          peerWithPodCIDR(nodes, e.route->dst)) {
        targetedOk_ = false;
        return agent::Wake::kWhole;
      }
      return agent::Wake::kNo;
    default:
      return agent::Wake::kNo;
  }
}

const netlink::Neighbor* RoutesController::wantedEntry(const netlink::Neighbor::Key& key) const {
  auto at = std::lower_bound(tunnelWanted_.begin(), tunnelWanted_.end(), key, byKey());
  return at != tunnelWanted_.end() && at->key() == key ? &*at : nullptr;
}

bool RoutesController::tunnelEntryDisturbed(const netlink::Event& e) const {
  if (!e.neighbor) return false;
  const netlink::Neighbor& n = *e.neighbor;
  if (n.index == 0 || (n.index != tunnelV4_ && n.index != tunnelV6_)) return false;
  const netlink::Neighbor* want = wantedEntry(n.key());
  if (e.kind == netlink::Event::Kind::kNeighborRemoved) return want != nullptr;
  // Changed: one of ours now says something else, or a stray permanent entry of ours (a
  // removed peer's, put back by hand).
  if (want) return !sameEntry(*want, n);
  return ownedEntry(n, config_.protocol);
}

void RoutesController::healTunnels(agent::Pass& pass) {
  std::vector<int> devices;
  for (int d : {tunnelV4_, tunnelV6_})
    if (d) devices.push_back(d);
  Report report = reconciler_.healNeighbors(tunnelWanted_, devices, config_.protocol);
  recordOperations(report);
  if (report.neighbors.installed)
    metrics_.add("routelet_vxlan_heals_total", {}, static_cast<double>(report.neighbors.installed));
  if (!report.ok()) followUpAt_ = pass.now;  // the next pass is whole: it says why, tries again
}

void RoutesController::sync(agent::Pass& pass) {
  if (pass.whole) {
    wholeSync(pass);
    return;
  }
  if (!pass.local) return;
  if (!pendingPeers_.empty() || !pendingHeals_.empty()) {
    if (!targetedSync(pass)) pass.wantWhole = true;
  } else if (std::exchange(tunnelHeal_, false)) {
    healTunnels(pass);
  }
}

bool RoutesController::targetedSync(agent::Pass& pass) {
  using Kind = netlink::RouteOp::Kind;
  const model::NodeCache& nodes = pass.nodes;
  Plan plan;
  std::set<netlink::Route::Key> planned;
  auto add = [&](Plan part) {
    for (std::size_t i = 0; i < part.ops.size(); ++i) {
      planned.insert(part.ops[i].route.key());
      plan.ops.push_back(std::move(part.ops[i]));
      plan.changes.push_back(std::move(part.changes[i]));
    }
    plan.unchanged += part.unchanged;
  };
  NeighborPlan entries;
  std::vector<std::pair<std::vector<netlink::Neighbor>, std::vector<netlink::Neighbor>>> moved;
  for (const auto& [name, before] : pendingPeers_) {
    auto was = peerDesired(nodes, lastSelf_, name, before ? &*before : nullptr);
    auto now = peerDesired(nodes, lastSelf_, name, nodes.get(name));
    if (!was || !now) return false;  // overlapping podCIDRs: a whole-cluster question
    // A VTEP MAC another peer already has: only a whole pass can refuse both.
    for (const auto& e : now->neighbors) {
      bool mine = std::any_of(was->neighbors.begin(), was->neighbors.end(),
                              [&](const auto& w) { return w.key() == e.key(); });
      if (!mine && wantedEntry(e.key())) return false;
    }
    add(planPeerChange(was->routes, now->routes));
    auto part = planPeerNeighbors(was->neighbors, now->neighbors);
    entries.ops.insert(entries.ops.end(), part.ops.begin(), part.ops.end());
    entries.unchanged += part.unchanged;
    moved.emplace_back(std::move(was->neighbors), std::move(now->neighbors));
  }
  // A vanished route comes back when it is still what its peer should have: same key and
  // gateway (an older gateway is an echo of this agent's own replace or delete).
  std::set<netlink::Route::Key> healing;
  for (const auto& gone : pendingHeals_) {
    auto key = gone.key();
    if (planned.contains(key)) continue;
    const model::Node* peer = peerWithPodCIDR(nodes, gone.dst);
    if (!peer) continue;  // no peer wants it any more
    auto want = peerDesired(nodes, lastSelf_, peer->name, peer);
    if (!want) return false;
    for (const auto& r : want->routes) {
      if (r.key() != key || r.gateway != gone.gateway) continue;
      Plan part;
      part.ops.push_back({Kind::kCreate, r});
      part.changes.push_back({Change::Kind::kAdd, {}});
      add(std::move(part));
      healing.insert(key);
    }
  }
  pendingPeers_.clear();
  pendingHeals_.clear();
  healPending_ = false;

  Report report = reconciler_.applyTargeted(plan, entries);
  for (auto& [was, now] : moved) {
    for (const auto& e : was)
      if (const auto* w = wantedEntry(e.key()))
        tunnelWanted_.erase(tunnelWanted_.begin() + (w - tunnelWanted_.data()));
    for (auto& e : now) {
      auto at = std::lower_bound(tunnelWanted_.begin(), tunnelWanted_.end(), e.key(), byKey());
      if (at != tunnelWanted_.end() && at->key() == e.key())
        *at = std::move(e);
      else
        tunnelWanted_.insert(at, std::move(e));
    }
  }
  if (std::exchange(tunnelHeal_, false)) healTunnels(pass);
  std::size_t healed = 0;
  for (const auto& r : report.installed) healed += healing.contains(r.key());
  if (healed) metrics_.add("routelet_route_heals_total", {}, static_cast<double>(healed));
  if (!followUpCap_) followUpCap_ = pass.now + kFollowUpMax;
  followUpAt_ = std::min(pass.now + kFollowUpQuiet, *followUpCap_);
  // A failure (EEXIST: another owner's route holds the key) is a whole pass's to explain:
  // the next one.
  if (!report.ok()) followUpAt_ = pass.now;
  recordOperations(report);
  for (const auto& f : report.failed)
    log::info("route operation failed: " + netlink::describe(f.op.route) + ": " + f.error.message +
              "; a whole pass follows");
  return true;
}

void RoutesController::ensureTunnels(const agent::LocalNode& local, SelfInfo& self) {
  std::string error;
  for (ip::Family f : {ip::Family::kV4, ip::Family::kV6}) {
    const char* name = vxlanDeviceName(f);
    int& index = f == ip::Family::kV4 ? tunnelV4_ : tunnelV6_;
    auto podCIDR = self.podCIDR(f);
    auto nodeIP = self.nodeIP(f);
    if (config_.mode == Mode::kHostGw || !podCIDR || !nodeIP) {
      // Not wanted (host-gw, or a family this node does not route): an earlier run's device
      // and everything on it go.
      if (auto st = tunnels_.removeLink(name); !st) error = st.error().message;
      index = 0;
      continue;
    }
    netlink::VxlanSpec spec;
    spec.name = name;
    spec.mac = vtepMac(*podCIDR);
    spec.mtu = local.underlayMtu - vxlanOverhead(f);
    spec.info.vni = config_.vxlanVNI;
    spec.info.port = config_.vxlanPort;
    spec.info.local = *nodeIP;
    spec.info.underlay = local.nodeIPIndex;
    spec.info.learning = false;
    auto made = tunnels_.ensureVxlan(
        spec, ip::Prefix::make(vtepAddress(*podCIDR), f == ip::Family::kV4 ? 32 : 128));
    if (!made) {
      error = made.error().message;
      index = 0;
      continue;
    }
    index = *made;
  }
  self.tunnelV4 = tunnelV4_;
  self.tunnelV6 = tunnelV6_;
  tunnelError_ = error;
  if (!error.empty())
    logged_.warn("vxlan", "cannot set up VXLAN: " + error);
  else
    logged_.clear("vxlan");
}

void RoutesController::wholeSync(agent::Pass& pass) {
  targetedOk_ = false;
  pendingPeers_.clear();
  pendingHeals_.clear();
  followUpAt_.reset();
  followUpCap_.reset();
  bool healing = std::exchange(healPending_, false);
  tunnelHeal_ = false;  // this pass compares every entry
  const model::NodeCache& nodes = pass.nodes;
  metrics_.set("routelet_peers", {}, static_cast<double>(nodes.size() > 0 ? nodes.size() - 1 : 0));
  if (!pass.local) return;

  SelfInfo self = selfInfo(*pass.local, config_);
  ensureTunnels(*pass.local, self);
  bool synced = nodes.synced();
  Report report = reconciler_.reconcile(nodes, self, synced);
  lastSelf_ = self;
  tunnelWanted_ = std::move(report.neighbors.desired);  // sorted by key (desiredRoutes)
  targetedOk_ = synced && tunnelError_.empty() && report.ok() && report.conflicts.empty() &&
                std::none_of(report.skipped.begin(), report.skipped.end(), [](const auto& s) {
                  return s.reason == SkipReason::kPodCIDRConflict;
                });
  if (healing)
    metrics_.add("routelet_route_heals_total", {}, static_cast<double>(report.installed.size()));
  if (synced && !report.dumpError) firstDone_ = true;
  if (!firstDone_) pass.notReady.push_back("first reconcile not done");
  recordReport(report);
  describe(report, self, pass);
}

void RoutesController::describe(const Report& report, const SelfInfo& self,
                                agent::Pass& pass) const {
  std::size_t notOnLink = 0, refused = 0, noTunnel = 0;
  for (const auto& s : report.skipped) {
    notOnLink += s.reason == SkipReason::kNotOnLink;
    noTunnel += s.reason == SkipReason::kNoTunnel;
    refused += isRefusal(s.reason);
  }
  auto& reasons = pass.degraded;
  if (report.dumpError) reasons.push_back("cannot read routes");
  if (!report.failed.empty())
    reasons.push_back(std::to_string(report.failed.size()) + " routes failed");
  if (notOnLink) reasons.push_back(std::to_string(notOnLink) + " peers not on-link");
  if (!tunnelError_.empty() || noTunnel) reasons.push_back("vxlan not ready");
  if (!report.neighbors.failed.empty())
    reasons.push_back(std::to_string(report.neighbors.failed.size()) + " vxlan entries failed");
  if (refused) reasons.push_back(std::to_string(refused) + " peer routes refused");
  if (!report.conflicts.empty())
    reasons.push_back(std::to_string(report.conflicts.size()) + " foreign routes in the way");

  status::AgentStatus& out = pass.report;
  out.routeProtocol = self.protocol;
  status::VxlanStatus vxlan;
  vxlan.mode = modeName(self.mode);
  if (self.mode != Mode::kHostGw) {
    for (const auto& cidr : self.podCIDRs) {
      ip::Family f = cidr.family();
      if (!self.nodeIP(f)) continue;  // no node IP of the family: no device is wanted
      vxlan.devices.push_back(
          {vxlanDeviceName(f), self.tunnel(f) != 0, netlink::macString(vtepMac(cidr))});
    }
    vxlan.direct = report.direct;
    vxlan.encapsulated = report.encapsulated;
    vxlan.entries = report.neighbors.wanted;
  }
  out.vxlan = std::move(vxlan);
  if (!pass.detail) return;

  // Peers sorted by name, one entry per routed family, each with a state: "programmed",
  // "failed", "conflict" (a foreign route holds the destination) or the skip reason.
  std::map<std::pair<std::string, ip::Family>, std::pair<std::string, std::string>> verdicts;
  std::map<std::string, std::pair<std::string, std::string>> wholeNode;
  for (const auto& s : report.skipped) {
    std::pair<std::string, std::string> v{skipReasonName(s.reason), s.detail};
    if (s.family)
      verdicts[{s.node, *s.family}] = v;
    else
      wholeNode[s.node] = v;
  }
  auto nodeOf = [&](const ip::Prefix& dst) -> std::string {
    const model::Node* n = peerWithPodCIDR(pass.nodes, dst);
    return n ? n->name : std::string();
  };
  for (const auto& c : report.conflicts)
    verdicts[{nodeOf(c.desired.dst), c.desired.dst.family()}] = {
        "conflict", "held by " + netlink::describe(c.foreign)};
  for (const auto& f : report.failed) {
    if (f.op.kind == netlink::RouteOp::Kind::kDelete) continue;
    verdicts[{nodeOf(f.op.route.dst), f.op.route.dst.family()}] = {"failed", f.error.message};
  }
  for (const auto& [name, node] : pass.nodes.nodes()) {
    if (name == self.name) continue;
    for (const auto& own : self.podCIDRs) {
      ip::Family f = own.family();
      status::PeerRecord p;
      p.node = name;
      p.family = f;
      p.podCIDR = node.podCIDR(f);
      p.nodeIP = chooseNodeIP(node, f, pass.nodes, self);
      std::pair<std::string, std::string> v{"programmed", ""};
      if (auto w = wholeNode.find(name); w != wholeNode.end()) v = w->second;
      if (auto it = verdicts.find({name, f}); it != verdicts.end()) v = it->second;
      p.state = v.first;
      p.detail = v.second;
      // How a routed peer is reached: "direct" (via its node IP) or "vxlan".
      if (p.state == "programmed" && p.nodeIP)
        p.path = overVxlan(self, *p.nodeIP) ? "vxlan" : "direct";
      out.peers.push_back(std::move(p));
    }
  }
}

void RoutesController::recordOperations(const Report& report) {
  auto ops = [&](const char* op, std::size_t n) {
    if (n)
      metrics_.add("routelet_route_operations_total", {{"op", op}, {"result", "ok"}},
                   static_cast<double>(n));
  };
  ops("add", report.installed.size());
  ops("update", report.updated.size());
  ops("delete", report.deleted.size());
  for (const auto& f : report.failed) {
    const char* op = f.op.kind == netlink::RouteOp::Kind::kDelete   ? "delete"
                     : f.op.kind == netlink::RouteOp::Kind::kCreate ? "add"
                                                                    : "replace";
    metrics_.add("routelet_route_operations_total", {{"op", op}, {"result", "error"}});
  }
  auto entryOps = [&](const char* op, const char* result, std::size_t n) {
    if (n)
      metrics_.add("routelet_vxlan_entry_operations_total", {{"op", op}, {"result", result}},
                   static_cast<double>(n));
  };
  entryOps("replace", "ok", report.neighbors.installed);
  entryOps("delete", "ok", report.neighbors.deleted);
  for (const auto& f : report.neighbors.failed) {
    entryOps(f.op.kind == netlink::NeighborOp::Kind::kDelete ? "delete" : "replace", "error", 1);
    log::warn("vxlan entry operation failed: " + netlink::describe(f.op.entry) + ": " +
              f.error.message);
  }
  for (const auto& r : report.installed) log::info("route added: " + netlink::describe(r));
  for (const auto& r : report.updated) log::info("route updated: " + netlink::describe(r));
  for (const auto& r : report.deleted) log::info("route removed: " + netlink::describe(r));
}

void RoutesController::recordReport(const Report& report) {
  recordOperations(report);
  std::size_t notOnLink = 0, refused = 0;
  for (const auto& s : report.skipped) {
    notOnLink += s.reason == SkipReason::kNotOnLink;
    refused += isRefusal(s.reason);
  }
  metrics_.set("routelet_unreachable_peers", {}, static_cast<double>(notOnLink));
  metrics_.set("routelet_refused_peers", {}, static_cast<double>(refused));
  metrics_.clear("routelet_routes");
  metrics_.set(
      "routelet_routes", {{"state", "programmed"}},
      static_cast<double>(report.installed.size() + report.updated.size() + report.unchanged));
  metrics_.set("routelet_routes", {{"state", "failed"}}, static_cast<double>(report.failed.size()));
  metrics_.set("routelet_routes", {{"state", "conflict"}},
               static_cast<double>(report.conflicts.size()));
  metrics_.set("routelet_routes", {{"state", "skipped"}},
               static_cast<double>(report.skipped.size()));
  metrics_.set("routelet_peer_routes", {{"path", "direct"}}, static_cast<double>(report.direct));
  metrics_.set("routelet_peer_routes", {{"path", "vxlan"}},
               static_cast<double>(report.encapsulated));
  metrics_.set("routelet_vxlan_entries", {}, static_cast<double>(report.neighbors.wanted));

  // Logs: one line per event (recordOperations), and a standing condition (a peer off-link,
  // a foreign route, an address passed over) only when it starts, not on every pass.
  if (report.dumpError) log::warn("cannot dump routes: " + report.dumpError->message);
  standing_.beginSweep();
  for (const auto& s : report.skipped)
    standing_.warn(
        "skip " + s.node + " " + skipReasonName(s.reason) +
            (s.family ? std::string(" ") + ip::familyName(*s.family) : ""),
        "peer " + s.node + " gets no route (" + skipReasonName(s.reason) + "): " + s.detail);
  for (const auto& i : report.ignored)
    standing_.warn("ignored " + i.node + " " + i.address.str() + " " + i.why,
                   "Node " + i.node + ": status.addresses " + i.address.str() + " " + i.why +
                       ": not used as its node IP");
  for (const auto& c : report.conflicts)
    standing_.warn("conflict " + c.desired.dst.str(), "not installing " +
                                                          netlink::describe(c.desired) +
                                                          ": a route of another owner holds it (" +
                                                          netlink::describe(c.foreign) + ")");
  for (const auto& f : report.failed)
    standing_.warn(
        "failed " + f.op.route.dst.str(),
        "route operation failed: " + netlink::describe(f.op.route) + ": " + f.error.message);
  standing_.endSweep();
}

}  // namespace routelet::routes
