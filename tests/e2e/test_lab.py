"""End-to-end tests of the local lab (issue 5): pods reach each other across nodes (IPv4 and
dual-stack), nodes join and leave, agents are upgraded under traffic, the network repairs
itself, pods survive an API outage, and teardown leaves nothing. Needs root."""

import json
import os
import re
import time
import unittest

from labkit import Lab, LabTestCase, Ping, process_gone, run, services_matrix, wait_until

JOIN, OUTAGE_PEER = 4, 7


class LabTest(LabTestCase):
    TAG = "l"
    NODES = 3

    def assert_status_ok(self):
        p = self.lab.status()
        self.assertEqual(p.returncode, 0, f"scripts/lab status failed:\n{p.stdout}\n{p.stderr}")
        self.assertIn("every pod reaches every other pod", p.stdout)
        self.assertNotIn("FAIL", p.stdout)
        return p.stdout

    def assert_all_pods_reach_each_other(self, family=4):
        self.assertGreaterEqual(len(self.lab.pods()), 2 * self.NODES)
        self.assertEqual(self.lab.unreachable_pairs(family), [], "pods that cannot reach another")

    def start_pings(self, pairs):
        """pairs: [((i, j), (k, l))] pod to pod; each ping sends 100 packets a second. Losses
        count from when every path has answered, that is from before what the test does."""
        pings = []
        for src, dst in pairs:
            ping = Ping(self.lab, self.lab.pod(*src), self.lab.pod_ip(*dst))
            self.addCleanup(ping.stop)
            pings.append(ping)
        for ping in pings:
            ping.wait_replies()
            ping.mark()
        return pings

    def stop_pings(self, pings):
        for ping in pings:
            replies, lost = ping.stop()
            print(f"[e2e] ping {ping.desc}: {replies} replies, lost {lost}")
            self.assertGreater(replies, 0)
            self.assertEqual(lost, [], f"ping {ping.desc} lost packets")

    def test_01_every_pod_reaches_every_other_pod(self):
        out = self.assert_status_ok()
        print("\n" + out[out.index("ping matrix"):])
        self.assert_all_pods_reach_each_other()
        # An IPv4 lab's Services matrix (test_services checks it cell by cell): IPv4 only,
        # from each of the three nodes, every cell passing (assert_status_ok).
        matrices = services_matrix(out)
        self.assertEqual(sorted(matrices), [4])
        self.assertEqual({r["from"].split("-")[0] for r in matrices[4]},
                         {"node1", "node2", "node3", "external"})

    def test_10_node_joins_and_leaves(self):
        lab = self.lab
        name = lab.node(JOIN)
        self.addCleanup(lab.delete_node, name)
        self.addCleanup(lab.sh, f"lab_node_remove {JOIN}", check=False)
        lab.create_node(name, cidrs=[Lab.cidr(JOIN)],
                        addresses=[("InternalIP", Lab.node_ip(JOIN)), ("Hostname", name)])
        lab.sh(f"lab_node_start {JOIN}")
        lab.wait_ready(JOIN)
        lab.sh(f"make_pods {JOIN}")
        everyone = self.lab_nodes() + [JOIN]
        self.wait_routes({i: self.peer_gateways(i, everyone) for i in everyone},
                         what="routes of 4 nodes")
        self.assert_all_pods_reach_each_other()
        self.assert_status_ok()  # the lab shows the joined node like its own

        lab.kubectl("delete", "node", name)
        lab.sh(f"lab_node_remove {JOIN}")
        self.wait_routes({i: self.peer_gateways(i) for i in self.lab_nodes()},
                         what="the left node's routes to go")
        self.assertFalse([ns for ns in lab.namespaces() if ns.startswith(name)])

    def test_20_rolling_agent_restart_loses_no_packet(self):
        lab = self.lab
        pings = self.start_pings([((1, 1), (2, 1)), ((2, 2), (3, 1)), ((3, 2), (1, 2))])
        for i in self.lab_nodes():
            pid = lab.agent_pid(i)
            sent = time.monotonic()
            os.kill(pid, 15)
            wait_until(f"agent {pid} to exit", lambda: process_gone(pid), 10, interval=0.005)
            print(f"\n[e2e] {lab.node(i)}: agent exited {1000 * (time.monotonic() - sent):.0f} ms"
                  " after SIGTERM", end="")
            lab.start_agent(i)
            lab.wait_ready(i)
        # Traffic after the last restart counts too.
        for ping in pings:
            have = len(ping.replies())
            ping.wait_replies(have + 50)
        print()
        self.stop_pings(pings)

    def test_30_pods_keep_talking_while_the_api_is_down(self):
        lab = self.lab
        pings = self.start_pings([((1, 1), (3, 2)), ((2, 1), (1, 2))])
        down_at = time.monotonic()
        lab.standin("down")
        try:
            while time.monotonic() - down_at < 30:  # the outage itself, not a readiness wait
                for i in self.lab_nodes():
                    self.assertEqual(lab.gateways(i), self.peer_gateways(i))
                time.sleep(0.5)
        finally:
            lab.standin("up")
        up_at = time.monotonic()
        name = lab.node(OUTAGE_PEER)
        self.addCleanup(lab.delete_node, name)

        def create():
            lab.create_node(name, cidrs=[Lab.cidr(OUTAGE_PEER)],
                            addresses=[("InternalIP", Lab.node_ip(OUTAGE_PEER))])
            return True
        wait_until("the API to take a new Node after up", create, 30, interval=0.2)
        self.wait_route(self.lab_nodes(), Lab.cidr(OUTAGE_PEER), Lab.node_ip(OUTAGE_PEER),
                        timeout=90)
        print(f"\n[e2e] agents converged {time.monotonic() - up_at:.1f}s after the API came back")
        lab.delete_node(name)
        self.wait_route(self.lab_nodes(), Lab.cidr(OUTAGE_PEER), None)
        self.stop_pings(pings)

    def test_40_repair_route_and_bridge(self):
        lab = self.lab
        lab.ip(lab.node(2), "route", "del", Lab.cidr(1), "proto", "201")
        self.wait_route([2], Lab.cidr(1), Lab.node_ip(1))

        k, ns = 3, lab.node(3)
        lab.ip(ns, "link", "del", "cni0")
        wait_until("cni0 to come back with its gateway and up",
                   lambda: lab.addresses(ns, "cni0") == [f"10.244.{k}.1/24"]
                   and "UP" in lab.link(ns, "cni0")["flags"], 30)
        self.addCleanup(lab.sh, f"lab_pod_del {k} 3", check=False)
        lab.sh(f"lab_pod_add {k} 3")
        new_ip = lab.pod_ip(k, 3)
        self.assertIsNotNone(new_ip, "the pod added after the bridge came back has no IP")
        for other in ((1, 1), (2, 2)):
            self.assertTrue(lab.ping_once(lab.pod(k, 3), lab.pod_ip(*other)),
                            f"new pod {new_ip} cannot reach {lab.pod(*other)}")
            self.assertTrue(lab.ping_once(lab.pod(*other), new_ip),
                            f"{lab.pod(*other)} cannot reach the new pod {new_ip}")
        # Pods made before the bridge was deleted: their host veths lost their master with
        # it; the agent puts them back on the new bridge, so they talk again too.
        for j in (1, 2):
            self.assertTrue(lab.ping_once(lab.pod(k, j), lab.pod_ip(1, 1)),
                            f"{lab.pod(k, j)}, made before the bridge was deleted, cannot reach node1")
        lab.sh(f"lab_pod_del {k} 3")

    def test_90_teardown_leaves_nothing(self):
        lab = self.lab
        pods = lab.pods()
        self.assertGreaterEqual(len(pods), 2 * self.NODES)
        for i, j in pods:
            lab.sh(f"cni {i} {j} DEL")
        for i in self.lab_nodes():
            ipam = os.path.join(lab.node_dir(i), "ipam")
            held = [os.path.join(d, f) for d, _, files in os.walk(ipam) for f in files
                    if re.search(r"/(leases|attachments)(/|$)", d)]
            self.assertEqual(held, [], f"leases left on {lab.node(i)} after DEL of every pod")
            veths = [link["ifname"] for link in _json(run(
                ["ip", "-j", "-n", lab.node(i), "link", "show", "type", "veth"]).stdout)
                if link["ifname"] != "eth0"]
            self.assertEqual(veths, [], f"host veths left on {lab.node(i)}")

        with open(os.path.join(lab.api_dir, "standin.json")) as f:
            pids = [int(_json(f.read())["pid"])]
        pids += [lab.agent_pid(i) for i in self.lab_nodes()]
        p = lab.down()
        type(self)._is_down = True
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(lab.namespaces(), [])
        self.assertFalse(os.path.exists(lab.state), f"{lab.state} still exists")
        for pid in pids:
            wait_until(f"process {pid} to be gone", lambda: process_gone(pid), 10)
        left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline_has(pid, lab.state)]
        self.assertEqual(left, [], "processes of the lab still run")


class DualStackLabTest(LabTestCase):
    TAG = "d"
    NODES = 2
    DUAL = True

    def test_01_every_pod_reaches_every_other_pod_ipv4_and_ipv6(self):
        p = self.lab.status()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("ping matrix (IPv6)", p.stdout)
        print("\n" + p.stdout[p.stdout.index("ping matrix"):])
        for i in self.lab_nodes():
            self.wait_routes({i: self.peer_gateways(i, family=6)}, family=6)
            annotations = self.lab.annotations(self.lab.node(i))
            self.assertEqual(annotations.get("routelet.io/node-ips"),
                             f"{Lab.node_ip(i)},{Lab.node_ip6(i)}")
            self.assertEqual(annotations.get("routelet.io/pod-cidrs"),
                             f"{Lab.cidr(i)},{Lab.cidr6(i)}")
            for j in (1, 2):
                self.assertIsNotNone(self.lab.pod_ip(i, j, 6), f"{self.lab.pod(i, j)}: no IPv6")
        for family in (4, 6):
            self.assertEqual(self.lab.unreachable_pairs(family), [], f"IPv{family}")


def _json(text):
    return json.loads(text or "[]")


def _cmdline_has(pid, needle):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return needle.encode() in f.read()
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
