"""manifests/routelet.yaml against the Kubernetes OpenAPI schema (kubernetes-models from
npm, pinned in package-lock.json) and against kubectl's own decoding of the objects."""

import os
import shutil
import tempfile
import sys
import unittest

from manifestkit import HERE, KUBECTL, MANIFEST, ROOT, find, documents, require_kubectl, run

VALIDATOR = os.path.join(HERE, "validate_schema.js")


def ensure_node_modules():
    """The pinned validator and CEL evaluator, as scripts/setup installed them from
    package-lock.json (npm ci --engine-strict): missing or stale is a failure, not a skip."""
    stamp = os.path.join(HERE, "node_modules", ".routelet-installed-lock.json")
    with open(os.path.join(HERE, "package-lock.json"), "rb") as f:
        wanted = f.read()
    try:
        with open(stamp, "rb") as f:
            installed = f.read()
    except FileNotFoundError:
        installed = None
    if installed != wanted:
        raise AssertionError(f"{HERE}/node_modules is missing or older than package-lock.json: "
                             "run scripts/setup (it runs npm ci)")
    if shutil.which("node") is None:
        raise AssertionError("node not found; scripts/setup installs it")


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

    def test_the_cleanup_daemonset_is_valid(self):
        p = validate(os.path.join(ROOT, "manifests", "routelet-cleanup.yaml"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("DaemonSet", p.stdout)

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
    """kubectl decodes every object offline (--local mode): the decoding into kubectl's
    compiled-in Kubernetes types, without a server; strict about field types."""

    def kubectl(self, *args, stdin=None):
        require_kubectl()
        return run([KUBECTL, "--kubeconfig", os.devnull, *args], check=False, input=stdin)

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


class KubectlApplyDryRunTest(unittest.TestCase):
    """`kubectl apply --dry-run=client` against the API stand-in, which lists every kind of
    the manifest in its discovery (it stores only Nodes: each object is "created"). Schema
    validation needs the server's /openapi, which the stand-in does not serve, so it is
    off here (--validate=false): the kubernetes-models test above validates the schema."""

    @classmethod
    def setUpClass(cls):
        require_kubectl()
        cls.state = tempfile.mkdtemp(prefix="routelet-manifest-apply-")
        standin = os.path.join(ROOT, "tests", "apiserver", "standin")
        run([sys.executable, standin, "serve", "--listen", "127.0.0.1:0", "--state-dir",
             cls.state, "--daemon"])
        cls.addClassCleanup(shutil.rmtree, cls.state, True)
        cls.addClassCleanup(run, [sys.executable, standin, "ctl", "--state-dir", cls.state,
                                  "stop"], check=False)

    def apply(self, path):
        return run([KUBECTL, "--kubeconfig", os.path.join(self.state, "admin.kubeconfig"),
                    "apply", "--dry-run=client", "--validate=false", "-f", path], check=False)

    def test_every_object_applies(self):
        p = self.apply(MANIFEST)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "serviceaccount/routelet created (dry run)",
            "clusterrole.rbac.authorization.k8s.io/routelet created (dry run)",
            "clusterrolebinding.rbac.authorization.k8s.io/routelet created (dry run)",
            "configmap/routelet created (dry run)",
            "daemonset.apps/routelet created (dry run)"])

    def test_a_misspelled_kind_is_refused(self):
        with open(MANIFEST) as f:
            text = f.read().replace("kind: DaemonSet", "kind: DaemonSett")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write(text)
            f.flush()
            p = self.apply(f.name)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("DaemonSett", p.stderr)


if __name__ == "__main__":
    unittest.main()
