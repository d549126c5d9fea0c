#!/usr/bin/env python3
"""Checks, from packet captures taken at the servers, that every flow of a session reached the server
that got the session's signalling. The VM tests' independent witness of SARA's session affinity: it
does not trust SARA's own view, it reads what each server's interface received.

    session_check.py --sig rtsp|sip|ftp --vip 10.0.0.100 --client 10.0.1.2 --sig-port 554 \
        [--flows FLOWS.jsonl --server-ids 1=s1,2=s2] s1=/tmp/s1.pcap s2=/tmp/s2.pcap

Each pcap is `tcpdump -i eth0 -U -w FILE 'dst host VIP'` in one server's namespace (all of them on one
clock: the same kernel). From the client→VIP packets it reads:
  * the announcements: RTSP `SETUP … client_port=a-b` on a TCP connection to --sig-port (announces
    client UDP ports a and b), SIP `INVITE` with an SDP body on UDP to --sig-port (announces the
    `m=` ports P and P+1, or the `a=rtcp:` port), FTP `PASV`/`EPSV` on a TCP connection to --sig-port
    (announces one data connection, any ports);
  * the client's UDP datagrams to the VIP on any other port (RTP/RTCP, ffmpeg's punch packets…), or
    for FTP the client's TCP connections to any other port (data connections; the SYN decides).
A datagram from client port p belongs to the latest announcement of p made before it (on any
server); an FTP data connection to the latest PASV/EPSV not yet used (transfers one at a time). It
fails (exit 1) when
  * a datagram reached another server than its announcement's signalling ("misrouted"),
  * a datagram from the client to the VIP was announced by nobody ("unannounced"),
  * a session (signalling flow) reached more than one server ("split signalling"),
  * a session's announced ports were never seen at its server ("no media"),
  * the packets of one FTP data connection reached two servers ("split data").
With --flows (JSON lines, one flow object of `sarectl flows --json` a line, from snapshots taken
during the run) it also checks that SARA's own dump agrees with the servers: the server SARA shows for
a signalling flow or a secondary UDP flow is the one whose capture holds it ("dump disagrees").
Prints one JSON object: per server the sessions and media flows it got, and the errors.
"""
import argparse
import json
import re
import socket
import struct
import sys
from collections import defaultdict


def ipv4_frames(path):
    """(time, IPv4 packet) of each IPv4 packet of a pcap (Ethernet, loopback or Linux cooked links)."""
    try:
        d = open(path, 'rb').read()
    except OSError as e:
        sys.exit(f'session_check: {e}')
    if len(d) < 24:
        return
    magic = struct.unpack('<I', d[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    link = struct.unpack(e + 'I', d[20:24])[0]
    off = 24
    while off + 16 <= len(d):
        sec, frac, incl, _ = struct.unpack(e + 'IIII', d[off:off + 16])
        off += 16
        pkt = d[off:off + incl]
        off += incl
        if len(pkt) < incl:   # a record cut by the capture's end
            break
        t = sec + frac / (1e9 if nano else 1e6)
        hdr = {1: 14, 0: 4, 113: 16, 276: 20}.get(link)
        if hdr is None:
            sys.exit(f'session_check: {path}: link type {link} not supported')
        l3 = pkt[hdr:]
        if link == 1 and pkt[12:14] == b'\x81\x00':
            l3 = pkt[18:]
        if len(l3) < 20 or l3[0] >> 4 != 4:
            continue
        yield t, l3


def packets(path, with_seq=False):
    """(time, proto, src, sport, dst, dport, tcp_flags, payload) of the IPv4 TCP/UDP packets; with
    `with_seq`, the TCP sequence number (0 for UDP) follows the payload."""
    for t, l3 in ipv4_frames(path):
        ihl = (l3[0] & 15) * 4
        proto = l3[9]
        tot = struct.unpack('>H', l3[2:4])[0]
        src = socket.inet_ntoa(l3[12:16])
        dst = socket.inet_ntoa(l3[16:20])
        l4 = l3[ihl:tot]
        seq = 0
        if proto == 6 and len(l4) >= 20:
            flags = l4[13]
            seq = struct.unpack('>I', l4[4:8])[0]
            pl = l4[(l4[12] >> 4) * 4:]
        elif proto == 17 and len(l4) >= 8:
            flags = 0
            pl = l4[8:]
        else:
            continue
        sp, dp = struct.unpack('>HH', l4[:4])
        if with_seq:
            yield t, proto, src, sp, dst, dp, flags, pl, seq
        else:
            yield t, proto, src, sp, dst, dp, flags, pl


def rtsp_ports(payload):
    """Client UDP ports announced by the RTSP SETUP requests in one TCP segment."""
    out = []
    for m in re.finditer(rb'(?is)(?:^|\n)SETUP .*?(?:\r?\n\r?\n|$)', payload):
        req = m.group(0)
        tr = re.search(rb'(?im)^Transport:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*', req)
        if not tr or b'interleaved' in tr.group(0).lower():
            continue
        cp = re.search(rb'(?i)client_port=(\d+)(?:-(\d+))?', tr.group(0))
        if cp:
            a = int(cp.group(1))
            out += [a, int(cp.group(2))] if cp.group(2) else [a]
    return out


def sip_ports(payload):
    """(Call-ID, announced ports) of a SIP request; ports only from an INVITE's SDP."""
    cid = re.search(rb'(?im)^(?:Call-ID|i)[ \t]*:[ \t]*([^\r\n]+)', payload)
    cid = cid.group(1).strip().decode(errors='replace') if cid else None
    if not re.match(rb'(?i)INVITE ', payload):
        return cid, []
    ports = []
    for m in re.finditer(rb'(?im)^m=(?:audio|video) (\d+)[^\r\n]*((?:\r?\n(?!m=)[^\r\n]*)*)', payload):
        p = int(m.group(1))
        if p == 0:
            continue
        rtcp = re.search(rb'(?im)^a=rtcp:(\d+)', m.group(2))
        ports += [p, int(rtcp.group(1)) if rtcp else p + 1]
    return cid, ports


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sig', choices=['rtsp', 'sip', 'ftp'], required=True)
    ap.add_argument('--vip', required=True)
    ap.add_argument('--client', required=True)
    ap.add_argument('--sig-port', type=int, required=True)
    ap.add_argument('--flows', help='JSON lines: flow objects of `sarectl flows --json` snapshots')
    ap.add_argument('--server-ids', default='1=s1,2=s2', help='SARA server id = capture name')
    ap.add_argument('captures', nargs='+', help='NAME=FILE.pcap, one per server')
    a = ap.parse_args()
    sig_proto = 17 if a.sig == 'sip' else 6
    media_proto = 6 if a.sig == 'ftp' else 17

    events = []   # (time, server, kind, data)
    data_at = defaultdict(set)   # FTP: (client port, server port) of a data connection -> servers
    for arg in a.captures:
        name, path = arg.split('=', 1)
        for t, proto, src, sp, dst, dp, flags, pl in packets(path):
            if src != a.client or dst != a.vip:
                continue
            if proto == sig_proto and dp == a.sig_port:
                if a.sig == 'rtsp':
                    events.append((t, name, 'sig', (sp, pl and rtsp_ports(pl) or [], None)))
                elif a.sig == 'ftp':
                    n = len(re.findall(rb'(?im)^(?:PASV|EPSV)\b', pl))
                    events.append((t, name, 'sig', (sp, ['data'] * n, None)))
                else:
                    cid, ports = sip_ports(pl)
                    events.append((t, name, 'sig', (sp, ports, cid)))
            elif proto == media_proto:
                if a.sig == 'ftp':
                    data_at[(sp, dp)].add(name)
                    if not (flags & 0x02 and not flags & 0x10):   # only a SYN opens a data connection
                        continue
                events.append((t, name, 'media', (sp, dp)))
    events.sort(key=lambda e: e[0])

    errors = []
    sessions = {}          # session key -> {"server", "ports", "seen"}
    sig_servers = defaultdict(set)  # signalling key -> servers that got any of its packets
    latest = {}            # client port -> session key of its latest announcement
    pending = []           # FTP: sessions whose PASV/EPSV waits for its data connection
    media_at = defaultdict(set)   # (server, client port) flows seen
    for t, server, kind, data in events:
        if kind == 'sig':
            sp, ports, cid = data
            key = f'call {cid}' if cid else f'connection from port {sp}'
            sig_servers[key].add(server)
            s = sessions.setdefault(key, {'server': server, 'sport': sp, 'ports': [], 'seen': set()})
            if a.sig == 'ftp':
                for _ in ports:
                    s['ports'].append('data')
                    pending.append(key)
                continue
            for p in ports:
                if p not in s['ports']:
                    s['ports'].append(p)
                latest[p] = key
        else:
            sp, dp = data
            media_at[(server, sp)].add(dp)
            key = latest.get(sp) if a.sig != 'ftp' else (pending.pop() if pending else None)
            if a.sig == 'ftp':
                pending.clear()
            if key is None:
                errors.append(f'unannounced: client port {sp} -> VIP:{dp} reached {server}, announced by no session')
                continue
            s = sessions[key]
            if server != s['server']:
                errors.append(f'misrouted: client port {sp} -> VIP:{dp} reached {server}, '
                              f'its session ({key}, signalling from port {s["sport"]}) went to {s["server"]}')
            else:
                s['seen'].add(sp)
    for (sp, dp), servers in data_at.items():
        if len(servers) > 1:
            errors.append(f'split data: data connection from client port {sp} to VIP:{dp} reached {sorted(servers)}')
    for key, servers in sig_servers.items():
        if len(servers) > 1:
            errors.append(f'split signalling: {key} reached {sorted(servers)}')
    for key, s in sessions.items():
        if s['ports'] and not s['seen']:
            errors.append(f'no media: {key} (signalling from port {s["sport"]}, at {s["server"]}) announced '
                          f'{s["ports"]}, none of them reached {s["server"]}')

    # Which server each client port reached, from the captures (for the comparison with SARA's dump).
    sig_at = defaultdict(set)
    for key, s in sessions.items():
        sig_at[s['sport']] |= sig_servers[key]
    udp_at = defaultdict(set)
    for (server, sp) in media_at:
        udp_at[sp].add(server)

    dump = {'flows': 0, 'sessions': 0, 'checked': 0}
    if a.flows:
        names = dict(kv.split('=', 1) for kv in a.server_ids.split(','))
        seen_flows = {}
        by_session = defaultdict(set)
        with open(a.flows) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                fl = json.loads(line)
                if fl.get('src') != a.client or fl.get('dst') != a.vip:
                    continue
                k = (fl['proto'], fl['sport'], fl['dport'], fl['session'])
                seen_flows[k] = fl
                by_session[fl['session']].add(str(fl['server']))
        dump['flows'] = len(seen_flows)
        dump['sessions'] = len(by_session)
        for sid, srv in by_session.items():
            if len(srv) > 1:
                errors.append(f'dump: session {sid} has flows on servers {sorted(srv)}')
        for (proto, sp, dp, sid), fl in seen_flows.items():
            where = names.get(str(fl['server']), f'server {fl["server"]}')
            if fl['identity'] == 'signalling' and proto == ('tcp' if sig_proto == 6 else 'udp') \
                    and dp == a.sig_port and len(sig_at.get(sp, ())) == 1:
                dump['checked'] += 1
                if where not in sig_at[sp]:
                    errors.append(f'dump disagrees: SARA shows signalling from port {sp} on {where}, '
                                  f'the captures saw it at {sorted(sig_at[sp])}')
            elif fl['identity'] == 'secondary' and proto == ('tcp' if media_proto == 6 else 'udp') \
                    and len(udp_at.get(sp, ())) == 1:
                dump['checked'] += 1
                if where not in udp_at[sp]:
                    errors.append(f'dump disagrees: SARA shows {proto} flow from port {sp} on {where}, '
                                  f'the captures saw it at {sorted(udp_at[sp])}')

    per_server = {}
    for arg in a.captures:
        name = arg.split('=', 1)[0]
        per_server[name] = {
            'sessions': sum(1 for s in sessions.values() if s['server'] == name and s['ports']),
            'announced_ports': sum(len(s['ports']) for s in sessions.values() if s['server'] == name),
            'media_flows': sum(1 for (srv, _) in media_at if srv == name),
        }
    errors = list(dict.fromkeys(errors))   # one line per flow, not per packet
    out = {'servers': per_server, 'sessions': sum(1 for s in sessions.values() if s['ports']),
           'signalling_flows': len(sessions),
           'sessions_with_media': sum(1 for s in sessions.values() if s['seen']),
           'media_flows': len(media_at), 'dump': dump, 'errors': errors}
    print(json.dumps(out))
    sys.exit(1 if errors else 0)


if __name__ == '__main__':
    main()
