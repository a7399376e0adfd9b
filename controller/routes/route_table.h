// The netlink edge the reconciler talks to: dump a routing table (and the entries of the
// VXLAN devices), apply a batch. One real
// implementation over netlink::Handle (in the agent) and one stateful fake
// (fake_route_table.h) for unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/base/result.h"
#include "common/ip/address.h"
#include "common/netlink/netlink.h"

namespace routelet::routes {

class RouteTable {
 public:
  virtual ~RouteTable() = default;
  // Every route of `table` of the family (both when empty), whatever its protocol: the
  // reconciler needs the foreign ones too, to never overwrite them.
  virtual Result<std::vector<netlink::Route>> dump(std::optional<ip::Family> family,
                                                   uint32_t table) = 0;
  // One Status per operation, in order (errno in Error::code, e.g. ESRCH for a delete of
  // a route that is gone). An error of the whole Result means the batch could not be sent.
  virtual Result<std::vector<Status>> apply(const std::vector<netlink::RouteOp>& ops) = 0;
  // Every neighbour and forwarding entry of the device `index`, whatever its state.
  virtual Result<std::vector<netlink::Neighbor>> neighbors(int index) = 0;
  // Neighbour operations, then route operations, in one batch: one Status per operation,
  // the neighbour ones first.
  virtual Result<std::vector<Status>> apply(const std::vector<netlink::NeighborOp>& neighbors,
                                            const std::vector<netlink::RouteOp>& routes) = 0;
};

}  // namespace routelet::routes
