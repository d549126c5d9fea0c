# Admission control (spec SA2C), with loads and thresholds pushed as the manager does:
# - T1 < x ≤ T2: new sessions are refused with probability (x−T1)/(T2−T1), within statistical
#   tolerance (400 attempts at p = 0.5: ±0.1 is four standard deviations);
# - T2 < x < T3: every new session is refused while every established session keeps flowing
#   (zero established drops, every datagram answered by its server);
# - x ≥ C: everything is refused.
. "$REPO/qemu-tests/lib.sh"
load_sara; topo_up
sarectl service add "$VIP:9100/udp" --timeout 300 || fail "service add"
add_servers
start_servers 9100 --udp
TH=600,800,900,1000

# 1. x = 700: p_new = 0.5.
push --cluster 700 --dispatcher 100 --thresholds $TH
d0=$(counter dropped_admission_new); c0=$(counter sessions_created)
out=$(in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9100 --sessions 400 --wait 5 --base-port 20000)
refused=$(( $(counter dropped_admission_new) - d0 )); created=$(( $(counter sessions_created) - c0 ))
answered=$(json_get "$out" .answered)
[ $((refused + created)) = 400 ] || fail "400 attempts but $refused refused + $created created"
[ "$answered" = "$created" ] || fail "$created sessions admitted but $answered answered: $out"
share=$(echo "scale=3; $refused / 400" | bc)
[ "$(echo "$share >= 0.4 && $share <= 0.6" | bc)" = 1 ] || fail "refused share $share at p = 0.5"
info "x=700 (T1=600, T2=800): refused $refused of 400 new sessions (share $share, expected 0.5 ± 0.1)"

# 2. Sessions opened at x = 0, then x = 850: new refused, established all flow.
push --cluster 0 --dispatcher 0 --thresholds $TH
step=/tmp/adm.step; rm -f $step
bg in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9100 --sessions 50 --rounds 3 --wait 4 --base-port 21000 \
  --step-file $step --only-answered >/tmp/adm.out
wait_lines /tmp/adm.out 1
r1=$(sed -n 1p /tmp/adm.out)
[ "$(json_get "$r1" .answered)" = 50 ] || fail "at x=0 not every session was admitted: $r1"
push --cluster 850 --dispatcher 0 --thresholds $TH
e0=$(counter dropped_admission_established); d0=$(counter dropped_admission_new)
echo 2 >$step
out=$(in_ns cl "$PY" "$TOOLS/udp_sessions.py" --vip "$VIP" --port 9100 --sessions 100 --wait 3 --base-port 22000)
wait_lines /tmp/adm.out 2
r2=$(sed -n 2p /tmp/adm.out)
[ "$(json_get "$r2" .answered)" = 50 ] || fail "at x=850 established sessions lost datagrams: $r2"
[ "$(counter dropped_admission_established)" = "$e0" ] || fail "established packets dropped at x=850"
[ "$(json_get "$out" .answered)" = 0 ] || fail "new sessions admitted at x=850: $out"
[ $(( $(counter dropped_admission_new) - d0 )) = 100 ] || fail "not all 100 new sessions were refused"
info "x=850 (T2=800 < x < T3=900): 100/100 new sessions refused, 50/50 established sessions answered, 0 established drops"

# 3. x = 1000 = C: established refused too.
push --cluster 1000 --dispatcher 0 --thresholds $TH
echo 3 >$step
wait_lines /tmp/adm.out 3
r3=$(sed -n 3p /tmp/adm.out)
[ "$(json_get "$r3" .answered)" = 0 ] || fail "at x=C established datagrams still answered: $r3"
[ "$(counter dropped_admission_established)" -ge $((e0 + 50)) ] || fail "established drops not counted at x=C"
info "x=1000 (= C): 0/50 established sessions answered, dropped_admission_established +$(( $(counter dropped_admission_established) - e0 ))"

cleanup
push_reset
sarectl service del "$VIP:9100/udp"
del_servers
