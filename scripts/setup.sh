#!/usr/bin/env bash
# Installs everything SARA's build and tests need on a fresh Debian 12 machine; does nothing for what
# is already there, so it is safe (and quick) to run before every build.
#   - Debian packages: kernel build tools, libclang for bindgen, QEMU, busybox-static, networking tools
#   - linux-source-6.12, pinned (scripts/env.sh)
#   - the Rust toolchain pinned in rust-toolchain.toml, with rust-src, rustfmt, clippy
#   - bindgen-cli, pinned, into $SARA_TOOLS (outside the clone, reused across clones)
#   - with --bench (make bench-host): also valgrind, qemu-user (qemu-x86_64, for the self-test of
#     make bench's instruction-counting plugin), and gungraun-runner, the runner of the
#     instruction-count benchmarks (sara_kmod/core/benches/instructions.rs), of the gungraun version
#     in Cargo.lock, into $SARA_TOOLS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
say() { printf '[setup] %s\n' "$*" >&2; }

bench=0
case "${1:-}" in
  "") ;;
  --bench) bench=1 ;;
  *) echo "usage: scripts/setup.sh [--bench]" >&2; exit 2 ;;
esac

packages=(
  # kernel build
  build-essential flex bison bc cpio kmod libelf-dev libssl-dev xz-utils rsync python3
  # bindgen's libclang, and an LLVM toolchain for tools that want one
  clang lld llvm libclang-dev
  # VM harness
  qemu-system-x86 busybox-static file
  # in-guest tools (used from the host root over 9p)
  iproute2 iputils-ping ipvsadm tcpdump jq socat iperf3 util-linux procps bsdextrautils
  # real signalling tools of the session tests (qemu-tests/tests/11-13): RTSP (gst-rtsp-server via
  # python3-gi, ffmpeg as the client), SIP (SIPp), FTP (vsftpd, curl, tnftp)
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good ffmpeg sip-tester vsftpd curl tnftp
  # the policy simulator's plots (sara-sim, make bench)
  fonts-dejavu-core
)
# the core's instruction-count benchmarks (Callgrind; make bench-host), and the self-test of the
# VM benchmarks' instruction-counting QEMU plugin (qemu-tests/bench/icount/selftest.sh)
if [ $bench = 1 ]; then packages+=(valgrind qemu-user); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
kver_installed=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
need_kernel_src=0
[ "$kver_installed" = "$SARA_KERNEL_PKG" ] || need_kernel_src=1

if [ ${#missing[@]} -gt 0 ] || [ $need_kernel_src = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get update"
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [ $need_kernel_src = 1 ]; then
    if apt-cache madison linux-source-6.12 | grep -qF "$SARA_KERNEL_PKG"; then
      say "installing linux-source-6.12=$SARA_KERNEL_PKG"
      # (--allow-downgrades: a newer one may be installed, e.g. by an unattended upgrade.)
      apt-get install -y -qq --no-install-recommends --allow-downgrades "linux-source-6.12=$SARA_KERNEL_PKG" >/dev/null
    elif [ -z "$kver_installed" ]; then
      # The archive may have moved on; build-kernel.sh refuses anything older than 6.12.85.
      say "warning: linux-source-6.12 $SARA_KERNEL_PKG is no longer offered; installing the newest"
      apt-get install -y -qq --no-install-recommends linux-source-6.12 >/dev/null
    else
      say "warning: keeping linux-source-6.12 $kver_installed ($SARA_KERNEL_PKG is no longer offered)"
    fi
  fi
fi

command -v rustup >/dev/null || { say "rustup is missing: install Rust with rustup first"; exit 1; }
if ! rustup toolchain list | grep -q "^$SARA_RUSTC"; then
  say "installing Rust $SARA_RUSTC"
  rustup toolchain install "$SARA_RUSTC" --profile minimal -c rust-src -c rustfmt -c clippy
fi
installed=$(rustup component list --toolchain "$SARA_RUSTC" --installed)
for c in rust-src rustfmt clippy; do
  echo "$installed" | grep -q "^$c" || { say "adding $c to $SARA_RUSTC"; rustup component add "$c" --toolchain "$SARA_RUSTC"; }
done

if [ ! -x "$SARA_BINDGEN" ] || [ "$("$SARA_BINDGEN" --version | awk '{print $2}')" != "$SARA_BINDGEN_VERSION" ]; then
  say "installing bindgen-cli $SARA_BINDGEN_VERSION into $SARA_TOOLS (about 3 minutes)"
  mkdir -p "$SARA_TOOLS"
  cargo install --locked --quiet bindgen-cli --version "$SARA_BINDGEN_VERSION" --root "$SARA_TOOLS"
fi
if [ $bench = 1 ]; then
  # The runner must be the version of the gungraun library the benchmarks link (it refuses others).
  want=$(awk '$0 == "name = \"gungraun\"" { getline; gsub(/[^0-9.]/, ""); print }' "$here/../Cargo.lock")
  [ -n "$want" ] || { say "no gungraun in Cargo.lock"; exit 1; }
  if [ ! -x "$SARA_GUNGRAUN_RUNNER" ] || [ "$("$SARA_GUNGRAUN_RUNNER" --version | awk '{print $2}')" != "$want" ]; then
    say "installing gungraun-runner $want into $SARA_TOOLS (about 4 minutes)"
    mkdir -p "$SARA_TOOLS"
    cargo install --locked --quiet gungraun-runner --version "$want" --root "$SARA_TOOLS"
  fi
  say "ok: valgrind $(valgrind --version | sed 's/valgrind-//'), gungraun-runner $want"
fi
say "ok: Debian packages, linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12), rustc $SARA_RUSTC, bindgen $SARA_BINDGEN_VERSION"
