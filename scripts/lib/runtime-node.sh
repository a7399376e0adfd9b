#!/usr/bin/env bash
# Starts one node's private containerd, as PID 1 of nothing but its own mount namespace
# (scripts/lib/runtime.sh runs this under `unshare --mount --propagation private` inside
# the node's network namespace, so nothing here reaches the machine's mounts).
#
#   runtime-node.sh DIR CONF_DIR BIN_DIR KEEP_DIR
#
# containerd 1.6 and its CNI library use fixed paths that a runtime test must not share with
# the machine: /etc/cni/net.d and /opt/cni/bin (read by `ctr run --cni`), /var/lib/cni
# (libcni's result cache) and /run/containerd (shim sockets, runc state, ctr's fifos). Each
# of /etc, /opt, /var/lib and /run gets an overlay whose upper layer is a tmpfs of this
# namespace, so those paths can be made without writing to the machine's own directories,
# and the node's own CNI conf dir, bin dir and cache are bind-mounted onto them: containerd
# reads exactly the conflist the agent wrote. KEEP_DIR (the lab's state) is mounted back
# over the overlays so the node's files stay the real ones.
set -euo pipefail
dir=$1 conf_dir=$2 bin_dir=$3 keep_dir=$4

exec 8<"$keep_dir"  # the real state dir, before any overlay can hide it
mkdir -p "$dir/scratch"
mount -t tmpfs -o mode=0700 routelet-runtime "$dir/scratch"
for top in etc opt var/lib run; do
  name=${top//\//-}
  mkdir -p "$dir/scratch/$name.upper" "$dir/scratch/$name.work"
  mount -t overlay routelet-runtime \
    -o "lowerdir=/$top,upperdir=$dir/scratch/$name.upper,workdir=$dir/scratch/$name.work" "/$top"
done
# --no-canonicalize: mount(8) would turn the fd into its path, which the overlay of /run now
# hides, and bind the overlay's copy of the state dir instead of the real one.
mount --no-canonicalize --rbind /proc/self/fd/8 "$keep_dir"
exec 8<&-
mkdir -p /etc/cni/net.d /opt/cni/bin /var/lib/cni /run/containerd
mount --bind "$conf_dir" /etc/cni/net.d
mount --bind "$bin_dir" /opt/cni/bin
mount --bind "$dir/cni-cache" /var/lib/cni
exec containerd --config "$dir/config.toml"
