// Asks a chained CNI plugin which spec versions it speaks (CNI_COMMAND=VERSION), so the
// conflist offers the runtime only versions every plugin in the chain accepts.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace routelet::node {

// The supportedVersions of a VERSION answer; an error naming what is wrong otherwise.
Result<std::vector<std::string>> parseVersionAnswer(std::string_view stdoutText);

// Runs the plugin at path with CNI_COMMAND=VERSION and {"cniVersion":"1.0.0"} on stdin, as
// libcni does, and parses its answer. Bounded: a plugin that does not answer within
// timeout is killed, and more than 64 KiB of output is an error.
Result<std::vector<std::string>> probePluginVersions(
    const std::string& path, std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace routelet::node
