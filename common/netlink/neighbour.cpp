#include "common/netlink/neighbour.h"

#include <linux/neighbour.h>

#include <string>

namespace routelet::netlink {

std::string describe(const Neighbor& n) {
  std::string s;
  if (n.fdb) {
    s = "fdb " + macString(n.mac);
    if (n.address) s += " dst " + n.address->str();
  } else {
    s = "neigh " + (n.address ? n.address->str() : std::string("(no address)"));
    s += " lladdr " + macString(n.mac);
  }
  s += " dev " + std::to_string(n.index);
  if (n.protocol) s += " proto " + std::to_string(n.protocol);
  if (n.state != NUD_PERMANENT) s += " state " + std::to_string(n.state);
  return s;
}

}  // namespace routelet::netlink
