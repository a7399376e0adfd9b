#!/usr/bin/python3
"""API side of the agent benchmark; runs where the stand-in listens (ip netns exec NS).

  apiload.py warm    STATE_DIR            one full paginated LIST (fills the stand-in's
                                          encoding cache, so agent start measures the agent)
  apiload.py updates STATE_DIR PLAN MS    PATCH nodes/NAME/status for each [name, ip] of the
                                          JSON list PLAN, one every MS ms; prints a JSON list
                                          of [send_ns, response_ns, http_status] (monotonic)
"""

import http.client
import json
import os
import re
import ssl
import sys
import time


CONTINUE = re.compile(rb'"continue":\s*"([^"]+)"')


def connect(state_dir):
    with open(os.path.join(state_dir, "standin.json"), encoding="utf-8") as f:
        info = json.load(f)
    url = info["url"]
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=os.path.join(state_dir, "ca.crt"))
    with open(os.path.join(state_dir, "admin.token"), encoding="utf-8") as f:
        token = f.read().strip()
    conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=300)
    return conn, {"Authorization": f"Bearer {token}"}


def warm(state_dir):
    conn, headers = connect(state_dir)
    cont, items = "", 0
    while True:
        conn.request("GET", "/api/v1/nodes?limit=500" + (f"&continue={cont}" if cont else ""),
                     headers=headers)
        body = conn.getresponse().read()
        # Only the continue token is needed: no full parse, so the time is the server's.
        m = CONTINUE.search(body)
        items += body.count(b'"kind":"Node"') or body.count(b'"kind": "Node"')
        cont = m.group(1).decode() if m else ""
        if not cont:
            break
    print(items)


def updates(state_dir, plan_file, interval_ms):
    with open(plan_file, encoding="utf-8") as f:
        plan = json.load(f)
    conn, headers = connect(state_dir)
    headers = dict(headers, **{"Content-Type": "application/merge-patch+json"})
    out = []
    start = time.monotonic_ns()
    step = int(interval_ms * 1e6)
    for j, (name, address) in enumerate(plan):
        # Paced, not back to back: the benchmark wants latency, not queueing behind
        # the previous update.
        delay = start + j * step - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        body = json.dumps({"status": {"addresses": [
            {"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}]}})
        sent = time.monotonic_ns()
        conn.request("PATCH", f"/api/v1/nodes/{name}/status", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append([sent, time.monotonic_ns(), response.status])
    json.dump(out, sys.stdout)


def main():
    if sys.argv[1] == "warm":
        warm(sys.argv[2])
    elif sys.argv[1] == "updates":
        updates(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit(f"apiload.py: unknown mode {sys.argv[1]} (want warm or updates)")


if __name__ == "__main__":
    main()
