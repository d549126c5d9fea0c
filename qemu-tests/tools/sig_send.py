#!/usr/bin/env python3
"""Sends one signalling message, then media, from fixed client ports, for the deterministic DPI test:
  sig_send.py sip  --vip V --sig-port 5060 --from-port P --media-port M --media-dst D [--phase PH] [--bye]
  sig_send.py rtsp --vip V --sig-port 554  --client-ports A-B --media-dst D [--go-file F --stop-file G]
SIP: an INVITE with an SDP offer (m=audio M) from UDP P, then 5 datagrams from UDP M (RTP) and M+1
(RTCP) to V:D and V:D+1; with --bye, a BYE on the signalling flow afterwards. --phase invite, media
or bye sends only that part (the test checks the dispatcher between the parts, as a real caller
sends media only once its INVITE was answered); the default sends all, 0.3 s apart.
RTSP: a TCP connection to V:554 carrying a SETUP with client_port=A-B, then datagrams from UDP A and
B to V:D and V:D+1, keeping the connection open, then TEARDOWN and close. With --go-file, the media
wait until that file exists; with --stop-file, the connection stays open until that file exists
(each wait at most --max-wait seconds); otherwise 0.3 s and --hold seconds."""
import os
import argparse
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("proto", choices=["sip", "rtsp"])
ap.add_argument("--vip", required=True)
ap.add_argument("--sig-port", type=int, required=True)
ap.add_argument("--from-port", type=int, default=5062)
ap.add_argument("--media-port", type=int, default=40000)
ap.add_argument("--client-ports", default="41000-41001")
ap.add_argument("--media-dst", type=int, default=7078)
ap.add_argument("--client-ip", default="10.0.1.2")
ap.add_argument("--hold", type=float, default=0)
ap.add_argument("--bye", action="store_true")
ap.add_argument("--phase", choices=["all", "invite", "media", "bye"], default="all")
ap.add_argument("--go-file")
ap.add_argument("--stop-file")
ap.add_argument("--max-wait", type=float, default=300)
a = ap.parse_args()


def wait_file(path, fallback):
    """Waits until `path` exists (at most --max-wait s), or sleeps `fallback` s without a path."""
    if not path:
        time.sleep(fallback)
        return
    end = time.monotonic() + a.max_wait
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise SystemExit("sig_send: %s did not appear within %.0f s" % (path, a.max_wait))
        time.sleep(0.05)


def media(src_port, dst_port, n=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", src_port))
    for i in range(n):
        s.sendto(b"\x80\x00" + bytes([0, i]) + b"\0" * 20, (a.vip, dst_port))
        time.sleep(0.02)
    s.close()


if a.proto == "sip":
    sdp = ("v=0\r\no=- 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\n"
           "a=rtpmap:0 PCMU/8000\r\n" % (a.client_ip, a.client_ip, a.media_port))
    hdr = ("INVITE sip:test@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-1\r\n"
           "From: <sip:a@%s>;tag=1\r\nTo: <sip:test@%s>\r\nCall-ID: dpi-test-%d@%s\r\nCSeq: 1 INVITE\r\n"
           "Contact: <sip:a@%s:%d>\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
           % (a.vip, a.sig_port, a.client_ip, a.from_port, a.client_ip, a.vip, a.from_port, a.client_ip,
              a.client_ip, a.from_port, len(sdp)))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", a.from_port))
    if a.phase in ("all", "invite"):
        s.sendto((hdr + sdp).encode(), (a.vip, a.sig_port))
    if a.phase == "all":
        time.sleep(0.3)
    if a.phase in ("all", "media"):
        media(a.media_port, a.media_dst)
        media(a.media_port + 1, a.media_dst + 1)
    if (a.phase == "all" and a.bye) or a.phase == "bye":
        bye = ("BYE sip:test@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-2\r\n"
               "From: <sip:a@%s>;tag=1\r\nTo: <sip:test@%s>;tag=2\r\nCall-ID: dpi-test-%d@%s\r\n"
               "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
               % (a.vip, a.sig_port, a.client_ip, a.from_port, a.client_ip, a.vip, a.from_port, a.client_ip))
        s.sendto(bye.encode(), (a.vip, a.sig_port))
    s.close()
else:
    lo, hi = (int(x) for x in a.client_ports.split("-"))
    c = socket.create_connection((a.vip, a.sig_port), timeout=5)
    c.sendall(("SETUP rtsp://%s/test/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
               "Transport: RTP/AVP/UDP;unicast;client_port=%d-%d\r\n\r\n" % (a.vip, lo, hi)).encode())
    wait_file(a.go_file, 0.3)
    media(lo, a.media_dst)
    media(hi, a.media_dst + 1)
    wait_file(a.stop_file, a.hold)
    c.sendall(("TEARDOWN rtsp://%s/test RTSP/1.0\r\nCSeq: 2\r\n\r\n" % a.vip).encode())
    time.sleep(0.3)
    c.close()
