# Lab functions the end-to-end tests need beyond scripts/lib/lab.sh: a node joining or
# leaving a running lab, and one extra pod. Source scripts/lib/lab.sh first (with ROOT,
# PREFIX, STATE and BUILD set); everything here is built from its functions so the tests
# exercise the lab's own way of making nodes and pods. Candidates for moving into the lab.

# The lab's node count (lab.conf) is what `status` and `down` walk; keep it equal to the
# highest node that exists so a joined node is shown and torn down like the others.
lab_extra_sync_conf() {
  local ns i
  lab_conf_load
  NODES=0
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$PREFIX-node[0-9]+\$"); do
    i=${ns#"$PREFIX-node"}
    ((i > NODES)) && NODES=$i
  done
  lab_conf_save
}

lab_extra_gone() { ! running "$1"; }

# lab_node_start <i>: the node's namespace on the underlay (as make_node) and its agent (as
# start_agent). The Node object must exist in the API already (the test creates it with
# the fields it wants). Does not wait for readiness: a Node without podCIDR never gets ready.
lab_node_start() {
  make_node "$1"
  start_agent "$1"
  lab_extra_sync_conf
}

# lab_node_remove <i>: what a machine leaving the cluster takes with it: its pods (DEL
# through the plugin first, as a runtime would), its agent, its namespaces.
lab_node_remove() {
  local i=$1 ns pod pidfile pid
  ns=$(node_ns "$i")
  for pod in $(ip netns list | awk '{print $1}' | grep -E "^$ns-pod[0-9]+\$"); do
    if [[ -f $(conflist_of "$i") ]]; then cni "$i" "${pod##*-pod}" DEL >/dev/null 2>&1 || true; fi
    ip netns del "$pod"
  done
  pidfile=$STATE/$ns/agent.pid
  if [[ -f $pidfile ]]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    wait_for "agent $pid of $ns to exit" 10 lab_extra_gone "$pid"
    rm -f "$pidfile"
  fi
  ns_exists "$ns" && ip netns del "$ns"
  lab_extra_sync_conf
}

# lab_pod_add <i> <j> / lab_pod_del <i> <j>: one pod namespace with ADD / DEL through
# routelet-cni exactly as the lab makes its pods; ADD prints the CNI result.
lab_pod_add() {
  ns_exists "$(pod_ns "$1" "$2")" || ip netns add "$(pod_ns "$1" "$2")"
  cni "$1" "$2" ADD
}
lab_pod_del() {
  cni "$1" "$2" DEL
  ip netns del "$(pod_ns "$1" "$2")"
}
