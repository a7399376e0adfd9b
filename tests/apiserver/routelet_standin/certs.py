"""CA, serving certificate, tokens and kubeconfigs in the state directory.

Uses the openssl CLI. The CA and tokens are reused when the state directory already
has them (kubeconfigs stay valid across a restart of the process); the serving
certificate is made anew each start for the current address.
"""

import ipaddress
import os
import secrets
import subprocess
import tempfile

import yaml

AGENT_TOKEN, ADMIN_TOKEN = "agent.token", "admin.token"


def _openssl(*args):
    result = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def ensure_ca(state_dir):
    ca_crt, ca_key = os.path.join(state_dir, "ca.crt"), os.path.join(state_dir, "ca.key")
    if not (os.path.exists(ca_crt) and os.path.exists(ca_key)):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "3650",
                 "-subj", "/CN=routelet-standin-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return ca_crt, ca_key


def make_serving_cert(state_dir, hosts):
    """server.crt/server.key signed by the CA, with an IP or DNS SAN per host."""
    ca_crt, ca_key = ensure_ca(state_dir)
    crt, key = os.path.join(state_dir, "server.crt"), os.path.join(state_dir, "server.key")
    sans = []
    for host in dict.fromkeys(hosts):
        try:
            sans.append(f"IP:{ipaddress.ip_address(host)}")
        except ValueError:
            sans.append(f"DNS:{host}")
    with tempfile.TemporaryDirectory(dir=state_dir) as tmp:
        csr, ext = os.path.join(tmp, "server.csr"), os.path.join(tmp, "ext.cnf")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={','.join(sans)}\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", key, "-out", csr, "-subj", "/CN=routelet-standin")
        _openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                 "-CAcreateserial", "-CAserial", os.path.join(tmp, "ca.srl"),
                 "-out", crt, "-days", "825", "-extfile", ext)
    os.chmod(key, 0o600)
    return crt, key


def ensure_token(state_dir, filename):
    path = os.path.join(state_dir, filename)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    token = secrets.token_urlsafe(32)
    _write_private(path, token + "\n")
    return token


def write_kubeconfig(path, server_url, ca_path, user, token):
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "standin",
                      "cluster": {"server": server_url, "certificate-authority": ca_path}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "standin", "user": user}}],
        "current-context": user,
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False))
