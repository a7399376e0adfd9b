#include "controller/reconcile/node_cache.h"

#include <utility>

namespace routelet::reconcile {

namespace {

bool sameRouting(const model::Node& a, const model::Node& b) {
  return a.deleting == b.deleting && a.podCIDRs == b.podCIDRs && a.internalIPs == b.internalIPs &&
         a.externalIPs == b.externalIPs && a.problems == b.problems;
}

}  // namespace

bool NodeCache::upsert(model::Node node, std::optional<model::Node>* previous) {
  auto it = nodes_.find(node.name);
  if (it == nodes_.end()) {
    std::string name = node.name;
    nodes_.emplace(std::move(name), std::move(node));
    if (previous) previous->reset();
    return true;
  }
  bool changed = !sameRouting(it->second, node);
  if (changed && previous) *previous = std::move(it->second);
  it->second = std::move(node);
  return changed;
}

bool NodeCache::remove(const std::string& name, std::optional<model::Node>* removed) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return false;
  if (removed) *removed = std::move(it->second);
  nodes_.erase(it);
  return true;
}

std::vector<std::string> NodeCache::replaceAll(std::vector<model::Node> nodes) {
  std::map<std::string, model::Node> fresh;
  for (auto& node : nodes) {
    std::string name = node.name;
    fresh.insert_or_assign(std::move(name), std::move(node));
  }
  std::vector<std::string> vanished;
  for (const auto& [name, node] : nodes_)
    if (!fresh.contains(name)) vanished.push_back(name);
  nodes_ = std::move(fresh);
  synced_ = true;
  return vanished;
}

const model::Node* NodeCache::get(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

}  // namespace routelet::reconcile
