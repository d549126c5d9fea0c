#!/usr/bin/env bash
# Boots SARA's kernel under QEMU (TCG: KVM does not work on these machines) and runs the VM tests.
#
#   qemu-tests/run.sh [--demo | --bench | --memcheck | --soak] [--tests 'glob …'] [--repeat N] [--timeout SECONDS]
#
# --repeat N runs the selected tests N times in one boot and reports each test's pass count (to find
# flaky tests: e.g. --repeat 3 --tests '19*,20*'). Every test's whole log is kept in build/vm-logs/.
#
# --memcheck boots with kmemleak on (every other boot passes kmemleak=off: tracking every allocation
# makes some tests 3-4x slower; each test's time bound is 4x its usual one there), first checks that
# kmemleak reports a planted leak (tools/leak_probe.c), runs the tests named by MEMCHECK_TESTS (default:
# control errors, rmmod/insmod under traffic, the control plane, SIP sessions with announced media) or
# --tests, then forces two kmemleak scans and fails on any unreferenced object. Its logs are in
# build/vm-memcheck-logs/ (console: build/vm-memcheck.log). `make test` runs the tests' boot, then this
# one; `make memcheck-all` (MEMCHECK_TESTS='*', not in CI: 70-90 min) runs the whole suite in it.
#
# --soak (`make soak`) runs qemu-tests/soak.sh instead of the tests, in the memory-checking boot:
# SOAK_MINUTES (default 30) of session churn with every daemon, a report of slab, vmalloc and table
# use at start and end, then the kernel-log and kmemleak checks. Logs in build/vm-soak-logs/.
#
# 21-netlink-fuzz reads SARA_FUZZ_MSGS, SARA_FUZZ_MIN, SARA_FUZZ_SEED, SARA_FUZZ_SECONDS and
# SARA_FUZZ_VALID from the environment of this script (passed on the guest's command line).
#
# --bench runs qemu-tests/bench.sh instead of the tests and writes its results to build/bench/results.md
# (knobs from the environment: BENCH_FLOWS=1000,100000,1000000 BENCH_SECONDS=10 BENCH_JOBS=1
# BENCH_PROTOS=udp,tcp BENCH_NEW_MAX=120 BENCH_BUDGET=1300). It loads the instruction-counting plugin
# (qemu-tests/bench/icount: counts by address range, written at bench.sh's markers to
# build/bench/icount.tsv): BENCH_ICOUNT=cb, the default, a callback per translation block, exact with
# both vCPUs in their own threads; BENCH_ICOUNT=inline, cheaper inline counters (QEMU then runs both
# vCPUs in one thread, -accel tcg,thread=single); BENCH_ICOUNT=0, none (TCG as fast as without it: the
# times of runs before the plugin compare with those). BENCH_ICOUNT_SHIFT=N (0-10) runs QEMU with
# -icount shift=N: the guest's clock advances 2^N ns per instruction (all vCPUs in one thread; the
# counter then defaults to inline), so the time figures follow the instructions, not the host's load.
# The report is made again here with the counts (the guest cannot read the plugin's file as it grows);
# a full run (BENCH_FLOWS and BENCH_PROTOS not set) also writes it to bench/results/DATE-COMMIT.md,
# for the developer to commit (bench/results/README.md).
#
# The guest mounts this machine's root read-only over 9p and chroots into it, so it runs the very
# sara.ko, sarectl and test scripts of this checkout with the host's tools. It prints one line per
# test (PASS/FAIL), then "N passed, N failed". This script exits non-zero on any failure, on a guest
# that never reports, and on a kernel log with BUG/WARNING/Oops/lockdep reports (checked in the guest
# as the last test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$top/scripts/env.sh"

mode=test
memcheck=0
tests=all
repeat=1
timeout_s=${SARA_VM_TIMEOUT:-}   # default: 3600 s; 4 h with kmemleak on (--memcheck), the soak's length + 40 min
accel=tcg
plugin_args=()   # --bench: the instruction-counting plugin
clock_args=()    # --bench with BENCH_ICOUNT_SHIFT: -icount shift=N
while [ $# -gt 0 ]; do
  case "$1" in
    --demo) mode=demo; shift;;
    --bench) mode=bench; shift;;
    --memcheck) memcheck=1; shift;;
    --soak) mode=soak; memcheck=1; shift;;
    --tests) tests=$2; shift 2;;
    --repeat) repeat=$2; shift 2
      [[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "--repeat needs a positive count" >&2; exit 2; };;
    --timeout) timeout_s=$2; shift 2;;   # (empty: the mode's default, below)
    *) echo "usage: $0 [--demo | --bench | --memcheck | --soak] [--tests 'glob …'] [--repeat N] [--timeout SECONDS]" >&2; exit 2;;
  esac
done

kdir=$("$top/scripts/build-kernel.sh" --print)
bzimage="$kdir/arch/x86/boot/bzImage"
[ -f "$top/sara.ko" ] || { echo "sara.ko is not built: run make module" >&2; exit 1; }
[ -x "$top/build/sarectl" ] || { echo "sarectl is not built: run make sarectl" >&2; exit 1; }

# The initramfs: static busybox and our /init.
build="$top/build"
mkdir -p "$build"
initrd="$build/initramfs.cpio.gz"
if [ ! -f "$initrd" ] || [ "$here/init" -nt "$initrd" ] || [ /bin/busybox -nt "$initrd" ]; then
  root=$(mktemp -d)
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  file "$root/bin/busybox" 2>/dev/null | grep -q 'statically linked' \
    || { echo "/bin/busybox is not static: apt-get install busybox-static" >&2; exit 1; }
  ln -s busybox "$root/bin/sh"
  cp "$here/init" "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"
  rm -rf "$root"
fi

# Where the guest finds things: the same absolute paths as here.
logs=vm-logs
if [ "$memcheck" = 1 ]; then
  [ "$mode" = test ] || [ "$mode" = soak ] || { echo "--memcheck runs tests: not with --demo or --bench" >&2; exit 2; }
  [ "$tests" = all ] && [ "$mode" = test ] && tests=${MEMCHECK_TESTS:-06*,07*,09*,12*}
  logs=vm-memcheck-logs
fi
if [ "$mode" = soak ]; then
  soak_minutes=${SOAK_MINUTES:-30}
  [[ "$soak_minutes" =~ ^[1-9][0-9]*$ ]] || { echo "SOAK_MINUTES must be a positive number of minutes" >&2; exit 2; }
  logs=vm-soak-logs
  timeout_s=${timeout_s:-$(( soak_minutes * 60 + 2400 ))}
fi
[ "$memcheck" = 1 ] && timeout_s=${timeout_s:-14400}
timeout_s=${timeout_s:-3600}
kernel_args="console=ttyS0 panic=-1 loglevel=4 sara_repo=$top sara_mode=$mode sara_kdir=$kdir sara_tests=${tests// /,} sara_repeat=$repeat"
kernel_args+=" sara_logs=$logs"
[ "$mode" = soak ] && kernel_args+=" sara_soak_minutes=$soak_minutes"
# The kernel log (CONFIG_LOG_BUF_SHIFT=17: 128 KiB) must hold the whole run for guest.sh's final
# kernel-log check; 21-netlink-fuzz alone logs tens of KiB (rate-limited netlink warnings).
kernel_args+=" log_buf_len=2M"
# 21-netlink-fuzz's knobs, when set here (SARA_FUZZ_MSGS=30000 qemu-tests/run.sh --tests '21*').
for knob in MSGS MIN SEED SECONDS VALID; do
  var=SARA_FUZZ_$knob
  if [ -n "${!var:-}" ]; then kernel_args+=" sara_fuzz_${knob,,}=${!var}"; fi
done
# kmemleak is built in (scripts/kernel.config) but on only in the memory-checking boot.
if [ "$memcheck" = 1 ]; then kernel_args+=" sara_memcheck=1"; else kernel_args+=" kmemleak=off"; fi
if [ "$mode" = bench ]; then
  # slab_nomerge: IPVS's ip_vs_conn cache keeps its own line in /proc/slabinfo.
  kernel_args+=" slab_nomerge sara_bench_flows=${BENCH_FLOWS:-1000,100000,1000000} sara_bench_secs=${BENCH_SECONDS:-10}"
  kernel_args+=" sara_bench_jobs=${BENCH_JOBS:-1} sara_bench_protos=${BENCH_PROTOS:-udp,tcp} sara_bench_newmax=${BENCH_NEW_MAX:-120}"
  kernel_args+=" sara_bench_budget=${BENCH_BUDGET:-1300}"
  # The generator is compiled here: gcc under TCG takes a minute.
  mkdir -p "$build/bench"
  gcc -O2 -o "$build/bench/bench_gen" "$here/tools/bench_gen.c" || exit 1
  # The guest's clock from its instructions: one thread for every vCPU (QEMU's -icount needs it).
  icount_shift=${BENCH_ICOUNT_SHIFT:-}
  if [ -n "$icount_shift" ]; then
    [[ "$icount_shift" =~ ^([0-9]|10)$ ]] || { echo "BENCH_ICOUNT_SHIFT is 0-10 (2^N ns per instruction)" >&2; exit 2; }
    clock_args=(-icount "shift=$icount_shift")
    accel=tcg,thread=single
  fi
  # The instruction counter: the plugin (host) and the guest's marker program, which the guest finds
  # through sara_icount= (qemu-tests/bench/icount/marks.sh). Without them the benchmarks run as before.
  # On by default: every pass is bounded in time, so the plugin's cost (TCG about 1.6-2x slower) does
  # not lengthen the run; it costs packets per measurement, and flows a 10^6 new pass reaches in its bound.
  icount=${BENCH_ICOUNT:-cb}
  [ -n "$icount_shift" ] && icount=${BENCH_ICOUNT:-inline}
  rm -f "$build/bench/icount.tsv"
  case "$icount" in
    0) ;;
    cb|inline)
      if "$here/bench/icount/build.sh" "$build/bench/icount"; then
        plugin_args=(-plugin "$build/bench/icount/sara-icount.so,out=$build/bench/icount.tsv,count=$icount")
        [ "$icount" = inline ] && accel=tcg,thread=single
        kernel_args+=" sara_icount=$build/bench/icount/mark"
      else
        echo "[vm] the instruction-counting plugin did not build: benchmarks without it" >&2
      fi;;
    *) echo "BENCH_ICOUNT is cb, inline or 0" >&2; exit 2;;
  esac
fi
# The netlink fuzzer of tests/21-netlink-fuzz.sh, compiled here for every run as bench_gen is for
# --bench (it is small; gcc under TCG is slow): build/tools/nl_fuzz, which the guest sees at the same
# path. A compile error is the test's failure, not the run's (the test tries again and says why).
"$here/tools/build-nl-fuzz.sh" "$build/tools" \
  || echo "[vm] warning: tools/nl_fuzz.c does not compile: 21-netlink-fuzz will fail" >&2
# The memory check's planted leak (tools/leak_probe.c), a module built against the test kernel.
if [ "$memcheck" = 1 ]; then
  "$here/tools/build-leak-probe.sh" "$build/leak-probe" "$kdir" \
    || echo "[vm] warning: tools/leak_probe.c does not build: the planted-leak check will fail" >&2
fi
log="$build/vm-$mode.log"; [ "$mode" = test ] && [ "$memcheck" = 1 ] && log="$build/vm-memcheck.log"
# The guest writes each test's whole log here (a second, writable 9p share).
rm -rf "$build/$logs.prev"; [ -d "$build/$logs" ] && mv "$build/$logs" "$build/$logs.prev"   # the previous run's, kept once
mkdir -p "$build/$logs"
echo "[vm] booting $(basename "$(dirname "$(dirname "$kdir")")") under QEMU/TCG; serial log: $log"
set +e
timeout --foreground "$timeout_s" qemu-system-x86_64 \
  -accel "$accel" -m 2048 -smp 2 -nographic -no-reboot -nic none "${plugin_args[@]}" "${clock_args[@]}" \
  -kernel "$bzimage" -initrd "$initrd" -append "$kernel_args" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs local,path="$build/$logs",mount_tag=hostlogs,security_model=none \
  </dev/null 2>&1 | stdbuf -oL tr -d '\r' | tee "$log" \
  | grep --line-buffered -E '^(PASS|FAIL|SKIP|INFO|DEMO|BENCH|  )|SARA-GUEST|Kernel panic|BUG:|WARNING:'
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ]; then
  echo "[vm] the guest did not finish within $timeout_s s" >&2
  exit 1
fi
if [ "$mode" = demo ]; then
  grep -q 'SARA-GUEST: done' "$log" || { echo "[vm] the demo did not finish (see $log)" >&2; exit 1; }
  exit 0
fi
if [ "$mode" = bench ]; then
  # The guest's root is read-only: it prints the results between markers on the console.
  mkdir -p "$build/bench"
  sed -n '/^SARA-BENCH-RESULTS-BEGIN$/,/^SARA-BENCH-RESULTS-END$/p' "$log" | sed '1d;$d' >"$build/bench/results.md"
  sed -n '/^SARA-BENCH-RAW-BEGIN$/,/^SARA-BENCH-RAW-END$/p' "$log" | sed '1d;$d' >"$build/bench/raw.tsv"
  # The report again, here: with the instruction counts (the plugin's file) and the clock's mode.
  report_args=()
  [ ${#plugin_args[@]} -gt 0 ] && [ -s "$build/bench/icount.tsv" ] && report_args+=(--icount "$build/bench/icount.tsv")
  [ -n "$icount_shift" ] && report_args+=("--clock=-icount shift=$icount_shift")
  finished=0
  grep -q '^meta' "$build/bench/raw.tsv" && finished=1   # bench.sh's last line: its report's parameters
  if [ "$finished" = 1 ]; then
    if python3 "$here/bench/report.py" "$build/bench/raw.tsv" "${report_args[@]}" >"$build/bench/results.md.new"; then
      mv "$build/bench/results.md.new" "$build/bench/results.md"
    else
      rm -f "$build/bench/results.md.new"
      echo "[vm] the report failed here: the guest's (without instruction counts) is kept" >&2
    fi
  elif [ ! -s "$build/bench/results.md" ] && [ -s "$build/bench/raw.tsv" ]; then   # the report failed in the guest
    python3 "$here/bench/report.py" "$build/bench/raw.tsv" 100 0 "${BENCH_SECONDS:-10}" "${BENCH_JOBS:-1}" "?" \
      "${report_args[@]}" >"$build/bench/results.md"
  fi
  [ -s "$build/bench/results.md" ] || { echo "[vm] the benchmarks did not finish (see $log)" >&2; exit 1; }
  echo
  cat "$build/bench/results.md"
  echo
  echo "[vm] results: $build/bench/results.md (raw: $build/bench/raw.tsv, log: $log)"
  [ ${#plugin_args[@]} -gt 0 ] && echo "[vm] instruction counts at the guest's markers: $build/bench/icount.tsv"
  # A full run's table is kept in bench/results/ (committed by the developer, not here).
  if [ -n "${BENCH_FLOWS:-}${BENCH_PROTOS:-}" ]; then
    echo "[vm] not a full run (BENCH_FLOWS or BENCH_PROTOS set): nothing written to bench/results/"
  elif [ "$finished" = 0 ]; then
    echo "[vm] the benchmarks did not finish: nothing written to bench/results/"
  else
    kept=$("$here/bench/keep-results.sh" "$build/bench/results.md" "${icount_shift:+-icount shift=$icount_shift}" \
      "$([ ${#plugin_args[@]} -gt 0 ] && echo "$icount" || echo off)") \
      && echo "[vm] kept as $kept: commit it if it is worth keeping (bench/results/README.md)" \
      || echo "[vm] could not write the results to bench/results/" >&2
  fi
  exit 0
fi
summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 | tr -d '\r')
if [ -z "$summary" ]; then
  echo "[vm] the guest never reported a result (see $log)" >&2
  exit 1
fi
echo "$summary"
failed=$(echo "$summary" | sed -E 's/.* ([0-9]+) failed.*/\1/')
passed=$(echo "$summary" | sed -E 's/^([0-9]+) passed.*/\1/')
if [ "$failed" != 0 ] || [ "$passed" = 0 ]; then
  echo "[vm] failures in the VM tests: each test's whole log is in $build/$logs/ (console: $log)" >&2
  exit 1
fi
exit 0
