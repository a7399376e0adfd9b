#!/usr/bin/python3
"""Benchmark (not a test): a full paginated LIST of N synthetic Nodes from the stand-in.

Usage: tests/bench/apiserver/list_5000.py [--nodes 5000] [--limit 500]
Prints pages, items, total body bytes and seconds per full LIST (server start excluded).
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "apiserver"))
from standin_fixture import StandIn  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2,
                        help="full LISTs in a row (the first encodes, later ones hit the cache)")
    args = parser.parse_args()
    started = time.monotonic()
    with StandIn(nodes=args.nodes) as s:
        startup = time.monotonic() - started
        conn = s.connection(timeout=300)
        for round_number in range(1, args.rounds + 1):
            report(conn, s.agent_token, args, round_number)
        conn.close()
    print(f"startup_seconds={startup:.2f}")


def report(conn, token_value, args, round_number):
    total_bytes, items, pages, token, parse = 0, 0, 0, "", 0.0
    started = time.monotonic()
    while True:
        path = f"/api/v1/nodes?limit={args.limit}" + (f"&continue={token}" if token else "")
        conn.request("GET", path, headers={"Authorization": f"Bearer {token_value}"})
        body = conn.getresponse().read()
        total_bytes += len(body)
        before_parse = time.monotonic()
        page = json.loads(body)
        parse += time.monotonic() - before_parse
        items += len(page["items"])
        pages += 1
        token = page["metadata"].get("continue")
        if not token:
            break
    elapsed = time.monotonic() - started
    print(f"round={round_number} nodes={args.nodes} limit={args.limit} pages={pages} "
          f"items={items} bytes={total_bytes} ({total_bytes / 1e6:.1f} MB) "
          f"seconds={elapsed:.2f} (client JSON parse {parse:.2f} s of it)")

if __name__ == "__main__":
    main()
