# Server selection: with forecasts pushed, new sessions go to the least-forecast server (eq. 9); a
# burst of 100 new sessions between two pushes is spread by the per-session increment, not herded
# onto one server; round robin, random and least sessions are selectable per service.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
sarectl service add "$VIP:9200/udp" --policy forecast --timeout 300 || fail "service add"
add_servers
start_servers 9200 --udp
# Each call from its own range of source ports ($3): a reused port would meet its earlier session.
sessions() { in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port "$1" --sessions "$2" --wait 4 --base-port "$3"; }
got() { json_get "$1" ".servers.$2 // 0"; }

# Least forecast, no increment: all to s2.
push --cluster 300 --thresholds 997,998,999,1000 --increment 0 --server 1:600 --server 2:200
out=$(sessions 9200 30 20000)
[ "$(got "$out" s2)" = 30 ] || fail "forecasts s1=600 s2=200: expected all 30 new sessions on s2: $out"
info "forecast s1=600, s2=200: 30 new sessions -> $(echo "$out" | jq -c .servers)"
push --increment 0 --server 1:100 --server 2:700
out=$(sessions 9200 30 20100)
[ "$(got "$out" s1)" = 30 ] || fail "forecasts s1=100 s2=700: expected all 30 on s1: $out"
info "forecast s1=100, s2=700: 30 new sessions -> $(echo "$out" | jq -c .servers)"

# Burst between two pushes: s1=300, s2=200, +5 per mille per session: s2 takes the first ~20,
# then they alternate.
push --increment 5 --server 1:300 --server 2:200
out=$(sessions 9200 100 20200)
s1=$(got "$out" s1); s2=$(got "$out" s2)
[ $((s1 + s2)) = 100 ] || fail "burst: not all 100 sessions answered: $out"
[ "$s1" -ge 25 ] && [ "$s2" -ge 50 ] || fail "burst of 100 not spread as the increment says (expected about s1=40, s2=60): $out"
info "burst of 100 new sessions after one push (s1=300, s2=200, +5/session): s1=$s1, s2=$s2"

# Round robin: exactly alternating.
sarectl service add "$VIP:9201/udp" --policy rr --timeout 300 || fail "service add rr"
start_servers 9201 --udp
out=$(sessions 9201 20 20400)
[ "$(got "$out" s1)" = 10 ] && [ "$(got "$out" s2)" = 10 ] || fail "rr: expected 10/10: $out"
info "rr: 20 sessions -> $(echo "$out" | jq -c .servers)"

# Random: both used.
sarectl service add "$VIP:9202/udp" --policy random --timeout 300 || fail "service add random"
start_servers 9202 --udp
out=$(sessions 9202 40 20500)
[ "$(got "$out" s1)" -ge 5 ] && [ "$(got "$out" s2)" -ge 5 ] || fail "random: both servers should get sessions: $out"
info "random: 40 sessions -> $(echo "$out" | jq -c .servers)"

# Least sessions: evens out the live sessions of both servers (counted across services).
sarectl service add "$VIP:9203/udp" --policy least-sessions --timeout 300 || fail "service add ls"
start_servers 9203 --udp
before=$(sarectl server list --json | jq -c '[.[] | .sessions]')
n=$(sarectl server list --json | jq '[.[] | .sessions] | (max - min) + 10')
out=$(sessions 9203 "$n" 20600)
after=$(sarectl server list --json | jq -c '[.[] | .sessions]')
diff=$(sarectl server list --json | jq '[.[] | .sessions] | max - min')
[ "$diff" -le 1 ] || fail "least-sessions: sessions per server $before -> $after after $n new sessions"
info "least-sessions: live sessions per server $before -> $after after $n new sessions ($(echo "$out" | jq -c .servers))"

cleanup
push_reset
for p in 9200 9201 9202 9203; do sarectl service del "$VIP:$p/udp"; done
del_servers
