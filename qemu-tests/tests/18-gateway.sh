# Gateway reports end to end: `sarectl gateway` in the gw namespace reads the servers' RTSP SETUP
# replies (server_port=, which never cross the dispatcher) on a packet socket and reports each
# completed announced flow (msg::announce over UDP) to `sarectl manager` on the dispatcher, which
# completes the wildcard entry in sara.ko (CMD_ANNOUNCE). Real gst-rtsp-server on both servers,
# real ffmpeg clients over RTP/UDP.
#
# The clients sit behind a long WAN (netem delay on the client's link, SARA_GW_WAN_MS, default
# 800 ms one way), as in the paper's topology: else the client is as near as the dispatcher and
# ffmpeg's RTP/RTCP punch packets, sent right after the SETUP reply, race the report (the kernel then
# confirms the flow by its first packet and refuses the report; both are correct, only the report is
# moot). The report's path (gateway capture → manager → CMD_ANNOUNCE) takes 60–130 ms in this VM on
# an idle host and more on a loaded one; a 50 ms WAN lost that race in a CI run (all 8 rejected).
# 800 ms keeps the round trip under TCP's 1 s initial RTO (no SYN retransmissions).
#
# Checks: (a) SARA's flow dump shows the client's UDP flows with "wildcard":"none" and the dport the
# RTSP server chose (server_port= of its reply, read from a capture at the client); every such flow
# was reported by the gateway, nothing else was; (b) announce_completed grew by the completed reports
# (and the manager counted the same); (c) media still reach the session's server (captures at the
# servers, tools/session_check.py). Reports the reply→installation delay: the gateway's capture time
# of the reply (kernel timestamp at the gateway) to the kernel's ack of CMD_ANNOUNCE at the manager,
# one clock (one guest kernel).
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
PORT=554
N=${SARA_GW_CLIENTS:-4}
DUR=${SARA_GW_SECONDS:-6}
WAN_MS=${SARA_GW_WAN_MS:-800}
SVC="$VIP:$PORT/tcp"
MGR=10.0.0.2:7400
T0=$(date +%s)
step() { echo "[+$(( $(date +%s) - T0 )) s] $*"; }

gw_cleanup() {
  in_ns cl tc qdisc del dev eth0 root 2>/dev/null
  cleanup
  sarectl service del "$SVC" >/dev/null 2>&1
  del_servers
}
trap gw_cleanup EXIT

fresh_servers
sarectl service del "$SVC" >/dev/null 2>&1   # left by an earlier test that timed out
sarectl service add "$SVC" --sig rtsp --timeout 30 || fail "service add $SVC --sig rtsp"
gst_prepare
step "GStreamer registry ready"
for ns in $SERVERS; do
  bg in_ns "$ns" "$PY" "$TOOLS/rtsp_server.py" --addr 0.0.0.0 --port "$PORT" >"/tmp/gw-rtsp-$ns.log" 2>&1
done

# The manager on the dispatcher, without agents: a heartbeat period of 10 minutes keeps the servers
# "unknown" (never pushed, so up in the kernel) for the whole test; thresholds that never refuse.
cat >/tmp/gw-cluster.json <<'JSON'
{"servers": [{"id": 1, "name": "s1"}, {"id": 2, "name": "s2"}],
 "heartbeat_ms": 600000, "misses": 3, "delta_ms": 1000, "dispatcher_load": false,
 "thresholds": {"t1": 960, "t2": 975, "t3": 990, "c": 1000}}
JSON
sara_key
bg in_ns disp "$SARECTL" manager --listen "$MGR" --config /tmp/gw-cluster.json \
  --status-file /tmp/gw-manager.json --key-file /tmp/sara.key 2>/tmp/gw-manager.log
bg in_ns gw "$SARECTL" gateway --dispatcher "$MGR" --dev eth0 --vip "$VIP" \
  --service "$PORT/tcp:rtsp" --key-file /tmp/sara.key 2>/tmp/gw-gateway.log
WAIT_DETAIL='cat /tmp/gw-gateway.log /tmp/gw-manager.log'
wait_until 60 "sarectl gateway capturing" grep -q 'capturing on' /tmp/gw-gateway.log
wait_until 60 "sarectl manager listening" grep -q 'listening on' /tmp/gw-manager.log
unset WAIT_DETAIL
for ns in $SERVERS; do wait_listen "$ns" "$PORT"; done
step "RTSP servers, manager and gateway up"

# The WAN: the client's packets take WAN_MS more to reach the gateway.
in_ns cl tc qdisc replace dev eth0 root netem delay "${WAN_MS}ms" || fail "netem on the client's link"
for ns in $SERVERS; do capture_start "gw-$ns" "$ns" "dst host $VIP"; done
# What the client received from the RTSP servers (their SETUP replies): the witness of server_port.
capture_start gw-cl cl "tcp src port $PORT"
completed0=$(counter announce_completed); received0=$(counter announce_received)
rejected0=$(counter announce_rejected)

rm -f /tmp/gw-flows.jsonl
step "captures running; starting $N ffmpeg clients"
clients=()
for i in $(seq "$N"); do
  bg in_ns cl ffmpeg -nostdin -hide_banner -nostats -loglevel info -rtsp_transport udp \
    -i "rtsp://$VIP:$PORT/test" -t "$DUR" -f null - >"/tmp/gw-client-$i.log" 2>&1
  clients+=("${BG_PIDS[-1]}")
done
t0=$(date +%s)
while any_alive "${clients[@]}"; do
  snapshot_flows /tmp/gw-flows.jsonl
  [ $(( $(date +%s) - t0 )) -lt 150 ] || fail "ffmpeg clients still running after 150 s"
  sleep 0.5
done
bad=0
for i in $(seq "$N"); do
  if ! wait "${clients[$((i - 1))]}"; then bad=$((bad + 1)); echo "client $i failed:"; tail -n 5 "/tmp/gw-client-$i.log"
  elif ! grep -qE 'audio:[1-9][0-9]*kB' "/tmp/gw-client-$i.log"; then
    bad=$((bad + 1)); echo "client $i received no audio:"; tail -n 5 "/tmp/gw-client-$i.log"
  fi
done
[ "$bad" = 0 ] || fail "$bad of $N RTSP clients failed or got no media"
info "$N ffmpeg clients (behind a ${WAN_MS} ms WAN) played $DUR s of PCMU over RTP/UDP in $(( $(date +%s) - t0 )) s"
capture_stop
step "clients done, captures stopped"
in_ns cl tc qdisc del dev eth0 root 2>/dev/null

# The replies' Transport headers at the client: "client_port=a-b;server_port=c-d" → flows a→c, b→d.
expected=$(tcpdump -r /tmp/gw-cl.pcap -n -A 2>/dev/null | grep -o 'client_port=[0-9]*-[0-9]*;server_port=[0-9]*-[0-9]*' \
  | sed -E 's/client_port=([0-9]+)-([0-9]+);server_port=([0-9]+)-([0-9]+)/\1 \3\n\2 \4/' | sort -u)
nexp=$(echo "$expected" | grep -c .)
[ "$nexp" = $((2 * N)) ] || fail "the client's capture holds $nexp announced UDP flows in SETUP replies, not $((2 * N)): $expected"

# The gateway's reports: "report seq=S udp 10.0.1.2:A -> 10.0.0.100:C session … captured_us=T sent_us=U".
grep ' report seq=' /tmp/gw-gateway.log >/tmp/gw-reports.txt
reported=$(sed -nE "s/.* report seq=[0-9]+ udp 10\.0\.1\.2:([0-9]+) -> $VIP:([0-9]+) session .*/\1 \2/p" /tmp/gw-reports.txt | sort -u)
[ "$reported" = "$expected" ] || fail "the gateway's reports differ from the SETUP replies on the wire:
reported: $(echo $reported)
replies:  $(echo $expected)
$(tail -n 20 /tmp/gw-gateway.log)"
info "the gateway reported $(wc -l </tmp/gw-reports.txt) identities, exactly the $nexp UDP flows of the $N SETUP replies"

# The delay from the reply (captured at the gateway) to the kernel's ack, per report datagram.
grep 'gateway report seq=' /tmp/gw-manager.log >/tmp/gw-acks.txt
delays=$(sed -nE 's/.* report seq=([0-9]+) .* captured_us=([0-9]+) .*/\1 \2/p' /tmp/gw-reports.txt | sort -k1,1 -u | sort -k1,1 \
  | join - <(sed -nE 's/.*gateway report seq=([0-9]+) .* kernel acked in ([0-9]+) us .*acked_us=([0-9]+)\).*/\1 \3 \2/p' /tmp/gw-acks.txt | sort -k1,1) \
  | awk '{print ($3 - $2) / 1000.0, $4 / 1000.0}' | sort -n)
nd=$(echo "$delays" | grep -c .)
[ "$nd" -ge 1 ] || fail "no report datagram could be matched with the manager's log"
stats() { awk -v c="$1" '{print $c}' | sort -n | awk '{v[NR] = $1} END {printf "median %.1f ms, max %.1f ms", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR]}'; }

# (b) The kernel completed them (the manager's log says per datagram; the counters agree).
completed=$(( $(counter announce_completed) - completed0 ))
received=$(( $(counter announce_received) - received0 ))
rejected=$(( $(counter announce_rejected) - rejected0 ))
m_completed=$(sed -nE 's/.* ([0-9]+) completed, .*/\1/p' /tmp/gw-acks.txt | awk '{s += $1} END {print s + 0}')
m_rejected=$(sed -nE 's/.* ([0-9]+) rejected, .*/\1/p' /tmp/gw-acks.txt | awk '{s += $1} END {print s + 0}')
[ "$received" = "$nexp" ] || fail "announce_received grew by $received, not $nexp: $(cat /tmp/gw-acks.txt)"
[ "$m_completed" = "$completed" ] && [ "$m_rejected" = "$rejected" ] \
  || fail "the manager counted $m_completed completed / $m_rejected rejected, the kernel $completed / $rejected"
[ "$completed" -ge "$N" ] || fail "announce_completed grew by only $completed of $nexp reports (rejected $rejected: the client's first packets came first? reply→installation $(echo "$delays" | stats 1), WAN ${WAN_MS} ms): $(cat /tmp/gw-acks.txt)"
info "sara.ko: announce_received +$received, announce_completed +$completed, announce_rejected +$rejected (manager: $m_completed completed, $m_rejected rejected)"

# (a) SARA's dump: the client's UDP flows with their exact identity, dport = the server's port.
flows=$(jq -s -c "[.[] | select(.src == \"10.0.1.2\" and .dst == \"$VIP\" and .proto == \"udp\")] | unique_by([.session, .sport, .dport, .wildcard])" /tmp/gw-flows.jsonl)
while read -r a c; do
  n=$(echo "$flows" | jq "[.[] | select(.sport == $a and .dport == $c and .wildcard == \"none\")] | length")
  [ "$n" -ge 1 ] || fail "no flow udp 10.0.1.2:$a -> $VIP:$c with wildcard none in SARA's dump: $(echo "$flows" | jq -c "[.[] | select(.sport == $a)]")"
done <<<"$expected"
exact=$(echo "$flows" | jq '[.[] | select(.wildcard == "none" and .dport != 0)] | length')
info "SARA's dump: every one of the $nexp client UDP flows shown with wildcard none and the server's port ($exact exact flow records; identities seen: $(echo "$flows" | jq -c '[.[].identity] | group_by(.) | map({(.[0]): length}) | add'))"

# (c) Media at the servers: every client UDP flow at its session's server.
out=$("$PY" "$TOOLS/session_check.py" --sig rtsp --vip "$VIP" --client 10.0.1.2 --sig-port "$PORT" \
  --flows /tmp/gw-flows.jsonl --server-ids 1=s1,2=s2 s1=/tmp/gw-s1.pcap s2=/tmp/gw-s2.pcap)
rc=$?
[ "$rc" = 0 ] || fail "session affinity broken: $(echo "$out" | jq -c '.errors[:5]')"
[ "$(echo "$out" | jq .sessions_with_media)" = "$N" ] || fail "only $(echo "$out" | jq .sessions_with_media) of $N sessions had client UDP flows at their server"
info "at the servers: $(echo "$out" | jq -c '.servers'); every client UDP flow at its session's server"
info "reply→installation delay over $nd report datagrams: $(echo "$delays" | stats 1) (of which manager→kernel ack: $(echo "$delays" | stats 2)); WAN delay of the clients ${WAN_MS} ms"
