#include "controller/masquerade/masquerade_controller.h"

#include <linux/netfilter.h>

#include <algorithm>

#include "common/base/log.h"
#include "controller/routes/routes_config.h"

namespace routelet::masquerade {

MasqueradeController::MasqueradeController(config::Options options, MasqueradeEdge& edge,
                                           agent::Metrics& metrics)
    : options_(std::move(options)),
      edge_(edge),
      metrics_(metrics),
      guard_(NFPROTO_INET, kMasqueradeTable) {
  using T = agent::Metrics::Type;
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
}

agent::Wake MasqueradeController::nodeChanged(const model::NodeCache&, const model::Node* before,
                                              const model::Node* after) {
  // Only a podCIDR joining or leaving changes the table in a targeted pass; anything subtler
  // waits for the whole pass that follows.
  static const std::vector<ip::Prefix> kNone;
  if ((before ? before->podCIDRs : kNone) == (after ? after->podCIDRs : kNone))
    return agent::Wake::kNo;
  podCIDRsChanged_ = true;
  return agent::Wake::kSoon;
}

agent::Wake MasqueradeController::kernelEvent(const netlink::Event& e, const model::NodeCache&) {
  // Someone else's transaction touched routelet's table (a flush, `nft delete table`, a
  // deleted element): rewrite it. Our own writes come back here too.
  if (!options_.masquerade || !guard_.foreign(e)) return agent::Wake::kNo;
  heal_ = true;
  return agent::Wake::kSoon;
}

void MasqueradeController::kernelEventsLost() {
  heal_ = options_.masquerade;  // the lost ones may have touched its table
  guard_.lost();
}

std::optional<MasqueradeRules> MasqueradeController::wanted(const agent::Pass& pass) const {
  if (!options_.masquerade) return std::nullopt;
  auto self = routes::selfInfo(*pass.local, config::routesConfig(options_));
  return masqueradeRules(pass.nodes, self, options_.nonMasqueradeCIDRs);
}

void MasqueradeController::sync(agent::Pass& pass) {
  if (!pass.local) return;
  if (pass.whole) {
    // Not on every resync: a whole rewrite empties the table for a moment, and a connection
    // opened then would stay unmasqueraded. Only after someone else's change, or when the
    // monitor lost events (or is down).
    bool rewrite = std::exchange(heal_, false) || (monitorDown_ && pass.resync);
    podCIDRsChanged_ = false;
    // Only from a complete Node list: from a partial one, pods would be masqueraded towards
    // peers not listed yet.
    if (pass.nodes.synced()) apply(wanted(pass), rewrite);
    if (!state_.error.empty()) pass.degraded.push_back("masquerade not programmed");
    pass.report.masquerade = state_;
    return;
  }
  // Routes come first (the loop syncs the routes controller before this one): a new peer's
  // pods are reachable before its range is exempted.
  if (std::exchange(podCIDRsChanged_, false) || heal_)
    apply(wanted(pass), std::exchange(heal_, false));
}

void MasqueradeController::apply(const std::optional<MasqueradeRules>& want, bool force) {
  state_.enabled = want.has_value();
  state_.table = want ? masqueradeTableName() : "";
  if (!force && known_ && applied_ == want) return;
  if (want && !guard_.knowsOwnPort()) {
    // Known before the first commit of that socket, so that its notification is recognised.
    if (auto port = edge_.portId()) guard_.setOwnPort(*port);
  }
  if (force && want)
    log::info("table " + masqueradeTableName() +
              (guard_.lastForeignPid() ? " was changed by another process (pid " +
                                             std::to_string(guard_.lastForeignPid()) + ")"
                                       : " may have changed unseen") +
              ": writing it again");
  std::string kind = want ? "table" : "remove";
  Status st = okStatus();
  bool done = false;
  if (want && !force && known_ && applied_) {
    if (auto update = masqueradeUpdate(*applied_, *want)) {
      st = edge_.elements(*update);
      metrics_.add("routelet_masquerade_writes_total",
                   {{"kind", "elements"}, {"result", st ? "ok" : "error"}});
      // Refused (someone changed the set meanwhile): the whole table below puts it right.
      done = static_cast<bool>(st);
    }
  }
  if (!done) {
    if (want) {
      st = edge_.nft(masqueradeScript(*want));
      if (st) st = edge_.elements(masqueradeElements(*want));
    } else {
      st = edge_.nft(masqueradeRemovalScript());
    }
    metrics_.add("routelet_masquerade_writes_total",
                 {{"kind", kind}, {"result", st ? "ok" : "error"}});
  }
  if (!st && want) {
    known_ = false;
    state_.error = st.error().message;
    logged_.warn("masquerade", "cannot program the masquerade table " + masqueradeTableName() +
                                   ": " + st.error().message);
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
    log::warn("masquerade is off, but removing table " + masqueradeTableName() +
              " failed: " + st.error().message);
  } else if (!known_ || applied_.has_value() != want.has_value()) {
    log::info(want ? "masquerade table " + masqueradeTableName() + " programmed: " + detail
                   : "masquerade is off: no table " + masqueradeTableName());
  }
  if (force && want) metrics_.add("routelet_masquerade_heals_total", {});
  logged_.clear("masquerade");
  known_ = true;
  applied_ = want;
  state_.error.clear();
  state_.detail = detail;
  metrics_.set("routelet_masquerade_exempt_ranges", {},
               want ? static_cast<double>(want->keep.size()) : 0);
}

}  // namespace routelet::masquerade
