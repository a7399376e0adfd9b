#!/usr/bin/env bash
# Makes one node's private mount namespace, then runs what keeps it (scripts/lib/runtime.sh
# and scripts/lib/kube.sh run this under `unshare --mount --propagation private` inside the
# node's network namespace, so nothing here reaches the machine's mounts).
#
#   runtime-node.sh DIR CONF_DIR BIN_DIR KEEP_DIR           then containerd (DIR/config.toml)
#   runtime-node.sh DIR CONF_DIR BIN_DIR KEEP_DIR --node    then a holder (a real cluster's node)
#
# containerd 1.6 and its CNI library use fixed paths that a runtime test must not share with
# the machine: /etc/cni/net.d and /opt/cni/bin (read by `ctr run --cni`), /var/lib/cni
# (libcni's result cache) and /run/containerd (shim sockets, runc state, ctr's fifos). Each
# of /etc, /opt, /var/lib and /run gets an overlay whose upper layer is a tmpfs of this
# namespace, so those paths can be made without writing to the machine's own directories,
# and the node's own CNI conf dir, bin dir and cache are bind-mounted onto them: containerd
# reads exactly the conflist the agent wrote. KEEP_DIR (the lab's state) is mounted back
# over the overlays so the node's files stay the real ones.
#
# --node, for a node of the real cluster (kubelet and kube-proxy join this namespace too):
# the node's run dir (DIR/../run) is bind-mounted on /run/routelet, so an agent run by the
# DaemonSet (a hostPath volume) keeps its status.json and address store where the lab's own
# agent does; /var/log gets an overlay as well (the kubelet's /var/log/pods and /var/log/containers are
# fixed paths); /sys becomes a sysfs of the node's network namespace with the machine's
# cgroup hierarchies bound back (the kubelet reads the node's links there, runc needs the
# cgroups); the machine-wide sysctls the kubelet sets (vm.overcommit_memory, kernel.panic, ...)
# are masked by files holding the machine's current values, so its writes land in those files
# and the machine keeps its settings. Then, instead of containerd, a holder process keeps the
# namespace for the daemons that join it with `nsenter -t HOLDER -m -n`; DIR/holder.ready says
# when it is made.
set -euo pipefail
dir=$1 conf_dir=$2 bin_dir=$3 keep_dir=$4 mode=${5:-}
# The sysctls kubelet 1.20 sets when they differ from what it wants (setupKernelTunables):
# none of them is per network namespace.
MASKED_SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops
  kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

exec 8<"$keep_dir"  # the real state dir, before any overlay can hide it
mkdir -p "$dir/scratch"
mount -t tmpfs -o mode=0700 routelet-runtime "$dir/scratch"
# /run last: DIR is under it (the lab's state), and an upper dir cannot be on an overlay.
tops=(etc opt var/lib)
[[ $mode == --node ]] && tops+=(var/log)
tops+=(run)
for top in "${tops[@]}"; do
  name=${top//\//-}
  mkdir -p "$dir/scratch/$name.upper" "$dir/scratch/$name.work"
  mount -t overlay routelet-runtime \
    -o "lowerdir=/$top,upperdir=$dir/scratch/$name.upper,workdir=$dir/scratch/$name.work" "/$top"
done
# --no-canonicalize: mount(8) would turn the fd into its path, which the overlay of /run hides.
mount --no-canonicalize --rbind /proc/self/fd/8 "$keep_dir"
exec 8<&-
mkdir -p /etc/cni/net.d /opt/cni/bin /var/lib/cni /run/containerd
mount --bind "$conf_dir" /etc/cni/net.d
mount --bind "$bin_dir" /opt/cni/bin
mount --bind "$dir/cni-cache" /var/lib/cni
[[ $mode == --node ]] || exec containerd --config "$dir/config.toml"

mkdir -p /run/routelet "$dir/../run"
mount --bind "$dir/../run" /run/routelet

mkdir -p "$dir/scratch/cgroup" "$dir/scratch/sysctl"
mount --rbind /sys/fs/cgroup "$dir/scratch/cgroup"
umount -l /sys
mount -t sysfs routelet-node /sys
mount --rbind "$dir/scratch/cgroup" /sys/fs/cgroup
umount -l "$dir/scratch/cgroup"
for s in "${MASKED_SYSCTLS[@]}"; do
  [[ -e /proc/sys/$s ]] || continue
  cat "/proc/sys/$s" >"$dir/scratch/sysctl/${s//\//.}"
  mount --bind "$dir/scratch/sysctl/${s//\//.}" "/proc/sys/$s"
done
echo $$ >"$dir/holder.ready"
exec sleep infinity
