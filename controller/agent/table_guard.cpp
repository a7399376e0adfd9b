#include "controller/agent/table_guard.h"

#include <algorithm>

namespace routelet::agent {

bool TableGuard::foreign(const netlink::Event& e) {
  if (e.kind != netlink::Event::Kind::kNftCommit) return false;
  if (!ownPid_ && e.nft.portid != 0 && e.nft.portid == ownPort_.load()) {
    ownPid_ = e.nft.pid;
    bool changed = false;
    for (uint32_t pid : unjudged_) {
      if (pid == ownPid_) continue;
      changed = true;
      foreignPid_ = pid;
    }
    unjudged_.clear();
    return changed;
  }
  if (std::find(e.nft.tables.begin(), e.nft.tables.end(), table_) == e.nft.tables.end())
    return false;
  if (!ownPid_) {
    // A bound: past it, a rewrite is the safe answer.
    if (unjudged_.size() < 16) {
      unjudged_.push_back(e.nft.pid);
      return false;
    }
    unjudged_.clear();
  } else if (e.nft.pid == ownPid_) {
    return false;
  }
  foreignPid_ = e.nft.pid;
  return true;
}

}  // namespace routelet::agent
