"""The lab's state dir remembers which lab it holds (scripts/lab, lab.conf): `down` given
only --state removes that lab's namespaces, and a different --prefix is refused with
nothing removed. No lab is brought up: a namespace and a state dir stand in for one.
Needs root."""

import os
import random
import string
import tempfile
import unittest

from labkit import LAB, require_environment, run


class LabStateTest(unittest.TestCase):
    def setUp(self):
        require_environment()
        self.prefix = "s" + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        self.underlay = f"{self.prefix}-underlay"
        self.state = tempfile.mkdtemp(prefix=f"routelet-e2e-{self.prefix}-")
        with open(os.path.join(self.state, "lab.conf"), "w", encoding="utf-8") as f:
            f.write(f"1 0 {self.prefix}\n")
        run(["ip", "netns", "add", self.underlay])
        self.addCleanup(run, ["ip", "netns", "del", self.underlay], check=False)
        self.addCleanup(run, ["rm", "-rf", self.state], check=False)

    def namespaces(self):
        return run(["ip", "netns", "list"]).stdout

    def test_another_prefix_is_refused_and_nothing_removed(self):
        p = run([LAB, "down", "--state", self.state, "--prefix", "zz"], check=False)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn(f"holds the lab made with --prefix {self.prefix}, not zz", p.stderr)
        self.assertIn(self.underlay, self.namespaces())
        self.assertTrue(os.path.exists(os.path.join(self.state, "lab.conf")))

    def test_down_with_only_the_state_dir_removes_that_lab(self):
        p = run([LAB, "down", "--state", self.state], check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn(self.underlay, self.namespaces())
        self.assertFalse(os.path.exists(self.state))


if __name__ == "__main__":
    unittest.main()
