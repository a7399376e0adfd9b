#include "controller/publish/publisher.h"

#include <ctime>
#include <functional>

#include "common/base/log.h"
#include "controller/status/node_status.h"

namespace routelet::publish {
namespace {

std::string rfc3339Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string coarseState(const std::vector<std::string>& reasons) {
  if (reasons.empty()) return "ready";
  std::string out = "degraded: ";
  for (std::size_t i = 0; i < reasons.size(); ++i) out += (i ? ", " : "") + reasons[i];
  return out;
}

status::PublishedState published(const status::AgentStatus& r, bool networkReady) {
  status::PublishedState s;
  s.nodeIPs = r.nodeIPs;
  s.podCIDRs = r.podCIDRs;
  s.bridge = r.bridge;
  s.mtu = r.mtu;
  if (r.vxlan) {
    s.mode = r.vxlan->mode;
    for (const auto& d : r.vxlan->devices)
      if (!d.mac.empty()) s.vtepMacs.push_back(d.mac);
  }
  s.version = ROUTELET_VERSION_STRING;
  s.state = r.state;
  s.networkReady = networkReady;
  return s;
}

}  // namespace

Publisher::Publisher(std::string nodeName, std::string runDir, PublishEdge& edge)
    : nodeName_(std::move(nodeName)), runDir_(std::move(runDir)), edge_(edge) {}

void Publisher::sync(agent::Pass& pass) {
  // Only once node setup could look at the node: before that there is nothing to say but
  // what /readyz says.
  if (!pass.whole || !pass.own || !pass.reportable) return;
  status::AgentStatus& report = pass.report;
  report.state = coarseState(pass.degraded);
  report.ready = pass.nodes.synced() && pass.notReady.empty();
  report.notReadyReason = report.ready            ? ""
                          : pass.notReady.empty() ? "waiting for the first Node list"
                                                  : pass.notReady.front();
  if (pass.detail) {
    std::string text = status::writeAgentStatus(report);
    const std::size_t hash = std::hash<std::string>{}(text);
    if (hash != lastStatusHash_) {
      const std::string path = runDir_ + "/" + status::kStatusFileName;
      auto wrote = edge_.writeIfChanged(path, text);
      if (wrote) {
        lastStatusHash_ = hash;
        logged_.clear("status-file");
      } else {
        logged_.warn("status-file", "cannot write " + path + ": " + wrote.error().message);
      }
    }
  }
  auto patch = status::statusPatch(*pass.own, published(report, pass.networkReady), rfc3339Now());
  // The watch delivers our own patch back a moment later; until then the cached Node still
  // shows the old values, so the same patch is not sent twice for one version.
  if (patch && !(*patch == lastPatch_ && pass.own->resourceVersion == lastPatchBase_)) {
    lastPatch_ = *patch;
    lastPatchBase_ = pass.own->resourceVersion;
    std::lock_guard<std::mutex> lock(mu_);
    pending_ = std::move(*patch);
    cv_.notify_all();
  }
}

void Publisher::publishStatus() {
  std::string patch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_ || std::chrono::steady_clock::now() < retryAt_) return;
    patch = *pending_;
  }
  PatchResult result = edge_.patchStatus(patch);
  std::lock_guard<std::mutex> lock(mu_);
  if (result.status) {
    backoff_.reset();
    if (pending_ == patch) pending_.reset();  // a newer one keeps waiting
    return;
  }
  // Each failure used to start a whole pass and send again at once: on a 403 or a 429
  // every agent of the cluster hammered the API server.
  auto delay = backoff_.next(result.retryAfter);
  retryAt_ = std::chrono::steady_clock::now() + delay;
  log::warn("cannot update Node " + nodeName_ + " status: " + result.status.error().message +
            "; trying again in " + std::to_string(delay.count()) + " ms");
}

std::optional<std::chrono::steady_clock::time_point> Publisher::statusRetryAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!pending_) return std::nullopt;
  return retryAt_;
}

void Publisher::start(const std::atomic<bool>& stop) {
  thread_ = std::thread([this, &stop] { publishLoop(stop); });
}

void Publisher::wake() {
  std::lock_guard<std::mutex> lock(mu_);
  cv_.notify_all();
}

void Publisher::join() {
  if (thread_.joinable()) thread_.join();
}

void Publisher::publishLoop(const std::atomic<bool>& stop) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop) {
    if (pending_ && std::chrono::steady_clock::now() >= retryAt_) {
      lock.unlock();
      publishStatus();
      lock.lock();
    } else if (pending_) {
      cv_.wait_until(lock, retryAt_);
    } else {
      cv_.wait(lock);
    }
  }
}

}  // namespace routelet::publish
