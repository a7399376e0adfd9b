"""manifests/node-policy.yaml, the optional ValidatingAdmissionPolicy that keeps a stolen
routelet token from rewriting other Nodes (issue 13, item 7): schema, kubectl's decoding,
`kubectl apply --dry-run=client` against the API stand-in, and its CEL evaluated (@bufbuild/cel)
for the agent's own status patch and for each hijack it must refuse."""

import copy
import json
import os
import shutil
import sys
import tempfile
import unittest

from manifestkit import HERE, KUBECTL, NODE_POLICY, ROOT, documents, require_kubectl, run
from test_schema import ensure_node_modules, validate

EVALUATOR = os.path.join(HERE, "eval_policy.js")
AGENT = "system:serviceaccount:kube-system:routelet"


def node(name, annotations=None, addresses=("192.168.1.11",), network_unavailable="True"):
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name},
                     "annotations": dict({"node.alpha.kubernetes.io/ttl": "0"},
                                         **(annotations or {}))},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
        "status": {
            "addresses": [{"type": "InternalIP", "address": a} for a in addresses],
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
                {"type": "NetworkUnavailable", "status": network_unavailable,
                 "reason": "RouteletReady" if network_unavailable == "False" else "NoRoute"},
            ],
        },
    }


def request(user=AGENT, node_claim="node1"):
    info = {"username": user}
    if node_claim is not None:
        info["extra"] = {"authentication.kubernetes.io/node-name": [node_claim]}
    return {"userInfo": info}


class NodePolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_node_modules()

    def evaluate(self, old, new, req):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump({"object": new, "oldObject": old, "request": req}, f)
            f.flush()
            p = run(["node", EVALUATOR, NODE_POLICY, f.name])
        return json.loads(p.stdout)

    def own_patch(self):
        """What the agent itself does: routelet.io/ annotations and NetworkUnavailable."""
        old = node("node1")
        new = node("node1", {"routelet.io/state": "ready", "routelet.io/node-ips": "192.168.1.11"},
                   network_unavailable="False")
        return old, new

    def test_the_agents_own_status_patch_is_allowed(self):
        old, new = self.own_patch()
        verdict = self.evaluate(old, new, request())
        self.assertEqual(verdict, {"matched": True, "denied": [], "errors": []})

    def test_each_hijack_is_refused_naming_why(self):
        old, new = self.own_patch()

        def changed(mutate):
            """The agent's own new Node with one hijack applied."""
            n = copy.deepcopy(new)
            mutate(n)
            return n

        def set_path(*path, value):
            def mutate(n):
                target = n
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value
            return mutate

        def drop_ttl(n):
            del n["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"]

        cases = [  # what, old, new, request, the message that must refuse it
            ("another Node", copy.deepcopy(old),
             changed(set_path("metadata", "name", value="node2")), request(), "only the Node"),
            ("no node claim", old, new, request(node_claim=None), "only the Node"),
            ("its addresses", old,
             changed(set_path("status", "addresses", 0, "address", value="192.168.1.66")),
             request(), "addresses"),
            ("a foreign annotation", old,
             changed(set_path("metadata", "annotations", "node.alpha.kubernetes.io/ttl",
                              value="30")), request(), "annotations"),
            ("a foreign annotation removed", old, changed(drop_ttl), request(), "annotations"),
            ("a foreign annotation added", old,
             changed(set_path("metadata", "annotations", "flannel.alpha.coreos.com/public-ip",
                              value="1.2.3.4")), request(), "annotations"),
            ("the Ready condition", old,
             changed(set_path("status", "conditions", 0, "status", value="False")), request(),
             "NetworkUnavailable"),
            ("a label", old,
             changed(set_path("metadata", "labels", "node-role.kubernetes.io/control-plane",
                              value="")), request(), "labels"),
            ("the spec", old, changed(set_path("spec", "podCIDRs", value=["10.0.0.0/8"])),
             request(), "spec"),
        ]
        for what, o, n, req, why in cases:
            with self.subTest(what):
                verdict = self.evaluate(o, n, req)
                self.assertTrue(verdict["matched"])
                self.assertEqual(verdict["errors"], [])
                self.assertTrue(any(why in m for m in verdict["denied"]), verdict)

    def test_other_users_are_not_matched(self):
        old, new = self.own_patch()
        moved = copy.deepcopy(new)
        moved["status"]["addresses"][0]["address"] = "192.168.1.66"
        verdict = self.evaluate(old, moved, request(user="system:node:node1"))
        self.assertFalse(verdict["matched"])

    def test_schema_and_kubectl_decoding(self):
        p = validate(NODE_POLICY)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual([d["kind"] for d in documents(NODE_POLICY)],
                         ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"])
        require_kubectl()
        p = run([KUBECTL, "--kubeconfig", os.devnull, "label", "--local", "--dry-run=client",
                 "-f", NODE_POLICY, "routelet.io/check=1", "-o", "name"], check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), [
            "validatingadmissionpolicy.admissionregistration.k8s.io/routelet-own-node",
            "validatingadmissionpolicybinding.admissionregistration.k8s.io/routelet-own-node"])

    def test_kubectl_applies_it_to_the_standin(self):
        state = tempfile.mkdtemp(prefix="routelet-policy-apply-")
        self.addCleanup(shutil.rmtree, state, True)
        standin = os.path.join(ROOT, "tests", "apiserver", "standin")
        run([sys.executable, standin, "serve", "--listen", "127.0.0.1:0", "--state-dir", state,
             "--daemon"])
        self.addCleanup(run, [sys.executable, standin, "ctl", "--state-dir", state, "stop"],
                        check=False)
        p = run([KUBECTL, "--kubeconfig", os.path.join(state, "admin.kubeconfig"), "apply",
                 "--dry-run=client", "--validate=false", "-f", NODE_POLICY], check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 2, p.stdout)


if __name__ == "__main__":
    unittest.main()
