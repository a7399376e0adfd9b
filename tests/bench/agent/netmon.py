#!/usr/bin/python3
"""Route event monitor for the agent benchmark: run inside a namespace (ip netns exec NS).

Subscribes to RTMGRP_IPV4_ROUTE on a NETLINK_ROUTE socket and prints one line per IPv4
route event of the given protocol, stamped with CLOCK_MONOTONIC on receipt (the clock is
the same in every network namespace, so the driver can compare it with its own stamps):

    <monotonic_ns> N|D <dst>/<len> <gateway or ->

With a second argument "neigh" it also subscribes to RTMGRP_NEIGH and prints the IPv4
neighbour entries of that protocol and the bridge fdb entries with a routelet VTEP MAC
(0e:72:..., the VXLAN devices' forwarding entries; the kernel keeps no protocol on those):

    <monotonic_ns> NN|DN <neighbour IP> <lladdr or ->
    <monotonic_ns> NF|DF <MAC> <remote IP or ->

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
RTMGRP_NEIGH = 0x4
SO_RCVBUFFORCE = 33
RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTA_DST, RTA_GATEWAY = 1, 5
RTM_NEWNEIGH, RTM_DELNEIGH = 28, 29
NDA_DST, NDA_LLADDR, NDA_PROTOCOL = 1, 2, 12
AF_BRIDGE = 7
VTEP_MAC_PREFIX = "0e:72:"
NLMSG_HDR = struct.Struct("=IHHII")
RTMSG = struct.Struct("=BBBBBBBBI")
RTA = struct.Struct("=HH")
NDMSG = struct.Struct("=BxxxiHBB")  # family, pad, ifindex, state, flags, type


def attrs(data, attr, end):
    out = {}
    while attr + RTA.size <= end:
        alen, atype = RTA.unpack_from(data, attr)
        if alen < RTA.size:
            break
        out[atype & 0x3fff] = data[attr + RTA.size:attr + alen]
        attr += (alen + 3) & ~3
    return out


def address(value):
    return str(ipaddress.ip_address(value)) if len(value) in (4, 16) else "-"


def parse_neigh(data, offset, length, kind, protocol):
    body = offset + NLMSG_HDR.size
    family = data[body]
    a = attrs(data, body + NDMSG.size, offset + length)
    new = kind == RTM_NEWNEIGH
    if family == AF_BRIDGE:
        mac = ":".join(f"{b:02x}" for b in a.get(NDA_LLADDR, b""))
        if not mac.startswith(VTEP_MAC_PREFIX):
            return None
        return f"{'NF' if new else 'DF'} {mac} {address(a.get(NDA_DST, b''))}"
    if family == socket.AF_INET and a.get(NDA_PROTOCOL, b"\0")[0] == protocol and NDA_DST in a:
        mac = ":".join(f"{b:02x}" for b in a.get(NDA_LLADDR, b"")) or "-"
        return f"{'NN' if new else 'DN'} {address(a[NDA_DST])} {mac}"
    return None


def parse(data, protocol):
    out = []
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size:
            break
        if kind in (RTM_NEWNEIGH, RTM_DELNEIGH):
            line = parse_neigh(data, offset, length, kind, protocol)
            if line:
                out.append(line)
        elif kind in (RTM_NEWROUTE, RTM_DELROUTE):
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
    groups = RTMGRP_IPV4_ROUTE | (RTMGRP_NEIGH if sys.argv[2:3] == ["neigh"] else 0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    # 5000 route (and 2 x 2500 neighbour) events arrive within tens of milliseconds: a large buffer keeps the kernel
    # from dropping them while this process is descheduled on a busy machine.
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    sock.bind((0, groups))
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
