# Dispatcher failover (spec "High availability of the dispatcher"): two dispatchers on the cluster
# segment, disp (10.0.0.2; id 1, priority 200, --preempt) and disp2 (10.0.0.3; id 2, priority 100),
# each with sara.ko configured alike and `sarectl ha run`. The primary's replication batches are
# dropped at 20 % (the daemon's test knob), so the backup must repair its copy by resynchronising.
#
#  1. disp takes the VIP; disp2 follows its sessions: UDP sessions (tools/ha_probe.py: 40 sessions,
#     one datagram each every 500 ms, one fast session every 20 ms), ffmpeg RTSP clients and SIPp calls
#     with RTP, all mid-stream; disp2's table must show the same sessions on the same servers.
#  2. disp is killed (link down, daemon killed): disp2 takes over. Established sessions must continue
#     on their servers (probe answers from the same server; RTSP and SIP finish normally, their
#     packets all at their session's server: tools/session_check.py on the servers' captures);
#     new sessions during and after the takeover are admitted and spread over both servers; the
#     takeover time is the daemon's takeover moment minus the kill, and the fast session's longest
#     silence.
#  3. disp comes back: it must resynchronise before taking the VIP back (preemption), and no datagram
#     is answered twice (two dispatchers forwarding the same packet would make two answers).
#  4. A spurious takeover: disp's daemon is stopped (SIGSTOP) until disp2 takes over from the live
#     disp; new UDP sessions land on disp2; disp's daemon runs again, disp2 (lower priority) steps
#     down and hands those sessions back, disp adopts them: their next datagrams reach the servers
#     disp2 chose (captures at the servers, and the answers), and disp's repl_adopted grew.
# vm-timeout: 900
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
HAPORT=7410
UPORT=9400
RTSP=554
SIP=5060
N_RTSP=${SARA_HA_RTSP:-4}
N_SIP=${SARA_HA_SIP:-3}
MEDIA=${SARA_HA_MEDIA_SECONDS:-60}   # SIP call length; RTSP clients play 30 s more (they start first)
PROBE_N=40
# Failure detection: 5 missed heartbeats of 50 ms (the default is 3). A guest under TCG on a loaded
# host can leave one daemon unscheduled for over 150 ms; the backup then takes over from a live
# primary for a moment, and calls that start then are split. The daemons already ignore their own
# stalls (no takeover on a late tick); the margin covers the primary's alone.
HA_MISSES=${SARA_HA_MISSES:-5}
sarectl2() { in_ns disp2 "$SARECTL" "$@"; }
now_ms() { date +%s%3N; }
ha_json() { cat "/tmp/ha$1.json" 2>/dev/null; }
ha_field() { ha_json "$1" | jq -r "$2" 2>/dev/null; }
# wait_ha N JQ_CONDITION [SECONDS]
wait_ha() {
  local n=$1 cond=$2 t=${3:-30} end
  end=$(( $(date +%s) + t ))
  until [ "$(ha_json "$n" | jq -r "$cond" 2>/dev/null)" = true ]; do
    [ "$(date +%s)" -lt "$end" ] || { tail -n 60 /tmp/ha1.log /tmp/ha2.log; echo "ha1: $(ha_json 1)"; echo "ha2: $(ha_json 2)"; fail "dispatcher $n: not ($cond) after $t s"; }
    sleep 0.05
  done
}
# Live sessions (signalling flows not ended) of a namespace: "src:sport>dst:dport/proto@server" lines.
# Only this test's services count (a session an earlier test left in the table must not make up for
# a missing one).
sessions_of() {
  in_ns "$1" "$SARECTL" --json flows | jq -r --argjson ports "[$UPORT, $RTSP, $SIP]" \
    '.[] | select(.identity == "signalling" and (.ended | not) and (.dport as $p | $ports | index($p)))
    | "\(.src):\(.sport)>\(.dst):\(.dport)/\(.proto)@\(.server)"' | sort
}
HA_PIDS=()
ha_start() {  # N NS ADDR PEER PRIORITY [extra args]
  local n=$1 ns=$2 addr=$3 peer=$4 prio=$5; shift 5
  sara_key
  ip netns exec "$ns" "$SARECTL" ha run --id "$n" --priority "$prio" --listen "$addr:$HAPORT" --peer "$peer:$HAPORT" \
    --vip "$VIP" --dev eth0 --status-file "/tmp/ha$n.json" --key-file /tmp/sara.key --misses "$HA_MISSES" "$@" 2>>"/tmp/ha$n.log" &
  HA_PIDS[$n]=$!
}
ha_teardown() {
  kill -CONT "${HA_PIDS[@]}" 2>/dev/null  # a daemon a failed phase 4 left stopped takes SIGTERM
  stop_pids "${HA_PIDS[@]}"
  HA_PIDS=()
  cleanup
  capture_stop 2>/dev/null
  in_ns disp "$SARECTL" ha role standalone 2>/dev/null
  restore_disp
  for svc in "$VIP:$UPORT/udp" "$VIP:$RTSP/tcp" "$VIP:$SIP/udp"; do sarectl service del "$svc" 2>/dev/null; done
  del_servers
  in_ns disp ping -c1 -W2 10.0.0.1 >/dev/null 2>&1
  true
}
trap ha_teardown EXIT
rm -f /tmp/ha1.json /tmp/ha2.json /tmp/ha1.log /tmp/ha2.log /tmp/ha-stop /tmp/ha-phase

# --- the second dispatcher, and the same configuration on both --------------------------------
disp2_up
fresh_servers
for s in sarectl sarectl2; do
  $s service add "$VIP:$UPORT/udp" --timeout 300 || fail "$s: service add udp"
  $s service add "$VIP:$RTSP/tcp" --sig rtsp --timeout 60 || fail "$s: service add rtsp"
  $s service add "$VIP:$SIP/udp" --sig sip --policy rr --timeout 60 || fail "$s: service add sip"
done
i=1
for ns in $SERVERS; do
  sarectl2 server add "$i" --ip "10.0.0.1$i" --mac "$(mac_of "$ns")" --dev eth0 || fail "disp2: server add $i"
  i=$((i + 1))
done

# --- servers: name servers (UDP), gst-rtsp-server, SIPp UAS with RTP echo; captures ------------
start_servers "$UPORT" --udp
gst_prepare
for ns in $SERVERS; do
  bg in_ns "$ns" "$PY" "$TOOLS/rtsp_server.py" --addr 0.0.0.0 --port "$RTSP" >"/tmp/ha-rtsp-$ns.log" 2>&1
  bg in_ns "$ns" sipp -sn uas -i "$VIP" -p "$SIP" -mi "$VIP" -mp 6000 -rtp_echo -nostdin -max_socket 200 \
    -trace_err -error_file "/tmp/ha-uas-$ns.err" >"/tmp/ha-uas-$ns.out" 2>&1
done
for ns in $SERVERS; do wait_listen "$ns" "$RTSP"; wait_listen "$ns" "$SIP" u; done
ffmpeg -nostdin -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=$MEDIA" \
  -ac 1 -c:a pcm_mulaw /tmp/sara-sipp-tone.wav || fail "ffmpeg cannot make the RTP file"
# Per signalling protocol (session_check reads one protocol's traffic): RTSP's connection and media
# (any UDP but SIP's and the probe's), SIP's signalling and RTP (the UAS's media port 6000).
for ns in $SERVERS; do
  capture_start "ha-rtsp-$ns" "$ns" "dst host $VIP and (tcp port $RTSP or (udp and not dst port $SIP and not dst portrange 6000-6001 and not dst port $UPORT))"
  capture_start "ha-sip-$ns" "$ns" "dst host $VIP and udp and (dst port $SIP or dst portrange 6000-6001)"
done

# Link level, for a failure's diagnosis: the frames the gateway sends towards the VIP (to which MAC)
# and every ARP packet it sees; the SIP and probe frames that reach the primary.
capture_raw ha-link-gw gw "arp or (udp and dst host $VIP and (dst port $SIP or dst port $UPORT))"
capture_raw ha-link-disp disp "udp and dst host $VIP and (dst port $SIP or dst port $UPORT)"
for ns in $SERVERS; do capture_raw "ha-sip-out-$ns" "$ns" "udp and src host $VIP and src port $SIP"; done
# Which MAC the gateway sent client->VIP frames to, second by second, and the ARP it saw.
link_report() {
  echo "MACs: disp $(mac_of disp), disp2 $(mac_of disp2), s1 $(mac_of s1), s2 $(mac_of s2), gw $(mac_of gw)"
  echo "gateway's frames to the VIP (second, destination MAC, port, count):"
  tcpdump -e -n -tt -r /tmp/ha-link-gw.pcap "udp and ether src $(mac_of gw)" 2>/dev/null \
    | awk '{split($1,t,"."); d=$4; sub(/,$/,"",d); n=split($(NF-3),a,"."); print t[1], d, a[n]}' | sed 's/:$//' | uniq -c | tail -n 80
  echo "ARP on the cluster segment:"
  tcpdump -e -n -tt -r /tmp/ha-link-gw.pcap arp 2>/dev/null | tail -n 40
  echo "client->VIP frames that reached the primary: $(tcpdump -n -r /tmp/ha-link-disp.pcap 2>/dev/null | wc -l)"
}

# --- 1. the daemons: disp (priority 200) takes the VIP, disp2 follows --------------------------
in_ns disp ip addr del "$VIP/32" dev eth0 2>/dev/null
ha_start 1 disp 10.0.0.2 10.0.0.3 200 --preempt --drop-percent 20
wait_ha 1 '.role == "active" and .kernel_role == "active"'
ha_start 2 disp2 10.0.0.3 10.0.0.2 100
wait_ha 2 '.role == "backup" and .kernel_role == "backup" and .peer.role == "active"'
in_ns disp ip -4 addr show dev eth0 | grep -q " $VIP/32 " || fail "the VIP is not on the active dispatcher"
in_ns disp2 ip -4 addr show dev eth0 | grep -q " $VIP/32 " && fail "the VIP is on the backup"
info "disp active, disp2 backup: $(in_ns disp "$SARECTL" ha status --status-file /tmp/ha1.json | sed -n 1,2p | tr '\n' ' ')"

media=()
for i in $(seq "$N_RTSP"); do
  bg in_ns cl ffmpeg -nostdin -hide_banner -nostats -loglevel info -rtsp_transport udp \
    -i "rtsp://$VIP:$RTSP/test" -t $((MEDIA + 30)) -f null - >"/tmp/ha-rtsp-client-$i.log" 2>&1
  media+=("${BG_PIDS[-1]}")
done
# RTSP sessions start slowly under TCG (a GStreamer pipeline per session on the server): the SIP
# calls and the probe start once they are all there, so that every session is live at the kill.
end=$(( $(date +%s) + 120 ))
until [ "$(sessions_of disp | grep -c ":$RTSP/tcp@")" -ge "$N_RTSP" ]; do
  [ "$(date +%s)" -lt "$end" ] || { sessions_of disp; tail -n 5 /tmp/ha-rtsp-client-1.log /tmp/ha-rtsp-s1.log; fail "only $(sessions_of disp | grep -c ":$RTSP/tcp@") of $N_RTSP RTSP sessions after 120 s"; }
  sleep 1
done
for i in $(seq "$N_SIP"); do
  bg in_ns cl sipp -sf "$TOOLS/sipp-uac-rtp.xml" "$VIP:$SIP" -i 10.0.1.2 -p $((16060 + i)) \
    -mi 10.0.1.2 -mp $((8000 + 4 * i)) -m 1 -d $((MEDIA * 1000)) -nostdin -max_socket 200 \
    -trace_err -error_file "/tmp/ha-uac-$i.err" >"/tmp/ha-uac-$i.out" 2>&1
  media+=("${BG_PIDS[-1]}")
done
# The probe: one datagram every 500 ms from each session, every 20 ms from the fast one.
echo before >/tmp/ha-phase
bg in_ns cl "$PY" "$TOOLS/ha_probe.py" --vip "$VIP" --port "$UPORT" --sessions "$PROBE_N" --base-port 24000 \
  --interval 500 --fast-interval 20 --stop-file /tmp/ha-stop --phase-file /tmp/ha-phase >/tmp/ha-probe.out
PROBE=${BG_PIDS[-1]}
want=$((PROBE_N + N_RTSP + N_SIP))
end=$(( $(date +%s) + 60 ))
k=0
until [ "$(sessions_of disp | wc -l)" -ge "$want" ]; do
  k=$((k + 1)); [ $((k % 4)) = 0 ] && { echo "$(date +%T) sessions on disp:"; sessions_of disp | sed 's/.*>//' | sort | uniq -c; }
  [ "$(date +%s)" -lt "$end" ] || { sessions_of disp | sed 's/.*>//' | sort | uniq -c; sarectl flows | grep -v ":$UPORT " | head -n 30; sarectl stats | grep -vw 0 | head -n 40; tail -n 20 /tmp/ha1.log
    # Where the missing sessions' packets went: the backup's drops, the gateway's neighbour entry.
    echo "disp2 dropped_backup $(in_ns disp2 cat /sys/kernel/sara/dropped_backup); gw: $(in_ns gw ip neigh show "$VIP")"
    # Where a missing SIP call stopped: the INVITEs each server received, who listens on 5060 there.
    for ns in $SERVERS; do echo "$ns: $(tcpdump -n -r "/tmp/ha-sip-$ns.pcap" 2>/dev/null | grep -c INVITE) INVITE packets captured; UDP 5060 bound by: $(in_ns "$ns" ss -lnup | grep ":$SIP " | tr -s ' ' | cut -c1-200)"; done
    for i in $(seq "$N_SIP"); do echo "SIP call $i: $(grep -E "Successful call|Failed call" "/tmp/ha-uac-$i.out" | tr -s ' ' | tr '\n' ' ')"; tail -n 3 "/tmp/ha-uac-$i.err" 2>/dev/null; echo
      sip_failed_call_trace "/tmp/ha-uac-$i.err" ha-sip
    done
    tail -n 5 /tmp/ha-rtsp-client-1.log /tmp/ha-rtsp-s1.log /tmp/ha-uas-s1.out /tmp/ha-uas-s2.out 2>/dev/null
    tail -n 30 /tmp/ha2.log; capture_stop; link_report
    fail "only $(sessions_of disp | wc -l) of $want sessions on the primary after 60 s"; }
  sleep 0.5
done
# The drop injection must have cost the backup batches (detected as lost) and resynchronisations.
# Established sessions make few replication events, so how many batches the 20 % drop hit varies:
# new short sessions make more batches until it has (at most 10 rounds of 10).
k=0
until [ "$(ha_field 2 .totals.batches_lost)" -gt 0 ] && [ "$(ha_field 1 .totals.resyncs_sent)" -gt 1 ]; do
  k=$((k + 1))
  [ "$k" -le 10 ] || fail "the drop injection did not exercise resynchronisation after 10 rounds of new sessions: dropped $(ha_field 1 .totals.dropped_for_test), lost $(ha_field 2 .totals.batches_lost), resyncs $(ha_field 1 .totals.resyncs_sent)"
  in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port "$UPORT" --sessions 10 --wait 3 --retries 2 --base-port $((26000 + 100 * k)) >/dev/null
done
# The backup's copy: the same sessions on the same servers, in sync despite the dropped batches.
end=$(( $(date +%s) + 60 ))
until [ "$(ha_field 2 .synced)" = true ] && [ "$(sessions_of disp)" = "$(sessions_of disp2)" ]; do
  [ "$(date +%s)" -lt "$end" ] || { diff <(sessions_of disp) <(sessions_of disp2) | head; echo "$(ha_json 2)"; fail "the backup's sessions differ from the primary's after 60 s"; }
  sleep 0.5
done
lost=$(ha_field 2 .totals.batches_lost); resyncs=$(ha_field 1 .totals.resyncs_sent); dropped=$(ha_field 1 .totals.dropped_for_test)
[ "$dropped" -gt 0 ] && [ "$lost" -gt 0 ] && [ "$resyncs" -gt 1 ] \
  || fail "the drop injection did not exercise resynchronisation: dropped $dropped, lost $lost, resyncs $resyncs"
n_sess=$(sessions_of disp | wc -l)
info "backup in sync: $n_sess sessions on the same servers as the primary; $dropped replication batches dropped on purpose, $lost detected lost, $resyncs resynchronisations"
in_ns disp2 "$SARECTL" ha status --status-file /tmp/ha2.json
sleep 3

# --- 2. kill the primary mid-stream ------------------------------------------------------------
# Takeovers by the backup before the kill (from a live primary: its heartbeats came late), and the
# daemons' own stalls; named in a verdict's reason when one fails.
early=$(ha_field 2 .totals.takeovers)
stalls="disp2 took over $early times from the live primary before the kill; late ticks (a daemon not run for over 2 heartbeats): disp $(ha_field 1 .totals.late_ticks), disp2 $(ha_field 2 .totals.late_ticks)"
info "$stalls"
echo after >/tmp/ha-phase
t_kill=$(now_ms)
in_ns disp ip link set eth0 down
kill -9 "${HA_PIDS[1]}"; wait "${HA_PIDS[1]}" 2>/dev/null; unset 'HA_PIDS[1]'
# New sessions while the backup takes over, and after.
during=$(in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port "$UPORT" --sessions 20 --wait 4 --retries 4 --base-port 25000)
wait_ha 2 '.role == "active" and .kernel_role == "active"' 10
t_take=$(ha_field 2 .last_takeover.at_unix_ms)
takeover_ms=$((t_take - t_kill))
# What the backup saw: the time from the primary's last heartbeat to its takeover.
detect_ms=$(ha_field 2 .last_takeover.reason | sed -n 's/.* for \([0-9]*\) ms.*/\1/p')
after=$(in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port "$UPORT" --sessions 20 --wait 3 --base-port 25100)
[ "$(json_get "$during" .answered)" = 20 ] || fail "new sessions during the takeover: $during"
[ "$(json_get "$after" .answered)" = 20 ] && [ "$(json_get "$after" '.servers.s1 // 0')" -gt 0 ] && [ "$(json_get "$after" '.servers.s2 // 0')" -gt 0 ] \
  || fail "new sessions after the takeover should be admitted and spread over both servers: $after"
info "takeover by disp2 $detect_ms ms after the primary's last heartbeat, $takeover_ms ms after the kill command began ($(ha_field 2 .last_takeover.reason)); new sessions during it $(echo "$during" | jq -c .servers), after it $(echo "$after" | jq -c .servers)"
in_ns disp2 "$SARECTL" ha status --status-file /tmp/ha2.json

# The media sessions finish on the new active.
t0=$(date +%s)
while any_alive "${media[@]}"; do
  [ $(( $(date +%s) - t0 )) -lt 200 ] || fail "media clients still running 200 s after the takeover"
  sleep 1
done
bad=0
for i in $(seq "$N_RTSP"); do
  if ! wait "${media[$((i - 1))]}" || ! grep -qE 'audio:[1-9][0-9]*kB' "/tmp/ha-rtsp-client-$i.log"; then
    bad=$((bad + 1)); echo "RTSP client $i:"; tail -n 5 "/tmp/ha-rtsp-client-$i.log"
  fi
done
for i in $(seq "$N_SIP"); do
  if ! wait "${media[$((N_RTSP + i - 1))]}"; then
    bad=$((bad + 1)); echo "SIP call $i:"; grep -E 'Successful call|Failed call' "/tmp/ha-uac-$i.out" | tail -n 2; tail -n 5 "/tmp/ha-uac-$i.err" 2>/dev/null
  fi
done

# --- 3. the old primary returns: resync, then it takes the VIP back -----------------------------
echo return >/tmp/ha-phase
# As after a reboot: sara.ko not forwarding and no VIP before the link comes back (the killed daemon
# left both as they were; the daemon would reset them too, but only once it runs).
# What the returning primary must get back: the sessions of the active backup now.
n_back=$(sessions_of disp2 | wc -l)
in_ns disp "$SARECTL" ha role backup
in_ns disp ip addr del "$VIP/32" dev eth0 2>/dev/null
in_ns disp ip link set eth0 up
in_ns disp ip route replace default via 10.0.0.1
t_back=$(now_ms)
ha_start 1 disp 10.0.0.2 10.0.0.3 200 --preempt
# Both kernels' roles, every 20 ms, until the handover is over: never both active.
both=0
end=$(( $(date +%s) + 40 ))
while :; do
  r1=$(in_ns disp "$SARECTL" --json ha status --status-file /tmp/ha1.json 2>/dev/null | jq -r .kernel_role)
  r2=$(in_ns disp2 "$SARECTL" --json ha status --status-file /tmp/ha2.json 2>/dev/null | jq -r .kernel_role)
  [ "$r1" = active ] && [ "$r2" = active ] && both=$((both + 1))
  [ "$r1" = active ] && [ "$r2" = backup ] && break
  [ "$(date +%s)" -lt "$end" ] || { tail -n 20 /tmp/ha1.log; fail "the returning primary did not take the VIP back in 40 s (roles $r1/$r2)"; }
  sleep 0.02
done
wait_ha 1 '.role == "active"' 10
wait_ha 2 '.role == "backup"' 10
back_ms=$(( $(ha_field 1 .last_takeover.at_unix_ms) - t_back ))
applied=$(ha_field 1 .totals.records_applied)
if [ "$applied" -lt "$n_back" ]; then
  # Why: the resynchronisations the returning primary saw, both daemons' counters, the tables.
  echo "returning primary (disp):"; in_ns disp "$SARECTL" ha status --status-file /tmp/ha1.json
  grep -E "sync|resync|records|epoch" /tmp/ha1.log | tail -n 20
  echo "backup (disp2):"; in_ns disp2 "$SARECTL" ha status --status-file /tmp/ha2.json
  grep -E "sync|resync|records|epoch|dumping" /tmp/ha2.log | tail -n 20
  echo "sessions now: disp $(sessions_of disp | wc -l), disp2 $(sessions_of disp2 | wc -l)"
  fail "the returning primary took the VIP back after installing only $applied records (disp2 held $n_back sessions before it returned; $n_sess at the kill): not resynchronised"
fi
sleep 3
echo stop >/tmp/ha-phase; sleep 1; touch /tmp/ha-stop
wait "$PROBE" 2>/dev/null
capture_stop
probe=$(cat /tmp/ha-probe.out)
echo "$probe" | jq -c '{sent, answered, duplicates, continued, moved, silent, gap_ms, phases}'
gap_after=$(echo "$probe" | jq '.gap_ms_by_phase.after // "none"'); gap_return=$(echo "$probe" | jq '.gap_ms_by_phase.return // "none"')
echo "dropped_backup: disp $(in_ns disp cat /sys/kernel/sara/dropped_backup), disp2 $(in_ns disp2 cat /sys/kernel/sara/dropped_backup); gw: $(in_ns gw ip neigh show "$VIP")"
grep -v "^$" /tmp/ha1.log | tail -n 15; grep -v "^$" /tmp/ha2.log | tail -n 15
in_ns disp "$SARECTL" ha status --status-file /tmp/ha1.json

# --- verdicts ----------------------------------------------------------------------------------
[ "$bad" = 0 ] || fail "$bad of $((N_RTSP + N_SIP)) RTSP/SIP sessions did not finish normally across the takeover"
for sig in rtsp sip; do
  port=$RTSP; [ $sig = sip ] && port=$SIP
  out=$("$PY" "$TOOLS/session_check.py" --sig $sig --vip "$VIP" --client 10.0.1.2 --sig-port "$port" \
    s1=/tmp/ha-$sig-s1.pcap s2=/tmp/ha-$sig-s2.pcap)
  [ $? = 0 ] || fail "$sig session affinity broken across the failover: $(echo "$out" | jq -c '.errors[:5]') ($stalls)"
  want_s=$N_RTSP; [ $sig = sip ] && want_s=$N_SIP
  [ "$(echo "$out" | jq .sessions_with_media)" = "$want_s" ] || fail "$sig: $(echo "$out" | jq .sessions_with_media) of $want_s sessions with media at their server"
  info "$sig: $want_s sessions, every packet (before, during and after both changes) at its session's server: $(echo "$out" | jq -c .servers)"
done
cont=$(echo "$probe" | jq .continued)
moved=$(echo "$probe" | jq '.moved | length'); silent=$(echo "$probe" | jq '.silent | length')
dups=$(echo "$probe" | jq .duplicates); gap=$(echo "$probe" | jq .gap_ms)
established=$((PROBE_N + N_RTSP + N_SIP)); kept=$((cont + N_RTSP + N_SIP - bad))
[ "$dups" = 0 ] || fail "$dups datagrams were answered twice: two dispatchers forwarded the same packet"
[ "$both" = 0 ] || fail "both kernels were active at once in $both samples"
[ $((kept * 100)) -ge $((established * 99)) ] || fail "only $kept of $established established sessions continued on their server (moved: $(echo "$probe" | jq -c .moved), silent: $(echo "$probe" | jq -c .silent))"
info "sessions continued on their server: $kept of $established ($(( kept * 1000 / established / 10 )).$(( kept * 1000 / established % 10 )) %; probe: $cont of $PROBE_N through takeover and handback, RTSP $N_RTSP, SIP $N_SIP); lost $((established - kept))"
info "takeover: $detect_ms ms from the primary's last heartbeat ($HA_MISSES missed heartbeats of 50 ms), $takeover_ms ms from the kill command; clients' longest silence (20 ms session): $gap_after ms across the takeover, $gap_return ms across the handback (resync, then preemption, $back_ms ms after the primary's daemon started); duplicates $dups"

# --- 4. a spurious takeover: disp's daemon not run for longer than misses x period ---------------
# disp stays active in its kernel and holds the VIP, but sends no heartbeat: disp2 takes over and
# announces the VIP, so the gateway sends new sessions to disp2, which picks their servers (its own
# flow-table secret: the hash policy puts about half of them on another server than disp would).
# When disp's daemon runs again, disp2 (priority 100) hears an active disp (200), steps down and
# hands back the sessions it opened; disp adopts them, so their next datagrams keep their servers.
HB_N=12
# Ports no earlier phase used, and no earlier run of this test in the same boot (`run.sh --repeat`):
# a reused port would meet its old session, which the tables keep — a takeover restarts every
# replicated flow's idle time, so the last run's handed-back sessions were still on disp.
runs=$(cat /tmp/ha-hb-runs 2>/dev/null || echo 0); echo $((runs + 1)) >/tmp/ha-hb-runs
HB_BASE=$((28000 + 16 * (runs % 60)))
gw_mac() { in_ns gw ip neigh show "$VIP" | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2; }
gw_on() { [ "$(gw_mac)" = "$(mac_of "$1")" ]; }
# This phase's sessions in namespace $1's table ("src:sport>dst:dport/proto@server" lines).
hb_sessions() { sessions_of "$1" | awk -F'[:>]' -v lo="$HB_BASE" -v hi=$((HB_BASE + HB_N - 1)) '$2 >= lo && $2 <= hi'; }
# Datagrams of this phase captured at server $1, per client port: "port count" lines.
hb_ports_at() { tcpdump -n -r "/tmp/ha-hb-$1.pcap" 2>/dev/null | awk '{n = split($3, a, "."); c[a[n]]++} END {for (p in c) print p, c[p]}' | sort; }
hb_why() { tail -n 20 /tmp/ha1.log /tmp/ha2.log; echo "ha1: $(ha_json 1)"; echo "ha2: $(ha_json 2)"; echo "gw: $(in_ns gw ip neigh show "$VIP")"; }
wait_ha 2 '.role == "backup" and .synced == true and .peer.role == "active"' 30
adopted0=$(counter repl_adopted)
for ns in $SERVERS; do
  capture_start "ha-hb-$ns" "$ns" "udp and dst host $VIP and dst port $UPORT and src portrange $HB_BASE-$((HB_BASE + HB_N - 1))"
done
rm -f /tmp/ha-hb-step /tmp/ha-hb.out
kill -STOP "${HA_PIDS[1]}"
wait_ha 2 '.role == "active" and .kernel_role == "active"' 20
WAIT_DETAIL=hb_why wait_until 20 "the gateway's entry for the VIP on disp2 after its takeover" gw_on disp2
bg in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port "$UPORT" --sessions "$HB_N" --rounds 2 \
  --step-file /tmp/ha-hb-step --wait 3 --retries 2 --base-port "$HB_BASE" --by-session >/tmp/ha-hb.out
wait_lines /tmp/ha-hb.out 1 60
r1=$(sed -n 1p /tmp/ha-hb.out)
[ "$(json_get "$r1" .answered)" = "$HB_N" ] || { hb_why; fail "phase 4: new sessions through disp2: $r1"; }
on_disp2=$(hb_sessions disp2)
[ "$(echo "$on_disp2" | grep -c .)" = "$HB_N" ] && [ -z "$(hb_sessions disp)" ] \
  || { hb_why; fail "phase 4: the new sessions should be on disp2 only: disp2 [$on_disp2], disp [$(hb_sessions disp)]"; }
kill -CONT "${HA_PIDS[1]}"
wait_ha 2 '.role == "backup" and .kernel_role == "backup"' 20
wait_ha 1 '.role == "active" and .kernel_role == "active"' 20
hb_adopted() { [ "$(hb_sessions disp)" = "$on_disp2" ]; }
WAIT_DETAIL='hb_why; echo "disp: $(hb_sessions disp | tr "\n" " ")"' \
  wait_until 20 "disp holding disp2's sessions on the servers disp2 chose (adopted)" hb_adopted
WAIT_DETAIL=hb_why wait_until 20 "the gateway's entry for the VIP back on disp" gw_on disp
adopted=$(( $(counter repl_adopted) - adopted0 ))
[ "$adopted" -ge "$HB_N" ] || { hb_why; fail "phase 4: disp's repl_adopted grew by $adopted, not by the $HB_N sessions"; }
echo 2 >/tmp/ha-hb-step
wait_lines /tmp/ha-hb.out 2 60
r2=$(sed -n 2p /tmp/ha-hb.out)
capture_stop
for ns in $SERVERS; do hb_ports_at "$ns" | sed "s/\$/ $ns/"; done >/tmp/ha-hb-ports
moved=$(awk '{seen[$1]++} END {for (p in seen) if (seen[p] > 1) print p}' /tmp/ha-hb-ports | sort | tr '\n' ' ')
[ "$(json_get "$r2" .answered)" = "$HB_N" ] || { hb_why; fail "phase 4: after the handback: $r2"; }
[ -z "$moved" ] && [ "$(jq -n --argjson a "$r1" --argjson b "$r2" '$a.by_session == $b.by_session')" = true ] \
  || { cat /tmp/ha-hb-ports; hb_why; fail "phase 4: sessions opened on disp2 changed server after it handed them back (client ports at both servers: ${moved:-none}; answers before $(echo "$r1" | jq -c .by_session), after $(echo "$r2" | jq -c .by_session))"; }
[ "$(awk '$2 >= 2' /tmp/ha-hb-ports | wc -l)" = "$HB_N" ] \
  || { cat /tmp/ha-hb-ports; fail "phase 4: not every session's two rounds were captured at its server"; }
info "spurious takeover: disp2 took over from the stopped disp ($(ha_field 2 .last_takeover.reason)), $HB_N new sessions there $(echo "$r1" | jq -c .servers); handed back ($(ha_field 2 .totals.handback_sessions_sent) sessions), disp adopted $adopted records; every session's later datagrams at the same server $(echo "$r2" | jq -c .servers)"
