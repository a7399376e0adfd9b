#include "common/nft/kernel_table_edge.h"

#include "common/nft/nftables.h"

namespace routelet::nft {

Status KernelTableEdge::nft(const std::string& script) {
  // A context of its own each time: libnftables keeps what it read of the ruleset in its
  // context, and the agent has no use for that between two scripts.
  auto ctx = Nftables::open();
  if (!ctx) return ctx.error();
  return ctx->run(script);
}

Result<uint32_t> KernelTableEdge::portId() {
  if (!netfilter_) {
    auto opened = netlink::Handle::openNetfilter();
    if (!opened) return opened.error();
    netfilter_ = std::move(*opened);
  }
  return netfilter_->portId();
}

Status KernelTableEdge::elements(const std::vector<SetChange>& changes) {
  if (auto port = portId(); !port) return port.error();
  return writeElements(*netfilter_, table_, changes);
}

}  // namespace routelet::nft
