#!/bin/bash
# `make demo`: builds the cluster of sara-spec.md in the VM, balances real TCP and UDP traffic through
# sara.ko, and shows what an operator sees. Runs inside the guest (see guest.sh).
. "$REPO/qemu-tests/lib.sh"
show() { echo "DEMO \$ $*"; "$@" 2>&1 | sed 's/^/  /'; }
echo "DEMO loading sara.ko and building the cluster: client -- gateway -- [dispatcher, s1, s2] on one L2 segment"
load_sara
topo_up
echo "DEMO configuring the dispatcher (namespace disp):"
show in_ns disp "$SARECTL" service add "$VIP:8080/tcp"
show in_ns disp "$SARECTL" service add "$VIP:5004/udp"
i=1
for ns in $SERVERS; do
  show in_ns disp "$SARECTL" server add "$i" --ip "10.0.0.1$i" --mac "$(mac_of "$ns")" --dev eth0
  i=$((i + 1))
done
show in_ns disp "$SARECTL" service list
show in_ns disp "$SARECTL" server list
start_servers 8080
start_servers 5004 --udp
echo "DEMO the client opens 20 TCP connections (3 requests each) and 20 UDP flows to $VIP; who answered:"
show in_ns cl "$PY" "$TOOLS/client.py" --vip "$VIP" --port 8080 --conns 20 --msgs 3
show in_ns cl "$PY" "$TOOLS/client.py" --udp --vip "$VIP" --port 5004 --conns 20 --msgs 3
echo "DEMO what the dispatcher counted (replies went from the servers straight to the gateway):"
show in_ns disp "$SARECTL" stats
show in_ns disp "$SARECTL" server list
echo "DEMO the sessions in the dispatcher's flow table (each TCP connection and UDP flow is one session here):"
show in_ns disp "$SARECTL" sessions
show in_ns disp "$SARECTL" stats --prometheus
