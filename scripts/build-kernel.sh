#!/usr/bin/env bash
# Build (or reuse) SARA's kernel: Debian's linux-source-6.12, tinyconfig + scripts/kernel.config, gcc,
# the pinned rustc from rust-toolchain.toml and bindgen-cli from scripts/setup.sh.
#
# The built tree is cached outside the clone, under $SARA_CACHE (default /var/cache/sara), in a directory
# named by kernel version + hash of the config fragment + rustc version + bindgen version. The source
# stays at the absolute path it was built at (out-of-tree Rust modules only build against a tree at its
# original path: Rust-for-Linux issue 792).
#
# Why gcc and not LLVM=1: gcc 12 + Rust is the combination verified on these machines (kernel and
# out-of-tree module, see shared/design/platform-notes-6.12.md); the C glue of sara.ko is compiled by
# the same gcc; Debian's clang 14 would also work but was never tried here, and we do not need KASAN
# (the one thing a gcc+Rust kernel cannot have).
#
# Usage: scripts/build-kernel.sh            build if needed, then print the build directory (KDIR)
#        scripts/build-kernel.sh --print    print KDIR if the cache holds a finished build, else fail
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

say() { printf '[kernel] %s\n' "$*" >&2; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

fragment="$top/scripts/kernel.config"
tarball=/usr/src/linux-source-6.12.tar.xz
[ -f "$tarball" ] || die "$tarball is missing: run scripts/setup.sh (it installs linux-source-6.12)"

pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) || die "package linux-source-6.12 is not installed: run scripts/setup.sh"
upstream=${pkgver%%-*}               # 6.12.117
patch=${upstream##*.}                # 117
case "$upstream" in 6.12.*) ;; *) die "linux-source-6.12 has unexpected version $pkgver";; esac
if [ "$patch" -lt 85 ]; then
  die "linux-source-6.12 $pkgver is too old: 6.12.85 is the first that builds with rustc 1.95 (install $SARA_KERNEL_PKG)"
fi
if [ "$pkgver" != "$SARA_KERNEL_PKG" ]; then
  say "warning: linux-source-6.12 is $pkgver, SARA is verified with $SARA_KERNEL_PKG"
fi

rustc_ver=$(rustc --version | awk '{print $2}')
[ "$rustc_ver" = "$SARA_RUSTC" ] || die "rustc is $rustc_ver but rust-toolchain.toml pins $SARA_RUSTC (run scripts/setup.sh)"
[ -x "$SARA_BINDGEN" ] || die "bindgen not found at $SARA_BINDGEN: run scripts/setup.sh"
bindgen_ver=$("$SARA_BINDGEN" --version | awk '{print $2}')
frag_hash=$(sha256sum "$fragment" | cut -c1-12)
key="${upstream}-${frag_hash}-rustc${rustc_ver}-bindgen${bindgen_ver}"
dir="$SARA_CACHE/kernel-$key"
src="$dir/linux-source-6.12"
out="$dir/build"

if [ "${1:-}" = "--print" ]; then
  [ -f "$dir/.done" ] || die "no finished kernel build in $dir: run scripts/build-kernel.sh"
  echo "$out"
  exit 0
fi

mkdir -p "$SARA_CACHE"
exec 9>"$SARA_CACHE/.kernel.lock"
flock 9   # one build at a time; a second caller waits and then reuses the first one's result

if [ -f "$dir/.done" ]; then
  say "reusing cached build $dir"
  echo "$out"
  exit 0
fi

start=$(date +%s)
say "cold build of Linux $upstream into $dir (about 13 minutes on 2 idle cores)"
rm -rf "$dir"
mkdir -p "$dir"
say "extracting $tarball"
tar -C "$dir" -xf "$tarball"
[ -f "$src/Makefile" ] || die "extraction did not produce $src"

kmake() { make -C "$src" O="$out" BINDGEN="$SARA_BINDGEN" "$@"; }

say "configuring: tinyconfig + scripts/kernel.config"
kmake -s tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$fragment" >/dev/null
kmake -s olddefconfig >/dev/null
cp "$fragment" "$dir/kernel.config"

# Every line of the fragment must have landed as written.
missing=0
while IFS= read -r line; do
  case "$line" in
    '# CONFIG_'*' is not set') ;;   # an option that must be off
    ''|'#'*) continue;;
  esac
  if ! grep -qxF "$line" "$out/.config"; then
    say "config line not set after olddefconfig: $line"
    missing=1
  fi
done <"$fragment"
[ "$missing" = 0 ] || die "scripts/kernel.config asks for options the kernel did not take (see above)"

kmake -s rustavailable >/dev/null || die "the kernel does not accept this Rust toolchain (make rustavailable failed)"

say "building bzImage and modules with $(nproc) jobs; progress every 30 s"
log="$dir/build.log"
( kmake -j"$(nproc)" bzImage modules >"$log" 2>&1; echo $? >"$dir/.rc" ) &
bpid=$!
while kill -0 "$bpid" 2>/dev/null; do
  sleep 30
  n=$(grep -cE '^\s+(CC|RUSTC|AS|LD|AR)' "$log" || true)
  say "$(( ($(date +%s) - start) / 60 )) min: $n build steps done (a full build is about 2300)"
done
wait "$bpid" || true
rc=$(cat "$dir/.rc" 2>/dev/null || echo 1)
if [ "$rc" != 0 ]; then
  tail -n 40 "$log" >&2
  die "kernel build failed (exit $rc); full log: $log"
fi
[ -f "$out/arch/x86/boot/bzImage" ] || die "build finished without a bzImage"
[ -f "$out/rust/libmacros.so" ] || die "build finished without rust/libmacros.so: Rust support is off"
echo "$rustc_ver" >"$dir/rustc-version"
touch "$dir/.done"
say "done in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s"
# Keep only the newest few builds.
ls -1dt "$SARA_CACHE"/kernel-* 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "$out"
