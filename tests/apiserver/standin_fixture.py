"""Test helper: start a stand-in on a free loopback port with its own state dir.

Readiness is the READY line on stdout (no sleeps). TLS verification is on: every
request trusts only the stand-in's generated CA.
"""

import http.client
import json
import os
import select
import shutil
import ssl
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "standin")
START_TIMEOUT = 60


class StandIn:
    def __init__(self, nodes=0, node_file=None, history=None, bookmark_interval=None,
                 extra=()):
        self.state_dir = tempfile.mkdtemp(prefix="routelet-standin-")
        cmd = ["/usr/bin/python3", STANDIN, "serve", "--listen", "127.0.0.1:0",
               "--state-dir", self.state_dir, "--nodes", str(nodes), *extra]
        if node_file:
            cmd += ["--node-file", node_file]
        if history is not None:
            cmd += ["--history", str(history)]
        if bookmark_interval is not None:
            cmd += ["--bookmark-interval", str(bookmark_interval)]
        self.log = open(os.path.join(self.state_dir, "stderr.log"), "w+")
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log)
        line = self._read_ready_line()
        if not line.startswith(b"READY https://"):
            self.stop()
            raise AssertionError(f"stand-in did not start: {line!r}; stderr: {self._stderr()}")
        self.url = line.split()[1].decode()
        with open(os.path.join(self.state_dir, "standin.json")) as f:
            info = json.load(f)
        self.host, self.port = info["host"], info["port"]
        self.admin_token = self._read("admin.token")
        self.agent_token = self._read("agent.token")
        self.ca = os.path.join(self.state_dir, "ca.crt")
        self.admin_kubeconfig = os.path.join(self.state_dir, "admin.kubeconfig")
        self.agent_kubeconfig = os.path.join(self.state_dir, "agent.kubeconfig")
        self.context = ssl.create_default_context(cafile=self.ca)

    def _read_ready_line(self):
        deadline = time.monotonic() + START_TIMEOUT
        fd = self.process.stdout.fileno()
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return line
            chunk = os.read(fd, 4096)
            if not chunk:
                return line
            line += chunk
        return line

    def _read(self, name):
        with open(os.path.join(self.state_dir, name)) as f:
            return f.read().strip()

    def _stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def connection(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=timeout)

    def request(self, method, path, body=None, token="admin", content_type="application/json",
                headers=None):
        """(status, headers, parsed JSON body) of one request; token None sends none."""
        conn = self.connection()
        try:
            all_headers = dict(headers or {})
            if token is not None:
                value = {"admin": self.admin_token, "agent": self.agent_token}.get(token, token)
                all_headers["Authorization"] = f"Bearer {value}"
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                all_headers["Content-Type"] = content_type
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode()
            return response.status, dict(response.getheaders()), parsed
        finally:
            conn.close()

    def ctl(self, *args):
        result = subprocess.run(["/usr/bin/python3", STANDIN, "ctl", "--state-dir",
                                 self.state_dir, *args], capture_output=True, text=True,
                                timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"standin ctl {' '.join(args)} failed: {result.stderr}")
        return json.loads(result.stdout) if result.stdout.strip() else None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.log.close()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class WatchStream:
    """A watch response read line by line (events are newline-terminated JSON)."""

    def __init__(self, standin, path, token="admin", timeout=30):
        self.conn = standin.connection(timeout=timeout)
        value = {"admin": standin.admin_token, "agent": standin.agent_token}.get(token, token)
        self.conn.request("GET", path, headers={"Authorization": f"Bearer {value}"})
        self.response = self.conn.getresponse()

    def next_event(self):
        """The next event, or None when the server ended the stream."""
        line = self.response.readline()
        return json.loads(line) if line else None

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
