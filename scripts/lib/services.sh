# Services in the lab: a host outside the cluster, echo servers, and in every node the DNAT
# kube-proxy would write, so the lab shows Kubernetes Services working over routelet's pod
# network. Sourced by lab.sh after its helpers. Names it makes:
#   rl-external            the outside world: a host on the underlay (192.168.1.200,
#                          fd00:192:168:1::200, segment 0) with no route to any pod range and
#                          no default route, so a pod's packet is answered only if it left with
#                          its node's address; with --subnets K, routes to the other segments'
#                          node subnets via the router
#   echo servers           scripts/lib/echo_server.py on port 80 in the Service's endpoints
#                          (pod1 of node1 and node2) and in rl-external; run from the host in
#                          each one's network namespace; pids and logs in $STATE/echo
#   table ip lab-kube-proxy, ip6 lab-kube-proxy (--dual-stack)   in every node: the Service
#                          echo, ClusterIP 10.96.0.10:80 (fd00:96::10) and NodePort 30080 on the
#                          node's addresses, as kube-proxy's nftables mode writes one
# None of it depends on routelet beyond the pod network: the rules name pod and node addresses
# only, so the matrix tests what routelet owes Services (routes, masquerade of traffic leaving
# the cluster, bridge netfilter, hairpin) and nothing of routelet's making stands in for
# kube-proxy. With --runtime containerd the servers run the same way: a pod's network namespace
# is attached under its usual name, and a server needs nothing of the container but its network.
# On the real cluster (kube.sh) there is no imitation: the Service is a real Service object,
# default/echo, whose endpoints are the pods the servers run in, and every node's kube-proxy
# serves it; it picks an endpoint at random, so a cell makes connections until its endpoint
# answered (at most SVC_TRIES).

SVC_IP=10.96.0.10
SVC_IP6=fd00:96::10
SVC_PORT=80
NODE_PORT=30080
EXT_IP=192.168.1.200
EXT_IP6=fd00:192:168:1::200
# Seconds per connection: room for two SYN retransmits (1 s and 3 s), as a first SYN to an
# endpoint the node has no neighbour entry for yet may be dropped while it resolves one
# (seen once in CI on a loaded machine: an IPv6 ClusterIP cell to a same-node endpoint);
# a failing lab still finishes quickly.
SVC_TIMEOUT=4
# Connections per cell on the real cluster, where kube-proxy picks one of the two endpoints at
# random: both have answered within 16 with probability 1 - 2^-15.
SVC_TRIES=16
KP_TABLE=lab-kube-proxy

external_ns() { echo "$PREFIX-external"; }

# The Service's endpoints, "i:j" each: pod1 of node1 and, when it exists, of node2.
svc_endpoints() {
  local i
  for ((i = 1; i <= NODES && i <= 2; i++)); do echo "$i:1"; done
}
# Nodes the matrix checks from: the first three show every path (nodes with an endpoint and
# one without); more would repeat them.
svc_nodes() {
  local i
  for ((i = 1; i <= NODES && i <= 3; i++)); do echo "$i"; done
}

addr_of() { if [[ $1 == 4 ]]; then pod_ip "$2" "$3"; else pod_ip6 "$2" "$3"; fi; }
host_port() { if [[ $1 == *:* ]]; then echo "[$1]:$2"; else echo "$1:$2"; fi; }
short() { echo "${1#"$PREFIX-"}"; }

make_external() {
  local ns
  ns=$(external_ns)
  ns_exists "$ns" && return 0
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n $UNDERLAY link add ext0 type veth peer name eth0 netns "$ns"
  ip -n $UNDERLAY link set ext0 master br0 up
  ip -n "$ns" addr add $EXT_IP/24 dev eth0
  ip -n "$ns" -6 addr add $EXT_IP6/64 dev eth0 nodad
  ip -n "$ns" link set eth0 up
  local k
  for ((k = 1; k < SUBNETS; k++)); do
    ip -n "$ns" route add "$(segment_net "$k").0/24" via "$(segment_net 0).1"
    ip -n "$ns" -6 route add "$(segment_net6 "$k")::/64" via "$(segment_net6 0)::1"
  done
}

# echo_start <namespace>: an echo server named after the namespace, on port 80 inside it.
echo_start() {
  local ns=$1 d=$STATE/echo
  pid_alive "$d/$ns.pid" && return 0
  mkdir -p "$d"
  rm -f "$d/$ns.ready"
  ip netns exec "$ns" setsid python3 "$ROOT/scripts/lib/echo_server.py" --name "$ns" \
    --port $SVC_PORT --ready-file "$d/$ns.ready" </dev/null >>"$d/$ns.log" 2>&1 &
  echo $! >"$d/$ns.pid"
  wait_for "the echo server in $ns to listen (log: $d/$ns.log)" 10 test -f "$d/$ns.ready"
}

echo_stop() {
  local pidfile=$STATE/echo/$1.pid pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  wait_for "echo server $pid in $1 to exit" 10 not_running "$pid" || true
  rm -f "$pidfile" "$STATE/echo/$1.ready"
}

echo_stop_all() {
  local pidfile
  for pidfile in "$STATE"/echo/*.pid; do
    [[ -f $pidfile ]] && echo_stop "$(basename "$pidfile" .pid)"
  done
  return 0
}

# kube_proxy_ruleset <4|6>: the table kube-proxy's nftables mode writes for one Service of
# type NodePort with externalTrafficPolicy Cluster, trimmed to that Service: ClusterIP and
# NodePort jump to the service chain, which picks an endpoint; an endpoint chain DNATs. Traffic
# from outside through a NodePort is marked and masqueraded on the way out (the endpoint may be
# on another node, whose reply must come back through this one), and so is a connection an
# endpoint makes to itself through the Service (it would otherwise see its own address as the
# source and drop the packet).
#
# kube-proxy picks with `numgen random`; here `numgen inc` (round robin): connections one
# after another from a node reach each endpoint in turn, so the matrix makes as many
# connections as there are endpoints and knows which endpoint a failed one went to, the one
# that did not answer. One Service with both endpoints, rather than one Service per cell,
# keeps the lab's Service what a cluster has: a name with endpoints on several nodes.
kube_proxy_ruleset() {
  local family=$1 fam svc loopback ep i j addr chain n=0 vmap="" chains=""
  if [[ $family == 4 ]]; then
    fam=ip svc=$SVC_IP loopback=127.0.0.0/8
  else
    fam=ip6 svc=$SVC_IP6 loopback=::1
  fi
  for ep in $(svc_endpoints); do
    i=${ep%:*} j=${ep#*:}
    addr=$(addr_of "$family" "$i" "$j")
    if [[ -z $addr ]]; then
      echo "lab: $(pod_ns "$i" "$j") has no IPv$family address to be the Service's endpoint" >&2
      return 1
    fi
    chain=endpoint-$(short "$(pod_ns "$i" "$j")")
    vmap+="${vmap:+, }$n : goto $chain"
    chains+="
  chain $chain {
    $fam saddr $addr jump mark-for-masquerade
    meta l4proto tcp dnat to $(host_port "$addr" $SVC_PORT)
  }"
    n=$((n + 1))
  done
  cat <<EOF
table $fam $KP_TABLE
delete table $fam $KP_TABLE
table $fam $KP_TABLE {
  chain mark-for-masquerade {
    meta mark set meta mark or 0x4000
  }
  chain masquerading {
    meta mark & 0x4000 == 0 return
    meta mark set meta mark xor 0x4000
    masquerade fully-random
  }
  chain nat-prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    jump services
  }
  chain nat-output {
    type nat hook output priority -100; policy accept;
    jump services
  }
  chain nat-postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    jump masquerading
  }
  chain services {
    $fam daddr $svc tcp dport $SVC_PORT goto service-echo
    fib daddr type local $fam daddr != $loopback tcp dport $NODE_PORT goto external-echo
  }
  chain external-echo {
    jump mark-for-masquerade
    goto service-echo
  }
  chain service-echo {
    numgen inc mod $n vmap { $vmap }
  }$chains
}
EOF
}

# services_up: the external host, the DNAT in every node (rewritten each time: pods remade by
# `up` have new addresses, as endpoints do), then the echo servers. Echo servers started by a
# failing run are stopped again; `down` stops every one recorded.
services_up() {
  trap 'echo_stop_all' EXIT
  make_external
  local ruleset i ep
  if [[ $CLUSTER == kubernetes ]]; then
    for ep in $(svc_endpoints); do echo_start "$(pod_ns "${ep%:*}" "${ep#*:}")"; done
    echo_start "$(external_ns)"
    kube_services_up
    trap - EXIT
    return 0
  fi
  ruleset=$(kube_proxy_ruleset 4)
  if ((DUAL)); then ruleset+=$'\n'$(kube_proxy_ruleset 6); fi
  for ((i = 1; i <= NODES; i++)); do
    ns_exists "$(node_ns "$i")" && ip netns exec "$(node_ns "$i")" nft -f - <<<"$ruleset"
  done
  for ep in $(svc_endpoints); do echo_start "$(pod_ns "${ep%:*}" "${ep#*:}")"; done
  echo_start "$(external_ns)"
  trap - EXIT
}

# svc_ask <from-namespace> <address> <port> [count [until]]: count connections one after
# another, or fewer once every server named in until (NAME,...) answered; one line each, the
# answer ("NAME SEEN") or "-" (one connection: nothing).
svc_ask() {
  ip netns exec "$1" python3 "$ROOT/scripts/lib/echo_client.py" "$2" "$3" --timeout $SVC_TIMEOUT \
    --count "${4:-1}" --until "${5:-}" 2>/dev/null || true
}

node_of() { local s=${1#"$PREFIX-node"}; echo "${s%%-*}"; }

# svc_row <what> <from> <to> <answered-by> <seen> <ok 0|1>
svc_row() {
  printf '  %-12s %-26s %-12s %-20s %-6s %s\n' "$(short "$2")" "$3" "$(short "$4")" "$5" \
    "$(if (($6)); then echo ok; else echo FAIL; fi)" "$1"
}

# svc_cells <family> <from> <address> <port> <kind: clusterip|nodeport> <target node>:
# one connection per endpoint, one after another (round robin reaches each once), then one
# row per endpoint: ok when that endpoint answered one of them, with the source it saw. So a
# cell passes only on a real answer from its endpoint. A connection that failed went to the
# endpoint that did not answer, or, when its first SYN was dropped before conntrack kept it
# (a hairpin the bridge refuses), its retransmission was balanced anew to another endpoint:
# either way the endpoint that never answered is the failing cell.
svc_cells() {
  local family=$1 from=$2 addr=$3 port=$4 kind=$5 target=$6 ep epns answer name seen what
  local -a answers=() endpoints=()
  local failures=0 tries
  for ep in $(svc_endpoints); do endpoints+=("$(pod_ns "${ep%:*}" "${ep#*:}")"); done
  tries=${#endpoints[@]}
  [[ $CLUSTER == kubernetes ]] && tries=$SVC_TRIES
  mapfile -t answers < <(svc_ask "$from" "$addr" "$port" "$tries" "$(IFS=,; echo "${endpoints[*]}")")
  for epns in "${endpoints[@]}"; do
    name=- seen=-
    for answer in "${answers[@]}"; do
      if [[ ${answer%% *} == "$epns" ]]; then name=$epns seen=${answer#* }; fi
    done
    if [[ $kind == nodeport ]]; then
      if [[ $(node_of "$epns") == "$target" ]]; then what="NodePort, endpoint on this node"; else what="NodePort, endpoint on another node"; fi
    elif [[ $epns == "$from" ]]; then
      what="ClusterIP, endpoint is the client (needs hairpin)"
    elif [[ $(node_of "$epns") == "$(node_of "$from")" ]]; then
      what="ClusterIP, endpoint on the same node (needs bridge netfilter)"
    else
      what="ClusterIP, endpoint on another node"
    fi
    svc_row "$what" "$from" "$(host_port "$addr" "$port")" "$name" "$seen" "$([[ $name != - ]] && echo 1 || echo 0)"
    [[ $name != - ]] || failures=$((failures + 1))
  done
  return $((failures > 0))
}

# svc_node_rows <family> <i>: the rows of the paths through node i: its pods to the ClusterIP
# (DNATed on node i), the external host to node i's NodePort, its pod to the external host.
svc_node_rows() {
  local family=$1 i=$2 failures=0 svc ext nip answer name seen ok
  if [[ $family == 4 ]]; then
    svc=$SVC_IP ext=$EXT_IP nip=$(node_ip "$i")
  else
    svc=$SVC_IP6 ext=$EXT_IP6 nip=$(node_ip6 "$i")
  fi
  svc_cells "$family" "$(pod_ns "$i" 2)" "$svc" $SVC_PORT clusterip "$i" || failures=$((failures + 1))
  if [[ $(svc_endpoints) == *"$i:1"* ]]; then
    svc_cells "$family" "$(pod_ns "$i" 1)" "$svc" $SVC_PORT clusterip "$i" || failures=$((failures + 1))
  fi
  svc_cells "$family" "$(external_ns)" "$nip" $NODE_PORT nodeport "$i" || failures=$((failures + 1))
  # Out of the cluster: answered only through the node's masquerade (the external host has
  # no route back to a pod), and it must see the node's own address.
  answer=$(svc_ask "$(pod_ns "$i" 2)" "$ext" $SVC_PORT)
  name=- seen=- ok=0
  if [[ -n $answer ]]; then name=${answer%% *} seen=${answer#* }; fi
  if [[ $name == "$(external_ns)" && $seen == "$nip" ]]; then ok=1; fi
  svc_row "external host, must see the node's address (needs masquerade)" "$(pod_ns "$i" 2)" \
    "$(host_port "$ext" $SVC_PORT)" "$name" "$seen" $ok
  ((ok)) || failures=$((failures + 1))
  return $((failures > 0))
}

# services_check <dir> <family>...: every node's rows of each family into <dir>, all at once:
# each node's DNAT (its round robin) is met only by that node's own rows, one connection
# after another, and the families have tables of their own, so nothing else interleaves.
# Run beside the ping matrices, so the seconds a failing lab spends in timeouts overlap.
services_check() {
  local dir=$1 family i
  shift
  for family in "$@"; do
    for i in $(svc_nodes); do
      (if svc_node_rows "$family" "$i" >"$dir/$family-$i"; then echo 0; else echo 1; fi >"$dir/$family-$i.rc") &
    done
  done
  wait
}

# print_services <family> <dir>: the matrix services_check left in <dir>; fails if a cell did.
print_services() {
  local family=$1 dir=$2 failures=0 i svc ext eps="" ep
  if [[ $family == 4 ]]; then svc=$SVC_IP ext=$EXT_IP; else svc=$SVC_IP6 ext=$EXT_IP6; fi
  for ep in $(svc_endpoints); do eps+="${eps:+, }$(short "$(pod_ns "${ep%:*}" "${ep#*:}")")"; done
  local how="round robin (the lab's nftables imitation of kube-proxy)"
  [[ $CLUSTER == kubernetes ]] && how="Service $KUBE_NAMESPACE/echo through kube-proxy (iptables), at random"
  printf '\nservices (IPv%s): ClusterIP %s and NodePort %s of every node, %s over the echo servers in %s; %s outside the cluster\n' \
    "$family" "$(host_port "$svc" $SVC_PORT)" $NODE_PORT "$how" "$eps" "$(short "$(external_ns)") $ext"
  printf '  %-12s %-26s %-12s %-20s %-6s %s\n' FROM TO ANSWERED SOURCE-SEEN RESULT WHAT
  for i in $(svc_nodes); do
    cat "$dir/$family-$i"
    [[ $(cat "$dir/$family-$i.rc" 2>/dev/null) == 0 ]] || failures=$((failures + 1))
  done
  return $((failures > 0))
}
