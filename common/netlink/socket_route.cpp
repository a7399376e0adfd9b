// Handle's requests about routes (socket.h).
#include <linux/rtnetlink.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "common/netlink/message.h"
#include "common/netlink/socket.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {
namespace {

std::string routeWhat(RouteOp::Kind kind, const Route& r) {
  switch (kind) {
    case RouteOp::Kind::kReplace:
      return "replace route " + describe(r);
    case RouteOp::Kind::kCreate:
      return "add route " + describe(r);
    case RouteOp::Kind::kDelete:
      break;
  }
  return "delete route " + describe(r);
}

}  // namespace

Request request(const RouteOp& op) {
  return {routeWhat(op.kind, op.route),
          [&op](uint32_t s) { return buildRoute(s, op.kind, op.route); }};
}

Status Handle::replaceRoute(const Route& route) {
  return impl_->call(routeWhat(RouteOp::Kind::kReplace, route),
                     [&](uint32_t s) { return buildRoute(s, RouteOp::Kind::kReplace, route); });
}

Status Handle::deleteRoute(const Route& route) {
  return impl_->call(routeWhat(RouteOp::Kind::kDelete, route),
                     [&](uint32_t s) { return buildRoute(s, RouteOp::Kind::kDelete, route); });
}

Result<std::vector<Route>> Handle::routes(std::optional<ip::Family> family,
                                          std::optional<uint8_t> protocol, uint32_t table) {
  std::vector<ip::Family> families;
  if (family)
    families = {*family};
  else
    families = {ip::Family::kV4, ip::Family::kV6};
  std::vector<Route> out;
  for (ip::Family f : families) {
    std::string what =
        std::string("list IPv") + ip::familyName(f) + " routes in table " + std::to_string(table);
    auto messages =
        impl_->dump(what, [&](uint32_t s) { return buildRouteDump(s, f, protocol, table); });
    // Under NETLINK_GET_STRICT_CHK the kernel answers ENOENT for a table that does not
    // exist yet (inet_dump_fib, inet6_dump_fib): it simply holds no routes.
    if (!messages.ok() && messages.error().code == ENOENT && table != RT_TABLE_MAIN) continue;
    if (!messages.ok()) return messages.error();
    for (const Bytes& m : *messages) {
      auto parsed = parseRoute(m);
      if (!parsed.ok()) return parsed.error().wrap(what);
      const Route& r = parsed->route;
      // Kernels without strict checking ignore the header's filter: filter here too.
      if (parsed->cloned || r.dst.family() != f || r.table != table) continue;
      if (protocol && r.protocol != *protocol) continue;
      out.push_back(r);
    }
  }
  return out;
}

}  // namespace routelet::netlink
