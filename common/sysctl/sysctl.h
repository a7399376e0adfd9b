// sysctl access through /proc/sys. Network sysctls are per network namespace: the kernel
// resolves /proc/sys/net against the netns of the thread that opens the file, so call
// these from inside the namespace you mean.
#pragma once

#include <string>

#include "common/base/result.h"

namespace routelet::sysctl {

// Where the sysctls are. A container without privileges gets a read-only /proc/sys from its
// runtime, so the agent's DaemonSet mounts the node's /proc/sys/net elsewhere (a hostPath
// volume, writable) and names that place's parent as the root instead.
inline constexpr const char* kProcSys = "/proc/sys";

// key in dotted form, e.g. "net.ipv4.ip_forward" or "net.ipv6.conf.eth0.accept_dad".
Result<std::string> get(const std::string& key, const std::string& root = kProcSys);
// Writes only when the value differs, so an unchanged setting costs one read.
Status set(const std::string& key, const std::string& value, const std::string& root = kProcSys);
std::string pathOf(const std::string& key, const std::string& root = kProcSys);
// The value in a sysctl file's content: without the newline the kernel ends it with.
std::string valueOf(std::string content);

}  // namespace routelet::sysctl
