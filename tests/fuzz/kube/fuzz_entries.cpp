#include "tests/fuzz/kube/fuzz_entries.h"

#include <set>
#include <string>
#include <string_view>

#include "common/base/text.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/line_splitter.h"
#include "controller/kube/node_decode.h"

namespace routelet::kube::fuzz {
namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// What the agent assumes of every decoded Node, whatever the input.
void checkNode(const model::Node& n) {
  DecodeLimits limits;
  check(n.podCIDRs.size() <= 2);
  std::set<ip::Family> families;
  for (const auto& p : n.podCIDRs) {
    check(families.insert(p.family()).second);
    check(p == p.network());
  }
  check(n.annotations.size() <= limits.maxAnnotations);
  for (const auto& [k, v] : n.annotations) {
    check(k.starts_with("routelet.io/"));
    check(v.size() <= limits.maxAnnotationValue);
  }
  check(n.problems.size() <= limits.maxProblems + 1);
  // What gets logged and written into status.json is already safe text.
  check(safeText(n.name) == n.name);
  for (const auto& p : n.problems) check(safeText(p) == p);
}

std::string_view view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

bool node(const uint8_t* data, size_t size) {
  auto n = decodeNode(view(data, size));
  if (n) checkNode(*n);
  return n.ok();
}

bool nodeList(const uint8_t* data, size_t size) {
  auto meta = decodeNodeList(view(data, size), [](model::Node&& n) { checkNode(n); });
  return meta.ok();
}

bool watchStream(const uint8_t* data, size_t size) {
  if (size == 0) return false;
  size_t chunk = 1 + data[0] % 64;
  std::string_view rest = view(data + 1, size - 1);
  LineSplitter splitter(4096);
  bool allOk = true;
  auto onLine = [&](std::string_view line) -> Status {
    check(!line.empty() && line.size() <= 4096 && line.find('\n') == std::string_view::npos);
    auto ev = decodeWatchEvent(line);
    if (ev) checkNode(ev->node);
    allOk = allOk && ev.ok();
    return okStatus();
  };
  while (!rest.empty()) {
    size_t n = std::min(chunk, rest.size());
    Status st = splitter.feed(rest.substr(0, n), onLine);
    check(splitter.pending() <= 4096);
    if (!st) return false;
    rest.remove_prefix(n);
  }
  return allOk;
}

bool kubeconfig(const uint8_t* data, size_t size) {
  // Relative file references resolve under a directory that does not exist, so the
  // fuzzer never reads real files.
  auto a = parseKubeconfig(std::string(view(data, size)), "/nonexistent-fuzz/config");
  if (a) check(a->server.rfind("https://", 0) == 0 && !a->caPem.empty());
  return a.ok();
}

}  // namespace routelet::kube::fuzz
