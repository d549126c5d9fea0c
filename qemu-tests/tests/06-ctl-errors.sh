# sarectl as an unprivileged user cannot change anything and says why; malformed requests (missing
# attributes, 5-byte MAC, unknown interface, duplicate service) are refused with a clear message and
# the state is unchanged (checked by listing).
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
configure_http 8083 tcp
# The configuration, without what traffic changes by itself (packet counts, live sessions: flows of
# earlier tests expire meanwhile).
state() {
  sarectl service list --json | jq -c 'map(del(.packets))'
  sarectl server list --json | jq -c 'map(del(.packets, .sessions))'
}
before=$(state)

expect_refusal() {  # expect_refusal "what" "message regexp" command...
  local what=$1 re=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  [ "$rc" = 1 ] || fail "$what: expected exit code 1, got $rc ($out)"
  echo "$out" | grep -qiE "$re" || fail "$what: message '$out' does not match /$re/"
  [ "$(state)" = "$before" ] || fail "$what: state changed"
  info "$what -> $(echo "$out" | head -n1)"
}

nobody() { in_ns disp setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$SARECTL" "$@"; }
expect_refusal "unprivileged service add" "CAP_NET_ADMIN" nobody service add "$VIP:9999/tcp"
expect_refusal "unprivileged server del" "CAP_NET_ADMIN" nobody server del 1
# Reading is allowed to everybody.
nobody service list >/dev/null || fail "unprivileged service list should work"

expect_refusal "duplicate service" "already exists" sarectl service add "$VIP:8083/tcp"
expect_refusal "duplicate server id" "already exists" \
  sarectl server add 1 --ip 10.0.0.31 --mac 02:00:00:00:00:31 --dev eth0
expect_refusal "unknown interface" "interface" \
  sarectl server add 7 --ip 10.0.0.17 --mac 02:00:00:00:00:17 --dev nosuch0
expect_refusal "delete a missing service" "not found|no such" sarectl service del "$VIP:1234/udp"
# Requests sarectl itself would never send, straight to the kernel: its policy must refuse them.
# VIP 10.0.0.100 = 0a000064, port 9999 = 270f (host order, little endian: 0f27), tcp = 06.
expect_refusal "service add without port" "port" \
  sarectl debug send-raw --cmd 1 --attr 1:0a000064 --attr 3:06
expect_refusal "service add without protocol" "protocol" \
  sarectl debug send-raw --cmd 1 --attr 1:0a000064 --attr 2:0f27
expect_refusal "service add with protocol 1 (icmp)" "tcp.*udp" \
  sarectl debug send-raw --cmd 1 --attr 1:0a000064 --attr 2:0f27 --attr 3:01
expect_refusal "server add with a 5-byte MAC" "invalid|length|MAC|attribute" \
  sarectl debug send-raw --cmd 4 --attr 7:09000000 --attr 8:0a000013 --attr 9:0200000000 --attr 10:65746830
expect_refusal "server add with a multicast MAC" "unicast" \
  sarectl debug send-raw --cmd 4 --attr 7:09000000 --attr 8:0a000013 --attr 9:010000000009 --attr 10:6574683000
expect_refusal "server id 0" "invalid|range|attribute|id" \
  sarectl debug send-raw --cmd 4 --attr 7:00000000 --attr 8:0a000013 --attr 9:020000000009 --attr 10:6574683000
expect_refusal "unknown attribute" "invalid|unknown|attribute|unsupported" \
  sarectl debug send-raw --cmd 3 --attr 99:00
sarectl service del "$VIP:8083/tcp"
