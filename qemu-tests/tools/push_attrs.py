#!/usr/bin/env python3
"""Prints `--attr TYPE:HEX` arguments of a control-plane push (genl CMD_PUSH, 8) for
`sarectl debug send-raw --cmd 8`: lets a VM test set exactly the loads, thresholds and forecasts the
kernel sees, without agents. Numbers are host order (little-endian, as the guest).

Usage: push_attrs.py [--cluster L] [--dispatcher L] [--thresholds T1,T2,T3,C] [--increment N]
                     [--server ID:FORECAST[:STATE]] ...     (STATE: up|down|draining, default up)
"""
import argparse
import struct

A_SERVER_ID, A_SERVER, A_STATE, A_FORECAST, A_LOAD = 7, 14, 17, 20, 21
A_LOAD_DISPATCHER, A_LOAD_CLUSTER, A_T1, A_T2, A_T3, A_TC, A_INCREMENT, A_LOAD_KNOWN = 22, 23, 24, 25, 26, 27, 29, 30
NLA_F_NESTED = 0x8000
STATES = {"up": 0, "down": 1, "draining": 2}


def nla(t, payload):
    hdr = struct.pack("<HH", 4 + len(payload), t)
    return hdr + payload + b"\0" * ((4 - len(payload) % 4) % 4)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cluster", type=int)
    ap.add_argument("--dispatcher", type=int)
    ap.add_argument("--thresholds")
    ap.add_argument("--increment", type=int)
    ap.add_argument("--server", action="append", default=[])
    a = ap.parse_args()
    out = []
    if a.dispatcher is not None:
        out.append((A_LOAD_DISPATCHER, struct.pack("<H", a.dispatcher)))
    if a.cluster is not None:
        out.append((A_LOAD_CLUSTER, struct.pack("<H", a.cluster)))
    if a.thresholds:
        for t, v in zip((A_T1, A_T2, A_T3, A_TC), a.thresholds.split(",")):
            out.append((t, struct.pack("<H", int(v))))
    if a.increment is not None:
        out.append((A_INCREMENT, struct.pack("<H", a.increment)))
    for s in a.server:
        parts = s.split(":")
        sid, fc = int(parts[0]), int(parts[1])
        st = STATES[parts[2]] if len(parts) > 2 else 0
        inner = (nla(A_SERVER_ID, struct.pack("<I", sid)) + nla(A_STATE, bytes([st]))
                 + nla(A_FORECAST, struct.pack("<H", fc)) + nla(A_LOAD, struct.pack("<H", fc))
                 + nla(A_LOAD_KNOWN, b"\x01"))
        out.append((A_SERVER | NLA_F_NESTED, inner))
    print(" ".join("--attr %d:%s" % (t, p.hex()) for t, p in out))


if __name__ == "__main__":
    main()
