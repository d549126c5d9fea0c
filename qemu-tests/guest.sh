#!/bin/bash
# Runs inside the VM (chrooted into the host's root, see qemu-tests/init): loads nothing by itself;
# each test in qemu-tests/tests/ is a bash script that exits 0 on success. Prints one line per test and
# "N passed, N failed" at the end. Usage: guest.sh test|demo|bench [comma-separated globs]
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

passed=0
failed=0
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
for t in "$REPO"/qemu-tests/tests/*.sh; do
  name=$(basename "$t" .sh)
  selected "$name" || continue
  start=$(date +%s.%N)
  # A test may ask for a longer bound than 480 s with a line "# vm-timeout: SECONDS".
  limit=$(sed -n 's/^# vm-timeout: \([0-9]*\)$/\1/p' "$t" | head -n 1)
  if timeout "${limit:-480}" bash "$t" >"/tmp/$name.log" 2>&1; then
    passed=$((passed + 1))
    printf 'PASS %-40s %5.1f s\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
    grep -E '^INFO' "/tmp/$name.log" | sed 's/^/  /'
  else
    failed=$((failed + 1))
    printf 'FAIL %-40s %5.1f s\n' "$name" "$(echo "$(date +%s.%N) - $start" | bc)"
    tail -n 30 "/tmp/$name.log" | sed 's/^/  | /'
  fi
done

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
echo "$passed passed, $failed failed"
