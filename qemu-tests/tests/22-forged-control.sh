# Forged control datagrams change nothing (issue 15). From the client namespace an attacker
# (tools/forge.py attack) sends the manager and both failover daemons well-formed heartbeats
# ("application down", "planned failure": drain), load vectors (every load 1000), a gateway report
# completing a waiting announced flow, replication batches (sessions added, the table replaced by a
# new epoch) and dispatcher heartbeats (the backup claiming the active role at priority 255 or asking
# for the VIP: demotion; the primary "stepped down": takeover), each
#   (a) without a trailer, (b) with a wrong tag (sealed with a key of its own under the cluster's key
#   id and the genuine sender id; and genuine datagrams with a byte of the message changed),
#   (c) with a key id the cluster does not have,
# and (d) byte-for-byte replays of genuine datagrams captured on the cluster segment. All of them from
# the genuine sender's address and port (a raw socket: gw forwards them to the cluster segment), so
# that the source checks pass and what refuses them is the trailer or the replay window; a few also
# from the client's own address (wrong_source where the receiver checks the source).
#
# Set-up: `sarectl manager` (disp) and agents on s1, s2 (server ips in the cluster file, so a
# server's datagrams count only from its address); `sarectl gateway` on gw; `sarectl ha run` on disp
# (active, id 1) and disp2 (backup, id 2); two RTSP sessions held open through the dispatcher
# (forge.py rtsp-server on the servers, rtsp-client on cl): A, whose SETUP reply names server_port=
# (the gateway reports it: a genuine report to capture and replay), and B, whose reply does not (its
# media flows stay announced with the server's port unknown: what the forged report would complete).
#
# Checks: (1) every datagram sent is refused and counted by its receiver under the reason forge.py
# derives by re-enacting the receiver's checks (exact per reason; replays of a periodic sender's
# datagrams are replay or too_old, depending on whether it sent again since the capture: their sum is
# exact), as `sarectl status` / `sarectl ha status` show it; (2) nothing changed: both servers up with
# heartbeat flag 1 and no planned failure, never down or draining in the kernel while the attack ran
# (sampled), no load of 1000 pushed; no flow completed by the forged report (announce_received
# unchanged, B's flows still wildcard); no takeover and no step-down (roles sampled, counters); the
# backup in sync, its table unchanged and the same sessions as the primary's, no forged session.
#
# Then key rotation on the running cluster (issue 15's acceptance): each daemon has its own copy of
# the cluster key (KEYS/<daemon>.key); key 2 is made, and each of README's three steps (add it as the
# second line, make it the first, drop the old one) is done daemon by daemon (agents, manager, both
# dispatchers, gateway), each file replaced atomically and each daemon's reload awaited (its log
# line); a step ends when the manager's and the dispatchers' statuses show its key_ids and every
# periodic sender was heard by its receiver after both took the step's keys, and a new RTSP session
# then has its media flows completed by the gateway's report (sealed with the gateway's keys of that
# step). Meanwhile UDP sessions (tools/ha_probe.py) talk to their servers. Checks: nothing refused
# (the three receivers' rejection counters unchanged), both servers up and the roles unchanged
# throughout (sampled), no takeover, step-down, lost batch or resync, every probe session answered in
# every step by one and the same server, the new sessions admitted and replicated, and at the end key
# 2 alone everywhere.
# 230 s on an idle host, 430 s beside two compiling jobs (the rotation's steps wait on each daemon's
# reload): the default 480 s bound is too near.
# vm-timeout: 900
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
MGR=10.0.0.2:7400
HAPORT=7410
RPORT=5554
SVC="$VIP:$RPORT/tcp"
# Failover timing: a takeover after 10 missed heartbeats of 100 ms. The test fails on any takeover, so
# the margin against a TCG stall of the primary alone (see 20-failover.sh) is wider than 20's; the
# forged claims, if believed, act at once whatever the period.
HA_PERIOD=${SARA_FC_HA_PERIOD_MS:-100}
HA_MISSES=${SARA_FC_HA_MISSES:-10}
# The rotation: each daemon's key file, in the order each step visits them; the probe's UDP service.
KEYS=/tmp/fc-keys
ROT_ORDER="s1 s2 manager ha1 ha2 gateway"
UPORT=9410
PROBE_N=8
T0=$(date +%s)
step() { echo "[+$(( $(date +%s) - T0 )) s] $*"; }
now_ms() { date +%s%3N; }
sarectl2() { in_ns disp2 "$SARECTL" "$@"; }
# The daemons' state as operators read it: `sarectl status` (manager), `sarectl ha status` (NS N).
mstatus() { "$SARECTL" --json status --status-file /tmp/fc-manager.json 2>/dev/null; }
hstatus() { in_ns "$1" "$SARECTL" --json ha status --status-file "/tmp/fc-ha$2.json" 2>/dev/null; }
# Refusals by reason of a receiver (manager, ha1, ha2), as a JSON object.
rej() {
  case $1 in
    manager) mstatus | jq -c '.auth.rejections' ;;
    ha1) hstatus disp 1 | jq -c '.daemon.auth.rejections' ;;
    ha2) hstatus disp2 2 | jq -c '.daemon.auth.rejections' ;;
  esac
}
flows_of() { in_ns "$1" "$SARECTL" --json flows 2>/dev/null; }
has_flows() { [ "$(flows_of "$1" | jq "[.[] | select($2)] | length")" = "$3" ]; }
# Live RTSP sessions of a namespace (or those of port $2): "src:sport>dst:dport/proto@server" lines
# (as 20-failover.sh).
sessions_of() {
  flows_of "$1" | jq -r --argjson p "${2:-$RPORT}" '.[] | select(.identity == "signalling" and (.ended | not) and .dport == $p)
    | "\(.src):\(.sport)>\(.dst):\(.dport)/\(.proto)@\(.server)"' | sort
}
# The test's flows of a namespace without their timers: what a believed batch or report would change.
table_of() {
  flows_of "$1" | jq -c --arg vip "$VIP" '[.[] | select(.dst == $vip and .src == "10.0.1.2")
    | {src, sport, dst, dport, proto, server, identity, wildcard, ended}] | sort'
}

HA_PIDS=()
ha_start() {  # N NS ADDR PEER PRIORITY
  ip netns exec "$2" "$SARECTL" ha run --id "$1" --priority "$5" --listen "$3:$HAPORT" --peer "$4:$HAPORT" \
    --vip "$VIP" --dev eth0 --period-ms "$HA_PERIOD" --misses "$HA_MISSES" --status-file "/tmp/fc-ha$1.json" \
    --key-file "$KEYS/ha$1.key" 2>>"/tmp/fc-ha$1.log" &
  HA_PIDS[$1]=$!
}
wait_ha() {  # N NS JQ_CONDITION SECONDS
  local end=$(( $(date +%s) + $4 ))
  until [ "$(hstatus "$2" "$1" | jq -r "$3" 2>/dev/null)" = true ]; do
    [ "$(date +%s)" -lt "$end" ] || { tail -n 20 /tmp/fc-ha1.log /tmp/fc-ha2.log; hstatus disp 1; hstatus disp2 2
      fail "dispatcher $1: not ($3) after $4 s"; }
    sleep 0.1
  done
}
GW_SYSCTL=
CLIENT=
fc_teardown() {
  local n
  touch /tmp/fc-stop /tmp/fc-watch-stop /tmp/fc-rwatch-stop /tmp/fc-probe-stop
  # The RTSP client's TEARDOWN while the primary still forwards (at most 10 s).
  if [ -n "$CLIENT" ]; then
    for _ in $(seq 50); do kill -0 "$CLIENT" 2>/dev/null || break; sleep 0.2; done
  fi
  # The backup first: stopping the active first would hand it the VIP.
  for n in 2 1; do
    [ -n "${HA_PIDS[$n]:-}" ] || continue
    stop_pids "${HA_PIDS[$n]}"
  done
  HA_PIDS=()
  cleanup
  capture_stop 2>/dev/null
  in_ns disp "$SARECTL" ha role standalone 2>/dev/null
  restore_disp
  sarectl service del "$SVC" >/dev/null 2>&1
  sarectl service del "$VIP:$UPORT/udp" >/dev/null 2>&1
  del_servers
  rm -rf "$KEYS"
  # shellcheck disable=SC2086 # one NAME=VALUE word each
  [ -n "$GW_SYSCTL" ] && in_ns gw sysctl -qw $GW_SYSCTL
  in_ns disp ping -c1 -W2 10.0.0.1 >/dev/null 2>&1
  true
}
trap fc_teardown EXIT
rm -rf /tmp/fc-*

# --- the cluster: services, servers, the second dispatcher ------------------------------------
# gw must forward the attacker's datagrams, whose sources are cluster addresses (gw's own among them:
# the gateway's reports come from 10.0.0.1): no reverse-path filter and local sources accepted on its
# client side, for this test only (restored after).
GW_SYSCTL=$(in_ns gw sysctl -e net.ipv4.conf.all.rp_filter net.ipv4.conf.eth1.rp_filter net.ipv4.conf.eth1.accept_local | tr -d ' ' | tr '\n' ' ')
in_ns gw sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth1.rp_filter=0 net.ipv4.conf.eth1.accept_local=1 \
  || fail "gw: cannot turn rp_filter off / accept_local on"
info "gw forwards spoofed cluster sources from the client side for this test: rp_filter 0 (all, eth1), accept_local 1 (eth1); before: $GW_SYSCTL"
disp2_up
fresh_servers
sarectl service del "$SVC" >/dev/null 2>&1
sarectl service del "$VIP:$UPORT/udp" >/dev/null 2>&1
# The RTSP connections are idle after their SETUP: a flow timeout beyond the test's length keeps
# sessions A and B until their TEARDOWN.
for s in sarectl sarectl2; do
  $s service add "$SVC" --sig rtsp --timeout 300 || fail "$s: service add $SVC --sig rtsp"
  $s service add "$VIP:$UPORT/udp" --timeout 120 || fail "$s: service add $VIP:$UPORT/udp"
done
i=1
for ns in $SERVERS; do
  sarectl2 server add "$i" --ip "10.0.0.1$i" --mac "$(mac_of "$ns")" --dev eth0 || fail "disp2: server add $i"
  i=$((i + 1))
done
# RTSP on both servers: a SETUP from client port 41000 (session A; 41020, 41030, 41040: the new
# sessions of the rotation's steps) gets server_port=7078-7079, others none. The name server answers
# the rotation's UDP probe.
for ns in $SERVERS; do
  bg in_ns "$ns" "$PY" "$TOOLS/forge.py" rtsp-server --port "$RPORT" --server-port 7078 --report-client-port 41000 \
    --report-client-port 41020 --report-client-port 41030 --report-client-port 41040 >"/tmp/fc-rtsp-$ns.log" 2>&1
  bg in_ns "$ns" "$PY" "$TOOLS/name_server.py" --name "$ns" --port "$UPORT" --udp --addr "$VIP"
done

# --- the daemons, all with the cluster key --------------------------------------------------------
# Each daemon has its own copy of the cluster key (same content: the attack below is unchanged), so
# that the key rotation at the end changes them one at a time.
sara_key
rm -rf "$KEYS"; mkdir -m 700 "$KEYS" || fail "mkdir $KEYS"
for d in $ROT_ORDER; do install -m 600 /tmp/sara.key "$KEYS/$d.key" || fail "cannot copy /tmp/sara.key to $KEYS/$d.key"; done
in_ns disp ip addr del "$VIP/32" dev eth0 2>/dev/null
ha_start 1 disp 10.0.0.2 10.0.0.3 200
wait_ha 1 disp '.daemon.role == "active" and .kernel_role == "active"' 60
ha_start 2 disp2 10.0.0.3 10.0.0.2 100
wait_ha 2 disp2 '.daemon.role == "backup" and .kernel_role == "backup" and .daemon.peer.role == "active" and .daemon.synced == true' 60
step "disp active, disp2 backup in sync"
cat >/tmp/fc-cluster.json <<'JSON'
{"servers": [{"id": 1, "name": "s1", "ip": "10.0.0.11"}, {"id": 2, "name": "s2", "ip": "10.0.0.12"}],
 "heartbeat_ms": 300, "misses": 10, "delta_ms": 500, "dispatcher_load": false,
 "thresholds": {"t1": 960, "t2": 975, "t3": 990, "c": 1000}}
JSON
bg in_ns disp "$SARECTL" manager --listen "$MGR" --config /tmp/fc-cluster.json --status-file /tmp/fc-manager.json \
  --key-file "$KEYS/manager.key" 2>/tmp/fc-manager.log
i=1
for ns in $SERVERS; do
  bg in_ns "$ns" "$SARECTL" agent --manager "$MGR" --id "$i" --delta-ms 500 --heartbeat-ms 300 \
    --drain-file "/tmp/fc-$ns.drain" --key-file "$KEYS/$ns.key" 2>"/tmp/fc-agent-$ns.log"
  i=$((i + 1))
done
bg in_ns gw "$SARECTL" gateway --dispatcher "$MGR" --dev eth0 --vip "$VIP" --service "$RPORT/tcp:rtsp" \
  --key-file "$KEYS/gateway.key" 2>/tmp/fc-gateway.log
WAIT_DETAIL='tail -n 5 /tmp/fc-gateway.log /tmp/fc-manager.log /tmp/fc-agent-s1.log'
wait_until 60 "sarectl gateway capturing" grep -q 'capturing on' /tmp/fc-gateway.log
live_up() { [ "$(sarectl server list --json | jq '[.[] | select(.load_known == true and .state == "up")] | length')" = 2 ]; }
WAIT_DETAIL='sarectl server list; tail -n 5 /tmp/fc-manager.log' wait_until 60 "both servers up with a known load in the kernel" live_up
unset WAIT_DETAIL
for ns in $SERVERS; do wait_listen "$ns" "$RPORT"; wait_listen "$ns" "$UPORT" u; done
step "manager, agents, gateway and RTSP servers up"

# --- genuine traffic, captured on the cluster segment at the primary ------------------------------
capture_raw fc-ctl disp "udp and (dst port 7400 or port $HAPORT)"
m0=$(mstatus)
bg in_ns cl "$PY" "$TOOLS/forge.py" rtsp-client --vip "$VIP" --port "$RPORT" --session 41100:41000 --session 41110:41010 \
  --session-file /tmp/fc-more-sessions --stop-file /tmp/fc-stop --max-wait 1200 >/tmp/fc-client.log 2>&1
CLIENT=${BG_PIDS[-1]}
WAIT_DETAIL='sarectl flows; cat /tmp/fc-client.log /tmp/fc-rtsp-s1.log /tmp/fc-rtsp-s2.log; tail -n 5 /tmp/fc-gateway.log /tmp/fc-manager.log'
wait_until 60 "session A (client ports 41000-41001): its media flows completed by the gateway's genuine report" \
  has_flows disp '.sport >= 41000 and .sport <= 41001 and .wildcard == "none" and .dport >= 7078 and .dport <= 7079' 2
wait_until 60 "session B (client ports 41010-41011): its media flows announced, the server's port unknown" \
  has_flows disp '.sport >= 41010 and .sport <= 41011 and .identity == "announced" and .dport == 0' 2
backup_in_sync() {
  local s
  s=$(sessions_of disp)
  [ "$(hstatus disp2 2 | jq -r .daemon.synced)" = true ] && [ "$(echo "$s" | grep -c .)" = 2 ] && [ "$s" = "$(sessions_of disp2)" ]
}
WAIT_DETAIL='diff <(sessions_of disp) <(sessions_of disp2); hstatus disp2 2' \
  wait_until 60 "the backup holds both RTSP sessions, on the primary's servers" backup_in_sync
# A few of each server's heartbeats and load vectors in the capture.
more_monitoring() {
  mstatus | jq -e --argjson b "$m0" '[.servers[] | . as $s | ($b.servers[] | select(.id == $s.id)) as $o
    | ($s.heartbeats - $o.heartbeats >= 4 and $s.vectors - $o.vectors >= 2)] | length == 2 and all' >/dev/null
}
WAIT_DETAIL='mstatus | jq -c "[.servers[] | {id, heartbeats, vectors}]"' \
  wait_until 30 "4 heartbeats and 2 load vectors of each server since the capture began" more_monitoring
unset WAIT_DETAIL
capture_stop
step "captured $(tcpdump -n -r /tmp/fc-ctl.pcap 2>/dev/null | wc -l) genuine control datagrams"

# --- before ----------------------------------------------------------------------------------------
declare -A BASE
for r in manager ha1 ha2; do
  BASE[$r]=$(rej "$r")
  [ -n "${BASE[$r]}" ] && [ "${BASE[$r]}" != null ] || fail "no rejection counters in the status of $r"
done
base_m=$(mstatus); base_1=$(hstatus disp 1); base_2=$(hstatus disp2 2)
ann0=$(counter announce_received)
table2_0=$(table_of disp2)
sessions0=$(sessions_of disp)
# What gw forwards to the cluster's control ports during the attack (the gateway itself is quiet).
capture_raw fc-fwd gw "udp and ether src $(mac_of gw) and (dst port 7400 or dst port $HAPORT)"
# Through the attack (and the key rotation), every $3 s (0.2) until file $2 exists, to $1: the
# kernel's servers, both kernels' roles (r1, r2), the manager's servers (m) and both failover daemons
# (d1, d2).
HA_SAMPLE='.kernel_role, (.daemon | {role, synced, takeovers: .totals.takeovers, stepdowns: .totals.stepdowns})'
watch_state() {
  local s m r1 r2 d1 d2
  while [ ! -e "$2" ]; do
    s=$(sarectl server list --json 2>/dev/null | jq -c '[.[] | {id, state, load}]')
    m=$(jq -c '[.servers[] | {id, state, flag, planned_failure}]' /tmp/fc-manager.json 2>/dev/null)
    { read -r r1; read -r d1; } < <(hstatus disp 1 | jq -c "$HA_SAMPLE" 2>/dev/null)
    { read -r r2; read -r d2; } < <(hstatus disp2 2 | jq -c "$HA_SAMPLE" 2>/dev/null)
    echo "{\"servers\": ${s:-null}, \"r1\": ${r1:-null}, \"r2\": ${r2:-null}, \"m\": ${m:-null}, \"d1\": ${d1:-null}, \"d2\": ${d2:-null}}" >>"$1"
    sleep "${3:-0.2}"
  done
}
watch_state /tmp/fc-watch.jsonl /tmp/fc-watch-stop &
BG_PIDS+=($!)
WATCH=$!

# --- the attack ------------------------------------------------------------------------------------
ids=$("$SARECTL" --json key show /tmp/sara.key | jq -r '[.keys[].id] | map(tostring) | join(",")')
step "attack from cl (key ids of the cluster: $ids)"
in_ns cl "$PY" "$TOOLS/forge.py" attack --pcap /tmp/fc-ctl.pcap --key-ids "$ids" --manager "$MGR" \
  --server 1=10.0.0.11 --server 2=10.0.0.12 --ha "10.0.0.2:$HAPORT,1,10.0.0.3" --ha "10.0.0.3:$HAPORT,2,10.0.0.2" \
  --own-ip 10.0.1.2 --need-gateway \
  --report "10.0.1.2:41110>$VIP:$RPORT/tcp" "10.0.1.2:41010>$VIP:7088/udp" \
  --report "10.0.1.2:41110>$VIP:$RPORT/tcp" "10.0.1.2:41011>$VIP:7089/udp" \
  --fake-session "10.0.1.2:45001>$VIP:$RPORT/tcp" --fake-session "10.0.1.2:45002>$VIP:$RPORT/tcp" \
  --log /tmp/fc-sent.txt >/tmp/fc-expect.json 2>/tmp/fc-forge.err || fail "forge.py attack: $(cat /tmp/fc-forge.err)"
t_sent=$(now_ms)
info "forge.py read $(jq -c .captured /tmp/fc-expect.json) from the capture; sent $(jq -c '.receivers | map_values(.sent)' /tmp/fc-expect.json)"

# Each receiver has counted every datagram sent to it (at most 30 s).
counted_all() {
  local now
  now=$(rej "$1")
  [ -n "$now" ] && [ "$now" != null ] \
    && [ "$(jq -n --argjson n "$now" --argjson b "${BASE[$1]}" '($n | add) - ($b | add)')" -ge "$2" ]
}
missing() {  # where the datagrams went: what gw forwarded, what each receiver counted
  echo "gw forwarded, by destination: $(tcpdump -n -r /tmp/fc-fwd.pcap 2>/dev/null | awk '{print $5}' | sort | uniq -c | tr '\n' ' ')"
  for r in manager ha1 ha2; do echo "$r counted: $(rej "$r") (before: ${BASE[$r]})"; done
  tail -n 5 /tmp/fc-manager.log /tmp/fc-ha1.log /tmp/fc-ha2.log
}
# Not fatal yet: a datagram that was believed is never counted, and the checks of (2) then say what it
# changed.
short=
for r in manager ha1 ha2; do
  n=$(jq ".receivers.$r.sent" /tmp/fc-expect.json)
  end=$(( $(date +%s) + 30 ))
  until counted_all "$r" "$n"; do
    [ "$(date +%s)" -lt "$end" ] || { short="$short $r"; break; }
    sleep 0.2
  done
done
# Anything believed would be visible by now: the manager pushes every 500 ms, the ha daemons write
# their status every 200 ms; wait for statuses written well after the last datagram.
fresh() {
  { [ "$(mstatus | jq '.time_unix_ms')" -gt $((t_sent + 1500)) ] \
    && [ "$(hstatus disp 1 | jq '.daemon.written_unix_ms')" -gt $((t_sent + 600)) ] \
    && [ "$(hstatus disp2 2 | jq '.daemon.written_unix_ms')" -gt $((t_sent + 600)) ]; } 2>/dev/null
}
wait_until 30 "status files written after the attack" fresh
touch /tmp/fc-watch-stop
wait "$WATCH" 2>/dev/null
capture_stop
step "attack over"

# --- (1) every datagram refused, counted by reason --------------------------------------------------
verdict() {
  jq -n --argjson n "$(rej "$1")" --argjson b "${BASE[$1]}" --argjson e "$(jq -c ".receivers.$1.expect" /tmp/fc-expect.json)" '
    ($n | with_entries(.value -= ($b[.key] // 0))) as $d
    | [$d | to_entries[] | select(.key != "replay" and .key != "too_old") | select(.value != ($e[.key] // 0)) | .key] as $bad
    | ((($d.replay + $d.too_old) == (($e.replay // 0) + ($e.too_old // 0) + ($e.replay_or_too_old // 0)))
       and $d.replay >= ($e.replay // 0) and $d.too_old >= ($e.too_old // 0)) as $rep
    | {ok: (($bad | length) == 0 and $rep), bad: ($bad + (if $rep then [] else ["replay+too_old"] end)),
       line: ([$d | to_entries[] | select(.value > 0) | "\(.value) \(.key)"] | join(", ")),
       expect: ([$e | to_entries[] | "\(.value) \(.key)"] | join(", "))}'
}
bad=0
for r in manager ha1 ha2; do
  v=$(verdict "$r")
  info "$r: refused $(jq -r .line <<<"$v") (forge.py expected $(jq -r .expect <<<"$v"))"
  if [ "$(jq -r .ok <<<"$v")" != true ]; then
    bad=1
    echo "$r: counts differ from forge.py's expectation for: $(jq -c .bad <<<"$v"); what was sent to it:"
    grep "^$r " /tmp/fc-sent.txt
  fi
done
[ -z "$short" ] || { echo "not every datagram was counted within 30 s by:$short"; missing; }
info "$("$SARECTL" status --status-file /tmp/fc-manager.json | grep '^authentication:') (sarectl status)"
info "disp:  $(in_ns disp "$SARECTL" ha status --status-file /tmp/fc-ha1.json | grep '^authentication:') (sarectl ha status)"
info "disp2: $(in_ns disp2 "$SARECTL" ha status --status-file /tmp/fc-ha2.json | grep '^authentication:') (sarectl ha status)"
info "gw forwarded $(tcpdump -n -r /tmp/fc-fwd.pcap 2>/dev/null | wc -l) datagrams to the control ports during the attack"

# --- (2) nothing changed ----------------------------------------------------------------------------
ms=$(mstatus)
for id in 1 2; do
  s=$(jq -c ".servers[] | select(.id == $id) | {state, reason, flag, planned_failure, restarts, load, components}" <<<"$ms")
  o=$(jq -c ".servers[] | select(.id == $id) | {restarts}" <<<"$base_m")
  [ "$(jq '.state == "up" and .flag == 1 and .planned_failure == null' <<<"$s")" = true ] \
    || fail "the manager's server $id changed: $s"
  [ "$(jq .restarts <<<"$s")" = "$(jq .restarts <<<"$o")" ] || fail "the manager saw server $id's agent restart: $s (before: $o)"
  [ "$(jq '.load != 1000 and ((.components // {}) | [.[]] | all(. == 1000) | not)' <<<"$s")" = true ] \
    || fail "server $id has the forged loads at the manager: $s"
done
for c in garbage unknown_server announce_datagrams; do
  [ "$(jq ".counters.$c" <<<"$ms")" = "$(jq ".counters.$c" <<<"$base_m")" ] \
    || fail "the manager's $c counter moved: $(jq ".counters.$c" <<<"$base_m") -> $(jq ".counters.$c" <<<"$ms") (a forged datagram was parsed)"
done
k=$(sarectl server list --json | jq -c '[.[] | {id, state, load, load_known}]')
[ "$(jq '[.[] | select(.state == "up" and .load_known == true and .load < 1000)] | length' <<<"$k")" = 2 ] \
  || fail "the kernel's servers changed: $k"
samples=$(jq -s '[.[] | select(.servers != null and .r1 != null and .r2 != null)]' /tmp/fc-watch.jsonl)
nsamp=$(jq length <<<"$samples")
[ "$nsamp" -ge 1 ] || fail "no sample of the kernels' state was taken during the attack"
odd=$(jq -c '[.[] | select((.servers | map(select(.state == "up" and (.load // 0) < 1000)) | length) != 2
  or .r1 != "active" or .r2 != "backup")] | .[0:3]' <<<"$samples")
[ "$odd" = "[]" ] || fail "during the attack a server was not up or was loaded at 1000, or a kernel changed role: $odd"
info "manager and kernel: both servers up, heartbeat flag 1, no planned failure, no forged load; $nsamp samples during the attack all up, disp active, disp2 backup: $k"

ann=$(counter announce_received)
[ "$ann" = "$ann0" ] || fail "sara.ko received $((ann - ann0)) flow announcements during the attack (a report was believed)"
has_flows disp '.sport >= 41010 and .sport <= 41011 and .identity == "announced" and .dport == 0 and .wildcard == "dst_port"' 2 \
  || fail "session B's announced flows changed: $(flows_of disp | jq -c '[.[] | select(.sport >= 41010 and .sport <= 41011)]')"
for ns in disp disp2; do
  has_flows "$ns" '.dport == 7088 or .dport == 7089 or .sport == 45001 or .sport == 45002' 0 \
    || fail "a forged flow or session is in $ns's table: $(flows_of "$ns" | jq -c '[.[] | select(.dport == 7088 or .dport == 7089 or .sport == 45001 or .sport == 45002)]')"
done
info "flows: announce_received unchanged ($ann), session B's media flows still wait for their server port, no forged flow or session on either dispatcher"

h1=$(hstatus disp 1); h2=$(hstatus disp2 2)
[ "$(jq '.daemon.role == "active" and .kernel_role == "active"' <<<"$h1")" = true ] || fail "disp is no longer active: $(jq -c '{role: .daemon.role, kernel_role, last_takeover: .daemon.last_takeover}' <<<"$h1")"
[ "$(jq '.daemon.role == "backup" and .kernel_role == "backup" and .daemon.synced == true and .daemon.peer.role == "active"' <<<"$h2")" = true ] \
  || fail "disp2 is no longer an in-sync backup of an active peer: $(jq -c '{role: .daemon.role, kernel_role, synced: .daemon.synced, peer: .daemon.peer, last_takeover: .daemon.last_takeover}' <<<"$h2")"
for n in 1 2; do
  h=$h1; b=$base_1; [ "$n" = 2 ] && { h=$h2; b=$base_2; }
  for c in takeovers stepdowns; do
    [ "$(jq ".daemon.totals.$c" <<<"$h")" = "$(jq ".daemon.totals.$c" <<<"$b")" ] \
      || fail "dispatcher $n: $c $(jq ".daemon.totals.$c" <<<"$b") -> $(jq ".daemon.totals.$c" <<<"$h") during the attack ($(jq -c .daemon.last_takeover <<<"$h"); late ticks $(jq .daemon.totals.late_ticks <<<"$h")); $(tail -n 5 "/tmp/fc-ha$n.log")"
  done
done
[ "$(jq .daemon.sessions_known <<<"$h2")" = "$(jq .daemon.sessions_known <<<"$base_2")" ] \
  || fail "the backup's known sessions changed: $(jq .daemon.sessions_known <<<"$base_2") -> $(jq .daemon.sessions_known <<<"$h2")"
table2=$(table_of disp2)
[ "$table2" = "$table2_0" ] || fail "the backup's table changed during the attack:
before: $table2_0
after:  $table2"
[ "$(sessions_of disp)" = "$sessions0" ] && [ "$(sessions_of disp2)" = "$sessions0" ] \
  || fail "the sessions differ: primary $(sessions_of disp | tr '\n' ' '), backup $(sessions_of disp2 | tr '\n' ' '), before $(echo "$sessions0" | tr '\n' ' ')"
in_ns disp ip -4 addr show dev eth0 | grep -q " $VIP/32 " || fail "the VIP left the active dispatcher"
in_ns disp2 ip -4 addr show dev eth0 | grep -q " $VIP/32 " && fail "the VIP is on the backup"
info "failover: no takeover, no step-down; disp2 in sync with $(jq .daemon.sessions_known <<<"$h2") sessions, its table unchanged ($(jq length <<<"$table2") flows), the same sessions as the primary: $(echo "$sessions0" | tr '\n' ' ')"
# Last, the counts (a believed datagram fails one of the checks above first, with what it changed).
[ "$bad" = 0 ] || fail "a receiver's refusals by reason are not what forge.py expected (see above and /tmp/fc-sent.txt)"
step "forged control datagrams: done"

# --- key rotation on the running cluster ------------------------------------------------------------
# README's three steps, each done on every daemon in turn (ROT_ORDER), each daemon's file replaced
# atomically (a new file, mode 0600, renamed over it: a daemon never reads half of one).
OLD_ID=$("$SARECTL" --json key show /tmp/sara.key | jq -r 'if (.keys | length) == 1 then .keys[0].id else empty end')
[ -n "$OLD_ID" ] || fail "the cluster key file /tmp/sara.key should hold one key: $("$SARECTL" key show /tmp/sara.key 2>&1)"
NEW_ID=$((OLD_ID + 1))
"$SARECTL" key generate "$KEYS/next.key" --id "$NEW_ID" >/dev/null || fail "sarectl key generate $KEYS/next.key --id $NEW_ID"
old_line=$(grep '^sara-key-v1 ' /tmp/sara.key); new_line=$(grep '^sara-key-v1 ' "$KEYS/next.key")
if [ "$(grep -c . <<<"$old_line")" != 1 ] || [ "$(grep -c . <<<"$new_line")" != 1 ]; then
  fail "not one key line in /tmp/sara.key and in $KEYS/next.key"
fi
ms_s() { echo "$(( $1 / 1000 )).$(( $1 % 1000 / 100 ))"; }
# A daemon's log; the key ids its status file shows (the manager's and the failover daemons': the
# agents and the gateway have no status, their log is all they say).
log_of() { case $1 in s1|s2) echo "/tmp/fc-agent-$1.log" ;; *) echo "/tmp/fc-$1.log" ;; esac; }
status_ids() { case $1 in manager|ha1|ha2) jq -c .auth.key_ids "/tmp/fc-$1.json" 2>/dev/null ;; *) echo "no status" ;; esac; }
put_keys() {  # DAEMON LINE...: its key file, replaced by a new one of mode 0600
  local f=$KEYS/$1.key
  shift
  { (umask 077; printf '%s\n' "$@" >"$f.new") && chmod 600 "$f.new" && mv -f "$f.new" "$f"; } || fail "cannot replace $f"
}
took() {  # DAEMON "keys now [..], sealing with N": it logged that it took its new file with these keys
  local f=$KEYS/$1.key log
  log=$(log_of "$1")
  if grep -qF "key file $f changed but is refused" "$log"; then
    fail "$1 refused its new key file: $(grep -F "key file $f changed but is refused" "$log" | tail -n 1)"
  fi
  grep -qF "key file $f changed: $2" "$log"
}
declare -A TOOK  # when the test saw each daemon take the current step's keys (unix ms)
took_json() { local d sep=; printf '{'; for d in $ROT_ORDER; do printf '%s"%s": %s' "$sep" "$d" "${TOOK[$d]:-0}"; sep=', '; done; printf '}'; }
# The statuses of the manager and both dispatchers show keys $1 (they are written every 500 and 200
# ms, so this is checked once a step, after each daemon logged its reload), and every periodic sender
# was heard by its receiver after both took the step's keys, plus 300 ms (an agent's heartbeat
# period, 3 of the dispatchers'): what was sealed before a reload is no longer on its way. The agents
# by the manager (a heartbeat and a load vector), each dispatcher by the other.
heard_after() {
  jq -n -e --slurpfile m /tmp/fc-manager.json --slurpfile h1 /tmp/fc-ha1.json --slurpfile h2 /tmp/fc-ha2.json \
    --argjson t "$(took_json)" --argjson want "$1" '
    def since($a; $b): ([$t[$a], $t[$b]] | max) + 300;
    def heard($h): $h.written_unix_ms - $h.peer.heard_ms_ago;
    $m[0] as $m
    | [$m.servers[] | "s\(.id)" as $a | ($m.time_unix_ms - .last_heartbeat_ago_ms) > since($a; "manager")
        and ($m.time_unix_ms - .last_vector_ago_ms) > since($a; "manager")]
      + [heard($h2[0]) > since("ha1"; "ha2"), heard($h1[0]) > since("ha2"; "ha1")]
      + [$m.auth.key_ids, $h1[0].auth.key_ids, $h2[0].auth.key_ids | . == $want]
    | length == 7 and all' >/dev/null 2>&1
}
new_session() {  # STEP CLIENT_PORT: one more RTSP session, its media flows completed by the gateway's report
  local c=$2
  echo "$((c + 100)):$c" >>/tmp/fc-more-sessions
  WAIT_DETAIL="flows_of disp | jq -c '[.[] | select(.sport == $((c + 100)) or (.sport >= $c and .sport <= $((c + 1))))]'; tail -n 3 /tmp/fc-client.log /tmp/fc-gateway.log /tmp/fc-manager.log; mstatus | jq -c .counters" \
    wait_until 30 "step $1: a new RTSP session (client ports $c-$((c + 1))) with its media flows completed by the gateway's report" \
    has_flows disp ".sport >= $c and .sport <= $((c + 1)) and .wildcard == \"none\" and .dport >= 7078 and .dport <= 7079" 2
}
STEP_TIMES=
rotate_step() {  # NAME CLIENT_PORT IDS LINE...: README's step NAME on every daemon in turn
  local name=$1 cport=$2 want=$3 d t0 t1 end line per='' heard
  shift 3
  line="keys now $(jq -r 'map(tostring) | "[" + join(", ") + "]"' <<<"$want"), sealing with $(jq '.[0]' <<<"$want")"
  echo "$name" >/tmp/fc-phase
  t0=$(now_ms)
  for d in $ROT_ORDER; do
    t1=$(now_ms)
    put_keys "$d" "$@"
    end=$(( $(date +%s) + 20 ))
    until took "$d" "$line"; do
      [ "$(date +%s)" -lt "$end" ] || fail "rotation step $name: $d did not take its new key file $KEYS/$d.key (keys $want) within 20 s (its status: $(status_ids "$d")): $(tail -n 3 "$(log_of "$d")")"
      sleep 0.1
    done
    TOOK[$d]=$(now_ms)
    per="$per $d $(ms_s $((TOOK[$d] - t1)))"
  done
  t1=$(now_ms)
  # shellcheck disable=SC2016 # expanded when the wait fails
  WAIT_DETAIL='echo "took: $(took_json)"; jq -c "[.time_unix_ms, .auth.key_ids, [.servers[] | {id, last_heartbeat_ago_ms, last_vector_ago_ms}]]" /tmp/fc-manager.json; jq -c "[.written_unix_ms, .auth.key_ids, .peer]" /tmp/fc-ha1.json /tmp/fc-ha2.json' \
    wait_until 10 "rotation step $name: the statuses of the manager and both dispatchers show keys $want, and every agent and dispatcher was heard by its receiver after both took them" heard_after "$want"
  heard=$(ms_s $(( $(now_ms) - t1 )))
  t1=$(now_ms)
  new_session "$name" "$cport"
  STEP_TIMES="$STEP_TIMES, $name $(ms_s $(( $(now_ms) - t0 ))) s"
  info "rotation step $name (keys $want, \"$line\"): $(ms_s $(( $(now_ms) - t0 ))) s; each daemon took its file after (s):$per; the statuses showed them and every agent and dispatcher was heard with them $heard s later; a new RTSP session (client ports $cport-$((cport + 1))) had its media flows completed by the gateway's report $(ms_s $(( $(now_ms) - t1 ))) s later"
}

# UDP sessions talking through the rotation: one datagram every 250 ms from each, every 50 ms from
# the first; phases named after the steps.
echo before >/tmp/fc-phase
bg in_ns cl "$PY" "$TOOLS/ha_probe.py" --vip "$VIP" --port "$UPORT" --sessions "$PROBE_N" --base-port 42000 \
  --interval 250 --fast-interval 50 --stop-file /tmp/fc-probe-stop --phase-file /tmp/fc-phase >/tmp/fc-probe.out
PROBE=${BG_PIDS[-1]}
probe_synced() {
  local s
  s=$(sessions_of disp "$UPORT")
  [ "$(grep -c . <<<"$s")" = "$PROBE_N" ] && [ "$s" = "$(sessions_of disp2 "$UPORT")" ]
}
# shellcheck disable=SC2016 # expanded when the wait fails
WAIT_DETAIL='diff <(sessions_of disp "$UPORT") <(sessions_of disp2 "$UPORT")' \
  wait_until 60 "the probe's $PROBE_N UDP sessions on the primary and replicated to the backup" probe_synced
declare -A ROT0
for r in manager ha1 ha2; do ROT0[$r]=$(rej "$r"); done
rm0=$(mstatus); rh1=$(hstatus disp 1); rh2=$(hstatus disp2 2)
ann_r0=$(counter announce_received)
# (Every 0.3 s: the daemons' reloads and the probe share the guest's 2 CPUs with it.)
watch_state /tmp/fc-rwatch.jsonl /tmp/fc-rwatch-stop 0.3 &
BG_PIDS+=($!)
RWATCH=$!
step "key rotation $OLD_ID -> $NEW_ID, daemon by daemon ($ROT_ORDER)"
t_rot=$(now_ms)
rotate_step add 41020 "[$OLD_ID,$NEW_ID]" "$old_line" "$new_line"
rotate_step switch 41030 "[$NEW_ID,$OLD_ID]" "$new_line" "$old_line"
rotate_step drop 41040 "[$NEW_ID]" "$new_line"
rot_ms=$(( $(now_ms) - t_rot ))
touch /tmp/fc-rwatch-stop /tmp/fc-probe-stop
wait "$RWATCH" 2>/dev/null
wait "$PROBE" 2>/dev/null
step "key rotation over"
info "key rotation $OLD_ID -> $NEW_ID on the running cluster: $(ms_s "$rot_ms") s for the 3 steps (${STEP_TIMES#, })"

# Nothing refused: a rotation done in this order gives no receiver a datagram it cannot open.
for r in manager ha1 ha2; do
  now=$(rej "$r")
  [ "$now" = "${ROT0[$r]}" ] || fail "$r refused datagrams during the key rotation: $(jq -n -c --argjson n "$now" --argjson b "${ROT0[$r]}" '$n | with_entries(.value -= ($b[.key] // 0)) | with_entries(select(.value != 0))') (before: ${ROT0[$r]}); $(grep -E 'refused|key file' "$(log_of "$r")" | tail -n 5)"
done
ms=$(mstatus); h1=$(hstatus disp 1); h2=$(hstatus disp2 2)
[ "$(jq .counters.garbage <<<"$ms")" = "$(jq .counters.garbage <<<"$rm0")" ] || fail "the manager's garbage counter moved during the rotation"
info "rotation: nothing refused: the rejection counters of the manager, disp and disp2 did not move from the attack's (manager $(jq -c 'with_entries(select(.value > 0))' <<<"${ROT0[manager]}"), disp $(jq -c 'with_entries(select(.value > 0))' <<<"${ROT0[ha1]}"), disp2 $(jq -c 'with_entries(select(.value > 0))' <<<"${ROT0[ha2]}"))"

# The cluster did not notice: sampled throughout, and now.
samples=$(jq -s '[.[] | select(.servers != null and .m != null and .r1 != null and .r2 != null and .d1 != null and .d2 != null)]' /tmp/fc-rwatch.jsonl)
nsamp=$(jq length <<<"$samples")
[ "$nsamp" -ge 3 ] || fail "only $nsamp complete samples of the cluster's state during the rotation ($(wc -l </tmp/fc-rwatch.jsonl) taken)"
odd=$(jq -c --argjson a "$(jq '.daemon.totals' <<<"$rh1")" --argjson b "$(jq '.daemon.totals' <<<"$rh2")" '[.[]
  | select((.servers | map(select(.state == "up")) | length) != 2
    or (.m | map(select(.state == "up" and .flag == 1 and .planned_failure == null)) | length) != 2
    or .r1 != "active" or .r2 != "backup" or .d1.role != "active" or .d2.role != "backup" or .d2.synced != true
    or .d1.takeovers != $a.takeovers or .d1.stepdowns != $a.stepdowns or .d2.takeovers != $b.takeovers or .d2.stepdowns != $b.stepdowns)]
  | .[0:3]' <<<"$samples")
[ "$odd" = "[]" ] || fail "during the key rotation a server was not up (kernel or manager: flag 1, no planned failure), a role changed, the backup was out of sync or a takeover or step-down happened: $odd"
for id in 1 2; do
  s=$(jq -c ".servers[] | select(.id == $id) | {state, reason, flag, planned_failure, restarts, lost}" <<<"$ms")
  [ "$(jq '.state == "up" and .flag == 1 and .planned_failure == null' <<<"$s")" = true ] || fail "after the rotation, the manager's server $id: $s"
  [ "$(jq .restarts <<<"$s")" = "$(jq ".servers[] | select(.id == $id) | .restarts" <<<"$rm0")" ] || fail "the manager saw server $id's agent restart during the rotation: $s"
done
lost=$(jq -c --argjson b "$rm0" '[.servers[] | . as $s | $s.lost - ($b.servers[] | select(.id == $s.id) | .lost)]' <<<"$ms")
[ "$(sarectl server list --json | jq '[.[] | select(.state == "up" and .load_known == true)] | length')" = 2 ] \
  || fail "after the rotation the kernel's servers: $(sarectl server list --json | jq -c '[.[] | {id, state, load_known}]')"
[ "$(jq '.daemon.role == "active" and .kernel_role == "active"' <<<"$h1")" = true ] || fail "after the rotation disp is not active: $(jq -c '{role: .daemon.role, kernel_role, last_takeover: .daemon.last_takeover}' <<<"$h1")"
[ "$(jq '.daemon.role == "backup" and .kernel_role == "backup" and .daemon.synced == true' <<<"$h2")" = true ] \
  || fail "after the rotation disp2 is not an in-sync backup: $(jq -c '{role: .daemon.role, kernel_role, synced: .daemon.synced, peer: .daemon.peer}' <<<"$h2")"
for n in 1 2; do
  h=$h1; b=$rh1; [ "$n" = 2 ] && { h=$h2; b=$rh2; }
  for c in takeovers stepdowns batches_lost resyncs_requested garbage; do
    [ "$(jq ".daemon.totals.$c" <<<"$h")" = "$(jq ".daemon.totals.$c" <<<"$b")" ] \
      || fail "dispatcher $n: $c $(jq ".daemon.totals.$c" <<<"$b") -> $(jq ".daemon.totals.$c" <<<"$h") during the key rotation; $(tail -n 5 "/tmp/fc-ha$n.log")"
  done
done
in_ns disp ip -4 addr show dev eth0 | grep -q " $VIP/32 " || fail "after the rotation the VIP is not on the active dispatcher"
info "rotation: $nsamp samples (of $(wc -l </tmp/fc-rwatch.jsonl)): both servers always up in the kernel and at the manager (heartbeat flag 1, no planned failure), disp active, disp2 backup in sync; no takeover, step-down, lost batch or resync; the manager's heartbeats lost by sequence gap during it: $lost"

# Sessions kept flowing: every probe session answered in every step by one and the same server; the
# new sessions admitted and replicated.
probe=$(cat /tmp/fc-probe.out)
[ -n "$probe" ] || fail "the probe printed nothing"
[ "$(jq -c .phases <<<"$probe")" = '["before","add","switch","drop"]' ] || fail "the probe saw the phases $(jq -c .phases <<<"$probe")"
[ "$(jq .duplicates <<<"$probe")" = 0 ] || fail "$(jq .duplicates <<<"$probe") probe datagrams were answered twice during the rotation"
[ "$(jq .continued <<<"$probe")" = "$PROBE_N" ] \
  || fail "of the probe's $PROBE_N UDP sessions, $(jq .continued <<<"$probe") were answered in every step by one server (moved: $(jq -c .moved <<<"$probe"), silent: $(jq -c .silent <<<"$probe"); $(jq -c .per_phase_servers <<<"$probe"))"
unanswered=$(( $(jq .sent <<<"$probe") - $(jq .answered <<<"$probe") ))
[ "$unanswered" -le $((PROBE_N + 10)) ] || fail "$unanswered of the probe's $(jq .sent <<<"$probe") datagrams were not answered (more than those on their way at the end)"
[ "$(jq '.gap_ms < 3000' <<<"$probe")" = true ] || fail "the probe's 50 ms session was not answered for $(jq .gap_ms <<<"$probe") ms during the rotation"
all_replicated() {
  local r u
  r=$(sessions_of disp); u=$(sessions_of disp "$UPORT")
  [ "$(grep -cE ':41(12|13|14)0>' <<<"$r")" = 3 ] && [ "$r" = "$(sessions_of disp2)" ] \
    && [ "$(grep -c . <<<"$u")" = "$PROBE_N" ] && [ "$u" = "$(sessions_of disp2 "$UPORT")" ]
}
# shellcheck disable=SC2016 # expanded when the wait fails
WAIT_DETAIL='echo RTSP; diff <(sessions_of disp) <(sessions_of disp2); echo UDP; diff <(sessions_of disp "$UPORT") <(sessions_of disp2 "$UPORT")' \
  wait_until 30 "after the rotation, the same sessions on both dispatchers (the 3 new RTSP sessions among them, and the $PROBE_N UDP ones)" all_replicated
rtsp1=$(sessions_of disp)
info "rotation: the probe's $PROBE_N UDP sessions each answered in every step (before, add, switch, drop) by one and the same server ($(jq -r '[.per_phase_servers.before[] | .[0]] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' <<<"$probe")): $(jq .answered <<<"$probe") of $(jq .sent <<<"$probe") datagrams answered, longest silence of the 50 ms session $(jq .gap_ms <<<"$probe") ms ($(jq -c .gap_ms_by_phase <<<"$probe")); new RTSP sessions, one after each step (client port@server): $(grep -E ':41(12|13|14)0>' <<<"$rtsp1" | sed 's/.*:\(41[0-9]*\)>.*@/\1@/' | tr '\n' ' ')(announce_received +$(( $(counter announce_received) - ann_r0 ))), replicated: the same $(grep -c . <<<"$rtsp1") RTSP and $PROBE_N UDP sessions on both dispatchers"

# Key 2 alone everywhere: the statuses, each daemon's last reload, each file.
final="keys now [$NEW_ID], sealing with $NEW_ID"
[ "$(jq -c .auth.key_ids <<<"$ms")" = "[$NEW_ID]" ] || fail "the manager's status shows keys $(jq -c .auth.key_ids <<<"$ms") after the rotation"
for n in 1 2; do
  h=$h1; [ "$n" = 2 ] && h=$h2
  [ "$(jq -c .daemon.auth.key_ids <<<"$h")" = "[$NEW_ID]" ] || fail "dispatcher $n's status shows keys $(jq -c .daemon.auth.key_ids <<<"$h") after the rotation"
done
for d in $ROT_ORDER; do
  f=$KEYS/$d.key
  reloads=$(grep -cF "key file $f changed" "$(log_of "$d")")
  last=$(grep -F "key file $f changed" "$(log_of "$d")" | tail -n 1)
  if [ "$reloads" != 3 ] || [ "${last%"$final"}" = "$last" ]; then fail "$d: $reloads key reloads logged (3 expected), the last: $last"; fi
  [ "$("$SARECTL" --json key show "$f" | jq -c '[.keys[].id, .usable]')" = "[$NEW_ID,true]" ] || fail "$f: $("$SARECTL" key show "$f" 2>&1)"
done
info "rotation: key $NEW_ID alone everywhere: \"$("$SARECTL" status --status-file /tmp/fc-manager.json | grep '^authentication:')\" (sarectl status), disp and disp2 key_ids [$NEW_ID] (sarectl ha status); every daemon logged exactly 3 reloads, the last \"$final\" (s1, s2 and the gateway have no status: their log says it)"
step "done"
