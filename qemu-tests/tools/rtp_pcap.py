#!/usr/bin/env python3
"""Writes a pcap of one RTP/PCMU stream for SIPp's `play_pcap_audio` (tools/sipp-uac-trunk.xml):

    rtp_pcap.py FILE SECONDS [PACKETS_PER_SECOND]

SIPp replays the RTP payloads at the pcap's pace from the call's own media port ([auto_media_port])
to the address and port of the callee's SDP answer; the addresses and ports written here are not
used. A low rate (default 10 packets a second) keeps a trunk of many calls light under TCG.
"""
import struct
import sys

path, secs = sys.argv[1], float(sys.argv[2])
pps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
n = int(secs * pps)
with open(path, 'wb') as out:
    out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))   # Ethernet, µs
    for i in range(n):
        rtp = struct.pack('>BBHII', 0x80, 0, i & 0xffff, (160 * i) & 0xffffffff, 0x5a5a0001) + b'\xff' * 160
        udp = struct.pack('>HHHH', 4000, 4002, 8 + len(rtp), 0) + rtp
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])) + udp
        frame = b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + ip
        t = i / pps
        out.write(struct.pack('<IIII', int(t), int(round((t % 1) * 1e6)) % 1000000, len(frame), len(frame)) + frame)
