#include "tests/bench/policy/synthetic.h"

#include <algorithm>
#include <cstdio>
#include <tuple>
#include <utility>

namespace routelet::bench::policy {
namespace {

using model::LabelRequirement;
using model::LabelSelector;
using model::Protocol;

constexpr const char* kNameLabel = "kubernetes.io/metadata.name";
constexpr int kFirstSlot = 10;  // synthetic pods take .10 upwards of their node's /24
constexpr int kMaxSlots = 240;
constexpr int kKinds = 10;

// Pods besides the generated ones: the server, the two clients, two kube-dns replicas.
constexpr int kFixedPods = 5;

std::string hex(uint64_t h, int digits) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf + 16 - digits);
}

uint64_t fnv(const std::string& what) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : what) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string generatedNamespace(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ns-%04d", n);
  return buf;
}

std::string app(int a) {
  return "app-" + std::to_string(a);
}

const char* role(int a) {
  static const char* const kRoles[] = {"frontend", "backend", "monitoring"};
  return kRoles[a % 3];
}

// The address of node `node`'s pod in slot `slot`.
ip::Address podAddress(int node, int slot) {
  auto k = static_cast<uint32_t>(node);
  return ip::Address::v4((10u << 24) | ((64u + k / 256) << 16) | ((k % 256) << 8) |
                         static_cast<uint32_t>(kFirstSlot + slot));
}

std::string nodeName(int node) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "node-%04d", node);
  return buf;
}

// matchLabels, as the decoder makes them: one In requirement of one value per label.
LabelSelector match(std::vector<std::pair<std::string, std::string>> labels) {
  LabelSelector s;
  for (auto& [k, v] : labels) s.requirements.push_back({k, LabelRequirement::Op::kIn, {v}});
  std::sort(s.requirements.begin(), s.requirements.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key, a.op, a.values) < std::tie(b.key, b.op, b.values);
  });
  return s;
}

LabelSelector oneOf(const std::string& key, std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return {{{key, LabelRequirement::Op::kIn, std::move(values)}}};
}

model::PolicyPeer pods(LabelSelector s) {
  return {std::move(s), std::nullopt, std::nullopt, {}};
}
model::PolicyPeer namespacesOf(LabelSelector s) {
  return {std::nullopt, std::move(s), std::nullopt, {}};
}
model::PolicyPeer both(LabelSelector ns, LabelSelector pod) {
  return {std::move(pod), std::move(ns), std::nullopt, {}};
}
model::PolicyPeer block(const std::string& cidr, const std::vector<std::string>& except) {
  model::PolicyPeer p;
  p.cidr = *ip::Prefix::parse(cidr);
  for (const auto& e : except) p.except.push_back(*ip::Prefix::parse(e));
  return p;
}

model::PolicyPort tcp(uint16_t port, uint16_t end = 0) {
  return {Protocol::kTCP, port, end, ""};
}
model::PolicyPort udp(uint16_t port) {
  return {Protocol::kUDP, port, 0, ""};
}
model::PolicyPort named(const std::string& name) {
  return {Protocol::kTCP, 0, 0, name};
}

model::PolicyRule rule(std::vector<model::PolicyPeer> peers, std::vector<model::PolicyPort> ports) {
  model::PolicyRule r;
  r.anyPeer = peers.empty();
  r.peers = std::move(peers);
  r.anyPort = ports.empty();
  r.ports = std::move(ports);
  return r;
}

model::NetworkPolicyObject policy(const std::string& ns, const std::string& name,
                                  LabelSelector selects) {
  model::NetworkPolicyObject p;
  p.ns = ns;
  p.name = name;
  p.podSelector = std::move(selects);
  return p;
}

LabelSelector kubeDns() {
  return match({{"k8s-app", "kube-dns"}});
}
LabelSelector kubeSystem() {
  return match({{kNameLabel, "kube-system"}});
}

std::vector<model::NetworkPolicyObject> realPolicies() {
  std::vector<model::NetworkPolicyObject> out;
  auto deny = policy("shop", "default-deny", LabelSelector{});
  deny.ingress = true;
  out.push_back(deny);

  auto web = policy("shop", "allow-web-clients", match({{"app", "server"}}));
  web.ingress = true;
  web.ingressRules = {
      rule({both(match({{kNameLabel, "web"}}), match({{"app", "client"}}))}, {named("http")})};
  out.push_back(web);

  auto monitoring = policy("shop", "allow-monitoring", match({{"app", "server"}}));
  monitoring.ingress = true;
  monitoring.ingressRules = {
      rule({both(match({{"team", "team-2"}}), match({{"role", "monitoring"}}))}, {tcp(9090)})};
  out.push_back(monitoring);

  auto partners = policy("shop", "allow-partners", match({{"app", "server"}}));
  partners.ingress = true;
  partners.ingressRules = {rule({block("192.168.0.0/16", {"192.168.13.0/24"})}, {tcp(443)})};
  out.push_back(partners);

  auto egress = policy("web", "client-egress", match({{"app", "client"}}));
  egress.egress = true;
  egress.egressRules = {rule({both(match({{kNameLabel, "shop"}}), match({{"app", "server"}}))}, {}),
                        rule({both(kubeSystem(), kubeDns())}, {udp(53), tcp(53)})};
  out.push_back(egress);
  return out;
}

// Generated policy i: namespace i % NS, then round by round over the kinds and apps.
model::NetworkPolicyObject generated(const Shape& s, int i) {
  int n = i % s.namespaces;
  int r = i / s.namespaces;
  int kind = (n + r) % kKinds;
  int apps = s.appsPerNamespace;
  int a = r % apps;
  std::string ns = generatedNamespace(n);
  std::string suffix = "-" + std::to_string(r);
  auto target = match({{"app", app(a)}});
  switch (kind) {
    case 0: {
      auto p = policy(ns, "default-deny-ingress" + suffix, LabelSelector{});
      p.ingress = true;
      return p;
    }
    case 1: {
      auto p = policy(ns, "allow-" + app((a + 1) % apps) + suffix, target);
      p.ingress = true;
      p.ingressRules = {rule({pods(match({{"app", app((a + 1) % apps)}}))}, {tcp(8080)})};
      return p;
    }
    case 2: {
      auto p = policy(ns, "allow-team" + suffix, target);
      p.ingress = true;
      p.ingressRules = {rule(
          {namespacesOf(match({{"team", "team-" + std::to_string((n + 3) % 10)}}))}, {tcp(9090)})};
      return p;
    }
    case 3: {
      auto p = policy(ns, "allow-prod-frontends" + suffix, target);
      p.ingress = true;
      p.ingressRules = {
          rule({both(match({{"env", "prod"}}), match({{"role", "frontend"}}))}, {named("http")})};
      return p;
    }
    case 4: {
      auto p = policy(ns, "allow-internal" + suffix, target);
      p.ingress = true;
      p.ingressRules = {rule(
          {block("10.0.0.0/8", {"10.64." + std::to_string(n % 256) + ".0/24", "10.96.0.0/12"})},
          {tcp(443), tcp(8443)})};
      return p;
    }
    case 5: {
      auto p = policy(ns, "egress-dns-https" + suffix, target);
      p.egress = true;
      p.egressRules = {
          rule({both(kubeSystem(), kubeDns())}, {udp(53), tcp(53)}),
          rule({block("0.0.0.0/0", {"10.0.0.0/8", "169.254.169.254/32"})}, {tcp(443)})};
      return p;
    }
    case 6: {
      auto p = policy(ns, "allow-grpc" + suffix, target);
      p.ingress = true;
      p.ingressRules = {
          rule({pods(oneOf("app", {app((a + 2) % apps), app((a + 3) % apps)}))}, {named("grpc")})};
      return p;
    }
    case 7: {
      auto p = policy(ns, "allow-namespace-range" + suffix, target);
      p.ingress = true;
      p.ingressRules = {rule({pods(LabelSelector{})}, {tcp(8000, 8100)})};
      return p;
    }
    case 8: {
      auto p = policy(ns, "allow-metrics" + suffix, LabelSelector{});
      p.ingress = true;
      p.ingressRules = {rule({both(match({{"team", "team-" + std::to_string(n % 10)}}),
                                   match({{"role", "monitoring"}}))},
                             {named("metrics")})};
      return p;
    }
    default: {
      auto p = policy(ns, "web-and-db" + suffix, target);
      p.ingress = true;
      p.egress = true;
      p.ingressRules = {rule({}, {tcp(80)})};
      p.egressRules = {rule({pods(match({{"app", app((a + 1) % apps)}}))}, {tcp(5432)}),
                       rule({both(kubeSystem(), kubeDns())}, {udp(53)})};
      return p;
    }
  }
}

model::PodObject pod(const std::string& ns, const std::string& name, const std::string& hash,
                     std::vector<std::pair<std::string, std::string>> labels, int node,
                     ip::Address address, std::vector<model::ContainerPort> ports) {
  model::PodObject p;
  p.ns = ns;
  p.name = name;
  p.nodeName = nodeName(node);
  labels.emplace_back("pod-template-hash", hash);
  std::sort(labels.begin(), labels.end());
  p.labels = std::move(labels);
  p.ips = {address};
  p.ports = std::move(ports);
  return p;
}

}  // namespace

std::string checkShape(const Shape& s) {
  if (s.nodes < 3) return "at least 3 nodes";
  if (s.namespaces < 1 || s.appsPerNamespace < 4) return "at least 1 namespace and 4 apps";
  if (s.pods < kFixedPods + s.namespaces * s.appsPerNamespace)
    return "at least " + std::to_string(kFixedPods + s.namespaces * s.appsPerNamespace) +
           " pods (one per app)";
  if ((s.pods - kFixedPods + s.nodes - 1) / s.nodes > kMaxSlots * 4 / 5)
    return "at most " + std::to_string(kMaxSlots * 4 / 5) + " pods per node";
  if (s.nodes > 256 * 64) return "too many nodes";
  return "";
}

std::vector<model::NamespaceObject> namespaces(const Shape& s) {
  std::vector<model::NamespaceObject> out;
  auto ns = [](const std::string& name, const std::string& team, const std::string& env) {
    return model::NamespaceObject{name, "", {{"env", env}, {kNameLabel, name}, {"team", team}}};
  };
  out.push_back({"kube-system", "", {{kNameLabel, "kube-system"}}});
  out.push_back(ns("shop", "team-shop", "prod"));
  out.push_back(ns("web", "team-web", "prod"));
  static const char* const kEnvs[] = {"prod", "staging", "dev"};
  for (int n = 0; n < s.namespaces; ++n)
    out.push_back(ns(generatedNamespace(n), "team-" + std::to_string(n % 10), kEnvs[n % 3]));
  return out;
}

void forEachPod(const Shape& s, const std::function<void(const model::PodObject&)>& f) {
  using model::ContainerPort;
  auto fixed = [](const char* a) { return *ip::Address::parse(a); };
  f(pod("shop", "server-7d4b9c-x2k4p", "7d4b9c", {{"app", "server"}, {"role", "backend"}}, 0,
        fixed(kServerIp),
        {{"http", Protocol::kTCP, kServedPort}, {"grpc", Protocol::kTCP, kProbePort}}));
  f(pod("web", "client-5f6c8d-q9w3e", "5f6c8d", {{"app", "client"}, {"role", "frontend"}}, 0,
        fixed(kClientIp), {}));
  f(pod("web", "client-5f6c8d-m4n7b", "5f6c8d", {{"app", "client"}, {"role", "frontend"}}, 1,
        fixed(kRemoteIp), {}));
  for (int i = 0; i < 2; ++i)
    f(pod("kube-system", "coredns-6f9d8b-" + std::to_string(i), "6f9d8b", {{"k8s-app", "kube-dns"}},
          i + 1, podAddress(i + 1, 0).offset(-7),
          {{"dns", Protocol::kUDP, 53},
           {"dns-tcp", Protocol::kTCP, 53},
           {"metrics", Protocol::kTCP, 9153}}));
  // Synthetic pods: the g-th goes to a node picked by a hash of g, in its next free slot.
  int g = 0;
  std::vector<int> used(static_cast<size_t>(s.nodes), 0);  // slots taken per node
  int synthetic = s.pods - kFixedPods;
  int apps = s.appsPerNamespace;
  for (int n = 0; n < s.namespaces; ++n) {
    std::string ns = generatedNamespace(n);
    int here = synthetic / s.namespaces + (n < synthetic % s.namespaces ? 1 : 0);
    for (int k = 0; k < here; ++k) {
      int a = k % apps;
      std::string hash = hex(fnv(ns + "/" + app(a)), 10);
      std::vector<ContainerPort> ports;
      switch (a % 4) {
        case 0:
          ports = {{"http", Protocol::kTCP, 8080}};
          break;
        case 1:
          ports = {{"grpc", Protocol::kTCP, 9000}, {"metrics", Protocol::kTCP, 9090}};
          break;
        case 2:
          ports = {{"http", Protocol::kTCP, 8080}, {"metrics", Protocol::kTCP, 9090}};
          break;
        default:
          break;
      }
      // Scattered over the nodes by a hash, as a scheduler spreads replicas: a round robin
      // would give this node the same app of every namespace.
      int node =
          static_cast<int>(fnv("pod " + std::to_string(g++)) % static_cast<uint64_t>(s.nodes));
      while (used[static_cast<size_t>(node)] >= kMaxSlots) node = (node + 1) % s.nodes;
      ip::Address address = podAddress(node, used[static_cast<size_t>(node)]++);
      f(pod(ns, app(a) + "-" + hash + "-" + hex(fnv(ns + std::to_string(k)), 5), hash,
            {{"app", app(a)}, {"role", role(a)}}, node, address, std::move(ports)));
    }
  }
}

std::vector<model::NetworkPolicyObject> policies(const Shape& s, int count) {
  std::vector<model::NetworkPolicyObject> out = realPolicies();
  if (count < static_cast<int>(out.size())) out.resize(static_cast<size_t>(count));
  for (int i = 0; static_cast<int>(out.size()) < count; ++i) out.push_back(generated(s, i));
  return out;
}

model::NetworkPolicyObject probePolicy() {
  auto p = policy("shop", "allow-probe", match({{"app", "server"}}));
  p.ingress = true;
  p.ingressRules = {
      rule({both(match({{kNameLabel, "web"}}), match({{"app", "client"}}))}, {tcp(kProbePort)})};
  return p;
}

}  // namespace routelet::bench::policy
