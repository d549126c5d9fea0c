# `sarectl apply -f cluster.json` replaces services and servers in one step; `sarectl show` prints
# the running configuration in the same format (round trip); a file the kernel refuses changes
# nothing; a wrong file names the field at fault.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
# Start from servers without pushed state (an earlier test may have left some down).
sarectl server del 1 2>/dev/null; sarectl server del 2 2>/dev/null
m1=$(mac_of s1); m2=$(mac_of s2)
cat >/tmp/c1.json <<JSON
{"services": [{"vip": "$VIP", "port": 8087, "protocol": "tcp", "policy": "hash", "timeout": 40},
              {"vip": "$VIP", "port": 5006, "protocol": "udp"}],
 "servers": [{"id": 1, "ip": "10.0.0.11", "mac": "$m1", "dev": "eth0"},
             {"id": 2, "ip": "10.0.0.12", "mac": "$m2", "dev": "eth0", "weight": 2}]}
JSON
sarectl apply -f /tmp/c1.json || fail "apply"
show=$(sarectl show) || fail "show"
echo "$show"
[ "$(echo "$show" | jq '.services | length')" = 2 ] || fail "show lists $(echo "$show" | jq '.services | length') services"
[ "$(echo "$show" | jq '.servers | length')" = 2 ] || fail "show lists $(echo "$show" | jq '.servers | length') servers"
echo "$show" >/tmp/c2.json
sarectl apply -f /tmp/c2.json || fail "applying show's output"
[ "$(sarectl show)" = "$show" ] || fail "show -> apply -> show is not a round trip"

start_servers 8087
out=$(in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8087 --conns 10 --msgs 2) || fail "client: $out"
for ns in $SERVERS; do echo "$out" | grep -q "\"$ns\": [1-9]" || fail "server $ns got no connection: $out"; done
pk=$(sarectl service list --json | jq '.[] | select(.port == 8087) | .packets')
[ "$pk" -gt 0 ] || fail "service counted no packets"
sarectl apply -f /tmp/c2.json || fail "re-apply"
[ "$(sarectl service list --json | jq '.[] | select(.port == 8087) | .packets')" -ge "$pk" ] || fail "re-applying the same service reset its counters"

# The kernel refuses (an interface that does not exist): exit 1, nothing changes.
sed "s/\"dev\": \"eth0\", \"weight\": 2/\"dev\": \"nosuch0\", \"weight\": 2/" /tmp/c1.json >/tmp/bad-kernel.json
grep -q nosuch0 /tmp/bad-kernel.json || fail "test set-up: no bad interface in the file"
out=$(sarectl apply -f /tmp/bad-kernel.json 2>&1); rc=$?
[ "$rc" = 1 ] || fail "kernel refusal: exit $rc ($out)"
[ "$(sarectl show)" = "$show" ] || fail "a refused apply changed the configuration"
info "refused apply -> $out"

# A wrong file: exit 2 with the field at fault, nothing sent.
cat >/tmp/bad-file.json <<JSON
{"servers": [{"id": 1, "ip": "10.0.0.11", "mac": "52:54:00:12:34", "dev": "eth0"}]}
JSON
out=$(sarectl apply -f /tmp/bad-file.json 2>&1); rc=$?
[ "$rc" = 2 ] || fail "wrong file: exit $rc ($out)"
echo "$out" | grep -q 'servers\[0\].mac' || fail "wrong file: message does not name servers[0].mac: $out"
[ "$(sarectl show)" = "$show" ] || fail "a wrong file changed the configuration"
info "wrong file -> $out"
sarectl service del "$VIP:8087/tcp"; sarectl service del "$VIP:5006/udp"
