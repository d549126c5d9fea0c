#!/usr/bin/env bash
# Formats every Rust file of SARA with rustfmt (settings in rustfmt.toml, the rustfmt of the pinned
# toolchain), each file once:
#   - the cargo workspace (sara_kmod/core, sara_ctl): cargo fmt --all
#   - the module's own files, which Kbuild compiles (not a cargo package): rustfmt on the crate root
#     sara_kmod/sara_main.rs, which follows its `mod` declarations into sara_kmod/*.rs and
#     sara_kmod/sys/; the core, pulled in there by #[path], is marked #[rustfmt::skip] there and
#     formatted with its package above
#   - the fuzz targets (sara_kmod/core/fuzz, its own workspace): rustfmt on each target
#
# Usage: scripts/fmt.sh            format in place; lists the files it changed
#        scripts/fmt.sh --check    change nothing; list the files that are not formatted and exit 1
#                                  if there are any (2 if rustfmt itself failed, e.g. a parse error)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
top=$PWD

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: scripts/fmt.sh [--check]" >&2; exit 2 ;;
esac

rustfmt_args=(--edition 2021 --config-path rustfmt.toml)
mode_args=(-l) # the files changed (or, with --check, the files that would be)
[ $check = 1 ] && mode_args=(--check -l)

listed=()
failed=0
# Runs one formatter command; collects the files it lists, and notes a failure that is not just
# "these files are not formatted" (rustfmt exits 1 for both).
run() {
  local out rc=0
  out=$("$@") || rc=$?
  local files=()
  while IFS= read -r f; do
    [ -n "$f" ] && files+=("${f#"$top"/}")
  done <<<"$out"
  listed+=("${files[@]}")
  if [ $rc != 0 ] && { [ $check = 0 ] || [ ${#files[@]} = 0 ]; }; then
    echo "fmt: failed ($rc): $*" >&2
    failed=1
  fi
}

run cargo fmt --all -- "${mode_args[@]}"
run rustfmt "${rustfmt_args[@]}" "${mode_args[@]}" sara_kmod/sara_main.rs
run rustfmt "${rustfmt_args[@]}" "${mode_args[@]}" sara_kmod/core/fuzz/fuzz_targets/*.rs

if [ ${#listed[@]} != 0 ]; then
  if [ $check = 1 ]; then
    echo "fmt: ${#listed[@]} file(s) not formatted (run scripts/fmt.sh, or make fmt):"
  else
    echo "fmt: formatted ${#listed[@]} file(s):"
  fi
  printf '  %s\n' "${listed[@]}"
fi
[ $failed = 0 ] || exit 2
[ $check = 0 ] && exit 0
[ ${#listed[@]} = 0 ] || exit 1
echo "fmt: every Rust file is formatted"
