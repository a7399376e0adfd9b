// Which nf_tables commits on one of routelet's tables are another process's: the agent
// rewrites its table after those (someone flushed or deleted it), never after its own.
//
// The kernel names the committing process by its pid in the initial pid namespace, which
// getpid() in a container is not. The agent learns it from a commit of an element socket of
// its own (known by its netlink port id); commits on the table seen before that wait to be
// judged by it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/netlink/netlink.h"

namespace routelet::agent {

class TableGuard {
 public:
  TableGuard(uint8_t family, std::string table) : table_(family, std::move(table)) {}

  // The port id of the socket the agent commits elements through (any thread).
  void setOwnPort(uint32_t port) { ownPort_ = port; }
  bool knowsOwnPort() const { return ownPort_.load() != 0; }

  // An nf_tables commit: true when it shows another process changed the table.
  bool foreign(const netlink::Event& e);
  // The pid of the last foreign commit (0: none known).
  uint32_t lastForeignPid() const { return foreignPid_; }
  // Events were lost: whatever they were, the table may have changed.
  void lost() { foreignPid_ = 0; }

 private:
  std::pair<uint8_t, std::string> table_;
  std::atomic<uint32_t> ownPort_{0};
  uint32_t ownPid_ = 0;
  std::vector<uint32_t> unjudged_;  // pids of commits on the table before ownPid_ was known
  uint32_t foreignPid_ = 0;
};

}  // namespace routelet::agent
