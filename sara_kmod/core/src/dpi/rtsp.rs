//! RTSP 1.0 (RFC 2326): requests, replies and the `Transport` header.
//!
//! A client's `SETUP` names the ports it receives on (`client_port=a-b`); the server's reply adds the
//! ports it uses (`server_port=c-d`) and maybe its media source address (`source=`). The packets that
//! reach the virtual service from the client are then UDP `client:a → c` (RTP, e.g. when recording or
//! for NAT keep-alives) and `client:b → d` (RTCP receiver reports). `interleaved=` (RTP inside the
//! RTSP TCP connection) announces no new flow; `TEARDOWN` ends the session.
//!
//! Tolerances: header names in any case, whitespace around `:`, `;`, `=` and `,`, folded headers,
//! CRLF or bare LF, several `Transport` headers (their specs are concatenated), parameters in any
//! order and case, unknown parameters ignored, a single port where a range is expected.
//!
//! Bounds: see [`super::text`]; at most [`MAX_TRANSPORTS`] transport specs are kept (the others are
//! counted in [`Transports::extra`]), and at most [`MAX_PARAMS`] parameters are read per spec.

use super::text::{self, Ipv4, Message};
use super::{AnnouncedFlow, Announcement, Endpoint, Reason, PROTO_UDP};

/// Transport specs kept per message.
pub const MAX_TRANSPORTS: usize = 4;
/// Parameters read per transport spec (the rest are ignored).
pub const MAX_PARAMS: usize = 16;

/// RTSP request methods (RFC 2326 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `DESCRIBE`
    Describe,
    /// `ANNOUNCE`
    Announce,
    /// `GET_PARAMETER`
    GetParameter,
    /// `OPTIONS`
    Options,
    /// `PAUSE`
    Pause,
    /// `PLAY`
    Play,
    /// `RECORD`
    Record,
    /// `REDIRECT`
    Redirect,
    /// `SETUP`
    Setup,
    /// `SET_PARAMETER`
    SetParameter,
    /// `TEARDOWN`
    Teardown,
    /// Any other (extension) method.
    Other,
}

impl Method {
    fn from_token(t: &[u8]) -> Method {
        // Methods are case-sensitive (RFC 2326 §6.1); accept any case anyway.
        const TABLE: [(&[u8], Method); 11] = [
            (b"DESCRIBE", Method::Describe),
            (b"ANNOUNCE", Method::Announce),
            (b"GET_PARAMETER", Method::GetParameter),
            (b"OPTIONS", Method::Options),
            (b"PAUSE", Method::Pause),
            (b"PLAY", Method::Play),
            (b"RECORD", Method::Record),
            (b"REDIRECT", Method::Redirect),
            (b"SETUP", Method::Setup),
            (b"SET_PARAMETER", Method::SetParameter),
            (b"TEARDOWN", Method::Teardown),
        ];
        TABLE
            .iter()
            .find(|(n, _)| text::eq_nocase(t, n))
            .map_or(Method::Other, |(_, m)| *m)
    }
}

/// Request or reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Start {
    /// A request with its method.
    Request(Method),
    /// A reply with its status code (100..=999).
    Reply(u16),
}

/// An inclusive port range (`a-b`), or a single port (`first == last`). Ports are never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortRange {
    /// First port (RTP).
    pub first: u16,
    /// Last port (RTCP for a pair); equal to `first` for a single port.
    pub last: u16,
}

impl PortRange {
    /// Parses `a-b` or `a` (both 1..=65535, `b >= a`).
    pub fn parse(s: &[u8]) -> Option<PortRange> {
        match text::split_once(s, b'-') {
            Some((a, b)) => {
                let first = text::parse_port(a)?;
                let last = text::parse_port(b)?;
                (last >= first).then_some(PortRange { first, last })
            }
            None => text::parse_port(s).map(|p| PortRange { first: p, last: p }),
        }
    }

    /// The second port of the range, if it is more than one port.
    pub fn second(&self) -> Option<u16> {
        (self.last != self.first).then_some(self.last)
    }
}

/// The profile part of a transport spec (`RTP/AVP`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// `RTP/AVP`
    #[default]
    RtpAvp,
    /// `RTP/SAVP`
    RtpSavp,
    /// `RTP/AVPF`
    RtpAvpf,
    /// `RTP/SAVPF`
    RtpSavpf,
    /// Anything else (`RAW/RAW/UDP`, `MP2T/H2221/UDP`…): ports are still read.
    Other,
}

/// The lower transport of a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lower {
    /// UDP (the default when none is written).
    #[default]
    Udp,
    /// TCP (media interleaved in, or beside, the RTSP connection).
    Tcp,
}

/// Unicast or multicast delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Delivery {
    /// Neither `unicast` nor `multicast` written.
    #[default]
    Unspecified,
    /// `unicast`
    Unicast,
    /// `multicast`
    Multicast,
}

/// One transport spec of a `Transport` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransportSpec {
    /// Profile.
    pub profile: Profile,
    /// Lower transport.
    pub lower: Lower,
    /// Delivery.
    pub delivery: Delivery,
    /// `client_port=`
    pub client_port: Option<PortRange>,
    /// `server_port=`
    pub server_port: Option<PortRange>,
    /// `port=` (multicast).
    pub port: Option<PortRange>,
    /// `interleaved=` channels (`first == last` for a single channel).
    pub interleaved: Option<(u8, u8)>,
    /// `source=` when it is a dotted-quad IPv4 address.
    pub source: Option<Ipv4>,
    /// `destination=` when it is a dotted-quad IPv4 address.
    pub destination: Option<Ipv4>,
}

impl TransportSpec {
    /// Whether this spec sends media over separate UDP unicast flows.
    pub fn is_udp_unicast(&self) -> bool {
        self.lower == Lower::Udp
            && self.delivery != Delivery::Multicast
            && self.interleaved.is_none()
    }

    /// Parses one spec (`RTP/AVP;unicast;client_port=4588-4589`). `None` if malformed.
    pub fn parse(s: &[u8]) -> Option<TransportSpec> {
        let mut params = s.split(|&b| b == b';');
        let proto = text::trim(params.next()?);
        let mut spec = TransportSpec::default();
        let mut parts = proto.split(|&b| b == b'/');
        let transport = parts.next()?;
        let profile = parts.next()?;
        let lower = parts.next();
        if transport.is_empty() || profile.is_empty() || parts.next().is_some() {
            return None;
        }
        const PROFILES: [(&[u8], Profile); 4] = [
            (b"AVP", Profile::RtpAvp),
            (b"SAVP", Profile::RtpSavp),
            (b"AVPF", Profile::RtpAvpf),
            (b"SAVPF", Profile::RtpSavpf),
        ];
        spec.profile = PROFILES
            .iter()
            .find(|(p, _)| text::eq_nocase(transport, b"RTP") && text::eq_nocase(profile, p))
            .map_or(Profile::Other, |(_, p)| *p);
        spec.lower = match lower {
            None => Lower::Udp,
            Some(l) if text::eq_nocase(l, b"UDP") => Lower::Udp,
            Some(l) if text::eq_nocase(l, b"TCP") => Lower::Tcp,
            Some(_) => return None,
        };
        for p in params.take(MAX_PARAMS) {
            let p = text::trim(p);
            let (name, value) = match text::split_once(p, b'=') {
                Some((n, v)) => (text::trim(n), Some(text::trim(v))),
                None => (p, None),
            };
            match name {
                _ if text::eq_nocase(name, b"unicast") => spec.delivery = Delivery::Unicast,
                _ if text::eq_nocase(name, b"multicast") => spec.delivery = Delivery::Multicast,
                _ if text::eq_nocase(name, b"client_port") => {
                    spec.client_port = Some(PortRange::parse(value?)?)
                }
                _ if text::eq_nocase(name, b"server_port") => {
                    spec.server_port = Some(PortRange::parse(value?)?)
                }
                _ if text::eq_nocase(name, b"port") => spec.port = Some(PortRange::parse(value?)?),
                _ if text::eq_nocase(name, b"interleaved") => {
                    let v = value?;
                    spec.interleaved = Some(match text::split_once(v, b'-') {
                        Some((a, b)) => (text::parse_u8(a)?, text::parse_u8(b)?),
                        None => {
                            let c = text::parse_u8(v)?;
                            (c, c)
                        }
                    });
                }
                // Host names are allowed here; only dotted quads are kept.
                _ if text::eq_nocase(name, b"source") => {
                    spec.source = value.and_then(text::parse_ipv4)
                }
                _ if text::eq_nocase(name, b"destination") => {
                    spec.destination = value.and_then(text::parse_ipv4)
                }
                _ => {}
            }
        }
        Some(spec)
    }
}

/// The transport specs of a message, in order, at most [`MAX_TRANSPORTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transports {
    specs: [TransportSpec; MAX_TRANSPORTS],
    len: u8,
    /// Whether the message had a `Transport` header at all.
    pub present: bool,
    /// Well-formed specs beyond [`MAX_TRANSPORTS`] (not kept).
    pub extra: u8,
    /// Malformed specs (skipped).
    pub invalid: u8,
}

impl Transports {
    /// The kept specs.
    pub fn specs(&self) -> &[TransportSpec] {
        self.specs.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// Parses the value of one `Transport` header and appends its specs.
    pub fn add_header(&mut self, value: &[u8]) {
        self.present = true;
        // At most MAX_TRANSPORTS + 16 items are looked at per header.
        for item in value
            .split(|&b| b == b',')
            .take(MAX_TRANSPORTS.saturating_add(16))
        {
            if text::trim(item).is_empty() {
                continue;
            }
            match TransportSpec::parse(item) {
                Some(spec) => match self.specs.get_mut(usize::from(self.len)) {
                    Some(slot) => {
                        *slot = spec;
                        self.len = self.len.saturating_add(1);
                    }
                    None => self.extra = self.extra.saturating_add(1),
                },
                None => self.invalid = self.invalid.saturating_add(1),
            }
        }
    }
}

/// A parsed RTSP message (its start line and the headers that matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtspMessage<'a> {
    /// Request (method) or reply (status).
    pub start: Start,
    /// `CSeq`.
    pub cseq: Option<u32>,
    /// `Session` identifier (without `;timeout=`).
    pub session: Option<&'a [u8]>,
    /// `Session` `timeout=` parameter, seconds.
    pub session_timeout: Option<u32>,
    /// `Transport` specs.
    pub transports: Transports,
    /// Whether the whole header block was present.
    pub headers_complete: bool,
    /// Why a needed header may be missing (`Truncated`/`TooLong`), if the header block is incomplete.
    pub missing: Option<Reason>,
}

/// Parses an RTSP request or reply (start line and headers; the body is ignored).
///
/// Errors: [`Reason::NotThisProtocol`] if the start line is not RTSP, [`Reason::Truncated`] if the
/// payload ends within the start line, [`Reason::Malformed`] for a bad status code, [`Reason::TooLong`]
/// for too many header lines.
pub fn parse(payload: &[u8]) -> Result<RtspMessage<'_>, Reason> {
    let msg = text::split_message(payload)?;
    let start = parse_start(&msg)?;
    let mut out = RtspMessage {
        start,
        cseq: None,
        session: None,
        session_timeout: None,
        transports: Transports::default(),
        headers_complete: msg.headers_complete(),
        missing: msg.missing_reason(),
    };
    for h in msg.headers() {
        if h.is(&[b"CSeq"]) {
            out.cseq = text::parse_u32(h.value);
        } else if h.is(&[b"Session"]) {
            let mut parts = h.value.split(|&b| b == b';');
            let id = text::trim(parts.next().unwrap_or(&[]));
            out.session = (!id.is_empty()).then_some(id);
            for p in parts.take(MAX_PARAMS) {
                if let Some((n, v)) = text::split_once(p, b'=') {
                    if text::eq_nocase(text::trim(n), b"timeout") {
                        out.session_timeout = text::parse_u32(v);
                    }
                }
            }
        } else if h.is(&[b"Transport"]) {
            out.transports.add_header(h.value);
        }
    }
    Ok(out)
}

fn parse_start(msg: &Message<'_>) -> Result<Start, Reason> {
    let line = text::trim(msg.start);
    if text::starts_with_nocase(line, b"RTSP/") {
        let (version, rest) = text::split_ws(line);
        if !is_version(version) {
            return Err(Reason::NotThisProtocol);
        }
        if !msg.start_complete {
            return Err(Reason::Truncated);
        }
        let (code, _) = text::split_ws(rest);
        return match text::parse_u16(code) {
            Some(c) if code.len() == 3 && (100..=999).contains(&c) => Ok(Start::Reply(c)),
            _ => Err(Reason::Malformed),
        };
    }
    let (method, rest) = text::split_ws(line);
    if method.is_empty() || !method.iter().all(|&b| b.is_ascii_alphabetic() || b == b'_') {
        return Err(Reason::NotThisProtocol);
    }
    if !msg.start_complete {
        // Cannot tell RTSP from anything else before the version at the end of the line.
        return Err(if msg.clipped {
            Reason::TooLong
        } else {
            Reason::Truncated
        });
    }
    let version = rest.rsplit(|&b| text::is_lws(b)).next().unwrap_or(&[]);
    if rest.is_empty() || !is_version(version) {
        return Err(Reason::NotThisProtocol);
    }
    Ok(Start::Request(Method::from_token(method)))
}

fn is_version(v: &[u8]) -> bool {
    // RTSP/1.0 (and RTSP/2.0, RFC 7826, whose Transport differs but whose start line is the same).
    text::starts_with_nocase(v, b"RTSP/")
        && v.len() == 8
        && v.get(5..)
            .is_some_and(|d| matches!(d, [a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit()))
}

impl RtspMessage<'_> {
    /// What this message announces (see [`super::inspect`]).
    ///
    /// * `TEARDOWN` request: the session ends.
    /// * `SETUP` request: for each UDP unicast spec with `client_port=a-b`, flows `client:a → ?` and
    ///   `client:b → ?` (server ports unknown yet); the client address is `destination=` if given.
    /// * 2xx reply with a `Transport` header (a SETUP reply): `client:a → source:c` and
    ///   `client:b → source:d` (`source` unset: the virtual IP).
    /// * Anything else: [`Reason::NoAnnouncement`].
    pub fn announce(&self) -> Result<Announcement, Reason> {
        match self.start {
            Start::Request(Method::Teardown) => return Ok(Announcement::end()),
            Start::Request(Method::Setup) => {}
            Start::Reply(code) if (200..300).contains(&code) => {
                if !self.transports.present {
                    return Err(self.missing.unwrap_or(Reason::NoAnnouncement));
                }
            }
            _ => return Err(Reason::NoAnnouncement),
        }
        if !self.transports.present {
            return Err(self.missing.unwrap_or(Reason::NoTransport));
        }
        let mut a = Announcement::default();
        let mut tcp = false;
        let mut multicast = false;
        for (i, spec) in self.transports.specs().iter().enumerate() {
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            if !spec.is_udp_unicast() {
                tcp |= spec.lower == Lower::Tcp || spec.interleaved.is_some();
                multicast |= spec.delivery == Delivery::Multicast;
                continue;
            }
            let Some(cp) = spec.client_port else { continue };
            let sp = spec.server_port;
            let client_addr = spec.destination;
            let server_addr = spec.source;
            let flow = |cport: u16, sport: Option<u16>, rtcp: bool| AnnouncedFlow {
                proto: PROTO_UDP,
                client: Endpoint {
                    addr: client_addr,
                    port: Some(cport),
                },
                server: Endpoint {
                    addr: server_addr,
                    port: sport,
                },
                index,
                rtcp,
            };
            a.push(flow(cp.first, sp.map(|s| s.first), false));
            if let Some(c2) = cp.second() {
                a.push(flow(c2, sp.and_then(|s| s.second()), true));
            }
        }
        a.dropped = a
            .dropped
            .saturating_add(self.transports.extra.saturating_mul(2));
        if !a.flows().is_empty() {
            return Ok(a);
        }
        Err(if tcp {
            Reason::Interleaved
        } else if multicast {
            Reason::Unsupported
        } else if self.transports.invalid > 0 {
            Reason::Malformed
        } else {
            Reason::NoTransport
        })
    }
}
