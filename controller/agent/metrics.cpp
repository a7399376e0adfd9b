#include "controller/agent/metrics.h"

#include <cassert>
#include <cmath>
#include <cstdio>

namespace routelet::agent {
namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string labelText(const Labels& labels, const std::string& extraKey = "",
                      const std::string& extraValue = "") {
  if (labels.empty() && extraKey.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ",";
    out += k + "=\"" + escapeLabelValue(v) + "\"";
    first = false;
  }
  if (!extraKey.empty()) {
    if (!first) out += ",";
    out += extraKey + "=\"" + extraValue + "\"";
  }
  return out + "}";
}

const char* typeName(Metrics::Type t) {
  switch (t) {
    case Metrics::Type::kCounter:
      return "counter";
    case Metrics::Type::kGauge:
      return "gauge";
    case Metrics::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::string escapeLabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Metrics::declare(const std::string& name, Type type, const std::string& help,
                      std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  if (families_.count(name)) return;
  order_.push_back(name);
  families_[name] = Family{type, help, std::move(buckets), {}, {}};
}

void Metrics::add(const std::string& name, const Labels& labels, double delta) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  assert(it != families_.end() && "metric family not declared");
  if (it != families_.end()) it->second.values[labels] += delta;
}

void Metrics::set(const std::string& name, const Labels& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  assert(it != families_.end() && "metric family not declared");
  if (it != families_.end()) it->second.values[labels] = v;
}

void Metrics::clear(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.values.clear();
}

void Metrics::observe(const std::string& name, const Labels& labels, double v) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return;
  Histogram& h = it->second.histograms[labels];
  if (h.counts.empty()) h.counts.assign(it->second.buckets.size(), 0);
  for (size_t i = 0; i < it->second.buckets.size(); ++i) {
    if (v <= it->second.buckets[i]) {
      ++h.counts[i];
      break;
    }
  }
  ++h.count;
  h.sum += v;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  if (it->second.type == Type::kHistogram) {
    auto h = it->second.histograms.find(labels);
    return h == it->second.histograms.end() ? 0 : static_cast<double>(h->second.count);
  }
  auto v = it->second.values.find(labels);
  return v == it->second.values.end() ? 0 : v->second;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& name : order_) {
    const Family& f = families_.at(name);
    out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + typeName(f.type) + "\n";
    if (f.type != Type::kHistogram) {
      for (const auto& [labels, v] : f.values)
        out += name + labelText(labels) + " " + number(v) + "\n";
      continue;
    }
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += h.counts[i];
        out += name + "_bucket" + labelText(labels, "le", number(f.buckets[i])) + " " +
               std::to_string(cumulative) + "\n";
      }
      out +=
          name + "_bucket" + labelText(labels, "le", "+Inf") + " " + std::to_string(h.count) + "\n";
      out += name + "_sum" + labelText(labels) + " " + number(h.sum) + "\n";
      out += name + "_count" + labelText(labels) + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace routelet::agent
