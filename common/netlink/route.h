// A route of the kernel's FIB, its identity, and the operations of a route batch
// (Handle::apply, socket.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/ip/address.h"

namespace routelet::netlink {

// A route's identity follows the kernel's key for the main FIB: family, table, dst and
// priority. The kernel keys IPv4 routes by tos as well; routelet sends tos 0 and reads
// no tos back (parseRoute drops rtm_tos), so Key leaves it out and a route someone else
// added with a tos reads as one without. Two routes with the same key are the same route;
// a "replace" overwrites the other attributes.
struct Route {
  ip::Prefix dst;
  std::optional<ip::Address> gateway;
  int oif = 0;            // 0: let the kernel resolve it from the gateway
  uint32_t table = 254;   // RT_TABLE_MAIN
  uint8_t protocol = 3;   // RTPROT_BOOT, like `ip route add`
  uint8_t scope = 0;      // RT_SCOPE_UNIVERSE; RT_SCOPE_LINK for on-link routes
  uint8_t type = 1;       // RTN_UNICAST
  uint32_t priority = 0;  // metric
  bool onlink = false;    // RTNH_F_ONLINK

  struct Key {
    ip::Family family;
    uint32_t table;
    ip::Prefix dst;
    uint32_t priority;
    auto operator<=>(const Key&) const = default;
  };
  Key key() const { return Key{dst.family(), table, dst.network(), priority}; }
  bool operator==(const Route&) const = default;
};
std::string describe(const Route& r);  // "10.244.2.0/24 via 192.168.1.12 dev 3 proto 201"

// One operation of a route batch.
struct RouteOp {
  // kReplace: install or overwrite whatever route holds the key. kCreate: install, or
  // fail with EEXIST when any route (of any owner) holds the key. kDelete: remove the
  // route with the key, protocol and gateway given (ESRCH when there is none).
  enum class Kind { kReplace, kCreate, kDelete } kind;
  Route route;
};

}  // namespace routelet::netlink
