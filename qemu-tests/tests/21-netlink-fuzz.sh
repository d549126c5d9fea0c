# Generic netlink fuzzing (issue #15): tools/nl_fuzz.c sends SARA_FUZZ_MSGS (default 10^5) random
# and mutated datagrams to family `sara` (random commands and attribute types, wrong lengths, nests,
# truncated headers, lying lengths, dump flags, boundary values), 80 % as root and 20 % as an
# unprivileged user, in a network namespace of its own (`fz`, with a dummy eth0), so that whatever
# the fuzzing does to that namespace's SARA instance (HA backup role included) touches no other.
# Checks: the fuzzer's own (every message answered and accounted for; unprivileged: every admin
# command refused with EPERM, nothing changed), no oops/BUG/WARNING/KFENCE in the kernel log since
# the start, the module still answers and unloads; then, after rmmod + insmod, the same known
# configuration plus a replay of exactly the requests the kernel accepted (recorded byte for byte)
# gives the configuration the fuzzing left: the refused requests changed nothing.
#
# Knobs (from the environment, or from run.sh's environment through the guest's command line as
# sara_fuzz_msgs=... etc.): SARA_FUZZ_MSGS (total datagrams, default 100000), SARA_FUZZ_MIN (fewer
# within the time bounds fails; default SARA_FUZZ_MSGS), SARA_FUZZ_SEED, SARA_FUZZ_SECONDS (the root
# part's time bound, default 90; the unprivileged part gets 4/9 of it), SARA_FUZZ_VALID (per mille
# of built requests sent unmutated, default 30: each accepted configuration change costs an RCU grace
# period).
. "$REPO/qemu-tests/lib.sh"
knob() {  # knob NAME DEFAULT: $SARA_FUZZ_NAME, else sara_fuzz_name= of the kernel command line
  local var=SARA_FUZZ_$1 v
  v=${!var:-$(sed -n "s/.*\bsara_fuzz_${1,,}=\([^ ]*\).*/\1/p" /proc/cmdline)}
  v=${v:-$2}
  [[ "$v" =~ ^[0-9]+$ ]] || fail "$var=$v is not a number"
  echo "$v"
}
NS=fz
REC=/tmp/fuzz-accepted.hex
MSGS=$(knob MSGS 100000) || exit 1
MIN=$(knob MIN "$MSGS") || exit 1
# Unprivileged requests are refused early (about 3x the root rate under TCG): 2/5 of them.
ROOT_MSGS=$(( MSGS * 3 / 5 ))
UNPRIV_MSGS=$(( MSGS - ROOT_MSGS ))
# Bounds with a margin of about 2x over an idle host's rate under TCG (root 60k in about 40 s,
# unprivileged 40k in about 12 s), so that a loaded host still sends them all.
ROOT_SECS=$(knob SECONDS 90) || exit 1
UNPRIV_SECS=$(( ROOT_SECS * 4 / 9 > 5 ? ROOT_SECS * 4 / 9 : 5 ))
VALID=$(knob VALID 30) || exit 1
SEED=$(knob SEED "$(date +%s)") || exit 1

# The fuzzer: built on the host by run.sh (gcc under TCG takes long), else here.
FUZZ=$REPO/build/tools/nl_fuzz
if [ ! -x "$FUZZ" ] || [ "$TOOLS/nl_fuzz.c" -nt "$FUZZ" ] || [ "$REPO/sara_kmod/core/src/genl.rs" -nt "$FUZZ" ]; then
  echo "build/tools/nl_fuzz missing or older than its sources: building it in the guest"
  "$TOOLS/build-nl-fuzz.sh" /tmp/nl_fuzz-build || fail "cannot build nl_fuzz (see the compiler's messages above)"
  FUZZ=/tmp/nl_fuzz-build/nl_fuzz
fi

fz() { ip netns exec "$NS" "$@"; }
fz_ctl() { fz "$SARECTL" "$@"; }
finish() { cleanup; ip netns del "$NS" 2>/dev/null; true; }
trap finish EXIT

# The known configuration: one service and two servers on the namespace's dummy eth0.
known_config() {
  fz_ctl service add 10.0.0.100:8080/tcp || fail "service add 10.0.0.100:8080/tcp"
  fz_ctl server add 1 --ip 10.0.0.11 --mac 02:00:00:00:00:11 --dev eth0 || fail "server add 1"
  fz_ctl server add 2 --ip 10.0.0.12 --mac 02:00:00:00:00:12 --dev eth0 || fail "server add 2"
}
# The namespace's configuration, without what changes by itself (packet counts, live sessions):
# services, servers (with their pushed state), HA role, pushed loads and thresholds, table capacity.
state() {
  fz_ctl service list --json | jq -c 'map(del(.packets))' || echo "STATE-ERROR: service list"
  fz_ctl server list --json | jq -c 'map(del(.packets, .sessions))' || echo "STATE-ERROR: server list"
  fz "$FUZZ" -S || echo "STATE-ERROR: nl_fuzz -S"
}
# A fuzzer run's JSON summary (its last line of output) in words.
summary() {
  jq -r '"\(.messages) datagrams (\(.submessages) messages, \(.bytes) bytes) in \(.duration_ms) ms = \(.rate_per_s)/s, seed \(.seed): \(.accepted) accepted (\(.accepted_changes) state changes, \(.dumps) dumps), \(.refused) refused (\(.refused_by_errno | to_entries | map("\(.key) \(.value)") | join(", "))); \(.config_replacements) configuration replacements at \(.round_us_replacing) us a round, other rounds \(.round_us_other) us"' <<<"$1"
}
# Runs the fuzzer with $1 as the name of its output files; fails the test on its failures.
run_fuzz() {
  local name=$1 rc; shift
  fz "$FUZZ" "$@" >"/tmp/fuzz-$name.out" 2>"/tmp/fuzz-$name.err"
  rc=$?
  echo "--- nl_fuzz $name ($*): exit $rc; its stderr:"
  cat "/tmp/fuzz-$name.err"
  tail -n 1 "/tmp/fuzz-$name.out"
  case "$rc" in
    0) ;;
    1) fail "nl_fuzz $name: $(grep -o 'FAILURE .*' "/tmp/fuzz-$name.err" | head -n 3 | tr '\n' ';') $(tail -n 1 "/tmp/fuzz-$name.out" | jq -c '.failure_kinds')";;
    *) fail "nl_fuzz $name could not run (exit $rc): $(tail -n 3 "/tmp/fuzz-$name.err" | tr '\n' ' ')";;
  esac
}
# Kernel-log lines since the marker that report a problem (and whether the marker is still there).
MARK="sara-test: 21-netlink-fuzz start $$"
klog_since() { dmesg | sed -n "/$MARK/,\$p"; }
BAD='(BUG|WARNING):|Oops|Call Trace|general protection fault|Kernel panic|KFENCE|UBSAN|refcount_t:|list_(add|del) corruption|INFO: (rcu|task).*(stall|blocked)'

# A freshly loaded module (default parameters), as after the reload below: both starts are equal.
rmmod sara 2>/dev/null
insmod "$REPO/sara.ko" || fail "insmod sara.ko"
ip netns del "$NS" 2>/dev/null
ip netns add "$NS" || fail "ip netns add $NS"
fz ip link set lo up
fz ip link add eth0 type dummy || fail "dummy eth0 in $NS"
fz ip link set eth0 up
known_config
before=$(state)
echo "configuration before: $before"
echo "<6>$MARK" >/dev/kmsg
start=$(date +%s.%N)

# 1. As root, recording every accepted state-changing request; 2. as nobody.
run_fuzz root -n "$ROOT_MSGS" -s "$SEED" -t "$ROOT_SECS" -V "$VALID" -r "$REC"
root_json=$(tail -n 1 /tmp/fuzz-root.out)
run_fuzz unpriv -u 65534 -n "$UNPRIV_MSGS" -s "$((SEED + 1))" -t "$UNPRIV_SECS" -V "$VALID"
unpriv_json=$(tail -n 1 /tmp/fuzz-unpriv.out)
took=$(echo "$(date +%s.%N) - $start" | bc)
info "netlink fuzz as root: $(summary "$root_json")"
info "netlink fuzz as uid 65534: $(summary "$unpriv_json")"

# The kernel log: nothing bad since the start, and the start still in it (not rotated away).
log=$(klog_since)
[ -n "$log" ] || fail "the kernel log no longer holds this test's start marker: the fuzzing made the kernel log so much that it rotated (earlier reports may be lost)"
bad=$(echo "$log" | grep -E "$BAD" | head -n 20)
[ -z "$bad" ] || { echo "$log" | grep -E -A30 "$BAD" | head -n 120; fail "kernel log after fuzzing: $(echo "$bad" | head -n 3 | tr '\n' ' ')"; }

# The module still answers, in the fuzzed namespace and in the root one.
after=$(state)
echo "configuration after fuzzing: $after"
echo "$after" | grep -q 'STATE-ERROR' && fail "sara no longer answers after fuzzing: $after"
"$SARECTL" stats >/dev/null || fail "sarectl stats in the root namespace after fuzzing"
changed=no; [ "$after" = "$before" ] || changed=yes

# Count: the messages the acceptance asks for, within the time bounds.
sent=$(( $(jq .messages <<<"$root_json") + $(jq .messages <<<"$unpriv_json") ))
[ "$sent" -ge "$MIN" ] || fail "only $sent of $MSGS datagrams within the time bounds (${ROOT_SECS} s + ${UNPRIV_SECS} s; root rate $(jq .rate_per_s <<<"$root_json")/s): raise SARA_FUZZ_SECONDS or lower SARA_FUZZ_MSGS"

# 3. Same start after a reload, then only what the kernel accepted: the same configuration.
rmmod sara || fail "rmmod after fuzzing (a reference leaked?)"
insmod "$REPO/sara.ko" || fail "insmod after fuzzing"
known_config
[ "$(state)" = "$before" ] || fail "the known configuration differs after the reload: $(state)"
run_fuzz replay -p "$REC"
replay_json=$(tail -n 1 /tmp/fuzz-replay.out)
replayed=$(state)
if [ "$replayed" != "$after" ]; then
  echo "after fuzzing:"; echo "$after" | jq -S . 2>/dev/null
  echo "after replaying the accepted requests:"; echo "$replayed" | jq -S . 2>/dev/null
  diff <(echo "$after" | jq -S . 2>/dev/null) <(echo "$replayed" | jq -S . 2>/dev/null)
  cp "$REC" "$REPO/build/vm-logs/21-netlink-fuzz.accepted.hex" 2>/dev/null
  fail "replaying the $(jq .messages <<<"$replay_json") accepted requests gives another configuration than the fuzzing left (seed $SEED; the requests: build/vm-logs/21-netlink-fuzz.accepted.hex)"
fi
log=$(klog_since)
bad=$(echo "$log" | grep -E "$BAD" | head -n 20)
[ -z "$bad" ] || fail "kernel log after the replay: $(echo "$bad" | head -n 3 | tr '\n' ' ')"

info "replay after rmmod/insmod: $(jq .messages <<<"$replay_json") accepted requests re-sent, $(jq .accepted <<<"$replay_json") accepted again ($(jq .replay_refused_nondeterministic <<<"$replay_json") flow-dependent ones refused), configuration equal to the fuzzed one (fuzzing changed it: $changed)"
info "netlink fuzz total: $sent datagrams in $(printf '%.1f' "$took") s; kernel log: $(echo "$log" | wc -l) lines since the start, no oops/BUG/WARNING/KFENCE"
ip netns del "$NS"
