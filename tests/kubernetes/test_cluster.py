"""The Kubernetes tier (issue 25): routelet under the real programs a cluster admin runs it
with, on one shared cluster of `scripts/lab up` (--cluster kubernetes): three dual-stack
nodes, each a network and mount namespace with its own containerd, kubelet, kube-proxy and
routelet agent, under a real etcd, kube-apiserver (RBAC and Node authorizers, TLS),
controller-manager (which assigns the podCIDRs) and scheduler. Pods are made by kubectl and
placed by the scheduler; the kubelets call routelet-cni through containerd's CRI; Services
are real Services served by kube-proxy. The agents run on routelet's ServiceAccount and RBAC
from manifests/routelet.yaml.

The checks run in order on the one cluster (the numbers order them): the ones that take
something away (an agent restart, a Node deleted) come last. Before them, as checks 11a,
the NetworkPolicy reachability matrix of test_netpol.py runs on this same cluster. Needs root and the Kubernetes
binaries scripts/kubernetes builds (scripts/setup does); missing either is a failure, never a
skip.
"""

import glob
import ipaddress
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

import test_netpol  # noqa: E402  (the module, not its class: unittest would run that here too)
from labkit import KUBECTL, ROOT, Lab, Ping, run, services_matrix, wait_until  # noqa: E402

# The machine's own paths that a kubelet or containerd would make, and the sysctls the
# kubelet writes: the lab must leave them as they were.
HOST_PATHS = ("/etc/cni", "/opt/cni", "/var/lib/kubelet", "/var/lib/containerd", "/run/containerd",
              "/usr/libexec/kubernetes", "/var/log/pods", "/var/lib/cni")
SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
           "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
ECHO_CLIENT = os.path.join(ROOT, "scripts", "lib", "echo_client.py")


def machine():
    """What of the machine the lab must not change."""
    sysctls = {}
    for s in SYSCTLS:
        with open(f"/proc/sys/{s}") as f:
            sysctls[s] = f.read().strip()
    return {"paths": {p: os.path.exists(p) for p in HOST_PATHS}, "sysctls": sysctls}


def kube_binaries():
    d = subprocess.run([os.path.join(ROOT, "scripts", "kubernetes"), "--print-dir"],
                       capture_output=True, text=True, check=True).stdout.strip()
    if not os.path.exists(os.path.join(d, ".complete")):
        raise AssertionError(f"the Kubernetes binaries are not in {d}: run scripts/kubernetes "
                             "(scripts/setup does)")


class ClusterTest(test_netpol.NetworkPolicyChecks, unittest.TestCase):
    NODES = 3
    DEPLOY = "process"  # the lab's own agent processes; test_daemonset.py runs the DaemonSet

    @classmethod
    def setUpClass(cls):
        kube_binaries()
        cls.before = machine()
        cls.lab = Lab("k", cls.NODES, dual=True, cluster="kubernetes", deploy=cls.DEPLOY)
        cls.addClassCleanup(cls.lab.down)
        cls.first_up = cls.lab.up(check=False)

    def kubectl_json(self, *args):
        return json.loads(self.lab.kubectl(*args, "-o", "json").stdout)

    def test_01_up_shows_every_path_working(self):
        p = self.first_up
        self.assertEqual(p.returncode, 0, f"scripts/lab up failed:\n{p.stdout[-6000:]}\n{p.stderr[-3000:]}")
        self.assertIn("every pod reaches every other pod, and every Service path works", p.stdout)
        self.assertNotIn("FAIL", p.stdout)
        self.assertIn("node/" + self.lab.node(1), p.stdout)  # kubectl get nodes,pods -o wide
        matrices = services_matrix(p.stdout)
        self.assertEqual(sorted(matrices), [4, 6])
        for family, rows in matrices.items():
            self.assertIn("through kube-proxy", p.stdout)
            self.assertEqual({r["from"].split("-")[0] for r in rows},
                             {"node1", "node2", "node3", "external"}, f"IPv{family} rows")
            self.assertTrue(all(r["result"] == "ok" for r in rows), rows)

    def test_02_podcidrs_come_from_the_controller_manager(self):
        nodes = self.kubectl_json("get", "nodes")["items"]
        self.assertEqual(sorted(n["metadata"]["name"] for n in nodes),
                         [self.lab.node(i) for i in range(1, self.NODES + 1)])
        seen = set()
        for n in nodes:
            cidrs = [ipaddress.ip_network(c) for c in n["spec"]["podCIDRs"]]
            self.assertEqual([c.version for c in cidrs], [4, 6], n["spec"])
            self.assertTrue(cidrs[0].subnet_of(ipaddress.ip_network("10.244.0.0/16")))
            self.assertEqual(cidrs[0].prefixlen, 24)
            self.assertTrue(cidrs[1].subnet_of(ipaddress.ip_network("fd00:10:244::/48")))
            self.assertEqual(cidrs[1].prefixlen, 64)
            self.assertTrue(seen.isdisjoint(cidrs))
            seen.update(cidrs)
        # Each node routes every other node's podCIDRs through that node's InternalIP.
        for i in range(1, self.NODES + 1):
            for family, k in ((4, 0), (6, 1)):
                want = {}
                for n in nodes:
                    if n["metadata"]["name"] == self.lab.node(i):
                        continue
                    ips = [a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"]
                    ip = next(a for a in ips if ipaddress.ip_address(a).version == family)
                    want[n["spec"]["podCIDRs"][k]] = ip
                self.assertEqual(self.lab.gateways(i, family), want, f"node{i} IPv{family}")

    def test_03_pods_are_placed_by_the_scheduler(self):
        pods = self.kubectl_json("get", "pods", "-n", "default")["items"]
        self.assertEqual(len(pods), 2 * self.NODES)
        events = self.kubectl_json("get", "events", "-n", "default",
                                   "--field-selector", "reason=Scheduled")["items"]
        # v1.20's scheduler reports through events.k8s.io: its name is the reporting component.
        scheduled = {e["involvedObject"]["name"] for e in events
                     if "default-scheduler" in (e.get("reportingComponent"),
                                                e.get("source", {}).get("component"))}
        for pod in pods:
            name = pod["metadata"]["name"]  # nodeI-podJ
            node = self.lab.node(int(name[4:name.index("-")]))
            self.assertEqual(pod["spec"]["nodeName"], node, name)
            self.assertIn(name, scheduled, "no Scheduled event of the default-scheduler")
            self.assertEqual(pod["status"]["phase"], "Running", name)
            # The pod's own address is what the lab attached as its namespace.
            i, j = int(name[4:name.index("-")]), int(name.rsplit("pod", 1)[1])
            self.assertEqual(pod["status"]["podIP"], self.lab.pod_ip(i, j), name)

    def test_04_agents_run_on_routelets_serviceaccount(self):
        with open(os.path.join(self.lab.api_dir, "agent.kubeconfig")) as f:
            kubeconfig = f.read()
        self.assertIn("token:", kubeconfig)
        self.assertNotIn("client-certificate", kubeconfig)
        sa = "system:serviceaccount:kube-system:routelet"
        # NetworkPolicy reads Pods, Namespaces and NetworkPolicies; it writes none of them,
        # and nothing else (a Secret) is open to it.
        for verb, resource, allowed in (("watch", "nodes", "yes"), ("patch", "nodes/status", "yes"),
                                        ("patch", "nodes", "no"), ("list", "pods", "yes"),
                                        ("watch", "networkpolicies.networking.k8s.io", "yes"),
                                        ("watch", "namespaces", "yes"), ("delete", "pods", "no"),
                                        ("create", "networkpolicies.networking.k8s.io", "no"),
                                        ("list", "secrets", "no")):
            what, _, sub = resource.partition("/")
            p = self.lab.kubectl("auth", "can-i", verb, what, *(["--subresource", sub] if sub else []),
                                 "--as", sa, check=False)
            self.assertEqual(p.stdout.strip(), allowed, f"can {sa} {verb} {resource}")

    def test_05_a_node_reaches_a_clusterip_itself(self):
        p = self.lab.ns(self.lab.node(3), "python3", ECHO_CLIENT, "10.96.0.10", "80", "--timeout", "3",
                        check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, rf"^{self.lab.prefix}-node[12]-pod1 ")

    def test_06_the_machine_is_unchanged_while_it_runs(self):
        self.assertEqual(machine(), self.before)
        with open("/proc/1/mountinfo") as f:
            mounts = [line.split()[4] for line in f]
        self.assertEqual([m for m in mounts if m.startswith(self.lab.state)], [])

    # --- what routelet owes the cluster, checked through the real programs
    def pod_ips(self):
        """{(i, j): [IPv4, IPv6]} of the lab's pods, as the kubelets reported them."""
        out = {}
        for pod in self.kubectl_json("get", "pods", "-n", "default",
                                     "-l", "app.kubernetes.io/name=routelet-lab")["items"]:
            m = re.fullmatch(r"node(\d+)-pod(\d+)", pod["metadata"]["name"])
            out[(int(m.group(1)), int(m.group(2)))] = [a["ip"] for a in pod["status"]["podIPs"]]
        return out

    def api_as_agent(self, path, body):
        """HTTP status of one merge PATCH to the real API server with the agent's own token."""
        with open(os.path.join(self.lab.api_dir, "agent.kubeconfig")) as f:
            token = re.search(r"token: *(\S+)", f.read()).group(1)
        p = self.lab.sh(f"api_merge_patch {shlex.quote(token)} {shlex.quote(path)} "
                        f"{shlex.quote(json.dumps(body))}")
        return int(p.stdout.strip())

    def test_07_every_node_is_ready_on_the_agents_conflist(self):
        for n in self.kubectl_json("get", "nodes")["items"]:
            name = n["metadata"]["name"]
            conditions = {c["type"]: c for c in n["status"]["conditions"]}
            self.assertEqual(conditions["Ready"]["status"], "True", name)
            # Only the agent's status PATCH writes this condition with this reason.
            self.assertEqual(conditions["NetworkUnavailable"]["status"], "False", name)
            self.assertEqual(conditions["NetworkUnavailable"]["reason"], "RouteletReady", name)
            i = int(name.rsplit("node", 1)[1])
            with open(os.path.join(self.lab.node_dir(i), "net.d", "10-routelet.conflist")) as f:
                conflist = f.read()
            for cidr in n["spec"]["podCIDRs"]:
                self.assertIn(json.dumps(cidr), conflist, f"{name}: the conflist lacks {cidr}")

    def test_08_pods_are_addressed_from_their_nodes_podcidrs(self):
        nodes = {n["metadata"]["name"]: n for n in self.kubectl_json("get", "nodes")["items"]}
        for (i, j), ips in self.pod_ips().items():
            cidrs = [ipaddress.ip_network(c) for c in nodes[self.lab.node(i)]["spec"]["podCIDRs"]]
            self.assertEqual(len(ips), 2, f"node{i}-pod{j} has {ips}")
            for ip, cidr in zip(ips, cidrs):
                self.assertIn(ipaddress.ip_address(ip), cidr, f"node{i}-pod{j}")

    def test_09_every_pod_reaches_every_pod_with_its_own_address(self):
        """Same node and across nodes, both families: the receiver sees the sender's pod IP
        (no NAT between pods)."""
        ips = self.pod_ips()
        for i, j in ips:
            self.lab.sh(f"echo_start {self.lab.pod(i, j)}")
        wrong = []
        for family in (4, 6):
            for src in ips:
                for dst in ips:
                    if dst == src:
                        continue
                    p = self.lab.ns(self.lab.pod(*src), "python3", ECHO_CLIENT,
                                    ips[dst][family == 6], "80", "--timeout", "3", check=False)
                    want = f"{self.lab.pod(*dst)} {ips[src][family == 6]}"
                    if p.stdout.strip() != want:
                        wrong.append(f"{self.lab.pod(*src)} -> {ips[dst][family == 6]}: "
                                     f"{p.stdout.strip() or p.stderr.strip()!r}, want {want!r}")
        self.assertEqual(wrong, [])
        self.assertEqual(len(ips), 2 * self.NODES)

    def test_10_the_kubelet_adds_and_deletes_pods_through_routelet_cni(self):
        """Pods made by kubectl on node 3: an address of its podCIDR, a lease and a host
        veth while they run; deleting the pod makes the kubelet run DEL, which frees both."""
        template = self.kubectl_json("get", "pod", "-n", "default", "node3-pod1")
        cidr = ipaddress.ip_network(self.kubectl_json("get", "node", self.lab.node(3))["spec"]["podCIDRs"][0])
        container = template["spec"]["containers"][0]
        base_leases, base_links = self.lab.leases(3), self.lab.host_links(3)
        starts, deletes = [], []
        for k in range(3):
            name = f"node3-extra{k}"
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": name, "namespace": "default"},
                   "spec": {key: template["spec"][key] for key in
                            ("nodeSelector", "automountServiceAccountToken", "enableServiceLinks",
                             "terminationGracePeriodSeconds")}}
            pod["spec"]["containers"] = [{key: container[key] for key in
                                          ("name", "image", "imagePullPolicy", "command")}]
            started = time.monotonic()
            self.lab.kubectl("apply", "-f", "-", input=json.dumps(pod))
            self.lab.kubectl("wait", "-n", "default", "--for=condition=Ready", f"pod/{name}",
                             "--timeout=120s", timeout=150)
            starts.append(time.monotonic() - started)
            status = self.kubectl_json("get", "pod", "-n", "default", name)["status"]
            self.assertIn(ipaddress.ip_address(status["podIP"]), cidr, name)
            self.assertEqual(self.lab.leases(3) - base_leases, {a["ip"] for a in status["podIPs"]},
                             f"{name}: a lease for each of its addresses")
            veths = self.lab.host_links(3) - base_links
            self.assertEqual(len(veths), 1, f"{name}: one host veth, got {veths}")

            deleted = time.monotonic()
            self.lab.kubectl("delete", "pod", "-n", "default", name, "--wait=true", "--timeout=120s",
                             timeout=150)
            wait_until(f"{name}'s leases and veth freed by the kubelet's DEL",
                       lambda: self.lab.leases(3) == base_leases and self.lab.host_links(3) == base_links, 60)
            deletes.append(time.monotonic() - deleted)
        ms = lambda xs: f"p50 {statistics.median(xs) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms"
        print(f"\n[kubernetes] {len(starts)} pods: kubectl apply to Ready {ms(starts)}; "
              f"kubectl delete to lease and veth gone {ms(deletes)}")

    def test_11_the_agents_patches_pass_the_real_api_servers_checks(self):
        for n in self.kubectl_json("get", "nodes")["items"]:
            name = n["metadata"]["name"]
            published = [k for k in n["metadata"].get("annotations", {}) if k.startswith("routelet.io/")]
            self.assertNotEqual(published, [], f"{name}: no routelet.io/ annotation published")
        for i in range(1, self.NODES + 1):
            codes = {ls.get("code"): v for name, ls, v in self.lab.metrics(i)
                     if name == "routelet_api_requests_total"}
            self.assertGreater(codes.get("200", 0), 0, f"node{i}: {codes}")
            refused = {c: v for c, v in codes.items() if c and c.startswith("4") and v > 0}
            self.assertEqual(refused, {}, f"node{i}'s agent had requests refused")
        # What the manifest's RBAC allows an agent today: the status of any Node, no Node's
        # spec. (RBAC cannot name "its own Node"; the NodeRestriction admission plugin guards
        # kubelets only.)
        probe = {"metadata": {"annotations": {"routelet.io/rbac-probe": "node1"}}}
        other = self.lab.node(2)
        status = self.api_as_agent(f"/api/v1/nodes/{other}/status", probe)
        spec = self.api_as_agent(f"/api/v1/nodes/{other}", probe)
        self.lab.kubectl("annotate", "node", other, "routelet.io/rbac-probe-")
        print(f"\n[kubernetes] one agent's token: PATCH of another Node's status -> {status}, "
              f"of another Node -> {spec}")
        self.assertEqual((status, spec), (200, 403))

    def test_12_an_agent_restart_loses_no_packet(self):
        ips = self.pod_ips()
        pings = Ping.flowing(self.lab, [(self.lab.pod(1, 1), ips[(2, 1)][0], 4),
                                        (self.lab.pod(2, 2), ips[(1, 2)][1], 6)])
        try:
            for i in (2, 1):
                self.lab.restart_agent(i)
            time.sleep(2)
        finally:
            results = [(p.desc, p.stop()) for p in pings]
        for desc, (replies, lost) in results:
            self.assertGreater(replies, 100, desc)
            self.assertEqual(lost, [], f"{desc}: {len(lost)} of {replies} lost across the restarts")

    def test_13_a_deleted_node_loses_its_routes_everywhere(self):
        gone = self.kubectl_json("get", "node", self.lab.node(3))["spec"]["podCIDRs"]
        for i in (1, 2):
            for family, cidr in zip((4, 6), gone):
                self.assertIn(cidr, self.lab.gateways(i, family), f"node{i} before")
        deleted = time.monotonic()
        self.lab.kubectl("delete", "node", self.lab.node(3))

        def removed():
            return all(cidr not in self.lab.gateways(i, family)
                       for i in (1, 2) for family, cidr in zip((4, 6), gone))
        wait_until("node3's routes removed on node1 and node2", removed, 30)
        print(f"\n[kubernetes] Node deleted to its routes gone on both peers: "
              f"{(time.monotonic() - deleted) * 1000:.0f} ms")
        # The rest of the cluster is untouched.
        self.assertIn(self.kubectl_json("get", "node", self.lab.node(2))["spec"]["podCIDRs"][0],
                      self.lab.gateways(1, 4))

    def test_99_down_leaves_nothing(self):
        p = self.lab.down()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.lab.namespaces(), [])
        self.assertFalse(os.path.exists(self.lab.state))
        self.assertEqual(glob.glob(f"/sys/fs/cgroup/*/{self.lab.prefix}-node*"), [])
        left = run(["pgrep", "-af", self.lab.state], check=False).stdout
        self.assertEqual(left, "", "processes of the lab left")
        self.assertEqual(machine(), self.before)
        self.assertTrue(os.access(KUBECTL, os.X_OK))


if __name__ == "__main__":
    unittest.main()
