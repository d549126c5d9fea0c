#!/usr/bin/env python3
"""UDP sessions that keep talking through a dispatcher failover: --sessions sockets (one source port
each: one SARA session each, on a service without signalling) each send a numbered datagram every
--interval ms to VIP:PORT; the name servers answer "<name> <datagram>". Session 0 is the fast one
(every --fast-interval ms): the longest silence of its answers is the outage a client saw.

Runs until --stop-file exists, then prints one JSON object:
  sent, answered, duplicates (a datagram answered twice: forwarded by two dispatchers, or by one
  twice), per phase (the --phase-file's content when the datagram was sent: "before", "after"...):
  the server of each session, and
  continued: sessions answered in every phase by one and the same server,
  moved: sessions answered by a different server in a later phase (session affinity broken),
  silent: sessions not answered at all in some phase,
  gap_ms: the longest time between two answers of the fast session, and when it began (unix s);
  gap_ms_by_phase: the same per phase (the phase in effect when the silence ended).
Exits 0; the test judges.
"""
import argparse
import json
import os
import select
import socket
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--interval", type=float, default=250.0, help="ms between datagrams of a session")
    ap.add_argument("--fast-interval", type=float, default=10.0, help="ms, session 0")
    ap.add_argument("--base-port", type=int, required=True)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--phase-file", required=True)
    a = ap.parse_args()
    socks = []
    for i in range(a.sessions):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", a.base_port + i))
        s.connect((a.vip, a.port))
        s.setblocking(False)
        socks.append(s)
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    period = [a.fast_interval / 1000.0] + [a.interval / 1000.0] * (a.sessions - 1)
    start = time.time()
    # Stagger the slow sessions over their interval.
    nxt = [start] + [start + (i * period[i] / a.sessions) for i in range(1, a.sessions)]
    seq = [0] * a.sessions
    phase_of = {}          # (session, seq) -> phase when sent
    answered = {}          # (session, seq) -> times answered
    servers = {}           # phase -> session -> set of servers
    fast_last = None
    gap, gap_at = 0.0, None
    gaps = {}              # phase -> longest silence of the fast session ending in it
    sent = 0
    phase = "before"
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    last_phase_read = 0.0
    seen = [phase]          # phases in the order they began
    while True:
        now = time.time()
        if now - last_phase_read > 0.05:
            last_phase_read = now
            if os.path.exists(a.stop_file):
                break
            try:
                phase = open(a.phase_file).read().strip() or phase
            except OSError:
                pass
            if phase not in seen:
                seen.append(phase)
        for i in range(a.sessions):
            if now >= nxt[i]:
                seq[i] += 1
                try:
                    socks[i].send(b"%d %d" % (i, seq[i]))
                    phase_of[(i, seq[i])] = phase
                    sent += 1
                except OSError:
                    pass
                nxt[i] += period[i]
                if nxt[i] < now:
                    nxt[i] = now + period[i]
        wait = max(0.0, min(nxt) - time.time())
        for fd, _ in poller.poll(wait * 1000.0):
            i = by_fd[fd]
            while True:
                try:
                    data = socks[i].recv(2048)
                except OSError:
                    break
                t = time.time()
                parts = data.split()
                if len(parts) < 3:
                    continue
                name = parts[0].decode(errors="replace")
                try:
                    k = (int(parts[1]), int(parts[2]))
                except ValueError:
                    continue
                answered[k] = answered.get(k, 0) + 1
                p = phase_of.get(k, "?")
                servers.setdefault(p, {}).setdefault(k[0], set()).add(name)
                if k[0] == 0:
                    if fast_last is not None:
                        if t - fast_last > gap:
                            gap, gap_at = t - fast_last, fast_last
                        gaps[phase] = max(gaps.get(phase, 0.0), t - fast_last)
                    fast_last = t
    continued, moved, silent = 0, [], []
    for i in range(a.sessions):
        names = [servers.get(p, {}).get(i, set()) for p in seen]
        if any(not n for n in names):
            silent.append(i)
        allnames = set().union(*names) if names else set()
        if len(allnames) > 1:
            moved.append(i)
        elif allnames and all(names):
            continued += 1
    out = {
        "sessions": a.sessions,
        "sent": sent,
        "answered": sum(1 for v in answered.values() if v >= 1),
        "duplicates": sum(v - 1 for v in answered.values() if v > 1),
        "phases": seen,
        "per_phase_servers": {p: {str(i): sorted(n) for i, n in sorted(servers.get(p, {}).items())} for p in seen},
        "continued": continued,
        "moved": moved,
        "silent": silent,
        "gap_ms": round(gap * 1000.0, 1),
        "gap_at": gap_at,
        "gap_ms_by_phase": {p: round(g * 1000.0, 1) for p, g in gaps.items()},
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
