#include "controller/kube/line_splitter.h"

#include <cerrno>

namespace routelet::kube {

Status LineSplitter::feed(std::string_view chunk,
                          const std::function<Status(std::string_view)>& onLine) {
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view part = chunk.substr(0, nl);
    if (buffer_.size() + part.size() > maxLine_)
      return makeError("watch stream line longer than " + std::to_string(maxLine_) + " bytes",
                       EMSGSIZE);
    if (nl == std::string_view::npos) {
      buffer_.append(part);
      return okStatus();
    }
    chunk.remove_prefix(nl + 1);
    std::string_view line = part;
    if (!buffer_.empty()) {
      buffer_.append(part);
      line = buffer_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Status st = line.empty() ? okStatus() : onLine(line);
    buffer_.clear();
    if (!st) return st;
  }
  return okStatus();
}

}  // namespace routelet::kube
