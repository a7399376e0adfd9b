// Synthetic clusters for the NetworkPolicy benchmark: Namespaces, Pods and a mix of
// NetworkPolicies of the kinds users write, generated the same way every run, with the
// benchmark's real pods (a server and two clients, policy_bench.cpp) among them.
//
// Addresses: node k (this node is node 0) has podCIDR 10.(64 + k/256).(k%256).0/24; its
// synthetic pods take .10 upwards, so they never collide with the real pods: the server
// 10.64.0.2 and the client 10.64.0.3 on this node's bridge (10.64.0.1), the remote client
// 10.64.1.2 on node 1.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "controller/model/policy_objects.h"

namespace routelet::bench::policy {

inline constexpr const char* kThisNode = "node-0000";
inline constexpr const char* kServerIp = "10.64.0.2";
inline constexpr const char* kClientIp = "10.64.0.3";
inline constexpr const char* kRemoteIp = "10.64.1.2";
inline constexpr uint16_t kServedPort = 8080;  // "http": the clients are allowed to it
inline constexpr uint16_t kProbePort = 9000;   // allowed only by probePolicy()

struct Shape {
  int pods = 1000;      // in all, the real pods and kube-dns among them
  int namespaces = 20;  // generated ones, besides kube-system, shop and web
  int nodes = 20;       // this node is node 0
  int appsPerNamespace = 10;
};

// Whether a shape can be generated (addresses per node, at least one pod per app).
std::string checkShape(const Shape& s);

std::vector<model::NamespaceObject> namespaces(const Shape& s);

// Every Pod, one at a time, as a LIST hands them over.
void forEachPod(const Shape& s, const std::function<void(const model::PodObject&)>& f);

// The first `count` policies: the five around the real pods (shop/default-deny,
// shop/allow-web-clients, shop/allow-monitoring, shop/allow-partners, web/client-egress),
// then generated ones, spread over the generated namespaces and ten kinds (podSelector by
// app label, from podSelector / namespaceSelector / both, ipBlock with except, ports by
// number, by name and as a range, ingress and egress).
std::vector<model::NetworkPolicyObject> policies(const Shape& s, int count);
inline constexpr int kRealPolicies = 5;

// shop/allow-probe: the server's port 9000 for the clients (the change the benchmark times).
model::NetworkPolicyObject probePolicy();

}  // namespace routelet::bench::policy
