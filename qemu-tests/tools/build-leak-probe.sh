#!/usr/bin/env bash
# Builds the planted-leak module (tools/leak_probe.c) against the test kernel into
# OUTDIR/sara_leak_probe.ko (default build/leak-probe). run.sh calls it before a memory-checking boot;
# the guest loads it once to show kmemleak reports a leak (qemu-tests/guest.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/build/leak-probe}
kdir=${2:-$("$top/scripts/build-kernel.sh" --print)}
mkdir -p "$out"
cp "$here/leak_probe.c" "$out/sara_leak_probe.c"
echo 'obj-m := sara_leak_probe.o' >"$out/Kbuild"
make -s -C "$kdir" M="$out" modules >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; exit 1; }
