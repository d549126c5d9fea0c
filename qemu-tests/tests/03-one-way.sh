# The dispatcher never sees the reply direction: a capture on its interface shows client->VIP packets
# and no packet from the VIP; its counters only count client->server packets.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 8081 tcp
start_servers 8081
bg in_ns disp timeout 120 tcpdump -l -n -i eth0 "tcp and src host $VIP" >/tmp/rev.txt 2>/tmp/rev.err
bg in_ns disp timeout 120 tcpdump -l -n -i eth0 "tcp and dst host $VIP and dst port 8081" >/tmp/fwd.txt 2>/tmp/fwd.err
capturing() { grep -q 'listening on' /tmp/rev.err && grep -q 'listening on' /tmp/fwd.err; }
wait_until 60 "the captures on the dispatcher start" capturing
out=$(in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8081 --conns 10 --msgs 3) || fail "client: $out"
# The client is done: its last packets have reached the dispatcher; the capture shows them soon.
wait_until 60 "the capture on the dispatcher shows the client's packets" grep -q ' IP ' /tmp/fwd.txt
cleanup   # stops the captures (and the servers), flushing their output
fwd=$(grep -c ' IP ' /tmp/fwd.txt); rev=$(grep -c ' IP ' /tmp/rev.txt)
[ "$fwd" -gt 0 ] || fail "capture saw no client->VIP packet"
[ "$rev" = 0 ] || { head /tmp/rev.txt; fail "dispatcher saw $rev reply packets"; }
info "capture on the dispatcher: $fwd client->VIP packets, $rev VIP->client packets"
sarectl service del "$VIP:8081/tcp"
