"""API discovery: which groups, versions and resources the stand-in has, in the legacy
documents (/api, /apis, /api/v1, /apis/GROUP[/VERSION]) and the aggregated ones newer
kubectls ask /api and /apis for (apidiscovery.k8s.io, by the Accept header)."""

from .kinds import KINDS, VERBS

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
STATUS_VERBS = ["get", "patch", "update"]
AGGREGATED = "APIGroupDiscoveryList"


def _resources(group_version):
    """(name, kind, namespaced, short names, has status) of every resource of a group version."""
    served = [(k.resource, k.kind, k.namespaced, list(k.short_names), k.status)
              for k in KINDS if k.api_version == group_version]
    return served + [(name, kind, namespaced, [], False)
                     for name, kind, namespaced in DISCOVERY_ONLY.get(group_version, [])]


def group_versions():
    """Every group version, the core "v1" first."""
    return list(dict.fromkeys([k.api_version for k in KINDS] + list(DISCOVERY_ONLY)))


def api_resource_list(group_version):
    """/api/v1 or /apis/GROUP/VERSION; None for one the stand-in does not have."""
    if group_version not in group_versions():
        return None
    resources = []
    for name, kind, namespaced, short, status in _resources(group_version):
        entry = {"name": name, "singularName": kind.lower(), "namespaced": namespaced,
                 "kind": kind, "verbs": VERBS}
        if short:
            entry["shortNames"] = short
        resources.append(entry)
        if status:
            resources.append({"name": f"{name}/status", "singularName": "",
                              "namespaced": namespaced, "kind": kind, "verbs": STATUS_VERBS})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


def _group(name):
    versions = [{"groupVersion": gv, "version": gv.split("/")[1]}
                for gv in group_versions() if gv.startswith(name + "/")]
    if not versions:
        return None
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def api_group(name):
    """/apis/GROUP; None for a group the stand-in does not have."""
    group = _group(name)
    return {"kind": "APIGroup", "apiVersion": "v1", **group} if group else None


def api_group_list():
    names = dict.fromkeys(gv.split("/")[0] for gv in group_versions() if "/" in gv)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(n) for n in names]}


def aggregated_version(accept):
    """The apidiscovery.k8s.io version (v2, v2beta1) the Accept header asks for first, or None
    for the legacy documents."""
    for media in (accept or "").split(","):
        params = dict(p.strip().partition("=")[::2] for p in media.split(";")[1:])
        if params.get("as") == AGGREGATED and params.get("g") == "apidiscovery.k8s.io" and \
                params.get("v") in ("v2", "v2beta1"):
            return params["v"]
    return None


def aggregated(legacy, version):
    """/api (legacy True: the core group) or /apis as an APIGroupDiscoveryList."""
    items = []
    for gv in group_versions():
        group, _, v = gv.rpartition("/")
        if (group == "") != legacy:
            continue
        resources = []
        for name, kind, namespaced, short, status in _resources(gv):
            response_kind = {"group": group, "version": v, "kind": kind}
            entry = {"resource": name, "responseKind": response_kind,
                     "scope": "Namespaced" if namespaced else "Cluster",
                     "singularResource": kind.lower(), "verbs": VERBS}
            if short:
                entry["shortNames"] = short
            if status:
                entry["subresources"] = [{"subresource": "status", "responseKind": response_kind,
                                          "verbs": STATUS_VERBS}]
            resources.append(entry)
        version_entry = {"version": v, "resources": resources, "freshness": "Current"}
        existing = next((i for i in items if i["metadata"]["name"] == group), None)
        if existing:
            existing["versions"].append(version_entry)
        else:
            items.append({"metadata": {"name": group, "creationTimestamp": None},
                          "versions": [version_entry]})
    return {"kind": AGGREGATED, "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": items}


def aggregated_content_type(version):
    return f"application/json;g=apidiscovery.k8s.io;v={version};as={AGGREGATED}"
