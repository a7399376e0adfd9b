// Benchmark (not a test): routelet-cni against the reference bridge + host-local, called
// side by side by the same driver the way a runtime calls them. See run-cni-bench.
//
// Everything happens inside namespaces made here: the driver enters a fresh "node"
// namespace before it spawns a plugin, so bridges and host veths land there, and each
// pod gets a pre-made namespace. Only the plugin exec is timed; namespace creation,
// JSON handling and checks are outside the clock.
#include <linux/magic.h>
#include <sched.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/fs/files.h"
#include "common/netlink/netns.h"
#include "tests/bench/cni/bench_cli.h"
#include "tests/bench/cni/bench_netns.h"
#include "tests/bench/cni/plugin_exec.h"
#include "tests/bench/cni/report.h"
#include "tests/bench/cni/stats.h"
#include "tests/bench/cni/veth_floor.h"

#ifndef ROUTELET_CNI_DEFAULT_PATH
#define ROUTELET_CNI_DEFAULT_PATH ""
#endif
#ifndef ROUTELET_BENCH_NOOP_PATH
#define ROUTELET_BENCH_NOOP_PATH ""
#endif

namespace routelet::bench::cni {
namespace {

constexpr const char* kNoop = ROUTELET_BENCH_NOOP_PATH;

struct Settings {
  int iterations = 200;
  int concurrency = 50;
  int warmup = 5;
  bool json = false;
  std::vector<std::string> plugins{"ref", "routelet"};
  std::string routeletCni = ROUTELET_CNI_DEFAULT_PATH;
  std::string referenceDir = "/usr/lib/cni";
  // Where both plugins keep their IPAM state. Empty: where each keeps it on a node by
  // default (defaultDataParent).
  std::string dataParent;
};

// A plugin's IPAM store where it lives on a node by default: routelet-cni's on /run, a
// tmpfs (nothing in it outlives the pods, which a reboot ends), host-local's under
// /var/lib/cni/networks, on disk. /dev/shm and /var/tmp stand for them here.
std::string defaultDataParent(const std::string& key) {
  return key == "ref" ? "/var/tmp" : "/dev/shm";
}

// The plugin as the driver sees it: a binary, its CNI_PATH and its network config.
struct PluginUnderTest {
  std::string key;  // "ref" or "routelet"
  std::string label;
  std::string binary;
  std::string cniPath;
  nlohmann::json config;
};

// A pool big enough for every pod alive at once; host-local hands addresses out round
// robin, so the sequential pods, the warm-up and the concurrent ones are all counted.
int prefixLengthFor(const Settings& s) {
  int needed = s.iterations + s.concurrency + s.warmup + 3;  // network, gateway, broadcast
  int hostBits = 8;
  while ((1 << hostBits) < needed) ++hostBits;
  return 32 - hostBits;
}

// routelet-cni's network config (cni/ documents the fields).
nlohmann::json routeletConfig(const std::string& dataDir, int prefixLength) {
  return {
      {"cniVersion", "1.1.0"},
      {"name", "routelet"},
      {"type", "routelet-cni"},
      {"bridge", "cni0"},
      {"mtu", 1500},
      {"dataDir", dataDir},
      {"ranges",
       {{{"subnet", "10.244.0.0/" + std::to_string(prefixLength)}, {"gateway", "10.244.0.1"}}}}};
}

// The reference: the bridge plugin delegating IPAM to host-local, as in the plugins' docs.
nlohmann::json referenceConfig(const std::string& dataDir, int prefixLength) {
  return {{"cniVersion", "1.0.0"},
          {"name", "refnet"},
          {"type", "bridge"},
          {"bridge", "refbr0"},
          {"isGateway", true},
          {"ipMasq", false},
          {"mtu", 1500},
          {"ipam",
           {{"type", "host-local"},
            {"ranges", {{{{"subnet", "10.245.0.0/" + std::to_string(prefixLength)}}}}},
            {"dataDir", dataDir}}}};
}

std::string containerId(int plugin, int pod) {
  // 64 hex digits, like containerd's sandbox IDs.
  std::array<char, 65> buf{};
  std::snprintf(buf.data(), buf.size(), "%08x%08x%048x", static_cast<unsigned>(::getpid()),
                static_cast<unsigned>(plugin), static_cast<unsigned>(pod));
  return buf.data();
}

// One plugin's node namespace, pod namespaces and ADD results. Each call enters the node
// namespace (outside the clock) so plugins of different kinds can take turns.
class PluginBench {
 public:
  PluginBench(const Settings& s, PluginUnderTest p, int pluginIndex)
      : s_(s), p_(std::move(p)), index_(pluginIndex) {}

  const PluginUnderTest& plugin() const { return p_; }

  // Pods: [0, warmup) warm-up, then `iterations` sequential, then `concurrency` concurrent.
  Status prepare(NetnsSet& namespaces) {
    auto nodePath = namespaces.create();
    if (!nodePath) return nodePath.error();
    auto nodeFd = netns::Fd::open(*nodePath);
    if (!nodeFd) return nodeFd.error();
    nodeFd_.emplace(std::move(*nodeFd));
    int pods = s_.warmup + s_.iterations + s_.concurrency;
    log("creating " + std::to_string(pods) + " pod namespaces");
    for (int i = 0; i < pods; ++i) {
      if (interrupted()) return makeError("interrupted");
      auto path = namespaces.create();
      if (!path) return path.error();
      podNetns_.push_back(*path);
    }
    addResults_.resize(podNetns_.size());
    return okStatus();
  }

  Status warmup() {
    for (int i = 0; i < s_.warmup; ++i) {
      if (auto t = timeOne("ADD", i); !t) return t.error();
      if (auto t = timeOne("DEL", i); !t) return t.error();
    }
    return okStatus();
  }

  // Sequential pod number n (0-based), past the warm-up pods.
  Result<double> timeSequential(const std::string& verb, int n) {
    return timeOne(verb, s_.warmup + n);
  }

  // Wall time from the first spawn until the last plugin is reaped. Outputs are read
  // in spawn order; each fits in its pipe, so no plugin waits on the reader.
  Result<double> timeConcurrent(const std::string& verb) {
    int first = s_.warmup + s_.iterations;
    std::vector<PluginCall> calls;
    for (int pod = first; pod < first + s_.concurrency; ++pod) calls.push_back(call(verb, pod));
    auto entered = enterNode();
    if (!entered) return entered.error();
    std::vector<RunningPlugin> running;
    running.reserve(calls.size());
    auto start = Clock::now();
    for (const auto& c : calls) {
      auto r = spawnPlugin(c);
      if (!r) return r.error().wrap(p_.label + " concurrent " + verb);
      running.push_back(std::move(*r));
    }
    std::vector<PluginOutcome> outcomes;
    for (auto& r : running) {
      auto o = finishPlugin(r);
      if (!o) return o.error().wrap(p_.label + " concurrent " + verb);
      outcomes.push_back(std::move(*o));
    }
    double wall = toMs(Clock::now() - start);
    for (int i = 0; i < s_.concurrency; ++i) {
      if (auto st = check(verb, first + i, outcomes[static_cast<size_t>(i)]); !st)
        return st.error();
    }
    return wall;
  }

 private:
  void log(const std::string& what) const {
    std::cerr << "cni_bench: " << p_.key << ": " << what << "\n";
  }

  // Environment as containerd's libcni builds it (CNI_ARGS included).
  PluginCall call(const std::string& verb, int pod) const {
    std::string id = containerId(index_, pod);
    std::string podName = "pod-" + std::to_string(pod);
    nlohmann::json config = p_.config;
    // libcni hands the cached ADD result to DEL as prevResult.
    if (verb == "DEL" && !addResults_[static_cast<size_t>(pod)].is_null())
      config["prevResult"] = addResults_[static_cast<size_t>(pod)];
    return PluginCall{p_.binary,
                      {"CNI_COMMAND=" + verb, "CNI_CONTAINERID=" + id,
                       "CNI_NETNS=" + podNetns_[static_cast<size_t>(pod)], "CNI_IFNAME=eth0",
                       "CNI_PATH=" + p_.cniPath,
                       "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=" + podName +
                           ";K8S_POD_INFRA_CONTAINER_ID=" + id,
                       "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
                      config.dump(),
                      {}};
  }

  // A failed plugin ends the run: numbers from a broken plugin mean nothing.
  Status check(const std::string& verb, int pod, const PluginOutcome& o) {
    std::string what = p_.label + " " + verb + " for pod-" + std::to_string(pod) + " (netns " +
                       podNetns_[static_cast<size_t>(pod)] + ")";
    if (o.exitCode != 0)
      return makeError(what + " failed with exit code " + std::to_string(o.exitCode) +
                       "\n  stdout: " + o.out + "\n  stderr: " + o.err);
    if (verb != "ADD") return okStatus();
    auto result = nlohmann::json::parse(o.out, nullptr, false);
    if (result.is_discarded() || !result.is_object() || !result.contains("ips") ||
        !result["ips"].is_array() || result["ips"].empty())
      return makeError(what + " exited 0 but its stdout is not a CNI result with \"ips\":\n  " +
                       o.out);
    addResults_[static_cast<size_t>(pod)] = std::move(result);
    return okStatus();
  }

  // Plugins inherit the namespace of the thread that spawns them.
  Result<netns::Enter> enterNode() {
    auto entered = netns::Enter::into(*nodeFd_);
    if (!entered) return entered.error().wrap(p_.label + ": enter the node namespace");
    return entered;
  }

  Result<double> timeOne(const std::string& verb, int pod) {
    if (interrupted()) return makeError("interrupted");
    PluginCall c = call(verb, pod);
    auto entered = enterNode();
    if (!entered) return entered.error();
    auto outcome = runPlugin(c);
    if (!outcome) return outcome.error().wrap(p_.label + " " + verb);
    if (auto st = check(verb, pod, *outcome); !st) return st.error();
    return toMs(outcome->elapsed);
  }

  const Settings& s_;
  PluginUnderTest p_;
  int index_;
  std::optional<netns::Fd> nodeFd_;
  std::vector<std::string> podNetns_;
  std::vector<nlohmann::json> addResults_;
};

void usage() {
  std::cerr << "usage: cni_bench [--iterations N] [--concurrency N] [--warmup N]\n"
               "                 [--plugins ref,routelet] [--routelet-cni PATH]\n"
               "                 [--reference-dir DIR] [--data-dir DIR] [--json]\n"
               "Times CNI ADD/DEL of routelet-cni and of the reference bridge + host-local\n"
               "inside network namespaces it creates and removes. Needs root.\n"
               "  --data-dir DIR  parent of both plugins' IPAM state (default: where each\n"
               "                  keeps it on a node, routelet-cni's on tmpfs (/dev/shm for\n"
               "                  /run), host-local's on disk (/var/tmp for /var/lib/cni))\n";
}

std::optional<Settings> parseArgs(int argc, char** argv) {
  Settings s;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool hasValue = i + 1 < args.size();
    std::string v = hasValue ? args[i + 1] : "";
    std::optional<int> n;
    if (a == "--json") {
      s.json = true;
      continue;
    }
    if (a == "--help" || a == "-h") return std::nullopt;
    if (!hasValue) {
      std::cerr << "cni_bench: " << a << " needs a value (or is unknown)\n";
      return std::nullopt;
    }
    ++i;
    if (a == "--iterations" && (n = parseNumber(v, 1, 60000))) {
      s.iterations = *n;
    } else if (a == "--concurrency" && (n = parseNumber(v, 1, 1000))) {
      s.concurrency = *n;
    } else if (a == "--warmup" && (n = parseNumber(v, 0, 1000))) {
      s.warmup = *n;
    } else if (a == "--routelet-cni") {
      s.routeletCni = v;
    } else if (a == "--data-dir") {
      s.dataParent = v;
    } else if (a == "--reference-dir") {
      s.referenceDir = v;
    } else if (a == "--plugins") {
      s.plugins.clear();
      for (size_t pos = 0; pos <= v.size();) {
        size_t comma = v.find(',', pos);
        std::string name = v.substr(pos, comma == std::string::npos ? comma : comma - pos);
        if ((name != "ref" && name != "routelet") ||
            std::find(s.plugins.begin(), s.plugins.end(), name) != s.plugins.end()) {
          std::cerr << "cni_bench: --plugins takes ref and/or routelet, once each, got '" << v
                    << "'\n";
          return std::nullopt;
        }
        s.plugins.push_back(name);
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else {
      std::cerr << "cni_bench: bad option or value: " << a << " " << v << "\n";
      return std::nullopt;
    }
  }
  return s;
}

Status requireExecutable(const std::string& path, const std::string& hint) {
  if (path.empty() || ::access(path.c_str(), X_OK) != 0)
    return makeError("plugin binary '" + path + "' is missing or not executable; " + hint);
  return okStatus();
}

Result<PluginUnderTest> describe(const std::string& key, const Settings& s,
                                 const std::string& workDir, int prefixLength) {
  if (key == "ref") {
    for (const char* bin : {"bridge", "host-local"}) {
      if (auto st = requireExecutable(s.referenceDir + "/" + bin,
                                      "install containernetworking-plugins (scripts/setup) or "
                                      "pass --reference-dir");
          !st)
        return st.error();
    }
    return PluginUnderTest{"ref", "bridge+host-local", s.referenceDir + "/bridge", s.referenceDir,
                           referenceConfig(workDir + "/host-local", prefixLength)};
  }
  if (auto st = requireExecutable(s.routeletCni,
                                  "build target routelet-cni and pass --routelet-cni PATH");
      !st)
    return st.error();
  std::string dir = std::filesystem::path(s.routeletCni).parent_path().string();
  return PluginUnderTest{"routelet", "routelet-cni", s.routeletCni, dir,
                         routeletConfig(workDir + "/routelet-ipam", prefixLength)};
}

std::string firstLine(const std::string& path) {
  auto text = fs::readFile(path, 4096);
  if (!text) return "?";
  return text->substr(0, text->find('\n'));
}

std::string fileSystemOf(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return "?";
  switch (static_cast<uint64_t>(st.f_type)) {
    case TMPFS_MAGIC:
      return "tmpfs";
    case EXT4_SUPER_MAGIC:
      return "ext4";
    case XFS_SUPER_MAGIC:
      return "xfs";
    case BTRFS_SUPER_MAGIC:
      return "btrfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "fs 0x%llx", static_cast<unsigned long long>(st.f_type));
      return hex;
    }
  }
}

std::string describeHost(const std::string& stores) {
  struct utsname u {};
  ::uname(&u);
  return std::string("kernel ") + u.release + ", " +
         std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) +
         " CPUs, /proc/loadavg at start: " + firstLine("/proc/loadavg") +
         "\nIPAM stores: " + stores;
}

Result<Summary> measureDriverCost(int count) {
  std::vector<double> times;
  for (int n = 0; n < count; ++n) {
    if (interrupted()) return makeError("interrupted");
    auto o = runPlugin(PluginCall{kNoop, {"CNI_COMMAND=VERSION"}, R"({"cniVersion":"1.1.0"})", {}});
    if (!o) return o.error();
    if (o->exitCode != 0) return makeError(std::string(kNoop) + " failed: the driver is broken");
    times.push_back(toMs(o->elapsed));
  }
  return summarize(times);
}

// Sequential calls run in phases: one plugin's ADDs of a block of pods, then its DELs of
// them, then the next plugin's, so no plugin's ADDs share the machine with the other's
// pods. A new pod's first second of IPv6 (duplicate address detection, MLD reports, router
// solicitation) is flooded to every pod on its bridge by kworkers holding the RTNL lock,
// which every ADD needs too: interleaved, each plugin's ADDs would wait on the other
// plugin's pods as well as on their own. Two rounds, the order reversed in the second, so
// that load from elsewhere on the machine, which drifts over minutes, falls on every side
// alike. The veth floor's deletions are interleaved with the DELs, spread over all phases.
constexpr int kRounds = 2;

Status runAll(const Settings& s, BenchResult& out) {
  std::string prefix = "rlb-" + std::to_string(::getpid());
  NetnsSet namespaces(prefix);
  struct RemoveDirs {
    std::vector<std::string> paths;
    ~RemoveDirs() {
      std::error_code ec;
      for (const auto& p : paths) std::filesystem::remove_all(p, ec);
    }
  } workDirs;

  int prefixLength = prefixLengthFor(s);
  std::vector<PluginBench> benches;
  std::string stores;
  for (size_t i = 0; i < s.plugins.size(); ++i) {
    const std::string& key = s.plugins[i];
    std::string workDir =
        (s.dataParent.empty() ? defaultDataParent(key) : s.dataParent) + "/" + prefix;
    if (std::find(workDirs.paths.begin(), workDirs.paths.end(), workDir) == workDirs.paths.end()) {
      if (auto st = fs::makeDirs(workDir, 0700); !st) return st;
      workDirs.paths.push_back(workDir);
    }
    auto plugin = describe(key, s, workDir, prefixLength);
    if (!plugin) return plugin.error();
    stores += (stores.empty() ? "" : ", ") + plugin->label + " in " + workDir + " (" +
              fileSystemOf(workDir) + ")";
    benches.emplace_back(s, std::move(*plugin), static_cast<int>(i));
  }
  out.host = describeHost(stores);
  for (auto& b : benches) {
    if (auto st = b.prepare(namespaces); !st) return st;
  }
  std::cerr << "cni_bench: " << s.iterations
            << " pods made in-process, as an ADD does in the kernel (the floors)\n";
  auto floor = VethFloor::prepare(namespaces, s.iterations, interrupted);
  if (!floor) return floor.error().wrap("veth delete floor");

  std::cerr << "cni_bench: driver cost: " << s.iterations << " runs of " << kNoop << "\n";
  auto driver = measureDriverCost(s.iterations);
  if (!driver) return driver.error();
  out.driverCost = *driver;

  std::cerr << "cni_bench: warm-up, " << s.warmup << " ADD/DEL pairs per plugin\n";
  for (auto& b : benches) {
    if (auto st = b.warmup(); !st) return st;
  }

  size_t k = benches.size();
  std::vector<std::vector<double>> adds(k), dels(k);
  std::vector<double> floorMs;
  std::cerr << "cni_bench: " << s.iterations << " sequential ADDs, then DELs, per plugin in "
            << kRounds << " rounds of phases, veth deletions among the DELs\n";
  for (int round = 0; round < kRounds; ++round) {
    const int from = s.iterations * round / kRounds;
    const int to = s.iterations * (round + 1) / kRounds;
    for (size_t j = 0; j < k; ++j) {
      const size_t b = round % 2 == 0 ? j : k - 1 - j;
      for (int n = from; n < to; ++n) {
        auto t = benches[b].timeSequential("ADD", n);
        if (!t) return t.error();
        adds[b].push_back(*t);
      }
      for (int n = from; n < to; ++n) {
        auto t = benches[b].timeSequential("DEL", n);
        if (!t) return t.error();
        dels[b].push_back(*t);
        if (static_cast<size_t>(n) % k != b) continue;  // each floor pair is deleted once
        auto f = floor->deleteOne(n);
        if (!f) return f.error();
        floorMs.push_back(*f);
      }
    }
  }
  for (size_t b = 0; b < k; ++b) {
    PluginResult r;
    r.label = benches[b].plugin().label;
    r.add = summarize(adds[b]);
    r.del = summarize(dels[b]);
    std::cerr << "cni_bench: " << benches[b].plugin().key << ": " << s.concurrency
              << " concurrent ADDs, then as many concurrent DELs\n";
    auto addWall = benches[b].timeConcurrent("ADD");
    if (!addWall) return addWall.error();
    auto delWall = benches[b].timeConcurrent("DEL");
    if (!delWall) return delWall.error();
    r.concurrentAddWallMs = *addWall;
    r.concurrentDelWallMs = *delWall;
    (benches[b].plugin().key == "ref" ? out.reference : out.routelet) = std::move(r);
  }
  out.vethDeleteFloor = summarize(floorMs);
  out.addKernel = summarize(floor->addMs());
  std::cerr << "cni_bench: removing the benchmark's namespaces\n";
  return okStatus();
}

}  // namespace
}  // namespace routelet::bench::cni

int main(int argc, char** argv) {
  using namespace routelet::bench::cni;
  auto settings = parseArgs(argc, argv);
  if (!settings) {
    usage();
    return 2;
  }
  if (::geteuid() != 0) {
    std::cerr << "cni_bench: needs root (it creates network namespaces and runs CNI plugins)\n";
    return 2;
  }
  installInterruptHandler();
  BenchResult result;
  result.iterations = settings->iterations;
  result.concurrency = settings->concurrency;
  result.warmup = settings->warmup;
  if (auto st = runAll(*settings, result); !st) {
    std::cerr << "cni_bench: ABORTED: " << st.error().message << "\n";
    return 1;
  }
  if (settings->json)
    std::cout << renderJson(result).dump(2) << "\n";
  else
    std::cout << renderTable(result);
  return 0;
}
