"""The DaemonSet and the binary can never drift apart: this test reads the DaemonSet's
command, args, env and volume mounts, maps every host path into a temp root, and runs
the init container's install script and the real agent with exactly them, in a fresh
network namespace, against the API stand-in (which enforces the manifest's ClusterRole).

What a kubelet would provide and a test cannot:
- the in-cluster service account: the agent reads /var/run/secrets/kubernetes.io/
  serviceaccount, a fixed path it has no option to move, so the test adds --kubeconfig
  with the stand-in's agent kubeconfig (same user, same RBAC as the ServiceAccount);
- the container's mount namespace: paths inside the container (mountPath) are rewritten
  to the mapped host location, in args, env and the ConfigMap's config file alike;
- the image: /usr/local/bin/<binary> (the Dockerfile's COPY) is the build's binary;
- the node's /proc/sys/net (a hostPath): the kernel's own, which resolves it against the
  network namespace of whoever opens it, here the test's.
tests/kubernetes/test_daemonset.py runs the same manifest for real, under kubelets.
"""

import http.client
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

from manifestkit import (AGENT_BIN, CNI_BIN, DOCKERFILE, MANIFEST, ROOT, documents, find,
                         require_binaries, run)

STANDIN = os.path.join(ROOT, "tests", "apiserver", "standin")
NODE = "dsnode-1"
PEER = "dsnode-2"
NODE_IP, PEER_IP = "192.168.77.11", "192.168.77.12"
POD_CIDR, PEER_CIDR = "10.244.1.0/24", "10.244.2.0/24"
# A Node whose spec.podCIDRs lies outside the cluster's pod range (issue 23, row 6): the
# shipped ConfigMap's clusterCIDRs must keep it from being routed or exempt from masquerade.
STRAY, STRAY_IP, STRAY_CIDR = "dsnode-3", "192.168.77.13", "8.8.8.0/24"
DEADLINE = 60


def image_binaries():
    """{path in the image: built binary}, from the Dockerfile's COPY into the final stage."""
    out = {}
    with open(DOCKERFILE) as f:
        for line in f:
            words = line.split()
            if words[:2] == ["COPY", "--from=binaries"] and words[-1].endswith("/"):
                for src in words[2:-1]:
                    name = os.path.basename(src)
                    out[words[-1] + name] = {"routelet": AGENT_BIN, "routelet-cni": CNI_BIN}[name]
    return out


class Pod:
    """The DaemonSet's pod template with a temp root standing in for the node's disk."""

    def __init__(self, root):
        docs = documents()
        self.ds = find(docs, "DaemonSet")
        self.spec = self.ds["spec"]["template"]["spec"]
        self.configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
        self.root = root
        self.volumes = {v["name"]: v for v in self.spec["volumes"]}
        self.images = image_binaries()

    def container(self, name, init=False):
        for c in self.spec["initContainers" if init else "containers"]:
            if c["name"] == name:
                return c
        raise AssertionError(f"no {'init ' if init else ''}container {name}")

    def host_location(self, volume):
        v = self.volumes[volume]
        if "hostPath" in v and v["hostPath"]["path"].startswith("/proc/"):
            return v["hostPath"]["path"]
        if "hostPath" in v:
            return self.root + "/host" + v["hostPath"]["path"]
        if "configMap" in v:
            return self.root + "/configmaps/" + v["configMap"]["name"]
        raise AssertionError(f"volume {volume}: only hostPath and configMap are mapped")

    def mounts(self, container):
        """[(mountPath, host location, readOnly)], longest mountPath first."""
        out = [(m["mountPath"].rstrip("/"), self.host_location(m["name"]),
                bool(m.get("readOnly"))) for m in container.get("volumeMounts", [])]
        return sorted(out, key=lambda m: -len(m[0]))

    def mount_of(self, container, path):
        for mount_path, location, ro in self.mounts(container):
            if path == mount_path or path.startswith(mount_path + "/"):
                return mount_path, location, ro
        return None

    def map_path(self, container, path):
        """A path as the container sees it -> where it is on this machine."""
        if path in self.images:
            return self.images[path]
        m = self.mount_of(container, path)
        if m:
            return m[1] + path[len(m[0]):]
        # A directory above a mount that keeps its name (procSys /host/proc/sys above the
        # mount /host/proc/sys/net of the node's /proc/sys/net) is that location's parent.
        for mount_path, location, _ in self.mounts(container):
            rest = mount_path[len(path):]
            if mount_path.startswith(path + "/") and location.endswith(rest):
                return location[:-len(rest)]
        return None

    def map_text(self, container, text):
        """Every absolute path in text (args, env values, shell scripts) mapped."""
        def repl(match):
            mapped = self.map_path(container, match.group(0))
            return mapped if mapped else match.group(0)
        return re.sub(r"/[A-Za-z0-9_./-]+", repl, text)

    def materialise(self, container):
        """Creates every mounted directory and writes ConfigMap files, paths mapped."""
        for m in container.get("volumeMounts", []):
            v = self.volumes[m["name"]]
            location = self.host_location(m["name"])
            os.makedirs(location, exist_ok=True)
            if "configMap" in v:
                for key, text in self.configmaps[v["configMap"]["name"]]["data"].items():
                    with open(os.path.join(location, key), "w") as f:
                        f.write(self.map_text(container, text))

    def env(self, container, node_name):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # Not the container's, the test run's: how the sanitizer build reports.
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if name in os.environ:
                env[name] = os.environ[name]
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = self.map_text(container, e["value"])
            elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName":
                env[e["name"]] = node_name
            else:
                raise AssertionError(f"env {e['name']}: the test maps only values and "
                                     "spec.nodeName")
        return env

    def argv(self, container):
        return [self.map_text(container, a)
                for a in container.get("command", []) + container.get("args", [])]

    def config(self):
        """The agent's config file as the ConfigMap holds it (container paths)."""
        agent = self.container("routelet")
        path = next(e["value"] for e in agent["env"] if e["name"] == "ROUTELET_CONFIG")
        mount = self.mount_of(agent, path)
        assert mount, f"ROUTELET_CONFIG {path} is not on a mounted volume"
        name = next(m["name"] for m in agent["volumeMounts"]
                    if m["mountPath"].rstrip("/") == mount[0])
        cm = self.configmaps[self.volumes[name]["configMap"]["name"]]
        return yaml.safe_load(cm["data"][os.path.relpath(path, mount[0])])


class DaemonSetShapeTest(unittest.TestCase):
    """What the issue asks of the DaemonSet, read from the manifest."""

    def setUp(self):
        self.pod = Pod("/nonexistent")
        self.agent = self.pod.container("routelet")
        self.config = self.pod.config()

    def test_scheduling_on_every_linux_node_first(self):
        spec = self.pod.spec
        self.assertIs(spec["hostNetwork"], True)
        self.assertEqual(spec["priorityClassName"], "system-node-critical")
        self.assertEqual(spec["nodeSelector"], {"kubernetes.io/os": "linux"})
        self.assertIn({"operator": "Exists"}, spec["tolerations"])  # no key, no effect: all
        self.assertEqual(self.pod.ds["spec"]["updateStrategy"]["type"], "RollingUpdate")

    def test_service_account_is_the_one_bound_to_the_cluster_role(self):
        docs = documents()
        sa = find(docs, "ServiceAccount")
        binding = find(docs, "ClusterRoleBinding")
        self.assertEqual(self.pod.spec["serviceAccountName"], sa["metadata"]["name"])
        self.assertIn({"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                       "namespace": sa["metadata"]["namespace"]}, binding["subjects"])
        self.assertEqual(self.pod.ds["metadata"]["namespace"], sa["metadata"]["namespace"])

    def test_node_name_from_the_downward_api(self):
        env = {e["name"]: e for e in self.agent["env"]}
        self.assertEqual(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName")

    def test_every_written_path_is_a_host_path_at_the_same_place(self):
        # The conflist names the IPAM dir, and the runtime and plugin run on the host: a
        # path the agent writes must mean the same inside and outside the container.
        for key in ("cniConfDir", "runDir", "ipamDataDir"):
            mount = self.pod.mount_of(self.agent, self.config[key])
            self.assertIsNotNone(mount, f"{key} {self.config[key]} is on no volume")
            self.assertFalse(mount[2], f"{key} {self.config[key]} is mounted read-only")
        for m in self.agent["volumeMounts"]:
            v = self.pod.volumes[m["name"]]
            if "hostPath" in v and v["hostPath"]["path"] == "/proc/sys/net":
                # Beside the container's own read-only /proc/sys, where procSys says.
                self.assertEqual(m["mountPath"], self.config["procSys"] + "/net")
                self.assertFalse(m.get("readOnly", False))
            elif "hostPath" in v:
                self.assertEqual(m["mountPath"], v["hostPath"]["path"], m["name"])
        # Where container runtimes look (containerd's and CRI-O's defaults).
        self.assertEqual(self.config["cniConfDir"], "/etc/cni/net.d")
        self.assertEqual(self.config["cniBinDir"], "/opt/cni/bin")

    def test_probes_hit_the_agents_endpoints(self):
        # On loopback: with hostNetwork, the node's own addresses answer every pod.
        self.assertEqual(self.config["listen"], "127.0.0.1:9654")
        host, port = self.config["listen"].rsplit(":", 1)
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            self.assertEqual(self.agent[probe]["httpGet"],
                             {"host": host, "path": path, "port": int(port)})

    def test_resources_and_privileges_are_stated(self):
        res = self.agent["resources"]
        self.assertIn("cpu", res["requests"])
        self.assertIn("memory", res["requests"])
        self.assertIn("memory", res["limits"])
        init = self.pod.container("install-cni", init=True)
        self.assertEqual(init["securityContext"]["capabilities"]["drop"], ["ALL"])
        # The agent: not privileged, every capability dropped but NET_ADMIN, no escalation,
        # the runtime's seccomp profile.
        sc = self.agent["securityContext"]
        self.assertNotIn("privileged", sc)
        self.assertEqual(sc["capabilities"], {"drop": ["ALL"], "add": ["NET_ADMIN"]})
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["seccompProfile"], {"type": "RuntimeDefault"})
        with open(MANIFEST) as f:
            text = f.read()
        self.assertNotIn("privileged: true", text)
        # Every privilege carries its reason in a comment right above it.
        for setting in ("- NET_ADMIN", "hostNetwork: true"):
            line_start = text.rindex("\n", 0, text.index(setting))
            before = text[:line_start].splitlines()[-1].strip()
            self.assertTrue(before.startswith("#"), f"{setting} has no comment above it")


class DaemonSetRunsTheAgentTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise AssertionError("needs root: it creates a network namespace")
        require_binaries()
        self.tmp = tempfile.mkdtemp(prefix="routelet-ds-")
        self.ns = f"rlm-{os.getpid()}-{os.urandom(2).hex()}"
        self.procs = []
        run(["ip", "netns", "add", self.ns])
        self.addCleanup(self.teardown)
        # Underlay: a veth pair, both ends here; the peer's IP is on-link, held by no one.
        self.sh(f"ip link set lo up && ip link add eth0 type veth peer name eth0p && "
                f"ip link set eth0p up && ip link set eth0 up && "
                f"ip addr add {NODE_IP}/24 dev eth0")
        self.pod = Pod(self.tmp + "/root")

    def teardown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sh(self, script, check=True):
        return run(["ip", "netns", "exec", self.ns, "sh", "-c", script], check=check)

    def start_standin(self):
        nodes = [{"metadata": {"name": name},
                  "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
                  "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                           {"type": "Hostname", "address": name}]}}
                 for name, cidr, ip in ((NODE, POD_CIDR, NODE_IP), (PEER, PEER_CIDR, PEER_IP),
                                        (STRAY, STRAY_CIDR, STRAY_IP))]
        node_file = os.path.join(self.tmp, "nodes.json")
        with open(node_file, "w") as f:
            json.dump(nodes, f)
        state = os.path.join(self.tmp, "apiserver")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns, sys.executable, STANDIN, "serve",
                              "--listen", "127.0.0.1:0", "--state-dir", state,
                              "--node-file", node_file, "--rbac", MANIFEST],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        ready, _, _ = select.select([p.stdout], [], [], DEADLINE)
        line = p.stdout.readline().decode() if ready else ""
        self.assertTrue(line.startswith("READY https://"), f"stand-in did not start: {line!r}")
        return os.path.join(state, "agent.kubeconfig")

    def http_get(self, probe):
        host, port, path = probe.get("host", "127.0.0.1"), probe["port"], probe["path"]
        script = ("import http.client,sys\n"
                  f"c=http.client.HTTPConnection('{host}',{port},timeout=2)\n"
                  f"c.request('GET','{path}'); r=c.getresponse()\n"
                  "print(r.status, r.read().decode().strip())\n")
        p = run(["ip", "netns", "exec", self.ns, sys.executable, "-c", script], check=False)
        return p.stdout.strip() if p.returncode == 0 else f"no answer: {p.stderr.strip()[-200:]}"

    def wait_for(self, what, predicate):
        deadline = time.monotonic() + DEADLINE
        while True:
            last = predicate()
            if last:
                return last
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; agent log:\n{self.agent_log()}")
            time.sleep(0.1)

    def agent_log(self):
        try:
            with open(os.path.join(self.tmp, "agent.log")) as f:
                return f.read()[-4000:]
        except OSError:
            return "(none)"

    def test_init_container_installs_the_plugin_atomically_and_again_on_upgrade(self):
        init = self.pod.container("install-cni", init=True)
        self.pod.materialise(init)
        bin_dir = self.pod.host_location("cni-bin")
        for attempt in range(2):  # first install, then an upgrade over a present binary
            p = run(self.pod.argv(init), check=False)
            self.assertEqual(p.returncode, 0, f"attempt {attempt}: {p.stderr}")
            installed = os.path.join(bin_dir, "routelet-cni")
            with open(installed, "rb") as a, open(CNI_BIN, "rb") as b:
                self.assertEqual(a.read(), b.read())
            self.assertEqual(os.stat(installed).st_mode & 0o777, 0o755)
            self.assertEqual(os.listdir(bin_dir), ["routelet-cni"])  # no temp file left
        # The rename is what makes it atomic: the script must write elsewhere first.
        script = " ".join(init["command"] + init.get("args", []))
        self.assertRegex(script, r"cp \S+ (\S+)\.tmp;.*mv -f \1\.tmp ")

    def test_agent_started_exactly_as_the_daemonset_says_becomes_ready(self):
        kubeconfig = self.start_standin()
        agent = self.pod.container("routelet")
        self.pod.materialise(agent)
        config = self.pod.config()
        argv = self.pod.argv(agent) + ["--kubeconfig", kubeconfig]
        env = self.pod.env(agent, NODE)
        self.assertEqual(argv[0], AGENT_BIN)
        log = open(os.path.join(self.tmp, "agent.log"), "w")
        agent_proc = subprocess.Popen(["ip", "netns", "exec", self.ns] + argv, env=env,
                                      stdout=log, stderr=log)
        self.procs.append(agent_proc)

        ready = agent["readinessProbe"]["httpGet"]
        self.wait_for("readiness", lambda: self.http_get(ready).startswith("200"))
        self.assertTrue(self.http_get(agent["livenessProbe"]["httpGet"]).startswith("200"))

        # The conflist is where the runtime reads it: the host's /etc/cni/net.d.
        conflist = os.path.join(self.tmp, "root/host/etc/cni/net.d/10-routelet.conflist")
        self.assertTrue(os.path.exists(conflist), f"no {conflist}; log:\n{self.agent_log()}")
        with open(conflist) as f:
            plugin = json.load(f)["plugins"][0]
        run_dir = self.pod.map_path(agent, config["runDir"])
        self.assertTrue(plugin["dataDir"].startswith(run_dir), plugin)
        self.assertTrue(os.path.exists(os.path.join(run_dir, "status.json")), f"{os.listdir(run_dir)}\n{self.agent_log()}")
        routes = self.sh("ip route show proto 201").stdout
        self.assertIn(f"{PEER_CIDR} via {PEER_IP} dev eth0", routes)
        self.assertNotIn(STRAY_CIDR, routes)
        self.assertNotIn("8.8.8.0", self.sh("nft list table inet routelet").stdout)

        # /metrics has every family product.md lists.
        port = int(config["listen"].rsplit(":", 1)[1])
        metrics = run(["ip", "netns", "exec", self.ns, sys.executable, "-c",
                       f"import urllib.request; print(urllib.request.urlopen("
                       f"'http://127.0.0.1:{port}/metrics', timeout=5).read().decode())"]).stdout
        for family in ("routelet_peers", "routelet_routes", "routelet_unreachable_peers",
                       "routelet_reconcile_duration_seconds", "routelet_route_operations_total",
                       "routelet_watch_restarts_total", "routelet_api_requests_total",
                       "routelet_route_heals_total", "routelet_build_info"):
            self.assertIn(f"# TYPE {family} ", metrics)
        self.assertIn('routelet_routes{state="programmed"} 1', metrics)
        self.assertIn("routelet_refused_peers 1", metrics)
        # Nothing answers on the node IP: pods reach the node there.
        self.assertTrue(self.http_get({"host": NODE_IP, "port": port, "path": "/metrics"})
                        .startswith("no answer"))

        # The admin's command in the same pod, with the same environment.
        # (Degraded, exit 1: the stray Node's route is refused, and status says why.)
        p = run(["ip", "netns", "exec", self.ns, argv[0], "status"], env=env, check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stdout,
                         rf"{PEER}\s+4\s+{PEER_IP}\s+{re.escape(PEER_CIDR)}\s+direct\s+programmed")
        self.assertRegex(p.stdout, rf"{STRAY}\s+4\s+.*{re.escape(STRAY_CIDR)} is outside the "
                                   r"cluster CIDR 10\.244\.0\.0/16")

        # The kubelet stops the pod with SIGTERM: everything stays for the next agent.
        agent_proc.send_signal(signal.SIGTERM)
        agent_proc.wait(timeout=DEADLINE)
        self.assertTrue(os.path.exists(conflist))
        self.assertIn(f"{PEER_CIDR} via {PEER_IP}", self.sh("ip route show proto 201").stdout)


if __name__ == "__main__":
    unittest.main()
