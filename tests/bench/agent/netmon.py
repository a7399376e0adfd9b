#!/usr/bin/python3
"""Route event monitor for the agent benchmark: run inside a namespace (ip netns exec NS).

Subscribes to RTMGRP_IPV4_ROUTE on a NETLINK_ROUTE socket and prints one line per IPv4
route event of the given protocol, stamped with CLOCK_MONOTONIC on receipt (the clock is
the same in every network namespace, so the driver can compare it with its own stamps):

    <monotonic_ns> N|D <dst>/<len> <gateway or ->

"READY" is printed once the socket is subscribed; "LOST" when the kernel dropped events
(ENOBUFS). Stops on SIGTERM/SIGINT.
"""

import errno
import ipaddress
import signal
import socket
import struct
import sys
import time

NETLINK_ROUTE = 0
RTMGRP_IPV4_ROUTE = 0x40
SO_RCVBUFFORCE = 33
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTA_DST, RTA_GATEWAY = 1, 5
NLMSG_HDR = struct.Struct("=IHHII")
RTMSG = struct.Struct("=BBBBBBBBI")
RTA = struct.Struct("=HH")


def parse(data, protocol):
    out = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size:
            break
        if kind in (RTM_NEWROUTE, RTM_DELROUTE):
            body = offset + NLMSG_HDR.size
            family, dst_len, _src_len, _tos, _table, proto, _scope, _type, _fl = \
                RTMSG.unpack_from(data, body)
            if family == socket.AF_INET and proto == protocol:
                dst, gw = "0.0.0.0", "-"
                attr = body + RTMSG.size
                end = offset + length
                while attr + RTA.size <= end:
                    alen, atype = RTA.unpack_from(data, attr)
                    if alen < RTA.size:
                        break
                    value = data[attr + RTA.size:attr + alen]
                    if atype == RTA_DST:
                        dst = str(ipaddress.IPv4Address(value))
                    elif atype == RTA_GATEWAY:
                        gw = str(ipaddress.IPv4Address(value))
                    attr += (alen + 3) & ~3
                out.append(f"{'N' if kind == RTM_NEWROUTE else 'D'} {dst}/{dst_len} {gw}")
        offset += (length + 3) & ~3
    return out


def main():
    protocol = int(sys.argv[1]) if len(sys.argv) > 1 else 201
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    # 5000 route events arrive within tens of milliseconds: a large buffer keeps the kernel
    # from dropping them while this process is descheduled on a busy machine.
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    sock.bind((0, RTMGRP_IPV4_ROUTE))
    out = sys.stdout
    out.write("READY\n")
    out.flush()
    while True:
        try:
            data = sock.recv(1 << 20)
        except OSError as e:
            if e.errno == errno.ENOBUFS:
                out.write("LOST\n")
                out.flush()
                continue
            raise
        stamp = time.monotonic_ns()
        lines = parse(data, protocol)
        if lines:
            out.write("".join(f"{stamp} {line}\n" for line in lines))
            out.flush()


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
