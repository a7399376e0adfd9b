"""Shared helpers of the manifest and image tests: the manifest's documents, the paths of
the repository and the build, and subprocess runs that show their output on failure."""

import os
import subprocess

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MANIFEST = os.path.join(ROOT, "manifests", "routelet.yaml")
NODE_POLICY = os.path.join(ROOT, "manifests", "node-policy.yaml")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
BUILD_DIR = os.environ.get("BUILD_DIR") or os.path.join(ROOT, "build")
AGENT_BIN = os.path.join(BUILD_DIR, "controller", "routelet")
CNI_BIN = os.path.join(BUILD_DIR, "cni", "routelet-cni")
# The kubectl scripts/setup installs (Debian's 1.20.2), whatever else the machine has.
KUBECTL = os.path.join(os.environ.get("ROUTELET_CACHE", "/var/cache/routelet"), "bin", "kubectl")


def run(cmd, check=True, timeout=120, **kw):
    """subprocess.run with text output; a failure shows the command and its output."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"command failed ({p.returncode}): {' '.join(cmd)}\n"
                             f"stdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    return p


def documents(path=MANIFEST):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def find(docs, kind, name="routelet"):
    for d in docs:
        if d.get("kind") == kind and d.get("metadata", {}).get("name") == name:
            return d
    raise AssertionError(f"manifest has no {kind} {name}")


def require_kubectl():
    if not os.access(KUBECTL, os.X_OK):
        raise AssertionError(f"{KUBECTL} not found: scripts/setup installs it")


def require_binaries():
    missing = [b for b in (AGENT_BIN, CNI_BIN) if not os.access(b, os.X_OK)]
    if missing:
        raise AssertionError(f"not built: {', '.join(missing)} (BUILD_DIR={BUILD_DIR}; "
                             "build the targets routelet and routelet-cni)")
