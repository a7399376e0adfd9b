// Decoding objects of the kinds besides Node that the agent watches (Pods, Namespaces,
// NetworkPolicies) from the API's JSON: parsed as they stream by with only the fields a
// KeepField chooses kept, so a LIST page of 500 Pods never becomes a DOM and a Pod's
// managedFields, volumes and statuses are never held. What is kept becomes a small JSON
// value, which the kind's own decoder (policy_decode.h) turns into its compact form.
#pragma once

#include <cstddef>
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "controller/kube/api_client.h"
#include "controller/kube/node_decode.h"

namespace routelet::kube {

// One page of a list: each of items[] goes to onObject as soon as its closing brace is
// read. Past maxItems items, the rest are skipped and the result is an E2BIG error; one
// JSON value longer than maxValueBytes ends the decoding with an E2BIG error too.
Result<ListMeta> decodeObjectList(std::istream& json, const KeepField& keep,
                                  const ObjectCallback& onObject, size_t maxItems,
                                  size_t maxValueBytes);

struct ObjectEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;  // what keep() chose of it
  int errorCode = 0;      // ERROR: the Status's code and message
  std::string errorMessage;
};

// One line of a watch stream: {"type": ..., "object": ...}.
Result<ObjectEvent> decodeObjectEvent(std::string_view line, const KeepField& keep);

}  // namespace routelet::kube
