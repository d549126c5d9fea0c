#!/usr/bin/env bash
# Fuzz sara_core's parsers (DPI, UDP messages, packet views) with cargo-fuzz / libFuzzer.
#
# Usage: scripts/fuzz.sh [TARGET...]      default: every target of sara_kmod/core/fuzz
# Environment:
#   FUZZ_SECONDS   seconds per target (default 600)
#   FUZZ_JOBS      parallel libFuzzer jobs per target (default 1)
#   FUZZ_NICE      nice level for the runs (default 10)
#
# Needs the nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz if it is
# missing. Corpora grow under sara_kmod/core/fuzz/corpus/<target>/ (seeded from testdata/ and
# fuzz/seeds/), crashes land in sara_kmod/core/fuzz/artifacts/<target>/. Exits non-zero if any
# target crashed (or failed to build/run).
set -euo pipefail
shopt -s nullglob

here=$(cd "$(dirname "$0")" && pwd)
core=$(cd "$here/../sara_kmod/core" && pwd)
seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
nice_level=${FUZZ_NICE:-10}

say() { printf '[fuzz] %s\n' "$*" >&2; }
die() { printf '[fuzz] error: %s\n' "$*" >&2; exit 1; }

rustup toolchain list 2>/dev/null | grep -q '^nightly' \
  || die "the nightly toolchain is missing: rustup toolchain install nightly --profile minimal"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

cd "$core"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || die "no fuzz targets found"

# Seed a target's corpus: DPI samples are stored with LF line ends; seed both LF and CRLF forms.
seed() {
  local t=$1 corpus="fuzz/corpus/$1" src=""
  mkdir -p "$corpus"
  case "$t" in
    rtsp) src=testdata/rtsp ;;
    sip_sdp) src=testdata/sip ;;
    ftp) src=testdata/ftp ;;
  esac
  if [ -n "$src" ] && [ -d "$src" ]; then
    for f in "$src"/*; do
      [ -f "$f" ] || continue
      local b
      b=$(basename "$f")
      cp -f "$f" "$corpus/seed-lf-$b"
      sed 's/$/\r/' "$f" >"$corpus/seed-crlf-$b"
    done
  fi
  if [ -d "fuzz/seeds/$t" ]; then
    cp -f "fuzz/seeds/$t"/* "$corpus/" 2>/dev/null || true
  fi
}

# Optimised, with debug assertions and overflow checks on (-a): the kernel runs with overflow checks.
say "building ${#targets[@]} targets"
for t in "${targets[@]}"; do
  nice -n "$nice_level" cargo +nightly fuzz build -O -a "$t" || die "build of $t failed"
done

parallel=()
if [ "$jobs" -gt 1 ]; then
  parallel=(-jobs="$jobs" -workers="$jobs")
fi

failed=()
summary=()
for t in "${targets[@]}"; do
  seed "$t"
  log="fuzz/artifacts/$t.log"
  mkdir -p "fuzz/artifacts/$t"
  say "running $t for ${seconds}s"
  max_len=4096
  case "$t" in rtsp | sip_sdp | ftp | wire | sip_stream | sip_calls) max_len=20000 ;; esac
  if nice -n "$nice_level" cargo +nightly fuzz run -O -a "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -max_len="$max_len" "${parallel[@]}" \
      -print_final_stats=1 >"$log" 2>&1; then
    execs=$(awk '/^stat::number_of_executed_units/ {s += $2} END {print s + 0}' "$log" fuzz-*.log || true)
    rm -f fuzz-*.log
    summary+=("$t: ok, ${execs} execs")
  else
    failed+=("$t")
    summary+=("$t: FAILED (see $core/$log and $core/fuzz/artifacts/$t/)")
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5 >&2 || true
  fi
done

printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  die "crashes in: ${failed[*]}"
fi
say "all ${#targets[@]} targets clean"
