// Handle's requests about links (socket.h): get, list, create, change and delete them.
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "common/netlink/message.h"
#include "common/netlink/socket.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {

Result<Link> Handle::linkByName(const std::string& name) {
  auto reply =
      impl_->get("get link " + name, [&](uint32_t s) { return buildGetLinkByName(s, name); });
  if (!reply.ok()) return reply.error();
  return parseLink(*reply);
}

Result<Link> Handle::linkByIndex(int index) {
  auto reply = impl_->get("get link " + std::to_string(index),
                          [&](uint32_t s) { return buildGetLinkByIndex(s, index); });
  if (!reply.ok()) return reply.error();
  return parseLink(*reply);
}

Result<std::vector<Link>> Handle::links() {
  auto messages = impl_->dump("list links", [](uint32_t s) { return buildLinkDump(s); });
  if (!messages.ok()) return messages.error();
  std::vector<Link> out;
  for (const Bytes& m : *messages) {
    auto link = parseLink(m);
    if (!link.ok()) return link.error().wrap("list links");
    out.push_back(std::move(*link));
  }
  return out;
}

Status Handle::createBridge(const std::string& name, const Mac& mac, uint32_t mtu) {
  return impl_->call("create bridge " + name,
                     [&](uint32_t s) { return buildNewBridge(s, name, mac, mtu); });
}

Status Handle::createVeth(const std::string& hostName, const Mac& hostMac,
                          const std::string& peerName, const Mac& peerMac, uint32_t mtu,
                          int peerNsFd) {
  return createVeth(VethSpec{.name = hostName,
                             .mac = hostMac,
                             .mtu = mtu,
                             .peerName = peerName,
                             .peerMac = peerMac,
                             .peerNsFd = peerNsFd});
}

Status Handle::createVeth(const VethSpec& spec) {
  const std::string what = "create veth " + spec.name + " (peer " + spec.peerName + ")";
  std::vector<Request> requests = {{what, [&](uint32_t s) { return buildNewVeth(s, spec); }}};
  // Settings the kernel takes only once the link exists, in the same sendmsg.
  if (spec.noLinkLocal)
    requests.push_back({"turn off IPv6 link-local on " + spec.name,
                        [&](uint32_t s) { return buildSetNoLinkLocal(s, 0, spec.name); }});
  if (spec.hairpin)
    requests.push_back({"turn on hairpin mode on " + spec.name,
                        [&](uint32_t s) { return buildSetHairpin(s, 0, spec.name, true); }});
  if (requests.size() == 1) return impl_->call(what, requests[0].build);
  auto done = batch(requests);
  if (!done) return done.error();
  const Status& created = (*done)[0];
  if (!created) return created;
  for (std::size_t i = 1; i < done->size(); ++i) {
    const Status& st = (*done)[i];
    // No IPv6 state (a kernel without IPv6, an MTU below 1280): no link-local to turn off.
    if (st || (spec.noLinkLocal && i == 1 && ipv6Absent(st.error()))) continue;
    (void)deleteLinkByName(spec.name);  // all or nothing; the error to report is why it failed
    return st;
  }
  return created;
}

Status Handle::createVxlan(const VxlanSpec& spec) {
  return impl_->call("create vxlan " + spec.name + " (vni " + std::to_string(spec.info.vni) + ")",
                     [&](uint32_t s) { return buildNewVxlan(s, spec); });
}

Status Handle::setUp(int index, bool up) {
  return impl_->call("set link " + std::to_string(index) + (up ? " up" : " down"),
                     [&](uint32_t s) { return buildSetUp(s, index, up); });
}

Status Handle::setMaster(int index, int masterIndex) {
  return impl_->call(
      "set master of link " + std::to_string(index) + " to " + std::to_string(masterIndex),
      [&](uint32_t s) { return buildSetMaster(s, index, masterIndex); });
}

Status Handle::setMtu(int index, uint32_t mtu) {
  return impl_->call("set mtu of link " + std::to_string(index) + " to " + std::to_string(mtu),
                     [&](uint32_t s) { return buildSetMtu(s, index, mtu); });
}

Status Handle::setMac(int index, const Mac& mac) {
  return impl_->call("set mac of link " + std::to_string(index) + " to " + macString(mac),
                     [&](uint32_t s) { return buildSetMac(s, index, mac); });
}

Status Handle::rename(int index, const std::string& newName) {
  return impl_->call("rename link " + std::to_string(index) + " to " + newName,
                     [&](uint32_t s) { return buildRename(s, index, newName); });
}

Status Handle::deleteLink(int index) {
  return impl_->call("delete link " + std::to_string(index),
                     [&](uint32_t s) { return buildDeleteLink(s, index); });
}

Status Handle::deleteLinkByName(const std::string& name) {
  return impl_->call("delete link " + name,
                     [&](uint32_t s) { return buildDeleteLinkByName(s, name); });
}

}  // namespace routelet::netlink
