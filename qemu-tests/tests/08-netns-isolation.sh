# One instance per network namespace: services, servers and counters of one namespace are invisible
# in another.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 8085 tcp
in_ns disp "$SARECTL" service list | grep -q 8085 || fail "service missing in disp"
[ "$(in_ns s1 "$SARECTL" service list --json)" = "[]" ] || fail "disp's service visible in s1"
[ "$(in_ns s1 "$SARECTL" server list --json)" = "[]" ] || fail "disp's servers visible in s1"
in_ns s1 "$SARECTL" service add 10.9.9.9:80/tcp || fail "service add in s1"
in_ns disp "$SARECTL" service list | grep -q 10.9.9.9 && fail "s1's service visible in disp"
in_ns s1 "$SARECTL" service del 10.9.9.9:80/tcp
[ "$(in_ns s2 cat /sys/kernel/sara/packets_forwarded)" = 0 ] || fail "s2 counts packets it never saw"
sarectl service del "$VIP:8085/tcp"
info "services, servers and counters are per network namespace"
