# UDP flows are balanced too, and every datagram of one flow reaches one server.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 5004 udp
start_servers 5004 --udp
out=$(in_ns cl "$PY" "$TOOLS/client.py" --udp --vip "$VIP" --port 5004 --conns 30 --msgs 3) || fail "client: $out"
for ns in $SERVERS; do echo "$out" | grep -q "\"$ns\": [1-9]" || fail "server $ns got no flow: $out"; done
info "30 UDP flows x 3 datagrams: $(echo "$out" | sed 's/.*"servers": \({[^}]*}\).*/\1/')"
sarectl service del "$VIP:5004/udp"
