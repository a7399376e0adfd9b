#include "common/netlink/netlink.h"

#include <linux/neighbour.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "common/base/log.h"
#include "common/netlink/message.h"
#include "common/netlink/netns.h"

namespace routelet::netlink {
namespace {

// The kernel sizes one dump datagram up to 32 KiB (net/netlink/af_netlink.c caps
// max_recvmsg_len there); a larger buffer means no truncation even for unusual links.
constexpr size_t kReceiveBuffer = 256 * 1024;
// Socket receive queue: every acknowledgement of a batch is queued before sendmsg returns
// (rtnetlink processes the batch in the sender's context), and each one costs a whole skb
// of accounting, so a batch must fit here or its acks are dropped with ENOBUFS.
constexpr int kSocketReceiveQueue = 8 * 1024 * 1024;
// Route operations per sendmsg: large enough to avoid a round trip per route, small enough
// that its acks fit in the receive queue even when SO_RCVBUFFORCE is refused.
constexpr size_t kBatchSize = 128;
// A dump that changed underneath (NLM_F_DUMP_INTR) is repeated this many times.
constexpr int kDumpAttempts = 5;
// How long a request waits for each answer. rtnetlink answers in the sender's context,
// in microseconds; a request left without one (an acknowledgement lost, a message built
// without NLM_F_ACK) must fail and be reported, not stop the reconcile loop for good.
constexpr int kReceiveTimeoutSeconds = 5;

void setOption(int fd, int option) {
  // Optional features: older kernels lack them and the library still works without.
  int one = 1;
  (void)::setsockopt(fd, SOL_NETLINK, option, &one, sizeof one);
}

void growReceiveQueue(int fd) {
  int size = kSocketReceiveQueue;
  // SO_RCVBUFFORCE passes net.core.rmem_max but needs CAP_NET_ADMIN; fall back to the cap.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

// A NETLINK_ROUTE socket in the calling thread's netns, subscribed to `groups`. The kernel
// picks its port id at bind.
Result<int> openSocket(unsigned groups, int flags, int protocol = NETLINK_ROUTE) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, protocol);
  if (fd < 0) return errnoError("open rtnetlink socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    Error e = errnoError("bind rtnetlink socket");
    ::close(fd);
    return e;
  }
  setOption(fd, NETLINK_EXT_ACK);
  setOption(fd, NETLINK_CAP_ACK);  // acks echo only the request header, not all of it
  setOption(fd, NETLINK_GET_STRICT_CHK);
  growReceiveQueue(fd);
  return fd;
}

ssize_t sendToKernel(int fd, const Bytes& bytes) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;  // port 0: the kernel
  return ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
                  sizeof kernel);
}

// One datagram from the kernel. A datagram larger than the buffer fails with EMSGSIZE
// instead of arriving cut short; one another process sent (a privileged one may send to
// this port) is dropped.
ssize_t receiveDatagram(int fd, uint8_t* buffer, size_t size) {
  for (;;) {
    sockaddr_nl from{};
    iovec iov{buffer, size};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, 0);
    if (n < 0) return n;
    if (from.nl_pid != 0) continue;
    if (msg.msg_flags & MSG_TRUNC) {
      errno = EMSGSIZE;
      return -1;
    }
    return n;
  }
}

Error ackError(const std::string& what, const Ack& ack) {
  Error e = errnoError(what, ack.error);
  if (!ack.extack.empty()) e.message += " (" + ack.extack + ")";
  return e;
}

std::string routeWhat(RouteOp::Kind kind, const Route& r) {
  switch (kind) {
    case RouteOp::Kind::kReplace:
      return "replace route " + describe(r);
    case RouteOp::Kind::kCreate:
      return "add route " + describe(r);
    case RouteOp::Kind::kDelete:
      break;
  }
  return "delete route " + describe(r);
}

std::string neighborWhat(NeighborOp::Kind kind, const Neighbor& n) {
  return (kind == NeighborOp::Kind::kReplace ? "replace " : "delete ") + describe(n);
}

}  // namespace

bool ipv6Absent(const Error& e) {
  return e.code == EAFNOSUPPORT;
}

std::string macString(const Mac& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

Result<Mac> parseMac(const std::string& text) {
  auto bad = [&] {
    return makeError("MAC address \"" + text.substr(0, 64) +
                         "\" is not six colon-separated hex bytes (like 02:42:ac:11:00:02)",
                     EINVAL);
  };
  if (text.size() != 17) return bad();
  Mac mac{};
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return bad();
    unsigned value = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = text[i * 3 + j];
      unsigned digit;
      if (c >= '0' && c <= '9')
        digit = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        digit = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        digit = static_cast<unsigned>(c - 'A' + 10);
      else
        return bad();
      value = value * 16 + digit;
    }
    mac[i] = static_cast<uint8_t>(value);
  }
  return mac;
}

std::string describe(const Route& r) {
  std::string s = r.dst.str();
  if (r.type != RTN_UNICAST) s = "type " + std::to_string(r.type) + " " + s;
  if (r.gateway) s += " via " + r.gateway->str();
  if (r.oif) s += " dev " + std::to_string(r.oif);
  if (r.table != RT_TABLE_MAIN) s += " table " + std::to_string(r.table);
  s += " proto " + std::to_string(r.protocol);
  if (r.scope != RT_SCOPE_UNIVERSE) s += " scope " + std::to_string(r.scope);
  if (r.priority) s += " metric " + std::to_string(r.priority);
  if (r.onlink) s += " onlink";
  return s;
}

std::string describe(const Neighbor& n) {
  std::string s;
  if (n.fdb) {
    s = "fdb " + macString(n.mac);
    if (n.address) s += " dst " + n.address->str();
  } else {
    s = "neigh " + (n.address ? n.address->str() : std::string("(no address)"));
    s += " lladdr " + macString(n.mac);
  }
  s += " dev " + std::to_string(n.index);
  if (n.protocol) s += " proto " + std::to_string(n.protocol);
  if (n.state != NUD_PERMANENT) s += " state " + std::to_string(n.state);
  return s;
}

// --- Handle

namespace {

// A receive buffer left uninitialised: malloc takes a block this size from fresh mmap'd
// pages, and only the pages a reply really touches are faulted in. Value-initialising it
// (a std::vector of the size) wrote all 64 pages on every open: the largest single CPU cost
// of a routelet-cni ADD, which opens two handles and mostly receives 36-byte acks.
std::unique_ptr<uint8_t[]> receiveBuffer() {
  return std::unique_ptr<uint8_t[]>(new uint8_t[kReceiveBuffer]);
}

}  // namespace

struct Handle::Impl {
  explicit Impl(int socket) : fd(socket), buffer(receiveBuffer()) {}
  ~Impl() { ::close(fd); }

  uint32_t nextSeq() { return ++seq; }

  Status send(const Bytes& bytes, const std::string& what) {
    ssize_t n = sendToKernel(fd, bytes);
    if (n < 0) return errnoError(what + ": send");
    if (static_cast<size_t>(n) != bytes.size())
      return makeError(what + ": short send of " + std::to_string(n) + " bytes", EIO);
    return okStatus();
  }

  // One datagram, split into messages.
  Result<std::vector<Message>> receive(const std::string& what) {
    for (;;) {
      ssize_t n = receiveDatagram(fd, buffer.get(), kReceiveBuffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return makeError(what + ": no answer from the kernel within " +
                             std::to_string(kReceiveTimeoutSeconds) + " s",
                         ETIMEDOUT);
      }
      if (n < 0) return errnoError(what + ": receive");
      auto messages = splitMessages(ByteView(buffer.get(), static_cast<size_t>(n)));
      if (!messages.ok()) return messages.error().wrap(what);
      return messages;
    }
  }

  // Sends requests[begin, end) in one datagram, each message with its own seq, and puts
  // each one's acknowledgement into statuses. nftables: between an nf_tables batch begin
  // and end, which the kernel applies all or none, so the first failure ends the wait (the
  // acks still on their way carry older seqs, which the next exchange skips).
  Status exchange(const std::vector<Request>& requests, size_t begin, size_t end, bool nftables,
                  std::vector<Status>& statuses, const std::string& what) {
    if (begin == end) return okStatus();
    Bytes batch = nftables ? buildNftBatch(nextSeq(), true) : Bytes{};
    uint32_t first = seq + 1;  // first + i belongs to requests[begin + i]
    for (size_t i = begin; i < end; ++i) {
      Bytes m = requests[i].build(nextSeq());
      batch.insert(batch.end(), m.begin(), m.end());
    }
    if (nftables) {
      Bytes close = buildNftBatch(nextSeq(), false);
      batch.insert(batch.end(), close.begin(), close.end());
    }
    if (auto sent = send(batch, what); !sent.ok()) return sent;
    std::vector<bool> answered(end - begin, false);
    size_t pending = end - begin;
    while (pending > 0) {
      auto messages = receive(what);
      if (!messages.ok()) return messages.error();
      for (const Message& m : *messages) {
        if (m.type != NLMSG_ERROR) continue;
        uint32_t offset = m.seq - first;  // wraps to a large value for older seqs
        if (offset >= end - begin || answered[offset]) continue;
        auto ack = parseAck(m.bytes);
        if (!ack.ok()) return ack.error().wrap(what);
        answered[offset] = true;
        --pending;
        if (!ack->error) continue;
        statuses[begin + offset] = ackError(requests[begin + offset].what, *ack);
        if (nftables) return okStatus();
      }
    }
    return okStatus();
  }

  // A change request: waits for its acknowledgement.
  Status call(const std::string& what, auto build) {
    uint32_t s = nextSeq();
    if (auto sent = send(build(s), what); !sent.ok()) return sent;
    for (;;) {
      auto messages = receive(what);
      if (!messages.ok()) return messages.error();
      for (const Message& m : *messages) {
        if (m.seq != s || m.type != NLMSG_ERROR) continue;
        auto ack = parseAck(m.bytes);
        if (!ack.ok()) return ack.error().wrap(what);
        if (ack->error) return ackError(what, *ack);
        return okStatus();
      }
    }
  }

  // A request answered by a single message (RTM_GETLINK for one link).
  Result<Bytes> get(const std::string& what, auto build) {
    uint32_t s = nextSeq();
    if (auto sent = send(build(s), what); !sent.ok()) return sent.error();
    for (;;) {
      auto messages = receive(what);
      if (!messages.ok()) return messages.error();
      for (const Message& m : *messages) {
        if (m.seq != s) continue;
        if (m.type == NLMSG_ERROR) {
          auto ack = parseAck(m.bytes);
          if (!ack.ok()) return ack.error().wrap(what);
          return ackError(what, *ack);
        }
        return Bytes(m.bytes.begin(), m.bytes.end());
      }
    }
  }

  // Every message of a dump, repeated when the kernel flags it as interrupted by a
  // concurrent change (NLM_F_DUMP_INTR), so callers see one consistent snapshot.
  Result<std::vector<Bytes>> dump(const std::string& what, auto build) {
    for (int attempt = 0;; ++attempt) {
      auto once = dumpOnce(what, build);
      if (!once.ok()) return once.error();
      if (!once->second) return std::move(once->first);
      if (attempt + 1 == kDumpAttempts)
        return makeError(what + ": the table kept changing during " +
                             std::to_string(kDumpAttempts) + " dumps; retry later",
                         EAGAIN);
    }
  }

  Result<std::pair<std::vector<Bytes>, bool>> dumpOnce(const std::string& what, auto build) {
    uint32_t s = nextSeq();
    if (auto sent = send(build(s), what); !sent.ok()) return sent.error();
    std::vector<Bytes> out;
    bool interrupted = false;
    for (;;) {
      auto messages = receive(what);
      if (!messages.ok()) return messages.error();
      for (const Message& m : *messages) {
        if (m.seq != s) continue;
        if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
        if (m.type == NLMSG_ERROR) {
          auto ack = parseAck(m.bytes);
          if (!ack.ok()) return ack.error().wrap(what);
          return ackError(what, *ack);
        }
        if (m.type == NLMSG_DONE) {
          // A dump that fails part way reports the errno in NLMSG_DONE's payload.
          int status = 0;
          if (m.bytes.size() >= sizeof(nlmsghdr) + sizeof status)
            std::memcpy(&status, m.bytes.data() + sizeof(nlmsghdr), sizeof status);
          if (status < 0) return ackError(what, Ack{s, -status, ""});
          return std::make_pair(std::move(out), interrupted);
        }
        out.emplace_back(m.bytes.begin(), m.bytes.end());
      }
    }
  }

  int fd;
  uint32_t seq = 0;
  std::unique_ptr<uint8_t[]> buffer;
};

Handle::Handle(Impl* impl) : impl_(impl) {}
Handle::Handle(Handle&& o) noexcept : impl_(o.impl_) {
  o.impl_ = nullptr;
}
Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    delete impl_;
    impl_ = o.impl_;
    o.impl_ = nullptr;
  }
  return *this;
}
Handle::~Handle() {
  delete impl_;
}

int Handle::fd() const {
  return impl_ ? impl_->fd : -1;
}

Result<Handle> Handle::open() {
  auto sock = openSocket(0, 0);
  if (!sock.ok()) return sock.error();
  timeval timeout{kReceiveTimeoutSeconds, 0};
  if (::setsockopt(*sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    Error e = errnoError("set the rtnetlink receive timeout");
    ::close(*sock);
    return e;
  }
  return Handle(new Impl(*sock));
}

Result<Handle> Handle::openNetfilter() {
  auto sock = openSocket(0, 0, NETLINK_NETFILTER);
  if (!sock.ok()) return sock.error().wrap("open nf_tables socket");
  timeval timeout{kReceiveTimeoutSeconds, 0};
  // A transaction travels in one datagram (the kernel applies a batch per datagram), so the
  // send buffer must hold it: 5000 IPv6 set elements are ~140 KiB. FORCE lifts the cap of
  // net.core.wmem_max with CAP_NET_ADMIN; without it, the default stays.
  int sndbuf = 8 << 20;
  if (::setsockopt(*sock, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
    (void)::setsockopt(*sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  if (::setsockopt(*sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0) {
    Error e = errnoError("set the nf_tables receive timeout");
    ::close(*sock);
    return e;
  }
  return Handle(new Impl(*sock));
}

Result<Handle> Handle::openIn(int nsFd) {
  // Reopening through /proc validates the descriptor as a network namespace and gives an
  // owned copy for Enter.
  std::string path = "/proc/self/fd/" + std::to_string(nsFd);
  auto ns = netns::Fd::open(path);
  if (!ns.ok())
    return ns.error().wrap("open rtnetlink socket in namespace fd " + std::to_string(nsFd));
  // The guard returns this thread to its namespace on every path, failures included.
  auto entered = netns::Enter::into(*ns);
  if (!entered.ok()) return entered.error();
  return open();
}

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

Status Handle::addAddress(int index, const ip::Prefix& prefix, bool nodad) {
  return impl_->call("add address " + prefix.str() + " to link " + std::to_string(index),
                     [&](uint32_t s) { return buildNewAddress(s, index, prefix, nodad); });
}

Status Handle::deleteAddress(int index, const ip::Prefix& prefix) {
  return impl_->call("delete address " + prefix.str() + " from link " + std::to_string(index),
                     [&](uint32_t s) { return buildDeleteAddress(s, index, prefix); });
}

Result<std::vector<AddressEntry>> Handle::addresses(int index) {
  auto messages =
      impl_->dump("list addresses", [&](uint32_t s) { return buildAddressDump(s, index); });
  if (!messages.ok()) return messages.error();
  std::vector<AddressEntry> out;
  for (const Bytes& m : *messages) {
    auto entry = parseAddress(m);
    if (!entry.ok()) return entry.error().wrap("list addresses");
    if (index == 0 || entry->index == index) out.push_back(*entry);
  }
  return out;
}

Status Handle::replaceRoute(const Route& route) {
  return impl_->call(routeWhat(RouteOp::Kind::kReplace, route),
                     [&](uint32_t s) { return buildRoute(s, RouteOp::Kind::kReplace, route); });
}

Status Handle::deleteRoute(const Route& route) {
  return impl_->call(routeWhat(RouteOp::Kind::kDelete, route),
                     [&](uint32_t s) { return buildRoute(s, RouteOp::Kind::kDelete, route); });
}

Result<std::vector<Route>> Handle::routes(std::optional<ip::Family> family,
                                          std::optional<uint8_t> protocol, uint32_t table) {
  std::vector<ip::Family> families;
  if (family)
    families = {*family};
  else
    families = {ip::Family::kV4, ip::Family::kV6};
  std::vector<Route> out;
  for (ip::Family f : families) {
    std::string what =
        std::string("list IPv") + ip::familyName(f) + " routes in table " + std::to_string(table);
    auto messages =
        impl_->dump(what, [&](uint32_t s) { return buildRouteDump(s, f, protocol, table); });
    // Under NETLINK_GET_STRICT_CHK the kernel answers ENOENT for a table that does not
    // exist yet (inet_dump_fib, inet6_dump_fib): it simply holds no routes.
    if (!messages.ok() && messages.error().code == ENOENT && table != RT_TABLE_MAIN) continue;
    if (!messages.ok()) return messages.error();
    for (const Bytes& m : *messages) {
      auto parsed = parseRoute(m);
      if (!parsed.ok()) return parsed.error().wrap(what);
      const Route& r = parsed->route;
      // Kernels without strict checking ignore the header's filter: filter here too.
      if (parsed->cloned || r.dst.family() != f || r.table != table) continue;
      if (protocol && r.protocol != *protocol) continue;
      out.push_back(r);
    }
  }
  return out;
}

Result<std::vector<Status>> Handle::apply(const std::vector<RouteOp>& ops) {
  return apply({}, ops);
}

Result<std::vector<Status>> Handle::apply(const std::vector<NeighborOp>& neighbors,
                                          const std::vector<RouteOp>& routes) {
  // Made one sendmsg at a time: at 5000 Nodes every request's text and builder at once
  // (~130 bytes each) were a megabyte of the agent's peak.
  return batchOf(neighbors.size() + routes.size(), [&](size_t i) -> Request {
    if (i < neighbors.size()) {
      const NeighborOp& op = neighbors[i];
      return {neighborWhat(op.kind, op.entry),
              [&op](uint32_t s) { return buildNeighbor(s, op.kind, op.entry); }};
    }
    const RouteOp& op = routes[i - neighbors.size()];
    return {routeWhat(op.kind, op.route),
            [&op](uint32_t s) { return buildRoute(s, op.kind, op.route); }};
  });
}

Result<std::vector<Status>> Handle::batchOf(size_t total,
                                            const std::function<Request(size_t)>& make) {
  std::vector<Status> statuses(total);
  std::vector<Request> chunk;
  std::vector<Status> answers;
  for (size_t begin = 0; begin < total; begin += kBatchSize) {
    size_t end = std::min(total, begin + kBatchSize);
    chunk.clear();
    for (size_t i = begin; i < end; ++i) chunk.push_back(make(i));
    answers.assign(chunk.size(), Status{});
    std::string what = "apply operations " + std::to_string(begin + 1) + "-" + std::to_string(end) +
                       " of " + std::to_string(total);
    if (auto st = impl_->exchange(chunk, 0, chunk.size(), false, answers, what); !st.ok())
      return st.error();
    std::move(answers.begin(), answers.end(), statuses.begin() + static_cast<ptrdiff_t>(begin));
  }
  return statuses;
}

Result<std::vector<Neighbor>> Handle::neighbors(int index, bool fdb) {
  std::vector<uint8_t> families;
  if (fdb)
    families = {AF_BRIDGE};
  else
    families = {AF_INET, AF_INET6};
  std::vector<Neighbor> out;
  for (uint8_t family : families) {
    std::string what = std::string("list ") +
                       (fdb                  ? "fdb entries"
                        : family == AF_INET6 ? "IPv6 neighbours"
                                             : "IPv4 neighbours") +
                       " of link " + std::to_string(index);
    auto messages =
        impl_->dump(what, [&](uint32_t s) { return buildNeighborDump(s, family, index); });
    if (!messages.ok() && family == AF_INET6 && ipv6Absent(messages.error())) continue;
    if (!messages.ok()) return messages.error();
    for (const Bytes& m : *messages) {
      auto parsed = parseNeighbor(m);
      if (!parsed.ok()) return parsed.error().wrap(what);
      const Neighbor& n = parsed->neighbor;
      // Kernels without strict checking ignore the filter; a bridge port's dump also holds
      // its bridge's entries (NTF_MASTER), which are not the device's own.
      if (n.index != index || n.fdb != fdb || (fdb && !parsed->self)) continue;
      out.push_back(n);
    }
  }
  return out;
}

Result<std::vector<Status>> Handle::batch(const std::vector<Request>& requests) {
  return batchOf(requests.size(), [&](size_t i) { return requests[i]; });
}

Result<uint32_t> Handle::portId() const {
  sockaddr_nl local{};
  socklen_t len = sizeof local;
  if (::getsockname(impl_->fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return errnoError("netlink getsockname");
  return local.nl_pid;
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

// --- Monitor

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
