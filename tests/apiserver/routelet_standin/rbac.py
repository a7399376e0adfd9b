"""The agent's permissions, read from the project's manifest.

The stand-in authorizes the agent token with exactly the ClusterRole that
manifests/routelet.yaml binds to the agent's ServiceAccount, so every test that uses
the agent token proves the manifest grants enough and nothing more.
"""

from dataclasses import dataclass, field

import yaml

from .store import ApiError


@dataclass
class Subject:
    user: str                       # e.g. system:serviceaccount:kube-system:routelet
    rules: list = field(default_factory=list)
    admin: bool = False


# A request without credentials: kube-apiserver (--anonymous-auth defaults to true) takes
# it as this user, whom RBAC grants only the public-info paths (/version, /healthz, ...), so
# it gets 403 where a bad token gets 401.
ANONYMOUS = Subject("system:anonymous")
PUBLIC_PATHS = ("/version", "/healthz", "/readyz", "/livez")


def load_agent_subject(manifest_path):
    """The ServiceAccount user and rules bound by the manifest's ClusterRoleBinding."""
    with open(manifest_path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
    roles = {d["metadata"]["name"]: d for d in docs if d.get("kind") == "ClusterRole"}
    if not roles:
        raise ValueError(f"{manifest_path}: no ClusterRole found; the agent's RBAC must be "
                         "a ClusterRole in that file")
    for binding in (d for d in docs if d.get("kind") == "ClusterRoleBinding"):
        role_name = binding.get("roleRef", {}).get("name")
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and role_name in roles:
                user = f"system:serviceaccount:{subject.get('namespace', 'default')}:" \
                       f"{subject['name']}"
                return Subject(user, roles[role_name].get("rules") or [])
    raise ValueError(f"{manifest_path}: no ClusterRoleBinding binds a ClusterRole to a "
                     "ServiceAccount; add one for the agent")


def _matches(values, wanted):
    return "*" in values or wanted in values


def allowed(subject, verb, resource, name=None, group=""):
    """RBAC rule evaluation for a resource such as nodes, nodes/status or networkpolicies
    (group networking.k8s.io)."""
    if subject.admin:
        return True
    for rule in subject.rules:
        if not _matches(rule.get("apiGroups") or [], group):
            continue
        if not _matches(rule.get("resources") or [], resource):
            continue
        if not _matches(rule.get("verbs") or [], verb):
            continue
        names = rule.get("resourceNames") or []
        if names and name not in names:
            continue
        return True
    return False


def forbidden(subject, verb, resource, name=None, group="", namespace=""):
    """403 with the real authorizer's message, e.g. 'nodes "x" is forbidden: User ...'."""
    base = resource.split("/")[0]
    qualified = f"{base}.{group}" if group else base
    target = f'{qualified} "{name}"' if name else qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (f'{target} is forbidden: User "{subject.user}" cannot {verb} resource '
               f'"{resource}" in API group "{group}" {scope}')
    details = {**({"name": name} if name else {}), **({"group": group} if group else {}),
               "kind": base}
    return ApiError(403, "Forbidden", message, details)


def forbidden_path(subject, method, path):
    """403 for a non-resource path (discovery, /api, ...), in the real authorizer's words."""
    return ApiError(403, "Forbidden", f'forbidden: User "{subject.user}" cannot '
                                      f'{method.lower()} path "{path}"', {})
