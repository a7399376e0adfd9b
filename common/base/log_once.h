// Conditions logged when they start, not on every pass while they last: a peer off-link, a
// bridge that cannot be made, a foreign route in the way. A condition that ends and starts
// again is logged again.
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace routelet::log {

class LogOnce {
 public:
  // Logs message (warn level) unless the condition `key` is raised already; raises it.
  void warn(const std::string& key, std::string_view message);
  // The condition is over: the next warn() of key logs again.
  void clear(const std::string& key);
  bool raised(const std::string& key) const { return raised_.contains(key); }

  // For conditions recomputed whole on every pass: between beginSweep() and endSweep(),
  // warn() each one that holds; endSweep() clears every condition not warned since. A
  // LogOnce that sweeps is used for swept conditions only.
  void beginSweep();
  void endSweep();

 private:
  std::set<std::string> raised_;
  std::set<std::string> swept_;
  bool sweeping_ = false;
};

}  // namespace routelet::log
