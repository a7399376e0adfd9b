// An in-memory routing table with the kernel's semantics where the reconciler depends on
// them: one route per Route::key(), `replace` overwrites whatever holds the key (a
// foreign route included), `delete` of a missing route fails with ESRCH, and a delete
// that names a protocol or gateway only matches a route that has them.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "controller/routes/route_table.h"

namespace routelet::routes {

class FakeRouteTable : public RouteTable {
 public:
  Result<std::vector<netlink::Route>> dump(std::optional<ip::Family> family,
                                           uint32_t table) override;
  Result<std::vector<Status>> apply(const std::vector<netlink::RouteOp>& ops) override;
  // Neighbour and fdb entries: one per Neighbor::key(); a delete of a missing one fails
  // with ENOENT.
  Result<std::vector<netlink::Neighbor>> neighbors(int index) override;
  Result<std::vector<Status>> apply(const std::vector<netlink::NeighborOp>& neighbors,
                                    const std::vector<netlink::RouteOp>& routes) override;
  void putNeighbor(const netlink::Neighbor& entry) { neighbors_[entry.key()] = entry; }
  bool eraseNeighbor(const netlink::Neighbor::Key& key) { return neighbors_.erase(key) > 0; }
  std::vector<netlink::Neighbor> allNeighbors() const;  // sorted by key

  // Direct manipulation, as another program or an admin with `ip route` would.
  void put(const netlink::Route& route);
  bool erase(const netlink::Route::Key& key);
  const netlink::Route* find(const netlink::Route::Key& key) const;
  std::vector<netlink::Route> routes() const;  // sorted by key

  // Every operation on dst fails with `error`, `times` times (negative: until cleared).
  void failOps(const ip::Prefix& dst, Error error, int times = -1);
  void clearFailures();
  void failDump(std::optional<Error> error) { dumpError_ = std::move(error); }
  void failApply(std::optional<Error> error) { applyError_ = std::move(error); }

  // Runs after every dump, before its caller applies anything: what another owner does in
  // between (a route appearing, say).
  std::function<void()> afterDump;

  std::size_t dumpCalls() const { return dumpCalls_; }
  std::size_t applyCalls() const { return applyCalls_; }
  std::size_t opsApplied() const { return opsApplied_; }  // every op received, failed or not

 private:
  struct Failure {
    Error error;
    int times;
  };
  Status applyOne(const netlink::RouteOp& op);

  std::map<netlink::Route::Key, netlink::Route> routes_;
  std::map<netlink::Neighbor::Key, netlink::Neighbor> neighbors_;
  std::map<ip::Prefix, Failure> failures_;
  std::optional<Error> dumpError_;
  std::optional<Error> applyError_;
  std::size_t dumpCalls_ = 0;
  std::size_t applyCalls_ = 0;
  std::size_t opsApplied_ = 0;
};

}  // namespace routelet::routes
