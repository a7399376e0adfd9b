// The real TableEdge of table `inet <table>`: scripts through libnftables, set elements
// over a netfilter netlink socket of its own.
#pragma once

#include <optional>
#include <string>

#include "common/netlink/netlink.h"
#include "common/nft/table_edge.h"

namespace routelet::nft {

class KernelTableEdge : public TableEdge {
 public:
  explicit KernelTableEdge(std::string table) : table_(std::move(table)) {}
  Status nft(const std::string& script) override;
  Status elements(const std::vector<SetChange>& changes) override;
  Result<uint32_t> portId() override;

 private:
  std::string table_;
  std::optional<netlink::Handle> netfilter_;  // opened at the first element change
};

}  // namespace routelet::nft
