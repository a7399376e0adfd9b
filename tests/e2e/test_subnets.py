"""End-to-end tests of a lab whose nodes sit on two underlay segments (issue 15, scripts/lab
--subnets): the topology (a router between the segments with no route to any pod range, so
nodes on different segments are not on-link to each other), every pod reaching every other
pod across direct and encapsulated paths (routelet --mode auto), a node moved to the other
segment and back while a pod on another node pings a pod on it (scripts/lab move; the gap is
measured and printed, never asserted), and an agent with ROUTELET_MODE=host-gw reporting a
peer on the other segment as not on-link. One dual-stack lab of 4 nodes: node1 and node3 on
segment 0 (192.168.1.0/24), node2 and node4 on segment 1 (192.168.2.0/24). test_11 and
test_20 need the agent's auto mode; with an agent that has none they fail (peers on the other
segment are not-on-link), the others pass. Needs root."""

import ipaddress
import json
import os
import signal
import time
import unittest

from labkit import Lab, LabTestCase, Ping, process_gone, wait_until

SUBNETS = 2
INTERVAL = 0.05  # the moved node's ping: 20 packets a second


def segment_of(i):
    """Where scripts/lab puts node i: segment (i-1) % K."""
    return (i - 1) % SUBNETS


def node_ip(i, segment, family=4):
    if family == 4:
        return f"192.168.{1 + segment}.{10 + i}"
    return f"fd00:192:168:{1 + segment}::{10 + i}"


def router_ip(segment, family=4):
    return f"192.168.{1 + segment}.1" if family == 4 else f"fd00:192:168:{1 + segment}::1"


def longest_run(missing):
    """Length of the longest run of consecutive sequence numbers in missing (sorted)."""
    best = run = 0
    prev = None
    for seq in missing:
        run = run + 1 if prev is not None and seq == prev + 1 else 1
        best = max(best, run)
        prev = seq
    return best


class SubnetsLabTest(LabTestCase):
    TAG = "n"
    NODES = 4
    DUAL = True
    UP_MUST_PASS = True  # every ping and Service cell, across direct and VXLAN paths

    @classmethod
    def setUpClass(cls):
        # LabTestCase.setUpClass with --subnets: the lab is made with its segments.
        cls.lab = Lab(cls.TAG, cls.NODES, cls.DUAL, cls.RUNTIME)
        cls._is_down = False
        cls.addClassCleanup(cls.lab_down)
        # Until the agents reach peers off their subnet, every such cell of the ping and
        # Services matrices fails after its own timeout: minutes, beyond Lab.up's limit.
        started = time.monotonic()
        cls.first_up = cls.lab.lab("up", "--cluster", "standin", "--nodes", str(cls.NODES), "--runtime", cls.RUNTIME,
                                   "--subnets", str(SUBNETS), "--dual-stack",
                                   check=cls.UP_MUST_PASS, timeout=720)
        print(f"\n[e2e] lab {cls.lab.prefix} up ({cls.NODES} nodes, dual-stack, --subnets "
              f"{SUBNETS}) in {time.monotonic() - started:.1f}s, exit {cls.first_up.returncode}")

    def setUp(self):
        # LabTestCase.setUp waits for host-gw routes to every peer on one segment; here peers
        # on the other segment are reached otherwise, so each test checks what it needs.
        self._failures_before = self._failure_count()

    # --- helpers
    def route_get(self, i, dst, family=4):
        p = self.lab.ip(self.lab.node(i), "-j", f"-{family}", "route", "get", dst)
        return json.loads(p.stdout)[0]

    def status_json(self, i):
        with open(os.path.join(self.lab.node_dir(i), "run", "status.json")) as f:
            return json.load(f)

    def node_internal_ips(self, i):
        node = self.lab.get_node(self.lab.node(i)) or {}
        return [a["address"] for a in node.get("status", {}).get("addresses", [])
                if a.get("type") == "InternalIP"]

    def move(self, i, segment):
        p = self.lab.lab("move", "--node", str(i), "--segment", str(segment))
        print(f"\n[e2e] {p.stdout.strip()}")
        # What scripts/lab move promises: the link, the addresses, the default routes and
        # the Node's InternalIPs, all on the new segment.
        ns = self.lab.node(i)
        self.assertEqual(self.lab.link(self.lab.underlay, f"n{i}").get("master"), f"br{segment}")
        self.assertEqual(self.lab.addresses(ns, "eth0"), [f"{node_ip(i, segment)}/24"])
        self.assertEqual(self.lab.addresses(ns, "eth0", 6), [f"{node_ip(i, segment, 6)}/64"])
        for family in (4, 6):
            default = [r for r in self.lab.all_routes(ns, family) if r["dst"] == "default"]
            self.assertEqual([r.get("gateway") for r in default], [router_ip(segment, family)])
        self.assertEqual(self.node_internal_ips(i), [node_ip(i, segment), node_ip(i, segment, 6)])

    # --- tests
    def test_10_topology(self):
        lab = self.lab
        with open(os.path.join(lab.state, "lab.conf")) as f:
            self.assertEqual(f.read().split()[7], str(SUBNETS), "lab.conf records --subnets")
        out = self.first_up.stdout
        for k in range(SUBNETS):
            members = " ".join(lab.node(i) for i in self.lab_nodes() if segment_of(i) == k)
            self.assertRegex(out, rf"segment {k}  br{k}  192\.168\.{1 + k}\.0/24 \S+ +{members}\n")
        self.assertIn("via router", out)

        # The router: forwards, knows the node subnets, has no route to any pod range.
        self.assertEqual(lab.ns(lab.underlay, "sysctl", "-n", "net.ipv4.ip_forward").stdout.strip(), "1")
        self.assertEqual(lab.ns(lab.underlay, "sysctl", "-n", "net.ipv6.conf.all.forwarding").stdout.strip(), "1")
        pods = [ipaddress.ip_network("10.244.0.0/16"), ipaddress.ip_network("fd00:10:244::/48")]
        for family in (4, 6):
            for r in lab.all_routes(lab.underlay, family):
                self.assertNotEqual(r["dst"], "default", "the router has a default route")
                if r["dst"].startswith(("fe80", "ff00", "multicast")):
                    continue
                net = ipaddress.ip_network(r["dst"], strict=False)
                self.assertFalse(any(net.overlaps(p) for p in pods if p.version == net.version),
                                 f"the router has a route to a pod range: {r}")

        for i in self.lab_nodes():
            k = segment_of(i)
            self.assertEqual(self.node_internal_ips(i), [node_ip(i, k), node_ip(i, k, 6)])
            for family in (4, 6):
                self.assertEqual(lab.addresses(lab.node(i), "eth0", family),
                                 [f"{node_ip(i, k, family)}/{24 if family == 4 else 64}"])
            for peer in self.lab_nodes():
                if peer == i:
                    continue
                for family in (4, 6):
                    dst = node_ip(peer, segment_of(peer), family)
                    route = self.route_get(i, dst, family)
                    if segment_of(peer) == k:
                        self.assertNotIn("gateway", route, f"{lab.node(i)} -> {dst} on-link")
                    else:
                        self.assertEqual(route.get("gateway"), router_ip(k, family),
                                         f"{lab.node(i)} -> {dst} must go via the router")
                    # Nodes reach each other across the router (the underlay encapsulation
                    # runs over).
                    self.assertTrue(lab.ping_once(lab.node(i), dst, family),
                                    f"{lab.node(i)} cannot reach node {dst}")

    def test_11_every_pod_reaches_every_other_pod(self):
        """Needs the agent's auto mode (VXLAN to peers off-link): fails with an agent that
        reports them not-on-link."""
        print("\n" + self.first_up.stdout[self.first_up.stdout.find("ping matrix"):])
        for family in (4, 6):
            self.assertEqual(self.lab.unreachable_pairs(family), [], f"IPv{family}")
        # Each agent says how it reaches each peer: directly on its segment, over VXLAN
        # across the router; and the kernel agrees.
        for i in self.lab_nodes():
            ns = self.lab.node(i)
            status = self.status_json(i)
            self.assertEqual(status["vxlan"]["mode"], "auto")
            for p in status["peers"]:
                k = int(p["node"].rsplit("node", 1)[1])
                want = "direct" if segment_of(k) == segment_of(i) else "vxlan"
                self.assertEqual((p["state"], p.get("path")), ("programmed", want), p)
            for k in self.lab_nodes():
                if k == i:
                    continue
                route = self.lab.routes(i)[f"10.244.{k}.0/24"]
                if segment_of(k) == segment_of(i):
                    self.assertEqual(route.get("gateway"), node_ip(k, segment_of(k)), route)
                else:
                    self.assertEqual((route.get("gateway"), route.get("dev")),
                                     (f"10.244.{k}.0", "routelet.vxlan"), route)
            annotations = self.lab.annotations(ns)
            self.assertEqual(annotations.get("routelet.io/mode"), "auto")
            self.assertEqual(annotations.get("routelet.io/mtu"),
                             str(self.lab.link(ns, "eth0")["mtu"] - 70), "dual-stack: 70 bytes")

    def test_20_move_a_node_and_back_under_ping(self):
        lab = self.lab
        moved, src, dst = 3, (1, 1), (3, 1)  # node3 starts on node1's segment
        self.assertEqual(segment_of(moved), segment_of(src[0]))
        self.addCleanup(lab.lab, "move", "--node", str(moved), "--segment",
                        str(segment_of(moved)), check=False)
        ping = Ping(lab, lab.pod(*src), lab.pod_ip(*dst), interval=str(INTERVAL))
        self.addCleanup(ping.stop)
        ping.wait_replies(5, timeout=30)
        ping.mark()
        gaps = []
        for segment in (1, 0):
            before = max(ping.replies())
            self.move(moved, segment)
            # Replies keep coming while `move` starts up, before the link moves: the newest
            # one once it returned may still be from before the cut. Connectivity resumes
            # when replies go on beyond it (a cut path answers nothing after the cut).
            moved_at = max(ping.replies())
            try:
                wait_until(f"ping {ping.desc} to answer after {lab.node(moved)} moved to "
                           f"segment {segment}",
                           lambda: max(ping.replies()) > moved_at + 5, 30)
            except AssertionError:
                self.fail(f"ping {ping.desc} does not resume after the move to segment "
                          f"{segment}\n{lab.log_tails()}")
            replies = ping.replies()
            missing = [s for s in range(before + 1, max(replies)) if s not in replies]
            gap = longest_run(missing) * INTERVAL
            gaps.append(gap)
            print(f"[e2e] {lab.node(moved)} to segment {segment} "
                  f"({'same segment as' if segment == segment_of(src[0]) else 'via router from'} "
                  f"{lab.node(src[0])}): ping {ping.desc} lost {len(missing)} replies, "
                  f"longest gap {gap:.2f}s")
        ping.wait_replies(len(ping.replies()) + 20)
        replies, lost = ping.stop()
        print(f"[e2e] ping {ping.desc}: {replies} replies, lost {len(lost)}; longest gap per "
              f"move: {', '.join(f'{g:.2f}s' for g in gaps)} (interval {INTERVAL}s)")

    def test_30_host_gw_reports_the_other_segment_not_on_link(self):
        lab = self.lab
        i = 1
        pid = lab.agent_pid(i)
        os.kill(pid, signal.SIGTERM)
        wait_until(f"agent {pid} to exit", lambda: process_gone(pid), 10)
        lab.sh(f"ROUTELET_MODE=host-gw start_agent {i}")
        lab.wait_ready(i, timeout=60)
        others = [k for k in self.lab_nodes() if k != i and segment_of(k) != segment_of(i)]
        same = [k for k in self.lab_nodes() if k != i and segment_of(k) == segment_of(i)]
        want = {(lab.node(k), f): "not-on-link" for k in others for f in ("4", "6")}
        want.update({(lab.node(k), f): "programmed" for k in same for f in ("4", "6")})

        def states():
            peers = self.status_json(i)["peers"]
            have = {(p["node"], p["family"]): p["state"] for p in peers}
            return have if have == want else None
        try:
            wait_until("status.json of the host-gw agent", states, 30)
        except AssertionError:
            self.fail(f"want peer states {want}, have {self.status_json(i).get('peers')}")
        self.assertIn("not on-link", lab.annotations(lab.node(i)).get("routelet.io/state", ""))
        for k in others:
            self.assertNotIn(f"10.244.{k}.0/24", lab.routes(i))
            self.assertNotIn(f"fd00:10:244:{k}::/64", lab.routes(i, 6))
        # host-gw encapsulates nothing: the devices of the earlier auto run are gone.
        for dev in ("routelet.vxlan", "routelet.vxlan6"):
            self.assertNotEqual(lab.ns(lab.node(i), "ip", "link", "show", dev, check=False)
                                .returncode, 0, f"{dev} left on {lab.node(i)}")


if __name__ == "__main__":
    unittest.main()
