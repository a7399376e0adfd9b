"""routelet's NetworkPolicy reachability matrix, on the real cluster of the Kubernetes tier.

The shape is the one of Kubernetes' own NetworkPolicy conformance suite: three namespaces
x, y, z (labelled ns: x|y|z, and kubernetes.io/metadata.name, which v1.20 does not set yet),
three pods a, b, c in each (labelled pod: a|b|c), spread so every node holds one pod of
every namespace. Every pod serves TCP and UDP on ports 80 and 81 (netpol_probe.py, the
host's python3 in the pod's network namespace: the pod image is busybox) and declares them
as named container ports serve-80-tcp, serve-80-udp, serve-81-tcp, serve-81-udp, so
named-port rules resolve. After each policy change every ordered pair of the 9 pods (81,
a pod to itself included) is probed on TCP/80, TCP/81, UDP/80 and UDP/81 in IPv4 and in
IPv6, and the matrix is compared with the truth table the check writes: everything
reachable, then what its policies block, then what they still allow.

routelet's agent enforces a change within milliseconds of the API's event, but no check
holds it to a time: the matrix is probed again until it matches, or for SETTLE seconds,
and then a failure shows the matrix's difference cell by cell. A probe not answered within
PROBE_TIMEOUT counts as blocked; a cell that should be reachable and was not is asked once
more, with RECHECK_TIMEOUT, before it counts (a busy machine must not pass for a policy).
Every check starts by finding the whole matrix reachable, so what one check leaves behind
fails the next one, not a later step by chance.

The checks run on test_cluster.py's cluster (test_cluster.ClusterTest mixes in
NetworkPolicyChecks; the names order them after its check 11 and before the checks that
restart an agent or delete a Node), so the tier pays for one cluster. Run alone, this
module makes its own: `python3 -m unittest -v test_netpol` here, with the environment
tests/kubernetes/CMakeLists.txt gives test_cluster (BUILD_DIR, LAB_SKIP_BUILD=1).

Everything the checks make lives in the lab's namespaces: the pods' and nodes' network
namespaces are entered with nsenter; the servers' pid files sit where `scripts/lab down`
stops the lab's echo servers, so even a crashed run leaves no process behind. The last
check deletes the three namespaces and checks that every address and host veth they held
is freed, as the DaemonSet tier's uninstall check wants a cluster without them.
"""

import fcntl
import fnmatch
import glob
import ipaddress
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from labkit import Lab, wait_until  # noqa: E402

PROBE = os.path.join(HERE, "netpol_probe.py")
PYTHON = "/usr/bin/python3"
NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
MATRIX = tuple(f"{ns}/{pod}" for ns in NAMESPACES for pod in PODS)
PORTS = (("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81))
FAMILIES = (4, 6)
SETTLE = 20            # seconds a policy change has to show in the matrix
PROBE_TIMEOUT = 1.0    # a probe not answered within this is blocked...
RECHECK_TIMEOUT = 3.0  # ...unless it should not be: then once more with this
# Everything the checks make carries this label; their policies are deleted by it.
MARK = "routelet.io/netpol-matrix"
POLICY_TABLE = "routelet_policy"  # the agent's nftables table (inet), in each node
HOSTNET = "hostnet"    # check 13's hostNetwork pod, x/hostnet, as a matrix column
SERVICE = "svc:x/a"    # check 15's Service of x/a, as a matrix column


def key_of(api_name):
    """The world's name of a pod named namespace/name in the API."""
    return HOSTNET if api_name == "x/" + HOSTNET else api_name


def node_of(name):
    """The lab node (1..3) of a matrix pod: x/a, y/c and z/b on node 1, and so on, so every
    node holds one pod of each namespace and every pair of namespaces meets on a node and
    across nodes."""
    ns, pod = name.split("/")
    return (NAMESPACES.index(ns) + PODS.index(pod)) % 3 + 1


def port_name(proto, port):
    return f"serve-{port}-{proto.lower()}"


# ------------------------------------------------------------------------------ truth


class Truth:
    """What a check expects: for each source, target, port and family, reachable or not.
    It starts all reachable; a check blocks what its policies isolate, then allows what
    they still let through (later calls win). Patterns are fnmatch patterns over the
    names ("x/*", "*/a", "node2") or lists of them. A pod always reaches itself: its own
    address never leaves its network namespace, so no policy applies."""

    def __init__(self, sources=MATRIX, targets=None):
        self.sources = list(sources)
        self.targets = list(targets if targets is not None else sources)
        self.cells = {(s, t, port, family): True for s in self.sources for t in self.targets
                      for port in PORTS for family in FAMILIES}

    @staticmethod
    def _match(names, pattern):
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        out = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        if not out:
            raise AssertionError(f"the truth table names {patterns}, which matches nobody")
        return out

    def set(self, frm, to, reachable, ports=PORTS, families=FAMILIES):
        for s in self._match(self.sources, frm):
            for t in self._match(self.targets, to):
                for port in ports:
                    for family in families:
                        self.cells[(s, t, port, family)] = reachable or s == t
        return self

    def block(self, frm="*", to="*", ports=PORTS, families=FAMILIES):
        return self.set(frm, to, False, ports, families)

    def allow(self, frm="*", to="*", ports=PORTS, families=FAMILIES):
        return self.set(frm, to, True, ports, families)


def render_diff(truth, seen):
    """The observed matrix where it differs from the truth: one grid per group of views
    (family, port) that differ alike, rows the sources, columns the targets; then the wrong
    cells of each group's first view, with what answered."""
    views = {}
    for family in FAMILIES:
        for port in PORTS:
            cells = tuple((s, t, truth.cells[(s, t, port, family)], seen[(s, t, port, family)][0])
                          for s in truth.sources for t in truth.targets)
            if any(want != got for _, _, want, got in cells):
                views.setdefault(cells, []).append((family, port))
    out = [". reached, X not reached, ? another pod answered; in brackets: seen so, and wrong"]
    width = max(len(n) for n in truth.sources + truth.targets) + 2
    for cells, which in views.items():
        wrong = [(s, t, want) for s, t, want, got in cells if want != got]
        names = ", ".join(f"IPv{f} {proto}/{port}" for f, (proto, port) in which)
        out.append(f"\n{names}: {len(wrong)} of {len(cells)} cells wrong (rows from, columns to)")
        out.append(" " * width + "".join(t.center(width) for t in truth.targets))
        grid = {(s, t): (want, got) for s, t, want, got in cells}
        for s in truth.sources:
            row = []
            for t in truth.targets:
                want, got = grid[(s, t)]
                mark = {True: ".", False: "X", None: "?"}[got]
                row.append((mark if want == got else f"[{mark}]").center(width))
            out.append(s.rjust(width - 1) + " " + "".join(row))
        family, port = which[0]
        for s, t, want in wrong[:12]:
            out.append(f"  {s} -> {t} IPv{family} {port[0]}/{port[1]}: want {'reached' if want else 'blocked'}, "
                       f"seen {seen[(s, t, port, family)][1]}")
        if len(wrong) > 12:
            out.append(f"  ... and {len(wrong) - 12} more")
    return "\n".join(out)


# ------------------------------------------------------------------------------ policies


def netpol(name, namespace, selector, ingress=None, egress=None, types=None, expressions=None):
    """A networking.k8s.io/v1 NetworkPolicy; selector: matchLabels of its podSelector, and
    expressions its matchExpressions (neither: {}, every pod of the namespace).
    ingress/egress None: the field is left out."""
    spec = {"podSelector": {}}
    if selector:
        spec["podSelector"]["matchLabels"] = selector
    if expressions:
        spec["podSelector"]["matchExpressions"] = expressions
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    if types is not None:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": {MARK: "true"}},
            "spec": spec}


def pods_labelled(**labels):
    return {"podSelector": {"matchLabels": labels}}


def namespaces_labelled(**labels):
    return {"namespaceSelector": {"matchLabels": labels}}


def ports(*entries):
    """[(protocol, port number or name)] as a rule's ports; protocol None: left out (TCP)."""
    out = []
    for proto, port in entries:
        entry = {} if proto is None else {"protocol": proto}
        if port is not None:
            entry["port"] = port
        out.append(entry)
    return out


# ------------------------------------------------------------------------------ the world


class World:
    """The matrix's namespaces, pods and servers on one lab's cluster, and the prober."""

    def __init__(self, lab):
        self.lab = lab
        self.labels = {name: {"pod": name.split("/")[1]} for name in MATRIX}
        self.ns_labels = {ns: {"ns": ns, "kubernetes.io/metadata.name": ns} for ns in NAMESPACES}
        self.pods = {}  # name: {"ips": {4: ip, 6: ip}, "pid": container task PID, "node": i}
        self.servers = {}  # name: Popen
        self.echo_dir = os.path.join(lab.state, "echo")  # `scripts/lab down` stops these
        template = json.loads(lab.kubectl("get", "pod", "-n", "default", "node1-pod1", "-o", "json").stdout)
        container = template["spec"]["containers"][0]
        self.image = {k: container[k] for k in ("image", "imagePullPolicy", "command")}
        self.base = {i: (lab.leases(i), lab.host_links(i)) for i in (1, 2, 3)}

    # --- the lab's nodes
    def node_netns(self, i):
        return f"/run/netns/{self.lab.node(i)}"

    def node_ips(self, i):
        node = json.loads(self.lab.kubectl("get", "node", self.lab.node(i), "-o", "json").stdout)
        ips = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        return {ipaddress.ip_address(a).version: a for a in ips}

    def pod_cidrs(self, i):
        node = json.loads(self.lab.kubectl("get", "node", self.lab.node(i), "-o", "json").stdout)
        return {ipaddress.ip_network(c).version: c for c in node["spec"]["podCIDRs"]}

    # --- objects
    def kubectl_apply(self, *objects):
        self.lab.kubectl("apply", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def pod_object(self, name, labels, host_network=False, node=None):
        ns, pod = name.split("/")
        spec = {"nodeSelector": {"kubernetes.io/hostname": self.lab.node(node or node_of(name))},
                "automountServiceAccountToken": False, "enableServiceLinks": False,
                "terminationGracePeriodSeconds": 1,
                "containers": [dict(self.image, name="serve", ports=[
                    {"name": port_name(proto, port), "containerPort": port, "protocol": proto}
                    for proto, port in PORTS])]}
        if host_network:
            spec["hostNetwork"] = True
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "labels": dict(labels, **{MARK: "true"})},
                "spec": spec}

    def api_pods(self):
        out = json.loads(self.lab.kubectl("get", "pods", "-A", "-l", MARK, "-o", "json").stdout)
        return {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p for p in out["items"]}

    def make(self):
        self.kubectl_apply(*[{"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": ns, "labels": dict(self.ns_labels[ns], **{MARK: "true"})}}
                             for ns in NAMESPACES])

        def service_accounts():
            # The controller-manager makes each namespace's default ServiceAccount; a pod
            # is refused without it.
            sas = json.loads(self.lab.kubectl("get", "serviceaccounts", "-A", "-o", "json").stdout)
            have = {sa["metadata"]["namespace"] for sa in sas["items"] if sa["metadata"]["name"] == "default"}
            return set(NAMESPACES) <= have
        wait_until("the default ServiceAccount of x, y and z", service_accounts, 60, interval=0.3)
        self.create(MATRIX)

    def create(self, names, labels=None, node=None):
        """Makes the pods (labels: {name: labels} instead of the world's; node: on that node
        instead of their own), waits for them to run, and starts their servers."""
        labels = labels or {}
        self.kubectl_apply(*[self.pod_object(n, labels.get(n) or self.labels[n], node=node) for n in names])
        self.wait_running(names)

    def wait_running(self, names):
        def running():
            pods = self.api_pods()
            ok = [n for n in names if n in pods and not pods[n]["metadata"].get("deletionTimestamp")
                  and any(c["type"] == "Ready" and c["status"] == "True"
                          for c in pods[n]["status"].get("conditions", []))
                  and (pods[n]["spec"].get("hostNetwork") or len(pods[n]["status"].get("podIPs", [])) == 2)]
            return pods if len(ok) == len(names) else None
        pods = wait_until(f"pods {', '.join(names)} Running and Ready with both addresses", running,
                          180, interval=0.5)
        tasks = {}
        for n in names:
            pod = pods[n]
            i = int(pod["spec"]["nodeName"].rsplit("node", 1)[1])
            if i not in tasks:
                out = self.lab.sh(f"kube_ctr {i} task ls").stdout
                tasks[i] = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()[1:] if line.split()}
            cid = pod["status"]["containerStatuses"][0]["containerID"].split("://", 1)[1]
            if pod["spec"].get("hostNetwork"):
                ips = self.node_ips(i)  # the node's own, in both families
            else:
                ips = {ipaddress.ip_address(a["ip"]).version: a["ip"] for a in pod["status"]["podIPs"]}
            self.pods[key_of(n)] = {"ips": ips, "pid": tasks[i][cid], "node": i}
            self.start_server(key_of(n))

    def delete(self, names, graceful=False):
        """Stops the pods' servers, deletes the pods and waits until their nodes freed their
        addresses (the runtime's CNI DEL). Not graceful: the objects are gone from the API at
        once (the kubelet of v1.20 takes 8 s to over 30 s to remove a deleted pod's object, and
        the namespace controller waits for it), and the kubelet stops the pods after.
        Graceful: the objects stay, terminating, until the kubelet is done."""
        for n in names:
            self.stop_server(key_of(n))
        gone = {key_of(n): self.pods.pop(key_of(n)) for n in names if key_of(n) in self.pods}
        by_ns = {}
        for n in names:
            by_ns.setdefault(n.split("/")[0], []).append(n.split("/")[1])
        how = [] if graceful else ["--grace-period=0", "--force"]
        for ns, pods in by_ns.items():
            self.lab.kubectl("delete", "pod", "-n", ns, *pods, "--ignore-not-found", "--wait=false", *how)

        def freed():
            return all(ip not in self.lab.leases(p["node"]) for p in gone.values() for ip in p["ips"].values())
        wait_until(f"the addresses of {', '.join(names)} freed by their nodes", freed, 60, interval=0.2)
        return gone

    # --- servers
    def netns(self, name):
        if name.startswith("node"):
            return self.node_netns(int(name[4:]))
        return f"/proc/{self.pods[name]['pid']}/ns/net"

    def start_server(self, name):
        self.stop_server(name)
        os.makedirs(self.echo_dir, exist_ok=True)
        tag = "netpol-" + name.replace("/", "-")
        ready = os.path.join(self.echo_dir, tag + ".ready")
        if os.path.exists(ready):
            os.unlink(ready)
        with open(os.path.join(self.echo_dir, tag + ".log"), "ab") as log:
            # nsenter execs python3 (it forks only for a PID namespace): the pid is the server's.
            p = subprocess.Popen(["nsenter", f"--net={self.netns(name)}", PYTHON, PROBE, "serve",
                                  "--name", name, "--ready-file", ready],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        with open(os.path.join(self.echo_dir, tag + ".pid"), "w") as f:
            f.write(f"{p.pid}\n")
        self.servers[name] = p
        wait_until(f"the server in {name} to listen (log: {self.echo_dir}/{tag}.log)",
                   lambda: os.path.exists(ready) or p.poll() is not None, 20)
        if p.poll() is not None:
            raise AssertionError(f"the server in {name} exited {p.returncode}: see {self.echo_dir}/{tag}.log")

    def stop_server(self, name):
        p = self.servers.pop(name, None)
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        tag = "netpol-" + name.replace("/", "-")
        for ext in (".pid", ".ready"):
            path = os.path.join(self.echo_dir, tag + ext)
            if os.path.exists(path):
                os.unlink(path)

    def stop_servers(self):
        for name in list(self.servers):
            self.stop_server(name)

    # --- probing
    def target_ips(self, name):
        return self.pods[name]["ips"]

    def probe(self, cells, timeout):
        """{cell: (reachable, detail)} for cells (source, target, port, family); reachable is
        None when another pod than the target answered. One prober per source, all at once."""
        plan = {}
        for cell in cells:
            plan.setdefault(cell[0], []).append(cell)
        procs = []
        for src, mine in plan.items():
            specs = [{"id": k, "ip": self.target_ips(t)[family], "proto": proto.lower(), "port": port}
                     for k, (_, t, (proto, port), family) in enumerate(mine)]
            p = subprocess.Popen(["nsenter", f"--net={self.netns(src)}", PYTHON, PROBE, "probe",
                                  "--timeout", str(timeout)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
            p.stdin.write(json.dumps(specs))  # far below a pipe's buffer: never blocks
            p.stdin.close()
            procs.append((src, mine, p))
        outputs = []
        for src, mine, p in procs:  # every prober waited for, also when one failed
            with p.stdout:
                outputs.append((src, mine, p.stdout.read(), p.wait()))
        seen = {}
        for src, mine, out, rc in outputs:
            if rc != 0 or not out.startswith("{"):
                raise AssertionError(f"the prober in {src} ({self.netns(src)}) failed ({rc}): {out}")
            for line in out.splitlines():
                r = json.loads(line)
                cell = mine[r["id"]]
                target, ip = cell[1], self.target_ips(cell[1])[cell[3]]
                if r["answer"] is None:
                    seen[cell] = (False, f"blocked ({ip}: {r['error']})")
                elif r["answer"].split()[0] != self.pods[target].get("answers", target):
                    seen[cell] = (None, f"another pod ({ip} answered {r['answer']!r})")
                else:
                    seen[cell] = (True, f"reached ({ip} answered {r['answer']!r})")
        return seen

    def observe(self, truth):
        cells = list(truth.cells)
        seen = self.probe(cells, PROBE_TIMEOUT)
        again = [c for c in cells if truth.cells[c] and seen[c][0] is False]
        if again:
            seen.update(self.probe(again, RECHECK_TIMEOUT))
        return seen

    # --- cleaning up
    HOLD = MARK + "-hold"  # a finalizer that keeps a deleted pod's object in the API

    def hold(self, name):
        ns, pod = name.split("/")
        self.lab.kubectl("patch", "pod", "-n", ns, pod, "--type=merge", "-p",
                         json.dumps({"metadata": {"finalizers": [self.HOLD]}}))

    def release(self, name):
        ns, pod = name.split("/")
        self.lab.kubectl("patch", "pod", "-n", ns, pod, "--type=merge", "-p",
                         json.dumps({"metadata": {"finalizers": None}}))

    def release_all(self):
        """Every pod of the checks' that a finalizer holds, released; the pods that remain."""
        pods = self.api_pods()
        for name, pod in list(pods.items()):
            if self.HOLD in (pod["metadata"].get("finalizers") or []):
                self.release(name)
                if pod["metadata"].get("deletionTimestamp"):
                    del pods[name]  # the API removes it now
        return pods

    def reset(self):
        """Back to the world every check starts from: no policy of the checks, every pod and
        namespace with its own labels, no extra pod."""
        self.lab.kubectl("delete", "networkpolicies", "-A", "-l", MARK, "--ignore-not-found")
        pods = self.release_all()
        extra = [n for n in pods if n not in MATRIX]
        if extra:
            self.delete(extra)
        for n in MATRIX:
            have = pods.get(n, {}).get("metadata", {}).get("labels", {})
            if n in pods and {k: v for k, v in have.items() if k != MARK} != self.labels[n]:
                self.relabel_pod(n, self.labels[n], have)
        missing = [n for n in MATRIX if n not in pods or n not in self.pods]
        if missing:
            self.delete(missing)
            self.create(missing)
        namespaces = json.loads(self.lab.kubectl("get", "namespaces", "-l", MARK, "-o", "json").stdout)
        for item in namespaces["items"]:
            ns = item["metadata"]["name"]
            have = {k: v for k, v in item["metadata"]["labels"].items() if k != MARK}
            if ns in self.ns_labels and have != self.ns_labels[ns]:
                self.relabel_namespace(ns, self.ns_labels[ns], have)

    @staticmethod
    def label_args(want, have):
        return [f"{k}={v}" for k, v in want.items()] + [f"{k}-" for k in have if k not in want and k != MARK]

    def relabel_pod(self, name, want, have=None):
        ns, pod = name.split("/")
        have = have if have is not None else json.loads(self.lab.kubectl(
            "get", "pod", "-n", ns, pod, "-o", "json").stdout)["metadata"]["labels"]
        self.lab.kubectl("label", "pod", "-n", ns, pod, "--overwrite", *self.label_args(want, have))

    def relabel_namespace(self, ns, want, have=None):
        have = have if have is not None else json.loads(self.lab.kubectl(
            "get", "namespace", ns, "-o", "json").stdout)["metadata"]["labels"]
        self.lab.kubectl("label", "namespace", ns, "--overwrite", *self.label_args(want, have))

    def remove(self):
        self.delete(list(self.release_all()))
        self.stop_servers()
        self.lab.kubectl("delete", "namespaces", *NAMESPACES, "--ignore-not-found", "--wait=true",
                         "--timeout=180s", timeout=210)
        self.pods = {}

    def rewind_ipam(self, i, ips):
        """Makes node i's next addresses be ips, as they would be once routelet-cni's round
        robin came round its whole range: its cursor per range (the address last handed out,
        cni/ipam/disk_store.cpp) set to the one before, under the store's lock."""
        d = os.path.join(self.lab.ipam_dir(i), "routelet")
        with open(os.path.join(d, "lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for ip in ips.values():
                ip = ipaddress.ip_address(ip)
                cursors = [p for p in glob.glob(os.path.join(d, "last-reserved.*"))
                           if ip in ipaddress.ip_network(os.path.basename(p)[len("last-reserved."):]
                                                         .replace("_", "/"))]
                if len(cursors) != 1:
                    raise AssertionError(f"node{i}: no one round-robin cursor for {ip} in {d}: {cursors}")
                # The store's format: the address, padded to 47 characters, and a newline,
                # written in place.
                with open(cursors[0], "r+") as f:
                    f.write(str(ip - 1).ljust(47) + "\n")


# ------------------------------------------------------------------------------ the checks


class NetworkPolicyChecks:
    """The matrix's checks; mixed into a unittest.TestCase whose class has `lab`, a running
    lab of --cluster kubernetes --dual-stack with three nodes. The world is made by the
    first check and removed by the last."""

    _netpol_world = None  # a World, or the exception that stopped making one

    def world(self):
        cls = type(self)
        if cls._netpol_world is None:
            try:
                w = World(self.lab)
                cls.addClassCleanup(w.stop_servers)
                w.make()
                cls._netpol_world = w
            except Exception as e:
                cls._netpol_world = e
                raise
        if isinstance(cls._netpol_world, Exception):
            raise AssertionError(f"no matrix to probe: {cls._netpol_world}")
        return cls._netpol_world

    def setUp(self):
        super().setUp()
        if not self._testMethodName.startswith("test_11a_netpol_"):
            return
        w = self.world()
        if self._testMethodName.startswith("test_11a_netpol_99"):
            return
        self.addCleanup(w.reset)
        # Each check starts from a cluster without policies: what the last one left shows here.
        self.expect(Truth(), "no policy (before the check)")

    def apply(self, *policies):
        self.world().kubectl_apply(*policies)

    def expect(self, truth, what):
        """Probes the matrix until it is the truth; fails with the difference once SETTLE
        seconds passed without."""
        w = self.world()
        started = time.monotonic()
        rounds = 0
        while True:
            seen = w.observe(truth)
            rounds += 1
            if all(truth.cells[c] == seen[c][0] for c in truth.cells):
                print(f"\n[netpol] {what}: the matrix matched in round {rounds} "
                      f"({time.monotonic() - started:.1f} s)", end="")
                return
            if time.monotonic() - started >= SETTLE:
                self.fail(f"{what}: the matrix ({len(truth.sources)} sources x {len(truth.targets)} "
                          f"targets x {len(PORTS)} ports x {len(FAMILIES)} families) is not the "
                          f"expected one after {rounds} rounds in {SETTLE} s:\n{render_diff(truth, seen)}")
            time.sleep(0.2)  # the agent shares the machine's two cores with the probers

    # 1
    def test_11a_netpol_01_without_policies_every_pod_reaches_every_pod(self):
        # setUp probed the whole matrix already; this says what it covered.
        w = self.world()
        self.assertEqual(sorted(w.pods), sorted(MATRIX))
        self.assertEqual({p["node"] for p in w.pods.values()}, {1, 2, 3})
        for name, p in w.pods.items():
            self.assertEqual(p["node"], node_of(name), name)
            self.assertEqual(sorted(p["ips"]), [4, 6], name)

    # 2
    def test_11a_netpol_02_deny_all_ingress_isolates_a_namespace(self):
        self.apply(netpol("deny-ingress", "x", {}, types=["Ingress"]))
        # Nothing reaches x's pods, x's own included; x's pods still reach everyone (the
        # replies come back into an isolated pod).
        isolated = Truth().block(to="x/*")
        self.expect(isolated, "deny all ingress in x")
        # routelet's policy table deleted by someone else on every node is made again.
        for i in (1, 2, 3):
            self.lab.ns(self.lab.node(i), "nft", "delete", "table", "inet", POLICY_TABLE)
        self.expect(isolated, f"deny all ingress in x, after nft delete table inet {POLICY_TABLE} on every node")

    # 3
    def test_11a_netpol_03_ingress_from_pods_of_the_same_namespace(self):
        self.apply(netpol("a-from-b", "x", {"pod": "a"}, ingress=[{"from": [pods_labelled(pod="b")]}]))
        # A podSelector peer alone selects pods of the policy's namespace: y/b and z/b are out.
        self.expect(Truth().block(to="x/a").allow(frm="x/b", to="x/a"), "x/a from pod: b of x")

    # 4
    def test_11a_netpol_04_ingress_from_a_namespace(self):
        self.apply(netpol("a-from-y", "x", {"pod": "a"}, ingress=[{"from": [namespaces_labelled(ns="y")]}]))
        self.expect(Truth().block(to="x/a").allow(frm="y/*", to="x/a"), "x/a from ns: y")
        # The same with matchExpressions, in the policy's selector and in both of a peer's.
        self.apply(netpol("a-from-y", "x", None, ingress=[{"from": [{
            "namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["y"]}]},
            "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}}]}],
            expressions=[{"key": "pod", "operator": "In", "values": ["a"]}]))
        self.expect(Truth().block(to="x/a").allow(frm=["x/b", "x/c", "z/b", "z/c"], to="x/a"),
                    "x/a (pod In [a]) from {ns NotIn [y] AND pod In [b, c]}")

    # 5
    def test_11a_netpol_05_namespace_and_pod_selectors_in_one_peer_or_two(self):
        both = dict(namespaces_labelled(ns="y"), **pods_labelled(pod="b"))
        self.apply(netpol("a-from-yb", "x", {"pod": "a"}, ingress=[{"from": [both]}]))
        self.expect(Truth().block(to="x/a").allow(frm="y/b", to="x/a"),
                    "x/a from one peer {ns: y AND pod: b}")
        # Two peers: pods of ns y, OR pods b of x (a podSelector alone: the policy's namespace).
        self.apply(netpol("a-from-yb", "x", {"pod": "a"}, ingress=[
            {"from": [namespaces_labelled(ns="y"), pods_labelled(pod="b")]}]))
        self.expect(Truth().block(to="x/a").allow(frm=["y/*", "x/b"], to="x/a"),
                    "x/a from two peers {ns: y} OR {pod: b}")
        # Two policies selecting one pod allow what either allows; a rule's peers and ports
        # both have to match.
        self.apply(netpol("a-from-yb", "x", {"pod": "a"}, ingress=[
                       {"from": [namespaces_labelled(ns="y")], "ports": ports(("UDP", 81))}]),
                   netpol("a-from-z", "x", {"pod": "a"}, ingress=[{"from": [namespaces_labelled(ns="z")]}]))
        self.expect(Truth().block(to="x/a").allow(frm="y/*", to="x/a", ports=[("UDP", 81)]).allow(frm="z/*", to="x/a"),
                    "x/a from ns: y on UDP 81 (one policy), and from ns: z (another)")

    # 6
    def test_11a_netpol_06_ports_by_number_by_name_by_protocol(self):
        steps = (
            ("TCP 80 by number", ports(("TCP", 80)), [("TCP", 80)]),
            # A port without protocol is TCP; a name resolves to the target's container port.
            ("the named port serve-81-tcp", ports((None, "serve-81-tcp")), [("TCP", 81)]),
            # A protocol without port: every port of it.
            ("UDP, every port", ports(("UDP", None)), [("UDP", 80), ("UDP", 81)]),
            # v1.20 has no endPort: a port is a range of one, so UDP 81 does not open UDP 80,
            # nor TCP 81; two entries are a union, a name and a number alike.
            ("UDP 81 and serve-80-tcp", ports(("UDP", 81), ("TCP", "serve-80-tcp")),
             [("UDP", 81), ("TCP", 80)]),
        )
        for what, rule_ports, opened in steps:
            self.apply(netpol("a-ports", "x", {"pod": "a"}, ingress=[{"ports": rule_ports}]))
            self.expect(Truth().block(to="x/a").allow(to="x/a", ports=opened),
                        f"x/a from everyone on {what}")

    # 7
    def test_11a_netpol_07_ip_blocks_with_an_exception(self):
        w = self.world()
        cidrs = w.pod_cidrs(2)
        # x/a is on node 1; x/b, y/a and z/c on node 2. y/a's own addresses are excepted.
        self.assertEqual(sorted(n for n in MATRIX if node_of(n) == 2), ["x/b", "y/a", "z/c"])
        ya = w.pods["y/a"]["ips"]
        peers = [{"ipBlock": {"cidr": cidrs[4], "except": [f"{ya[4]}/32"]}},
                 {"ipBlock": {"cidr": cidrs[6], "except": [f"{ya[6]}/128"]}}]
        self.apply(netpol("a-from-node2", "x", {"pod": "a"}, ingress=[{"from": peers}]))
        self.expect(Truth().block(to="x/a").allow(frm=["x/b", "z/c"], to="x/a"),
                    f"x/a from {cidrs[4]} except {ya[4]}/32 and {cidrs[6]} except {ya[6]}/128")
        # An IPv4 block says nothing of the same pods' IPv6 addresses.
        self.apply(netpol("a-from-node2", "x", {"pod": "a"}, ingress=[{"from": peers[:1]}]))
        self.expect(Truth().block(to="x/a").allow(frm=["x/b", "z/c"], to="x/a", families=(4,)),
                    f"x/a from {cidrs[4]} except {ya[4]}/32 only")
        # The same blocks as egress: x/a reaches node 2's pods but y/a.
        self.apply(netpol("a-from-node2", "x", {"pod": "a"}, egress=[{"to": peers}], types=["Egress"]))
        self.expect(Truth().block(frm="x/a").allow(frm="x/a", to=["x/b", "z/c"]),
                    f"x/a to {cidrs[4]} except {ya[4]}/32 and {cidrs[6]} except {ya[6]}/128")

    # 8
    def test_11a_netpol_08_egress(self):
        self.apply(netpol("a-egress", "x", {"pod": "a"}, types=["Egress"]))
        # x/a reaches nobody; everyone still reaches x/a (its replies leave it).
        self.expect(Truth().block(frm="x/a"), "x/a denied all egress")
        to_y = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "y"}}}]}
        self.apply(netpol("a-egress", "x", {"pod": "a"}, egress=[to_y], types=["Egress"]))
        self.expect(Truth().block(frm="x/a").allow(frm="x/a", to="y/*"), "x/a egress to y only")
        # An egress named port resolves on the destination pod.
        self.apply(netpol("a-egress", "x", {"pod": "a"}, types=["Egress"],
                          egress=[dict(to_y, ports=ports(("UDP", "serve-81-udp")))]))
        self.expect(Truth().block(frm="x/a").allow(frm="x/a", to="y/*", ports=[("UDP", 81)]),
                    "x/a egress to y on serve-81-udp only")

    # 9
    def test_11a_netpol_09_policy_types(self):
        self.apply(netpol("a-both", "x", {"pod": "a"}, types=["Ingress", "Egress"],
                          ingress=[{"from": [namespaces_labelled(ns="y")]}],
                          egress=[{"to": [namespaces_labelled(ns="z")]}]))
        # y reaches x/a (and hears back although x/a may not open connections to y).
        self.expect(Truth().block(to="x/a").allow(frm="y/*", to="x/a")
                    .block(frm="x/a").allow(frm="x/a", to="z/*"),
                    "x/a ingress from y, egress to z")
        # Egress rules of a policy whose policyTypes lack Egress are not enforced.
        self.apply(netpol("a-both", "x", {"pod": "a"}, types=["Ingress"],
                          egress=[{"to": [pods_labelled(pod="b")]}]))
        self.expect(Truth().block(to="x/a"), "x/a: policyTypes [Ingress], no ingress rule, egress rules")
        # Without policyTypes the API server fills them in: Ingress, and Egress for egress rules.
        self.apply(netpol("a-both", "x", {"pod": "a"}, ingress=[{}], egress=[{"to": [pods_labelled(pod="b")]}]))
        stored = json.loads(self.lab.kubectl("get", "networkpolicy", "-n", "x", "a-both", "-o", "json").stdout)
        self.assertEqual(stored["spec"]["policyTypes"], ["Ingress", "Egress"])
        self.expect(Truth().block(frm="x/a").allow(frm="x/a", to="x/b"),
                    "x/a: no policyTypes, ingress from all, egress to pod: b")

    # 10
    def test_11a_netpol_10_policies_made_before_their_pods(self):
        w = self.world()
        zs = [n for n in MATRIX if n.startswith("z/")]
        w.delete(zs)
        self.apply(netpol("from-x", "z", {}, ingress=[{"from": [namespaces_labelled(ns="x")]}]),
                   netpol("a-from-zb", "x", {"pod": "a"}, ingress=[
                       {"from": [dict(namespaces_labelled(ns="z"), **pods_labelled(pod="b"))]}]))
        xy = [n for n in MATRIX if not n.startswith("z/")]
        # A peer that selects no pod yet allows nothing.
        self.expect(Truth(xy).block(to="x/a"), "x/a from {ns: z, pod: b}, before z has pods")
        w.create(zs)
        self.expect(Truth().block(to="z/*").allow(frm="x/*", to="z/*").block(to="x/a").allow(frm="z/b", to="x/a"),
                    "z's pods made after z's policy (from x only) and x/a's (from z/b only)")

    # 11
    def test_11a_netpol_11_labels_that_change(self):
        w = self.world()
        self.apply(netpol("a-from-b", "x", {"pod": "a"}, ingress=[{"from": [pods_labelled(pod="b")]}]))
        first = Truth().block(to="x/a").allow(frm="x/b", to="x/a")
        self.expect(first, "x/a from pod: b of x")
        w.relabel_pod("x/c", {"pod": "a"})
        self.expect(Truth().block(to=["x/a", "x/c"]).allow(frm="x/b", to=["x/a", "x/c"]),
                    "x/c relabelled pod: a (now selected)")
        w.relabel_pod("x/b", {"pod": "d"})
        self.expect(Truth().block(to=["x/a", "x/c"]), "x/b relabelled pod: d (no longer a peer)")
        w.relabel_pod("x/b", {"pod": "b"})
        w.relabel_pod("x/c", {"pod": "c"})
        self.expect(first, "x/b and x/c back to pod: b and pod: c")
        self.apply(netpol("a-from-b", "x", {"pod": "a"}, ingress=[{"from": [namespaces_labelled(ns="y")]}]))
        self.expect(Truth().block(to="x/a").allow(frm="y/*", to="x/a"), "x/a from ns: y")
        w.relabel_namespace("z", dict(w.ns_labels["z"], ns="y"))
        self.expect(Truth().block(to="x/a").allow(frm=["y/*", "z/*"], to="x/a"), "namespace z relabelled ns: y")
        w.relabel_namespace("z", w.ns_labels["z"])
        self.expect(Truth().block(to="x/a").allow(frm="y/*", to="x/a"), "namespace z back to ns: z")

    # 12
    def test_11a_netpol_12_a_pod_made_again_at_the_same_address(self):
        w = self.world()
        self.apply(netpol("a-from-b", "x", {"pod": "a"}, ingress=[{"from": [pods_labelled(pod="b")]}]))
        allowed = Truth().block(to="x/a").allow(frm="x/b", to="x/a")
        self.expect(allowed, "x/a from pod: b of x")
        # Made again as the kubelet and routelet-cni would: a new address (round robin).
        first = w.delete(["x/b"])["x/b"]["ips"]
        w.create(["x/b"])
        print(f"\n[netpol] x/b deleted and made again on node {node_of('x/b')}: "
              f"{first} -> {w.pods['x/b']['ips']}", end="")
        self.expect(allowed, "x/b made again at a new address")
        # A pod deleted, and another made at its very addresses while the first one's object
        # is still terminating, as once routelet-cni's round robin came round: the policy
        # follows the pod that has the address now. The kubelet frees a deleted pod's address
        # (CNI DEL) seconds before it lets the API remove the object, whose status keeps the
        # addresses (phase Running, containers terminated) until then, and a finalizer keeps
        # it there for good; here one holds it for the whole step, so the step does not pass
        # by waiting for the kubelet. First a pod the policy does not allow after one it
        # does, then the other way round.
        others = [n for n in MATRIX if n != "x/b"]
        for old, new, labels, truth in (
                ("x/b", "x/b2", {"pod": "c"}, Truth(others + ["x/b2"]).block(to="x/a")),
                ("x/b2", "x/b3", {"pod": "b"}, Truth(others + ["x/b3"]).block(to="x/a").allow(frm="x/b3", to="x/a"))):
            w.hold(old)
            ips = w.delete([old], graceful=True)[old]["ips"]
            w.rewind_ipam(node_of("x/b"), ips)
            w.create([new], labels={new: labels}, node=node_of("x/b"))
            self.assertEqual(w.pods[new]["ips"], ips, f"{new} was not given {old}'s addresses")
            held = w.api_pods()[old]
            self.assertEqual([a["ip"] for a in held["status"].get("podIPs", [])], [ips[4], ips[6]],
                             f"{old}, terminating, no longer says its addresses: the step shows nothing")
            self.expect(truth, f"{new} (pod: {labels['pod']}) at the addresses of {old} (pod: "
                               f"{held['metadata']['labels']['pod']}, terminating), x/a from pod: b")
            w.release(old)

    # 13
    def test_11a_netpol_13_the_node_and_host_network_pods(self):
        w = self.world()
        # A hostNetwork pod of x on node 2, labelled as x/a is: it has node 2's addresses.
        w.kubectl_apply(w.pod_object("x/" + HOSTNET, {"pod": "a"}, host_network=True, node=2))
        w.wait_running(["x/" + HOSTNET])
        self.apply(netpol("deny-ingress", "x", {}, types=["Ingress"]),
                   netpol("from-x", "y", {}, ingress=[{"from": [namespaces_labelled(ns="x")]}]))
        nodes = ["node1", "node2", "node3"]
        t = Truth(list(MATRIX) + nodes, list(MATRIX) + [HOSTNET])
        t.block(to="x/*").block(to="y/*").allow(frm="x/*", to="y/*")
        # Each pod's own node reaches it (the kubelet's probes); the other nodes are not
        # pods and are blocked like any outsider. x/hostnet is no pod x's podSelector {}
        # selects, and as a peer it is not in "the pods of ns x": node 2 reaches y's pods on
        # the other nodes no more than node 1 or 3 does.
        for name in MATRIX:
            t.allow(frm=f"node{node_of(name)}", to=name)
        self.expect(t, "deny all ingress in x, y from x only; nodes and x/hostnet beside the matrix")

    # 14
    def test_11a_netpol_14_deleting_every_policy_restores_everything(self):
        self.apply(netpol("deny-ingress", "x", {}, types=["Ingress"]),
                   netpol("deny-egress", "y", {}, types=["Egress"]),
                   netpol("c-from-x", "z", {"pod": "c"}, ingress=[{"from": [namespaces_labelled(ns="x")]}]))
        self.expect(Truth().block(to="x/*").block(frm="y/*").block(to="z/c").allow(frm="x/*", to="z/c"),
                    "x denies ingress, y egress, z/c allows x only")
        self.lab.kubectl("delete", "networkpolicies", "-A", "-l", MARK)
        self.expect(Truth(), "every policy deleted")

    # 15
    def test_11a_netpol_15_a_service_in_front_of_an_isolated_pod(self):
        w = self.world()
        # kube-proxy's DNAT comes before the policy: a ClusterIP's connection is allowed or
        # blocked as one to the endpoint's own address. (x/a itself is left out: a pod
        # reaching itself through its Service is masqueraded by kube-proxy, its node's traffic.)
        self.addCleanup(self.lab.kubectl, "delete", "service", "-n", "x", "a", "--ignore-not-found")
        w.kubectl_apply({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a", "namespace": "x", "labels": {MARK: "true"}},
            "spec": {"selector": {"pod": "a"}, "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"],
                     "ports": [{"name": port_name(proto, port), "protocol": proto, "port": port,
                                "targetPort": port_name(proto, port)} for proto, port in PORTS]}})
        stored = json.loads(self.lab.kubectl("get", "service", "-n", "x", "a", "-o", "json").stdout)
        w.pods[SERVICE] = {"ips": {ipaddress.ip_address(ip).version: ip for ip in stored["spec"]["clusterIPs"]},
                           "answers": "x/a"}
        self.addCleanup(w.pods.pop, SERVICE, None)
        sources = [n for n in MATRIX if n != "x/a"]
        self.expect(Truth(sources, [SERVICE]), "x/a's Service without a policy (kube-proxy serves it)")
        self.apply(netpol("a-from-y", "x", {"pod": "a"}, ingress=[{"from": [namespaces_labelled(ns="y")]}]))
        self.expect(Truth(sources, [SERVICE]).block(to=SERVICE).allow(frm="y/*", to=SERVICE),
                    "x/a from ns: y, reached through its Service's ClusterIPs")

    # the end
    def test_11a_netpol_99_removing_the_namespaces_frees_every_address(self):
        w = self.world()
        w.remove()
        type(self)._netpol_world = AssertionError("check 99 removed it")
        for i, (leases, links) in w.base.items():
            wait_until(f"node{i}'s addresses and host veths as before the matrix",
                       lambda: self.lab.leases(i) == leases and self.lab.host_links(i) == links, 60, interval=0.2)


class NetworkPolicyTest(NetworkPolicyChecks, unittest.TestCase):
    """The checks alone, on a cluster of their own (test_cluster.ClusterTest runs them on
    the tier's cluster)."""

    @classmethod
    def setUpClass(cls):
        import test_cluster  # here: test_cluster imports this module
        test_cluster.kube_binaries()
        cls.lab = Lab("n", 3, dual=True, cluster="kubernetes", deploy="process")
        cls.addClassCleanup(cls.lab.down)
        cls.lab.up()


if __name__ == "__main__":
    unittest.main()
