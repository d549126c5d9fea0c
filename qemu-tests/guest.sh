#!/bin/bash
# Runs inside the VM (chrooted into the host's root, see qemu-tests/init): loads nothing by itself;
# each test in qemu-tests/tests/ is a bash script that exits 0 on success. Prints one line per test and
# "N passed, N failed" at the end. Usage: guest.sh test|soak|demo|bench [comma-separated globs]
mode=${1:-test}
filter=${2:-all}
export REPO=$(cd "$(dirname "$0")/.." && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LC_ALL=C
export KDIR=$(sed -n 's/.*\bsara_kdir=\([^ ]*\).*/\1/p' /proc/cmdline)
cd /tmp || exit 1
. "$REPO/qemu-tests/lib.sh"

dmesg -n 4 2>/dev/null   # keep the console for warnings and worse
echo "INFO guest kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs ($(dmesg | grep -m1 -o "Brought up.*")), $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"

if [ "$mode" = demo ]; then
  bash "$REPO/qemu-tests/demo.sh"
  exit 0
fi
if [ "$mode" = bench ]; then
  bash "$REPO/qemu-tests/bench.sh"
  exit 0
fi

# kmemleak (scripts/kernel.config), in the memory-checking boot only (run.sh --memcheck; the others
# boot with kmemleak=off): forget what boot left (early allocations it cannot judge), so the scan at
# the end reports only what the tests' run leaked.
memcheck=$(sed -n 's/.*\bsara_memcheck=\([0-9]*\).*/\1/p' /proc/cmdline)
logs=$(sed -n 's/.*\bsara_logs=\([^ ]*\).*/\1/p' /proc/cmdline); logs=${logs:-vm-logs}
KMEMLEAK=/sys/kernel/debug/kmemleak
if [ "$memcheck" = 1 ]; then
  mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
  [ -e "$KMEMLEAK" ] && echo clear >"$KMEMLEAK" 2>/dev/null
fi
passed=0
failed=0
# The memory check's self-check, before the tests: a planted leak (tools/leak_probe.c, built by
# run.sh) must be reported by kmemleak, else the leak check at the end would prove nothing. Once seen,
# the report is cleared ("clear": kmemleak no longer reports what it has reported) and the module
# unloaded. An object is reported once unreferenced for 5 s; a scan takes seconds under TCG.
if [ "$memcheck" = 1 ] && [ -e "$KMEMLEAK" ]; then
  probe="$REPO/build/leak-probe/sara_leak_probe.ko"
  found=0
  # Its insmod's pid names the planted objects in kmemleak's report (comm "insmod", pid N): one of
  # them may stay hidden by a stale stack word past the "clear" below and be reported only at the
  # end (CI, b7e295b), so the final check leaves out exactly that process's objects.
  insmod "$probe" 2>/tmp/leak-probe.err &
  probe_pid=$!
  if wait "$probe_pid"; then
    end=$(( $(date +%s) + 180 ))
    while [ "$(date +%s)" -lt "$end" ]; do
      sleep 2
      echo scan >"$KMEMLEAK" 2>/dev/null
      # (The module's name, as its backtrace shows it: sara_leak_probe_one+0x…/0x… [sara_leak_probe];
      # the init function itself is freed after loading, so its frame has no name left.)
      if grep -q 'sara_leak_probe' "$KMEMLEAK"; then found=1; break; fi
    done
    echo clear >"$KMEMLEAK" 2>/dev/null
    rmmod sara_leak_probe 2>/dev/null
    why="kmemleak did not report the planted leak within 180 s (the leak check at the end would prove nothing)"
  else
    why="the planted-leak module did not load: $(head -c 300 /tmp/leak-probe.err) (run.sh builds it: tools/build-leak-probe.sh)"
  fi
  if [ "$found" = 1 ]; then
    passed=$((passed + 1))
    echo "PASS kmemleak-reports-a-planted-leak"
  else
    failed=$((failed + 1))
    echo "FAIL kmemleak-reports-a-planted-leak  FAILED: $why"
  fi
fi

selected() {
  [ "$filter" = all ] && return 0
  local g globs
  # Split on commas without pathname expansion (a glob like 0* must not match the logs in /tmp).
  IFS=, read -r -a globs <<<"$filter"
  for g in "${globs[@]}"; do
    # shellcheck disable=SC2254 # $g is a pattern on purpose
    case "$1" in $g) return 0;; esac
  done
  return 1
}
# After a failed test, the cluster as the next test expects it: a failing test may exit before its
# own teardown (services, servers, a module parameter, peers still running, disp2, the VIP moved).
# Every process in the test namespaces is killed and sara.ko reloaded with its defaults.
reset_after_failure() {
  local ns left end=$(( $(date +%s) + 10 ))
  for ns in $(ip netns list | cut -d' ' -f1); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  done
  # Gone once no namespace lists a process (SIGKILL is not instant for a process in a system call).
  while :; do
    left=$(for ns in $(ip netns list | cut -d' ' -f1); do ip netns pids "$ns" 2>/dev/null; done)
    [ -z "$left" ] || [ "$(date +%s)" -ge "$end" ] && break
    sleep 0.1
  done
  ip netns list | cut -d' ' -f1 | grep -qx disp && restore_disp
  rmmod sara 2>/dev/null; insmod "$REPO/sara.ko" 2>/dev/null \
    || echo "  (reset after the failure: sara.ko could not be reloaded: $(lsmod | grep '^sara '))"
}
# Whole logs go to the host's build/vm-logs/ (a writable 9p share mounted there by /init), so a
# developer can read them after the run; the console shows the reason and the tail.
logdir="$REPO/build/vm-logs"
touch "$logdir/.probe" 2>/dev/null && rm -f "$logdir/.probe" || logdir=
repeat=$(sed -n 's/.*\bsara_repeat=\([0-9]*\).*/\1/p' /proc/cmdline)
repeat=${repeat:-1}
# The tests, or (make soak) the soak alone, run by the same loop: same logs, same final checks.
if [ "$mode" = soak ]; then
  test_files=("$REPO/qemu-tests/soak.sh")
  soak_minutes=$(sed -n 's/.*\bsara_soak_minutes=\([0-9]*\).*/\1/p' /proc/cmdline)
  soak_minutes=${soak_minutes:-30}
else
  test_files=("$REPO"/qemu-tests/tests/*.sh)
fi
declare -A runs_ok=()
order=()
for round in $(seq "$repeat"); do
  [ "$repeat" -gt 1 ] && echo "INFO round $round of $repeat"
  for t in "${test_files[@]}"; do
    name=$(basename "$t" .sh)
    selected "$name" || continue
    [ "$round" = 1 ] && { order+=("$name"); runs_ok[$name]=0; }
    suffix=; [ "$repeat" -gt 1 ] && suffix=".r$round"
    log="/tmp/$name$suffix.log"
    start=$(date +%s.%N)
    # A test may ask for a longer bound than 480 s with a line "# vm-timeout: SECONDS".
    limit=$(sed -n 's/^# vm-timeout: \([0-9]*\)$/\1/p' "$t" | head -n 1)
    [ "$mode" = soak ] && limit=$(( soak_minutes * 60 + 1500 ))
    # kmemleak on makes a test up to 4x slower (docs/decisions.md): its bound grows alike.
    [ "$memcheck" = 1 ] && [ "$mode" = test ] && limit=$(( ${limit:-480} * 4 ))
    # 20 s before the bound, what is still running goes into the log: a test that hangs (in a
    # teardown, say) shows what it waits on.
    ( sleep $(( ${limit:-480} - 20 )) && ps -eo pid,ppid,etimes,stat,wchan:24,args --forest >"$log.ps" 2>&1 ) &
    watchdog=$!
    timeout -k 30 "${limit:-480}" bash "$t" >"$log" 2>&1
    rc=$?
    pkill -P "$watchdog" 2>/dev/null; kill "$watchdog" 2>/dev/null; wait "$watchdog" 2>/dev/null
    if [ -s "$log.ps" ]; then
      { echo "=== harness: processes running 20 s before the test's ${limit:-480} s bound:"; cut -c1-300 "$log.ps"; } >>"$log"
    fi
    rm -f "$log.ps"
    took=$(printf '%5.1f' "$(echo "$(date +%s.%N) - $start" | bc)")
    [ -n "$logdir" ] && cp "$log" "$logdir/"
    if [ "$rc" = 0 ]; then
      passed=$((passed + 1))
      runs_ok[$name]=$((runs_ok[$name] + 1))
      printf 'PASS %-40s %s s\n' "$name" "$took"
      grep -E '^INFO' "$log" | sed 's/^/  /'
    else
      failed=$((failed + 1))
      # The reason first, on the FAIL line itself: the test's first FAILED line (or the time-out),
      # then where its whole log is, then the end of that log.
      # (Anywhere in a line: a peer's output without a final newline may precede it.)
      reason=$(grep -o -m1 'FAILED: .*' "$log" | cut -c1-600)
      [ "$rc" = 124 ] && reason="FAILED: the test did not finish within ${limit:-480} s (killed by the harness)${reason:+; it had said: $reason}"
      [ -n "$reason" ] || reason="FAILED: exit status $rc without a FAILED line"
      printf 'FAIL %-40s %s s  %s\n' "$name" "$took" "$reason"
      where="build/$logs/$name$suffix.log"; [ -n "$logdir" ] || where="$log (in the guest only)"
      echo "  log: $where; its last 30 lines:"
      tail -n 30 "$log" | cut -c1-400 | sed 's/^/  | /'
      reset_after_failure
    fi
  done
done
if [ "$repeat" -gt 1 ]; then
  for name in "${order[@]}"; do
    echo "INFO repeat $name: ${runs_ok[$name]} of $repeat passed"
  done
fi

# Last: the kernel log must be clean of any report, whatever the tests did.
# Lockdep, might_sleep and RCU-usage reports all start with "WARNING:" or "BUG:".
bad=$(dmesg | grep -E '(BUG|WARNING):|Oops|Call Trace|general protection fault|Kernel panic|INFO: (rcu|task).*(stall|blocked)' | head -n 20)
if [ -z "$bad" ]; then
  passed=$((passed + 1))
  echo "PASS kernel-log-clean"
else
  failed=$((failed + 1))
  echo "FAIL kernel-log-clean"
  echo "$bad" | sed 's/^/  | /'
  dmesg | grep -E -A30 '(BUG|WARNING):|Oops' | head -n 80 | sed 's/^/  | /'
fi
# Then kmemleak, in the memory-checking boot only: two forced scans (an object is reported once it has been
# unreferenced for 5 s, so the first scan after the last test may still see its last frees pending),
# then every suspected leak fails the run. A kernel without kmemleak, or one whose kmemleak turned
# itself off (its early pool ran out, or an internal error), says so: the check would then see nothing.
if [ "$memcheck" != 1 ]; then
  :   # kmemleak=off in this boot
elif [ ! -e "$KMEMLEAK" ]; then
  failed=$((failed + 1))
  echo "FAIL kernel-memory-leaks  FAILED: no kmemleak in this kernel (scripts/kernel.config has CONFIG_DEBUG_KMEMLEAK=y: rebuild it with make kernel)"
elif dmesg | grep -qi 'kmemleak:.*disabled' \
    || ! { echo scan >"$KMEMLEAK" && sleep 6 && echo scan >"$KMEMLEAK"; } 2>/tmp/kmemleak.err; then
  failed=$((failed + 1))
  echo "FAIL kernel-memory-leaks  FAILED: kmemleak did not scan ($(cat /tmp/kmemleak.err 2>/dev/null; dmesg | grep -i -m3 'kmemleak' | tr '\n' ' '))"
else
  # Each report block starts with "unreferenced object"; its comm line names the allocating task.
  # Blocks allocated by the planted leak's insmod (above) are the self-check's, not the run's.
  awk -v pid="${probe_pid:-none}" '
    /^unreferenced object/ { if (blk != "" && !planted) printf "%s", blk; blk = ""; planted = 0 }
    /^  comm "insmod", pid / { p = $4; sub(/,$/, "", p); if (p == pid) planted = 1 }
    { blk = blk $0 "\n" }
    END { if (blk != "" && !planted) printf "%s", blk }' "$KMEMLEAK" >/tmp/kmemleak.run.txt
  planted=$(( $(grep -c '^unreferenced object' "$KMEMLEAK") - $(grep -c '^unreferenced object' /tmp/kmemleak.run.txt) ))
  leaks=$(grep -c '^unreferenced object' /tmp/kmemleak.run.txt)
  if [ "$leaks" = 0 ]; then
    passed=$((passed + 1))
    echo "PASS kernel-memory-leaks"
    echo "  INFO kmemleak: no unreferenced object after the run (2 forced scans)$([ "$planted" -gt 0 ] && echo "; $planted of the planted leak's objects, reported late, left out")"
  else
    failed=$((failed + 1))
    echo "FAIL kernel-memory-leaks  FAILED: kmemleak reports $leaks unreferenced objects after the run"
    [ -n "$logdir" ] && cp "$KMEMLEAK" "$logdir/kmemleak.txt"
    echo "  the whole report: build/$logs/kmemleak.txt; its first 60 lines (the planted leak's left out):"
    head -n 60 /tmp/kmemleak.run.txt | sed 's/^/  | /'
  fi
fi
echo "$passed passed, $failed failed"
