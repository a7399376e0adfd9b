#include "tests/fuzz/agent/fuzz_entries.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "controller/agent/agent.h"
#include "controller/config/options.h"
#include "controller/kube/node_decode.h"
#include "controller/node/fake_node_edge.h"
#include "controller/node/node_controller.h"
#include "controller/publish/fake_publish_edge.h"
#include "controller/publish/publisher.h"
#include "controller/routes/fake_route_table.h"
#include "controller/routes/fake_tunnel_edge.h"
#include "controller/routes/routes_controller.h"
#include "tests/fuzz/support/fuzz_check.h"

namespace routelet::agent::fuzz {
namespace {

using config::FileReader;
using config::Options;
using config::parseInvocation;
using config::routeProtocolOwner;
using routelet::fuzz::accepted;
using routelet::fuzz::check;

constexpr const char* kPath = "/etc/routelet/config.yaml";

bool absolute(const std::string& p) {
  return !p.empty() && p[0] == '/';
}

// What the agent relies on for every accepted configuration.
void checkOptions(const Options& o) {
  check(o.configFile == kPath);
  for (const auto* p : {&o.cniConfDir, &o.cniBinDir, &o.ipamDataDir, &o.runDir})
    check(absolute(*p));
  check(o.kubeconfig.empty() || absolute(o.kubeconfig));
  check(!o.bridge.empty() && o.bridge.size() <= 15);
  check(o.mtu == 0 || (o.mtu >= 576 && o.mtu <= 65535));
  check(routeProtocolOwner(o.routeProtocol) == nullptr);
  check(o.resyncPeriod.count() > 0 && o.resyncPeriod.count() <= 7 * 24 * 3600);
  check(o.nodeName.size() <= 253);
  check(o.nodeIPs.size() <= 2);
  if (o.nodeIPs.size() == 2) check(o.nodeIPs[0].family() != o.nodeIPs[1].family());
}

}  // namespace

bool options(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  int reads = 0;
  FileReader reader = [&](const std::string& path) -> Result<std::string> {
    ++reads;
    check(path == kPath);
    return text;
  };
  auto inv = parseInvocation({"run", std::string("--config=") + kPath}, {}, reader);
  check(reads == 1);
  if (inv) {
    check(inv->command == "run" && inv->rest.empty());
    checkOptions(inv->options);
  }
  return accepted(inv);
}

bool nodeStatus(const uint8_t* data, size_t size) {
  std::vector<model::Node> nodes;
  auto listed = kube::decodeNodeList(routelet::fuzz::asText(data, size),
                                     [&](model::Node&& n) { nodes.push_back(std::move(n)); });
  if (!listed) return false;
  Options options;
  options.nodeName = "self";
  options.nodeIPs = {*ip::Address::parse("192.168.1.10")};
  options.mode = routes::Mode::kAuto;
  model::Node own;
  own.name = options.nodeName;
  own.podCIDRs = {*ip::Prefix::parse("10.244.0.0/24")};
  for (const auto& n : nodes)
    if (n.name == own.name) own = n;
  node::FakeNodeEdge host;
  routes::FakeRouteTable table;
  routes::FakeTunnelEdge tunnels;
  publish::FakePublishEdge api;
  Metrics metrics;
  node::NodeController setup(options, host);
  routes::RoutesController peers(config::routesConfig(options), table, tunnels, metrics);
  publish::Publisher publisher(options.nodeName, options.runDir, api);
  Agent loop({options.nodeName}, {&setup, &peers, &publisher}, metrics);
  loop.nodesListed(nodes);
  loop.nodeUpserted(own);
  loop.pass();
  publisher.publishStatus();
  // What the agent writes and sends must parse back (valid UTF-8) and hold no raw
  // control character.
  auto wellFormed = [](std::string_view text) {
    check(nlohmann::json::accept(text));
    if (text.ends_with('\n')) text.remove_suffix(1);
    check(std::none_of(text.begin(), text.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20; }));
  };
  for (const auto& [path, text] : api.files.all()) wellFormed(text);
  for (const auto& patch : api.patches) wellFormed(patch);
  return true;
}

}  // namespace routelet::agent::fuzz
