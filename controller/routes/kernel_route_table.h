// The real routes::RouteTable: the kernel's routing table through netlink.
#pragma once

#include "common/netlink/netlink.h"
#include "controller/routes/route_table.h"

namespace routelet::routes {

class KernelRouteTable : public RouteTable {
 public:
  explicit KernelRouteTable(netlink::Handle& nl) : nl_(nl) {}
  Result<std::vector<netlink::Route>> dump(std::optional<ip::Family> family,
                                           uint32_t table) override {
    return nl_.routes(family, std::nullopt, table);
  }
  Result<std::vector<Status>> apply(const std::vector<netlink::RouteOp>& ops) override {
    return nl_.apply(ops);
  }
  Result<std::vector<netlink::Neighbor>> neighbors(int index) override {
    auto entries = nl_.neighbors(index, false);
    if (!entries) return entries.error();
    auto fdb = nl_.neighbors(index, true);
    if (!fdb) return fdb.error();
    entries->insert(entries->end(), fdb->begin(), fdb->end());
    return entries;
  }
  Result<std::vector<Status>> apply(const std::vector<netlink::NeighborOp>& neighbors,
                                    const std::vector<netlink::RouteOp>& routes) override {
    return nl_.apply(neighbors, routes);
  }

 private:
  netlink::Handle& nl_;
};

}  // namespace routelet::routes
