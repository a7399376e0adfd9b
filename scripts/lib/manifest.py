"""What the scripts take from manifests/routelet.yaml, read in one place.

  manifest.py rbac MANIFEST        the ServiceAccount, ClusterRole and ClusterRoleBinding
  manifest.py image MANIFEST       the image the DaemonSet's agent runs
  manifest.py lab MANIFEST CIDRS MASQUERADE HAIRPIN BRIDGE_NF
                                   every document, the ConfigMap's config.yaml set to the
                                   lab's pod ranges (comma-separated) and settings
"""

import sys

import yaml


def main(verb, path, *args):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    if verb == "rbac":
        print(yaml.safe_dump_all([d for d in docs if d["kind"] in
                                  ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]))
    elif verb == "image":
        for d in docs:
            if d["kind"] == "DaemonSet" and d["metadata"]["name"] == "routelet":
                print(d["spec"]["template"]["spec"]["containers"][0]["image"])
    elif verb == "lab":
        cidrs, masquerade, hairpin, bridge_nf = args
        for d in docs:
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "routelet":
                config = yaml.safe_load(d["data"]["config.yaml"])
                config.update(clusterCIDRs=cidrs.split(","), masquerade=masquerade,
                              hairpin=hairpin, bridgeNetfilter=bridge_nf)
                d["data"]["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
        print(yaml.safe_dump_all(docs, sort_keys=False))
    else:
        sys.exit(f"manifest.py: unknown verb {verb!r} (rbac, image, lab)")


if __name__ == "__main__":
    main(*sys.argv[1:])
