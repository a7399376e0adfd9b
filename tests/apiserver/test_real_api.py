"""The stand-in against a real kube-apiserver: the requests routelet's agent makes, sent to
both, and the answers compared on what the agent reads of them.

The real server is Kubernetes v1.20.2 (the binaries scripts/kubernetes builds; scripts/setup
does it once) with Debian's etcd, started by this test with the lab's own functions
(scripts/lib/lab.sh and kube.sh: kube_pki_make, make_underlay, kube_etcd_start,
kube_apiserver_start, kube_api_ready, KUBECTL_ADMIN, kube_down) in a network namespace named
after this process, `<prefix>-underlay`; the stand-in runs in that same namespace, on its
loopback. The agent's ServiceAccount and RBAC are the ones manifests/routelet.yaml declares, on
both. Everything is removed at the end, also when a check or the start fails.

What is compared is what controller/kube/ reads (http_api_client.cpp, node_watcher.cpp,
node_decode.cpp, policy_decode.cpp): HTTP codes, the List's metadata (resourceVersion,
continue), a Node's name, uid, resourceVersion, deletionTimestamp, spec.podCIDR(s),
status.addresses, routelet.io/ annotations and conditions, a Pod's labels, ports and
addresses, a Namespace's labels, a NetworkPolicy's spec, the watch's framing and event types,
and Status objects (code, reason, message, details). Resource versions differ between the two
(the real server counts every write of its etcd), so they are compared by how they relate:
equal, newer, unchanged.

Every check runs its requests on the stand-in and then on the real server and compares the
two digests: both servers see the same writes, in the same order. Needs root (network
namespaces) and the Kubernetes binaries: missing either is a failure, never a skip.
"""

import base64
import contextlib
import ctypes
import http.client
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

import yaml

from standin_fixture import StandIn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LAB_SH = os.path.join(ROOT, "scripts", "lib", "lab.sh")
KUBERNETES = os.path.join(ROOT, "scripts", "kubernetes")
MANIFEST = os.path.join(ROOT, "manifests", "routelet.yaml")
# The kubectl scripts/setup installs (the lab's KUBECTL_ADMIN runs it).
KUBECTL = os.path.join(os.environ.get("ROUTELET_CACHE", "/var/cache/routelet"), "bin", "kubectl")
AGENT_USER = "system:serviceaccount:kube-system:routelet"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
API_IP, API_PORT = "192.168.1.1", 6443  # scripts/lib/lab.sh's, where kube_apiserver_start binds
START_TIMEOUT = 150  # the apiserver is ready in ~6 s on an idle machine, far later on a busy one
WATCH_SECONDS = 5  # timeoutSeconds of the watches here
ETCD = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy from the env
SETUP = ("run scripts/setup as root (it builds the Kubernetes v1.20.2 binaries once into the "
         "dir `scripts/kubernetes --print-dir` names), then run this test as root")


def require_environment():
    """The binaries and root, or an AssertionError saying what to run."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (the real apiserver runs in a network namespace of its own)")
    bin_dir = subprocess.run([KUBERNETES, "--print-dir"], capture_output=True, text=True,
                             check=True).stdout.strip()
    if not os.path.exists(os.path.join(bin_dir, ".complete")):
        problems.append(f"the Kubernetes binaries are not built in {bin_dir}")
    for tool in ("etcd", "openssl", "curl", "ip", "setsid", KUBECTL):
        if shutil.which(tool) is None:
            problems.append(f"{tool} not found")
    if problems:
        raise AssertionError("test_real_api cannot run: " + "; ".join(problems) + f". {SETUP}")


def run(cmd, timeout=60, input=None, check=True):
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"command failed ({p.returncode}): {' '.join(cmd)[:300]}\n"
                             f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p


def unique_prefix():
    """'ra' and this process's id in base 36: the lab's namespaces are <prefix>-underlay."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n, s = os.getpid(), ""
    while n:
        n, r = divmod(n, 36)
        s = digits[r] + s
    taken = {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines()
             if line.strip()}
    prefix = "ra" + s
    while f"{prefix}-underlay" in taken:
        prefix = "ra" + "".join(random.choice(digits) for _ in range(6))
    return prefix


# ---------------------------------------------------------------- network namespaces

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def inside(netns):
    """This thread in network namespace `netns`: the sockets it opens and the processes it
    starts meanwhile belong there. The thread's own namespace is back afterwards."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(own)


class _Connection(http.client.HTTPSConnection):
    """HTTPS whose socket is opened in a network namespace."""

    def __init__(self, netns, host, port, context, timeout):
        super().__init__(host, port, context=context, timeout=timeout)
        self._netns = netns

    def connect(self):
        with inside(self._netns):
            super().connect()


# ---------------------------------------------------------------- the two servers

class Answer:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        try:
            self.body = json.loads(raw) if raw else None
        except ValueError:
            self.body = raw.decode(errors="replace")

    def __repr__(self):
        return f"HTTP {self.status}: {self.raw[:400]!r}"


class Target:
    """One API server as the agent reaches it: TLS verified against its CA, and who asks:
    `agent` (routelet's ServiceAccount), `admin`, `bad-token`, `anonymous`."""

    name = "?"

    def __init__(self, netns):
        self.netns = netns
        self.host = self.port = self.ca = None

    def context(self, who):
        return ssl.create_default_context(cafile=self.ca)

    def auth(self, who):
        raise NotImplementedError

    def open(self, method, path, body=None, who="agent", content_type=None, timeout=30):
        """content_type: a PATCH's is a merge patch, any other body's plain JSON, unless given."""
        content_type = content_type or (MERGE if method == "PATCH" else "application/json")
        headers = {"Accept": "application/json", "User-Agent": "routelet-test-real-api"}
        headers.update(self.auth(who))
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn = _Connection(self.netns, self.host, self.port, self.context(who), timeout)
        conn.request(method, path, body=data, headers=headers)
        return conn, conn.getresponse()

    def request(self, method, path, body=None, who="agent", content_type=None):
        conn, response = self.open(method, path, body, who, content_type)
        try:
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          response.read())
        finally:
            conn.close()

    def ok(self, method, path, body=None, who="admin", content_type=None, status=(200, 201)):
        a = self.request(method, path, body, who, content_type)
        if a.status not in status:
            raise AssertionError(f"{self.name}: {method} {path} as {who}: {a!r}")
        return a.body

    def too_old_version(self):
        """A resourceVersion older than what the server can watch from."""
        raise NotImplementedError


class StandInTarget(Target):
    name = "stand-in"

    def __init__(self, netns):
        super().__init__(netns)
        with inside(netns):  # the stand-in process in the namespace, on its loopback
            self.s = StandIn(bookmark_interval=1.0)
        self.host, self.port, self.ca = self.s.host, self.s.port, self.s.ca

    def auth(self, who):
        token = {"agent": self.s.agent_token, "admin": self.s.admin_token,
                 "bad-token": "not-a-routelet-token", "anonymous": None}[who]
        return {"Authorization": f"Bearer {token}"} if token else {}

    def too_old_version(self):
        # The stand-in's etcd compaction: every resourceVersion it gave out is too old now.
        self.compact()
        return "1"

    def compact(self):
        with inside(self.netns):
            self.s.ctl("expire-history")

    def stop(self):
        self.s.stop()


class RealServer(Target):
    """etcd and kube-apiserver v1.20.2 in the namespace <prefix>-underlay, by the lab's own
    functions; the agent's ServiceAccount and RBAC applied from the manifest."""

    name = "kube-apiserver"

    def __init__(self):
        self.prefix = unique_prefix()
        super().__init__(f"{self.prefix}-underlay")
        self.state = tempfile.mkdtemp(prefix=f"routelet-real-api-{self.prefix}-")
        self.host, self.port = API_IP, API_PORT
        self.ca = os.path.join(self.state, "pki", "ca.crt")
        self.token = None
        self.stopped = False

    def sh(self, script, timeout=120, input=None, check=True):
        """bash with the lab's functions, as scripts/lab has them (no nodes, one segment)."""
        prelude = (f"set -euo pipefail; ROOT={ROOT!r} PREFIX={self.prefix!r} "
                   f"STATE={self.state!r} BUILD={os.path.join(ROOT, 'build')!r}; "
                   f"source {LAB_SH!r}; NODES=0 DUAL=0 SUBNETS=1 CLUSTER=kubernetes; ")
        return run(["bash", "-c", prelude + script], timeout=timeout, input=input, check=check)

    def start(self):
        started = time.monotonic()
        self.sh("kube_bin; kube_pki_make; make_underlay; kube_etcd_start")
        self.advance_etcd()
        self.sh("kube_bin; kube_apiserver_start; "
                f"wait_for \"kube-apiserver to be ready (log: $STATE/apiserver/log)\" "
                f"{START_TIMEOUT} kube_api_ready", timeout=START_TIMEOUT + 60)
        # The agent's ServiceAccount, ClusterRole and binding, as kube_control_plane_wait
        # applies them (the DaemonSet and ConfigMap are not needed here).
        with open(MANIFEST) as f:
            docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict) and d.get("kind") in
                    ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
        self.sh("KUBECTL_ADMIN apply -f - >/dev/null", input=yaml.safe_dump_all(docs))
        # A token of that ServiceAccount from the TokenRequest API (a projected token, as a
        # DaemonSet pod gets on newer clusters). kube_sa_token reads the legacy token Secret,
        # which only the controller-manager makes; its node controllers would also write to
        # this test's Nodes (taints, conditions, podCIDRs) and so are not run here.
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "spec": {"expirationSeconds": 3600}}
        answer = self.ok("POST", "/api/v1/namespaces/kube-system/serviceaccounts/routelet/token",
                         request)
        self.token = answer["status"]["token"]
        print(f"\n[real-api] kube-apiserver v1.20.2 in {self.netns} ready with the agent's RBAC "
              f"in {time.monotonic() - started:.1f}s")

    def etcd(self, method, body):
        """One call of etcd's JSON gateway (v3) from inside the namespace."""
        request = urllib.request.Request(f"http://127.0.0.1:2379/v3/{method}",
                                         data=json.dumps(body).encode(), method="POST")
        with inside(self.netns):
            with ETCD.open(request, timeout=10) as r:
                return json.loads(r.read())

    def compact(self):
        """What the apiserver does every 5 minutes (--etcd-compaction-interval): etcd forgets
        every revision before its current one; one write first, so the last one is old too."""
        put = {"key": base64.b64encode(b"/routelet-test/compact").decode(),
               "value": base64.b64encode(b"x").decode()}
        revision = self.etcd("kv/put", put)["header"]["revision"]
        self.etcd("kv/compaction", {"revision": revision, "physical": True})

    def advance_etcd(self, writes=20):
        """etcd's revision moved past 1 before the apiserver starts, as on any cluster that
        has run a while: the Nodes watch cache then starts above it, and a watch from
        resourceVersion 1 is one from before its window (on a fresh etcd it would not be).
        Keys outside /registry, through etcd's own JSON gateway; the apiserver never sees
        them."""
        deadline = time.monotonic() + 60
        with inside(self.netns):
            while True:
                try:
                    with ETCD.open("http://127.0.0.1:2379/health", timeout=2) as r:
                        if json.loads(r.read()).get("health") == "true":
                            break
                except (OSError, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("etcd did not get healthy in 60 s")
                time.sleep(0.1)
        for i in range(writes):
            self.etcd("kv/put", {"key": base64.b64encode(f"/routelet-test/{i}".encode()).decode(),
                                 "value": base64.b64encode(b"x").decode()})

    def context(self, who):
        context = ssl.create_default_context(cafile=self.ca)
        if who == "admin":  # the lab's admin: a client certificate of group system:masters
            pki = os.path.join(self.state, "pki")
            context.load_cert_chain(os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        return context

    def auth(self, who):
        token = {"agent": self.token, "admin": None, "bad-token": "not-a-routelet-token",
                 "anonymous": None}[who]
        return {"Authorization": f"Bearer {token}"} if token else {}

    def too_old_version(self):
        # Older than the Nodes watch cache's window, which starts where etcd's revision was
        # when the apiserver came up: advance_etcd moved it past 1 before that.
        return "1"

    def log_tail(self, lines=40):
        out = []
        for name in ("apiserver/log", "etcd/log"):
            path = os.path.join(self.state, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f"--- {path}\n" + "".join(f.readlines()[-lines:]))
        return "\n".join(out)

    def stop(self):
        """The apiserver before etcd (kube_down), the namespace, the state dir. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        try:
            self.sh("kube_down; if ns_exists $UNDERLAY; then ip netns del $UNDERLAY; fi",
                    timeout=90)
        finally:
            shutil.rmtree(self.state, ignore_errors=True)


# ---------------------------------------------------------------- what the agent reads

def is_rv(value):
    return isinstance(value, str) and value.isdigit()


def node_view(node):
    """What node_decode.cpp takes from a Node (resourceVersion only as 'is one')."""
    meta, spec, status = (node.get(k) or {} for k in ("metadata", "spec", "status"))
    return {
        "kind": node.get("kind"), "apiVersion": node.get("apiVersion"),
        "name": meta.get("name"), "uid": bool(meta.get("uid")),
        "resourceVersion": is_rv(meta.get("resourceVersion")),
        "deletionTimestamp": meta.get("deletionTimestamp"),
        "annotations": {k: v for k, v in (meta.get("annotations") or {}).items()
                        if k.startswith("routelet.io/")},
        "podCIDR": spec.get("podCIDR"), "podCIDRs": spec.get("podCIDRs"),
        "addresses": status.get("addresses"),
        "conditions": [{k: c.get(k) for k in ("type", "status", "reason", "message")}
                       for c in status.get("conditions") or []],
    }


def status_view(answer, message=True):
    """A Status answer as the agent logs and acts on it."""
    body = answer.body if isinstance(answer.body, dict) else {"notJson": answer.body}
    view = {"http": answer.status, "contentType": answer.headers.get("content-type")}
    for key in ("kind", "apiVersion", "status", "code", "reason", "details"):
        view[key] = body.get(key)
    if message:
        view["message"] = body.get("message")
    return view


def node_object(name, pod_cidr=None, pod_cidrs=None, ip="192.168.1.11"):
    spec = {}
    if pod_cidr is not None:
        spec["podCIDR"] = pod_cidr
    if pod_cidrs is not None:
        spec["podCIDRs"] = pod_cidrs
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"routelet.io/test": "real-api"}},
            "spec": spec,
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                       "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


# The Nodes every check starts from: all the shapes of spec.podCIDR(s) the agent meets.
BASE_NODES = [
    node_object("rt-a", "10.244.1.0/24", ["10.244.1.0/24"], "192.168.1.11"),
    node_object("rt-b", pod_cidr="10.244.2.0/24", ip="192.168.1.12"),
    node_object("rt-c", pod_cidrs=["10.244.3.0/24"], ip="192.168.1.13"),
    node_object("rt-d", ip="192.168.1.14"),
    node_object("rt-e", "10.244.5.0/24", ["10.244.5.0/24"], "192.168.1.15"),
]
NOW = "2026-01-02T03:04:05Z"


def agent_patch(state="ready", network_ready=True, node_ips="192.168.1.11"):
    """The body controller/status/node_status.cpp builds: routelet.io/ annotations and the
    NetworkUnavailable condition."""
    p = "routelet.io/"
    return {"metadata": {"annotations": {
        p + "node-ips": node_ips, p + "pod-cidrs": "10.244.1.0/24", p + "bridge": "cni0",
        p + "mtu": "1450", p + "mode": "vxlan", p + "version": "test", p + "state": state}},
        "status": {"conditions": [{
            "type": "NetworkUnavailable", "status": "False" if network_ready else "True",
            "reason": "RouteletReady" if network_ready else "RouteletNotReady",
            "message": "routelet configured the pod network on this node" if network_ready
            else "routelet has not configured the pod network yet",
            "lastTransitionTime": NOW, "lastHeartbeatTime": NOW}]}}


class Watch:
    """A watch as the agent opens it; `lines` is what arrived, split at newlines."""

    def __init__(self, target, resource_version, timeout_seconds=WATCH_SECONDS, who="agent",
                 collection="/api/v1/nodes"):
        self.path = (f"{collection}?watch=1&resourceVersion={resource_version}"
                     f"&allowWatchBookmarks=true&timeoutSeconds={timeout_seconds}")
        self.started = time.monotonic()
        self.conn, self.response = target.open("GET", self.path, who=who,
                                               timeout=timeout_seconds + 30)
        self.lines, self.elapsed = [], None

    def read_to_end(self):
        """Every line until the server ends the stream; returns self."""
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                self.lines.append(line)
        finally:
            self.elapsed = time.monotonic() - self.started
            self.conn.close()
        return self

    def events(self):
        return [json.loads(line) for line in self.lines]

    def framing(self):
        """How the stream looks to the agent's line splitter."""
        headers = {k.lower(): v for k, v in self.response.getheaders()}
        objects = []
        for line in self.lines:
            try:
                objects.append(json.loads(line))
            except ValueError:
                objects.append(None)
        return {"http": self.response.status, "contentType": headers.get("content-type"),
                "chunked": headers.get("transfer-encoding") == "chunked",
                "linesEndInNewline": all(line.endswith(b"\n") for line in self.lines),
                "oneObjectPerLine": all(isinstance(o, dict) and set(o) == {"type", "object"}
                                        for o in objects)}


def pod_view(pod):
    """What decodePod (policy_decode.cpp) takes from a Pod."""
    meta, spec, status = (pod.get(k) or {} for k in ("metadata", "spec", "status"))
    return {"kind": pod.get("kind"), "apiVersion": pod.get("apiVersion"),
            "name": meta.get("name"), "namespace": meta.get("namespace"),
            "resourceVersion": is_rv(meta.get("resourceVersion")),
            "deleting": "deletionTimestamp" in meta, "labels": meta.get("labels"),
            "nodeName": spec.get("nodeName"), "hostNetwork": spec.get("hostNetwork"),
            "ports": [p for c in spec.get("containers") or [] for p in c.get("ports") or []],
            "phase": status.get("phase"), "podIP": status.get("podIP"),
            "podIPs": status.get("podIPs")}


def namespace_view(ns):
    """A Namespace's name and labels, as the agent reads them. Not its
    kubernetes.io/metadata.name label: v1.20 does not set it, v1.21 and later do (the
    stand-in answers as v1.31)."""
    meta = ns.get("metadata") or {}
    return {"kind": ns.get("kind"), "apiVersion": ns.get("apiVersion"), "name": meta.get("name"),
            "resourceVersion": is_rv(meta.get("resourceVersion")),
            "labels": {k: v for k, v in (meta.get("labels") or {}).items()
                       if k != "kubernetes.io/metadata.name"},
            "spec": ns.get("spec"), "status": ns.get("status")}


def policy_view(policy):
    meta = policy.get("metadata") or {}
    return {"kind": policy.get("kind"), "apiVersion": policy.get("apiVersion"),
            "name": meta.get("name"), "namespace": meta.get("namespace"),
            "resourceVersion": is_rv(meta.get("resourceVersion")), "spec": policy.get("spec")}


NS = "rt-policy"  # where the NetworkPolicy checks put their objects
PODS_PATH = f"/api/v1/namespaces/{NS}/pods"
POLICIES_PATH = f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"
# The three collections the agent's NetworkPolicy watchers list and watch, cluster-wide, and
# what it reads of their objects.
COLLECTIONS = (("/api/v1/pods", pod_view), ("/api/v1/namespaces", namespace_view),
               ("/apis/networking.k8s.io/v1/networkpolicies", policy_view))


def pod_object(name, ip=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"app": "web", "routelet.io/test": "real-api"}},
           # No token to mount: the real server has no controller to make one.
           "spec": {"automountServiceAccountToken": False,
                    "containers": [{"name": "web", "image": "nginx", "ports": [
               {"name": "http", "containerPort": 8080},
               {"containerPort": 9090, "protocol": "UDP"}]}]}}
    if ip:
        pod["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
    return pod


def policy_object(name):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                     "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}},
                                            "podSelector": {"matchLabels": {"tier": "api"}}},
                                           {"ipBlock": {"cidr": "10.0.0.0/8",
                                                        "except": ["10.1.0.0/16"]}}],
                                  "ports": [{"port": "http"}, {"port": 53, "protocol": "UDP"}]}],
                     "egress": [{"to": [{"podSelector": {}}]}]}}


# ---------------------------------------------------------------- the checks

class RealApiTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        require_environment()
        cls.real = cls.standin = None
        # A ctest timeout (SIGTERM) or ^C still takes the servers and the namespace down.
        previous = {s: signal.signal(s, cls._terminated)
                    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        cls.addClassCleanup(lambda: [signal.signal(s, h) for s, h in previous.items()])
        cls.real = RealServer()
        cls.addClassCleanup(cls.real.stop)
        try:
            cls.real.start()
        except (AssertionError, OSError, subprocess.SubprocessError) as e:
            raise AssertionError(f"the real kube-apiserver did not start: {e}\n"
                                 f"{cls.real.log_tail()}") from None
        cls.standin = StandInTarget(cls.real.netns)
        cls.addClassCleanup(cls.standin.stop)  # runs before real.stop: it is in the namespace
        cls.targets = (cls.standin, cls.real)
        for target in cls.targets:
            for node in BASE_NODES:
                target.ok("POST", "/api/v1/nodes", node)
            target.ok("POST", "/api/v1/namespaces", {"metadata": {"name": NS,
                                                                  "labels": {"team": "a"}}})
            if target is cls.real:  # its admission wants the ServiceAccount a Pod runs as
                target.ok("POST", f"/api/v1/namespaces/{NS}/serviceaccounts",
                          {"metadata": {"name": "default"}})
            for name in ("rt-p1", "rt-p2"):
                target.ok("POST", PODS_PATH, pod_object(name))
            target.ok("POST", POLICIES_PATH, policy_object("rt-allow"))

    @classmethod
    def _terminated(cls, signum, _frame):
        try:
            for server in (cls.standin, cls.real):
                if server is not None:
                    server.stop()
        finally:
            os._exit(128 + signum)

    def compare(self, digest, what):
        """digest(target) on the stand-in, then on the real server: equal, or the diff."""
        got = {t.name: digest(t) for t in self.targets}
        self.assertEqual(got["stand-in"], got["kube-apiserver"],
                         f"{what}: the stand-in (first) answers otherwise than kube-apiserver "
                         "(second); fix the stand-in")
        return got["kube-apiserver"]

    # -- creating Nodes (how the test makes them; the agent reads the result)

    def test_create_answers_with_the_stored_node(self):
        def digest(t):
            node = node_object("rt-new", pod_cidr="10.244.9.0/24", ip="192.168.1.19")
            created = t.request("POST", "/api/v1/nodes", node, who="admin",
                                content_type="application/json")
            duplicate = t.request("POST", "/api/v1/nodes", node, who="admin",
                                  content_type="application/json")
            t.ok("DELETE", "/api/v1/nodes/rt-new")
            return {"created": created.status, "node": node_view(created.body),
                    "duplicate": status_view(duplicate)}
        real = self.compare(digest, "POST /api/v1/nodes")
        self.assertEqual(real["node"]["podCIDRs"], ["10.244.9.0/24"])

    # -- LIST

    def test_list_pages_with_limit_and_continue(self):
        def digest(t):
            pages, cont, rvs = [], None, []
            while True:
                path = "/api/v1/nodes?limit=2" + (f"&continue={cont}" if cont else "")
                a = t.request("GET", path)
                self.assertEqual(a.status, 200, f"{t.name}: {a!r}")
                meta = a.body.get("metadata") or {}
                rvs.append(meta.get("resourceVersion"))
                pages.append({"http": a.status, "contentType": a.headers.get("content-type"),
                              "kind": a.body.get("kind"), "apiVersion": a.body.get("apiVersion"),
                              "metadataKeys": sorted(meta),
                              "continue": bool(meta.get("continue")),
                              "remainingItemCount": meta.get("remainingItemCount"),
                              # kind and apiVersion: the list's, not on its items
                              "items": [node_view(i) for i in a.body.get("items") or []]})
                cont = meta.get("continue")
                if not cont or len(pages) > 10:
                    break
            whole = t.request("GET", "/api/v1/nodes")
            return {"pages": pages, "rvIsOne": all(is_rv(rv) for rv in rvs),
                    "everyPageHasTheFirstPagesVersion": len(set(rvs)) == 1,
                    "unpaged": [i["metadata"]["name"] for i in whole.body["items"]],
                    "unpagedContinue": whole.body["metadata"].get("continue"),
                    "unpagedVersionNotOlder": int(whole.body["metadata"]["resourceVersion"]) >=
                    int(rvs[0])}
        real = self.compare(digest, "LIST /api/v1/nodes?limit=2 and its continue pages")
        self.assertEqual(len(real["pages"]), 3)

    def test_list_continued_after_a_compaction_is_410(self):
        def digest(t):
            first = t.ok("GET", "/api/v1/nodes?limit=2", who="agent")
            t.compact()
            a = t.request("GET", "/api/v1/nodes?limit=2&continue=" + first["metadata"]["continue"])
            meta = (a.body or {}).get("metadata") or {}
            # The token that Status carries: the rest of the list, at the current version.
            rest = t.ok("GET", "/api/v1/nodes?limit=2&continue=" + meta.get("continue", ""),
                        who="agent")
            return {**status_view(a), "metadataKeys": sorted(meta),
                    "rest": [i["metadata"]["name"] for i in rest["items"]],
                    "restContinues": bool(rest["metadata"].get("continue")),
                    "restIsCurrent": int(rest["metadata"]["resourceVersion"]) >=
                    int(first["metadata"]["resourceVersion"])}
        real = self.compare(digest, "LIST continued from before an etcd compaction")
        self.assertEqual((real["http"], real["reason"]), (410, "Expired"))

    def test_list_with_a_broken_continue_token(self):
        def digest(t):
            return status_view(t.request("GET", "/api/v1/nodes?limit=2&continue=not-a-token"),
                               message=False)
        self.compare(digest, "LIST with a continue token the server never gave")

    # -- WATCH

    def test_watch_delivers_every_write_after_the_list(self):
        def digest(t):
            list_rv = t.ok("GET", "/api/v1/nodes?limit=500", who="agent")["metadata"][
                "resourceVersion"]
            watch = Watch(t, list_rv)
            t.ok("POST", "/api/v1/nodes", node_object("rt-w", pod_cidr="10.244.7.0/24"))
            t.ok("PATCH", "/api/v1/nodes/rt-w/status", agent_patch(), who="agent",
                 content_type=STRATEGIC)
            t.ok("DELETE", "/api/v1/nodes/rt-w")
            watch.read_to_end()
            events = watch.events()
            changes = [e for e in events if e["type"] != "BOOKMARK"]
            bookmarks = [e["object"] for e in events if e["type"] == "BOOKMARK"]
            rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in changes]
            return {
                **watch.framing(),
                "changes": [(e["type"], node_view(e["object"])) for e in changes],
                "newerThanTheList": all(rv > int(list_rv) for rv in rvs),
                "increasing": rvs == sorted(set(rvs)),
                "bookmarked": bool(bookmarks),
                "bookmarks": sorted({json.dumps(
                    {"keys": sorted(b), "kind": b.get("kind"), "apiVersion": b.get("apiVersion"),
                     "metadataKeys": sorted(b.get("metadata") or {}),
                     "notBeforeTheLastChange": int(b["metadata"]["resourceVersion"]) >= max(rvs),
                     "decodesAsANode": node_view(b)["name"] is None})
                    for b in bookmarks}),
                "endsAtTimeoutSeconds": WATCH_SECONDS - 0.5 <= watch.elapsed <= WATCH_SECONDS + 5,
            }
        real = self.compare(digest, "WATCH from the list's resourceVersion")
        self.assertEqual([t for t, _ in real["changes"]], ["ADDED", "MODIFIED", "DELETED"])

    def test_watch_from_a_compacted_version_is_410_expired(self):
        def digest(t):
            watch = Watch(t, t.too_old_version()).read_to_end()
            events = watch.events()
            status = events[0]["object"] if events else {}
            return {**watch.framing(),
                    "types": [e["type"] for e in events],
                    "status": {k: status.get(k) for k in
                               ("kind", "apiVersion", "status", "code", "reason", "details")},
                    "message": status.get("message", "").split(":")[0],
                    "endsAtOnce": watch.elapsed < WATCH_SECONDS - 1,
                    "malformedVersion": status_view(t.request(
                        "GET", "/api/v1/nodes?watch=1&resourceVersion=x1&timeoutSeconds=1"))}
        real = self.compare(digest, "WATCH from a resourceVersion older than the history")
        self.assertEqual(real["status"]["code"], 410)

    def test_watch_without_bookmarks_sends_none(self):
        def digest(t):
            rv = t.ok("GET", "/api/v1/nodes?limit=1", who="agent")["metadata"]["resourceVersion"]
            conn, response = t.open("GET", f"/api/v1/nodes?watch=1&resourceVersion={rv}"
                                    "&timeoutSeconds=3")
            try:
                body = response.read()
            finally:
                conn.close()
            return {"http": response.status, "events": [json.loads(line)["type"]
                                                        for line in body.splitlines()]}
        self.compare(digest, "WATCH without allowWatchBookmarks")

    # -- the agent's status PATCH

    def test_merge_patch_of_status_as_the_agent(self):
        def digest(t):
            before = t.ok("GET", "/api/v1/nodes/rt-a", who="agent")
            a = t.request("PATCH", "/api/v1/nodes/rt-a/status", agent_patch(), content_type=MERGE)
            again = t.request("PATCH", "/api/v1/nodes/rt-a/status", agent_patch(),
                              content_type=MERGE)
            after = t.ok("GET", "/api/v1/nodes/rt-a", who="agent")
            rv = lambda n: int(n["metadata"]["resourceVersion"])  # noqa: E731
            return {"http": a.status, "contentType": a.headers.get("content-type"),
                    "node": node_view(a.body), "stored": node_view(after),
                    "newVersion": rv(a.body) > rv(before),
                    "sameAsStored": rv(a.body) == rv(after),
                    "repeatHttp": again.status,
                    "repeatKeepsTheVersion": rv(again.body) == rv(a.body)}
        real = self.compare(digest, "PATCH nodes/rt-a/status, merge patch")
        # A merge patch replaces the whole list: the Ready condition is gone.
        self.assertEqual([c["type"] for c in real["node"]["conditions"]], ["NetworkUnavailable"])

    def test_strategic_merge_patch_of_status_as_the_agent(self):
        def digest(t):
            first = t.request("PATCH", "/api/v1/nodes/rt-b/status",
                              agent_patch("starting", network_ready=False), content_type=STRATEGIC)
            second = t.request("PATCH", "/api/v1/nodes/rt-b/status", agent_patch(),
                               content_type=STRATEGIC)
            # Where merged elements go among the stored ones: one new, one stored after
            # another stored one the patch leaves alone.
            third = t.request("PATCH", "/api/v1/nodes/rt-b/status", {"status": {"conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasNoPressure"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady"}]}},
                content_type=STRATEGIC)
            rv = lambda a: int(a.body["metadata"]["resourceVersion"])  # noqa: E731
            return {"http": [first.status, second.status, third.status],
                    "first": node_view(first.body), "second": node_view(second.body),
                    "newVersion": rv(second) > rv(first),
                    "thirdOrder": [c["type"] for c in node_view(third.body)["conditions"]]}
        real = self.compare(digest, "PATCH nodes/rt-b/status, strategic merge patch")
        # Merged by type, the Ready condition kept; the new one is put first.
        self.assertEqual([c["type"] for c in real["second"]["conditions"]],
                         ["NetworkUnavailable", "Ready"])

    def test_status_patch_ignores_spec(self):
        def digest(t):
            before = t.ok("GET", "/api/v1/nodes/rt-c", who="agent")
            spec_only = t.request("PATCH", "/api/v1/nodes/rt-c/status",
                                  {"spec": {"unschedulable": True, "podCIDR": "10.9.9.0/24"}},
                                  content_type=MERGE)
            with_annotation = t.request(
                "PATCH", "/api/v1/nodes/rt-c/status",
                {"spec": {"unschedulable": True, "podCIDRs": ["10.9.9.0/24"]},
                 "metadata": {"annotations": {"routelet.io/state": "spec-test"}}},
                content_type=STRATEGIC)
            rv = lambda n: int(n["metadata"]["resourceVersion"])  # noqa: E731
            # Not compared: whether the spec-only patch moves the resourceVersion. On the
            # real server it does (the request's field manager now claims those fields in
            # metadata.managedFields, which the stand-in does not keep; see the README).
            return {"http": [spec_only.status, with_annotation.status],
                    "specUnchanged": [spec_only.body.get("spec"), with_annotation.body.get("spec")
                                      ] == [before.get("spec")] * 2,
                    "annotationWritten": node_view(with_annotation.body)["annotations"],
                    "annotationMovesTheVersion": rv(with_annotation.body) > rv(before)}
        self.compare(digest, "PATCH nodes/rt-c/status with spec changes")

    def test_patch_errors(self):
        def digest(t):
            path = "/api/v1/nodes/rt-d/status"
            return {
                "unsupportedContentType": status_view(
                    t.request("PATCH", path, agent_patch(), content_type="application/json")),
                "malformedMerge": status_view(
                    t.request("PATCH", path, b'{"metadata": {', content_type=MERGE)),
                "mergeNotAnObject": status_view(
                    t.request("PATCH", path, b'"metadata"', content_type=MERGE)),
                "malformedStrategic": status_view(
                    t.request("PATCH", path, b'{"metadata": {', content_type=STRATEGIC),
                    message=False),
                "noSuchNode": status_view(t.request("PATCH", "/api/v1/nodes/rt-none/status",
                                                    agent_patch(), content_type=MERGE)),
                "noSuchNodeGet": status_view(t.request("GET", "/api/v1/nodes/rt-none")),
            }
        self.compare(digest, "PATCH errors: 415, 400, 404")

    # -- authentication and RBAC

    def test_rbac_denies_what_the_manifest_does_not_grant(self):
        def digest(t):
            node = node_object("rt-denied")
            return {
                "create": status_view(t.request("POST", "/api/v1/nodes", node,
                                                content_type="application/json")),
                "delete": status_view(t.request("DELETE", "/api/v1/nodes/rt-e")),
                "patchNode": status_view(t.request("PATCH", "/api/v1/nodes/rt-e",
                                                   agent_patch(), content_type=MERGE)),
                "getStatus": status_view(t.request("GET", "/api/v1/nodes/rt-e/status")),
                "putStatus": status_view(t.request("PUT", "/api/v1/nodes/rt-e/status", node,
                                                   content_type="application/json")),
                "granted": [t.request("GET", p).status for p in
                            ("/api/v1/nodes", "/api/v1/nodes/rt-e")],
            }
        real = self.compare(digest, "the agent's token outside its ClusterRole")
        self.assertEqual(real["delete"]["message"],
                         f'nodes "rt-e" is forbidden: User "{AGENT_USER}" cannot delete resource '
                         '"nodes" in API group "" at the cluster scope')

    def test_authentication(self):
        def digest(t):
            return {
                "badTokenList": status_view(t.request("GET", "/api/v1/nodes", who="bad-token")),
                "badTokenWatch": status_view(t.request("GET", "/api/v1/nodes?watch=1",
                                                       who="bad-token")),
                "badTokenPatch": status_view(t.request("PATCH", "/api/v1/nodes/rt-e/status",
                                                       agent_patch(), who="bad-token")),
                "anonymousList": status_view(t.request("GET", "/api/v1/nodes", who="anonymous")),
                "anonymousPatch": status_view(t.request("PATCH", "/api/v1/nodes/rt-e/status",
                                                        agent_patch(), who="anonymous")),
                "anonymousDiscovery": status_view(t.request("GET", "/api/v1", who="anonymous")),
                "anonymousVersion": t.request("GET", "/version", who="anonymous").status,
            }
        real = self.compare(digest, "bad and missing tokens")
        self.assertEqual(real["badTokenList"]["http"], 401)


    # -- Pods, Namespaces, NetworkPolicies (the agent's NetworkPolicy watchers)

    def test_created_objects_get_the_real_servers_defaults(self):
        def digest(t):
            pod = t.request("POST", PODS_PATH, pod_object("rt-made", ip="10.244.1.9"),
                            who="admin", content_type="application/json")
            ns = t.request("POST", "/api/v1/namespaces", {"metadata": {"name": "rt-made"}},
                           who="admin", content_type="application/json")
            policy = t.request("POST", POLICIES_PATH, policy_object("rt-made"), who="admin",
                               content_type="application/json")
            return {"http": [pod.status, ns.status, policy.status], "pod": pod_view(pod.body),
                    "namespace": namespace_view(ns.body), "policy": policy_view(policy.body),
                    "noNamespace": status_view(t.request(
                        "POST", "/api/v1/namespaces/rt-nowhere/pods", pod_object("x"),
                        who="admin", content_type="application/json"))}
        real = self.compare(digest, "POST of a Pod, a Namespace, a NetworkPolicy")
        self.assertEqual(real["pod"]["phase"], "Pending")  # a new Pod's status is the server's

    def test_list_pages_of_each_kind(self):
        def digest(t):
            out = {}
            for path in (PODS_PATH, "/api/v1/namespaces", POLICIES_PATH) + \
                    tuple(p for p, _ in COLLECTIONS):
                view = dict(COLLECTIONS)[path] if path in dict(COLLECTIONS) else \
                    (pod_view if path == PODS_PATH else policy_view)
                first = t.ok("GET", f"{path}?limit=1")
                meta = first["metadata"]
                rest = t.ok("GET", f"{path}?limit=500&continue={meta['continue']}") \
                    if meta.get("continue") else {"items": [], "metadata": {}}
                # This test's objects, not those marked for deletion (the real server keeps
                # them for the controllers not run here).
                items = [view(i) for i in first["items"] + rest["items"]
                         if ((i["metadata"].get("labels") or {}).get("routelet.io/test") or
                             i["metadata"].get("namespace") == NS or
                             i["metadata"]["name"] == NS) and
                         "deletionTimestamp" not in i["metadata"]]
                out[path] = {"kind": first["kind"], "apiVersion": first["apiVersion"],
                             "metadataKeys": sorted(meta), "items": items,
                             "continues": bool(meta.get("continue")),
                             "remainingItemCount": meta.get("remainingItemCount")
                             if path != "/api/v1/namespaces" else None,
                             "sameVersion": rest["metadata"].get("resourceVersion",
                                                                 meta["resourceVersion"]) ==
                             meta["resourceVersion"]}
            return out
        real = self.compare(digest, "LIST pods, namespaces and networkpolicies in pages")
        self.assertTrue({"rt-p1", "rt-p2"} <= {p["name"] for p in real[PODS_PATH]["items"]})

    def test_watch_of_each_kind_sees_create_label_delete(self):
        def digest(t):
            out = {}
            for path, view in COLLECTIONS:
                list_rv = t.ok("GET", f"{path}?limit=500", who="agent")["metadata"][
                    "resourceVersion"]
                watch = Watch(t, list_rv, collection=path)
                if view is pod_view:
                    where = f"{PODS_PATH}/rt-w"
                    created = t.ok("POST", PODS_PATH, pod_object("rt-w"))
                elif view is namespace_view:
                    where = "/api/v1/namespaces/rt-w"
                    created = t.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "rt-w"}})
                else:
                    where = f"{POLICIES_PATH}/rt-w"
                    created = t.ok("POST", POLICIES_PATH, policy_object("rt-w"))
                t.ok("PATCH", where, {"metadata": {"labels": {"watched": "yes"}}})
                deleted = t.ok("DELETE", where)
                details = dict(deleted.get("details") or {})
                uid = details.pop("uid", None)
                watch.read_to_end()
                events = watch.events()
                changes = [e for e in events if e["type"] != "BOOKMARK"]
                bookmarks = [e["object"] for e in events if e["type"] == "BOOKMARK"]
                out[path] = {
                    **watch.framing(),
                    # What follows waits for controllers not run here: the namespace
                    # controller deletes a Namespace, a kubelet a Pod marked for deletion (the
                    # stand-in does either at once).
                    "changes": [(e["type"], view(e["object"])) for e in changes][
                        :2 if view is namespace_view else 3],
                    "deleteAnswer": {"kind": deleted.get("kind"), "status": deleted.get("status"),
                                     "details": details,
                                     "uidIsTheObjects": uid in (None, created["metadata"]["uid"])}
                    if view is not namespace_view else None,
                    "bookmarks": sorted({json.dumps(
                        {"keys": sorted(b), "kind": b.get("kind"),
                         "apiVersion": b.get("apiVersion"),
                         "metadataKeys": sorted(b.get("metadata") or {}),
                         "spec": b.get("spec"), "status": b.get("status")}) for b in bookmarks}),
                }
            return out
        real = self.compare(digest, "WATCH pods, namespaces and networkpolicies")
        # A DELETE marks a Pod for its kubelet to stop and delete.
        self.assertEqual([(t, pod["deleting"]) for t, pod in real["/api/v1/pods"]["changes"]],
                         [("ADDED", False), ("MODIFIED", False), ("MODIFIED", True)])

    def test_rbac_of_the_new_kinds(self):
        def digest(t):
            requests = {
                "listPods": ("GET", "/api/v1/pods"),
                "listNamespaces": ("GET", "/api/v1/namespaces"),
                "listPolicies": ("GET", "/apis/networking.k8s.io/v1/networkpolicies"),
                "listPodsInANamespace": ("GET", PODS_PATH),
                "getPod": ("GET", f"{PODS_PATH}/rt-p1"),
                "getNamespace": ("GET", f"/api/v1/namespaces/{NS}"),
                "createPod": ("POST", PODS_PATH), "deletePod": ("DELETE", f"{PODS_PATH}/rt-p1"),
                "patchPodStatus": ("PATCH", f"{PODS_PATH}/rt-p1/status"),
                "deletePolicy": ("DELETE", f"{POLICIES_PATH}/rt-allow"),
                "deleteNamespace": ("DELETE", f"/api/v1/namespaces/{NS}"),
                "getSecret": ("GET", "/api/v1/namespaces/kube-system/secrets/x"),
                "listSecrets": ("GET", "/api/v1/secrets"),
            }
            out = {}
            for what, (method, path) in requests.items():
                body = pod_object("rt-agent") if method == "POST" else \
                    ({} if method == "PATCH" else None)
                a = t.request(method, path, body)
                out[what] = a.status if a.status == 200 else status_view(a)
            return out
        real = self.compare(digest, "the agent's token on pods, namespaces, networkpolicies")
        self.assertEqual(real["listPods"], 200)

    def test_not_found_and_delete_of_the_new_kinds(self):
        def digest(t):
            out = {what: status_view(t.request("GET", path, who="admin")) for what, path in (
                ("pod", f"{PODS_PATH}/rt-none"), ("namespace", "/api/v1/namespaces/rt-none"),
                ("policy", f"{POLICIES_PATH}/rt-none"))}
            t.ok("POST", PODS_PATH, pod_object("rt-gone"))
            before = t.ok("GET", f"{PODS_PATH}/rt-gone")
            gone = t.request("DELETE", f"{PODS_PATH}/rt-gone", who="admin")
            out["deletedPod"] = {"http": gone.status, "pod": pod_view(gone.body),
                                 "versionUnchanged": gone.body["metadata"]["resourceVersion"] ==
                                 before["metadata"]["resourceVersion"]}
            return out
        self.compare(digest, "GET of missing objects, DELETE of a Pod")


if __name__ == "__main__":
    unittest.main()
