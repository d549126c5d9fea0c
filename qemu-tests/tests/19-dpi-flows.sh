# The session table seen through `sarectl flows` / `sessions`, deterministically (no third-party tool
# timing): an RTSP SETUP and a SIP INVITE announce their media flows (wildcard on the server's port);
# the media's first packets confirm them as secondary flows of the same session, on the session's
# server; TEARDOWN and BYE end the sessions, and their media flows stop matching.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
sarectl service add "$VIP:5560/udp" --sig sip --timeout 60 || fail "service add sip"
sarectl service add "$VIP:5554/tcp" --sig rtsp --timeout 60 || fail "service add rtsp"
add_servers
start_servers 5554
for ns in $SERVERS; do bg in_ns "$ns" tcpdump -p -n -l -i eth0 "udp and dst host $VIP" >"/tmp/dpi-$ns.cap" 2>/dev/null; done
sleep 1
a0=$(counter flows_announced); s0=$(counter flows_secondary); e0=$(counter dpi_session_end)

# SIP: INVITE from 10.0.1.2:5062 announcing audio 40000 (RTP) and 40001 (RTCP).
in_ns cl "$PY" "$TOOLS/sig_send.py" sip --vip "$VIP" --sig-port 5560 --from-port 5062 --media-port 40000 --media-dst 7078 \
  || fail "sip sender"
flows=$(sarectl flows --json) || fail "sarectl flows"
sig=$(echo "$flows" | jq -c '[.[] | select(.dport == 5560 and .sport == 5062)][0]')
[ "$sig" != null ] || fail "no SIP signalling flow in the dump: $flows"
sess=$(echo "$sig" | jq .session); srv=$(echo "$sig" | jq .server)
sec=$(echo "$flows" | jq -c "[.[] | select(.session == $sess and .identity == \"secondary\")]")
[ "$(echo "$sec" | jq length)" = 2 ] || fail "SIP session $sess: expected RTP and RTCP as secondary flows: $flows"
[ "$(echo "$sec" | jq "[.[] | select(.server == $srv and .wildcard == \"none\" and (.sport == 40000 or .sport == 40001) and (.dport == 7078 or .dport == 7079))] | length")" = 2 ] \
  || fail "SIP session $sess: secondary flows not exact or not on server $srv: $sec"
info "SIP: session $sess on server $srv: $(echo "$sec" | jq -c '[.[] | "\(.proto) \(.src):\(.sport) -> \(.dst):\(.dport)"]')"
sarectl sessions --json | jq -e ".[] | select(.session == $sess and .flows == 3 and .secondary == 2)" >/dev/null \
  || fail "sarectl sessions does not show session $sess with 3 flows: $(sarectl sessions --json)"

# RTSP: SETUP client_port=41000-41001, media to VIP:7000/7001, connection held while we look.
bg in_ns cl "$PY" "$TOOLS/sig_send.py" rtsp --vip "$VIP" --sig-port 5554 --client-ports 41000-41001 --media-dst 7000 --hold 4
rtsp=${BG_PIDS[-1]}
sleep 2
flows=$(sarectl flows --json)
rsig=$(echo "$flows" | jq -c '[.[] | select(.dport == 5554 and .identity == "signalling")][0]')
[ "$rsig" != null ] || fail "no RTSP signalling flow in the dump: $flows"
rsess=$(echo "$rsig" | jq .session); rsrv=$(echo "$rsig" | jq .server)
rsec=$(echo "$flows" | jq -c "[.[] | select(.session == $rsess and .identity == \"secondary\" and .server == $rsrv)]")
[ "$(echo "$rsec" | jq length)" = 2 ] || fail "RTSP session $rsess: expected 2 secondary flows on server $rsrv: $flows"
info "RTSP: session $rsess on server $rsrv: $(echo "$rsec" | jq -c '[.[] | "\(.proto) \(.src):\(.sport) -> \(.dst):\(.dport)"]')"
wait "$rtsp"
# At the servers: the media went where the signalling went.
for p in 40000 40001; do
  ns=s$srv; other=s$((3 - srv))
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$ns.cap" || fail "SIP media from port $p did not reach $ns"
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$other.cap" && fail "SIP media from port $p reached $other too"
done
for p in 41000 41001; do
  ns=s$rsrv; other=s$((3 - rsrv))
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$ns.cap" || fail "RTSP media from port $p did not reach $ns"
  grep -q "10.0.1.2.$p > " "/tmp/dpi-$other.cap" && fail "RTSP media from port $p reached $other too"
done

# BYE ends the SIP session: its media flows no longer match (packets from 40000 now are unknown).
in_ns cl "$PY" "$TOOLS/sig_send.py" sip --vip "$VIP" --sig-port 5560 --from-port 5064 --media-port 42000 --media-dst 7080 --bye \
  || fail "sip sender (bye)"
sleep 1
bsess=$(sarectl flows --json | jq '[.[] | select(.dport == 5560 and .sport == 5064)][0].session')
sarectl sessions --json | jq -e ".[] | select(.session == $bsess and .ended == true)" >/dev/null \
  || fail "BYE did not end session $bsess: $(sarectl sessions --json)"
[ $(( $(counter dpi_session_end) - e0 )) -ge 2 ] || fail "dpi_session_end did not count TEARDOWN and BYE"
info "announced +$(( $(counter flows_announced) - a0 )), secondary +$(( $(counter flows_secondary) - s0 )), session ends by DPI +$(( $(counter dpi_session_end) - e0 )) (TEARDOWN, BYE)"
cleanup
sarectl service del "$VIP:5560/udp"; sarectl service del "$VIP:5554/tcp"
del_servers
