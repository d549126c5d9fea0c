#!/usr/bin/env python3
"""What a server's capture holds of the IPv4 datagrams that reached it in fragments, put back
together as the server's stack did (issue #14: the fragmented INVITE of qemu-tests/tests/12-sip.sh).

    frag_check.py --src 10.0.1.2 --dst 10.0.0.100 /tmp/frag-s1.pcap

Reads the packets from --src to --dst and prints one JSON object:
  largest    the largest of those packets (IP total length, bytes): fragments included;
  datagrams  one per datagram that came in fragments, in the order of its first fragment seen:
             fragments (how many), largest (its largest fragment), complete (every byte from offset
             0 to the end of the fragment without MF, none missing), size (its UDP payload's length),
             start (the payload's first line), call_id, sdp_ports (the m= ports of an INVITE's SDP),
             whole_sip (a SIP message whose Content-Length bytes of body are all there);
  udp        of the packets that came whole, how many UDP datagrams per "sport>dport".
"""
import argparse
import json
import re
import socket
import struct
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from session_check import ipv4_frames, sip_ports  # noqa: E402


def whole_sip(payload):
    """True for a SIP message whose body is exactly as long as its Content-Length says."""
    head, sep, body = payload.partition(b'\r\n\r\n')
    if not sep:
        return False
    cl = re.search(rb'(?im)^(?:Content-Length|l)[ \t]*:[ \t]*(\d+)', head)
    return bool(cl) and int(cl.group(1)) == len(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--src', required=True)
    ap.add_argument('--dst', required=True)
    ap.add_argument('pcap')
    a = ap.parse_args()
    largest = 0
    frags = {}  # (proto, IP id) -> {offset: (more, data, total length)}
    order = []
    udp = Counter()
    for _t, l3 in ipv4_frames(a.pcap):
        if socket.inet_ntoa(l3[12:16]) != a.src or socket.inet_ntoa(l3[16:20]) != a.dst:
            continue
        ihl = (l3[0] & 15) * 4
        tot, ident, ff = struct.unpack('>HHH', l3[2:8])
        largest = max(largest, tot)
        more, offset = bool(ff & 0x2000), (ff & 0x1fff) * 8
        data = l3[ihl:tot]
        if not more and offset == 0:
            if l3[9] == 17 and len(data) >= 8:
                udp['%d>%d' % struct.unpack('>HH', data[:4])] += 1
            continue
        key = (l3[9], ident)
        if key not in frags:
            frags[key] = {}
            order.append(key)
        frags[key][offset] = (more, data, tot)
    datagrams = []
    for key in order:
        parts = sorted(frags[key].items())
        buf, complete = b'', False
        for offset, (more, data, _tot) in parts:
            if offset != len(buf):
                break
            buf += data
            if not more:
                complete = True
                break
        payload = buf[8:] if key[0] == 17 else b''
        cid, ports = sip_ports(payload)
        datagrams.append({
            'fragments': len(parts),
            'largest': max(tot for _m, _d, tot in frags[key].values()),
            'complete': complete,
            'size': len(payload),
            'start': payload.split(b'\r\n', 1)[0][:80].decode(errors='replace'),
            'call_id': cid,
            'sdp_ports': ports,
            'whole_sip': whole_sip(payload),
        })
    print(json.dumps({'largest': largest, 'datagrams': datagrams, 'udp': udp}))


if __name__ == '__main__':
    main()
