#!/usr/bin/env python3
"""Test client: opens connections (TCP) or flows (UDP) to a virtual service and reports which server
answered each one. Exits 1 if any connection failed, or if the packets of one connection/flow were
answered by more than one server. Prints one JSON object: {"servers": {name: count}, "flows": N, ...}.

Usage: client.py --vip 10.0.0.100 --port 8080 [--udp] [--conns 20] [--msgs 3] [--timeout 20]
"""
import argparse
import json
import socket
import sys
import time


def one_tcp(vip, port, msgs, timeout):
    names = set()
    with socket.create_connection((vip, port), timeout=timeout) as s:
        f = s.makefile("rwb")
        for i in range(msgs):
            f.write(b"hello %d\n" % i)
            f.flush()
            line = f.readline()
            if not line:
                raise OSError("connection closed by the server")
            names.add(line.split()[0].decode())
    return names


def one_udp(vip, port, msgs, timeout):
    names = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        # Four tries per datagram within the bound (a lost datagram is sent again).
        s.settimeout(timeout / 4)
        s.connect((vip, port))
        for i in range(msgs):
            for _attempt in range(4):
                s.send(b"hello %d" % i)
                try:
                    names.add(s.recv(2048).split()[0].decode())
                    break
                except socket.timeout:
                    continue
            else:
                raise OSError("no UDP answer")
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--vip", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--udp", action="store_true")
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--msgs", type=int, default=3)
    # 20 s per socket operation: a liveness bound, not a timing check (a loaded host under TCG can
    # lose a SYN to a full backlog and take seconds to retransmit it).
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    counts, errors, split = {}, [], 0
    start = time.time()
    for _ in range(a.conns):
        try:
            names = (one_udp if a.udp else one_tcp)(a.vip, a.port, a.msgs, a.timeout)
        except OSError as e:
            errors.append(str(e))
            continue
        if len(names) != 1:
            split += 1
        for n in names:
            counts[n] = counts.get(n, 0) + 1
    out = {"servers": counts, "flows": a.conns, "errors": errors, "split_flows": split,
           "seconds": round(time.time() - start, 2)}
    print(json.dumps(out))
    sys.exit(1 if errors or split else 0)


if __name__ == "__main__":
    main()
