"""HTTPS front of the stand-in: kube-apiserver's paths, auth, watch streaming, faults.

Every request runs in its own daemon thread (ThreadingHTTPServer). Watches stream
HTTP/1.1 chunked bodies, one JSON event per line, each written as its own chunk the
moment it happens (the agent's cpprestsdk client reads events as they arrive).
"""

import json
import random
import socket
import ssl
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import discovery, rbac
from . import patch as patchlib
from .kinds import BY_RESOURCE, NAMESPACE
from .store import CLOSED, ApiError, bad_request, make_selector
from .tables import table

CONTROL_PREFIX = "/routelet-standin/"
VERSION = {
    "major": "1", "minor": "31", "gitVersion": "v1.31.0",
    "gitCommit": "9edcffcde5595e8a5b1a35f88c421764e575afce", "gitTreeState": "clean",
    "buildDate": "2024-08-13T07:28:49Z", "goVersion": "go1.22.5", "compiler": "gc",
    "platform": "linux/amd64",
}
# kube-apiserver picks a watch's lifetime between --min-request-timeout (1800 s) and
# twice that when the client gives no timeoutSeconds.
MIN_REQUEST_TIMEOUT = 1800


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

    def encode(self, obj, in_list=False, cache=True):
        """An object's JSON, cached for stored objects: they never change (a resourceVersion
        names one version of one object), and N agents listing 5000 Nodes would otherwise
        re-encode 55 MB each time; objects a synthetic source makes are not kept (that is
        the point of making them). A LIST's items carry no kind and apiVersion (the list has
        them), as kube-apiserver's do; a watch event's object and a GET's do."""
        key = (obj["metadata"]["resourceVersion"], in_list)
        data = self._encoded.get(key) if cache else None
        if data is None:
            if in_list:
                obj = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            data = json.dumps(obj, separators=(",", ":")).encode()
            if cache:
                if len(self._encoded) > 4 * max(1000, self.store.stored_count()):
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


@dataclass
class Request:
    """What kube-apiserver's request-info step reads off a resource path, before RBAC."""
    verb: str
    group: str
    version: str
    resource: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    extra: tuple = ()  # path parts past the subresource (no such path is served)

    @property
    def rbac_resource(self):
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def _served(request):
    """(kind, namespace for the store) of a path the stand-in serves; 404 for any other:
    a resource it does not have, a namespaced one by name without its namespace, a
    cluster-scoped one under a namespace (but /namespaces/NAME, the Namespace itself)."""
    kind = BY_RESOURCE.get((request.group, request.version, request.resource))
    if kind is not None and not request.extra and \
            request.subresource in (("", "status") if kind.status else ("",)):
        if kind.namespaced and (request.namespace or not request.name):
            return kind, request.namespace
        if not kind.namespaced and request.namespace in ("", request.name if kind is NAMESPACE
                                                         else ""):
            return kind, ""
    raise ApiError(404, "NotFound", "the server could not find the requested resource")


def resource_request(method, path, query):
    """The Request a resource path makes (/api/v1/..., /apis/GROUP/VERSION/...), or None
    for any other path (discovery, /version)."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = rest[0] == "watch"  # /api/v1/watch/nodes[/NAME], the old form
    if legacy_watch:
        rest = rest[1:]
    namespace = ""
    if rest[:1] == ["namespaces"] and len(rest) > 1:
        namespace = rest[1]
        # /namespaces/NS/RESOURCE..., but /namespaces/NAME/status is the Namespace's own.
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    rest += [""] * (3 - len(rest))
    resource, name, subresource = rest[:3]
    if method == "GET":
        verb = "get" if name else "list"
        if legacy_watch or (verb == "list" and _truthy(query.get("watch"))):
            verb = "watch"
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERBS.get(method, method.lower())
    return Request(verb, group, version, resource, namespace, name, subresource,
                   tuple(rest[3:]))


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

    def _send_json(self, code, body, headers=None, content_type="application/json"):
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
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

    # -- API

    def _route(self, method, path, query, subject, raw):
        request = resource_request(method, path, query)
        if request is None:
            if subject is rbac.ANONYMOUS:
                # Discovery is for authenticated users only (system:discovery).
                raise rbac.forbidden_path(subject, method, urlsplit(self.path).path)
            return self._discovery(method, path)
        # Authorization comes first, as in kube-apiserver: a resource the stand-in does not
        # serve (secrets) is 403 for the agent and 404 only for whom RBAC lets through.
        if not rbac.allowed(subject, request.verb, request.rbac_resource, request.name or None,
                            request.group):
            raise rbac.forbidden(subject, request.verb, request.rbac_resource,
                                 request.name or None, request.group, request.namespace)
        kind, namespace = _served(request)
        store, name, sub = self.server.app.store, request.name, request.subresource or None
        if request.verb in ("list", "watch"):
            if name:  # the old /watch/KIND/NAME form
                query["fieldSelector"] = f"metadata.name={name}"
            predicate = make_selector(query.get("labelSelector", ""),
                                      query.get("fieldSelector", ""), kind)
            if request.verb == "watch":
                return self._watch(kind, namespace, query, predicate)
            return self._list(kind, namespace, query, predicate)
        if request.verb == "create" and not name and (namespace or not kind.namespaced):
            return self._send_json(201, store.create(self._json_body(raw), kind, namespace))
        if request.verb == "get":
            obj = store.get(name, kind, namespace)
            if self._wants_table():
                return self._send_json(200, table(kind, [obj],
                                                  query.get("includeObject", "Metadata"),
                                                  {"resourceVersion":
                                                   obj["metadata"]["resourceVersion"]}))
            return self._send_json(200, obj)
        if request.verb == "update":
            return self._send_json(200, store.update(name, self._json_body(raw), sub, kind,
                                                     namespace))
        if request.verb == "patch":
            return self._send_json(200, store.patch(name, *self._patch_body(raw), sub, kind,
                                                    namespace))
        if request.verb == "delete" and not sub:
            options = self._json_body(raw)
            options = options if isinstance(options, dict) else {}
            gone = store.delete(name, options.get("preconditions"), kind, namespace,
                                options.get("gracePeriodSeconds"))
            if kind.delete_returns_object:
                return self._send_json(200, gone)
            # Deleted at once (no finalizers here); the real server then answers with a
            # Success Status naming the object.
            return self._send_json(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                         "status": "Success",
                                         "details": {**kind.details(name),
                                                     "uid": gone["metadata"].get("uid")}})
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")

    def _patch_body(self, raw):
        """(content type, parsed body) of a PATCH, or the real server's errors."""
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type not in patchlib.SUPPORTED:
            # kube-apiserver's words for a PATCH in another media type (application/json
            # included); the patch types it takes are in the README.
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        if content_type == patchlib.MERGE:
            try:
                return content_type, json.loads(raw or b"null")
            except ValueError:
                # v1.20 answers a merge patch that is not JSON with a bare 500.
                raise ApiError(500, None, "Invalid JSON Patch")
        return content_type, self._json_body(raw)

    def _discovery(self, method, path):
        app = self.server.app
        found = None
        if method == "GET" and path in ("/api", "/apis"):
            version = discovery.aggregated_version(self.headers.get("Accept"))
            if version:
                return self._send_json(200, discovery.aggregated(path == "/api", version),
                                       content_type=discovery.aggregated_content_type(version))
            found = {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                "serverAddress": f"{app.host}:{app.port}"}]} \
                if path == "/api" else discovery.api_group_list()
        elif method == "GET" and path == "/api/v1":
            found = discovery.api_resource_list("v1")
        elif method == "GET" and path.startswith("/apis/"):
            rest = path[len("/apis/"):]
            found = discovery.api_resource_list(rest) if "/" in rest else \
                discovery.api_group(rest)
        if found is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self._send_json(200, found)

    def _wants_table(self):
        return "as=Table" in (self.headers.get("Accept") or "")

    def _list(self, kind, namespace, query, predicate):
        app = self.server.app
        limit = int(query.get("limit") or 0)
        if app.faults.list_fault != "off":
            # The first page again, whatever continue token came, and never a last page.
            items, list_rv, _, _ = app.store.list(limit, "", predicate, kind, namespace)
            return self._send_json_list(kind, {"resourceVersion": str(list_rv),
                                               "continue": app.faults.next_continue()}, items)
        items, list_rv, cont, remaining = app.store.list(
            limit, query.get("continue", ""), predicate, kind, namespace)
        meta = {"resourceVersion": str(list_rv)}
        if cont:
            meta["continue"] = cont
            if remaining is not None:
                meta["remainingItemCount"] = remaining
        if self._wants_table():
            return self._send_json(200, table(kind, items, query.get("includeObject", "Metadata"),
                                              meta))
        # Serialised piecewise: a 500-node page is ~6 MB, no need for one more big copy.
        self._send_json_list(kind, meta, items)

    def _send_json_list(self, kind, meta, items):
        app = self.server.app
        head = json.dumps({"kind": f"{kind.kind}List", "apiVersion": kind.api_version,
                           "metadata": meta}, separators=(",", ":"))[:-1].encode() + b',"items":['
        cache = not app.store.synthetic(kind)
        encoded = [app.encode(i, in_list=True, cache=cache) for i in items]
        body = head + b",".join(encoded) + b"]}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _watch(self, kind, namespace, query, predicate):
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
            watch = app.store.watch(query.get("resourceVersion", ""), predicate, kind,
                                    namespace)
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
                self._event("BOOKMARK", kind.bookmark(app.store.resource_version()))
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
                        obj = table(kind, [obj], include,
                                    {"resourceVersion": obj["metadata"]["resourceVersion"]})
                    self._event(event_type, obj)
                    continue
                if bookmarks and time.monotonic() >= next_bookmark:
                    rv = watch.bookmark_version()
                    if rv is not None:
                        self._event("BOOKMARK", kind.bookmark(rv))
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
