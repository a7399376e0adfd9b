"""The kinds the stand-in serves, and what differs between them.

Everything else (storage, paging, watch, RBAC, patches) is the same for every kind, as in
kube-apiserver's generic registry; a Kind holds the per-kind rules: names, scope, the
defaults the real server fills in on a write, and the empty object a BOOKMARK carries.
"""

from dataclasses import dataclass, field

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _node_defaults(obj, creating):
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


def _qos_class(pod):
    """BestEffort without CPU or memory requests and limits, Guaranteed with limits on both
    in every container (requests, when given, equal to them), else Burstable."""
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    resources = [c.get("resources") or {} for c in containers if isinstance(c, dict)]
    compute = [{kind: {r: v for r, v in (res.get(kind) or {}).items() if r in ("cpu", "memory")}
                for kind in ("requests", "limits")} for res in resources]
    if not any(c["requests"] or c["limits"] for c in compute):
        return "BestEffort"
    if all(set(c["limits"]) == {"cpu", "memory"} and
           all(c["limits"][r] == v for r, v in c["requests"].items()) for c in compute):
        return "Guaranteed"
    return "Burstable"


def _pod_defaults(obj, creating):
    spec = obj.get("spec")
    for container in (spec.get("containers") or []) if isinstance(spec, dict) else []:
        for port in (container.get("ports") or []) if isinstance(container, dict) else []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
    # A new Pod's status is the server's, not the client's: Pending until a kubelet writes
    # pods/status.
    if creating:
        obj["status"] = {"phase": "Pending", "qosClass": _qos_class(obj)}


def _namespace_defaults(obj, creating):
    # Every Namespace carries its name as a label, so policies can select it by name.
    meta = obj["metadata"]
    meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}
    if creating:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}


def _policy_defaults(obj, creating):
    """NetworkPolicy's API defaults: policyTypes from the rules present, TCP for a port
    without a protocol."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in (rule.get("ports") or []) if isinstance(rule, dict) else []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per kind
class Kind:
    kind: str                 # "Pod"
    resource: str             # "pods"
    group: str                # "" for the core group
    namespaced: bool
    short_names: tuple
    status: bool              # has a /status subresource (the main resource keeps status)
    bookmark_body: dict       # a BOOKMARK's object besides kind, apiVersion and metadata
    defaults: object          # defaults(obj, creating): what the real server fills in
    fields: dict = field(default_factory=dict)  # field selectors besides metadata.name
    delete_returns_object: bool = False  # DELETE answers the object, not a Success Status
    # DELETE marks the object (deletionTimestamp) and its owner (a kubelet) deletes it later;
    # the stand-in does both at once: a MODIFIED event, then the DELETED one.
    graceful: bool = False
    version: str = "v1"

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        """The resource as the real server's messages name it: pods,
        networkpolicies.networking.k8s.io."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    @property
    def singular(self):
        return self.kind.lower()

    def details(self, name):
        """A Status's details for an error about one object of this kind."""
        out = {"name": name}
        if self.group:
            out["group"] = self.group
        out["kind"] = self.resource
        return out

    def bookmark(self, resource_version):
        """A BOOKMARK's object as kube-apiserver's watch cache sends it: an empty object of
        the kind holding only the resourceVersion, with the fields Go always encodes."""
        return {"kind": self.kind, "apiVersion": self.api_version,
                "metadata": {"resourceVersion": str(resource_version), "creationTimestamp": None},
                **self.bookmark_body}


_NODE_INFO = ("machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
              "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion", "operatingSystem",
              "architecture")


def _field_at(*path):
    def get(obj):
        value = obj
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return "" if value is None else str(value)
    return get


NODE = Kind("Node", "nodes", "", False, ("no",), True,
            {"spec": {}, "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
                                    "nodeInfo": {k: "" for k in _NODE_INFO}}},
            _node_defaults,
            {"spec.unschedulable":
             lambda o: str(bool(o.get("spec", {}).get("unschedulable"))).lower()})
POD = Kind("Pod", "pods", "", True, ("po",), True,
           {"spec": {"containers": None}, "status": {}}, _pod_defaults,
           {"spec.nodeName": _field_at("spec", "nodeName"),
            "status.phase": _field_at("status", "phase"),
            "status.podIP": _field_at("status", "podIP")},
           delete_returns_object=True, graceful=True)
NAMESPACE = Kind("Namespace", "namespaces", "", False, ("ns",), True,
                 {"spec": {}, "status": {}}, _namespace_defaults,
                 {"status.phase": _field_at("status", "phase")},
                 delete_returns_object=True)
NETWORK_POLICY = Kind("NetworkPolicy", "networkpolicies", "networking.k8s.io", True,
                      ("netpol",), False, {"spec": {"podSelector": {}}}, _policy_defaults)

KINDS = (NODE, NAMESPACE, POD, NETWORK_POLICY)
BY_RESOURCE = {(k.group, k.version, k.resource): k for k in KINDS}
