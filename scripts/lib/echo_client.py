#!/usr/bin/env python3
"""The lab's echo client: a TCP connection to ADDR PORT; prints the line the echo server
answers (its name and the source address it saw). Exits 0 when it was answered, 1 (the
reason on stderr) when no answer came within --timeout seconds, connecting included.

  echo_client.py ADDR PORT [--timeout S] [--count N] [--until NAME,...]

--count N makes N connections one after another, one output line each ("-" for one not
answered), and exits 0 only when every one was answered: one process for the N connections
a round robin Service needs to reach each of N endpoints. --until stops them early, once
every server named has answered: a Service that picks its endpoint at random (kube-proxy's
iptables mode) needs more connections than it has endpoints, but only until each answered.
"""

import argparse
import socket
import sys
import time


def ask(addr, port, timeout):
    """The answer line, or None (the reason on stderr)."""
    deadline = time.monotonic() + timeout
    data = b""
    try:
        with socket.create_connection((addr, port), timeout=timeout) as s:
            while not data.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("timed out waiting for the answer")
                s.settimeout(left)
                chunk = s.recv(512)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        print(f"echo_client: {addr} port {port}: {e}", file=sys.stderr)
        return None
    line = data.decode(errors="replace").strip()
    if not line:
        print(f"echo_client: {addr} port {port}: closed without an answer", file=sys.stderr)
        return None
    return line


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("addr")
    parser.add_argument("port", type=int)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--until", default="", help="comma-separated server names")
    args = parser.parse_args()
    waiting = {name for name in args.until.split(",") if name}
    failed = 0
    for _ in range(args.count):
        line = ask(args.addr, args.port, args.timeout)
        if line is None:
            failed += 1
            if args.count > 1:
                print("-", flush=True)
        else:
            print(line, flush=True)
            waiting.discard(line.split()[0])
            if args.until and not waiting:
                break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
