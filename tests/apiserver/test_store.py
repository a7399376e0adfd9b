"""The stand-in's semantics without HTTP: store, patches, RBAC, synthetic Nodes."""

import ipaddress
import json
import os
import tempfile
import unittest

from routelet_standin import nodegen, rbac
from routelet_standin import patch as patchlib
from routelet_standin.store import CLOSED, ApiError, Store, make_selector

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "manifests",
                        "routelet.yaml")


def node(name, **extra):
    obj = {"metadata": {"name": name}, "spec": {"podCIDR": "10.244.1.0/24"},
           "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    obj.update(extra)
    return obj


def rv(obj):
    return int(obj["metadata"]["resourceVersion"])


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

    def drain(self, watch):
        events = []
        while (event := watch.next(0)) is not None:
            events.append((event[0], event[1]["metadata"]["name"], rv(event[1])))
        return events

    def test_watch_without_version_starts_with_current_state(self):
        w = self.store.watch("")
        self.assertEqual(self.drain(w), [("ADDED", "a", 1), ("ADDED", "b", 2)])

    def test_watch_replays_history_after_the_version_then_streams(self):
        self.store.create(node("c"))
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        w = self.store.watch("2")
        self.store.delete("b")
        self.assertEqual(self.drain(w), [("ADDED", "c", 3), ("MODIFIED", "a", 4),
                                         ("DELETED", "b", 5)])

    def test_version_older_than_bounded_history_is_410(self):
        for i in range(6):
            self.store.create(node(f"n{i}"))  # rv 3..8; history keeps 4..8
        with self.assertRaises(ApiError) as e:
            self.store.watch("2")
        self.assertEqual((e.exception.code, e.exception.reason), (410, "Expired"))
        self.assertEqual(self.drain(self.store.watch("3"))[0], ("ADDED", "n1", 4))

    def test_expire_history_makes_every_known_version_410_but_relist_works(self):
        self.store.create(node("c"))
        current = self.store.resource_version()
        self.store.expire_history()
        with self.assertRaises(ApiError):
            self.store.watch(str(current))
        _, list_rv, _, _ = self.store.list()
        self.assertEqual(self.drain(self.store.watch(str(list_rv))), [])

    def test_field_selector_filters_events(self):
        w = self.store.watch("2", make_selector("", "metadata.name=a"))
        self.store.patch("b", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        self.store.patch("a", patchlib.MERGE, {"metadata": {"labels": {"x": "1"}}})
        self.assertEqual(self.drain(w), [("MODIFIED", "a", 4)])

    def test_bookmark_version_waits_for_queued_events(self):
        w = self.store.watch("2")
        self.assertEqual(w.bookmark_version(), 2)
        self.store.create(node("c"))
        self.assertIsNone(w.bookmark_version())
        self.drain(w)
        self.assertEqual(w.bookmark_version(), 3)

    def test_close_watches_ends_them(self):
        w = self.store.watch("2")
        self.assertEqual(self.store.close_watches(), 1)
        self.assertIs(w.next(1), CLOSED)
        self.assertEqual(self.store.watch_count(), 0)


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
