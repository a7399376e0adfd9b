"""Pods, Namespaces and NetworkPolicies over HTTPS, as the agent's NetworkPolicy watchers and
kubectl use them: paging, resourceVersions, watches, RBAC, writes, discovery."""

import unittest
from dataclasses import dataclass

from standin_fixture import StandIn, WatchStream

from routelet_standin import patch as patchlib

AGENT_USER = "system:serviceaccount:kube-system:routelet"
PODS, POLICIES, NAMESPACES = 40, 16, 4  # synthetic ones; plus the four every cluster has


@dataclass
class Collection:
    kind: str
    everywhere: str       # the cluster-wide path the agent lists and watches
    in_namespace: str     # where one is created ("{ns}" for the namespace)
    synthetic: int        # how many the stand-in starts with

    def path(self, ns, name=""):
        return self.in_namespace.format(ns=ns) + (f"/{name}" if name else "")

    def new(self, name, ns):
        meta = {"name": name, "labels": {"made": "test"}}
        if self.kind == "Pod":
            return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                    "spec": {"containers": [{"name": "c", "image": "nginx",
                                             "ports": [{"name": "http", "containerPort": 80}]}]}}
        if self.kind == "Namespace":
            return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
                "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                         "ingress": [{"from": [{"namespaceSelector": {}}],
                                      "ports": [{"port": "http"}]}]}}


COLLECTIONS = [
    Collection("Pod", "/api/v1/pods", "/api/v1/namespaces/{ns}/pods", PODS),
    Collection("Namespace", "/api/v1/namespaces", "/api/v1/namespaces", NAMESPACES + 4),
    Collection("NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies",
               "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", POLICIES),
]


def key(obj):
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


class Kinds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = StandIn(nodes=4, bookmark_interval=0.2,
                        extra=["--pods", str(PODS), "--policies", str(POLICIES),
                               "--namespaces", str(NAMESPACES)])

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def assertStatus(self, result, code, reason):
        status, _, body = result
        self.assertEqual(status, code, body)
        self.assertEqual((body["kind"], body["code"], body["reason"]), ("Status", code, reason))
        return body

    def current_rv(self):
        return int(self.s.request("GET", "/routelet-standin/status")[2]["resourceVersion"])

    def pages(self, path, limit, token="agent"):
        """Every page of a LIST: [(items, metadata)]."""
        pages, cont = [], ""
        while True:
            status, _, body = self.s.request(
                "GET", f"{path}?limit={limit}" + (f"&continue={cont}" if cont else ""), token=token)
            self.assertEqual(status, 200, body)
            pages.append((body["items"], body["metadata"]))
            cont = body["metadata"].get("continue")
            if not cont:
                return pages

    # -- LIST

    def test_each_kind_lists_in_exact_pages_at_one_resource_version(self):
        for c in COLLECTIONS:
            with self.subTest(c.kind):
                before = self.current_rv()
                whole = self.s.request("GET", c.everywhere, token="agent")[2]["items"]
                pages = self.pages(c.everywhere, 3)
                items = [i for page, _ in pages for i in page]
                self.assertEqual(items, whole)
                self.assertEqual([key(i) for i in items], sorted({key(i) for i in items}))
                self.assertEqual([len(page) for page, _ in pages[:-1]], [3] * (len(pages) - 1))
                self.assertTrue(1 <= len(pages[-1][0]) <= 3)
                self.assertEqual({m["resourceVersion"] for _, m in pages}, {str(before)})
                self.assertEqual([m.get("remainingItemCount") for _, m in pages],
                                 [len(whole) - 3 * n for n in range(1, len(pages))] + [None])
                self.assertNotIn("kind", items[0])  # the list says what they are

    def test_the_synthetic_objects_are_there_at_start(self):
        # ns-00001 is left alone by every test here; the others write elsewhere.
        for c, expected in ((COLLECTIONS[0], PODS // NAMESPACES),
                            (COLLECTIONS[2], POLICIES // NAMESPACES)):
            with self.subTest(c.kind):
                self.assertEqual(len(self.s.request("GET", c.path("ns-00001"))[2]["items"]),
                                 expected)
        names = [i["metadata"]["name"] for i in
                 self.s.request("GET", "/api/v1/namespaces")[2]["items"]]
        self.assertTrue({"default", "kube-node-lease", "kube-public", "kube-system", "ns-00001",
                         "ns-00002", "ns-00003", "ns-00004"} <= set(names), names)
        self.assertNotIn("ns-00005", names)

    def test_a_namespace_lists_its_own_only(self):
        for c in COLLECTIONS[0], COLLECTIONS[2]:
            with self.subTest(c.kind):
                everywhere = [i for page, _ in self.pages(c.everywhere, 500) for i in page]
                here = [i for page, _ in self.pages(c.path("ns-00002"), 2, "admin")
                        for i in page]
                self.assertEqual(here, [i for i in everywhere
                                        if i["metadata"]["namespace"] == "ns-00002"])
                self.assertEqual(len(here), c.synthetic // NAMESPACES)

    def test_list_kind_and_version_of_the_group(self):
        status, _, body = self.s.request("GET", COLLECTIONS[2].everywhere + "?limit=1")
        self.assertEqual((status, body["kind"], body["apiVersion"]),
                         (200, "NetworkPolicyList", "networking.k8s.io/v1"))

    # -- WATCH

    def test_each_kind_watches_create_label_delete_then_bookmarks(self):
        for c in COLLECTIONS:
            with self.subTest(c.kind):
                start = self.current_rv()
                path = (f"{c.everywhere}?watch=1&allowWatchBookmarks=true&timeoutSeconds=30"
                        f"&resourceVersion={start}")
                name = f"watched-{c.kind.lower()}"
                with WatchStream(self.s, path, "agent") as w:
                    status, _, created = self.s.request("POST", c.path("default"),
                                                        c.new(name, "default"))
                    self.assertEqual(status, 201, created)
                    where = c.path("default", name)
                    self.s.request("PATCH", where, {"metadata": {"labels": {"w": "1"}}},
                                   content_type=patchlib.MERGE)
                    self.s.request("DELETE", where)
                    # A Pod is first marked for deletion, as for its kubelet to stop it.
                    expected = ["ADDED", "MODIFIED"] + (["MODIFIED"] if c.kind == "Pod" else
                                                        []) + ["DELETED"]
                    seen = []
                    while len(seen) < len(expected):
                        event = w.next_event()
                        if event["type"] != "BOOKMARK":
                            seen.append(event)
                    self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in seen],
                                     [(t, name) for t in expected])
                    self.assertEqual(seen[1]["object"]["metadata"]["labels"]["w"], "1")
                    if c.kind == "Pod":
                        self.assertIn("deletionTimestamp", seen[2]["object"]["metadata"])
                    self.assertEqual(seen[0]["object"]["kind"], c.kind)
                    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in seen]
                    last = start + len(expected)
                    self.assertEqual(versions, list(range(start + 1, last + 1)))
                    event = w.next_event()
                    while event["type"] != "BOOKMARK":
                        event = w.next_event()
                    self.assertEqual(event["object"]["kind"], c.kind)
                    self.assertEqual(event["object"]["metadata"]["resourceVersion"], str(last))

    def test_a_watch_sees_its_kind_only(self):
        start = self.current_rv()
        path = f"{COLLECTIONS[0].everywhere}?watch=1&timeoutSeconds=1&resourceVersion={start}"
        self.s.request("POST", "/api/v1/namespaces", COLLECTIONS[1].new("only-ns", ""))
        self.s.request("POST", COLLECTIONS[0].path("only-ns"), COLLECTIONS[0].new("p", ""))
        with WatchStream(self.s, path, "agent") as w:
            events = []
            while (event := w.next_event()) is not None:
                events.append((event["type"], key(event["object"])))
        self.assertEqual(events, [("ADDED", ("only-ns", "p"))])

    def test_each_kind_answers_a_too_old_version_with_410(self):
        for c in COLLECTIONS:
            with self.subTest(c.kind):
                with WatchStream(self.s, f"{c.everywhere}?watch=1&resourceVersion=1",
                                 "agent") as w:
                    self.assertEqual(w.response.status, 200)
                    event = w.next_event()
                    self.assertEqual((event["type"], event["object"]["code"],
                                      event["object"]["reason"]), ("ERROR", 410, "Expired"))
                    self.assertIsNone(w.next_event())

    # -- RBAC

    def test_agent_may_list_and_watch_but_not_get_create_or_delete(self):
        for c in COLLECTIONS:
            with self.subTest(c.kind):
                self.assertEqual(self.s.request("GET", c.everywhere + "?limit=1",
                                                token="agent")[0], 200)
                with WatchStream(self.s, f"{c.everywhere}?watch=1&resourceVersion=0",
                                 "agent") as w:
                    self.assertEqual(w.next_event()["type"], "ADDED")
                some = self.s.request("GET", c.everywhere + "?limit=1")[2]["items"][0]
                ns, name = key(some)
                where = c.path(ns, name)
                body = self.assertStatus(self.s.request("DELETE", where, token="agent"), 403,
                                         "Forbidden")
                group = "networking.k8s.io" if "networking" in c.everywhere else ""
                resource = c.everywhere.rsplit("/", 1)[1]
                qualified = f"{resource}.{group}" if group else resource
                self.assertEqual(body["message"],
                                 f'{qualified} "{name}" is forbidden: User "{AGENT_USER}" cannot '
                                 f'delete resource "{resource}" in API group "{group}" in the '
                                 f'namespace "{ns or name}"')
                self.assertStatus(self.s.request("GET", where, token="agent"), 403, "Forbidden")
                self.assertStatus(self.s.request("PATCH", where, {}, token="agent",
                                                 content_type=patchlib.MERGE), 403, "Forbidden")
                self.assertStatus(self.s.request("POST", c.path("default"),
                                                 c.new("agent-made", "default"), token="agent"),
                                  403, "Forbidden")
                self.assertEqual(self.s.request("GET", where)[0], 200)

    def test_agent_may_not_read_secrets(self):
        body = self.assertStatus(self.s.request("GET", "/api/v1/namespaces/kube-system/secrets/x",
                                                token="agent"), 403, "Forbidden")
        self.assertEqual(body["message"], f'secrets "x" is forbidden: User "{AGENT_USER}" cannot '
                                          'get resource "secrets" in API group "" in the '
                                          'namespace "kube-system"')
        self.assertStatus(self.s.request("GET", "/api/v1/secrets", token="agent"), 403,
                          "Forbidden")
        # The admin passes RBAC and finds nothing: the stand-in has no Secrets.
        self.assertStatus(self.s.request("GET", "/api/v1/namespaces/kube-system/secrets/x"),
                          404, "NotFound")

    # -- writes

    def test_a_pod_needs_its_namespace_and_its_status_comes_from_the_status_subresource(self):
        pods = COLLECTIONS[0]
        body = self.assertStatus(self.s.request("POST", pods.path("nowhere"),
                                                pods.new("p", "nowhere")), 404, "NotFound")
        self.assertEqual(body["message"], 'namespaces "nowhere" not found')
        status, _, created = self.s.request("POST", pods.path("default"), pods.new("ip", ""))
        self.assertEqual((status, created["status"]),
                         (201, {"phase": "Pending", "qosClass": "BestEffort"}))
        where = pods.path("default", "ip")
        status, _, out = self.s.request("PATCH", where + "/status", {"status": {
            "phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}]}},
            content_type=patchlib.STRATEGIC)
        self.assertEqual((status, out["status"]["podIP"]), (200, "10.244.1.7"))
        stale = dict(created, metadata=dict(created["metadata"], labels={"x": "1"}))
        self.assertStatus(self.s.request("PUT", where, stale), 409, "Conflict")
        self.assertEqual(self.s.request("GET", where)[2]["status"]["phase"], "Running")
        status, _, gone = self.s.request("DELETE", where)
        self.assertEqual((status, gone["kind"], gone["metadata"]["name"]), (200, "Pod", "ip"))

    def test_a_synthetic_pod_changes_and_goes_like_any_other(self):
        pods = COLLECTIONS[0]
        first, second = self.s.request("GET", pods.path("ns-00003") + "?limit=2")[2]["items"]
        where = pods.path("ns-00003", first["metadata"]["name"])
        status, _, labelled = self.s.request("PATCH", where, {"metadata": {"labels": {"l": "1"}}},
                                             content_type=patchlib.STRATEGIC)
        self.assertEqual(status, 200, labelled)
        self.assertEqual(labelled["status"]["podIP"], first["status"]["podIP"])
        self.assertGreater(int(labelled["metadata"]["resourceVersion"]),
                           int(first["metadata"]["resourceVersion"]))
        self.assertEqual(self.s.request("DELETE", pods.path("ns-00003", second["metadata"]
                                                            ["name"]))[0], 200)
        listed = self.s.request("GET", pods.path("ns-00003"))[2]["items"]
        self.assertEqual(listed[0]["metadata"]["labels"]["l"], "1")
        self.assertNotIn(key(second), [key(i) for i in listed])
        self.assertEqual(len(listed), PODS // NAMESPACES - 1)

    def test_not_found_and_delete_answers_name_the_group(self):
        policies = COLLECTIONS[2]
        body = self.assertStatus(self.s.request("GET", policies.path("default", "nope")), 404,
                                 "NotFound")
        self.assertEqual(body["message"], 'networkpolicies.networking.k8s.io "nope" not found')
        self.s.request("POST", policies.path("default"), policies.new("doomed", ""))
        status, _, body = self.s.request("DELETE", policies.path("default", "doomed"))
        self.assertEqual((status, body["kind"], body["status"]), (200, "Status", "Success"))
        self.assertEqual((body["details"]["group"], body["details"]["kind"]),
                         ("networking.k8s.io", "networkpolicies"))

    def test_paths_that_are_not_served_are_404(self):
        for path in ("/api/v1/pods/x", "/api/v1/namespaces/default/nodes",
                     "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/x/status",
                     "/api/v1/namespaces/default/pods/x/log", "/apis/networking.k8s.io/v2/x"):
            with self.subTest(path):
                self.assertStatus(self.s.request("GET", path), 404, "NotFound")

    # -- discovery

    def test_discovery_lists_the_new_resources(self):
        core = {r["name"]: r for r in self.s.request("GET", "/api/v1")[2]["resources"]}
        self.assertTrue(core["pods"]["namespaced"])
        self.assertFalse(core["namespaces"]["namespaced"])
        self.assertIn("watch", core["pods"]["verbs"])
        groups = self.s.request("GET", "/apis")[2]["groups"]
        self.assertIn("networking.k8s.io/v1",
                      [v["groupVersion"] for g in groups for v in g["versions"]])
        resources = self.s.request("GET", "/apis/networking.k8s.io/v1")[2]["resources"]
        self.assertEqual([(r["name"], r["kind"], r["namespaced"]) for r in resources],
                         [("networkpolicies", "NetworkPolicy", True)])
        self.assertEqual(self.s.request("GET", "/apis/networking.k8s.io")[2]["preferredVersion"],
                         {"groupVersion": "networking.k8s.io/v1", "version": "v1"})

    def test_aggregated_discovery_for_newer_kubectls(self):
        accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                  "application/json")
        status, headers, body = self.s.request("GET", "/apis", headers={"Accept": accept})
        self.assertEqual((status, body["kind"], body["apiVersion"]),
                         (200, "APIGroupDiscoveryList", "apidiscovery.k8s.io/v2"))
        self.assertEqual(headers["Content-Type"],
                         "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        networking = next(i for i in body["items"] if i["metadata"]["name"] == "networking.k8s.io")
        self.assertEqual([(r["resource"], r["scope"]) for r in
                          networking["versions"][0]["resources"]],
                         [("networkpolicies", "Namespaced")])
        core = self.s.request("GET", "/api", headers={"Accept": accept})[2]
        resources = {r["resource"]: r for r in core["items"][0]["versions"][0]["resources"]}
        self.assertEqual(resources["pods"]["subresources"][0]["subresource"], "status")
        self.assertEqual(resources["namespaces"]["scope"], "Cluster")
        legacy = self.s.request("GET", "/api")[2]  # no aggregated Accept: the old document
        self.assertEqual(legacy["kind"], "APIVersions")


if __name__ == "__main__":
    unittest.main()
