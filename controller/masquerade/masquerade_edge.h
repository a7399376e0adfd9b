// What the masquerade controller does to nftables. One real implementation
// (kernel_masquerade_edge.h) and a fake (fake_masquerade_edge.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "controller/masquerade/rules.h"

namespace routelet::masquerade {

class MasqueradeEdge {
 public:
  virtual ~MasqueradeEdge() = default;
  // Runs an nft script as one transaction (the table's shape, or its removal).
  virtual Status nft(const std::string& script) = 0;
  // Adds and deletes set elements of the table, in one transaction.
  virtual Status elements(const std::vector<SetChange>& changes) = 0;
  // The netlink port elements() commits through (opening it if needed): the agent knows its
  // own commits in the nf_tables monitor by it.
  virtual Result<uint32_t> portId() = 0;
};

}  // namespace routelet::masquerade
