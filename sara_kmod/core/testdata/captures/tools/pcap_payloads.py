"""List the TCP/UDP payloads of a pcap (IPv4; link types EN10MB, NULL, LINUX_SLL), or save some.

    python3 pcap_payloads.py FILE.pcap                 # index, protocol, ends, length, start
    python3 pcap_payloads.py FILE.pcap 4=name.txt ...  # write payload #4 to ../name.txt, byte for byte
"""
import os
import struct
import sys


def packets(path):
    d = open(path, 'rb').read()
    magic = struct.unpack('<I', d[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    link = struct.unpack(e + 'I', d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack(e + 'IIII', d[off:off + 16])
        off += 16
        pkt = d[off:off + incl]
        off += incl
        l3 = {1: pkt[14:], 0: pkt[4:], 113: pkt[16:]}[link]
        if l3[0] >> 4 != 4:
            continue
        ihl = (l3[0] & 15) * 4
        proto = l3[9]
        tot = struct.unpack('>H', l3[2:4])[0]
        src = '.'.join(map(str, l3[12:16]))
        dst = '.'.join(map(str, l3[16:20]))
        l4 = l3[ihl:tot]
        if proto == 6:
            pl = l4[(l4[12] >> 4) * 4:]
        elif proto == 17:
            pl = l4[8:]
        else:
            continue
        sp, dp = struct.unpack('>HH', l4[:4])
        if pl:
            yield proto, src, sp, dst, dp, pl


if __name__ == '__main__':
    pk = list(packets(sys.argv[1]))
    if len(sys.argv) == 2:
        for i, (p, s, sp, d, dp, pl) in enumerate(pk):
            print(i, 'TCP' if p == 6 else 'UDP', f'{s}:{sp} -> {d}:{dp}', len(pl), repr(pl[:70]))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    for a in sys.argv[2:]:
        i, name = a.split('=', 1)
        with open(os.path.join(out, name), 'wb') as f:
            f.write(pk[int(i)][5])
