// An interface address as rtnetlink lists it (Handle::addresses, socket.h).
#pragma once

#include <cstdint>

#include "common/ip/address.h"

namespace routelet::netlink {

struct AddressEntry {
  int index = 0;      // interface
  ip::Prefix prefix;  // address with its prefix length, host bits kept
  uint8_t scope = 0;
};

}  // namespace routelet::netlink
