#include "common/base/log_once.h"

#include "common/base/log.h"

namespace routelet::log {

void LogOnce::warn(const std::string& key, std::string_view message) {
  if (sweeping_) swept_.insert(key);
  if (raised_.insert(key).second) log::warn(message);
}

void LogOnce::clear(const std::string& key) {
  raised_.erase(key);
}

void LogOnce::beginSweep() {
  sweeping_ = true;
  swept_.clear();
}

void LogOnce::endSweep() {
  sweeping_ = false;
  raised_ = std::move(swept_);
  swept_.clear();
}

}  // namespace routelet::log
