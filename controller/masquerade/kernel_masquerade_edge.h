// The real MasqueradeEdge: scripts through libnftables, set elements over a netfilter
// netlink socket of its own.
#pragma once

#include <optional>

#include "common/netlink/netlink.h"
#include "controller/masquerade/masquerade_edge.h"

namespace routelet::masquerade {

class KernelMasqueradeEdge : public MasqueradeEdge {
 public:
  Status nft(const std::string& script) override;
  Status elements(const std::vector<SetChange>& changes) override;
  Result<uint32_t> portId() override;

 private:
  std::optional<netlink::Handle> netfilter_;  // opened at the first element change
};

}  // namespace routelet::masquerade
