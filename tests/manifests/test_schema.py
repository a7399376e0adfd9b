"""manifests/routelet.yaml against the Kubernetes OpenAPI schema (kubernetes-models from
npm, pinned in package-lock.json) and against kubectl's own decoding of the objects."""

import os
import shutil
import tempfile
import unittest

from manifestkit import HERE, MANIFEST, find, documents, run

VALIDATOR = os.path.join(HERE, "validate_schema.js")


def ensure_node_modules():
    """CI starts from a fresh clone: install the pinned validator on demand."""
    if os.path.isdir(os.path.join(HERE, "node_modules", "kubernetes-models")):
        return
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise AssertionError(f"{tool} not found; scripts/setup installs it")
    run(["npm", "ci", "--prefix", HERE, "--no-audit", "--no-fund"], timeout=600)


def validate(path):
    return run(["node", VALIDATOR, path], check=False)


class SchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_node_modules()

    def test_every_document_is_valid(self):
        p = validate(MANIFEST)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        kinds = [line.split(" (")[1].split(" ")[0] for line in p.stdout.splitlines()
                 if line.endswith(": valid")]
        self.assertEqual(kinds, ["ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                                 "ConfigMap", "DaemonSet"])

    def test_the_validator_rejects_what_the_api_server_would(self):
        # Without this, a validator that accepts everything would pass the test above.
        with open(MANIFEST) as f:
            text = f.read()
        for broken, expect in [
            (text.replace("containerPort: 9654", 'containerPort: "metrics"'), "containerPort"),
            (text.replace("hostNetwork: true", "hostNetwork: yes-please"), "hostNetwork"),
            (text.replace("kind: DaemonSet", "kind: DaemonSett"), "no schema"),
            (text.replace("      containers:\n", "      kontainers:\n"), "containers"),
        ]:
            self.assertNotEqual(broken, text)
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write(broken)
                f.flush()
                p = validate(f.name)
            self.assertEqual(p.returncode, 1, f"accepted a manifest with a broken {expect}")
            self.assertIn(expect, p.stderr)


class KubectlDecodeTest(unittest.TestCase):
    """kubectl decodes every object offline. `kubectl apply --dry-run=client` needs the API
    server's discovery for every kind (and /openapi for validation), which the API stand-in
    serves only for Nodes, so these use kubectl's --local mode: the same decoding into
    kubectl's compiled-in Kubernetes types, without a server."""

    def kubectl(self, *args, stdin=None):
        if shutil.which("kubectl") is None:
            raise AssertionError("kubectl not found (the stand-in tests need it too)")
        return run(["kubectl", "--kubeconfig", os.devnull, *args], check=False, input=stdin)

    def test_every_object_has_a_known_kind(self):
        p = self.kubectl("label", "--local", "--dry-run=client", "-f", MANIFEST,
                         "routelet.io/check=1", "-o", "name")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), [
            "serviceaccount/routelet", "clusterrole.rbac.authorization.k8s.io/routelet",
            "clusterrolebinding.rbac.authorization.k8s.io/routelet", "configmap/routelet",
            "daemonset.apps/routelet"])

    def test_the_daemonset_decodes_into_kubectls_types(self):
        import yaml
        ds = yaml.safe_dump(find(documents(), "DaemonSet"))
        p = self.kubectl("set", "env", "--local", "--dry-run=client", "-f", "-", "CHECK=1",
                         "-o", "yaml", stdin=ds)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("hostNetwork: true", p.stdout)
        bad = ds.replace("hostNetwork: true", "hostNetwork: 'yes'")
        p = self.kubectl("set", "env", "--local", "--dry-run=client", "-f", "-", "CHECK=1",
                         "-o", "yaml", stdin=bad)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("hostNetwork", p.stderr)


if __name__ == "__main__":
    unittest.main()
