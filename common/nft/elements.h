// Set elements of a routelet table written over netfilter netlink, in one transaction:
// plain address keys, thousands at a time, without libnftables' per-call context (0.75 MiB)
// or its text. What a controller's sets hold of the cluster goes this way; table shapes go
// through Nftables (nftables.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"

namespace routelet::nft {

// Keys to add to or delete from one set of a table.
struct SetChange {
  std::string set;
  ip::Family family = ip::Family::kV4;
  bool add = true;
  std::vector<ip::Address> keys;
  // Keys of a concatenated type instead (`ipv4_addr . inet_proto . inet_service`), as the
  // bytes nf_tables compares (netlink::buildNftSetElements).
  std::vector<std::string> rawKeys;
  bool operator==(const SetChange&) const = default;
};

// Applies every change to sets of table `inet <table>` through `socket`, all or nothing.
Status writeElements(netlink::Handle& socket, const std::string& table,
                     const std::vector<SetChange>& changes);

}  // namespace routelet::nft
