#include "controller/agent/agent.h"

#include <linux/netfilter.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <thread>

#include "common/base/log.h"
#include "controller/agent/status_report.h"
#include "controller/node/cni_config.h"
#include "controller/status/node_status.h"

namespace routelet::agent {
namespace {

std::string rfc3339Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string familyLabel(ip::Family f) {
  return f == ip::Family::kV4 ? "ipv4" : "ipv6";
}

}  // namespace

Agent::Agent(Options options, HostEdge& host, routes::RouteTable& routes, StatusPatcher patcher,
             Metrics& metrics)
    : options_(std::move(options)),
      host_(host),
      routes_(routes),
      reconciler_(routes),
      patcher_(std::move(patcher)),
      metrics_(metrics),
      nextResync_(std::chrono::steady_clock::now() + options_.resyncPeriod) {
  declareMetrics();
}

void Agent::declareMetrics() {
  using T = Metrics::Type;
  metrics_.declare("routelet_build_info", T::kGauge, "routelet version, always 1.");
  metrics_.declare("routelet_peers", T::kGauge, "Peer Nodes known from the watch.");
  metrics_.declare("routelet_routes", T::kGauge,
                   "Peer routes by state: programmed, conflict (a foreign route holds the "
                   "destination), failed, skipped (no route possible, see reason).");
  metrics_.declare("routelet_unreachable_peers", T::kGauge,
                   "Peers whose node IP is not on-link from this node, so they get no route.");
  metrics_.declare("routelet_refused_peers", T::kGauge,
                   "Peer routes refused because the Node claims what it must not: a podCIDR "
                   "that is unsafe or overlaps another Node's, or a node IP inside a podCIDR.");
  metrics_.declare("routelet_reconcile_duration_seconds", T::kHistogram,
                   "Time of one reconcile pass.",
                   {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  metrics_.declare("routelet_reconcile_passes_total", T::kCounter,
                   "Whole reconcile passes (dump, every peer, plan).");
  metrics_.declare("routelet_targeted_passes_total", T::kCounter,
                   "Passes that handled changed peer Nodes or vanished routes alone.");
  metrics_.declare("routelet_route_operations_total", T::kCounter,
                   "Route operations sent to the kernel, by operation and result.");
  metrics_.declare("routelet_route_heals_total", T::kCounter,
                   "routelet routes restored after something removed them from the kernel.");
  metrics_.declare("routelet_watch_restarts_total", T::kCounter,
                   "Node watches restarted (relist or reconnect).");
  metrics_.declare("routelet_masquerade_writes_total", T::kCounter,
                   "Writes of the masquerade table (inet routelet) by kind (table: the whole "
                   "table in one transaction, elements: set element updates, remove) and "
                   "result.");
  metrics_.declare("routelet_masquerade_heals_total", T::kCounter,
                   "Masquerade tables rewritten whole because another process changed them, "
                   "change notifications were lost, or (without notifications) at a resync.");
  metrics_.declare("routelet_masquerade_exempt_ranges", T::kGauge,
                   "Destination ranges reached without masquerade (pod ranges of the cluster "
                   "and nonMasqueradeCIDRs, nested ones merged).");
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
  metrics_.set("routelet_build_info", {{"version", ROUTELET_VERSION_STRING}}, 1);
}

void Agent::nodesListed(std::vector<model::Node> nodes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto vanished = cache_.replaceAll(std::move(nodes));
  for (const auto& name : vanished) log::info("Node " + name + " is gone (seen at relist)");
  health_.watchSynced = true;
  dirty_ = true;
  cv_.notify_all();
}

void Agent::nodeUpserted(model::Node node) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = node.name;
  std::optional<model::Node> previous;
  bool changed = cache_.upsert(std::move(node), &previous);
  // The own Node also matters for what it carries (annotations, condition): a change
  // there may need a status patch, so it always gets a whole pass.
  if (name == options_.nodeName) {
    dirty_ = true;
  } else if (changed) {
    addPendingPeer(name, std::move(previous));
  } else {
    return;
  }
  cv_.notify_all();
}

void Agent::nodeDeleted(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<model::Node> removed;
  if (!cache_.remove(name, &removed)) return;
  if (name == options_.nodeName)
    dirty_ = true;
  else
    addPendingPeer(name, std::move(removed));
  cv_.notify_all();
}

void Agent::addPendingPeer(const std::string& name, std::optional<model::Node> before) {
  if (dirty_) return;  // a whole pass is coming anyway
  if (pendingPeers_.size() >= kMaxTargeted) {
    dirty_ = true;
    pendingPeers_.clear();
    return;
  }
  pendingPeers_.try_emplace(name, std::move(before));  // keeps the version the last pass saw
}

void Agent::kernelEvents(const std::vector<netlink::Event>& events) {
  bool reconnect = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reconnect = kernelEventsLocked(events);
  }
  // Outside mu_: ending the watch call may take a moment.
  if (reconnect && nodeAddressGone_) nodeAddressGone_();
}

bool Agent::kernelEventsLocked(const std::vector<netlink::Event>& events) {
  bool relevant = false;
  bool reconnect = false;
  for (const auto& e : events) {
    switch (e.kind) {
      case netlink::Event::Kind::kRouteRemoved:
        // One of ours vanished (deleted by hand, or its device went down): heal now. Our
        // own deletes come back here too; the pass finds them not desired.
        if (e.route && e.route->protocol == options_.routeProtocol) {
          relevant = true;
          healPending_ = true;
          // Many at once (a whole pass deleting stale routes, a link gone): one whole
          // pass answers them all.
          if (pendingHeals_.size() < kMaxTargeted)
            pendingHeals_.push_back(*e.route);
          else
            dirty_ = true;
        }
        break;
      case netlink::Event::Kind::kLinkRemoved:
      case netlink::Event::Kind::kLinkChanged:
        if (e.linkName == options_.bridge || e.linkName == nodeInterface_ ||
            (e.kind == netlink::Event::Kind::kLinkRemoved &&
             ((tunnelV4_ && e.linkIndex == tunnelV4_) ||
              (tunnelV6_ && e.linkIndex == tunnelV6_)))) {
          relevant = true;
          dirty_ = true;
        }
        break;
      case netlink::Event::Kind::kNftCommit: {
        // Someone else's transaction touched routelet's table (a flush, `nft delete table`,
        // a deleted element): rewrite it. Our own writes come back here too.
        if (!options_.masquerade) break;
        if (!ownNftPid_ && e.nft.portid != 0 && e.nft.portid == ownNftPortId_.load()) {
          ownNftPid_ = e.nft.pid;
          for (uint32_t pid : unjudged_) {
            if (pid == ownNftPid_) continue;
            masqueradeHeal_ = true;
            masqueradeHealBy_ = pid;
          }
          unjudged_.clear();
          relevant = relevant || masqueradeHeal_;
          break;
        }
        std::pair<uint8_t, std::string> ours{NFPROTO_INET, masquerade::kMasqueradeTable};
        if (std::find(e.nft.tables.begin(), e.nft.tables.end(), ours) == e.nft.tables.end()) break;
        if (!ownNftPid_) {
          // A bound: past it, a rewrite is the safe answer.
          if (unjudged_.size() < 16) {
            unjudged_.push_back(e.nft.pid);
            break;
          }
          unjudged_.clear();
        } else if (e.nft.pid == ownNftPid_) {
          break;
        }
        relevant = true;
        masqueradeHeal_ = true;
        masqueradeHealBy_ = e.nft.pid;
        break;
      }
      case netlink::Event::Kind::kAddressAdded:
      case netlink::Event::Kind::kAddressRemoved:
        // The node's subnets changed (on-link peers, the node IP's interface): look again.
        // Not for the VTEP addresses the agent puts on its own devices.
        if (e.linkIndex != 0 && (e.linkIndex == tunnelV4_ || e.linkIndex == tunnelV6_)) break;
        relevant = true;
        dirty_ = true;
        // An own node IP gone: connections to the API server from it are dead, and the Node
        // watch would not notice for minutes (it only receives). The Node's new address
        // comes through a new one.
        if (e.kind == netlink::Event::Kind::kAddressRemoved && e.address &&
            std::find(lastNodeIPs_.begin(), lastNodeIPs_.end(), e.address->address()) !=
                lastNodeIPs_.end())
          reconnect = true;
        break;
      case netlink::Event::Kind::kNeighborChanged:
      case netlink::Event::Kind::kNeighborRemoved:
        // An entry of a VXLAN device removed or changed by someone else: put it back. Our own
        // writes come back here too, and are what we want.
        if (tunnelEntryDisturbed(e)) {
          relevant = true;
          tunnelHeal_ = true;
        }
        break;
      case netlink::Event::Kind::kRouteAdded:
        // Another owner's route at a peer's podCIDR in routelet's table: a targeted pass
        // would replace it when that peer changes. Only a whole pass (which reports it as
        // a conflict) may go on from here.
        if (e.route && e.route->protocol != options_.routeProtocol &&
            e.route->table == lastSelf_.table && peerWithPodCIDR(e.route->dst)) {
          relevant = true;
          dirty_ = true;
        }
        break;
    }
  }
  if (relevant) cv_.notify_all();
  return reconnect;
}

void Agent::onNodeAddressGone(std::function<void()> fn) {
  nodeAddressGone_ = std::move(fn);
}

const netlink::Neighbor* Agent::wantedEntry(const netlink::Neighbor::Key& key) const {
  auto at = std::lower_bound(tunnelWanted_.begin(), tunnelWanted_.end(), key,
                             [](const auto& w, const auto& k) { return w.key() < k; });
  return at != tunnelWanted_.end() && at->key() == key ? &*at : nullptr;
}

bool Agent::tunnelEntryDisturbed(const netlink::Event& e) const {
  if (!e.neighbor) return false;
  const netlink::Neighbor& n = *e.neighbor;
  if (n.index == 0 || (n.index != tunnelV4_ && n.index != tunnelV6_)) return false;
  const netlink::Neighbor* want = wantedEntry(n.key());
  if (e.kind == netlink::Event::Kind::kNeighborRemoved) return want != nullptr;
  // Changed: one of ours now says something else, or a stray permanent entry of ours (a
  // removed peer's, put back by hand).
  if (want) return !routes::sameEntry(*want, n);
  return routes::ownedEntry(n, options_.routeProtocol);
}

void Agent::healTunnels() {
  std::vector<int> devices;
  for (int d : {tunnelV4_, tunnelV6_})
    if (d) devices.push_back(d);
  routes::Report report = reconciler_.healNeighbors(tunnelWanted_, devices, options_.routeProtocol);
  recordOperations(report);
  if (report.neighbors.installed)
    metrics_.add("routelet_vxlan_heals_total", {}, static_cast<double>(report.neighbors.installed));
  if (!report.ok()) dirty_ = true;  // a whole pass says why, and tries again
}

void Agent::kernelEventsLost() {
  log::warn("netlink monitor overrun: events were lost, doing a full pass");
  std::lock_guard<std::mutex> lock(mu_);
  dirty_ = true;
  masqueradeHeal_ = options_.masquerade;  // the lost ones may have touched its table
  masqueradeHealBy_ = 0;
  cv_.notify_all();
}

void Agent::nftMonitorUnavailable() {
  std::lock_guard<std::mutex> lock(mu_);
  nftMonitorDown_ = true;
}

void Agent::requestPass() {
  std::lock_guard<std::mutex> lock(mu_);
  dirty_ = true;
  cv_.notify_all();
}

void Agent::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(patchMu_);
  patchCv_.notify_all();
}

AgentHealth Agent::health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

std::chrono::steady_clock::time_point Agent::lastLoop() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lastLoop_;
}

void Agent::run(const std::atomic<bool>& stop, std::chrono::milliseconds tick) {
  std::thread publisher([&] { publishLoop(stop); });
  while (!stop) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      lastLoop_ = std::chrono::steady_clock::now();
      auto due = [&] {
        auto now = std::chrono::steady_clock::now();
        return dirty_ || !pendingPeers_.empty() || !pendingHeals_.empty() || masqueradeHeal_ ||
               tunnelHeal_ || followUpDue(now) || now >= nextResync_ ||
               (statusDue_ && now >= *statusDue_);
      };
      cv_.wait_for(lock, tick, [&] { return stop || due(); });
      lastLoop_ = std::chrono::steady_clock::now();
      if (stop) break;
      if (!due()) continue;
    }
    pass();
  }
  wake();  // the publisher, which sees stop set
  publisher.join();
}

void Agent::logOnce(const std::string& key, const std::string& message) {
  if (logged_.insert(key).second) log::warn(message);
}

bool Agent::followUpDue(std::chrono::steady_clock::time_point now) const {
  return followUpAt_ && now >= *followUpAt_;
}

const std::pair<const std::string, model::Node>* Agent::peerWithPodCIDR(
    const ip::Prefix& dst) const {
  for (const auto& name : cache_.withPodCIDR(dst)) {
    if (name == options_.nodeName) continue;
    auto it = cache_.nodes().find(name);
    if (it != cache_.nodes().end()) return &*it;
  }
  return nullptr;
}

void Agent::pass() {
  std::unique_lock<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  bool quiet = !dirty_ && targetedOk_ && !followUpDue(now) && now < nextResync_;
  if (quiet && (masqueradeHeal_ || tunnelHeal_) && pendingPeers_.empty() && pendingHeals_.empty()) {
    // Only the masquerade table or VXLAN entries were touched: put them back, nothing else
    // to look at.
    if (std::exchange(tunnelHeal_, false)) healTunnels();
    if (std::exchange(masqueradeHeal_, false)) syncMasquerade(masqueradeWanted(lastSelf_), true);
    return;
  }
  bool targeted = quiet && (!pendingPeers_.empty() || !pendingHeals_.empty());
  if (targeted && targetedPass(lock)) return;
  wholePass(lock);
}

std::optional<masquerade::MasqueradeRules> Agent::masqueradeWanted(
    const routes::SelfInfo& self) const {
  if (!options_.masquerade) return std::nullopt;
  return masquerade::masqueradeRules(cache_, self, options_.nonMasqueradeCIDRs);
}

void Agent::syncMasquerade(const std::optional<masquerade::MasqueradeRules>& want, bool force) {
  masqueradeState_.enabled = want.has_value();
  if (!force && masqueradeKnown_ && masqueradeApplied_ == want) return;
  if (want && !ownNftPortId_.load()) {
    // Known before the first commit of that socket, so that its notification is recognised.
    if (auto port = host_.nftPortId()) ownNftPortId_ = *port;
  }
  if (force && want)
    log::info("table " + masquerade::masqueradeTableName() +
              (masqueradeHealBy_ ? " was changed by another process (pid " +
                                       std::to_string(masqueradeHealBy_) + ")"
                                 : " may have changed unseen") +
              ": writing it again");
  std::string kind = want ? "table" : "remove";
  Status st = okStatus();
  bool done = false;
  if (want && !force && masqueradeKnown_ && masqueradeApplied_) {
    if (auto update = masquerade::masqueradeUpdate(*masqueradeApplied_, *want)) {
      st = host_.nftElements(*update);
      metrics_.add("routelet_masquerade_writes_total",
                   {{"kind", "elements"}, {"result", st ? "ok" : "error"}});
      // Refused (someone changed the set meanwhile): the whole table below puts it right.
      done = static_cast<bool>(st);
    }
  }
  if (!done) {
    if (want) {
      st = host_.nft(masquerade::masqueradeScript(*want));
      if (st) st = host_.nftElements(masquerade::masqueradeElements(*want));
    } else {
      st = host_.nft(masquerade::masqueradeRemovalScript());
    }
    metrics_.add("routelet_masquerade_writes_total",
                 {{"kind", kind}, {"result", st ? "ok" : "error"}});
  }
  if (!st && want) {
    masqueradeKnown_ = false;
    masqueradeState_.error = st.error().message;
    logOnce("masquerade", "cannot program the masquerade table " +
                              masquerade::masqueradeTableName() + ": " + st.error().message);
    return;
  }
  std::string detail;
  if (want) {
    std::size_t n = want->keep.size();
    detail =
        std::to_string(n) + (n == 1 ? " destination range" : " destination ranges") + " exempt";
  }
  if (!st) {
    // Masquerade is off and the table cannot be removed (a kernel without nf_tables has
    // none to remove): said once, not tried on every pass.
    log::warn("masquerade is off, but removing table " + masquerade::masqueradeTableName() +
              " failed: " + st.error().message);
  } else if (!masqueradeKnown_ || masqueradeApplied_.has_value() != want.has_value()) {
    log::info(want ? "masquerade table " + masquerade::masqueradeTableName() +
                         " programmed: " + detail
                   : "masquerade is off: no table " + masquerade::masqueradeTableName());
  }
  if (force && want) metrics_.add("routelet_masquerade_heals_total", {});
  logged_.erase("masquerade");
  masqueradeKnown_ = true;
  masqueradeApplied_ = want;
  masqueradeState_.error.clear();
  masqueradeState_.detail = detail;
  metrics_.set("routelet_masquerade_exempt_ranges", {},
               want ? static_cast<double>(want->keep.size()) : 0);
}

bool Agent::targetedPass(std::unique_lock<std::mutex>& lock) {
  using Kind = netlink::RouteOp::Kind;
  routes::Plan plan;
  std::set<netlink::Route::Key> planned;
  auto add = [&](routes::Plan part) {
    for (std::size_t i = 0; i < part.ops.size(); ++i) {
      planned.insert(part.ops[i].route.key());
      plan.ops.push_back(std::move(part.ops[i]));
      plan.changes.push_back(std::move(part.changes[i]));
    }
    plan.unchanged += part.unchanged;
  };
  // Only a podCIDR joining or leaving changes the masquerade table here; anything subtler
  // (a node IP that makes a podCIDR unsafe) waits for the whole pass that follows.
  bool podCIDRsChanged = false;
  for (const auto& [name, before] : pendingPeers_) {
    const model::Node* now = cache_.get(name);
    podCIDRsChanged = podCIDRsChanged || (before ? before->podCIDRs : std::vector<ip::Prefix>{}) !=
                                             (now ? now->podCIDRs : std::vector<ip::Prefix>{});
  }
  routes::NeighborPlan entries;
  std::vector<std::pair<std::vector<netlink::Neighbor>, std::vector<netlink::Neighbor>>> moved;
  for (const auto& [name, before] : pendingPeers_) {
    auto was = routes::peerDesired(cache_, lastSelf_, name, before ? &*before : nullptr);
    auto now = routes::peerDesired(cache_, lastSelf_, name, cache_.get(name));
    if (!was || !now) {
      dirty_ = true;  // overlapping podCIDRs: who gets the route is a whole-cluster question
      return false;
    }
    // A VTEP MAC another peer already has: only a whole pass can refuse both.
    for (const auto& e : now->neighbors) {
      bool mine = std::any_of(was->neighbors.begin(), was->neighbors.end(),
                              [&](const auto& w) { return w.key() == e.key(); });
      if (!mine && wantedEntry(e.key())) {
        dirty_ = true;
        return false;
      }
    }
    add(routes::planPeerChange(was->routes, now->routes));
    auto part = routes::planPeerNeighbors(was->neighbors, now->neighbors);
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
    const auto* peer = peerWithPodCIDR(gone.dst);
    if (!peer) continue;  // no peer wants it any more
    auto want = routes::peerDesired(cache_, lastSelf_, peer->first, &peer->second);
    if (!want) {
      dirty_ = true;
      return false;
    }
    for (const auto& r : want->routes) {
      if (r.key() != key || r.gateway != gone.gateway) continue;
      routes::Plan part;
      part.ops.push_back({Kind::kCreate, r});
      part.changes.push_back({routes::Change::Kind::kAdd, {}});
      add(std::move(part));
      healing.insert(key);
    }
  }
  pendingPeers_.clear();
  pendingHeals_.clear();
  healPending_ = false;

  routes::Report report = reconciler_.applyTargeted(plan, entries);
  for (auto& [was, now] : moved) {
    for (const auto& e : was)
      if (const auto* w = wantedEntry(e.key()))
        tunnelWanted_.erase(tunnelWanted_.begin() + (w - tunnelWanted_.data()));
    for (auto& e : now) {
      auto at = std::lower_bound(tunnelWanted_.begin(), tunnelWanted_.end(), e.key(),
                                 [](const auto& w, const auto& k) { return w.key() < k; });
      if (at != tunnelWanted_.end() && at->key() == e.key())
        *at = std::move(e);
      else
        tunnelWanted_.insert(at, std::move(e));
    }
  }
  if (std::exchange(tunnelHeal_, false)) healTunnels();
  metrics_.add("routelet_targeted_passes_total", {});
  // Routes first: a new peer's pods are reachable before its range is exempted.
  if (podCIDRsChanged || masqueradeHeal_)
    syncMasquerade(masqueradeWanted(lastSelf_), std::exchange(masqueradeHeal_, false));
  std::size_t healed = 0;
  for (const auto& r : report.installed) healed += healing.contains(r.key());
  if (healed) metrics_.add("routelet_route_heals_total", {}, static_cast<double>(healed));
  // A failure (EEXIST: another owner's route holds the key) is a whole pass's to explain.
  if (!report.ok()) dirty_ = true;
  auto now = std::chrono::steady_clock::now();
  if (!followUpCap_) followUpCap_ = now + kFollowUpMax;
  followUpAt_ = std::min(now + kFollowUpQuiet, *followUpCap_);
  lock.unlock();

  recordOperations(report);
  for (const auto& f : report.failed)
    log::info("route operation failed: " + netlink::describe(f.op.route) + ": " + f.error.message +
              "; a whole pass follows");
  return true;
}

void Agent::ensureTunnels(const HostFacts& facts, routes::SelfInfo& self) {
  self.mode = options_.mode;
  std::string error;
  for (ip::Family f : {ip::Family::kV4, ip::Family::kV6}) {
    const char* name = routes::vxlanDeviceName(f);
    int& index = f == ip::Family::kV4 ? tunnelV4_ : tunnelV6_;
    auto podCIDR = self.podCIDR(f);
    auto nodeIP = self.nodeIP(f);
    if (options_.mode == routes::Mode::kHostGw || !podCIDR || !nodeIP) {
      // Not wanted (host-gw, or a family this node does not route): an earlier run's device
      // and everything on it go.
      if (auto st = host_.removeLink(name); !st) error = st.error().message;
      index = 0;
      continue;
    }
    netlink::VxlanSpec spec;
    spec.name = name;
    spec.mac = routes::vtepMac(*podCIDR);
    spec.mtu = facts.underlayMtu() - routes::vxlanOverhead(f);
    spec.info.vni = options_.vxlanVNI;
    spec.info.port = options_.vxlanPort;
    spec.info.local = *nodeIP;
    spec.info.underlay = facts.nodeIPIndex;
    spec.info.learning = false;
    auto made = host_.ensureVxlan(
        spec, ip::Prefix::make(routes::vtepAddress(*podCIDR), f == ip::Family::kV4 ? 32 : 128));
    if (!made) {
      error = made.error().message;
      index = 0;
      continue;
    }
    index = *made;
  }
  self.tunnelV4 = tunnelV4_;
  self.tunnelV6 = tunnelV6_;
  vtepMacs_.clear();
  if (options_.mode != routes::Mode::kHostGw)
    for (const auto& cidr : self.podCIDRs)
      vtepMacs_.push_back(netlink::macString(routes::vtepMac(cidr)));
  tunnelError_ = error;
  if (!error.empty()) {
    logOnce("vxlan", "cannot set up VXLAN: " + error);
  } else {
    logged_.erase("vxlan");
  }
}

void Agent::wholePass(std::unique_lock<std::mutex>& lock) {
  auto start = std::chrono::steady_clock::now();
  dirty_ = false;
  targetedOk_ = false;
  pendingPeers_.clear();
  pendingHeals_.clear();
  followUpAt_.reset();
  followUpCap_.reset();
  statusDue_.reset();  // this pass writes the status, or sets it due again
  bool healing = std::exchange(healPending_, false);
  tunnelHeal_ = false;  // this pass compares every entry
  // Not on every resync: a whole rewrite empties the table for a moment, and a connection
  // opened then would stay unmasqueraded. Only after someone else's change, or when the
  // monitor lost events.
  bool rewriteMasquerade =
      std::exchange(masqueradeHeal_, false) || (nftMonitorDown_ && start >= nextResync_);
  nextResync_ = start + options_.resyncPeriod;
  ++passes_;
  metrics_.add("routelet_reconcile_passes_total", {});

  const model::Node* own = cache_.get(options_.nodeName);
  if (!own) {
    health_.notReadyReason = cache_.synced() ? "own Node " + options_.nodeName + " does not exist"
                                             : "waiting for the first Node list";
    if (cache_.synced())
      logOnce("no-own-node", "own Node " + options_.nodeName + " not found; waiting for it");
    return;
  }
  logged_.erase("no-own-node");
  if (own->podCIDRs.empty()) {
    health_.notReadyReason = "Node " + options_.nodeName + " has no spec.podCIDRs yet";
    logOnce("no-podcidr", "Node " + options_.nodeName +
                              " has no spec.podCIDRs yet: waiting (the controller manager assigns "
                              "them with --allocate-node-cidrs and --cluster-cidr)");
    return;
  }
  logged_.erase("no-podcidr");
  // Logged when they appear. Only the current ones are remembered: every edit of a bad
  // value is a new problem line, and a set of all of them would grow without bound.
  std::set<std::string> ownProblems(own->problems.begin(), own->problems.end());
  for (const auto& problem : ownProblems)
    if (!ownProblems_.contains(problem)) log::warn("own Node: " + problem);
  ownProblems_ = std::move(ownProblems);

  PublishedState published;
  published.podCIDRs = own->podCIDRs;
  published.bridge = options_.bridge;
  published.mode = routes::modeName(options_.mode);
  published.version = ROUTELET_VERSION_STRING;
  std::vector<ip::Address> nodeIPs;
  routes::SelfInfo choosing;
  choosing.name = options_.nodeName;
  choosing.clusterCIDRs = options_.clusterCIDRs;
  for (const auto& cidr : own->podCIDRs) {
    std::optional<ip::Address> chosen;
    for (const auto& a : options_.nodeIPs)
      if (a.family() == cidr.family()) chosen = a;
    if (!chosen) chosen = routes::chooseNodeIP(*own, cidr.family(), cache_, choosing);
    if (chosen) {
      nodeIPs.push_back(*chosen);
    } else {
      logOnce("no-node-ip-" + familyLabel(cidr.family()),
              "own Node " + options_.nodeName + " has no " + familyLabel(cidr.family()) +
                  " InternalIP or ExternalIP that is usable (see the log's ignored addresses): "
                  "peers cannot route to its podCIDR " +
                  cidr.str());
    }
  }
  published.nodeIPs = nodeIPs;
  lastNodeIPs_ = nodeIPs;
  model::Node ownCopy = *own;

  auto facts = host_.inspect(nodeIPs, options_.bridge);
  if (!facts) {
    health_.notReadyReason = facts.error().message;
    logOnce("inspect", "cannot read this node's interfaces: " + facts.error().message);
    return;
  }
  logged_.erase("inspect");
  nodeInterface_ = facts->nodeIPInterface;
  // Over VXLAN a packet carries the outer headers too: pods get an MTU that fits in the
  // underlay's whatever path it takes, so they never fragment (nor depend on ICMP "too big").
  uint32_t overhead = 0;
  if (options_.mode != routes::Mode::kHostGw)
    for (const auto& cidr : own->podCIDRs)
      overhead = std::max(overhead, routes::vxlanOverhead(cidr.family()));
  uint32_t mtu = options_.mtu ? options_.mtu : facts->underlayMtu() - overhead;
  published.mtu = mtu;

  std::vector<ip::Prefix> gateways;
  bool v4 = false, v6 = false;
  for (const auto& cidr : own->podCIDRs) {
    gateways.push_back(ip::Prefix::make(gatewayOf(cidr), cidr.length()));
    (cidr.family() == ip::Family::kV4 ? v4 : v6) = true;
  }
  bool localOk = true;
  if (auto st = host_.ensureBridge(options_.bridge, mtu, gateways); !st) {
    localOk = false;
    health_.notReadyReason = "bridge " + options_.bridge + ": " + st.error().message;
    logOnce("bridge", "cannot set up bridge " + options_.bridge + ": " + st.error().message);
  } else {
    logged_.erase("bridge");
  }
  if (auto st = host_.enableForwarding(v4, v6); !st) {
    localOk = false;
    logOnce("forwarding", "cannot enable forwarding: " + st.error().message);
  } else {
    logged_.erase("forwarding");
  }
  if (localOk) {
    bool portmap =
        options_.portmap == PortmapMode::kOn || (options_.portmap == PortmapMode::kAuto &&
                                                 host_.fileExists(options_.cniBinDir + "/portmap"));
    bool offerNewest = true;
    if (portmap) {
      // A runtime with libcni 1.2+ hands the version it picks from cniVersions to portmap
      // too, and portmap before containernetworking-plugins 1.5 refuses 1.1.0.
      const std::string path = options_.cniBinDir + "/portmap";
      auto versions = host_.pluginVersions(path);
      offerNewest = versions && std::find(versions->begin(), versions->end(),
                                          kConflistNewestVersion) != versions->end();
      if (!offerNewest)
        logOnce("portmap-version",
                "portmap (" + path + ") " +
                    (versions ? std::string("does not speak CNI ") + kConflistNewestVersion
                              : "cannot tell its CNI versions: " + versions.error().message) +
                    ": the conflist offers runtimes " + kConflistVersion +
                    " only, without GC and STATUS");
      else
        logged_.erase("portmap-version");
    }
    std::string conflist = conflistFor({options_.bridge, mtu, options_.ipamDataDir, own->podCIDRs,
                                        portmap, offerNewest, options_.hairpin});
    auto wrote = host_.writeIfChanged(options_.cniConfDir + "/" + options_.cniConfName, conflist);
    if (!wrote) {
      logOnce("conflist", "cannot write the CNI config: " + wrote.error().message);
    } else {
      logged_.erase("conflist");
      if (*wrote) log::info("wrote " + options_.cniConfDir + "/" + options_.cniConfName);
      health_.cniConfigWritten = true;
    }
  }

  routes::SelfInfo self;
  self.name = options_.nodeName;
  self.podCIDRs = own->podCIDRs;
  self.nodeIPs = nodeIPs;
  self.onLink = facts->onLink;
  self.protocol = options_.routeProtocol;
  self.clusterCIDRs = options_.clusterCIDRs;
  self.minPodCIDRLengthV4 = options_.minPodCIDRLengthV4;
  self.minPodCIDRLengthV6 = options_.minPodCIDRLengthV6;
  ensureTunnels(*facts, self);
  bool synced = cache_.synced();
  routes::Report report = reconciler_.reconcile(cache_, self, synced);
  lastSelf_ = self;
  tunnelWanted_ = std::move(report.neighbors.desired);  // sorted by key (desiredRoutes)
  // Only from a complete Node list: from a partial one, pods would be masqueraded towards
  // peers not listed yet.
  if (synced) syncMasquerade(masqueradeWanted(self), rewriteMasquerade);
  if (options_.bridgeNetfilter) {
    bridgeNetfilterState_.enabled = true;
    if (auto st = host_.enableBridgeNetfilter(); !st) {
      bridgeNetfilterState_.error = st.error().message;
      logOnce("bridge-netfilter",
              "cannot set bridge netfilter (kube-proxy's Services between "
              "pods of this node need it): " +
                  st.error().message);
    } else {
      bridgeNetfilterState_.error.clear();
      logged_.erase("bridge-netfilter");
    }
  }
  targetedOk_ =
      synced && localOk && tunnelError_.empty() && report.ok() && report.conflicts.empty() &&
      std::none_of(report.skipped.begin(), report.skipped.end(),
                   [](const auto& s) { return s.reason == routes::SkipReason::kPodCIDRConflict; });
  metrics_.set("routelet_peers", {},
               static_cast<double>(cache_.size() > 0 ? cache_.size() - 1 : 0));
  if (healing)
    metrics_.add("routelet_route_heals_total", {}, static_cast<double>(report.installed.size()));
  if (synced && !report.dumpError) health_.firstReconcileDone = true;
  published.state = coarseState(report);
  published.vtepMacs = vtepMacs_;
  published.networkReady = health_.cniConfigWritten && localOk;
  if (health_.ready())
    health_.notReadyReason.clear();
  else if (health_.notReadyReason.empty())
    health_.notReadyReason = "first reconcile not done";
  // status.json lists every peer: at 5000 Nodes building it cost more than the pass
  // itself, so it is rebuilt at most once per kStatusInterval. A pass inside the interval
  // leaves it due, and run() makes one more pass when it falls due.
  std::string status;
  if (start - lastStatusAt_ >= kStatusInterval) {
    status = statusJson({cache_, self, report, published, health_.ready(), health_.notReadyReason,
                         options_.cniConfDir + "/" + options_.cniConfName, masqueradeState_,
                         bridgeNetfilterState_, options_.hairpin});
    lastStatusAt_ = start;
    statusDue_.reset();
  } else if (!statusDue_) {
    statusDue_ = lastStatusAt_ + kStatusInterval;
  }
  lock.unlock();

  if (!status.empty() && status != lastStatus_) {
    auto wrote = host_.writeIfChanged(options_.runDir + "/" + kStatusFileName, status);
    if (wrote)
      lastStatus_ = std::move(status);
    else
      logOnce("status-file", "cannot write " + options_.runDir + "/" + kStatusFileName + ": " +
                                 wrote.error().message);
  }

  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  recordReport(report, seconds);

  auto patch = statusPatch(ownCopy, published, rfc3339Now());
  // The watch delivers our own patch back a moment later; until then the cached Node
  // still shows the old values, so the same patch is not sent twice for one version.
  if (patch && !(*patch == lastPatch_ && ownCopy.resourceVersion == lastPatchBase_)) {
    lastPatch_ = *patch;
    lastPatchBase_ = ownCopy.resourceVersion;
    std::lock_guard<std::mutex> patchLock(patchMu_);
    pendingPatch_ = std::move(*patch);
    patchCv_.notify_all();
  }
}

void Agent::publishStatus() {
  std::string patch;
  {
    std::lock_guard<std::mutex> lock(patchMu_);
    if (!pendingPatch_ || std::chrono::steady_clock::now() < patchRetryAt_) return;
    patch = *pendingPatch_;
  }
  PatchResult result = patcher_(patch);
  std::lock_guard<std::mutex> lock(patchMu_);
  if (result.status) {
    patchBackoff_.reset();
    if (pendingPatch_ == patch) pendingPatch_.reset();  // a newer one keeps waiting
    return;
  }
  // Each failure used to start a whole pass and send again at once: on a 403 or a 429
  // every agent of the cluster hammered the API server.
  auto delay = patchBackoff_.next(result.retryAfter);
  patchRetryAt_ = std::chrono::steady_clock::now() + delay;
  log::warn("cannot update Node " + options_.nodeName +
            " status: " + result.status.error().message + "; trying again in " +
            std::to_string(delay.count()) + " ms");
}

std::optional<std::chrono::steady_clock::time_point> Agent::statusRetryAt() const {
  std::lock_guard<std::mutex> lock(patchMu_);
  if (!pendingPatch_) return std::nullopt;
  return patchRetryAt_;
}

void Agent::publishLoop(const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock(patchMu_);
  while (!stop) {
    if (pendingPatch_ && std::chrono::steady_clock::now() >= patchRetryAt_) {
      lock.unlock();
      publishStatus();
      lock.lock();
    } else if (pendingPatch_) {
      patchCv_.wait_until(lock, patchRetryAt_);
    } else {
      patchCv_.wait(lock);
    }
  }
}

namespace {
// Skips that mean a Node claims what it must not (desiredRoutes): counted and reported apart
// from the ordinary ones (no podCIDR yet, being deleted).
bool isRefusal(routes::SkipReason reason) {
  return reason == routes::SkipReason::kPodCIDRUnsafe ||
         reason == routes::SkipReason::kPodCIDRConflict ||
         reason == routes::SkipReason::kVtepMacConflict ||
         reason == routes::SkipReason::kNoUsableNodeIP;
}
}  // namespace

std::string Agent::coarseState(const routes::Report& report) const {
  size_t notOnLink = 0, refused = 0, noTunnel = 0;
  for (const auto& s : report.skipped) {
    notOnLink += s.reason == routes::SkipReason::kNotOnLink;
    noTunnel += s.reason == routes::SkipReason::kNoTunnel;
    refused += isRefusal(s.reason);
  }
  std::vector<std::string> reasons;
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
  if (!masqueradeState_.error.empty()) reasons.push_back("masquerade not programmed");
  if (!bridgeNetfilterState_.error.empty()) reasons.push_back("bridge netfilter not set");
  if (reasons.empty()) return "ready";
  std::string out = "degraded: ";
  for (size_t i = 0; i < reasons.size(); ++i) out += (i ? ", " : "") + reasons[i];
  return out;
}

void Agent::recordOperations(const routes::Report& report) {
  auto ops = [&](const char* op, size_t n) {
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
  auto entryOps = [&](const char* op, const char* result, size_t n) {
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

void Agent::recordReport(const routes::Report& report, double seconds) {
  metrics_.observe("routelet_reconcile_duration_seconds", {}, seconds);
  recordOperations(report);
  size_t notOnLink = 0, refused = 0;
  for (const auto& s : report.skipped) {
    notOnLink += s.reason == routes::SkipReason::kNotOnLink;
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

  // Logs: one line per event (recordOperations), and a standing condition (a peer
  // off-link, a foreign route) only when it starts, not on every pass.
  if (report.dumpError) log::warn("cannot dump routes: " + report.dumpError->message);
  std::set<std::string> current;
  for (const auto& s : report.skipped) {
    std::string key = "skip " + s.node + " " + routes::skipReasonName(s.reason) +
                      (s.family ? std::string(" ") + ip::familyName(*s.family) : "");
    current.insert(key);
    if (!standing_.count(key)) {
      log::warn("peer " + s.node + " gets no route (" + routes::skipReasonName(s.reason) +
                "): " + s.detail);
    }
  }
  for (const auto& i : report.ignored) {
    std::string key = "ignored " + i.node + " " + i.address.str() + " " + i.why;
    current.insert(key);
    if (!standing_.count(key))
      log::warn("Node " + i.node + ": status.addresses " + i.address.str() + " " + i.why +
                ": not used as its node IP");
  }
  for (const auto& c : report.conflicts) {
    std::string key = "conflict " + c.desired.dst.str();
    current.insert(key);
    if (!standing_.count(key)) {
      log::warn("not installing " + netlink::describe(c.desired) +
                ": a route of another owner holds it (" + netlink::describe(c.foreign) + ")");
    }
  }
  for (const auto& f : report.failed) {
    std::string key = "failed " + f.op.route.dst.str();
    current.insert(key);
    if (!standing_.count(key))
      log::warn("route operation failed: " + netlink::describe(f.op.route) + ": " +
                f.error.message);
  }
  standing_ = std::move(current);
}

}  // namespace routelet::agent
