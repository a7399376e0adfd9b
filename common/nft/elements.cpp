#include "common/nft/elements.h"

#include <linux/netfilter.h>

#include <algorithm>
#include <span>

#include "common/netlink/message.h"

namespace routelet::nft {

Status writeElements(netlink::Handle& socket, const std::string& table,
                     const std::vector<SetChange>& changes) {
  std::vector<netlink::Request> requests;
  for (const auto& c : changes) {
    for (std::size_t at = 0; at < c.keys.size(); at += netlink::kNftElementsPerMessage) {
      std::size_t n = std::min(netlink::kNftElementsPerMessage, c.keys.size() - at);
      std::span<const ip::Address> keys(c.keys.data() + at, n);
      requests.push_back({(c.add ? "add " : "delete ") + std::to_string(n) + " elements " +
                              (c.add ? "to" : "from") + " set inet " + table + " " + c.set,
                          [&c, &table, keys](uint32_t seq) {
                            return netlink::buildNftSetElements(seq, c.add, NFPROTO_INET, table,
                                                                c.set, keys);
                          }});
    }
  }
  if (requests.empty()) return okStatus();
  return socket.transaction(requests);
}

}  // namespace routelet::nft
