#!/usr/bin/env python3
"""Markdown report of qemu-tests/bench.sh's measurements (a TSV file, one measurement a line).

  report.py RESULTS.tsv HZ TOTAL_SECONDS SECONDS_PER_MEASUREMENT JOBS KERNEL

Lines: steady F PROTO SETUP DT SOFTIRQ_TICKS IDLE_TICKS PKTS_AT_SERVERS COUNTED TRACKED CONNTRACK
       new    F PROTO SETUP DT SOFTIRQ_TICKS IDLE_TICKS PKTS_AT_SERVERS SESSIONS TRACKED
       mem    F PROTO sara   INSMOD_MEMAVAIL INSMOD_VMALLOC TABLE_MEMAVAIL TABLE_VMALLOC CAPACITY FLOWS GROW_MEMAVAIL GROW_SLAB
       mem    F PROTO ipvs*  INSMOD_MEMAVAIL INSMOD_VMALLOC CONNS GROW_MEMAVAIL GROW_SLAB OBJS SLAB_BYTES OBJSIZE OBJS0 SLAB_BYTES0
"""
import sys

path, hz, total, secs, jobs, kernel = sys.argv[1:7]
hz = float(hz)
steady, new, mem, skipped = {}, {}, {}, []
order = []
for line in open(path):
    r = line.rstrip("\n").split("\t")
    if len(r) < 4:
        continue
    key = (int(r[1]), r[2], r[3])
    if (key[0], key[1]) not in order:
        order.append((key[0], key[1]))
    if r[0] == "steady":
        dt, sirq, idle, pk, counted, tracked = float(r[4]), int(r[5]), int(r[6]), int(r[7]), int(r[8]), r[9]
        steady[key] = dict(pps=pk / dt if dt else 0, ns=(sirq / hz * 1e9 / pk) if pk else None,
                           cpus=sirq / hz / dt if dt else 0, pk=pk, counted=counted, tracked=tracked,
                           ct=r[10] if len(r) > 10 else "-")
    elif r[0] == "new":
        dt, sirq, pk, sess, tracked = float(r[4]), int(r[5]), int(r[7]), int(r[8]), r[9]
        if r[3].startswith("ipvs") and tracked.isdigit():
            # IPVS's /proc/net/ip_vs_stats totals are summed by its estimator every 2 s, so a short
            # pass may show none of its connections yet; the pass starts from an empty table, so
            # the connections listed after it (ipvsadm -Ln) are the ones it opened.
            sess = max(sess, int(tracked))
        new[key] = dict(rate=sess / dt if dt else 0, ns=(sirq / hz * 1e9 / sess) if sess else None,
                        sess=sess, dt=dt, pk=pk, tracked=tracked)
    elif r[0] == "skipped":
        skipped.append(f"{r[1]} flows {r[2]} ({r[3]})")
    elif r[0] == "mem":
        mem[key] = [int(x) if x.lstrip("-").isdigit() else None for x in r[4:]]

SETUPS = ["floor", "route", "sara", "ipvs", "ipvs-p"]
NAMES = {"floor": "floor (no dispatcher)", "route": "route (dispatcher routes)", "sara": "SARA",
         "ipvs": "IPVS-DR wlc", "ipvs-p": "IPVS-DR wlc -p"}


def fnum(x, d=0):
    if x is None:
        return "–"
    return f"{x:,.{d}f}"


def fk(f):
    return f"{f // 1000000}M" if f >= 1000000 and f % 1000000 == 0 else (f"{f // 1000}k" if f >= 1000 and f % 1000 == 0 else str(f))


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b not in (None, 0) else "–"


out = []
p = out.append
p("# SARA benchmarks")
p("")
p(f"One VM boot (QEMU/TCG, kernel {kernel}), {jobs} generator process(es) pinned to the last vCPU(s), "
  f"{secs} s per forwarding measurement, {int(total) // 60} min {int(total) % 60} s in all. "
  "Packets are counted at the servers' bridge ports. *ns/pkt* is the softirq time of all CPUs "
  "(/proc/stat) per delivered packet: the whole path cl → gw → bridge → [dispatcher] → server, so "
  "*own* = setup − floor is what the dispatcher hop adds, *vs route* = setup − route what the balancer "
  "costs beyond plain IP forwarding. Figures under TCG on a shared host are noisy: read the ratios.")
if skipped:
    p("")
    p("**Skipped (time budget):** " + ", ".join(skipped) + ".")
p("")
p("## Forwarding cost (steady flows)")
p("")
p("| flows | proto | setup | flows tracked | pkts/s | ns/pkt | own ns/pkt | vs route ns/pkt | softirq CPUs | balancer counted / servers |")
p("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
for f, proto in order:
    fl = steady.get((f, proto, "floor"), {}).get("ns")
    ro = steady.get((f, proto, "route"), {}).get("ns")
    for s in SETUPS:
        m = steady.get((f, proto, s))
        if not m:
            continue
        own = m["ns"] - fl if m["ns"] is not None and fl is not None and s != "floor" else None
        vr = m["ns"] - ro if m["ns"] is not None and ro is not None and s not in ("floor", "route") else None
        chk = f"{m['counted'] / m['pk']:.3f}" if s in ("sara", "ipvs", "ipvs-p") and m["pk"] else ""
        p(f"| {fk(f)} | {proto} | {NAMES[s]} | {m['tracked']} | {fnum(m['pps'])} | {fnum(m['ns'])} | "
          f"{fnum(own)} | {fnum(vr)} | {m['cpus']:.2f} | {chk} |")
p("")
p("## Ratios")
p("")
p("pkts/s ratios above 1 and ns/pkt ratios below 1 favour SARA. *own* ratios compare the dispatcher's "
  "share only (setup − floor).")
p("")
p("| flows | proto | pkts/s SARA/IPVS | pkts/s SARA/IPVS-p | pkts/s SARA/floor | ns/pkt SARA/IPVS | "
  "ns/pkt SARA/IPVS-p | ns/pkt SARA/floor | own SARA/IPVS | own SARA/IPVS-p | new/s SARA/IPVS | new/s SARA/IPVS-p |")
p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for f, proto in order:
    g = lambda s, k: steady.get((f, proto, s), {}).get(k)
    n = lambda s: new.get((f, proto, s), {}).get("rate")
    fl = g("floor", "ns")
    own = lambda s: g(s, "ns") - fl if g(s, "ns") is not None and fl is not None else None
    p(f"| {fk(f)} | {proto} | {ratio(g('sara', 'pps'), g('ipvs', 'pps'))} | {ratio(g('sara', 'pps'), g('ipvs-p', 'pps'))} | "
      f"{ratio(g('sara', 'pps'), g('floor', 'pps'))} | {ratio(g('sara', 'ns'), g('ipvs', 'ns'))} | "
      f"{ratio(g('sara', 'ns'), g('ipvs-p', 'ns'))} | {ratio(g('sara', 'ns'), fl)} | "
      f"{ratio(own('sara'), own('ipvs'))} | {ratio(own('sara'), own('ipvs-p'))} | "
      f"{ratio(n('sara'), n('ipvs'))} | {ratio(n('sara'), n('ipvs-p'))} |")
p("")
p("## New sessions (the pass that opens the flows)")
p("")
p("Every flow is new: one datagram (UDP) or SYN + ACK (TCP), sent from the gateway namespace by one "
  "generator per CPU. SARA counts `sessions_created`, IPVS the connections it lists after the pass "
  "(its /proc/net/ip_vs_stats totals lag by up to 2 s).")
p("")
p("| flows | proto | setup | opened | seconds | sessions/s | softirq ns/session | tracked after |")
p("|---:|---|---|---:|---:|---:|---:|---:|")
for f, proto in order:
    for s in ("sara", "ipvs", "ipvs-p"):
        m = new.get((f, proto, s))
        if m:
            p(f"| {fk(f)} | {proto} | {NAMES[s]} | {m['sess']:,} | {m['dt']:.1f} | {fnum(m['rate'])} | {fnum(m['ns'])} | {m['tracked']} |")
p("")
p("## Memory per tracked flow")
p("")
p("SARA: its table is allocated when the first service is added (`insmod sara.ko flow_capacity=…` + "
  "`sarectl service add`); measured as the MemAvailable and VmallocUsed drops of that step. IPVS: the "
  "`ip_vs_conn` slab cache (/proc/slabinfo, booted with `slab_nomerge`) and the Slab and MemAvailable "
  "changes from the service's creation to the end of the run, per connection (templates included for -p); "
  "its connection hash table (conn_tab_bits=20) is the insmod step.")
p("")
p("*per tracked flow* = (fixed + growth of the flow store) / flows tracked: SARA's preallocated table over the "
  "flows in it; IPVS's hash table plus the ip_vs_conn slab growth over its connections (-p: templates included).")
p("")
p("| flows | proto | setup | tracked | fixed: insmod + table (MemAvail / Vmalloc) | per slot | per tracked flow | growth per tracked flow (MemAvail / Slab) | ip_vs_conn slab per object |")
p("|---:|---|---|---:|---|---:|---:|---|---:|")
for f, proto in order:
    for s in ("sara", "ipvs", "ipvs-p"):
        m = mem.get((f, proto, s))
        if not m:
            continue
        if s == "sara":
            mi, vi, mt, vt, cap, flows, gm, gs = m[:8]
            fixed = (mi or 0) + (mt or 0)
            p(f"| {fk(f)} | {proto} | SARA | {flows:,} | {fixed / 2**20:.1f} MiB / {((vi or 0) + (vt or 0)) / 2**20:.1f} MiB | "
              f"{fnum(mt / cap if cap else None, 1)} B (capacity {cap:,}) | {fnum(fixed / flows if flows else None, 1)} B | "
              f"{fnum(gm / flows if flows else None, 1)} B / {fnum(gs / flows if flows else None, 1)} B | |")
        else:
            mi, vi, conns, gm, gs, objs, sb, osz, objs0, sb0 = (m + [None] * 10)[:10]
            per_obj = (sb - sb0) / (objs - objs0) if None not in (sb, sb0, objs, objs0) and objs != objs0 else None
            store = (mi or 0) + (sb - sb0 if None not in (sb, sb0) else (gs or 0))
            p(f"| {fk(f)} | {proto} | {NAMES[s]} | {conns:,} | {(mi or 0) / 2**20:.1f} MiB / {(vi or 0) / 2**20:.1f} MiB | | "
              f"{fnum(store / conns if conns else None, 1)} B | {fnum(gm / conns if conns else None, 1)} B / "
              f"{fnum(gs / conns if conns else None, 1)} B | {fnum(per_obj, 1)} B (objsize {osz}, {objs:,} objects) |"
              if objs is not None else
              f"| {fk(f)} | {proto} | {NAMES[s]} | {conns:,} | {(mi or 0) / 2**20:.1f} MiB / {(vi or 0) / 2**20:.1f} MiB | | "
              f"{fnum((gm + (mi or 0)) / conns if conns else None, 1)} B | {fnum(gm / conns if conns else None, 1)} B / "
              f"{fnum(gs / conns if conns else None, 1)} B | no slabinfo |")
print("\n".join(out))
