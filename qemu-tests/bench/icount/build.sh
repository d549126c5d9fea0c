#!/usr/bin/env bash
# Builds sara-icount's pieces into OUTDIR (default build/bench/icount of the checkout):
#   sara-icount.so   the QEMU plugin (host side)
#   mark             the guest's marker program (static: runs in the VM, or under qemu-x86_64)
#   selftest-prog    the program selftest.sh runs under qemu-x86_64 (static, non-PIE: fixed addresses)
# No glib and no QEMU headers: qemu-plugin-min.h declares the API. Warnings are errors.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../../build/bench/icount}
mkdir -p "$out"
cflags=(-O2 -g -Wall -Wextra -Werror -std=gnu11)
gcc "${cflags[@]}" -shared -fPIC -fvisibility=hidden -pthread -o "$out/sara-icount.so" "$here/sara-icount.c"
gcc "${cflags[@]}" -static -o "$out/mark" "$here/mark.c"
gcc "${cflags[@]}" -static -no-pie -pthread -o "$out/selftest-prog" "$here/selftest-prog.c"
