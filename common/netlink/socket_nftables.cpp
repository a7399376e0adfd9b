// Handle's nf_tables socket and transactions (socket.h).
#include <linux/netlink.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "common/netlink/socket.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {

Result<Handle> Handle::openNetfilter() {
  auto sock = openSocket(0, 0, NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error().wrap("open nf_tables socket");
  // A transaction travels in one datagram (the kernel applies a batch per datagram), so the
  // send buffer must hold it: 5000 IPv6 set elements are ~140 KiB. FORCE lifts the cap of
  // net.core.wmem_max with CAP_NET_ADMIN; without it, the default stays.
  int sndbuf = 8 << 20;
  if (::setsockopt(*sock, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
    (void)::setsockopt(*sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (auto st = setReceiveTimeout(*sock, "nf_tables"); !st.ok()) return st.error();
  return Handle(new Impl(*sock));
}

Status Handle::transaction(const std::vector<Request>& requests) {
  std::vector<Status> statuses(requests.size());
  std::string what = "nf_tables transaction of " + std::to_string(requests.size()) + " messages";
  if (auto st = impl_->exchange(requests, 0, requests.size(), true, statuses, what); !st.ok())
    return st;
  for (auto& st : statuses)
    if (!st.ok()) return st;
  return okStatus();
}

}  // namespace routelet::netlink
