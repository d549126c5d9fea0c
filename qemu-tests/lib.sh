# Helpers for the VM tests (sourced). The cluster of sara-spec.md "Topology", built from network
# namespaces in the guest:
#
#   cl (10.0.1.2) ── veth ── gw (10.0.1.1 | 10.0.0.1) ──┐
#                                                       br0 (guest root namespace; one L2 segment)
#   disp (10.0.0.2, VIP 10.0.0.100 on eth0) ────────────┤
#   s1 (10.0.0.11, VIP on lo) ──────────────────────────┤   arp_ignore=1, arp_announce=2,
#   s2 (10.0.0.12, VIP on lo) ──────────────────────────┘   default route via gw
#
# Replies leave the servers through gw and never cross the dispatcher.
SARECTL="$REPO/build/sarectl"   # copied there by `make sarectl`
PY=/usr/bin/python3
TOOLS="$REPO/qemu-tests/tools"
VIP=10.0.0.100
SERVERS="s1 s2"

fail() { echo "FAILED: $*" >&2; exit 1; }
info() { echo "INFO $*"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
sarectl() { in_ns disp "$SARECTL" "$@"; }
# The cluster key of the control-plane daemons (agent, manager, gateway, ha run), made on first use
# and shared by every namespace (they all see /tmp): start each daemon with --key-file /tmp/sara.key.
sara_key() {
  [ -s /tmp/sara.key ] || "$SARECTL" key generate /tmp/sara.key >/dev/null || fail "sarectl key generate /tmp/sara.key"
}
mac_of() { in_ns "$1" cat /sys/class/net/eth0/address; }

load_sara() {
  lsmod | grep -q '^sara ' || insmod "$REPO/sara.ko" "$@" || fail "insmod sara.ko"
}

# veth pair: $1 namespace gets eth0, the other end is attached to br0 in the root namespace.
attach() {
  local ns=$1 addr=$2
  ip link add "v-$ns" type veth peer name eth0 netns "$ns"
  ip link set "v-$ns" master br0 up
  in_ns "$ns" ip addr add "$addr/24" dev eth0
  in_ns "$ns" ip link set eth0 up
}

topo_up() {
  ip netns list | grep -q '^disp' && return 0
  local ns
  for ns in cl gw disp $SERVERS; do
    ip netns add "$ns"
    in_ns "$ns" ip link set lo up
  done
  ip link add br0 type bridge
  ip link set br0 up
  # client side
  ip link add v-cl type veth peer name eth0 netns cl
  ip link set v-cl netns gw
  in_ns gw ip link set v-cl name eth1
  in_ns gw ip addr add 10.0.1.1/24 dev eth1
  in_ns gw ip link set eth1 up
  in_ns cl ip addr add 10.0.1.2/24 dev eth0
  in_ns cl ip link set eth0 up
  in_ns cl ip route add default via 10.0.1.1
  in_ns gw sysctl -qw net.ipv4.ip_forward=1
  # cluster segment
  attach gw 10.0.0.1
  attach disp 10.0.0.2
  in_ns disp ip addr add "$VIP/32" dev eth0
  in_ns disp ip route add default via 10.0.0.1
  local i=11
  for ns in $SERVERS; do
    attach "$ns" "10.0.0.$i"
    in_ns "$ns" ip addr add "$VIP/32" dev lo
    in_ns "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
      net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
    in_ns "$ns" ip route add default via 10.0.0.1
    i=$((i + 1))
  done
  # Warm up ARP and bridge learning so that no frame is flooded to the dispatcher later.
  for ns in disp $SERVERS; do in_ns "$ns" ping -c1 -W2 10.0.0.1 >/dev/null || fail "ping gw from $ns"; done
  in_ns cl ping -c1 -W2 10.0.0.2 >/dev/null || fail "ping dispatcher from client"
}

# Configure the skeleton service and both servers in the dispatcher namespace.
configure_http() {
  local port=${1:-8080} proto=${2:-tcp}
  sarectl service add "$VIP:$port/$proto" || fail "service add"
  add_servers
}

# Background processes of a test: started with bg, all stopped by cleanup (every test does
# `trap cleanup EXIT`).
BG_PIDS=()
bg() {
  # `in_ns` is a function: run `ip netns exec` itself, which execs the command, so the pid we keep is
  # the command's own and kill reaches it.
  if [ "$1" = in_ns ]; then shift; ip netns exec "$@" & else "$@" & fi
  BG_PIDS+=($!)
}
# Stop processes (PID ...): SIGTERM, then, for any still running 15 s later, SIGKILL (it and its
# children) with a line saying which command did not stop — a teardown never waits without bound
# (a peer that ignores SIGTERM would otherwise hold the test until the harness's time-out).
stop_pids() {
  local p end
  for p; do kill "$p" 2>/dev/null; done
  end=$(( $(date +%s) + 15 ))
  for p; do
    while kill -0 "$p" 2>/dev/null; do
      if [ "$(date +%s)" -ge "$end" ]; then
        echo "teardown: still running 15 s after SIGTERM, killed: pid $p: $(ps -o args= -p "$p" 2>/dev/null | cut -c1-200)" >&2
        pkill -KILL -P "$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null
        break
      fi
      sleep 0.1
    done
    wait "$p" 2>/dev/null
  done
  return 0
}
cleanup() {
  stop_pids "${BG_PIDS[@]}"
  BG_PIDS=()
}
trap cleanup EXIT

# Wait until something listens on port $2 (tcp, or udp with $3=u) in namespace $1 (at most 90 s: a
# Python or GStreamer server takes seconds to start under TCG on a loaded host).
wait_listen() {
  local ns=$1 port=$2 kind=${3:-t} end
  end=$(( $(date +%s) + 90 ))
  until in_ns "$ns" ss -ln"$kind" | grep -q ":$port "; do
    [ "$(date +%s)" -lt "$end" ] || fail "nothing listens on $port in $ns after 90 s"
    sleep 0.1
  done
}

# Start the name server (answers with the namespace's name) on every server.
start_servers() {
  local port=${1:-8080} udp=${2:-} ns
  for ns in $SERVERS; do
    bg in_ns "$ns" "$PY" "$TOOLS/name_server.py" --name "$ns" --port "$port" ${udp:+$udp --addr $VIP}
  done
  for ns in $SERVERS; do wait_listen "$ns" "$port"; done
}

# Value of a counter in the dispatcher's namespace, read from sysfs.
counter() { in_ns disp cat "/sys/kernel/sara/$1"; }

# --- Helpers of the session-aware data-plane tests (11-…) ---

# Servers 1 and 2 (s1, s2), added fresh: no pushed state (down, loads) left by an earlier test.
fresh_servers() { del_servers; add_servers; }
# Undo a test's configuration: its service, then the servers (later tests add their own).
drop_config() {
  local svc
  for svc in "$@"; do sarectl service del "$svc" || fail "service del $svc"; done
  sarectl server del 1 >/dev/null 2>&1; sarectl server del 2 >/dev/null 2>&1
  return 0
}

# Packet captures in the server namespaces: what each server really received (client→VIP packets),
# the tests' witness independent of SARA's own view. capture_start NAME NS FILTER writes /tmp/NAME.pcap.
# Only frames addressed to the namespace's own MAC count (a frame the bridge floods reaches every
# port, but only its addressee's stack takes it), and the interface is not made promiscuous.
CAP_PIDS=()
capture_start() {
  capture_raw "$1" "$2" "ether dst $(mac_of "$2") and ($3)"
}
# A capture without capture_start's "to this namespace" filter (a failure's diagnosis: link level,
# or what a namespace sends): NAME NS FILTER, to /tmp/NAME.pcap, stopped by capture_stop. Each
# packet's first 2048 bytes are kept; CAP_SNAPLEN=0 keeps whole packets (TCP segments, which GSO
# may make longer than the MTU, for a stream put back together from them).
capture_raw() {
  rm -f "/tmp/$1.pcap" "/tmp/$1.tcpdump.log"
  # `ip netns exec` itself (it execs tcpdump), not the in_ns function: `in_ns … &` forks a shell that
  # runs tcpdump as its child, so the pid kept was that shell's; stopping it left tcpdump running
  # (every capture of a run was still there at its end) and its file open.
  ip netns exec "$2" tcpdump -i eth0 -p -n -U -s "${CAP_SNAPLEN:-2048}" -w "/tmp/$1.pcap" "$3" 2>"/tmp/$1.tcpdump.log" &
  CAP_PIDS+=($!); BG_PIDS+=($!)
  WAIT_DETAIL="cat /tmp/$1.tcpdump.log" wait_until 60 "tcpdump in $2 listening" grep -q 'listening on' "/tmp/$1.tcpdump.log"
}
# Stop every capture (tcpdump writes out what it has on SIGTERM).
capture_stop() {
  sleep 0.5
  stop_pids "${CAP_PIDS[@]}"
  CAP_PIDS=()
}

# Where a SIP call's messages went (a failure's diagnosis): for Call-ID $1, the messages carrying it
# in each server's capture /tmp/$2-SERVER.pcap, by method or response code.
sip_call_trace() {
  local id=$1 cap=$2 ns
  for ns in $SERVERS; do
    echo "  $ns: $(tcpdump -n -A -r "/tmp/$cap-$ns.pcap" 2>/dev/null | awk -v id="Call-ID: $id" '
      function done_pkt() { if (hit && m != "") n[m]++; hit = 0; m = "" }
      /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]/ { done_pkt(); next }
      index($0, id) { hit = 1 }
      m == "" && match($0, /(INVITE|ACK|BYE|CANCEL) sip:/) { m = substr($0, RSTART, RLENGTH - 5) }
      m == "" && match($0, /SIP\/2\.0 [1-6][0-9][0-9]/) { m = substr($0, RSTART + 8, 3) }
      END { done_pkt(); for (k in n) printf "%s %d, ", k, n[k] }')"
  done
}

# The failed SIPp call of error file $1 (its "Aborting call ... Call-ID '...'" line): its messages
# received by each server (capture /tmp/$2-SERVER.pcap) and sent by them (/tmp/$2-out-SERVER.pcap).
sip_failed_call_trace() {
  local id
  id=$(grep -o "Call-ID '[^']*'" "$1" 2>/dev/null | head -n 1 | tr -d "'" | cut -d' ' -f2)
  [ -n "$id" ] || return 0
  echo " messages of $id received by the servers:"; sip_call_trace "$id" "$2"
  echo " and sent by them:"; sip_call_trace "$id" "$2-out"
}
# The dispatcher as the tests start from: no second dispatcher, disp's link up with the VIP and its
# default route (a failover test takes the link down, which drops the route, and moves the VIP).
# The second dispatcher of the failover tests: namespace disp2 on the cluster segment as 10.0.0.3,
# default route via gw, and gw reachable (a fresh namespace each time).
disp2_up() {
  ip netns del disp2 2>/dev/null
  ip netns add disp2 || fail "cannot create namespace disp2"
  in_ns disp2 ip link set lo up
  attach disp2 10.0.0.3
  in_ns disp2 ip route add default via 10.0.0.1
  in_ns disp2 ping -c1 -W2 10.0.0.1 >/dev/null || fail "ping gw from disp2"
}

restore_disp() {
  ip netns del disp2 2>/dev/null
  in_ns disp ip link set eth0 up 2>/dev/null
  in_ns disp ip addr add "$VIP/32" dev eth0 2>/dev/null
  in_ns disp ip route replace default via 10.0.0.1 2>/dev/null
  true
}

# Append SARA's flow table (one flow object a line) to FILE: snapshots taken during a run.
# Each line gets the snapshot's time as "snap".
# (A dump that fails or is retried says so in FILE.err; FILE.times gets each snapshot's start and
# end time and its number of flows, for a test to show why a snapshot missed something.)
snapshot_flows() {
  local t0 n
  t0=$(date +%s.%N)
  n=$(sarectl flows --json 2>>"$1.err" | jq -c --arg t "$t0" '.[] | . + {snap: $t}' 2>>"$1.err" | tee -a "$1" | wc -l)
  echo "$t0 $(date +%s.%N) $n" >>"$1.times"
  true
}
# What FILE.times says, in one line: how many snapshots, the slowest, and the dump's warnings.
snapshot_summary() {
  awk '{d = $2 - $1; s += d; if (d > m) m = d} END {printf "%d snapshots, mean %.1f s, slowest %.1f s", NR, NR ? s / NR : 0, m}' "$1.times" 2>/dev/null
  [ -s "$1.err" ] && printf '; dump warnings/errors: %s' "$(sort "$1.err" | uniq -c | head -n 3 | tr -s ' \n' ' ')"
  true
}

# GStreamer without a home, D-Bus or display: its plugin registry is built once in /tmp, before the
# servers and clients start (else each process would scan every plugin, slowly, under TCG).
gst_prepare() {
  export GST_REGISTRY=/tmp/gst-registry.bin GST_REGISTRY_FORK=no
  [ -s "$GST_REGISTRY" ] || gst-inspect-1.0 >/dev/null 2>&1 || fail "gst-inspect-1.0 cannot build the GStreamer registry"
  gst-inspect-1.0 rtppcmupay >/dev/null 2>&1 || fail "GStreamer has no rtppcmupay (gstreamer1.0-plugins-good)"
}
# True while one of the given pids runs.
any_alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# ---- data plane (sessions, admission, selection) ----------------------------------------------

# A control-plane push with exactly these values (see tools/push_attrs.py), as the manager would.
push() { sarectl debug send-raw --cmd 8 $("$PY" "$TOOLS/push_attrs.py" "$@") >/dev/null || fail "push $*"; }
# Back to the state before any push: thresholds never refuse, loads 0.
push_reset() { push --cluster 0 --dispatcher 0 --thresholds 997,998,999,1000 --increment 5; }

# Add the servers of lib.sh's topology (after services were added with extra options).
add_servers() {
  local i=1 ns
  for ns in $SERVERS; do
    sarectl server add "$i" --ip "10.0.0.1$i" --mac "$(mac_of "$ns")" --dev eth0 2>/dev/null \
      || sarectl server list | grep -q "10.0.0.1$i" || fail "server add $i"
    i=$((i + 1))
  done
}

# Remove both servers (and with them any pushed state), as a test's last step.
del_servers() { sarectl server del 1 >/dev/null 2>&1; sarectl server del 2 >/dev/null 2>&1; true; }

# Field of a JSON line: json_get '<json>' '.answered'
json_get() { echo "$1" | jq -r "$2"; }

# wait_until SECONDS "what is awaited" COMMAND [ARG…]: runs COMMAND every 0.2 s until it succeeds,
# and fails the test after SECONDS with "what is awaited (not after SECONDS s)", followed by the output
# of the command in $WAIT_DETAIL if that is set (e.g. WAIT_DETAIL='sarectl flows').
wait_until() {
  local t=$1 what=$2 end
  shift 2
  end=$(( $(date +%s) + t ))
  until "$@"; do
    if [ "$(date +%s)" -ge "$end" ]; then
      fail "$what (not after $t s)${WAIT_DETAIL:+: $(eval "$WAIT_DETAIL" 2>&1 | head -c 3000)}"
    fi
    sleep 0.2
  done
}

# Wait until file $1 has at least $2 lines (background client output), at most $3 s (default 120).
wait_lines() {
  local f=$1 n=$2 t=${3:-120} end
  end=$(( $(date +%s) + t ))
  while [ "$(wc -l <"$f" 2>/dev/null || echo 0)" -lt "$n" ]; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $n lines in $f: $(cat "$f" 2>/dev/null)"
    sleep 0.1
  done
}
