"""End-to-end test kit: one routelet lab (scripts/lab) per test class, and the probes the
tests read it with (routes, links, kubectl, agent endpoints, logs, pings).

Every lab gets its own --prefix and a temp --state dir, so it never meets a person's lab
(prefix rl) or another test's. Waits poll with deadlines; nothing sleeps to be ready.
Missing root or tools is a failure, never a skip: an e2e run that tests nothing must not
look green.
"""

import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LAB = os.path.join(ROOT, "scripts", "lab")
LAB_SH = os.path.join(ROOT, "scripts", "lib", "lab.sh")
LAB_EXTRA = os.path.join(HERE, "lab_extra.sh")
STANDIN = os.path.join(ROOT, "tests", "apiserver", "standin")
BUILD_DIR = os.environ.get("BUILD_DIR") or os.path.join(ROOT, "build")
AGENT_BIN = os.path.join(BUILD_DIR, "controller", "routelet")
CNI_BIN = os.path.join(BUILD_DIR, "cni", "routelet-cni")
ROUTE_PROTO = "201"
# The kubectl scripts/setup installs (Debian's 1.20.2), whatever else the machine has.
KUBECTL = os.path.join(os.environ.get("ROUTELET_CACHE", "/var/cache/routelet"), "bin", "kubectl")
AGENT_PORT = 9654
POLL = 0.05


def require_environment():
    """Raises (a test error, not a skip) when the e2e suite cannot run here."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (the lab creates network namespaces)")
    for tool in ("ip", "ping", "bash", "setsid", "openssl", "nft", "curl", KUBECTL):
        if shutil.which(tool) is None:
            problems.append(f"{tool} not found (scripts/setup installs what is missing)")
    for binary in (AGENT_BIN, CNI_BIN):
        if not os.access(binary, os.X_OK):
            problems.append(f"{binary} not built (BUILD_DIR={BUILD_DIR}; build targets "
                            "routelet and routelet-cni)")
    if problems:
        raise AssertionError("e2e cannot run: " + "; ".join(problems))


def run(cmd, check=True, timeout=60, input=None, env=None):
    """subprocess.run with text output; a failure shows the command and its output."""
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                       env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"command failed ({p.returncode}): {' '.join(cmd)}\n"
                             f"stdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    return p


def wait_until(what, predicate, timeout, interval=POLL):
    """Polls predicate until it returns something truthy (returned) or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except (AssertionError, subprocess.SubprocessError, OSError, ValueError) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def process_gone(pid):
    """True once pid exited (also while a zombie nobody has reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def unique_prefix(tag):
    """e<tag><pid base 36>: at most 8 characters, as scripts/lab wants; a leftover with the
    same name (a crashed earlier run with a reused pid) is avoided with a random suffix."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n, s = os.getpid(), ""
    while n:
        n, r = divmod(n, 36)
        s = digits[r] + s
    prefix = ("e" + tag + s)[:8]
    taken = {line.split()[0].split("-")[0] for line in
             run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()}
    while prefix in taken:
        prefix = "e" + tag + "".join(random.choice(digits) for _ in range(5))
    return prefix


def parse_metrics(text):
    """Prometheus text format to [(name, {label: value}, float)]."""
    out = []
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            raise AssertionError(f"not a Prometheus sample line: {line!r}")
        labels = dict(label_re.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


SERVICES_HEADER = re.compile(r"^services \(IPv(\d)\):")


def services_matrix(output):
    """{family: [row]} of the Services matrices in scripts/lab's output; a row is a dict
    from, to, answered, seen, result ("ok" or "FAIL"), what (the path and what it needs)."""
    matrices, rows = {}, None
    for line in output.splitlines():
        m = SERVICES_HEADER.match(line)
        if m:
            rows = matrices.setdefault(int(m.group(1)), [])
        elif rows is not None and line.startswith("  ") and not line.split()[0] == "FROM":
            fields = line.split(None, 5)
            rows.append(dict(zip(("from", "to", "answered", "seen", "result", "what"), fields)))
        elif not line.strip():
            rows = None
    return matrices


class Lab:
    """One lab: `up` in setUpClass, `down` in the class cleanup (always, also on failure)."""

    def __init__(self, tag, nodes, dual=False, runtime="direct", cluster="standin",
                 deploy="process"):
        require_environment()
        self.runtime = runtime
        self.cluster = cluster
        # How the real cluster runs the agent: the lab's own process, or the DaemonSet of
        # manifests/routelet.yaml from the image (scripts/lab --deploy).
        self.deploy = deploy
        self.prefix = unique_prefix(tag)
        self.state = tempfile.mkdtemp(prefix=f"routelet-e2e-{self.prefix}-")
        self.nodes = nodes
        self.dual = dual
        self.api_dir = os.path.join(self.state, "apiserver")
        self.underlay = f"{self.prefix}-underlay"
        self.admin_kubeconfig = os.path.join(self.api_dir, "admin.kubeconfig")

    # --- names, as scripts/lib/lab.sh makes them
    def node(self, i):
        return f"{self.prefix}-node{i}"

    def pod(self, i, j):
        return f"{self.prefix}-node{i}-pod{j}"

    @staticmethod
    def node_ip(i):
        return f"192.168.1.{10 + i}"

    @staticmethod
    def node_ip6(i):
        return f"fd00:192:168:1::{10 + i}"

    @staticmethod
    def cidr(i):
        return f"10.244.{i}.0/24"

    @staticmethod
    def cidr6(i):
        return f"fd00:10:244:{i}::/64"

    def node_dir(self, i):
        return os.path.join(self.state, self.node(i))

    # --- the lab itself
    def _env(self):
        return dict(os.environ, LAB_SKIP_BUILD="1", BUILD_DIR=BUILD_DIR)

    def lab(self, verb, *args, check=True, timeout=240):
        cmd = [LAB, verb, "--prefix", self.prefix, "--state", self.state, *args]
        p = run(cmd, check=False, timeout=timeout, env=self._env())
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode})\nstdout:\n"
                                 f"{p.stdout[-6000:]}\nstderr:\n{p.stderr[-3000:]}\n"
                                 f"{self.log_tails()}")
        return p

    def up(self, *settings, check=True):
        """scripts/lab up with this lab's shape; settings: more flags (--hairpin off, ...).
        On a running lab it restarts the agents whose settings changed."""
        args = ["--cluster", self.cluster, "--nodes", str(self.nodes), *settings]
        # The real cluster's pods are its kubelets' (through containerd); --runtime is the
        # stand-in's.
        args += ["--runtime", self.runtime] if self.cluster == "standin" else ["--deploy", self.deploy]
        args += ["--dual-stack"] if self.dual else []
        started = time.monotonic()
        p = self.lab("up", *args, check=check, timeout=240 if self.cluster == "standin" else 600)
        how = f"pods by {self.runtime}" if self.cluster == "standin" else "a real cluster"
        print(f"\n[e2e] lab {self.prefix} up ({self.nodes} nodes{', dual-stack' if self.dual else ''}"
              f", {how}{''.join(' ' + s for s in settings)}) in "
              f"{time.monotonic() - started:.1f}s, exit {p.returncode}")
        return p

    def down(self):
        return self.lab("down", check=False, timeout=120)

    def status(self):
        return self.lab("status", check=False)

    def sh(self, script, check=True, timeout=120):
        """Runs bash with scripts/lib/lab.sh and lab_extra.sh sourced, as scripts/lab does."""
        prelude = ("set -euo pipefail; "
                   f"ROOT={ROOT!r} PREFIX={self.prefix!r} STATE={self.state!r} "
                   f"BUILD={BUILD_DIR!r}; source {LAB_SH!r}; source {LAB_EXTRA!r}; "
                   "lab_conf_load; ")
        return run(["bash", "-c", prelude + script], check=check, timeout=timeout,
                   env=self._env())

    def log_tails(self, lines=25):
        if self.deploy == "daemonset":
            p = self.kubectl("-n", "kube-system", "logs", "-l", "app.kubernetes.io/name=routelet",
                             "--prefix", f"--tail={lines}", check=False)
            return f"--- kubectl logs of the routelet DaemonSet's pods\n{p.stdout}{p.stderr}"
        out = []
        for name in sorted(os.listdir(self.state)) if os.path.isdir(self.state) else []:
            path = os.path.join(self.state, name, "agent.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    tail = f.read().splitlines()[-lines:]
                out.append(f"--- {path} (last {lines} lines)\n" + "\n".join(tail))
        return "\n".join(out)

    SANITIZER_MARKS = ("runtime error:", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer")

    def sanitizer_reports(self):
        """[(log, line)] of sanitizer reports in the agents' and the plugin's logs: in the
        ASan+UBSan run a report there is a failure even when the process carried on."""
        found = []
        for root, _, files in os.walk(self.state) if os.path.isdir(self.state) else []:
            for name in files:
                if name in ("agent.log", "cni.log"):
                    path = os.path.join(root, name)
                    with open(path, errors="replace") as f:
                        found += [(path, line) for line in f
                                  if any(m in line for m in self.SANITIZER_MARKS)]
        return found

    # --- namespaces, links, routes
    def ns(self, ns, *cmd, check=True, timeout=60):
        return run(["ip", "netns", "exec", ns, *cmd], check=check, timeout=timeout)

    def ip(self, ns, *args, check=True):
        return run(["ip", "-n", ns, *args], check=check)

    def namespaces(self):
        return sorted(line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines()
                      if line.startswith(self.prefix + "-"))

    def all_routes(self, ns, family=4):
        p = run(["ip", "-j", f"-{family}", "-n", ns, "route", "show", "table", "main"])
        return json.loads(p.stdout or "[]")

    def routes(self, i, family=4):
        """routelet's routes on node i: {dst: route}, protocol checked from a full dump."""
        return {r["dst"]: r for r in self.all_routes(self.node(i), family)
                if str(r.get("protocol")) == ROUTE_PROTO}

    def gateways(self, i, family=4):
        """{dst: gateway} of routelet's routes on node i."""
        return {dst: r.get("gateway") for dst, r in self.routes(i, family).items()}

    def addresses(self, ns, dev, family=4):
        p = run(["ip", "-j", f"-{family}", "-n", ns, "addr", "show", "dev", dev], check=False)
        if p.returncode != 0:
            return []
        return [f"{a['local']}/{a['prefixlen']}" for link in json.loads(p.stdout or "[]")
                for a in link.get("addr_info", []) if a.get("scope") == "global"]

    def link(self, ns, dev):
        p = run(["ip", "-j", "-d", "-n", ns, "link", "show", "dev", dev], check=False)
        return json.loads(p.stdout)[0] if p.returncode == 0 and p.stdout.strip() else None

    def leases(self, i):
        """The addresses node i's routelet-cni holds, as its store's lease files name them."""
        return set(os.listdir(os.path.join(self.ipam_dir(i), "routelet", "leases")))

    def host_links(self, i):
        """The names of node i's links."""
        out = run(["ip", "-n", self.node(i), "-j", "link", "show"]).stdout
        return {link["ifname"] for link in json.loads(out)}

    def pod_ip(self, i, j, family=4):
        addrs = self.addresses(self.pod(i, j), "eth0", family)
        return addrs[0].split("/")[0] if addrs else None

    def pods(self):
        """[(i, j)] of every pod namespace of this lab."""
        out = []
        for ns in self.namespaces():
            m = re.fullmatch(re.escape(self.prefix) + r"-node(\d+)-pod(\d+)", ns)
            if m:
                out.append((int(m.group(1)), int(m.group(2))))
        return sorted(out)

    def ping_once(self, src_ns, dst_ip, family=4):
        # Any of three echo requests answered: the first may wait for neighbour discovery
        # on each hop of a busy machine, which is not a connectivity failure.
        p = self.ns(src_ns, "ping", f"-{family}", "-c3", "-i0.2", "-W2", "-q", dst_ip, check=False)
        return p.returncode == 0

    def unreachable_pairs(self, family=4):
        """Every pod pings every other pod once (sources in parallel); the failing pairs."""
        pods = self.pods()
        ips = {p: self.pod_ip(*p, family=family) for p in pods}
        failures = []
        lock = threading.Lock()

        def from_source(src):
            for dst in pods:
                if dst == src:
                    continue
                ok = ips[dst] is not None and self.ping_once(self.pod(*src), ips[dst], family)
                if not ok:
                    with lock:
                        failures.append((self.pod(*src), self.pod(*dst), ips[dst]))

        threads = [threading.Thread(target=from_source, args=(p,)) for p in pods]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return failures

    # --- the API (admin kubeconfig, inside the underlay namespace)
    def kubectl(self, *args, check=True, input=None, timeout=60):
        return run(["ip", "netns", "exec", self.underlay, KUBECTL, "--kubeconfig",
                    self.admin_kubeconfig, *args], check=check, input=input, timeout=timeout)

    def get_node(self, name):
        p = self.kubectl("get", "node", name, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def create_node(self, name, cidrs=(), addresses=(), annotations=None):
        """POSTs a Node through kubectl; cidrs empty: no podCIDR (as before the controller
        manager assigns one). addresses: [(type, address)]."""
        spec = {}
        if cidrs:
            spec = {"podCIDR": cidrs[0], "podCIDRs": list(cidrs)}
        obj = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": name, "annotations": annotations or {}},
               "spec": spec,
               "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]}}
        # Nodes keep the status they are created with (the kubelet registers its Node so).
        self.kubectl("create", "--validate=false", "-f", "-", input=json.dumps(obj))

    def patch_node(self, name, patch):
        self.kubectl("patch", "node", name, "--type=merge", "-p", json.dumps(patch))

    def patch_node_status(self, name, patch):
        """A merge PATCH of nodes/NAME/status as the admin, as the lab's `move` sends it
        (kubectl patch reaches subresources only from 1.24 on)."""
        self.sh(f"node_status_patch {name} {shlex.quote(json.dumps(patch))}")

    def delete_node(self, name):
        self.kubectl("delete", "node", name, "--ignore-not-found")

    def annotations(self, name):
        node = self.get_node(name) or {}
        return node.get("metadata", {}).get("annotations", {}) or {}

    def condition(self, name, kind):
        node = self.get_node(name) or {}
        for c in node.get("status", {}).get("conditions", []) or []:
            if c.get("type") == kind:
                return c
        return None

    def standin(self, *args, check=True):
        return run(["ip", "netns", "exec", self.underlay, STANDIN, "ctl", "--state-dir",
                    self.api_dir, *args], check=check)

    def tokens(self):
        out = []
        for name in ("admin.token", "agent.token"):
            with open(os.path.join(self.api_dir, name)) as f:
                out.append(f.read().strip())
        return out

    # --- agents
    def agent_pid(self, i):
        with open(os.path.join(self.node_dir(i), "agent.pid")) as f:
            return int(f.read().strip())

    def ipam_dir(self, i):
        """Node i's address store: the lab's agent's flag, or the DaemonSet's /run/routelet/ipam
        (the node's run dir, which the lab binds there)."""
        return os.path.join(self.node_dir(i), "run" if self.deploy == "daemonset" else "", "ipam")

    def agent_pod(self, i):
        """(name, uid) of the DaemonSet's pod on node i; None when there is none."""
        pods = json.loads(self.kubectl("-n", "kube-system", "get", "pods", "-l",
                                       "app.kubernetes.io/name=routelet", "-o", "json").stdout)
        for pod in pods["items"]:
            if pod["spec"].get("nodeName") == self.node(i) and not pod["metadata"].get("deletionTimestamp"):
                return pod["metadata"]["name"], pod["metadata"]["uid"]
        return None

    def restart_agent(self, i):
        """Stops node i's agent and starts a new one, as an upgrade or a crash would: the
        lab's process again, or the DaemonSet's pod deleted and made again by its
        controller. Returns once the new one is ready."""
        if self.deploy == "daemonset":
            old = self.agent_pod(i)
            self.kubectl("-n", "kube-system", "delete", "pod", old[0], "--wait=false")
            wait_until(f"a new routelet pod on {self.node(i)}",
                       lambda: (self.agent_pod(i) or old)[1] != old[1], 60)
            # Ready by the kubelet's probe of the new container (the old one may still answer
            # /readyz for a moment after its SIGTERM).
            self.kubectl("-n", "kube-system", "wait", "--for=condition=Ready",
                         f"pod/{self.agent_pod(i)[0]}", "--timeout=90s", timeout=120)
        else:
            old = self.agent_pid(i)
            self.sh(f"stop_agent {i}; start_agent {i}")
            assert self.agent_pid(i) != old
        self.wait_ready(i)

    def agent_log(self, i):
        path = os.path.join(self.node_dir(i), "agent.log")
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return f.read()

    def start_agent(self, i):
        self.sh(f"start_agent {i}")

    def http(self, i, path, timeout=5):
        """(status, body) of GET path on node i's agent; (None, error) when it does not answer."""
        script = ("import socket,sys\n"
                  "try:\n"
                  f" s=socket.create_connection(('127.0.0.1',{AGENT_PORT}),timeout={timeout})\n"
                  " s.sendall(('GET '+sys.argv[1]+' HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n').encode())\n"
                  " data=b''\n"
                  " while True:\n"
                  "  c=s.recv(65536)\n"
                  "  if not c: break\n"
                  "  data+=c\n"
                  " sys.stdout.buffer.write(data)\n"
                  "except OSError as e:\n"
                  " print('ERROR',e); sys.exit(3)\n")
        p = self.ns(self.node(i), "/usr/bin/python3", "-c", script, path, check=False,
                    timeout=timeout + 5)
        if p.returncode != 0:
            return None, p.stdout + p.stderr
        # text mode already turned the CRLFs of the head into newlines
        head, _, body = p.stdout.partition("\n\n")
        status_line = head.split("\n", 1)[0].split()
        return (int(status_line[1]) if len(status_line) > 1 else None), body

    def ready(self, i):
        return self.http(i, "/readyz")[0] == 200

    def wait_ready(self, i, timeout=60):
        wait_until(f"agent of {self.node(i)} to be ready", lambda: self.ready(i), timeout)

    def metrics(self, i):
        status, body = self.http(i, "/metrics")
        if status != 200:
            raise AssertionError(f"/metrics of {self.node(i)}: {status} {body[:300]}")
        return parse_metrics(body)

    def metric(self, i, name, **labels):
        """Sum of the samples of name whose labels include labels; None when none exists."""
        values = [v for n, ls, v in self.metrics(i)
                  if n == name and all(ls.get(k) == want for k, want in labels.items())]
        return sum(values) if values else None


class RouteWatch:
    """Polls routelet's routes of some nodes every `interval` in a thread and records every
    route that disappeared between two polls (node, dst, time), for "routes never flap"."""

    def __init__(self, lab, nodes, interval=0.1, family=4):
        self.lab, self.nodes, self.interval, self.family = lab, nodes, interval, family
        self.removals = []  # (monotonic time, node index, dst)
        self.polls = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self):
        self._last = {i: set(self.lab.routes(i, self.family)) for i in self.nodes}
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _loop(self):
        while not self._stop.is_set():
            now = time.monotonic()
            for i in self.nodes:
                try:
                    current = set(self.lab.routes(i, self.family))
                except Exception as e:  # recorded, the test fails on it
                    self.errors.append(repr(e))
                    continue
                for dst in self._last[i] - current:
                    self.removals.append((now, i, dst))
                self._last[i] = current
            self.polls += 1
            self._stop.wait(self.interval)

    def removed_between(self, start, end):
        return [r for r in self.removals if start <= r[0] <= end]


class Ping:
    """ping -i 0.01 (100 packets a second) from a namespace, in the background. Lost packets
    are counted from the replies' sequence numbers, in the window from mark() to the last
    reply: every sequence in it must have an answer. Packets still in flight when it stops
    are not losses, and neither are those before mark(): a fresh flow's first echo can wait
    on neighbour discovery along its hops, which says nothing about what a test then does."""

    def __init__(self, lab, src_ns, dst_ip, family=4, interval="0.01"):
        self.desc = f"{src_ns} -> {dst_ip}"
        self.out = tempfile.TemporaryFile(mode="w+")  # a pipe would fill and block ping
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", src_ns, "ping", f"-{family}", "-n", "-i", interval, dst_ip],
            stdout=self.out, stderr=subprocess.STDOUT, text=True)
        self.since = 1

    def wait_replies(self, count=5, timeout=10):
        wait_until(f"replies of ping {self.desc}", lambda: len(self.replies()) >= count, timeout)

    def mark(self):
        """Count losses from the newest reply so far on: the path is proven up here."""
        self.since = max(self.replies(), default=0) + 1

    def replies(self):
        self.out.flush()
        self.out.seek(0)
        text = self.out.read()
        return {int(m) for m in re.findall(r"bytes from .* icmp_seq=(\d+)", text)}

    @classmethod
    def flowing(cls, lab, flows):
        """Pings of [(src_ns, dst_ip, family)], each answered and marked: losses count from
        here on."""
        pings = [cls(lab, src, dst, family=family) for src, dst, family in flows]
        for ping in pings:
            ping.wait_replies()
            ping.mark()
        return pings

    def stop(self):
        """-> (replies, lost sequence numbers)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        replies = self.replies()
        last = max(replies) if replies else 0
        lost = sorted(set(range(self.since, last + 1)) - replies)
        return len(replies), lost


class LabTestCase(unittest.TestCase):
    """A test class sharing one lab: up once in setUpClass, down when the class ends, also
    when setUpClass or a test fails. Each test starts from the lab's own routes (setUp
    waits for them), so one test's leftovers show up as that test's failure."""

    TAG = "x"  # one letter naming the class in the lab prefix
    NODES = 3
    DUAL = False
    RUNTIME = "direct"  # how the lab makes pods: direct (exec routelet-cni) or containerd
    # False: a failing `up` (a cell of its matrices failed) does not fail setUpClass; a test
    # of the class asserts on first_up itself, so one failing cell fails that test, not all.
    UP_MUST_PASS = True
    lab = None
    first_up = None

    @classmethod
    def setUpClass(cls):
        cls.lab = Lab(cls.TAG, cls.NODES, cls.DUAL, cls.RUNTIME)
        cls._is_down = False
        cls.addClassCleanup(cls.lab_down)
        cls.first_up = cls.lab.up(check=cls.UP_MUST_PASS)

    @classmethod
    def tearDownClass(cls):
        cls.lab_down()

    @classmethod
    def lab_down(cls):
        if cls.lab is not None and not cls._is_down:
            cls._is_down = True
            p = cls.lab.down()
            if p.returncode != 0:
                print(f"[e2e] lab down failed: {p.stdout}\n{p.stderr}")

    def setUp(self):
        self._failures_before = self._failure_count()
        if not self._is_down:
            self.wait_routes({i: self.peer_gateways(i) for i in self.lab_nodes()}, timeout=30,
                             what="the lab's own routes before the test")

    def tearDown(self):
        if self._is_down:
            return
        if self._failure_count() > self._failures_before:
            print(f"\n[e2e] {self.id()} failed; agent logs:\n{self.lab.log_tails()}")
        self.assertEqual(self.lab.sanitizer_reports(), [], "sanitizer reports in the lab's logs")

    def _failure_count(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return len(result.failures) + len(result.errors) if result is not None else 0

    # --- Nodes of the API only
    def create_peer(self, k, ip=None, cidrs=None):
        """A Node k (API only, no namespace): podCIDR 10.244.k.0/24, InternalIP
        192.168.1.(10+k) unless given; deleted when the test ends."""
        name = self.lab.node(k)
        self.addCleanup(self.lab.delete_node, name)
        self.lab.create_node(name, cidrs=cidrs if cidrs is not None else [Lab.cidr(k)],
                             addresses=[("InternalIP", ip or Lab.node_ip(k)), ("Hostname", name)])
        return name

    # --- expectations
    def lab_nodes(self):
        return list(range(1, self.NODES + 1))

    def peer_gateways(self, i, nodes=None, family=4):
        """{peer podCIDR: peer node IP} that node i should route, for the lab's nodes."""
        nodes = self.lab_nodes() if nodes is None else nodes
        if family == 4:
            return {Lab.cidr(k): Lab.node_ip(k) for k in nodes if k != i}
        return {Lab.cidr6(k): Lab.node_ip6(k) for k in nodes if k != i}

    def wait_routes(self, want, timeout=30, family=4, what="routes"):
        """want: {node index: {dst: gateway}}; waits until each node has exactly those."""
        def matches():
            return all(self.lab.gateways(i, family) == w for i, w in want.items())
        try:
            wait_until(what, matches, timeout)
        except AssertionError:
            have = {i: self.lab.gateways(i, family) for i in want}
            self.fail(f"{what}: want {want}, have {have}")

    def wait_route(self, nodes, dst, gateway, timeout=30, family=4):
        """Waits until every node in nodes routes dst via gateway (None: has no route to dst)."""
        def matches():
            return all(self.lab.gateways(i, family).get(dst) == gateway for i in nodes)
        try:
            wait_until(f"route {dst} via {gateway}", matches, timeout)
        except AssertionError:
            have = {i: self.lab.gateways(i, family).get(dst) for i in nodes}
            self.fail(f"want {dst} via {gateway} on nodes {nodes}, have {have}")
