#include "controller/model/policy_objects.h"

#include <algorithm>

namespace routelet::model {

const char* protocolName(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return "TCP";
    case Protocol::kUDP:
      return "UDP";
    case Protocol::kSCTP:
      return "SCTP";
  }
  return "?";
}

namespace {

const std::string* valueOf(const Labels& labels, const std::string& key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, const std::string& k) { return kv.first < k; });
  return it != labels.end() && it->first == key ? &it->second : nullptr;
}

}  // namespace

bool LabelSelector::matches(const Labels& labels) const {
  for (const auto& r : requirements) {
    const std::string* v = valueOf(labels, r.key);
    bool in = v && std::binary_search(r.values.begin(), r.values.end(), *v);
    switch (r.op) {
      case LabelRequirement::Op::kIn:
        if (!in) return false;
        break;
      case LabelRequirement::Op::kNotIn:
        if (in) return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!v) return false;
        break;
      case LabelRequirement::Op::kDoesNotExist:
        if (v) return false;
        break;
    }
  }
  return true;
}

std::string LabelSelector::text() const {
  std::string out;
  for (const auto& r : requirements) {
    if (!out.empty()) out += ",";
    switch (r.op) {
      case LabelRequirement::Op::kIn:
      case LabelRequirement::Op::kNotIn: {
        out += r.key + (r.op == LabelRequirement::Op::kIn ? " in (" : " notin (");
        for (size_t i = 0; i < r.values.size(); ++i) out += (i ? "," : "") + r.values[i];
        out += ")";
        break;
      }
      case LabelRequirement::Op::kExists:
        out += r.key;
        break;
      case LabelRequirement::Op::kDoesNotExist:
        out += "!" + r.key;
        break;
    }
  }
  return out;
}

}  // namespace routelet::model
