#!/usr/bin/env python3
"""Markdown report of qemu-tests/bench.sh's measurements (a TSV file, one measurement a line), with
the instruction counts of the sara-icount plugin when given its output.

  report.py RESULTS.tsv [HZ TOTAL_SECONDS SECONDS_PER_MEASUREMENT JOBS KERNEL] [--icount ICOUNT.tsv]
            [--clock TEXT]

The five parameters default to the RESULTS' "meta" line (bench.sh writes it last; run.sh runs this
again on the host, where the plugin's file is). --icount: build/bench/icount.tsv (the plugin's
snapshots, see icount/sara-icount.c); without it, or if the file does not exist, the report has the
time-based sections only, as before the plugin. --clock: how QEMU's clock ran, when not real time
(run.sh passes "-icount shift=N"), said in the introduction.

RESULTS lines:
  steady F PROTO SETUP DT SOFTIRQ_TICKS IDLE_TICKS PKTS_AT_SERVERS COUNTED TRACKED CONNTRACK
  new    F PROTO SETUP DT SOFTIRQ_TICKS IDLE_TICKS PKTS_AT_SERVERS SESSIONS TRACKED
  mem    F PROTO sara   INSMOD_MEMAVAIL INSMOD_VMALLOC TABLE_MEMAVAIL TABLE_VMALLOC CAPACITY FLOWS GROW_MEMAVAIL GROW_SLAB
  mem    F PROTO ipvs*  INSMOD_MEMAVAIL INSMOD_VMALLOC CONNS GROW_MEMAVAIL GROW_SLAB OBJS SLAB_BYTES OBJSIZE OBJS0 SLAB_BYTES0
  icount F PROTO SETUP PASS LABEL PKTS_LO PKTS_HI   the pass's (steady|new) instruction interval: the snapshots
                                                    LABEL:begin and LABEL:end, and the packets delivered
                                                    between them (at least LO, at most HI)
  skipped F PROTO WHY
  meta   HZ TOTAL_SECONDS SECONDS_PER_MEASUREMENT JOBS KERNEL

An interval's instructions are the differences of the two snapshots' counters: total (everything,
both vCPUs), user, kernel (outside the named ranges) and the module ranges "sara" (sara.ko) and
"ipvs" (ip_vs.ko + ip_vs_wlc.ko). Per packet (steady: the middle of LO..HI) and per session (new:
the sessions the pass opened, as in the time-based table).
"""
import argparse
import os
import sys

SETUPS = ["floor", "route", "sara", "ipvs", "ipvs-p"]
BALANCERS = ["sara", "ipvs", "ipvs-p"]
NAMES = {"floor": "floor (no dispatcher)", "route": "route (dispatcher routes)", "sara": "SARA",
         "ipvs": "IPVS-DR wlc", "ipvs-p": "IPVS-DR wlc -p"}
# The instruction counter's range holding each balancer's own code (bench.sh's icount_module).
MODULE = {"sara": "sara", "ipvs": "ipvs", "ipvs-p": "ipvs"}
# Counter columns of a snapshot that are not instruction classes.
NOT_CLASSES = ("split_tbs", "threads")


def parse_results(path):
    """bench.sh's TSV: {steady, new, mem, skipped, order, intervals, meta}."""
    res = dict(steady={}, new={}, mem={}, skipped=[], order=[], intervals={}, meta=None)
    steady, new, mem, order = res["steady"], res["new"], res["mem"], res["order"]
    with open(path) as fh:
        lines = fh.readlines()
    for line in lines:
        r = line.rstrip("\n").split("\t")
        if r[0] == "meta":
            res["meta"] = r[1:6]
            continue
        if len(r) < 4:
            continue
        key = (int(r[1]), r[2], r[3])
        if (key[0], key[1]) not in order:
            order.append((key[0], key[1]))
        if r[0] == "skipped":
            res["skipped"].append(f"{r[1]} flows {r[2]} ({r[3]})")
        elif r[0] == "steady":
            dt, sirq, idle, pk, counted, tracked = float(r[4]), int(r[5]), int(r[6]), int(r[7]), int(r[8]), r[9]
            steady[key] = dict(dt=dt, sirq=sirq, pk=pk, counted=counted, tracked=tracked,
                               ct=r[10] if len(r) > 10 else "-")
        elif r[0] == "new":
            dt, sirq, pk, sess, tracked = float(r[4]), int(r[5]), int(r[7]), int(r[8]), r[9]
            if r[3].startswith("ipvs") and tracked.isdigit():
                # IPVS's /proc/net/ip_vs_stats totals are summed by its estimator every 2 s, so a short
                # pass may show none of its connections yet; the pass starts from an empty table, so
                # the connections listed after it (ipvsadm -Ln) are the ones it opened.
                sess = max(sess, int(tracked))
            new[key] = dict(dt=dt, sirq=sirq, sess=sess, pk=pk, tracked=tracked)
        elif r[0] == "icount":
            res["intervals"][key + (r[4],)] = dict(label=r[5], lo=int(r[6]), hi=int(r[7]))
        elif r[0] == "mem":
            mem[key] = [int(x) if x.lstrip("-").isdigit() else None for x in r[4:]]
    return res


def parse_icount(path):
    """The plugin's file: {snaps: label -> counters, dup, errors, header, exit}."""
    ic = dict(snaps={}, dup=[], errors=[], header="", exit=None)
    with open(path) as fh:
        lines = fh.readlines()
    for line in lines:
        f = line.rstrip("\n").split("\t")
        if line.startswith("#"):
            ic["header"] = line.lstrip("# ").rstrip("\n")
        elif f[0] in ("snap", "exit") and len(f) >= 3:
            counters = {}
            for kv in f[3:]:
                k, _, v = kv.partition("=")
                if v.isdigit():
                    counters[k] = int(v)
            if f[0] == "exit":
                ic["exit"] = counters
            else:
                if f[2] in ic["snaps"]:
                    ic["dup"].append(f[2])
                ic["snaps"][f[2]] = counters   # a label seen twice: the later snapshot
        elif f[0] == "error":
            ic["errors"].append("\t".join(f[1:]))
    return ic


def interval_figures(res, ic):
    """(F, PROTO, SETUP, PASS) -> the interval's instructions per unit (packet or session)."""
    figs = {}
    for key, iv in res["intervals"].items():
        f, proto, setup, pas = key
        b, e = ic["snaps"].get(iv["label"] + ":begin"), ic["snaps"].get(iv["label"] + ":end")
        if b is None or e is None:
            continue
        d = {k: e[k] - b.get(k, 0) for k in e if k not in NOT_CLASSES}
        split = e.get("split_tbs", 0) - b.get("split_tbs", 0)
        pk = (iv["lo"] + iv["hi"]) / 2
        if pas == "steady":
            units = pk
            dt = res["steady"].get((f, proto, setup), {}).get("dt")
        else:
            units = res["new"].get((f, proto, setup), {}).get("sess")
            dt = res["new"].get((f, proto, setup), {}).get("dt")
        per = (lambda x: x / units) if units else (lambda x: None)
        mod = MODULE.get(setup)
        figs[key] = dict(
            units=units, pk=pk, unc=(iv["hi"] - iv["lo"]) / 2 / pk if pk else None, d=d, split=split,
            whole=per(d.get("total", 0)), module=per(d.get(mod, 0)) if mod else None,
            kernel=per(d.get("kernel", 0)), user=per(d.get("user", 0)),
            pk_per_unit=per(pk), mips=d.get("total", 0) / dt / 1e6 if dt else None)
    return figs


def fnum(x, d=0):
    if x is None:
        return "–"
    return f"{x:,.{d}f}"


def fk(f):
    return f"{f // 1000000}M" if f >= 1000000 and f % 1000000 == 0 else (f"{f // 1000}k" if f >= 1000 and f % 1000 == 0 else str(f))


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b not in (None, 0) else "–"


def diff(a, b):
    return a - b if a is not None and b is not None else None


def icount_sections(res, ic, figs, p):
    """The instruction-count sections (before the time-based ones)."""
    order = res["order"]
    p("## Instructions per packet (steady flows)")
    p("")
    p("Per packet delivered to the servers. *whole path*: every instruction of the interval; *own* = "
      "setup − floor, *vs route* = setup − route; *in module*: the balancer's own text (sara.ko; "
      "ip_vs.ko + ip_vs_wlc.ko), not the kernel functions it calls; *rest of kernel* and *user* "
      "(the generator): the other classes of the whole path. *± pkts*: how far the packet count of "
      "the interval may be off (packets delivered while the snapshot was taken).")
    p("")
    p("| flows | proto | setup | packets | whole path | own | vs route | in module | rest of kernel | user | ± pkts |")
    p("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f, proto in order:
        g = lambda s: figs.get((f, proto, s, "steady"), {}).get("whole")
        for s in SETUPS:
            m = figs.get((f, proto, s, "steady"))
            if not m:
                continue
            own = diff(m["whole"], g("floor")) if s != "floor" else None
            vr = diff(m["whole"], g("route")) if s not in ("floor", "route") else None
            unc = f"{m['unc'] * 100:.2f} %" if m["unc"] is not None else "–"
            p(f"| {fk(f)} | {proto} | {NAMES[s]} | {fnum(m['pk'])} | {fnum(m['whole'])} | {fnum(own)} | "
              f"{fnum(vr)} | {fnum(m['module'])} | {fnum(m['kernel'])} | {fnum(m['user'])} | {unc} |")
    p("")
    p("## Instructions per new session")
    p("")
    p("The pass that opens the flows (sent from the gateway namespace, one generator per CPU), per "
      "session opened (as counted below): the whole interval (the generators' start included) and "
      "the balancer's own text.")
    p("")
    p("| flows | proto | setup | opened | whole path | in module | rest of kernel | user | packets per session |")
    p("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for f, proto in order:
        for s in BALANCERS:
            m = figs.get((f, proto, s, "new"))
            if m:
                p(f"| {fk(f)} | {proto} | {NAMES[s]} | {fnum(m['units'])} | {fnum(m['whole'])} | "
                  f"{fnum(m['module'])} | {fnum(m['kernel'])} | {fnum(m['user'])} | {fnum(m['pk_per_unit'], 2)} |")
    p("")
    p("## Instruction ratios")
    p("")
    p("Below 1 favours SARA: instructions per packet (whole path, *own* = setup − floor, in the "
      "module) and per new session (whole, in the module).")
    p("")
    p("| flows | proto | pkt SARA/IPVS | pkt SARA/IPVS-p | own SARA/IPVS | own SARA/IPVS-p | module SARA/IPVS | "
      "module SARA/IPVS-p | session SARA/IPVS | session SARA/IPVS-p | module/session SARA/IPVS | module/session SARA/IPVS-p |")
    p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f, proto in order:
        st = lambda s, k: figs.get((f, proto, s, "steady"), {}).get(k)
        nw = lambda s, k: figs.get((f, proto, s, "new"), {}).get(k)
        own = lambda s: diff(st(s, "whole"), st("floor", "whole"))
        if not any(figs.get((f, proto, s, pas)) for s in BALANCERS for pas in ("steady", "new")):
            continue
        p(f"| {fk(f)} | {proto} | {ratio(st('sara', 'whole'), st('ipvs', 'whole'))} | "
          f"{ratio(st('sara', 'whole'), st('ipvs-p', 'whole'))} | {ratio(own('sara'), own('ipvs'))} | "
          f"{ratio(own('sara'), own('ipvs-p'))} | {ratio(st('sara', 'module'), st('ipvs', 'module'))} | "
          f"{ratio(st('sara', 'module'), st('ipvs-p', 'module'))} | {ratio(nw('sara', 'whole'), nw('ipvs', 'whole'))} | "
          f"{ratio(nw('sara', 'whole'), nw('ipvs-p', 'whole'))} | {ratio(nw('sara', 'module'), nw('ipvs', 'module'))} | "
          f"{ratio(nw('sara', 'module'), nw('ipvs-p', 'module'))} |")
    p("")
    p("### Instruction counter")
    p("")
    notes = []
    if ic["header"]:
        notes.append(f"Plugin: {ic['header']}.")
    missing = sorted(iv["label"] for key, iv in res["intervals"].items() if key not in figs)
    if missing:
        notes.append("**No snapshots** for " + ", ".join(f"`{m}`" for m in missing) + " (plugin off or a marker lost).")
    last = ic["exit"] or (list(ic["snaps"].values())[-1] if ic["snaps"] else None)
    if last is not None:
        split = last.get("split_tbs", 0)
        notes.append(f"Translation blocks crossing a range's edge (`split_tbs`, expected 0): {split}"
                     + (" — **the module figures may be off**." if split else ".")
                     + f" Host threads that ran the counting: {last.get('threads', '?')}.")
    bad = [k for k, m in figs.items() if m["split"]]
    if bad:
        notes.append("Split blocks within the intervals of " + ", ".join(":".join(map(str, k)) for k in bad) + ".")
    if ic["errors"]:
        notes.append("**Plugin errors:** " + "; ".join(f"`{e}`" for e in ic["errors"]) + ".")
    if ic["dup"]:
        notes.append("Labels seen twice (the later snapshot used): " + ", ".join(f"`{d}`" for d in ic["dup"]) + ".")
    unc = [m["unc"] for k, m in figs.items() if k[3] == "steady" and m["unc"] is not None]
    if unc:
        notes.append(f"Packet counts of the steady intervals: within ±{max(unc) * 100:.2f} % (the worst).")
    mips = [m["mips"] for k, m in figs.items() if k[3] == "steady" and m["mips"]]
    if mips:
        notes.append(f"The guest executed {min(mips):,.0f}–{max(mips):,.0f} million instructions per second of "
                     "its clock in the forwarding measurements (both vCPUs): with `BENCH_ICOUNT_SHIFT=N` its "
                     "clock advances 2^N ns per instruction, i.e. 1000/2^N million a second when busy.")
    p(" ".join(notes) if notes else "No snapshot.")
    p("")


def render(res, hz, total, secs, jobs, kernel, ic=None, clock=None):
    hz = float(hz)
    steady, new, mem, skipped, order = res["steady"], res["new"], res["mem"], res["skipped"], res["order"]
    for m in steady.values():
        dt, pk, sirq = m["dt"], m["pk"], m["sirq"]
        m.update(pps=pk / dt if dt else 0, ns=(sirq / hz * 1e9 / pk) if pk else None, cpus=sirq / hz / dt if dt else 0)
    for m in new.values():
        m.update(rate=m["sess"] / m["dt"] if m["dt"] else 0,
                 ns=(m["sirq"] / hz * 1e9 / m["sess"]) if m["sess"] else None)
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
    if ic is not None:
        p("")
        p("*Instructions* (the sara-icount QEMU plugin, `build/bench/icount.tsv`) are counted, not timed: "
          "every guest instruction executed on both vCPUs between two snapshots the benchmark takes "
          "around each pass, split into the balancer module's own text, the rest of the kernel and user "
          "space. The host's load does not change them; what the guest does does (how packets are "
          "batched, timer ticks, the marker program itself), so they vary a little between runs, far "
          "less than the times. The same *whole path*, *own* and *vs route* as for the times; a halted "
          "vCPU executes nothing.")
    if clock:
        p("")
        p(f"QEMU ran with `{clock}`: the guest's clock advanced with the instructions executed (all vCPUs "
          "in one host thread), not with the host's time, so the time figures below follow the "
          "instruction counts; they repeat closely between runs, not exactly (the clock runs at real "
          "time while every vCPU is halted).")
    if skipped:
        p("")
        p("**Skipped (time budget):** " + ", ".join(skipped) + ".")
    p("")
    if ic is not None:
        icount_sections(res, ic, interval_figures(res, ic), p)
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
        for s in BALANCERS:
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
        for s in BALANCERS:
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
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(description="Markdown report of bench.sh's results (see the module's doc).")
    ap.add_argument("results")
    ap.add_argument("params", nargs="*", help="HZ TOTAL_SECONDS SECONDS_PER_MEASUREMENT JOBS KERNEL (default: the meta line)")
    ap.add_argument("--icount", help="the plugin's output (build/bench/icount.tsv); ignored if absent")
    ap.add_argument("--clock", help="QEMU's clock when not real time, e.g. '-icount shift=3'")
    a = ap.parse_args(argv)
    res = parse_results(a.results)
    params = a.params or res["meta"]
    if not params or len(params) != 5:
        ap.error("give HZ TOTAL_SECONDS SECONDS_PER_MEASUREMENT JOBS KERNEL, or results with a meta line")
    ic = parse_icount(a.icount) if a.icount and os.path.exists(a.icount) else None
    print(render(res, *params, ic=ic, clock=a.clock))


if __name__ == "__main__":
    main(sys.argv[1:])
