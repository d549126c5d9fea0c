#!/usr/bin/env bash
# Checks sara-icount on the host under user-mode QEMU (qemu-x86_64, package qemu-user; no VM):
# builds the plugin, mark and selftest-prog (build.sh), runs selftest-prog under the plugin and checks
# that
#   - the markers are recognised (six snapshots, the ranges, an error for each malformed message);
#   - the loops count exactly: hot += 2N+2, 4N+2, 0, 2(2N+2) (two threads at once), 0 after unrange;
#     warm (a range given as a plugin argument) += 2N+2 at s3 only; the total grows by exactly 2N
#     more over hot(2N) than over hot(N); user + kernel + ranges = total; kernel = 0; split_tbs = 0;
#   - two runs give the same counts, snapshot for snapshot (s0-s3 whole; s4-s5 the ranges: two
#     threads' start-up and joining are not deterministic), and count=inline (the window holding hot
#     and warm) the same as count=cb;
#   - with N large (3*10^6) too, where the two threads' loops run at once on the host's CPUs;
#   - marks.sh's icount_module announces a module's executable sections but .init.* (a fake module:
#     an object file with known section sizes, a fake /sys/module), through mark and the plugin.
# Takes about a second. `make icount-selftest`; `make bench-host` runs it too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out="$top/build/bench/icount"
command -v qemu-x86_64 >/dev/null \
  || { echo "icount selftest: qemu-x86_64 is missing (apt-get install qemu-user, or scripts/setup.sh --bench)" >&2; exit 1; }
"$here/build.sh" "$out"
prog="$out/selftest-prog"
# warm's range from the symbol table (static, not PIE: the addresses are the run's).
sym() { nm "$prog" | awk -v s="$1" '$3 == s {print "0x" $1}'; }
warm="warm:$(sym icount_warm)-$(sym icount_warm_end)"
[[ "$warm" =~ ^warm:0x[0-9a-f]+-0x[0-9a-f]+$ ]] || { echo "icount selftest: no icount_warm in $prog" >&2; exit 1; }
# count=inline's window: from hot's start to warm's end (whole functions: no TB crosses its edges).
window="$(sym icount_hot)-$(sym icount_warm_end)"
run() {  # N OUTFILE [PLUGIN-ARGS]: a clean environment, so that start-up counts repeat
  env -i qemu-x86_64 -plugin "$out/sara-icount.so,out=$2,range=$warm${3:+,$3}" "$prog" "$1"
}
n_small=1000
n_big=3000000
run $n_small "$out/selftest-a.txt"
run $n_small "$out/selftest-b.txt"
run $n_big "$out/selftest-c.txt"
run $n_small "$out/selftest-d.txt" "count=inline,window=$window"
# marks.sh: a fake module "fake" (sections of known sizes), its sysfs, and mark run under the plugin
# (one QEMU process per call, each writing its own file: the unrange's plugin never saw the ranges).
tmp="$out/selftest-marks"
rm -rf "$tmp"
mkdir -p "$tmp/sys/module/fake/sections"
printf '%s\n' '.text' '.skip 0x123' '.section .exit.text,"ax",@progbits' '.skip 0x10' \
  '.section .init.text,"ax",@progbits' '.skip 0x20' '.section .rodata,"a",@progbits' '.skip 0x40' >"$tmp/fake.s"
gcc -c -o "$tmp/fake.ko" "$tmp/fake.s"
for s in .text:0xffffffffc0a00000 .exit.text:0xffffffffc0a00130 .init.text:0xffffffffc0b00000 \
  .rodata:0xffffffffc0a01000; do
  echo "${s#*:}" >"$tmp/sys/module/fake/sections/${s%%:*}"
done
cat >"$tmp/mark" <<WRAP
#!/bin/sh
n=\$(ls "$tmp" | grep -c '^out\.')
exec qemu-x86_64 -plugin "$out/sara-icount.so,out=$tmp/out.\$n" "$out/mark" "\$@"
WRAP
chmod +x "$tmp/mark"
(
  ICOUNT_MARK="$tmp/mark" ICOUNT_SYSFS="$tmp/sys"
  . "$here/marks.sh"
  icount_module fake fake "$tmp/fake.ko"
  icount_unmodule fake
  icount_snap after
)
marks_got=$(cat "$tmp"/out.* | awk -F '\t' -v OFS=' ' '$1 == "snap" {print $1, $2, $3}
  $1 == "range" || $1 == "unrange" || $1 == "error" {$1 = $1; print}' | sort)
marks_want=$(printf '%s\n' 'error bad unrange message (no such ranges?): unrange fake' \
  'range fake 0xffffffffc0a00000 0xffffffffc0a00123' 'range fake 0xffffffffc0a00130 0xffffffffc0a00140' \
  'snap 1 after' | sort)
if [ "$marks_got" != "$marks_want" ]; then
  printf 'icount selftest FAILED: marks.sh gave\n%s\nwant\n%s\n' "$marks_got" "$marks_want"
  exit 1
fi
python3 - "$n_small" "$n_big" "$out"/selftest-{a,b,c,d}.txt <<'EOF'
import sys

n_small, n_big = int(sys.argv[1]), int(sys.argv[2])
errors = []


def parse(path):
    snaps, other = {}, []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if f[0] in ("snap", "exit"):
            snaps[f[2] if f[0] == "snap" else "exit"] = dict(kv.split("=", 1) for kv in f[3:])
        elif not line.startswith("#"):
            other.append(f)
    return {k: {kk: int(vv) for kk, vv in v.items()} for k, v in snaps.items()}, other


def check(path, n):
    snaps, other = parse(path)
    def ok(cond, what):
        if not cond:
            errors.append(f"{path}: {what}")
    labels = [f"s{i}" for i in range(6)]
    ok(all(l in snaps for l in labels + ["exit"]), f"snapshots {sorted(snaps)}, want s0-s5 and exit")
    if errors:
        return snaps
    d = lambda a, b, k: snaps[b][k] - snaps[a][k]
    ok(snaps["s0"]["hot"] == 0 and snaps["s0"]["warm"] == 0, "hot/warm not 0 at s0")
    for (a, b), hot, warm in zip(zip(labels, labels[1:]),
                                 [2 * n + 2, 4 * n + 2, 0, 2 * (2 * n + 2), 0],
                                 [0, 0, 2 * n + 2, 0, 0]):
        ok(d(a, b, "hot") == hot, f"hot {a}->{b} = {d(a, b, 'hot')}, want {hot}")
        ok(d(a, b, "warm") == warm, f"warm {a}->{b} = {d(a, b, 'warm')}, want {warm}")
    ok(d("s1", "s2", "total") - d("s0", "s1", "total") == 2 * n,
       f"total s1->s2 minus s0->s1 = {d('s1', 's2', 'total') - d('s0', 's1', 'total')}, want {2 * n}")
    ok(d("s4", "s5", "user") >= 2 * n + 2, "hot(N) after unrange not counted as user")
    for k, s in snaps.items():
        ok(s["user"] + s["kernel"] + s["hot"] + s["warm"] == s["total"], f"{k}: classes do not add up")
        ok(s["kernel"] == 0, f"{k}: kernel {s['kernel']} in user mode")
        ok(s["split_tbs"] == 0, f"{k}: split_tbs {s['split_tbs']}")
    ok(snaps["s3"]["threads"] == 1 and snaps["s4"]["threads"] == 3,
       f"threads {snaps['s3']['threads']} at s3, {snaps['s4']['threads']} at s4: want 1 and 3")
    ranges = [f for f in other if f[0] == "range"]
    ok([f[1] for f in ranges] == ["warm", "hot"], f"range lines {ranges}")
    ok([f[1] for f in other if f[0] == "unrange"] == ["hot"], "no unrange line")
    errs = [f for f in other if f[0] == "error"]
    want = ["unknown message", "empty range", "overlaps a range of warm", "no such ranges", "too long"]
    ok(len(errs) == len(want) and all(w in e[1] for w, e in zip(want, errs)), f"error lines {errs}")
    return snaps


a = check(sys.argv[3], n_small)
b = check(sys.argv[4], n_small)
c = check(sys.argv[5], n_big)
i = check(sys.argv[6], n_small)
if not errors:
    for other, what in [(b, "two count=cb runs"), (i, "count=cb and count=inline")]:
        for k in ["s0", "s1", "s2", "s3"]:
            if a[k] != other[k]:
                errors.append(f"{what} differ at {k}: {a[k]} / {other[k]}")
        for k in ["s4", "s5"]:
            for r in ["hot", "warm"]:
                if a[k][r] != other[k][r]:
                    errors.append(f"{what} differ at {k} {r}: {a[k][r]} / {other[k][r]}")
if errors:
    print("icount selftest FAILED:\n  " + "\n  ".join(errors))
    sys.exit(1)
for n, s in [(n_small, a), (n_big, c)]:
    print(f"icount selftest N={n}: " + "; ".join(
        f"{k} hot={s[k]['hot']} warm={s[k]['warm']} total={s[k]['total']}" for k in ["s0", "s1", "s2", "s3", "s4", "s5"]))
print("icount selftest: ok (exact loop counts; two runs, and count=cb and count=inline, identical; "
      "marks.sh's module ranges)")
EOF
