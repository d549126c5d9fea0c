# Traffic not addressed to a service is untouched; deleting the service stops forwarding.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 8082 tcp
start_servers 8082
# ICMP to the VIP and TCP to another port of the VIP are the dispatcher's own business.
bg in_ns disp "$PY" "$TOOLS/name_server.py" --name disp --port 9000
wait_listen disp 9000
passed0=$(counter packets_passed); fwd0=$(counter packets_forwarded)
in_ns cl ping -c 2 -W 2 "$VIP" >/dev/null || fail "ping to the VIP (answered by the dispatcher) failed"
out=$(in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 9000 --conns 2 --msgs 2) || fail "local service: $out"
echo "$out" | grep -q '"disp": 2' || fail "port 9000 should be answered by the dispatcher itself: $out"
[ "$(counter packets_forwarded)" = "$fwd0" ] || fail "non-service traffic was forwarded"
[ "$(counter packets_passed)" -gt "$passed0" ] || fail "packets_passed did not count non-service traffic"
# The service works, then is deleted: connections now reach the dispatcher, which refuses them.
in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8082 --conns 4 --msgs 1 >/dev/null || fail "service before delete"
sarectl service del "$VIP:8082/tcp" || fail "service del"
fwd1=$(counter packets_forwarded)
if in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8082 --conns 2 --msgs 1 --timeout 2 >/dev/null; then
  fail "connections still reach a server after the service was deleted"
fi
[ "$(counter packets_forwarded)" = "$fwd1" ] || fail "packets forwarded after the service was deleted"
info "ICMP and other ports left to the dispatcher; after 'service del' nothing is forwarded"
