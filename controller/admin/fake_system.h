// A stateful in-memory node for the admin commands: routes, links, nftables tables, files
// and the agent's endpoints. Deletions really remove, so a second cleanup sees what the first one
// left.
#pragma once

#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "controller/admin/system.h"

namespace routelet::admin::testing {

// A VXLAN device as the agent makes it (routelet.vxlan: static forwarding, over eth0 = 2).
inline netlink::Link vxlanLink(int index, const char* name) {
  netlink::Link l;
  l.index = index;
  l.name = name;
  l.kind = "vxlan";
  l.up = true;
  l.mtu = 1450;
  l.vxlan = netlink::VxlanInfo{1, 8472, *ip::Address::parse("192.168.1.11"), 2, false};
  return l;
}

class FakeSystem : public System {
 public:
  std::vector<netlink::Route> routeTable;
  std::vector<netlink::Link> linkTable;
  std::set<std::string> nftTables;  // "inet routelet", "inet other", ...
  std::string nftError;             // non-empty: nftables cannot be used (no CAP_NET_ADMIN)
  std::map<std::string, std::string> files;  // path -> content
  std::set<std::string> dirs;
  std::map<std::string, HttpAnswer> http;  // path ("/healthz") -> answer; missing: refused
  int mutations = 0;

  void addFile(const std::string& path, const std::string& content = "") {
    files[path] = content;
    for (auto slash = path.rfind('/'); slash != std::string::npos && slash > 0;
         slash = path.rfind('/', slash - 1)) {
      dirs.insert(path.substr(0, slash));
    }
  }

  Result<std::vector<netlink::Route>> routes() override { return routeTable; }
  Result<std::vector<netlink::Link>> links() override { return linkTable; }
  Status deleteRoute(const netlink::Route& route) override {
    for (auto it = routeTable.begin(); it != routeTable.end(); ++it) {
      if (it->key() == route.key() && it->protocol == route.protocol) {
        routeTable.erase(it);
        ++mutations;
        return okStatus();
      }
    }
    return makeError("no such route", ESRCH);
  }
  Status deleteLink(const netlink::Link& link) override {
    for (auto it = linkTable.begin(); it != linkTable.end(); ++it) {
      if (it->index == link.index) {
        linkTable.erase(it);
        // As the kernel does: the routes through a device go with it.
        std::erase_if(routeTable, [&](const netlink::Route& r) { return r.oif == link.index; });
        ++mutations;
        return okStatus();
      }
    }
    return makeError("no such device", ENODEV);
  }
  Result<std::vector<std::string>> nftablesTables() override {
    if (!nftError.empty()) return makeError(nftError, EPERM);
    return std::vector<std::string>(nftTables.begin(), nftTables.end());
  }
  Status deleteTable(const std::string& table) override {
    if (!nftError.empty()) return makeError(nftError, EPERM);
    auto ours = routeletTables();
    if (std::find(ours.begin(), ours.end(), table) == ours.end())
      return makeError("not a routelet table: " + table, EINVAL);
    if (nftTables.erase(table)) ++mutations;
    return okStatus();
  }
  Result<std::string> readFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return makeError(path + ": No such file or directory", ENOENT);
    return it->second;
  }
  Result<std::vector<DirEntry>> listDir(const std::string& path) override {
    if (!dirs.count(path)) return makeError(path + ": No such file or directory", ENOENT);
    std::vector<DirEntry> out;
    std::string prefix = path + "/";
    auto child = [&](const std::string& p) -> std::string {
      if (p.rfind(prefix, 0) != 0) return "";
      std::string rest = p.substr(prefix.size());
      return rest.find('/') == std::string::npos ? rest : "";
    };
    for (const auto& [p, c] : files)
      if (auto n = child(p); !n.empty()) out.push_back({n, false});
    for (const auto& d : dirs)
      if (auto n = child(d); !n.empty()) out.push_back({n, true});
    return out;
  }
  bool exists(const std::string& path) override { return files.count(path) || dirs.count(path); }
  Status remove(const std::string& path, bool directory) override {
    if (!directory) {
      if (!files.erase(path)) return makeError("unlink " + path, ENOENT);
      ++mutations;
      return okStatus();
    }
    if (!dirs.count(path)) return makeError("rmdir " + path, ENOENT);
    auto entries = listDir(path);
    if (!entries->empty()) return makeError("rmdir " + path + ": Directory not empty", ENOTEMPTY);
    dirs.erase(path);
    ++mutations;
    return okStatus();
  }
  HttpAnswer httpGet(const std::string&, const std::string& path) override {
    auto it = http.find(path);
    if (it == http.end()) return HttpAnswer{0, "connect 127.0.0.1:9654: Connection refused"};
    return it->second;
  }
};

}  // namespace routelet::admin::testing
