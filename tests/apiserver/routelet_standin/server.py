"""HTTPS front of the stand-in: kube-apiserver's paths, auth, watch streaming, faults.

Every request runs in its own daemon thread (ThreadingHTTPServer). Watches stream
HTTP/1.1 chunked bodies, one JSON event per line, each written as its own chunk the
moment it happens (the agent's cpprestsdk client reads events as they arrive).
"""

import calendar
import json
import random
import socket
import ssl
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import patch as patchlib
from . import rbac
from .store import CLOSED, ApiError, bad_request, make_selector

CONTROL_PREFIX = "/routelet-standin/"
VERSION = {
    "major": "1", "minor": "31", "gitVersion": "v1.31.0",
    "gitCommit": "9edcffcde5595e8a5b1a35f88c421764e575afce", "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z", "goVersion": "go1.22.5", "compiler": "gc",
    "platform": "linux/amd64",
}
NODE_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
# kube-apiserver picks a watch's lifetime between --min-request-timeout (1800 s) and
# twice that when the client gives no timeoutSeconds.
MIN_REQUEST_TIMEOUT = 1800


_NODE_INFO = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
              "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion", "operatingSystem",
              "architecture")


def bookmark(resource_version):
    """A BOOKMARK's object as kube-apiserver's watch cache sends it: an empty Node holding
    only the resourceVersion, with the fields Go always encodes (spec, status.daemonEndpoints,
    status.nodeInfo)."""
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"resourceVersion": str(resource_version), "creationTimestamp": None},
            "spec": {},
            "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                       "nodeInfo": {k: "" for k in _NODE_INFO}}}


def api_resource_list():
    return {
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
        "resources": [
            {"name": "nodes", "singularName": "node", "namespaced": False, "kind": "Node",
             "verbs": NODE_VERBS, "shortNames": ["no"], "storageVersionHash": "XwShjMxG9Fs="},
            {"name": "nodes/status", "singularName": "", "namespaced": False, "kind": "Node",
             "verbs": ["get", "patch", "update"]},
        ] + discovery_resources("v1"),
    }


# Kinds the stand-in stores nothing of but lists in discovery, so that
# `kubectl apply --dry-run=client -f manifests/routelet.yaml` can map every object of the
# manifest to a resource; a GET of one answers 404 (not found), as for a fresh cluster.
DISCOVERY_ONLY = {
    "v1": [("serviceaccounts", "ServiceAccount", True), ("configmaps", "ConfigMap", True)],
    "apps/v1": [("daemonsets", "DaemonSet", True)],
    "rbac.authorization.k8s.io/v1": [("clusterroles", "ClusterRole", False),
                                     ("clusterrolebindings", "ClusterRoleBinding", False)],
    # manifests/node-policy.yaml
    "admissionregistration.k8s.io/v1": [
        ("validatingadmissionpolicies", "ValidatingAdmissionPolicy", False),
        ("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False)],
}
DISCOVERY_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def discovery_resources(group_version):
    return [{"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
             "verbs": DISCOVERY_VERBS} for name, kind, namespaced in DISCOVERY_ONLY[group_version]]


def api_group_list():
    groups = []
    for gv in DISCOVERY_ONLY:
        if "/" not in gv:
            continue
        group, version = gv.split("/")
        groups.append({"name": group, "versions": [{"groupVersion": gv, "version": version}],
                       "preferredVersion": {"groupVersion": gv, "version": version}})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


# Hostile-server modes (`ctl list-fault`, `ctl watch-fault`): what a broken or hostile API
# server may answer, for the client's bounds. A real kube-apiserver never does these.
LIST_FAULTS = (
    "off",
    # every page is the first page again with "continue":"again", forever
    "repeat-continue",
    # every page is the first page again with a fresh continue token, forever
    "endless-continue",
)
WATCH_FAULTS = (
    "off",
    # 200, one ERROR event carrying a Status with code 500, end of stream
    "error-event",
    # 200, one BOOKMARK at the current resourceVersion, end of stream
    "bookmark-close",
    # every watch request is answered with HTTP 500 (a LIST still works)
    "http-500",
)


class Faults:
    """Faults set through the control endpoint, applied to API requests (not to control)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.fail_remaining, self.fail_code, self.retry_after, self.delay_ms = 0, 500, 1, 0
        self.list_fault, self.watch_fault = "off", "off"
        self.continue_serial = 0

    def next_continue(self):
        """The continue token of the next page under a LIST fault."""
        with self._lock:
            if self.list_fault == "repeat-continue":
                return "again"
            self.continue_serial += 1
            return f"again-{self.continue_serial}"

    def set_fail(self, count, code, retry_after):
        with self._lock:
            self.fail_remaining, self.fail_code, self.retry_after = count, code, retry_after

    def take_failure(self):
        with self._lock:
            if self.fail_remaining <= 0:
                return None
            self.fail_remaining -= 1
            return self.fail_code, self.retry_after

    def snapshot(self):
        with self._lock:
            return {"failRemaining": self.fail_remaining, "failCode": self.fail_code,
                    "retryAfterSeconds": self.retry_after, "delayMs": self.delay_ms,
                    "listFault": self.list_fault, "watchFault": self.watch_fault}


# ---------------------------------------------------------------- tables

_COLUMNS = [
    ("Name", "string", "name", 0), ("Status", "string", "", 0), ("Roles", "string", "", 0),
    ("Age", "string", "", 0), ("Version", "string", "", 0), ("Internal-IP", "string", "", 1),
    ("External-IP", "string", "", 1), ("OS-Image", "string", "", 1),
    ("Kernel-Version", "string", "", 1), ("Container-Runtime", "string", "", 1),
]


def _age(created):
    try:
        seconds = max(0, int(time.time() - calendar.timegm(
            time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))))
    except (TypeError, ValueError):
        return "<unknown>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _row(node, include):
    meta, status = node.get("metadata", {}), node.get("status", {})
    ready = next((c.get("status") for c in status.get("conditions") or []
                  if c.get("type") == "Ready"), "Unknown")
    state = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in (meta.get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    row = {"cells": [meta.get("name"), state, ",".join(roles), _age(meta.get("creationTimestamp")),
                     info.get("kubeletVersion", ""), addresses.get("InternalIP", "<none>"),
                     addresses.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
                     info.get("kernelVersion", "<unknown>"),
                     info.get("containerRuntimeVersion", "<unknown>")]}
    if include == "Object":
        row["object"] = node
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": meta}
    return row


def table(nodes, include, list_meta):
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": [{"name": n, "type": t, "format": f, "description": "",
                                   "priority": p} for n, t, f, p in _COLUMNS],
            "rows": [_row(n, include) for n in nodes]}


# ---------------------------------------------------------------- HTTP

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, app):
        self.app = app
        self.connections, self.connections_lock = set(), threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self):
        sock, address = self.socket.accept()
        # The TLS handshake happens on first read, in the request's own thread, so a slow
        # client never stalls accept().
        return self.app.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False), address

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)

    def close_connections(self):
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass


class StandIn:
    """The running server: store, tokens, faults, and a listener that can stop and restart."""

    def __init__(self, store, host, port, cert, key, subjects, bookmark_interval=1.0,
                 verbose=False, event_log=None):
        self.store, self.host, self.port = store, host, port
        # Benchmarks: one line per watch event once written to the socket, stamped with
        # CLOCK_MONOTONIC (one clock for every namespace on the machine).
        self.event_log, self.event_log_lock = event_log, threading.Lock()
        self.subjects = subjects  # token -> rbac.Subject
        self.bookmark_interval = bookmark_interval
        self.verbose = verbose
        self.faults = Faults()
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.load_cert_chain(cert, key)
        self._server, self._lock = None, threading.Lock()
        self._encoded = {}

    def encode(self, node, in_list=False):
        """A stored Node's JSON, cached: stored objects never change, and N agents listing
        5000 Nodes would otherwise re-encode 55 MB each time. A LIST's items carry no kind
        and apiVersion (the list has them), as kube-apiserver's do; a watch event's object
        and a GET's do."""
        key = (node["metadata"]["name"], node["metadata"]["resourceVersion"], in_list)
        data = self._encoded.get(key)
        if data is None:
            if in_list:
                node = {k: v for k, v in node.items() if k not in ("kind", "apiVersion")}
            data = json.dumps(node, separators=(",", ":")).encode()
            if len(self._encoded) > 4 * max(1000, self.store.node_count()):
                self._encoded.clear()  # drop versions nobody lists any more
            self._encoded[key] = data
        return data

    @property
    def listening(self):
        return self._server is not None

    def listen(self):
        with self._lock:
            if self._server is not None:
                return
            self._server = _Server((self.host, self.port), self)
            self.port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True, name="standin-accept").start()

    def unlisten(self):
        """Close the listening socket and every connection; the state stays in memory."""
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        self.store.close_watches()
        server.close_connections()

    def restart(self, down_ms):
        self.unlisten()
        time.sleep(down_ms / 1000.0)  # the outage the caller asked for
        self.listen()


def _query(url):
    return {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}


def _truthy(value):
    return value is not None and value.lower() in ("1", "true")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "routelet-standin"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write(f"standin: {self.address_string()} {fmt % args}\n")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    # -- plumbing

    def _send_json(self, code, body, headers=None):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error, headers=None):
        self._send_json(error.code, error.status(), headers)

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                raw += self.rfile.read(size)
                self.rfile.readline()
            return raw
        return self.rfile.read(length) if length else b""

    def _json_body(self, raw):
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise bad_request(f"the request body is not valid JSON: {e}")

    def _subject(self):
        """The caller, rbac.ANONYMOUS without credentials; 401 for a bad token."""
        header = self.headers.get("Authorization")
        if header is None:
            return rbac.ANONYMOUS
        scheme, _, token = header.partition(" ")
        subject = self.server.app.subjects.get(token.strip()) if scheme.lower() == "bearer" \
            else None
        if subject is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return subject

    def _handle(self, method):
        app = self.server.app
        url = urlsplit(self.path)
        path, query = url.path.rstrip("/") or "/", _query(url)
        try:
            raw = self._read_body()
            subject = self._subject()
            if path.startswith(CONTROL_PREFIX.rstrip("/")):
                return self._control(method, path, query, subject)
            if app.faults.delay_ms:
                time.sleep(app.faults.delay_ms / 1000.0)
            failure = app.faults.take_failure()
            if failure is not None:
                code, retry_after = failure
                if code == 429:
                    error = ApiError(429, "TooManyRequests",
                                     "Too many requests, please try again later.")
                    return self._send_error(error, {"Retry-After": str(retry_after)})
                return self._send_error(ApiError(code, "InternalError",
                                                 "Internal error occurred: injected fault"))
            if path in rbac.PUBLIC_PATHS:
                if path == "/version":
                    return self._send_json(200, VERSION)
                return self._send_text(200, "ok")
            self._route(method, path, query, subject, raw)
        except ApiError as e:
            self._send_error(e)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # a bug here must show, not hang the client
            traceback.print_exc()
            self._send_error(ApiError(500, "InternalError", f"Internal error occurred: {e}"))

    def _send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorize(self, subject, verb, resource, name=None):
        if not rbac.allowed(subject, verb, resource, name):
            raise rbac.forbidden(subject, verb, resource, name)

    # -- API

    def _route(self, method, path, query, subject, raw):
        app = self.server.app
        parts = path.strip("/").split("/")
        if subject is rbac.ANONYMOUS and parts[:3] != ["api", "v1", "nodes"] and \
                parts[:4] != ["api", "v1", "watch", "nodes"]:
            # Discovery is for authenticated users only (system:discovery).
            raise rbac.forbidden_path(subject, method, urlsplit(self.path).path)
        if method == "GET" and path == "/api":
            return self._send_json(200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": f"{app.host}:{app.port}"}]})
        if method == "GET" and path == "/apis":
            return self._send_json(200, api_group_list())
        if method == "GET" and path.startswith("/apis/") and path[len("/apis/"):] in DISCOVERY_ONLY:
            gv = path[len("/apis/"):]
            return self._send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                         "groupVersion": gv, "resources": discovery_resources(gv)})
        if method == "GET" and path == "/api/v1":
            return self._send_json(200, api_resource_list())
        if parts[:3] == ["api", "v1", "watch"] and parts[3:4] == ["nodes"] and len(parts) <= 5:
            # The legacy /api/v1/watch/nodes[/NAME] form.
            if len(parts) == 5:
                query["fieldSelector"] = f"metadata.name={parts[4]}"
            query["watch"] = "true"
            parts = ["api", "v1", "nodes"]
        if parts[:3] != ["api", "v1", "nodes"] or len(parts) > 5 or \
                (len(parts) == 5 and parts[4] != "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = parts[3] if len(parts) >= 4 else None
        sub = "status" if len(parts) == 5 else None
        resource = "nodes/status" if sub else "nodes"
        store = app.store
        if name is None:
            if method == "GET":
                watch = _truthy(query.get("watch"))
                self._authorize(subject, "watch" if watch else "list", "nodes")
                predicate = make_selector(query.get("labelSelector", ""),
                                          query.get("fieldSelector", ""))
                if watch:
                    return self._watch(query, predicate)
                return self._list(query, predicate)
            if method == "POST":
                self._authorize(subject, "create", "nodes")
                return self._send_json(201, store.create(self._json_body(raw)))
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method "
                                                    "on the requested resource")
        if method == "GET":
            self._authorize(subject, "get", resource, name)
            node = store.get(name)
            if self._wants_table():
                return self._send_json(200, table([node], query.get("includeObject", "Metadata"),
                                                  {"resourceVersion":
                                                   node["metadata"]["resourceVersion"]}))
            return self._send_json(200, node)
        if method == "PUT":
            self._authorize(subject, "update", resource, name)
            return self._send_json(200, store.update(name, self._json_body(raw), sub))
        if method == "PATCH":
            self._authorize(subject, "patch", resource, name)
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type not in patchlib.SUPPORTED:
                # kube-apiserver's words for a PATCH in another media type
                # (application/json included); the patch types it takes are in the README.
                error = ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type")
                error.details = {}
                raise error
            if content_type == patchlib.MERGE:
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    # v1.20 answers a merge patch that is not JSON with a bare 500.
                    raise ApiError(500, None, "Invalid JSON Patch")
            else:
                body = self._json_body(raw)
            return self._send_json(200, store.patch(name, content_type, body, sub))
        if method == "DELETE" and sub is None:
            self._authorize(subject, "delete", resource, name)
            options = self._json_body(raw) or {}
            gone = store.delete(name, options.get("preconditions") if isinstance(options, dict)
                                else None)
            # Nodes are deleted at once (no finalizers here); the real server then answers
            # with a Success Status naming the object.
            return self._send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                         "status": "Success",
                                         "details": {"name": name, "kind": "nodes",
                                                     "uid": gone["metadata"].get("uid")}})
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _list(self, query, predicate):
        app = self.server.app
        limit = int(query.get("limit") or 0)
        if app.faults.list_fault != "off":
            # The first page again, whatever continue token came, and never a last page.
            items, list_rv, _, _ = app.store.list(limit, "", predicate)
            return self._send_json_list({"resourceVersion": str(list_rv),
                                         "continue": app.faults.next_continue()}, items)
        items, list_rv, cont, remaining = app.store.list(
            limit, query.get("continue", ""), predicate)
        meta = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
            meta["remainingItemCount"] = remaining
        if self._wants_table():
            return self._send_json(200, table(items, query.get("includeObject", "Metadata"), meta))
        # Serialised piecewise: a 500-node page is ~6 MB, no need for one more big copy.
        self._send_json_list(meta, items)

    def _send_json_list(self, meta, items):
        head = json.dumps({"kind": "NodeList", "apiVersion": "v1", "metadata": meta},
                          separators=(",", ":"))[:-1].encode() + b',"items":['
        encoded = [self.server.app.encode(i, in_list=True) for i in items]
        body = head + b",".join(encoded) + b"]}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _watch(self, query, predicate):
        app = self.server.app
        as_table = self._wants_table()
        include = query.get("includeObject", "Metadata")
        timeout = query.get("timeoutSeconds")
        lifetime = float(timeout) if timeout else MIN_REQUEST_TIMEOUT * (1 + random.random())
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        fault = app.faults.watch_fault
        if fault == "http-500":
            raise ApiError(500, "InternalError", "Internal error occurred: injected watch fault")
        try:
            watch = app.store.watch(query.get("resourceVersion", ""), predicate)
            error = None
        except ApiError as e:
            if e.code != 410:
                raise
            # Like the watch cache: a too-old version still gets 200 and one ERROR event.
            watch, error = None, e
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if error is not None:
                self._event("ERROR", error.status())
                return
            if fault == "error-event":
                self._event("ERROR", ApiError(500, "InternalError",
                                              "Internal error occurred: injected watch fault")
                            .status())
                return
            if fault == "bookmark-close":
                self._event("BOOKMARK", bookmark(app.store.resource_version()))
                return
            now = time.monotonic()
            deadline, next_bookmark = now + lifetime, now + app.bookmark_interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return
                wait = deadline - now
                if bookmarks:
                    wait = min(wait, max(0.0, next_bookmark - now))
                event = watch.next(wait)
                if event is CLOSED:
                    return
                if event is not None:
                    event_type, obj = event
                    if as_table:
                        obj = table([obj], include,
                                    {"resourceVersion": obj["metadata"]["resourceVersion"]})
                    self._event(event_type, obj)
                    continue
                if bookmarks and time.monotonic() >= next_bookmark:
                    rv = watch.bookmark_version()
                    if rv is not None:
                        self._event("BOOKMARK", bookmark(rv))
                    next_bookmark = time.monotonic() + app.bookmark_interval
        finally:
            if watch is not None:
                watch.stop()
            try:
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True

    def _event(self, event_type, obj):
        line = json.dumps({"type": event_type, "object": obj}, separators=(",", ":")) + "\n"
        self._write_chunk(line.encode())
        app = self.server.app
        if app.event_log is not None:
            meta = obj.get("metadata", {})
            with app.event_log_lock:
                app.event_log.write(f"{time.monotonic_ns()} {event_type} {meta.get('name', '-')}"
                                    f" {meta.get('resourceVersion', '-')}\n")

    # -- control

    def _control(self, method, path, query, subject):
        app = self.server.app
        if not subject.admin:
            raise ApiError(403, "Forbidden", f'User "{subject.user}" cannot use the stand-in '
                                             "control endpoint; use the admin token")
        command = path[len(CONTROL_PREFIX):]
        if method == "GET" and command == "status":
            return self._send_json(200, {"resourceVersion": app.store.resource_version(),
                                         "watches": app.store.watch_count(),
                                         "port": app.port, **app.faults.snapshot()})
        if method != "POST":
            raise ApiError(405, "MethodNotAllowed", "control commands are POST requests")
        if command == "close-watches":
            return self._send_json(200, {"closed": app.store.close_watches()})
        if command == "expire-history":
            return self._send_json(200, {"resourceVersion": app.store.expire_history()})
        if command == "fail":
            count, code = int(query.get("count", "1")), int(query.get("code", "500"))
            if code not in (429, 500, 503):
                raise bad_request(f"fail code {code}: use 429, 500 or 503")
            app.faults.set_fail(count, code, int(query.get("retryAfter", "1")))
            return self._send_json(200, app.faults.snapshot())
        if command == "delay":
            app.faults.delay_ms = int(query.get("ms", "0"))
            return self._send_json(200, app.faults.snapshot())
        if command in ("list-fault", "watch-fault"):
            mode = query.get("mode", "")
            modes = LIST_FAULTS if command == "list-fault" else WATCH_FAULTS
            if mode not in modes:
                raise bad_request(f"{command} mode {mode!r}: use one of {', '.join(modes)}")
            setattr(app.faults, command.replace("-", "_"), mode)
            return self._send_json(200, app.faults.snapshot())
        if command == "reset":
            app.faults.set_fail(0, 500, 1)
            app.faults.delay_ms = 0
            app.faults.list_fault = app.faults.watch_fault = "off"
            return self._send_json(200, app.faults.snapshot())
        if command == "restart":
            down_ms = int(query.get("downMs", "500"))
            self._send_json(200, {"port": app.port, "downMs": down_ms})
            self.close_connection = True
            # From another thread: unlisten() waits for the accept loop and closes this
            # very connection.
            threading.Thread(target=app.restart, args=(down_ms,), daemon=True).start()
            return None
        raise ApiError(404, "NotFound", f"unknown control command {command!r}; see "
                                        "tests/apiserver/README.md")
