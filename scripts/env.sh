# Shared settings for SARA's scripts (sourced, not run).
# Everything here can be overridden from the environment.

: "${SARA_CACHE:=/var/cache/sara}"                 # kernel builds and tools, outside any clone
: "${SARA_KERNEL_PKG:=6.12.118-1~deb12u1}"          # Debian linux-source-6.12 version SARA is verified with
: "${SARA_BINDGEN_VERSION:=0.73.2}"                # bindgen-cli from crates.io
: "${SARA_TOOLS:=$SARA_CACHE/tools}"               # where bindgen-cli is installed
SARA_BINDGEN="$SARA_TOOLS/bin/bindgen"
# The instruction-count benchmarks' runner (scripts/setup.sh --bench installs it; its version is
# gungraun's in Cargo.lock). .cargo/config.toml names the default path for a plain `cargo bench`.
SARA_GUNGRAUN_RUNNER="$SARA_TOOLS/bin/gungraun-runner"

_sara_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The rustc that builds the kernel and the module: the channel pinned in rust-toolchain.toml.
SARA_RUSTC=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$_sara_top/rust-toolchain.toml")
export RUSTUP_TOOLCHAIN="$SARA_RUSTC"
export PATH="${HOME:-/root}/.cargo/bin:$PATH"
export SARA_CACHE SARA_KERNEL_PKG SARA_BINDGEN_VERSION SARA_TOOLS SARA_BINDGEN SARA_GUNGRAUN_RUNNER SARA_RUSTC
