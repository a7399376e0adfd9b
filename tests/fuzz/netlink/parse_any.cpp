#include "tests/fuzz/netlink/parse_any.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "common/netlink/message.h"

namespace routelet::netlink::fuzz {

int parseAny(const uint8_t* data, size_t size) {
  auto messages = splitMessages(ByteView(data, size));
  if (!messages.ok()) return 0;
  for (const Message& m : *messages) {
    switch (m.type) {
      case NLMSG_ERROR:
        (void)parseAck(m.bytes);
        break;
      case RTM_NEWLINK:
      case RTM_DELLINK:
        (void)parseLink(m.bytes);
        break;
      case RTM_NEWROUTE:
      case RTM_DELROUTE:
        (void)parseRoute(m.bytes);
        break;
      case RTM_NEWADDR:
      case RTM_DELADDR:
        (void)parseAddress(m.bytes);
        break;
      case RTM_NEWNEIGH:
      case RTM_DELNEIGH:
        (void)parseNeighbor(m.bytes);
        break;
      default:
        (void)parseNftNotice(m.bytes);
        break;
    }
  }
  return 0;
}

}  // namespace routelet::netlink::fuzz
