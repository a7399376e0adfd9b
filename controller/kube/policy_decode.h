// Pods, Namespaces and NetworkPolicies from the API (what object_decode.h kept of them)
// into the agent's model (model/policy_objects.h). Every field is checked: a bad value is
// left out and named, with its path and value, in the object's problems; for a policy, what
// cannot be read allows nothing (it never widens the policy).
#pragma once

#include <nlohmann/json.hpp>

#include "controller/kube/api_client.h"
#include "controller/model/policy_objects.h"

namespace routelet::kube {

// What of each kind is kept while it streams in: the queries for listObjects/watchObjects.
ObjectQuery podsQuery(size_t maxItems);
ObjectQuery namespacesQuery(size_t maxItems);
ObjectQuery networkPoliciesQuery(size_t maxItems);

model::PodObject decodePod(const nlohmann::json& object);
model::NamespaceObject decodeNamespace(const nlohmann::json& object);
model::NetworkPolicyObject decodeNetworkPolicy(const nlohmann::json& object);

}  // namespace routelet::kube
