// The rtnetlink Handle, Monitor and netns helpers against the real kernel, each test in
// namespaces of its own.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "common/netlink/message.h"
#include "common/netlink/netlink.h"
#include "common/netlink/netns.h"
#include "tests/support/netlink_space.h"
#include "tests/support/netns_fixture.h"

namespace routelet::netlink {
namespace {

using testing::requireRootAndIp;
using testing::TestNetns;

constexpr uint8_t kProto = 201;

Mac mac(uint8_t last) {
  return Mac{0x02, 0x00, 0x00, 0x00, 0x00, last};
}

ip::Prefix prefix(const char* text) {
  return *ip::Prefix::parseInterface(text);
}

ip::Address addr(const char* text) {
  return *ip::Address::parse(text);
}

using Space = testing::NetlinkSpace;

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    auto status_ = (expr);                                \
    ASSERT_TRUE(status_.ok()) << status_.error().message; \
  } while (0)

ino_t netnsInode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// A veth pair v0 (192.168.50.1/24, fd50::1/64) / v1 inside one namespace, both up, so
// gateways in 192.168.50.0/24 and fd50::/64 are on-link.
void addOnLinkSubnet(Space& s) {
  ASSERT_OK(s.handle->createVeth("v0", mac(0x10), "v1", mac(0x11), 1500, -1));
  int v0 = s.index("v0");
  ASSERT_OK(s.handle->setUp(v0));
  ASSERT_OK(s.handle->setUp(s.index("v1")));
  ASSERT_OK(s.handle->addAddress(v0, prefix("192.168.50.1/24")));
  ASSERT_OK(s.handle->addAddress(v0, prefix("fd50::1/64"), true));
}

// Sends one UDP datagram from namespace `from` to `dst` (bound by a socket in namespace
// `to`) and reports whether it arrived: traffic across the links under test, needing no
// tool such as ping. Sockets stay in the namespace they were created in.
bool udpReaches(const netns::Fd& from, const netns::Fd& to, const ip::Address& dst) {
  sockaddr_storage ss{};
  socklen_t len;
  if (dst.isV4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(40123);
    std::memcpy(&sin->sin_addr, dst.bytes(), 4);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(40123);
    std::memcpy(&sin6->sin6_addr, dst.bytes(), 16);
    len = sizeof *sin6;
  }
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  int af = ip::familyAf(dst.family());
  int rx = -1;
  int tx = -1;
  {
    auto entered = netns::Enter::into(to);
    EXPECT_TRUE(entered.ok());
    rx = ::socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(::bind(rx, sa, len), 0) << "bind " << dst.str() << ": " << std::strerror(errno);
  }
  {
    auto entered = netns::Enter::into(from);
    EXPECT_TRUE(entered.ok());
    tx = ::socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  }
  bool arrived = false;
  if (::sendto(tx, "hello", 5, 0, sa, len) == 5) {
    pollfd p{rx, POLLIN, 0};
    char buf[16];
    arrived = ::poll(&p, 1, 5000) == 1 && ::recv(rx, buf, sizeof buf, 0) == 5 &&
              std::memcmp(buf, "hello", 5) == 0;
  }
  ::close(rx);
  ::close(tx);
  return arrived;
}

Route viaRoute(const char* dst, const char* gateway) {
  Route r;
  r.dst = *ip::Prefix::parse(dst);
  r.gateway = addr(gateway);
  r.protocol = kProto;
  return r;
}

TEST(NetlinkKernelTest, CreatesBridgeWithMacAndMtu) {
  if (!requireRootAndIp()) return;
  Space s("nlbr");
  ASSERT_TRUE(s.ok());
  ASSERT_OK(s.handle->createBridge("br0", mac(0x01), 1400));
  auto link = s.handle->linkByName("br0");
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->kind, "bridge");
  EXPECT_EQ(link->mtu, 1400u);
  EXPECT_EQ(link->mac, mac(0x01));
  EXPECT_FALSE(link->up);
  auto byIndex = s.handle->linkByIndex(link->index);
  ASSERT_TRUE(byIndex.ok()) << byIndex.error().message;
  EXPECT_EQ(byIndex->name, "br0");

  auto json = nlohmann::json::parse(
      testing::shellOutput("ip -n " + s.ns.name() + " -j -d link show br0"), nullptr, false);
  ASSERT_TRUE(json.is_array() && json.size() == 1) << json.dump();
  EXPECT_EQ(json[0]["mtu"], 1400);
  EXPECT_EQ(json[0]["address"], "02:00:00:00:00:01");
  EXPECT_EQ(json[0]["linkinfo"]["info_kind"], "bridge");

  auto all = s.handle->links();
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_TRUE(std::any_of(all->begin(), all->end(), [](const Link& l) { return l.name == "br0"; }));
  EXPECT_TRUE(std::any_of(all->begin(), all->end(), [](const Link& l) { return l.name == "lo"; }));
}

// A request the kernel does not acknowledge (here: built without NLM_F_ACK) used to leave
// the batch, and with it the agent's reconcile loop, waiting forever.
TEST(NetlinkKernelTest, ABatchLeftWithoutAnAckFailsInsteadOfWaitingForever) {
  if (!requireRootAndIp()) return;
  Space s("nlack");
  ASSERT_TRUE(s.ok());
  auto lo = s.handle->linkByName("lo");
  ASSERT_TRUE(lo.ok()) << lo.error().message;
  Request silent{"add 10.99.0.1/32 to lo", [&](uint32_t seq) {
                   auto bytes = buildNewAddress(seq, lo->index,
                                                *ip::Prefix::parseInterface("10.99.0.1/32"), false);
                   nlmsghdr h;
                   std::memcpy(&h, bytes.data(), sizeof h);
                   h.nlmsg_flags &= ~NLM_F_ACK;
                   std::memcpy(bytes.data(), &h, sizeof h);
                   return bytes;
                 }};
  auto answer = std::make_shared<std::promise<Result<std::vector<Status>>>>();
  auto future = answer->get_future();
  std::thread([&handle = *s.handle, &silent, answer] {
    answer->set_value(handle.batch({silent}));
  }).detach();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "the batch still waits for an acknowledgement";
  auto got = future.get();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ETIMEDOUT);
  EXPECT_EQ(got.error().message, "apply operations 1-1 of 1: no answer from the kernel within 5 s");
}

TEST(NetlinkKernelTest, RepliesAreTakenOnlyFromTheKernel) {
  if (!requireRootAndIp()) return;
  Space s("nlfrom");
  ASSERT_TRUE(s.ok());
  // A privileged process may unicast to any netlink port. It sends the handle a forged
  // failure for the seq of its next request before the kernel's reply can arrive.
  sockaddr_nl handlePort{};
  socklen_t len = sizeof handlePort;
  ASSERT_EQ(::getsockname(s.handle->fd(), reinterpret_cast<sockaddr*>(&handlePort), &len), 0);
  int forger = -1;
  {
    auto entered = netns::Enter::into(*s.fd);
    ASSERT_TRUE(entered.ok()) << entered.error().message;
    forger = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  }
  ASSERT_GE(forger, 0);
  struct {
    nlmsghdr header;
    nlmsgerr error;
  } forged{};
  forged.header.nlmsg_len = sizeof forged;
  forged.header.nlmsg_type = NLMSG_ERROR;
  forged.header.nlmsg_seq = 1;  // the handle's first request
  forged.error.error = -EPERM;
  forged.error.msg.nlmsg_seq = 1;
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  to.nl_pid = handlePort.nl_pid;
  ssize_t sent =
      ::sendto(forger, &forged, sizeof forged, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  int sendErrno = errno;
  ASSERT_EQ(sent, static_cast<ssize_t>(sizeof forged)) << std::strerror(sendErrno);
  // And one larger than the receive buffer, which would fail the receive as truncated.
  std::vector<uint8_t> huge(300 * 1024, 0);
  int room = 1 << 20;  // netlink refuses a datagram larger than the sender's buffer
  ASSERT_EQ(::setsockopt(forger, SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof room), 0);
  sent = ::sendto(forger, huge.data(), huge.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  sendErrno = errno;
  ::close(forger);
  ASSERT_EQ(sent, static_cast<ssize_t>(huge.size())) << std::strerror(sendErrno);
  auto lo = s.handle->linkByName("lo");
  ASSERT_TRUE(lo.ok()) << "took the forged reply: " << lo.error().message;
  EXPECT_EQ(lo->index, 1);
}

TEST(NetlinkKernelTest, DuplicateBridgeIsEexistAndMissingLinkIsEnodev) {
  if (!requireRootAndIp()) return;
  Space s("nldup");
  ASSERT_TRUE(s.ok());
  ASSERT_OK(s.handle->createBridge("br0", mac(0x01), 1500));
  Status again = s.handle->createBridge("br0", mac(0x02), 1500);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
  EXPECT_EQ(again.error().message.rfind("create bridge br0: File exists", 0), 0u)
      << again.error().message;

  Status missing = s.handle->deleteLinkByName("nope0");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENODEV) << missing.error().message;
  auto get = s.handle->linkByName("nope0");
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code, ENODEV) << get.error().message;

  ASSERT_OK(s.handle->deleteLinkByName("br0"));
  EXPECT_EQ(s.handle->linkByName("br0").error().code, ENODEV);
  ASSERT_OK(s.handle->createBridge("br1", mac(0x03), 1500));
  ASSERT_OK(s.handle->deleteLink(s.index("br1")));
  EXPECT_EQ(s.handle->linkByName("br1").error().code, ENODEV);
  EXPECT_EQ(s.handle->deleteLink(999999).error().code, ENODEV);
}

TEST(NetlinkKernelTest, ChangesMtuAndMac) {
  if (!requireRootAndIp()) return;
  Space s("nlmtu");
  ASSERT_TRUE(s.ok());
  ASSERT_OK(s.handle->createVeth("a0", mac(0x20), "a1", mac(0x21), 1500, -1));
  int a0 = s.index("a0");
  ASSERT_OK(s.handle->setMtu(a0, 1350));
  ASSERT_OK(s.handle->setMac(a0, mac(0x99)));
  auto link = s.handle->linkByIndex(a0);
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->kind, "veth");
  EXPECT_EQ(link->mtu, 1350u);
  EXPECT_EQ(link->mac, mac(0x99));
}

// Two "pods" on one "host" bridge: the CNI plugin's whole link setup, then traffic.
TEST(NetlinkKernelTest, VethPeersInOtherNamespacesPingAcrossBridge) {
  if (!requireRootAndIp()) return;
  Space host("nlhost");
  Space pod1("nlpod1");
  Space pod2("nlpod2");
  ASSERT_TRUE(host.ok() && pod1.ok() && pod2.ok());
  ASSERT_OK(host.handle->createBridge("br0", mac(0x01), 1500));
  int br = host.index("br0");
  ASSERT_OK(host.handle->setUp(br));

  struct Pod {
    Space* space;
    std::string hostName;
    uint8_t id;
    const char* v4;
    const char* v6;
  };
  for (const Pod& p : {Pod{&pod1, "vh1", 1, "10.99.0.1/24", "fd99::1/64"},
                       Pod{&pod2, "vh2", 2, "10.99.0.2/24", "fd99::2/64"}}) {
    ASSERT_OK(host.handle->createVeth(p.hostName, mac(static_cast<uint8_t>(0x30 + p.id)), "tmp0",
                                      mac(static_cast<uint8_t>(0x40 + p.id)), 1500,
                                      p.space->fd->get()));
    // The peer was created in the pod namespace, not on the host.
    EXPECT_EQ(host.handle->linkByName("tmp0").error().code, ENODEV);
    int hostIndex = host.index(p.hostName);
    ASSERT_OK(host.handle->setMaster(hostIndex, br));
    ASSERT_OK(host.handle->setUp(hostIndex));
    auto hostLink = host.handle->linkByIndex(hostIndex);
    ASSERT_TRUE(hostLink.ok());
    EXPECT_EQ(hostLink->master, br);
    EXPECT_TRUE(hostLink->up);

    Handle& pod = *p.space->handle;
    int peer = p.space->index("tmp0");
    ASSERT_OK(pod.rename(peer, "eth0"));
    ASSERT_OK(pod.setUp(peer));
    auto eth0 = pod.linkByName("eth0");
    ASSERT_TRUE(eth0.ok()) << eth0.error().message;
    EXPECT_EQ(eth0->index, peer);
    EXPECT_EQ(eth0->mac, mac(static_cast<uint8_t>(0x40 + p.id)));
    ASSERT_OK(pod.addAddress(peer, prefix(p.v4)));
    ASSERT_OK(pod.addAddress(peer, prefix(p.v6), true));
    auto addrs = pod.addresses(peer);
    ASSERT_TRUE(addrs.ok()) << addrs.error().message;
    for (const char* want : {p.v4, p.v6})
      EXPECT_TRUE(std::any_of(addrs->begin(), addrs->end(), [&](const AddressEntry& a) {
        return a.prefix == prefix(want);
      })) << want;
  }
  // nodad: the address is usable at once, not "tentative" for a second or more (a
  // tentative address could not even be bound below).
  EXPECT_EQ(pod1.ns.output("ip -6 addr show dev eth0 scope global tentative"), "");
  EXPECT_TRUE(udpReaches(*pod1.fd, *pod2.fd, addr("10.99.0.2")));
  EXPECT_TRUE(udpReaches(*pod1.fd, *pod2.fd, addr("fd99::2")));
  EXPECT_TRUE(udpReaches(*pod2.fd, *pod1.fd, addr("fd99::1")));

  ASSERT_OK(pod1.handle->deleteAddress(pod1.index("eth0"), prefix("10.99.0.1/24")));
  auto left = pod1.handle->addresses(pod1.index("eth0"));
  ASSERT_TRUE(left.ok());
  EXPECT_FALSE(std::any_of(left->begin(), left->end(), [](const AddressEntry& a) {
    return a.prefix == prefix("10.99.0.1/24");
  }));
}

TEST(NetlinkKernelTest, VethMadeEnslavedAndUpInOneRequestThenConfiguredInOneBatch) {
  if (!requireRootAndIp()) return;
  Space host("nlvh");
  Space pod("nlvp");
  ASSERT_TRUE(host.ok() && pod.ok());
  ASSERT_OK(host.handle->createBridge("br0", mac(0x01), 1500));
  int br = host.index("br0");
  ASSERT_OK(host.handle->setUp(br));
  VethSpec spec;
  spec.name = "vh1";
  spec.mac = mac(0x31);
  spec.mtu = 1400;
  spec.master = br;
  spec.up = true;
  spec.peerName = "eth0";  // the final name, directly in the pod's namespace
  spec.peerMac = mac(0x41);
  spec.peerNsFd = pod.fd->get();
  ASSERT_OK(host.handle->createVeth(spec));
  auto h = host.handle->linkByName("vh1");
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->master, br);
  EXPECT_TRUE(h->up);
  EXPECT_EQ(h->mtu, 1400u);
  EXPECT_EQ(h->mac, mac(0x31));
  // Only IFF_UP changed on the host end: the flags a new link starts with (multicast, for
  // IPv6 neighbour discovery) are kept.
  EXPECT_EQ(host.ns.run("ip link show dev vh1 | grep -q 'MULTICAST,UP'"), 0);
  EXPECT_NE(host.ns.run("ip -d link show dev vh1 | grep -q 'addrgenmode none'"), 0);
  auto p = pod.handle->linkByName("eth0");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_FALSE(p->up);
  EXPECT_EQ(p->mtu, 1400u);
  EXPECT_EQ(p->mac, mac(0x41));
  EXPECT_EQ(host.handle->linkByName("eth0").error().code, ENODEV) << "peer not in the host";

  // A name taken in the peer's namespace is EEXIST, and nothing is left behind.
  spec.name = "vh2";
  spec.mac = mac(0x32);
  auto clash = host.handle->createVeth(spec);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, EEXIST);
  EXPECT_EQ(host.handle->linkByName("vh2").error().code, ENODEV);
  // A master that does not exist fails the whole request: no half-made pair.
  spec.peerName = "eth1";
  spec.master = 9999;
  EXPECT_FALSE(host.handle->createVeth(spec).ok());
  EXPECT_EQ(host.handle->linkByName("vh2").error().code, ENODEV);
  EXPECT_EQ(pod.handle->linkByName("eth1").error().code, ENODEV);

  // One batch: two addresses, a duplicate (EEXIST, reported on its own), the link up and a
  // route that needs both; each request gets its own status, in order.
  const int eth0 = p->index;
  const ip::Prefix v4 = prefix("10.98.0.2/24");
  const ip::Prefix v6 = prefix("fd98::2/64");
  Route def;
  def.dst = prefix("0.0.0.0/0");
  def.gateway = addr("10.98.0.1");
  def.oif = eth0;
  std::vector<Request> requests{
      {"add v4", [&](uint32_t s) { return buildNewAddress(s, eth0, v4, false); }},
      {"add v6", [&](uint32_t s) { return buildNewAddress(s, eth0, v6, true); }},
      {"add v4 again", [&](uint32_t s) { return buildNewAddress(s, eth0, v4, false); }},
      {"up", [&](uint32_t s) { return buildSetUp(s, eth0, true); }},
      {"default route", [&](uint32_t s) { return buildRoute(s, RouteOp::Kind::kReplace, def); }},
  };
  auto done = pod.handle->batch(requests);
  ASSERT_TRUE(done.ok()) << done.error().message;
  ASSERT_EQ(done->size(), 5u);
  EXPECT_TRUE((*done)[0].ok());
  EXPECT_TRUE((*done)[1].ok());
  ASSERT_FALSE((*done)[2].ok());
  EXPECT_EQ((*done)[2].error().code, EEXIST);
  EXPECT_EQ((*done)[2].error().message.rfind("add v4 again", 0), 0u) << (*done)[2].error().message;
  EXPECT_TRUE((*done)[3].ok()) << (*done)[3].error().message;
  EXPECT_TRUE((*done)[4].ok()) << (*done)[4].error().message;
  EXPECT_EQ(pod.ns.run("ip link show dev eth0 | grep -q 'MULTICAST,UP'"), 0);
  EXPECT_EQ(pod.ns.run("ip route show default | grep -q 'via 10.98.0.1 dev eth0'"), 0);
  EXPECT_EQ(pod.ns.output("ip -6 addr show dev eth0 scope global tentative"), "");
}

TEST(NetlinkKernelTest, VethHostEndMadeWithoutIpv6LinkLocal) {
  if (!requireRootAndIp()) return;
  Space host("nlqh");
  Space pod("nlqp");
  ASSERT_TRUE(host.ok() && pod.ok());
  VethSpec spec;
  spec.name = "vq1";
  spec.mac = mac(0x51);
  spec.up = true;
  spec.peerName = "eth0";
  spec.peerMac = mac(0x52);
  spec.peerNsFd = pod.fd->get();
  spec.noLinkLocal = true;
  ASSERT_OK(host.handle->createVeth(spec));
  EXPECT_EQ(host.ns.run("ip -d link show dev vq1 | grep -q 'addrgenmode none'"), 0);
  EXPECT_NE(pod.ns.run("ip -d link show dev eth0 | grep -q 'addrgenmode none'"), 0)
      << "the peer keeps the kernel's default";
  // With the carrier up both ends are IPv6-ready; only the peer makes a link-local address.
  ASSERT_OK(pod.handle->setUp(pod.index("eth0")));
  EXPECT_NE(pod.ns.output("ip -6 addr show dev eth0 scope link"), "");
  EXPECT_EQ(host.ns.output("ip -6 addr show dev vq1"), "");
  // The same request in a batch of its own turns the peer's off by index.
  ASSERT_OK(pod.handle->setUp(pod.index("eth0"), false));
  auto quiet = pod.handle->batch(
      {{"no link-local", [&](uint32_t s) { return buildSetNoLinkLocal(s, pod.index("eth0")); }}});
  ASSERT_TRUE(quiet.ok()) << quiet.error().message;
  EXPECT_TRUE((*quiet)[0].ok()) << (*quiet)[0].error().message;
  EXPECT_EQ(pod.ns.run("ip -d link show dev eth0 | grep -q 'addrgenmode none'"), 0);
  // A peer name taken in the pod: the creation's EEXIST is the error reported (not the
  // second request's ENODEV), and nothing is left.
  spec.name = "vq2";
  auto clash = host.handle->createVeth(spec);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, EEXIST);
  EXPECT_EQ(host.handle->linkByName("vq2").error().code, ENODEV);
  // Below IPv6's minimum MTU a link has no IPv6 at all and the kernel answers the second
  // request with EAFNOSUPPORT: there is no link-local address to turn off, so it succeeds.
  spec.name = "vq3";
  spec.peerName = "eth3";
  spec.mtu = 1200;
  ASSERT_OK(host.handle->createVeth(spec));
  EXPECT_TRUE(host.handle->linkByName("vq3").ok());
}

TEST(NetlinkKernelTest, VethQueueCountsReachBothEnds) {
  if (!requireRootAndIp()) return;
  Space host("nlkh");
  Space pod("nlkp");
  ASSERT_TRUE(host.ok() && pod.ok());
  // The kernel's default is one of each per possible CPU, so seven (which hardly any machine
  // has) shows the counts are the request's; one is what routelet-cni asks for.
  for (uint32_t queues : {7u, 1u}) {
    VethSpec spec;
    spec.name = "vk" + std::to_string(queues);
    spec.mac = mac(0x60 + queues);
    spec.peerName = "eth" + std::to_string(queues);
    spec.peerMac = mac(0x70 + queues);
    spec.peerNsFd = pod.fd->get();
    spec.queues = queues;
    ASSERT_OK(host.handle->createVeth(spec));
    std::string want =
        "'numtxqueues " + std::to_string(queues) + " numrxqueues " + std::to_string(queues) + " '";
    EXPECT_EQ(host.ns.run("ip -d link show dev " + spec.name + " | grep -q " + want), 0);
    EXPECT_EQ(pod.ns.run("ip -d link show dev " + spec.peerName + " | grep -q " + want), 0);
  }
}

TEST(NetlinkKernelTest, RouteReplaceIsIdempotentDumpFiltersByProtocolDeleteWorks) {
  if (!requireRootAndIp()) return;
  Space s("nlroute");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  int v0 = s.index("v0");
  Route r4 = viaRoute("10.1.0.0/24", "192.168.50.2");
  Route r6 = viaRoute("fd01::/64", "fd50::2");
  r6.priority = 1024;  // IPv6 routes always carry a metric; 1024 is the kernel's default
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK(s.handle->replaceRoute(r4));
    ASSERT_OK(s.handle->replaceRoute(r6));
  }
  ASSERT_EQ(s.ns.run("ip route add 10.2.0.0/24 via 192.168.50.2 proto static"), 0);

  auto ours = s.handle->routes(ip::Family::kV4, kProto);
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  ASSERT_EQ(ours->size(), 1u);
  Route want = r4;
  want.oif = v0;  // resolved by the kernel from the gateway
  EXPECT_EQ((*ours)[0], want) << describe((*ours)[0]);

  auto both = s.handle->routes(std::nullopt, kProto);
  ASSERT_TRUE(both.ok()) << both.error().message;
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[1].dst, r6.dst);
  EXPECT_EQ((*both)[1].gateway, r6.gateway);
  EXPECT_EQ((*both)[1].oif, v0);

  auto all = s.handle->routes(ip::Family::kV4);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(std::any_of(all->begin(), all->end(), [](const Route& r) {
    return r.dst == *ip::Prefix::parse("10.2.0.0/24") && r.protocol == RTPROT_STATIC;
  }));
  auto otherTable = s.handle->routes(ip::Family::kV4, std::nullopt, 1234);
  ASSERT_TRUE(otherTable.ok()) << otherTable.error().message;
  EXPECT_TRUE(otherTable->empty());

  ASSERT_OK(s.handle->deleteRoute(r4));
  ASSERT_OK(s.handle->deleteRoute(r6));
  auto after = s.handle->routes(std::nullopt, kProto);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(s.handle->deleteRoute(r4).error().code, ESRCH);
  // A delete names our protocol, so the foreign route with another protocol survives it.
  Route foreign = viaRoute("10.2.0.0/24", "192.168.50.2");
  EXPECT_FALSE(s.handle->deleteRoute(foreign).ok());
  EXPECT_NE(s.ns.output("ip route show 10.2.0.0/24"), "");
}

TEST(NetlinkKernelTest, CreateNeverOverwritesARouteThatHoldsTheKey) {
  if (!requireRootAndIp()) return;
  Space s("nlcreate");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  ASSERT_EQ(s.ns.run("ip route add 10.2.0.0/24 via 192.168.50.3 proto static"), 0);
  Route taken = viaRoute("10.2.0.0/24", "192.168.50.2");
  Route fresh = viaRoute("10.4.0.0/24", "192.168.50.2");
  auto statuses =
      s.handle->apply({{RouteOp::Kind::kCreate, taken}, {RouteOp::Kind::kCreate, fresh}});
  ASSERT_TRUE(statuses.ok()) << statuses.error().message;
  ASSERT_EQ(statuses->size(), 2u);
  ASSERT_FALSE((*statuses)[0].ok());
  EXPECT_EQ((*statuses)[0].error().code, EEXIST) << (*statuses)[0].error().message;
  EXPECT_NE((*statuses)[0].error().message.find("add route 10.2.0.0/24"), std::string::npos)
      << (*statuses)[0].error().message;
  EXPECT_TRUE((*statuses)[1].ok()) << (*statuses)[1].error().message;
  EXPECT_EQ(s.ns.output("ip route show 10.2.0.0/24"),
            "10.2.0.0/24 via 192.168.50.3 dev v0 proto static \n");
  EXPECT_EQ(s.ns.output("ip route show proto 201"), "10.4.0.0/24 via 192.168.50.2 dev v0 \n");
}

TEST(NetlinkKernelTest, OnLinkRouteInOtherTableRoundTrips) {
  if (!requireRootAndIp()) return;
  Space s("nlonlink");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  Route r = viaRoute("10.3.0.0/24", "172.16.0.9");  // not in any local subnet
  r.oif = s.index("v0");
  r.onlink = true;
  r.table = 1000;
  r.priority = 7;
  ASSERT_OK(s.handle->replaceRoute(r));
  auto got = s.handle->routes(ip::Family::kV4, kProto, 1000);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0], r) << describe((*got)[0]);
  auto main = s.handle->routes(ip::Family::kV4, kProto);
  ASSERT_TRUE(main.ok());
  EXPECT_TRUE(main->empty());
}

std::vector<RouteOp> manyRoutes(RouteOp::Kind kind, int count) {
  std::vector<RouteOp> ops;
  for (int i = 0; i < count; ++i) {
    Route r = viaRoute("10.0.0.0/24", "192.168.50.2");
    r.dst = ip::Prefix::make(
        ip::Address::v4((10u << 24) | (uint32_t(100 + i / 250) << 16) | (uint32_t(i % 250) << 8)),
        24);
    ops.push_back(RouteOp{kind, r});
  }
  return ops;
}

TEST(NetlinkKernelTest, ApplyInstallsAndRemovesTwoThousandRoutes) {
  if (!requireRootAndIp()) return;
  Space s("nlapply");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  auto statuses = s.handle->apply(manyRoutes(RouteOp::Kind::kReplace, 2000));
  ASSERT_TRUE(statuses.ok()) << statuses.error().message;
  ASSERT_EQ(statuses->size(), 2000u);
  for (const Status& st : *statuses) ASSERT_TRUE(st.ok()) << st.error().message;
  auto dump = s.handle->routes(ip::Family::kV4, kProto);
  ASSERT_TRUE(dump.ok()) << dump.error().message;
  EXPECT_EQ(dump->size(), 2000u);
  EXPECT_EQ(s.ns.output("ip route show proto 201 | wc -l"), "2000\n");

  auto removed = s.handle->apply(manyRoutes(RouteOp::Kind::kDelete, 2000));
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  for (const Status& st : *removed) ASSERT_TRUE(st.ok()) << st.error().message;
  dump = s.handle->routes(ip::Family::kV4, kProto);
  ASSERT_TRUE(dump.ok());
  EXPECT_TRUE(dump->empty());
}

TEST(NetlinkKernelTest, ApplyReportsTheOneBadOperation) {
  if (!requireRootAndIp()) return;
  Space s("nlapplybad");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  std::vector<RouteOp> ops = manyRoutes(RouteOp::Kind::kReplace, 9);
  ops[4].route.gateway = addr("172.31.0.1");  // not on any link: the kernel refuses it
  ops.push_back(RouteOp{RouteOp::Kind::kDelete, viaRoute("10.77.0.0/24", "192.168.50.2")});
  auto statuses = s.handle->apply(ops);
  ASSERT_TRUE(statuses.ok()) << statuses.error().message;
  ASSERT_EQ(statuses->size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    if (i == 4) {
      ASSERT_FALSE((*statuses)[4].ok());
      EXPECT_EQ((*statuses)[4].error().code, ENETUNREACH) << (*statuses)[4].error().message;
      EXPECT_NE((*statuses)[4].error().message.find("replace route " + describe(ops[4].route)),
                std::string::npos)
          << (*statuses)[4].error().message;
    } else if (i == 9) {
      ASSERT_FALSE((*statuses)[9].ok());  // deleting a route that is not there
      EXPECT_EQ((*statuses)[9].error().code, ESRCH);
    } else {
      EXPECT_TRUE((*statuses)[i].ok()) << (*statuses)[i].error().message;
    }
  }
  auto dump = s.handle->routes(ip::Family::kV4, kProto);
  ASSERT_TRUE(dump.ok());
  EXPECT_EQ(dump->size(), 8u);
}

Monitor monitorIn(const netns::Fd& fd, bool neighbors = false) {
  auto entered = netns::Enter::into(fd);
  EXPECT_TRUE(entered.ok());
  auto m = Monitor::open(neighbors);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return std::move(*m);
}

// Waits (bounded) until every one of `wanted` has matched an event, in any order; the
// events of one drain are all looked at. Returns the events that matched, by position.
template <typename Pred>
std::vector<std::optional<Event>> awaitEach(Monitor& m, size_t wanted, Pred matches) {
  std::vector<std::optional<Event>> found(wanted);
  for (int i = 0; i < 50; ++i) {
    auto events = m.wait(std::chrono::milliseconds(100));
    EXPECT_TRUE(events.ok()) << events.error().message;
    if (!events.ok()) break;
    for (const Event& e : *events)
      for (size_t k = 0; k < wanted; ++k)
        if (!found[k] && matches(k, e)) found[k] = e;
    if (std::all_of(found.begin(), found.end(), [](const auto& f) { return f.has_value(); })) break;
  }
  return found;
}

// Waits (bounded) until an event satisfying pred arrives.
template <typename Pred>
bool awaitEvent(Monitor& m, Pred pred) {
  for (int i = 0; i < 50; ++i) {
    auto events = m.wait(std::chrono::milliseconds(100));
    EXPECT_TRUE(events.ok()) << events.error().message;
    if (!events.ok()) return false;
    for (const Event& e : *events)
      if (pred(e)) return true;
  }
  return false;
}

TEST(NetlinkKernelTest, MonitorSeesRouteDeletedByIpAndLinkChange) {
  if (!requireRootAndIp()) return;
  Space s("nlmon");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  std::optional<Monitor> monitor(monitorIn(*s.fd));
  Route r = viaRoute("10.5.0.0/24", "192.168.50.2");
  ASSERT_OK(s.handle->replaceRoute(r));
  EXPECT_TRUE(awaitEvent(*monitor, [&](const Event& e) {
    return e.kind == Event::Kind::kRouteAdded && e.route && e.route->dst == r.dst;
  }));
  ASSERT_EQ(s.ns.run("ip route del 10.5.0.0/24"), 0);
  EXPECT_TRUE(awaitEvent(*monitor, [&](const Event& e) {
    return e.kind == Event::Kind::kRouteRemoved && e.route && e.route->dst == r.dst &&
           e.route->protocol == kProto && e.route->gateway == r.gateway;
  }));
  // Addresses come and go with their link and prefix (the agent's node IP, its subnets).
  ASSERT_EQ(s.ns.run("ip addr add 192.168.51.7/24 dev v1 && ip addr del 192.168.51.7/24 dev v1"),
            0);
  bool added = false, removed = false;
  EXPECT_TRUE(awaitEvent(*monitor, [&](const Event& e) {
    if (e.address && e.address->str() == "192.168.51.7/24" && e.linkIndex == s.index("v1")) {
      added = added || e.kind == Event::Kind::kAddressAdded;
      removed = removed || (added && e.kind == Event::Kind::kAddressRemoved);
    }
    return removed;
  }));
  ASSERT_EQ(s.ns.run("ip link set v1 mtu 1400"), 0);
  int v1 = s.index("v1");
  EXPECT_TRUE(awaitEvent(*monitor, [&](const Event& e) {
    return e.kind == Event::Kind::kLinkChanged && e.linkIndex == v1 && e.linkName == "v1";
  }));
  ASSERT_EQ(s.ns.run("ip link del v1"), 0);
  EXPECT_TRUE(awaitEvent(*monitor, [&](const Event& e) {
    return e.kind == Event::Kind::kLinkRemoved && e.linkIndex == v1;
  }));
  // Nothing queued: drain returns at once with no events.
  auto rest = monitor->drain();
  ASSERT_TRUE(rest.ok());
}

TEST(NetlinkKernelTest, MonitorOverrunIsReportedAsEnobufs) {
  if (!requireRootAndIp()) return;
  Space s("nlover");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  Monitor monitor = monitorIn(*s.fd);
  // Shrink the queue (the kernel's minimum) so 2000 route events cannot fit.
  int tiny = 1;
  ASSERT_EQ(::setsockopt(monitor.fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny), 0);
  auto statuses = s.handle->apply(manyRoutes(RouteOp::Kind::kReplace, 2000));
  ASSERT_TRUE(statuses.ok()) << statuses.error().message;
  auto events = monitor.drain();
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(events.error().code, ENOBUFS);
  EXPECT_NE(events.error().message.find("resync"), std::string::npos);
  // The overrun is reported once; the socket keeps working afterwards.
  auto after = monitor.drain();
  EXPECT_TRUE(after.ok());
}

TEST(NetlinkKernelTest, ApplyOfNothingIsNothing) {
  if (!requireRootAndIp()) return;
  Space s("nlempty");
  ASSERT_TRUE(s.ok());
  auto statuses = s.handle->apply({});
  ASSERT_TRUE(statuses.ok());
  EXPECT_TRUE(statuses->empty());
}

// --- VXLAN devices, neighbours and fdb entries

constexpr Mac kPeerMac = {0x0e, 0x72, 0x0a, 0xf4, 0x02, 0x00};

// A VXLAN device as routelet makes it, over the underlay link `underlay`.
VxlanSpec vxlanOver(int underlay, const char* local, uint8_t macLast) {
  VxlanSpec spec;
  spec.name = "vx0";
  spec.mac = mac(macLast);
  spec.mtu = 1450;
  spec.info.vni = 42;
  spec.info.port = 4789;
  spec.info.local = addr(local);
  spec.info.underlay = underlay;
  return spec;
}

Neighbor fdbEntry(int index, const char* remote, const Mac& mac) {
  Neighbor n;
  n.fdb = true;
  n.index = index;
  n.address = addr(remote);
  n.mac = mac;
  return n;
}

Neighbor neighEntry(int index, const char* address, const Mac& mac) {
  Neighbor n;
  n.index = index;
  n.address = addr(address);
  n.mac = mac;
  n.protocol = kProto;
  return n;
}

// addOnLinkSubnet, then vx0 over v0 from 192.168.50.1; vx0's index (0 on failure).
int addVxlanOverOnLinkSubnet(Space& s) {
  addOnLinkSubnet(s);
  auto made = s.handle->createVxlan(vxlanOver(s.index("v0"), "192.168.50.1", 0x60));
  EXPECT_TRUE(made.ok()) << made.error().message;
  return made.ok() ? s.index("vx0") : 0;
}

// Every status of a batch is a success.
void expectAllOk(const Result<std::vector<Status>>& statuses, size_t count) {
  ASSERT_TRUE(statuses.ok()) << statuses.error().message;
  ASSERT_EQ(statuses->size(), count);
  for (const Status& st : *statuses) EXPECT_TRUE(st.ok()) << st.error().message;
}

std::vector<Neighbor> sorted(std::vector<Neighbor> v) {
  std::sort(v.begin(), v.end(),
            [](const Neighbor& a, const Neighbor& b) { return a.key() < b.key(); });
  return v;
}

// The entries tagged with routelet's protocol (IPv6 also keeps NUD_NOARP entries of the
// multicast groups it joined on the device), in key order.
std::vector<Neighbor> ours(std::vector<Neighbor> v) {
  std::erase_if(v, [](const Neighbor& n) { return !n.fdb && n.protocol != kProto; });
  return sorted(std::move(v));
}

TEST(NetlinkKernelTest, VxlanDeviceReadsBackAsMade) {
  if (!requireRootAndIp()) return;
  Space s("nlvx");
  ASSERT_TRUE(s.ok());
  addOnLinkSubnet(s);
  int v0 = s.index("v0");
  VxlanSpec spec = vxlanOver(v0, "192.168.50.1", 0x60);
  spec.info.learning = true;  // never sent: routelet's devices do not learn
  ASSERT_OK(s.handle->createVxlan(spec));
  auto link = s.handle->linkByName("vx0");
  ASSERT_TRUE(link.ok()) << link.error().message;
  EXPECT_EQ(link->kind, "vxlan");
  EXPECT_EQ(link->mac, mac(0x60));
  EXPECT_EQ(link->mtu, 1450u);
  EXPECT_TRUE(link->up);
  ASSERT_TRUE(link->vxlan);
  VxlanInfo want = spec.info;
  want.learning = false;
  EXPECT_EQ(*link->vxlan, want);
  auto json = nlohmann::json::parse(
      testing::shellOutput("ip -n " + s.ns.name() + " -j -d link show vx0"), nullptr, false);
  ASSERT_TRUE(json.is_array() && json.size() == 1) << json.dump();
  const auto& data = json[0]["linkinfo"]["info_data"];
  EXPECT_EQ(data["id"], 42);
  EXPECT_EQ(data["port"], 4789);
  EXPECT_EQ(data["local"], "192.168.50.1");
  EXPECT_EQ(data["link"], "v0");
  EXPECT_EQ(data["learning"], false);
  EXPECT_FALSE(data.contains("group") || data.contains("remote")) << data.dump();
  EXPECT_EQ(s.handle->createVxlan(spec).error().code, EEXIST);

  // An IPv6 underlay source, any underlay device, down: IFLA_VXLAN_LOCAL6, no _LINK.
  VxlanSpec v6 = vxlanOver(0, "fd50::1", 0x61);
  v6.name = "vx6";
  v6.info.vni = 43;
  v6.up = false;
  ASSERT_OK(s.handle->createVxlan(v6));
  auto link6 = s.handle->linkByName("vx6");
  ASSERT_TRUE(link6.ok()) << link6.error().message;
  EXPECT_FALSE(link6->up);
  ASSERT_TRUE(link6->vxlan);
  EXPECT_EQ(link6->vxlan->local, addr("fd50::1"));
  EXPECT_EQ(link6->vxlan->underlay, 0);
  EXPECT_EQ(link6->vxlan->vni, 43u);
  // Other links carry no VXLAN information.
  auto veth = s.handle->linkByIndex(v0);
  ASSERT_TRUE(veth.ok());
  EXPECT_FALSE(veth->vxlan);
}

TEST(NetlinkKernelTest, NeighborAndFdbEntriesReplaceDumpAndDelete) {
  if (!requireRootAndIp()) return;
  Space s("nlneigh");
  ASSERT_TRUE(s.ok());
  int vx = addVxlanOverOnLinkSubnet(s);
  ASSERT_NE(vx, 0);
  std::vector<Neighbor> fdb = {fdbEntry(vx, "192.168.50.2", kPeerMac),
                               fdbEntry(vx, "192.168.50.3", mac(0x63))};
  std::vector<Neighbor> neigh = {neighEntry(vx, "10.99.2.0", kPeerMac),
                                 neighEntry(vx, "fd99:2::", kPeerMac),
                                 neighEntry(vx, "10.99.3.0", mac(0x63))};
  std::vector<NeighborOp> ops;
  for (const auto* list : {&fdb, &neigh})
    for (const Neighbor& n : *list) ops.push_back({NeighborOp::Kind::kReplace, n});
  // Twice: a replace of an entry that is there already is no error.
  expectAllOk(s.handle->apply(ops, {}), ops.size());
  expectAllOk(s.handle->apply(ops, {}), ops.size());

  auto dumpedFdb = s.handle->neighbors(vx, true);
  ASSERT_TRUE(dumpedFdb.ok()) << dumpedFdb.error().message;
  EXPECT_EQ(sorted(*dumpedFdb), sorted(fdb));
  // Kernel fact: an IPv4 or IPv6 neighbour keeps NDA_PROTOCOL and dumps it back.
  auto dumpedNeigh = s.handle->neighbors(vx, false);
  ASSERT_TRUE(dumpedNeigh.ok()) << dumpedNeigh.error().message;
  EXPECT_EQ(ours(*dumpedNeigh), sorted(neigh));
  EXPECT_EQ(s.ns.output("ip neigh show dev vx0 10.99.2.0"),
            "10.99.2.0 lladdr 0e:72:0a:f4:02:00 PERMANENT proto 201 \n");
  EXPECT_NE(s.ns.output("bridge fdb show dev vx0")
                .find("0e:72:0a:f4:02:00 dst 192.168.50.2 self permanent"),
            std::string::npos);
  // Another device's entries are not this one's (a veth's fdb dump lists the device's own
  // unicast and multicast addresses, ndo_dflt_fdb_dump).
  int v0 = s.index("v0");
  auto other = s.handle->neighbors(v0, true);
  ASSERT_TRUE(other.ok()) << other.error().message;
  for (const Neighbor& n : *other) EXPECT_EQ(n.index, v0) << describe(n);

  // Kernel fact: a VXLAN fdb entry keeps no protocol; NDA_PROTOCOL is accepted and dropped
  // (vxlan_fdb_add reads no such attribute), so the builder never sends one.
  Request tagged{"replace fdb entry with NDA_PROTOCOL", [&](uint32_t seq) {
                   Bytes b = buildNeighbor(seq, NeighborOp::Kind::kReplace, fdb[1]);
                   const Bytes protocol = {5, 0, NDA_PROTOCOL, 0, kProto, 0, 0, 0};
                   b.insert(b.end(), protocol.begin(), protocol.end());
                   auto len = static_cast<uint32_t>(b.size());
                   std::memcpy(b.data(), &len, sizeof len);
                   return b;
                 }};
  expectAllOk(s.handle->batch({tagged}), 1);
  auto untagged = s.handle->neighbors(vx, true);
  ASSERT_TRUE(untagged.ok()) << untagged.error().message;
  EXPECT_EQ(sorted(*untagged), sorted(fdb));

  // A unicast MAC has one remote (vxlan_fdb_update_existing appends remotes only to the
  // all-zero and multicast MACs): a replace moves it. Kernel fact: a delete that names
  // another remote removes nothing, and still succeeds (__vxlan_fdb_delete finds no such
  // remote and returns 0), so whoever deletes must name the remote the entry has now.
  fdb[0] = fdbEntry(vx, "192.168.50.7", kPeerMac);
  expectAllOk(s.handle->apply({{NeighborOp::Kind::kReplace, fdb[0]}}, {}), 1);
  auto stale =
      s.handle->apply({{NeighborOp::Kind::kDelete, fdbEntry(vx, "192.168.50.2", kPeerMac)}}, {});
  ASSERT_TRUE(stale.ok()) << stale.error().message;
  EXPECT_TRUE((*stale)[0].ok()) << (*stale)[0].error().message;
  auto moved = s.handle->neighbors(vx, true);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(sorted(*moved), sorted(fdb));

  std::vector<NeighborOp> deletes;
  for (const auto* list : {&fdb, &neigh})
    for (const Neighbor& n : *list) deletes.push_back({NeighborOp::Kind::kDelete, n});
  expectAllOk(s.handle->apply(deletes, {}), deletes.size());
  auto left = s.handle->neighbors(vx, true);
  ASSERT_TRUE(left.ok()) << left.error().message;
  EXPECT_TRUE(left->empty());
  auto noNeigh = s.handle->neighbors(vx, false);
  ASSERT_TRUE(noNeigh.ok()) << noNeigh.error().message;
  EXPECT_TRUE(ours(*noNeigh).empty());
  // Deleting again: each one says it is not there.
  auto again = s.handle->apply(deletes, {});
  ASSERT_TRUE(again.ok()) << again.error().message;
  for (const Status& st : *again) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ENOENT) << st.error().message;
  }
  EXPECT_NE((*again)[0].error().message.find("delete fdb 0e:72:0a:f4:02:00 dst 192.168.50.7"),
            std::string::npos)
      << (*again)[0].error().message;
}

TEST(NetlinkKernelTest, MonitorSeesNeighborAndFdbEntriesRemovedByHand) {
  if (!requireRootAndIp()) return;
  Space s("nlneighmon");
  ASSERT_TRUE(s.ok());
  int vx = addVxlanOverOnLinkSubnet(s);
  ASSERT_NE(vx, 0);
  Monitor monitor = monitorIn(*s.fd, true);
  Neighbor fdb = fdbEntry(vx, "192.168.50.2", kPeerMac);
  Neighbor neigh = neighEntry(vx, "10.99.2.0", kPeerMac);
  Neighbor neigh6 = neighEntry(vx, "fd99:2::", kPeerMac);
  expectAllOk(s.handle->apply({{NeighborOp::Kind::kReplace, fdb},
                               {NeighborOp::Kind::kReplace, neigh},
                               {NeighborOp::Kind::kReplace, neigh6}},
                              {}),
              3);
  // Kernel fact: the notification of a new entry is the whole entry, protocol included.
  const std::vector<Neighbor> made = {fdb, neigh, neigh6};
  auto added = awaitEach(monitor, made.size(), [&](size_t k, const Event& e) {
    return e.kind == Event::Kind::kNeighborChanged && e.neighbor == made[k];
  });
  for (size_t k = 0; k < made.size(); ++k) EXPECT_TRUE(added[k]) << describe(made[k]);

  // Kernel fact: a permanent neighbour deleted by hand is first reported changed to
  // NUD_FAILED, then removed: both without NDA_LLADDR, but with the key and the protocol.
  ASSERT_EQ(s.ns.run("ip neigh del 10.99.2.0 dev vx0"), 0);
  ASSERT_EQ(s.ns.run("ip -6 neigh del fd99:2:: dev vx0"), 0);
  const std::vector<Neighbor> deleted = {neigh, neigh6};
  auto removals = awaitEach(monitor, deleted.size(), [&](size_t k, const Event& e) {
    return e.kind == Event::Kind::kNeighborRemoved && e.neighbor->key() == deleted[k].key();
  });
  for (size_t k = 0; k < deleted.size(); ++k) {
    ASSERT_TRUE(removals[k]) << describe(deleted[k]);
    const Neighbor* removed = &*removals[k]->neighbor;
    EXPECT_EQ(removed->protocol, kProto);
    EXPECT_EQ(removed->mac, Mac{}) << describe(*removed);
    EXPECT_EQ(removed->state, NUD_FAILED) << describe(*removed);
  }
  // Kernel fact: an fdb entry deleted by hand is reported removed with all of it.
  ASSERT_EQ(s.ns.run("bridge fdb del 0e:72:0a:f4:02:00 dev vx0 dst 192.168.50.2 self"), 0);
  EXPECT_TRUE(awaitEvent(monitor, [&](const Event& e) {
    return e.kind == Event::Kind::kNeighborRemoved && e.neighbor == fdb;
  }));
}

// Two namespaces joined by a veth underlay (node addresses underlayA and underlayB, with
// their prefix length), each with a VXLAN device that has no group and does not learn:
// traffic crosses only because of the fdb and neighbour entries and onlink routes made by
// Handle::apply, towards the podCIDR network address each node puts on its VXLAN device
// (/32 and /128).
void expectVxlanPeersReachEachOther(const char* underlayA, const char* underlayB) {
  Space a("nlvxa");
  Space b("nlvxb");
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_OK(a.handle->createVeth("u0", mac(0x70), "u1", mac(0x71), 1500, b.fd->get()));
  struct Node {
    Space* space;
    const char* underlayName;
    ip::Prefix underlay;
    std::string local;
    uint8_t macLast;
    const char* v4;
    const char* v6;
  } nodes[] = {{&a, "u0", prefix(underlayA), prefix(underlayA).address().str(), 0x81, "10.99.1.0",
                "fd99:1::"},
               {&b, "u1", prefix(underlayB), prefix(underlayB).address().str(), 0x82, "10.99.2.0",
                "fd99:2::"}};
  for (const Node& n : nodes) {
    Handle& h = *n.space->handle;
    int u = n.space->index(n.underlayName);
    ASSERT_OK(h.addAddress(u, n.underlay, true));
    ASSERT_OK(h.setUp(u));
    ASSERT_OK(h.createVxlan(vxlanOver(u, n.local.c_str(), n.macLast)));
    int vx = n.space->index("vx0");
    ASSERT_OK(h.addAddress(vx, ip::Prefix::make(addr(n.v4), 32)));
    ASSERT_OK(h.addAddress(vx, ip::Prefix::make(addr(n.v6), 128), true));
  }
  for (int i = 0; i < 2; ++i) {
    const Node& self = nodes[i];
    const Node& peer = nodes[1 - i];
    int vx = self.space->index("vx0");
    Mac peerMac = mac(peer.macLast);
    std::vector<NeighborOp> neighbors = {
        {NeighborOp::Kind::kReplace, fdbEntry(vx, peer.local.c_str(), peerMac)},
        {NeighborOp::Kind::kReplace, neighEntry(vx, peer.v4, peerMac)},
        {NeighborOp::Kind::kReplace, neighEntry(vx, peer.v6, peerMac)}};
    std::vector<RouteOp> routes;
    for (auto [dst, len] : {std::pair{peer.v4, 24}, std::pair{peer.v6, 64}}) {
      Route r;
      r.dst = ip::Prefix::make(addr(dst), len);
      r.gateway = addr(dst);
      r.oif = vx;
      r.onlink = true;
      r.protocol = kProto;
      routes.push_back({RouteOp::Kind::kReplace, r});
    }
    expectAllOk(self.space->handle->apply(neighbors, routes), 5);
  }
  EXPECT_NE(
      a.ns.output("ip route show 10.99.2.0/24").find("via 10.99.2.0 dev vx0 proto 201 onlink"),
      std::string::npos);
  EXPECT_TRUE(udpReaches(*a.fd, *b.fd, addr("10.99.2.0")));
  EXPECT_TRUE(udpReaches(*b.fd, *a.fd, addr("10.99.1.0")));
  EXPECT_TRUE(udpReaches(*a.fd, *b.fd, addr("fd99:2::")));
  EXPECT_TRUE(udpReaches(*b.fd, *a.fd, addr("fd99:1::")));
  EXPECT_EQ(a.ns.run("ping -c 1 -W 2 10.99.2.0 >/dev/null"), 0);
  EXPECT_EQ(b.ns.run("ping -c 1 -W 2 fd99:1:: >/dev/null"), 0);
  // Nothing was learned: the fdb holds only the entry routelet made.
  auto fdb = a.handle->neighbors(a.index("vx0"), true);
  ASSERT_TRUE(fdb.ok()) << fdb.error().message;
  EXPECT_EQ(*fdb,
            std::vector<Neighbor>{fdbEntry(a.index("vx0"), nodes[1].local.c_str(), mac(0x82))});
  // Without the fdb entry, frames have nowhere to go.
  expectAllOk(a.handle->apply({{NeighborOp::Kind::kDelete, (*fdb)[0]}}, {}), 1);
  EXPECT_FALSE(udpReaches(*a.fd, *b.fd, addr("10.99.2.0")));
}

TEST(NetlinkKernelTest, VxlanPeersReachEachOtherThroughStaticEntriesOnly) {
  if (!requireRootAndIp()) return;
  expectVxlanPeersReachEachOther("192.168.77.1/24", "192.168.77.2/24");
}

TEST(NetlinkKernelTest, VxlanPeersReachEachOtherOverAnIpv6Underlay) {
  if (!requireRootAndIp()) return;
  expectVxlanPeersReachEachOther("fd77::1/64", "fd77::2/64");
}

TEST(NetnsKernelTest, OpenRejectsWhatIsNotANetworkNamespace) {
  if (!requireRootAndIp()) return;
  char path[] = "/tmp/routelet-netns-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  auto file = netns::Fd::open(path);
  ::unlink(path);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.error().message.find(std::string(path) + " is not a network namespace"),
            std::string::npos)
      << file.error().message;

  auto mountNs = netns::Fd::open("/proc/self/ns/mnt");
  ASSERT_FALSE(mountNs.ok());
  EXPECT_NE(mountNs.error().message.find("is not a network namespace"), std::string::npos);

  auto missing = netns::Fd::open("/var/run/netns/routelet-does-not-exist");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);

  int notNs = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(notNs, 0);
  auto handle = Handle::openIn(notNs);
  ::close(notNs);
  ASSERT_FALSE(handle.ok());
  EXPECT_NE(handle.error().message.find("is not a network namespace"), std::string::npos)
      << handle.error().message;
}

TEST(NetnsKernelTest, EnterMovesThisThreadAndRestores) {
  if (!requireRootAndIp()) return;
  TestNetns ns("nsenter");
  ASSERT_TRUE(ns.ok());
  ino_t original = netnsInode("/proc/thread-self/ns/net");
  auto target = netns::Fd::open(ns.path());
  ASSERT_TRUE(target.ok()) << target.error().message;
  {
    auto entered = netns::Enter::into(*target);
    ASSERT_TRUE(entered.ok()) << entered.error().message;
    EXPECT_EQ(netnsInode("/proc/thread-self/ns/net"), netnsInode(ns.path()));
    EXPECT_NE(netnsInode("/proc/thread-self/ns/net"), original);
    auto current = netns::Fd::current();
    ASSERT_TRUE(current.ok()) << current.error().message;
    EXPECT_EQ(netnsInode("/proc/self/fd/" + std::to_string(current->get())), netnsInode(ns.path()));
  }
  EXPECT_EQ(netnsInode("/proc/thread-self/ns/net"), original);

  // openIn leaves the thread where it was and the socket where it was asked.
  auto handle = Handle::openIn(target->get());
  ASSERT_TRUE(handle.ok()) << handle.error().message;
  EXPECT_EQ(netnsInode("/proc/thread-self/ns/net"), original);
  ASSERT_OK(handle->createBridge("brx", mac(0x05), 1500));
  EXPECT_EQ(ns.run("ip link show brx >/dev/null"), 0);
}

}  // namespace
}  // namespace routelet::netlink
