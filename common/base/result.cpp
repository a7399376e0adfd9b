#include "common/base/result.h"

#include <cstring>

namespace routelet {

Error errnoError(const std::string& what, int err) {
  return Error{err, what + ": " + std::strerror(err)};
}

}  // namespace routelet
