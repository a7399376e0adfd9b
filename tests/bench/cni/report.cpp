#include "tests/bench/cni/report.h"

#include <array>
#include <cstdio>

namespace routelet::bench::cni {
namespace {

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
  if (!a || !b || *b <= 0) return std::nullopt;
  return *a / *b;
}

template <typename T, typename F>
std::optional<double> field(const std::optional<T>& v, F get) {
  if (!v) return std::nullopt;
  return get(*v);
}

std::string format(const char* fmt, double v) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), fmt, v);
  return buf.data();
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string cell(const std::optional<Summary>& s) {
  if (!s) return "-";
  return format("%.2f", s->p50) + " / " + format("%.2f", s->p99) + " / " + format("%.2f", s->mean);
}

std::string cell(std::optional<double> ms) {
  return ms ? format("%.1f", *ms) : "-";
}

nlohmann::json summaryJson(const Summary& s) {
  return {{"count", s.count},  {"p50_ms", s.p50}, {"p99_ms", s.p99},
          {"mean_ms", s.mean}, {"min_ms", s.min}, {"max_ms", s.max}};
}

nlohmann::json pluginJson(const PluginResult& p) {
  return {{"label", p.label},
          {"add", summaryJson(p.add)},
          {"del", summaryJson(p.del)},
          {"concurrent_add_wall_ms", p.concurrentAddWallMs},
          {"concurrent_del_wall_ms", p.concurrentDelWallMs}};
}

double p50Of(const Summary& s) {
  return s.p50;
}
double addP50(const PluginResult& p) {
  return p.add.p50;
}
double delP50(const PluginResult& p) {
  return p.del.p50;
}

}  // namespace

std::vector<Target> evaluateTargets(const BenchResult& r) {
  auto concAdd = [](const PluginResult& p) { return p.concurrentAddWallMs; };
  auto floorP50 = field(r.vethDeleteFloor, p50Of);
  std::string conc = std::to_string(r.concurrency) + " concurrent ADDs wall";
  return {
      {"ADD p50 vs reference", "routelet ADD p50", "reference ADD p50", 0.10,
       ratio(field(r.routelet, addP50), field(r.reference, addP50))},
      {conc + " vs reference", "routelet " + conc, "reference " + conc, 0.20,
       ratio(field(r.routelet, concAdd), field(r.reference, concAdd))},
      {"DEL p50 vs reference", "routelet DEL p50", "reference DEL p50", 0.60,
       ratio(field(r.routelet, delP50), field(r.reference, delP50))},
      {"DEL p50 vs veth delete floor", "routelet DEL p50", "veth delete p50", 1.25,
       ratio(field(r.routelet, delP50), floorP50)},
  };
}

std::string renderTable(const BenchResult& r) {
  std::string out;
  out += "CNI plugin benchmark: " + std::to_string(r.iterations) + " sequential ADD/DEL, " +
         std::to_string(r.concurrency) + " concurrent ADDs, " + std::to_string(r.warmup) +
         " warm-up pairs (times in ms)\n";
  if (!r.host.empty()) out += r.host + "\n";
  out += "\n";
  auto label = [](const std::optional<PluginResult>& p, const char* fallback) {
    return p ? p->label : std::string(fallback) + " (not run)";
  };
  constexpr size_t kFirst = 34, kCol = 28;
  out += pad("", kFirst) + pad(label(r.routelet, "routelet-cni"), kCol) +
         label(r.reference, "reference") + "\n";
  auto row = [&](const std::string& name, const std::string& a, const std::string& b) {
    out += pad(name, kFirst) + pad(a, kCol) + b + "\n";
  };
  auto add = [](const PluginResult& p) { return p.add; };
  auto del = [](const PluginResult& p) { return p.del; };
  auto summaryOf = [](const std::optional<PluginResult>& p, auto get) {
    return p ? std::optional<Summary>(get(*p)) : std::nullopt;
  };
  row("ADD p50 / p99 / mean", cell(summaryOf(r.routelet, add)), cell(summaryOf(r.reference, add)));
  row("DEL p50 / p99 / mean", cell(summaryOf(r.routelet, del)), cell(summaryOf(r.reference, del)));
  row(std::to_string(r.concurrency) + " concurrent ADDs, wall",
      cell(field(r.routelet, [](const PluginResult& p) { return p.concurrentAddWallMs; })),
      cell(field(r.reference, [](const PluginResult& p) { return p.concurrentAddWallMs; })));
  row(std::to_string(r.concurrency) + " concurrent DELs, wall",
      cell(field(r.routelet, [](const PluginResult& p) { return p.concurrentDelWallMs; })),
      cell(field(r.reference, [](const PluginResult& p) { return p.concurrentDelWallMs; })));
  out += pad("veth pair delete (kernel floor)", kFirst) + cell(r.vethDeleteFloor) +
         "   (one RTM_DELLINK, host end on a bridge, peer in a pod netns)\n";
  out += pad("ADD's kernel work", kFirst) + cell(r.addKernel) +
         "   (pair enslaved and up, pod address, links up, route; in-process)\n";
  out += pad("spawn+reap static no-op (driver)", kFirst) + cell(r.driverCost) +
         "   (what the driver and a bare exec add to each plugin call)\n\n";

  out += "Targets\n";
  for (const auto& t : evaluateTargets(r)) {
    std::string verdict = !t.ratio
                              ? "n/a (a side was not measured)"
                              : format("%.3fx", *t.ratio) + "  " + (t.pass() ? "PASS" : "MISS");
    out += "  " + pad(t.name + " <= " + format("%.2fx", t.limit), kFirst + 16) + verdict + "\n";
  }
  // Context for the DEL targets: how far the reference itself is above the kernel's cost.
  if (auto x = ratio(field(r.reference, delP50), field(r.vethDeleteFloor, p50Of)))
    out += "  (reference DEL p50 is " + format("%.2fx", *x) + " the veth delete floor)\n";
  // Context for the ADD target: no plugin gets under an exec plus the kernel's work.
  auto execP50 = field(r.driverCost, p50Of), kernelP50 = field(r.addKernel, p50Of);
  if (execP50 && kernelP50) {
    std::optional<double> floorAdd = *execP50 + *kernelP50;
    out += "  (ADD floor, exec + kernel work p50s: " + format("%.2f", *floorAdd) + " ms";
    if (auto x = ratio(floorAdd, field(r.reference, addP50)))
      out += " = " + format("%.3fx", *x) + " the reference's ADD p50";
    if (auto x = ratio(field(r.routelet, addP50), floorAdd))
      out += "; routelet-cni's ADD is " + format("%.2fx", *x) + " the floor";
    out += ")\n";
  }
  return out;
}

nlohmann::json renderJson(const BenchResult& r) {
  nlohmann::json j = {{"iterations", r.iterations},
                      {"concurrency", r.concurrency},
                      {"warmup", r.warmup},
                      {"plugins", nlohmann::json::object()}};
  if (r.routelet) j["plugins"]["routelet"] = pluginJson(*r.routelet);
  if (r.reference) j["plugins"]["reference"] = pluginJson(*r.reference);
  j["veth_delete_floor"] = r.vethDeleteFloor ? summaryJson(*r.vethDeleteFloor) : nullptr;
  j["add_kernel_work"] = r.addKernel ? summaryJson(*r.addKernel) : nullptr;
  j["host"] = r.host;
  j["driver_cost"] = r.driverCost ? summaryJson(*r.driverCost) : nullptr;
  j["targets"] = nlohmann::json::array();
  for (const auto& t : evaluateTargets(r)) {
    j["targets"].push_back({{"name", t.name},
                            {"measured", t.measured},
                            {"baseline", t.baseline},
                            {"limit", t.limit},
                            {"ratio", t.ratio ? nlohmann::json(*t.ratio) : nlohmann::json()},
                            {"pass", t.ratio ? nlohmann::json(t.pass()) : nlohmann::json()}});
  }
  return j;
}

}  // namespace routelet::bench::cni
