# The lab on a real Kubernetes v1.20.2 cluster (`scripts/lab up`, --cluster kubernetes, the
# default): the binaries scripts/kubernetes builds and caches, run in the lab's namespaces.
# Sourced by lab.sh after its helpers, runtime.sh and services.sh. What it makes:
#   rl-underlay     etcd (127.0.0.1:2379, data in $STATE/etcd), kube-apiserver
#                   (https://192.168.1.1:6443), kube-controller-manager (assigns podCIDRs from
#                   10.244.0.0/16, /24 each) and kube-scheduler; logs and pids in
#                   $STATE/<component>/
#   rl-nodeI        per node, in the node's network namespace and a private mount namespace
#                   (scripts/lib/runtime-node.sh --node, kept by a holder process): containerd
#                   with its CRI plugin, the kubelet, kube-proxy (iptables mode, Debian's
#                   nft-backed iptables); routelet's agent: with --deploy daemonset (the
#                   default) a pod of manifests/routelet.yaml's DaemonSet, run by the
#                   kubelet from the image scripts/image builds (imported into the node's
#                   containerd, no registry); with --deploy process the lab's own process
#                   beside the daemons, on the ServiceAccount and RBAC of that manifest.
#                   cgroups under /sys/fs/cgroup/*/rl-nodeI (the kubelet's --cgroup-root).
#   pods            default/nodeI-podJ, busybox, placed by the scheduler on rl-nodeI through a
#                   nodeSelector; each one's network namespace attached as rl-nodeI-podJ, as
#                   the other paths name pods, so `ip netns exec rl-node1-pod1 ...` works
#   Service         default/echo: ClusterIP 10.96.0.10 (fd00:96::10), NodePort 30080, the
#                   echo servers in node1-pod1 and node2-pod1 (services.sh) as endpoints;
#                   served by the real kube-proxy of every node
# $STATE/pki holds the lab's CA (openssl) and every certificate and kubeconfig. Nothing is
# written outside $STATE, the namespaces and /sys/fs/cgroup/*/rl-nodeI.

KUBE_SERVICE_CIDR=10.96.0.0/12
KUBE_SERVICE_CIDR6=fd00:96::/112
KUBE_CLUSTER_CIDR=10.244.0.0/16
KUBE_CLUSTER_CIDR6=fd00:10:244::/48
KUBE_PAUSE_IMAGE=routelet.local/pause:1
KUBE_NAMESPACE=default # the lab's pods and Service
KUBE_NODES_MAX=8       # each node is a containerd, a kubelet and a kube-proxy: ~250 MiB
KUBE_UP_TIMEOUT=${KUBE_UP_TIMEOUT:-300} # seconds for nodes to be Ready and pods Running

kube_dir() { echo "$STATE/$1"; } # a control-plane component's dir: pid, log
kube_pki() { echo "$STATE/pki"; }
kube_node_dir() { echo "$STATE/$(node_ns "$1")"; }
kube_holder() { cat "$(rt_dir "$1")/holder.pid" 2>/dev/null; }
# The CNI bin dir node i's containerd execs plugins from (its /opt/cni/bin). The lab's own
# agents share the lab's bin dir, where `up` installs routelet-cni; with the DaemonSet each
# node has its own, which only the node's plugins (loopback) and routelet's init container
# write to.
kube_cni_bin() {
  if [[ $DEPLOY == daemonset ]]; then echo "$(kube_node_dir "$1")/cni-bin"; else echo "$STATE/bin"; fi
}
KUBE_IMAGE_OCI=routelet-oci.tar # in $STATE: routelet's image, for each node's containerd

# kube_bin: the dir of the cached Kubernetes binaries. scripts/kubernetes returns at once when
# they are there, and builds them (4 to 12 minutes on 2 cores, once per machine) when not.
kube_bin() {
  local dir
  dir=$("$ROOT/scripts/kubernetes" --print-dir)
  if [[ ! -f $dir/.complete ]]; then
    echo "lab: the Kubernetes v1.20.2 binaries are not cached in $dir; building them once (4 to 12 minutes on 2 cores; scripts/setup does it too)" >&2
    dir=$("$ROOT/scripts/kubernetes")
  fi
  KUBE_BIN=$dir
}

kube_cluster_cidrs() { if ((DUAL)); then echo "$KUBE_CLUSTER_CIDR,$KUBE_CLUSTER_CIDR6"; else echo "$KUBE_CLUSTER_CIDR"; fi; }
kube_service_cidrs() { if ((DUAL)); then echo "$KUBE_SERVICE_CIDR,$KUBE_SERVICE_CIDR6"; else echo "$KUBE_SERVICE_CIDR"; fi; }
# v1.20's dual-stack is alpha: the gate goes to the apiserver, controller-manager, kubelet
# and kube-proxy.
kube_gates() { if ((DUAL)); then echo "--feature-gates=IPv6DualStack=true"; fi; }

# ---------------------------------------------------------------------------- certificates

# kube_cert <name> <subject> <extensions>: a P-256 key and a certificate of the lab's CA
# ($pki/<name>.key, .crt). EC keys: a few milliseconds each, where RSA takes a good part of a
# second on a loaded machine.
kube_cert() {
  local pki name=$1
  pki=$(kube_pki)
  [[ -f $pki/$name.crt ]] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/$name.key" \
    -subj "$2" 2>/dev/null |
    openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "$(date +%s%N)" -days 3650 \
      -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%s\n' "$3") \
      -out "$pki/$name.crt.tmp" 2>/dev/null
  mv "$pki/$name.crt.tmp" "$pki/$name.crt"
}
kube_client_cert() { kube_cert "$1" "$2" "extendedKeyUsage=clientAuth"; }

# kube_kubeconfig <file> <user lines>: a kubeconfig for the lab's apiserver with the CA.
kube_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: https://$API_IP:$API_PORT
    certificate-authority: $(kube_pki)/ca.crt
users:
- name: lab
  user:
$2
contexts:
- name: lab
  context: {cluster: lab, user: lab}
current-context: lab
EOF
}
kube_cert_kubeconfig() {
  kube_kubeconfig "$1" "    client-certificate: $(kube_pki)/$2.crt
    client-key: $(kube_pki)/$2.key"
}

# The CA, the apiserver's serving and kubelet-client certificates, the service-account key,
# and a client certificate and kubeconfig for each component (the admin's is where the other
# paths keep it, $STATE/apiserver/admin.kubeconfig).
kube_pki_make() {
  local pki i
  pki=$(kube_pki)
  mkdir -p "$pki" "$STATE/apiserver"
  if [[ ! -f $pki/ca.crt ]]; then
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
      -subj "/CN=routelet-lab-ca" -days 3650 -out "$pki/ca.crt" 2>/dev/null
  fi
  [[ -f $pki/sa.key ]] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
  [[ -f $pki/sa.pub ]] || openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  kube_cert apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
subjectAltName=IP:$API_IP,IP:10.96.0.1,$( ((DUAL)) && echo "IP:fd00:96::1,")DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  kube_client_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  kube_client_cert admin "/O=system:masters/CN=routelet-lab-admin"
  kube_client_cert controller-manager "/CN=system:kube-controller-manager"
  kube_client_cert scheduler "/CN=system:kube-scheduler"
  kube_client_cert kube-proxy "/CN=system:kube-proxy"
  kube_cert_kubeconfig "$STATE/apiserver/admin.kubeconfig" admin
  kube_cert_kubeconfig "$pki/controller-manager.kubeconfig" controller-manager
  kube_cert_kubeconfig "$pki/scheduler.kubeconfig" scheduler
  kube_cert_kubeconfig "$pki/kube-proxy.kubeconfig" kube-proxy
  for ((i = 1; i <= NODES; i++)); do
    kube_client_cert "$(node_ns "$i")" "/O=system:nodes/CN=system:node:$(node_ns "$i")"
    kube_cert_kubeconfig "$pki/$(node_ns "$i").kubeconfig" "$(node_ns "$i")"
  done
}

# ---------------------------------------------------------------------------- processes

# kube_run <pidfile> <log> <command...>: a daemon in the background, its own PID recorded
# (setsid and nsenter exec, they do not fork here), unless the one recorded still runs.
kube_run() {
  local pidfile=$1 log=$2
  shift 2
  pid_alive "$pidfile" && return 0
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$log")"
  setsid "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$pidfile"
}
# In the underlay: the control plane.
kube_run_underlay() {
  local pidfile=$1 log=$2
  shift 2
  kube_run "$pidfile" "$log" ip netns exec $UNDERLAY "$@"
}
# In node i's network and mount namespaces: the node's daemons. -r -w: entering a mount
# namespace puts a process at that namespace's root, out of a chroot the lab may run in
# (scripts/check-fresh); the holder's root and directory keep it where the lab is.
kube_run_node() {
  local i=$1 pidfile=$2 log=$3
  shift 3
  kube_run "$pidfile" "$log" nsenter -t "$(kube_holder "$i")" -m -n -r -w "$@"
}

# kube_kill <pidfile> <grace seconds>: SIGTERM, SIGKILL after the grace (an apiserver's
# graceful shutdown can take over 30 s), then wait for the exit.
kube_kill() {
  local pidfile=$1 grace=$2 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if running "$pid"; then
    kill "$pid" 2>/dev/null || true
    wait_for "$pidfile's process $pid to exit on SIGTERM" "$grace" not_running "$pid" 2>/dev/null ||
      kill -KILL "$pid" 2>/dev/null || true
    wait_for "$pidfile's process $pid to exit" 10 not_running "$pid" || true
  fi
  rm -f "$pidfile"
}

# curl the apiserver as the admin from the underlay; prints the body.
kube_api_get() {
  local pki
  pki=$(kube_pki)
  ip netns exec $UNDERLAY curl -sf --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" \
    --key "$pki/admin.key" "https://$API_IP:$API_PORT$1"
}
kube_api_ready() { [[ $(kube_api_get /readyz) == ok ]]; }

# ---------------------------------------------------------------------------- control plane

kube_etcd_start() {
  local d=$STATE/etcd
  mkdir -p "$d/data"
  chmod 700 "$d/data"
  kube_run_underlay "$d/pid" "$d/log" etcd --name lab --data-dir "$d/data" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster lab=http://127.0.0.1:2380 --listen-metrics-urls= --log-outputs=stderr
}

kube_apiserver_start() {
  local d=$STATE/apiserver pki
  pki=$(kube_pki)
  # shellcheck disable=SC2046 # the gates are words
  kube_run_underlay "$d/pid" "$d/log" "$KUBE_BIN/kube-apiserver" \
    --advertise-address=$API_IP --bind-address=$API_IP --secure-port=$API_PORT --insecure-port=0 \
    --etcd-servers=http://127.0.0.1:2379 --cert-dir="$d" \
    --client-ca-file="$pki/ca.crt" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range="$(kube_service_cidrs)" --allow-privileged=true $(kube_gates)
}

kube_controllers_start() {
  local pki d
  pki=$(kube_pki)
  d=$STATE/controller-manager
  local -a masks=(--node-cidr-mask-size=24)
  ((DUAL)) && masks=(--node-cidr-mask-size-ipv4=24 --node-cidr-mask-size-ipv6=64)
  # shellcheck disable=SC2046 # the gates are words
  kube_run_underlay "$d/pid" "$d/log" "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$pki/controller-manager.kubeconfig" --bind-address=127.0.0.1 --port=0 --cert-dir="$d" \
    --allocate-node-cidrs --cluster-cidr="$(kube_cluster_cidrs)" "${masks[@]}" \
    --service-cluster-ip-range="$(kube_service_cidrs)" \
    --use-service-account-credentials --root-ca-file="$pki/ca.crt" \
    --service-account-private-key-file="$pki/sa.key" --leader-elect=false \
    --controllers='*,-csrsigning' --flex-volume-plugin-dir="$d/volume-plugins" $(kube_gates)
  d=$STATE/scheduler
  kube_run_underlay "$d/pid" "$d/log" "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$pki/scheduler.kubeconfig" --bind-address=127.0.0.1 --port=0 --cert-dir="$d" \
    --leader-elect=false
}

# kube_control_plane_wait: the apiserver answering ready; then the controller-manager and
# the scheduler (they need it), routelet's ServiceAccount and RBAC from manifests/routelet.yaml
# (not its DaemonSet: the lab runs the agent itself), and the agents' kubeconfig with that
# ServiceAccount's token, which the token controller puts in a Secret (v1.20).
kube_control_plane_wait() {
  wait_for "kube-apiserver to be ready (log: $STATE/apiserver/log, etcd's: $STATE/etcd/log)" 90 kube_api_ready
  kube_controllers_start
  python3 "$ROOT/scripts/lib/manifest.py" rbac "$ROOT/manifests/routelet.yaml" | KUBECTL_ADMIN apply -f - >/dev/null
  wait_for "the token Secret of ServiceAccount kube-system/routelet (controller-manager log: $STATE/controller-manager/log)" 60 kube_sa_token_made
  kube_kubeconfig "$STATE/apiserver/agent.kubeconfig" "    token: $(kube_sa_token)"
}
kube_sa_token_made() { kube_sa_token >/dev/null; }
kube_sa_token() {
  local secret token
  secret=$(KUBECTL_ADMIN -n kube-system get serviceaccount routelet -o 'jsonpath={.secrets[0].name}')
  [[ -n $secret ]] || return 1
  token=$(KUBECTL_ADMIN -n kube-system get secret "$secret" -o 'jsonpath={.data.token}' | base64 -d)
  [[ -n $token ]] && echo "$token"
}

# ---------------------------------------------------------------------------- nodes

# kube_cgroups_make <i>: the kubelet's --cgroup-root in every cgroup v1 hierarchy (and the
# unified one), cpuset's cpus and mems copied in (a new cpuset is empty, and runc cannot put
# a task in an empty one).
kube_cgroups_make() {
  local ns c
  ns=$(node_ns "$1")
  for c in $(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts); do
    [[ $c == /sys/fs/cgroup/* ]] || continue
    mkdir -p "$c/$ns"
    if [[ -f $c/cpuset.cpus ]]; then
      cat "$c/cpuset.cpus" >"$c/$ns/cpuset.cpus"
      cat "$c/cpuset.mems" >"$c/$ns/cpuset.mems"
    fi
  done
}

# containerd with its CRI plugin: the lab's pause as the sandbox image, the node's CNI dirs
# (the conflist the agent writes; routelet-cni and loopback, which CRI runs for every pod),
# no AppArmor, and runc told not to lower its OOM score (root here lacks CAP_SYS_RESOURCE).
kube_containerd_config() {
  local i=$1 d
  d=$(rt_dir "$i")
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$KUBE_PAUSE_IMAGE"
  disable_apparmor = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$(kube_cni_bin "$i")"
    conf_dir = "$(kube_node_dir "$i")/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
EOF
}

# The pod images, built once per lab: busybox (busybox_oci.py, as the containerd runtime
# path) and the sandbox image of the cached pause binary; with the DaemonSet, routelet's
# image from the Dockerfile on the lab's binaries (scripts/image: a few seconds when they
# did not change).
kube_images() {
  if [[ $DEPLOY == daemonset ]]; then
    "$ROOT/scripts/image" --prebuilt "$BUILD" --oci "$STATE/.$KUBE_IMAGE_OCI" --quiet >"$STATE/image.txt"
    mv -f "$STATE/.$KUBE_IMAGE_OCI" "$STATE/$KUBE_IMAGE_OCI"
  fi
  rt_image
  [[ -f $STATE/pause-oci.tar ]] && return 0
  python3 "$ROOT/scripts/lib/busybox_oci.py" "$STATE/.pause-oci.tar" --pause "$KUBE_BIN/pause" --name "$KUBE_PAUSE_IMAGE"
  mv -f "$STATE/.pause-oci.tar" "$STATE/pause-oci.tar"
}

kube_ctr() {
  local i=$1
  shift
  nsenter -t "$(kube_holder "$i")" -m -n -r -w ctr --address "$(rt_dir "$i")/containerd.sock" -n k8s.io "$@"
}
kube_holder_ready() { [[ -s $(rt_dir "$1")/holder.ready ]] && pid_alive "$(rt_dir "$1")/holder.pid"; }
kube_containerd_answers() { kube_ctr "$1" version >/dev/null; }

# kube_node_start <i>: node i's namespace on the underlay (make_node), its mount namespace
# and holder, containerd with the images, the kubelet and kube-proxy. Runs beside the other
# nodes' and before the apiserver is ready: the kubelet and kube-proxy wait for it themselves.
kube_node_start() {
  local i=$1 ns nd d pki node_ips
  ns=$(node_ns "$i")
  nd=$(kube_node_dir "$i")
  d=$(rt_dir "$i")
  pki=$(kube_pki)
  make_node "$i"
  # From the node itself a ClusterIP needs a route before kube-proxy's DNAT (OUTPUT) sees the
  # packet; a node of a one-segment underlay has no default route to give it one.
  if ((SUBNETS == 1)); then
    ip -n "$ns" route replace $KUBE_SERVICE_CIDR dev eth0
    if ((DUAL)); then ip -n "$ns" -6 route replace $KUBE_SERVICE_CIDR6 dev eth0; fi
  fi
  kube_cgroups_make "$i"
  mkdir -p "$d/cni-cache" "$nd/kubelet" "$(kube_cni_bin "$i")"
  if [[ $DEPLOY == daemonset ]]; then
    # What the node's OS provides (containernetworking-plugins); routelet-cni is the init
    # container's to install.
    install_atomically /usr/lib/cni/loopback "$(kube_cni_bin "$i")"
  fi
  if ! kube_holder_ready "$i"; then
    rm -f "$d/holder.ready"
    # nsenter, setsid, unshare and the script exec one another: $! is the holder.
    nsenter --net="/var/run/netns/$ns" setsid unshare --mount --propagation private \
      "$ROOT/scripts/lib/runtime-node.sh" "$d" "$nd/net.d" "$(kube_cni_bin "$i")" "$STATE" --node \
      </dev/null >>"$d/holder.log" 2>&1 &
    echo $! >"$d/holder.pid"
    wait_for "the mount namespace of $ns (log: $d/holder.log)" 30 kube_holder_ready "$i"
    readlink "/proc/$(kube_holder "$i")/ns/mnt" >"$d/mntns"
  fi
  kube_containerd_config "$i"
  kube_run_node "$i" "$d/containerd.pid" "$d/containerd.log" containerd --config "$d/config.toml"
  wait_for "containerd on $ns (log: $d/containerd.log)" 60 kube_containerd_answers "$i"
  kube_ctr "$i" image import "$STATE/pause-oci.tar" >/dev/null
  kube_ctr "$i" image import "$STATE/busybox-oci.tar" >/dev/null
  if [[ $DEPLOY == daemonset ]]; then kube_ctr "$i" image import "$STATE/$KUBE_IMAGE_OCI" >/dev/null; fi
  node_ips=$(node_ip "$i")
  ((DUAL)) && node_ips+=,$(node_ip6 "$i")
  # shellcheck disable=SC2046 # the gates are words
  kube_run_node "$i" "$nd/kubelet.pid" "$nd/kubelet.log" "$KUBE_BIN/kubelet" \
    --kubeconfig="$pki/$ns.kubeconfig" --root-dir="$nd/kubelet" --cert-dir="$nd/kubelet/pki" \
    --volume-plugin-dir="$nd/kubelet/volume-plugins" \
    --container-runtime=remote --container-runtime-endpoint="unix://$d/containerd.sock" \
    --pod-infra-container-image=$KUBE_PAUSE_IMAGE \
    --cgroup-driver=cgroupfs --cgroup-root="/$ns" --fail-swap-on=false \
    --node-ip="$node_ips" --hostname-override="$ns" --address="$(node_ip "$i")" --read-only-port=0 \
    --client-ca-file="$pki/ca.crt" --anonymous-auth=false --authorization-mode=Webhook \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 \
    --eviction-hard='memory.available<1Mi,nodefs.available<1Mi,imagefs.available<1Mi' \
    $(kube_gates)
  # shellcheck disable=SC2046 # the gates are words
  kube_run_node "$i" "$nd/kube-proxy.pid" "$nd/kube-proxy.log" "$KUBE_BIN/kube-proxy" \
    --kubeconfig="$pki/kube-proxy.kubeconfig" --proxy-mode=iptables --cluster-cidr="$(kube_cluster_cidrs)" \
    --bind-address="$(node_ip "$i")" --hostname-override="$ns" --conntrack-max-per-core=0 \
    --conntrack-tcp-timeout-established=0 --conntrack-tcp-timeout-close-wait=0 $(kube_gates)
}

# kube_nodes_start: every node at once (each is seconds of containerd and image imports on a
# loaded machine); fails naming the nodes that did.
kube_nodes_start() {
  local i failed=""
  local -a pids=()
  for ((i = 1; i <= NODES; i++)); do
    kube_node_start "$i" &
    pids[i]=$!
  done
  for ((i = 1; i <= NODES; i++)); do wait "${pids[i]}" || failed+=" $(node_ns "$i")"; done
  if [[ -n $failed ]]; then
    echo "lab: starting node(s)$failed failed (logs: $STATE/<node>/containerd/*.log, kubelet.log)" >&2
    return 1
  fi
}

kube_nodes_registered() { (($(KUBECTL_ADMIN get nodes -o name | grep -c .) >= NODES)); }
kube_nodes_ready() {
  local ready
  ready=$(KUBECTL_ADMIN get nodes -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  ((ready >= NODES))
}

# ---------------------------------------------------------------------------- the DaemonSet

# manifests/routelet.yaml as a cluster admin applies it to this cluster: unchanged but for the
# ConfigMap, which says the cluster's pod ranges (the controller-manager's --cluster-cidr) and
# the lab's settings.
kube_daemonset_yaml() {
  python3 "$ROOT/scripts/lib/manifest.py" lab "$ROOT/manifests/routelet.yaml" \
    "$(kube_cluster_cidrs)" "$MASQUERADE" "$HAIRPIN" "$BRIDGE_NF"
}

# kube_daemonset_up: applies it; the settings are the ConfigMap's, so a running lab keeps the
# ones it was made with.
kube_daemonset_up() {
  local f=$STATE/daemonset.settings
  if [[ -f $f && $(cat "$f") != "$(agent_settings)" ]]; then
    echo "lab: the DaemonSet runs with $(cat "$f"); other settings need a new lab (scripts/lab down --state $STATE first)" >&2
    return 1
  fi
  kube_daemonset_yaml | KUBECTL_ADMIN apply -f - >/dev/null
  agent_settings >"$f"
}
# kube_image_import <OCI archive>: an image into every node's containerd, as a registry
# pull would put it there.
kube_image_import() {
  local i
  for ((i = 1; i <= NODES; i++)); do kube_ctr "$i" image import "$1" >/dev/null; done
}
kube_daemonset_ready() {
  local ready
  ready=$(KUBECTL_ADMIN -n kube-system get daemonset routelet -o 'jsonpath={.status.numberReady} {.status.updatedNumberScheduled}')
  read -r -a ready <<<"$ready"
  ((${ready[0]:-0} >= NODES && ${ready[1]:-0} >= NODES))
}

# ---------------------------------------------------------------------------- pods

# The lab's pods: two per node, each placed by the scheduler through a nodeSelector on its
# node's hostname label; pod1 of node1 and node2 are the echo Service's endpoints. No
# ServiceAccount token is mounted (the pods never call the API).
kube_pods_yaml() {
  local i j echo_label
  for ((i = 1; i <= NODES; i++)); do
    for ((j = 1; j <= PODS_PER_NODE; j++)); do
      echo_label=""
      [[ $(svc_endpoints) == *"$i:$j"* ]] && echo_label='    routelet.io/lab-echo: "true"'
      cat <<EOF
---
apiVersion: v1
kind: Pod
metadata:
  name: node$i-pod$j
  namespace: $KUBE_NAMESPACE
  labels:
    app.kubernetes.io/name: routelet-lab
$echo_label
spec:
  nodeSelector:
    kubernetes.io/hostname: $(node_ns "$i")
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: busybox
    image: $RT_IMAGE
    imagePullPolicy: Never
    command: ["sleep", "$RT_PAUSE"]
EOF
    done
  done
}

kube_default_sa() { KUBECTL_ADMIN -n $KUBE_NAMESPACE get serviceaccount default >/dev/null; }
kube_pods_apply() {
  wait_for "ServiceAccount $KUBE_NAMESPACE/default (controller-manager log: $STATE/controller-manager/log)" 60 kube_default_sa
  kube_pods_yaml | KUBECTL_ADMIN apply -f - >/dev/null
}
kube_pods_ready() {
  local ready
  ready=$(KUBECTL_ADMIN -n $KUBE_NAMESPACE get pods -l app.kubernetes.io/name=routelet-lab \
    -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)
  ((ready >= NODES * PODS_PER_NODE))
}

# kube_pod_attach <i> <j>: the pod's network namespace under the lab's name for it, through
# the PID of its container's task (CRI names the sandbox's namespace cni-<uuid>, in the node's
# mount namespace only).
kube_pod_attach() {
  local i=$1 j=$2 id pid
  ns_exists "$(pod_ns "$i" "$j")" && return 0
  id=$(KUBECTL_ADMIN -n $KUBE_NAMESPACE get pod "node$i-pod$j" -o 'jsonpath={.status.containerStatuses[0].containerID}')
  id=${id#containerd://}
  pid=$(kube_ctr "$i" task ls | awk -v id="$id" '$1 == id {print $2}')
  if [[ -z $id || -z $pid ]]; then
    echo "lab: pod node$i-pod$j has no running container on $(node_ns "$i") (kubelet log: $(kube_node_dir "$i")/kubelet.log)" >&2
    return 1
  fi
  ip netns attach "$(pod_ns "$i" "$j")" "$pid"
}

# kube_proxy_synced <i>: node i's kube-proxy has the echo Service's endpoints in its rules
# (one DNAT per endpoint and family), so the Services matrix does not race its first sync.
kube_proxy_synced() {
  local want n
  want=$(svc_endpoints | grep -c .)
  n=$(ip netns exec "$(node_ns "$1")" iptables-save -t nat | grep -c "$KUBE_NAMESPACE/echo.* -j DNAT")
  ((n >= want)) || return 1
  if ((DUAL)); then
    n=$(ip netns exec "$(node_ns "$1")" ip6tables-save -t nat | grep -c "$KUBE_NAMESPACE/echo.* -j DNAT")
    ((n >= want)) || return 1
  fi
}

# The Service the Services matrix reads (services.sh): what kube_proxy_ruleset imitates on the
# stand-in, here a real Service that every node's kube-proxy serves.
kube_service_yaml() {
  local families=""
  if ((DUAL)); then
    families="  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIPs: [$SVC_IP, $SVC_IP6]"
  fi
  cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: $KUBE_NAMESPACE
spec:
  type: NodePort
  selector:
    routelet.io/lab-echo: "true"
  clusterIP: $SVC_IP
$families
  ports:
  - {name: echo, protocol: TCP, port: $SVC_PORT, targetPort: $SVC_PORT, nodePort: $NODE_PORT}
EOF
}

kube_services_up() {
  local i
  kube_service_yaml | KUBECTL_ADMIN apply -f - >/dev/null
  for ((i = 1; i <= NODES; i++)); do
    wait_for "kube-proxy on $(node_ns "$i") to serve Service $KUBE_NAMESPACE/echo (log: $(kube_node_dir "$i")/kube-proxy.log)" 60 kube_proxy_synced "$i"
  done
}

# ---------------------------------------------------------------------------- up, down

kube_up() {
  local t0=$SECONDS t_cp t_nodes t_pods i j
  kube_bin
  kube_images
  install_atomically /usr/lib/cni/loopback "$STATE/bin"
  kube_pki_make
  make_underlay
  kube_etcd_start
  kube_apiserver_start
  # The nodes start while the control plane does: their kubelets and kube-proxies wait for
  # the apiserver by themselves.
  local nodes_starting
  kube_nodes_start &
  nodes_starting=$!
  kube_control_plane_wait
  t_cp=$((SECONDS - t0))
  wait "$nodes_starting"
  local remake=() t_apply
  t_apply=$((SECONDS - t0))
  if [[ $DEPLOY == daemonset ]]; then
    kube_daemonset_up
  else
    for ((i = 1; i <= NODES; i++)); do
      agent_settings_apply "$i"
      start_agent "$i"
    done
  fi
  # A changed --hairpin: the node's pods are deleted (all in one call: each takes its
  # kubelet seconds), and made again below by the kubelet from the conflist the new agent
  # writes.
  local -a gone=()
  for i in "${remake[@]}"; do
    wait_for "$(conflist_of "$i") to say hairpinMode $HAIRPIN" 30 conflist_hairpin_is "$i"
    for ((j = 1; j <= PODS_PER_NODE; j++)); do
      echo_stop "$(pod_ns "$i" "$j")"
      if ns_exists "$(pod_ns "$i" "$j")"; then ip netns del "$(pod_ns "$i" "$j")"; fi
      gone+=("node$i-pod$j")
    done
  done
  if ((${#gone[@]})); then
    KUBECTL_ADMIN -n $KUBE_NAMESPACE delete pod "${gone[@]}" --ignore-not-found --wait=true >/dev/null
  fi
  kube_pods_apply
  wait_for "$NODES Nodes to register (kubelet logs: $STATE/$PREFIX-node*/kubelet.log)" "$KUBE_UP_TIMEOUT" kube_nodes_registered
  wait_for "every Node to be Ready (kubelet logs: $STATE/$PREFIX-node*/kubelet.log; agents': agent.log)" "$KUBE_UP_TIMEOUT" kube_nodes_ready
  t_nodes=$((SECONDS - t0))
  local how="the lab's agent processes started"
  if [[ $DEPLOY == daemonset ]]; then
    how="kubectl apply -f manifests/routelet.yaml"
    wait_for "routelet's DaemonSet pods to be Ready on every node (kubectl -n kube-system get pods -o wide; kubelet logs: $STATE/$PREFIX-node*/kubelet.log)" "$KUBE_UP_TIMEOUT" kube_daemonset_ready
  fi
  wait_for "every lab pod to be Running and Ready (kubectl get pods -o wide; kubelet logs: $STATE/$PREFIX-node*/kubelet.log)" "$KUBE_UP_TIMEOUT" kube_pods_ready
  t_pods=$((SECONDS - t0))
  for ((i = 1; i <= NODES; i++)); do
    for ((j = 1; j <= PODS_PER_NODE; j++)); do kube_pod_attach "$i" "$j"; done
  done
  echo "lab: Kubernetes $(basename "$(dirname "$KUBE_BIN")" | sed 's/.*really//; s/-.*//') up: control plane in ${t_cp}s, every Node Ready at ${t_nodes}s ($((t_nodes - t_apply))s after $how), every pod Running at ${t_pods}s"
}

kube_down() {
  local i nd d p
  # The kubelets first (they would restart what goes next), and the node daemons.
  for ((i = 1; i <= NODES; i++)); do
    nd=$(kube_node_dir "$i")
    kube_kill "$nd/kubelet.pid" 0 &
    kube_kill "$nd/kube-proxy.pid" 0 &
  done
  wait
  # The pods' containers: every process in a node's cgroups (their own PID and mount
  # namespaces hide them from the node's), then containerd, its shims and the holder: every
  # process left in the node's mount namespace, whose mounts go with it.
  for ((i = 1; i <= NODES; i++)); do
    for p in $(kube_cgroup_pids "$i"); do kill -KILL "$p" 2>/dev/null || true; done
  done
  for ((i = 1; i <= NODES; i++)); do
    wait_for "the containers of $(node_ns "$i") to exit" 30 kube_cgroup_empty "$i" || true
    rt_stop "$i" &
  done
  wait
  # A holder whose namespace was never finished (a failed up) is not in rt_stop's list.
  for ((i = 1; i <= NODES; i++)); do kube_kill "$(rt_dir "$i")/holder.pid" 0; done
  # The apiserver before etcd (it would wait for etcd on its way out).
  kube_kill "$STATE/scheduler/pid" 0 &
  kube_kill "$STATE/controller-manager/pid" 0 &
  kube_kill "$STATE/apiserver/pid" 1
  kube_kill "$STATE/etcd/pid" 5
  wait
  for ((i = 1; i <= NODES; i++)); do
    for d in /sys/fs/cgroup/*/"$(node_ns "$i")"; do
      [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
  done
  return 0
}
kube_cgroup_pids() {
  local d
  for d in /sys/fs/cgroup/*/"$(node_ns "$1")"; do
    [[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}
kube_cgroup_empty() { [[ -z $(kube_cgroup_pids "$1") ]]; }
