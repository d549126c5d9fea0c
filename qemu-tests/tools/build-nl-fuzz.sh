#!/usr/bin/env bash
# Builds the netlink fuzzer (tools/nl_fuzz.c) into OUTDIR/nl_fuzz (default build/tools), with the
# family's numbers generated from sara_kmod/core/src/genl.rs by the awk script Kbuild uses for the
# module's glue, so the fuzzer and sara.ko share one source of command and attribute numbers.
# run.sh calls it on the host before every boot (gcc under TCG is slow); 21-netlink-fuzz.sh calls it
# in the guest only when that binary is missing or older than its sources.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/build/tools}
mkdir -p "$out"
awk -f "$top/scripts/genl-defs.awk" "$top/sara_kmod/core/src/genl.rs" >"$out/sara_genl_defs.h.tmp"
mv "$out/sara_genl_defs.h.tmp" "$out/sara_genl_defs.h"
gcc -O2 -Wall -Wextra -Werror -I "$out" -o "$out/nl_fuzz.tmp" "$here/nl_fuzz.c"
mv "$out/nl_fuzz.tmp" "$out/nl_fuzz"
