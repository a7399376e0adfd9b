// Peer routes: one `podCIDR via nodeIP` route per peer Node (or, behind a router, a route
// over VXLAN with its neighbour and forwarding entries), healed when something removes
// them, and never a route of another owner touched.
//
// A whole sync dumps the kernel's table and computes every peer: ~20 ms at 5000 Nodes.
// After a clean one (no conflicts, no failures), a peer Node event or a vanished route is
// handled from that peer alone, in microseconds (a targeted sync); a whole one follows once
// events have been quiet for kFollowUpQuiet (kFollowUpMax at most) to refresh status,
// gauges and the Node's state, and to check the table.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/log_once.h"
#include "controller/agent/controller.h"
#include "controller/agent/metrics.h"
#include "controller/routes/reconciler.h"
#include "controller/routes/route_table.h"
#include "controller/routes/routes_config.h"
#include "controller/routes/tunnel_edge.h"

namespace routelet::routes {

class RoutesController : public agent::Controller {
 public:
  RoutesController(RoutesConfig config, RouteTable& table, TunnelEdge& tunnels,
                   agent::Metrics& metrics);

  agent::Wake nodeChanged(const model::NodeCache& nodes, const model::Node* before,
                          const model::Node* after) override;
  agent::Wake kernelEvent(const netlink::Event& e, const model::NodeCache& nodes) override;
  void kernelEventsLost() override { targetedOk_ = false; }
  std::optional<agent::Clock::time_point> dueAt() const override { return followUpAt_; }
  void sync(agent::Pass& pass) override;

 private:
  static constexpr std::chrono::seconds kFollowUpQuiet{1};
  static constexpr std::chrono::seconds kFollowUpMax{10};
  // Past this many changed peers or vanished routes between two passes, one whole pass
  // costs less than a targeted look at each (each look reads the whole cache once).
  static constexpr std::size_t kMaxTargeted = 64;

  void wholeSync(agent::Pass& pass);
  // false: the changes need a whole sync.
  bool targetedSync(agent::Pass& pass);
  // The VXLAN devices for this pass (host-gw: removed); sets self's tunnels.
  void ensureTunnels(const agent::LocalNode& local, SelfInfo& self);
  // Puts back the VXLAN entries that someone removed or changed.
  void healTunnels(agent::Pass& pass);
  bool tunnelEntryDisturbed(const netlink::Event& e) const;
  const netlink::Neighbor* wantedEntry(const netlink::Neighbor::Key& key) const;
  // The cached peer (not self) whose podCIDR is exactly dst, or null.
  const model::Node* peerWithPodCIDR(const model::NodeCache& nodes, const ip::Prefix& dst) const;
  void recordOperations(const Report& report);
  void recordReport(const Report& report);
  void describe(const Report& report, const SelfInfo& self, agent::Pass& pass) const;

  RoutesConfig config_;
  TunnelEdge& tunnels_;
  agent::Metrics& metrics_;
  Reconciler reconciler_;
  log::LogOnce logged_;
  log::LogOnce standing_;  // per-peer conditions, logged when they start

  bool targetedOk_ = false;  // the last whole sync was clean
  bool firstDone_ = false;   // a whole sync from a complete Node list read the kernel
  SelfInfo lastSelf_;        // what it computed with
  // Peers changed since the last pass, with the version that pass saw (empty: none).
  std::map<std::string, std::optional<model::Node>> pendingPeers_;
  std::vector<netlink::Route> pendingHeals_;  // routelet routes that vanished
  bool healPending_ = false;                  // a routelet route vanished from the kernel
  bool tunnelHeal_ = false;  // someone removed or changed an entry of a VXLAN device
  std::optional<agent::Clock::time_point> followUpAt_, followUpCap_;
  // The VXLAN devices (ifindex; 0: none) and every entry they should hold, by key: kept by
  // whole syncs, updated by targeted ones. Sorted: a map of 5000 peers' entries cost the
  // agent ~0.7 MiB more.
  int tunnelV4_ = 0, tunnelV6_ = 0;
  std::vector<netlink::Neighbor> tunnelWanted_;
  std::string tunnelError_;  // a VXLAN device could not be set up: why
};

}  // namespace routelet::routes
