// Handle's requests about interface addresses (socket.h).
#include <string>
#include <vector>

#include "common/netlink/message.h"
#include "common/netlink/socket.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {

Status Handle::addAddress(int index, const ip::Prefix& prefix, bool nodad) {
  return impl_->call("add address " + prefix.str() + " to link " + std::to_string(index),
                     [&](uint32_t s) { return buildNewAddress(s, index, prefix, nodad); });
}

Status Handle::deleteAddress(int index, const ip::Prefix& prefix) {
  return impl_->call("delete address " + prefix.str() + " from link " + std::to_string(index),
                     [&](uint32_t s) { return buildDeleteAddress(s, index, prefix); });
}

Result<std::vector<AddressEntry>> Handle::addresses(int index) {
  auto messages =
      impl_->dump("list addresses", [&](uint32_t s) { return buildAddressDump(s, index); });
  if (!messages.ok()) return messages.error();
  std::vector<AddressEntry> out;
  for (const Bytes& m : *messages) {
    auto entry = parseAddress(m);
    if (!entry.ok()) return entry.error().wrap("list addresses");
    if (index == 0 || entry->index == index) out.push_back(*entry);
  }
  return out;
}

}  // namespace routelet::netlink
