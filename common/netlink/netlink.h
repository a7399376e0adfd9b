// rtnetlink and nf_tables for routelet: links, addresses, routes, neighbours, nf_tables
// transactions and a change monitor. One header per kernel object; this one brings them
// all, for callers that use several.
//
// Messages are built as bytes by pure functions (message.h), so they are golden-tested
// without root; Handle (socket.h) sends them on a socket bound to one network namespace
// and checks every acknowledgement. No exception leaves this library.
#pragma once

#include "common/netlink/address.h"    // IWYU pragma: export
#include "common/netlink/link.h"       // IWYU pragma: export
#include "common/netlink/mac.h"        // IWYU pragma: export
#include "common/netlink/monitor.h"    // IWYU pragma: export
#include "common/netlink/neighbour.h"  // IWYU pragma: export
#include "common/netlink/nftables.h"   // IWYU pragma: export
#include "common/netlink/route.h"      // IWYU pragma: export
#include "common/netlink/socket.h"     // IWYU pragma: export
