#!/usr/bin/env python3
"""A test server that answers with its own name, so a client can tell which server it reached.

TCP: for every line a connection sends, replies "<name> <line>". UDP: replies "<name> <datagram>".
Runs until killed. Usage: name_server.py --name s1 --port 8080 [--udp] [--addr VIP]

In a direct-routing cluster a UDP server must answer from the VIP the client wrote to; bind the VIP
with --addr (TCP needs nothing: a connection's replies always come from the address it reached).
"""
import argparse
import socket
import socketserver
import threading


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--udp", action="store_true", help="also serve UDP on the same port")
    ap.add_argument("--addr", default="0.0.0.0", help="address to bind (default: all)")
    a = ap.parse_args()
    name = a.name.encode()

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(name + b" " + line)

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(name + b" " + data, self.client_address)

    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    tcp = socketserver.ThreadingTCPServer((a.addr, a.port), Tcp)
    if a.udp:
        udp = socketserver.UDPServer((a.addr, a.port), Udp)
        threading.Thread(target=udp.serve_forever, daemon=True).start()
    tcp.serve_forever()


if __name__ == "__main__":
    main()
