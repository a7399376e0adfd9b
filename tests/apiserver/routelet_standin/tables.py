"""kubectl's tables (`Accept: ...;as=Table`): the columns kube-apiserver prints per kind."""

import calendar
import time

from .kinds import NAMESPACE, NETWORK_POLICY, NODE, POD


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


def _node_cells(node):
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
    return [meta.get("name"), state, ",".join(roles), _age(meta.get("creationTimestamp")),
            info.get("kubeletVersion", ""), addresses.get("InternalIP", "<none>"),
            addresses.get("ExternalIP", "<none>"), info.get("osImage", "<unknown>"),
            info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


def _pod_cells(pod):
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    containers = status.get("containerStatuses") or []
    state = status.get("reason") or status.get("phase") or "Unknown"
    for c in containers:
        waiting = (c.get("state") or {}).get("waiting") or {}
        state = waiting.get("reason") or state
    if meta.get("deletionTimestamp"):
        state = "Terminating"
    ready = sum(1 for c in containers if c.get("ready"))
    return [meta.get("name"), f"{ready}/{len(spec.get('containers') or [])}", state,
            sum(c.get("restartCount", 0) for c in containers),
            _age(meta.get("creationTimestamp")), status.get("podIP") or "<none>",
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>",
            "<none>"]


def _namespace_cells(ns):
    meta = ns.get("metadata", {})
    return [meta.get("name"), (ns.get("status") or {}).get("phase", ""),
            _age(meta.get("creationTimestamp"))]


def format_selector(selector):
    """A LabelSelector as kubectl shows it: app=web,tier in (api,db); <none> when empty."""
    terms = [f"{k}={v}" for k, v in sorted(((selector or {}).get("matchLabels") or {}).items())]
    for e in (selector or {}).get("matchExpressions") or []:
        op, values = e.get("operator"), ",".join(e.get("values") or [])
        terms.append({"In": f"{e.get('key')} in ({values})",
                      "NotIn": f"{e.get('key')} notin ({values})",
                      "Exists": e.get("key"), "DoesNotExist": f"!{e.get('key')}"}.get(op, "?"))
    return ",".join(terms) or "<none>"


def _policy_cells(policy):
    meta = policy.get("metadata", {})
    return [meta.get("name"), format_selector((policy.get("spec") or {}).get("podSelector")),
            _age(meta.get("creationTimestamp"))]


# (name, type, format, priority) per column, and the cells of one object.
_TABLES = {
    NODE: ([("Name", "string", "name", 0), ("Status", "string", "", 0),
            ("Roles", "string", "", 0), ("Age", "string", "", 0), ("Version", "string", "", 0),
            ("Internal-IP", "string", "", 1), ("External-IP", "string", "", 1),
            ("OS-Image", "string", "", 1), ("Kernel-Version", "string", "", 1),
            ("Container-Runtime", "string", "", 1)], _node_cells),
    POD: ([("Name", "string", "name", 0), ("Ready", "string", "", 0),
           ("Status", "string", "", 0), ("Restarts", "integer", "", 0), ("Age", "string", "", 0),
           ("IP", "string", "", 1), ("Node", "string", "", 1), ("Nominated Node", "string", "", 1),
           ("Readiness Gates", "string", "", 1)], _pod_cells),
    NAMESPACE: ([("Name", "string", "name", 0), ("Status", "string", "", 0),
                 ("Age", "string", "", 0)], _namespace_cells),
    NETWORK_POLICY: ([("Name", "string", "name", 0), ("Pod-Selector", "string", "", 0),
                      ("Age", "string", "", 0)], _policy_cells),
}


def _row(kind, obj, include):
    row = {"cells": _TABLES[kind][1](obj)}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj.get("metadata", {})}
    return row


def table(kind, objects, include, list_meta):
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": [{"name": n, "type": t, "format": f, "description": "",
                                   "priority": p} for n, t, f, p in _TABLES[kind][0]],
            "rows": [_row(kind, o, include) for o in objects]}
