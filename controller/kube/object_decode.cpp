#include "controller/kube/object_decode.h"

#include <cerrno>
#include <vector>

#include "common/base/text.h"
#include "controller/kube/value_bound.h"

namespace routelet::kube {
namespace {

using json = nlohmann::json;

// nlohmann's parser callback, told the depth of every event: it follows the path of keys
// down to each value, asks keep() about the keys inside an object (below `base`, the depth
// of the object's own members), and hands over each list item as it closes.
class Filter {
 public:
  Filter(int base, const KeepField& keep, const ObjectCallback* onItem, size_t maxItems)
      : base_(base), keep_(keep), onItem_(onItem), maxItems_(maxItems) {}

  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    auto d = static_cast<size_t>(depth);
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (arrays_.size() < d + 2) {
          arrays_.resize(d + 2);
          keys_.resize(d + 2);
        }
        arrays_[d + 1] = event == json::parse_event_t::array_start;
        return true;
      case json::parse_event_t::key: {
        if (keys_.size() <= d) {
          keys_.resize(d + 1);
          arrays_.resize(d + 1);
        }
        keys_[d] = parsed.get<std::string>();
        if (depth < base_) return true;
        path_.clear();
        for (size_t k = static_cast<size_t>(base_); k <= d; ++k)
          if (!arrays_[k]) path_.push_back(keys_[k]);
        // An ERROR event's Status says why in these two.
        if (path_.size() == 1 && (path_[0] == "code" || path_[0] == "message")) return true;
        return keep_(path_);
      }
      case json::parse_event_t::object_end:
        // An item of a list's items[] (the array at depth 2, under the root's "items").
        if (onItem_ && depth == 2 && arrays_.size() > 2 && arrays_[2] && keys_[1] == "items") {
          if (++items_ <= maxItems_) (*onItem_)(std::move(parsed));
          return false;
        }
        return true;
      default:
        return true;
    }
  }
  bool tooMany() const { return items_ > maxItems_; }

 private:
  int base_;
  const KeepField& keep_;
  const ObjectCallback* onItem_;
  size_t maxItems_;
  size_t items_ = 0;
  std::vector<std::string> keys_;  // per container depth: its last key
  std::vector<bool> arrays_;       // per container depth: an array
  std::vector<std::string> path_;
};

std::string stringAt(const json& j, const char* a, const char* b) {
  if (!j.is_object()) return "";
  auto i = j.find(a);
  if (i == j.end() || !i->is_object()) return "";
  auto k = i->find(b);
  return k != i->end() && k->is_string() ? k->get<std::string>() : "";
}

}  // namespace

Result<ListMeta> decodeObjectList(std::istream& input, const KeepField& keep,
                                  const ObjectCallback& onObject, size_t maxItems,
                                  size_t maxValueBytes) {
  ValueBoundBuf bounded(input.rdbuf(), maxValueBytes);
  std::istream in(&bounded);
  Filter filter(3, keep, &onObject, maxItems);
  json root;
  try {
    root = json::parse(in, std::ref(filter));
  } catch (const json::exception& e) {
    if (bounded.exceeded())
      return makeError("decode list: a JSON value longer than " + std::to_string(maxValueBytes) +
                           " bytes (maxValueBytes)",
                       E2BIG);
    return makeError(std::string("decode list: invalid JSON: ") + e.what(), EINVAL);
  }
  if (!root.is_object()) return makeError("decode list: not a JSON object", EINVAL);
  if (filter.tooMany())
    return makeError("decode list: more than " + std::to_string(maxItems) + " items", E2BIG);
  return ListMeta{stringAt(root, "metadata", "resourceVersion"),
                  stringAt(root, "metadata", "continue")};
}

Result<ObjectEvent> decodeObjectEvent(std::string_view line, const KeepField& keep) {
  Filter filter(2, keep, nullptr, 0);
  json root;
  try {
    root = json::parse(line.begin(), line.end(), std::ref(filter));
  } catch (const json::exception& e) {
    return makeError(std::string("decode watch event: invalid JSON: ") + e.what(), EINVAL);
  }
  if (!root.is_object()) return makeError("decode watch event: not a JSON object", EINVAL);
  auto type = root.find("type");
  std::string t = type != root.end() && type->is_string() ? type->get<std::string>() : "";
  ObjectEvent ev;
  auto kind = watchEventTypeOf(t);
  if (!kind) return makeError("decode watch event: type " + quote(t) + " unknown", EINVAL);
  ev.type = *kind;
  auto object = root.find("object");
  if (object == root.end() || !object->is_object())
    return makeError("decode watch event: " + t + " without an object", EINVAL);
  ev.object = std::move(*object);
  if (ev.type == WatchEventType::kError) {
    auto code = ev.object.find("code");
    auto message = ev.object.find("message");
    if (code != ev.object.end() && code->is_number_integer()) ev.errorCode = code->get<int>();
    if (message != ev.object.end() && message->is_string())
      ev.errorMessage = message->get<std::string>();
  }
  return ev;
}

}  // namespace routelet::kube
