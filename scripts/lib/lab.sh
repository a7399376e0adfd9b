# Functions behind scripts/lab. Names the lab makes, so people and scripts can find them:
#   rl-underlay          the underlay: bridge br0 (segment 0, 192.168.1.1) and the API
#                        stand-in; with --subnets K also br1..br(K-1) (segment k: 192.168.(1+k).1,
#                        fd00:192:168:(1+k)::1), and it forwards between them: the router
#                        between the segments, which knows the node subnets but no pod range
#   rl-node1..N          node namespaces, eth0 = 192.168.(1+k).(10+i) on segment k = (i-1) % K
#                        (scripts/lab move puts it on another), podCIDR 10.244.i.0/24
#   rl-nodeI-podJ        pod namespaces, made by routelet-cni as a runtime would
#   rl-external          a host outside the cluster, for the Services matrix (services.sh)
# ("rl" is --prefix: tests run their own lab beside a person's under another prefix.)
# State (logs, kubeconfigs, each node's CNI conf and IPAM dirs) lives under $STATE.
# CLUSTER says what the nodes and pods are: kubernetes, a real cluster (kube.sh: etcd,
# kube-apiserver, controller-manager and scheduler in the underlay, containerd, kubelet and
# kube-proxy in each node, pods made by the kubelets), or standin, the API stand-in with the
# agents alone and pods made by the lab through routelet-cni (fast, up to 200 nodes).

PREFIX=${PREFIX:-rl}
CLUSTER=${CLUSTER:-standin}
RUNTIME=${RUNTIME:-direct}  # how pods are made: direct (exec routelet-cni) or containerd
# The agents' Services settings, on or off each (routelet --masquerade, --hairpin,
# --bridge-netfilter).
MASQUERADE=${MASQUERADE:-on}
HAIRPIN=${HAIRPIN:-on}
BRIDGE_NF=${BRIDGE_NF:-on}
# How the real cluster runs routelet's agent (--deploy): daemonset or process.
DEPLOY=${DEPLOY:-process}
UNDERLAY=$PREFIX-underlay
API_IP=192.168.1.1
API_PORT=6443
PODS_PER_NODE=2
SUBNETS=${SUBNETS:-1}  # underlay segments (--subnets); 1: one bridge, no router

node_ns() { echo "$PREFIX-node$1"; }
pod_ns() { echo "$PREFIX-node$1-pod$2"; }
# A node's segment: where make_node or `scripts/lab move` put it ($STATE/<node>/segment), else
# where make_node puts a node, (i-1) % SUBNETS. Its addresses follow from it.
node_segment() {
  local f
  f=$STATE/$(node_ns "$1")/segment
  if [[ -f $f ]]; then cat "$f"; else echo $((($1 - 1) % SUBNETS)); fi
}
node_segment_set() {
  local dir
  dir=$STATE/$(node_ns "$1")
  mkdir -p "$dir"
  echo "$2" >"$dir/segment.tmp"
  mv "$dir/segment.tmp" "$dir/segment"
}
segment_net() { echo "192.168.$((1 + $1))"; }
segment_net6() { echo "fd00:192:168:$((1 + $1))"; }
node_ip() { echo "$(segment_net "$(node_segment "$1")").$((10 + $1))"; }
node_ip6() { echo "$(segment_net6 "$(node_segment "$1")")::$((10 + $1))"; }
node_cidr() { echo "10.244.$1.0/24"; }
node_cidr6() { echo "fd00:10:244:$1::/64"; }
ns_exists() { [[ -e /var/run/netns/$1 ]]; }

# $STATE/lab.conf records what `up` made (node count, dual-stack, prefix, how pods are
# made, the agents' settings, the underlay segments, the kind of cluster), so status, down
# and a later up find that same lab whatever --prefix they are given. A lab.conf of an older
# lab lacks the later fields: their defaults (an older lab is a stand-in one).
lab_conf_save() {
  echo "$NODES $DUAL $PREFIX $RUNTIME $MASQUERADE $HAIRPIN $BRIDGE_NF $SUBNETS $CLUSTER $DEPLOY" >"$STATE/lab.conf"
}
lab_conf_deploy() {
  local deploy=""
  [[ -f $STATE/lab.conf ]] || return 0
  read -r _ _ _ _ _ _ _ _ _ deploy _ <"$STATE/lab.conf"
  echo "${deploy:-process}"
}
lab_conf_cluster() {
  local cluster=""
  [[ -f $STATE/lab.conf ]] || return 0
  read -r _ _ _ _ _ _ _ _ cluster _ <"$STATE/lab.conf"
  echo "${cluster:-standin}"
}
lab_conf_subnets() {
  local subnets=""
  [[ -f $STATE/lab.conf ]] || return 0
  read -r _ _ _ _ _ _ _ subnets _ <"$STATE/lab.conf"
  echo "${subnets:-1}"
}
lab_conf_prefix() {
  local nodes dual prefix=""
  [[ -f $STATE/lab.conf ]] && read -r nodes dual prefix _ <"$STATE/lab.conf"
  echo "$prefix"
}
lab_conf_load() {
  [[ -f $STATE/lab.conf ]] || return 0
  read -r NODES DUAL PREFIX RUNTIME MASQUERADE HAIRPIN BRIDGE_NF SUBNETS CLUSTER DEPLOY _ <"$STATE/lab.conf"
  SUBNETS=${SUBNETS:-1}
  CLUSTER=${CLUSTER:-standin}
  DEPLOY=${DEPLOY:-process}
  PREFIX=${PREFIX:-rl}
  RUNTIME=${RUNTIME:-direct}
  MASQUERADE=${MASQUERADE:-on}
  HAIRPIN=${HAIRPIN:-on}
  BRIDGE_NF=${BRIDGE_NF:-on}
  UNDERLAY=$PREFIX-underlay
}

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "lab: run as root: it creates network namespaces" >&2
    exit 1
  fi
}

build() {
  # Tests run the lab from binaries their build already made.
  [[ ${LAB_SKIP_BUILD:-0} == 1 ]] && return 0
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

# The underlay: one bridge per segment, br<k> with the segment's router address (br0's is
# also the API stand-in's, $API_IP). With more than one segment the namespace forwards
# between them (a sysctl of this namespace only): a router that has the node subnets as
# connected routes and no route to any pod range, so pods on different segments talk only
# through what routelet makes of it (encapsulation), never through the router's routes.
make_underlay() {
  ns_exists $UNDERLAY && return 0
  ip netns add $UNDERLAY
  ip -n $UNDERLAY link set lo up
  local k
  for ((k = 0; k < SUBNETS; k++)); do
    ip -n $UNDERLAY link add "br$k" type bridge
    ip -n $UNDERLAY addr add "$(segment_net "$k").1/24" dev "br$k"
    ip -n $UNDERLAY -6 addr add "$(segment_net6 "$k")::1/64" dev "br$k" nodad
    ip -n $UNDERLAY link set "br$k" up
  done
  if ((SUBNETS > 1)); then
    ip netns exec $UNDERLAY sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  fi
}

# node_addresses <i> <add|del>: node i's underlay addresses on eth0 and, with more than one
# segment, its default routes via its segment's router, as `ip -batch` lines (each line's
# addresses tell the family).
node_addresses() {
  local i=$1 verb=$2 k nodad="" route=del
  k=$(node_segment "$i")
  [[ $verb == add ]] && nodad=" nodad" route=replace
  echo "addr $verb $(node_ip "$i")/24 dev eth0"
  echo "addr $verb $(node_ip6 "$i")/64 dev eth0$nodad"
  if ((SUBNETS > 1)); then
    echo "route $route default via $(segment_net "$k").1 dev eth0"
    echo "route $route default via $(segment_net6 "$k")::1 dev eth0"
  fi
}

make_node() {
  local i=$1 ns
  ns=$(node_ns "$i")
  ns_exists "$ns" && return 0
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  node_segment_set "$i" $(((i - 1) % SUBNETS))
  ip -n $UNDERLAY link add "n$i" type veth peer name eth0 netns "$ns"
  ip -n $UNDERLAY link set "n$i" master "br$(node_segment "$i")" up
  ip -n "$ns" link set eth0 up
  node_addresses "$i" add | ip -n "$ns" -batch -
  bridge_nf_clear "$ns"
  mkdir -p "$STATE/$ns/net.d" "$STATE/$ns/ipam" "$STATE/$ns/run"
}

make_pods() {
  local i=$1 j
  if [[ $RUNTIME == containerd ]]; then
    rt_start "$i"
    for ((j = 1; j <= PODS_PER_NODE; j++)); do
      ns_exists "$(pod_ns "$i" "$j")" || rt_pod_start "$i" "$j"
    done
    return 0
  fi
  for ((j = 1; j <= PODS_PER_NODE; j++)); do
    ns_exists "$(pod_ns "$i" "$j")" && [[ -n $(pod_ip "$i" "$j") ]] && continue
    ns_exists "$(pod_ns "$i" "$j")" || ip netns add "$(pod_ns "$i" "$j")"
    cni "$i" "$j" ADD >"$STATE/$(pod_ns "$i" "$j").result.json" 2>>"$STATE/cni.log"
  done
}

# pod_remove <i> <j>: pod j of node i as a runtime removes a pod: its task killed (containerd)
# or DEL through the plugin (direct), so its lease and host veth go. A direct pod's namespace
# stays for the caller.
pod_remove() {
  local i=$1 j=$2
  echo_stop "$(pod_ns "$i" "$j")"
  if [[ $RUNTIME == containerd ]]; then
    rt_pod_stop "$i" "$j"
  elif ns_exists "$(pod_ns "$i" "$j")" && [[ -f $(conflist_of "$i") && -x $STATE/bin/routelet-cni ]]; then
    cni "$i" "$j" DEL >/dev/null 2>>"$STATE/cni.log" || true
  fi
}

lab_down() {
  need_root
  local pidfile ns
  lab_conf_load
  if [[ -f $STATE/apiserver/standin.json ]]; then
    ip netns exec $UNDERLAY "$ROOT/tests/apiserver/standin" ctl --state-dir "$STATE/apiserver" stop >/dev/null 2>&1 || true
  fi
  for pidfile in "$STATE"/*/agent.pid; do
    [[ -f $pidfile ]] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
  # The echo servers first: one keeps its pod's network namespace alive.
  echo_stop_all
  # Pods next, through the plugin as a runtime would (leases released, host veths gone),
  # then every namespace the lab made: nodes, pods, the external host, the underlay. With
  # containerd, killing a pod's task makes its runtime run DEL; then the node's containerd
  # and shims go. A real cluster goes all at once (kube_down): no pod's network outlives it.
  local i j
  if [[ $CLUSTER == kubernetes ]]; then
    kube_down
  else
    for ((i = 1; i <= NODES; i++)); do
      for ((j = 1; j <= PODS_PER_NODE; j++)); do pod_remove "$i" "$j"; done
      if [[ $RUNTIME == containerd ]]; then rt_stop "$i"; fi
    done
    if [[ $RUNTIME == containerd ]]; then rt_cgroups_remove; fi
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$PREFIX-(node[0-9]+(-pod[0-9]+)?|underlay|external)\$" | sort -r); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$STATE"
  echo "lab: removed"
}

print_matrix() {
  local family=$1 failures=0 i j k l src dst ip via
  local -a pods=()
  for ((i = 1; i <= NODES; i++)); do
    for ((j = 1; j <= PODS_PER_NODE; j++)); do pods+=("$i:$j"); done
  done
  # ok: at least one of three echo requests answered (the first may wait for neighbour
  # discovery on every hop of a busy machine).
  printf '\nping matrix (IPv%s), from row to column' "$family"
  if ((SUBNETS > 1)); then printf ' ("via router": the nodes are on different segments)'; fi
  printf ':\n%-16s' ""
  for dst in "${pods[@]}"; do printf '%-16s' "$(pod_ns "${dst%:*}" "${dst#*:}" | sed "s/^$PREFIX-//")"; done
  echo
  for src in "${pods[@]}"; do
    printf '%-16s' "$(pod_ns "${src%:*}" "${src#*:}" | sed "s/^$PREFIX-//")"
    for dst in "${pods[@]}"; do
      k=${dst%:*} l=${dst#*:}
      if [[ $family == 4 ]]; then ip=$(pod_ip "$k" "$l"); else ip=$(pod_ip6 "$k" "$l"); fi
      # With several segments, a cell between nodes on different ones says so.
      via=""
      if ((SUBNETS > 1)) && [[ $(node_segment "${src%:*}") != $(node_segment "$k") ]]; then via=" via router"; fi
      if [[ -n $ip ]] && ip netns exec "$(pod_ns "${src%:*}" "${src#*:}")" ping -"$family" -c3 -i0.2 -W2 -q "$ip" >/dev/null 2>&1; then
        printf '%-16s' "ok$via"
      else
        printf '%-16s' "FAIL$via"
        failures=$((failures + 1))
      fi
    done
    echo
  done
  return $((failures > 0))
}

STANDIN="$ROOT/tests/apiserver/standin"
source "$ROOT/scripts/lib/runtime.sh"
source "$ROOT/scripts/lib/services.sh"
source "$ROOT/scripts/lib/kube.sh"
# The kubectl scripts/setup installs (Debian's 1.20.2), whatever else the machine has.
KUBECTL=${ROUTELET_CACHE:-/var/cache/routelet}/bin/kubectl
KUBECTL_ADMIN() { ip netns exec $UNDERLAY "$KUBECTL" --kubeconfig "$STATE/apiserver/admin.kubeconfig" "$@"; }

# node_addresses_json <i>: node i's status.addresses, its InternalIPs where it is now (bash,
# not python: `up` writes one per node).
node_addresses_json() {
  local json
  json="[{\"type\": \"InternalIP\", \"address\": \"$(node_ip "$1")\"}"
  ((DUAL)) && json+=", {\"type\": \"InternalIP\", \"address\": \"$(node_ip6 "$1")\"}"
  echo "$json, {\"type\": \"Hostname\", \"address\": \"$(node_ns "$1")\"}]"
}

write_node_file() {
  local i addrs=()
  for ((i = 1; i <= NODES; i++)); do addrs+=("$(node_addresses_json "$i")"); done
  python3 - "$NODES" "$DUAL" "$PREFIX" "${addrs[@]}" >"$STATE/nodes.json" <<'PY'
import json, sys
n, dual, prefix = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3]
nodes = []
for i in range(1, n + 1):
    cidrs = [f"10.244.{i}.0/24"] + ([f"fd00:10:244:{i}::/64"] if dual else [])
    addrs = json.loads(sys.argv[3 + i])
    nodes.append({"metadata": {"name": f"{prefix}-node{i}"},
                  "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs},
                  "status": {"addresses": addrs}})
print(json.dumps(nodes))
PY
}

# A process that runs: not gone and not a zombie (an exited agent whose reparented parent,
# e.g. a container's PID 1, does not reap it still answers kill -0).
running() { kill -0 "$1" 2>/dev/null && [[ $(ps -o stat= -p "$1" 2>/dev/null) != Z* ]]; }
pid_alive() { [[ -f $1 ]] && running "$(cat "$1")"; }

start_standin() {
  if [[ -f $STATE/apiserver/standin.json ]] && running "$(python3 -c "import json;print(json.load(open('$STATE/apiserver/standin.json'))['pid'])")"; then
    return 0
  fi
  mkdir -p "$STATE/apiserver"
  write_node_file
  # --daemon returns once the server listens and its kubeconfigs are written.
  ip netns exec $UNDERLAY "$STANDIN" serve --listen "$API_IP:$API_PORT" --state-dir "$STATE/apiserver" \
    --node-file "$STATE/nodes.json" --daemon >/dev/null
}

# The Services settings every agent gets; $STATE/<node>/agent.settings keeps those its
# running agent got (an agent of a lab older than that file got none: the defaults).
agent_settings() { echo "--masquerade $MASQUERADE --hairpin $HAIRPIN --bridge-netfilter $BRIDGE_NF"; }
agent_settings_running() {
  cat "$STATE/$(node_ns "$1")/agent.settings" 2>/dev/null ||
    echo "--masquerade on --hairpin on --bridge-netfilter on"
}

# Bridge netfilter is 0 in a node made new and before an agent starts with other settings,
# so the node has what its agent makes of it: a fresh namespace on this kernel starts at 1
# (br_netfilter's per-namespace default), which would pass the same-node Service cell with
# --bridge-netfilter off, or with an agent that never sets it. An agent restarted with the
# same settings finds what its predecessor left, as on a real node (an upgrade must not cut
# Service traffic). Without br_netfilter there is nothing to set (and the cell fails).
bridge_nf_clear() {
  local f
  for f in bridge-nf-call-iptables bridge-nf-call-ip6tables; do
    ip netns exec "$1" sh -c "[ ! -e /proc/sys/net/bridge/$f ] || echo 0 >/proc/sys/net/bridge/$f"
  done
}

# The lab's settings as flags, but none whose ROUTELET_* variable the caller set: a flag
# would win over it, and tests restart one agent with a variable (test_masquerade; its
# agent.settings still says what the lab asked for).
agent_flags() {
  local -a flags=()
  [[ -n ${ROUTELET_MASQUERADE:-} ]] || flags+=(--masquerade "$MASQUERADE")
  [[ -n ${ROUTELET_HAIRPIN:-} ]] || flags+=(--hairpin "$HAIRPIN")
  [[ -n ${ROUTELET_BRIDGE_NETFILTER:-} ]] || flags+=(--bridge-netfilter "$BRIDGE_NF")
  echo "${flags[*]}"
}

# On the real cluster the agents know its pod ranges, as the controller-manager's
# --cluster-cidr (the stand-in's agents route whatever podCIDR they are given).
agent_cluster_flags() {
  if [[ $CLUSTER == kubernetes ]]; then echo "--cluster-cidr $(kube_cluster_cidrs)"; fi
}

start_agent() {
  local i=$1 ns dir
  ns=$(node_ns "$i")
  dir=$STATE/$ns
  pid_alive "$dir/agent.pid" && return 0
  # shellcheck disable=SC2046 # the flags are words
  ip netns exec "$ns" setsid "$STATE/bin/routelet" --node-name "$ns" \
    --kubeconfig "$STATE/apiserver/agent.kubeconfig" --cni-conf-dir "$dir/net.d" \
    --cni-bin-dir "$STATE/bin" --ipam-data-dir "$dir/ipam" --run-dir "$dir/run" \
    --listen 127.0.0.1:9654 $(agent_flags) $(agent_cluster_flags) </dev/null >>"$dir/agent.log" 2>&1 &
  echo $! >"$dir/agent.pid"
  agent_settings >"$dir/agent.settings"
}

stop_agent() {
  local pidfile pid
  pidfile=$STATE/$(node_ns "$1")/agent.pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  wait_for "agent $pid of $(node_ns "$1") to exit" 10 not_running "$pid"
  rm -f "$pidfile"
}

conflist_hairpin() {
  python3 -c 'import json, sys; print("on" if json.load(open(sys.argv[1]))["plugins"][0].get("hairpinMode") else "off")' "$(conflist_of "$1")"
}
conflist_hairpin_is() { [[ $(conflist_hairpin "$1") == "$HAIRPIN" ]]; }

# GET a path from the agent's endpoints inside its node namespace; prints the status code.
agent_http() {
  ip netns exec "$(node_ns "$1")" bash -c "exec 3<>/dev/tcp/127.0.0.1/9654 && printf 'GET $2 HTTP/1.0\r\n\r\n' >&3 && head -1 <&3" 2>/dev/null | awk '{print $2}'
}
agent_ready() { [[ $(agent_http "$1" /readyz) == 200 ]]; }

# install_atomically <file> <dir>: temp file + rename, so a running node never execs half a
# binary.
install_atomically() {
  cp "$1" "$2/.$(basename "$1").tmp"
  mv -f "$2/.$(basename "$1").tmp" "$2/$(basename "$1")"
}

install_binaries() {
  mkdir -p "$STATE/bin"
  local b
  for b in "$BUILD/cni/routelet-cni" "$BUILD/controller/routelet"; do install_atomically "$b" "$STATE/bin"; done
}

# Bridged pod traffic meets kube-proxy's (or the lab's Service) rules only through
# br_netfilter, a module on stock Debian kernels that nothing loads at boot (scripts/setup
# loads it too; tests skip setup).
bridge_netfilter_loaded() {
  [[ -d /proc/sys/net/bridge ]] && return 0
  modprobe br_netfilter 2>/dev/null && echo "lab: loaded the br_netfilter module" && return 0
  echo "lab: br_netfilter is not loaded and modprobe br_netfilter failed: same-node Service cells will fail" >&2
}

# agent_settings_apply <i>: an agent running with other settings than this `up` asks for is
# stopped, to be started again with them. A pod's host veth takes hairpin mode when the pod
# is made, so a changed --hairpin adds the node to remake: its pods are made again, from the
# conflist the new agent writes.
agent_settings_apply() {
  local i=$1
  if pid_alive "$STATE/$(node_ns "$i")/agent.pid" && [[ $(agent_settings_running "$i") != "$(agent_settings)" ]]; then
    [[ $(agent_settings_running "$i") == *"--hairpin $HAIRPIN "* ]] || remake+=("$i")
    stop_agent "$i"
    bridge_nf_clear "$(node_ns "$i")"
  fi
}

lab_up() {
  need_root
  echo "lab: building (first run installs packages and compiles; later runs are quick)"
  LAB_AGENT=1 build
  bridge_netfilter_loaded
  mkdir -p "$STATE"
  lab_conf_save
  install_binaries
  if [[ $CLUSTER == kubernetes ]]; then
    kube_up
    services_up
    lab_status
    return
  fi
  make_underlay
  start_standin
  local i j remake=()
  for ((i = 1; i <= NODES; i++)); do
    make_node "$i"
    agent_settings_apply "$i"
    start_agent "$i"
  done
  for ((i = 1; i <= NODES; i++)); do
    wait_for "agent on $(node_ns "$i") to be ready (log: $STATE/$(node_ns "$i")/agent.log)" 60 agent_ready "$i"
  done
  for i in "${remake[@]}"; do
    wait_for "$(conflist_of "$i") to say hairpinMode $HAIRPIN" 30 conflist_hairpin_is "$i"
    for ((j = 1; j <= PODS_PER_NODE; j++)); do
      pod_remove "$i" "$j"
      if ns_exists "$(pod_ns "$i" "$j")"; then ip netns del "$(pod_ns "$i" "$j")"; fi
    done
  done
  for ((i = 1; i <= NODES; i++)); do make_pods "$i"; done
  services_up
  lab_status
}

lab_status() {
  need_root
  lab_conf_load
  if ! ns_exists $UNDERLAY; then
    echo "lab: not running (scripts/lab up starts it)" >&2
    return 1
  fi
  local i j
  echo
  if [[ $CLUSTER == kubernetes ]]; then
    echo "== cluster (Kubernetes v1.20.2, apiserver https://$API_IP:$API_PORT, kubeconfig $STATE/apiserver/admin.kubeconfig)"
    KUBECTL_ADMIN -n $KUBE_NAMESPACE get nodes,pods -o wide
    echo
    echo "== routelet on the nodes (its Node annotations and condition)"
  else
    echo "== nodes (API stand-in at https://$API_IP:$API_PORT, kubeconfig $STATE/apiserver/admin.kubeconfig)"
  fi
  KUBECTL_ADMIN get nodes -o custom-columns='NAME:.metadata.name,NODE-IPS:.metadata.annotations.routelet\.io/node-ips,POD-CIDRS:.metadata.annotations.routelet\.io/pod-cidrs,BRIDGE:.metadata.annotations.routelet\.io/bridge,MTU:.metadata.annotations.routelet\.io/mtu,STATE:.metadata.annotations.routelet\.io/state,NETWORK-UNAVAILABLE:.status.conditions[?(@.type=="NetworkUnavailable")].status'
  if ((SUBNETS > 1)); then
    echo
    echo "== underlay segments ($UNDERLAY routes between them; it has no route to any pod range)"
    local k members
    for ((k = 0; k < SUBNETS; k++)); do
      members=""
      for ((i = 1; i <= NODES; i++)); do
        ns_exists "$(node_ns "$i")" && [[ $(node_segment "$i") == "$k" ]] && members+=" $(node_ns "$i")"
      done
      printf '  segment %s  br%s  %s.0/24 %s::/64 %s\n' "$k" "$k" "$(segment_net "$k")" "$(segment_net6 "$k")" \
        "${members:- (no node)}"
    done
  fi
  echo
  echo "== routes (\"<- routelet\": programmed by routelet, proto 201)"
  for ((i = 1; i <= NODES; i++)); do
    echo "$(node_ns "$i"):"
    { ip -n "$(node_ns "$i")" route; if ((DUAL)); then ip -n "$(node_ns "$i")" -6 route | grep -v '^fe80\|^multicast\|^local'; fi; } |
      sed -e 's/^/  /' -e 's/\(.* proto 201 .*\)/\1   <- routelet/'
  done
  echo
  echo "== agents (routelet $(agent_settings)) and their nodes' netfilter"
  for ((i = 1; i <= NODES; i++)); do
    ns_exists "$(node_ns "$i")" || continue
    printf '  %-16s bridge-nf-call-iptables %s, -ip6tables %s; nftables: %s\n' "$(node_ns "$i")" \
      "$(ip netns exec "$(node_ns "$i")" cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo -)" \
      "$(ip netns exec "$(node_ns "$i")" cat /proc/sys/net/bridge/bridge-nf-call-ip6tables 2>/dev/null || echo -)" \
      "$(ip netns exec "$(node_ns "$i")" nft list tables 2>/dev/null | sed 's/^table //' | paste -sd, - | sed 's/,/, /g')"
  done
  echo
  echo "== pods"
  printf '  %-16s %-16s %s\n' POD NODE IP
  for ((i = 1; i <= NODES; i++)); do
    for ((j = 1; j <= PODS_PER_NODE; j++)); do
      printf '  %-16s %-16s %s\n' "$(pod_ns "$i" "$j")" "$(node_ns "$i")" "$(pod_ip "$i" "$j") $(pod_ip6 "$i" "$j")"
    done
  done
  local failed=0 services_failed=0 svc_dir families=4 checking
  if ((DUAL)); then families="4 6"; fi
  svc_dir=$(mktemp -d "$STATE/.services.XXXXXX")
  # shellcheck disable=SC2086 # the families are words
  services_check "$svc_dir" $families &
  checking=$!
  print_matrix 4 || failed=1
  if ((DUAL)); then print_matrix 6 || failed=1; fi
  wait "$checking" || true
  print_services 4 "$svc_dir" || services_failed=1
  if ((DUAL)); then print_services 6 "$svc_dir" || services_failed=1; fi
  rm -rf "$svc_dir"
  echo
  if ((failed)); then
    echo "lab: some pods cannot reach each other (agent logs: $STATE/$PREFIX-node*/agent.log)" >&2
  fi
  if ((services_failed)); then
    echo "lab: some Service paths fail (agent logs: $STATE/$PREFIX-node*/agent.log; echo servers: $STATE/echo)" >&2
  fi
  ((failed || services_failed)) && return 1
  echo "lab: every pod reaches every other pod, and every Service path works. scripts/lab down removes it all."
}

# node_status_patch <node> <merge patch>: a merge PATCH of the Node's status as the admin,
# with curl: kubectl patch reaches subresources only from 1.24 on, and takes half a second to
# start, which a move's traffic would wait for.
node_status_patch() {
  local code
  code=$(api_merge_patch "$(cat "$STATE/apiserver/admin.token")" "/api/v1/nodes/$1/status" "$2")
  [[ $code == 2?? ]] || { echo "lab: PATCH of $1's status: HTTP $code" >&2; return 1; }
}

# api_merge_patch <token> <path> <json>: a merge PATCH to the lab's API server (either
# cluster: the real one's CA is the lab's PKI's) with that bearer token; prints the HTTP code.
api_merge_patch() {
  local ca=$STATE/apiserver/ca.crt
  [[ $CLUSTER == kubernetes ]] && ca=$(kube_pki)/ca.crt
  ip netns exec $UNDERLAY curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" -X PATCH \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/merge-patch+json' \
    --data "$3" "https://$API_IP:$API_PORT$2"
}

# lab_move <i> <segment>: node i to another underlay segment while it runs, as a machine
# re-plugged into another network and renumbered there: its veth onto that segment's bridge,
# its addresses and default routes replaced (one `ip -batch` each, new ones before the old
# go), then its Node's status.addresses (InternalIPs) through the API, which is how every
# agent, its own included, learns the node's new address. Nothing is restarted.
lab_move() {
  need_root
  lab_conf_load
  local i=$1 to=$2 ns from started
  ns=$(node_ns "$i")
  if ! ns_exists $UNDERLAY; then
    echo "lab: not running (scripts/lab up starts it)" >&2
    return 1
  fi
  if ! [[ $i =~ ^[1-9][0-9]*$ ]] || ! ns_exists "$ns"; then
    echo "lab: move --node wants a node of the lab, got ${i:-nothing}" >&2
    return 2
  fi
  if ! [[ $to =~ ^[0-9]$ ]] || ((to >= SUBNETS)); then
    echo "lab: move --segment wants 0-$((SUBNETS - 1)) (the lab has $SUBNETS; scripts/lab up --subnets K makes more), got ${to:-nothing}" >&2
    return 2
  fi
  from=$(node_segment "$i")
  if [[ $from == "$to" ]]; then
    echo "lab: $ns is on segment $to already"
    return 0
  fi
  # Everything worked out first: between the link's move and the patch, traffic waits.
  local old new patch
  old=$(node_addresses "$i" del)
  node_segment_set "$i" "$to"
  new=$(node_addresses "$i" add)
  patch='{"status": {"addresses": '"$(node_addresses_json "$i")"'}}'
  started=$(date +%s%N)
  ip -n $UNDERLAY link set "n$i" master "br$to"
  # The old default routes go with the old addresses (their gateways are no longer on-link).
  { echo "$new"; grep '^addr' <<<"$old"; } | ip -n "$ns" -batch -
  node_status_patch "$ns" "$patch"
  echo "lab: moved $ns from segment $from to $to: $(node_ip "$i")$( ((DUAL)) && echo ", $(node_ip6 "$i")") in $((($(date +%s%N) - started) / 1000000)) ms (link, addresses, Node)"
}
