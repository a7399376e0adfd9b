// A small Prometheus registry: counters, gauges and histograms with labels, rendered in
// the text exposition format (version 0.0.4) for /metrics. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace routelet::agent {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a family once; rendering lists families in declaration order.
  void declare(const std::string& name, Type type, const std::string& help,
               std::vector<double> buckets = {});
  void add(const std::string& name, const Labels& labels, double delta = 1);
  void set(const std::string& name, const Labels& labels, double value);
  // Drops every series of a gauge family (before re-setting, e.g. routes by state).
  void clear(const std::string& name);
  void observe(const std::string& name, const Labels& labels, double value);
  double value(const std::string& name, const Labels& labels = {}) const;  // for tests

  std::string render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket, not cumulative
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> buckets;
    std::map<Labels, double> values;
    std::map<Labels, Histogram> histograms;
  };
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// Label values escaped as the exposition format requires (backslash, quote, newline).
std::string escapeLabelValue(const std::string& v);

}  // namespace routelet::agent
