# `make soak` (issue #15; not part of `make test`): SOAK_MINUTES (default 30) of churn on the
# memory-checking boot (kmemleak on), to find what leaks or grows only over time.
#
# The whole system runs as in production: two dispatchers (`sarectl ha run`: disp active, disp2 backup,
# replication with the cluster key), the manager and an agent on each server (load vectors pushed to
# sara.ko every 500 ms), `sarectl gateway` on gw (RTSP reports), and three services with short flow
# timeouts (10 s), so that flows are created, replicated and purged all the time:
#   - SIP: a SIPp trunk (one socket, `-t u1`) placing batches of calls with RTP to SIPp UASs;
#   - RTSP: gst-rtsp-server on both servers, ffmpeg clients 2 at a time, 8 s of media each;
#   - UDP: tools/udp_sessions.py, 50 new sessions a round (a new source port each).
# Every minute a progress line; at the end the churn stops, both tables must drain back to where they
# started, and the report gives, at start and end: kernel slab (reclaimable, unreclaimable),
# vmalloc, sara.ko's own memory (its table_bytes gauge on each dispatcher: the flow table and Call-ID
# index, allocated with the first service; its code, /sys/module/sara/coresize), the flow table and
# Call-ID index fill, and the traffic done.
# Then sara.ko is unloaded and loaded again (its unload path frees everything it holds), and guest.sh's
# last checks run: the kernel log, and kmemleak after two forced scans (any unreferenced object fails).
# The soak fails if no traffic flowed (it would prove nothing), if a table does not drain, or on any
# report; traffic errors (a SIPp call that failed under TCG's stalls) are reported, not judged.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
MIN=$(sed -n 's/.*\bsara_soak_minutes=\([0-9]*\).*/\1/p' /proc/cmdline); MIN=${MIN:-30}
HAPORT=7410
MGR=10.0.0.2:7400
UPORT=9500
RTSP=554
SIP=5060
SVCS="$VIP:$UPORT/udp $VIP:$RTSP/tcp $VIP:$SIP/udp"
T0=$(date +%s)
step() { echo "[+$(( $(date +%s) - T0 )) s] $*"; }
sarectl2() { in_ns disp2 "$SARECTL" "$@"; }
hstatus() { in_ns "$1" "$SARECTL" --json ha status --status-file "/tmp/soak-ha$2.json" 2>/dev/null; }
c() { counter "$1"; }
c2() { in_ns disp2 cat "/sys/kernel/sara/$1"; }

HA_PIDS=()
LOOP_PIDS=()
soak_teardown() {
  touch /tmp/soak-stop
  stop_pids "${LOOP_PIDS[@]}"
  stop_pids "${HA_PIDS[2]:-}" "${HA_PIDS[1]:-}"
  HA_PIDS=()
  cleanup
  pkill -f "sipp -sf $TOOLS/sipp-uac-trunk.xml" 2>/dev/null
  in_ns disp "$SARECTL" ha role standalone 2>/dev/null
  restore_disp
  for svc in $SVCS; do sarectl service del "$svc" 2>/dev/null; done
  del_servers
  true
}
trap soak_teardown EXIT
rm -rf /tmp/soak-*

# --- the cluster ------------------------------------------------------------------------------------
disp2_up
fresh_servers
for s in sarectl sarectl2; do
  $s service add "$VIP:$UPORT/udp" --timeout 10 || fail "$s: service add udp"
  $s service add "$VIP:$RTSP/tcp" --sig rtsp --timeout 10 || fail "$s: service add rtsp"
  $s service add "$VIP:$SIP/udp" --sig sip --policy rr --timeout 10 || fail "$s: service add sip"
done
i=1
for ns in $SERVERS; do
  sarectl2 server add "$i" --ip "10.0.0.1$i" --mac "$(mac_of "$ns")" --dev eth0 || fail "disp2: server add $i"
  i=$((i + 1))
done
gst_prepare
"$PY" "$TOOLS/rtp_pcap.py" /tmp/sara-trunk-rtp.pcap 4 10 || fail "rtp_pcap.py"
for ns in $SERVERS; do
  bg in_ns "$ns" "$PY" "$TOOLS/name_server.py" --name "$ns" --port "$UPORT" --udp --addr "$VIP"
  bg in_ns "$ns" "$PY" "$TOOLS/rtsp_server.py" --addr 0.0.0.0 --port "$RTSP" >"/tmp/soak-rtsp-$ns.log" 2>&1
  bg in_ns "$ns" sipp -sn uas -i "$VIP" -p "$SIP" -mi "$VIP" -mp 6000 -rtp_echo -nostdin -max_socket 200 \
    >"/tmp/soak-uas-$ns.out" 2>&1
done
for ns in $SERVERS; do wait_listen "$ns" "$UPORT" u; wait_listen "$ns" "$RTSP"; wait_listen "$ns" "$SIP" u; done

sara_key
in_ns disp ip addr del "$VIP/32" dev eth0 2>/dev/null
ha_start() {  # N NS ADDR PEER PRIORITY
  ip netns exec "$2" "$SARECTL" ha run --id "$1" --priority "$5" --listen "$3:$HAPORT" --peer "$4:$HAPORT" \
    --vip "$VIP" --dev eth0 --period-ms 100 --misses 10 --status-file "/tmp/soak-ha$1.json" \
    --key-file /tmp/sara.key 2>>"/tmp/soak-ha$1.log" &
  HA_PIDS[$1]=$!
}
ha_is() { [ "$(hstatus "$1" "$2" | jq -r "$3" 2>/dev/null)" = true ]; }
ha_start 1 disp 10.0.0.2 10.0.0.3 200
WAIT_DETAIL='tail -n 20 /tmp/soak-ha1.log' wait_until 60 "disp active" ha_is disp 1 '.daemon.role == "active"'
ha_start 2 disp2 10.0.0.3 10.0.0.2 100
WAIT_DETAIL='tail -n 20 /tmp/soak-ha2.log' wait_until 60 "disp2 a backup in sync" \
  ha_is disp2 2 '.daemon.role == "backup" and .daemon.synced == true'
cat >/tmp/soak-cluster.json <<'JSON'
{"servers": [{"id": 1, "name": "s1", "ip": "10.0.0.11"}, {"id": 2, "name": "s2", "ip": "10.0.0.12"}],
 "heartbeat_ms": 300, "misses": 10, "delta_ms": 500, "dispatcher_load": false,
 "thresholds": {"t1": 960, "t2": 975, "t3": 990, "c": 1000}}
JSON
bg in_ns disp "$SARECTL" manager --listen "$MGR" --config /tmp/soak-cluster.json --status-file /tmp/soak-manager.json \
  --key-file /tmp/sara.key 2>/tmp/soak-manager.log
i=1
for ns in $SERVERS; do
  bg in_ns "$ns" "$SARECTL" agent --manager "$MGR" --id "$i" --delta-ms 500 --heartbeat-ms 300 \
    --key-file /tmp/sara.key 2>"/tmp/soak-agent-$ns.log"
  i=$((i + 1))
done
bg in_ns gw "$SARECTL" gateway --dispatcher "$MGR" --dev eth0 --vip "$VIP" --service "$RTSP/tcp:rtsp" \
  --key-file /tmp/sara.key 2>/tmp/soak-gateway.log
live_up() { [ "$(sarectl server list --json | jq '[.[] | select(.load_known == true and .state == "up")] | length')" = 2 ]; }
WAIT_DETAIL='sarectl server list; tail -n 5 /tmp/soak-manager.log' wait_until 60 "both servers up with a known load" live_up
unset WAIT_DETAIL
step "cluster up: disp active, disp2 backup, manager, 2 agents, gateway, 3 services"

# --- what is measured at start and end --------------------------------------------------------------
mem_kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
# /proc/vmallocinfo names the caller (kvmalloc), not the module: sara.ko's own figure is its gauge.
kib() { echo $(( $1 / 1024 )); }
snapshot() {  # NAME: one JSON object
  jq -n -c --arg name "$1" \
    --argjson slab_r "$(mem_kb SReclaimable)" --argjson slab_u "$(mem_kb SUnreclaim)" \
    --argjson vmalloc "$(mem_kb VmallocUsed)" --argjson sara_table "$(kib "$(c table_bytes)")" \
    --argjson sara_table2 "$(kib "$(c2 table_bytes)")" --argjson sara_code "$(kib "$(cat /sys/module/sara/coresize)")" \
    --argjson flows "$(c flows)" --argjson flows2 "$(c2 flows)" --argjson calls "$(c calls_indexed)" \
    --argjson calls2 "$(c2 calls_indexed)" --argjson capacity "$(c table_capacity)" \
    --argjson sessions "$(c sessions_created)" --argjson calls_opened "$(c calls_opened)" \
    --argjson repl "$(c2 repl_applied)" --argjson announce "$(c announce_received)" \
    '{name: $name, slab_reclaimable_kb: $slab_r, slab_unreclaimable_kb: $slab_u, vmalloc_kb: $vmalloc,
      sara_table_kb: $sara_table, sara_table_backup_kb: $sara_table2, sara_code_kb: $sara_code,
      flows: $flows, flows_backup: $flows2, calls_indexed: $calls,
      calls_indexed_backup: $calls2, table_capacity: $capacity, sessions_created: $sessions,
      calls_opened: $calls_opened, repl_applied_backup: $repl, gateway_reports: $announce}'
}
start=$(snapshot start)
step "start: $start"

# --- the churn ------------------------------------------------------------------------------------
# Each loop runs until /tmp/soak-stop exists and appends what it did to its own log.
sip_loop() {
  local n=0
  while [ ! -e /tmp/soak-stop ]; do
    n=$((n + 1))
    in_ns cl sipp -sf "$TOOLS/sipp-uac-trunk.xml" "$VIP:$SIP" -i 10.0.1.2 -p "$SIP" -t u1 \
      -mi 10.0.1.2 -mp 20000 -m 20 -l 10 -r 5 -d 3000 -nostdin -max_socket 200 >"/tmp/soak-uac.out" 2>&1
    echo "batch $n rc $? ok $(grep -E 'Successful call' /tmp/soak-uac.out | tail -n 1 | awk -F'|' '{print $3}' | tr -d ' ')" \
      "failed $(grep -E 'Failed call' /tmp/soak-uac.out | tail -n 1 | awk -F'|' '{print $3}' | tr -d ' ')" >>/tmp/soak-sip.log
  done
}
# (A GStreamer pipeline per session on the server: under TCG with kmemleak on, a session can take
# minutes to start, so each client gets 300 s, two at a time.)
rtsp_loop() {
  local n=0 pids i
  while [ ! -e /tmp/soak-stop ]; do
    n=$((n + 1)); pids=()
    for i in 1 2; do
      in_ns cl timeout 300 ffmpeg -nostdin -hide_banner -nostats -loglevel warning -rtsp_transport udp \
        -i "rtsp://$VIP:$RTSP/test" -t 8 -f null - >>/tmp/soak-ffmpeg.log 2>&1 &
      pids+=($!)
    done
    ok=0; for i in "${pids[@]}"; do wait "$i" && ok=$((ok + 1)); done
    echo "batch $n ok $ok of 2" >>/tmp/soak-rtsp.log
  done
}
udp_loop() {
  local n=0
  while [ ! -e /tmp/soak-stop ]; do
    n=$((n + 1))
    # Ports 30000-39999, 50 a round, reused after 200 rounds (their old sessions long purged).
    in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port "$UPORT" --sessions 50 --rounds 2 --wait 2 \
      --base-port $(( 30000 + (n % 200) * 50 )) 2>/dev/null | jq -c --argjson n "$n" '{batch: $n, sent, answered}' >>/tmp/soak-udp.log
  done
}
sip_loop & LOOP_PIDS+=($!)
rtsp_loop & LOOP_PIDS+=($!)
udp_loop & LOOP_PIDS+=($!)
end=$(( T0 + MIN * 60 ))
[ "$(date +%s)" -lt "$end" ] || end=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -lt "$end" ]; do
  sleep 60 &
  wait $!
  step "churn: sessions $(( $(c sessions_created) - $(echo "$start" | jq .sessions_created) )), calls $(( $(c calls_opened) - $(echo "$start" | jq .calls_opened) )), flows $(c flows) / backup $(c2 flows), calls indexed $(c calls_indexed), slab unreclaimable $(mem_kb SUnreclaim) kB, roles $(hstatus disp 1 | jq -r .daemon.role)/$(hstatus disp2 2 | jq -r .daemon.role)"
done
touch /tmp/soak-stop
step "churn stopped; waiting for its last batches"
loops_done() { ! any_alive "${LOOP_PIDS[@]}"; }
WAIT_DETAIL='ps -ef | grep -E "sipp|ffmpeg|udp_sessions" | grep -v grep' wait_until 360 "the churn's last batches ended" loops_done
LOOP_PIDS=()

# --- drained? ---------------------------------------------------------------------------------------
# Timeouts of 10 s: a flow is purged 2 x 10 s after its last packet, a signalling flow's linger after.
drained() {
  [ "$(c flows)" -le "$(echo "$start" | jq .flows)" ] && [ "$(c2 flows)" -le "$(echo "$start" | jq .flows_backup)" ] \
    && [ "$(c calls_indexed)" = 0 ] && [ "$(c2 calls_indexed)" = 0 ]
}
WAIT_DETAIL='echo "flows $(c flows) / backup $(c2 flows), calls indexed $(c calls_indexed) / $(c2 calls_indexed)"; sarectl flows | tail -n 10; echo "the backup'"'"'s:"; sarectl2 flows | tail -n 10' \
  wait_until 120 "both tables drained back to their start (flows, Call-ID index)" drained
unset WAIT_DETAIL
finish=$(snapshot end)
step "end: $finish"

# --- report -----------------------------------------------------------------------------------------
sip_ok=$(awk '{s += $6} END {print s + 0}' /tmp/soak-sip.log 2>/dev/null)
sip_failed=$(awk '{s += $8} END {print s + 0}' /tmp/soak-sip.log 2>/dev/null)
rtsp_ok=$(awk '{s += $4} END {print s + 0}' /tmp/soak-rtsp.log 2>/dev/null)
rtsp_all=$(( $(wc -l </tmp/soak-rtsp.log 2>/dev/null || echo 0) * 2 ))
udp_sent=$(jq -s 'map(.sent) | add // 0' /tmp/soak-udp.log 2>/dev/null)
udp_answered=$(jq -s 'map(.answered) | add // 0' /tmp/soak-udp.log 2>/dev/null)
sessions=$(( $(echo "$finish" | jq .sessions_created) - $(echo "$start" | jq .sessions_created) ))
info "soak: $MIN min of churn: $sessions sessions created, SIP calls $sip_ok completed / $sip_failed failed, RTSP clients $rtsp_ok of $rtsp_all completed, UDP datagrams $udp_answered of $udp_sent answered; gateway reports $(( $(echo "$finish" | jq .gateway_reports) - $(echo "$start" | jq .gateway_reports) )), records applied by the backup $(( $(echo "$finish" | jq .repl_applied_backup) - $(echo "$start" | jq .repl_applied_backup) ))"
echo "$start" "$finish" | jq -s -r '
  (["", "start", "end", "change"] | @tsv),
  ((.[0] | keys_unsorted[] | select(. != "name")) as $k
   | [$k, (.[0][$k] | tostring), (.[1][$k] | tostring), ((.[1][$k] - .[0][$k]) | tostring)] | @tsv)' 2>/dev/null | awk -F'\t' '{printf "INFO soak   %-24s %14s %14s %14s\n", $1, $2, $3, $4}' \
  || { echo "INFO soak start $start"; echo "INFO soak end   $finish"; }
info "soak: failover daemons: $(hstatus disp 1 | jq -c '.daemon.totals | {takeovers, stepdowns, batches_lost, resyncs_sent, resyncs_failed}') (disp), $(hstatus disp2 2 | jq -c '.daemon.totals | {takeovers, batches_lost, records_applied, records_failed}') (disp2); replication overruns $(c repl_overruns)"
[ "$sessions" -gt 0 ] || fail "no session was created during the soak: it proved nothing"
[ "$sip_ok" -gt 0 ] && [ "$rtsp_ok" -gt 0 ] && [ "$udp_answered" -gt 0 ] \
  || { tail -n 20 /tmp/soak-ffmpeg.log /tmp/soak-rtsp-s1.log /tmp/soak-uac.out /tmp/soak-gateway.log 2>/dev/null | cut -c1-300
  fail "a kind of traffic never succeeded (SIP calls $sip_ok, RTSP clients $rtsp_ok, UDP answers $udp_answered)"; }

# --- the unload path: everything sara.ko holds is freed ------------------------------------------------
soak_teardown
trap - EXIT
rmmod sara || fail "rmmod sara after the soak"
insmod "$REPO/sara.ko" || fail "insmod sara.ko after the soak"
step "sara.ko unloaded and loaded again; guest.sh checks the kernel log and kmemleak next"
