#include "controller/admin/kernel_system.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs/files.h"
#include "common/nft/nftables.h"
#include "controller/admin/http_probe.h"

namespace routelet::admin {

Result<std::unique_ptr<KernelSystem>> KernelSystem::open() {
  auto nl = netlink::Handle::open();
  if (!nl) return nl.error().wrap("netlink");
  return std::unique_ptr<KernelSystem>(new KernelSystem(std::move(*nl)));
}

Result<std::vector<netlink::Route>> KernelSystem::routes() {
  return nl_.routes();
}

Result<std::vector<netlink::Link>> KernelSystem::links() {
  return nl_.links();
}

Status KernelSystem::deleteRoute(const netlink::Route& route) {
  return nl_.deleteRoute(route);
}

Status KernelSystem::deleteLink(const netlink::Link& link) {
  return nl_.deleteLink(link.index);
}

// A libnftables context per call: a command makes one or two calls, and a status that
// cannot use nftables (no CAP_NET_ADMIN) still reads everything else.
Result<std::vector<std::string>> KernelSystem::nftablesTables() {
  auto nft = nft::Nftables::open();
  if (!nft) return nft.error();
  return nft->tables();
}

Status KernelSystem::deleteTable(const std::string& table) {
  auto ours = routeletTables();
  if (std::find(ours.begin(), ours.end(), table) == ours.end())
    return makeError("not a routelet table: " + table, EINVAL);
  auto nft = nft::Nftables::open();
  if (!nft) return nft.error();
  // Made first, so that deleting one that is gone succeeds.
  return nft->run("add table " + table + "\ndelete table " + table + "\n");
}

Result<std::string> KernelSystem::readFile(const std::string& path) {
  return fs::readFile(path);
}

Result<std::vector<DirEntry>> KernelSystem::listDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return errnoError("list " + path);
  std::vector<DirEntry> out;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    bool dir = ::lstat((path + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    out.push_back({name, dir});
  }
  ::closedir(d);
  return out;
}

bool KernelSystem::exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Status KernelSystem::remove(const std::string& path, bool directory) {
  int rc = directory ? ::rmdir(path.c_str()) : ::unlink(path.c_str());
  if (rc != 0) return errnoError((directory ? "rmdir " : "unlink ") + path);
  return okStatus();
}

HttpAnswer KernelSystem::httpGet(const std::string& listen, const std::string& path) {
  return admin::httpGet(listen, path);
}

}  // namespace routelet::admin
