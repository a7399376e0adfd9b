// Decoding Node JSON from the API into the compact model::Node, keeping only what routing
// needs. Everything goes through nlohmann's SAX interface: a LIST page of 500 Nodes is
// 5-7 MB (each Node carries ~50 image names) and must never become a DOM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"
#include "controller/model/node.h"

namespace routelet::kube {

struct DecodeLimits {
  // routelet.io/* annotation values are short facts (an IP, a CIDR, a state); a longer one
  // is hostile or a bug and is dropped with a problem line.
  size_t maxAnnotationValue = 1024;
  size_t maxAnnotations = 32;
  // problems is bounded too: a Node with thousands of bad addresses must stay small.
  size_t maxProblems = 16;
  // A NodeList's items past this many end the decoding with an E2BIG error: the caller's
  // budget of Nodes it can hold (a whole LIST's, spread over its pages).
  size_t maxItems = SIZE_MAX;
  // Read from a stream, one JSON value (a string, a number) longer than this ends the
  // decoding with an E2BIG error: the parser holds each value whole, so within a 128 MiB
  // page one value could otherwise take 128 MiB. etcd stores no object over 1.5 MiB.
  size_t maxValueBytes = 2 << 20;
  // Set: only the Node of this name keeps annotations and the NetworkUnavailable status.
  // The agent reads them on its own Node alone; at 5000 Nodes that all run routelet, the
  // peers' routelet.io/* annotations would otherwise cost ~4 MiB.
  std::string annotationsOnlyFor;
};

// One Node object. An object without metadata.name decodes with an empty name (callers
// skip it); bad field values are left out and named in Node::problems. Errors only for
// input that is not a JSON object.
Result<model::Node> decodeNode(std::string_view json, const DecodeLimits& limits = {});

struct ListMeta {
  std::string resourceVersion;  // metadata.resourceVersion: where a WATCH continues
  std::string continueToken;    // metadata.continue: "" on the last page
};

// One page of a NodeList: each of items[] is decoded and handed to onNode as soon as its
// closing brace is read, so at most one model::Node is held at a time.
Result<ListMeta> decodeNodeList(std::string_view json,
                                const std::function<void(model::Node&&)>& onNode,
                                const DecodeLimits& limits = {});
// The same, read from a stream as it arrives (the API client's response body): the page
// is never held whole. Exceptions of the stream's buffer (a read error) pass through.
Result<ListMeta> decodeNodeList(std::istream& json,
                                const std::function<void(model::Node&&)>& onNode,
                                const DecodeLimits& limits = {});

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* watchEventTypeName(WatchEventType type);
// The type a watch event line names ("ADDED"...); nullopt for any other text.
std::optional<WatchEventType> watchEventTypeOf(std::string_view name);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  // ADDED/MODIFIED/DELETED: the Node. BOOKMARK: only node.resourceVersion is meaningful.
  model::Node node;
  // ERROR: the Status object's code and message (410 = resourceVersion too old: relist).
  int errorCode = 0;
  std::string errorMessage;
};

// One line of a watch stream: {"type": ..., "object": ...}.
Result<WatchEvent> decodeWatchEvent(std::string_view json, const DecodeLimits& limits = {});

}  // namespace routelet::kube
