#include "common/netlink/route.h"

#include <linux/rtnetlink.h>

#include <string>

namespace routelet::netlink {

std::string describe(const Route& r) {
  std::string s = r.dst.str();
  if (r.type != RTN_UNICAST) s = "type " + std::to_string(r.type) + " " + s;
  if (r.gateway) s += " via " + r.gateway->str();
  if (r.oif) s += " dev " + std::to_string(r.oif);
  if (r.table != RT_TABLE_MAIN) s += " table " + std::to_string(r.table);
  s += " proto " + std::to_string(r.protocol);
  if (r.scope != RT_SCOPE_UNIVERSE) s += " scope " + std::to_string(r.scope);
  if (r.priority) s += " metric " + std::to_string(r.priority);
  if (r.onlink) s += " onlink";
  return s;
}

}  // namespace routelet::netlink
