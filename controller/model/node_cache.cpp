#include "controller/model/node_cache.h"

#include <utility>

namespace routelet::model {

namespace {

bool sameRouting(const model::Node& a, const model::Node& b) {
  return a.deleting == b.deleting && a.podCIDRs == b.podCIDRs && a.internalIPs == b.internalIPs &&
         a.externalIPs == b.externalIPs && a.problems == b.problems;
}

}  // namespace

uint32_t& NodeCache::lengthCount(const ip::Prefix& p) {
  return lengths_[p.family() == ip::Family::kV4 ? 0 : 1][p.length()];
}

void NodeCache::index(const model::Node& node) {
  for (const auto& cidr : node.podCIDRs) {
    if (byPodCIDR_.emplace(cidr.network(), node.name).second) ++lengthCount(cidr);
  }
  for (const auto* ips : {&node.internalIPs, &node.externalIPs})
    for (const auto& a : *ips) byNodeIP_.emplace(a, node.name);
}

void NodeCache::unindex(const model::Node& node) {
  for (const auto& cidr : node.podCIDRs) {
    if (byPodCIDR_.erase({cidr.network(), node.name}) > 0) --lengthCount(cidr);
  }
  for (const auto* ips : {&node.internalIPs, &node.externalIPs})
    for (const auto& a : *ips) byNodeIP_.erase({a, node.name});
}

bool NodeCache::upsert(model::Node node, std::optional<model::Node>* previous) {
  auto it = nodes_.find(node.name);
  if (it == nodes_.end()) {
    std::string name = node.name;
    index(node);
    nodes_.emplace(std::move(name), std::move(node));
    if (previous) previous->reset();
    return true;
  }
  bool changed = !sameRouting(it->second, node);
  if (it->second.podCIDRs != node.podCIDRs || it->second.internalIPs != node.internalIPs ||
      it->second.externalIPs != node.externalIPs) {
    unindex(it->second);
    index(node);
  }
  if (changed && previous) *previous = std::move(it->second);
  it->second = std::move(node);
  return changed;
}

bool NodeCache::remove(const std::string& name, std::optional<model::Node>* removed) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return false;
  unindex(it->second);
  if (removed) *removed = std::move(it->second);
  nodes_.erase(it);
  return true;
}

template <typename Pred>
const std::string* NodeCache::firstWith(const ip::Prefix& net, Pred pred) const {
  ip::Prefix key = net.network();
  for (auto it = byPodCIDR_.lower_bound({key, std::string()});
       it != byPodCIDR_.end() && it->first == key; ++it) {
    if (pred(it->second)) return &it->second;
  }
  return nullptr;
}

const std::string* NodeCache::podCIDROverlap(const ip::Prefix& p, const std::string& except1,
                                             const std::string& except2) const {
  ip::Prefix net = p.network();
  auto other = [&](const std::string& name) { return name != except1 && name != except2; };
  // Prefixes that start inside p (contained in it, or p itself).
  for (auto it = byPodCIDR_.lower_bound({net, std::string()});
       it != byPodCIDR_.end() && net.contains(it->first.address()); ++it) {
    if (other(it->second)) return &it->second;
  }
  // Prefixes that contain p: at most one network per shorter length.
  for (int length = 0; length < net.length(); ++length) {
    if (lengths_[net.family() == ip::Family::kV4 ? 0 : 1][length] == 0) continue;
    if (const std::string* name = firstWith(ip::Prefix::make(net.address(), length), other))
      return name;
  }
  return nullptr;
}

std::optional<std::pair<ip::Prefix, const std::string*>> NodeCache::podCIDRContaining(
    const ip::Address& a, const std::function<bool(const ip::Prefix&)>& accept) const {
  const auto& counts = lengths_[a.family() == ip::Family::kV4 ? 0 : 1];
  const int longest = a.family() == ip::Family::kV4 ? 32 : 128;
  for (int length = 0; length <= longest; ++length) {
    if (counts[length] == 0) continue;
    ip::Prefix net = ip::Prefix::make(a, length).network();
    const std::string* name = firstWith(net, [](const std::string&) { return true; });
    if (name && accept(net)) return std::make_pair(net, name);
  }
  return std::nullopt;
}

std::vector<std::string> NodeCache::withPodCIDR(const ip::Prefix& net) const {
  std::vector<std::string> out;
  firstWith(net, [&](const std::string& name) {
    out.push_back(name);
    return false;  // all of them
  });
  return out;
}

std::optional<std::pair<std::string, ip::Address>> NodeCache::nodeIPWithin(
    const ip::Prefix& p) const {
  ip::Prefix net = p.network();
  auto it = byNodeIP_.lower_bound({net.address(), std::string()});
  if (it != byNodeIP_.end() && net.contains(it->first))
    return std::make_pair(it->second, it->first);
  return std::nullopt;
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
  byPodCIDR_.clear();
  byNodeIP_.clear();
  lengths_ = {};
  for (const auto& [name, node] : nodes_) index(node);
  synced_ = true;
  return vanished;
}

const model::Node* NodeCache::get(const std::string& name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

}  // namespace routelet::model
