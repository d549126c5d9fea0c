# rmmod sara while traffic flows, then insmod again: clean, and forwarding works again.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 8084 tcp
configure_http 5005 udp
start_servers 8084
bg in_ns cl "$PY" "$TOOLS/udp_flood.py" --vip "$VIP" --port 5005 --seconds 12 --flows 200
flood=${BG_PIDS[-1]}
bg bash -c "for _ in 1 2 3; do ip netns exec cl $PY $TOOLS/client.py --vip $VIP --port 8084 --conns 5 --msgs 2 --timeout 2 >/dev/null 2>&1; done"
forwarding() { [ "$(counter packets_forwarded)" -gt 100 ]; }
wait_until 60 "traffic forwarded before rmmod" forwarding
rmmod sara || fail "rmmod under traffic"
lsmod | grep -q '^sara ' && fail "sara still loaded"
insmod "$REPO/sara.ko" || fail "insmod after rmmod"
[ "$(sarectl service list --json)" = "[]" ] || fail "a reloaded module should start empty"
configure_http 8084 tcp
out=$(in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8084 --conns 6 --msgs 2) || fail "after reload: $out"
wait $flood || true
rmmod sara && insmod "$REPO/sara.ko" || fail "second reload"
info "rmmod/insmod under a 200-flow UDP flood and TCP clients: clean; forwarding resumed"
