"""Synthetic, realistic Node objects (about 10 KB of JSON each, like a real kubelet's).

Node i (1-based) gets InternalIP 172.16.0.0 + 10 + i (a /12 underlay) and podCIDR
10.(64 + i // 256).(i % 256).0/24 for i < 49152; past that, 11.0.0.0/8 continues the /24s
(11.(j // 256).(j % 256).0/24, j = i - 49152), so podCIDRs stay unique up to 114688 Nodes
(the agent benchmark's memory curve goes to 100000).
"""

import functools
import hashlib
import ipaddress
import json

from . import patch as patchlib

_UNDERLAY = ipaddress.IPv4Address("172.16.0.0")
_IMAGES = [
    "registry.k8s.io/kube-proxy", "registry.k8s.io/pause", "registry.k8s.io/coredns/coredns",
    "registry.k8s.io/metrics-server/metrics-server", "docker.io/library/nginx",
    "docker.io/library/redis", "docker.io/library/postgres", "docker.io/library/busybox",
    "quay.io/prometheus/node-exporter", "quay.io/prometheus/prometheus",
    "quay.io/jetstack/cert-manager-controller", "quay.io/jetstack/cert-manager-webhook",
    "ghcr.io/fluxcd/source-controller", "ghcr.io/fluxcd/kustomize-controller",
    "docker.io/grafana/grafana", "docker.io/grafana/loki", "docker.io/grafana/promtail",
    "registry.k8s.io/ingress-nginx/controller", "registry.k8s.io/sig-storage/csi-provisioner",
    "registry.k8s.io/sig-storage/csi-attacher", "registry.k8s.io/sig-storage/csi-resizer",
    "registry.k8s.io/sig-storage/livenessprobe", "docker.io/bitnami/kafka",
    "docker.io/bitnami/zookeeper", "docker.io/library/mysql", "docker.io/library/mongo",
    "docker.io/library/rabbitmq", "docker.io/library/memcached", "docker.io/library/python",
    "docker.io/library/node", "docker.io/library/golang", "docker.io/library/alpine",
    "docker.io/library/debian", "docker.io/library/ubuntu", "quay.io/coreos/etcd",
    "docker.io/openpolicyagent/gatekeeper", "docker.io/istio/proxyv2", "docker.io/istio/pilot",
    "docker.io/jaegertracing/all-in-one", "docker.io/elastic/filebeat",
    "docker.io/fluent/fluent-bit", "docker.io/velero/velero", "quay.io/argoproj/argocd",
    "docker.io/hashicorp/vault", "docker.io/traefik/traefik", "docker.io/library/haproxy",
    "docker.io/minio/minio", "docker.io/library/registry", "docker.io/library/eclipse-temurin",
    "docker.io/library/httpd",
]


@functools.lru_cache(maxsize=None)
def _image_digest(image, tag):
    return _digest(image, tag)


@functools.lru_cache(maxsize=None)
def _image_size(image):
    return 5_000_000 + int(_digest(image), 16) % 900_000_000


def _digest(*parts):
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def node_name(prefix, index):
    return f"{prefix}{index:05d}"


def pod_cidr(index):
    if index < 49152:
        return f"10.{64 + index // 256}.{index % 256}.0/24"
    j = index - 49152
    if j >= 65536:
        raise ValueError(f"synthetic Node {index}: no unique podCIDR past 114687 Nodes")
    return f"11.{j // 256}.{j % 256}.0/24"


def synthetic_node(index, prefix="node-", created="2024-09-01T10:00:00Z"):
    name = node_name(prefix, index)
    ip = str(_UNDERLAY + 10 + index)
    cidr = pod_cidr(index)
    images = []
    for k, image in enumerate(_IMAGES):
        tag = f"v1.{(index + k) % 30}.{k % 7}"
        images.append({"names": [f"{image}@sha256:{_image_digest(image, tag)}",
                                 f"{image}:{tag}"],
                       "sizeBytes": _image_size(image)})
    condition_time = created
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "topology.kubernetes.io/region": "eu-west-1",
                "topology.kubernetes.io/zone": f"eu-west-1{'abc'[index % 3]}",
            },
            "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr],
                 "providerID": f"aws:///eu-west-1{'abc'[index % 3]}/i-{_digest(name)[:17]}"},
        "status": {
            "capacity": {"cpu": "4", "ephemeral-storage": "101430960Ki", "hugepages-1Gi": "0",
                         "hugepages-2Mi": "0", "memory": "16078616Ki", "pods": "110"},
            "allocatable": {"cpu": "3920m", "ephemeral-storage": "93478772582",
                            "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "15056664Ki",
                            "pods": "110"},
            "conditions": [{"type": t, "status": s, "lastHeartbeatTime": condition_time,
                            "lastTransitionTime": condition_time, "reason": r, "message": m}
                           for t, s, r, m in conditions],
            "addresses": [{"type": "InternalIP", "address": ip},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": _digest("machine", name)[:32],
                "systemUUID": _digest("uuid", name)[:32],
                "bootID": _digest("boot", name)[:32],
                "kernelVersion": "6.1.0-25-cloud-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.22",
                "kubeletVersion": "v1.31.0",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": images,
        },
    }


def synthetic_nodes(count, prefix="node-", created="2024-09-01T10:00:00Z"):
    return [synthetic_node(i, prefix, created) for i in range(1, count + 1)]


def load_node_file(path, prefix="node-", created="2024-09-01T10:00:00Z"):
    """Nodes from a JSON file: a list, or an object with "items".

    Each entry is a JSON merge patch over a synthetic Node of the same name, so a lab
    file only states what differs (addresses, podCIDRs), and `"podCIDR": null` removes a
    field (a node without podCIDR).
    """
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    entries = data.get("items", []) if isinstance(data, dict) else data
    nodes = []
    for i, entry in enumerate(entries, start=1):
        name = entry.get("metadata", {}).get("name")
        if not name:
            raise ValueError(f"{path}: entry {i} has no metadata.name; every Node needs one")
        base = synthetic_node(i, prefix, created)
        base["metadata"]["name"] = name
        base["metadata"]["labels"]["kubernetes.io/hostname"] = name
        base["status"]["addresses"][1]["address"] = name
        nodes.append(patchlib.merge_patch(base, entry))
    return nodes
