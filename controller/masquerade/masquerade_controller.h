// Egress masquerade: pods' packets to anything outside the cluster's pod ranges leave with
// the node's address, through nftables table `inet routelet` (rules.h says which). A Node
// joining or leaving is a set element update; a change anyone else makes to the table is
// undone at once, because nftables tells the agent (kernelEvent).
#pragma once

#include <optional>
#include <vector>

#include "common/base/log_once.h"
#include "controller/agent/controller.h"
#include "controller/agent/metrics.h"
#include "controller/agent/table_guard.h"
#include "controller/config/options.h"
#include "controller/masquerade/masquerade_edge.h"

namespace routelet::masquerade {

class MasqueradeController : public agent::Controller {
 public:
  MasqueradeController(config::Options options, MasqueradeEdge& edge, agent::Metrics& metrics);

  // The nf_tables monitor could not start: each resync rewrites the table whole.
  void monitorUnavailable() { monitorDown_ = true; }

  agent::Wake nodeChanged(const model::NodeCache& nodes, const model::Node* before,
                          const model::Node* after) override;
  agent::Wake kernelEvent(const netlink::Event& e, const model::NodeCache& nodes) override;
  void kernelEventsLost() override;
  void sync(agent::Pass& pass) override;

 private:
  // Brings the table to `want`: element updates when the kernel holds what was last
  // written, the whole table otherwise (force: always).
  void apply(const std::optional<MasqueradeRules>& want, bool force);
  std::optional<MasqueradeRules> wanted(const agent::Pass& pass) const;

  config::Options options_;
  MasqueradeEdge& edge_;
  agent::Metrics& metrics_;
  log::LogOnce logged_;
  bool podCIDRsChanged_ = false;  // a peer's podCIDRs changed since the last pass
  bool heal_ = false;             // another process changed routelet's table
  agent::TableGuard guard_;       // tells other processes' commits on the table from its own
  bool monitorDown_ = false;
  // The table as last written; unknown until a write succeeds, and after a failure (the next
  // sync rewrites it whole).
  bool known_ = false;
  std::optional<MasqueradeRules> applied_;
  status::FeatureStatus state_;
};

}  // namespace routelet::masquerade
