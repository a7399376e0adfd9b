"""Synthetic Namespaces, Pods and NetworkPolicies, made from their index when served.

Each is a source for Store.load_source: a sequence of keys in LIST order (namespace/name,
key i before key i+1), index(key) back, and make(i) the object. Nothing is kept per object,
so 150 000 Pods take no memory until a LIST makes a page of them; the same index always
makes the same object.

Namespaces are ns-00001 … ns-K (labels team: t<k % 10>, env). Pods and NetworkPolicies are
spread over them in contiguous blocks. A namespace's Pods belong to up to 500 Deployments
(app-000 … app-499, tier web, api or db by the app), a few replicas each, named as a
ReplicaSet names them: app-007-<pod-template-hash>-<5 characters>, the first two of which
count the replica so that names sort in index order. Pod i runs on node i % len(nodes) and
takes address 2 + i // len(nodes) of each of that node's podCIDRs (an IPv6 one too for a
dual-stack node), so every Pod's address is unique.
"""

import bisect
import functools
import hashlib
import ipaddress
import uuid

APPS = 500
TIERS = ("web", "api", "db")
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
# The characters of generated names (kube's, without vowels and look-alikes), sorted so
# that a replica's number written in them sorts as the number does.
_NAME_CHARS = "".join(sorted("bcdfghjklmnpqrstvwxz2456789"))
_REPLICAS = len(_NAME_CHARS) ** 2  # two characters count the replicas of one app
_IMAGES = {
    "web": "docker.io/library/nginx:1.27.2",
    "api": "docker.io/library/python:3.12.7-slim",
    "db": "docker.io/library/postgres:16.4",
    "proxy": "docker.io/envoyproxy/envoy:v1.31.2",
}


def _digest(*parts):
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=16).digest()


def _uid(*parts):
    return str(uuid.UUID(bytes=_digest(*parts), version=4))


def _chars(count, *parts):
    return "".join(_NAME_CHARS[b % len(_NAME_CHARS)] for b in _digest(*parts)[:count])


@functools.lru_cache(maxsize=1024)
def _template_hash(k, app):
    """The pod-template-hash of app `app` in namespace k: its ReplicaSet's name suffix."""
    return _chars(10, "rs", k, app)


@functools.lru_cache(maxsize=None)
def _image_id(image):
    return f"{image.split(':')[0]}@sha256:{_digest('image', image).hex() * 2}"


def namespace_name(number):
    return f"ns-{number:05d}"


def _namespace_number(name):
    """k for ns-0000k, None for another name."""
    digits = name[3:]
    if name[:3] != "ns-" or len(digits) != 5 or not digits.isdigit():
        return None
    return int(digits)


def pod_nodes(nodes):
    """(name, InternalIP, podCIDRs) of the Nodes that have a podCIDR: where Pods run."""
    out = []
    for node in nodes:
        cidrs = (node.get("spec") or {}).get("podCIDRs")
        if cidrs:
            addresses = {a.get("type"): a.get("address")
                         for a in (node.get("status") or {}).get("addresses") or []}
            out.append((node["metadata"]["name"], addresses.get("InternalIP", ""), cidrs))
    return out


def namespace(name, created, labels=None):
    return {"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "creationTimestamp": created,
                         "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def system_namespaces(created):
    """The namespaces every cluster has."""
    return [namespace(name, created) for name in SYSTEM_NAMESPACES]


class Namespaces:
    """ns-00001 … ns-<count>."""

    def __init__(self, count, created):
        if count > 99999:
            raise ValueError(f"--namespaces {count}: at most 99999")
        self.count, self.created = count, created

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        return namespace_name(index + 1)

    def index(self, key):
        number = _namespace_number(key)
        return number - 1 if number is not None and 1 <= number <= self.count else None

    def make(self, index):
        k = index + 1
        obj = namespace(namespace_name(k), self.created,
                        {"team": f"t{k % 10}", "env": ("prod", "staging", "dev")[k % 3]})
        obj["metadata"]["uid"] = _uid("namespace", k)
        return obj


class _Spread:
    """`count` objects over `namespaces` namespaces in contiguous blocks: namespace k
    (0-based) holds indexes starts[k] … starts[k + 1] - 1. A subclass names the object at
    place l of a block of m (local_name) and finds the place back (local_index)."""

    def __init__(self, count, namespaces):
        if count and not namespaces:
            raise ValueError("synthetic Pods and NetworkPolicies need --namespaces 1 or more")
        self.count = count
        self.starts = [k * count // namespaces for k in range(namespaces + 1)] if count else [0]

    def __len__(self):
        return self.count

    def locate(self, index):
        """(namespace number k, 0-based; place l; block size m) of an index."""
        # The last namespace whose block starts at or before the index (blocks may be empty).
        k = bisect.bisect_right(self.starts, index) - 1
        return k, index - self.starts[k], self.starts[k + 1] - self.starts[k]

    def widest(self):
        return max((b - a for a, b in zip(self.starts, self.starts[1:])), default=0)

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        k, l, m = self.locate(index)
        return f"{namespace_name(k + 1)}/{self.local_name(k, l, m)}"

    def index(self, key):
        ns, _, name = key.partition("/")
        number = _namespace_number(ns)
        if number is None or not 1 <= number < len(self.starts):
            return None
        k = number - 1
        m = self.starts[k + 1] - self.starts[k]
        place = self.local_index(name, m)
        if place is None or not 0 <= place < m:
            return None
        index = self.starts[k] + place
        return index if self[index] == key else None


class Pods(_Spread):
    """Running Pods as a kubelet reports them (3-6 KB of JSON each).

    `nodes`: (name, InternalIP, podCIDRs) of the nodes they run on."""

    def __init__(self, count, namespaces, nodes, created):
        super().__init__(count, namespaces)
        if count and not nodes:
            raise ValueError("--pods needs Nodes with a podCIDR (--nodes or --node-file)")
        if self._replicas(self.widest()) > _REPLICAS:
            raise ValueError(f"--pods {count}: more than {APPS * _REPLICAS} Pods in a namespace; "
                             "use more --namespaces")
        per_node = -(-count // len(nodes)) if nodes else 0
        self.nodes = []
        for name, host_ip, cidrs in nodes:
            networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
            for net in networks:
                if per_node + 3 > net.num_addresses:
                    raise ValueError(f"--pods {count}: {per_node} Pods per node do not fit in "
                                     f"{name}'s podCIDR {net}; use more Nodes")
            self.nodes.append((name, host_ip, [(int(n.network_address), n.version)
                                               for n in networks]))
        self.created = created

    @staticmethod
    def _replicas(m):
        return max(1, -(-m // APPS))

    def local_name(self, k, l, m):
        app, replica = divmod(l, self._replicas(m))
        return (f"app-{app:03d}-{_template_hash(k, app)}-{_NAME_CHARS[replica // 27]}"
                f"{_NAME_CHARS[replica % 27]}{_chars(3, 'pod', k, l)}")

    def local_index(self, name, m):
        parts = name.split("-")
        if len(parts) != 4 or not parts[1].isdigit() or len(parts[3]) != 5 or \
                not all(c in _NAME_CHARS for c in parts[3][:2]):
            return None
        replica = _NAME_CHARS.index(parts[3][0]) * 27 + _NAME_CHARS.index(parts[3][1])
        return int(parts[1]) * self._replicas(m) + replica

    def make(self, index):
        k, l, m = self.locate(index)
        ns = namespace_name(k + 1)
        app = l // self._replicas(m)
        name = self.local_name(k, l, m)
        app_name, tier = f"app-{app:03d}", TIERS[app % 3]
        template_hash = _template_hash(k, app)
        replica_set = f"{app_name}-{template_hash}"
        seed = _digest("pod", index).hex()  # the uid, and the containers' ids
        node, host_ip, networks = self.nodes[index % len(self.nodes)]
        slot = 2 + index // len(self.nodes)
        ips = [str(ipaddress.IPv4Address(net + slot) if version == 4 else
                   ipaddress.IPv6Address(net + slot)) for net, version in networks]
        created = self.created
        token_volume = f"kube-api-access-{name[-5:]}"
        containers = [_container(tier, app_name, ns, token_volume)]
        if app % 4 == 0:
            containers.append(_proxy_container(token_volume))
        statuses = [{"name": c["name"], "state": {"running": {"startedAt": created}},
                     "lastState": {}, "ready": True, "restartCount": 0, "image": c["image"],
                     "imageID": _image_id(c["image"]),
                     "containerID": f"containerd://{seed}{n}{seed[1:]}", "started": True}
                    for n, c in enumerate(containers)]
        return {
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {
                "name": name, "generateName": f"{replica_set}-", "namespace": ns,
                "uid": str(uuid.UUID(seed, version=4)), "creationTimestamp": created,
                "labels": {"app": app_name, "tier": tier, "pod-template-hash": template_hash},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                     "name": replica_set, "uid": _uid("rs", k, app),
                                     "controller": True, "blockOwnerDeletion": True}],
                "managedFields": _managed_fields(created, containers, ips),
            },
            "spec": {
                "volumes": [{"name": "config", "configMap": {"name": f"{app_name}-config",
                                                             "defaultMode": 420}},
                            _token_volume(token_volume)],
                "containers": containers,
                "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst", "serviceAccountName": "default",
                "serviceAccount": "default", "nodeName": node, "securityContext": {},
                "schedulerName": "default-scheduler",
                "tolerations": _TOLERATIONS,
                "priority": 0, "enableServiceLinks": True,
                "preemptionPolicy": "PreemptLowerPriority",
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": t, "status": "True", "lastProbeTime": None,
                                "lastTransitionTime": created}
                               for t in ("Initialized", "Ready", "ContainersReady",
                                         "PodScheduled")],
                "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                "podIP": ips[0], "podIPs": [{"ip": ip} for ip in ips],
                "startTime": created, "containerStatuses": statuses, "qosClass": "Burstable",
            },
        }


# Parts every Pod has the same: shared, as nothing changes an object it was given (the
# store copies before a write).
_TOLERATIONS = [{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300} for t in ("not-ready", "unreachable")]


def _container(tier, app_name, ns, token_volume):
    ports = [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
             {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]
    if tier == "db":
        ports.append({"containerPort": 5432, "protocol": "TCP"})
    return {
        "name": tier, "image": _IMAGES[tier], "ports": ports,
        "env": [{"name": "APP_NAME", "value": app_name},
                {"name": "LOG_LEVEL", "value": "info"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                "fieldPath": "metadata.name"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                              "fieldPath": "status.podIP"}}},
                {"name": "DATABASE_URL",
                 "value": f"postgres://{app_name}@db.{ns}.svc.cluster.local:5432/{app_name}"}],
        "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "config", "readOnly": True, "mountPath": "/etc/app"},
                         {"name": token_volume, "readOnly": True,
                          "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                           "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
                           "failureThreshold": 3},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent",
    }


def _proxy_container(token_volume):
    return {"name": "proxy", "image": _IMAGES["proxy"],
            "args": ["--config-path", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
            "ports": [{"name": "proxy-admin", "containerPort": 15000, "protocol": "TCP"},
                      {"containerPort": 15001, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            "volumeMounts": [{"name": token_volume, "readOnly": True,
                              "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}


def _token_volume(name):
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                              "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}


def _managed_fields(created, containers, ips):
    """What the controller manager and the kubelet wrote, as server-side apply records it."""
    spec = {"f:containers": {f'k:{{"name":"{c["name"]}"}}': {
        ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
        "f:ports": {f'k:{{"containerPort":{p["containerPort"]},"protocol":"TCP"}}': {
            ".": {}, "f:containerPort": {}, "f:protocol": {},
            **({"f:name": {}} if "name" in p else {})} for p in c["ports"]},
        "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {},
        "f:volumeMounts": {}} for c in containers},
        "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {},
        "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {},
        "f:volumes": {}}
    status = {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {}, "f:hostIPs": {},
              "f:phase": {}, "f:podIP": {}, "f:podIPs": {f'k:{{"ip":"{ip}"}}': {".": {}, "f:ip": {}}
                                                         for ip in ips},
              "f:startTime": {}}
    return [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
             "time": created, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {
                 ".": {}, "f:app": {}, "f:pod-template-hash": {}, "f:tier": {}},
                 "f:ownerReferences": {}}, "f:spec": spec}},
            {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": created,
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": status},
             "subresource": "status"}]


# ---------------------------------------------------------------- NetworkPolicies

def _labels(**labels):
    return {"matchLabels": labels}


def _port(port, protocol="TCP", **extra):
    return {"protocol": protocol, "port": port, **extra}


def _policy_shapes(i, k):
    """The realistic mix, by index: (name suffix, spec)."""
    app = _labels(app=f"app-{i * 7 % APPS:03d}")
    other_app = _labels(app=f"app-{(i * 7 + 1) % APPS:03d}")
    team, next_team = f"t{i % 10}", f"t{(i + 1) % 10}"
    dns = {"to": [{"namespaceSelector": _labels(**{"kubernetes.io/metadata.name": "kube-system"}),
                   "podSelector": _labels(**{"k8s-app": "kube-dns"})}],
           "ports": [_port(53, "UDP"), _port(53)]}
    return [
        ("from-app", {"podSelector": app, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"podSelector": other_app}], "ports": [_port("http")]}]}),
        ("from-team", {"podSelector": app, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"namespaceSelector": _labels(team=team)}], "ports": [_port(8080)]}]}),
        ("from-team-web", {"podSelector": app, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"namespaceSelector": _labels(team=team),
                       "podSelector": _labels(tier="web")}],
             "ports": [_port("metrics"), _port(9090)]}]}),
        ("from-cidr", {"podSelector": app, "policyTypes": ["Ingress"], "ingress": [
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                   "except": [f"10.{64 + k % 64}.0.0/16", "10.255.0.0/16"]}},
                      {"ipBlock": {"cidr": "192.168.0.0/16"}}],
             "ports": [_port(8080, endPort=8090)]}]}),
        ("api-tier", {"podSelector": _labels(tier="api"), "policyTypes": ["Ingress", "Egress"],
                      "ingress": [{"from": [{"podSelector": _labels(tier="web")}],
                                   "ports": [_port("http")]}],
                      "egress": [{"to": [{"podSelector": _labels(tier="db")}],
                                  "ports": [_port(5432)]}, dns]}),
        ("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        ("from-teams", {"podSelector": {"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["api", "web"]}]},
            "policyTypes": ["Ingress"], "ingress": [
                {"from": [{"namespaceSelector": {"matchExpressions": [
                    {"key": "team", "operator": "In", "values": sorted([team, next_team])}]}}]}]}),
        ("egress-https", {"podSelector": app, "policyTypes": ["Ingress", "Egress"],
                          "ingress": [{"from": [{"podSelector": {}}]}],
                          "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": [
                              "10.0.0.0/8", "169.254.169.254/32"]}}], "ports": [_port(443)]},
                              dns]}),
    ]


_SHAPES = [name for name, _ in _policy_shapes(0, 0)]


class NetworkPolicies(_Spread):
    """np-<place>-<shape> in each namespace, the shapes of _policy_shapes in turn."""

    def __init__(self, count, namespaces, created):
        super().__init__(count, namespaces)
        if self.widest() > 9999:
            raise ValueError(f"--policies {count}: more than 9999 in a namespace; use more "
                             "--namespaces")
        self.created = created

    def local_name(self, k, l, m):
        return f"np-{l:04d}-{_SHAPES[(self.starts[k] + l) % len(_SHAPES)]}"

    def local_index(self, name, m):
        return int(name[3:7]) if name[:3] == "np-" and name[3:7].isdigit() else None

    def make(self, index):
        k, l, m = self.locate(index)
        return {"kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1",
                "metadata": {"name": self.local_name(k, l, m), "namespace": namespace_name(k + 1),
                             "uid": _uid("policy", index), "generation": 1,
                             "creationTimestamp": self.created,
                             "labels": {"app.kubernetes.io/managed-by": "Helm"}},
                "spec": _policy_shapes(index, k)[index % len(_SHAPES)][1]}
