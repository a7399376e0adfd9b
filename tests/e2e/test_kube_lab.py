"""End-to-end test of the lab on a real Kubernetes cluster (issue 25, `scripts/lab up`,
--cluster kubernetes): three dual-stack nodes whose podCIDRs the controller-manager assigns,
pods placed by the scheduler and wired by routelet-cni through containerd's CRI, a Service
served by kube-proxy, the agents on routelet's ServiceAccount; and that neither `up` nor
`down` changes the machine, and `down` leaves nothing.

Needs root and the Kubernetes binaries scripts/kubernetes builds (scripts/setup does);
missing either is a failure, never a skip."""

import glob
import ipaddress
import json
import os
import subprocess
import unittest

from labkit import KUBECTL, ROOT, Lab, run, services_matrix

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


class KubeLabTest(unittest.TestCase):
    NODES = 3

    @classmethod
    def setUpClass(cls):
        kube_binaries()
        cls.before = machine()
        cls.lab = Lab("k", cls.NODES, dual=True, cluster="kubernetes")
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
        for verb, resource, allowed in (("watch", "nodes", "yes"), ("patch", "nodes/status", "yes"),
                                        ("patch", "nodes", "no"), ("list", "pods", "no")):
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
