//! Signalling inspection (DPI): what an RTSP, SIP/SDP or FTP message announces.
//!
//! Input is one L4 payload, which may be a partial message (the first segment of a TCP stream, or a
//! message cut by the scan limit). For SIP over TCP, [`stream::SipStream`] finds the messages of a
//! connection's successive segments (split or several per segment) and hands each to the parsers
//! whole, with a bounded carry buffer per connection. Output is either what the message announces ([`Announcement`]:
//! flows that will appear, and whether the session ends), or why nothing is announced ([`Reason`],
//! which the kernel counts).
//!
//! Two levels:
//! * [`inspect`]: one call for the packet path, returning at most [`MAX_FLOWS`] flows in a common
//!   form ([`AnnouncedFlow`]);
//! * the per-protocol parsers [`rtsp::parse`], [`sip::parse`], [`sdp::parse`], [`ftp::parse`], giving
//!   everything the message says (methods, CSeq, Call-ID, each transport spec or media line…), for the
//!   gateway, `sarectl` and tests.
//!
//! Bounded work: a payload is looked at through its first [`text::MAX_SCAN`] (8192) bytes; a header
//! block has at most [`text::MAX_LINES`] (128) lines, an SDP body at most [`sdp::MAX_SDP_LINES`] (128)
//! lines, an FTP payload at most [`ftp::MAX_FTP_LINES`] (16) lines; at most [`rtsp::MAX_TRANSPORTS`] (4)
//! transport specs and [`sdp::MAX_MEDIA`] (4) media lines are kept (extra ones are counted). Nothing
//! here allocates, recurses or panics, and every result is a small fixed-size value.

pub mod ftp;
pub mod rtsp;
pub mod sdp;
pub mod sip;
pub mod stream;
pub mod text;

#[cfg(test)]
mod tests;

pub use text::Ipv4;

/// Why a payload announces nothing. The kernel keeps one counter per reason (index = `as usize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Reason {
    /// The payload is not a message of the inspected protocol (bad start line).
    NotThisProtocol = 0,
    /// The payload ends before the part that would announce something (header block cut, body shorter
    /// than its Content-Length, empty payload).
    Truncated = 1,
    /// A field that matters is malformed: bad number, port 0 or above 65535, bad address, bad syntax.
    Malformed = 2,
    /// The message exceeds a scan bound: more than [`text::MAX_SCAN`] bytes needed, too many lines.
    TooLong = 3,
    /// A well-formed message of a kind that announces nothing (RTSP PLAY, SIP REGISTER, FTP `230`…).
    NoAnnouncement = 4,
    /// An RTSP SETUP (or its reply) without a usable `Transport` header.
    NoTransport = 5,
    /// Media interleaved in the signalling connection (RTSP `interleaved=`, RTP over TCP): no new flows.
    Interleaved = 6,
    /// A SIP INVITE without a body (a late offer: the SDP comes later).
    NoBody = 7,
    /// An SDP body without any enabled media line (all ports 0, or no `m=` at all).
    NoMedia = 8,
    /// Something this inspector does not handle: IPv6 addresses, multicast delivery, a non-SDP body.
    Unsupported = 9,
}

impl Reason {
    /// Number of reasons (size of a counter array indexed by reason).
    pub const COUNT: usize = 10;

    /// Every reason, in index order.
    pub const ALL: [Reason; Reason::COUNT] = [
        Reason::NotThisProtocol,
        Reason::Truncated,
        Reason::Malformed,
        Reason::TooLong,
        Reason::NoAnnouncement,
        Reason::NoTransport,
        Reason::Interleaved,
        Reason::NoBody,
        Reason::NoMedia,
        Reason::Unsupported,
    ];

    /// Stable lower-case name (sysfs, JSON, Prometheus label).
    pub fn name(self) -> &'static str {
        match self {
            Reason::NotThisProtocol => "not_this_protocol",
            Reason::Truncated => "truncated",
            Reason::Malformed => "malformed",
            Reason::TooLong => "too_long",
            Reason::NoAnnouncement => "no_announcement",
            Reason::NoTransport => "no_transport",
            Reason::Interleaved => "interleaved",
            Reason::NoBody => "no_body",
            Reason::NoMedia => "no_media",
            Reason::Unsupported => "unsupported",
        }
    }

    /// Index of this reason in a counter array.
    pub fn index(self) -> usize {
        usize::from(self as u8)
    }
}

/// The signalling protocols the inspector knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sig {
    /// RTSP 1.0 (RFC 2326).
    Rtsp,
    /// SIP 2.0 (RFC 3261) with SDP bodies (RFC 4566).
    Sip,
    /// FTP (RFC 959) passive and active mode (RFC 2428 extended forms).
    Ftp,
}

impl Sig {
    /// The protocol for a `genl::SIG_*` value (`None` for `SIG_NONE` and unknown values).
    pub fn from_genl(v: u8) -> Option<Sig> {
        match v {
            super::genl::SIG_RTSP => Some(Sig::Rtsp),
            super::genl::SIG_SIP => Some(Sig::Sip),
            super::genl::SIG_FTP => Some(Sig::Ftp),
            _ => None,
        }
    }
}

/// Which side sent the inspected payload.
///
/// The dispatcher sees only what clients send; the gateway also sees the servers' replies. RTSP and
/// FTP messages say themselves whose ports they carry; for SIP the direction says whose media an SDP
/// body describes (an SDP body describes the endpoint of the side that sent it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by the client (towards the virtual service).
    FromClient,
    /// Sent by a server (towards the client; seen at the gateway).
    FromServer,
}

pub use super::flow::{PROTO_TCP, PROTO_UDP};

/// One end of an announced flow, possibly known only in part.
///
/// `addr: None` means "the address of this side of the signalling flow" (the client's address for the
/// client end, the virtual IP for the server end). `port: None` means "not known yet" (the flow
/// matches with a wildcard on that port until completed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Endpoint {
    /// Address, if the message named one.
    pub addr: Option<Ipv4>,
    /// Port, if known.
    pub port: Option<u16>,
}

/// A flow announced by a signalling message, oriented as the dispatcher sees it: from the client
/// (source) to the cluster side (destination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AnnouncedFlow {
    /// IP protocol ([`PROTO_UDP`] or [`PROTO_TCP`]).
    pub proto: u8,
    /// Client end (source of the packets that reach the dispatcher).
    pub client: Endpoint,
    /// Cluster end (destination of those packets: the virtual IP or a server).
    pub server: Endpoint,
    /// Which part of the message announced it: the SDP media line index or the RTSP transport spec
    /// index (0 for FTP). Offer and answer are paired by this index.
    pub index: u8,
    /// Whether this is the RTCP (control) flow of a media stream rather than its RTP flow.
    pub rtcp: bool,
}

impl AnnouncedFlow {
    /// The flow-table key of this flow when it was announced on the signalling flow `sig` (client →
    /// virtual IP, as the dispatcher sees it), and which of its ports are unknown (stored as 0, matched
    /// with a wildcard). An address the message did not name is the signalling flow's own: its source
    /// for the client end, its destination (the virtual IP) for the cluster end.
    pub fn key(&self, sig: &super::flow::FlowKey) -> (super::flow::FlowKey, super::flow::Wildcard) {
        use super::flow::{FlowKey, Wildcard};
        let wild = match (self.client.port, self.server.port) {
            (Some(_), Some(_)) => Wildcard::Exact,
            (None, Some(_)) => Wildcard::SrcPort,
            (Some(_), None) => Wildcard::DstPort,
            (None, None) => Wildcard::BothPorts,
        };
        let key = FlowKey::new(
            self.client.addr.unwrap_or(sig.src_addr),
            self.client.port.unwrap_or(0),
            self.server.addr.unwrap_or(sig.dst_addr),
            self.server.port.unwrap_or(0),
            self.proto,
        );
        (key, wild)
    }
}

/// Maximum number of flows one message announces through [`inspect`].
pub const MAX_FLOWS: usize = 8;

/// What a message announces: flows, and whether the session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Announcement {
    flows: [AnnouncedFlow; MAX_FLOWS],
    len: u8,
    /// Flows announced beyond [`MAX_FLOWS`], or in media lines/transport specs beyond their limits
    /// (not in [`Announcement::flows`]; the kernel counts them as truncated).
    pub dropped: u8,
    /// The message ends the session (RTSP TEARDOWN, SIP BYE).
    pub session_end: bool,
}

impl Announcement {
    /// The announced flows.
    pub fn flows(&self) -> &[AnnouncedFlow] {
        self.flows.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Adds a flow, or counts it in `dropped` when full.
    pub fn push(&mut self, f: AnnouncedFlow) {
        match self.flows.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = f;
                self.len = self.len.saturating_add(1);
            }
            None => self.dropped = self.dropped.saturating_add(1),
        }
    }

    /// An announcement that only ends the session.
    pub fn end() -> Self {
        Announcement {
            session_end: true,
            ..Announcement::default()
        }
    }

    /// Whether it announces anything at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0 && !self.session_end
    }
}

/// Inspects one payload of a signalling flow.
///
/// `Ok` when the message announces at least one flow or ends the session; otherwise `Err` with the
/// reason. Never panics, whatever the bytes; bounded work (see the module documentation).
pub fn inspect(sig: Sig, dir: Direction, payload: &[u8]) -> Result<Announcement, Reason> {
    match sig {
        Sig::Rtsp => rtsp::parse(payload)?.announce(),
        Sig::Sip => sip::parse(payload)?.announce(dir),
        Sig::Ftp => ftp::parse(payload).map(|f| f.announce()),
    }
}

/// Whether `payload`, arriving on a signalling flow whose session has ended, starts a new session on
/// the same 5-tuple: a SIP `INVITE` (a UA sends every call from the same UDP port). TCP protocols
/// start a new session with a new connection (SYN) instead.
pub fn reopens_session(sig: Sig, payload: &[u8]) -> bool {
    sig == Sig::Sip && payload.starts_with(b"INVITE ")
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn reasons_are_indexed_in_order() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(r
                .name()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }

    #[test]
    fn sig_from_genl() {
        assert_eq!(
            Sig::from_genl(super::super::genl::SIG_RTSP),
            Some(Sig::Rtsp)
        );
        assert_eq!(Sig::from_genl(super::super::genl::SIG_NONE), None);
        assert_eq!(Sig::from_genl(200), None);
    }

    #[test]
    fn only_a_sip_invite_reopens() {
        assert!(reopens_session(Sig::Sip, b"INVITE sip:b@x SIP/2.0\r\n"));
        assert!(!reopens_session(Sig::Sip, b"BYE sip:b@x SIP/2.0\r\n"));
        assert!(!reopens_session(Sig::Sip, b"invite sip:b@x SIP/2.0\r\n")); // methods are case-sensitive
        assert!(!reopens_session(Sig::Rtsp, b"INVITE sip:b@x SIP/2.0\r\n"));
        assert!(!reopens_session(Sig::Sip, b""));
    }

    #[test]
    fn announced_flow_keys() {
        use super::super::flow::{FlowKey, Wildcard};
        let sig = FlowKey::new([10, 0, 1, 2], 40000, [10, 0, 0, 100], 554, PROTO_TCP);
        // RTSP SETUP client_port=7624: client:7624 -> VIP:* (server port from the reply, unseen).
        let f = AnnouncedFlow {
            proto: PROTO_UDP,
            client: Endpoint {
                addr: None,
                port: Some(7624),
            },
            server: Endpoint::default(),
            index: 0,
            rtcp: false,
        };
        assert_eq!(
            f.key(&sig),
            (
                FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], 0, PROTO_UDP),
                Wildcard::DstPort
            )
        );
        // An SDP c= address names the client's media source; FTP passive: nothing known but addresses.
        let g = AnnouncedFlow {
            proto: PROTO_TCP,
            client: Endpoint {
                addr: Some([192, 0, 2, 7]),
                port: None,
            },
            server: Endpoint {
                addr: None,
                port: None,
            },
            ..f
        };
        assert_eq!(
            g.key(&sig),
            (
                FlowKey::new([192, 0, 2, 7], 0, [10, 0, 0, 100], 0, PROTO_TCP),
                Wildcard::BothPorts
            )
        );
        let h = AnnouncedFlow {
            server: Endpoint {
                addr: None,
                port: Some(42182),
            },
            ..f
        };
        assert_eq!(h.key(&sig).1, Wildcard::Exact);
        let i = AnnouncedFlow {
            client: Endpoint {
                addr: None,
                port: None,
            },
            ..h
        };
        assert_eq!(
            i.key(&sig),
            (
                FlowKey::new([10, 0, 1, 2], 0, [10, 0, 0, 100], 42182, PROTO_UDP),
                Wildcard::SrcPort
            )
        );
    }

    #[test]
    fn announcement_caps_flows() {
        let mut a = Announcement::default();
        assert!(a.is_empty());
        for _ in 0..MAX_FLOWS + 3 {
            a.push(AnnouncedFlow::default());
        }
        assert_eq!(a.flows().len(), MAX_FLOWS);
        assert_eq!(a.dropped, 3);
    }
}
