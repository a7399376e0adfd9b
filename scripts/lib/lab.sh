# Functions behind scripts/lab. Names the lab makes, so people and scripts can find them:
#   rl-underlay          the shared L2 segment (a bridge) and the API stand-in
#   rl-node1..N          node namespaces, eth0 = 192.168.1.(10+i), podCIDR 10.244.i.0/24
#   rl-nodeI-podJ        pod namespaces, made by routelet-cni as a runtime would
# State (logs, kubeconfigs, each node's CNI conf and IPAM dirs) lives under $STATE.

UNDERLAY=rl-underlay
API_IP=192.168.1.1
API_PORT=6443
PODS_PER_NODE=2

node_ns() { echo "rl-node$1"; }
pod_ns() { echo "rl-node$1-pod$2"; }
node_ip() { echo "192.168.1.$((10 + $1))"; }
node_ip6() { echo "fd00:192:168:1::$((10 + $1))"; }
node_cidr() { echo "10.244.$1.0/24"; }
node_cidr6() { echo "fd00:10:244:$1::/64"; }
ns_exists() { [[ -e /var/run/netns/$1 ]]; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "lab: run as root: it creates network namespaces" >&2
    exit 1
  fi
}

build() {
  "$ROOT/scripts/setup"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target routelet-cni ${LAB_AGENT:+routelet} >/dev/null
}

# Wait for a condition with a deadline instead of a fixed sleep: returns as soon as the
# condition holds.
wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "lab: timed out waiting for $what" >&2
      return 1
    fi
    sleep 0.05
  done
}

# The network config libcni hands the plugin: the conflist's plugin entry with the
# conflist's cniVersion and name injected.
plugin_stdin() {
  python3 - "$1" <<'PY'
import json, sys
conflist = json.load(open(sys.argv[1]))
conf = dict(conflist["plugins"][0])
conf["cniVersion"] = conflist["cniVersion"]
conf["name"] = conflist["name"]
print(json.dumps(conf))
PY
}

# cni <node> <pod> <ADD|DEL|CHECK>: exec routelet-cni inside the node namespace exactly as
# a runtime does (env + config on stdin).
cni() {
  local i=$1 j=$2 verb=$3 conf
  conf=$(conflist_of "$i")
  plugin_stdin "$conf" | ip netns exec "$(node_ns "$i")" env -i \
    CNI_COMMAND="$verb" CNI_CONTAINERID="$(pod_ns "$i" "$j")" \
    CNI_NETNS="/var/run/netns/$(pod_ns "$i" "$j")" CNI_IFNAME=eth0 CNI_PATH="$STATE/bin" \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod$j" \
    "$STATE/bin/routelet-cni"
}

conflist_of() { echo "$STATE/$(node_ns "$1")/net.d/10-routelet.conflist"; }

pod_ip() {
  ip -n "$(pod_ns "$1" "$2")" -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1
}
pod_ip6() {
  ip -n "$(pod_ns "$1" "$2")" -o -6 addr show dev eth0 scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1
}

make_underlay() {
  ns_exists $UNDERLAY && return 0
  ip netns add $UNDERLAY
  ip -n $UNDERLAY link set lo up
  ip -n $UNDERLAY link add rl-br type bridge
  ip -n $UNDERLAY addr add $API_IP/24 dev rl-br
  ip -n $UNDERLAY -6 addr add fd00:192:168:1::1/64 dev rl-br nodad
  ip -n $UNDERLAY link set rl-br up
}

make_node() {
  local i=$1 ns
  ns=$(node_ns "$i")
  ns_exists "$ns" && return 0
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "rl-n$i" netns $UNDERLAY type veth peer name eth0 netns "$ns"
  ip -n $UNDERLAY link set "rl-n$i" master rl-br up
  ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
  ip -n "$ns" -6 addr add "$(node_ip6 "$i")/64" dev eth0 nodad
  ip -n "$ns" link set eth0 up
  mkdir -p "$STATE/$ns/net.d" "$STATE/$ns/ipam" "$STATE/$ns/run"
}

make_pods() {
  local i=$1 j
  for ((j = 1; j <= PODS_PER_NODE; j++)); do
    ns_exists "$(pod_ns "$i" "$j")" && [[ -n $(pod_ip "$i" "$j") ]] && continue
    ns_exists "$(pod_ns "$i" "$j")" || ip netns add "$(pod_ns "$i" "$j")"
    cni "$i" "$j" ADD >"$STATE/$(pod_ns "$i" "$j").result.json"
  done
}

lab_down() {
  need_root
  local pidfile ns
  for pidfile in "$STATE"/*/agent.pid "$STATE"/apiserver.pid; do
    [[ -f $pidfile ]] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  # Pods first (through the plugin, so leases are released), then nodes, then the underlay.
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^rl-(node[0-9]+(-pod[0-9]+)?|underlay)$' | sort -r); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$STATE"
  echo "lab: removed"
}

print_matrix() {
  local family=$1 failures=0 i j k l src dst ip
  local -a pods=()
  for ((i = 1; i <= NODES; i++)); do
    for ((j = 1; j <= PODS_PER_NODE; j++)); do pods+=("$i:$j"); done
  done
  printf '\nping matrix (IPv%s), from row to column:\n%-16s' "$family" ""
  for dst in "${pods[@]}"; do printf '%-16s' "$(pod_ns "${dst%:*}" "${dst#*:}" | sed 's/^rl-//')"; done
  echo
  for src in "${pods[@]}"; do
    printf '%-16s' "$(pod_ns "${src%:*}" "${src#*:}" | sed 's/^rl-//')"
    for dst in "${pods[@]}"; do
      k=${dst%:*} l=${dst#*:}
      if [[ $family == 4 ]]; then ip=$(pod_ip "$k" "$l"); else ip=$(pod_ip6 "$k" "$l"); fi
      if [[ -n $ip ]] && ip netns exec "$(pod_ns "${src%:*}" "${src#*:}")" ping -"$family" -c1 -W1 -q "$ip" >/dev/null 2>&1; then
        printf '%-16s' "ok"
      else
        printf '%-16s' "FAIL"
        failures=$((failures + 1))
      fi
    done
    echo
  done
  return $((failures > 0))
}
