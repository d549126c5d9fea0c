#!/usr/bin/env python3
"""A real RTSP server for the VM tests: gst-rtsp-server (through python3-gi) serving one live PCMU
audio stream (8 kHz, one 100 ms packet at a time, so it stays light under QEMU/TCG) at
rtsp://ADDR:PORT/test, one pipeline per client. RTP/UDP or interleaved, as the client
asks. Prints "listening" once it accepts connections.

Usage: rtsp_server.py [--addr 0.0.0.0] [--port 554]
"""
import argparse

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument('--addr', default='0.0.0.0')
ap.add_argument('--port', default='554')
a = ap.parse_args()
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address(a.addr)
server.set_service(a.port)
server.set_backlog(128)   # many clients connect at once; the default (5) makes them retry SYNs
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch('( audiotestsrc is-live=true samplesperbuffer=800 wave=sine freq=440 '
                   '! audio/x-raw,rate=8000,channels=1 ! mulawenc '
                   '! rtppcmupay name=pay0 min-ptime=100000000 max-ptime=100000000 )')
factory.set_shared(False)   # a pipeline per client: shared media races on joins and leaves (GStreamer 1.22 asserts)
server.get_mount_points().add_factory('/test', factory)
if server.attach(None) == 0:
    raise SystemExit(f'rtsp_server: cannot listen on {a.addr}:{a.port}')
print('listening', flush=True)
GLib.MainLoop().run()
