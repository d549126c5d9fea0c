#!/usr/bin/env bash
# Fails early and clearly when the rustc that would build sara.ko differs from the one that built the
# kernel: the kernel's .rmeta files and libmacros.so only work with the rustc that made them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
kdir=$1
kernel_rustc=$(sed -n 's/^CONFIG_RUSTC_VERSION=//p' "$kdir/include/config/auto.conf")
ours=$(rustc --version | awk '{print $2}')
IFS=. read -r a b c <<<"$ours"
ours_num=$((a * 100000 + b * 100 + c))
if [ "$kernel_rustc" != "$ours_num" ]; then
  echo "error: the kernel in $kdir was built by rustc $kernel_rustc (CONFIG_RUSTC_VERSION) but sara.ko" \
       "would be built by rustc $ours ($ours_num). Use the toolchain pinned in rust-toolchain.toml" \
       "($SARA_RUSTC) for both: rerun scripts/build-kernel.sh." >&2
  exit 1
fi
