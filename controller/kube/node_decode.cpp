#include "controller/kube/node_decode.h"

#include <cerrno>
#include <cstdint>
#include <istream>
#include <nlohmann/json.hpp>
#include <optional>
#include <streambuf>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/base/text.h"
#include "controller/kube/value_bound.h"

namespace routelet::kube {
namespace {

using json = nlohmann::json;

// Where in the document a JSON value sits. Only paths routelet reads get their own
// context; everything else is skipped by depth counting without being looked at.
enum class Ctx : uint8_t {
  kListRoot,
  kListMeta,
  kItems,
  kEventRoot,
  kNode,
  kMeta,
  kAnnotations,
  kSpec,
  kPodCIDRs,
  kStatus,
  kAddresses,
  kAddress,
  kConditions,
  kCondition,
};

enum class Kind : uint8_t { kNull, kString, kNumber, kOther, kObject, kArray };

const char* kindName(Kind k) {
  switch (k) {
    case Kind::kNull:
      return "null";
    case Kind::kString:
      return "a string";
    case Kind::kNumber:
      return "a number";
    case Kind::kOther:
      return "a boolean";
    case Kind::kObject:
      return "an object";
    case Kind::kArray:
      return "an array";
  }
  return "?";
}

constexpr std::string_view kAnnotationPrefix = "routelet.io/";

// Problem lines name values with quote(): bounded, because the value may be hostile, and
// safe to log and to dump into status.json.
//
// ip::* messages repeat the value ("invalid CIDR \"x\": ..."); the problem line already
// names it after the field, so drop the repetition.
std::string withoutValue(std::string message, std::string_view value) {
  std::string q = " " + quote(value);
  auto at = message.find(q);
  if (at != std::string::npos) message.erase(at, q.size());
  return message;
}

struct Frame {
  Ctx ctx;
  std::string segment;  // how the parent reached this frame: "spec", "[3]"
  std::string key;      // objects: the key whose value comes next
  size_t count = 0;     // arrays: elements started so far
};

// The parts of a Node being decoded that need the whole object before they can be judged.
struct NodeState {
  model::Node node;
  std::vector<std::string> podCIDRs;
  std::string podCIDR;
  std::string addrType, addrValue;
  std::string condType, condStatus;
  size_t addrIndex = 0;
};

class Handler {
 public:
  Handler(Ctx root, const DecodeLimits& limits, const std::function<void(model::Node&&)>* onNode)
      : root_(root), limits_(limits), onNode_(onNode) {}

  // --- nlohmann SAX interface ---
  bool null() { return scalar(Kind::kNull, nullptr, 0); }
  bool boolean(bool) { return scalar(Kind::kOther, nullptr, 0); }
  bool number_integer(json::number_integer_t v) { return scalar(Kind::kNumber, nullptr, v); }
  bool number_unsigned(json::number_unsigned_t v) {
    return scalar(Kind::kNumber, nullptr, v > INT32_MAX ? 0 : static_cast<int64_t>(v));
  }
  bool number_float(json::number_float_t, const std::string&) {
    return scalar(Kind::kNumber, nullptr, 0);
  }
  bool string(std::string& s) { return scalar(Kind::kString, &s, 0); }
  bool binary(json::binary_t&) { return scalar(Kind::kOther, nullptr, 0); }
  bool start_object(std::size_t) { return open(Kind::kObject); }
  bool start_array(std::size_t) { return open(Kind::kArray); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool key(std::string& k) {
    if (skip_ == 0) frames_.back().key = std::move(k);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const json::exception& e) {
    error_ = "invalid JSON at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  // --- results ---
  const std::string& error() const { return error_; }
  int errorCode() const { return errorCode_; }
  bool sawRoot() const { return sawRoot_; }
  ListMeta& listMeta() { return listMeta_; }
  model::Node& node() { return last_; }
  const std::string& eventType() const { return eventType_; }
  int statusCode() const { return statusCode_; }
  const std::string& statusMessage() const { return statusMessage_; }

 private:
  void problem(std::string line) {
    auto& p = state_.node.problems;
    if (p.size() < limits_.maxProblems) {
      p.push_back(std::move(line));
    } else {
      ++droppedProblems_;
    }
  }

  // The path of the value about to be read in the current frame, relative to the Node.
  std::string path() const {
    std::string out;
    for (size_t i = nodeFrame_ + 1; i < frames_.size(); ++i) append(&out, frames_[i].segment);
    const Frame& f = frames_.back();
    if (f.ctx == Ctx::kPodCIDRs || f.ctx == Ctx::kAddresses || f.ctx == Ctx::kConditions) {
      append(&out, "[" + std::to_string(f.count - 1) + "]");
    } else {
      append(&out, f.key);
    }
    return out;
  }
  static void append(std::string* out, const std::string& seg) {
    if (!out->empty() && (seg.empty() || seg[0] != '[')) out->push_back('.');
    out->append(seg);
  }

  // The context of a container value about to open in the current frame, or nullopt to
  // skip it. Reports a problem when a field routelet needs has the wrong JSON type.
  std::optional<Ctx> child(Kind kind) {
    Frame& f = frames_.back();
    const std::string& k = f.key;
    auto want = [&](Kind expected, Ctx ctx) -> std::optional<Ctx> {
      if (kind == expected) return ctx;
      if (kind != Kind::kNull)
        problem(path() + ": expected " + kindName(expected) + ", got " + kindName(kind));
      return std::nullopt;
    };
    switch (f.ctx) {
      case Ctx::kListRoot:
        if (k == "metadata" && kind == Kind::kObject) return Ctx::kListMeta;
        if (k == "items" && kind == Kind::kArray) return Ctx::kItems;
        return std::nullopt;
      case Ctx::kItems:
        ++f.count;
        if (kind == Kind::kObject) return Ctx::kNode;
        return std::nullopt;
      case Ctx::kEventRoot:
        if (k == "object" && kind == Kind::kObject) return Ctx::kNode;
        return std::nullopt;
      case Ctx::kNode:
        // A Status (ERROR event) has a string "status"; only an object is a NodeStatus.
        if (k == "metadata" && kind == Kind::kObject) return Ctx::kMeta;
        if (k == "spec") return want(Kind::kObject, Ctx::kSpec);
        if (k == "status" && kind == Kind::kObject) return Ctx::kStatus;
        return std::nullopt;
      case Ctx::kMeta:
        if (k == "annotations") return want(Kind::kObject, Ctx::kAnnotations);
        if (k == "name" || k == "uid" || k == "resourceVersion" || k == "deletionTimestamp")
          return want(Kind::kString, Ctx::kMeta);  // never a container: reports, skips
        return std::nullopt;
      case Ctx::kAnnotations:
        if (k.starts_with(kAnnotationPrefix))
          problem("metadata.annotations[" + quote(k) + "]: expected a string, got " +
                  kindName(kind));
        return std::nullopt;
      case Ctx::kSpec:
        if (k == "podCIDRs") return want(Kind::kArray, Ctx::kPodCIDRs);
        if (k == "podCIDR") return want(Kind::kString, Ctx::kSpec);
        return std::nullopt;
      case Ctx::kStatus:
        if (k == "addresses") return want(Kind::kArray, Ctx::kAddresses);
        if (k == "conditions") return want(Kind::kArray, Ctx::kConditions);
        return std::nullopt;
      case Ctx::kAddresses:
        ++f.count;
        if (kind == Kind::kObject) {
          state_.addrType.clear();
          state_.addrValue.clear();
          state_.addrIndex = f.count - 1;
          return Ctx::kAddress;
        }
        problem(path() + ": expected an object, got " + kindName(kind));
        return std::nullopt;
      case Ctx::kConditions:
        ++f.count;
        if (kind == Kind::kObject) {
          state_.condType.clear();
          state_.condStatus.clear();
          return Ctx::kCondition;
        }
        return std::nullopt;
      case Ctx::kPodCIDRs:
        ++f.count;
        problem(path() + ": expected a string, got " + kindName(kind));
        return std::nullopt;
      case Ctx::kAddress:
      case Ctx::kCondition:
      case Ctx::kListMeta:
        return std::nullopt;
    }
    return std::nullopt;
  }

  bool open(Kind kind) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (frames_.empty()) {
      sawRoot_ = true;
      if (kind != Kind::kObject) {
        error_ = std::string("expected a JSON object, got ") + kindName(kind);
        return false;
      }
      frames_.push_back(Frame{root_, "", "", 0});
      if (root_ == Ctx::kNode) startNode();
      return true;
    }
    if (frames_.back().ctx == Ctx::kItems && kind == Kind::kObject &&
        frames_.back().count >= limits_.maxItems) {
      error_ = "items[" + std::to_string(frames_.back().count) + "]: more than " +
               std::to_string(limits_.maxItems) + " items";
      errorCode_ = E2BIG;
      return false;
    }
    std::optional<Ctx> ctx = child(kind);
    if (!ctx || (kind == Kind::kObject) == isArrayCtx(*ctx) || *ctx == frames_.back().ctx) {
      skip_ = 1;
      return true;
    }
    const Frame& parent = frames_.back();
    std::string segment =
        isArrayCtx(parent.ctx) ? "[" + std::to_string(parent.count - 1) + "]" : parent.key;
    frames_.push_back(Frame{*ctx, std::move(segment), "", 0});
    if (*ctx == Ctx::kNode) startNode();
    return true;
  }

  static bool isArrayCtx(Ctx c) {
    return c == Ctx::kItems || c == Ctx::kPodCIDRs || c == Ctx::kAddresses || c == Ctx::kConditions;
  }

  bool close() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Ctx ctx = frames_.back().ctx;
    frames_.pop_back();
    switch (ctx) {
      case Ctx::kNode:
        finishNode();
        break;
      case Ctx::kAddress:
        finishAddress();
        break;
      case Ctx::kCondition:
        // Kubernetes keys conditions by type; the last one of a type wins, as in a merge.
        if (state_.condType == "NetworkUnavailable" && !state_.condStatus.empty())
          state_.node.networkUnavailable = state_.condStatus;
        break;
      default:
        break;
    }
    return true;
  }

  bool scalar(Kind kind, std::string* s, int64_t number) {
    if (skip_ > 0) return true;
    if (frames_.empty()) {
      sawRoot_ = true;
      error_ = std::string("expected a JSON object, got ") + kindName(kind);
      return false;
    }
    Frame& f = frames_.back();
    const std::string& k = f.key;
    bool isString = kind == Kind::kString;
    // A field routelet reads holding a non-string: named, then ignored (null is "unset").
    auto wrongType = [&](Kind expected) {
      if (kind != Kind::kNull)
        problem(path() + ": expected " + kindName(expected) + ", got " + kindName(kind));
    };
    auto notString = [&]() { wrongType(Kind::kString); };
    switch (f.ctx) {
      case Ctx::kListMeta:
        if (isString && k == "resourceVersion") listMeta_.resourceVersion = std::move(*s);
        if (isString && k == "continue") listMeta_.continueToken = std::move(*s);
        break;
      case Ctx::kEventRoot:
        if (isString && k == "type") eventType_ = std::move(*s);
        break;
      case Ctx::kItems:
      case Ctx::kConditions:
        ++f.count;
        break;
      case Ctx::kNode:
        // Fields of a Status object, which an ERROR watch event carries instead of a Node.
        if (kind == Kind::kNumber && k == "code") statusCode_ = static_cast<int>(number);
        if (isString && k == "message") statusMessage_ = safeText(*s, 1024);
        break;
      case Ctx::kMeta:
        if (k == "name" || k == "uid" || k == "resourceVersion") {
          if (!isString) {
            notString();
          } else if (k == "name") {
            // The name reaches logs, status.json and `routelet status` on a terminal. An
            // API server never sends control characters in one (JSON may escape them).
            state_.node.name = safeText(*s);
          } else if (k == "uid") {
            state_.node.uid = std::move(*s);
          } else {
            state_.node.resourceVersion = std::move(*s);
          }
        } else if (k == "deletionTimestamp") {
          if (isString)
            state_.node.deleting = true;
          else
            notString();
        } else if (k == "annotations") {
          wrongType(Kind::kObject);
        }
        break;
      case Ctx::kAnnotations:
        if (k.starts_with(kAnnotationPrefix)) annotation(kind, s);
        break;
      case Ctx::kSpec:
        if (k == "podCIDR") {
          if (isString)
            state_.podCIDR = std::move(*s);
          else
            notString();
        } else if (k == "podCIDRs") {
          wrongType(Kind::kArray);
        }
        break;
      case Ctx::kPodCIDRs:
        ++f.count;
        if (isString)
          state_.podCIDRs.push_back(std::move(*s));
        else
          problem(path() + ": expected a string, got " + kindName(kind));
        break;
      case Ctx::kStatus:
        if (k == "addresses" || k == "conditions") wrongType(Kind::kArray);
        break;
      case Ctx::kAddresses:
        ++f.count;
        problem(path() + ": expected an object, got " + kindName(kind));
        break;
      case Ctx::kAddress:
        if (isString && k == "type") state_.addrType = std::move(*s);
        if (isString && k == "address") state_.addrValue = std::move(*s);
        break;
      case Ctx::kCondition:
        if (isString && k == "type") state_.condType = std::move(*s);
        if (isString && k == "status") state_.condStatus = s->substr(0, 32);
        break;
      case Ctx::kListRoot:
        break;
    }
    return true;
  }

  void annotation(Kind kind, std::string* s) {
    const std::string& k = frames_.back().key;
    std::string field = "metadata.annotations[" + quote(k) + "]";
    auto& annotations = state_.node.annotations;
    if (kind != Kind::kString) {
      problem(field + ": expected a string, got " + kindName(kind));
    } else if (s->size() > limits_.maxAnnotationValue) {
      problem(field + ": value of " + std::to_string(s->size()) + " bytes is over the " +
              std::to_string(limits_.maxAnnotationValue) + "-byte limit, ignored");
    } else if (annotations.size() >= limits_.maxAnnotations && !annotations.contains(k)) {
      problem(field + ": more than " + std::to_string(limits_.maxAnnotations) +
              " routelet.io/ annotations, ignored");
    } else {
      annotations[k] = std::move(*s);
    }
  }

  void startNode() {
    state_ = NodeState{};
    droppedProblems_ = 0;
    nodeFrame_ = frames_.size() - 1;
  }

  void finishAddress() {
    const std::string& t = state_.addrType;
    if (t != "InternalIP" && t != "ExternalIP") return;  // Hostname, InternalDNS, ...
    std::string field = "status.addresses[" + std::to_string(state_.addrIndex) + "].address";
    auto a = ip::Address::parse(state_.addrValue);
    if (!a) {
      problem(field + " " + quote(state_.addrValue) + ": " +
              withoutValue(a.error().message, state_.addrValue));
      return;
    }
    (t == "InternalIP" ? state_.node.internalIPs : state_.node.externalIPs).push_back(*a);
  }

  // spec.podCIDRs wins over the legacy single spec.podCIDR (Kubernetes keeps
  // podCIDRs[0] == podCIDR); at most one CIDR per family (kube-controller-manager's
  // dual-stack rule), and a CIDR must name a network, not a host in it.
  void finishPodCIDRs() {
    std::vector<std::pair<std::string, std::string>> cidrs;  // field, value
    if (!state_.podCIDRs.empty()) {
      for (size_t i = 0; i < state_.podCIDRs.size(); ++i)
        cidrs.emplace_back("spec.podCIDRs[" + std::to_string(i) + "]", state_.podCIDRs[i]);
    } else if (!state_.podCIDR.empty()) {
      cidrs.emplace_back("spec.podCIDR", state_.podCIDR);
    }
    for (const auto& [field, value] : cidrs) {
      auto p = ip::Prefix::parse(value, /*strict=*/true);
      if (!p) {
        problem(field + " " + quote(value) + ": " + withoutValue(p.error().message, value));
        continue;
      }
      if (state_.node.podCIDR(p->family())) {
        problem(field + " " + quote(value) + ": a second IPv" + ip::familyName(p->family()) +
                " podCIDR; only the first of a family is used");
        continue;
      }
      state_.node.podCIDRs.push_back(*p);
    }
  }

  void finishNode() {
    finishPodCIDRs();
    if (!limits_.annotationsOnlyFor.empty() && state_.node.name != limits_.annotationsOnlyFor) {
      state_.node.annotations.clear();
      state_.node.networkUnavailable.reset();
    }
    if (droppedProblems_ > 0)
      state_.node.problems.push_back("... and " + std::to_string(droppedProblems_) +
                                     " more problems");
    if (onNode_ && *onNode_) {
      (*onNode_)(std::move(state_.node));
    } else {
      last_ = std::move(state_.node);
    }
    state_ = NodeState{};
  }

  Ctx root_;
  const DecodeLimits& limits_;
  const std::function<void(model::Node&&)>* onNode_;
  std::vector<Frame> frames_;
  size_t skip_ = 0;
  size_t nodeFrame_ = 0;
  size_t droppedProblems_ = 0;
  bool sawRoot_ = false;
  NodeState state_;
  model::Node last_;
  ListMeta listMeta_;
  std::string eventType_;
  int statusCode_ = 0;
  std::string statusMessage_;
  std::string error_;
  int errorCode_ = EINVAL;
};

// input: a string_view, or a std::istream read as it arrives.
template <class Input>
Status run(Input&& input, Handler* h) {
  try {
    bool ok;
    if constexpr (std::is_same_v<std::decay_t<Input>, std::string_view>)
      ok = json::sax_parse(input.begin(), input.end(), h);
    else
      ok = json::sax_parse(input, h);
    if (!ok || !h->error().empty())
      return makeError(h->error().empty() ? "invalid JSON" : h->error(), h->errorCode());
  } catch (const json::exception& e) {
    return makeError(std::string("invalid JSON: ") + e.what(), EINVAL);
  }
  if (!h->sawRoot()) return makeError("invalid JSON: empty input", EINVAL);
  return okStatus();
}

template <class Input>
Result<ListMeta> decodeList(Input&& input, const std::function<void(model::Node&&)>& onNode,
                            const DecodeLimits& limits) {
  Handler h(Ctx::kListRoot, limits, &onNode);
  Status st = run(std::forward<Input>(input), &h);
  if (!st) return st.error().wrap("decode NodeList");
  return std::move(h.listMeta());
}

Result<ListMeta> decodeList(std::istream& input, const std::function<void(model::Node&&)>& onNode,
                            const DecodeLimits& limits) {
  ValueBoundBuf bounded(input.rdbuf(), limits.maxValueBytes);
  std::istream in(&bounded);
  auto meta = decodeList<std::istream&>(in, onNode, limits);
  if (bounded.exceeded())
    return makeError("decode NodeList: a JSON value longer than " +
                         std::to_string(limits.maxValueBytes) + " bytes (maxValueBytes)",
                     E2BIG);
  return meta;
}

}  // namespace

const char* watchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "?";
}

std::optional<WatchEventType> watchEventTypeOf(std::string_view name) {
  for (auto type : {WatchEventType::kAdded, WatchEventType::kModified, WatchEventType::kDeleted,
                    WatchEventType::kBookmark, WatchEventType::kError})
    if (name == watchEventTypeName(type)) return type;
  return std::nullopt;
}

Result<model::Node> decodeNode(std::string_view json, const DecodeLimits& limits) {
  Handler h(Ctx::kNode, limits, nullptr);
  Status st = run(json, &h);
  if (!st) return st.error().wrap("decode Node");
  return std::move(h.node());
}

Result<ListMeta> decodeNodeList(std::string_view json,
                                const std::function<void(model::Node&&)>& onNode,
                                const DecodeLimits& limits) {
  return decodeList(json, onNode, limits);
}

Result<ListMeta> decodeNodeList(std::istream& json,
                                const std::function<void(model::Node&&)>& onNode,
                                const DecodeLimits& limits) {
  return decodeList(json, onNode, limits);
}

Result<WatchEvent> decodeWatchEvent(std::string_view json, const DecodeLimits& limits) {
  Handler h(Ctx::kEventRoot, limits, nullptr);
  Status st = run(json, &h);
  if (!st) return st.error().wrap("decode watch event");
  WatchEvent ev;
  auto type = watchEventTypeOf(h.eventType());
  if (!type)
    return makeError("decode watch event: type " + quote(h.eventType()) + " unknown", EINVAL);
  ev.type = *type;
  ev.node = std::move(h.node());
  if (ev.type == WatchEventType::kError) {
    ev.errorCode = h.statusCode();
    ev.errorMessage = h.statusMessage();
  }
  return ev;
}

}  // namespace routelet::kube
