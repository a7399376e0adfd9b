// The real System: rtnetlink and libnftables in the calling thread's network namespace,
// the filesystem, and HTTP on loopback.
#pragma once

#include <memory>

#include "controller/admin/system.h"

namespace routelet::admin {

class KernelSystem : public System {
 public:
  static Result<std::unique_ptr<KernelSystem>> open();

  Result<std::vector<netlink::Route>> routes() override;
  Result<std::vector<netlink::Link>> links() override;
  Status deleteRoute(const netlink::Route& route) override;
  Status deleteLink(const netlink::Link& link) override;
  Result<std::vector<std::string>> nftablesTables() override;
  Status deleteTable(const std::string& table) override;
  Result<std::string> readFile(const std::string& path) override;
  Result<std::vector<DirEntry>> listDir(const std::string& path) override;
  bool exists(const std::string& path) override;
  Status remove(const std::string& path, bool directory) override;
  HttpAnswer httpGet(const std::string& listen, const std::string& path) override;

 private:
  explicit KernelSystem(netlink::Handle nl) : nl_(std::move(nl)) {}
  netlink::Handle nl_;
};

}  // namespace routelet::admin
