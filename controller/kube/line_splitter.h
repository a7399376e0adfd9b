// Splits a byte stream into lines. A watch body arrives in chunks whose boundaries have
// nothing to do with the one-JSON-object-per-line framing; a line longer than the limit is
// an error (the caller reconnects) so a broken or hostile server cannot grow memory.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace routelet::kube {

class LineSplitter {
 public:
  explicit LineSplitter(size_t maxLine) : maxLine_(maxLine) {}

  // Calls onLine for every complete line in pending + chunk, without the "\n" (and without
  // a "\r" before it); empty lines are skipped. Stops at the first non-ok status from
  // onLine and returns it. After an error the splitter must be reset() before reuse.
  Status feed(std::string_view chunk, const std::function<Status(std::string_view)>& onLine);

  // Bytes of an incomplete line held back. At the end of a stream a non-zero value means
  // the last line was cut.
  size_t pending() const { return buffer_.size(); }
  void reset() { buffer_.clear(); }

 private:
  size_t maxLine_;
  std::string buffer_;
};

}  // namespace routelet::kube
