#!/usr/bin/env python3
"""Instructions per operation from the instruction-count benchmarks (make bench-host).

Reads the JSON lines of `cargo bench -p sara_core --bench instructions -- --output-format=json`
(one line per benchmark, gungraun's summary schema) and prints each benchmark's Callgrind
instruction count (Ir) divided by the operations it runs. The table benchmarks run a batch of BATCH
keys (read from the benchmark's source); the others run one operation.

usage: scripts/bench-host-summary.py SUMMARY.jsonl sara_kmod/core/benches/instructions.rs
"""
import json
import re
import sys

if len(sys.argv) != 3:
    sys.exit(__doc__.strip().splitlines()[-1])
summary, source = sys.argv[1:]
m = re.search(r"^const BATCH: u32 = ([0-9_]+);", open(source).read(), re.M)
if not m:
    sys.exit(f"no `const BATCH: u32 = N;` in {source}")
batch = int(m.group(1).replace("_", ""))

# Benchmark function -> (operations per run, what one operation is).
OPS = {
    "siphash": (1, "SipHash-1-3 of one flow key"),
    "lookup_hit": (batch, "packet of a known flow (hash, lookup, refresh)"),
    "lookup_miss": (batch, "packet of an unknown flow to a service port"),
    "lookup_miss_probes": (batch, "packet of an unknown flow, other port (+3 wildcard probes)"),
    "insert": (batch, "new session (its signalling flow)"),
    "purge_step_live": (1, "purge step (1/10 of every shard), all flows live"),
    "purge_step_expired": (1, "purge step (1/10 of every shard), all visited flows expired"),
    "dpi": (1, "dpi::inspect of one captured message"),
}
SIZES = {"flows_1k": "1k flows", "flows_1m": "10^6 flows"}

rows = []
for line in open(summary):
    if not line.strip():
        continue
    b = json.loads(line)
    fn, bid = b["function_name"], b["id"]
    if fn not in OPS:
        sys.exit(f"{fn}: not in OPS of {sys.argv[0]} (how many operations does one run make?)")
    ir = b["profiles"][0]["data"]["total"]["metrics"]["Ir"]["values"]["new"]
    n, what = OPS[fn]
    rows.append((f"{fn} {SIZES.get(bid, bid)}", ir / n, ir, n, what))
if not rows:
    sys.exit(f"{summary}: no benchmark")

print("Instructions per operation (Callgrind, exact; total / operations per run):")
w = max(len(r[0]) for r in rows)
for name, per, ir, n, what in rows:
    if n > 1:
        print(f"  {name:<{w}}  {per:>12,.1f}   {what} [{ir:,} / {n}]")
    else:
        print(f"  {name:<{w}}  {ir:>10,}     {what}")
