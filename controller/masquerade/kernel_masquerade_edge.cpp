#include "controller/masquerade/kernel_masquerade_edge.h"

#include <linux/netfilter.h>

#include <algorithm>
#include <span>

#include "common/netlink/message.h"
#include "controller/masquerade/nftables.h"

namespace routelet::masquerade {

Status KernelMasqueradeEdge::nft(const std::string& script) {
  // A context of its own each time: libnftables keeps what it read of the ruleset in its
  // context, and the agent has no use for that between two rare scripts.
  auto nft = Nftables::open();
  if (!nft) return nft.error();
  return nft->run(script);
}

Result<uint32_t> KernelMasqueradeEdge::portId() {
  if (!netfilter_) {
    auto opened = netlink::Handle::openNetfilter();
    if (!opened) return opened.error();
    netfilter_ = std::move(*opened);
  }
  return netfilter_->portId();
}

Status KernelMasqueradeEdge::elements(const std::vector<SetChange>& changes) {
  if (auto port = portId(); !port) return port.error();
  std::vector<netlink::Request> requests;
  for (const auto& c : changes) {
    for (std::size_t at = 0; at < c.keys.size(); at += netlink::kNftElementsPerMessage) {
      std::size_t n = std::min(netlink::kNftElementsPerMessage, c.keys.size() - at);
      std::span<const ip::Address> keys(c.keys.data() + at, n);
      requests.push_back({(c.add ? "add " : "delete ") + std::to_string(n) + " elements " +
                              (c.add ? "to" : "from") + " set " + masqueradeTableName() + " " +
                              c.set,
                          [&c, keys](uint32_t seq) {
                            return netlink::buildNftSetElements(seq, c.add, NFPROTO_INET,
                                                                kMasqueradeTable, c.set, keys);
                          }});
    }
  }
  return netfilter_->transaction(requests);
}

}  // namespace routelet::masquerade
