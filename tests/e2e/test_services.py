"""End-to-end tests of Services over routelet (issue 14): the lab's Services matrix, ClusterIP
and NodePort through kube-proxy-like DNAT the lab writes itself, passes in every cell with
the agents' defaults, IPv4 and IPv6, and each of the agent's Services features, switched off,
fails exactly the cells that need it: --bridge-netfilter off the ClusterIP with its endpoint
on the client's node, --hairpin off the ClusterIP whose endpoint is the client, --masquerade
off a pod reaching a host outside the cluster. One lab: the features are switched by
`scripts/lab up` with other settings, which restarts the agents (and, for --hairpin, remakes
the pods, whose host veths take hairpin mode when made); the lab zeroes bridge netfilter in
a new node and before an agent restarts with other settings, so the agent alone decides it.
Needs root."""

import json
import re
import unittest

from labkit import Lab, LabTestCase, run, services_matrix

# What a row's path needs, from its WHAT column; None: only the pod network and the DNAT.
NEEDS = (("needs bridge netfilter", "bridge-netfilter"), ("needs hairpin", "hairpin"),
         ("needs masquerade", "masquerade"))
POD = re.compile(r"node(\d+)-pod(\d+)")


def needs(row):
    return next((feature for text, feature in NEEDS if text in row["what"]), None)


class ServicesLabTest(LabTestCase):
    TAG = "v"
    NODES = 2  # both nodes hold an endpoint: every kind of cell, and the smallest ping matrix
    DUAL = True
    UP_MUST_PASS = False  # test_01 asserts the first up, cell by cell

    def assert_cells(self, p, failing=(), expect_ok=False):
        """Every cell of both families' matrices in p's output is ok, except those that need
        a feature in failing, which must fail. Returns the matrices."""
        out = f"{p.stdout}\n{p.stderr}"
        matrices = services_matrix(p.stdout)
        self.assertEqual(sorted(matrices), [4, 6], f"no Services matrix per family:\n{out}")
        for family, rows in matrices.items():
            # Per node: its pod2 and its endpoint pod1 to the ClusterIP (one row per endpoint),
            # the NodePort (one row per endpoint), its pod2 to the external host.
            self.assertEqual(len(rows), self.NODES * 7, f"IPv{family} rows:\n{out}")
            self.assertEqual({needs(r) for r in rows},
                             {None, "bridge-netfilter", "hairpin", "masquerade"})
            wrong = [r for r in rows if (r["result"] == "FAIL") != (needs(r) in failing)]
            self.assertEqual(wrong, [], f"IPv{family}: cells with the wrong result (features "
                             f"off: {sorted(failing) or 'none'}):\n{out}\n{self.node_netfilter()}")
        if expect_ok:
            self.assertEqual(p.returncode, 0, out)
            self.assertNotIn("FAIL", p.stdout)
        else:
            self.assertNotEqual(p.returncode, 0, "a failing cell must fail `scripts/lab up`")
            self.assertIn("some Service paths fail", p.stderr)
            self.assertNotIn("some pods cannot reach each other", p.stderr)
        return matrices

    def node_netfilter(self):
        """Each node's bridge netfilter and nftables, for a failure message."""
        out = []
        for i in self.lab_nodes():
            tables = self.lab.ns(self.lab.node(i), "nft", "list", "tables", check=False).stdout
            out.append(f"{self.lab.node(i)}: bridge-nf-call-iptables {self.bridge_nf(i)}; "
                       f"tables: {' '.join(tables.split())}")
        return "\n".join(out)

    def bridge_nf(self, i):
        p = self.lab.ns(self.lab.node(i), "sysctl", "-n", "net.bridge.bridge-nf-call-iptables",
                        "net.bridge.bridge-nf-call-ip6tables")
        return " ".join(p.stdout.split())

    def hairpin_modes(self, i):
        """{host veth: hairpin flag} of node i's pods."""
        links = json.loads(run(["ip", "-j", "-d", "-n", self.lab.node(i), "link", "show",
                                "type", "veth"]).stdout or "[]")
        return {link["ifname"]: link.get("linkinfo", {}).get("info_slave_data", {}).get("hairpin")
                for link in links if link["ifname"] != "eth0"}

    def conflist_hairpin(self, i):
        with open(self.lab.node_dir(i) + "/net.d/10-routelet.conflist") as f:
            return json.load(f)["plugins"][0].get("hairpinMode")

    def gateway(self, i, family):
        return f"10.244.{i}.1" if family == 4 else f"fd00:10:244:{i}::1"

    def test_01_every_cell_passes_with_the_defaults(self):
        p = self.first_up
        matrices = self.assert_cells(p, expect_ok=True)
        print("\n" + p.stdout[p.stdout.index("services (IPv4)"):])
        for i in self.lab_nodes():
            # The lab set them to 0 when it made the node: 1 is the agent's doing.
            self.assertEqual(self.bridge_nf(i), "1 1", self.lab.node(i))
        # Who answered, and from where: the DNAT and the masquerades did what they should.
        for family, rows in matrices.items():
            node_ip = Lab.node_ip if family == 4 else Lab.node_ip6
            nodes = {node_ip(i): i for i in self.lab_nodes()}
            for r in rows:
                src = POD.fullmatch(r["from"])
                if r["what"].startswith("external host"):
                    want = node_ip(int(src.group(1)))  # the pod's node, by its masquerade
                elif r["what"].startswith("NodePort"):
                    target = nodes[r["to"].rsplit(":", 1)[0].strip("[]")]
                    # kube-proxy masquerades NodePort traffic (externalTrafficPolicy
                    # Cluster): to the target node's address out of eth0, to its bridge
                    # gateway out of cni0.
                    local = POD.fullmatch(r["answered"]).group(1) == str(target)
                    want = self.gateway(target, family) if local else node_ip(target)
                elif r["answered"] == r["from"]:
                    # Hairpin: kube-proxy masquerades an endpoint's connection to itself.
                    want = self.gateway(int(src.group(1)), family)
                else:
                    want = self.lab.pod_ip(int(src.group(1)), int(src.group(2)), family)
                self.assertEqual(r["seen"], want, f"IPv{family} row {r}")

    def test_10_bridge_netfilter_off_fails_the_same_node_clusterip(self):
        p = self.lab.up("--bridge-netfilter", "off", check=False)
        for i in self.lab_nodes():
            self.assertEqual(self.bridge_nf(i), "0 0", self.lab.node(i))
        self.assert_cells(p, failing={"bridge-netfilter"})

    def test_20_hairpin_off_fails_the_clusterip_whose_endpoint_is_the_client(self):
        p = self.lab.up("--hairpin", "off", check=False)
        for i in self.lab_nodes():
            self.assertIs(self.conflist_hairpin(i), False, self.lab.node(i))
            modes = self.hairpin_modes(i)
            self.assertEqual(len(modes), 2, f"{self.lab.node(i)}: host veths {modes}")
            self.assertEqual(set(modes.values()), {False}, f"{self.lab.node(i)}: pods not remade")
        self.assert_cells(p, failing={"hairpin"})

    def test_30_masquerade_off_fails_a_pod_reaching_outside(self):
        # The agents restarted with --masquerade off must take their masquerade away: a table
        # a previous agent left would keep answering (the matrix shows the tables).
        p = self.lab.up("--masquerade", "off", check=False)
        self.assert_cells(p, failing={"masquerade"})

    def test_40_every_cell_passes_again_with_the_defaults(self):
        p = self.lab.up(check=False)
        self.assert_cells(p, expect_ok=True)
        for i in self.lab_nodes():
            self.assertEqual(self.bridge_nf(i), "1 1", self.lab.node(i))
            self.assertIs(self.conflist_hairpin(i), True, self.lab.node(i))
            self.assertEqual(set(self.hairpin_modes(i).values()), {True}, self.lab.node(i))


if __name__ == "__main__":
    unittest.main()
