#!/usr/bin/env bash
# Keeps a full `make bench` run's table: copies RESULTS.md (build/bench/results.md) to
# bench/results/YYYY-MM-DD-COMMIT.md of the checkout, under a header that says what ran (date,
# commit, uncommitted changes, the knobs, QEMU's clock and the instruction counter, the host), and
# prints the file's path. run.sh --bench calls it after a full run; nothing is committed here: the
# developer commits the file if the run is worth keeping (bench/results/README.md).
#
#   keep-results.sh RESULTS.md CLOCK COUNTER
#
# CLOCK: "" (real time) or "-icount shift=N"; COUNTER: cb, inline or off. Names: COMMIT is the short
# hash of HEAD, followed by "-dirty" when tracked files have uncommitted changes (bench/results/
# aside); a second run of the same commit on the same day gets "-2", then "-3"… (never overwritten).
# BENCH_RESULTS_DIR: another folder than bench/results/ (for a try on the host).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -eq 3 ] || { echo "usage: $0 RESULTS.md CLOCK COUNTER" >&2; exit 2; }
results=$1 clock=$2 counter=$3
[ -s "$results" ] || { echo "keep-results: no $results" >&2; exit 1; }
dir=${BENCH_RESULTS_DIR:-$top/bench/results}
mkdir -p "$dir"

commit=$(git -C "$top" rev-parse --short=7 HEAD 2>/dev/null || echo nogit)
subject=$(git -C "$top" log -1 --format=%s 2>/dev/null || echo "?")
dirty=
if [ "$commit" != nogit ] && [ -n "$(git -C "$top" status --porcelain --untracked-files=no -- . ':!bench/results' 2>/dev/null)" ]; then
  dirty=-dirty
fi
day=$(date +%F)
name="$day-$commit$dirty"
out="$dir/$name.md"
n=2
while [ -e "$out" ]; do out="$dir/$name-$n.md"; n=$((n + 1)); done

knobs=()
for k in BENCH_SECONDS BENCH_JOBS BENCH_NEW_MAX BENCH_BUDGET; do
  [ -n "${!k:-}" ] && knobs+=("$k=${!k}")
done
qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n 1 | sed 's/^QEMU emulator version //; s/ (.*//')
{
  echo "<!-- Written by qemu-tests/run.sh --bench (qemu-tests/bench/keep-results.sh); see README.md here. -->"
  echo "# SARA benchmarks, $day, commit $commit"
  echo
  echo "Commit $commit (\"$subject\")${dirty:+, with uncommitted changes}. Knobs: ${knobs[*]:-the defaults}."
  echo "QEMU ${qemu:-?} (TCG), clock: ${clock:-real time}; instruction counter: $counter. Host: $(nproc) CPUs, $(uname -sr)."
  # The report's own title line is replaced by the one above.
  tail -n +2 "$results"
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
