// The inside of Handle, and the socket calls Monitor shares with it: for the files of this
// folder that implement them (socket.cpp and one per kernel object), not for callers.
#pragma once

#include <linux/netlink.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/base/result.h"
#include "common/netlink/message.h"
#include "common/netlink/neighbour.h"
#include "common/netlink/route.h"
#include "common/netlink/socket.h"

namespace routelet::netlink {

// The kernel sizes one dump datagram up to 32 KiB (net/netlink/af_netlink.c caps
// max_recvmsg_len there); a larger buffer means no truncation even for unusual links.
inline constexpr size_t kReceiveBuffer = 256 * 1024;
// A dump that changed underneath (NLM_F_DUMP_INTR) is repeated this many times.
inline constexpr int kDumpAttempts = 5;
// How long a request waits for each answer. rtnetlink answers in the sender's context,
// in microseconds; a request left without one (an acknowledgement lost, a message built
// without NLM_F_ACK) must fail and be reported, not stop the reconcile loop for good.
inline constexpr int kReceiveTimeoutSeconds = 5;

// A netlink socket of `protocol` in the calling thread's netns, subscribed to `groups`.
Result<int> openSocket(unsigned groups, int flags, int protocol = NETLINK_ROUTE);
// Sets the receive timeout (kReceiveTimeoutSeconds) of a socket just opened; on failure
// closes it and names it as `socket` in the error.
Status setReceiveTimeout(int fd, const std::string& socket);
// One datagram from the kernel. A datagram larger than the buffer fails with EMSGSIZE
// instead of arriving cut short; one another process sent (a privileged one may send to
// this port) is dropped.
ssize_t receiveDatagram(int fd, uint8_t* buffer, size_t size);
// A receive buffer of kReceiveBuffer bytes, left uninitialised.
std::unique_ptr<uint8_t[]> receiveBuffer();
// A failed acknowledgement as an Error naming the request: errno and the kernel's extack.
Error ackError(const std::string& what, const Ack& ack);

// The request of one batch operation (socket_route.cpp, socket_neighbour.cpp).
Request request(const RouteOp& op);
Request request(const NeighborOp& op);

struct Handle::Impl {
  explicit Impl(int socket);
  ~Impl();

  uint32_t nextSeq() { return ++seq; }

  Status send(const Bytes& bytes, const std::string& what);
  // One datagram, split into messages.
  Result<std::vector<Message>> receive(const std::string& what);
  // Sends requests[begin, end) in one datagram, each message with its own seq, and puts
  // each one's acknowledgement into statuses. nftables: between an nf_tables batch begin
  // and end, which the kernel applies all or none, so the first failure ends the wait (the
  // acks still on their way carry older seqs, which the next exchange skips).
  Status exchange(const std::vector<Request>& requests, size_t begin, size_t end, bool nftables,
                  std::vector<Status>& statuses, const std::string& what);

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

}  // namespace routelet::netlink
