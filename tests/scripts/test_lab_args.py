"""scripts/lab's answers to a bad --deploy: exit 2, one line naming the flag and the value,
and nothing made (the state dir stays empty, no namespace appears)."""

import os
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAB = os.path.join(ROOT, "scripts", "lab")


class LabDeployArgsTest(unittest.TestCase):
    def lab(self, *args):
        state = tempfile.mkdtemp(prefix="routelet-labargs-")
        self.addCleanup(os.rmdir, state)
        p = subprocess.run([LAB, "up", "--state", state, "--prefix", "la", *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(os.listdir(state), [], "the lab made something")
        return p

    def test_an_unknown_deploy_is_refused_by_name(self):
        p = self.lab("--deploy", "helm")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertEqual(p.stderr.strip(), "lab: --deploy wants daemonset or process, got helm")

    def test_deploy_needs_the_real_cluster(self):
        p = self.lab("--cluster", "standin", "--deploy", "daemonset")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--deploy needs --cluster kubernetes", p.stderr)


if __name__ == "__main__":
    unittest.main()
