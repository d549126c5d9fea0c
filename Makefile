# SARA — build, test and demo. Everything runs from a fresh clone on Debian 12:
#   make test    host tests (cargo test) + VM tests (QEMU) — installs what is missing, builds the kernel
#   make demo    boots the VM cluster, sends traffic, shows sarectl stats and who served what
#   make bench   SARA vs IPVS-DR vs no balancer in one VM boot: instructions per packet and per session
#                (counted by a QEMU plugin), pkts/s, ns/pkt, sessions/s, bytes/flow (results in
#                build/bench/results.md; a full run also in bench/results/DATE-COMMIT.md, to commit by
#                hand), then the policy simulator (build/bench/sim/)
#   make memcheck-all  every VM test with kmemleak on (70-90 min, not in CI; `make test` runs four there)
#   make soak    SOAK_MINUTES (default 30) of SIP, RTSP and UDP session churn with every daemon, on the
#                memory-checking kernel: slab/vmalloc/table use at start and end, then kmemleak (not in CI)
#   make bench-host  the core on the host, no VM (about 2 minutes): instructions per operation under
#                Callgrind (flow table, purge, DPI) and lookup time against hashbrown at 10^6 keys
#                (results in build/bench-host/); first the icount self-test and the report's test
#   make icount-selftest  checks make bench's instruction-counting QEMU plugin under qemu-x86_64
#                (qemu-tests/bench/icount/selftest.sh, about a second, no VM)
#   make bench-report-test  checks make bench's report (instructions per packet and per session) on
#                fixtures (qemu-tests/bench/test_report.py, under a second, no VM)
#   make fmt     formats every Rust file (scripts/fmt.sh; settings in rustfmt.toml)
#   make lint    what CI checks before `make test`: fmt-check (scripts/fmt.sh --check), imports (no circle) and clippy
#                (cargo clippy --workspace --all-targets, warnings are errors)
# Other targets: setup, kernel, module, sarectl, host-test, vm-test, fmt-check, clippy, imports
# (import circles between files: scripts/check-imports.py), fuzz, clean.

SHELL := /bin/bash
HOME ?= /root
export PATH := $(HOME)/.cargo/bin:$(PATH)
export RUSTUP_TOOLCHAIN := $(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
KDIR = $(shell scripts/build-kernel.sh --print 2>/dev/null)
CARGO ?= cargo
# Cargo's build directory lives beside the kernel cache, outside the clone, so a fresh clone reuses
# compiled dependencies (CI runs every submission in a fresh clone).
export CARGO_TARGET_DIR ?= $(shell . scripts/env.sh; echo $$SARA_CACHE)/cargo-target

.PHONY: all setup kernel module sarectl host-test vm-test test memcheck-all soak demo bench bench-host icount-selftest bench-report-test fmt fmt-check clippy lint imports fuzz clean

all: module sarectl

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh >/dev/null

module: kernel
	@scripts/check-toolchain.sh "$(KDIR)"
	$(MAKE) -C "$(KDIR)" M="$(CURDIR)" BINDGEN="$$(. scripts/env.sh; echo $$SARA_BINDGEN)" modules

sarectl: setup
	$(CARGO) build --release -p sara_ctl
	@mkdir -p build && cp "$(CARGO_TARGET_DIR)/release/sarectl" build/sarectl

host-test: setup
	$(CARGO) test --workspace

# Two boots: the tests (kmemleak off), then the memory check (kmemleak on, a few tests, two forced
# scans). Both run even if the first fails; either failing fails the target.
vm-test: module sarectl
	@rc=0; qemu-tests/run.sh || rc=1; qemu-tests/run.sh --memcheck || rc=1; exit $$rc

test: host-test vm-test

# Not in CI (70-90 min): every VM test on the memory-checking boot (kmemleak on), then its leak check.
memcheck-all: module sarectl
	MEMCHECK_TESTS='*' qemu-tests/run.sh --memcheck

# Not in CI: SOAK_MINUTES (default 30) of session churn on the memory-checking boot (qemu-tests/soak.sh).
soak: module sarectl
	qemu-tests/run.sh --soak

demo: module sarectl
	qemu-tests/run.sh --demo

bench: module sarectl
	qemu-tests/run.sh --bench
	$(CARGO) run --release -q -p sara_ctl --bin sara-sim -- --out build/bench/sim

# The runner of the instruction-count benchmarks is the one scripts/setup.sh --bench installs.
bench-host:
	@scripts/setup.sh --bench
	qemu-tests/bench/icount/selftest.sh
	python3 qemu-tests/bench/test_report.py
	@mkdir -p build/bench-host
	GUNGRAUN_RUNNER="$$(. scripts/env.sh; echo $$SARA_GUNGRAUN_RUNNER)" \
	  $(CARGO) bench -p sara_core --bench instructions -- --output-format=json >build/bench-host/instructions.jsonl
	$(CARGO) bench -p sara_core --bench vs_hashbrown >build/bench-host/vs_hashbrown.txt
	@{ scripts/bench-host-summary.py build/bench-host/instructions.jsonl sara_kmod/core/benches/instructions.rs && \
	  echo && sed -n '/^lookup at 10^6 flows, per lookup/,$$p' build/bench-host/vs_hashbrown.txt; } | tee build/bench-host/summary.txt

# The plugin that counts make bench's guest instructions, checked on the host (qemu-user).
icount-selftest:
	qemu-tests/bench/icount/selftest.sh

# make bench's report (qemu-tests/bench/report.py) on synthetic results and instruction counts.
bench-report-test:
	python3 qemu-tests/bench/test_report.py

fmt: setup
	scripts/fmt.sh

fmt-check: setup
	scripts/fmt.sh --check

clippy: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings

imports:
	scripts/check-imports.py --strict

lint: fmt-check imports clippy

fuzz:
	scripts/fuzz.sh

clean:
	-[ -n "$(KDIR)" ] && $(MAKE) -C "$(KDIR)" M="$(CURDIR)" clean
	rm -rf build target
