"""Node storage with kube-apiserver's client-visible semantics, without HTTP.

One global resourceVersion counter (etcd's revision), a bounded event history for
watch replay (older resourceVersions get 410 Expired, as after an etcd compaction),
paginated LIST with continue tokens, optimistic concurrency (409), and the update
rules of the nodes and nodes/status endpoints.

Stored objects are never mutated: every write stores a fresh dict, so readers (LIST
pages, watch events) can hold references without copying 10 KB Nodes.
"""

import base64
import collections
import copy
import json
import queue
import threading
import time
import uuid

from . import patch as patchlib


class ApiError(Exception):
    """An error the API answers with a Status object. A reason of None leaves the field out,
    as kube-apiserver does for errors that are not its own API errors (a bare 500)."""

    def __init__(self, code, reason, message, name=None, kind="nodes"):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = {"name": name, "kind": kind} if name is not None else None
        self.list_meta = {}  # the Status's own metadata (a continue token, at times)

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.list_meta),
                "status": "Failure", "message": self.message}
        if self.reason is not None:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def not_found(name):
    return ApiError(404, "NotFound", f'nodes "{name}" not found', name)


def conflict(name):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on nodes "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    name)


def expired(requested, oldest):
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(name, message):
    return ApiError(422, "Invalid", f'Node "{name}" is invalid: {message}', name, "Node")


def timestamp(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_resource_version(text, what="resourceVersion"):
    """A watch's resourceVersion; kube-apiserver v1.20 answers a malformed one with a bare
    500 (no reason), not a 400."""
    if not text.isdigit():
        raise ApiError(500, None, f'{what}: Invalid value: "{text}": strconv.ParseUint: '
                                  f'parsing "{text}": invalid syntax')
    return int(text)


def normalize_spec(obj):
    """spec.podCIDR and spec.podCIDRs as kube-apiserver stores them: its internal Node has
    podCIDRs only, filled from podCIDR when absent, and podCIDR is podCIDRs[0] on the way
    out. So a Node written with either one is read back with both."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("podCIDRs") and spec.get("podCIDR"):
        spec["podCIDRs"] = [spec["podCIDR"]]
    if spec.get("podCIDRs"):
        spec["podCIDR"] = spec["podCIDRs"][0]


# ---------------------------------------------------------------- selectors

def make_selector(label_selector="", field_selector=""):
    """Predicate for the equality-based label and field selectors kubectl and agents use."""
    tests = [_label_test(t.strip()) for t in _split(label_selector)]
    tests += [_field_test(t.strip()) for t in _split(field_selector)]
    return lambda obj: all(test(obj) for test in tests)


def _split(selector):
    return [t for t in (selector or "").split(",") if t.strip()]


def _equality(term):
    for op in ("!=", "==", "="):
        if op in term:
            key, value = term.split(op, 1)
            return key.strip(), op, value.strip()
    return term, None, None


def _label_test(term):
    if " in " in term or " notin " in term or "(" in term:
        raise bad_request(f"labelSelector term {term!r}: only =, ==, != and existence "
                          "are supported by the stand-in")
    key, op, value = _equality(term)

    def labels(obj):
        return obj.get("metadata", {}).get("labels") or {}

    if op is None:
        if key.startswith("!"):
            return lambda obj: key[1:] not in labels(obj)
        return lambda obj: key in labels(obj)
    if op == "!=":
        return lambda obj: labels(obj).get(key) != value
    return lambda obj: labels(obj).get(key) == value


_FIELDS = {
    "metadata.name": lambda o: o["metadata"]["name"],
    "spec.unschedulable": lambda o: str(bool(o.get("spec", {}).get("unschedulable"))).lower(),
}


def _field_test(term):
    key, op, value = _equality(term)
    if op is None or key not in _FIELDS:
        # Same wording as the real server for unknown field labels.
        raise bad_request(f'field label not supported: {key}')
    get = _FIELDS[key]
    if op == "!=":
        return lambda obj: get(obj) != value
    return lambda obj: get(obj) == value


# ---------------------------------------------------------------- watch

CLOSED = object()  # put in a Watch's queue to end it


class Watch:
    def __init__(self, store, predicate):
        self._store, self._predicate = store, predicate
        self._queue = queue.Queue()

    def next(self, timeout):
        """The next (type, object) event, None after `timeout` seconds, or CLOSED."""
        try:
            return self._queue.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None

    def bookmark_version(self):
        """The resourceVersion a BOOKMARK may announce now, or None while events wait.

        Events are queued under the store lock when the counter moves, so an empty queue
        read under that lock means every write up to the counter was delivered.
        """
        with self._store._lock:
            return None if not self._queue.empty() else self._store._rv

    def stop(self):
        with self._store._lock:
            self._store._watches.discard(self)

    def _offer(self, event_type, obj):
        if self._predicate(obj):
            self._queue.put((event_type, obj))


# ---------------------------------------------------------------- store

class Store:
    def __init__(self, history_limit=1000, clock=time.time):
        self._lock = threading.RLock()
        self._clock = clock
        self._nodes = {}
        self._rv = 0
        self._history = collections.deque()
        self._history_limit = history_limit
        self._compacted = 0  # a watch may start from any rv >= this one
        self._watches = set()

    # -- reads

    def resource_version(self):
        with self._lock:
            return self._rv

    def get(self, name):
        with self._lock:
            obj = self._nodes.get(name)
        if obj is None:
            raise not_found(name)
        return obj

    def list(self, limit=0, continue_token="", predicate=None):
        """One page: (items, list resourceVersion, continue token or "", remaining count)."""
        predicate = predicate or (lambda obj: True)
        with self._lock:
            list_rv, start = self._rv, ""
            if continue_token:
                list_rv, start = self._decode_continue(continue_token)
            names = sorted(n for n in self._nodes if n > start)
            items, cont, remaining = [], "", None
            for i, name in enumerate(names):
                obj = self._nodes[name]
                if not predicate(obj):
                    continue
                if limit and len(items) == limit:
                    cont = self._encode_continue(list_rv, items[-1]["metadata"]["name"])
                    remaining = sum(1 for n in names[i:] if predicate(self._nodes[n]))
                    break
                items.append(obj)
        return items, list_rv, cont, remaining

    def _encode_continue(self, list_rv, last_name):
        # The real server's token: base64 of {"v","rv","start"}; start is the last key
        # returned plus "\x00", i.e. the first key strictly after it.
        token = {"v": "meta.k8s.io/v1", "rv": list_rv, "start": last_name + "\x00"}
        return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")

    def _decode_continue(self, text):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            token = json.loads(raw)
            list_rv, start = int(token["rv"]), str(token["start"])
        except (ValueError, KeyError, TypeError):
            raise bad_request(f"continue key is not valid: {text!r}")
        if list_rv == -1:
            # The token a 410 below hands out: the rest of the list, at the current version.
            list_rv = self._rv
        elif list_rv < self._compacted:
            # kube-apiserver's answer: 410, and a token for the rest at the current version.
            error = ApiError(410, "Expired",
                             "The provided continue parameter is too old to display a "
                             "consistent list result. You can start a new list without the "
                             "continue parameter, or use the continue token in this response "
                             "to retrieve the remainder of the results. Continuing with the "
                             "provided token results in an inconsistent list - objects that "
                             "were created, modified, or deleted between the time the first "
                             "chunk was returned and now may show up in the list.")
            error.list_meta = {"continue": self._encode_continue(-1, start.rstrip("\x00"))}
            raise error
        # The stand-in keeps no snapshots: later pages show the current objects after
        # `start`, under the first page's resourceVersion. A watch from that version
        # replays every change since, so a client ends up consistent all the same.
        return list_rv, start.rstrip("\x00")

    def watch(self, resource_version="", predicate=None):
        """A Watch replaying history after `resource_version` ("" or "0": current state)."""
        w = Watch(self, predicate or (lambda obj: True))
        with self._lock:
            if resource_version in ("", "0"):
                for name in sorted(self._nodes):
                    w._offer("ADDED", self._nodes[name])
            else:
                rv = parse_resource_version(resource_version)
                if rv < self._compacted:
                    raise expired(rv, self._compacted)
                for event_rv, event_type, obj in self._history:
                    if event_rv > rv:
                        w._offer(event_type, obj)
            self._watches.add(w)
        return w

    def node_count(self):
        with self._lock:
            return len(self._nodes)

    def watch_count(self):
        with self._lock:
            return len(self._watches)

    # -- writes

    def load(self, objects):
        """Start-up objects: stored with resourceVersions, but without watch history.

        The store takes ownership of `objects` (no copy: 5000 Nodes load in a blink).
        """
        with self._lock:
            for obj in objects:
                self._store_new(obj, record=False)
            self._compacted = self._rv

    def create(self, obj):
        if not isinstance(obj, dict):
            raise bad_request("the body must be a Node object")
        with self._lock:
            return self._store_new(obj, record=True)

    def update(self, name, obj, subresource=None):
        """PUT: 409 on a stale metadata.resourceVersion; nodes keep status, nodes/status keeps spec."""
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise bad_request("the body must be a Node object with metadata")
        with self._lock:
            current = self.get(name)
            if obj["metadata"].get("name", name) != name:
                raise bad_request(f"the name of the object ({obj['metadata'].get('name')}) "
                                  f"does not match the name on the URL ({name})")
            wanted_rv = obj["metadata"].get("resourceVersion")
            if wanted_rv and str(wanted_rv) != current["metadata"]["resourceVersion"]:
                raise conflict(name)
            new = copy.deepcopy(obj)
            new["kind"], new["apiVersion"] = "Node", "v1"
            meta = new["metadata"]
            meta["name"] = name
            for kept in ("uid", "creationTimestamp", "deletionTimestamp"):
                if kept in current["metadata"]:
                    meta[kept] = current["metadata"][kept]
                else:
                    meta.pop(kept, None)
            # kube-apiserver's nodeStrategy / nodeStatusStrategy: an update of the main
            # resource cannot change status, an update of /status cannot change spec
            # (metadata such as labels and annotations may change through either).
            kept_part = "spec" if subresource == "status" else "status"
            if kept_part in current:
                new[kept_part] = copy.deepcopy(current[kept_part])
            else:
                new.pop(kept_part, None)
            normalize_spec(new)
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            if new == current:
                return current  # no-op writes do not move the revision, as in etcd3 storage
            return self._write(name, new, "MODIFIED")

    def patch(self, name, content_type, body, subresource=None):
        # What kube-apiserver v1.20 answers to a patch that is JSON but not an object.
        if content_type == patchlib.MERGE and not isinstance(body, dict):
            if isinstance(body, list):
                raise ApiError(422, "Invalid", ' "" is invalid: patch: Invalid value: '
                                               f'"{json.dumps(body)}": couldn\'t get version/kind; '
                                               "json parse error: json: cannot unmarshal array "
                                               "into Go value")
            raise ApiError(500, None, "Invalid JSON Patch")
        if content_type == patchlib.STRATEGIC and not isinstance(body, dict):
            raise bad_request(f"json: cannot unmarshal {type(body).__name__} into Go value of "
                              "type map[string]interface {}")
        with self._lock:
            current = self.get(name)
            try:
                patched = patchlib.apply(content_type, current, body)
            except patchlib.PatchError as e:
                raise invalid(name, str(e))
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
                raise invalid(name, "the patched object has no metadata")
            return self.update(name, patched, subresource)

    def delete(self, name, preconditions=None):
        with self._lock:
            current = self.get(name)
            pre = preconditions or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != \
                    current["metadata"]["resourceVersion"]:
                raise conflict(name)
            if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
                raise conflict(name)
            del self._nodes[name]
            # The DELETED event carries the revision of the deletion, as a watch on etcd does.
            gone = dict(current)
            gone["metadata"] = dict(current["metadata"])
            self._rv += 1
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._record(self._rv, "DELETED", gone)
            return gone

    # -- faults

    def expire_history(self):
        """Forget all history, as an etcd compaction would: every older version gets 410."""
        with self._lock:
            self._rv += 1
            self._history.clear()
            self._compacted = self._rv
            return self._rv

    def close_watches(self):
        with self._lock:
            watches, self._watches = self._watches, set()
        for w in watches:
            w._queue.put(CLOSED)
        return len(watches)

    # -- internals (callers hold the lock)

    def _store_new(self, obj, record):
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
            raise invalid("", "metadata.name: Required value: name or generateName is required")
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        name = meta.get("name") or meta["generateName"] + uuid.uuid4().hex[:5]
        if name in self._nodes:
            raise ApiError(409, "AlreadyExists", f'nodes "{name}" already exists', name)
        new = copy.deepcopy(obj) if record else obj
        new["kind"], new["apiVersion"] = "Node", "v1"
        normalize_spec(new)
        new["metadata"]["name"] = name
        new["metadata"]["uid"] = str(uuid.uuid4())
        new["metadata"].setdefault("creationTimestamp", timestamp(self._clock()))
        if not record:
            self._rv += 1
            new["metadata"]["resourceVersion"] = str(self._rv)
            self._nodes[name] = new
            return new
        return self._write(name, new, "ADDED")

    def _write(self, name, new, event_type):
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        self._nodes[name] = new
        self._record(self._rv, event_type, new)
        return new

    def _record(self, rv, event_type, obj):
        self._history.append((rv, event_type, obj))
        while len(self._history) > self._history_limit:
            dropped_rv, _, _ = self._history.popleft()
            self._compacted = dropped_rv
        for w in self._watches:
            w._offer(event_type, obj)
