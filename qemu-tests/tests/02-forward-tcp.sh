# TCP connections to VIP:port complete and are answered by the servers (each with its own name); both
# servers get connections; all packets of one connection reach one server.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 8080 tcp
start_servers 8080
before=$(counter packets_forwarded)
out=$(in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8080 --conns 30 --msgs 4) || fail "client: $out"
echo "$out"
for ns in $SERVERS; do
  echo "$out" | grep -q "\"$ns\": [1-9]" || fail "server $ns got no connection: $out"
done
after=$(counter packets_forwarded)
[ "$after" -gt "$before" ] || fail "packets_forwarded did not move ($before -> $after)"
info "30 TCP connections x 4 messages: $(echo "$out" | sed 's/.*"servers": \({[^}]*}\).*/\1/'), forwarded $((after - before)) packets"
sarectl service del "$VIP:8080/tcp"
