// The agent's loop: one level-triggered, coalesced reconcile pass at a time, woken by
// watch events, kernel route/link events, own-Node changes and a periodic resync.
//
// Every effect goes through an edge passed in (host network, route table, status patch),
// so the whole loop runs in unit tests against fakes and in real-kernel tests for real.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/netlink/netlink.h"
#include "controller/agent/metrics.h"
#include "controller/agent/status_report.h"
#include "controller/config/options.h"
#include "controller/kube/backoff.h"
#include "controller/masquerade/rules.h"
#include "controller/model/node_cache.h"
#include "controller/node/cni_config.h"
#include "controller/node/host_network.h"
#include "controller/routes/reconciler.h"
#include "controller/status/node_status.h"

namespace routelet::agent {

using config::Options;
using config::PortmapMode;
using node::conflistFor;
using node::gatewayOf;
using node::HostFacts;
using node::kConflistNewestVersion;
using node::kConflistVersion;
using status::PublishedState;
using status::statusPatch;

// The node-local effects of a pass besides routes.
class HostEdge {
 public:
  virtual ~HostEdge() = default;
  virtual Result<HostFacts> inspect(const std::vector<ip::Address>& nodeIPs,
                                    const std::string& bridge) = 0;
  // Bridge present, with its fixed MAC, MTU, every gateway address, up.
  virtual Status ensureBridge(const std::string& bridge, uint32_t mtu,
                              const std::vector<ip::Prefix>& gateways) = 0;
  virtual Status enableForwarding(bool v4, bool v6) = 0;
  // Writes atomically when the content differs; returns whether it wrote.
  virtual Result<bool> writeIfChanged(const std::string& path, const std::string& content) = 0;
  virtual bool fileExists(const std::string& path) = 0;
  // The CNI versions the plugin at path speaks (its VERSION answer).
  virtual Result<std::vector<std::string>> pluginVersions(const std::string& path) = 0;
  // Runs an nft script as one transaction (the masquerade table's shape).
  virtual Status nft(const std::string& script) = 0;
  // Adds and deletes set elements of the masquerade table, in one transaction.
  virtual Status nftElements(const std::vector<masquerade::SetChange>& changes) = 0;
  // The netlink port nftElements() commits through (opening it if needed).
  virtual Result<uint32_t> nftPortId() = 0;
  // net.bridge.bridge-nf-call-iptables and -ip6tables to 1: bridged packets pass the
  // IP hooks (kube-proxy's DNAT and its reverse).
  virtual Status enableBridgeNetfilter() = 0;
  // The VXLAN device as spec says (made, or made again when its VNI, port, underlay source
  // or device differ; MTU and MAC corrected; up), holding `address` and no other; returns
  // its ifindex.
  virtual Result<int> ensureVxlan(const netlink::VxlanSpec& spec, const ip::Prefix& address) = 0;
  // Deletes the link if it is there (its routes and entries go with it).
  virtual Status removeLink(const std::string& name) = 0;
};

// What sending a status patch gave; a plain Status converts to one.
struct PatchResult {
  PatchResult(Status s, std::optional<std::chrono::seconds> after = std::nullopt)  // NOLINT
      : status(std::move(s)), retryAfter(after) {}
  Status status;
  std::optional<std::chrono::seconds> retryAfter;  // the server's Retry-After (429, 503)
};

// Sends a strategic-merge patch to nodes/<own>/status. Called by publishStatus(), never by a
// pass: an API server that is slow or refuses cannot delay route healing.
using StatusPatcher = std::function<PatchResult(const std::string& patch)>;

struct AgentHealth {
  bool watchSynced = false;
  bool cniConfigWritten = false;
  bool firstReconcileDone = false;
  std::string notReadyReason;  // empty when ready
  bool ready() const { return watchSynced && cniConfigWritten && firstReconcileDone; }
};

class Agent {
 public:
  Agent(Options options, HostEdge& host, routes::RouteTable& routes, StatusPatcher patcher,
        Metrics& metrics);

  // Feed from the Node watch (any thread).
  void nodesListed(std::vector<model::Node> nodes);
  void nodeUpserted(model::Node node);
  void nodeDeleted(const std::string& name);
  // Feed from the netlink monitor (any thread).
  void kernelEvents(const std::vector<netlink::Event>& events);
  void kernelEventsLost();  // monitor overrun: do a full pass
  // Called (from kernelEvents, without the agent's lock) when an address the agent used as
  // its node IP is removed from the node: main restarts the Node watch with it. Set before
  // the monitor starts.
  void onNodeAddressGone(std::function<void()> fn);
  // The nf_tables monitor could not start: each resync rewrites the masquerade table whole.
  void nftMonitorUnavailable();
  void requestPass();

  // Runs passes until stop is set; returns within `tick` of it.
  void run(const std::atomic<bool>& stop,
           std::chrono::milliseconds tick = std::chrono::milliseconds(100));
  // One pass now, on the caller's thread (tests, and run() itself): a targeted one when
  // only peer Nodes changed or routelet routes vanished since a clean whole pass, else a
  // whole one.
  void pass();
  // Wakes run() (e.g. after setting stop).
  void wake();
  // Sends the newest status patch a whole pass made, if one waits and its retry time has
  // come (run() calls this on a thread of its own). A failure keeps it waiting, with a
  // jittered exponential backoff of at least the server's Retry-After; a newer patch
  // replaces a waiting one but does not cut the wait short.
  void publishStatus();
  // When publishStatus() may next send; nullopt when no patch waits.
  std::optional<std::chrono::steady_clock::time_point> statusRetryAt() const;

  AgentHealth health() const;
  std::chrono::steady_clock::time_point lastLoop() const;
  uint64_t passes() const { return passes_; }

 private:
  void declareMetrics();
  // kernelEvents under mu_; true when the Node watch should reconnect.
  bool kernelEventsLocked(const std::vector<netlink::Event>& events);
  void wholePass(std::unique_lock<std::mutex>& lock);
  // false: the changes need a whole pass (dirty_ is set for it).
  bool targetedPass(std::unique_lock<std::mutex>& lock);
  bool followUpDue(std::chrono::steady_clock::time_point now) const;
  // The cached peer (not self) whose podCIDR is exactly dst, or null. Under mu_.
  const std::pair<const std::string, model::Node>* peerWithPodCIDR(const ip::Prefix& dst) const;
  void recordOperations(const routes::Report& report);
  void recordReport(const routes::Report& report, double seconds);
  std::string coarseState(const routes::Report& report) const;
  void logOnce(const std::string& key, const std::string& message);
  // The masquerade rules for the cache as it is (nullopt: masquerade off). Under mu_.
  std::optional<masquerade::MasqueradeRules> masqueradeWanted(const routes::SelfInfo& self) const;
  // Brings the table to `want`: element updates when the kernel holds what was last
  // written, the whole table otherwise (force: always). Pass thread, without mu_.
  void syncMasquerade(const std::optional<masquerade::MasqueradeRules>& want, bool force);
  // The VXLAN devices for this pass (host-gw: removed); sets self's tunnels. Under mu_.
  void ensureTunnels(const HostFacts& facts, routes::SelfInfo& self);
  // Puts back the VXLAN entries that someone removed or changed. Under mu_.
  void healTunnels();
  // Whether a neighbour event on a VXLAN device undoes what routelet wants. Under mu_.
  bool tunnelEntryDisturbed(const netlink::Event& e) const;
  // The entry of tunnelWanted_ with this key, or null. Under mu_.
  const netlink::Neighbor* wantedEntry(const netlink::Neighbor::Key& key) const;

  Options options_;
  HostEdge& host_;
  routes::RouteTable& routes_;
  routes::Reconciler reconciler_;
  StatusPatcher patcher_;
  Metrics& metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  model::NodeCache cache_;
  bool dirty_ = true;  // a whole pass is needed

  // Targeted passes. A whole pass dumps the table and computes every peer: ~20 ms at 5000
  // Nodes. After a clean one (no conflicts, no failures), a peer Node event or a vanished
  // routelet route is handled from that peer alone, in microseconds; the whole pass
  // follows once events have been quiet for kFollowUpQuiet (kFollowUpMax at most) to
  // refresh status, gauges and the Node's state, and to check the table.
  static constexpr std::chrono::seconds kFollowUpQuiet{1};
  static constexpr std::chrono::seconds kFollowUpMax{10};
  bool targetedOk_ = false;    // the last whole pass was clean
  routes::SelfInfo lastSelf_;  // what it computed with
  // Peers changed since the last pass, with the version that pass saw (empty: none).
  std::map<std::string, std::optional<model::Node>> pendingPeers_;
  std::vector<netlink::Route> pendingHeals_;  // routelet routes that vanished
  // Past this many changed peers or vanished routes between two passes, one whole pass
  // costs less than a targeted look at each (each look reads the whole cache once).
  static constexpr std::size_t kMaxTargeted = 64;
  void addPendingPeer(const std::string& name, std::optional<model::Node> before);
  std::optional<std::chrono::steady_clock::time_point> followUpAt_, followUpCap_;
  AgentHealth health_;
  std::chrono::steady_clock::time_point lastLoop_ = std::chrono::steady_clock::now();
  std::atomic<uint64_t> passes_{0};
  bool healPending_ = false;     // a routelet route vanished from the kernel
  bool masqueradeHeal_ = false;  // another process changed routelet's nftables table
  bool tunnelHeal_ = false;      // someone removed or changed an entry of a VXLAN device
  // The VXLAN devices (ifindex; 0: none) and every entry they should hold, by key: kept by
  // whole passes, updated by targeted ones.
  int tunnelV4_ = 0, tunnelV6_ = 0;
  // Sorted by key: a map of 5000 peers' entries cost the agent ~0.7 MiB more.
  std::vector<netlink::Neighbor> tunnelWanted_;
  std::string tunnelError_;            // a VXLAN device could not be set up: why
  std::vector<std::string> vtepMacs_;  // published on the own Node
  // Which nf_tables commits are the agent's own: the kernel names the committing process by
  // its pid in the initial pid namespace, which getpid() in a container is not. The agent
  // learns it from a commit of its own element socket (known by port id); commits on its
  // table seen before that wait to be judged by it.
  std::atomic<uint32_t> ownNftPortId_{0};
  uint32_t ownNftPid_ = 0;          // guarded by mu_
  std::vector<uint32_t> unjudged_;  // pids of commits on our table before ownNftPid_ was known
  uint32_t masqueradeHealBy_ = 0;   // the pid of the last foreign commit (0: events lost)
  bool nftMonitorDown_ = false;     // guarded by mu_
  std::string nodeInterface_;       // the link holding the node IP (its changes trigger a pass)
  std::vector<ip::Address> lastNodeIPs_;  // the own node IPs of the last whole pass
  std::function<void()> nodeAddressGone_;

  // Only touched by the pass thread.
  std::set<std::string> logged_;       // log-once keys of conditions currently true
  std::set<std::string> standing_;     // per-peer conditions logged when they started
  std::set<std::string> ownProblems_;  // the own Node's decoding problems, as last logged
  std::string lastPatch_;              // the last patch handed to publishStatus()
  std::string lastStatus_;             // what <run dir>/status.json holds
  static constexpr std::chrono::seconds kStatusInterval{1};
  std::chrono::steady_clock::time_point lastStatusAt_{};
  std::optional<std::chrono::steady_clock::time_point> statusDue_;  // guarded by mu_
  std::string lastPatchBase_;  // resourceVersion of the own Node the patch was computed on
  std::string lastConflist_;
  // The masquerade table as last written; unknown until a write succeeds, and after a
  // failure (the next sync rewrites it whole).
  bool masqueradeKnown_ = false;
  std::optional<masquerade::MasqueradeRules> masqueradeApplied_;
  FeatureState masqueradeState_, bridgeNetfilterState_;  // guarded by mu_
  std::chrono::steady_clock::time_point nextResync_;

  // Status patches wait here for publishStatus(); guarded by patchMu_.
  mutable std::mutex patchMu_;
  std::condition_variable patchCv_;
  std::optional<std::string> pendingPatch_;
  std::chrono::steady_clock::time_point patchRetryAt_{};
  kube::Backoff patchBackoff_{{std::chrono::seconds(1), std::chrono::minutes(2)}};
  void publishLoop(const std::atomic<bool>& stop);
};

}  // namespace routelet::agent
