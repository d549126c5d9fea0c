#!/bin/bash
# Benchmarks (`make bench`, run in the VM by guest.sh bench): the same traffic, in one VM boot, through
#
#   floor      no balancer: the client sends to the servers' own addresses (cl → gw → br0 → server),
#   route      no balancer, but the dispatcher is on the path as a plain IP router (10.0.2.1x routed
#              by gw via disp to the servers),
#   sara       sara.ko on the dispatcher (VIP:port services, the servers of lib.sh, default policy),
#   ipvs       IPVS direct routing (ipvsadm -g, wlc), conn_tab_bits=20,
#   ipvs-p     the same with persistence (-p 600),
#
# for UDP and TCP at 1k, 100k and 1M concurrent flows (tools/bench_gen.c: spoofed sources
# 10.1.0.0/16 × ports, so the balancer tracks F entries). For each balancer a "new" pass opens the F
# flows (new-session rate), then a "steady" pass of BENCH_SECONDS cycles over them (forwarding cost).
# Packets are counted where they reach the servers (the bridge ports' tx counters); the cost is the
# softirq time of all CPUs (/proc/stat) over the measured interval, per packet: the whole path
# (gw, bridge, dispatcher, servers), so "own" = balancer minus floor is the dispatcher's share.
# Memory: the MemAvailable/VmallocUsed/Slab deltas of sara.ko's table and of IPVS's connections.
#
# Instructions (when run.sh loads the sara-icount plugin, its default; bench/icount/): every measured
# interval is bracketed by two instruction-counter snapshots labelled PASS:SETUP:PROTO:F:begin and
# …:end (e.g. steady:ipvs-p:udp:100000:begin), taken by snap.sh between two readings of the packet
# counter, and sara.ko's text (range "sara") and ip_vs + ip_vs_wlc's (range "ipvs") are announced
# after loading and withdrawn before unloading (icount_module / icount_unmodule). An "icount" line of
# the results gives each interval's label and the packets delivered in it (bounds); report.py joins
# it with build/bench/icount.tsv (on the host, after the run). The markers are sent from this shell
# only, one at a time (snap.sh runs in the foreground). Without the plugin they do nothing.
#
# Prints the results (markdown) between "SARA-BENCH-RESULTS-BEGIN" and "...-END"; run.sh --bench copies
# them to build/bench/results.md. Knobs (kernel command line, set by run.sh from the environment):
# sara_bench_flows=1000,100000,1000000 sara_bench_secs=10 sara_bench_jobs=1 sara_bench_protos=udp,tcp
# sara_bench_newmax=120 (bound of one new pass, s) sara_bench_budget=1300 (no block starts later, s; nor IPVS -p past budget + 200 s).
. "$REPO/qemu-tests/lib.sh"
trap - EXIT
# The instruction counter's helpers (sara_icount= on the command line; without it they do nothing).
# Exported: snap.sh, in the dispatcher's namespace, takes the snapshots.
. "$REPO/qemu-tests/bench/icount/marks.sh"
export ICOUNT_MARK ICOUNT_SYSFS

karg() { sed -n "s/.*\bsara_bench_$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
FLOWS=$(karg flows); FLOWS=${FLOWS:-1000,100000,1000000}
SECS=$(karg secs); SECS=${SECS:-10}
JOBS=$(karg jobs); JOBS=${JOBS:-1}
PROTOS=$(karg protos); PROTOS=${PROTOS:-udp,tcp}
NEW_MAX=$(karg newmax); NEW_MAX=${NEW_MAX:-120}   # bound of one "new" pass, seconds (F/3000 if longer)
CAPACITY=1100000
IPVS_DIR="$KDIR/net/netfilter/ipvs"
PORT_UDP=9000
PORT_TCP=9001
RES=/tmp/bench.tsv
GEN=$REPO/build/bench/bench_gen   # built by run.sh --bench (else here, slowly)
: >"$RES"
T0=$EPOCHSECONDS
NCPU=$(nproc)
# This shell (and what it starts, but the generators) on CPU 0; the generators on the last CPUs, so
# that the measuring and configuring stay responsive while the generators keep their CPUs busy.
taskset -pc 0 $$ >/dev/null
BUDGET=$(karg budget); BUDGET=${BUDGET:-1300}   # seconds: no new block starts past this
HARD=$((BUDGET + 200))                            # nor IPVS with persistence (the last setup of a block)

say() { echo "BENCH [$(( ${EPOCHSECONDS} - T0 ))s] $*"; }
rec() { local IFS=$'\t'; echo "$*" >>"$RES"; }
meminfo() { awk -v k="$1:" '$1 == k {print $2 * 1024}' /proc/meminfo; }
HZ=$(getconf CLK_TCK)
sara_c() { in_ns disp cat "/sys/kernel/sara/$1"; }
# One sample (bench/snap.sh): TIME SOFTIRQ IDLE PKTS SARA_FWD SARA_SESSIONS IPVS_CONNS IPVS_INPKTS PKTS0
# (snap LABEL: with the instruction counter's snapshot LABEL, taken between PKTS0 and the rest).
snap() { in_ns disp bash "$REPO/qemu-tests/bench/snap.sh" "$@"; }
# The measured interval's instruction snapshots are LABEL:begin and LABEL:end, LABEL = PASS:SETUP:PROTO:F.
# icount_rec PASS F PROTO SETUP: its "icount" line, from the samples a and b (arrays of the caller):
# the packets delivered between the two snapshots lie between b's PKTS0 - a's PKTS and b's PKTS - a's PKTS0.
icount_rec() { rec icount "$2" "$3" "$4" "$1" "$1:$4:$3:$2" $((b[8] - a[3])) $((b[3] - a[8])); }
ipvs_conns_now() { in_ns disp ipvsadm -Ln 2>/dev/null | awk '$1 == "->" && $2 ~ /^10\./ {n += $5 + $6} END {print n + 0}'; }
ct_count() { in_ns disp cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo -; }
slab_ipvs() {  # active objects, bytes and object size of the ip_vs_conn cache
  awk '$1 == "ip_vs_conn" {print $2, $15 * $6 * 4096, $4; f = 1} END {if (!f) print "- - -"}' /proc/slabinfo 2>/dev/null || echo "- - -"
}
tracked() {
  case "$1" in
    sara) sara_c flows;;
    ipvs*) ipvs_conns_now;;
    *) echo 0;;
  esac
}

# JOBS generators (pinned to the last CPUs; this script on CPU 0) in namespace GEN_NS, each with its
# share of the F flows. Steady passes send from the client namespace (cl → gw → …); new passes from the
# gateway namespace with one generator per CPU (GEN_NS=gw JOBS=$NCPU): under TCG a path hop costs
# about as much as the balancer, and opening 10^6 flows from cl would not fit the time budget.
GEN_PIDS=()
GEN_NS=cl
gen_start() {  # MODE PROTO F SECONDS DST [FLOWS_TO_USE: the first ones of the F, default all]
  local mode=$1 proto=$2 f=$3 secs=$4 dst=$5 use=${6:-$3} k per off n port=$PORT_UDP
  [ "$proto" = tcp ] && port=$PORT_TCP
  per=$(( (use + JOBS - 1) / JOBS ))
  GEN_PIDS=()
  rm -f /tmp/gen.*.out
  for ((k = 0; k < JOBS; k++)); do
    off=$((k * per)); n=$per; [ $((off + n)) -gt "$use" ] && n=$((use - off))
    [ "$n" -gt 0 ] || continue
    # ip netns exec and taskset exec the generator: the pid is its own.
    ip netns exec "$GEN_NS" taskset -c $(( NCPU - 1 - k % NCPU )) "$GEN" -d "$dst" -p "$port" -P "$proto" -f "$f" -o "$off" -n "$n" \
      -m "$mode" -t "$secs" >"/tmp/gen.$k.out" 2>&1 &
    GEN_PIDS+=($!)
  done
}
gen_wait() { local p; for p in "${GEN_PIDS[@]}"; do wait "$p"; done; GEN_PIDS=(); }
gen_stop() { local p; for p in "${GEN_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done; gen_wait; }
gen_out() { cat /tmp/gen.*.out 2>/dev/null | tr '\n' ';'; }
# The generators' own active interval (CLOCK_REALTIME): earliest start, latest end.
gen_span() { cat /tmp/gen.*.out 2>/dev/null | awk '/wall/ {s = $(NF-1); e = $NF; if (!a || s < a) a = s; if (e > b) b = e} END {printf "%.6f", b - a}'; }
# Wait until packets reach the servers (the generators have started), at most 60 s.
wait_traffic() {
  local p0 p1 end=$((EPOCHSECONDS + 60))
  read -r _ _ _ p0 _ <<<"$(snap)"
  while [ "$EPOCHSECONDS" -lt "$end" ]; do
    sleep 0.5
    read -r _ _ _ p1 _ <<<"$(snap)"
    [ "$p1" -gt "$p0" ] && return 0
  done
  return 1
}

# steady F PROTO SETUP DST COUNTER_COLUMN: cycle over the flows; measure SECS seconds while they run.
steady() {
  local f=$1 proto=$2 setup=$3 dst=$4 col=$5 a b use=$1
  # A new pass cut short by NEW_MAX opened only the first flows: cycle over those only.
  case "$setup" in sara|ipvs*) use=$(tracked "$setup"); [ "$use" -gt 0 ] && [ "$use" -le "$f" ] || use=$f;; esac
  gen_start steady "$proto" "$f" 3600 "$dst" "$use"
  wait_traffic || say "WARNING: no packet reached the servers"
  sleep 1
  a=($(snap "steady:$setup:$proto:$f:begin")); sleep "$SECS"; b=($(snap "steady:$setup:$proto:$f:end"))
  gen_stop
  local dt pk cnt=0; dt=$(echo "${b[0]} - ${a[0]}" | bc -l); pk=$((b[3] - a[3]))
  [ "$col" -gt 0 ] && cnt=$((b[col] - a[col]))
  rec steady "$f" "$proto" "$setup" "$dt" $((b[1] - a[1])) $((b[2] - a[2])) "$pk" "$cnt" "$(tracked "$setup")" "$(ct_count)"
  icount_rec steady "$f" "$proto" "$setup"
  say "$setup $proto F=$f: $pk packets at the servers in $dt s, softirq $((b[1] - a[1])) ticks, idle $((b[2] - a[2])); balancer counted $cnt; gen: $(gen_out)"
}
# newpass F PROTO SETUP COUNTER_COLUMN: open the F flows once; count sessions (SARA) / connections (IPVS)
newpass() {
  local f=$1 proto=$2 setup=$3 col=$4 a b bound=$NEW_MAX
  # The 10^6 row needs longer: the bound scales with F (at least F / 3000 s, TCG's rate on one CPU).
  [ $((f / 3000)) -gt "$bound" ] && bound=$((f / 3000))
  a=($(snap "new:$setup:$proto:$f:begin"))
  local jobs=$JOBS; JOBS=$NCPU GEN_NS=gw gen_start new "$proto" "$f" "$bound" "$VIP"; JOBS=$jobs
  gen_wait
  b=($(snap "new:$setup:$proto:$f:end"))
  local span n=$((b[col] - a[col])); span=$(gen_span)
  rec new "$f" "$proto" "$setup" "$span" $((b[1] - a[1])) $((b[2] - a[2])) $((b[3] - a[3])) "$n" "$(tracked "$setup")"
  icount_rec new "$f" "$proto" "$setup"
  say "$setup $proto F=$f new pass: $n new in $span s, $((b[3] - a[3])) packets at the servers; gen: $(gen_out)"
}

# --- topology: lib.sh's cluster, plus what the benchmark needs ----------------------------------
topo_up
for ns in cl gw disp $SERVERS; do
  in_ns "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
done
in_ns gw sysctl -qw net.ipv4.conf.eth1.rp_filter=0
# Replies (ICMP port unreachable, TCP resets) to the spoofed clients die at once where they are made.
for ns in disp $SERVERS; do in_ns "$ns" ip route add blackhole 10.1.0.0/16; done
# The "route" floor: gw → disp → server for 10.0.2.11 and 10.0.2.12, no redirects.
in_ns gw ip route add 10.0.2.0/24 via 10.0.0.2
in_ns disp ip route add 10.0.2.11/32 via 10.0.0.11 dev eth0
in_ns disp ip route add 10.0.2.12/32 via 10.0.0.12 dev eth0
in_ns disp sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 net.ipv4.ip_forward=0
in_ns s1 ip addr add 10.0.2.11/32 dev lo
in_ns s2 ip addr add 10.0.2.12/32 dev lo
if [ ! -x "$GEN" ] || [ "$TOOLS/bench_gen.c" -nt "$GEN" ]; then
  GEN=/tmp/bench_gen; gcc -O2 -o "$GEN" "$TOOLS/bench_gen.c" || fail "cannot build bench_gen"
fi
# Static neighbours and bridge entries: the servers never send (their replies are blackholed), so
# learnt entries would age out and frames be flooded; no ARP traffic during the measurements either.
mac_disp=$(mac_of disp); mac_s1=$(mac_of s1); mac_s2=$(mac_of s2); mac_gw=$(mac_of gw)
for ns in gw disp; do
  in_ns "$ns" ip neigh replace 10.0.0.11 lladdr "$mac_s1" dev eth0 nud permanent
  in_ns "$ns" ip neigh replace 10.0.0.12 lladdr "$mac_s2" dev eth0 nud permanent
done
in_ns gw ip neigh replace 10.0.0.2 lladdr "$mac_disp" dev eth0 nud permanent
in_ns gw ip neigh replace "$VIP" lladdr "$mac_disp" dev eth0 nud permanent
for ns in gw disp s1 s2; do
  m=mac_$ns; bridge fdb replace "${!m}" dev "v-$ns" master static
done
lsmod | grep -q '^sara ' && rmmod sara
lsmod | grep -q '^ip_vs ' && { in_ns disp ipvsadm -C; rmmod ip_vs_wlc ip_vs; }
[ -f "$IPVS_DIR/ip_vs_wlc.ko" ] || fail "no ip_vs_wlc.ko in $IPVS_DIR"
say "flows $FLOWS, protocols $PROTOS, $SECS s a measurement, $JOBS generators, $NCPU CPUs, HZ $HZ, slabinfo $([ -r /proc/slabinfo ] && echo yes || echo no), instruction counter $(icount_on && echo on || echo off)"
icount_snap bench:start

# --- the balancers -------------------------------------------------------------------------------
sara_up() {  # proto
  local m0 v0 m1 v1 m2 v2 s2
  m0=$(meminfo MemAvailable); v0=$(meminfo VmallocUsed)
  insmod "$REPO/sara.ko" flow_capacity=$CAPACITY || fail "insmod sara.ko"
  m1=$(meminfo MemAvailable); v1=$(meminfo VmallocUsed)
  # (Here, so that what its processes, readelf and mark, leave in memory falls in the table's
  # MemAvailable drop, tens of MiB, not in a smaller figure.)
  icount_module sara sara "$REPO/sara.ko" || say "WARNING: sara.ko's text is not counted apart"
  local port=$PORT_UDP; [ "$1" = tcp ] && port=$PORT_TCP
  sarectl service add "$VIP:$port/$1" --timeout 600 || fail "sarectl service add"
  m2=$(meminfo MemAvailable); v2=$(meminfo VmallocUsed); s2=$(meminfo Slab)
  add_servers
  SARA_MEM="$((m0 - m1)) $((v1 - v0)) $((m1 - m2)) $((v2 - v1)) $(sara_c table_capacity)"
  SARA_M2=$m2; SARA_S2=$s2
}
sara_down() { icount_unmodule sara; rmmod sara || fail "rmmod sara"; }
ipvs_up() {  # proto, persistent (0/1)
  local m0 v0 m1 v1 opt=-u port=$PORT_UDP
  [ "$1" = tcp ] && { opt=-t; port=$PORT_TCP; }
  m0=$(meminfo MemAvailable); v0=$(meminfo VmallocUsed)
  insmod "$IPVS_DIR/ip_vs.ko" conn_tab_bits=20 || fail "insmod ip_vs"
  insmod "$IPVS_DIR/ip_vs_wlc.ko" || fail "insmod ip_vs_wlc"
  m1=$(meminfo MemAvailable); v1=$(meminfo VmallocUsed)
  icount_module ipvs ip_vs "$IPVS_DIR/ip_vs.ko" ip_vs_wlc "$IPVS_DIR/ip_vs_wlc.ko" || say "WARNING: IPVS's text is not counted apart"
  in_ns disp ipvsadm --set 900 120 600 || fail "ipvsadm --set"
  in_ns disp ipvsadm -A "$opt" "$VIP:$port" -s wlc ${2:+-p 600} || fail "ipvsadm -A"
  in_ns disp ipvsadm -a "$opt" "$VIP:$port" -r 10.0.0.11 -g -w 1 || fail "ipvsadm -a"
  in_ns disp ipvsadm -a "$opt" "$VIP:$port" -r 10.0.0.12 -g -w 1 || fail "ipvsadm -a"
  IPVS_MEM="$((m0 - m1)) $((v1 - v0))"
  IPVS_M1=$(meminfo MemAvailable); IPVS_S1=$(meminfo Slab); IPVS_SLAB1=$(slab_ipvs)
}
ipvs_down() { in_ns disp ipvsadm -C; icount_unmodule ipvs; rmmod ip_vs_wlc && rmmod ip_vs || fail "rmmod ip_vs"; }

# The small sizes of every protocol first, then 10^6 (UDP, then TCP): past the budget, the largest
# TCP block is the one skipped.
BLOCKS=()
for f in ${FLOWS//,/ }; do
  [ "$f" -ge 1000000 ] && continue
  for proto in ${PROTOS//,/ }; do BLOCKS+=("$proto:$f"); done
done
for proto in ${PROTOS//,/ }; do
  for f in ${FLOWS//,/ }; do [ "$f" -ge 1000000 ] && BLOCKS+=("$proto:$f"); done
done
for block in "${BLOCKS[@]}"; do
    proto=${block%%:*}; f=${block#*:}
    if [ $((EPOCHSECONDS - T0)) -gt "$BUDGET" ]; then
      say "skipped $f flows $proto: past the time budget of $BUDGET s"; rec skipped "$f" "$proto" budget; continue
    fi
    say "=== $f flows, $proto"
    steady "$f" "$proto" floor 10.0.0.11,10.0.0.12 0
    in_ns disp sysctl -qw net.ipv4.ip_forward=1
    steady "$f" "$proto" route 10.0.2.11,10.0.2.12 0
    in_ns disp sysctl -qw net.ipv4.ip_forward=0

    sara_up "$proto"
    newpass "$f" "$proto" sara 5
    steady "$f" "$proto" sara "$VIP" 4
    rec mem "$f" "$proto" sara $SARA_MEM "$(sara_c flows)" $((SARA_M2 - $(meminfo MemAvailable))) $(( $(meminfo Slab) - SARA_S2 ))
    say "sara memory (insmod MemAvail, Vmalloc; table MemAvail, Vmalloc; capacity; flows; growth MemAvail, Slab): $(tail -n1 "$RES" | cut -f5-)"
    in_ns disp cat /sys/kernel/sara/dropped_table_full /sys/kernel/sara/dropped_no_server | tr '\n' ' ' | sed 's/^/BENCH   sara drops (table_full no_server): /'; echo
    sara_down

    for p in "" 1; do
      setup=ipvs${p:+-p}
      if [ -n "$p" ] && [ $((EPOCHSECONDS - T0)) -gt "$HARD" ]; then
        say "skipped $setup at $f flows $proto: past $HARD s"; rec skipped "$f" "$proto" "$setup, time budget"; continue
      fi
      ipvs_up "$proto" $p
      newpass "$f" "$proto" "$setup" 6
      steady "$f" "$proto" "$setup" "$VIP" 7
      read -r so sb sz <<<"$(slab_ipvs)"; read -r so1 sb1 _ <<<"$IPVS_SLAB1"
      rec mem "$f" "$proto" "$setup" $IPVS_MEM "$(ipvs_conns_now)" $((IPVS_M1 - $(meminfo MemAvailable))) $(( $(meminfo Slab) - IPVS_S1 )) \
        "$so" "$sb" "$sz" "$so1" "$sb1"
      say "$setup memory (insmod MemAvail, Vmalloc; conns; growth MemAvail, Slab; ip_vs_conn objs, bytes, objsize): $(tail -n1 "$RES" | cut -f5-)"
      ipvs_down
    done
done
icount_snap bench:end
say "done in $((EPOCHSECONDS - T0)) s"
# The report's parameters, for report.py run again on the host (run.sh, with the instruction counts).
rec meta "$HZ" "$((EPOCHSECONDS - T0))" "$SECS" "$JOBS" "$(uname -r)"
echo "SARA-BENCH-RESULTS-BEGIN"
"$PY" "$REPO/qemu-tests/bench/report.py" "$RES" "$HZ" "$((EPOCHSECONDS - T0))" "$SECS" "$JOBS" "$(uname -r)"
echo "SARA-BENCH-RESULTS-END"
echo "SARA-BENCH-RAW-BEGIN"
cat "$RES"
echo "SARA-BENCH-RAW-END"
