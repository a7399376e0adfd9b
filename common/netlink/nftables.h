// nf_tables as routelet follows it: what one committed transaction touched. Transactions
// themselves go through Handle::transaction (socket.h) on an openNetfilter() handle; the
// commits of anyone arrive through Monitor::openNftables (monitor.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace routelet::netlink {

// A committed nf_tables transaction: the tables it touched (family NFPROTO_*, name) and
// the process that committed it, so an owner can tell its own changes from anyone else's.
struct NftCommit {
  // The committing process as the kernel numbers it (the initial pid namespace: in a
  // container it differs from getpid()), and the netlink port it committed through.
  uint32_t pid = 0;
  uint32_t portid = 0;
  std::vector<std::pair<uint8_t, std::string>> tables;
};

}  // namespace routelet::netlink
