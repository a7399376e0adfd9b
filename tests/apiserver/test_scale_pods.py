"""150 000 synthetic Pods and 2000 NetworkPolicies: full paginated LISTs (limit=500), as the
agent's NetworkPolicy watchers make at start, from a stand-in that must not take gigabytes.

Prints the LIST's time and the stand-in's memory (README.md quotes them); asserts no time.
"""

import json
import os
import sys
import time
import unittest

from standin_fixture import StandIn

NODES, NAMESPACES, PODS, POLICIES = 1500, 100, 150_000, 2000  # 100 Pods a node
MEMORY_LIMIT_KB = 1024 * 1024  # made up front, the Pods alone would take several GB


def cpu_seconds(pid):
    """User and system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid):
    """(VmRSS, VmHWM) of a process, in kB."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return tuple(int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM"))


class SyntheticPodsAndPolicies(unittest.TestCase):
    def list_all(self, s, path):
        """Every item of a LIST in pages of 500, as the agent reads it: (items' keys and pod
        IPs, pages, the list resourceVersions)."""
        keys, ips, pages, versions, token = [], [], 0, set(), ""
        conn = s.connection(timeout=300)
        try:
            while True:
                conn.request("GET", f"{path}?limit=500" + (f"&continue={token}" if token else ""),
                             headers={"Authorization": f"Bearer {s.agent_token}"})
                response = conn.getresponse()
                self.assertEqual(response.status, 200)
                page = json.loads(response.read())
                pages += 1
                self.assertLessEqual(len(page["items"]), 500)
                for item in page["items"]:
                    keys.append((item["metadata"]["namespace"], item["metadata"]["name"]))
                    ips += [ip["ip"] for ip in item.get("status", {}).get("podIPs", [])]
                versions.add(page["metadata"]["resourceVersion"])
                token = page["metadata"].get("continue")
                if not token:
                    return keys, ips, pages, versions
        finally:
            conn.close()

    def test_full_paginated_lists(self):
        with StandIn(nodes=NODES, extra=["--pods", str(PODS), "--policies", str(POLICIES),
                                         "--namespaces", str(NAMESPACES)]) as s:
            at_start = memory_kb(s.process.pid)[0]
            started, cpu = time.monotonic(), cpu_seconds(s.process.pid)
            keys, ips, pages, versions = self.list_all(s, "/api/v1/pods")
            seconds, cpu = time.monotonic() - started, cpu_seconds(s.process.pid) - cpu
            policies = self.list_all(s, "/apis/networking.k8s.io/v1/networkpolicies")
            peak = memory_kb(s.process.pid)[1]
        sys.stderr.write(f"\n{PODS} Pods in {pages} pages of 500: {seconds:.1f} s ({cpu:.1f} s of "
                         f"it the stand-in's CPU); stand-in RSS {at_start // 1024} MB at start, "
                         f"{peak // 1024} MB at most\n")
        self.assertEqual((len(keys), len(set(keys)), pages), (PODS, PODS, PODS // 500))
        self.assertEqual(keys, sorted(keys))
        self.assertEqual((len(ips), len(set(ips))), (PODS, PODS))
        # One version per object at start: Nodes, the four namespaces of every cluster, the
        # synthetic Namespaces, Pods and NetworkPolicies.
        self.assertEqual(versions, {str(NODES + 4 + NAMESPACES + PODS + POLICIES)})
        self.assertEqual((len(set(policies[0])), policies[2]), (POLICIES, POLICIES // 500))
        self.assertLess(peak, MEMORY_LIMIT_KB)


if __name__ == "__main__":
    unittest.main()
