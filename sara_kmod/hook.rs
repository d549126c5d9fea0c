// SPDX-License-Identifier: GPL-2.0

//! The packet path (IPVS: `ip_vs_core.c`): runs in softirq for every IPv4 packet entering the
//! namespace, before routing. Spec "Flows and sessions", paper Fig. 3:
//!
//! 1. a packet of a known flow (the table's exact lookup, or a wildcard entry of an announced flow)
//!    belongs to an established session: admission control for established packets, then it goes
//!    to its session's server; a signalling flow's payload is inspected (DPI), which may announce
//!    flows or end the session; a TCP FIN/RST ends the flow;
//! 2. an unknown flow on a virtual service opens a session: admission control for new sessions,
//!    server selection by the service's policy, a new Signalling flow in the table;
//! 3. everything else is left to the stack.
//!
//! A datagram of a UDP SIP service skips the flow lookup: it is dispatched by its call (Call-ID
//! index, `sara_core::calls`; see [`Path::sip_udp`]), each call a session of its own. A TCP SIP
//! service's connection is one session (its server terminates it), whose client byte stream is
//! framed into messages by a stream of the namespace's pool (see [`Path::sip_tcp`]).
//!
//! Forwarding is direct routing: the Ethernet destination becomes the server's MAC, the IP packet is
//! unchanged. IPv4 fragments are reassembled by the stack before this hook (`nf_defrag_ipv4`, on
//! while the namespace has services): a datagram that arrived in fragments is seen, inspected and
//! dispatched whole, and leaves for its server in fragments again, no larger than those that came
//! (see [`Path::xmit`]). Nothing here allocates except what `pskb_may_pull` may need to make
//! headers and the inspected payload linear, and the fragments of a reassembled datagram.

use crate::conn::{Events, FlowTable, LINGER_MS};
use crate::netns::{Config, NetState, Server, Service};
use crate::sara_core::admission::{load_index, PacketKind, Thresholds};
use crate::sara_core::calls::{
    admission_kind, classify, client_v4, rendezvous, service_protocol, CallKey, Dispatch, Fallback,
    Found, OpenCallError,
};
use crate::sara_core::counters as c;
use crate::sara_core::dpi::stream::StreamMut;
use crate::sara_core::dpi::{self, sip, Announcement, Direction, Reason, Sig};
use crate::sara_core::flow::{Wildcard, PROTO_TCP, PROTO_UDP};
use crate::sara_core::genl::{DOWN_KEEP, STATE_DOWN};
use crate::sara_core::select::{hash::score, Input};
use crate::sara_core::table::{
    AnnounceError, Classified, Forward, Identity, InsertError, PacketOpts, SessionRef,
};
use crate::sara_core::wire::{
    self, refragment, tcp, tcp::TcpPacket, udp, Fragment, Ipv4Packet, L4Info, Refragment,
};
use crate::sys::rcu::RcuGuard;
use crate::sys::skb::{Skb, Xmit};
use crate::sys::Verdict;
use core::sync::atomic::Ordering;

/// Handles one packet.
pub(crate) fn packet(st: &NetState, skb: Skb, g: &RcuGuard) -> Verdict {
    let cfg = st.config.read(g);
    if cfg.services.is_empty() {
        return Verdict::Accept;
    }
    st.counters.inc(c::PKT_SEEN);

    // The IPv4 header is linear here (ip_rcv pulled it).
    let Some(ip) = ip_head(skb.linear().0) else {
        st.counters.inc(c::PKT_PASSED); // the stack's own checks deal with it
        return Verdict::Accept;
    };
    if !cfg.is_vip(ip.dst) || (ip.proto != PROTO_TCP && ip.proto != PROTO_UDP) {
        // Not for us, or ICMP etc. to the VIP: the dispatcher answers itself.
        st.counters.inc(c::PKT_PASSED);
        return Verdict::Accept;
    }
    if st.is_backup() {
        // A backup never forwards (spec "High availability"): this reached it through a stale
        // neighbour entry during a takeover, and the active dispatcher has it too.
        st.counters.inc(c::DROP_BACKUP);
        return Verdict::Drop;
    }
    if ip.fragment {
        // nf_defrag_ipv4, on while there are services, gathers fragments before this hook: one that
        // reaches it was not gathered, and has no place to go (its ports are not all known).
        st.counters.inc(c::DROP_FRAGMENT);
        return Verdict::Drop;
    }
    // A datagram that arrived in fragments is whole here, reassembled by the stack; it leaves for
    // its server in fragments again (`Path::xmit`) or, for no service, whole to the stack.
    let frag_max_size = skb.frag_max_size();
    if frag_max_size > 0 {
        st.counters.inc(c::FRAG_REASSEMBLED);
    }
    let v = vip_packet(st, cfg, skb, &ip, frag_max_size);
    if frag_max_size > 0 && matches!(v, Verdict::Accept) {
        st.counters.inc(c::FRAG_PASSED);
    }
    v
}

/// A TCP or UDP packet (or reassembled datagram) for a virtual IP of an active dispatcher.
fn vip_packet(
    st: &NetState,
    cfg: &Config,
    mut skb: Skb,
    ip: &IpHead,
    frag_max_size: u16,
) -> Verdict {
    let Some(l4) = l4_head(&mut skb, ip.ihl, ip.proto) else {
        st.counters.inc(c::DROP_MALFORMED);
        return Verdict::Drop;
    };
    let Some(table) = st.table() else {
        // Services exist only after the table (ensure_table runs before the first one is published).
        st.counters.inc(c::PKT_PASSED);
        return Verdict::Accept;
    };
    // The service this packet is addressed to (none for announced flows: media, FTP data).
    let svc = cfg.service_index(l4.key.dst_addr, l4.key.dst_port, l4.key.protocol);
    let p = Path {
        st,
        cfg,
        table,
        now: crate::sys::now_ms(),
        l4,
        svc,
        frag_max_size,
        dont_frag: ip.dont_frag,
    };
    p.run(skb)
}

/// What the hook reads of an IPv4 header before anything else.
struct IpHead {
    dst: [u8; 4],
    proto: u8,
    /// Header length.
    ihl: u32,
    /// A fragment (first or later): the stack did not reassemble it.
    fragment: bool,
    /// DF: for a reassembled datagram, set when its largest fragment had it.
    dont_frag: bool,
}

/// The fields of an IPv4 header the hook needs, read through the core's length-checked view; `None`
/// unless the buffer holds a whole, consistent IPv4 header.
fn ip_head(b: &[u8]) -> Option<IpHead> {
    let ip = Ipv4Packet::new_checked_head(b).ok()?;
    Some(IpHead {
        dst: ip.dst_addr(),
        proto: ip.protocol(),
        ihl: u32::try_from(ip.header_len()).ok()?,
        fragment: ip.fragment() != Fragment::Whole,
        dont_frag: ip.dont_frag(),
    })
}

/// Makes the IP and L4 headers linear and parses them (the core's length-checked views).
fn l4_head(skb: &mut Skb, ihl: u32, proto: u8) -> Option<L4Info> {
    let l4_min = if proto == PROTO_TCP {
        tcp::HEADER_LEN
    } else {
        udp::HEADER_LEN
    };
    if !skb.pull(ihl.checked_add(u32::try_from(l4_min).ok()?)?) {
        return None;
    }
    if proto == PROTO_TCP {
        // The fixed TCP header is linear now; its data offset says how much more to pull.
        let l4 = skb.linear().0.get(usize::try_from(ihl).ok()?..)?;
        let doff = TcpPacket::new_unchecked(l4.get(..tcp::HEADER_LEN)?).header_len();
        if doff > tcp::HEADER_LEN && !skb.pull(ihl.checked_add(u32::try_from(doff).ok()?)?) {
            return None;
        }
    }
    wire::parse_l4_head(skb.linear().0).ok()
}

/// One packet for a virtual IP on its way through the table.
struct Path<'a> {
    st: &'a NetState,
    cfg: &'a Config,
    table: &'a FlowTable,
    now: u32,
    l4: L4Info,
    /// Index in `cfg.services` of the service of the packet's destination, if it is one.
    svc: Option<usize>,
    /// The size of the largest fragment this datagram arrived in, if the stack reassembled it (else 0).
    frag_max_size: u16,
    /// The IP header's DF flag.
    dont_frag: bool,
}

impl Path<'_> {
    fn ev(&self) -> Events<'_> {
        Events {
            st: self.st,
            cfg: self.cfg,
        }
    }

    fn count(&self, id: usize) {
        self.st.counters.inc(id);
    }

    fn count_n(&self, id: usize, n: u32) {
        if n > 0 {
            self.st.counters.add(id, u64::from(n));
        }
    }

    /// Whether `svc` is a SIP service and this packet TCP: its connection's messages are framed by
    /// a stream of the pool ([`Path::sip_tcp`]).
    fn sip_tcp_service(&self, svc: &Service) -> bool {
        self.l4.key.protocol == PROTO_TCP && Sig::from_genl(svc.sig) == Some(Sig::Sip)
    }

    /// The service of the packet's destination, if it is one.
    fn service(&self) -> Option<&Service> {
        self.svc.and_then(|i| self.cfg.services.get(i))
    }

    fn run(&self, skb: Skb) -> Verdict {
        let key = self.l4.key;
        let bytes = u32::try_from(self.l4.ip_total_len).unwrap_or(u32::MAX);
        let svc = self.service();
        if let Some(s) = svc {
            if key.protocol == PROTO_UDP && Sig::from_genl(s.sig) == Some(Sig::Sip) {
                return self.sip_udp(skb, s);
            }
        }
        let mut ev = self.ev();
        let t = self.table.table();
        // A flow to a service port opens a session of its own: announced flows (media, FTP data)
        // never go to service ports, so their wildcard entries are not tried (also saves 3 lookups).
        let opts = PacketOpts {
            probe_wildcards: svc.is_none(),
            ..PacketOpts::default()
        };
        let mut cls = t.packet(&key, self.now, bytes, opts, &mut |f, w| ev.removed(f, w));
        if let Classified::Known(fwd) = cls {
            if fwd.flow.ended
                && fwd.flow.identity == Identity::Signalling
                && self.reopens(&skb, svc)
            {
                // The client reuses the 5-tuple of a closed session for a new one.
                t.remove(&key, Wildcard::Exact);
                cls = Classified::Unknown;
            }
        }
        match cls {
            Classified::Known(fwd) => self.known(skb, fwd),
            Classified::Unknown => self.unknown(skb, bytes),
        }
    }

    /// Whether a packet on an ended signalling flow starts a new session: a TCP SYN (a new
    /// connection on the same ports), or a SIP INVITE (a new call from the same UA port).
    fn reopens(&self, skb: &Skb, svc: Option<&Service>) -> bool {
        if self.l4.is_tcp_syn() {
            return true;
        }
        let Some(sig) = svc.and_then(|s| Sig::from_genl(s.sig)) else {
            return false;
        };
        let head = skb.linear().0;
        let payload = head.get(self.l4.payload_offset..).unwrap_or(&[]);
        dpi::reopens_session(sig, payload)
    }

    /// Step 1: a packet of an established session.
    fn known(&self, mut skb: Skb, fwd: Forward) -> Verdict {
        if !self.admit(PacketKind::Established) {
            self.count(c::DROP_ADMISSION_EST);
            return Verdict::Drop;
        }
        if fwd.prev_identity == Identity::Announced {
            self.count(c::FLOWS_SECONDARY);
        }
        let session = fwd.flow.session;
        if fwd.installed && fwd.wildcard.is_some() {
            // A wildcard entry confirmed: the backup learns the flow's exact key.
            self.st.replicate_flow(
                &self.l4.key,
                Wildcard::Exact,
                session.id,
                fwd.flow.timeout_ms,
                true,
            );
        }
        let Some(server) = self.server_for(session, fwd.server) else {
            self.count(c::DROP_NO_SERVER);
            return Verdict::Drop;
        };
        if fwd.inspect() {
            if let Some(svc) = self.service() {
                if self.l4.is_tcp_syn() && self.sip_tcp_service(svc) {
                    // A SYN on a live connection's record: a retransmitted SYN, or a new connection
                    // on its 5-tuple; either way the client's data begins after this ISN.
                    self.sip_tcp_start(session, false);
                }
                self.inspect(&mut skb, svc, session);
            }
        }
        if self.l4.is_tcp_close() && !fwd.flow.ended {
            let mut ev = self.ev();
            let ended =
                self.table
                    .table()
                    .end_flow(&self.l4.key, self.now, LINGER_MS, &mut |f, w| {
                        ev.removed(f, w)
                    });
            ev.ended(ended);
            if self.service().is_some_and(|s| self.sip_tcp_service(s)) {
                // The client's stream is over: its framing state goes with it.
                self.table.streams().close(&self.l4.key, session);
            }
        }
        self.xmit(skb, server)
    }

    /// The server a known session's packet goes to: its own, unless that server is down (or gone)
    /// and the service says to re-dispatch; then the session moves, once, to another server.
    fn server_for(&self, session: SessionRef, id: u16) -> Option<&Server> {
        let cfg = self.cfg;
        let current = cfg.server(id);
        if let Some(s) = current {
            if s.live.state.load(Ordering::Relaxed) != STATE_DOWN || self.keeps_down(session) {
                return Some(s);
            }
        }
        // Re-dispatch: the same choice from every flow of the session (rendezvous hash of the session
        // id over the servers that take new sessions), so members racing on other CPUs agree.
        let h = self.st.hasher.hash_bytes(&session.id.to_be_bytes());
        let to = cfg
            .servers
            .iter()
            .filter(|s| s.live.is_up())
            .max_by_key(|s| score(h, s.id))?;
        if self.table.table().reassign(session, to.id, self.now) {
            self.count(c::SESSIONS_REDISPATCHED);
            if let Some(sig) = self.table.table().get_at(session.loc) {
                self.st
                    .replicate_session(&sig.key, session.id, to.id, sig.timeout_ms);
            }
            if let Some(s) = current {
                s.live.session_gone();
            }
            to.live.sessions.fetch_add(1, Ordering::Relaxed);
        }
        Some(to)
    }

    /// Whether the service of `session` keeps established flows on a down server.
    fn keeps_down(&self, session: SessionRef) -> bool {
        let t = self.table.table();
        let sig = t.get_at(session.loc);
        sig.and_then(|f| {
            self.cfg.service(
                f.key.dst_addr,
                f.key.dst_port,
                service_protocol(f.key.protocol),
            )
        })
        .is_some_and(|svc| svc.down_action == DOWN_KEEP)
    }

    /// The server the policy of service `idx` picks for a new session whose flow hash is `flow_hash`
    /// (a 5-tuple's, or a SIP call's keyed hash); `None` if no server is available.
    fn select(&self, idx: usize, flow_hash: u64) -> Option<&Server> {
        let cfg = self.cfg;
        let input = Input {
            flow_hash,
            rand: crate::sys::random_u32(),
        };
        cfg.sched
            .get(idx)
            .and_then(|l| l.with(|s| s.select(&cfg.servers, &self.st.loads, input)))
            .and_then(|id| cfg.server(id))
    }

    /// Step 2: an unknown flow; opens a session if it is for a virtual service.
    fn unknown(&self, mut skb: Skb, bytes: u32) -> Verdict {
        let key = self.l4.key;
        let (Some(idx), Some(svc)) = (self.svc, self.service()) else {
            self.count(c::PKT_PASSED);
            return Verdict::Accept;
        };
        if key.protocol == PROTO_TCP && self.l4.tcp_flags.rst() {
            self.count(c::DROP_NO_SESSION);
            return Verdict::Drop;
        }
        if !self.admit(PacketKind::NewSession) {
            self.count(c::DROP_ADMISSION_NEW);
            return Verdict::Drop;
        }
        let Some(server) = self.select(idx, self.table.table().hash(&key)) else {
            self.count(c::DROP_NO_SERVER);
            return Verdict::Drop;
        };
        let id = self.st.next_session_id();
        let timeout_ms = svc.timeout_s.saturating_mul(1000);
        let mut ev = self.ev();
        let opened = self.table.table().open_session(
            &key,
            id,
            server.id,
            timeout_ms,
            self.now,
            bytes,
            &mut |f, w| ev.removed(f, w),
        );
        let session = match opened {
            Ok(r) => r,
            Err(InsertError::Full) => {
                self.count(c::DROP_TABLE_FULL);
                return Verdict::Drop;
            }
            Err(InsertError::Exists(_)) => {
                // Another CPU opened it a moment ago: follow that session.
                return match self.table.table().packet(
                    &key,
                    self.now,
                    0,
                    PacketOpts::default(),
                    &mut |f, w| ev.removed(f, w),
                ) {
                    Classified::Known(fwd) => self.known(skb, fwd),
                    Classified::Unknown => {
                        self.count(c::DROP_TABLE_FULL);
                        Verdict::Drop
                    }
                };
            }
        };
        self.count(c::SESSIONS_CREATED);
        server.live.sessions.fetch_add(1, Ordering::Relaxed);
        self.st.replicate_session(&key, id, server.id, timeout_ms);
        if self.l4.is_tcp_syn() && self.sip_tcp_service(svc) {
            self.sip_tcp_start(session, true);
        }
        if self.l4.payload_len > 0 {
            // A UDP signalling flow's first datagram (a SIP INVITE) already announces flows.
            self.inspect(&mut skb, svc, session);
        }
        self.xmit(skb, server)
    }

    /// Admission control (spec SA2C) for one packet of `kind`, from the pushed loads/thresholds.
    fn admit(&self, kind: PacketKind) -> bool {
        let loads = &self.st.loads;
        let [t1, t2, t3, tc] = loads.thresholds();
        let Ok(th) = Thresholds::new(t1, t2, t3, tc) else {
            return true;
        };
        let x = load_index(
            loads.dispatcher.load(Ordering::Relaxed),
            loads.cluster.load(Ordering::Relaxed),
        );
        let p = th.p(kind, x);
        if p.num() == 0 {
            return true;
        }
        if p.num() >= p.den() {
            return false;
        }
        !p.drops(crate::sys::random_u32())
    }

    /// DPI on a signalling packet of `svc` in `session`: stores the flows it announces, ends the
    /// session on BYE/TEARDOWN. A payload that does not parse is counted and forwarded as it is.
    /// SIP over TCP goes through the connection's stream ([`Path::sip_tcp`]).
    fn inspect(&self, skb: &mut Skb, svc: &Service, session: SessionRef) {
        let Some(sig) = Sig::from_genl(svc.sig) else {
            return;
        };
        if self.l4.payload_len == 0 {
            return;
        }
        let want = self
            .l4
            .payload_offset
            .saturating_add(self.l4.payload_len.min(dpi::text::MAX_SCAN));
        // Best effort: with memory short the payload stays partly non-linear and inspection sees
        // only what is linear (counted as truncated if that matters; for a stream, a gap).
        let _ = skb.pull(u32::try_from(want).unwrap_or(u32::MAX));
        let head = skb.linear().0;
        let end = want.min(head.len());
        let payload = head.get(self.l4.payload_offset..end).unwrap_or(&[]);
        if self.sip_tcp_service(svc) {
            self.sip_tcp(svc, session, payload);
            return;
        }
        self.apply(
            svc,
            session,
            dpi::inspect(sig, Direction::FromClient, payload),
        );
    }

    /// A SYN of a SIP-over-TCP connection, `session`: its stream (re)starts at the SYN's sequence
    /// number, in the slot the connection holds or in a new one. Counted as opened when the
    /// session is `new` or the slot is.
    fn sip_tcp_start(&self, session: SessionRef, new: bool) {
        let isn = self.l4.tcp_seq;
        let opened = self
            .table
            .streams()
            .open(&self.l4.key, session, |mut s| s.start(isn));
        match opened {
            Ok((_, held)) if new || !held => self.count(c::SIP_TCP_STREAMS_OPENED),
            Ok(_) => {}
            Err(_) => self.count(c::SIP_TCP_POOL_FULL),
        }
    }

    /// A client segment with payload of a SIP-over-TCP connection, `session` (issue #14,
    /// docs/decisions.md "SIP over TCP: messages framed per connection"); `payload` is what could be
    /// read of it. The connection's stream frames its messages, each inspected as a datagram's
    /// would be, except that a BYE ends one call of the connection, not its session
    /// ([`Path::apply_tcp`]). A connection without a stream (the pool was full at its SYN, or it
    /// was met mid-stream) takes one now, lost until a segment starts with a message; when none is
    /// free the segment is inspected alone, as one message from its first byte.
    fn sip_tcp(&self, svc: &Service, session: SessionRef, payload: &[u8]) {
        let streams = self.table.streams();
        let key = self.l4.key;
        // The stream's lock is held while its messages are inspected (a lock class taken before
        // the table's: see `conn`).
        let frame = |s: StreamMut<'_>| self.frame(s, svc, session, payload);
        if streams.with(&key, session, frame).is_some() {
            return;
        }
        self.count(c::SIP_TCP_NO_STREAM);
        let late = |mut s: StreamMut<'_>| {
            s.forget();
            self.frame(s, svc, session, payload);
        };
        match streams.open(&key, session, late) {
            Ok(_) => self.count(c::SIP_TCP_STREAMS_OPENED),
            Err(_) => {
                self.count(c::SIP_TCP_POOL_FULL);
                let found = dpi::inspect(Sig::Sip, Direction::FromClient, payload);
                self.apply_tcp(svc, session, found);
            }
        }
    }

    /// Hands this segment to stream `s` and inspects every message it frames (counted).
    fn frame(&self, s: StreamMut<'_>, svc: &Service, session: SessionRef, payload: &[u8]) {
        let mut seg = s.segment(self.l4.payload_seq(), self.l4.payload_len, payload);
        while let Some(m) = seg.next() {
            let found = sip::parse(m.bytes()).and_then(|p| p.announce(Direction::FromClient));
            self.apply_tcp(svc, session, found);
        }
        let r = seg.report();
        self.count_n(c::SIP_TCP_MESSAGES, r.messages.saturating_add(r.heads));
        self.count_n(c::SIP_TCP_DESYNC, r.desync);
        if r.resynced {
            self.count(c::SIP_TCP_RESYNC);
        }
        if r.gap > 0 {
            self.count(c::SIP_TCP_GAPS);
        }
    }

    /// [`Path::apply`] for a message of a SIP-over-TCP connection: its BYE ends one call, not the
    /// connection's session (the call's media flows idle out), so it is counted and not applied.
    fn apply_tcp(&self, svc: &Service, session: SessionRef, found: Result<Announcement, Reason>) {
        let found = found.map(|mut a| {
            if a.session_end {
                self.count(c::SIP_TCP_BYE);
                a.session_end = false;
            }
            a
        });
        self.apply(svc, session, found);
    }

    /// What DPI found in a signalling payload of `svc` in `session` (counted): the flows it announces
    /// are stored, a BYE/TEARDOWN ends the session.
    fn apply(&self, svc: &Service, session: SessionRef, found: Result<Announcement, Reason>) {
        self.count(c::DPI_INSPECTED);
        let ann = match found {
            Ok(a) => a,
            Err(reason) => {
                self.count(c::dpi_reason(reason.index()));
                return;
            }
        };
        let mut ev = self.ev();
        let t = self.table.table();
        if !ann.flows().is_empty() {
            self.count(c::DPI_ANNOUNCING);
        }
        let timeout_ms = svc.timeout_s.saturating_mul(1000);
        for f in ann.flows() {
            let (key, wild) = f.key(&self.l4.key);
            match t.announce(&key, wild, session, timeout_ms, self.now, &mut |f, w| {
                ev.removed(f, w)
            }) {
                Ok(_) => {
                    self.count(c::FLOWS_ANNOUNCED);
                    self.st
                        .replicate_flow(&key, wild, session.id, timeout_ms, false);
                }
                Err(AnnounceError::Full) => self.count(c::FLOWS_TABLE_FULL),
                Err(_) => {}
            }
        }
        if ann.dropped > 0 {
            self.count(c::DPI_TRUNCATED);
        }
        if ann.session_end {
            self.count(c::DPI_SESSION_END);
            let ended = t.end_session(session, self.now, LINGER_MS, &mut |f, w| ev.removed(f, w));
            ev.ended(ended);
        }
    }

    /// A datagram on a UDP SIP service's port (issue #14, decisions.md "A SIP call over UDP is a
    /// session"): dispatched by its call, never by its 5-tuple's record.
    fn sip_udp(&self, mut skb: Skb, svc: &Service) -> Verdict {
        let want = self
            .l4
            .payload_offset
            .saturating_add(self.l4.payload_len.min(dpi::text::MAX_SCAN));
        // Best effort, as for DPI: what stays non-linear is not inspected (a Call-ID past it makes
        // the datagram a fallback).
        let _ = skb.pull(u32::try_from(want).unwrap_or(u32::MAX));
        let to = {
            let head = skb.linear().0;
            let end = want.min(head.len());
            let payload = head.get(self.l4.payload_offset..end).unwrap_or(&[]);
            self.sip_dispatch(payload, svc)
        };
        match to {
            Ok(server) => self.xmit(skb, server),
            Err(counter) => {
                self.count(counter);
                Verdict::Drop
            }
        }
    }

    /// The server of one SIP datagram, with every change it makes (new call, refresh, media flows,
    /// end of its call); `Err(counter)`: dropped, counted there.
    fn sip_dispatch(&self, payload: &[u8], svc: &Service) -> Result<&Server, usize> {
        let msg = match sip::parse(payload) {
            Ok(m) => m,
            Err(_) => return self.sip_fallback(Fallback::NotSip),
        };
        let key = match CallKey::of_message(client_v4(self.l4.key.src_addr), &msg) {
            Ok(k) => k,
            Err(e) => return self.sip_fallback(e.into()),
        };
        let calls = self.table.calls();
        let t = self.table.table();
        let h = calls.hash(&key);
        let mut ev = self.ev();
        let bytes = u32::try_from(self.l4.ip_total_len).unwrap_or(u32::MAX);
        let found = calls.find(&t, &key, h, self.now, bytes, &mut |f, w| ev.removed(f, w));
        let d = classify(&msg, found != Found::No);
        let kind = admission_kind(d);
        if !self.admit(kind) {
            return Err(if kind == PacketKind::NewSession {
                c::DROP_ADMISSION_NEW
            } else {
                c::DROP_ADMISSION_EST
            });
        }
        match (d, found) {
            (Dispatch::NewCall, _) => self.new_call(&msg, &key, h, svc),
            (Dispatch::Call { end }, Found::Live { session, server }) => {
                self.count(c::SIP_BY_CALL_ID);
                let to = self.server_for(session, server).ok_or(c::DROP_NO_SERVER)?;
                self.apply(svc, session, msg.announce(Direction::FromClient));
                if end && calls.end(&key, h, self.now, LINGER_MS).is_some() {
                    self.count(c::CALLS_ENDED);
                }
                Ok(to)
            }
            (Dispatch::Call { .. }, Found::Ended { server, .. }) => {
                self.count(c::SIP_BY_CALL_ID);
                match self.cfg.server(server) {
                    Some(s) => Ok(s),
                    None => self.sip_hashed(Dispatch::UnknownCall, h),
                }
            }
            (d, _) => self.sip_hashed(d, h),
        }
    }

    /// A datagram with no usable Call-ID: admitted as established traffic, then by the 5-tuple's hash.
    fn sip_fallback(&self, why: Fallback) -> Result<&Server, usize> {
        let d = Dispatch::Fallback(why);
        if !self.admit(admission_kind(d)) {
            return Err(c::DROP_ADMISSION_EST);
        }
        self.sip_hashed(d, 0)
    }

    /// A SIP message outside any indexed call: counted, and sent by rendezvous hashing over the
    /// servers that are up — of `call_hash` (out-of-dialog requests, unknown Call-IDs: every
    /// retransmission reaches the same server) or, with no usable Call-ID, of the 5-tuple.
    fn sip_hashed(&self, d: Dispatch, call_hash: u64) -> Result<&Server, usize> {
        let h = match d {
            Dispatch::Fallback(r) => {
                self.count(c::sip_fallback(r));
                self.table.table().hash(&self.l4.key)
            }
            Dispatch::OutOfDialog => {
                self.count(c::SIP_OUT_OF_DIALOG);
                call_hash
            }
            Dispatch::UnknownCall | Dispatch::Call { .. } | Dispatch::NewCall => {
                self.count(c::SIP_UNKNOWN_CALL_ID);
                call_hash
            }
        };
        let up = self
            .cfg
            .servers
            .iter()
            .filter(|s| s.live.is_up())
            .map(|s| s.id);
        rendezvous(h, up)
            .and_then(|id| self.cfg.server(id))
            .ok_or(c::DROP_NO_SERVER)
    }

    /// An INVITE of a call not indexed yet: admitted already; selection by the service's policy (the
    /// call's hash as the flow hash), the call's session opened and indexed, its SDP's flows announced.
    fn new_call(
        &self,
        msg: &sip::SipMessage<'_>,
        key: &CallKey<'_>,
        h: u64,
        svc: &Service,
    ) -> Result<&Server, usize> {
        let server = self
            .svc
            .and_then(|idx| self.select(idx, h))
            .ok_or(c::DROP_NO_SERVER)?;
        let id = self.st.next_session_id();
        let timeout_ms = svc.timeout_s.saturating_mul(1000);
        let bytes = u32::try_from(self.l4.ip_total_len).unwrap_or(u32::MAX);
        let calls = self.table.calls();
        let t = self.table.table();
        let mut ev = self.ev();
        let opened = calls.open(
            &t,
            &self.l4.key,
            key,
            h,
            id,
            server.id,
            timeout_ms,
            self.now,
            bytes,
            &mut |f, w| ev.removed(f, w),
        );
        match opened {
            Ok(o) => {
                self.count(c::SESSIONS_CREATED);
                self.count(c::CALLS_OPENED);
                server.live.sessions.fetch_add(1, Ordering::Relaxed);
                self.st.replicate_session(&o.key, id, server.id, timeout_ms);
                // The call's binding follows its session record (`repl::apply` binds it to it).
                self.st.replicate_call(id, &key.mark(h));
                self.apply(svc, o.session, msg.announce(Direction::FromClient));
                Ok(server)
            }
            Err(OpenCallError::TableFull) => Err(c::DROP_TABLE_FULL),
            Err(OpenCallError::IndexFull) => Err(c::CALL_INDEX_FULL),
            Err(OpenCallError::Raced) => {
                // Another CPU opened this call a moment ago: follow it.
                match calls.find(&t, key, h, self.now, bytes, &mut |f, w| ev.removed(f, w)) {
                    Found::Live { session, server } | Found::Ended { session, server } => {
                        self.count(c::SIP_BY_CALL_ID);
                        self.server_for(session, server).ok_or(c::DROP_NO_SERVER)
                    }
                    Found::No => Err(c::DROP_TABLE_FULL),
                }
            }
        }
    }

    /// Sends the packet to `server` by direct routing; a datagram the stack reassembled goes in
    /// fragments again (decisions.md "IPv4 fragments").
    fn xmit(&self, skb: Skb, server: &Server) -> Verdict {
        let mut frag_size = 0;
        if self.frag_max_size > 0 {
            let Some(mtu) = skb.dev_mtu(server.ifindex) else {
                self.count(c::DROP_NO_DEVICE);
                return Verdict::Drop;
            };
            let ihl = self.l4.ip_header_len;
            match refragment(self.frag_max_size, self.dont_frag, ihl, mtu) {
                Refragment::Split(n) => frag_size = n,
                Refragment::TooBig => {
                    self.count(c::FRAG_TOO_BIG);
                    return Verdict::Drop;
                }
            }
        }
        match skb.xmit(server.ifindex, &server.mac, frag_size) {
            Xmit::Queued { fragments } => {
                self.count(c::PKT_FORWARDED);
                if fragments > 0 {
                    self.count(c::FRAG_REFRAGMENTED);
                    self.count_n(c::FRAG_SENT, fragments);
                }
                if let Some(svc) = self.service() {
                    svc.packets.fetch_add(1, Ordering::Relaxed);
                }
                server.live.packets.fetch_add(1, Ordering::Relaxed);
                Verdict::Stolen
            }
            Xmit::DeviceDropped => {
                self.count(c::DROP_XMIT);
                Verdict::Stolen
            }
            Xmit::FragmentFailed => {
                self.count(c::FRAG_FAILED);
                Verdict::Stolen
            }
            Xmit::NoDevice => {
                self.count(c::DROP_NO_DEVICE);
                Verdict::Drop
            }
            Xmit::NoMemory => {
                self.count(c::DROP_NOMEM);
                Verdict::Drop
            }
        }
    }
}
