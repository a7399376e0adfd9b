// Benchmark (not a test): the agent's masquerade writes for a large cluster, beside what a
// script-only implementation would do (`nft -f` of the whole ruleset, elements inline) in
// the same run. See tests/bench/README.md and run-masquerade-bench.
//
// Everything runs in one namespace made here (bmq<pid>c-0): this thread enters it, so the
// agent's KernelMasqueradeEdge (a libnftables context per script, one nf_tables socket for the
// elements) and every spawned `nft` act there; the agent's own nf_tables monitor is stood in
// for by a listener that drains NFNLGRP_NFTABLES as the agent does (the kernel builds its
// change notices only when someone listens). Only the write is timed: scripts and element
// lists are built and the table restored around it, outside the clock, unless a series
// says it includes them.
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "controller/masquerade/kernel_masquerade_edge.h"
#include "controller/masquerade/rules.h"
#include "controller/model/node_cache.h"
#include "tests/bench/cni/bench_cli.h"
#include "tests/bench/cni/bench_netns.h"
#include "tests/bench/cni/nft_listener.h"
#include "tests/bench/cni/plugin_exec.h"
#include "tests/bench/cni/process_stats.h"
#include "tests/bench/cni/stats.h"

namespace routelet::bench::masquerade {
namespace {

using cni::Clock;
using cni::fmt;
using cni::Listener;
using cni::loadavg;
using cni::pad;
using cni::resetPeak;
using cni::statusKib;
using cni::summarize;
using cni::Summary;
using cni::threadCpuMs;
using cni::toMs;
using cni::useAgentMalloc;

struct Settings {
  int nodes = 5000;
  int reps = 20;
  int pureReps = 50;
  int memoryReps = 5;
  bool listener = true;
  bool agentMalloc = true;
  std::string nft = "/usr/sbin/nft";
  std::string clusterCIDR;  // empty: the agent's default (no clusterCIDRs)
  std::string json;         // also write the results here
};

// --- synthetic Nodes, as tests/apiserver/routelet_standin/nodegen.py makes them: Node i
// has InternalIP 172.16.0.0 + 10 + i and podCIDR 10.(64 + i / 256).(i % 256).0/24.
std::string nodeName(int i) {
  std::string digits = std::to_string(i);
  return "node-" + std::string(digits.size() < 5 ? 5 - digits.size() : 0, '0') + digits;
}

ip::Prefix podCIDR(int i) {
  auto u = static_cast<uint32_t>(i);
  return ip::Prefix::make(ip::Address::v4((10u << 24) | ((64u + u / 256) << 16) | ((u % 256) << 8)),
                          24);
}

model::Node syntheticNode(int i) {
  model::Node n;
  n.name = nodeName(i);
  n.podCIDRs = {podCIDR(i)};
  n.internalIPs = {ip::Address::v4(0xAC100000u + 10 + static_cast<uint32_t>(i))};
  return n;
}

model::NodeCache cluster(int nodes) {
  std::vector<model::Node> all;
  all.reserve(static_cast<size_t>(nodes));
  for (int i = 1; i <= nodes; ++i) all.push_back(syntheticNode(i));
  model::NodeCache cache;
  (void)cache.replaceAll(std::move(all));
  return cache;
}

// The agent is node-00001 on an underlay 172.16.0.0/16, as in run-agent-bench.
routes::SelfInfo self(const Settings& s) {
  routes::SelfInfo self;
  self.name = nodeName(1);
  self.podCIDRs = {podCIDR(1)};
  self.nodeIPs = {syntheticNode(1).internalIPs[0]};
  self.onLink = {*ip::Prefix::parse("172.16.0.0/16")};
  if (!s.clusterCIDR.empty()) self.clusterCIDRs = {*ip::Prefix::parse(s.clusterCIDR)};
  return self;
}

// One set change as an nft command.
std::string elementCommand(const routelet::masquerade::SetChange& c) {
  std::string s = std::string(c.add ? "add" : "delete") + " element inet " +
                  routelet::masquerade::kMasqueradeTable + " " + c.set + " { ";
  for (size_t i = 0; i < c.keys.size(); ++i) s += (i ? ", " : "") + c.keys[i].str();
  return s + " }\n";
}

// What a script-only implementation runs: the table's shape and every element inline, one
// file, one transaction. The same content as the agent's two steps, as nft script.
std::string wholeScript(const routelet::masquerade::MasqueradeRules& rules) {
  std::string s = routelet::masquerade::masqueradeScript(rules);
  for (const auto& c : routelet::masquerade::masqueradeElements(rules)) s += elementCommand(c);
  return s;
}

// The agent's allocator settings, as controller/main.cpp makes them before anything
// else: fixed mmap and trim thresholds put every allocation of 128 KiB or more that no free
// chunk of the heap holds in mmap, so each free of one is a munmap, and in a process with
// more threads a TLB shootdown.
// libnftables 1.0.6 allocates several such blocks per context and per table it parses or
// caches (its cache hash tables), and the agent opens a context for every script.
// A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1.
// VmHWM back to the current VmRSS (proc(5), clear_refs "5"), so the next reading of it is
// the peak of what runs in between.
// Drains NFNLGRP_NFTABLES like the agent's nf_tables monitor thread, counting what it saw.
struct Sample {
  double ms;
  double cpuMs;
};

struct Series {
  std::string key;
  std::string label;
  std::vector<double> ms;
  std::vector<double> cpuMs;    // CPU time of whoever did the work (this thread, or nft)
  std::vector<double> peakKib;  // in-process only: VmHWM growth over the VmRSS before
};

class Bench {
 public:
  Bench(const Settings& s, routelet::masquerade::KernelMasqueradeEdge& host, std::string dir)
      : s_(s), host_(host), dir_(dir) {}

  Status run(nlohmann::json& out);
  const std::vector<Series>& series() const { return series_; }

 private:
  Series& series(const std::string& key, const std::string& label) {
    for (auto& x : series_)
      if (x.key == key) return x;
    series_.push_back({key, label, {}, {}, {}});
    return series_.back();
  }
  // The agent's whole write (syncMasquerade): the shape by libnftables, then every element
  // in one nf_tables transaction.
  Status agentWhole(const routelet::masquerade::MasqueradeRules& rules, const char* what) {
    if (auto st = host_.nft(routelet::masquerade::masqueradeScript(rules)); !st)
      return st.error().wrap(std::string(what) + ": shape");
    if (auto st = host_.elements(routelet::masquerade::masqueradeElements(rules)); !st)
      return st.error().wrap(std::string(what) + ": elements");
    return okStatus();
  }
  Status script(const std::string& text, const char* what) {
    if (auto st = host_.nft(text); !st) return st.error().wrap(what);
    return okStatus();
  }
  Status elements(const std::vector<routelet::masquerade::SetChange>& changes, const char* what) {
    if (auto st = host_.elements(changes); !st) return st.error().wrap(what);
    return okStatus();
  }
  // `nft ARGS...` spawned and reaped: the wall time of the whole exec and nft's CPU time.
  Result<Sample> exec(std::vector<std::string> args) {
    cni::PluginCall call{s_.nft, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "", std::move(args)};
    auto outcome = cni::runPlugin(call);
    if (!outcome) return outcome.error();
    if (outcome->exitCode != 0)
      return makeError(s_.nft + " exited with " + std::to_string(outcome->exitCode) + ": " +
                       outcome->err.substr(0, 300));
    return Sample{toMs(outcome->elapsed), outcome->cpuMs};
  }
  // In this thread: the kernel commits an nf_tables batch in the sender's context, so the
  // thread's CPU time holds the kernel's part too.
  Result<Sample> timed(const std::function<Status()>& f) {
    double cpu = threadCpuMs();
    auto t = Clock::now();
    if (auto st = f(); !st) return st.error();
    return Sample{toMs(Clock::now() - t), threadCpuMs() - cpu};
  }
  // The resident memory f adds at its peak. The heap's free pages are handed back first
  // (malloc_trim, as the agent does after its LIST), else f would reuse what an earlier
  // write left resident and show nothing. This process's other thread (the listener)
  // allocates little.
  Result<double> peak(const std::function<Status()>& f) {
    malloc_trim(0);
    resetPeak();
    long rss = statusKib("VmRSS");
    if (auto st = f(); !st) return st.error();
    return static_cast<double>(statusKib("VmHWM") - rss);
  }
  std::string writeFile(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // `nft -j list table inet routelet` without handles and with every set's elements sorted:
  // equal for two tables of the same content, however each was written.
  Result<nlohmann::json> listTable();

  const Settings& s_;
  routelet::masquerade::KernelMasqueradeEdge& host_;
  std::string dir_;
  std::vector<Series> series_;
};

void normalize(nlohmann::json& j) {
  if (j.is_object()) {
    j.erase("handle");
    for (auto& [key, value] : j.items()) normalize(value);
    if (j.contains("elem") && j["elem"].is_array()) {
      auto& elem = j["elem"];
      std::sort(elem.begin(), elem.end());
    }
  } else if (j.is_array()) {
    for (auto& value : j) normalize(value);
  }
}

Result<nlohmann::json> Bench::listTable() {
  cni::PluginCall call{s_.nft,
                       {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
                       "",
                       {"-j", "list", "table", "inet", routelet::masquerade::kMasqueradeTable}};
  auto outcome = cni::runPlugin(call);
  if (!outcome) return outcome.error();
  if (outcome->exitCode != 0) return makeError("nft list table: " + outcome->err.substr(0, 300));
  auto j = nlohmann::json::parse(outcome->out, nullptr, false);
  if (j.is_discarded()) return makeError("nft -j list table: not JSON");
  nlohmann::json items = nlohmann::json::array();
  for (auto& item : j["nftables"])
    if (!item.contains("metainfo")) items.push_back(item);
  normalize(items);
  return items;
}

Status Bench::run(nlohmann::json& out) {
  // --- the pure part: what the agent computes on every peer change (targeted pass)
  model::NodeCache cache = cluster(s_.nodes);
  routes::SelfInfo me = self(s_);
  const int joiner = s_.nodes + 1;
  model::NodeCache joined = cluster(s_.nodes);
  (void)joined.upsert(syntheticNode(joiner));
  const std::vector<ip::Prefix> none;

  routelet::masquerade::MasqueradeRules rules, rulesJoined;
  auto pure = [&](const char* key, const char* label, const std::function<void()>& f) {
    auto& x = series(key, label);
    for (int i = 0; i < s_.pureReps && !cni::interrupted(); ++i) {
      double cpu = threadCpuMs();
      auto t = Clock::now();
      f();
      x.ms.push_back(toMs(Clock::now() - t));
      x.cpuMs.push_back(threadCpuMs() - cpu);
    }
  };
  pure("rules", "masqueradeRules (pure)",
       [&] { rules = routelet::masquerade::masqueradeRules(cache, me, none); });
  rulesJoined = routelet::masquerade::masqueradeRules(joined, me, none);
  std::string shape;
  std::vector<routelet::masquerade::SetChange> all;
  pure("script", "masqueradeScript (pure)",
       [&] { shape = routelet::masquerade::masqueradeScript(rules); });
  pure("elements", "masqueradeElements (pure)",
       [&] { all = routelet::masquerade::masqueradeElements(rules); });
  std::optional<std::vector<routelet::masquerade::SetChange>> join, leave;
  pure("update", "masqueradeUpdate, one Node joined (pure)",
       [&] { join = routelet::masquerade::masqueradeUpdate(rules, rulesJoined); });
  leave = routelet::masquerade::masqueradeUpdate(rulesJoined, rules);
  if (!join || !leave || join->size() != 1 || (*join)[0].keys.size() != 1 || leave->size() != 1)
    return makeError("masqueradeUpdate found no single-key update for one Node joining");
  const routelet::masquerade::SetChange& added = (*join)[0];
  const std::string joinerKey = added.keys[0].str();
  const std::string joinScript = elementCommand(added);

  const std::string whole = wholeScript(rules);
  std::string file = writeFile("table.nft", whole);
  std::string fileJoined = writeFile("table-joined.nft", wholeScript(rulesJoined));
  out["elements"] = rules.keep.size();
  out["exempt_sets"] = std::count_if(all.begin(), all.end(),
                                     [](const auto& c) { return c.set.rfind("exempt_", 0) == 0; });
  out["shape_script_bytes"] = shape.size();
  out["whole_script_bytes"] = whole.size();
  out["join_set"] = added.set;
  out["join_key"] = joinerKey;

  // --- the kernel part. Warm-up: the first writes, nft's binary and libraries paged in.
  // Both ways must leave the same table, and the join must land in the set.
  if (auto st = agentWhole(rules, "first write of the table"); !st) return st;
  auto byAgent = listTable();
  if (!byAgent) return byAgent.error().wrap("list the agent's table");
  if (auto t = exec({"-f", file}); !t) return t.error().wrap("nft -f " + file);
  auto byNft = listTable();
  if (!byNft) return byNft.error().wrap("list the table of nft -f");
  if (*byAgent != *byNft)
    return makeError("the agent's table and nft -f " + file + " differ: not the same ruleset");
  if (auto st = elements(*join, "element update"); !st) return st;
  if (auto st = script("get element inet routelet " + added.set + " { " + joinerKey + " }",
                       "the joined range is not in the set after the element update");
      !st)
    return st;
  if (auto st = elements(*leave, "element delete"); !st) return st;
  if (auto st = script(joinScript, "element update by libnftables"); !st) return st;
  if (auto st = elements(*leave, "element delete"); !st) return st;

  const std::string removal = routelet::masquerade::masqueradeRemovalScript();
  using Step = std::function<Status()>;
  // Each case: a timed write from a known state, then an untimed restore to the table of
  // s_.nodes Nodes. The order rotates per repetition, so load drifting over the run falls
  // on every case alike.
  struct Case {
    const char* key;
    const char* label;
    Step before;  // untimed
    Step op;      // in this process; or
    std::function<Result<Sample>()> exec;
    Step after;  // untimed
  };
  auto noop = [] { return okStatus(); };
  auto restore = [&] { return agentWhole(rules, "restore the table"); };
  auto drop = [&] { return script(removal, "remove the table"); };
  auto unjoin = [&] { return elements(*leave, "element delete"); };
  auto agentTable = [&] { return agentWhole(rules, "whole table"); };
  auto nftTable = [&] { return exec({"-f", file}); };
  std::vector<Case> cases{
      {"full_replace_agent",
       "whole table, replacing it: agent (shape + elements)",
       noop,
       agentTable,
       {},
       noop},
      {"full_replace_libnft",
       "whole table, replacing it: libnftables, elements inline",
       noop,
       [&] { return script(whole, "whole table by libnftables"); },
       {},
       noop},
      {"full_replace_nft",
       "whole table, replacing it: nft -f, elements inline",
       noop,
       {},
       nftTable,
       noop},
      {"full_create_agent", "whole table, none there: agent (heal)", drop, agentTable, {}, noop},
      {"full_create_nft",
       "whole table, none there: nft -f, elements inline",
       drop,
       {},
       nftTable,
       noop},
      {"shape_agent",
       "  of the agent's: the shape alone (KernelMasqueradeEdge::nft)",
       noop,
       [&] { return script(shape, "shape"); },
       {},
       restore},
      {"elements_agent",
       "  of the agent's: the elements alone (nftElements)",
       [&] { return script(shape, "shape"); },
       [&] { return elements(all, "elements"); },
       {},
       noop},
      {"join_agent",
       "join: agent (nftElements, one key)",
       noop,
       [&] { return elements(*join, "element update"); },
       {},
       unjoin},
      {"join_path_agent",
       "join: masqueradeRules + Update + nftElements",
       noop,
       [&]() -> Status {
         auto want = routelet::masquerade::masqueradeRules(joined, me, none);
         auto update = routelet::masquerade::masqueradeUpdate(rules, want);
         if (!update) return makeError("no element update");
         return elements(*update, "element update");
       },
       {},
       unjoin},
      {"join_libnft",
       "join: libnftables add element (in-process)",
       noop,
       [&] { return script(joinScript, "add element by libnftables"); },
       {},
       unjoin},
      {"join_add_element_nft",
       "join: nft add element (exec)",
       noop,
       {},
       [&] {
         return exec({"add", "element", "inet", routelet::masquerade::kMasqueradeTable, added.set,
                      "{ " + joinerKey + " }"});
       },
       unjoin},
      {"join_full_nft",
       "join: whole ruleset again, nft -f",
       noop,
       {},
       [&] {
         return exec({"-f", fileJoined});
       },
       restore},
      {"exec_floor_nft",
       "nft --version (exec floor: spawn, load, reap)",
       noop,
       {},
       [&] { return exec({"--version"}); },
       noop},
  };
  for (int rep = 0; rep < s_.reps && !cni::interrupted(); ++rep) {
    for (size_t k = 0; k < cases.size() && !cni::interrupted(); ++k) {
      const Case& c = cases[(k + static_cast<size_t>(rep)) % cases.size()];
      if (auto st = c.before(); !st) return st.error().wrap(c.label);
      auto sample = c.op ? timed(c.op) : c.exec();
      if (!sample) return sample.error().wrap(c.label);
      auto& x = series(c.key, c.label);
      x.ms.push_back(sample->ms);
      x.cpuMs.push_back(sample->cpuMs);
      if (auto st = c.after(); !st) return st.error().wrap(c.label);
    }
  }
  // Memory apart from the clock: handing the heap back before each write slows the next.
  for (int rep = 0; rep < s_.memoryReps && !cni::interrupted(); ++rep) {
    for (size_t k = 0; k < cases.size() && !cni::interrupted(); ++k) {
      const Case& c = cases[(k + static_cast<size_t>(rep)) % cases.size()];
      if (!c.op) continue;
      if (auto st = c.before(); !st) return st.error().wrap(c.label);
      auto grown = peak(c.op);
      if (!grown) return grown.error().wrap(c.label);
      series(c.key, c.label).peakKib.push_back(*grown);
      if (auto st = c.after(); !st) return st.error().wrap(c.label);
    }
  }
  if (cni::interrupted()) return makeError("interrupted");
  return okStatus();
}

const Series* find(const std::vector<Series>& all, const char* key) {
  for (const auto& x : all)
    if (x.key == key) return &x;
  return nullptr;
}

double p50(const std::vector<Series>& all, const char* key, bool cpu) {
  const Series* x = find(all, key);
  return x ? summarize(cpu ? x->cpuMs : x->ms).p50 : 0;
}

nlohmann::json summaryJson(const Summary& x) {
  return {{"count", x.count},  {"p50_ms", x.p50}, {"p99_ms", x.p99},
          {"mean_ms", x.mean}, {"min_ms", x.min}, {"max_ms", x.max}};
}

// The table a human reads, and the same numbers as JSON into `out`.
void report(const Settings& s, const std::vector<Series>& all, nlohmann::json& out) {
  std::cout << "masquerade benchmark: " << s.nodes << " Nodes, " << out["elements"].get<size_t>()
            << " exempt ranges in " << out["exempt_sets"].get<size_t>() << " set(s) (shape script "
            << out["shape_script_bytes"].get<size_t>() << " B, with the elements inline "
            << out["whole_script_bytes"].get<size_t>() << " B), " << s.reps
            << " repetitions, nf_tables listener " << (s.listener ? "on" : "off") << ", malloc "
            << (s.agentMalloc ? "as the agent's" : "glibc's defaults")
            << ", cpus=" << std::thread::hardware_concurrency() << "\n"
            << "loadavg start / end: " << out["loadavg_start"].get<std::string>() << " / "
            << out["loadavg_end"].get<std::string>() << "\n\n"
            << pad("case", 56)
            << "  p50 ms   p99 ms    min ms    max ms  CPU p50  VmHWM+ KiB p50 / max\n";
  for (const auto& x : all) {
    Summary w = summarize(x.ms);
    std::cout << pad(x.label, 56) << fmt("%8.3f", w.p50) << fmt(" %8.3f", w.p99)
              << fmt("  %8.3f", w.min) << fmt("  %8.3f", w.max);
    nlohmann::json j = summaryJson(w);
    j["label"] = x.label;
    if (!x.cpuMs.empty()) {
      Summary c = summarize(x.cpuMs);
      std::cout << fmt(" %8.3f", c.p50);
      j["cpu"] = summaryJson(c);
    }
    if (!x.peakKib.empty()) {
      // summarize() is unit-blind: these are KiB, not ms.
      Summary m = summarize(x.peakKib);
      std::cout << fmt(" %8.0f", m.p50) << fmt(" / %6.0f", m.max);
      j["vm_hwm_growth_kib"] = {
          {"count", m.count}, {"p50", m.p50}, {"p99", m.p99}, {"min", m.min}, {"max", m.max}};
    }
    std::cout << "\n";
    out["series"][x.key] = j;
  }
  struct Ratio {
    const char* label;
    const char* agent;
    const char* reference;
  };
  const Ratio ratios[] = {
      {"whole table, replacing it: agent / nft -f", "full_replace_agent", "full_replace_nft"},
      {"whole table, replacing it: agent / libnftables inline", "full_replace_agent",
       "full_replace_libnft"},
      {"whole table, none there (heal): agent / nft -f", "full_create_agent", "full_create_nft"},
      {"join: agent / nft add element", "join_agent", "join_add_element_nft"},
      {"join: agent / whole ruleset nft -f", "join_agent", "join_full_nft"},
      {"join: agent / libnftables add element", "join_agent", "join_libnft"},
      {"join: agent's whole path / whole ruleset nft -f", "join_path_agent", "join_full_nft"},
  };
  std::cout << "\nratios of p50 (agent / reference)" << pad("", 24) << " wall     CPU  VmHWM+\n";
  for (const auto& r : ratios) {
    double a = p50(all, r.agent, false), b = p50(all, r.reference, false);
    double ca = p50(all, r.agent, true), cb = p50(all, r.reference, true);
    if (b <= 0 || cb <= 0) continue;
    std::cout << "  " << pad(r.label, 54) << fmt("%6.3f", a / b) << fmt(" %6.3f", ca / cb);
    std::string key = std::string(r.agent) + "/" + r.reference;
    out["ratios_wall"][key] = a / b;
    out["ratios_cpu"][key] = ca / cb;
    const Series* ma = find(all, r.agent);
    const Series* mb = find(all, r.reference);
    if (ma && mb && !ma->peakKib.empty() && !mb->peakKib.empty()) {
      double pa = summarize(ma->peakKib).p50, pb = summarize(mb->peakKib).p50;
      std::cout << fmt("  %5.0f", pa) << " / " << fmt("%.0f KiB", pb);
    }
    std::cout << "\n";
  }
  if (s.listener)
    std::cout << "\nlistener: " << out["listener_commits"].get<uint64_t>() << " commits seen, "
              << out["listener_overruns"].get<uint64_t>() << " overruns (ENOBUFS)\n";
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--no-listener") {
      s.listener = false;
      continue;
    }
    if (a == "--glibc-malloc") {
      s.agentMalloc = false;
      continue;
    }
    bool hasValue = i + 1 < args.size();
    std::string v = hasValue ? args[++i] : "";
    std::optional<int> n;
    if (hasValue && a == "--nodes" && (n = cni::parseNumber(v, 2, 40000))) {
      s.nodes = *n;
    } else if (hasValue && a == "--reps" && (n = cni::parseNumber(v, 1, 10000))) {
      s.reps = *n;
    } else if (hasValue && a == "--pure-reps" && (n = cni::parseNumber(v, 1, 100000))) {
      s.pureReps = *n;
    } else if (hasValue && a == "--memory-reps" && (n = cni::parseNumber(v, 0, 10000))) {
      s.memoryReps = *n;
    } else if (hasValue && a == "--nft") {
      s.nft = v;
    } else if (hasValue && a == "--cluster-cidr" && ip::Prefix::parse(v)) {
      s.clusterCIDR = v;
    } else if (hasValue && a == "--json") {
      s.json = v;
    } else {
      std::cerr << "usage: masquerade_bench [--nodes 5000] [--reps 20] [--pure-reps 50]\n"
                   "                        [--memory-reps 5]\n"
                   "                        [--nft /usr/sbin/nft] [--cluster-cidr CIDR]\n"
                   "                        [--no-listener] [--glibc-malloc] [--json FILE]\n"
                   "Times the agent's masquerade writes (KernelMasqueradeEdge: the shape by "
                   "libnftables,\n"
                   "the elements over netlink) beside nft -f of the whole ruleset with the\n"
                   "elements inline, in a namespace it makes and removes. Needs root.\n"
                   "  --glibc-malloc  glibc's default allocator thresholds instead of the\n"
                   "                  agent's fixed ones (controller/main.cpp)\n"
                   "  --memory-reps   in-process writes run again this often, untimed, for\n"
                   "                  the peak resident memory each adds (VmHWM)\n";
      return 2;
    }
  }
  if (::geteuid() != 0) {
    std::cerr << "masquerade_bench: needs root (it creates a network namespace)\n";
    return 2;
  }
  cni::installInterruptHandler();
  if (s.agentMalloc) useAgentMalloc();

  char tmpl[] = "/tmp/bmq-masquerade-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("masquerade_bench: mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  nlohmann::json out;
  out["nodes"] = s.nodes;
  out["malloc"] = s.agentMalloc ? "agent" : "glibc";
  out["reps"] = s.reps;
  out["loadavg_start"] = loadavg();
  std::vector<Series> all;
  Status result = okStatus();
  {
    // Destroyed in reverse: the listener stops, this thread leaves the namespace, and the
    // namespace (with the table in it) goes.
    cni::NetnsSet spaces("bmq" + std::to_string(::getpid()) + "c");
    auto path = spaces.create();
    std::optional<netns::Enter> entered;
    std::unique_ptr<Listener> listener;
    result = [&]() -> Status {
      if (!path) return path.error();
      auto fd = netns::Fd::open(*path);
      if (!fd) return fd.error();
      auto in = netns::Enter::into(*fd);
      if (!in) return in.error();
      entered.emplace(std::move(*in));
      if (s.listener) {
        auto l = Listener::start();
        if (!l) return l.error().wrap("nf_tables listener");
        listener = std::move(*l);
      }
      routelet::masquerade::KernelMasqueradeEdge host;
      Bench bench(s, host, dir);
      Status st = bench.run(out);
      all = bench.series();
      return st;
    }();
    if (listener) {
      out["listener_commits"] = listener->commits();
      out["listener_overruns"] = listener->overruns();
    }
  }
  out["loadavg_end"] = loadavg();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  if (!result) {
    std::cerr << "masquerade_bench: ABORTED: " << result.error().message << "\n";
    return 1;
  }
  report(s, all, out);
  if (!s.json.empty()) std::ofstream(s.json) << out.dump(1) << "\n";
  return 0;
}

}  // namespace routelet::bench::masquerade

int main(int argc, char** argv) {
  return routelet::bench::masquerade::main(argc, argv);
}
