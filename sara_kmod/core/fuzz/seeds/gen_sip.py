#!/usr/bin/env python3
"""Writes the seeds of the sip_stream and sip_calls fuzz targets (fuzz/seeds/sip_stream/,
fuzz/seeds/sip_calls/) from real SIP messages: the SIPp scenarios of the VM tests
(qemu-tests/tools/sipp-uac-*.xml, rendered as SIPp sends them: CRLF line ends, leading blanks
dropped, [len] the body's length) and the wire captures of testdata/captures/.

Usage: python3 sara_kmod/core/fuzz/seeds/gen_sip.py   (from anywhere; rewrites the seed files)
Input formats: see the doc comments of fuzz_targets/sip_stream.rs and fuzz_targets/sip_calls.rs.
"""
import os
import re

here = os.path.dirname(os.path.abspath(__file__))
core = os.path.normpath(os.path.join(here, "..", ".."))
top = os.path.normpath(os.path.join(core, "..", ".."))


def scenario_messages(path):
    """The <send> messages of a SIPp scenario, as templates (CRLF, blanks stripped)."""
    text = open(path, encoding="iso-8859-1").read()
    out = []
    for m in re.finditer(r"<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>", text, re.S):
        lines = [l.strip() for l in m.group(1).strip("\n").split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        out.append(lines)
    return out


def render(lines, n, transport):
    vals = {
        "service": "service", "remote_ip": "192.0.2.10", "remote_port": "5060",
        "transport": transport, "local_ip": "198.51.100.7", "local_port": "5061",
        "branch": "z9hG4bK-4242-%d-0" % n, "pid": "4242", "call_number": str(n),
        "call_id": "%d-4242@198.51.100.7" % n, "peer_tag_param": ";tag=4243SIPpTag01%d" % n,
        "local_ip_type": "4", "media_ip_type": "4", "media_ip": "198.51.100.7",
        "auto_media_port": str(6000 + 4 * n),
    }
    sub = lambda s: re.sub(r"\[(\w+)\]", lambda m: vals.get(m.group(1), m.group(0)), s)
    lines = [sub(l) for l in lines]
    if "" in lines:
        i = lines.index("")
        head, body = lines[:i], lines[i + 1:]
    else:
        head, body = lines, []
    body = "".join(l + "\r\n" for l in body)
    head = [l.replace("[len]", str(len(body))) for l in head]
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def trunk(transport, calls=3):
    """Interleaved calls: every INVITE, then every ACK, then every BYE."""
    msgs = scenario_messages(os.path.join(top, "qemu-tests", "tools", "sipp-uac-trunk.xml"))
    return [render(m, n, transport) for m in msgs for n in range(1, calls + 1)]


def capture(name):
    return open(os.path.join(core, "testdata", "captures", name), "rb").read()


def segments(stream, size, c=0):
    """In-order segments of `size` bytes as sip_stream operations."""
    out = b""
    for i in range(0, len(stream), size):
        part = stream[i:i + size]
        out += bytes([c, len(part)]) + part
    return out


def write(target, name, data):
    with open(os.path.join(here, target, name), "wb") as f:
        f.write(data)


def main():
    tcp = b"".join(trunk("TCP"))
    caps = capture("sipp-uac-invite.txt") + b"\r\n\r\n" + capture("sipp-uac-ack.txt") + \
        capture("sipp-uac-bye.txt")
    # sip_stream: ISN byte, then operations.
    write("sip_stream", "trunk-tcp-200", b"\x07" + segments(tcp, 200))
    write("sip_stream", "trunk-tcp-255", b"\xf0" + segments(tcp, 255))
    write("sip_stream", "captures-64", b"\x01" + segments(caps, 64))
    write("sip_stream", "captures-whole", b"\x02" + segments(caps, 255))
    # Repacked (op 4, 16 bytes back), a retransmission of old bytes (op 5), lost bytes (op 6), a
    # segment read in part (op 7, 8 bytes readable).
    first, second, third = tcp[:230], tcp[230:460], tcp[460:690]
    write("sip_stream", "trunk-tcp-retrans-gap",
          b"\x03" + segments(first, 230) + bytes([4 | (2 << 3), len(second)]) + second
          + bytes([5 | (4 << 3), 100]) + bytes([6, len(third)]) + third
          + segments(tcp[690:], 200))
    write("sip_stream", "captures-partial",
          b"\x04" + bytes([7 | (8 << 3), 100]) + caps[:100] + segments(caps[100:], 120))
    # sip_calls: NUL-separated datagrams, each after its control byte (client, server, time step;
    # 0xf0: a purge and sweep step).
    udp = trunk("UDP")
    ctl = lambda client, server, step: bytes([client | (server << 2) | (step << 5)])
    write("sip_calls", "trunk-udp",
          b"\x00".join(ctl(1, n % 3, 0) + m for n, m in enumerate(udp)))
    write("sip_calls", "trunk-udp-two-clients-purge",
          b"\x00".join([ctl(1, 1, 1) + m for m in udp[:3]] + [ctl(2, 2, 1) + m for m in udp]
                       + [b"\xf0"] + [ctl(1, 0, 7) + m for m in udp[6:]]))
    write("sip_calls", "captures",
          b"\x00".join(ctl(1, 1, 0) + capture(n) for n in
                       ["sipp-uac-invite.txt", "sipp-uas-200-ok.txt", "sipp-uac-ack.txt",
                        "baresip-invite.txt", "baresip-200-answering.txt", "baresip-bye.txt",
                        "sipp-uac-bye.txt"]))
    sipdir = os.path.join(core, "testdata", "sip")
    for f in sorted(os.listdir(sipdir)):
        data = open(os.path.join(sipdir, f), "rb").read().replace(b"\n", b"\r\n")
        write("sip_calls", "testdata-" + f, ctl(3, 2, 0) + data + b"\x00" + ctl(3, 2, 1) + data)


main()
