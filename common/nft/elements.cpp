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
    size_t count = c.rawKeys.empty() ? c.keys.size() : c.rawKeys.size();
    for (std::size_t at = 0; at < count; at += netlink::kNftElementsPerMessage) {
      std::size_t n = std::min(netlink::kNftElementsPerMessage, count - at);
      requests.push_back({(c.add ? "add " : "delete ") + std::to_string(n) + " elements " +
                              (c.add ? "to" : "from") + " set inet " + table + " " + c.set,
                          [&c, &table, at, n](uint32_t seq) {
                            if (!c.rawKeys.empty())
                              return netlink::buildNftSetElements(
                                  seq, c.add, NFPROTO_INET, table, c.set,
                                  std::span<const std::string>(c.rawKeys.data() + at, n));
                            return netlink::buildNftSetElements(
                                seq, c.add, NFPROTO_INET, table, c.set,
                                std::span<const ip::Address>(c.keys.data() + at, n));
                          }});
    }
  }
  if (requests.empty()) return okStatus();
  return socket.transaction(requests);
}

}  // namespace routelet::nft
