# A SIP trunk (issue #14): ONE SIPp UAC in single-socket mode (`-t u1`: every call from 10.0.1.2:5060)
# places N concurrent calls, each with RTP from a media port of its own (tools/sipp-uac-trunk.xml),
# to SIPp UASs on both servers through the VIP. SARA must balance the trunk call by call: each
# server gets 35–65 % of the calls; every call's INVITE, ACK, BYE and RTP reach one and the same
# server (captures at the servers, tools/trunk_check.py); SIPp reports 0 failed calls; the calls
# start over N/RATE s and each lasts HOLD s, so the first BYE comes while the other calls still
# send RTP, and their media must keep reaching their servers after it.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
PORT=5060
N=${SARA_TRUNK_CALLS:-50}    # calls, all concurrent (-l N)
RATE=${SARA_TRUNK_RATE:-10}  # new calls a second
# Seconds each call lasts (RTP for all of it, 10 packets a second). Long enough that the first call
# is still live when the --call-id check below has found it in the captures on a loaded host (at
# 15 s it once ended first, and an ended call is not listed).
HOLD=${SARA_TRUNK_HOLD:-30}
SVC="$VIP:$PORT/udp"

fresh_servers
sarectl service add "$SVC" --sig sip --policy rr --timeout 30 || fail "service add $SVC --sig sip"
"$PY" "$TOOLS/rtp_pcap.py" /tmp/sara-trunk-rtp.pcap $((HOLD + 5)) 10 || fail "rtp_pcap.py"
for ns in $SERVERS; do
  bg in_ns "$ns" sipp -sn uas -i "$VIP" -p "$PORT" -mi "$VIP" -mp 6000 -rtp_echo -nostdin -max_socket 200 \
    -trace_err -error_file "/tmp/trunk-uas-$ns.err" >"/tmp/trunk-uas-$ns.out" 2>&1
done
for ns in $SERVERS; do wait_listen "$ns" "$PORT" u; done
for ns in $SERVERS; do capture_start "trunk-$ns" "$ns" "udp and dst host $VIP"; done
c0() { counter "$1"; }
opened0=$(c0 calls_opened); ended0=$(c0 calls_ended); by0=$(c0 sip_by_call_id); unk0=$(c0 sip_unknown_call_id)
full0=$(c0 call_index_full); fb0=$(( $(c0 sip_fallback_not_sip) + $(c0 sip_fallback_no_call_id) + $(c0 sip_fallback_call_id_too_long) ))
indexed0=$(c0 calls_indexed)

bg in_ns cl sipp -sf "$TOOLS/sipp-uac-trunk.xml" "$VIP:$PORT" -i 10.0.1.2 -p "$PORT" -t u1 \
  -mi 10.0.1.2 -mp 20000 -m "$N" -l "$N" -r "$RATE" -d $((HOLD * 1000)) -nostdin -max_socket 200 \
  -trace_err -error_file /tmp/trunk-uac.err >/tmp/trunk-uac.out 2>&1
uac=${BG_PIDS[-1]}
t_calls=$(date +%s)
# SARA's view while the calls last: one live session per call (the highest count seen), sampled from
# the trunk's start to its end, beside the --call-id checks below (on a loaded host those checks
# took until the calls were ending: a sampler started after them saw none live).
live_of() { sarectl sessions --json 2>/dev/null | jq "[.[] | select(.service == \"$SVC\" and .ended == false)] | length"; }
: >/tmp/trunk-live.txt
( while any_alive "$uac"; do echo "$(live_of)" >>/tmp/trunk-live.txt; sleep 0.5; done ) &
sampler=$!
BG_PIDS+=("$sampler")
# Operators see calls: the whole Call-ID of an INVITE a server's capture got finds exactly that
# call's session, on that server, with `sarectl sessions --call-id` (the trunk's first call, which
# holds the socket's own record, and the latest INVITE's call, one with a `sip-call` record of its
# own); the text shows its Call-ID shortened. Checked while the calls are live.
invites() { # "first NS CALL-ID" and "last NS CALL-ID" (another call's) of the INVITEs captured so far, once 3 are
  "$PY" - "$TOOLS" "$PORT" $(for ns in $SERVERS; do echo "$ns=/tmp/trunk-$ns.pcap"; done) <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
from session_check import packets, sip_ports
seen = []
for arg in sys.argv[3:]:
    ns, path = arg.split('=', 1)
    for t, proto, _s, _sp, _d, dp, _f, pl in packets(path):
        if proto == 17 and dp == int(sys.argv[2]) and pl.startswith(b'INVITE '):
            cid, _ = sip_ports(pl)
            if cid:
                seen.append((t, ns, cid))
seen.sort()
later = [x for x in seen if x[2] != seen[0][2]] if len(seen) >= 3 else []
if later:
    print('first', *seen[0][1:])
    print('last', *later[-1][1:])
PYEOF
}
got_invites() { probes=$(invites) && [ -n "$probes" ]; }
wait_until 60 "3 INVITEs of the trunk in the servers' captures" got_invites
text=$(sarectl sessions) || fail "sarectl sessions failed"
while read -r which ns id; do
  len=${#id}; short=$id; cell=$id                        # as sarectl shows it: whole up to 14 bytes,
  [ "$len" -le 14 ] || { short="${id:0:8}…${id: -6}"; cell="$short ($len)"; }  # else its edges
  js=$(sarectl sessions --call-id "$id" --json) || fail "sarectl sessions --call-id $id failed"
  [ "$(echo "$js" | jq length)" = 1 ] \
    || fail "sarectl sessions --call-id $id ($which INVITE, at $ns, $(( $(date +%s) - t_calls )) s after the trunk started): $(echo "$js" | jq length) sessions, not 1: $(echo "$js" | jq -c .); the call's messages at the servers so far:$(sip_call_trace "$id" trunk | tr '\n' ' '); sessions: $(sarectl sessions | head -n 8 | tr '\n' '|')"
  [ "$(echo "$js" | jq -r '.[0] | "\(.server) \(.call_id_short) \(.call_id_len) \(.service)"')" = "${ns#s} $short $len $SVC" ] \
    || fail "call $id ($which INVITE) got by $ns (server ${ns#s}, shown as $short, $len bytes): sarectl sessions --call-id says $(echo "$js" | jq -c .)"
  echo "$text" | grep -qF -- "  $cell" \
    || fail "sarectl sessions does not show call $id as $cell: $(echo "$text" | head -n 5)"
  info "sarectl sessions --call-id $id: its one session on server ${ns#s} ($which INVITE of the trunk), shown as $short"
done <<<"$probes"
t0=$(date +%s)
while any_alive "$uac"; do
  [ $(( $(date +%s) - t0 )) -lt 240 ] || fail "the SIPp trunk still runs after 240 s"
  sleep 0.5
done
wait "$sampler" 2>/dev/null
max_live=$(awk '$1 ~ /^[0-9]+$/ && $1 > m {m = $1} END {print m + 0}' /tmp/trunk-live.txt)
if ! wait "$uac"; then
  grep -E 'Successful call|Failed call' /tmp/trunk-uac.out | tail -n 2; tail -n 20 /tmp/trunk-uac.err 2>/dev/null
  sarectl stats | grep -vw 0
  for ns in $SERVERS; do echo "UAS on $ns:"; head -n 50 "/tmp/trunk-uas-$ns.err" 2>/dev/null; done
  fail "SIPp trunk: $(grep -E 'Failed call' /tmp/trunk-uac.out | tail -n 1 | tr -s ' ')"
fi
ok=$(grep -E 'Successful call' /tmp/trunk-uac.out | tail -n 1 | awk -F'|' '{print $3}' | tr -d ' ')
failed=$(grep -E 'Failed call' /tmp/trunk-uac.out | tail -n 1 | awk -F'|' '{print $3}' | tr -d ' ')
[ "$failed" = 0 ] && [ "$ok" = "$N" ] || fail "SIPp trunk: $ok successful, $failed failed of $N calls"
info "SIPp trunk: $N calls on one socket (rate $RATE/s, ${HOLD} s each) in $(( $(date +%s) - t_calls )) s, 0 failed; at most $max_live live sessions at once ($(wc -l </tmp/trunk-live.txt) samples)"
capture_stop

out=$("$PY" "$TOOLS/trunk_check.py" --vip "$VIP" --client 10.0.1.2 --sig-port "$PORT" \
  s1=/tmp/trunk-s1.pcap s2=/tmp/trunk-s2.pcap)
rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "per-call affinity broken ($(echo "$out" | jq .error_count) errors): $(echo "$out" | jq -c '.errors[:5]')"
[ "$(echo "$out" | jq .calls)" = "$N" ] || fail "the servers saw $(echo "$out" | jq .calls) calls, not $N"
for ns in $SERVERS; do
  got=$(echo "$out" | jq ".servers.$ns // 0")
  [ $((got * 100)) -ge $((N * 35)) ] && [ $((got * 100)) -le $((N * 65)) ] \
    || fail "server $ns took $got of $N calls (35–65 % wanted): $(echo "$out" | jq -c .servers)"
done
[ "$(echo "$out" | jq .calls_outliving_first_bye)" -gt 0 ] \
  || fail "no call outlived the first BYE: the test did not exercise it ($(echo "$out" | jq -c '{first_bye, calls_outliving_first_bye}'))"
info "at the servers: $(echo "$out" | jq -c .servers) calls, every call's INVITE, ACK, BYE and RTP at one server; $(echo "$out" | jq .with_media_after_first_bye) calls' media kept flowing after the first BYE"
[ "$max_live" -ge $((N * 9 / 10)) ] || fail "SARA showed at most $max_live live sessions for $N concurrent calls (one session per call wanted)"

# The counters: every call opened and ended by its own BYE, dispatched by Call-ID, none refused.
opened=$(( $(c0 calls_opened) - opened0 )); ended=$(( $(c0 calls_ended) - ended0 ))
by=$(( $(c0 sip_by_call_id) - by0 )); unk=$(( $(c0 sip_unknown_call_id) - unk0 ))
full=$(( $(c0 call_index_full) - full0 ))
fb=$(( $(c0 sip_fallback_not_sip) + $(c0 sip_fallback_no_call_id) + $(c0 sip_fallback_call_id_too_long) - fb0 ))
[ "$opened" = "$N" ] || fail "calls_opened grew by $opened for $N calls"
[ "$ended" -ge "$N" ] || fail "calls_ended grew by $ended after $N BYEs"
[ "$by" -ge $((2 * N)) ] || fail "sip_by_call_id grew by $by for $N calls' ACK and BYE"
[ "$full" = 0 ] || fail "call_index_full grew by $full"
info "counters: calls_opened +$opened, calls_ended +$ended, sip_by_call_id +$by, sip_unknown_call_id +$unk, fallbacks +$fb, call_index_full +$full"
# The ended calls leave the Call-ID index after their 5 s linger, and no session stays live.
back() { [ "$(c0 calls_indexed)" -le "$indexed0" ] && [ "$(live_of)" = 0 ]; }
WAIT_DETAIL='echo "calls_indexed $(c0 calls_indexed) (was $indexed0)"; sarectl sessions --json | jq -c "[.[] | select(.service == \"$SVC\" and .ended == false)][:3]"'
wait_until 60 "the trunk's calls gone from the Call-ID index and no live session left" back
unset WAIT_DETAIL
info "Call-ID index back to $(c0 calls_indexed) entries (capacity $(c0 call_index_capacity)), no live session of $SVC"

cleanup
drop_config "$SVC"
