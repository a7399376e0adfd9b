// A neighbour or forwarding database entry, and the operations of a neighbour batch
// (Handle::apply, socket.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/ip/address.h"
#include "common/netlink/mac.h"

namespace routelet::netlink {

// A neighbour entry (family AF_INET / AF_INET6: overlay address -> MAC) or a forwarding
// database entry of a VXLAN device (AF_BRIDGE with NTF_SELF: MAC -> the peer's underlay
// address), as `ip neigh` and `bridge fdb` show them.
struct Neighbor {
  bool fdb = false;
  int index = 0;                       // the device
  std::optional<ip::Address> address;  // neighbour: its key; fdb: NDA_DST, the remote VTEP
  Mac mac{};                           // neighbour: NDA_LLADDR; fdb: its key
  uint16_t state = 0x80;               // NUD_PERMANENT
  uint8_t protocol = 0;                // NDA_PROTOCOL (neighbours; the kernel keeps none for fdb)

  // The kernel's identity of the entry: a replace overwrites everything else.
  struct Key {
    bool fdb;
    int index;
    std::optional<ip::Address> address;  // neighbours only
    Mac mac;                             // fdb only (zero for neighbours)
    auto operator<=>(const Key&) const = default;
  };
  Key key() const {
    return fdb ? Key{true, index, std::nullopt, mac} : Key{false, index, address, {}};
  }
  bool operator==(const Neighbor&) const = default;
};
std::string describe(const Neighbor& n);  // "fdb 0e:72:0a:f4:02:00 dst 192.168.2.12 dev 7"

// One operation of a neighbour batch. kReplace: install or overwrite (NLM_F_CREATE |
// NLM_F_REPLACE); kDelete: remove the entry with the key (ENOENT when there is none).
struct NeighborOp {
  enum class Kind { kReplace, kDelete } kind;
  Neighbor entry;
};

}  // namespace routelet::netlink
