//! SIP 2.0 (RFC 3261) requests and responses, and the SDP bodies they carry.
//!
//! An SDP offer or answer describes the media endpoint of the side that sent it: a client's INVITE
//! gives the client's media source (`c=` address, RTP port of each `m=` line, RTCP port); the
//! server's answer (seen at the gateway) gives the cluster-side port of each stream. `BYE` ends the
//! session.
//!
//! Tolerances: header names in any case and in compact form (`i` Call-ID, `c` Content-Type,
//! `l` Content-Length, `e` Content-Encoding), whitespace around the colon, folded headers, CRLF or
//! bare LF, no Content-Length (over UDP the body is the rest of the datagram), a body longer than
//! Content-Length (the rest is the next message on a TCP stream).
//!
//! Bounds: see [`super::text`] and [`super::sdp`].

use super::sdp::{self, Conn, Sdp};
use super::text;
use super::{AnnouncedFlow, Announcement, Direction, Endpoint, Reason, PROTO_TCP, PROTO_UDP};

/// SIP request methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `INVITE`
    Invite,
    /// `ACK`
    Ack,
    /// `BYE`
    Bye,
    /// `CANCEL`
    Cancel,
    /// `REGISTER`
    Register,
    /// `OPTIONS`
    Options,
    /// `PRACK` (RFC 3262)
    Prack,
    /// `SUBSCRIBE` (RFC 6665)
    Subscribe,
    /// `NOTIFY` (RFC 6665)
    Notify,
    /// `PUBLISH` (RFC 3903)
    Publish,
    /// `INFO` (RFC 6086)
    Info,
    /// `REFER` (RFC 3515)
    Refer,
    /// `MESSAGE` (RFC 3428)
    Message,
    /// `UPDATE` (RFC 3311)
    Update,
    /// Any other (extension) method.
    Other,
}

impl Method {
    /// The method named by a token (methods are case-sensitive in SIP; any case is accepted here).
    pub fn from_token(t: &[u8]) -> Method {
        const TABLE: [(&[u8], Method); 14] = [
            (b"INVITE", Method::Invite),
            (b"ACK", Method::Ack),
            (b"BYE", Method::Bye),
            (b"CANCEL", Method::Cancel),
            (b"REGISTER", Method::Register),
            (b"OPTIONS", Method::Options),
            (b"PRACK", Method::Prack),
            (b"SUBSCRIBE", Method::Subscribe),
            (b"NOTIFY", Method::Notify),
            (b"PUBLISH", Method::Publish),
            (b"INFO", Method::Info),
            (b"REFER", Method::Refer),
            (b"MESSAGE", Method::Message),
            (b"UPDATE", Method::Update),
        ];
        TABLE
            .iter()
            .find(|(n, _)| text::eq_nocase(t, n))
            .map_or(Method::Other, |(_, m)| *m)
    }

    /// Whether an SDP body in a request of this method (or in a response to it) is an offer or an
    /// answer (RFC 3261 §13, RFC 3262, RFC 3311).
    pub fn carries_session_sdp(self) -> bool {
        matches!(
            self,
            Method::Invite | Method::Ack | Method::Prack | Method::Update
        )
    }
}

/// Request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Start {
    /// A request with its method.
    Request(Method),
    /// A response with its status code (100..=699).
    Response(u16),
}

/// A parsed SIP message: start line, the headers that matter, and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipMessage<'a> {
    /// Request (method) or response (status).
    pub start: Start,
    /// `Call-ID` (`i`).
    pub call_id: Option<&'a [u8]>,
    /// `CSeq` sequence number.
    pub cseq: Option<u32>,
    /// `CSeq` method.
    pub cseq_method: Option<Method>,
    /// `Content-Type` (`c`), trimmed, parameters included.
    pub content_type: Option<&'a [u8]>,
    /// `Content-Length` (`l`).
    pub content_length: Option<u32>,
    /// `Content-Encoding` (`e`) other than `identity` present: the body is not plain text.
    pub encoded: bool,
    /// The body (exactly Content-Length bytes when given), or `None` when it is not all there.
    pub body: Option<&'a [u8]>,
    /// Why `body` is `None` (`Truncated` or `TooLong`).
    pub missing: Option<Reason>,
}

/// Parses a SIP request or response.
///
/// Errors: [`Reason::NotThisProtocol`] if the start line is not SIP/2.0, [`Reason::Truncated`] if the
/// payload ends within the start line, [`Reason::Malformed`] for a bad status code or a bad or
/// conflicting Content-Length, [`Reason::TooLong`] for too many header lines.
pub fn parse(payload: &[u8]) -> Result<SipMessage<'_>, Reason> {
    let msg = text::split_message(payload)?;
    let start = parse_start(&msg)?;
    let mut out = SipMessage {
        start,
        call_id: None,
        cseq: None,
        cseq_method: None,
        content_type: None,
        content_length: None,
        encoded: false,
        body: None,
        missing: None,
    };
    for h in msg.headers() {
        if h.is(&[b"Call-ID", b"i"]) {
            out.call_id = (!h.value.is_empty()).then_some(h.value);
        } else if h.is(&[b"CSeq"]) {
            let (n, m) = text::split_ws(h.value);
            out.cseq = text::parse_u32(n);
            let (m, _) = text::split_ws(m);
            out.cseq_method = (!m.is_empty()).then(|| Method::from_token(m));
        } else if h.is(&[b"Content-Type", b"c"]) {
            out.content_type = Some(h.value);
        } else if h.is(&[b"Content-Length", b"l"]) {
            let n = text::parse_u32(h.value).ok_or(Reason::Malformed)?;
            if out.content_length.is_some_and(|old| old != n) {
                return Err(Reason::Malformed);
            }
            out.content_length = Some(n);
        } else if h.is(&[b"Content-Encoding", b"e"]) {
            out.encoded |= !text::eq_nocase(h.value, b"identity");
        }
    }
    match msg.body {
        None => out.missing = msg.missing_reason(),
        Some(rest) => match out.content_length {
            Some(n) => match usize::try_from(n).ok().and_then(|n| rest.get(..n)) {
                Some(b) => out.body = Some(b),
                None => {
                    out.missing = Some(if msg.clipped {
                        Reason::TooLong
                    } else {
                        Reason::Truncated
                    })
                }
            },
            None if msg.clipped => out.missing = Some(Reason::TooLong),
            None => out.body = Some(rest),
        },
    }
    Ok(out)
}

fn parse_start(msg: &text::Message<'_>) -> Result<Start, Reason> {
    let line = text::trim(msg.start);
    if text::starts_with_nocase(line, b"SIP/") {
        let (version, rest) = text::split_ws(line);
        if !text::eq_nocase(version, b"SIP/2.0") {
            return Err(Reason::NotThisProtocol);
        }
        if !msg.start_complete {
            return Err(Reason::Truncated);
        }
        let (code, _) = text::split_ws(rest);
        return match text::parse_u16(code) {
            Some(c) if code.len() == 3 && (100..=699).contains(&c) => Ok(Start::Response(c)),
            _ => Err(Reason::Malformed),
        };
    }
    let (method, rest) = text::split_ws(line);
    // RFC 3261 token characters.
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(b);
    if method.is_empty() || !method.iter().all(token) {
        return Err(Reason::NotThisProtocol);
    }
    if !msg.start_complete {
        return Err(if msg.clipped {
            Reason::TooLong
        } else {
            Reason::Truncated
        });
    }
    let version = rest.rsplit(|&b| text::is_lws(b)).next().unwrap_or(&[]);
    if rest.is_empty() || !text::eq_nocase(version, b"SIP/2.0") {
        return Err(Reason::NotThisProtocol);
    }
    Ok(Start::Request(Method::from_token(method)))
}

impl SipMessage<'_> {
    /// Whether the message is a request with this method.
    pub fn is_request(&self, m: Method) -> bool {
        self.start == Start::Request(m)
    }

    /// The SDP body, parsed.
    ///
    /// Errors: the body's [`SipMessage::missing`] reason if it is not all there; [`Reason::NoBody`] for
    /// an empty body; [`Reason::Unsupported`] for a body that is not `application/sdp` (multipart,
    /// compressed…); otherwise what [`sdp::parse`] says.
    pub fn sdp(&self) -> Result<Sdp, Reason> {
        let body = match self.body {
            Some(b) => b,
            None => return Err(self.missing.unwrap_or(Reason::Truncated)),
        };
        if text::trim(body).is_empty() {
            return Err(Reason::NoBody);
        }
        if self.encoded {
            return Err(Reason::Unsupported);
        }
        match self.content_type {
            Some(ct) => {
                let media_type = text::split_once(ct, b';').map_or(ct, |(t, _)| t);
                if !text::eq_nocase(text::trim(media_type), b"application/sdp") {
                    return Err(Reason::Unsupported);
                }
            }
            // No Content-Type: accept a body that looks like SDP.
            None if text::starts_with_nocase(text::trim(body), b"v=") => {}
            None => return Err(Reason::Unsupported),
        }
        sdp::parse(body)
    }

    /// What this message announces (see [`super::inspect`]).
    ///
    /// * `BYE`: the session ends.
    /// * An SDP offer or answer (in INVITE, ACK, PRACK, UPDATE or a response to one of them): for each
    ///   enabled media line, the RTP flow and (unless muxed or over TCP) the RTCP flow of the sender's
    ///   endpoint, `index` = media line position. From the client: `client = (c= address, port)`, server
    ///   end unknown; from a server: `server = (c= address, port)`, client end unknown. A `c=` of
    ///   0.0.0.0 (RFC 2543 hold) is reported as no address (the signalling address).
    /// * INVITE without a body: [`Reason::NoBody`]; other messages without SDP:
    ///   [`Reason::NoAnnouncement`].
    pub fn announce(&self, dir: Direction) -> Result<Announcement, Reason> {
        let method = match self.start {
            Start::Request(Method::Bye) => return Ok(Announcement::end()),
            Start::Request(m) => m,
            Start::Response(_) => self.cseq_method.unwrap_or(Method::Invite),
        };
        if !method.carries_session_sdp() {
            return Err(Reason::NoAnnouncement);
        }
        let sdp = match self.sdp() {
            Ok(s) => s,
            Err(Reason::NoBody) if self.is_request(Method::Invite) => return Err(Reason::NoBody),
            Err(Reason::NoBody) => return Err(Reason::NoAnnouncement),
            Err(r) => return Err(r),
        };
        let mut a = Announcement {
            dropped: sdp.extra_media.saturating_mul(2),
            ..Announcement::default()
        };
        let mut unsupported = false;
        for (i, m) in sdp.media().iter().enumerate() {
            if !m.enabled() {
                continue;
            }
            let addr = match m.conn {
                Some(Conn::Ip4([0, 0, 0, 0])) | None => None,
                Some(Conn::Ip4(a)) => Some(a),
                Some(Conn::Unsupported) => {
                    unsupported = true;
                    continue;
                }
            };
            let proto = if m.proto.is_tcp() {
                PROTO_TCP
            } else {
                PROTO_UDP
            };
            let index = u8::try_from(i).unwrap_or(u8::MAX);
            let flow = |addr: Option<[u8; 4]>, port: u16, rtcp: bool| {
                let ep = Endpoint {
                    addr,
                    port: Some(port),
                };
                let (client, server) = match dir {
                    Direction::FromClient => (ep, Endpoint::default()),
                    Direction::FromServer => (Endpoint::default(), ep),
                };
                AnnouncedFlow {
                    proto,
                    client,
                    server,
                    index,
                    rtcp,
                }
            };
            a.push(flow(addr, m.port, false));
            if proto == PROTO_TCP {
                continue;
            }
            if let Some(rp) = m.rtcp_port.filter(|&p| p != m.port) {
                let raddr = match m.rtcp_addr {
                    Some(Conn::Ip4([0, 0, 0, 0])) => None,
                    Some(Conn::Ip4(a)) => Some(a),
                    _ => addr,
                };
                a.push(flow(raddr, rp, true));
            }
        }
        if a.flows().is_empty() {
            return Err(if unsupported {
                Reason::Unsupported
            } else {
                Reason::NoMedia
            });
        }
        Ok(a)
    }
}
