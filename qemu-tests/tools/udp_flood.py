#!/usr/bin/env python3
"""Bounded UDP load: sends datagrams to VIP:port from --flows source ports, round robin, for
--seconds seconds, as fast as one Python process can. Prints the number of datagrams sent."""
import argparse
import socket
import time

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--vip", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--flows", type=int, default=100)
ap.add_argument("--seconds", type=float, default=5)
a = ap.parse_args()
socks = []
for _ in range(a.flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    s.connect((a.vip, a.port))
    socks.append(s)
sent, end = 0, time.time() + a.seconds
while time.time() < end:
    for s in socks:
        try:
            s.send(b"x" * 64)
            sent += 1
        except OSError:
            pass
print(sent)
