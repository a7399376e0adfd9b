# Pods through a real container runtime, for `scripts/lab up --runtime containerd` and the
# runtime tests: each node runs its own containerd (Debian's containerd 1.6 with runc) in
# its network namespace and a private mount namespace (scripts/lib/runtime-node.sh), and a
# pod is a busybox container started with `ctr run --cni`, so libcni — not routelet — reads
# the conflist the agent wrote and execs routelet-cni. Sourced by lab.sh after its helpers.
#
# Names it makes: containerd namespace routelet-$PREFIX (runc's cgroups are
# /sys/fs/cgroup/<controller>/routelet-$PREFIX/<pod>), pod container IDs = the pod's
# namespace name, which `ip netns attach` binds to the container's network namespace so the
# rest of the lab reaches the pod as it reaches a directly made one. The CNI container ID
# libcni passes is "routelet-$PREFIX-<pod>".

RT_IMAGE=routelet.local/busybox:1
RT_PAUSE=2147483647  # a pod's process sleeps this long: until its task is killed

rt_ns() { echo "routelet-$PREFIX"; }
rt_dir() { echo "$STATE/$(node_ns "$1")/containerd"; }
rt_pid() { cat "$(rt_dir "$1")/containerd.pid" 2>/dev/null; }
rt_cni_id() { echo "$(rt_ns)-$(pod_ns "$1" "$2")"; }

# ctr against node i's containerd, inside its mount and network namespaces: rt_ctr runs it,
# rt_ctr_argv leaves the command line in RT_ARGV for a caller that wraps it (setsid, &).
rt_ctr_argv() {
  RT_ARGV=(nsenter -t "$(rt_pid "$1")" -m -n -r -w ctr --address "$(rt_dir "$1")/containerd.sock" -n "$(rt_ns)")
}
rt_ctr() {
  local i=$1
  shift
  rt_ctr_argv "$i"
  "${RT_ARGV[@]}" "$@"
}

rt_config() {
  local d=$1
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
# No CRI: it would read the machine's CNI dirs and serve a kubelet there is not.
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
}

rt_image() {
  [[ -f $STATE/busybox-oci.tar ]] && return 0
  python3 "$ROOT/scripts/lib/busybox_oci.py" "$STATE/.busybox-oci.tar" --name "$RT_IMAGE"
  mv -f "$STATE/.busybox-oci.tar" "$STATE/busybox-oci.tar"
}

rt_start() {
  local i=$1 ns d
  ns=$(node_ns "$i")
  d=$(rt_dir "$i")
  pid_alive "$d/containerd.pid" && return 0
  mkdir -p "$d/root" "$d/state" "$d/cni-cache"
  rt_config "$d"
  rt_image
  # nsenter, not `ip netns exec`: that remounts /sys, and runc needs the cgroup mounts.
  nsenter --net="/var/run/netns/$ns" setsid unshare --mount --propagation private \
    "$ROOT/scripts/lib/runtime-node.sh" "$d" "$STATE/$ns/net.d" "$STATE/bin" "$STATE" \
    </dev/null >>"$d/containerd.log" 2>&1 &
  echo $! >"$d/containerd.pid"
  wait_for "containerd on $ns (log: $d/containerd.log)" 30 rt_answers "$i"
  readlink "/proc/$(rt_pid "$i")/ns/mnt" >"$d/mntns"
  rt_ctr "$i" image import "$STATE/busybox-oci.tar" >/dev/null
}

rt_task_running() { rt_task_pid "$@" >/dev/null; }
rt_answers() { rt_ctr "$1" version >/dev/null; }

# The PID of pod j's task on node i, once it runs.
rt_task_pid() {
  rt_ctr "$1" task ls 2>/dev/null | awk -v id="$(pod_ns "$1" "$2")" \
    '$1 == id && $3 == "RUNNING" {print $2; found = 1} END {exit !found}'
}

# Starts pod j on node i the way a runtime does: containerd creates the sandbox, libcni
# runs ADD before the task starts, and `ctr run --rm` runs DEL when the task ends.
rt_pod_start() {
  local i=$1 j=$2 pod d
  pod=$(pod_ns "$i" "$j")
  d=$(rt_dir "$i")
  rt_ctr_argv "$i"
  setsid "${RT_ARGV[@]}" run --rm --cni "$RT_IMAGE" "$pod" sleep $RT_PAUSE </dev/null >>"$d/$pod.log" 2>&1 &
  echo $! >"$d/$pod.ctr.pid"
  if ! wait_for "pod $pod to run under containerd (log: $d/$pod.log)" 60 rt_task_running "$i" "$j"; then
    cat "$d/$pod.log" >&2
    return 1
  fi
  ip netns attach "$pod" "$(rt_task_pid "$i" "$j")"
}

# Kills pod j's task; its `ctr run` then runs DEL and removes the container.
rt_pod_stop() {
  local i=$1 j=$2 pod d pid
  pod=$(pod_ns "$i" "$j")
  d=$(rt_dir "$i")
  ip netns del "$pod" 2>/dev/null || true
  [[ -f $d/$pod.ctr.pid ]] || return 0
  pid=$(cat "$d/$pod.ctr.pid")
  rt_ctr "$i" task kill -s SIGKILL "$pod" >/dev/null 2>&1 || true
  wait_for "ctr run of $pod to run DEL and exit (log: $d/$pod.log)" 30 not_running "$pid" || true
  rm -f "$d/$pod.ctr.pid"
}
not_running() { ! running "$1"; }

# Processes of node i's runtime: containerd and its shims share its private mount namespace.
rt_processes() {
  local mnt p
  mnt=$(cat "$(rt_dir "$1")/mntns" 2>/dev/null) || return 0
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$mnt" ]] && echo "${p#/proc/}"
  done
  return 0
}

rt_stop() {
  local i=$1 d p
  d=$(rt_dir "$i")
  [[ -d $d ]] || return 0
  for p in $(rt_processes "$i"); do kill -KILL "$p" 2>/dev/null || true; done
  wait_for "node $i's containerd and shims to exit" 30 rt_none_left "$i" || true
}
rt_none_left() { [[ -z $(rt_processes "$1") ]]; }

# runc leaves the per-namespace parent of its cgroups; remove it once every node stopped.
rt_cgroups_remove() {
  local c
  for c in /sys/fs/cgroup/*/"$(rt_ns)"; do
    [[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}
