# sara.ko loads, registers its generic netlink family and sysfs counters; the cluster comes up.
. "$REPO/qemu-tests/lib.sh"
load_sara
topo_up
[ -r /sys/kernel/sara/stats ] || fail "no /sys/kernel/sara/stats"
in_ns disp cat /sys/kernel/sara/stats | grep -q '^packets_seen 0$' || fail "fresh namespace has non-zero counters"
sarectl stats >/dev/null || fail "sarectl stats: family not reachable"
[ "$(sarectl service list --json)" = "[]" ] || fail "fresh namespace has services"
info "$(dmesg | grep -m1 'sara: loaded')"
