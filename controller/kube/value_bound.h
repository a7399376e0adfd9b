// Bounds what nlohmann's lexer may hold of one JSON value read from a stream.
#pragma once

#include <cstddef>
#include <streambuf>

namespace routelet::kube {

// A stream as the parser reads it, failing any one JSON value (string, number, literal)
// longer than maxValue: nlohmann's lexer holds the value being read whole. A small lexer
// of its own: inside a string every byte counts, outside one any structural character or
// whitespace ends a value.
class ValueBoundBuf : public std::streambuf {
 public:
  ValueBoundBuf(std::streambuf* source, size_t maxValue) : source_(source), maxValue_(maxValue) {}
  bool exceeded() const { return exceeded_; }

 protected:
  int_type underflow() override;

 private:
  bool scan(char c);

  std::streambuf* source_;
  size_t maxValue_;
  size_t run_ = 0;
  bool inString_ = false;
  bool escaped_ = false;
  bool exceeded_ = false;
  char block_[16 * 1024];
};

}  // namespace routelet::kube
