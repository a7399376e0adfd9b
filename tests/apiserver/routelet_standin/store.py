"""Storage with kube-apiserver's client-visible semantics, without HTTP, for every kind.

One global resourceVersion counter across kinds (etcd's revision), a bounded event history
per kind for watch replay (older resourceVersions get 410 Expired, as from the watch cache
after an etcd compaction), paginated LIST with continue tokens in key order (namespace/name,
as etcd's keys), optimistic concurrency (409), and the update rules of a resource and its
status subresource.

An object is either stored or made on demand from its index by a synthetic source (podgen:
150 000 Pods made once at start would take gigabytes). A stored object overrides the
source's object of the same key, and a deleted one of the source's is remembered as gone,
so only what was created, changed or deleted takes memory.

Stored objects are never mutated: every write stores a fresh dict, so readers (LIST
pages, watch events) can hold references without copying 10 KB Nodes.
"""

import base64
import bisect
import collections
import copy
import json
import queue
import threading
import time
import uuid

from . import patch as patchlib
from .kinds import KINDS, NAMESPACE, NODE


class ApiError(Exception):
    """An error the API answers with a Status object. A reason of None leaves the field out,
    as kube-apiserver does for errors that are not its own API errors (a bare 500)."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = details
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


def not_found(kind, name):
    return ApiError(404, "NotFound", f'{kind.qualified} "{name}" not found', kind.details(name))


def conflict(kind, name):
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {kind.qualified} "{name}": the object has '
                    "been modified; please apply your changes to the latest version and try "
                    "again", kind.details(name))


def expired(requested, oldest):
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def invalid(kind, name, message):
    qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
    details = {"name": name, **({"group": kind.group} if kind.group else {}), "kind": kind.kind}
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {message}', details)


def timestamp(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def parse_resource_version(text, what="resourceVersion"):
    """A watch's resourceVersion; kube-apiserver v1.20 answers a malformed one with a bare
    500 (no reason), not a 400."""
    if not text.isdigit():
        raise ApiError(500, None, f'{what}: Invalid value: "{text}": strconv.ParseUint: '
                                  f'parsing "{text}": invalid syntax')
    return int(text)


def key_of(kind, obj):
    """The object's key, as etcd orders a LIST: namespace/name, or the name alone."""
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}" if kind.namespaced else meta["name"]


# ---------------------------------------------------------------- selectors

def make_selector(label_selector="", field_selector="", kind=NODE):
    """Predicate for the equality-based label and field selectors kubectl and agents use;
    None for no selector at all (the real server then counts the rest of a paged LIST)."""
    tests = [_label_test(t.strip()) for t in _split(label_selector)]
    tests += [_field_test(t.strip(), kind) for t in _split(field_selector)]
    if not tests:
        return None
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


_META_FIELDS = {
    "metadata.name": lambda o: o["metadata"]["name"],
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}


def _field_test(term, kind):
    key, op, value = _equality(term)
    get = _META_FIELDS.get(key) or kind.fields.get(key)
    if op is None or get is None:
        # Same wording as the real server for unknown field labels.
        raise bad_request(f'field label not supported: {key}')
    if op == "!=":
        return lambda obj: get(obj) != value
    return lambda obj: get(obj) == value


# ---------------------------------------------------------------- watch

CLOSED = object()  # put in a Watch's queue to end it


class Watch:
    def __init__(self, store, objects, predicate):
        self._store, self._objects, self._predicate = store, objects, predicate
        self._queue = queue.Queue()
        self._initial = None  # the current state a watch without a version starts with
        self._closed = False

    def next(self, timeout):
        """The next (type, object) event, None after `timeout` seconds, or CLOSED."""
        if self._initial is not None:
            # Made as it is sent: 150 000 synthetic Pods are never all in memory at once.
            for obj in self._initial:
                if self._closed:
                    return CLOSED
                if self._predicate(obj):
                    return "ADDED", obj
            self._initial = None
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
            if self._initial is not None or not self._queue.empty():
                return None
            return self._store._rv

    def stop(self):
        with self._store._lock:
            self._objects.watches.discard(self)

    def _offer(self, event_type, obj):
        if self._predicate(obj):
            self._queue.put((event_type, obj))

    def _close(self):
        self._closed = True
        self._queue.put(CLOSED)


# ---------------------------------------------------------------- one kind

class NoSource:
    """The synthetic source of a kind without synthetic objects."""

    def __len__(self):
        return 0

    def __getitem__(self, index):
        raise IndexError(index)

    def index(self, key):
        return None


def _contains(sorted_keys, key):
    i = bisect.bisect_left(sorted_keys, key)
    return i < len(sorted_keys) and sorted_keys[i] == key


def _discard(sorted_keys, key):
    i = bisect.bisect_left(sorted_keys, key)
    if i < len(sorted_keys) and sorted_keys[i] == key:
        del sorted_keys[i]


class Objects:
    """The objects of one kind, in key order: the synthetic source's (a sequence of keys in
    order, with make(index) and index(key)) merged with the stored ones.

    A view is (stored objects by key, sorted keys stored but not the source's, sorted keys
    of the source's that were deleted): the live one, or a copy for a watch that sends the
    current state while writes go on."""

    def __init__(self, kind):
        self.kind = kind
        self.stored, self.extra, self.gone = {}, [], []
        self.source, self.source_rv = NoSource(), 0  # source object i has source_rv + i
        self.history = collections.deque()
        self.compacted = 0  # a watch may start from any rv >= this one
        self.watches = set()

    def live(self):
        return self.stored, self.extra, self.gone

    def snapshot(self):
        return dict(self.stored), list(self.extra), list(self.gone)

    def made(self, index):
        obj = self.source.make(index)
        obj["metadata"]["resourceVersion"] = str(self.source_rv + index)
        return obj

    def lookup(self, key):
        obj = self.stored.get(key)
        if obj is None:
            index = self.source.index(key)
            if index is not None and not _contains(self.gone, key):
                obj = self.made(index)
        return obj

    def put(self, key, obj):
        if key not in self.stored and self.source.index(key) is None:
            bisect.insort(self.extra, key)
        _discard(self.gone, key)
        self.stored[key] = obj

    def remove(self, key):
        self.stored.pop(key, None)
        if self.source.index(key) is None:
            _discard(self.extra, key)
        else:
            bisect.insort(self.gone, key)

    def entries(self, view, after, prefix):
        """The objects of `view` whose keys come after `after` and start with `prefix`."""
        stored, extra, gone = view
        source, start = self.source, after or prefix
        end = prefix + "\x7f" if prefix else None  # past every key of the namespace
        i, n = bisect.bisect_right(source, start), len(source)
        j = bisect.bisect_right(extra, start)
        while True:
            made = source[i] if i < n else None
            other = extra[j] if j < len(extra) else None
            if made is None and other is None:
                return
            if other is None or (made is not None and made < other):
                key, index = made, i
                i += 1
            else:
                key, index = other, None
                j += 1
            if end is not None and key >= end:
                return
            obj = stored.get(key)
            if obj is None:
                if index is None or _contains(gone, key):
                    continue
                obj = self.made(index)
            yield obj

    def count(self, after, prefix):
        """How many objects come after `after` under `prefix` (a LIST's remainingItemCount)."""
        start = after or prefix
        end = prefix + "\x7f" if prefix else None

        def between(keys):
            high = bisect.bisect_left(keys, end) if end is not None else len(keys)
            return max(0, high - bisect.bisect_right(keys, start))

        return between(self.source) - between(self.gone) + between(self.extra)

    def record(self, rv, event_type, obj, history_limit):
        self.history.append((rv, event_type, obj))
        while len(self.history) > history_limit:
            dropped_rv, _, _ = self.history.popleft()
            self.compacted = dropped_rv
        for w in self.watches:
            w._offer(event_type, obj)


# ---------------------------------------------------------------- store

class Store:
    """Every kind's objects. Each method takes the kind (Node when not given) and, for a
    namespaced kind, the namespace: "" for all of them when listing and watching."""

    def __init__(self, history_limit=1000, clock=time.time):
        self._lock = threading.RLock()
        self._clock = clock
        self._rv = 0
        self._history_limit = history_limit
        self._kinds = {kind: Objects(kind) for kind in KINDS}

    # -- reads

    def resource_version(self):
        with self._lock:
            return self._rv

    def get(self, name, kind=NODE, namespace=""):
        with self._lock:
            obj = self._kinds[kind].lookup(self._key(kind, namespace, name))
        if obj is None:
            raise not_found(kind, name)
        return obj

    def list(self, limit=0, continue_token="", predicate=None, kind=NODE, namespace=""):
        """One page: (items, list resourceVersion, continue token or "", remaining count or
        None when a predicate filters)."""
        objects = self._kinds[kind]
        prefix = f"{namespace}/" if namespace else ""
        with self._lock:
            list_rv, start = self._rv, ""
            if continue_token:
                list_rv, start = self._decode_continue(objects, continue_token)
            items, cont, remaining = [], "", None
            for obj in objects.entries(objects.live(), prefix + start if start else "", prefix):
                if predicate is not None and not predicate(obj):
                    continue
                if limit and len(items) == limit:
                    last = key_of(kind, items[-1])
                    cont = self._encode_continue(list_rv, last[len(prefix):])
                    if predicate is None:
                        remaining = objects.count(last, prefix)
                    break
                items.append(obj)
        return items, list_rv, cont, remaining

    def _encode_continue(self, list_rv, last_key):
        # The real server's token: base64 of {"v","rv","start"}; start is the last key
        # returned (after the list's prefix) plus "\x00", i.e. the first key after it.
        token = {"v": "meta.k8s.io/v1", "rv": list_rv, "start": last_key + "\x00"}
        return base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")

    def _decode_continue(self, objects, text):
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            token = json.loads(raw)
            list_rv, start = int(token["rv"]), str(token["start"])
        except (ValueError, KeyError, TypeError):
            raise bad_request(f"continue key is not valid: {text!r}")
        if list_rv == -1:
            # The token a 410 below hands out: the rest of the list, at the current version.
            list_rv = self._rv
        elif list_rv < objects.compacted:
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

    def watch(self, resource_version="", predicate=None, kind=NODE, namespace=""):
        """A Watch replaying history after `resource_version` ("" or "0": current state)."""
        objects = self._kinds[kind]

        def matches(obj):
            return (not namespace or obj["metadata"].get("namespace") == namespace) and \
                (predicate is None or predicate(obj))

        w = Watch(self, objects, matches)
        with self._lock:
            if resource_version in ("", "0"):
                w._initial = objects.entries(objects.snapshot(), "",
                                             f"{namespace}/" if namespace else "")
            else:
                rv = parse_resource_version(resource_version)
                if rv < objects.compacted:
                    raise expired(rv, objects.compacted)
                for event_rv, event_type, obj in objects.history:
                    if event_rv > rv:
                        w._offer(event_type, obj)
            objects.watches.add(w)
        return w

    def stored_count(self):
        """Objects held in memory (not the ones a synthetic source makes on demand)."""
        with self._lock:
            return sum(len(o.stored) for o in self._kinds.values())

    def synthetic(self, kind):
        """Whether objects of `kind` are made on demand (not worth caching)."""
        return len(self._kinds[kind].source) > 0

    def watch_count(self):
        with self._lock:
            return sum(len(o.watches) for o in self._kinds.values())

    # -- writes

    def load(self, objects, kind=NODE):
        """Start-up objects: stored with resourceVersions, but without watch history.

        The store takes ownership of `objects` (no copy: 5000 Nodes load in a blink).
        """
        with self._lock:
            for obj in objects:
                self._store_new(kind, obj, None, record=False)
            self._kinds[kind].compacted = self._rv

    def load_source(self, source, kind):
        """Start-up objects made on demand: len(source) of them, in key order, each with a
        resourceVersion of its own as if written one after the other."""
        with self._lock:
            objects = self._kinds[kind]
            objects.source, objects.source_rv = source, self._rv + 1
            self._rv += len(source)
            objects.compacted = self._rv

    def create(self, obj, kind=NODE, namespace=""):
        if not isinstance(obj, dict):
            raise bad_request(f"the body must be a {kind.kind} object")
        with self._lock:
            return self._store_new(kind, obj, namespace, record=True)

    def update(self, name, obj, subresource=None, kind=NODE, namespace=""):
        """PUT: 409 on a stale metadata.resourceVersion; for a kind with status, the main
        resource keeps status and the status subresource keeps spec."""
        if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
            raise bad_request(f"the body must be a {kind.kind} object with metadata")
        with self._lock:
            current = self.get(name, kind, namespace)
            if obj["metadata"].get("name", name) != name:
                raise bad_request(f"the name of the object ({obj['metadata'].get('name')}) "
                                  f"does not match the name on the URL ({name})")
            self._check_namespace(kind, obj, namespace)
            wanted_rv = obj["metadata"].get("resourceVersion")
            if wanted_rv and str(wanted_rv) != current["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            new = copy.deepcopy(obj)
            new["kind"], new["apiVersion"] = kind.kind, kind.api_version
            meta = new["metadata"]
            meta["name"] = name
            for kept in ("namespace", "uid", "creationTimestamp", "deletionTimestamp"):
                if kept in current["metadata"]:
                    meta[kept] = current["metadata"][kept]
                else:
                    meta.pop(kept, None)
            if kind.status:
                # kube-apiserver's strategies: an update of the main resource cannot change
                # status, an update of /status cannot change spec (metadata such as labels
                # and annotations may change through either).
                kept_part = "spec" if subresource == "status" else "status"
                if kept_part in current:
                    new[kept_part] = copy.deepcopy(current[kept_part])
                else:
                    new.pop(kept_part, None)
            kind.defaults(new, False)
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            if new == current:
                return current  # no-op writes do not move the revision, as in etcd3 storage
            return self._write(kind, new, "MODIFIED")

    def patch(self, name, content_type, body, subresource=None, kind=NODE, namespace=""):
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
            current = self.get(name, kind, namespace)
            try:
                patched = patchlib.apply(content_type, current, body)
            except patchlib.PatchError as e:
                raise invalid(kind, name, str(e))
            if not isinstance(patched, dict) or not isinstance(patched.get("metadata"), dict):
                raise invalid(kind, name, "the patched object has no metadata")
            return self.update(name, patched, subresource, kind, namespace)

    def delete(self, name, preconditions=None, kind=NODE, namespace="", grace_period=None):
        """The deleted object, or for a graceful kind (a Pod) the object marked for deletion,
        which is what the DELETE answers; `grace_period` 0 deletes at once."""
        with self._lock:
            current = self.get(name, kind, namespace)
            pre = preconditions or {}
            if pre.get("resourceVersion") and pre["resourceVersion"] != \
                    current["metadata"]["resourceVersion"]:
                raise conflict(kind, name)
            if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
                raise conflict(kind, name)
            marked = None
            if kind.graceful and grace_period != 0 and \
                    "deletionTimestamp" not in current["metadata"]:
                # What the real server writes; its kubelet then stops the containers within
                # the grace period and deletes the Pod for good, which here happens at once.
                marked = copy.deepcopy(current)
                marked["metadata"]["deletionTimestamp"] = timestamp(self._clock())
                marked["metadata"]["deletionGracePeriodSeconds"] = \
                    grace_period if grace_period is not None else \
                    (current.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                current = self._write(kind, marked, "MODIFIED")
            objects = self._kinds[kind]
            objects.remove(key_of(kind, current))
            # The DELETED event carries the revision of the deletion, as a watch on etcd does.
            gone = dict(current)
            gone["metadata"] = dict(current["metadata"])
            self._rv += 1
            gone["metadata"]["resourceVersion"] = str(self._rv)
            objects.record(self._rv, "DELETED", gone, self._history_limit)
            return marked or gone

    # -- faults

    def expire_history(self):
        """Forget all history, as an etcd compaction would: every older version gets 410."""
        with self._lock:
            self._rv += 1
            for objects in self._kinds.values():
                objects.history.clear()
                objects.compacted = self._rv
            return self._rv

    def close_watches(self):
        with self._lock:
            watches = set()
            for objects in self._kinds.values():
                watches |= objects.watches
                objects.watches = set()
        for w in watches:
            w._close()
        return len(watches)

    # -- internals (callers hold the lock)

    @staticmethod
    def _key(kind, namespace, name):
        return f"{namespace}/{name}" if kind.namespaced else name

    @staticmethod
    def _check_namespace(kind, obj, namespace):
        given = obj["metadata"].get("namespace")
        if kind.namespaced and given and namespace and given != namespace:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")

    def _store_new(self, kind, obj, namespace, record):
        """A new object; `namespace` is the request's (None at start-up: the object's own)."""
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
            raise invalid(kind, "", "metadata.name: Required value: name or generateName is "
                                    "required")
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if kind.namespaced:
            self._check_namespace(kind, obj, namespace)
            namespace = namespace or meta.get("namespace") or ""
            if self._kinds[NAMESPACE].lookup(namespace) is None:
                raise not_found(NAMESPACE, namespace)
        name = meta.get("name") or meta["generateName"] + uuid.uuid4().hex[:5]
        key = self._key(kind, namespace, name)
        objects = self._kinds[kind]
        if objects.lookup(key) is not None:
            raise ApiError(409, "AlreadyExists", f'{kind.qualified} "{name}" already exists',
                           kind.details(name))
        new = copy.deepcopy(obj) if record else obj
        new["kind"], new["apiVersion"] = kind.kind, kind.api_version
        meta = new["metadata"]
        meta["name"] = name
        if kind.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta.setdefault("creationTimestamp", timestamp(self._clock()))
        kind.defaults(new, True)
        if not record:
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            objects.put(key, new)
            return new
        return self._write(kind, new, "ADDED")

    def _write(self, kind, new, event_type):
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        objects = self._kinds[kind]
        objects.put(key_of(kind, new), new)
        objects.record(self._rv, event_type, new, self._history_limit)
        return new
