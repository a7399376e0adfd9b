#!/usr/bin/env python3
"""Server and prober of routelet's NetworkPolicy matrix (test_netpol.py). Both run with the
host's python3 inside a pod's (or a node's) network namespace, entered with nsenter: the
pods' image is a busybox without Python.

  netpol_probe.py serve --name NAME [--ports 80,81] [--ready-file PATH]
  netpol_probe.py probe [--timeout S] < PROBES

serve: one process answers TCP and UDP on every port given, IPv4 and IPv6, on every address
of its namespace. A TCP connection gets one line, "NAME PEER", then the server closes it; a
UDP datagram gets the same line back. PEER is the source address the server saw, so a
caller learns which pod answered and that no NAT came between. --ready-file is written once
every socket listens.

probe: reads a JSON list of probes, {"id": ..., "ip": ..., "proto": "tcp"|"udp",
"port": N}, and runs all of them at once from one process; prints one JSON object per probe,
{"id": ..., "answer": LINE or null, "error": TEXT or null}. A probe is answered when the
server's line arrived within --timeout seconds: TCP connects and reads it; UDP sends a
datagram, and again every UDP_RESEND seconds until answered (a first datagram may be lost
while a neighbour is being resolved). No answer in time, a refusal or a reset is "not
answered": NetworkPolicy may drop or reject, and either means blocked.
"""

import argparse
import errno
import json
import os
import resource
import selectors
import socket
import struct
import sys
import time

UDP_RESEND = 0.25
LINE_MAX = 512
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # linux/in.h; Python 3.11 does not name it


def listening_sockets(ports):
    """[(socket, proto)]: TCP and UDP on every port, one socket per family, IPv6 ones
    IPv6-only so the IPv4 ones get IPv4 peers."""
    out = []
    for port in ports:
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            for kind, proto in ((socket.SOCK_STREAM, "tcp"), (socket.SOCK_DGRAM, "udp")):
                s = socket.socket(family, kind)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if kind == socket.SOCK_DGRAM:
                    # The address each datagram came to, so the answer leaves from it (below).
                    if family == socket.AF_INET:
                        s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                    else:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                s.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    s.listen(512)  # a whole matrix connects to one pod at once
                s.setblocking(False)
                out.append((s, proto))
    return out


def same_source(ancillary):
    """The control message that sends an answer from the address its request came to. A
    socket bound to every address otherwise answers from the address the route back picks:
    on a node, a pod's request to the node's address would be answered from the bridge's,
    and the pod's connected socket would drop it."""
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, _, to = struct.unpack("i4s4s", data[:12])  # struct in_pktinfo
            return [(level, kind, struct.pack("i4s4s", 0, to, bytes(4)))]
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            to, _ = struct.unpack("16sI", data[:20])  # struct in6_pktinfo
            return [(level, kind, struct.pack("16sI", to, 0))]
    return []


def serve(args):
    sel = selectors.DefaultSelector()
    for s, proto in listening_sockets(int(p) for p in args.ports.split(",")):
        sel.register(s, selectors.EVENT_READ, proto)
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        os.replace(args.ready_file + ".tmp", args.ready_file)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            try:
                if key.data == "tcp":
                    conn, peer = s.accept()
                    with conn:
                        # A fresh socket's send buffer is empty: one short line never blocks.
                        conn.send(f"{args.name} {peer[0]}\n".encode())
                else:
                    _, ancillary, _, peer = s.recvmsg(LINE_MAX, socket.CMSG_SPACE(32))
                    s.sendmsg([f"{args.name} {peer[0]}\n".encode()], same_source(ancillary), 0, peer)
            except (BlockingIOError, InterruptedError):
                pass  # another event took it first
            except OSError:
                pass  # the client went away first: nothing to answer


class Probe:
    def __init__(self, spec, sel, now):
        self.id = spec["id"]
        self.udp = spec["proto"] == "udp"
        self.answer = None
        self.error = None
        self.done = False
        self.data = b""
        self.refused = False
        addr = (spec["ip"], int(spec["port"]))
        family = socket.AF_INET6 if ":" in spec["ip"] else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM if self.udp else socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sel = sel
        if self.udp:
            try:
                self.sock.connect(addr)  # a connected UDP socket hears ICMP errors as ECONNREFUSED
            except OSError as e:
                self.finish(error=str(e))
                return
            sel.register(self.sock, selectors.EVENT_READ, self)
            self.send_datagram(now)
        else:
            rc = self.sock.connect_ex(addr)
            if rc not in (0, errno.EINPROGRESS):
                self.finish(error=os.strerror(rc))
                return
            sel.register(self.sock, selectors.EVENT_WRITE, self)

    def send_datagram(self, now):
        try:
            self.sock.send(b"probe\n")
        except OSError as e:
            if e.errno != errno.ECONNREFUSED:
                self.finish(error=str(e))
                return
            self.refused = True  # an earlier datagram's ICMP error: send again
        self.resend_at = now + UDP_RESEND

    def ready(self, events):
        if not self.udp and events & selectors.EVENT_WRITE:
            rc = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if rc:
                self.finish(error=os.strerror(rc))
            else:
                self.sel.modify(self.sock, selectors.EVENT_READ, self)
            return
        try:
            chunk = self.sock.recv(LINE_MAX)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            if self.udp and e.errno == errno.ECONNREFUSED:
                self.refused = True  # rejected for now; resends go on until the deadline
                return
            self.finish(error=str(e))
            return
        if self.udp:
            self.finish(answer=chunk)
            return
        self.data += chunk
        if not chunk or b"\n" in self.data or len(self.data) >= LINE_MAX:
            if self.data.strip():
                self.finish(answer=self.data)
            else:
                self.finish(error="closed without an answer")

    def finish(self, answer=None, error=None):
        if answer is not None:
            self.answer = answer.decode(errors="replace").strip().split("\n")[0]
        self.error = error
        self.done = True
        try:
            self.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()


def probe(args):
    specs = json.load(sys.stdin)
    # Every probe holds a socket at once: raise the soft limit of descriptors to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    deadline = start + args.timeout
    probes = [Probe(spec, sel, start) for spec in specs]
    while True:
        now = time.monotonic()
        waiting = [p for p in probes if not p.done]
        if not waiting or now >= deadline:
            break
        for p in waiting:
            if p.udp and now >= p.resend_at:
                p.send_datagram(now)
        wake = min([deadline] + [p.resend_at for p in waiting if p.udp and not p.done])
        for key, events in sel.select(max(0.0, wake - now)):
            key.data.ready(events)
    for p in probes:
        if not p.done:
            refused = " (refused: ICMP port unreachable)" if p.refused else ""
            p.finish(error=f"no answer within {args.timeout} s{refused}")
        print(json.dumps({"id": p.id, "answer": p.answer, "error": p.error}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--ports", default="80,81")
    s.add_argument("--ready-file")
    p = sub.add_parser("probe")
    p.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    if args.verb == "serve":
        serve(args)
    else:
        probe(args)


if __name__ == "__main__":
    main()
