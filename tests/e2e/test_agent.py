"""End-to-end tests of the routelet agent (issue 4) on a 3-node lab: routes, bridge, CNI
config and Node status; reactions to Node changes, hand-made route changes and API faults;
SIGTERM and restart; unreachable peers; bad input; endpoints. Needs root."""

import ipaddress
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from labkit import Lab, LabTestCase, RouteWatch, process_gone, run, wait_until

# Nodes these tests add through the API use indexes past the lab's, so their names, IPs and
# podCIDRs follow the lab's scheme and never meet another test's.
JOIN, LATE, IPCHANGE_IP, UNREACHABLE, FAULT_BASE = 4, 5, "192.168.1.23", 9, 40


class AgentTest(LabTestCase):
    TAG = "a"
    NODES = 3

    # --- helpers
    def retry_kubectl(self, what, fn, timeout=60):
        """Runs an API change until it goes through (the stand-in may be failing on purpose)."""
        def attempt():
            try:
                fn()
                return True
            except AssertionError as e:
                if "AlreadyExists" in str(e) or "already exists" in str(e):
                    return True
                raise
        wait_until(what, attempt, timeout, interval=0.2)

    def log_lines(self, i, needle):
        return [line for line in self.lab.agent_log(i).splitlines() if needle in line]

    # --- the seed state
    def test_01_routes_bridge_conflist_and_node_status(self):
        lab = self.lab
        for i in self.lab_nodes():
            ns = lab.node(i)
            routes = lab.routes(i)
            self.assertEqual({dst: r.get("gateway") for dst, r in routes.items()},
                             self.peer_gateways(i), f"routelet routes on {ns}")
            for dst, r in routes.items():
                self.assertEqual(r.get("dev"), "eth0", f"{ns} route {dst}: {r}")

            gateway = f"10.244.{i}.1"
            self.assertEqual(lab.addresses(ns, "cni0"), [f"{gateway}/24"], f"cni0 on {ns}")
            bridge = lab.link(ns, "cni0")
            self.assertEqual(bridge["linkinfo"]["info_kind"], "bridge")
            self.assertIn("UP", bridge["flags"])
            # mode auto (the default) leaves room for VXLAN's 50 bytes on every pod path.
            mtu = lab.link(ns, "eth0")["mtu"] - 50

            with open(os.path.join(lab.node_dir(i), "net.d", "10-routelet.conflist")) as f:
                conf = json.load(f)
            plugin = conf["plugins"][0]
            self.assertEqual(plugin["type"], "routelet-cni")
            self.assertEqual(plugin["bridge"], "cni0")
            self.assertEqual(plugin["mtu"], mtu)
            self.assertEqual(plugin["dataDir"], os.path.join(lab.node_dir(i), "ipam"))
            self.assertEqual(plugin["ranges"], [{"subnet": Lab.cidr(i), "gateway": gateway}])
            self.assertTrue(conf["cniVersion"] and conf["name"], conf)

            # The lab ADDed its pods through routelet-cni with exactly this conflist.
            for j in (1, 2):
                pod_ip = lab.pod_ip(i, j)
                self.assertIsNotNone(pod_ip, f"{lab.pod(i, j)} has no IPv4 address")
                self.assertIn(ipaddress.ip_address(pod_ip), ipaddress.ip_network(Lab.cidr(i)))

            annotations = lab.annotations(ns)
            self.assertEqual(annotations.get("routelet.io/node-ips"), Lab.node_ip(i), annotations)
            self.assertEqual(annotations.get("routelet.io/pod-cidrs"), Lab.cidr(i))
            self.assertEqual(annotations.get("routelet.io/bridge"), "cni0")
            self.assertEqual(annotations.get("routelet.io/mtu"), str(mtu))
            self.assertEqual(annotations.get("routelet.io/state"), "ready")
            self.assertTrue(annotations.get("routelet.io/version"))
            condition = lab.condition(ns, "NetworkUnavailable")
            self.assertIsNotNone(condition, f"{ns} has no NetworkUnavailable condition")
            self.assertEqual(condition["status"], "False", condition)
            self.assertEqual(condition["reason"], "RouteletReady", condition)

        # The same, as an admin sees it.
        table = lab.kubectl("get", "nodes", "-o",
                            "custom-columns=NAME:.metadata.name,"
                            "STATE:.metadata.annotations.routelet\\.io/state").stdout
        print("\n" + table)
        for i in self.lab_nodes():
            self.assertRegex(table, rf"{lab.node(i)}\s+ready")

    def test_02_endpoints(self):
        for i in self.lab_nodes():
            self.assertEqual(self.lab.http(i, "/healthz")[0], 200)
            self.assertEqual(self.lab.http(i, "/readyz")[0], 200)
            status, body = self.lab.http(i, "/metrics")
            self.assertEqual(status, 200)
            samples = self.lab.metrics(i)
            self.assertTrue(samples, "no samples in /metrics")
            for name, _, _ in samples:
                self.assertTrue(name.startswith("routelet_"), name)
            typed = {line.split()[2] for line in body.splitlines() if line.startswith("# TYPE ")}
            for name, _, _ in samples:
                family = name
                for suffix in ("_bucket", "_sum", "_count"):
                    if name.endswith(suffix) and name[: -len(suffix)] in typed:
                        family = name[: -len(suffix)]
                self.assertIn(family, typed, f"{name} has no # TYPE line")
            self.assertEqual(self.lab.metric(i, "routelet_peers"), 2)
            self.assertEqual(self.lab.metric(i, "routelet_routes", state="programmed"), 2)
            self.assertEqual(self.lab.metric(i, "routelet_unreachable_peers"), 0)
            self.assertEqual(self.lab.metric(i, "routelet_build_info"), 1)

    # --- Node changes
    def test_10_node_joins_and_is_deleted(self):
        name = self.create_peer(JOIN)
        self.wait_route(self.lab_nodes(), Lab.cidr(JOIN), Lab.node_ip(JOIN))
        self.lab.kubectl("delete", "node", name)
        self.wait_route(self.lab_nodes(), Lab.cidr(JOIN), None)

    def test_11_pod_cidr_assigned_late(self):
        lab = self.lab
        name = lab.node(LATE)
        self.addCleanup(lab.delete_node, name)
        self.addCleanup(lab.sh, f"lab_node_remove {LATE}")
        lab.create_node(name, addresses=[("InternalIP", Lab.node_ip(LATE)), ("Hostname", name)])
        lab.sh(f"lab_node_start {LATE}")
        status = wait_until("the agent of the node without podCIDR to answer /readyz",
                            lambda: lab.http(LATE, "/readyz")[0], 30)
        self.assertEqual(status, 503)
        wait_until("a log line saying the podCIDR is missing",
                   lambda: "podCIDR" in lab.agent_log(LATE), 30)
        self.assertEqual(lab.http(LATE, "/readyz")[0], 503)
        self.assertEqual(lab.http(LATE, "/healthz")[0], 200)
        print("\n[e2e] " + self.log_lines(LATE, "podCIDR")[0])

        lab.patch_node(name, {"spec": {"podCIDR": Lab.cidr(LATE), "podCIDRs": [Lab.cidr(LATE)]}})
        wait_until("the agent to get ready after its podCIDR was set", lambda: lab.ready(LATE), 30)
        self.wait_route(self.lab_nodes(), Lab.cidr(LATE), Lab.node_ip(LATE))
        self.wait_routes({LATE: self.peer_gateways(LATE, self.lab_nodes() + [LATE])})
        self.assertEqual(lab.addresses(lab.node(LATE), "cni0"), [f"10.244.{LATE}.1/24"])

        lab.sh(f"lab_node_remove {LATE}")
        lab.delete_node(name)
        self.wait_route(self.lab_nodes(), Lab.cidr(LATE), None)

    def test_12_node_ip_change(self):
        lab, k = self.lab, 3
        ns, name = lab.node(k), lab.node(k)
        old = [("InternalIP", Lab.node_ip(k)), ("Hostname", name)]

        def set_addresses(addresses):
            lab.patch_node_status(name, {"status": {"addresses": [
                {"type": t, "address": a} for t, a in addresses]}})

        def restore():
            set_addresses(old)
            self.wait_route([1, 2], Lab.cidr(k), Lab.node_ip(k))
            lab.ip(ns, "addr", "del", f"{IPCHANGE_IP}/24", "dev", "eth0", check=False)

        lab.ip(ns, "addr", "add", f"{IPCHANGE_IP}/24", "dev", "eth0")
        self.addCleanup(restore)
        set_addresses([("InternalIP", IPCHANGE_IP), ("Hostname", name)])
        self.wait_route([1, 2], Lab.cidr(k), IPCHANGE_IP)
        wait_until("the node's annotation to show its new IP",
                   lambda: lab.annotations(name).get("routelet.io/node-ips") == IPCHANGE_IP, 30)
        self.assertEqual(lab.gateways(k), self.peer_gateways(k))

    # --- the kernel, changed by hand
    def test_13_route_deleted_by_hand_comes_back(self):
        lab, ns, dst = self.lab, self.lab.node(1), Lab.cidr(2)
        heals_before = lab.metric(1, "routelet_route_heals_total") or 0
        with tempfile.TemporaryFile(mode="w+") as out:
            monitor = subprocess.Popen(["ip", "-ts", "-n", ns, "monitor", "route"], stdout=out,
                                       stderr=subprocess.STDOUT, text=True)
            try:
                self._wait_monitor_subscribed(ns, out)
                lab.ip(ns, "route", "del", dst, "proto", "201")
                deleted = time.monotonic()
                self.wait_route([1], dst, Lab.node_ip(2), timeout=30)
                polled = time.monotonic() - deleted
            finally:
                monitor.terminate()
                monitor.wait()
            out.seek(0)
            events = [line for line in out.read().splitlines() if dst in line]
        print(f"\n[e2e] heal: route {dst} on {ns} back within {polled * 1000:.1f} ms "
              f"(polled); monitor:\n  " + "\n  ".join(events))
        stamps = [_monitor_time(line) for line in events]
        if len(stamps) >= 2 and None not in stamps[:2]:
            print(f"[e2e] heal time from ip monitor: {(stamps[1] - stamps[0]) * 1000:.1f} ms")
        wait_until("routelet_route_heals_total to count the heal",
                   lambda: (lab.metric(1, "routelet_route_heals_total") or 0) > heals_before, 10)

    def _wait_monitor_subscribed(self, ns, out):
        """ip monitor prints nothing when it starts: a marker route it prints proves it
        listens (made again until seen, since the first may come before it subscribed)."""
        self._markers = getattr(self, "_markers", 0) + 1
        marker = ["10.98.0.%d" % self._markers, "dev", "lo", "proto", "static"]

        def seen():
            run(["ip", "-n", ns, "route", "del", *marker], check=False)
            run(["ip", "-n", ns, "route", "add", *marker])
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                out.flush()
                out.seek(0)
                if f"{marker[0]} dev lo" in out.read():
                    return True
                time.sleep(0.02)
            return False
        try:
            wait_until("ip monitor to print the marker route", seen, 20)
        finally:
            run(["ip", "-n", ns, "route", "del", *marker], check=False)

    def test_14_foreign_routes_are_never_touched(self):
        lab, ns = self.lab, self.lab.node(1)
        foreign = ["10.99.0.0/24", "via", Lab.node_ip(2), "proto", "static"]
        lab.ip(ns, "route", "add", *foreign)
        self.addCleanup(lab.ip, ns, "route", "del", *foreign, check=False)
        # A foreign route takes peer 2's podCIDR (replace: one change, no gap routelet
        # could fill first).
        held = ["10.244.2.0/24", "via", Lab.node_ip(3), "proto", "static"]
        lab.ip(ns, "route", "replace", *held)
        self.addCleanup(lab.ip, ns, "route", "del", *held, check=False)
        # A routelet route removed by hand makes the agent reconcile at once.
        lab.ip(ns, "route", "del", Lab.cidr(3), "proto", "201")
        self.wait_route([1], Lab.cidr(3), Lab.node_ip(3))
        wait_until("routelet_routes{state=conflict} to be 1",
                   lambda: lab.metric(1, "routelet_routes", state="conflict") == 1, 30)
        wait_until("the Node's state to say degraded",
                   lambda: lab.annotations(ns).get("routelet.io/state", "").startswith(
                       "degraded"), 30)
        print(f"\n[e2e] {ns} state: {lab.annotations(ns).get('routelet.io/state')}")
        conflict_logs = self.log_lines(1, "10.244.2.0/24")
        self.assertTrue(conflict_logs, "no log line names the conflicting route 10.244.2.0/24")
        print("[e2e] " + conflict_logs[-1])

        routes = {r["dst"]: r for r in lab.all_routes(ns)}
        for dst, gateway in (("10.99.0.0/24", Lab.node_ip(2)), ("10.244.2.0/24", Lab.node_ip(3))):
            self.assertEqual(routes[dst].get("gateway"), gateway, routes[dst])
            self.assertEqual(routes[dst].get("protocol"), "static", routes[dst])

        # Once the foreign route goes, routelet's comes back (the next reconcile, made at
        # once here by removing another routelet route) and the state is ready again.
        lab.ip(ns, "route", "del", *held)
        lab.ip(ns, "route", "del", Lab.cidr(3), "proto", "201")
        self.wait_route([1], Lab.cidr(2), Lab.node_ip(2))
        wait_until("the state to be ready again",
                   lambda: lab.annotations(ns).get("routelet.io/state") == "ready", 30)
        routes = {r["dst"]: r for r in lab.all_routes(ns)}
        self.assertEqual(routes["10.99.0.0/24"].get("protocol"), "static")

    # --- peers the agent cannot route to
    def test_15_peer_not_on_link_goes_over_vxlan(self):
        # The lab runs mode auto (the default): a peer behind a router is reached over VXLAN,
        # and only that one (tests/e2e/test_subnets.py has the host-gw report and real
        # traffic across segments).
        lab = self.lab
        name = self.create_peer(UNREACHABLE, ip="10.55.0.9")
        vtep = Lab.cidr(UNREACHABLE).split("/")[0]
        for i in self.lab_nodes():
            ns = lab.node(i)
            want = dict(self.peer_gateways(i), **{Lab.cidr(UNREACHABLE): vtep})
            wait_until(f"{ns} to route {name} over VXLAN", lambda: lab.gateways(i) == want, 30)
            route = lab.routes(i)[Lab.cidr(UNREACHABLE)]
            self.assertEqual(route.get("dev"), "routelet.vxlan", route)
            self.assertIn("onlink", route.get("flags", []), route)
            fdb = run(["bridge", "-n", ns, "fdb", "show", "dev", "routelet.vxlan"]).stdout
            self.assertIn(f"dst 10.55.0.9 self permanent", fdb)
            neigh = run(["ip", "-n", ns, "neigh", "show", "dev", "routelet.vxlan"]).stdout
            self.assertIn(f"{vtep} lladdr", neigh)
            wait_until(f"{ns} to count one vxlan peer",
                       lambda: lab.metric(i, "routelet_peer_routes", path="vxlan") == 1, 30)
            self.assertEqual(lab.metric(i, "routelet_unreachable_peers"), 0)
            self.assertEqual(lab.annotations(ns).get("routelet.io/state"), "ready")
            self.assertEqual(lab.annotations(ns).get("routelet.io/mode"), "auto")
        lab.delete_node(name)
        for i in self.lab_nodes():
            wait_until(f"{lab.node(i)} to drop {name}'s route and entries",
                       lambda: lab.gateways(i) == self.peer_gateways(i) and "10.55.0.9" not in run(
                           ["bridge", "-n", lab.node(i), "fdb", "show", "dev", "routelet.vxlan"]
                       ).stdout, 30)

    def test_16_bad_input(self):
        lab = self.lab
        bad = {
            # name suffix: (podCIDRs, addresses, what the log line must name)
            "badcidr": (["not-a-cidr"], [("InternalIP", "192.168.1.31")], "not-a-cidr"),
            "badfamily": (["fd00:bad::/64"], [("InternalIP", "192.168.1.32")], None),
            "noaddr": (["10.244.33.0/24"], [], None),
        }
        names = {}
        for suffix, (cidrs, addresses, _) in bad.items():
            name = f"{lab.prefix}-{suffix}"
            names[suffix] = name
            self.addCleanup(lab.delete_node, name)
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                    "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs},
                    "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]}}
            lab.kubectl("create", "--validate=false", "-f", "-", input=json.dumps(node))
        huge = "x" * 65536
        target = lab.node(2)
        self.addCleanup(lab.kubectl, "annotate", "node", target, "routelet.io/e2e-huge-",
                        check=False)
        lab.kubectl("annotate", "node", target, f"routelet.io/e2e-huge={huge}")

        for i in self.lab_nodes():
            for suffix, (_, _, detail) in bad.items():
                wait_until(f"agent.log of {lab.node(i)} to name {names[suffix]}",
                           lambda: self.log_lines(i, names[suffix]), 30)
                lines = self.log_lines(i, names[suffix])
                if detail:
                    self.assertTrue([line for line in lines if detail in line],
                                    f"no line names {detail!r}: {lines}")
                if i == 1:
                    print(f"\n[e2e] {lines[-1]}", end="")
        wait_until(f"agent.log of {target} to report its oversized annotation",
                   lambda: self.log_lines(2, "e2e-huge"), 30)
        line = self.log_lines(2, "e2e-huge")[0]
        self.assertLess(len(line), 2048, "the log line carries the huge value")
        print(f"\n[e2e] {line}")
        for i in self.lab_nodes():
            self.assertEqual(lab.gateways(i), self.peer_gateways(i))
            self.assertEqual(lab.http(i, "/healthz")[0], 200)
            self.assertEqual(lab.http(i, "/readyz")[0], 200)
        # Still live: a good change after the bad ones is applied.
        self.create_peer(JOIN)
        self.wait_route(self.lab_nodes(), Lab.cidr(JOIN), Lab.node_ip(JOIN))

    # --- the API misbehaving
    def test_20_api_faults_never_flap_routes(self):
        lab = self.lab
        baseline = {i: self.peer_gateways(i) for i in self.lab_nodes()}
        faults = [["close-watches"], ["expire-history"], ["fail", "20", "--code", "500"],
                  ["fail", "10", "--code", "429"]]
        restarts_before = {i: lab.metric(i, "routelet_watch_restarts_total") or 0
                           for i in self.lab_nodes()}
        with RouteWatch(lab, self.lab_nodes(), interval=0.1) as watch:
            for n, fault in enumerate(faults):
                lab.standin(*fault)
                if fault[0] == "fail":
                    # The agents' watches are open; ending them makes the agents meet the
                    # failures as they come back.
                    lab.standin("close-watches")
                k = FAULT_BASE + n
                self.addCleanup(lab.delete_node, lab.node(k))
                self.retry_kubectl(f"create Node {k} after {fault}", lambda: self.create_peer(k))
                self.wait_route(self.lab_nodes(), Lab.cidr(k), Lab.node_ip(k), timeout=60)
                print(f"\n[e2e] after {' '.join(fault)}: a new Node's route is everywhere",
                      end="")

            down_at = time.monotonic()
            lab.standin("down")
            try:
                # The outage lasts 30 s on purpose; the agents must stay healthy meanwhile.
                while time.monotonic() - down_at < 30:
                    for i in self.lab_nodes():
                        self.assertEqual(lab.http(i, "/healthz")[0], 200)
                    time.sleep(1)
            finally:
                lab.standin("up")
            up_at = time.monotonic()
            k = FAULT_BASE + len(faults)
            self.addCleanup(lab.delete_node, lab.node(k))
            self.retry_kubectl("create a Node after the outage", lambda: self.create_peer(k))
            self.wait_route(self.lab_nodes(), Lab.cidr(k), Lab.node_ip(k), timeout=90)
            converged = time.monotonic() - up_at
            print(f"\n[e2e] API down {up_at - down_at:.1f}s; a change right after up was on "
                  f"every node {converged:.1f}s later; route polls: {watch.polls}")
            during_outage = watch.removed_between(down_at, up_at)
            flapped = [r for r in watch.removals if r[2] in baseline[r[1]]]
        self.assertEqual(watch.errors, [])
        self.assertEqual(during_outage, [], "routes removed while the API was down")
        self.assertEqual(flapped, [], "the lab's routes flapped")
        for i in self.lab_nodes():
            restarts = (lab.metric(i, "routelet_watch_restarts_total") or 0) - restarts_before[i]
            self.assertGreater(restarts, 0, f"{lab.node(i)} counted no watch restart")
        for n in range(len(faults) + 1):
            lab.delete_node(lab.node(FAULT_BASE + n))
        self.wait_routes(baseline, timeout=60, what="the test Nodes' routes to go")

    # --- the agent's own life cycle
    def test_30_sigterm_leaves_routes_and_restart_changes_nothing(self):
        lab, k = self.lab, 2
        ns = lab.node(k)
        conflist = os.path.join(lab.node_dir(k), "net.d", "10-routelet.conflist")
        before = lab.routes(k)
        conf_stat = os.stat(conflist)
        pid = lab.agent_pid(k)
        with tempfile.TemporaryFile(mode="w+") as out:
            monitor = subprocess.Popen(["ip", "-n", ns, "monitor", "route"], stdout=out,
                                       stderr=subprocess.STDOUT, text=True)
            try:
                self._wait_monitor_subscribed(ns, out)
                out.seek(0, os.SEEK_END)
                mark = out.tell()
                sent = time.monotonic()
                os.kill(pid, signal.SIGTERM)
                wait_until(f"agent {pid} to exit after SIGTERM", lambda: process_gone(pid), 10,
                           interval=0.005)
                exit_time = time.monotonic() - sent
                print(f"\n[e2e] SIGTERM: agent exited after {exit_time * 1000:.0f} ms")
                self.assertEqual(lab.routes(k), before, "routes changed when the agent stopped")
                # A clean stop, not death by the signal: every thread must have it blocked
                # so that the agent's sigwait thread takes it.
                self.assertIn("received SIGTERM", lab.agent_log(k),
                              "the agent died of SIGTERM instead of stopping cleanly")
                self.assertIsNotNone(lab.link(ns, "cni0"), "cni0 gone after SIGTERM")
                self.assertTrue(os.path.exists(conflist), "CNI config gone after SIGTERM")

                lab.start_agent(k)
                new_pid = lab.agent_pid(k)
                self.assertNotEqual(new_pid, pid)
                lab.wait_ready(k, timeout=60)
                ops = lab.metric(k, "routelet_route_operations_total") or 0
                heals = lab.metric(k, "routelet_route_heals_total") or 0
                self._wait_monitor_subscribed(ns, out)  # flushes what the kernel sent
            finally:
                monitor.terminate()
                monitor.wait()
            out.seek(mark)
            events = [line for line in out.read().splitlines() if "10.98.0." not in line]
        self.assertEqual(events, [], "route changes while the agent restarted")
        self.assertEqual(ops, 0, "the restarted agent sent route operations")
        self.assertEqual(heals, 0)
        self.assertEqual(lab.routes(k), before)
        after_stat = os.stat(conflist)
        self.assertEqual((after_stat.st_ino, after_stat.st_mtime_ns),
                         (conf_stat.st_ino, conf_stat.st_mtime_ns),
                         "the CNI config was rewritten with the same content")

    def test_90_no_token_in_any_log(self):
        tokens = self.lab.tokens()
        logs = [os.path.join(self.lab.state, d, "agent.log") for d in os.listdir(self.lab.state)]
        logs = [p for p in logs if os.path.exists(p)]
        self.assertGreaterEqual(len(logs), self.NODES)
        for path in logs:
            with open(path, errors="replace") as f:
                text = f.read()
            self.assertTrue(text, f"{path} is empty")
            for token in tokens:
                self.assertTrue(len(token) >= 16)
                self.assertNotIn(token, text, f"a token appears in {path}")


def _monitor_time(line):
    """Seconds of an `ip -ts monitor` line's [YYYY-MM-DDTHH:MM:SS.ffffff] stamp."""
    if not line.startswith("["):
        return None
    stamp = line[1:line.index("]")]
    try:
        h, m, s = stamp.split("T")[1].split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except (IndexError, ValueError):
        return None


if __name__ == "__main__":
    unittest.main()
