#include "common/netlink/socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/netlink/message.h"
#include "common/netlink/netns.h"
#include "common/netlink/socket_internal.h"

namespace routelet::netlink {
namespace {

// Socket receive queue: every acknowledgement of a batch is queued before sendmsg returns
// (rtnetlink processes the batch in the sender's context), and each one costs a whole skb
// of accounting, so a batch must fit here or its acks are dropped with ENOBUFS.
constexpr int kSocketReceiveQueue = 8 * 1024 * 1024;
// Route operations per sendmsg: large enough to avoid a round trip per route, small enough
// that its acks fit in the receive queue even when SO_RCVBUFFORCE is refused.
constexpr size_t kBatchSize = 128;

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

ssize_t sendToKernel(int fd, const Bytes& bytes) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;  // port 0: the kernel
  return ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&kernel),
                  sizeof kernel);
}

}  // namespace

// The kernel picks the socket's port id at bind.
Result<int> openSocket(unsigned groups, int flags, int protocol) {
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

Status setReceiveTimeout(int fd, const std::string& socket) {
  timeval timeout{kReceiveTimeoutSeconds, 0};
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0) return okStatus();
  Error e = errnoError("set the " + socket + " receive timeout");
  ::close(fd);
  return e;
}

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

// A receive buffer left uninitialised: malloc takes a block this size from fresh mmap'd
// pages, and only the pages a reply really touches are faulted in. Value-initialising it
// (a std::vector of the size) wrote all 64 pages on every open: the largest single CPU cost
// of a routelet-cni ADD, which opens two handles and mostly receives 36-byte acks.
std::unique_ptr<uint8_t[]> receiveBuffer() {
  return std::unique_ptr<uint8_t[]>(new uint8_t[kReceiveBuffer]);
}

Handle::Impl::Impl(int socket) : fd(socket), buffer(receiveBuffer()) {}

Handle::Impl::~Impl() {
  ::close(fd);
}

Status Handle::Impl::send(const Bytes& bytes, const std::string& what) {
  ssize_t n = sendToKernel(fd, bytes);
  if (n < 0) return errnoError(what + ": send");
  if (static_cast<size_t>(n) != bytes.size())
    return makeError(what + ": short send of " + std::to_string(n) + " bytes", EIO);
  return okStatus();
}

Result<std::vector<Message>> Handle::Impl::receive(const std::string& what) {
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

Status Handle::Impl::exchange(const std::vector<Request>& requests, size_t begin, size_t end,
                              bool nftables, std::vector<Status>& statuses,
                              const std::string& what) {
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
  if (auto st = setReceiveTimeout(*sock, "rtnetlink"); !st.ok()) return st.error();
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

Result<std::vector<Status>> Handle::batch(const std::vector<Request>& requests) {
  return batchOf(requests.size(), [&](size_t i) { return requests[i]; });
}

Result<std::vector<Status>> Handle::apply(const std::vector<RouteOp>& ops) {
  return apply({}, ops);
}

Result<std::vector<Status>> Handle::apply(const std::vector<NeighborOp>& neighbors,
                                          const std::vector<RouteOp>& routes) {
  // Made one sendmsg at a time: at 5000 Nodes every request's text and builder at once
  // (~130 bytes each) were a megabyte of the agent's peak.
  return batchOf(neighbors.size() + routes.size(), [&](size_t i) {
    return i < neighbors.size() ? request(neighbors[i]) : request(routes[i - neighbors.size()]);
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

Result<uint32_t> Handle::portId() const {
  sockaddr_nl local{};
  socklen_t len = sizeof local;
  if (::getsockname(impl_->fd, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return errnoError("netlink getsockname");
  return local.nl_pid;
}

}  // namespace routelet::netlink
