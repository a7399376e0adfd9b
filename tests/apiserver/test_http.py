"""The stand-in over HTTPS, as a client sees it (TLS verified against its generated CA)."""

import json
import socket
import ssl
import tempfile
import unittest

from standin_fixture import StandIn, WatchStream

from routelet_standin import patch as patchlib

AGENT_USER = "system:serviceaccount:kube-system:routelet"


def lab_node(name, cidr="10.244.1.0/24"):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.1.11"}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node_file = tempfile.NamedTemporaryFile("w", suffix=".json")
        json.dump([lab_node("lab-1"), {"metadata": {"name": "no-cidr"},
                                       "spec": {"podCIDR": None, "podCIDRs": None}}],
                  cls.node_file)
        cls.node_file.flush()
        cls.s = StandIn(nodes=12, bookmark_interval=0.2, node_file=cls.node_file.name)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.node_file.close()

    def test_node_file_nodes_exist_at_start(self):
        lab = self.s.request("GET", "/api/v1/nodes/lab-1")[2]
        self.assertEqual(lab["spec"]["podCIDRs"], ["10.244.1.0/24"])
        self.assertEqual(lab["status"]["addresses"][0]["address"], "192.168.1.11")
        bare = self.s.request("GET", "/api/v1/nodes/no-cidr")[2]
        self.assertNotIn("podCIDR", bare["spec"])
        self.assertIn("nodeInfo", bare["status"])

    def test_list_shows_the_latest_version_after_a_write(self):
        path = "/api/v1/nodes?fieldSelector=metadata.name%3Dnode-00004"
        before = self.s.request("GET", path)[2]["items"][0]
        self.s.request("PATCH", "/api/v1/nodes/node-00004",
                       {"metadata": {"labels": {"fresh": "1"}}}, content_type=patchlib.MERGE)
        after = self.s.request("GET", path)[2]["items"][0]
        self.assertNotIn("fresh", before["metadata"]["labels"])
        self.assertEqual(after["metadata"]["labels"]["fresh"], "1")
        self.assertGreater(int(after["metadata"]["resourceVersion"]),
                           int(before["metadata"]["resourceVersion"]))

    def assertStatus(self, result, code, reason):
        status, _, body = result
        self.assertEqual(status, code, body)
        self.assertEqual((body["kind"], body["code"], body["reason"]), ("Status", code, reason))
        return body

    # -- TLS, discovery, auth

    def test_tls_is_verified_against_the_generated_ca(self):
        untrusting = ssl.create_default_context()  # system CAs only
        with socket.create_connection((self.s.host, self.s.port)) as raw:
            with self.assertRaises(ssl.SSLCertVerificationError):
                untrusting.wrap_socket(raw, server_hostname=self.s.host)
        # The IP SAN matches the address: hostname checking stays on.
        self.assertEqual(self.s.request("GET", "/version")[0], 200)

    def test_discovery(self):
        status, _, version = self.s.request("GET", "/version", token=None)
        self.assertEqual((status, version["major"], version["minor"]), (200, "1", "31"))
        self.assertTrue(version["gitVersion"].startswith("v1.31."))
        self.assertEqual(self.s.request("GET", "/api")[2]["versions"], ["v1"])
        self.assertEqual(self.s.request("GET", "/apis")[2]["kind"], "APIGroupList")
        resources = {r["name"]: r for r in self.s.request("GET", "/api/v1")[2]["resources"]}
        self.assertEqual(set(resources), {"nodes", "nodes/status", "namespaces",
                                          "namespaces/status", "pods", "pods/status",
                                          "serviceaccounts", "configmaps"})
        self.assertFalse(resources["nodes"]["namespaced"])
        self.assertTrue({"get", "list", "watch", "patch", "update", "create", "delete"}
                        <= set(resources["nodes"]["verbs"]))
        self.assertEqual(set(resources["nodes/status"]["verbs"]), {"get", "patch", "update"})

    def test_openapi_is_a_graceful_404(self):
        self.assertStatus(self.s.request("GET", "/openapi/v2"), 404, "NotFound")

    def test_bad_token_is_401_and_no_token_is_anonymous_403(self):
        # As kube-apiserver with its default --anonymous-auth=true (test_real_api): a request
        # without credentials is system:anonymous, whom RBAC denies all but /version & co.
        body = self.assertStatus(self.s.request("GET", "/api/v1/nodes", token=None), 403,
                                 "Forbidden")
        self.assertIn('User "system:anonymous" cannot list resource "nodes"', body["message"])
        self.assertStatus(self.s.request("GET", "/api", token=None), 403, "Forbidden")
        self.assertStatus(self.s.request("GET", "/api/v1/nodes", token="wrong"), 401,
                          "Unauthorized")

    def test_agent_gets_its_role_and_nothing_more(self):
        self.assertEqual(self.s.request("GET", "/api/v1/nodes?limit=2", token="agent")[0], 200)
        self.assertEqual(self.s.request("GET", "/api/v1/nodes/node-00001", token="agent")[0], 200)
        with WatchStream(self.s, "/api/v1/nodes?watch=1&resourceVersion=0", "agent") as w:
            self.assertEqual(w.next_event()["type"], "ADDED")
        status, _, body = self.s.request("PATCH", "/api/v1/nodes/node-00002/status",
                                         {"metadata": {"annotations": {"routelet.io/s": "ok"}}},
                                         token="agent", content_type=patchlib.MERGE)
        self.assertEqual(status, 200, body)
        body = self.assertStatus(self.s.request("DELETE", "/api/v1/nodes/node-00002",
                                                token="agent"), 403, "Forbidden")
        self.assertEqual(body["message"], f'nodes "node-00002" is forbidden: User "{AGENT_USER}" '
                         'cannot delete resource "nodes" in API group "" at the cluster scope')
        self.assertEqual(body["details"], {"name": "node-00002", "kind": "nodes"})
        body = self.assertStatus(self.s.request("PATCH", "/api/v1/nodes/node-00002", {},
                                                token="agent", content_type=patchlib.MERGE),
                                 403, "Forbidden")
        self.assertIn('cannot patch resource "nodes"', body["message"])
        body = self.assertStatus(self.s.request("GET", "/api/v1/nodes/node-00002/status",
                                                token="agent"), 403, "Forbidden")
        self.assertIn('cannot get resource "nodes/status"', body["message"])
        self.assertStatus(self.s.request("POST", "/api/v1/nodes", lab_node("agent-made"),
                                         token="agent"), 403, "Forbidden")
        self.assertStatus(self.s.request("PUT", "/api/v1/nodes/node-00002/status",
                                         lab_node("node-00002"), token="agent"), 403, "Forbidden")

    def test_unknown_node_and_path_are_404(self):
        body = self.assertStatus(self.s.request("GET", "/api/v1/nodes/nope"), 404, "NotFound")
        self.assertEqual(body["message"], 'nodes "nope" not found')
        self.assertStatus(self.s.request("GET", "/api/v1/secrets"), 404, "NotFound")

    # -- LIST

    def test_list_pages_with_limit_and_continue(self):
        names, token, versions = [], "", set()
        while True:
            path = "/api/v1/nodes?limit=5" + (f"&continue={token}" if token else "")
            status, _, body = self.s.request("GET", path)
            self.assertEqual((status, body["kind"]), (200, "NodeList"))
            names += [i["metadata"]["name"] for i in body["items"]]
            versions.add(body["metadata"]["resourceVersion"])
            token = body["metadata"].get("continue")
            if not token:
                break
        self.assertEqual(len(versions), 1)
        self.assertEqual(names, sorted(set(names)))
        self.assertGreaterEqual(len(names), 12)

    def test_list_as_table_for_kubectl(self):
        status, _, body = self.s.request(
            "GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dnode-00003",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
        self.assertEqual((status, body["kind"]), (200, "Table"))
        self.assertEqual([c["name"] for c in body["columnDefinitions"]][:5],
                         ["Name", "Status", "Roles", "Age", "Version"])
        self.assertEqual(body["rows"][0]["cells"][:2], ["node-00003", "Ready"])

    # -- writes

    def test_post_creates_then_409_when_it_exists(self):
        status, _, created = self.s.request("POST", "/api/v1/nodes", lab_node("posted"))
        self.assertEqual(status, 201, created)
        self.assertTrue(created["metadata"]["uid"])
        self.assertEqual(self.s.request("GET", "/api/v1/nodes/posted")[2]["spec"]["podCIDR"],
                         "10.244.1.0/24")
        self.assertStatus(self.s.request("POST", "/api/v1/nodes", lab_node("posted")), 409,
                          "AlreadyExists")

    def test_put_with_stale_resource_version_is_409(self):
        self.s.request("POST", "/api/v1/nodes", lab_node("put-me"))
        _, _, current = self.s.request("GET", "/api/v1/nodes/put-me")
        current["metadata"]["labels"] = {"a": "1"}
        status, _, updated = self.s.request("PUT", "/api/v1/nodes/put-me", current)
        self.assertEqual(status, 200, updated)
        self.assertGreater(int(updated["metadata"]["resourceVersion"]),
                           int(current["metadata"]["resourceVersion"]))
        current["metadata"]["labels"] = {"a": "2"}  # still the old resourceVersion
        body = self.assertStatus(self.s.request("PUT", "/api/v1/nodes/put-me", current), 409,
                                 "Conflict")
        self.assertIn('Operation cannot be fulfilled on nodes "put-me"', body["message"])

    def test_patch_types_on_node_and_status(self):
        self.s.request("POST", "/api/v1/nodes", lab_node("patch-me"))
        path = "/api/v1/nodes/patch-me"
        status, _, out = self.s.request("PATCH", path, {"metadata": {"labels": {"m": "1"}}},
                                        content_type=patchlib.MERGE)
        self.assertEqual((status, out["metadata"]["labels"]), (200, {"m": "1"}))
        status, _, out = self.s.request(
            "PATCH", path + "/status",
            {"metadata": {"annotations": {"routelet.io/state": "ready"}},
             "spec": {"podCIDR": "10.99.0.0/24"},
             "status": {"conditions": [{"type": "NetworkUnavailable", "status": "False",
                                        "reason": "RouteletReady"}]}},
            content_type=patchlib.STRATEGIC)
        self.assertEqual(status, 200, out)
        # Merged by type; the new condition goes first, as kube-apiserver puts it.
        self.assertEqual([c["type"] for c in out["status"]["conditions"]],
                         ["NetworkUnavailable", "Ready"])
        self.assertEqual(out["metadata"]["annotations"], {"routelet.io/state": "ready"})
        self.assertEqual(out["spec"]["podCIDR"], "10.244.1.0/24")  # /status ignores spec
        status, _, out = self.s.request(
            "PATCH", path, [{"op": "add", "path": "/spec/unschedulable", "value": True}],
            content_type=patchlib.JSON_PATCH)
        self.assertEqual((status, out["spec"]["unschedulable"]), (200, True))
        self.assertStatus(self.s.request("PATCH", path, {}, content_type="text/plain"), 415,
                          "UnsupportedMediaType")
        self.assertStatus(self.s.request("PATCH", path, b"{not json",
                                         content_type=patchlib.STRATEGIC), 400, "BadRequest")
        # v1.20 answers a merge patch that is not JSON with a bare 500 (test_real_api).
        status, _, body = self.s.request("PATCH", path, b"{not json", content_type=patchlib.MERGE)
        self.assertEqual((status, body["code"], body["message"], "reason" in body),
                         (500, 500, "Invalid JSON Patch", False))

    def test_delete_then_404(self):
        self.s.request("POST", "/api/v1/nodes", lab_node("delete-me"))
        status, _, body = self.s.request("DELETE", "/api/v1/nodes/delete-me",
                                         {"kind": "DeleteOptions", "apiVersion": "v1"})
        self.assertEqual((status, body["status"]), (200, "Success"))
        self.assertStatus(self.s.request("GET", "/api/v1/nodes/delete-me"), 404, "NotFound")

    # -- WATCH

    def list_rv(self):
        return self.s.request("GET", "/api/v1/nodes?limit=1")[2]["metadata"]["resourceVersion"]

    def test_watch_replays_then_streams_live_events(self):
        start = self.list_rv()
        self.s.request("POST", "/api/v1/nodes", lab_node("watched"))
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={start}") as w:
            self.assertEqual(w.response.getheader("Transfer-Encoding"), "chunked")
            event = w.next_event()
            self.assertEqual((event["type"], event["object"]["metadata"]["name"]),
                             ("ADDED", "watched"))
            self.s.request("PATCH", "/api/v1/nodes/watched", {"metadata": {"labels": {"w": "1"}}},
                           content_type=patchlib.MERGE)
            event = w.next_event()
            self.assertEqual((event["type"], event["object"]["metadata"]["labels"]),
                             ("MODIFIED", {"w": "1"}))
            self.s.request("DELETE", "/api/v1/nodes/watched")
            self.assertEqual(w.next_event()["type"], "DELETED")

    def test_watch_sends_bookmarks_when_allowed(self):
        start = self.list_rv()
        path = f"/api/v1/nodes?watch=1&resourceVersion={start}&allowWatchBookmarks=true"
        with WatchStream(self.s, path) as w:
            event = w.next_event()
            while event["type"] != "BOOKMARK":
                event = w.next_event()
            self.assertGreaterEqual(int(event["object"]["metadata"]["resourceVersion"]), int(start))
            self.assertEqual(event["object"]["kind"], "Node")

    def test_watch_ends_at_timeout_seconds(self):
        start = self.list_rv()
        with WatchStream(self.s, f"/api/v1/nodes?watch=1&resourceVersion={start}"
                                 "&timeoutSeconds=1") as w:
            event = w.next_event()
            while event is not None:
                self.assertNotEqual(event["type"], "BOOKMARK")  # not asked for
                event = w.next_event()
        self.assertEqual(self.s.request("GET", "/version")[0], 200)

    def test_watch_too_old_is_410_error_event(self):
        with WatchStream(self.s, "/api/v1/nodes?watch=1&resourceVersion=1") as w:
            self.assertEqual(w.response.status, 200)
            event = w.next_event()
            self.assertEqual(event["type"], "ERROR")
            self.assertEqual((event["object"]["kind"], event["object"]["code"],
                              event["object"]["reason"]), ("Status", 410, "Expired"))
            self.assertIsNone(w.next_event())

    def test_each_watch_event_is_its_own_chunk(self):
        start = self.list_rv()
        for name in ("chunk-a", "chunk-b"):
            self.s.request("POST", "/api/v1/nodes", lab_node(name))
        raw = self.s.context.wrap_socket(socket.create_connection((self.s.host, self.s.port)),
                                         server_hostname=self.s.host)
        raw.settimeout(30)
        request = (f"GET /api/v1/nodes?watch=1&resourceVersion={start}&timeoutSeconds=1 "
                   f"HTTP/1.1\r\nHost: {self.s.host}\r\nAuthorization: Bearer "
                   f"{self.s.admin_token}\r\n\r\n")
        raw.sendall(request.encode())
        reader = raw.makefile("rb")
        while reader.readline() not in (b"\r\n", b""):
            pass  # headers
        chunks = []
        while True:
            size = int(reader.readline().strip(), 16)
            data = reader.read(size)
            reader.readline()
            if size == 0:
                break
            chunks.append(data)
        raw.close()
        self.assertGreaterEqual(len(chunks), 2)
        for chunk in chunks:
            self.assertTrue(chunk.endswith(b"\n") and chunk.count(b"\n") == 1, chunk[:80])
            json.loads(chunk)
        self.s.request("DELETE", "/api/v1/nodes/chunk-a")
        self.s.request("DELETE", "/api/v1/nodes/chunk-b")


if __name__ == "__main__":
    unittest.main()
