"""The real kubectl against the stand-in over HTTPS: it must not tell the difference.

The kubectl is the one scripts/setup installs, Debian 12's (1.20.2), as a fresh machine has
it; without it this test fails (it never skips).
"""

import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import unittest

from standin_fixture import StandIn

KUBECTL = os.path.join(os.environ.get("ROUTELET_CACHE", "/var/cache/routelet"), "bin", "kubectl")
TIMEOUT = 30


class Kubectl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(KUBECTL, os.X_OK):
            raise AssertionError(f"{KUBECTL} is missing: scripts/setup installs Debian's kubectl "
                                 "there; the stand-in is verified against the real client")
        cls.s = StandIn(nodes=3, extra=["--pods", "6", "--policies", "3", "--namespaces", "2"])

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def kubectl(self, *args, kubeconfig=None, check=True):
        cmd = [KUBECTL, "--kubeconfig", kubeconfig or self.s.admin_kubeconfig,
               "--cache-dir", os.path.join(self.s.state_dir, "kubectl-cache"), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr}")
        return result

    def node(self, name):
        return json.loads(self.kubectl("get", "node", name, "-o", "json").stdout)

    def test_get_nodes_table_and_json(self):
        lines = self.kubectl("get", "nodes").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "STATUS", "ROLES", "AGE", "VERSION"])
        self.assertIn(["node-00001", "Ready", "<none>"], [line.split()[:3] for line in lines])
        listing = json.loads(self.kubectl("get", "nodes", "-o", "json").stdout)
        names = [i["metadata"]["name"] for i in listing["items"]]
        self.assertTrue({"node-00001", "node-00002", "node-00003"} <= set(names))
        wide = self.kubectl("get", "node", "node-00002", "-o", "wide").stdout
        self.assertIn("172.16.0.12", wide)

    def test_get_nodes_watch_sees_a_change(self):
        proc = subprocess.Popen([KUBECTL, "--kubeconfig", self.s.admin_kubeconfig, "--cache-dir",
                                 os.path.join(self.s.state_dir, "kubectl-cache"), "get", "nodes",
                                 "-w", "--output-watch-events"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            seen = self.read_until(proc, lambda line: line.startswith("ADDED") and
                                   "node-00001" in line)
            self.assertTrue(seen, "kubectl get -w printed no initial rows")
            self.kubectl("label", "node", "node-00001", "watched=yes")
            seen = self.read_until(proc, lambda line: line.startswith("MODIFIED") and
                                   "node-00001" in line)
            self.assertTrue(seen, "kubectl get -w did not show the change")
        finally:
            proc.kill()
            proc.communicate()

    def read_until(self, proc, matches):
        """True once a line of proc's stdout matches, False at EOF or after TIMEOUT."""
        if not hasattr(proc, "lines"):
            proc.lines = queue.Queue()
            threading.Thread(target=lambda: [proc.lines.put(line) for line in proc.stdout]
                             + [proc.lines.put(None)], daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = proc.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                break
            if matches(line):
                return True
        return False

    def test_annotate(self):
        out = self.kubectl("annotate", "node", "node-00002", "routelet.io/test=1").stdout
        self.assertIn("annotated", out)
        self.assertEqual(self.node("node-00002")["metadata"]["annotations"]["routelet.io/test"],
                         "1")

    def test_patch_merge_and_status_subresource(self):
        self.kubectl("patch", "node", "node-00003", "--type=merge",
                     "-p", '{"spec":{"unschedulable":true},"metadata":{"labels":{"p":"1"}}}')
        node = self.node("node-00003")
        self.assertEqual((node["spec"]["unschedulable"], node["metadata"]["labels"]["p"]),
                         (True, "1"))
        # kubectl 1.20 reaches the status subresource only with a raw PUT of the whole Node
        # (patch --subresource came in 1.24); --validate=false: the stand-in serves no /openapi.
        node["status"]["conditions"] = [{"type": "NetworkUnavailable", "status": "False",
                                         "reason": "RouteletReady"}]
        node["spec"]["unschedulable"] = False  # a status write must leave spec alone
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(node, f)
            f.flush()
            self.kubectl("replace", "--validate=false", "--raw",
                         "/api/v1/nodes/node-00003/status", "-f", f.name)
        conditions = self.node("node-00003")["status"]["conditions"]
        self.assertEqual([c["type"] for c in conditions], ["NetworkUnavailable"])
        table = self.kubectl("get", "node", "node-00003").stdout
        self.assertIn("SchedulingDisabled", table)

    def test_delete(self):
        self.s.request("POST", "/api/v1/nodes", {"metadata": {"name": "doomed"}})
        out = self.kubectl("delete", "node", "doomed").stdout
        self.assertIn('"doomed" deleted', out)
        result = self.kubectl("get", "node", "doomed", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('nodes "doomed" not found', result.stderr)

    def test_agent_kubeconfig_reads_but_cannot_write_outside_its_role(self):
        agent = self.s.agent_kubeconfig
        self.assertIn("node-00001", self.kubectl("get", "nodes", kubeconfig=agent).stdout)
        watch = self.kubectl("get", "nodes", "-w", "--request-timeout=2s", kubeconfig=agent,
                             check=False)
        self.assertIn("node-00001", watch.stdout)
        self.assertNotIn("Forbidden", watch.stderr)
        result = self.kubectl("delete", "node", "node-00001", kubeconfig=agent, check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('Error from server (Forbidden): nodes "node-00001" is forbidden: User '
                      '"system:serviceaccount:kube-system:routelet" cannot delete resource '
                      '"nodes" in API group "" at the cluster scope', result.stderr)
        result = self.kubectl("patch", "node", "node-00001", "--type=merge", "-p",
                              '{"metadata":{"labels":{"x":"y"}}}', kubeconfig=agent, check=False)
        self.assertIn('cannot patch resource "nodes"', result.stderr)
        self.assertEqual(self.kubectl("get", "node", "node-00001").returncode, 0)


    def get_json(self, *args):
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def test_create_label_delete_a_namespace_pod_and_policy(self):
        objects = [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "team-a", "labels": {"team": "a"}}},
            {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": "web", "namespace": "team-a", "labels": {"app": "web"}},
             "spec": {"containers": [{"name": "web", "image": "nginx",
                                      "ports": [{"name": "http", "containerPort": 80}]}]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "allow-web", "namespace": "team-a"},
             "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                      "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "a"}}}],
                                   "ports": [{"port": "http"}]}]}},
        ]
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": objects}, f)
            f.flush()
            # --validate=false: kubectl validates against /openapi/v2, which the stand-in
            # does not serve.
            out = self.kubectl("create", "--validate=false", "-f", f.name).stdout
            self.assertEqual(out.splitlines(), ["namespace/team-a created", "pod/web created",
                                                "networkpolicy.networking.k8s.io/allow-web "
                                                "created"])
            self.assertIn("pod/web labeled", self.kubectl("label", "pod", "web", "-n", "team-a",
                                                          "tier=front").stdout)
            self.kubectl("label", "namespace", "team-a", "team=b", "--overwrite")
            self.kubectl("annotate", "networkpolicy", "allow-web", "-n", "team-a", "note=x")
            self.assertEqual(self.get_json("pod", "web", "-n", "team-a")["metadata"]["labels"],
                             {"app": "web", "tier": "front"})
            self.assertEqual(self.get_json("ns", "team-a")["metadata"]["labels"]["team"], "b")
            policy = self.get_json("netpol", "allow-web", "-n", "team-a")
            self.assertEqual(policy["metadata"]["annotations"], {"note": "x"})
            self.assertEqual(policy["spec"]["policyTypes"], ["Ingress"])
            rows = [line.split() for line in
                    self.kubectl("get", "pods,netpol", "-n", "team-a").stdout.splitlines()]
            self.assertIn(["pod/web", "0/1", "Pending", "0"], [r[:4] for r in rows])
            self.assertIn(["networkpolicy.networking.k8s.io/allow-web", "app=web"],
                          [r[:2] for r in rows])
            out = self.kubectl("delete", "-f", f.name).stdout
            self.assertEqual(sorted(out.splitlines()), [
                'namespace "team-a" deleted', 'networkpolicy.networking.k8s.io "allow-web" deleted',
                'pod "web" deleted'])
        # (kubectl itself reports a missing namespace first, so ask the API.)
        for path, message in (("/api/v1/namespaces/team-a/pods/web", 'pods "web" not found'),
                              ("/api/v1/namespaces/team-a", 'namespaces "team-a" not found'),
                              ("/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies/"
                               "allow-web",
                               'networkpolicies.networking.k8s.io "allow-web" not found')):
            status, _, body = self.s.request("GET", path)
            self.assertEqual((status, body["message"]), (404, message))

    def test_get_synthetic_pods_policies_and_namespaces(self):
        lines = self.kubectl("get", "pods", "-A", "-o", "wide").stdout.splitlines()
        self.assertEqual(lines[0].split()[:8], ["NAMESPACE", "NAME", "READY", "STATUS",
                                                "RESTARTS", "AGE", "IP", "NODE"])
        self.assertEqual(len(lines), 1 + 6)
        self.assertTrue(all(line.split()[3] == "Running" for line in lines[1:]))
        pods = self.get_json("pods", "-n", "ns-00002")["items"]
        self.assertEqual(len(pods), 3)
        self.assertTrue(all(p["status"]["podIP"].startswith("10.64.") for p in pods))
        lines = self.kubectl("get", "networkpolicies", "-A").stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAMESPACE", "NAME", "POD-SELECTOR", "AGE"])
        self.assertEqual(len(lines), 1 + 3)
        names = [line.split()[0] for line in self.kubectl("get", "ns").stdout.splitlines()[1:]]
        self.assertTrue({"default", "kube-system", "ns-00001", "ns-00002"} <= set(names), names)

    def test_agent_kubeconfig_lists_pods_but_cannot_delete_them_or_read_secrets(self):
        agent = self.s.agent_kubeconfig
        listed = self.kubectl("get", "pods", "-A", "-o", "name", kubeconfig=agent).stdout
        self.assertEqual(len(listed.split()), 6)
        self.assertEqual(len(self.kubectl("get", "netpol", "-A", "-o", "name",
                                          kubeconfig=agent).stdout.split()), 3)
        pod = listed.split()[0].split("/")[1]
        result = self.kubectl("delete", "pod", pod, "-n", "ns-00001", kubeconfig=agent,
                              check=False)
        self.assertIn(f'Error from server (Forbidden): pods "{pod}" is forbidden: User '
                      '"system:serviceaccount:kube-system:routelet" cannot delete resource '
                      '"pods" in API group "" in the namespace "ns-00001"', result.stderr)
        # --raw: the stand-in lists no Secrets in discovery, so kubectl would not ask.
        result = self.kubectl("get", "--raw", "/api/v1/namespaces/kube-system/secrets",
                              kubeconfig=agent, check=False)
        self.assertIn('Error from server (Forbidden): secrets is forbidden: User '
                      '"system:serviceaccount:kube-system:routelet" cannot list resource '
                      '"secrets" in API group "" in the namespace "kube-system"', result.stderr)


if __name__ == "__main__":
    unittest.main()
