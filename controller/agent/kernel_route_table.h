// The real reconcile::RouteTable: the kernel's routing table through netlink.
#pragma once

#include "common/netlink/netlink.h"
#include "controller/reconcile/route_table.h"

namespace routelet::agent {

class KernelRouteTable : public reconcile::RouteTable {
 public:
  explicit KernelRouteTable(netlink::Handle& nl) : nl_(nl) {}
  Result<std::vector<netlink::Route>> dump(std::optional<ip::Family> family,
                                           uint32_t table) override {
    return nl_.routes(family, std::nullopt, table);
  }
  Result<std::vector<Status>> apply(const std::vector<netlink::RouteOp>& ops) override {
    return nl_.apply(ops);
  }

 private:
  netlink::Handle& nl_;
};

}  // namespace routelet::agent
