#include "controller/kube/value_bound.h"

namespace routelet::kube {

ValueBoundBuf::int_type ValueBoundBuf::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (exceeded_) return traits_type::eof();
  std::streamsize n = source_->sgetn(block_, sizeof block_);
  if (n <= 0) return traits_type::eof();
  for (std::streamsize i = 0; i < n; ++i) {
    if (!scan(block_[i])) {
      exceeded_ = true;
      return traits_type::eof();
    }
  }
  setg(block_, block_, block_ + n);
  return traits_type::to_int_type(*gptr());
}

bool ValueBoundBuf::scan(char c) {
  if (inString_) {
    if (escaped_) {
      escaped_ = false;
    } else if (c == '\\') {
      escaped_ = true;
    } else if (c == '"') {
      inString_ = false;
      run_ = 0;
      return true;
    }
    return ++run_ <= maxValue_;
  }
  switch (c) {
    case '"':
      inString_ = true;
      run_ = 0;
      return true;
    case '{':
    case '}':
    case '[':
    case ']':
    case ':':
    case ',':
    case ' ':
    case '\t':
    case '\n':
    case '\r':
      run_ = 0;
      return true;
    default:
      return ++run_ <= maxValue_;
  }
}

}  // namespace routelet::kube
