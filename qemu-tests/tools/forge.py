#!/usr/bin/env python3
"""The attacker of 22-forged-control.sh (issue 15): SARA's control datagrams, forged and replayed.

Python standard library only. The wire formats are sara_core::msg's (heartbeat, load vector,
announcement, replication batch) and sara_ctl::auth::trailer's 32-byte trailer
(sender id u32 | key id u32 | sequence u64 | tag: HMAC-SHA-256(key, b"SARA-auth-v1" + every byte
before the tag)[:16], all big-endian). Modes:

  forge.py attack --pcap CAP --manager IP:PORT --ha IP:PORT,ID,PEER_IP ... [options] > expect.json
      Reads the genuine datagrams of a capture of the cluster segment (tcpdump -w; Ethernet, Linux
      cooked or raw IP), then sends, from the client namespace, to the manager and to both
      `sarectl ha run` daemons:
        (a) well-formed messages without a trailer,
        (b) the same with a trailer naming a real key id and the genuine sender, tagged with a key of
            our own (a wrong tag), and captured genuine datagrams with a byte of the message changed,
        (c) the same with a key id the cluster does not have,
        (d) byte-for-byte replays of the captured genuine datagrams,
      each from the genuine sender's address and port (a raw socket with our own IP header: the
      receivers' source checks pass and what refuses the datagram is the trailer or the replay
      window), and some from this host's own address (refused as wrong_source where the receiver
      checks the source). The forged messages would change the balancer if they were believed:
      heartbeats "application down" and "planned failure" (drain) for both servers, load vectors of
      1000 per mille, a gateway report completing a waiting announced flow, replication batches
      adding or replacing sessions on the backup, a dispatcher heartbeat claiming the active role with
      the highest priority and one asking for the VIP (demotion), one saying the primary stepped down
      (takeover).
      Prints what each receiver must count, by reason, as JSON (see `expect` below): the receiver's
      checks are re-enacted in the same order (sara_ctl::control::secure::DaemonAuth::open, the
      manager's and ha::link's admit, the replay window of 4096 sequence numbers). The key is never
      read: the key ids are public (every trailer carries one).
  forge.py rtsp-server --port P --server-port S --report-client-port C
      A minimal RTSP server: answers every request 200 OK; a SETUP's Transport is echoed, with
      server_port=S-(S+1) added when its client_port starts at one of the C (so that the gateway
      reports that session and no other).
  forge.py rtsp-client --vip V --port P --session LOCAL:CLIENT_PORT ... --stop-file F
      Opens one RTSP connection per --session from TCP port LOCAL, sends SETUP with
      client_port=CLIENT_PORT-(CLIENT_PORT+1), prints the reply, holds the connections until F
      exists, then TEARDOWN (the server closes). With --session-file G, also opens one more session
      for each LOCAL:CLIENT_PORT line appended to G meanwhile (a failed one prints its error and
      does not end the others).
  forge.py vectors      Prints the pinned datagrams of sara_ctl/tests/forge_vectors.rs.
  forge.py selftest     Checks the encoders against sara_core's golden bytes and the trailer's known
                        answer (sara_ctl::auth::trailer), the pinned vectors, the pcap reader and
                        the receiver model (host only; no network).
"""
import argparse
import hashlib
import hmac
import json
import os
import random
import re
import socket
import struct
import sys
import threading
import time

# ---- sara_ctl::auth --------------------------------------------------------------------------
DOMAIN = b"SARA-auth-v1"
TAG_LEN = 16
TRAILER_LEN = 32
MAX_SEALED = 1400  # sara_core::msg::MAX_DATAGRAM
WINDOW = 4096  # sara_ctl::auth::replay::WINDOW
FIRST_NON_SERVER_ID = 0x10000  # sender ids from here up: manager, gateways

# ---- sara_core::msg --------------------------------------------------------------------------
MAGIC = 0x5341
VERSION = 1
T_LOAD, T_ANNOUNCE, T_REPL = 1, 2, 3
HEARTBEAT_LEN = 11
LOAD_LEN = 28
ROLE_ACTIVE, ROLE_BACKUP = 1, 2
FLAG_UP, FLAG_APP_DOWN, FLAG_PLANNED = 1, 2, 3
TCP, UDP = 6, 17
R_SESSION, R_FLOW, R_SESSION_ENDED, R_RESYNC_REQUEST, R_RESYNC_BEGIN, R_RESYNC_END, R_ACK = range(1, 8)
ACK_WANTS_VIP = 1


def flow(src, sport, dst, dport, proto):
    """A 16-byte flow block (msg::Writer::flow)."""
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">HHBBH", sport, dport, proto, 4, 0)


def parse_flow(text):
    """'10.0.1.2:41010>10.0.0.100:7088/udp' -> (src, sport, dst, dport, proto)."""
    m = re.fullmatch(r"([\d.]+):(\d+)>([\d.]+):(\d+)/(tcp|udp)", text.strip())
    if not m:
        raise SystemExit("forge.py: bad flow %r (expected SRC:PORT>DST:PORT/tcp|udp)" % text)
    return (m.group(1), int(m.group(2)), m.group(3), int(m.group(4)), TCP if m.group(5) == "tcp" else UDP)


def heartbeat(host, seq, flag, ts):
    """msg::heartbeat: host_id u16, seq u32, version << 4 | flag, timestamp u32 (11 bytes)."""
    return struct.pack(">HIBI", host, seq & 0xFFFFFFFF, (1 << 4) | flag, ts & 0xFFFFFFFF)


def load(host, seq, ts_ms, cpu, mem, net, io, backlog, scalar):
    """msg::load (28 bytes)."""
    return struct.pack(">HBBHHII6H", MAGIC, VERSION, T_LOAD, host, 0, seq & 0xFFFFFFFF, ts_ms & 0xFFFFFFFF,
                       cpu, mem, net, io, backlog, scalar)


def announce(seq, entries):
    """msg::announce: header, seq u32, count u8, 3 reserved, then (signalling, announced) flow blocks."""
    out = struct.pack(">HBBIB3x", MAGIC, VERSION, T_ANNOUNCE, seq & 0xFFFFFFFF, len(entries))
    for sig, ann in entries:
        out += flow(*sig) + flow(*ann)
    return out


def batch(sender, role, priority, epoch, seq, records):
    """msg::repl batch: a 20-byte header and the records."""
    return struct.pack(">HBBHBBIIHH", MAGIC, VERSION, T_REPL, sender, role, priority, epoch & 0xFFFFFFFF,
                       seq & 0xFFFFFFFF, len(records), 0) + b"".join(records)


def rec_session(session_id, server, timeout_s, fl, identity=0, status=1):
    return struct.pack(">BBBBIHHI", R_SESSION, 32, identity, status, session_id, server, 0, timeout_s) + flow(*fl)


def rec_flow(session_id, wildcard, timeout_s, fl, identity=1, status=0):
    return struct.pack(">BBBBIB3xI", R_FLOW, 32, identity, status, session_id, wildcard, timeout_s) + flow(*fl)


def rec_small(kind, value):
    """SessionEnded, ResyncBegin, ResyncEnd (8 bytes)."""
    return struct.pack(">BBHI", kind, 8, 0, value)


def rec_resync_request(epoch, next_seq):
    return struct.pack(">BBHII", R_RESYNC_REQUEST, 12, 0, epoch, next_seq)


def rec_ack(flags, epoch, next_seq):
    return struct.pack(">BBBBII", R_ACK, 12, flags, 0, epoch, next_seq)


def seal(msg, key, key_id, sender, seq):
    """The message and its trailer (sara_ctl::auth::trailer::seal)."""
    body = msg + struct.pack(">IIQ", sender, key_id, seq)
    return body + hmac.new(key, DOMAIN + body, hashlib.sha256).digest()[:TAG_LEN]


def trailer(d):
    """(sender, key id, sequence, message) of a datagram long enough to carry a trailer."""
    sender, key_id, seq = struct.unpack(">IIQ", d[-TRAILER_LEN:-TAG_LEN])
    return sender, key_id, seq, d[:-TRAILER_LEN]


def verifies(d, key, key_id):
    if len(d) <= TRAILER_LEN or len(d) > MAX_SEALED or trailer(d)[1] != key_id:
        return False
    want = hmac.new(key, DOMAIN + d[:-TAG_LEN], hashlib.sha256).digest()[:TAG_LEN]
    return hmac.compare_digest(want, d[-TAG_LEN:])


def kind_of(msg):
    """What a message is: heartbeat, load, announce, batch or garbage (as the receivers decide)."""
    if len(msg) == HEARTBEAT_LEN:
        return "heartbeat" if msg[6] >> 4 == 1 else "garbage"
    if len(msg) >= 4:
        magic, ver, ty = struct.unpack(">HBB", msg[:4])
        if magic == MAGIC and ver == VERSION:
            return {T_LOAD: "load", T_ANNOUNCE: "announce", T_REPL: "batch"}.get(ty, "garbage")
    return "garbage"


def heartbeat_fields(msg):
    host, seq, vf, ts = struct.unpack(">HIBI", msg)
    return {"host": host, "seq": seq, "flag": vf & 15, "ts": ts}


def load_fields(msg):
    v = struct.unpack(">HBBHHII6H", msg)
    return {"host": v[3], "seq": v[5], "ts_ms": v[6], "loads": list(v[7:])}


def batch_header(msg):
    _, _, _, sender, role, prio, epoch, seq, count, _ = struct.unpack(">HBBHBBIIHH", msg[:20])
    return {"sender": sender, "role": role, "priority": prio, "epoch": epoch, "seq": seq, "count": count}


def batch_parses(msg):
    """Whether a batch header and its record count are consistent (enough for ha::link::admit)."""
    if len(msg) < 20 or kind_of(msg) != "batch":
        return False
    n, off = batch_header(msg)["count"], 20
    for _ in range(n):
        if off + 2 > len(msg) or msg[off + 1] < 8:
            return False
        off += msg[off + 1]
    return off == len(msg)


# ---- capture ---------------------------------------------------------------------------------

def read_pcap(path):
    """The UDP datagrams of a pcap file: dicts ts, src, sport, dst, dport, payload."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit("forge.py: %s is not a pcap file (%d bytes)" % (path, len(data)))
    magic = data[:4]
    endian, nano = {b"\xd4\xc3\xb2\xa1": ("<", False), b"\xa1\xb2\xc3\xd4": (">", False),
                    b"\x4d\x3c\xb2\xa1": ("<", True), b"\xa1\xb2\x3c\x4d": (">", True)}.get(magic, (None, None))
    if endian is None:
        raise SystemExit("forge.py: %s: not a pcap file (magic %s; pcapng is not read)" % (path, magic.hex()))
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        if len(frame) < incl or incl < orig:
            continue  # cut short (tcpdump stopped mid-record, or snap length)
        ip = None
        if linktype == 1 and len(frame) >= 14:  # Ethernet
            et, at = struct.unpack(">H", frame[12:14])[0], 14
            while et == 0x8100 and len(frame) >= at + 4:
                et, at = struct.unpack(">H", frame[at + 2:at + 4])[0], at + 4
            ip = frame[at:] if et == 0x0800 else None
        elif linktype == 113 and len(frame) >= 16:  # Linux cooked
            ip = frame[16:] if struct.unpack(">H", frame[14:16])[0] == 0x0800 else None
        elif linktype == 276 and len(frame) >= 20:  # Linux cooked v2
            ip = frame[20:] if struct.unpack(">H", frame[0:2])[0] == 0x0800 else None
        elif linktype in (12, 101):  # raw IP
            ip = frame
        if not ip or len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != UDP:
            continue
        ihl = (ip[0] & 15) * 4
        if struct.unpack(">H", ip[6:8])[0] & 0x3FFF:
            continue  # a fragment
        udp = ip[ihl:]
        if len(udp) < 8:
            continue
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        if ulen < 8 or ulen > len(udp):
            continue
        out.append({"ts": sec + frac / (1e9 if nano else 1e6), "src": socket.inet_ntoa(ip[12:16]), "sport": sport,
                    "dst": socket.inet_ntoa(ip[16:20]), "dport": dport, "payload": bytes(udp[8:ulen])})
    return out


def write_pcap(path, datagrams):
    """A pcap of Ethernet frames carrying these (src, sport, dst, dport, payload): for the self-test."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 2048, 1))
        for i, (src, sport, dst, dport, payload) in enumerate(datagrams):
            frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip_udp(src, sport, dst, dport, payload, ident=i + 1)
            f.write(struct.pack("<IIII", 1000 + i, 0, len(frame), len(frame)) + frame)


# ---- sending ---------------------------------------------------------------------------------

def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_udp(src, sport, dst, dport, payload, ident=None):
    """An IPv4 packet with a UDP datagram, both checksums right."""
    ulen = 8 + len(payload)
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    c = checksum(s + d + struct.pack(">BBH", 0, UDP, ulen) + struct.pack(">HHHH", sport, dport, ulen, 0) + payload)
    udp = struct.pack(">HHHH", sport, dport, ulen, c or 0xFFFF) + payload
    ident = random.randrange(1, 0xFFFF) if ident is None else ident
    hdr = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + ulen, ident, 0x4000, 64, UDP, 0, s, d)
    return hdr[:10] + struct.pack(">H", checksum(hdr)) + hdr[12:] + udp


class Sender:
    """Raw socket (our own IP header: any source) and a plain UDP socket (this host's address)."""

    def __init__(self, own_ip):
        self.own_ip = own_ip
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((own_ip, 0))

    def send(self, src, sport, dst, dport, payload):
        if src == self.own_ip:
            self.udp.sendto(payload, (dst, dport))
        else:
            self.raw.sendto(ip_udp(src, sport, dst, dport, payload), (dst, 0))


# ---- the receivers, as they judge a datagram ---------------------------------------------------

REASONS = ["malformed", "unknown_key", "bad_tag", "unknown_sender", "wrong_source", "replay", "too_old"]


class Receiver:
    """One daemon's checks (DaemonAuth::open and its admit), knowing what the capture showed of its
    senders' replay windows. `kind` is "manager" or "ha"."""

    def __init__(self, name, kind, addr, own_id, ring, peer_ip=None, server_ips=None):
        self.name, self.kind, self.addr, self.own_id, self.ring = name, kind, addr, own_id, set(ring)
        self.peer_ip, self.server_ips = peer_ip, server_ips or {}
        self.windows = {}  # sender id -> {"top": highest sequence seen, "quiet": bool}
        self.genuine = set()  # the captured datagrams it received
        self.counts = {r: 0 for r in REASONS}
        self.counts["replay_or_too_old"] = 0
        self.sent = 0

    def saw(self, d):
        """A genuine datagram the capture shows reaching it (its tag verified: it was taken)."""
        sender, _, seq, _ = trailer(d)
        w = self.windows.setdefault(sender, {"top": seq, "quiet": sender >= FIRST_NON_SERVER_ID})
        w["top"] = max(w["top"], seq)
        self.genuine.add(d)

    def judge(self, src_ip, d, genuine):
        """The reason it refuses `d` from `src_ip`. `genuine`: sealed by a cluster daemon, unchanged."""
        if self.kind == "ha" and src_ip != self.peer_ip:
            return "wrong_source"  # ha::link: only the --peer address, before any MAC
        if len(d) <= TRAILER_LEN or len(d) > MAX_SEALED:
            return "malformed"
        sender, key_id, seq, msg = trailer(d)
        if key_id not in self.ring:
            return "unknown_key"
        if not genuine:
            return "bad_tag"
        if sender == self.own_id:
            return "unknown_sender"  # its own, reflected back
        k = kind_of(msg)
        if self.kind == "manager":
            if k == "announce":
                if sender < FIRST_NON_SERVER_ID:
                    return "unknown_sender"
            elif k in ("heartbeat", "load"):
                host = heartbeat_fields(msg)["host"] if k == "heartbeat" else load_fields(msg)["host"]
                if sender != host:
                    return "unknown_sender"
                ip = self.server_ips.get(host)
                if ip and src_ip != ip:
                    return "wrong_source"
        elif batch_parses(msg) and batch_header(msg)["sender"] != sender:
            return "unknown_sender"
        w = self.windows.get(sender)
        if w is None or seq > w["top"]:
            raise SystemExit("forge.py: %s would take this datagram (sender %d, sequence %d above its window): "
                             "not a replay" % (self.name, sender, seq))
        if w["top"] - seq >= WINDOW:
            return "too_old"
        # A quiet sender (the gateway: it sends only when it sees an RTSP reply) has sent nothing
        # since the capture: its window's top is the capture's. A periodic one has moved on, by
        # one or several periods (which puts the datagram out of the window) or not yet.
        return "replay" if w["quiet"] else "replay_or_too_old"


# ---- the attack ------------------------------------------------------------------------------

def now_us():
    return int(time.time() * 1e6)


def attack(a):
    caps = read_pcap(a.pcap)
    mgr_ip, mgr_port = a.manager.split(":")
    server_ips = dict((int(k), v) for k, v in (s.split("=") for s in a.server))
    ring = [int(x) for x in a.key_ids.split(",")] if a.key_ids else []
    # Every captured datagram on the control ports carries a trailer (all daemons run with keys).
    sealed = [c for c in caps if len(c["payload"]) > TRAILER_LEN]
    if not ring:
        ring = sorted({trailer(c["payload"])[1] for c in sealed})
    if not ring:
        raise SystemExit("forge.py: no sealed datagram in %s and no --key-ids" % a.pcap)
    unknown_key = max(ring) + 1
    rx = {("%s:%s" % (mgr_ip, mgr_port)): Receiver("manager", "manager", (mgr_ip, int(mgr_port)), 0xFFFF0000, ring,
                                                   server_ips=server_ips)}
    ha = []
    for spec in a.ha:
        addr, own, peer = spec.split(",")
        ip, port = addr.split(":")
        r = Receiver("ha%s" % own, "ha", (ip, int(port)), int(own), ring, peer_ip=peer)
        rx[addr] = r
        ha.append(r)
    streams = {}  # (receiver key, sender id) -> captured datagrams in order
    for c in sealed:
        key = "%s:%d" % (c["dst"], c["dport"])
        if key in rx:
            rx[key].saw(c["payload"])
            streams.setdefault((key, trailer(c["payload"])[0]), []).append(c)
    mgr = rx["%s:%s" % (mgr_ip, mgr_port)]
    attacker_key = os.urandom(32)
    plan = []  # (receiver, src, sport, payload, genuine, label)

    def add(r, src, sport, d, genuine, label):
        plan.append((r, src, sport, d, genuine, label))

    def variants(r, src, sport, msg, sender, label, from_own=False):
        """(a) no trailer, (b) a wrong tag, (c) an unknown key id: from the genuine sender's address,
        and (b) also from ours if asked."""
        add(r, src, sport, msg, False, "(a) no trailer: " + label)
        add(r, src, sport, seal(msg, attacker_key, ring[0], sender, now_us()), False, "(b) wrong tag: " + label)
        add(r, src, sport, seal(msg, attacker_key, unknown_key, sender, now_us()), False,
            "(c) unknown key %d: " % unknown_key + label)
        if from_own:
            add(r, a.own_ip, 0, seal(msg, attacker_key, ring[0], sender, now_us()), False,
                "(b) wrong tag, from %s: " % a.own_ip + label)

    def pick(stream, n_ends=2, extra=None):
        """Replays: the oldest and newest of a stream, and a few more (e.g. batches with records)."""
        idx = list(range(min(n_ends, len(stream)))) + list(range(max(0, len(stream) - n_ends), len(stream)))
        idx += [i for i, c in enumerate(stream) if extra and extra(c)][:2]
        return [stream[i] for i in sorted(set(idx))]

    def replays(r, stream, label, extra=None):
        for c in pick(stream, extra=extra):
            add(r, c["src"], c["sport"], c["payload"], True, "(d) replay from %s: %s" % (c["src"], label))
        newest = stream[-1]
        add(r, a.own_ip, 0, newest["payload"], True, "(d) replay from %s: %s" % (a.own_ip, label))

    def latest(stream, kind):
        for c in reversed(stream):
            if kind_of(trailer(c["payload"])[3]) == kind:
                return c
        return None

    # --- the manager: heartbeats, load vectors, a gateway report ---
    mkey = "%s:%s" % (mgr_ip, mgr_port)
    t = int(time.time())
    for host in sorted(server_ips):
        stream = streams.get((mkey, host))
        if not stream:
            raise SystemExit("forge.py: no genuine datagram of server %d to the manager in the capture" % host)
        hb, lv = latest(stream, "heartbeat"), latest(stream, "load")
        if not hb or not lv:
            raise SystemExit("forge.py: the capture lacks a heartbeat or a load vector of server %d" % host)
        hbf, lvf = heartbeat_fields(trailer(hb["payload"])[3]), load_fields(trailer(lv["payload"])[3])
        # Ahead of the genuine sequence (taken as new, the gap as lost heartbeats), flags that take
        # the server out: application down for the first server, a planned failure in 3 s (drain)
        # for the others.
        flag, what = (FLAG_APP_DOWN, "application down") if host == min(server_ips) else \
            (FLAG_PLANNED, "planned failure in 3 s (drain)")
        variants(mgr, hb["src"], hb["sport"], heartbeat(host, hbf["seq"] + 1000, flag, t + 3 if flag == FLAG_PLANNED else t),
                 host, "heartbeat of server %d: %s" % (host, what), from_own=True)
        variants(mgr, lv["src"], lv["sport"], load(host, lvf["seq"] + 1000, int(time.time() * 1000), *([1000] * 6)),
                 host, "load vector of server %d: every load 1000" % host)
        # Modified in transit: the genuine datagram, its message changed, its trailer kept.
        m = bytearray(hb["payload"])
        m[6] = (1 << 4) | flag
        add(mgr, hb["src"], hb["sport"], bytes(m), False, "(b) genuine heartbeat of server %d, flag changed to %d" % (host, flag))
        m = bytearray(lv["payload"])
        m[16:28] = struct.pack(">6H", *([1000] * 6))
        add(mgr, lv["src"], lv["sport"], bytes(m), False, "(b) genuine load vector of server %d, loads changed to 1000" % host)
        replays(mgr, stream, "server %d's heartbeats and load vectors" % host)
    gw_streams = [s for (k, snd), s in streams.items() if k == mkey and snd >= FIRST_NON_SERVER_ID]
    gw = gw_streams[0] if gw_streams else None
    if a.report:
        entries = [(parse_flow(s), parse_flow(f)) for s, f in a.report]
        gsrc, gport, gsender, gseq = (gw[-1]["src"], gw[-1]["sport"], trailer(gw[-1]["payload"])[0],
                                      struct.unpack(">I", trailer(gw[-1]["payload"])[3][4:8])[0] + 1) if gw else \
            (a.gateway_ip, 40000, 0xFFFF0001, 1)
        variants(mgr, gsrc, gport, announce(gseq, entries), gsender,
                 "gateway report completing %s" % ", ".join(f for _, f in a.report), from_own=True)
    if gw:
        m = bytearray(gw[-1]["payload"])
        m[12 + 16 + 10:12 + 16 + 12] = struct.pack(">H", 7999)  # the first entry's announced dport
        add(mgr, gw[-1]["src"], gw[-1]["sport"], bytes(m), False, "(b) genuine gateway report, its server port changed")
        replays(mgr, gw, "the gateway's reports")
    elif a.need_gateway:
        raise SystemExit("forge.py: no genuine gateway report in the capture")

    # --- the dispatchers: batches and heartbeats ---
    if len(ha) == 2:
        for me, other in ((ha[0], ha[1]), (ha[1], ha[0])):
            okey, mkey_ = "%s:%d" % other.addr, "%s:%d" % me.addr
            theirs = streams.get((mkey_, other.own_id))  # what the other dispatcher sent me
            mine = streams.get((okey, me.own_id))  # what I sent it
            if not theirs or not mine:
                raise SystemExit("forge.py: the capture lacks the batches between dispatchers %d and %d"
                                 % (me.own_id, other.own_id))
            last_t = batch_header(trailer(theirs[-1]["payload"])[3])
            src, sport = theirs[-1]["src"], theirs[-1]["sport"]
            # The active dispatcher's position, as its heartbeats show it: epoch and next sequence.
            act = [batch_header(trailer(c["payload"])[3]) for c in sorted(theirs + mine, key=lambda c: c["ts"])]
            act = [h for h in act if h["role"] == ROLE_ACTIVE]
            epoch, nxt = (act[-1]["epoch"], act[-1]["seq"] + (1 if act[-1]["count"] else 0)) if act else (1, 0)
            o = other.own_id
            if last_t["role"] == ROLE_BACKUP:
                # I am the active: the backup claims the active role, or asks for the VIP (in sync,
                # with the highest priority), or asks for a resync; each would demote me or cost me.
                variants(me, src, sport, batch(o, ROLE_ACTIVE, 255, epoch, nxt, []), o,
                         "dispatcher %d claims the active role, priority 255 (demotion)" % o, from_own=True)
                variants(me, src, sport, batch(o, ROLE_BACKUP, 255, last_t["epoch"], last_t["seq"],
                                               [rec_ack(ACK_WANTS_VIP, epoch, nxt)]), o,
                         "dispatcher %d in sync asks for the VIP, priority 255 (demotion)" % o, from_own=True)
                variants(me, src, sport, batch(o, ROLE_BACKUP, last_t["priority"], last_t["epoch"], last_t["seq"],
                                               [rec_resync_request(epoch, nxt)]), o,
                         "dispatcher %d asks for a resync" % o)
                m = bytearray(theirs[-1]["payload"])
                m[6:8] = struct.pack(">BB", ROLE_ACTIVE, 255)
                add(me, src, sport, bytes(m), False, "(b) genuine batch of dispatcher %d, role changed to active 255" % o)
            else:
                # I am the backup: batches adding sessions to my copy, a new epoch replacing it, a
                # heartbeat saying the active stepped down (takeover), one ahead of the sequence
                # (it would make me out of sync).
                fakes = [parse_flow(f) for f in a.fake_session]
                pri = last_t["priority"]
                recs = [rec_session(0x7FFF0000 + i, 1 + i % 2, 60, f) for i, f in enumerate(fakes)]
                variants(me, src, sport, batch(o, ROLE_ACTIVE, pri, epoch, nxt, recs), o,
                         "replication batch %d of epoch %d adding %d sessions" % (nxt, epoch, len(recs)), from_own=True)
                variants(me, src, sport, batch(o, ROLE_ACTIVE, pri, epoch + 1000, 0,
                                               [rec_small(R_RESYNC_BEGIN, 1), recs[0], rec_small(R_RESYNC_END, 1)]), o,
                         "a resync (new epoch %d) replacing every session by one" % (epoch + 1000))
                variants(me, src, sport, batch(o, ROLE_BACKUP, pri, epoch, nxt, []), o,
                         "dispatcher %d's heartbeat saying it stepped down (takeover)" % o, from_own=True)
                variants(me, src, sport, batch(o, ROLE_ACTIVE, pri, epoch, nxt + 5, []), o,
                         "dispatcher %d's heartbeat 5 batches ahead (out of sync)" % o)
                withrec = [c for c in theirs if batch_header(trailer(c["payload"])[3])["count"]] or theirs
                m = bytearray(withrec[-1]["payload"])
                m[6] = ROLE_BACKUP if m[6] == ROLE_ACTIVE else ROLE_ACTIVE
                add(me, src, sport, bytes(m), False, "(b) genuine batch of dispatcher %d, its role changed" % o)
            replays(me, theirs, "dispatcher %d's batches" % o,
                    extra=lambda c: batch_header(trailer(c["payload"])[3])["count"] > 0)
            # My own batches, back to me from my peer's address: sealed by my own id.
            for c in pick(mine):
                add(me, src, sport, c["payload"], True, "(d) replay of dispatcher %d's own batch, from %s" % (me.own_id, src))

    # --- send, count ---
    snd = None if a.dry_run else Sender(a.own_ip)
    log = open(a.log, "w") if a.log else None
    for r, src, sport, d, genuine, label in plan:
        why = r.judge(src, d, genuine)
        r.counts[why] += 1
        r.sent += 1
        if snd:
            snd.send(src, sport, r.addr[0], r.addr[1], d)
            time.sleep(a.gap_ms / 1000.0)
        if log:
            log.write("%-8s %-18s %4d bytes from %s:%d: %s\n" % (r.name, why, len(d), src, sport, label))
    if log:
        log.close()
    captured = {}
    for (k, snd_id), s in sorted(streams.items()):
        captured["%s from %d" % (k, snd_id)] = len(s)
    print(json.dumps({
        "key_ids": ring, "unknown_key_id": unknown_key,
        "captured": captured,
        "receivers": {r.name: {"sent": r.sent, "expect": dict((k, v) for k, v in r.counts.items() if v)}
                      for r in rx.values()},
    }, sort_keys=True))


# ---- RTSP peers ------------------------------------------------------------------------------

def rtsp_server(a):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", a.port))
    srv.listen(16)
    report = set(a.report_client_port)
    print("rtsp-server: listening on %d; server_port=%d-%d for client ports %s"
          % (a.port, a.server_port, a.server_port + 1, sorted(report)), flush=True)

    def serve(conn, peer):
        buf, session = b"", random.randrange(10 ** 7, 10 ** 8)
        with conn:
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    req, buf = buf.split(b"\r\n\r\n", 1)
                    lines = req.decode("latin-1").split("\r\n")
                    method = lines[0].split(" ")[0]
                    hdr = dict((k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:]))
                    resp = "RTSP/1.0 200 OK\r\nCSeq: %s\r\n" % hdr.get("cseq", "0")
                    tr = hdr.get("transport")
                    if method == "SETUP" and tr:
                        m = re.search(r"client_port=(\d+)", tr)
                        if m and int(m.group(1)) in report:
                            tr += ";server_port=%d-%d" % (a.server_port, a.server_port + 1)
                        resp += "Transport: %s\r\nSession: %d\r\n" % (tr, session)
                    conn.sendall((resp + "\r\n").encode())
                    print("rtsp-server: %s:%d %s -> %s" % (peer[0], peer[1], method, resp.split("\r\n")[2:3]), flush=True)
                    if method == "TEARDOWN":
                        return  # the server closes first: no TIME_WAIT on the client's fixed port

    while True:
        conn, peer = srv.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


def rtsp_client(a):
    def setup(spec):
        local, cport = (int(x) for x in spec.split(":"))
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind(("0.0.0.0", local))
        c.settimeout(30)
        c.connect((a.vip, a.port))
        c.sendall(("SETUP rtsp://%s:%d/test/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
                   "Transport: RTP/AVP/UDP;unicast;client_port=%d-%d\r\n\r\n" % (a.vip, a.port, cport, cport + 1)).encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            d = c.recv(4096)
            if not d:
                raise SystemExit("rtsp-client: connection from port %d closed before the SETUP reply" % local)
            reply += d
        print(json.dumps({"local_port": local, "client_port": cport, "reply": reply.decode("latin-1")}), flush=True)
        return c

    conns = [setup(spec) for spec in a.session]
    taken = 0  # complete lines of --session-file already opened
    end = time.monotonic() + a.max_wait
    while not os.path.exists(a.stop_file) and time.monotonic() < end:
        if a.session_file:
            try:
                with open(a.session_file) as f:
                    lines = f.read().split("\n")[:-1]  # the last piece is not a whole line yet
            except OSError:
                lines = []
            for spec in lines[taken:]:
                taken += 1
                try:
                    conns.append(setup(spec.strip()))
                except (OSError, ValueError, SystemExit) as e:
                    # One failed session does not end the others: the test sees it missing.
                    print(json.dumps({"session": spec, "error": str(e)}), flush=True)
        time.sleep(0.1)
    for c in conns:
        try:
            c.sendall(("TEARDOWN rtsp://%s:%d/test RTSP/1.0\r\nCSeq: 2\r\n\r\n" % (a.vip, a.port)).encode())
            c.settimeout(5)
            while c.recv(4096):
                pass
        except OSError:
            pass
        c.close()


# ---- pinned vectors and self-test ------------------------------------------------------------

VECTOR_KEY = bytes(range(32))
VECTOR_KEY_ID = 1


def vectors():
    """Datagrams as the attack builds them, pinned in sara_ctl/tests/forge_vectors.rs, which checks
    that sara_ctl opens the sealed ones and sara_core parses every message."""
    vip, cl = "10.0.0.100", "10.0.1.2"
    hb = heartbeat(1, 1001, FLAG_APP_DOWN, 1_767_225_600)
    lv = load(2, 77, 123_456_789, 1000, 1000, 1000, 1000, 1000, 1000)
    an = announce(8, [((cl, 41110, vip, 5554, TCP), (cl, 41010, vip, 7088, UDP))])
    sess = (cl, 45001, vip, 5554, TCP)
    bt = batch(1, ROLE_ACTIVE, 200, 7, 12, [rec_session(0x7FFF0000, 1, 60, sess),
                                           rec_flow(0x7FFF0000, 2, 60, (cl, 41010, vip, 0, UDP)),
                                           rec_small(R_RESYNC_BEGIN, 1), rec_small(R_RESYNC_END, 1),
                                           rec_small(R_SESSION_ENDED, 0x7FFF0000)])
    hbt = batch(2, ROLE_BACKUP, 255, 7, 12, [rec_ack(ACK_WANTS_VIP, 7, 13), rec_resync_request(7, 13)])
    v = {
        "heartbeat": hb, "load": lv, "announce": an, "batch": bt, "ha_heartbeat": hbt,
        "sealed_heartbeat": seal(hb, VECTOR_KEY, VECTOR_KEY_ID, 1, 0x0006_4A00_0000_0001),
        "sealed_batch": seal(bt, VECTOR_KEY, VECTOR_KEY_ID, 1, 0x0006_4A00_0000_0002),
        "sealed_announce": seal(an, VECTOR_KEY, VECTOR_KEY_ID, 0xFFFF0001, 0x0006_4A00_0000_0003),
        "wrong_tag_heartbeat": seal(hb, bytes(32), VECTOR_KEY_ID, 1, 0x0006_4A00_0000_0004),
        "unknown_key_heartbeat": seal(hb, VECTOR_KEY, VECTOR_KEY_ID + 1, 1, 0x0006_4A00_0000_0005),
    }
    return dict((k, d.hex()) for k, d in v.items())


# The datagrams of sara_ctl/tests/forge_vectors.rs (keep both in step: `forge.py vectors`).
PINNED_VECTORS = {
    "announce": (
        "5341010200000008010000000a0001020a000064a09615b2060400000a0001020a000064a0321bb0"
        "11040000"
    ),
    "batch": (
        "53410103000101c8000000070000000c00050000012000017fff0000000100000000003c0a000102"
        "0a000064afc915b206040000022001007fff0000020000000000003c0a0001020a000064a0320000"
        "1104000005080000000000010608000000000001030800007fff0000"
    ),
    "ha_heartbeat": (
        "53410103000202ff000000070000000c00020000070c0100000000070000000d040c000000000007"
        "0000000d"
    ),
    "heartbeat": "0001000003e9126955b900",
    "load": "53410101000200000000004d075bcd1503e803e803e803e803e803e8",
    "sealed_announce": (
        "5341010200000008010000000a0001020a000064a09615b2060400000a0001020a000064a0321bb0"
        "11040000ffff00010000000100064a00000000037cc556c076c85bc3c123013b687d8169"
    ),
    "sealed_batch": (
        "53410103000101c8000000070000000c00050000012000017fff0000000100000000003c0a000102"
        "0a000064afc915b206040000022001007fff0000020000000000003c0a0001020a000064a0320000"
        "1104000005080000000000010608000000000001030800007fff0000000000010000000100064a00"
        "00000002bf5bf7c478cb4327fec713cdc46536e1"
    ),
    "sealed_heartbeat": (
        "0001000003e9126955b900000000010000000100064a000000000164f72c04f51ddcdc1c0f9bc71b"
        "992284"
    ),
    "unknown_key_heartbeat": (
        "0001000003e9126955b900000000010000000200064a00000000051bc84d8255426baf5319fa5704"
        "686fa1"
    ),
    "wrong_tag_heartbeat": (
        "0001000003e9126955b900000000010000000100064a0000000004b37985ea6be1c94328b6aa38bb"
        "969382"
    ),
}


def selftest():
    # sara_core's golden bytes (msg/heartbeat.rs, msg/mod.rs flow_block) and the trailer's known
    # answer (auth/trailer.rs layout_and_known_answer).
    assert heartbeat(7, 258, FLAG_PLANNED, 1_705_339_776) == bytes([0, 7, 0, 0, 1, 2, 0x13, 0x65, 0xA5, 0x6B, 0x80])
    assert flow("10.0.0.1", 5000, "192.0.2.1", 554, 17) == bytes([10, 0, 0, 1, 192, 0, 2, 1, 0x13, 0x88, 0x02, 0x2A, 17, 4, 0, 0])
    d = seal(b"hello SARA", bytes(range(32)), 0x01020304, 0xA1B2C3D4, 0x1122334455667788)
    assert d[10:].hex() == "a1b2c3d4" "01020304" "1122334455667788" "909b8a315b13e1945aae7effc308dbda", d.hex()
    assert verifies(d, bytes(range(32)), 0x01020304) and not verifies(d[:-1] + b"\0", bytes(range(32)), 0x01020304)
    assert len(load(1, 1, 1, 0, 0, 0, 0, 0, 0)) == LOAD_LEN and len(batch(1, 1, 1, 1, 1, [])) == 20
    assert len(rec_session(1, 1, 1, ("1.2.3.4", 1, "5.6.7.8", 2, TCP))) == 32
    assert len(rec_flow(1, 2, 1, ("1.2.3.4", 1, "5.6.7.8", 0, UDP))) == 32
    assert len(announce(1, [(("1.1.1.1", 1, "2.2.2.2", 2, TCP), ("1.1.1.1", 3, "2.2.2.2", 4, UDP))])) == 44
    v = vectors()
    for k, want in PINNED_VECTORS.items():
        assert v[k] == want, "vector %s changed: %s (update sara_ctl/tests/forge_vectors.rs)" % (k, v[k])
    assert set(v) == set(PINNED_VECTORS), sorted(set(v) ^ set(PINNED_VECTORS))
    # pcap round trip and checksums.
    p = "/tmp/forge-selftest-%d.pcap" % os.getpid()
    try:
        write_pcap(p, [("10.0.0.11", 40001, "10.0.0.2", 7400, b"x" * 43), ("10.0.0.2", 7410, "10.0.0.3", 7410, b"y" * 52)])
        got = read_pcap(p)
    finally:
        os.unlink(p)
    assert [(g["src"], g["sport"], g["dst"], g["dport"], len(g["payload"])) for g in got] == \
        [("10.0.0.11", 40001, "10.0.0.2", 7400, 43), ("10.0.0.2", 7410, "10.0.0.3", 7410, 52)], got
    pkt = ip_udp("10.0.0.11", 1, "10.0.0.2", 2, b"abc")
    assert checksum(pkt[:20]) == 0
    # The receivers' model.
    key = os.urandom(32)
    m = Receiver("manager", "manager", ("10.0.0.2", 7400), 0xFFFF0000, [1], server_ips={1: "10.0.0.11"})
    g1 = seal(heartbeat(1, 5, 1, 0), key, 1, 1, 10_000)
    g2 = seal(heartbeat(1, 6, 1, 0), key, 1, 1, 20_000)
    gw = seal(announce(1, [(("1.1.1.1", 1, "2.2.2.2", 2, TCP), ("1.1.1.1", 3, "2.2.2.2", 4, UDP))]), key, 1, 0xFFFF0001, 15_000)
    for d in (g1, g2, gw):
        m.saw(d)
    assert m.judge("10.0.0.11", heartbeat(1, 7, 2, 0), False) == "malformed"
    assert m.judge("10.0.0.11", seal(heartbeat(1, 7, 2, 0), key, 2, 1, 30_000), False) == "unknown_key"
    assert m.judge("10.0.1.2", seal(heartbeat(1, 7, 2, 0), key, 1, 1, 30_000), False) == "bad_tag"
    assert m.judge("10.0.1.2", g2, True) == "wrong_source"
    assert m.judge("10.0.0.11", g1, True) == "too_old"
    assert m.judge("10.0.0.11", g2, True) == "replay_or_too_old"
    assert m.judge("10.0.1.2", gw, True) == "replay"
    h = Receiver("ha2", "ha", ("10.0.0.3", 7410), 2, [1], peer_ip="10.0.0.2")
    b1 = seal(batch(1, 1, 200, 7, 0, []), key, 1, 1, 100_000)
    own = seal(batch(2, 2, 100, 7, 0, []), key, 1, 2, 100_500)
    liar = seal(batch(3, 1, 200, 7, 0, []), key, 1, 1, 100_001)
    h.saw(b1)
    assert h.judge("10.0.1.2", b1, True) == "wrong_source"
    assert h.judge("10.0.0.2", b1, True) == "replay_or_too_old"
    assert h.judge("10.0.0.2", own, True) == "unknown_sender"
    assert h.judge("10.0.0.2", liar, True) == "unknown_sender"
    assert h.judge("10.0.0.2", batch(1, 1, 200, 7, 0, []), False) == "malformed"
    print("forge.py selftest: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("attack")
    p.add_argument("--pcap", required=True, help="tcpdump -w capture of the genuine control datagrams")
    p.add_argument("--manager", required=True, help="the manager's --listen IP:PORT")
    p.add_argument("--server", action="append", default=[], metavar="ID=IP",
                   help="a server id and its address (the cluster file's ip)")
    p.add_argument("--ha", action="append", default=[], metavar="IP:PORT,ID,PEER_IP",
                   help="a `sarectl ha run`: its --listen, --id, and its --peer's address")
    p.add_argument("--key-ids", help="the cluster's key ids, comma-separated (default: those of the capture)")
    p.add_argument("--own-ip", required=True, help="this host's address")
    p.add_argument("--report", nargs=2, action="append", default=[], metavar=("SIG", "FLOW"),
                   help="a forged gateway report's entry: signalling flow and announced flow, SRC:PORT>DST:PORT/PROTO")
    p.add_argument("--gateway-ip", default="10.0.0.1", help="the gateway's address when the capture has no report")
    p.add_argument("--need-gateway", action="store_true", help="fail if the capture has no gateway report")
    p.add_argument("--fake-session", action="append", default=[], metavar="FLOW",
                   help="a signalling flow of a session the forged batches add to the backup")
    p.add_argument("--gap-ms", type=float, default=2.0, help="pause between datagrams")
    p.add_argument("--log", help="one line per datagram sent: receiver, expected reason, what it is")
    p.add_argument("--dry-run", action="store_true", help="judge, do not send")
    p = sub.add_parser("rtsp-server")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-port", type=int, default=7078)
    p.add_argument("--report-client-port", type=int, action="append", default=[])
    p = sub.add_parser("rtsp-client")
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--session", action="append", required=True, metavar="LOCAL_PORT:CLIENT_PORT")
    p.add_argument("--stop-file", required=True)
    p.add_argument("--session-file", metavar="FILE",
                   help="while holding the sessions, open one more for each LOCAL_PORT:CLIENT_PORT line added to FILE")
    p.add_argument("--max-wait", type=float, default=300)
    sub.add_parser("vectors")
    sub.add_parser("selftest")
    a = ap.parse_args()
    if a.mode == "attack":
        if len(a.ha) not in (0, 2):
            ap.error("give both dispatchers (--ha twice) or none")
        if a.ha and not a.fake_session:
            ap.error("--fake-session is needed with --ha")
        attack(a)
    elif a.mode == "rtsp-server":
        rtsp_server(a)
    elif a.mode == "rtsp-client":
        rtsp_client(a)
    elif a.mode == "vectors":
        print(json.dumps(vectors(), indent=1, sort_keys=True))
    else:
        selftest()


if __name__ == "__main__":
    sys.exit(main())
