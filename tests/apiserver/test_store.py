"""The stand-in's semantics without HTTP: store, patches, RBAC, synthetic objects."""

import ipaddress
import json
import os
import tempfile
import unittest

from routelet_standin import nodegen, podgen, rbac
from routelet_standin import patch as patchlib
from routelet_standin.kinds import NAMESPACE, NETWORK_POLICY, NODE, POD
from routelet_standin.store import CLOSED, ApiError, Store, make_selector

CREATED = "2024-09-01T10:00:00Z"
MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "manifests",
                        "routelet.yaml")


def node(name, **extra):
    obj = {"metadata": {"name": name}, "spec": {"podCIDR": "10.244.1.0/24"},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    obj.update(extra)
    return obj


def rv(obj):
    return int(obj["metadata"]["resourceVersion"])


def pod(name, namespace="default", **labels):
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def drain(watch):
    """(type, name, resourceVersion) of every event a watch has now."""
    events = []
    while (event := watch.next(0)) is not None:
        events.append((event[0], event[1]["metadata"]["name"], rv(event[1])))
    return events


def names(items):
    return [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items]


class StoreWrites(unittest.TestCase):
    def setUp(self):
        self.store = Store()

    def test_every_write_raises_the_global_resource_version(self):
        a = self.store.create(node("a"))
        b = self.store.create(node("b"))
        a2 = self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        gone = self.store.delete("b")
        self.assertEqual([rv(a), rv(b), rv(a2), rv(gone)], [1, 2, 3, 4])
        self.assertEqual(self.store.resource_version(), 4)
        self.assertTrue(a["metadata"]["uid"])
        self.assertTrue(a["metadata"]["creationTimestamp"])

    def test_create_rejects_duplicates_and_preset_resource_version(self):
        self.store.create(node("a"))
        with self.assertRaises(ApiError) as e:
            self.store.create(node("a"))
        self.assertEqual((e.exception.code, e.exception.reason), (409, "AlreadyExists"))
        with self.assertRaises(ApiError) as e:
            self.store.create({"metadata": {"name": "b", "resourceVersion": "7"}})
        self.assertEqual(e.exception.code, 400)
        with self.assertRaises(ApiError) as e:
            self.store.create({"metadata": {}})
        self.assertEqual(e.exception.code, 422)

    def test_missing_node_is_404_with_the_real_message(self):
        with self.assertRaises(ApiError) as e:
            self.store.get("nope")
        self.assertEqual(e.exception.code, 404)
        self.assertEqual(e.exception.status()["message"], 'nodes "nope" not found')

    def test_update_with_stale_resource_version_is_409(self):
        a = self.store.create(node("a"))
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        with self.assertRaises(ApiError) as e:
            self.store.update("a", a)
        self.assertEqual((e.exception.code, e.exception.reason), (409, "Conflict"))
        self.assertIn("the object has been modified", e.exception.message)

    def test_update_without_resource_version_is_unconditional(self):
        self.store.create(node("a"))
        body = node("a")
        body["metadata"]["labels"] = {"x": "1"}
        self.assertEqual(self.store.update("a", body)["metadata"]["labels"], {"x": "1"})

    def test_main_resource_keeps_status_and_status_subresource_keeps_spec(self):
        self.store.create(node("a"))
        # spec.unschedulable, not podCIDR: a podCIDR that disagrees with podCIDRs[0] does not
        # survive the write (the real server keeps podCIDRs and derives podCIDR from it).
        out = self.store.patch("a", patchlib.MERGE, {"spec": {"unschedulable": True},
                                                     "status": {"phase": "x"}})
        self.assertEqual(out["spec"]["unschedulable"], True)
        self.assertNotIn("phase", out["status"])
        out = self.store.patch("a", patchlib.MERGE,
                               {"spec": {"unschedulable": None}, "status": {"phase": "y"},
                                "metadata": {"annotations": {"routelet.io/state": "ready"},
                                             "labels": {"l": "v"}}}, subresource="status")
        self.assertEqual(out["spec"]["unschedulable"], True)
        self.assertEqual(out["status"]["phase"], "y")
        self.assertEqual(out["metadata"]["annotations"], {"routelet.io/state": "ready"})
        self.assertEqual(out["metadata"]["labels"], {"l": "v"})

    def test_no_op_patch_does_not_write(self):
        self.store.create(node("a"))
        before = self.store.resource_version()
        out = self.store.patch("a", patchlib.MERGE, {"spec": {"podCIDR": "10.244.1.0/24"}})
        self.assertEqual(rv(out), before)
        self.assertEqual(self.store.resource_version(), before)

    def test_patch_carrying_a_stale_resource_version_is_409(self):
        self.store.create(node("a"))
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        with self.assertRaises(ApiError) as e:
            self.store.patch("a", patchlib.MERGE, {"metadata": {"resourceVersion": "1"}})
        self.assertEqual(e.exception.code, 409)

    def test_uid_and_creation_timestamp_cannot_change(self):
        a = self.store.create(node("a"))
        out = self.store.patch("a", patchlib.MERGE, {"metadata": {"uid": "x",
                                                                  "creationTimestamp": "y"}})
        self.assertEqual(out["metadata"]["uid"], a["metadata"]["uid"])
        self.assertEqual(out["metadata"]["creationTimestamp"], a["metadata"]["creationTimestamp"])

    def test_delete_with_stale_precondition_is_409_and_missing_is_404(self):
        a = self.store.create(node("a"))
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        with self.assertRaises(ApiError) as e:
            self.store.delete("a", {"resourceVersion": a["metadata"]["resourceVersion"]})
        self.assertEqual(e.exception.code, 409)
        self.store.delete("a")
        with self.assertRaises(ApiError) as e:
            self.store.delete("a")
        self.assertEqual(e.exception.code, 404)

    def test_bad_json_patch_is_422(self):
        self.store.create(node("a"))
        with self.assertRaises(ApiError) as e:
            self.store.patch("a", patchlib.JSON_PATCH, [{"op": "remove", "path": "/nope"}])
        self.assertEqual(e.exception.code, 422)


class StoreList(unittest.TestCase):
    def setUp(self):
        self.store = Store()
        self.store.load(nodegen.synthetic_nodes(25))

    def test_pages_follow_continue_and_keep_the_list_resource_version(self):
        names, token, versions = [], "", set()
        while True:
            items, list_rv, token, remaining = self.store.list(10, token)
            names += [i["metadata"]["name"] for i in items]
            versions.add(list_rv)
            if not token:
                break
            self.assertEqual(remaining, 25 - len(names))
        self.assertEqual(names, [nodegen.node_name("node-", i) for i in range(1, 26)])
        self.assertEqual(versions, {25})

    def test_continue_token_survives_writes_and_keeps_the_first_page_version(self):
        _, first_rv, token, _ = self.store.list(10)
        self.store.create(node("zz-new"))
        items, list_rv, _, _ = self.store.list(100, token)
        self.assertEqual(list_rv, first_rv)
        self.assertEqual(items[0]["metadata"]["name"], "node-00011")

    def test_continue_token_older_than_history_is_410(self):
        _, _, token, _ = self.store.list(10)
        self.store.expire_history()
        with self.assertRaises(ApiError) as e:
            self.store.list(10, token)
        self.assertEqual(e.exception.code, 410)

    def test_garbage_continue_token_is_400(self):
        with self.assertRaises(ApiError) as e:
            self.store.list(10, "not-a-token")
        self.assertEqual(e.exception.code, 400)

    def test_selectors(self):
        by_name = make_selector("", "metadata.name=node-00003")
        self.assertEqual([i["metadata"]["name"] for i in self.store.list(0, "", by_name)[0]],
                         ["node-00003"])
        zone = make_selector("topology.kubernetes.io/zone=eu-west-1a", "")
        self.assertEqual(len(self.store.list(0, "", zone)[0]), 8)  # i % 3 == 0 for i <= 25
        self.assertEqual(len(self.store.list(0, "", make_selector("!kubernetes.io/os"))[0]), 0)
        with self.assertRaises(ApiError):
            make_selector("", "spec.podCIDR=x")


class StoreWatch(unittest.TestCase):
    def setUp(self):
        self.store = Store(history_limit=5)
        self.store.load([node("a"), node("b")])

    def test_watch_without_version_starts_with_current_state(self):
        w = self.store.watch("")
        self.assertEqual(drain(w), [("ADDED", "a", 1), ("ADDED", "b", 2)])

    def test_watch_replays_history_after_the_version_then_streams(self):
        self.store.create(node("c"))
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        w = self.store.watch("2")
        self.store.delete("b")
        self.assertEqual(drain(w), [("ADDED", "c", 3), ("MODIFIED", "a", 4),
                                         ("DELETED", "b", 5)])

    def test_version_older_than_bounded_history_is_410(self):
        for i in range(6):
            self.store.create(node(f"n{i}"))  # rv 3..8; history keeps 4..8
        with self.assertRaises(ApiError) as e:
            self.store.watch("2")
        self.assertEqual((e.exception.code, e.exception.reason), (410, "Expired"))
        self.assertEqual(drain(self.store.watch("3"))[0], ("ADDED", "n1", 4))

    def test_expire_history_makes_every_known_version_410_but_relist_works(self):
        self.store.create(node("c"))
        current = self.store.resource_version()
        self.store.expire_history()
        with self.assertRaises(ApiError):
            self.store.watch(str(current))
        _, list_rv, _, _ = self.store.list()
        self.assertEqual(drain(self.store.watch(str(list_rv))), [])

    def test_field_selector_filters_events(self):
        w = self.store.watch("2", make_selector("", "metadata.name=a"))
        self.store.patch("b", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        self.assertEqual(drain(w), [("MODIFIED", "a", 4)])

    def test_bookmark_version_waits_for_queued_events(self):
        w = self.store.watch("2")
        self.assertEqual(w.bookmark_version(), 2)
        self.store.create(node("c"))
        self.assertIsNone(w.bookmark_version())
        drain(w)
        self.assertEqual(w.bookmark_version(), 3)

    def test_close_watches_ends_them(self):
        w = self.store.watch("2")
        self.assertEqual(self.store.close_watches(), 1)
        self.assertIs(w.next(1), CLOSED)
        self.assertEqual(self.store.watch_count(), 0)


class Kinds(unittest.TestCase):
    """Pods, Namespaces and NetworkPolicies beside Nodes, in one store."""

    def setUp(self):
        self.store = Store(history_limit=3)
        self.store.load(podgen.system_namespaces(CREATED), NAMESPACE)  # rv 1..4

    def test_one_resource_version_counter_across_kinds(self):
        written = [self.store.create(node("a")),
                   self.store.create(pod("p"), POD, "default"),
                   self.store.create({"metadata": {"name": "team-a"}}, NAMESPACE),
                   self.store.create({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}},
                                     NETWORK_POLICY, "team-a")]
        self.assertEqual([rv(o) for o in written], [5, 6, 7, 8])
        for kind in (NODE, POD, NAMESPACE, NETWORK_POLICY):
            self.assertEqual(self.store.list(0, "", None, kind)[1], 8)

    def test_namespaced_objects_need_their_namespace_and_list_in_key_order(self):
        with self.assertRaises(ApiError) as e:
            self.store.create(pod("p", "nowhere"), POD, "nowhere")
        self.assertEqual((e.exception.code, e.exception.message),
                         (404, 'namespaces "nowhere" not found'))
        with self.assertRaises(ApiError) as e:
            self.store.create(pod("p", "kube-system"), POD, "default")
        self.assertEqual(e.exception.code, 400)  # the body's namespace is not the URL's
        self.store.create({"metadata": {"name": "a-team"}}, NAMESPACE)
        for ns, name in (("kube-system", "a"), ("default", "z"), ("a-team", "m"), ("default", "b")):
            self.store.create(pod(name, ns), POD, ns)
        self.assertEqual(names(self.store.list(0, "", None, POD)[0]),
                         [("a-team", "m"), ("default", "b"), ("default", "z"),
                          ("kube-system", "a")])
        items, _, token, remaining = self.store.list(1, "", None, POD, "default")
        self.assertEqual((names(items), remaining), ([("default", "b")], 1))
        self.assertEqual(names(self.store.list(1, token, None, POD, "default")[0]),
                         [("default", "z")])
        with self.assertRaises(ApiError) as e:
            self.store.get("m", POD, "default")  # a-team's
        self.assertEqual(e.exception.message, 'pods "m" not found')

    def test_what_the_real_server_fills_in_on_create(self):
        created = self.store.create({"metadata": {"name": "p"}, "spec": {},
                                     "status": {"phase": "Running", "podIP": "10.0.0.1"}},
                                    POD, "default")
        self.assertEqual(created["status"], {"phase": "Pending", "qosClass": "BestEffort"})
        qos = {}
        for name, resources in (("burstable", {"requests": {"cpu": "1"}}),
                                ("guaranteed", {"limits": {"cpu": "1", "memory": "1Gi"}})):
            body = pod(name)
            body["spec"]["containers"][0].update(resources=resources, ports=[
                {"name": "http", "containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}])
            made = self.store.create(body, POD, "default")
            qos[name] = made["status"]["qosClass"]
            self.assertEqual([p["protocol"] for p in made["spec"]["containers"][0]["ports"]],
                             ["TCP", "UDP"])
        self.assertEqual(qos, {"burstable": "Burstable", "guaranteed": "Guaranteed"})
        ns = self.store.create({"metadata": {"name": "team-a", "labels": {"team": "a"}}},
                               NAMESPACE)
        self.assertEqual(ns["metadata"]["labels"],
                         {"team": "a", "kubernetes.io/metadata.name": "team-a"})
        self.assertEqual((ns["spec"], ns["status"]),
                         ({"finalizers": ["kubernetes"]}, {"phase": "Active"}))
        policy = self.store.create({"metadata": {"name": "x"}, "spec": {
            "podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}}, NETWORK_POLICY, "default")
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress", "Egress"])
        self.assertEqual(policy["spec"]["egress"][0]["ports"], [{"port": 53, "protocol": "TCP"}])
        self.assertEqual(policy["apiVersion"], "networking.k8s.io/v1")

    def test_pod_status_changes_through_the_status_subresource_only(self):
        self.store.create(pod("p"), POD, "default")
        out = self.store.patch("p", patchlib.MERGE, {"status": {"podIP": "10.0.0.9"}}, None,
                               POD, "default")
        self.assertNotIn("podIP", out["status"])
        out = self.store.patch("p", patchlib.STRATEGIC, {"status": {"podIP": "10.0.0.9"},
                                                         "spec": {"nodeName": "x"}},
                               "status", POD, "default")
        self.assertEqual(out["status"]["podIP"], "10.0.0.9")
        self.assertNotIn("nodeName", out["spec"])

    def test_watches_see_their_kind_and_namespace_only(self):
        every_pod = self.store.watch("4", None, POD)
        default_pods = self.store.watch("4", None, POD, "default")
        namespaces = self.store.watch("4", None, NAMESPACE)
        self.store.create({"metadata": {"name": "a-team"}}, NAMESPACE)
        self.store.create(pod("p", "a-team"), POD, "a-team")
        self.store.create(pod("q"), POD, "default")
        self.store.create(node("n"))
        self.store.delete("q", None, POD, "default")
        # A Pod is marked for deletion (MODIFIED), then deleted (DELETED), as by a kubelet.
        self.assertEqual(drain(every_pod), [("ADDED", "p", 6), ("ADDED", "q", 7),
                                            ("MODIFIED", "q", 9), ("DELETED", "q", 10)])
        self.assertEqual(drain(default_pods), [("ADDED", "q", 7), ("MODIFIED", "q", 9),
                                               ("DELETED", "q", 10)])
        self.assertEqual(drain(namespaces), [("ADDED", "a-team", 5)])

    def test_a_pod_is_marked_for_deletion_unless_its_grace_period_is_zero(self):
        self.store.create(pod("p"), POD, "default")
        self.store.create(pod("q"), POD, "default")
        w = self.store.watch("6", None, POD)
        marked = self.store.delete("p", None, POD, "default")
        self.assertEqual(marked["metadata"]["deletionGracePeriodSeconds"], 30)
        self.assertIn("deletionTimestamp", marked["metadata"])
        gone = self.store.delete("q", None, POD, "default", grace_period=0)
        self.assertNotIn("deletionTimestamp", gone["metadata"])
        self.assertEqual(drain(w), [("MODIFIED", "p", 7), ("DELETED", "p", 8),
                                    ("DELETED", "q", 9)])

    def test_history_is_kept_per_kind(self):
        self.store.create(pod("p"), POD, "default")  # rv 5
        for name in ("a", "b", "c", "d"):
            self.store.create(node(name))  # rv 6..9; the Nodes' history keeps 7..9
        self.assertEqual(drain(self.store.watch("4", None, POD)), [("ADDED", "p", 5)])
        with self.assertRaises(ApiError) as e:
            self.store.watch("5")
        self.assertEqual(e.exception.code, 410)

    def test_not_found_and_conflict_name_the_group(self):
        self.store.create({"metadata": {"name": "x"}, "spec": {"podSelector": {}}},
                          NETWORK_POLICY, "default")
        with self.assertRaises(ApiError) as e:
            self.store.get("y", NETWORK_POLICY, "default")
        self.assertEqual(e.exception.status()["message"],
                         'networkpolicies.networking.k8s.io "y" not found')
        self.assertEqual(e.exception.details, {"name": "y", "group": "networking.k8s.io",
                                               "kind": "networkpolicies"})
        with self.assertRaises(ApiError) as e:
            self.store.update("x", {"metadata": {"name": "x", "resourceVersion": "1"}}, None,
                              NETWORK_POLICY, "default")
        self.assertEqual(e.exception.code, 409)


class SyntheticObjects(unittest.TestCase):
    """Objects made on demand from their index, overlaid by what is written."""

    def setUp(self):
        self.store = Store()
        nodes = nodegen.synthetic_nodes(4)
        self.store.load(nodes)
        self.store.load(podgen.system_namespaces(CREATED), NAMESPACE)
        self.store.load_source(podgen.Namespaces(3, CREATED), NAMESPACE)
        self.store.load_source(podgen.Pods(30, 3, podgen.pod_nodes(nodes), CREATED), POD)
        self.store.load_source(podgen.NetworkPolicies(16, 3, CREATED), NETWORK_POLICY)

    def pages(self, kind, limit, namespace=""):
        """Every page of a paged LIST: [(names, remaining count)], and the list's versions."""
        pages, token, versions = [], "", set()
        while True:
            items, list_rv, token, remaining = self.store.list(limit, token, None, kind,
                                                               namespace)
            pages.append((names(items), remaining))
            versions.add(list_rv)
            if not token:
                return pages, versions

    def test_every_made_object_has_a_resource_version_of_its_own(self):
        self.assertEqual(self.store.resource_version(), 4 + 4 + 3 + 30 + 16)
        pods = self.store.list(0, "", None, POD)[0]
        self.assertEqual([rv(p) for p in pods], list(range(12, 42)))
        self.assertEqual(self.store.get(pods[3]["metadata"]["name"], POD, "ns-00001"), pods[3])

    def test_pages_are_exact_and_count_what_remains(self):
        pages, versions = self.pages(POD, 7)
        self.assertEqual([(len(n), r) for n, r in pages],
                         [(7, 23), (7, 16), (7, 9), (7, 2), (2, None)])
        every = [n for page, _ in pages for n in page]
        self.assertEqual(every, sorted(set(every)))
        self.assertEqual(every, names(self.store.list(0, "", None, POD)[0]))
        self.assertEqual(versions, {57})
        pages, _ = self.pages(NAMESPACE, 5)
        self.assertEqual([n for page, _ in pages for n in page],
                         [("", "default"), ("", "kube-node-lease"), ("", "kube-public"),
                          ("", "kube-system"), ("", "ns-00001"), ("", "ns-00002"),
                          ("", "ns-00003")])
        pages, _ = self.pages(NETWORK_POLICY, 4, "ns-00002")
        self.assertEqual([(len(n), r) for n, r in pages], [(4, 1), (1, None)])

    def test_writes_overlay_the_made_objects(self):
        first, second, third = [n for _, n in names(self.store.list(3, "", None, POD,
                                                                    "ns-00001")[0])]
        labelled = self.store.patch(first, patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}},
                                    None, POD, "ns-00001")
        self.assertEqual(rv(labelled), 58)
        self.store.delete(second, None, POD, "ns-00001")
        self.store.create(pod("zz-new", "ns-00001"), POD, "ns-00001")
        listed = self.store.list(0, "", None, POD, "ns-00001")[0]
        self.assertEqual(names(listed)[:2], [("ns-00001", first), ("ns-00001", third)])
        self.assertEqual(listed[0], labelled)
        self.assertEqual(names(listed)[-1], ("ns-00001", "zz-new"))
        self.assertEqual(len(listed), 10)
        pages, _ = self.pages(POD, 29)
        self.assertEqual([(len(n), r) for n, r in pages], [(29, 1), (1, None)])
        with self.assertRaises(ApiError):
            self.store.get(second, POD, "ns-00001")
        again = self.store.create(pod(second, "ns-00001"), POD, "ns-00001")
        self.assertEqual(self.store.get(second, POD, "ns-00001"), again)
        self.assertEqual(len(self.store.list(0, "", None, POD)[0]), 31)
        with self.assertRaises(ApiError) as e:
            self.store.create(pod(third, "ns-00001"), POD, "ns-00001")
        self.assertEqual(e.exception.reason, "AlreadyExists")

    def test_a_watch_from_now_sends_the_state_it_started_with_then_events(self):
        w = self.store.watch("", None, POD)
        victim = self.store.list(1, "", None, POD)[0][0]["metadata"]["name"]
        self.store.delete(victim, None, POD, "ns-00001")
        events = drain(w)
        self.assertEqual([t for t, _, _ in events], ["ADDED"] * 30 + ["MODIFIED", "DELETED"])
        self.assertEqual(events[0][1], victim)
        self.assertEqual(events[-1], ("DELETED", victim, 59))

    def test_selectors_and_namespace_fields(self):
        running = make_selector("tier=web", "status.phase=Running", POD)
        web = self.store.list(0, "", running, POD)[0]
        self.assertTrue(web)
        self.assertTrue(all(p["metadata"]["labels"]["tier"] == "web" for p in web))
        items, _, token, remaining = self.store.list(1, "", running, POD)
        self.assertIsNone(remaining)  # as kube-apiserver: no count when a selector filters
        here = make_selector("", "metadata.namespace=ns-00003", NETWORK_POLICY)
        self.assertEqual(len(self.store.list(0, "", here, NETWORK_POLICY)[0]), 6)
        with self.assertRaises(ApiError):
            make_selector("", "spec.nodeName=x", NAMESPACE)


class SyntheticPods(unittest.TestCase):
    def test_keys_sort_in_index_order_and_lead_back_to_it(self):
        nodes = podgen.pod_nodes(nodegen.synthetic_nodes(20))
        for count, namespaces in ((1500, 7), (5, 9), (3000, 1)):
            pods = podgen.Pods(count, namespaces, nodes, CREATED)
            keys = [pods[i] for i in range(count)]
            self.assertEqual(keys, sorted(set(keys)))
            self.assertEqual([pods.index(k) for k in keys], list(range(count)))
        for key in ("default/x", "ns-00001/x", "ns-00002/app-000-bbbbbbbbbb-22bbb",
                    "ns-00099/" + keys[0].split("/")[1], "ns-1/" + keys[0].split("/")[1]):
            self.assertIsNone(pods.index(key), key)

    def test_pods_are_realistic_and_their_addresses_unique_inside_their_node(self):
        nodes = nodegen.synthetic_nodes(5)
        nodes[4]["spec"]["podCIDRs"] = ["10.70.4.0/24", "fd00:10:70:4::/64"]  # dual-stack
        pods = podgen.Pods(1000, 10, podgen.pod_nodes(nodes), CREATED)
        made = [pods.make(i) for i in range(len(pods))]
        ips = [ip["ip"] for p in made for ip in p["status"]["podIPs"]]
        self.assertEqual(len(ips), len(set(ips)))
        self.assertEqual(len(ips), 1000 + 200)
        by_node = {n["metadata"]["name"]: n for n in nodes}
        for p in made:
            node = by_node[p["spec"]["nodeName"]]
            self.assertEqual(p["status"]["hostIP"], node["status"]["addresses"][0]["address"])
            self.assertEqual(p["status"]["podIP"], p["status"]["podIPs"][0]["ip"])
            for ip, cidr in zip(p["status"]["podIPs"], node["spec"]["podCIDRs"]):
                self.assertIn(ipaddress.ip_address(ip["ip"]), ipaddress.ip_network(cidr))
        pod = made[0]
        self.assertEqual(set(pod["metadata"]["labels"]), {"app", "tier", "pod-template-hash"})
        self.assertEqual(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet")
        ports = {(p.get("name"), p["containerPort"]) for c in pod["spec"]["containers"]
                 for p in c["ports"]}
        self.assertTrue({("http", 8080), ("metrics", 9090)} <= ports)
        sizes = [len(json.dumps(p)) for p in made]
        self.assertTrue(3_000 < min(sizes) and max(sizes) < 7_000, (min(sizes), max(sizes)))

    def test_pods_that_do_not_fit_are_refused(self):
        nodes = podgen.pod_nodes(nodegen.synthetic_nodes(2))
        with self.assertRaises(ValueError):
            podgen.Pods(600, 3, nodes, CREATED)  # 300 a node in a /24
        with self.assertRaises(ValueError):
            podgen.Pods(10, 3, [], CREATED)
        with self.assertRaises(ValueError):
            podgen.Pods(10, 0, nodes, CREATED)

    def test_policies_mix_selectors_peers_and_ports(self):
        policies = podgen.NetworkPolicies(64, 8, CREATED)
        keys = [policies[i] for i in range(64)]
        self.assertEqual(keys, sorted(keys))
        self.assertEqual([policies.index(k) for k in keys], list(range(64)))
        specs = [policies.make(i)["spec"] for i in range(64)]
        peers = [peer for s in specs for rule in s.get("ingress", [])
                 for peer in rule.get("from", [])]
        self.assertTrue(any(set(p) == {"podSelector"} for p in peers))
        self.assertTrue(any(set(p) == {"namespaceSelector"} for p in peers))
        self.assertTrue(any(set(p) == {"namespaceSelector", "podSelector"} for p in peers))
        blocks = [p["ipBlock"] for p in peers if "ipBlock" in p]
        self.assertTrue(any(b.get("except") for b in blocks))
        for block in blocks:
            for inner in block.get("except", []):
                self.assertTrue(ipaddress.ip_network(inner).subnet_of(
                    ipaddress.ip_network(block["cidr"])))
        ports = [p["port"] for s in specs for rule in s.get("ingress", []) + s.get("egress", [])
                 for p in rule.get("ports", [])]
        self.assertTrue({"http", "metrics", 8080, 5432} <= set(ports))
        self.assertTrue(any(s["policyTypes"] == ["Ingress", "Egress"] for s in specs))
        self.assertTrue(any(s["podSelector"] == {} for s in specs))

    def test_namespaces_are_labelled_by_team(self):
        namespaces = podgen.Namespaces(12, CREATED)
        labels = [namespaces.make(i)["metadata"]["labels"] for i in range(12)]
        self.assertEqual([l["team"] for l in labels[:11]],
                         [f"t{k % 10}" for k in range(1, 12)])
        self.assertEqual(labels[0]["kubernetes.io/metadata.name"], "ns-00001")
        self.assertEqual(namespaces.index("ns-00012"), 11)
        self.assertIsNone(namespaces.index("ns-00013"))


class Patches(unittest.TestCase):
    def test_merge_patch_rfc7386(self):
        self.assertEqual(patchlib.merge_patch({"a": {"b": 1, "c": 2}, "l": [1, 2]},
                                              {"a": {"b": None, "d": 3}, "l": [3]}),
                         {"a": {"c": 2, "d": 3}, "l": [3]})

    def test_strategic_merge_conditions_by_type(self):
        target = {"status": {"conditions": [{"type": "Ready", "status": "True"},
                                            {"type": "DiskPressure", "status": "False"}]}}
        out = patchlib.strategic_merge_patch(target, {"status": {"conditions": [
            {"type": "NetworkUnavailable", "status": "False", "reason": "RouteletReady"},
            {"type": "Ready", "status": "False"}]}})
        # kube-apiserver's order: the patch's elements in its order, a new one before the
        # stored ones, a stored one after those stored before it (checked against v1.20.2
        # by test_real_api).
        self.assertEqual(out["status"]["conditions"], [
            {"type": "NetworkUnavailable", "status": "False", "reason": "RouteletReady"},
            {"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}])

    def test_strategic_merge_annotations_delete_and_directives(self):
        target = {"metadata": {"annotations": {"a": "1", "b": "2"}},
                  "status": {"conditions": [{"type": "A"}, {"type": "B"}]},
                  "spec": {"taints": [{"key": "x"}]}}
        out = patchlib.strategic_merge_patch(target, {
            "metadata": {"annotations": {"a": None, "c": "3"}},
            "$setElementOrder/conditions": [{"type": "B"}],
            "status": {"conditions": [{"type": "A", "$patch": "delete"}]},
            "spec": {"taints": [{"key": "y"}]}})
        self.assertEqual(out["metadata"]["annotations"], {"b": "2", "c": "3"})
        self.assertEqual(out["status"]["conditions"], [{"type": "B"}])
        self.assertEqual(out["spec"]["taints"], [{"key": "y"}])  # no strategy: replaced

    def test_strategic_merge_element_without_key_is_rejected(self):
        with self.assertRaises(patchlib.PatchError):
            patchlib.strategic_merge_patch({}, {"status": {"conditions": [{"status": "x"}]}})

    def test_json_patch_operations(self):
        doc = {"metadata": {"annotations": {"a/b": "1"}}, "l": [1, 2]}
        out = patchlib.json_patch(doc, [
            {"op": "test", "path": "/metadata/annotations/a~1b", "value": "1"},
            {"op": "add", "path": "/metadata/annotations/c", "value": "2"},
            {"op": "replace", "path": "/metadata/annotations/a~1b", "value": "3"},
            {"op": "add", "path": "/l/-", "value": 3},
            {"op": "remove", "path": "/l/0"},
            {"op": "copy", "from": "/l", "path": "/m"},
            {"op": "move", "from": "/m", "path": "/n"}])
        self.assertEqual(out, {"metadata": {"annotations": {"a/b": "3", "c": "2"}},
                               "l": [2, 3], "n": [2, 3]})
        self.assertEqual(doc["l"], [1, 2])  # input untouched
        with self.assertRaises(patchlib.PatchError):
            patchlib.json_patch(doc, [{"op": "test", "path": "/l/0", "value": 9}])


class Rbac(unittest.TestCase):
    def test_manifest_grants_the_agent_exactly_its_verbs(self):
        agent = rbac.load_agent_subject(MANIFEST)
        self.assertEqual(agent.user, "system:serviceaccount:kube-system:routelet")
        granted = {(verb, res) for verb in ("get", "list", "watch", "create", "update", "patch",
                                            "delete") for res in ("nodes", "nodes/status")
                   if rbac.allowed(agent, verb, res, "x")}
        self.assertEqual(granted, {("get", "nodes"), ("list", "nodes"), ("watch", "nodes"),
                                   ("patch", "nodes/status")})

    def test_manifest_grants_list_and_watch_of_pods_namespaces_and_policies_only(self):
        agent = rbac.load_agent_subject(MANIFEST)
        resources = [("", "pods"), ("", "namespaces"), ("networking.k8s.io", "networkpolicies"),
                     ("", "pods/status"), ("", "secrets"), ("", "networkpolicies"),
                     ("networking.k8s.io", "pods")]
        granted = {(verb, group, res) for verb in ("get", "list", "watch", "create", "update",
                                                    "patch", "delete")
                   for group, res in resources if rbac.allowed(agent, verb, res, None, group)}
        self.assertEqual(granted, {("list", "", "pods"), ("watch", "", "pods"),
                                   ("list", "", "namespaces"), ("watch", "", "namespaces"),
                                   ("list", "networking.k8s.io", "networkpolicies"),
                                   ("watch", "networking.k8s.io", "networkpolicies")})

    def test_forbidden_message_in_a_namespace_and_api_group(self):
        agent = rbac.load_agent_subject(MANIFEST)
        error = rbac.forbidden(agent, "delete", "networkpolicies", "x", "networking.k8s.io",
                               "default")
        self.assertEqual(error.message, 'networkpolicies.networking.k8s.io "x" is forbidden: User '
                         '"system:serviceaccount:kube-system:routelet" cannot delete resource '
                         '"networkpolicies" in API group "networking.k8s.io" in the namespace '
                         '"default"')
        self.assertEqual(error.details, {"name": "x", "group": "networking.k8s.io",
                                         "kind": "networkpolicies"})

    def test_forbidden_message_matches_the_real_authorizer(self):
        agent = rbac.load_agent_subject(MANIFEST)
        error = rbac.forbidden(agent, "delete", "nodes", "x")
        self.assertEqual(error.code, 403)
        self.assertEqual(error.message, 'nodes "x" is forbidden: User "system:serviceaccount:'
                         'kube-system:routelet" cannot delete resource "nodes" in API group "" '
                         "at the cluster scope")

    def test_manifest_without_cluster_role_is_an_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            f.write("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\n")
            f.flush()
            with self.assertRaises(ValueError):
                rbac.load_agent_subject(f.name)


class SyntheticNodes(unittest.TestCase):
    def test_5000_nodes_have_unique_cidrs_and_addresses_and_weigh_about_10kb(self):
        nodes = nodegen.synthetic_nodes(5000)
        self.assertEqual(len({n["spec"]["podCIDR"] for n in nodes}), 5000)
        self.assertEqual(len({n["status"]["addresses"][0]["address"] for n in nodes}), 5000)
        self.assertEqual(nodes[0]["metadata"]["name"], "node-00001")
        self.assertEqual(len(nodes[0]["status"]["images"]), 50)
        size = len(json.dumps(nodes[0]))
        self.assertTrue(8_000 < size < 16_000, size)

    def test_pod_cidrs_stay_unique_and_valid_past_49152_nodes(self):
        cidrs = [nodegen.pod_cidr(i) for i in range(1, 114688)]
        self.assertEqual(len(set(cidrs)), len(cidrs))
        for cidr in cidrs[49150:49153] + cidrs[-1:]:
            ipaddress.ip_network(cidr)  # raises for 10.256.0.0/24
        self.assertEqual(nodegen.pod_cidr(49151), "10.255.255.0/24")
        self.assertEqual(nodegen.pod_cidr(49152), "11.0.0.0/24")
        with self.assertRaises(ValueError):
            nodegen.pod_cidr(114688)

    def test_node_file_entries_merge_over_synthetic_nodes(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump([{"metadata": {"name": "lab-1"},
                        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
                        "status": {"addresses": [{"type": "InternalIP",
                                                  "address": "192.168.1.11"}]}},
                       {"metadata": {"name": "bare"},
                        "spec": {"podCIDR": None, "podCIDRs": None}}], f)
            f.flush()
            lab, bare = nodegen.load_node_file(f.name)
        self.assertEqual(lab["spec"]["podCIDRs"], ["10.244.1.0/24"])
        self.assertEqual(lab["status"]["addresses"], [{"type": "InternalIP",
                                                       "address": "192.168.1.11"}])
        self.assertEqual(lab["metadata"]["labels"]["kubernetes.io/hostname"], "lab-1")
        self.assertNotIn("podCIDR", bare["spec"])
        self.assertEqual(len(bare["status"]["images"]), 50)


if __name__ == "__main__":
    unittest.main()
