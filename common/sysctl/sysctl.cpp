#include "common/sysctl/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/fs/files.h"

namespace routelet::sysctl {

std::string pathOf(const std::string& key, const std::string& root) {
  // Interface names may contain '.', which /proc/sys keeps as '.'; only the separators
  // before the interface name are dots to convert. routelet's keys are all of the form
  // net.<proto>.conf.<ifname>.<knob> or net.<proto>.<knob>.
  std::string path = root + "/";
  const std::string confMarker = ".conf.";
  auto conf = key.find(confMarker);
  if (conf != std::string::npos) {
    auto lastDot = key.rfind('.');
    std::string head = key.substr(0, conf + confMarker.size());
    std::string ifname = key.substr(head.size(), lastDot - head.size());
    std::string knob = key.substr(lastDot + 1);
    for (char& c : head)
      if (c == '.') c = '/';
    return path + head + ifname + "/" + knob;
  }
  std::string rest = key;
  for (char& c : rest)
    if (c == '.') c = '/';
  return path + rest;
}

std::string valueOf(std::string content) {
  while (!content.empty() && (content.back() == '\n' || content.back() == ' ')) content.pop_back();
  return content;
}

Result<std::string> get(const std::string& key, const std::string& root) {
  auto content = fs::readFile(pathOf(key, root), 4096);
  if (!content) return content.error().wrap("sysctl " + key);
  return valueOf(std::move(*content));
}

Status set(const std::string& key, const std::string& value, const std::string& root) {
  auto current = get(key, root);
  if (current && *current == value) return okStatus();
  std::string path = pathOf(key, root);
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errnoError("sysctl " + key + "=" + value + ": open " + path);
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size()))
    return errnoError("sysctl " + key + "=" + value, err);
  return okStatus();
}

}  // namespace routelet::sysctl
