// Golden scenarios of NetworkPolicy enforcement: golden/<name>.json holds a node's name and
// Kubernetes objects as the API serves them (Namespaces, Pods, NetworkPolicies), then steps
// that apply or delete objects; golden/<name>.golden holds the table written whole for the
// objects, each local pod with the policies isolating it, and each step's change, exactly.
// The objects go the agent's whole way: the streaming list decoder with each kind's kept
// fields, the kind's decoder, the cluster, the desired table and the plan.
// ROUTELET_UPDATE_GOLDEN=1 rewrites the .golden files (tests/support/golden.h).
#include "tests/support/golden.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/fs/files.h"
#include "controller/kube/object_decode.h"
#include "controller/kube/policy_decode.h"
#include "controller/policy/cluster.h"
#include "controller/policy/desired.h"
#include "controller/policy/ruleset.h"

namespace routelet::policy {
namespace {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

// Each object through the agent's list decoder for its kind, as one list of one item.
template <class T, class Decode>
T viaList(const json& object, const kube::ObjectQuery& query, Decode decode) {
  std::istringstream in(json{{"metadata", {{"resourceVersion", "1"}}}, {"items", {object}}}.dump());
  T out;
  auto meta = kube::decodeObjectList(
      in, query.keep, [&](json&& kept) { out = decode(kept); }, 10, 1 << 20);
  EXPECT_TRUE(meta.ok()) << meta.error().message;
  return out;
}

// Applies (or deletes) one object to the cluster.
void apply(Cluster& c, const json& object, bool remove) {
  std::string kind = object.value("kind", "");
  if (kind == "Pod") {
    auto pod = viaList<model::PodObject>(object, kube::podsQuery(10), kube::decodePod);
    remove ? (void)c.removePod(pod.ns, pod.name) : (void)c.upsertPod(pod);
  } else if (kind == "Namespace") {
    auto ns =
        viaList<model::NamespaceObject>(object, kube::namespacesQuery(10), kube::decodeNamespace);
    remove ? (void)c.removeNamespace(ns.name) : (void)c.upsertNamespace(ns);
  } else if (kind == "NetworkPolicy") {
    auto p = viaList<model::NetworkPolicyObject>(object, kube::networkPoliciesQuery(10),
                                                 kube::decodeNetworkPolicy);
    remove ? (void)c.removePolicy(p.ns, p.name) : (void)c.upsertPolicy(p);
  } else {
    ADD_FAILURE() << "unknown kind " << kind;
  }
}

// A port set's key (ruleset.h portKeyBytes) as nft writes it: "10.244.1.2 . tcp . 8080".
std::string portKeyText(const std::string& raw) {
  size_t n = raw.size() == 12 ? 4 : 16;
  auto bytes = reinterpret_cast<const uint8_t*>(raw.data());
  auto address = ip::Address::fromBytes(n == 4 ? ip::Family::kV4 : ip::Family::kV6, bytes);
  unsigned port = bytes[n + 4] << 8 | bytes[n + 5];
  return address.str() + " . " + nftProtocol(static_cast<model::Protocol>(bytes[n])) + " . " +
         std::to_string(port);
}

std::string format(const Plan& p) {
  std::string out = p.sets;
  for (const auto& c : p.elements) {
    out += std::string(c.add ? "+" : "-") + " " + c.set + " {";
    for (size_t i = 0; i < c.keys.size(); ++i) out += (i ? ", " : " ") + c.keys[i].str();
    for (size_t i = 0; i < c.rawKeys.size(); ++i)
      out += (i ? ", " : " ") + portKeyText(c.rawKeys[i]);
    out += " }\n";
  }
  return out + p.rest;
}

std::string formatPods(const Desired& d) {
  std::string out;
  for (const auto& pod : d.pods) {
    out += pod.ns + "/" + pod.name;
    for (const auto& a : pod.ips) out += " " + a.str();
    auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) return;
      out += std::string(" ") + what + "=";
      for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
    };
    list("ingress", pod.ingress);
    list("egress", pod.egress);
    out += "\n";
  }
  for (const auto& problem : d.problems) out += "problem: " + problem + "\n";
  return out;
}

std::string render(const json& scenario) {
  Cluster c(scenario.at("node").get<std::string>());
  c.replacePods({});
  c.replaceNamespaces({});
  c.replacePolicies({});
  for (const auto& o : scenario.at("objects")) apply(c, o, false);
  Desired d = desired(c);
  std::string out = "# whole\n" + format(plan(nullptr, d)) + "# pods\n" + formatPods(d);
  for (const auto& step : scenario.value("steps", json::array())) {
    for (const auto& o : step.value("apply", json::array())) apply(c, o, false);
    for (const auto& o : step.value("delete", json::array())) apply(c, o, true);
    Desired next = desired(c);
    out += "# step: " + step.at("name").get<std::string>() + "\n" + format(plan(&d, next));
    if (next.pods != d.pods || next.problems != d.problems) out += "# pods\n" + formatPods(next);
    d = std::move(next);
  }
  return out;
}

std::vector<std::string> scenarioNames() {
  return testing::goldenScenarios(ROUTELET_GOLDEN_DIR, ".json");
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesExactly) {
  stdfs::path dir = ROUTELET_GOLDEN_DIR;
  auto text = fs::readFile((dir / (GetParam() + ".json")).string());
  ASSERT_TRUE(text.ok()) << text.error().message;
  testing::expectGolden(ROUTELET_GOLDEN_DIR, GetParam(), render(json::parse(*text)));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Golden, ::testing::ValuesIn(scenarioNames()),
                         [](const auto& param) {
                           std::string name = param.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(GoldenScenarios, ThereAreScenarios) {
  EXPECT_GE(scenarioNames().size(), 6u);
}

}  // namespace
}  // namespace routelet::policy
