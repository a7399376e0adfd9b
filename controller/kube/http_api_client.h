// The real ApiClient: HTTPS to the API server with cpprestsdk. cpprest stays inside
// http_api_client.cpp (its headers are slow to compile and leak boost into includers).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/base/result.h"
#include "controller/kube/api_client.h"
#include "controller/kube/kubeconfig.h"
#include "controller/kube/node_decode.h"

namespace routelet::kube {

// Nodes in a LIST past which the agent gives up rather than outgrow its memory limit
// (manifests/routelet.yaml: 64Mi). The agent's peak memory grows with the Nodes it holds;
// tests/bench/README.md has the measured curve this is set from.
inline constexpr size_t kDefaultMaxNodes = 30000;
// What kubelet-written Nodes weigh on average at most (50 images, labels, conditions:
// 10-15 KB), with room to spare: a LIST's bytes are bounded at this many per Node.
inline constexpr uint64_t kMaxAverageNodeBytes = 32 << 10;

// What objects of the other kinds (Pods, Namespaces, NetworkPolicies) may weigh on average
// in a LIST: a LIST's bytes are bounded at this many per object it may hold. Pods carry
// managedFields and statuses: 5-20 KB.
inline constexpr uint64_t kMaxAverageObjectBytes = 32 << 10;

struct HttpApiOptions {
  // Idle timeout of LIST/GET/PATCH (cpprest's timeout applies per read, not per request).
  std::chrono::seconds requestTimeout{30};
  // A watch's idle timeout is its timeoutSeconds plus this, so the server, not the
  // client, ends a healthy quiet watch.
  std::chrono::seconds watchIdleSlack{30};
  int listLimit = 500;
  // A watch line holds one Node; etcd caps an object at 1.5 MiB.
  size_t maxLineBytes = 4 << 20;
  // cpprestsdk reads a body off the network as fast as it comes and buffers it ahead of
  // the reader, without bound (a 512 MiB page sent fast took 510 MiB). What it holds
  // ahead therefore counts against these two bounds, which so bound memory too.
  // A watch stream's bytes arrived and not yet read: a server sending faster than the
  // agent takes events (a replay of history is a few MB) is cut, and the watch resumes.
  size_t maxWatchBacklog = 16 << 20;
  // One LIST page: 500 Nodes of 32 KiB, twice what kubelet-written Nodes weigh (50
  // images, labels, conditions: 10-15 KB). The decoder reads a page as it arrives.
  size_t maxPageBytes = 16 << 20;
  // One whole LIST, all its pages: a server that never ends a list (a continue token
  // forever) or sends more than the agent can hold gets a named error and a retry after
  // backoff, never a loop or an out-of-memory kill. The pages: 250 000 Nodes at limit=500.
  int maxListPages = 500;
  // The Nodes the agent can hold within its memory limit (see kDefaultMaxNodes).
  size_t maxListNodes = kDefaultMaxNodes;
  uint64_t maxListBytes = kDefaultMaxNodes * kMaxAverageNodeBytes;
  std::chrono::seconds tokenMaxAge{60};
  std::string userAgent = "routelet";
  DecodeLimits decode;
};

// Checks the CA, client certificate and key up front, so a bad file fails at startup with
// a message naming it rather than at the first TLS handshake.
// Sizes cpprestsdk's shared thread pool. Call once, before the first client: its default
// of 40 threads (each with its own malloc arena) is most of an idle agent's memory, and
// the agent keeps one watch and an occasional patch in flight.
void configureHttpThreads(size_t threads);

Result<std::unique_ptr<ApiClient>> makeHttpApiClient(const ClusterAccess& access,
                                                     HttpApiOptions options = {});

}  // namespace routelet::kube
