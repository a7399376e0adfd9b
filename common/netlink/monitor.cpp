#include "common/netlink/monitor.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/base/log.h"
#include "common/netlink/message.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {

Result<Monitor> Monitor::open(bool neighbors) {
  uint32_t groups =
      RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (neighbors) groups |= RTMGRP_NEIGH;
  auto sock = openSocket(groups, SOCK_NONBLOCK);
  if (!sock.ok()) return sock.error().wrap("open rtnetlink monitor");
  return Monitor(*sock, false);
}

Result<Monitor> Monitor::openNftables() {
  auto sock = openSocket(1u << (NFNLGRP_NFTABLES - 1), SOCK_NONBLOCK, NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error().wrap("open nf_tables monitor");
  return Monitor(*sock, true);
}

Status Monitor::ignoreElementsFrom(const std::vector<uint32_t>& ports) {
  if (!nftables_) return makeError("ignoreElementsFrom: not an nf_tables monitor", EINVAL);
  // Classic BPF over the first message of each notification skb (the kernel coalesces a
  // transaction's notifications of one port into skbs of their own). Loads read network
  // order; netlink headers are in host order, hence ntohs/ntohl on the constants.
  auto type = [](int msg) {
    return ntohs(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | msg));
  };
  std::vector<sock_filter> prog;
  uint8_t n = static_cast<uint8_t>(std::min<size_t>(ports.size(), 32));
  prog.push_back(BPF_STMT(BPF_LD | BPF_H | BPF_ABS, offsetof(nlmsghdr, nlmsg_type)));
  prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, type(NFT_MSG_NEWSETELEM), 1, 0));
  prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, type(NFT_MSG_DELSETELEM), 0,
                          static_cast<uint8_t>(n + 1)));
  prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(nlmsghdr, nlmsg_pid)));
  for (uint8_t i = 0; i < n; ++i)
    prog.push_back(
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(ports[i]), static_cast<uint8_t>(n - i), 0));
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0xffffffff));  // keep
  prog.push_back(BPF_STMT(BPF_RET | BPF_K, 0));           // drop
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), prog.data()};
  if (::setsockopt(fd_.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0)
    return makeError(std::string("nf_tables monitor: attach filter: ") + std::strerror(errno),
                     errno);
  return okStatus();
}

namespace {

// Datagrams read per drain, so a flood cannot keep the caller here forever; the socket
// stays readable and the next poll comes back.
constexpr int kDrainDatagrams = 1024;

// A notification's parse, or nullopt (logged) when it does not parse: one bad message is
// skipped, the rest of the datagram still counts.
template <typename T>
std::optional<T> parsedOrSkipped(Result<T> parsed) {
  if (parsed.ok()) return std::move(*parsed);
  log::warn("rtnetlink monitor: skipping " + parsed.error().message);
  return std::nullopt;
}

// An event of `kind` with every other field empty, for the caller to fill in.
Event emptyEvent(Event::Kind kind) {
  return Event{kind, 0, "", std::nullopt, {}, std::nullopt};
}

std::optional<Event> toEvent(const Message& m) {
  switch (m.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      auto link = parsedOrSkipped(parseLink(m.bytes));
      if (!link) return std::nullopt;
      Event e =
          emptyEvent(m.type == RTM_NEWLINK ? Event::Kind::kLinkChanged : Event::Kind::kLinkRemoved);
      e.linkIndex = link->index;
      e.linkName = link->name;
      return e;
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      auto parsed = parsedOrSkipped(parseRoute(m.bytes));
      if (!parsed || parsed->cloned) return std::nullopt;
      Event e = emptyEvent(m.type == RTM_NEWROUTE ? Event::Kind::kRouteAdded
                                                  : Event::Kind::kRouteRemoved);
      e.route = parsed->route;
      return e;
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      auto entry = parsedOrSkipped(parseAddress(m.bytes));
      if (!entry) return std::nullopt;
      Event e = emptyEvent(m.type == RTM_NEWADDR ? Event::Kind::kAddressAdded
                                                 : Event::Kind::kAddressRemoved);
      e.linkIndex = entry->index;
      e.address = entry->prefix;
      return e;
    }
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: {
      auto parsed = parsedOrSkipped(parseNeighbor(m.bytes));
      // A bridge's own forwarding database (NTF_MASTER): MACs it learned on its ports.
      if (!parsed || (parsed->neighbor.fdb && !parsed->self)) return std::nullopt;
      Event e = emptyEvent(m.type == RTM_NEWNEIGH ? Event::Kind::kNeighborChanged
                                                  : Event::Kind::kNeighborRemoved);
      e.neighbor = parsed->neighbor;
      return e;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

Result<std::vector<Event>> Monitor::drain() {
  std::vector<Event> events;
  auto buffer = receiveBuffer();
  const char* what = nftables_ ? "nf_tables monitor" : "rtnetlink monitor";
  for (int i = 0; i < kDrainDatagrams; ++i) {
    ssize_t n = receiveDatagram(fd_.get(), buffer.get(), kReceiveBuffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        pending_ = {};
        return makeError(std::string(what) + " overrun: the kernel dropped events; resync fully",
                         ENOBUFS);
      }
      return errnoError(std::string(what) + ": receive");
    }
    auto messages = splitMessages(ByteView(buffer.get(), static_cast<size_t>(n)));
    if (!messages.ok()) return messages.error().wrap(what);
    for (const Message& m : *messages) {
      if (!nftables_) {
        if (auto e = toEvent(m)) events.push_back(std::move(*e));
        continue;
      }
      auto notice = parseNftNotice(m.bytes);
      if (!notice) {
        log::warn("nf_tables monitor: skipping " + notice.error().message);
        continue;
      }
      if (!*notice) continue;
      if ((*notice)->kind == NftNotice::Kind::kGeneration) {
        pending_.pid = (*notice)->pid;
        pending_.portid = (*notice)->portid;
        events.push_back(
            Event{Event::Kind::kNftCommit, 0, "", std::nullopt, std::move(pending_), std::nullopt});
        pending_ = {};
        continue;
      }
      std::pair<uint8_t, std::string> table{(*notice)->family, std::move((*notice)->table)};
      // A transaction names few tables; a bound keeps a flood of junk from growing this.
      if (std::find(pending_.tables.begin(), pending_.tables.end(), table) ==
              pending_.tables.end() &&
          pending_.tables.size() < 64)
        pending_.tables.push_back(std::move(table));
    }
  }
  return events;
}

Result<std::vector<Event>> Monitor::wait(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (n < 0 && errno != EINTR) return errnoError("netlink monitor: poll");
  if (n <= 0) return std::vector<Event>{};
  return drain();
}

}  // namespace routelet::netlink
