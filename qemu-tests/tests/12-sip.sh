# SIP calls with real tools: a SIPp UAS on both servers (`sipp -sn uas -rtp_echo`), SIPp UACs on the
# client (tools/sipp-uac-rtp.xml: INVITE with SDP, ACK, real RTP for the call, BYE), one SIPp per
# call, each with its own SIP port and media port, all at once. The RTP of each call (client:m= port →
# VIP:6000) must reach the server that took its INVITE: checked at the servers (tcpdump,
# tools/session_check.py) and in SARA's flow dump. BYE ends the session.
# Then (issue #14) one call whose INVITE is fragmented on the 1500-byte links reaches its server whole,
# with its RTP, and a fragmented datagram to a VIP port that is no service reaches the dispatcher's own
# listener whole (see the phase below).
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
PORT=5060
N=${SARA_SIP_CALLS:-8}
SECS=4            # RTP for the first SECS seconds of each call
# Each call lasts HOLD seconds: its RTP flow stays in SARA's table until the BYE, so the flow
# snapshots (one every second or two under TCG, slower with kmemleak) see every call's RTP flow.
HOLD=${SARA_SIP_HOLD:-12}
SVC="$VIP:$PORT/udp"

fresh_servers
sarectl service add "$SVC" --sig sip --policy rr --timeout 30 || fail "service add $SVC --sig sip"
# The UAC's media: 8 kHz PCMU (the path is fixed in tools/sipp-uac-rtp.xml).
ffmpeg -nostdin -loglevel error -y -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=$SECS" \
  -ac 1 -c:a pcm_mulaw /tmp/sara-sipp-tone.wav || fail "ffmpeg cannot make the RTP file"
for ns in $SERVERS; do
  bg in_ns "$ns" sipp -sn uas -i "$VIP" -p "$PORT" -mi "$VIP" -mp 6000 -rtp_echo -nostdin -max_socket 200 \
    -trace_err -error_file "/tmp/sip-uas-$ns.err" >"/tmp/sip-uas-$ns.out" 2>&1
done
for ns in $SERVERS; do wait_listen "$ns" "$PORT" u; done
for ns in $SERVERS; do capture_start "sip-$ns" "$ns" "dst host $VIP"; done
# What the UASs answer (responses leave the servers directly), for a failed call's diagnosis.
for ns in $SERVERS; do capture_raw "sip-out-$ns" "$ns" "udp and src host $VIP and src port $PORT"; done
created0=$(counter sessions_created); ended0=$(counter sessions_ended); bye0=$(counter dpi_session_end)
secondary0=$(counter flows_secondary)

rm -f /tmp/sip-flows.jsonl
calls=()
for i in $(seq "$N"); do
  bg in_ns cl sipp -sf "$TOOLS/sipp-uac-rtp.xml" "$VIP:$PORT" -i 10.0.1.2 -p $((15060 + i)) \
    -mi 10.0.1.2 -mp $((7000 + 4 * i)) -m 1 -d $((HOLD * 1000)) -nostdin -max_socket 200 \
    -trace_err -error_file "/tmp/sip-uac-$i.err" >"/tmp/sip-uac-$i.out" 2>&1
  calls+=("${BG_PIDS[-1]}")
done
# The client ports of the calls' RTP flows (what the snapshots must have shown once each).
rtp_seen() {
  jq -s --arg vip "$VIP" '[.[] | select(.dst == $vip and .proto == "udp" and .dport == 6000
    and .sport >= 7004 and .sport <= '"$((7000 + 4 * N))"') | .sport] | unique | length' /tmp/sip-flows.jsonl 2>/dev/null || echo 0
}
t0=$(date +%s)
snapping=1
while any_alive "${calls[@]}"; do
  # Snapshots until the dump has shown every call's RTP flow, then only a wait for the BYEs.
  if [ "$snapping" = 1 ]; then
    snapshot_flows /tmp/sip-flows.jsonl
    [ "$(rtp_seen)" -lt "$N" ] || { snapping=0; info "the dump showed all $N RTP flows after $(( $(date +%s) - t0 )) s"; }
  fi
  [ $(( $(date +%s) - t0 )) -lt 150 ] || fail "SIPp calls still running after 150 s"
  sleep 0.5
done
[ "$snapping" = 0 ] || info "the snapshots showed $(rtp_seen) of $N RTP flows while the calls lasted"
bad=0
for i in $(seq "$N"); do
  if ! wait "${calls[$((i - 1))]}"; then
    bad=$((bad + 1)); echo "call $i failed:"; grep -E 'Successful call|Failed call' "/tmp/sip-uac-$i.out" | tail -n 2; tail -n 5 "/tmp/sip-uac-$i.err" 2>/dev/null; echo
    # Where it went: its messages at each server, SARA's flows of its port.
    sip_failed_call_trace "/tmp/sip-uac-$i.err" sip
    echo " SARA's flows from port $((15060 + i)): $(sarectl flows | grep -F ":$((15060 + i)) " | tr -s ' ' | head -n 3)"
  fi
done
[ "$bad" = 0 ] || { sarectl stats | grep -vw 0; for ns in $SERVERS; do echo "UAS on $ns (its whole error trace, at most 200 lines: why it dropped or aborted a call):"; head -n 200 "/tmp/sip-uas-$ns.err" 2>/dev/null; tail -n 5 "/tmp/sip-uas-$ns.out" 2>/dev/null; done
  fail "$bad of $N SIP calls failed"; }
info "$N SIPp calls (INVITE/SDP, ${SECS} s of RTP, BYE) in $(( $(date +%s) - t0 )) s"
capture_stop

out=$("$PY" "$TOOLS/session_check.py" --sig sip --vip "$VIP" --client 10.0.1.2 --sig-port "$PORT" \
  --flows /tmp/sip-flows.jsonl --server-ids 1=s1,2=s2 s1=/tmp/sip-s1.pcap s2=/tmp/sip-s2.pcap)
rc=$?
echo "$out"
[ "$rc" = 0 ] || fail "session affinity broken: $(echo "$out" | jq -c '.errors[:5]')"
[ "$(echo "$out" | jq .sessions)" = "$N" ] || fail "the servers saw $(echo "$out" | jq .sessions) INVITEs with SDP, not $N"
[ "$(echo "$out" | jq .sessions_with_media)" = "$N" ] || fail "only $(echo "$out" | jq .sessions_with_media) of $N calls had their RTP at their server"
for ns in $SERVERS; do
  [ "$(echo "$out" | jq ".servers.$ns.sessions")" -gt 0 ] || fail "server $ns took no call: $(echo "$out" | jq -c .servers)"
done
info "at the servers: $(echo "$out" | jq -c '.servers'); the RTP of every call at the server of its INVITE"

# SARA's view: per call one SIP signalling flow and its RTP as a secondary flow, on one server.
sess=$(jq -s -c "[.[] | select(.dst == \"$VIP\" and .src == \"10.0.1.2\")] | unique_by([.session, .proto, .sport, .dport])
  | [group_by(.session)[] | select(any(.[]; .identity == \"signalling\" and .proto == \"udp\" and .dport == $PORT))
  | {session: .[0].session, servers: ([.[].server] | unique), sig: ([.[] | select(.identity == \"signalling\")] | length),
     secondary: ([.[] | select(.identity == \"secondary\" and .proto == \"udp\")] | length)}]" /tmp/sip-flows.jsonl)
[ "$(echo "$sess" | jq length)" -ge "$N" ] || fail "SARA's dump shows $(echo "$sess" | jq length) SIP sessions, not $N: $sess"
# Every call seen with its RTP as a secondary flow (the calls last HOLD s for that); the counter
# must count every call's RTP flow.
seen=$(echo "$sess" | jq '[.[] | select(.secondary >= 1)] | length')
[ "$seen" -ge "$N" ] \
  || fail "SARA's dump: only $seen of $N calls seen with their RTP as a secondary flow (in $HOLD s calls): $(echo "$sess" | jq -c '[.[] | select(.secondary == 0)]')"
secondary=$(( $(counter flows_secondary) - secondary0 ))
[ "$secondary" -ge "$N" ] || fail "flows_secondary grew by $secondary for $N calls' RTP flows"
[ "$(echo "$sess" | jq '[.[] | select((.servers | length) != 1 or .sig != 1)] | length')" = 0 ] \
  || fail "SARA's dump: calls split over servers: $(echo "$sess" | jq -c '[.[] | select((.servers | length) != 1 or .sig != 1)]')"
[ "$(echo "$out" | jq .dump.checked)" -ge "$((2 * N))" ] || fail "too few flows of SARA's dump matched the captures: $(echo "$out" | jq -c .dump)"
info "SARA's dump: $(echo "$sess" | jq length) calls, $seen seen with their RTP, flows_secondary +$secondary, per server $(echo "$sess" | jq -c 'group_by(.servers[0]) | map({server: .[0].servers[0], calls: length})'); $(echo "$out" | jq .dump.checked) flows compared with the captures: all agree"

# BYE ended every call's session (long before the 30 s timeout).
live_of() { sarectl sessions --json | jq "[.[] | select(.service == \"$SVC\" and .ended == false)] | length"; }
none_live() { [ "$(live_of)" = 0 ]; }
WAIT_DETAIL='sarectl sessions --json | jq -c "[.[] | select(.service == \"$SVC\" and .ended == false)][:3]"'
wait_until 60 "no SIP session live after BYE" none_live
unset WAIT_DETAIL
created=$(( $(counter sessions_created) - created0 )); ended=$(( $(counter sessions_ended) - ended0 ))
bye=$(( $(counter dpi_session_end) - bye0 ))
[ "$created" -ge "$N" ] || fail "sessions_created grew by $created for $N calls"
[ "$ended" -ge "$N" ] || fail "sessions_ended grew by $ended after $N BYEs"
[ "$bye" -ge "$N" ] || fail "dpi_session_end grew by $bye after $N BYEs"
info "BYE: no live SIP session left; sessions_created +$created, sessions_ended +$ended, dpi_session_end +$bye, dpi_announcing $(counter dpi_announcing)"

# A fragmented INVITE (issue #14): one call whose INVITE (about 3.3 KB: 36 SDP attribute lines
# before its m= line) leaves the client in three IPv4 fragments over the 1500-byte links. The
# dispatcher reassembles it (nf_defrag_ipv4), so SARA reads its Call-ID and the m= line in its last
# fragment, and sends it on to the call's server in fragments again, none over 1500 bytes: that
# server's SIPp answers (the call succeeds), its capture holds the whole INVITE (fragments put back
# together by tools/frag_check.py as its stack did), and the call's RTP, announced by that m= line
# alone, reaches it too. The frag_* counters say the same.
awk -v pad="$(printf '%070d' 0)" '{ print } /^ *t=0 0$/ { for (i = 0; i < 36; i++) printf "      a=x-pad%02d:%s\n", i, pad }' \
  "$TOOLS/sipp-uac-rtp.xml" >/tmp/sipp-uac-big.xml
grep -q 'a=x-pad35:' /tmp/sipp-uac-big.xml || fail "no SIPp scenario with a large SDP made from sipp-uac-rtp.xml"
for ns in $SERVERS; do capture_start "frag-$ns" "$ns" "dst host $VIP"; done
fc0() { echo "$(counter frag_reassembled) $(counter frag_refragmented) $(counter frag_sent) $(counter frag_passed) $(( $(counter frag_too_big) + $(counter frag_failed) + $(counter dropped_fragment) ))"; }
read -r reasm0 refrag0 sent0 passed0 lost0 < <(fc0)
bg in_ns cl sipp -sf /tmp/sipp-uac-big.xml "$VIP:$PORT" -i 10.0.1.2 -p 15200 -mi 10.0.1.2 -mp 7200 -m 1 -d 3000 \
  -nostdin -max_socket 200 -trace_err -error_file /tmp/sip-big.err >/tmp/sip-big.out 2>&1
big=${BG_PIDS[-1]}
big_over() { ! kill -0 "$big" 2>/dev/null; }
wait_until 120 "the call with a fragmented INVITE over" big_over
wait "$big" || { tail -n 3 /tmp/sip-big.out; tail -n 20 /tmp/sip-big.err; sarectl stats | grep -E 'frag|calls_opened'
  fail "the call with a fragmented INVITE failed (SIPp)"; }
capture_stop
declare -A fc
at=
for ns in $SERVERS; do
  fc[$ns]=$("$PY" "$TOOLS/frag_check.py" --src 10.0.1.2 --dst "$VIP" "/tmp/frag-$ns.pcap") || fail "frag_check.py /tmp/frag-$ns.pcap"
  if [ "$(echo "${fc[$ns]}" | jq '[.datagrams[] | select(.start | startswith("INVITE "))] | length')" -gt 0 ]; then
    [ -z "$at" ] || fail "the fragmented INVITE reached both servers: ${fc[*]}"
    at=$ns
  fi
done
[ -n "$at" ] || fail "no server's capture holds a fragmented INVITE: ${fc[*]}"
invites=$(echo "${fc[$at]}" | jq -c '[.datagrams[] | select(.start | startswith("INVITE "))]')
# Each copy of it (SIPp retransmits until answered): whole, ≥ 3000 bytes, in ≥ 3 fragments of at
# most 1500 bytes, and nothing larger than the MTU reached the server.
echo "$invites" | jq -e 'all(.complete and .whole_sip and .size >= 3000 and .fragments >= 3 and .largest <= 1500)' >/dev/null \
  || fail "the INVITE did not reach $at whole, in fragments of at most 1500 bytes: $invites"
[ "$(echo "${fc[$at]}" | jq .largest)" -le 1500 ] || fail "$at received a packet over the 1500-byte MTU: ${fc[$at]}"
mport=$(echo "$invites" | jq '.[0].sdp_ports[0] // 0')
rtp=$(echo "${fc[$at]}" | jq --arg k "$mport>6000" '.udp[$k] // 0')
[ "$mport" -gt 0 ] && [ "$rtp" -gt 0 ] || fail "the call's RTP (from the INVITE's m= port $mport) did not reach $at, the server of its INVITE: ${fc[$at]}"
for ns in $SERVERS; do
  [ "$ns" = "$at" ] || [ "$(echo "${fc[$ns]}" | jq --arg k "$mport>6000" '.udp[$k] // 0')" = 0 ] \
    || fail "RTP of the call reached $ns, not $at, the server of its INVITE: ${fc[$ns]}"
done
read -r reasm refrag sent passed lost < <(fc0)
n_inv=$(echo "$invites" | jq length); n_frag=$(echo "$invites" | jq 'map(.fragments) | add')
[ $((refrag - refrag0)) = "$n_inv" ] && [ $((sent - sent0)) = "$n_frag" ] && [ $((reasm - reasm0)) = "$n_inv" ] \
  && [ "$passed" = "$passed0" ] && [ "$lost" = "$lost0" ] \
  || fail "counters: frag_reassembled +$((reasm - reasm0)), frag_refragmented +$((refrag - refrag0)), frag_sent +$((sent - sent0)), frag_passed +$((passed - passed0)), lost +$((lost - lost0)); $at got $n_inv INVITEs in $n_frag fragments"
info "a $(echo "$invites" | jq '.[0].size')-byte INVITE in $(echo "$invites" | jq '.[0].fragments') fragments reached $at whole ($n_inv sent), its RTP from port $mport too ($rtp packets); frag_reassembled +$((reasm - reasm0)), frag_refragmented +$((refrag - refrag0)), frag_sent +$((sent - sent0))"

# A 4000-byte datagram to a VIP port that is no service reaches a listener of the dispatcher's own,
# whole (it answers with the length it received); frag_passed counts it.
LPORT=5099
bg in_ns disp "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    d, a = s.recvfrom(65535)
    s.sendto(str(len(d)).encode(), a)' "$VIP" "$LPORT"
wait_listen disp "$LPORT" u
got=$(in_ns cl "$PY" -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for _ in range(10):
    s.sendto(b"x" * 4000, (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recv(100).decode())
        break
    except socket.timeout:
        pass' "$VIP" "$LPORT")
[ "$got" = 4000 ] || fail "the dispatcher's listener on $VIP:$LPORT (no service) got '${got:-nothing after 10 tries}', not a whole 4000-byte datagram; $(sarectl stats | grep -E 'frag|passed')"
read -r reasm2 _ _ passed2 lost2 < <(fc0)
[ "$passed2" -gt "$passed" ] && [ "$reasm2" -gt "$reasm" ] && [ "$lost2" = "$lost0" ] \
  || fail "counters after the datagram to $VIP:$LPORT: frag_passed +$((passed2 - passed)), frag_reassembled +$((reasm2 - reasm)), lost +$((lost2 - lost0))"
info "a 4000-byte datagram to $VIP:$LPORT (no service) reached the dispatcher's listener whole; frag_passed +$((passed2 - passed))"

cleanup
drop_config "$SVC"
