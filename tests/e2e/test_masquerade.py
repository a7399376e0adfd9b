"""End-to-end tests of routelet's egress masquerade table (issue 14) on a 2-node dual-stack
lab: what it exempts, how fast it comes back when someone else changes it, how it follows
Nodes (hostile ones included), nonMasqueradeCIDRs and masquerade off. That the NAT itself
works is shown by the Services matrix (test_services) and the kernel test of the table.
Needs root and nft."""

import ipaddress
import json
import os
import signal
import time
import unittest

from labkit import Lab, LabTestCase, process_gone, run, wait_until

JOIN, EVIL = 4, 6


def keys(prefixes):
    """The set keys of prefixes: their network addresses (the table keeps one set per
    prefix length, looked up with the destination masked to that length)."""
    return sorted(str(ipaddress.ip_network(p).network_address) for p in prefixes)


class MasqueradeTest(LabTestCase):
    TAG = "m"
    NODES = 2
    DUAL = True

    # --- helpers
    def nft(self, i, *args, check=True):
        return self.lab.ns(self.lab.node(i), "nft", *args, check=check)

    def set_elements(self, i, name):
        """The keys in set name of table inet routelet on node i; None without the set."""
        p = self.nft(i, "-j", "list", "set", "inet", "routelet", name, check=False)
        if p.returncode != 0:
            return None
        out = []
        for obj in json.loads(p.stdout)["nftables"]:
            for e in obj.get("set", {}).get("elem", []):
                out.append(str(e))
        return sorted(out)

    def table_listing(self, i):
        p = self.nft(i, "list", "table", "inet", "routelet", check=False)
        return p.stdout if p.returncode == 0 else None

    def restart_agent(self, i, **env):
        """Stops node i's agent (SIGTERM) and starts it again with env (ROUTELET_* settings)."""
        pid = self.lab.agent_pid(i)
        os.kill(pid, signal.SIGTERM)
        wait_until(f"agent {pid} to exit", lambda: process_gone(pid), 10)
        settings = " ".join(f"{k}={v}" for k, v in env.items())
        self.lab.sh(f"{settings} start_agent {i}")
        self.lab.wait_ready(i, timeout=60)

    # --- tests
    def test_01_every_pod_cidr_is_exempt_on_every_node(self):
        for i in self.lab_nodes():
            self.assertEqual(self.set_elements(i, "local_v4"), keys([Lab.cidr(i)]))
            self.assertEqual(self.set_elements(i, "local_v6"), keys([Lab.cidr6(i)]))
            self.assertEqual(self.set_elements(i, "exempt_v4_24"),
                             keys(Lab.cidr(k) for k in self.lab_nodes()))
            self.assertEqual(self.set_elements(i, "exempt_v6_64"),
                             keys(Lab.cidr6(k) for k in self.lab_nodes()))
            listing = self.table_listing(i)
            self.assertIn("type nat hook postrouting priority srcnat", listing)
            self.assertIn("ip saddr & 255.255.255.0 == @local_v4 jump masquerade_v4", listing)
            self.assertIn("ip daddr & 255.255.255.0 == @exempt_v4_24 return", listing)
            self.assertIn("ip6 saddr & ffff:ffff:ffff:ffff:: == @local_v6 jump masquerade_v6",
                          listing)
            self.assertEqual(self.lab.metric(i, "routelet_masquerade_exempt_ranges"), 4)

    def test_02_changes_by_anyone_else_are_undone_in_milliseconds(self):
        good = self.table_listing(1)
        self.assertIsNotNone(good)
        heals_before = self.lab.metric(1, "routelet_masquerade_heals_total") or 0
        tamperings = [
            ("delete table", ["delete", "table", "inet", "routelet"]),
            ("flush chain", ["flush", "chain", "inet", "routelet", "postrouting"]),
            ("delete element", ["delete", "element", "inet", "routelet", "exempt_v4_24",
                                "{ %s }" % keys([Lab.cidr(2)])[0]]),
            ("flush ruleset", ["flush", "ruleset"]),
        ]
        times = []
        for what, args in tamperings:
            self.nft(1, *args)
            done = time.monotonic()
            wait_until(f"table inet routelet restored after {what}",
                       lambda: self.table_listing(1) == good, 10, interval=0.002)
            times.append((what, (time.monotonic() - done) * 1000))
        print("\n[e2e] masquerade table restored (polled with nft, ~5 ms per look): " +
              ", ".join(f"{w} {ms:.0f} ms" for w, ms in times))
        wait_until("routelet_masquerade_heals_total to count every heal",
                   lambda: (self.lab.metric(1, "routelet_masquerade_heals_total") or 0)
                   >= heals_before + len(tamperings), 10)
        # A table of another owner beside it is never touched.
        self.nft(1, "add", "table", "inet", "someone-else")
        self.addCleanup(self.nft, 1, "delete", "table", "inet", "someone-else", check=False)
        time.sleep(0.3)
        self.nft(1, "list", "table", "inet", "someone-else")
        self.assertEqual(self.table_listing(1), good)

    def test_03_nodes_joining_and_leaving_change_the_exempt_set(self):
        name = self.create_peer(JOIN, cidrs=[Lab.cidr(JOIN), Lab.cidr6(JOIN)])
        want = keys([Lab.cidr(k) for k in self.lab_nodes()] + [Lab.cidr(JOIN)])
        wait_until("the new Node's podCIDR to be exempt",
                   lambda: all(self.set_elements(i, "exempt_v4_24") == want
                               for i in self.lab_nodes()), 10, interval=0.05)
        self.assertIn(keys([Lab.cidr6(JOIN)])[0], self.set_elements(1, "exempt_v6_64"))
        self.lab.delete_node(name)
        want = keys(Lab.cidr(k) for k in self.lab_nodes())
        wait_until("the deleted Node's podCIDR to be masqueraded again",
                   lambda: all(self.set_elements(i, "exempt_v4_24") == want
                               for i in self.lab_nodes()), 10, interval=0.05)

    def test_04_a_hostile_node_cannot_take_ranges_out_of_masquerade(self):
        # A public range, the node subnet, cloud metadata: pods' traffic there must keep
        # leaving with the node's address.
        for n, cidr in enumerate(["8.0.0.0/7", "192.168.0.0/16", "169.254.0.0/16"]):
            self.create_peer(EVIL + n, ip=f"192.168.1.{60 + n}", cidrs=[cidr])
        time.sleep(1.0)  # the watch has delivered them; the agent must have ignored them
        want = keys(Lab.cidr(k) for k in self.lab_nodes())
        for i in self.lab_nodes():
            self.assertEqual(self.set_elements(i, "exempt_v4_24"), want)
            self.assertEqual(
                [line for line in self.table_listing(i).splitlines() if "exempt_v4_" in line
                 and "set" in line], ["\tset exempt_v4_24 {"],
                "a set for the hostile Nodes' prefix lengths")

    def test_05_non_masquerade_cidrs_then_masquerade_off(self):
        self.addCleanup(self.restart_agent, 2)
        self.restart_agent(2, ROUTELET_NON_MASQUERADE_CIDRS="100.64.0.0/10,fd00:100::/48")
        self.assertEqual(self.set_elements(2, "exempt_v4_10"), ["100.64.0.0"])
        self.assertEqual(self.set_elements(2, "exempt_v6_48"), ["fd00:100::"])
        self.restart_agent(2, ROUTELET_MASQUERADE="off")
        self.assertIsNone(self.table_listing(2), "masquerade off left the table in place")
        self.assertIn("masquerade is off", self.lab.agent_log(2))
        # Off means off: a table made by hand under that name is not fought over.
        self.nft(2, "add", "table", "inet", "routelet")
        time.sleep(0.3)
        self.assertEqual(self.table_listing(2).split(), ["table", "inet", "routelet", "{", "}"])


if __name__ == "__main__":
    unittest.main()
