// routelet: the per-node agent, and the admin's commands on a node. Only wiring: options,
// edges, controllers, threads, signals.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "common/base/log.h"
#include "common/fs/files.h"
#include "common/netlink/netlink.h"
#include "common/nft/kernel_table_edge.h"
#include "controller/admin/commands.h"
#include "controller/agent/agent.h"
#include "controller/agent/http_endpoints.h"
#include "controller/config/options.h"
#include "controller/kube/http_api_client.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/node_watcher.h"
#include "controller/kube/object_watcher.h"
#include "controller/kube/policy_decode.h"
#include "controller/masquerade/kernel_masquerade_edge.h"
#include "controller/masquerade/masquerade_controller.h"
#include "controller/node/kernel_node_edge.h"
#include "controller/node/node_controller.h"
#include "controller/policy/policy_controller.h"
#include "controller/publish/publisher.h"
#include "controller/routes/kernel_route_table.h"
#include "controller/routes/kernel_tunnel_edge.h"
#include "controller/routes/routes_controller.h"

extern char** environ;

namespace routelet {
namespace {

using agent::Metrics;
using config::Environment;
using config::Options;
using config::parseInvocation;
using config::usage;

// Publishing through the API client (the status subresource of the own Node) and the files.
class ApiPublishEdge : public publish::PublishEdge {
 public:
  ApiPublishEdge(kube::ApiClient& api, std::string node, kube::Cancellation& cancel)
      : api_(api), node_(std::move(node)), cancel_(cancel) {}
  publish::PatchResult patchStatus(const std::string& patch) override {
    auto st = api_.patchNodeStatus(node_, patch, kube::PatchType::kStrategicMerge, &cancel_);
    if (!st.ok) return {makeError(st.message), st.retryAfter};
    return okStatus();
  }
  Result<bool> writeIfChanged(const std::string& path, const std::string& content) override {
    return fs::writeIfChanged(path, content);
  }

 private:
  kube::ApiClient& api_;
  std::string node_;
  kube::Cancellation& cancel_;
};

Environment currentEnvironment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

int fail(const std::string& message) {
  log::error(message);
  return 1;
}

// Memory: one malloc arena per thread is glibc's default, and arenas keep what a burst
// (the initial LIST of thousands of Nodes) freed. The agent is not malloc-bound.
void tuneMalloc() {
  mallopt(M_ARENA_MAX, 2);
  // A whole pass at 5000 Nodes builds vectors and strings of hundreds of KiB. Fixed
  // thresholds keep them in mmap (returned on free) and let the heap shrink; glibc's
  // default raises both after the first such free and then keeps every peak.
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  mallopt(M_TRIM_THRESHOLD, 256 * 1024);
}

// The metrics of the edges main wires: the API client, the watcher, the HTTP listeners.
// (The controllers and the loop declare their own.)
void declareEdgeMetrics(Metrics& metrics) {
  metrics.declare("routelet_api_requests_total", Metrics::Type::kCounter,
                  "Kubernetes API responses by HTTP code (0: no response).");
  metrics.declare("routelet_api_lists_over_bound_total", Metrics::Type::kCounter,
                  "Node LISTs given up past one of the client's bounds (maxListPages, "
                  "maxListNodes, maxListBytes, maxPageBytes, maxValueBytes, continue: a "
                  "repeated continue token); the cache keeps the last complete list.");
  metrics.declare("routelet_watch_restarts_total", Metrics::Type::kCounter,
                  "Node watches restarted (relist or reconnect).");
  metrics.declare("routelet_watch_failures_total", Metrics::Type::kCounter,
                  "Node watches that failed or ended within 30 s (a healthy one lasts until "
                  "the server's timeout).");
  metrics.declare("routelet_watch_failure_relists_total", Metrics::Type::kCounter,
                  "Relists after several Node watches in a row failed.");
  metrics.declare("routelet_http_refused_total", Metrics::Type::kCounter,
                  "Connections to the agent's HTTP endpoints refused or cut, by listen address "
                  "and reason (headers_too_large, too_many_connections, request_too_slow).");
}

// The API client's and the watcher's counters, copied in when /metrics is rendered.
void refreshApiMetrics(Metrics& metrics, const kube::ApiClient& api,
                       const kube::NodeWatcher& watcher) {
  for (const auto& [code, n] : api.requestCounts()) {
    metrics.set("routelet_api_requests_total", {{"code", std::to_string(code)}},
                static_cast<double>(n));
  }
  // Every watch after the first one is a restart: a timeout, a disconnect or a relist.
  auto stats = watcher.stats();
  metrics.set("routelet_watch_restarts_total", {},
              static_cast<double>(stats.watches > 0 ? stats.watches - 1 : 0));
  metrics.set("routelet_watch_failures_total", {}, static_cast<double>(stats.watchFailures));
  metrics.set("routelet_watch_failure_relists_total", {},
              static_cast<double>(stats.failureRelists));
  for (const auto& [bound, n] : stats.listsOverBound)
    metrics.set("routelet_api_lists_over_bound_total", {{"bound", bound}}, static_cast<double>(n));
}

// What a listener calls for each connection it refuses; every reason starts at 0, so a
// dashboard sees the series before the first refusal.
std::function<void(const char*)> refusalCounter(Metrics& metrics, const std::string& listen) {
  for (const char* reason : agent::kRefusalReasons)
    metrics.set("routelet_http_refused_total", {{"listen", listen}, {"reason", reason}}, 0);
  return [&metrics, listen](const char* reason) {
    metrics.add("routelet_http_refused_total", {{"listen", listen}, {"reason", reason}});
  };
}

// /healthz: the loop went round within 30 s.
std::pair<bool, std::string> liveness(const agent::Agent& loop) {
  auto age = std::chrono::steady_clock::now() - loop.lastLoop();
  bool alive = age < std::chrono::seconds(30);
  return {alive, alive ? "ok" : "reconcile loop stuck"};
}

// /readyz: the last whole pass left nothing that keeps the node from being ready.
std::pair<bool, std::string> readiness(const agent::Agent& loop) {
  auto h = loop.health();
  if (h.ready) return {true, "ok"};
  return {false, h.notReadyReason.empty() ? "not ready" : h.notReadyReason};
}

// The kernel tells the agent at once when one of its routes or the bridge goes away, so a
// route deleted by hand is back in milliseconds, not after a resync period; and likewise
// when another process changes the masquerade table. Runs until stop.
void watchKernel(Result<netlink::Monitor> monitor, const char* what,
                 const std::function<void()>& unavailable, const std::atomic<bool>& stop,
                 agent::Agent& loop) {
  if (!monitor) {
    log::error(std::string(what) + ": " + monitor.error().message +
               "; relying on the periodic resync");
    if (unavailable) unavailable();
    return;
  }
  while (!stop) {
    auto events = monitor->wait(std::chrono::milliseconds(200));
    if (!events) {
      if (events.error().code == ENOBUFS) loop.kernelEventsLost();
      continue;
    }
    if (!events->empty()) loop.kernelEvents(*events);
  }
}

// NetworkPolicy's three watches (Pods, Namespaces, NetworkPolicies), each feeding the
// policy controller through the loop; none when network policy is off.
class PolicyWatches {
 public:
  PolicyWatches(kube::ApiClient& api, const Options& options, policy::PolicyController& policies,
                agent::Agent& loop) {
    if (!options.networkPolicy) return;
    using WT = kube::WatchEventType;
    size_t maxPods = options.maxPods ? options.maxPods : 200000;
    pods_ = std::make_unique<kube::ObjectWatcher<model::PodObject>>(
        api, kube::podsQuery(maxPods), kube::decodePod,
        kube::Reflector<model::PodObject>::Callbacks{
            [&](std::vector<model::PodObject>&&) {
              loop.post([&] { return policies.podsListed(); });
              malloc_trim(0);
            },
            [&](WT type, const model::PodObject& pod) {
              loop.post([&] { return policies.podChanged(type, pod); });
            },
            [&] {
              loop.post([&] {
                policies.podsListStart();
                return agent::Wake::kNo;
              });
            },
            [&](model::PodObject&& pod) {
              loop.post([&] {
                policies.podListed(pod);
                return agent::Wake::kNo;
              });
            }});
    namespaces_ = std::make_unique<kube::ObjectWatcher<model::NamespaceObject>>(
        api, kube::namespacesQuery(100000), kube::decodeNamespace,
        kube::Reflector<model::NamespaceObject>::Callbacks{
            [&](std::vector<model::NamespaceObject>&& all) {
              loop.post([&] { return policies.namespacesListed(std::move(all)); });
            },
            [&](WT type, const model::NamespaceObject& ns) {
              loop.post([&] { return policies.namespaceChanged(type, ns); });
            },
            {},
            {}});
    policies_ = std::make_unique<kube::ObjectWatcher<model::NetworkPolicyObject>>(
        api, kube::networkPoliciesQuery(100000), kube::decodeNetworkPolicy,
        kube::Reflector<model::NetworkPolicyObject>::Callbacks{
            [&](std::vector<model::NetworkPolicyObject>&& all) {
              loop.post([&] { return policies.policiesListed(std::move(all)); });
            },
            [&](WT type, const model::NetworkPolicyObject& p) {
              if (!p.problems.empty())
                log::warn("NetworkPolicy " + p.ns + "/" + p.name + ": " + p.problems.front() +
                          (p.problems.size() > 1 ? " (and more)" : ""));
              loop.post([&] { return policies.policyChanged(type, p); });
            },
            {},
            {}});
  }
  void start() {
    if (pods_) pods_->start();
    if (namespaces_) namespaces_->start();
    if (policies_) policies_->start();
  }
  void stop() {
    if (pods_) pods_->stop();
    if (namespaces_) namespaces_->stop();
    if (policies_) policies_->stop();
  }

 private:
  std::unique_ptr<kube::ObjectWatcher<model::PodObject>> pods_;
  std::unique_ptr<kube::ObjectWatcher<model::NamespaceObject>> namespaces_;
  std::unique_ptr<kube::ObjectWatcher<model::NetworkPolicyObject>> policies_;
};

int runAgent(const Options& options) {
  if (options.nodeName.empty()) {
    return fail("no node name: set --node-name or NODE_NAME (the DaemonSet passes spec.nodeName)");
  }
  // Signals are taken by one thread with sigwait. Blocked first, before any thread exists
  // (cpprestsdk starts its pool with the first client), so every thread inherits the mask
  // and SIGTERM always reaches sigwait instead of killing the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  tuneMalloc();
  kube::configureHttpThreads(4);
  auto access = options.kubeconfig.empty() ? kube::inClusterAccess()
                                           : kube::loadKubeconfig(options.kubeconfig);
  if (!access) return fail("API access: " + access.error().message);
  kube::HttpApiOptions apiOptions;
  apiOptions.decode.annotationsOnlyFor = options.nodeName;
  if (options.maxNodes > 0) {
    apiOptions.maxListNodes = options.maxNodes;
    apiOptions.maxListBytes = options.maxNodes * kube::kMaxAverageNodeBytes;
  }
  auto api = kube::makeHttpApiClient(*access, apiOptions);
  if (!api) return fail("API client: " + api.error().message);
  auto nl = netlink::Handle::open();
  if (!nl) return fail("netlink: " + nl.error().message);

  std::atomic<bool> stop{false};
  Metrics metrics;
  kube::Cancellation patchCancel;
  node::KernelNodeEdge nodeEdge(*nl, options.procSys);
  routes::KernelRouteTable table(*nl);
  routes::KernelTunnelEdge tunnels(*nl);
  masquerade::KernelMasqueradeEdge nftables;
  ApiPublishEdge publishEdge(**api, options.nodeName, patchCancel);
  // The controllers, in the order a pass syncs them: node setup first (the others work from
  // what it found), routes before masquerade (a new peer's pods are reachable before its
  // range is exempted), publishing last (it reports what the others did).
  node::NodeController nodeSetup(options, nodeEdge);
  routes::RoutesController peerRoutes(config::routesConfig(options), table, tunnels, metrics);
  masquerade::MasqueradeController egress(options, nftables, metrics);
  nft::KernelTableEdge policyTable(policy::kPolicyTable);
  policy::PolicyController policies(options, policyTable, metrics);
  publish::Publisher publisher(options.nodeName, options.runDir, publishEdge);
  agent::Agent loop({options.nodeName, options.resyncPeriod},
                    {&nodeSetup, &peerRoutes, &egress, &policies, &publisher}, metrics);
  PolicyWatches policyWatches(**api, options, policies, loop);

  kube::NodeWatcher watcher(**api, {[&](std::vector<model::Node>&& nodes) {
                                      loop.nodesListed(std::move(nodes));
                                      // Give back what decoding the LIST pages left free in the
                                      // heap.
                                      malloc_trim(0);
                                    },
                                    [&](kube::WatchEventType type, const model::Node& node) {
                                      if (type == kube::WatchEventType::kDeleted)
                                        loop.nodeDeleted(node.name);
                                      else
                                        loop.nodeUpserted(node);
                                    },
                                    {},
                                    {}});

  declareEdgeMetrics(metrics);
  auto renderMetrics = [&] {
    refreshApiMetrics(metrics, **api, watcher);
    return metrics.render();
  };
  auto endpoints = agent::HttpEndpoints::start(
      options.listen, {[&] { return liveness(loop); }, [&] { return readiness(loop); },
                       renderMetrics, refusalCounter(metrics, options.listen)});
  if (!endpoints) return fail(endpoints.error().message);
  // Metrics for a Prometheus off the node, without the probes: the one address beside
  // loopback that an operator chose to open.
  std::unique_ptr<agent::HttpEndpoints> metricsEndpoint;
  if (!options.metricsListen.empty()) {
    auto started = agent::HttpEndpoints::start(
        options.metricsListen,
        {{}, {}, renderMetrics, refusalCounter(metrics, options.metricsListen)});
    if (!started) return fail(started.error().message);
    metricsEndpoint = std::move(*started);
  }

  std::thread signalThread([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log::info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
              ": stopping; routes, bridge and CNI config stay in place");
    stop = true;
    patchCancel.cancel();  // a patch in flight must not hold up the exit
    loop.wake();
  });

  nodeSetup.onNodeAddressGone([&] {
    log::info("a node IP was removed from this node: reconnecting the Node watch");
    watcher.reconnect();
  });
  std::thread monitorThread(
      // Neighbour changes only matter with VXLAN devices to heal; on a busy node they are the
      // bulk of the rtnetlink traffic.
      [&] {
        watchKernel(netlink::Monitor::open(options.mode != routes::Mode::kHostGw),
                    "netlink monitor", nullptr, stop, loop);
      });
  // The agent's own element sockets, open before the nf_tables monitor so that it leaves out
  // their element notifications (a whole policy table is 150 000 of them).
  std::vector<uint32_t> ownPorts;
  for (nft::TableEdge* edge : std::initializer_list<nft::TableEdge*>{&nftables, &policyTable})
    if (auto port = edge->portId()) ownPorts.push_back(*port);
  std::thread nftMonitorThread([&] {
    if (!options.masquerade && !options.networkPolicy) return;
    auto monitor = netlink::Monitor::openNftables();
    if (monitor)
      if (Status st = monitor->ignoreElementsFrom(ownPorts); !st)
        log::warn(st.error().message + ": the agent's own element writes count as changes");
    watchKernel(
        std::move(monitor), "nf_tables monitor",
        [&] {
          egress.monitorUnavailable();
          policies.monitorUnavailable();
        },
        stop, loop);
  });

  log::info("routelet " ROUTELET_VERSION_STRING " starting on node " + options.nodeName + " (API " +
            access->server + ", " + access->origin + ")");
  watcher.start();
  policyWatches.start();
  loop.run(stop);
  watcher.stop();
  policyWatches.stop();
  patchCancel.cancel();
  monitorThread.join();
  nftMonitorThread.join();
  (*endpoints)->stop();
  if (metricsEndpoint) metricsEndpoint->stop();
  if (signalThread.joinable()) {
    // Normal exit happens only after a signal; the thread has already returned.
    signalThread.join();
  }
  log::info("stopped");
  return 0;
}

int main(int argc, char** argv) {
  log::setComponent("routelet");
  std::vector<std::string> args(argv + 1, argv + argc);
  auto inv = parseInvocation(args, currentEnvironment(),
                             [](const std::string& path) { return fs::readFile(path); });
  if (!inv) {
    std::fprintf(stderr, "routelet: %s\n\n%s", inv.error().message.c_str(), usage().c_str());
    return 2;
  }
  log::setLevel(inv->options.logLevel);
  if (inv->command == "help") {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (inv->command == "version") {
    std::puts("routelet " ROUTELET_VERSION_STRING);
    return 0;
  }
  if (inv->command == "status")
    return admin::runStatus(inv->options, inv->rest, std::cout, std::cerr);
  if (inv->command == "cleanup")
    return admin::runCleanup(inv->options, inv->rest, std::cout, std::cerr);
  if (!inv->rest.empty()) {
    std::fprintf(stderr, "routelet: unknown argument \"%s\"\n\n%s", inv->rest[0].c_str(),
                 usage().c_str());
    return 2;
  }
  return runAgent(inv->options);
}

}  // namespace
}  // namespace routelet

int main(int argc, char** argv) {
  return routelet::main(argc, argv);
}
