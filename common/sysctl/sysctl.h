// sysctl access through /proc/sys. Network sysctls are per network namespace: the kernel
// resolves /proc/sys/net against the netns of the thread that opens the file, so call
// these from inside the namespace you mean.
#pragma once

#include <string>

#include "common/base/result.h"

namespace routelet::sysctl {

// key in dotted form, e.g. "net.ipv4.ip_forward" or "net.ipv6.conf.eth0.accept_dad".
Result<std::string> get(const std::string& key);
// Writes only when the value differs, so an unchanged setting costs one read.
Status set(const std::string& key, const std::string& value);
std::string pathOf(const std::string& key);
// The value in a sysctl file's content: without the newline the kernel ends it with.
std::string valueOf(std::string content);

}  // namespace routelet::sysctl
