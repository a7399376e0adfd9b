// What a controller that owns an nftables table of routelet's does to it: scripts for its
// shape, set elements for what it holds of the cluster. One real implementation
// (kernel_table_edge.h) and a fake (fake_table_edge.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/nft/elements.h"

namespace routelet::nft {

class TableEdge {
 public:
  virtual ~TableEdge() = default;
  // Runs an nft script as one transaction (the table's shape, or its removal).
  virtual Status nft(const std::string& script) = 0;
  // Adds and deletes set elements of the table, in one transaction.
  virtual Status elements(const std::vector<SetChange>& changes) = 0;
  // The netlink port elements() commits through (opening it if needed): the agent knows its
  // own commits in the nf_tables monitor by it.
  virtual Result<uint32_t> portId() = 0;
};

}  // namespace routelet::nft
