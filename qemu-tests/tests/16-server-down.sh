# A server marked down gets no new sessions; its established sessions are re-dispatched to another
# server at once (down_action redispatch, the default) or kept on it (down_action keep).
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
sarectl service add "$VIP:9300/udp" --policy rr --timeout 300 || fail "service add"
sarectl service add "$VIP:9301/udp" --policy rr --timeout 300 --down-action keep || fail "service add keep"
add_servers
start_servers 9300 --udp
start_servers 9301 --udp
step=/tmp/down.step; rm -f $step
bg in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9300 --sessions 20 --rounds 2 --wait 4 --base-port 23000 --step-file $step >/tmp/down-r.out
bg in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9301 --sessions 20 --rounds 2 --wait 4 --base-port 23100 --step-file $step >/tmp/down-k.out
wait_lines /tmp/down-r.out 1; wait_lines /tmp/down-k.out 1
r1=$(sed -n 1p /tmp/down-r.out); k1=$(sed -n 1p /tmp/down-k.out)
[ "$(json_get "$r1" '.servers.s2 // 0')" = 10 ] || fail "rr should have put 10 sessions on s2: $r1"
[ "$(json_get "$k1" '.servers.s2 // 0')" = 10 ] || fail "rr should have put 10 sessions on s2: $k1"
m0=$(counter sessions_redispatched)
push --server 2:0:down
sarectl server list
echo 2 >$step
wait_lines /tmp/down-r.out 2; wait_lines /tmp/down-k.out 2
r2=$(sed -n 2p /tmp/down-r.out); k2=$(sed -n 2p /tmp/down-k.out)
[ "$(json_get "$r2" .answered)" = 20 ] && [ "$(json_get "$r2" '.servers.s1 // 0')" = 20 ] \
  || fail "redispatch: all 20 established sessions should now be answered by s1: $r2"
[ $(( $(counter sessions_redispatched) - m0 )) = 10 ] || fail "expected 10 sessions re-dispatched, counter says $(( $(counter sessions_redispatched) - m0 ))"
[ "$(json_get "$k2" '.servers.s2 // 0')" = 10 ] && [ "$(json_get "$k2" .answered)" = 20 ] \
  || fail "keep: the 10 sessions of s2 should stay on s2: $k2"
out=$(in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9301 --sessions 10 --wait 3 --base-port 23200)
[ "$(json_get "$out" '.servers.s2 // 0')" = 0 ] || fail "new sessions reached the down server: $out"
info "server 2 down: redispatch service -> $(echo "$r2" | jq -c .servers) (10 moved), keep service -> $(echo "$k2" | jq -c .servers), 10 new sessions -> $(echo "$out" | jq -c .servers)"
cleanup
push --server 2:0:up
push_reset
sarectl service del "$VIP:9300/udp"; sarectl service del "$VIP:9301/udp"
del_servers
