#!/usr/bin/env python3
"""Host test of report.py (no VM, well under a second): `make bench-report-test`; `make bench-host`
runs it too.

Fixtures in testdata/ (synthetic, numbers chosen so that every figure is round):
  bench.tsv    bench.sh's results: 1k UDP with every setup, 100k TCP where the steady SARA interval
               lost its end snapshot and IPVS -p was skipped, a skipped 1M block, the meta line
  icount.tsv   the plugin's file for that run: cumulative counters, instructions "between" the
               intervals (set-up work that must not count), ranges announced and withdrawn, a
               plugin error line, an exit line
  report-no-icount.md
               the report of bench.tsv without its icount and meta lines, as written by report.py
               before it read instruction counts: without --icount (or with a missing file) the
               report must stay exactly that. (A deliberate change of the time-based sections
               rewrites this file: python3 report.py testdata/bench.tsv > testdata/report-no-icount.md.)
Checks the computed figures (per packet, per session, own = setup - floor, in module, the ratios,
the packet bounds, IPVS's session count from its table), the markdown rows, the notes on missing
snapshots and plugin errors, --clock, and the command line.
"""
import importlib.util
import io
import os
import subprocess
import sys
import unittest
from contextlib import redirect_stdout

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "testdata")
BENCH, ICOUNT = os.path.join(DATA, "bench.tsv"), os.path.join(DATA, "icount.tsv")
PARAMS = ["100", "1500", "10", "1", "6.12.118"]   # the fixture's meta line

spec = importlib.util.spec_from_file_location("report", os.path.join(HERE, "report.py"))
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def read(path):
    with open(path) as fh:
        return fh.read()


def run(*args):
    out = io.StringIO()
    with redirect_stdout(out):
        report.main(list(args))
    return out.getvalue()


class Figures(unittest.TestCase):
    def setUp(self):
        self.res = report.parse_results(BENCH)
        self.ic = report.parse_icount(ICOUNT)
        self.figs = report.interval_figures(self.res, self.ic)

    def fig(self, f, proto, setup, pas):
        return self.figs[(f, proto, setup, pas)]

    def test_per_packet(self):
        want = {  # setup: whole path, in module, rest of kernel, user (per packet)
            "floor": (10000, None, 8000, 2000),
            "route": (12000, None, 10000, 2000),
            "sara": (15000, 2000, 11000, 2000),
            "ipvs": (16000, 3000, 11000, 2000),
            "ipvs-p": (17000, 4000, 11000, 2000),
        }
        for setup, (whole, module, kernel, user) in want.items():
            m = self.fig(1000, "udp", setup, "steady")
            self.assertAlmostEqual(m["whole"], whole, msg=setup)
            if module is None:
                self.assertIsNone(m["module"], setup)
            else:
                self.assertAlmostEqual(m["module"], module, msg=setup)
            self.assertAlmostEqual(m["kernel"], kernel, msg=setup)
            self.assertAlmostEqual(m["user"], user, msg=setup)
        # Classes add up to the whole path.
        m = self.fig(1000, "udp", "sara", "steady")
        self.assertAlmostEqual(m["module"] + m["kernel"] + m["user"], m["whole"])

    def test_packet_bounds(self):
        m = self.fig(1000, "udp", "sara", "steady")   # 49,995 .. 50,005
        self.assertEqual(m["pk"], 50000)
        self.assertAlmostEqual(m["unc"], 5 / 50000)
        self.assertEqual(self.fig(100000, "tcp", "floor", "steady")["unc"], 0)

    def test_per_session(self):
        want = {"sara": (30000, 3000), "ipvs": (40000, 5000), "ipvs-p": (50000, 6000)}
        for setup, (whole, module) in want.items():
            m = self.fig(1000, "udp", setup, "new")
            self.assertEqual(m["units"], 1000, setup)
            self.assertAlmostEqual(m["whole"], whole, msg=setup)
            self.assertAlmostEqual(m["module"], module, msg=setup)
        # IPVS's counted sessions lagged (0): the connections in its table after the pass (1000).
        self.assertEqual(self.res["new"][(1000, "udp", "ipvs")]["sess"], 1000)
        m = self.fig(100000, "tcp", "sara", "new")
        self.assertAlmostEqual(m["whole"], 39000)
        self.assertAlmostEqual(m["pk_per_unit"], 2.0)

    def test_missing_snapshot(self):
        self.assertNotIn((100000, "tcp", "sara", "steady"), self.figs)
        self.assertIn((100000, "tcp", "ipvs", "steady"), self.figs)
        self.assertEqual(self.ic["errors"], ["bad unrange message (no such ranges?): unrange ipvs"])

    def test_mips(self):
        # floor 1k UDP: 10^9 instructions over 10.05 s of the guest's clock.
        self.assertAlmostEqual(self.fig(1000, "udp", "floor", "steady")["mips"], 1e9 / 10.05 / 1e6)


class Markdown(unittest.TestCase):
    def setUp(self):
        self.md = run(BENCH, "--icount", ICOUNT)

    def row(self, *cells):
        line = "| " + " | ".join(cells) + " |"
        self.assertIn(line, self.md.splitlines())

    def test_rows(self):
        self.row("1k", "udp", "SARA", "50,000", "15,000", "5,000", "3,000", "2,000", "11,000", "2,000", "0.01 %")
        self.row("1k", "udp", "IPVS-DR wlc -p", "40,000", "17,000", "7,000", "5,000", "4,000", "11,000", "2,000", "0.03 %")
        self.row("1k", "udp", "floor (no dispatcher)", "100,000", "10,000", "–", "–", "–", "8,000", "2,000", "0.01 %")
        self.row("100k", "tcp", "IPVS-DR wlc", "40,000", "18,000", "6,000", "5,000", "4,000", "12,000", "2,000", "0.00 %")
        self.row("1k", "udp", "IPVS-DR wlc", "1,000", "40,000", "5,000", "30,000", "5,000", "1.00")
        self.row("100k", "tcp", "SARA", "100,000", "39,000", "4,000", "30,000", "5,000", "2.00")
        self.row("1k", "udp", "0.94", "0.88", "0.83", "0.71", "0.67", "0.50", "0.75", "0.60", "0.60", "0.50")
        self.row("100k", "tcp", "–", "–", "–", "–", "–", "–", "0.85", "–", "0.67", "–")

    def test_sections_and_notes(self):
        heads = [line for line in self.md.splitlines() if line.startswith("#")]
        self.assertEqual(heads, ["# SARA benchmarks", "## Instructions per packet (steady flows)",
                                 "## Instructions per new session", "## Instruction ratios",
                                 "### Instruction counter", "## Forwarding cost (steady flows)", "## Ratios",
                                 "## New sessions (the pass that opens the flows)", "## Memory per tracked flow"])
        self.assertIn("**No snapshots** for `steady:sara:tcp:100000`", self.md)
        self.assertIn("**Plugin errors:** `bad unrange message (no such ranges?): unrange ipvs`", self.md)
        self.assertIn("(`split_tbs`, expected 0): 0.", self.md)
        self.assertIn("within ±0.03 % (the worst)", self.md)
        self.assertNotIn("QEMU ran with", self.md)

    def test_time_sections_unchanged(self):
        # Everything from the time-based sections on is the report without instruction counts.
        plain = read(os.path.join(DATA, "report-no-icount.md"))
        self.assertTrue(self.md.endswith(plain[plain.index("## Forwarding cost"):]))

    def test_clock(self):
        md = run(BENCH, "--icount", ICOUNT, "--clock", "-icount shift=3")
        self.assertIn("QEMU ran with `-icount shift=3`", md)


class WithoutCounts(unittest.TestCase):
    def test_as_before(self):
        want = read(os.path.join(DATA, "report-no-icount.md"))
        self.assertEqual(run(BENCH), want)                                   # parameters from meta
        self.assertEqual(run(BENCH, *PARAMS), want)                          # given
        self.assertEqual(run(BENCH, "--icount", os.path.join(DATA, "nonexistent.tsv")), want)

    def test_command_line(self):
        # As bench.sh runs it in the guest (python3 report.py RESULTS HZ TOTAL SECS JOBS KERNEL).
        out = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), BENCH, *PARAMS],
                             capture_output=True, text=True, check=True).stdout
        self.assertEqual(out, read(os.path.join(DATA, "report-no-icount.md")))


if __name__ == "__main__":
    unittest.main(verbosity=1)
