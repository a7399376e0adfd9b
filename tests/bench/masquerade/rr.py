#!/usr/bin/python3
"""Small-packet latency for the masquerade benchmark; run inside a namespace (ip netns exec).

  rr.py serve ADDRESS PORT           answers every byte it reads with one byte, on any number
                                     of connections, until SIGTERM; prints READY when listening
  rr.py connect ADDRESS PORT N       N short connections one after another: connect, one
                                     byte each way, close. The first packet of each passes
                                     the nat hook (the masquerade rule and its set lookup)
  rr.py rr ADDRESS PORT N            N one-byte round trips on one connection (TCP_RR): the
                                     established path, where NAT is a conntrack lookup

The clients print a JSON list of microseconds per connection or round trip. Python's own
cost is in every number alike; compare the paths within one run.
"""

import json
import selectors
import signal
import socket
import sys
import time


def serve(address, port):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(256)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ)
                continue
            conn = key.fileobj
            try:
                data = conn.recv(4096)
            except ConnectionError:
                data = b""
            if data:
                conn.sendall(b"x" * len(data))
            else:
                sel.unregister(conn)
                conn.close()


def connect(address, port, count):
    out = []
    for _ in range(count):
        t = time.monotonic_ns()
        with socket.create_connection((address, port), timeout=5) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(b"x")
            if not s.recv(1):
                raise RuntimeError("server closed the connection")
        out.append((time.monotonic_ns() - t) / 1e3)
    return out


def round_trips(address, port, count):
    out = []
    with socket.create_connection((address, port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            t = time.monotonic_ns()
            s.sendall(b"x")
            if not s.recv(1):
                raise RuntimeError("server closed the connection")
            out.append((time.monotonic_ns() - t) / 1e3)
    return out


def main():
    mode, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "serve":
        serve(address, port)
    elif mode == "connect":
        print(json.dumps(connect(address, port, int(sys.argv[4]))))
    elif mode == "rr":
        print(json.dumps(round_trips(address, port, int(sys.argv[4]))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
