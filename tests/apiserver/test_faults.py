"""Faults on command, through `standin ctl` (the control endpoint with the admin token)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from standin_fixture import STANDIN, StandIn, WatchStream

from routelet_standin import patch as patchlib

WAIT_LIMIT = 20  # seconds a condition may take to show before the test fails


def connectable(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def wait_for(predicate, what):
    """Poll a condition (the server changes state asynchronously after a signal)."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = StandIn(nodes=3)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def setUp(self):
        # One stand-in for the class: every test starts listening, without faults.
        wait_for(lambda: connectable(self.s.host, self.s.port), "the stand-in to listen")
        self.assertEqual(self.s.request("POST", "/routelet-standin/reset")[0], 200)

    def watches(self):
        return self.s.request("GET", "/routelet-standin/status")[2]["watches"]

    def list_rv(self):
        return self.s.request("GET", "/api/v1/nodes")[2]["metadata"]["resourceVersion"]

    def test_control_endpoint_is_admin_only(self):
        self.assertEqual(self.s.request("POST", "/routelet-standin/close-watches",
                                        token="agent")[0], 403)
        self.assertEqual(self.s.request("POST", "/routelet-standin/close-watches",
                                        token=None)[0], 403)
        self.assertEqual(self.s.request("POST", "/routelet-standin/nope")[0], 404)
        self.assertEqual(self.s.ctl("status")["watches"], 0)

    def test_close_watches_ends_open_watches(self):
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={self.list_rv()}") as w:
            wait_for(lambda: self.watches() == 1, "the watch to register")
            self.assertEqual(self.s.ctl("close-watches")["closed"], 1)
            self.assertIsNone(w.next_event())  # the stream ended cleanly

    def test_expire_history_makes_the_next_watch_410_and_relist_recovers(self):
        old = self.list_rv()
        self.s.ctl("expire-history")
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={old}") as w:
            event = w.next_event()
        self.assertEqual((event["type"], event["object"]["code"]), ("ERROR", 410))
        fresh = self.list_rv()
        self.assertGreater(int(fresh), int(old))
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={fresh}"
                                 "&timeoutSeconds=1") as w:
            self.assertIsNone(w.next_event())  # accepted, nothing to replay

    def test_fail_next_requests_with_500(self):
        self.s.ctl("fail", "2", "--code", "500")
        codes = [self.s.request("GET", "/api/v1/nodes")[0] for _ in range(3)]
        self.assertEqual(codes, [500, 500, 200])

    def test_fail_with_429_and_retry_after(self):
        self.s.ctl("fail", "1", "--code", "429", "--retry-after", "3")
        status, headers, body = self.s.request("GET", "/api/v1/nodes/node-00001")
        self.assertEqual((status, headers.get("Retry-After"), body["reason"]),
                         (429, "3", "TooManyRequests"))
        self.assertEqual(self.s.request("GET", "/api/v1/nodes/node-00001")[0], 200)

    def test_delay_slows_responses_until_cleared(self):
        self.s.ctl("delay", "400")
        started = time.monotonic()
        self.assertEqual(self.s.request("GET", "/api/v1/nodes/node-00001")[0], 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.4)  # the injected delay
        self.s.ctl("delay", "0")
        self.assertEqual(self.s.ctl("status")["delayMs"], 0)

    def test_list_fault_repeat_continue_never_ends_a_list(self):
        self.s.ctl("list-fault", "repeat-continue")
        first = self.s.request("GET", "/api/v1/nodes?limit=2")[2]
        again = self.s.request("GET", "/api/v1/nodes?limit=2&continue=again")[2]
        self.assertEqual((first["metadata"]["continue"], again["metadata"]["continue"]),
                         ("again", "again"))
        self.assertEqual([n["metadata"]["name"] for n in again["items"]],
                         ["node-00001", "node-00002"])
        self.s.ctl("list-fault", "off")
        self.assertNotIn("continue", self.s.request("GET", "/api/v1/nodes")[2]["metadata"])

    def test_list_fault_endless_continue_gives_a_fresh_token_every_page(self):
        self.s.ctl("list-fault", "endless-continue")
        tokens = [self.s.request("GET", "/api/v1/nodes?limit=1&continue=x")[2]["metadata"]
                  ["continue"] for _ in range(3)]
        self.assertEqual(len(set(tokens)), 3, tokens)
        self.assertEqual(self.s.ctl("status")["listFault"], "endless-continue")

    def test_watch_fault_error_event_then_end(self):
        self.s.ctl("watch-fault", "error-event")
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={self.list_rv()}") as w:
            event = w.next_event()
            self.assertEqual((event["type"], event["object"]["code"]), ("ERROR", 500))
            self.assertIsNone(w.next_event())

    def test_watch_fault_bookmark_then_end(self):
        self.s.ctl("watch-fault", "bookmark-close")
        rv = self.list_rv()
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={rv}"
                                 "&allowWatchBookmarks=true") as w:
            event = w.next_event()
            self.assertEqual((event["type"], event["object"]["metadata"]["resourceVersion"]),
                             ("BOOKMARK", rv))
            self.assertIsNone(w.next_event())

    def test_watch_fault_http_500_spares_lists(self):
        self.s.ctl("watch-fault", "http-500")
        status, _, body = self.s.request("GET", f"/api/v1/nodes?watch=1&resourceVersion="
                                                f"{self.list_rv()}")
        self.assertEqual((status, body["code"]), (500, 500))
        self.assertEqual(self.s.request("GET", "/api/v1/nodes")[0], 200)
        self.s.ctl("reset")
        self.assertEqual(self.s.ctl("status")["watchFault"], "off")

    def test_restart_on_the_same_port_keeps_state(self):
        self.s.request("PATCH", "/api/v1/nodes/node-00001",
                       {"metadata": {"annotations": {"kept": "yes"}}}, content_type=patchlib.MERGE)
        rv = self.list_rv()
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={rv}") as w:
            wait_for(lambda: self.watches() == 1, "the watch to register")
            self.s.ctl("restart", "--down-ms", "300")
            self.assertIsNone(w.next_event())  # the restart cut the watch
        wait_for(lambda: connectable(self.s.host, self.s.port), "the port to listen again")
        self.assertEqual(self.list_rv(), rv)
        node = self.s.request("GET", "/api/v1/nodes/node-00001")[2]
        self.assertEqual(node["metadata"]["annotations"]["kept"], "yes")

    def test_down_and_up(self):
        self.s.ctl("down")
        wait_for(lambda: not connectable(self.s.host, self.s.port), "the listener to close")
        self.s.ctl("up")
        wait_for(lambda: connectable(self.s.host, self.s.port), "the listener to open")
        self.assertEqual(self.s.request("GET", "/api/v1/nodes")[0], 200)


class Cli(unittest.TestCase):
    def test_daemon_returns_when_ready_and_ctl_stop_ends_it(self):
        state_dir = tempfile.mkdtemp(prefix="routelet-standin-")
        try:
            result = subprocess.run(["/usr/bin/python3", STANDIN, "serve", "--daemon",
                                     "--listen", "127.0.0.1:0", "--state-dir", state_dir,
                                     "--nodes", "2"], capture_output=True, text=True,
                                    timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertTrue(result.stdout.startswith("READY https://127.0.0.1:"))
            with open(os.path.join(state_dir, "standin.json")) as f:
                info = json.load(f)
            self.assertTrue(connectable("127.0.0.1", info["port"]))  # ready means listening
            subprocess.run(["/usr/bin/python3", STANDIN, "ctl", "--state-dir", state_dir,
                            "stop"], check=True, timeout=30)
            wait_for(lambda: not os.path.exists(f"/proc/{info['pid']}") or
                     open(f"/proc/{info['pid']}/stat").read().split()[2] == "Z",
                     "the daemon to exit")
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
