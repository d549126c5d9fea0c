# Flood: up to 4·10^5 new UDP flows from a generator (bounded in count, 4·10^5, and time, 120 s: under
# TCG the path forwards about 4000 packets a second, so the count ends it after some 100 s on an idle
# host, the time bound on a loaded one; some 25 fillings of the table, enough for memory growth per
# flow to show) against a
# table of 16384 flows: memory stays bounded (the table is preallocated; the kernel's memory barely moves),
# sessions established before the flood keep flowing during and after it, table-full refusals are
# counted, and the purge empties the table again once the flood's flows expire.
. "$REPO/qemu-tests/lib.sh"
lsmod | grep -q '^sara ' && { rmmod sara || fail "rmmod"; }
insmod "$REPO/sara.ko" flow_capacity=16384 || fail "insmod flow_capacity=16384"
topo_up
sarectl service add "$VIP:9400/udp" --timeout 300 || fail "service add"
sarectl service add "$VIP:9401/udp" --timeout 10 || fail "service add flood"
add_servers
start_servers 9400 --udp
cap=$(counter table_capacity)
[ "$cap" = 16384 ] || fail "table capacity $cap, expected 16384"
gcc -O2 -o /tmp/flood "$TOOLS/flood.c" || fail "cannot build the flood generator"
step=/tmp/flood.step; rm -f $step
bg in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9400 --sessions 20 --base-port 24000 --rounds 3 --wait 6 --retries 2 \
  --step-file $step >/tmp/flood-est.out
wait_lines /tmp/flood-est.out 1
[ "$(json_get "$(sed -n 1p /tmp/flood-est.out)" .answered)" = 20 ] || fail "sessions before the flood: $(cat /tmp/flood-est.out)"
# The kernel's memory, KiB: what is in use but neither processes' pages, nor the page cache (tmpfs
# included: a test's files in /tmp), nor free pages parked in the per-CPU lists (free, but not counted
# in MemFree; 6.12 grows those lists under a burst of allocations): slab, vmalloc, page tables, kernel
# stacks and pages taken straight from the page allocator (skbs' data among them). A table that
# allocated per flow, or a leak of packets, shows here; memory that other tests' processes or files
# take or give back (MemAvailable moved by 33 MiB once in a full run, for no cause of SARA's) does not.
kmem() {
  local pcp
  pcp=$(awk '$1 == "count:" {s += $2} END {print s * 4}' /proc/zoneinfo)
  awk -v pcp="$pcp" '{m[$1] = $2} END {
    print m["MemTotal:"] - m["MemFree:"] - m["Buffers:"] - m["Cached:"] - m["AnonPages:"] - pcp}' /proc/meminfo
}
meminfo_kib() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }
cp /proc/meminfo /tmp/flood-meminfo.0
kmem0=$(kmem); mem0=$(meminfo_kib MemAvailable); slab0=$(meminfo_kib Slab)
full0=$(counter dropped_table_full); est0=$(counter dropped_admission_established)
# Flood in the background, from the gateway (one routing hop less: more packets per second under
# TCG), with the clients' addresses 10.0.1.10-250 spoofed; the established sessions talk in the
# middle of it.
in_ns gw /tmp/flood "$VIP" 9401 400000 120 10 250 >/tmp/flood.out 2>&1 &
fpid=$!
# The established sessions' second round once the flood fills the table (refusals counted).
table_full() { [ "$(counter dropped_table_full)" -gt "$full0" ] || ! kill -0 "$fpid" 2>/dev/null; }
WAIT_DETAIL='echo "flows $(counter flows), packets_seen $(counter packets_seen), sessions_created $(counter sessions_created); gateway neighbours: $(in_ns gw ip neigh show dev eth0 | tr "\n" ";"); VIP at $(mac_of disp) (disp); flood: $(cat /tmp/flood.out)"' \
  wait_until 240 "the flood fills the table" table_full
echo 2 >$step
wait_lines /tmp/flood-est.out 2
wait "$fpid" || fail "flood generator failed: $(cat /tmp/flood.out)"
flows_peak=$(counter flows)
echo 3 >$step
wait_lines /tmp/flood-est.out 3
kmem1=$(kmem); mem1=$(meminfo_kib MemAvailable); slab1=$(meminfo_kib Slab)
cp /proc/meminfo /tmp/flood-meminfo.1
meminfo_diff() {
  awk 'NR == FNR {a[$1] = $2; next} $2 != a[$1] && ($2 - a[$1] > 1024 || a[$1] - $2 > 1024) {
    printf "%s %+d; ", $1, ($2 - a[$1]) / 1024}' /tmp/flood-meminfo.0 /tmp/flood-meminfo.1
}
full=$(( $(counter dropped_table_full) - full0 ))
r2=$(sed -n 2p /tmp/flood-est.out); r3=$(sed -n 3p /tmp/flood-est.out)
info "flood: $(cat /tmp/flood.out); table $cap flows, peak $flows_peak in use; dropped_table_full +$full; kernel memory $((kmem0/1024)) -> $((kmem1/1024)) MiB, Slab $((slab0/1024)) -> $((slab1/1024)) MiB, MemAvailable $((mem0/1024)) -> $((mem1/1024)) MiB"
info "meminfo changes over 1 MiB during the flood (MiB): $(meminfo_diff)"
info "established sessions during the flood: $(json_get "$r2" .answered)/20 answered, after: $(json_get "$r3" .answered)/20"
[ "$(json_get "$r2" .answered)" = 20 ] || fail "established sessions lost during the flood: $r2"
[ "$(json_get "$r3" .answered)" = 20 ] || fail "established sessions lost after the flood: $r3"
[ "$(counter dropped_admission_established)" = "$est0" ] || fail "established packets dropped"
[ "$full" -gt 0 ] || fail "the flood never filled the table (no table-full refusals counted)"
[ "$flows_peak" -le "$cap" ] || fail "more flows ($flows_peak) than capacity ($cap)"
[ $(( (kmem1 - kmem0) / 1024 )) -lt 32 ] || fail "the kernel's memory grew by $(( (kmem1 - kmem0) / 1024 )) MiB during the flood (meminfo changes over 1 MiB, MiB: $(meminfo_diff))"
[ $(( (slab1 - slab0) / 1024 )) -lt 16 ] || fail "Slab grew by $(( (slab1 - slab0) / 1024 )) MiB during the flood (meminfo changes over 1 MiB, MiB: $(meminfo_diff))"
# The flood's flows expire after 2 × 10 s; the purge reclaims them within about a second more.
end=$(( $(date +%s) + 45 ))
while [ "$(counter flows)" -gt 100 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
left=$(counter flows)
[ "$left" -le 100 ] || fail "the purge left $left flows 45 s after the flood"
info "after the flood: $left flows left in the table (purged: flows_expired $(counter flows_expired))"
cleanup
sarectl service del "$VIP:9400/udp"; sarectl service del "$VIP:9401/udp"
del_servers
rmmod sara || fail "rmmod"
load_sara
