# The session table seen through `sarectl flows` / `sessions`, deterministically (no third-party tool
# timing): an RTSP SETUP and a SIP INVITE announce their media flows (wildcard on the server's port);
# the media's first packets confirm them as secondary flows of the same session, on the session's
# server; TEARDOWN and BYE end the sessions, and their media flows stop matching.
# Every step waits for the state it checks (signalling seen, announced flows in the dump, media
# confirmed), so a slow host makes the test slower, not red.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
sarectl service add "$VIP:5560/udp" --sig sip --timeout 60 || fail "service add sip"
sarectl service add "$VIP:5554/tcp" --sig rtsp --timeout 60 || fail "service add rtsp"
add_servers
start_servers 5554
for ns in $SERVERS; do capture_start "dpi-$ns" "$ns" "udp and dst host $VIP"; done
a0=$(counter flows_announced); s0=$(counter flows_secondary); e0=$(counter dpi_session_end)
rm -f /tmp/dpi-go /tmp/dpi-stop
WAIT_DETAIL='sarectl flows'

flows_json() { sarectl flows --json 2>/dev/null; }
count_flows() { flows_json | jq "[.[] | select($1)] | length"; }
# The first signalling flow matching a jq condition, or null.
sig_flow() { flows_json | jq -c "[.[] | select(.identity == \"signalling\" and $1)][0]"; }
has_flows() { [ "$(count_flows "$1")" = "$2" ]; }
# Session $1 is over: listed as ended, or already gone once its linger ran out.
session_over() {
  sarectl sessions --json 2>/dev/null \
    | jq -e "([.[] | select(.session == $1)] | length == 0) or any(.[]; .session == $1 and .ended == true)" >/dev/null
}

# SIP: INVITE from 10.0.1.2:5062 announcing audio 40000 (RTP) and 40001 (RTCP); the media only once
# the dispatcher has read the SDP (as a caller sends media once its INVITE is answered).
sip="--vip $VIP --sig-port 5560 --from-port 5062 --media-port 40000 --media-dst 7078"
in_ns cl "$PY" "$TOOLS/sig_send.py" sip $sip --phase invite || fail "sip sender (invite)"
wait_until 60 "the SIP signalling flow from port 5062 in the dump" has_flows '.dport == 5560 and .sport == 5062' 1
sig=$(sig_flow '.dport == 5560 and .sport == 5062')
sess=$(echo "$sig" | jq .session); srv=$(echo "$sig" | jq .server)
wait_until 60 "SIP session $sess: RTP and RTCP announced" has_flows ".session == $sess and .identity == \"announced\"" 2
in_ns cl "$PY" "$TOOLS/sig_send.py" sip $sip --phase media || fail "sip sender (media)"
wait_until 60 "SIP session $sess: RTP and RTCP confirmed as secondary flows" \
  has_flows ".session == $sess and .identity == \"secondary\"" 2
flows=$(flows_json)
sec=$(echo "$flows" | jq -c "[.[] | select(.session == $sess and .identity == \"secondary\")]")
[ "$(echo "$sec" | jq "[.[] | select(.server == $srv and .wildcard == \"none\" and (.sport == 40000 or .sport == 40001) and (.dport == 7078 or .dport == 7079))] | length")" = 2 ] \
  || fail "SIP session $sess: secondary flows not exact or not on server $srv: $sec"
[ "$(echo "$flows" | jq "[.[] | select(.session == $sess)] | length")" = 3 ] \
  || fail "SIP session $sess: expected 3 flows (signalling, RTP, RTCP), each listed once: $flows"
info "SIP: session $sess on server $srv: $(echo "$sec" | jq -c '[.[] | "\(.proto) \(.src):\(.sport) -> \(.dst):\(.dport)"]')"
sarectl sessions --json | jq -e ".[] | select(.session == $sess and .flows == 3 and .secondary == 2)" >/dev/null \
  || fail "sarectl sessions does not show session $sess with 3 flows: $(sarectl sessions --json)"

# RTSP: SETUP client_port=41000-41001, media to VIP:7000/7001 once the SETUP's flows are announced;
# the connection is held until the checks are done.
bg in_ns cl "$PY" "$TOOLS/sig_send.py" rtsp --vip "$VIP" --sig-port 5554 --client-ports 41000-41001 --media-dst 7000 \
  --go-file /tmp/dpi-go --stop-file /tmp/dpi-stop --max-wait 200
rtsp=${BG_PIDS[-1]}
wait_until 60 "the RTSP signalling flow in the dump" has_flows '.dport == 5554 and .identity == "signalling" and (.ended | not)' 1
rsig=$(sig_flow '.dport == 5554 and (.ended | not)')
rsess=$(echo "$rsig" | jq .session); rsrv=$(echo "$rsig" | jq .server)
wait_until 60 "RTSP session $rsess: the SETUP's two media flows announced" \
  has_flows ".session == $rsess and .identity == \"announced\"" 2
touch /tmp/dpi-go
wait_until 60 "RTSP session $rsess: 2 secondary flows on server $rsrv" \
  has_flows ".session == $rsess and .identity == \"secondary\" and .server == $rsrv" 2
rsec=$(flows_json | jq -c "[.[] | select(.session == $rsess and .identity == \"secondary\")]")
info "RTSP: session $rsess on server $rsrv: $(echo "$rsec" | jq -c '[.[] | "\(.proto) \(.src):\(.sport) -> \(.dst):\(.dport)"]')"
touch /tmp/dpi-stop
wait "$rtsp" || fail "the RTSP sender failed"
# RTSP's TEARDOWN ends its session.
wait_until 60 "TEARDOWN ends RTSP session $rsess" session_over "$rsess"

# BYE ends the SIP session: its media flows no longer match (packets from 40000 now are unknown).
bye="--vip $VIP --sig-port 5560 --from-port 5064 --media-port 42000 --media-dst 7080"
in_ns cl "$PY" "$TOOLS/sig_send.py" sip $bye --phase invite || fail "sip sender (invite before bye)"
wait_until 60 "the SIP signalling flow from port 5064 in the dump" has_flows '.dport == 5560 and .sport == 5064' 1
bsess=$(sig_flow '.dport == 5560 and .sport == 5064' | jq .session)
wait_until 60 "SIP session $bsess: media announced" has_flows ".session == $bsess and .identity == \"announced\"" 2
in_ns cl "$PY" "$TOOLS/sig_send.py" sip $bye --phase media || fail "sip sender (media before bye)"
wait_until 60 "SIP session $bsess: media confirmed" has_flows ".session == $bsess and .identity == \"secondary\"" 2
in_ns cl "$PY" "$TOOLS/sig_send.py" sip $bye --phase bye || fail "sip sender (bye)"
WAIT_DETAIL='sarectl sessions --json'
wait_until 60 "BYE ends SIP session $bsess" session_over "$bsess"
[ $(( $(counter dpi_session_end) - e0 )) -ge 2 ] || fail "dpi_session_end did not count TEARDOWN and BYE"

# At the servers: the media went where the signalling went (captures stopped first: all written).
capture_stop
for ns in $SERVERS; do tcpdump -n -r "/tmp/dpi-$ns.pcap" 2>/dev/null >"/tmp/dpi-$ns.txt"; done
for p in 40000 40001; do
  ns=s$srv; other=s$((3 - srv))
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$ns.txt" || fail "SIP media from port $p did not reach $ns"
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$other.txt" && fail "SIP media from port $p reached $other too"
done
for p in 41000 41001; do
  ns=s$rsrv; other=s$((3 - rsrv))
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$ns.txt" || fail "RTSP media from port $p did not reach $ns"
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$other.txt" && fail "RTSP media from port $p reached $other too"
done
info "announced +$(( $(counter flows_announced) - a0 )), secondary +$(( $(counter flows_secondary) - s0 )), session ends by DPI +$(( $(counter dpi_session_end) - e0 )) (TEARDOWN, BYE)"
cleanup
sarectl service del "$VIP:5560/udp"; sarectl service del "$VIP:5554/tcp"
del_servers
