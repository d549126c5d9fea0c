#!/usr/bin/env python3
"""Checks, from packet captures taken at the servers, that a SIP trunk — many calls on one client
socket pair — was balanced call by call (tests/23-sip-trunk.sh, issue #14). The independent witness:
it reads what each server's interface received, not SARA's view.

    trunk_check.py --vip 10.0.0.100 --client 10.0.1.2 --sig-port 5060 s1=/tmp/s1.pcap s2=/tmp/s2.pcap

Each pcap is `tcpdump -w FILE 'dst host VIP'` in one server's namespace (one clock: the same kernel).
From the client→VIP packets it reads, per Call-ID, the INVITE (and its SDP's `m=` port), ACK and BYE
datagrams to --sig-port, and the client's RTP: UDP from an announced media port to any other VIP
port (a datagram from port p belongs to the latest INVITE announcing p before it). It fails (exit 1)
when
  * a call's messages or RTP reached more than one server ("split call"),
  * a call lacks its INVITE, ACK or BYE at every server ("incomplete call"),
  * a call's RTP never reached its server ("no media"),
  * a datagram from the client to a VIP media port was announced by no call ("unannounced"),
  * a call still running when another call's BYE came (its own BYE more than --after s later) got no
    RTP at its server after that BYE ("media stopped by another call's BYE").
Prints one JSON object: the calls, per server the calls it got, the first BYE, how many calls were
seen with media after it, and the errors (at most 20).
"""
import argparse
import json
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from session_check import packets, sip_ports  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vip', required=True)
    ap.add_argument('--client', required=True)
    ap.add_argument('--sig-port', type=int, required=True)
    ap.add_argument('--after', type=float, default=1.0,
                    help='a call must outlive the first BYE by this many seconds to be checked for media after it')
    ap.add_argument('captures', nargs='+', help='NAME=FILE.pcap, one per server')
    a = ap.parse_args()

    sig = []     # (time, server, method, call id, announced ports)
    media = []   # (time, server, client port)
    for arg in a.captures:
        name, path = arg.split('=', 1)
        for t, proto, src, sp, dst, dp, _flags, pl in packets(path):
            if proto != 17 or src != a.client or dst != a.vip:
                continue
            if dp == a.sig_port:
                m = re.match(rb'([A-Z]+) ', pl)
                cid, ports = sip_ports(pl)
                if m and cid:
                    sig.append((t, name, m.group(1).decode(), cid, ports))
            else:
                media.append((t, name, sp))
    sig.sort()
    media.sort()

    calls = defaultdict(lambda: {'servers': set(), 'methods': set(), 'ports': set(), 'bye': None,
                                 'rtp': 0, 'rtp_after_first_bye': 0})
    for t, server, method, cid, ports in sig:
        c = calls[cid]
        c['servers'].add(server)
        c['methods'].add(method)
        c['ports'].update(ports)
        if method == 'BYE' and c['bye'] is None:
            c['bye'] = t
    first_bye = min((c['bye'] for c in calls.values() if c['bye'] is not None), default=None)

    errors = []
    # The latest INVITE announcing each port, in time order.
    announces = sorted((t, p, cid) for t, _s, m, cid, ports in sig if m == 'INVITE' for p in ports)
    unannounced = 0
    for t, server, port in media:
        owner = None
        for at, p, cid in announces:
            if at > t:
                break
            if p == port:
                owner = cid
        if owner is None:
            unannounced += 1
            if unannounced <= 5:
                errors.append(f'unannounced: RTP from client port {port} at {server} (t={t:.3f})')
            continue
        c = calls[owner]
        c['servers'].add(server)
        c['rtp'] += 1
        if first_bye is not None and t > first_bye and (c['bye'] is None or t < c['bye']):
            c['rtp_after_first_bye'] += 1

    after_checked = after_ok = 0
    per_server = defaultdict(int)
    for cid, c in sorted(calls.items()):
        if len(c['servers']) > 1:
            errors.append(f'split call {cid}: reached {sorted(c["servers"])}')
        missing = {'INVITE', 'ACK', 'BYE'} - c['methods']
        if missing:
            errors.append(f'incomplete call {cid}: no {sorted(missing)} at any server')
        if c['rtp'] == 0:
            errors.append(f'no media: call {cid} (ports {sorted(c["ports"])}) got no RTP at its server')
        if len(c['servers']) == 1:
            per_server[next(iter(c['servers']))] += 1
        if first_bye is not None and c['bye'] is not None and c['bye'] > first_bye + a.after:
            after_checked += 1
            if c['rtp_after_first_bye'] > 0:
                after_ok += 1
            else:
                errors.append(f'media stopped by another call\'s BYE: call {cid} got no RTP at its server '
                              f'between the first BYE (t={first_bye:.3f}) and its own (t={c["bye"]:.3f})')
    out = {
        'calls': len(calls),
        'servers': dict(sorted(per_server.items())),
        'rtp_datagrams': len(media),
        'unannounced': unannounced,
        'first_bye': first_bye,
        'calls_outliving_first_bye': after_checked,
        'with_media_after_first_bye': after_ok,
        'errors': errors[:20],
        'error_count': len(errors),
    }
    print(json.dumps(out))
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
