#include "controller/routes/plan.h"

#include <algorithm>
#include <utility>

namespace routelet::routes {

bool sameRoute(const netlink::Route& desired, const netlink::Route& observed) {
  return desired.gateway == observed.gateway && (desired.oif == 0 || desired.oif == observed.oif) &&
         desired.protocol == observed.protocol && desired.scope == observed.scope &&
         desired.type == observed.type && desired.onlink == observed.onlink;
}

namespace {

using Key = netlink::Route::Key;
using Keyed = std::vector<std::pair<Key, const netlink::Route*>>;

// Routes paired with their keys, sorted by key, input order kept among equal keys.
// Keys are computed once: Route::key() clears host bits, too slow for every comparison.
Keyed byKey(const std::vector<netlink::Route>& routes) {
  Keyed out;
  out.reserve(routes.size());
  for (const auto& r : routes) out.emplace_back(r.key(), &r);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

// The first route with this key, if any.
const netlink::Route* findKey(const Keyed& sorted, const Key& key) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key,
                             [](const auto& entry, const Key& k) { return entry.first < k; });
  return it != sorted.end() && it->first == key ? it->second : nullptr;
}

struct Entry {
  Key key;
  netlink::RouteOp op;
  Change change;
};

// Adds and updates come in key order, deletes too; merges them into one key-ordered batch.
void finish(std::vector<Entry>& entries, Plan& plan) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.key < b.key; });
  plan.ops.reserve(entries.size());
  plan.changes.reserve(entries.size());
  for (auto& e : entries) {
    plan.ops.push_back(std::move(e.op));
    plan.changes.push_back(std::move(e.change));
  }
}

}  // namespace

Plan planRoutes(const std::vector<netlink::Route>& desired,
                const std::vector<netlink::Route>& observed,
                const std::vector<netlink::Route>& foreign, PlanOptions options) {
  const Keyed wanted = byKey(desired);
  // The kernel keeps one route per key unless someone appended; the first one is the one
  // a replace would hit.
  const Keyed have = byKey(observed);
  const Keyed theirs = byKey(foreign);

  Plan plan;
  std::vector<Entry> entries;

  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const auto& [key, route] = wanted[i];
    if (i > 0 && wanted[i - 1].first == key) continue;  // duplicate: the first one counts
    if (const netlink::Route* f = findKey(theirs, key)) {
      plan.conflicts.push_back({*route, *f});
      continue;
    }
    const netlink::Route* h = findKey(have, key);
    if (h == nullptr) {
      // Created, never replaced: another owner's route that appears between the dump and
      // this batch makes the kernel answer EEXIST instead of being overwritten.
      entries.push_back({key, {netlink::RouteOp::Kind::kCreate, *route}, {Change::Kind::kAdd, {}}});
      ++plan.adds;
    } else if (!sameRoute(*route, *h)) {
      entries.push_back(
          {key, {netlink::RouteOp::Kind::kReplace, *route}, {Change::Kind::kUpdate, *h}});
      ++plan.updates;
    } else {
      ++plan.unchanged;
    }
  }

  for (const auto& [key, route] : have) {
    if (findKey(wanted, key) != nullptr) continue;
    if (!options.deleteStale) {
      plan.keptStale.push_back(*route);
      continue;
    }
    // The observed route itself is deleted, protocol included: the kernel then removes
    // only a route with routelet's protocol, never a foreign one at the same key.
    entries.push_back(
        {key, {netlink::RouteOp::Kind::kDelete, *route}, {Change::Kind::kDelete, *route}});
    ++plan.deletes;
  }

  finish(entries, plan);
  return plan;
}

Plan planPeerChange(const std::vector<netlink::Route>& before,
                    const std::vector<netlink::Route>& after) {
  const Keyed was = byKey(before);
  const Keyed now = byKey(after);
  Plan plan;
  std::vector<Entry> entries;
  for (const auto& [key, route] : now) {
    const netlink::Route* old = findKey(was, key);
    if (old == nullptr) {
      entries.push_back({key, {netlink::RouteOp::Kind::kCreate, *route}, {Change::Kind::kAdd, {}}});
      ++plan.adds;
    } else if (!sameRoute(*route, *old)) {
      entries.push_back(
          {key, {netlink::RouteOp::Kind::kReplace, *route}, {Change::Kind::kUpdate, *old}});
      ++plan.updates;
    } else {
      ++plan.unchanged;
    }
  }
  for (const auto& [key, route] : was) {
    if (findKey(now, key) != nullptr) continue;
    entries.push_back(
        {key, {netlink::RouteOp::Kind::kDelete, *route}, {Change::Kind::kDelete, *route}});
    ++plan.deletes;
  }
  finish(entries, plan);
  return plan;
}

}  // namespace routelet::routes
