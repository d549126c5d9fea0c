#!/usr/bin/env python3
"""UDP sessions for admission and selection tests: opens --sessions sockets (one source port each,
so each is a new session for a service without signalling inspection) and, in each round, sends one
datagram from every socket and collects the answers of the name servers (which reply with their
name). Before each round after the first it waits until --step-file holds that round's number, so
the test can change the pushed loads between rounds.

Prints one JSON line per round: {"round": R, "sent": N, "answered": K, "servers": {name: count},
"by_session": {i: name} (only with --by-session: which server answered socket i)}. Exits 0; the
test judges.
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
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--wait", type=float, default=3.0, help="seconds to collect answers per round")
    ap.add_argument("--step-file")
    ap.add_argument("--base-port", type=int, default=0,
                    help="bind socket i to port BASE+i (distinct ports per phase: a reused port would "
                         "meet its old session)")
    ap.add_argument("--retries", type=int, default=0,
                    help="resend to sockets still unanswered, evenly over --wait (a lossy path)")
    ap.add_argument("--only-answered", action="store_true",
                    help="from round 2 on, send only from sockets answered in round 1")
    ap.add_argument("--by-session", action="store_true",
                    help="say which server answered each socket (by_session)")
    a = ap.parse_args()
    socks = []
    for i in range(a.sessions):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        if a.base_port:
            s.bind(("0.0.0.0", a.base_port + i))
        s.connect((a.vip, a.port))
        s.setblocking(False)
        socks.append(s)
    first_answered = set(range(a.sessions))
    for r in range(1, a.rounds + 1):
        if r > 1 and a.step_file:
            deadline = time.time() + 600
            while time.time() < deadline:
                try:
                    if open(a.step_file).read().strip() == str(r):
                        break
                except OSError:
                    pass
                time.sleep(0.05)
        idx = sorted(first_answered) if (r > 1 and a.only_answered) else list(range(a.sessions))
        for i in idx:
            try:
                socks[i].send(b"round %d session %d" % (r, i))
            except OSError:
                pass
        got, servers, by_session = set(), {}, {}
        start = time.time()
        end = start + a.wait
        resent = 0
        fdmap = {socks[i].fileno(): i for i in idx}
        while time.time() < end and len(got) < len(idx):
            if resent < a.retries and time.time() >= start + a.wait * (resent + 1) / (a.retries + 1):
                resent += 1
                for i in idx:
                    if i not in got:
                        try:
                            socks[i].send(b"round %d session %d" % (r, i))
                        except OSError:
                            pass
            rd, _, _ = select.select([socks[i] for i in idx if i not in got], [], [], 0.1)
            for s in rd:
                i = fdmap[s.fileno()]
                try:
                    data = s.recv(2048)
                except OSError:
                    continue
                if i in got:
                    continue
                got.add(i)
                n = data.split()[0].decode()
                servers[n] = servers.get(n, 0) + 1
                by_session[str(i)] = n
        if r == 1:
            first_answered = got
        out = {"round": r, "sent": len(idx), "answered": len(got), "servers": servers}
        if a.by_session:
            out["by_session"] = by_session
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
