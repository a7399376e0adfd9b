// Handle's requests about neighbour and forwarding database entries (socket.h).
#include <linux/neighbour.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/netlink/link.h"
#include "common/netlink/message.h"
#include "common/netlink/socket.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {
namespace {

std::string neighborWhat(NeighborOp::Kind kind, const Neighbor& n) {
  return (kind == NeighborOp::Kind::kReplace ? "replace " : "delete ") + describe(n);
}

}  // namespace

Request request(const NeighborOp& op) {
  return {neighborWhat(op.kind, op.entry),
          [&op](uint32_t s) { return buildNeighbor(s, op.kind, op.entry); }};
}

Result<std::vector<Neighbor>> Handle::neighbors(int index, bool fdb) {
  std::vector<uint8_t> families;
  if (fdb)
    families = {AF_BRIDGE};
  else
    families = {AF_INET, AF_INET6};
  std::vector<Neighbor> out;
  for (uint8_t family : families) {
    std::string what = std::string("list ") +
                       (fdb                  ? "fdb entries"
                        : family == AF_INET6 ? "IPv6 neighbours"
                                             : "IPv4 neighbours") +
                       " of link " + std::to_string(index);
    auto messages =
        impl_->dump(what, [&](uint32_t s) { return buildNeighborDump(s, family, index); });
    if (!messages.ok() && family == AF_INET6 && ipv6Absent(messages.error())) continue;
    if (!messages.ok()) return messages.error();
    for (const Bytes& m : *messages) {
      auto parsed = parseNeighbor(m);
      if (!parsed.ok()) return parsed.error().wrap(what);
      const Neighbor& n = parsed->neighbor;
      // Kernels without strict checking ignore the filter; a bridge port's dump also holds
      // its bridge's entries (NTF_MASTER), which are not the device's own.
      if (n.index != index || n.fdb != fdb || (fdb && !parsed->self)) continue;
      out.push_back(n);
    }
  }
  return out;
}

}  // namespace routelet::netlink
