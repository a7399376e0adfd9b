#!/usr/bin/env python3
"""Builds a busybox container image as an OCI image layout tarball from Debian's
busybox-static, for `ctr image import`: the lab and the runtime tests start real containers
with no registry.

  busybox_oci.py OUT.tar [--busybox /bin/busybox] [--name routelet.local/busybox:1]
  busybox_oci.py OUT.tar --pause PAUSE --name routelet.local/pause:1

The layer holds /bin/busybox and a link per applet the tests use, so `sh`, `ping`, `ip`,
`sleep` resolve in the container's PATH. With --pause it holds only PAUSE as /pause, the
image's entrypoint: the pod sandbox image of the lab's real cluster (containerd's CRI
sandbox_image), from the pause scripts/kubernetes builds. Every timestamp is zero, so the
same binaries give the same image digest.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

APPLETS = ("sh", "ping", "ping6", "ip", "sleep", "cat", "ls", "hostname", "true", "wget",
           "nc", "httpd", "echo")


def add_file(tar, name, path):
    with open(path, "rb") as f:
        data = f.read()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o755, 0
    tar.addfile(info, io.BytesIO(data))


def pause_layer_tar(pause):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_file(tar, "pause", pause)
    return buf.getvalue()


def layer_tar(busybox):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "run"):
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755, 0
            tar.addfile(info)
        add_file(tar, "bin/busybox", busybox)
        for applet in APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, "busybox", 0o777, 0
            tar.addfile(info)
        for name, text in (("etc/passwd", "root:x:0:0:root:/:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(text), 0o644, 0
            tar.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


def blob(tar, data):
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build(out, raw, name, image_config):
    compressed = gzip.compress(raw, mtime=0)
    config = {
        "architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
        "os": "linux",
        "config": image_config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(raw).hexdigest()}"]},
    }
    with tarfile.open(out, "w") as tar:
        layer = blob(tar, compressed)
        cfg = blob(tar, json.dumps(config, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
        }
        man = blob(tar, json.dumps(manifest, sort_keys=True).encode())
        index = {
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
                "annotations": {"org.opencontainers.image.ref.name": name},
            }],
        }
        for fname, doc in (("oci-layout", {"imageLayoutVersion": "1.0.0"}), ("index.json", index)):
            data = json.dumps(doc, sort_keys=True).encode()
            info = tarfile.TarInfo(fname)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--name", default="routelet.local/busybox:1")
    ap.add_argument("--pause", help="the pause binary: a sandbox image of it alone")
    args = ap.parse_args()
    if args.pause:
        if not os.access(args.pause, os.R_OK):
            sys.exit(f"busybox_oci: {args.pause} not found (scripts/kubernetes builds it)")
        build(args.out, pause_layer_tar(args.pause), args.name, {"Entrypoint": ["/pause"]})
        return
    if not os.access(args.busybox, os.R_OK):
        sys.exit(f"busybox_oci: {args.busybox} not found (Debian package busybox-static)")
    build(args.out, layer_tar(args.busybox), args.name, {"Env": ["PATH=/bin"], "Cmd": ["sh"]})


if __name__ == "__main__":
    main()
