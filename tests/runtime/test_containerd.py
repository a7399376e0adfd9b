"""routelet-cni under a real container runtime (issue 12): Debian's containerd 1.6 and runc,
one private containerd per lab node (scripts/lib/runtime.sh), pods started with
`ctr run --cni` from the conflist the agent wrote, and libcni 1.1.2 itself (a small Go
driver built from Debian's golang-github-appc-cni-dev) for CHECK, GC and STATUS.

Needs root, containerd, runc, ctr, busybox-static and Go 1.19; missing any is a failure,
never a skip. Prints the runtime's own figures: container start to running, and a killed
task to the end of the DEL its runtime ran.
"""

import base64
import glob
import ipaddress
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from labkit import BUILD_DIR, LabTestCase, run, wait_until  # noqa: E402

GO = "/usr/lib/go-1.19/bin/go"
GOPATH = "/usr/share/gocode"  # Debian's Go sources: libcni 1.1.2 lives here
DRIVER_SRC = os.path.join(HERE, "libcni_driver")
DRIVER = os.path.join(BUILD_DIR, "tests", "runtime", "libcni-driver")
EXTRA_PODS = 6  # pods started and killed one by one for the DEL test and its figures


def require_runtime():
    problems = [f"{tool} not found" for tool in ("containerd", "ctr", "runc", "nsenter", "unshare")
                if shutil.which(tool) is None]
    if not os.access("/bin/busybox", os.X_OK):
        problems.append("/bin/busybox not found")
    if not os.access(GO, os.X_OK):
        problems.append(f"{GO} not found")
    if not os.path.isdir(os.path.join(GOPATH, "src/github.com/containernetworking/cni/libcni")):
        problems.append("libcni sources not found under /usr/share/gocode")
    if problems:
        raise AssertionError("runtime tests cannot run: " + "; ".join(problems) +
                             " (scripts/setup installs containerd, runc, busybox-static, "
                             "golang-1.19-go and golang-github-appc-cni-dev)")


def build_driver():
    os.makedirs(os.path.dirname(DRIVER), exist_ok=True)
    env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0",
               GOCACHE=os.path.join(BUILD_DIR, "tests", "runtime", "go-cache"))
    p = subprocess.run([GO, "build", "-o", DRIVER, "."], cwd=DRIVER_SRC, env=env,
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"building the libcni driver failed:\n{p.stdout}\n{p.stderr}")


RUNTIME_PATHS = ("/etc/cni", "/opt/cni", "/var/lib/cni", "/run/containerd", "/var/lib/containerd")


def host_paths():
    """Which of the runtime's fixed paths the machine has: the lab must not make any."""
    return {p: os.path.exists(p) for p in RUNTIME_PATHS}


def host_mounts(*needles):
    """Mount points of the machine's mount namespace that name one of needles."""
    with open("/proc/1/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if any(n in p for n in needles)]


class ContainerdTest(LabTestCase):
    TAG = "c"
    NODES = 2
    RUNTIME = "containerd"

    @classmethod
    def setUpClass(cls):
        require_runtime()
        build_driver()
        cls.paths_before = host_paths()
        super().setUpClass()

    # --- probes
    def sh(self, script, check=True, timeout=120):
        return self.lab.sh(script, check=check, timeout=timeout)

    def ctr(self, i, *args, check=True):
        return self.sh(f"rt_ctr {i} " + " ".join(shlex.quote(a) for a in args), check=check)

    def in_pod(self, i, j, *cmd, check=True):
        """Runs cmd inside pod j's container (a task exec, as `kubectl exec` would)."""
        exec_id = f"t{time.monotonic_ns()}"
        return self.ctr(i, "task", "exec", "--exec-id", exec_id, self.lab.pod(i, j), *cmd,
                        check=check)

    def cni_id(self, i, j):
        return f"routelet-{self.lab.prefix}-{self.lab.pod(i, j)}"

    def cache_file(self, i, j):
        return os.path.join(self.lab.node_dir(i), "containerd", "cni-cache", "results",
                            f"routelet-{self.cni_id(i, j)}-eth0")

    def conflist(self, i):
        return os.path.join(self.lab.node_dir(i), "net.d", "10-routelet.conflist")

    def eth0_address(self, i, j):
        out = self.in_pod(i, j, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
        fields = out.split()
        return fields[fields.index("inet") + 1]

    def leases(self, i):
        return sorted(os.listdir(os.path.join(self.lab.node_dir(i), "ipam", "routelet", "leases")))

    def host_links(self, i):
        out = run(["ip", "-n", self.lab.node(i), "-j", "link", "show"]).stdout
        return {link["ifname"] for link in json.loads(out)}

    # --- tests
    def test_01_the_conflist_is_the_agents_and_libcni_accepts_it(self):
        with open(self.conflist(1)) as f:
            conf = json.load(f)
        # libcni 1.1 reads cniVersion only and parses results up to 1.0.0.
        self.assertEqual(conf["cniVersion"], "1.0.0")
        self.assertIn("1.1.0", conf["cniVersions"])
        out = run([DRIVER, "version", "-conflist", self.conflist(1), "-bin-dir", "/nonexistent",
                   "-cache-dir", "/nonexistent"]).stdout
        self.assertEqual(json.loads(out), {"libcni11": "1.0.0"})

    def test_02_pods_run_with_an_address_of_their_nodes_podcidr(self):
        for i in self.lab_nodes():
            for j in (1, 2):
                self.assertTrue(self.sh(f"rt_task_pid {i} {j}").stdout.strip().isdigit())
                address = ipaddress.ip_interface(self.eth0_address(i, j))
                self.assertIn(address.ip, ipaddress.ip_network(self.lab.cidr(i)),
                              f"{self.lab.pod(i, j)} eth0 {address}")
                self.assertEqual(address.network.prefixlen, 24)

    def test_03_libcnis_cached_result_is_the_address_on_eth0(self):
        for i in self.lab_nodes():
            for j in (1, 2):
                with open(self.cache_file(i, j)) as f:
                    cached = json.load(f)
                self.assertEqual(cached["containerId"], self.cni_id(i, j))
                self.assertEqual(cached["result"]["cniVersion"], "1.0.0")
                conf = json.loads(base64.b64decode(cached["config"]))
                self.assertEqual(conf["cniVersion"], "1.0.0")
                addresses = [ip["address"] for ip in cached["result"]["ips"]]
                self.assertEqual(addresses, [self.eth0_address(i, j)])

    def test_04_pods_ping_each_other_their_gateway_and_the_other_node(self):
        for i in self.lab_nodes():
            gateway = str(next(ipaddress.ip_network(self.lab.cidr(i)).hosts()))
            peer = ipaddress.ip_interface(self.eth0_address(i, 2)).ip
            other = self.lab_nodes()[i % self.NODES]
            remote = ipaddress.ip_interface(self.eth0_address(other, 1)).ip
            for target in (gateway, str(peer), str(remote)):
                p = self.in_pod(i, 1, "ping", "-c", "2", "-W", "2", target, check=False)
                self.assertEqual(p.returncode, 0, f"{self.lab.pod(i, 1)} -> {target}:\n"
                                 f"{p.stdout}{p.stderr}")

    def test_05_a_killed_task_makes_the_runtime_run_del(self):
        starts, stops = [], []
        base = set(self.leases(1))
        for j in range(3, 3 + EXTRA_PODS):
            pod = self.lab.pod(1, j)
            started = time.monotonic()
            self.sh(f"rt_pod_start 1 {j}")
            starts.append(time.monotonic() - started)
            with open(self.cache_file(1, j)) as f:
                result = json.load(f)["result"]
            host_veth = result["interfaces"][1]["name"]
            address = ipaddress.ip_interface(result["ips"][0]["address"]).ip
            self.assertIn(str(address), self.leases(1))
            self.assertIn(host_veth, self.host_links(1))
            self.assertEqual(self.eth0_address(1, j), result["ips"][0]["address"])

            killed = time.monotonic()
            self.sh(f"rt_pod_stop 1 {j}")
            stops.append(time.monotonic() - killed)
            with open(os.path.join(self.lab.node_dir(1), "containerd", f"{pod}.log")) as f:
                log = f.read()
            self.assertIn(f"DEL {self.cni_id(1, j)} eth0", log,
                          "the runtime ran no DEL (routelet-cni logs each to its stderr)")
            self.assertNotIn(str(address), self.leases(1), "lease kept after DEL")
            self.assertNotIn(host_veth, self.host_links(1), "host veth kept after DEL")
            self.assertFalse(os.path.exists(self.cache_file(1, j)), "libcni cache entry kept")
            self.assertNotIn(pod, self.ctr(1, "containers", "ls", "-q").stdout.split())
        self.assertEqual(set(self.leases(1)), base)
        ms = lambda xs: f"p50 {statistics.median(xs) * 1000:.0f} ms, max {max(xs) * 1000:.0f} ms"
        print(f"\n[runtime] {EXTRA_PODS} pods: `ctr run --cni` to task running (ADD included): "
              f"{ms(starts)}; task killed to `ctr run` gone (DEL included): {ms(stops)}")

    def test_06_libcni_runs_check_gc_and_status(self):
        node = self.lab.node(1)
        bin_dir = os.path.join(self.lab.state, "bin")
        cache = os.path.join(self.lab.state, "libcni-cache")
        pods = [f"{self.lab.prefix}-lc{k}" for k in (1, 2)]
        for pod in pods:
            run(["ip", "netns", "add", pod])
            self.addCleanup(run, ["ip", "netns", "del", pod], check=False)

        def driver(verb, pod=None, *extra, check=True):
            cmd = ["ip", "netns", "exec", node, DRIVER, verb, "-conflist", self.conflist(1),
                   "-bin-dir", bin_dir, "-cache-dir", cache]
            if pod:
                cmd += ["-id", pod, "-netns", f"/var/run/netns/{pod}"]
            return run(cmd + list(extra), check=check)

        results = {}
        for pod in pods:
            results[pod] = json.loads(driver("add", pod).stdout)
            self.addCleanup(driver, "del", pod, check=False)
            self.assertEqual(results[pod]["cniVersion"], "1.0.0")

        def took(p):
            return float(p.stderr.split(" took ")[1].split()[0])

        # The figures: ADD and DEL as libcni 1.1 makes them (plugin exec included), a few
        # pods more in their own namespaces.
        adds, dels = [], []
        for k in range(EXTRA_PODS):
            pod = f"{self.lab.prefix}-lt{k}"
            run(["ip", "netns", "add", pod])
            self.addCleanup(run, ["ip", "netns", "del", pod], check=False)
            adds.append(took(driver("add", pod)))
            dels.append(took(driver("del", pod)))
        print(f"\n[runtime] libcni 1.1.2 AddNetworkList p50 {statistics.median(adds):.2f} ms, "
              f"DelNetworkList p50 {statistics.median(dels):.2f} ms ({EXTRA_PODS} pods)")
        driver("check", pods[0])
        driver("status")

        # CHECK reports what differs from what ADD made.
        run(["ip", "-n", pods[0], "route", "del", "default"])
        p = driver("check", pods[0], check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("route", p.stderr.lower())

        # GC (at 1.1.0, chosen from cniVersions as libcni 1.2 does) keeps only the valid one.
        gone = ipaddress.ip_interface(results[pods[1]]["ips"][0]["address"]).ip
        kept = ipaddress.ip_interface(results[pods[0]]["ips"][0]["address"]).ip
        gone_veth = results[pods[1]]["interfaces"][1]["name"]
        self.assertIn(str(gone), self.leases(1))
        driver("gc", None, "-valid", f"{pods[0]}/eth0")
        self.assertNotIn(str(gone), self.leases(1))
        self.assertIn(str(kept), self.leases(1))
        self.assertNotIn(gone_veth, self.host_links(1))
        driver("del", pods[0])
        self.assertNotIn(str(kept), self.leases(1))

    def test_99_teardown_leaves_nothing(self):
        mntns = {}
        for i in self.lab_nodes():
            with open(os.path.join(self.lab.node_dir(i), "containerd", "mntns")) as f:
                mntns[i] = f.read().strip()
        self.assertTrue(all(mntns.values()))
        cgroups = glob.glob(f"/sys/fs/cgroup/*/routelet-{self.lab.prefix}")
        self.assertTrue(cgroups, "runc made no cgroups: are the pods containers at all?")
        type(self).lab_down()

        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.readlink(f"/proc/{pid}/ns/mnt") in mntns.values():
                    left.append(pid)
            except OSError:
                pass
        self.assertEqual(left, [], "processes of the lab's containerd left")
        self.assertEqual(glob.glob(f"/sys/fs/cgroup/*/routelet-{self.lab.prefix}"), [])
        self.assertEqual([n for n in self.lab.namespaces() if n.startswith(self.lab.prefix)], [])
        self.assertFalse(os.path.exists(self.lab.state), "state dir left")
        self.assertEqual(host_paths(), self.paths_before)
        self.assertEqual(host_mounts(self.lab.prefix, self.lab.state, *RUNTIME_PATHS), [])


if __name__ == "__main__":
    unittest.main()
