#!/usr/bin/env python3
"""Checks, from packet captures taken at the servers, that a SIP trunk — many calls on one client
socket pair — was balanced call by call (tests/23-sip-trunk.sh, issue #14). The independent witness:
it reads what each server's interface received, not SARA's view.

    trunk_check.py --vip 10.0.0.100 --client 10.0.1.2 --sig-port 5060 [--transport tcp] \
        s1=/tmp/s1.pcap s2=/tmp/s2.pcap

Each pcap is `tcpdump -w FILE 'dst host VIP'` in one server's namespace (one clock: the same kernel).
From the client→VIP packets it reads, per Call-ID, the INVITE (and its SDP's `m=` port), ACK and BYE
to --sig-port, and the client's RTP: UDP from an announced media port to any other VIP port (a
datagram from port p belongs to the latest INVITE announcing p before it). Over UDP (the default)
each datagram is a message; with --transport tcp the client's byte stream of each connection to
--sig-port is put back together from its segments (by sequence number; retransmissions once) and cut
into messages by their Content-Length, each message timed by the segment that brought its last byte
(the pcaps must hold whole segments: `tcpdump -s 0`). It fails (exit 1) when
  * a call's messages or RTP reached more than one server ("split call"),
  * a call lacks its INVITE, ACK or BYE at every server ("incomplete call"),
  * a call's RTP never reached its server ("no media"),
  * a datagram from the client to a VIP media port was announced by no call ("unannounced"),
  * a call still running when another call's BYE came (its own BYE more than --after s later) got no
    RTP at its server after that BYE ("media stopped by another call's BYE");
  * with --transport tcp: a connection's segments reached more than one server ("split
    connection"), or bytes of its stream are missing from the capture ("hole").
Prints one JSON object: the calls, per server the calls it got, the first BYE, how many calls were
seen with media after it, with --transport tcp the connections (client port: servers, messages),
and the errors (at most 20).
"""
import argparse
import json
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from session_check import packets, sip_ports  # noqa: E402


def tcp_stream(segments):
    """The client's bytes of one TCP connection from its captured segments [(time, seq, flags,
    payload)], each byte timed by the first segment that brought it: (bytes, times, hole), `hole`
    the number of bytes missing where the stream stops short (0 when whole)."""
    syn = [seq for _t, seq, flags, _pl in segments if flags & 0x02]
    base = (syn[0] + 1) & 0xffffffff if syn else min(seq for _t, seq, _f, _pl in segments)
    chunks = []
    for t, seq, _flags, pl in segments:
        rel = (seq - base) & 0xffffffff
        if pl and rel < 1 << 31:
            chunks.append((rel, t, pl))
    chunks.sort(key=lambda c: (c[0], c[1]))
    data, times = bytearray(), []
    for rel, t, pl in chunks:
        if rel + len(pl) <= len(data):
            continue   # a retransmission
        if rel > len(data):
            return bytes(data), times, rel - len(data)
        new = pl[len(data) - rel:]
        data += new
        times += [t] * len(new)
    return bytes(data), times, 0


def sip_messages(data, times):
    """(time, message) of each SIP message of a stream (start line to the end of its Content-Length
    body; CR/LF keep-alives between messages skipped), timed by its last byte; an incomplete last
    message is left out."""
    out, i = [], 0
    while i < len(data):
        while i < len(data) and data[i] in b'\r\n':
            i += 1
        h = data.find(b'\r\n\r\n', i)
        if i >= len(data) or h < 0:
            break
        cl = re.search(rb'(?im)^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)', data[i:h + 2])
        end = h + 4 + (int(cl.group(1)) if cl else 0)
        if end > len(data):
            break
        out.append((times[end - 1], data[i:end]))
        i = end
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--vip', required=True)
    ap.add_argument('--client', required=True)
    ap.add_argument('--sig-port', type=int, required=True)
    ap.add_argument('--transport', choices=['udp', 'tcp'], default='udp',
                    help='how the client sends its SIP messages to --sig-port')
    ap.add_argument('--after', type=float, default=1.0,
                    help='a call must outlive the first BYE by this many seconds to be checked for media after it')
    ap.add_argument('captures', nargs='+', help='NAME=FILE.pcap, one per server')
    a = ap.parse_args()

    sig = []     # (time, server, method, call id, announced ports)
    media = []   # (time, server, client port)
    segs = defaultdict(list)   # (server, client port) -> TCP segments to --sig-port

    def message(t, name, pl):
        m = re.match(rb'([A-Z]+) ', pl)
        cid, ports = sip_ports(pl)
        if m and cid:
            sig.append((t, name, m.group(1).decode(), cid, ports))

    for arg in a.captures:
        name, path = arg.split('=', 1)
        for t, proto, src, sp, dst, dp, flags, pl, seq in packets(path, with_seq=True):
            if src != a.client or dst != a.vip:
                continue
            if a.transport == 'tcp' and proto == 6 and dp == a.sig_port:
                segs[(name, sp)].append((t, seq, flags, pl))
            elif proto != 17:
                continue
            elif dp == a.sig_port:
                if a.transport == 'udp':
                    message(t, name, pl)
            else:
                media.append((t, name, sp))
    errors = []
    connections = {}
    for (name, sp), ss in sorted(segs.items()):
        data, times, hole = tcp_stream(ss)
        msgs = sip_messages(data, times)
        for t, pl in msgs:
            message(t, name, pl)
        c = connections.setdefault(str(sp), {'servers': [], 'messages': 0, 'bytes': 0})
        c['servers'].append(name)
        c['messages'] += len(msgs)
        c['bytes'] += len(data)
        if hole:
            errors.append(f'hole: connection from port {sp} at {name}: {hole} bytes missing after byte {len(data)}')
    for sp, c in connections.items():
        if len(c['servers']) > 1:
            errors.append(f'split connection: the segments from client port {sp} reached {c["servers"]}')
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
        **({'connections': connections} if a.transport == 'tcp' else {}),
        'errors': errors[:20],
        'error_count': len(errors),
    }
    print(json.dumps(out))
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
