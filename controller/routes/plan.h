// The difference between desired and observed routes, as the batch of route operations
// that closes it. Pure: no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "common/netlink/netlink.h"

namespace routelet::routes {

// A desired route that routelet does not install because a route of another protocol
// (an admin's, DHCP's, the kernel's own) already holds the same key: a `replace` would
// overwrite it, and routelet never fights a route it does not own.
struct Conflict {
  netlink::Route desired;
  netlink::Route foreign;
};

// Why an operation of the batch is there.
struct Change {
  enum class Kind { kAdd, kUpdate, kDelete } kind;
  std::optional<netlink::Route> before;  // the observed route an update or delete replaces
};

struct PlanOptions {
  // Delete observed routelet routes that are not desired. Off while the Node cache has not
  // been filled by a complete LIST: a Node missing from the cache may only be unseen, and
  // routes never flap because the API server is unreachable.
  bool deleteStale = true;
};

struct Plan {
  std::vector<netlink::RouteOp> ops;      // the batch, in Route::key() order
  std::vector<Change> changes;            // changes[i] explains ops[i]
  std::vector<Conflict> conflicts;        // desired routes not installed, sorted by key
  std::vector<netlink::Route> keptStale;  // not desired, kept because deleteStale is off
  std::size_t adds = 0;
  std::size_t updates = 0;
  std::size_t deletes = 0;
  std::size_t unchanged = 0;

  bool empty() const { return ops.empty(); }
};

// True when observed already is `desired` in every attribute routelet sets: gateway,
// protocol, scope, type, onlink, and oif when desired names one (0 lets the kernel pick
// the device, and a dump always reports the one it picked).
bool sameRoute(const netlink::Route& desired, const netlink::Route& observed);

// desired: from desiredRoutes() (one route per key; a duplicate key keeps the first).
// observed: the kernel's routes carrying routelet's protocol, as dumped.
// foreign: every other route of the same table(s).
// Routes are matched by Route::key(), the kernel's own identity, so a `replace` in the
// plan overwrites exactly the observed route the diff compared against.
Plan planRoutes(const std::vector<netlink::Route>& desired,
                const std::vector<netlink::Route>& observed,
                const std::vector<netlink::Route>& foreign, PlanOptions options = {});

// The batch that takes one peer from the routes it had at the last pass to the routes it
// should have now (both from peerDesired()), without a dump: the agent's targeted pass.
// A route whose key stays is replaced when it differs (it was routelet's at the last
// pass); a route of a new key is created, never replaced, so that a route some other
// owner put there since fails with EEXIST instead of being overwritten; a route whose key
// goes is deleted with routelet's protocol. Only a whole pass sees conflicts: none here.
Plan planPeerChange(const std::vector<netlink::Route>& before,
                    const std::vector<netlink::Route>& after);

}  // namespace routelet::routes
