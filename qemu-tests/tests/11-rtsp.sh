# RTSP sessions with real tools: gst-rtsp-server (tools/rtsp_server.py) on both servers, 20 ffmpeg
# clients at once over RTP/UDP. Each session's client UDP flows (ffmpeg's RTP and RTCP punch packets,
# RTCP receiver reports, from the SETUP's client_port=a-b) must reach the server that has its RTSP
# connection: checked at the servers (tcpdump on their interfaces, tools/session_check.py), and in
# SARA's flow dump (signalling + secondary flows per session, on one server, the one the captures saw).
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
PORT=554
N=${SARA_RTSP_CLIENTS:-20}
DUR=${SARA_RTSP_SECONDS:-15}   # seconds of media each client plays (ffmpeg -t)
SVC="$VIP:$PORT/tcp"

fresh_servers
sarectl service add "$SVC" --sig rtsp --timeout 30 || fail "service add $SVC --sig rtsp"
echo "$(date +%T) building the GStreamer registry"
gst_prepare
echo "$(date +%T) starting the RTSP servers"
for ns in $SERVERS; do
  bg in_ns "$ns" "$PY" "$TOOLS/rtsp_server.py" --addr 0.0.0.0 --port "$PORT" >"/tmp/rtsp-$ns.log" 2>&1
done
for ns in $SERVERS; do wait_listen "$ns" "$PORT"; done
echo "$(date +%T) RTSP servers listening"
for ns in $SERVERS; do capture_start "rtsp-$ns" "$ns" "dst host $VIP"; done
created0=$(counter sessions_created); ended0=$(counter sessions_ended)
announcing0=$(counter dpi_announcing)

# N clients at once, each its own RTSP connection (its own session), RTP/UDP only (no fallback to TCP).
rm -f /tmp/rtsp-flows.jsonl /tmp/rtsp-flows.jsonl.err
clients=()
for i in $(seq "$N"); do
  bg in_ns cl ffmpeg -nostdin -hide_banner -nostats -loglevel info -rtsp_transport udp \
    -i "rtsp://$VIP:$PORT/test" -t "$DUR" -f null - >"/tmp/rtsp-client-$i.log" 2>&1
  clients+=("${BG_PIDS[-1]}")
done
echo "$(date +%T) $N clients started"
# SARA's table while they play (sessions end with TEARDOWN, so look during the run).
t0=$(date +%s)
while any_alive "${clients[@]}"; do
  snapshot_flows /tmp/rtsp-flows.jsonl
  [ $(( $(date +%s) - t0 )) -lt 200 ] || fail "ffmpeg clients still running after 200 s"
  sleep 1
done
bad=0
for i in $(seq "$N"); do
  if ! wait "${clients[$((i - 1))]}"; then bad=$((bad + 1)); echo "client $i failed:"; tail -n 5 "/tmp/rtsp-client-$i.log"
  elif ! grep -qE 'audio:[1-9][0-9]*kB' "/tmp/rtsp-client-$i.log"; then
    bad=$((bad + 1)); echo "client $i received no audio:"; tail -n 5 "/tmp/rtsp-client-$i.log"
  fi
done
[ "$bad" = 0 ] || { tail -n 5 /tmp/rtsp-s1.log /tmp/rtsp-s2.log; fail "$bad of $N RTSP clients failed or got no media"; }
info "$N ffmpeg clients played $DUR s of PCMU over RTP/UDP in $(( $(date +%s) - t0 )) s"
capture_stop

# At the servers: every client UDP flow reached the server of its RTSP connection.
out=$("$PY" "$TOOLS/session_check.py" --sig rtsp --vip "$VIP" --client 10.0.1.2 --sig-port "$PORT" \
  --flows /tmp/rtsp-flows.jsonl --server-ids 1=s1,2=s2 s1=/tmp/rtsp-s1.pcap s2=/tmp/rtsp-s2.pcap)
rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "session affinity broken: $(echo "$out" | jq -c '.errors[:5]')"
[ "$(echo "$out" | jq .sessions)" = "$N" ] || fail "the servers saw $(echo "$out" | jq .sessions) RTSP sessions with a SETUP, not $N"
[ "$(echo "$out" | jq .sessions_with_media)" = "$N" ] || fail "only $(echo "$out" | jq .sessions_with_media) of $N sessions had client UDP flows at their server"
for ns in $SERVERS; do
  [ "$(echo "$out" | jq ".servers.$ns.sessions")" -gt 0 ] || fail "server $ns got no RTSP session: $(echo "$out" | jq -c .servers)"
done
info "at the servers: $(echo "$out" | jq -c '.servers'); every client UDP flow at its session's server"

# SARA's view: per session one TCP signalling flow and client UDP secondary flows, all on one server.
flows=$(jq -s -c "[.[] | select(.dst == \"$VIP\" and .src == \"10.0.1.2\")] | unique_by([.session, .proto, .sport, .dport])" /tmp/rtsp-flows.jsonl)
sess=$(echo "$flows" | jq -c "[group_by(.session)[] | select(any(.[]; .identity == \"signalling\" and .proto == \"tcp\" and .dport == $PORT))
  | {session: .[0].session, servers: ([.[].server] | unique), sig: ([.[] | select(.identity == \"signalling\")] | length),
     secondary: ([.[] | select(.identity == \"secondary\" and .proto == \"udp\")] | length)}]")
[ "$(echo "$sess" | jq length)" -ge "$N" ] || fail "SARA's dump shows $(echo "$sess" | jq length) RTSP sessions, not $N: $sess"
[ "$(echo "$sess" | jq '[.[] | select(.secondary >= 1)] | length')" -ge "$N" ] \
  || { nosec=$(echo "$sess" | jq -c '[.[] | select(.secondary == 0) | .session]')
    echo "every flow of those sessions in the snapshots (first and last snapshot time):"
    jq -s -c --argjson ids "$nosec" '[.[] | select(.session as $s | $ids | index($s))] | group_by([.src, .sport, .dst, .dport, .proto, .identity])[]
      | .[0] + {first: (map(.snap) | min), last: (map(.snap) | max), snaps: length} | del(.snap)' /tmp/rtsp-flows.jsonl | head -n 20
    echo "snapshots: $(jq -s '[.[].snap] | unique | length' /tmp/rtsp-flows.jsonl); the dumps' warnings and errors: $(sort /tmp/rtsp-flows.jsonl.err 2>/dev/null | uniq -c | head -n 5)"
    fail "SARA's dump: sessions without a secondary UDP flow: $(echo "$sess" | jq -c '[.[] | select(.secondary == 0)]')"; }
[ "$(echo "$sess" | jq '[.[] | select((.servers | length) != 1 or .sig != 1)] | length')" = 0 ] \
  || fail "SARA's dump: sessions split over servers or with several signalling flows: $(echo "$sess" | jq -c '[.[] | select((.servers | length) != 1 or .sig != 1)]')"
[ "$(echo "$sess" | jq '[.[].servers[0]] | unique | length')" = 2 ] || fail "SARA's dump: all sessions on one server"
[ "$(echo "$out" | jq .dump.checked)" -ge "$((2 * N))" ] || fail "too few flows of SARA's dump matched the captures: $(echo "$out" | jq -c .dump)"
info "SARA's dump: $(echo "$sess" | jq length) sessions, $(echo "$sess" | jq '[.[].secondary] | add') secondary UDP flows, per server $(echo "$sess" | jq -c 'group_by(.servers[0]) | map({server: .[0].servers[0], sessions: length})'); $(echo "$out" | jq .dump.checked) flows compared with the captures: all agree"

conc=$(jq -s "[.[] | select(.dport == $PORT and .identity == \"signalling\" and .ended == false)] | group_by(.snap) | map(length) | max // 0" /tmp/rtsp-flows.jsonl)
info "SARA's dump: up to $conc RTSP sessions at once"

# Counters, and TEARDOWN ended every session.
created=$(( $(counter sessions_created) - created0 )); announcing=$(( $(counter dpi_announcing) - announcing0 ))
[ "$created" -ge "$N" ] || fail "sessions_created grew by $created, not $N"
[ "$announcing" -ge "$N" ] || fail "dpi_announcing grew by $announcing for $N SETUPs"
live_of() { sarectl sessions --json | jq "[.[] | select(.service == \"$SVC\" and .ended == false)] | length"; }
none_live() { [ "$(live_of)" = 0 ]; }
WAIT_DETAIL='sarectl sessions --json | jq -c "[.[] | select(.service == \"$SVC\" and .ended == false)][:3]"'
wait_until 60 "no RTSP session live after every client's TEARDOWN" none_live
unset WAIT_DETAIL
ended=$(( $(counter sessions_ended) - ended0 ))
[ "$ended" -ge "$N" ] || fail "sessions_ended grew by $ended after $N TEARDOWNs"
info "counters: sessions_created +$created, sessions_ended +$ended, dpi_announcing +$announcing, dpi_session_end $(counter dpi_session_end), flows_announced $(counter flows_announced), flows_secondary $(counter flows_secondary)"

cleanup
drop_config "$SVC"
