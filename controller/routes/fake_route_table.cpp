#include "controller/routes/fake_route_table.h"

#include <cerrno>

namespace routelet::routes {

Result<std::vector<netlink::Route>> FakeRouteTable::dump(std::optional<ip::Family> family,
                                                         uint32_t table) {
  ++dumpCalls_;
  if (dumpError_) return *dumpError_;
  std::vector<netlink::Route> out;
  for (const auto& [key, route] : routes_)
    if (key.table == table && (!family || key.family == *family)) out.push_back(route);
  if (afterDump) afterDump();
  return out;
}

Result<std::vector<Status>> FakeRouteTable::apply(const std::vector<netlink::RouteOp>& ops) {
  ++applyCalls_;
  if (applyError_) return *applyError_;
  std::vector<Status> out;
  out.reserve(ops.size());
  for (const auto& op : ops) out.push_back(applyOne(op));
  return out;
}

Result<std::vector<netlink::Neighbor>> FakeRouteTable::neighbors(int index) {
  ++dumpCalls_;
  if (dumpError_) return *dumpError_;
  std::vector<netlink::Neighbor> out;
  for (const auto& [key, entry] : neighbors_)
    if (key.index == index) out.push_back(entry);
  return out;
}

Result<std::vector<Status>> FakeRouteTable::apply(const std::vector<netlink::NeighborOp>& neighbors,
                                                  const std::vector<netlink::RouteOp>& routes) {
  if (applyError_) {
    ++applyCalls_;
    return *applyError_;
  }
  std::vector<Status> out;
  for (const auto& op : neighbors) {
    ++opsApplied_;
    if (op.kind == netlink::NeighborOp::Kind::kReplace) {
      neighbors_[op.entry.key()] = op.entry;
      out.push_back(okStatus());
    } else if (neighbors_.erase(op.entry.key()) > 0) {
      out.push_back(okStatus());
    } else {
      out.push_back(Error{ENOENT, "no such neighbour entry"});
    }
  }
  auto rest = apply(routes);
  if (!rest) return rest.error();
  out.insert(out.end(), rest->begin(), rest->end());
  return out;
}

std::vector<netlink::Neighbor> FakeRouteTable::allNeighbors() const {
  std::vector<netlink::Neighbor> out;
  for (const auto& [key, entry] : neighbors_) out.push_back(entry);
  return out;
}

Status FakeRouteTable::applyOne(const netlink::RouteOp& op) {
  ++opsApplied_;
  if (auto f = failures_.find(op.route.dst.network()); f != failures_.end()) {
    Error error = f->second.error;
    if (f->second.times > 0 && --f->second.times == 0) failures_.erase(f);
    return error;
  }
  auto key = op.route.key();
  if (op.kind == netlink::RouteOp::Kind::kReplace) {
    routes_.insert_or_assign(key, op.route);
    return okStatus();
  }
  if (op.kind == netlink::RouteOp::Kind::kCreate) {
    if (!routes_.emplace(key, op.route).second)
      return errnoError("add route " + op.route.dst.str(), EEXIST);
    return okStatus();
  }
  // RTM_DELROUTE: fib_table_delete()/ip6_route_del() skip candidates whose protocol or
  // gateway differ from the ones the request names, and answer ESRCH when none is left.
  auto it = routes_.find(key);
  if (it == routes_.end() || (op.route.protocol != 0 && op.route.protocol != it->second.protocol) ||
      (op.route.gateway && op.route.gateway != it->second.gateway)) {
    return errnoError("delete route " + op.route.dst.str(), ESRCH);
  }
  routes_.erase(it);
  return okStatus();
}

void FakeRouteTable::put(const netlink::Route& route) {
  routes_.insert_or_assign(route.key(), route);
}

bool FakeRouteTable::erase(const netlink::Route::Key& key) {
  return routes_.erase(key) > 0;
}

const netlink::Route* FakeRouteTable::find(const netlink::Route::Key& key) const {
  auto it = routes_.find(key);
  return it == routes_.end() ? nullptr : &it->second;
}

std::vector<netlink::Route> FakeRouteTable::routes() const {
  std::vector<netlink::Route> out;
  for (const auto& [key, route] : routes_) out.push_back(route);
  return out;
}

void FakeRouteTable::failOps(const ip::Prefix& dst, Error error, int times) {
  failures_.insert_or_assign(dst.network(), Failure{std::move(error), times});
}

void FakeRouteTable::clearFailures() {
  failures_.clear();
}

}  // namespace routelet::routes
