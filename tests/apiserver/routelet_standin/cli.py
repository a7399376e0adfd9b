"""`standin serve ...` starts the stand-in; `standin ctl ...` injects faults into it."""

import argparse
import gc
import http.client
import json
import os
import signal
import ssl
import sys
import time

from . import certs, nodegen, podgen, rbac
from .kinds import NAMESPACE, NETWORK_POLICY, POD
from .server import CONTROL_PREFIX, LIST_FAULTS, WATCH_FAULTS, StandIn
from .store import Store, timestamp

INFO_FILE = "standin.json"
ADMIN_USER = "kubernetes-admin"


def _listen_address(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--listen {text!r}: use HOST:PORT, e.g. 127.0.0.1:0")
    return host.strip("[]"), int(port)


def serve(args):
    os.makedirs(args.state_dir, exist_ok=True)
    state_dir = os.path.abspath(args.state_dir)
    host, port = args.listen
    agent = rbac.load_agent_subject(args.rbac)
    admin = rbac.Subject(ADMIN_USER, admin=True)
    admin_token = certs.ensure_token(state_dir, certs.ADMIN_TOKEN)
    agent_token = certs.ensure_token(state_dir, certs.AGENT_TOKEN)
    public_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    crt, key = certs.make_serving_cert(state_dir, [public_host, *args.san])

    store = Store(history_limit=args.history)
    started = timestamp(time.time())
    nodes = nodegen.synthetic_nodes(args.nodes, args.node_prefix, started)
    if args.node_file:
        nodes += nodegen.load_node_file(args.node_file, args.node_prefix, started)
    store.load(nodes)
    store.load(podgen.system_namespaces(started), NAMESPACE)
    namespaces = args.namespaces
    if namespaces is None:
        namespaces = 100 if args.pods or args.policies else 0
    store.load_source(podgen.Namespaces(namespaces, started), NAMESPACE)
    store.load_source(podgen.Pods(args.pods, namespaces, podgen.pod_nodes(nodes), started), POD)
    store.load_source(podgen.NetworkPolicies(args.policies, namespaces, started), NETWORK_POLICY)
    # The start-up objects live as long as the process: out of the cycle collector's sight.
    # A LIST page of 500 synthetic Pods makes some 200 000 short-lived objects; collecting
    # every 700 allocations (the default) would spend a quarter of the LIST in the collector.
    gc.freeze()
    gc.set_threshold(100_000, 20, 100)

    app = StandIn(store, host, port, crt, key, {admin_token: admin, agent_token: agent},
                  bookmark_interval=args.bookmark_interval, verbose=args.verbose,
                  event_log=open(args.event_log, "a", buffering=1, encoding="utf-8")
                  if args.event_log else None)
    # Signals go to sigwait() in this thread only; the server threads inherit the mask.
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    app.listen()
    url = f"https://{public_host}:{app.port}" if ":" not in public_host else \
        f"https://[{public_host}]:{app.port}"
    ca = os.path.join(state_dir, "ca.crt")
    certs.write_kubeconfig(os.path.join(state_dir, "admin.kubeconfig"), url, ca, ADMIN_USER,
                           admin_token)
    certs.write_kubeconfig(os.path.join(state_dir, "agent.kubeconfig"), url, ca, agent.user,
                           agent_token)
    with open(os.path.join(state_dir, INFO_FILE), "w") as f:
        json.dump({"url": url, "host": public_host, "port": app.port, "pid": os.getpid(),
                   "control": CONTROL_PREFIX, "agentUser": agent.user}, f)
    ready = f"READY {url}\n"
    if args.ready_fd is not None:
        os.write(args.ready_fd, ready.encode())
        os.close(args.ready_fd)
    else:
        sys.stdout.write(ready)
        sys.stdout.flush()

    while True:
        sig = signal.sigwait(handled)
        if sig == signal.SIGUSR1:
            app.unlisten()
        elif sig == signal.SIGUSR2:
            app.listen()
        else:
            app.unlisten()
            return 0


def daemonize(args):
    """Fork; the parent returns once the child listens and has written its files."""
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        with os.fdopen(read_end) as r:
            line = r.readline()
        if not line.startswith("READY "):
            sys.stderr.write(f"standin: the server did not start; see "
                             f"{os.path.join(args.state_dir, 'standin.log')}\n")
            return 1
        sys.stdout.write(line)
        return 0
    os.close(read_end)
    os.setsid()
    log = os.open(os.path.join(args.state_dir, "standin.log"),
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    args.ready_fd = write_end
    os._exit(serve(args) or 0)


# ---------------------------------------------------------------- ctl

def _info(state_dir):
    with open(os.path.join(state_dir, INFO_FILE)) as f:
        return json.load(f)


def control(state_dir, method, command, params=None, timeout=10):
    """One control request over HTTPS with the admin token; returns (status, parsed body)."""
    info = _info(state_dir)
    with open(os.path.join(state_dir, certs.ADMIN_TOKEN)) as f:
        token = f.read().strip()
    context = ssl.create_default_context(cafile=os.path.join(state_dir, "ca.crt"))
    conn = http.client.HTTPSConnection(info["host"], info["port"], context=context,
                                       timeout=timeout)
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    conn.request(method, CONTROL_PREFIX + command + (f"?{query}" if query else ""),
                 headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = json.loads(response.read() or b"null")
    conn.close()
    return response.status, body


def ctl(args):
    if args.command in ("down", "up", "stop"):
        sig = {"down": signal.SIGUSR1, "up": signal.SIGUSR2, "stop": signal.SIGTERM}[args.command]
        os.kill(_info(args.state_dir)["pid"], sig)
        return 0
    params = {}
    if args.command == "fail":
        params = {"count": args.count, "code": args.code, "retryAfter": args.retry_after}
    elif args.command == "delay":
        params = {"ms": args.ms}
    elif args.command == "restart":
        params = {"downMs": args.down_ms}
    elif args.command in ("list-fault", "watch-fault"):
        params = {"mode": args.fault}
    method = "GET" if args.command == "status" else "POST"
    status, body = control(args.state_dir, method, args.command, params)
    print(json.dumps(body))
    return 0 if status == 200 else 1


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_rbac = os.path.normpath(os.path.join(here, "..", "..", "..", "manifests",
                                                 "routelet.yaml"))
    parser = argparse.ArgumentParser(prog="standin", description="Kubernetes API stand-in "
                                     "for Nodes, Namespaces, Pods and NetworkPolicies (see "
                                     "tests/apiserver/README.md)")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve", help="start the stand-in")
    s.add_argument("--listen", type=_listen_address, default=("127.0.0.1", 0),
                   help="HOST:PORT (port 0 picks a free one; default 127.0.0.1:0)")
    s.add_argument("--state-dir", required=True,
                   help="CA, certificate, tokens, kubeconfigs and standin.json go here")
    s.add_argument("--nodes", type=int, default=0, help="synthetic Nodes to create")
    s.add_argument("--node-prefix", default="node-", help="synthetic Node name prefix")
    s.add_argument("--node-file", help="JSON list of Nodes (merged over synthetic ones)")
    s.add_argument("--namespaces", type=int,
                   help="synthetic Namespaces ns-00001… (default: 100 with --pods or --policies, "
                        "else 0)")
    s.add_argument("--pods", type=int, default=0,
                   help="synthetic running Pods, spread over the namespaces and the Nodes")
    s.add_argument("--policies", type=int, default=0,
                   help="synthetic NetworkPolicies, spread over the namespaces")
    s.add_argument("--rbac", default=default_rbac,
                   help="manifest with the agent's ClusterRole and binding")
    s.add_argument("--history", type=int, default=1000,
                   help="watch events kept for replay, per kind")
    s.add_argument("--bookmark-interval", type=float, default=1.0,
                   help="seconds between BOOKMARK events on watches that allow them")
    s.add_argument("--san", action="append", default=[],
                   help="extra IP or DNS name for the serving certificate")
    s.add_argument("--ready-fd", type=int, help="write the READY line to this fd, not stdout")
    s.add_argument("--daemon", action="store_true",
                   help="run in the background; return once ready (log: STATE/standin.log)")
    s.add_argument("--verbose", action="store_true", help="log every request to stderr")
    s.add_argument("--event-log", help="append 'CLOCK_MONOTONIC-ns TYPE NAME RV' for every "
                   "watch event sent (benchmarks)")

    c = sub.add_parser("ctl", help="control a running stand-in")
    c.add_argument("--state-dir", required=True)
    cmds = c.add_subparsers(dest="command", required=True)
    cmds.add_parser("status", help="resourceVersion, open watches, pending faults")
    cmds.add_parser("close-watches", help="end every open watch now")
    cmds.add_parser("expire-history", help="forget history: older versions get 410")
    f = cmds.add_parser("fail", help="fail the next COUNT API requests")
    f.add_argument("count", type=int)
    f.add_argument("--code", type=int, default=500, choices=[429, 500, 503])
    f.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds for 429")
    d = cmds.add_parser("delay", help="delay every API response by MS milliseconds (0: off)")
    d.add_argument("ms", type=int)
    lf = cmds.add_parser("list-fault", help="every LIST page is the first page again, with a "
                         "continue token that repeats or never ends (off: normal paging)")
    lf.add_argument("fault", choices=LIST_FAULTS)
    wf = cmds.add_parser("watch-fault", help="every watch ends after one ERROR event (code 500) "
                         "or one BOOKMARK, or is answered with HTTP 500 (off: normal watches)")
    wf.add_argument("fault", choices=WATCH_FAULTS)
    cmds.add_parser("reset", help="clear fail, delay, list and watch faults")
    r = cmds.add_parser("restart", help="stop listening, wait, listen again on the same port")
    r.add_argument("--down-ms", type=int, default=500)
    cmds.add_parser("down", help="stop listening (state kept) until 'up'")
    cmds.add_parser("up", help="listen again on the same port")
    cmds.add_parser("stop", help="terminate the stand-in")

    args = parser.parse_args(argv)
    try:
        if args.mode == "ctl":
            return ctl(args)
        if args.daemon:
            os.makedirs(args.state_dir, exist_ok=True)
            return daemonize(args)
        return serve(args)
    except (OSError, ValueError, RuntimeError) as e:
        sys.stderr.write(f"standin: {e}\n")
        return 1
