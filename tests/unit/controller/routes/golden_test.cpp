// Golden scenarios: golden/<name>.scenario (Nodes, this node, routes in the kernel)
// against golden/<name>.golden (skipped peers and the printed plan), compared exactly.
// ROUTELET_UPDATE_GOLDEN=1 rewrites the .golden files; read the diff before keeping it.
//
// Scenario lines ('#' starts a comment):
//   self name=N podcidr=P... ip=A... onlink=P... [proto=N] [table=N]
//        [mode=host-gw|auto|vxlan] [tunnel4=IFINDEX] [tunnel6=IFINDEX]
//   synced true|false                                  (default true)
//   node NAME [podcidr=P]... [internal=A]... [external=A]... [deleting] [problem=REST OF LINE]
//   route DST [via GW] [proto N] [dev N] [metric N] [table N] [scope N] [type N] [onlink]
//   neigh ADDRESS MAC dev N [proto N] [state N]          (a neighbour entry in the kernel)
//   fdb MAC [dst ADDRESS] dev N [state N]                 (a forwarding entry)
#include "tests/support/golden.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/fs/files.h"
#include "controller/routes/desired.h"
#include "controller/routes/format.h"
#include "controller/routes/plan.h"
#include "tests/unit/controller/routes/builders.h"

namespace routelet::routes {
namespace {

namespace stdfs = std::filesystem;

struct Scenario {
  SelfInfo self;
  bool synced = true;
  model::NodeCache cache;
  std::vector<netlink::Route> kernel;
  std::vector<netlink::Neighbor> entries;  // of the VXLAN devices
};

Result<uint32_t> number(const std::string& text) {
  try {
    std::size_t used = 0;
    unsigned long v = std::stoul(text, &used);
    if (used == text.size() && v <= 0xffffffffUL) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  return makeError("invalid number \"" + text + "\"");
}

// Splits "key=value" words; the value of problem= is the rest of the line.
Status parseLine(const std::string& line, Scenario& s) {
  std::istringstream in(line);
  std::string kind;
  in >> kind;
  std::vector<std::string> words;
  for (std::string w; in >> w;) {
    if (w.starts_with("problem=")) {
      std::string rest;
      std::getline(in, rest);
      words.push_back(w + rest);
      break;
    }
    words.push_back(w);
  }
  auto prefixOf = [](const std::string& v) { return ip::Prefix::parse(v); };
  auto addrOf = [](const std::string& v) { return ip::Address::parse(v); };
#define TRY_ASSIGN(var, expr)           \
  auto var##_r = (expr);                \
  if (!var##_r) return var##_r.error(); \
  auto var = std::move(var##_r).value()

  if (kind == "self") {
    for (const auto& w : words) {
      auto eq = w.find('=');
      if (eq == std::string::npos) return makeError("self: expected key=value, got " + w);
      std::string k = w.substr(0, eq), v = w.substr(eq + 1);
      if (k == "name") {
        s.self.name = v;
      } else if (k == "podcidr") {
        TRY_ASSIGN(p, prefixOf(v));
        s.self.podCIDRs.push_back(p);
      } else if (k == "ip") {
        TRY_ASSIGN(a, addrOf(v));
        s.self.nodeIPs.push_back(a);
      } else if (k == "onlink") {
        TRY_ASSIGN(p, ip::Prefix::parse(v, false));
        s.self.onLink.push_back(p);
      } else if (k == "proto") {
        TRY_ASSIGN(n, number(v));
        s.self.protocol = static_cast<uint8_t>(n);
      } else if (k == "table") {
        TRY_ASSIGN(n, number(v));
        s.self.table = n;
      } else if (k == "mode") {
        TRY_ASSIGN(m, parseMode(v));
        s.self.mode = m;
      } else if (k == "tunnel4" || k == "tunnel6") {
        TRY_ASSIGN(n, number(v));
        (k == "tunnel4" ? s.self.tunnelV4 : s.self.tunnelV6) = static_cast<int>(n);
      } else {
        return makeError("self: unknown key " + k);
      }
    }
    return okStatus();
  }
  if (kind == "synced") {
    if (words.size() != 1 || (words[0] != "true" && words[0] != "false"))
      return makeError("synced: expected true or false");
    s.synced = words[0] == "true";
    return okStatus();
  }
  if (kind == "node") {
    if (words.empty()) return makeError("node: missing name");
    model::Node n;
    n.name = words[0];
    for (std::size_t i = 1; i < words.size(); ++i) {
      const auto& w = words[i];
      if (w == "deleting") {
        n.deleting = true;
        continue;
      }
      auto eq = w.find('=');
      if (eq == std::string::npos) return makeError("node: expected key=value, got " + w);
      std::string k = w.substr(0, eq), v = w.substr(eq + 1);
      if (k == "podcidr") {
        TRY_ASSIGN(p, prefixOf(v));
        n.podCIDRs.push_back(p);
      } else if (k == "internal") {
        TRY_ASSIGN(a, addrOf(v));
        n.internalIPs.push_back(a);
      } else if (k == "external") {
        TRY_ASSIGN(a, addrOf(v));
        n.externalIPs.push_back(a);
      } else if (k == "problem") {
        n.problems.push_back(v);
      } else {
        return makeError("node: unknown key " + k);
      }
    }
    (void)s.cache.upsert(std::move(n));
    return okStatus();
  }
  if (kind == "route") {
    if (words.empty()) return makeError("route: missing dst");
    netlink::Route r;
    TRY_ASSIGN(dst, prefixOf(words[0]));
    r.dst = dst;
    for (std::size_t i = 1; i < words.size(); ++i) {
      const auto& k = words[i];
      if (k == "onlink") {
        r.onlink = true;
        continue;
      }
      if (i + 1 >= words.size()) return makeError("route: " + k + " needs a value");
      const auto& v = words[++i];
      if (k == "via") {
        TRY_ASSIGN(a, addrOf(v));
        r.gateway = a;
        continue;
      }
      TRY_ASSIGN(n, number(v));
      if (k == "proto")
        r.protocol = static_cast<uint8_t>(n);
      else if (k == "dev")
        r.oif = static_cast<int>(n);
      else if (k == "metric")
        r.priority = n;
      else if (k == "table")
        r.table = n;
      else if (k == "scope")
        r.scope = static_cast<uint8_t>(n);
      else if (k == "type")
        r.type = static_cast<uint8_t>(n);
      else
        return makeError("route: unknown attribute " + k);
    }
    s.kernel.push_back(r);
    return okStatus();
  }
  if (kind == "neigh" || kind == "fdb") {
    netlink::Neighbor e;
    e.fdb = kind == "fdb";
    std::size_t i = 0;
    if (!e.fdb) {
      if (words.empty()) return makeError("neigh: missing address");
      TRY_ASSIGN(a, addrOf(words[i++]));
      e.address = a;
    }
    if (i >= words.size()) return makeError(kind + ": missing MAC");
    TRY_ASSIGN(mac, netlink::parseMac(words[i++]));
    e.mac = mac;
    for (; i < words.size(); ++i) {
      const auto& k = words[i];
      if (i + 1 >= words.size()) return makeError(kind + ": " + k + " needs a value");
      const auto& v = words[++i];
      if (k == "dst") {
        TRY_ASSIGN(a, addrOf(v));
        e.address = a;
        continue;
      }
      TRY_ASSIGN(n, number(v));
      if (k == "dev")
        e.index = static_cast<int>(n);
      else if (k == "proto")
        e.protocol = static_cast<uint8_t>(n);
      else if (k == "state")
        e.state = static_cast<uint16_t>(n);
      else
        return makeError(kind + ": unknown attribute " + k);
    }
    s.entries.push_back(e);
    return okStatus();
  }
#undef TRY_ASSIGN
  return makeError("unknown line kind \"" + kind + "\"");
}

Result<Scenario> parseScenario(const std::string& text) {
  Scenario s;
  std::istringstream in(text);
  int lineNo = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineNo;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (auto st = parseLine(line, s); !st) return st.error().wrap("line " + std::to_string(lineNo));
  }
  return s;
}

// What the golden file holds: the skipped peers, the addresses passed over (when any), then
// the plan.
std::string render(const Scenario& s) {
  std::vector<netlink::Route> observed;
  std::vector<netlink::Route> foreign;
  for (const auto& r : s.kernel)
    if (r.table == s.self.table) (r.protocol == s.self.protocol ? observed : foreign).push_back(r);
  Desired desired = desiredRoutes(s.cache, s.self, observed);
  Plan plan = planRoutes(desired.routes, observed, foreign, PlanOptions{.deleteStale = s.synced});

  std::string out = "# skipped peers\n";
  for (const auto& skip : desired.skipped) out += formatSkip(skip) + '\n';
  if (!desired.ignored.empty()) out += "# addresses passed over\n";
  for (const auto& i : desired.ignored) out += i.node + " " + i.address.str() + ": " + i.why + '\n';
  out += "# plan\n" + formatPlan(plan);
  if (s.self.mode != Mode::kHostGw || !s.entries.empty())
    out += "# vxlan entries\n" + formatNeighborPlan(planNeighbors(desired.neighbors, s.entries,
                                                                  s.self.protocol, s.synced));
  return out;
}

std::vector<std::string> scenarioNames() {
  return routelet::testing::goldenScenarios(ROUTELET_GOLDEN_DIR, ".scenario");
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesExactly) {
  stdfs::path dir = ROUTELET_GOLDEN_DIR;
  auto text = fs::readFile((dir / (GetParam() + ".scenario")).string());
  ASSERT_TRUE(text.ok()) << text.error().message;
  auto scenario = parseScenario(*text);
  ASSERT_TRUE(scenario.ok()) << GetParam() << ".scenario: " << scenario.error().message;
  routelet::testing::expectGolden(ROUTELET_GOLDEN_DIR, GetParam(), render(*scenario));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, Golden, ::testing::ValuesIn(scenarioNames()),
                         [](const auto& param) { return testing::testName(param.param); });

TEST(GoldenParser, RejectsBadLinesWithTheirNumber) {
  auto bad = parseScenario("self name=a podcidr=10.0.0.0/24\n\nnode b podcidr=garbage\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 3"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(parseScenario("frobnicate\n").ok());
  EXPECT_FALSE(parseScenario("route 10.0.0.0/24 metric\n").ok());
}

TEST(GoldenParser, ThereAreScenarios) {
  EXPECT_GE(scenarioNames().size(), 4u);
}

}  // namespace
}  // namespace routelet::routes
