// The clock of the masquerade benchmark's heal part (not a test). Run inside a namespace
// (ip netns exec NS): subscribes to NFNLGRP_NFTABLES there, as the agent's own nf_tables
// monitor does, and prints one line per committed transaction:
//
//     <monotonic_ns> <pid> <tables> <elements>
//
// monotonic_ns: CLOCK_MONOTONIC when the datagram holding the commit notice
// (NFT_MSG_NEWGEN) was read; the clock is the same in every namespace, so the driver can
// compare it with its own stamps. pid: NFTA_GEN_PROC_PID, the thread that committed. tables:
// the tables the transaction created (+) or deleted (-), e.g. "-inet/routelet,+inet/routelet",
// or "=" for neither. elements: its set element notices (added plus deleted).
//
// "READY" once subscribed, "LOST" when the kernel dropped notices (ENOBUFS). Stops on
// SIGTERM or SIGINT.
//
// In C++ rather than Python as tests/bench/agent/netmon.py: one whole-table write of 5000
// ranges is 10000 to 20000 element notices, and a Python reader, still parsing them, stamped
// that commit 45-70 ms after nft had exited.
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include "common/netlink/message.h"
#include "common/netlink/netlink.h"
#include "tests/bench/cni/bench_cli.h"

namespace routelet::bench::masquerade {
namespace {

// The kernel coalesces notices into datagrams of about a page; this takes any of them.
constexpr size_t kBuffer = 256 * 1024;

uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string familyName(uint8_t family) {
  switch (family) {
    case NFPROTO_INET:
      return "inet";
    case NFPROTO_IPV4:
      return "ip";
    case NFPROTO_IPV6:
      return "ip6";
    case NFPROTO_ARP:
      return "arp";
    case NFPROTO_BRIDGE:
      return "bridge";
    case NFPROTO_NETDEV:
      return "netdev";
    default:
      return std::to_string(family);
  }
}

// What one transaction showed so far, until its commit notice.
struct Pending {
  std::string tables;
  uint64_t elements = 0;
};

void feed(netlink::ByteView datagram, uint64_t stamp, Pending& p) {
  auto messages = netlink::splitMessages(datagram);
  if (!messages) {
    std::fprintf(stderr, "nft_commit_monitor: skipping a datagram: %s\n",
                 messages.error().message.c_str());
    return;
  }
  for (const auto& m : *messages) {
    if (NFNL_SUBSYS_ID(m.type) != NFNL_SUBSYS_NFTABLES) continue;
    const auto msg = NFNL_MSG_TYPE(m.type);
    if (msg == NFT_MSG_NEWSETELEM || msg == NFT_MSG_DELSETELEM) {
      ++p.elements;  // counted by type alone: thousands of them, nothing else to read
      continue;
    }
    if (msg != NFT_MSG_NEWTABLE && msg != NFT_MSG_DELTABLE && msg != NFT_MSG_NEWGEN) continue;
    auto notice = netlink::parseNftNotice(m.bytes);
    if (!notice || !*notice) continue;
    if ((*notice)->kind == netlink::NftNotice::Kind::kGeneration) {
      std::printf("%llu %u %s %llu\n", static_cast<unsigned long long>(stamp), (*notice)->pid,
                  p.tables.empty() ? "=" : p.tables.c_str(),
                  static_cast<unsigned long long>(p.elements));
      p = {};
      continue;
    }
    if (!p.tables.empty()) p.tables += ",";
    p.tables += (msg == NFT_MSG_NEWTABLE ? "+" : "-") + familyName((*notice)->family) + "/" +
                (*notice)->table;
  }
}

}  // namespace

int main() {
  cni::installInterruptHandler();
  auto monitor = netlink::Monitor::openNftables();  // non-blocking, 8 MiB receive queue
  if (!monitor) {
    std::fprintf(stderr, "nft_commit_monitor: %s\n", monitor.error().message.c_str());
    return 1;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::puts("READY");
  auto buffer = std::make_unique<uint8_t[]>(kBuffer);
  Pending pending;
  while (!cni::interrupted()) {
    pollfd p{monitor->fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;  // timeout, or EINTR from a signal
    for (;;) {
      ssize_t n = ::recv(monitor->fd(), buffer.get(), kBuffer, 0);
      if (n < 0 && errno == ENOBUFS) {
        pending = {};
        std::puts("LOST");
        continue;
      }
      if (n <= 0) break;  // EAGAIN: drained
      feed(netlink::ByteView(buffer.get(), static_cast<size_t>(n)), monotonicNs(), pending);
    }
  }
  return 0;
}

}  // namespace routelet::bench::masquerade

int main() {
  return routelet::bench::masquerade::main();
}
