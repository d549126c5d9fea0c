//! SDP bodies (RFC 4566): connection addresses, media lines and their RTCP ports.
//!
//! Read: session-level and media-level `c=IN IP4 addr[/ttl[/n]]`, each `m=<media> <port>[/<n>]
//! <proto> <fmt>…` (port 0 = disabled stream; it still takes its place, since an answer's media lines
//! pair with the offer's by position), `a=rtcp:PORT [IN IP4 addr]` (RFC 3605), `a=rtcp-mux`
//! (RFC 5761) and the direction attributes. RTCP is on `a=rtcp:` if given, else on the RTP port with
//! `a=rtcp-mux`, else on PORT+1.
//!
//! Tolerances: CRLF or bare LF, blank lines, whitespace around values, unknown or malformed lines
//! other than `m=`/`c=`/`a=rtcp:` skipped.
//!
//! Bounds: at most [`MAX_SDP_LINES`] lines are read ([`Reason::TooLong`] beyond); at most
//! [`MAX_MEDIA`] media lines are kept (the others are counted in [`Sdp::extra_media`]).

use super::text::{self, Ipv4};
use super::Reason;

/// Media lines kept per SDP body.
pub const MAX_MEDIA: usize = 4;
/// Lines read per SDP body.
pub const MAX_SDP_LINES: usize = 128;

/// The media type of an `m=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MediaKind {
    /// `audio`
    #[default]
    Audio,
    /// `video`
    Video,
    /// `text`
    Text,
    /// `application`
    Application,
    /// `message`
    Message,
    /// `image` (T.38 fax)
    Image,
    /// Anything else.
    Other,
}

/// The transport protocol of an `m=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MediaProto {
    /// `RTP/AVP`
    #[default]
    RtpAvp,
    /// `RTP/SAVP`
    RtpSavp,
    /// `RTP/AVPF`
    RtpAvpf,
    /// `RTP/SAVPF`
    RtpSavpf,
    /// `udp`
    Udp,
    /// `udptl` (T.38)
    Udptl,
    /// Any protocol starting with `TCP` (RFC 4145 `TCP`, `TCP/RTP/AVP`, `TCP/MSRP`…).
    Tcp,
    /// Anything else (`UDP/TLS/RTP/SAVPF`…), carried over UDP.
    Other,
}

impl MediaProto {
    fn from_token(t: &[u8]) -> MediaProto {
        match t {
            _ if text::eq_nocase(t, b"RTP/AVP") => MediaProto::RtpAvp,
            _ if text::eq_nocase(t, b"RTP/SAVP") => MediaProto::RtpSavp,
            _ if text::eq_nocase(t, b"RTP/AVPF") => MediaProto::RtpAvpf,
            _ if text::eq_nocase(t, b"RTP/SAVPF") => MediaProto::RtpSavpf,
            _ if text::eq_nocase(t, b"udp") => MediaProto::Udp,
            _ if text::eq_nocase(t, b"udptl") => MediaProto::Udptl,
            _ if text::starts_with_nocase(t, b"TCP") => MediaProto::Tcp,
            _ => MediaProto::Other,
        }
    }

    /// Whether this media is carried over TCP.
    pub fn is_tcp(self) -> bool {
        self == MediaProto::Tcp
    }
}

/// A stream's direction attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MediaDirection {
    /// `a=sendrecv` (the default).
    #[default]
    SendRecv,
    /// `a=sendonly`
    SendOnly,
    /// `a=recvonly`
    RecvOnly,
    /// `a=inactive`
    Inactive,
}

/// A connection address (`c=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conn {
    /// `IN IP4 a.b.c.d` (a multicast TTL suffix is dropped).
    Ip4(Ipv4),
    /// `IN IP6 …`, another family, or a host name: not handled.
    Unsupported,
}

/// One `m=` line with what applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Media {
    /// Media type.
    pub kind: MediaKind,
    /// RTP (media) port; 0 means the stream is disabled or rejected.
    pub port: u16,
    /// Number of ports (`m=video 49170/2`), 1 when not written.
    pub port_count: u16,
    /// Transport protocol.
    pub proto: MediaProto,
    /// Connection address: the media-level `c=`, else the session-level one, else `None`.
    pub conn: Option<Conn>,
    /// RTCP port: `a=rtcp:` if given, else the RTP port with `a=rtcp-mux`, else port + 1 (`None` for a
    /// disabled stream or port 65535).
    pub rtcp_port: Option<u16>,
    /// Address of `a=rtcp:PORT IN IP4 addr`, if given.
    pub rtcp_addr: Option<Conn>,
    /// `a=rtcp-mux` present.
    pub rtcp_mux: bool,
    /// Direction attribute (media level, else session level).
    pub direction: MediaDirection,
}

impl Media {
    /// Whether the stream is enabled (port not 0).
    pub fn enabled(&self) -> bool {
        self.port != 0
    }

    /// The IPv4 connection address, if there is one.
    pub fn addr(&self) -> Option<Ipv4> {
        match self.conn {
            Some(Conn::Ip4(a)) => Some(a),
            _ => None,
        }
    }
}

/// A parsed SDP body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sdp {
    /// Session-level `c=`.
    pub session_conn: Option<Conn>,
    media: [Media; MAX_MEDIA],
    len: u8,
    /// Media lines beyond [`MAX_MEDIA`] (not kept).
    pub extra_media: u8,
}

impl Sdp {
    /// The media lines, in order (disabled ones included), at most [`MAX_MEDIA`].
    pub fn media(&self) -> &[Media] {
        self.media.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

fn parse_conn(v: &[u8]) -> Option<Conn> {
    let (net, rest) = text::split_ws(v);
    let (family, rest) = text::split_ws(rest);
    let (addr, _) = text::split_ws(rest);
    if !text::eq_nocase(net, b"IN") || addr.is_empty() {
        return None;
    }
    if !text::eq_nocase(family, b"IP4") {
        return Some(Conn::Unsupported);
    }
    let addr = text::split_once(addr, b'/').map_or(addr, |(a, _)| a);
    if addr.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
        text::parse_ipv4(addr).map(Conn::Ip4)
    } else {
        // A host name (allowed by RFC 4566): not resolved here.
        Some(Conn::Unsupported)
    }
}

/// Parses an SDP body.
///
/// Errors: [`Reason::Malformed`] if the body does not start with `v=` or an `m=`, `c=` or `a=rtcp:`
/// line is malformed (a port above 65535, an unparsable address…); [`Reason::TooLong`] beyond
/// [`MAX_SDP_LINES`] lines or [`text::MAX_SCAN`] bytes.
pub fn parse(body: &[u8]) -> Result<Sdp, Reason> {
    if body.len() > text::MAX_SCAN {
        return Err(Reason::TooLong);
    }
    let mut sdp = Sdp::default();
    let mut session_dir = MediaDirection::SendRecv;
    // Index of the media line the following lines apply to; None at session level, or when the
    // current media line was not kept (beyond MAX_MEDIA).
    let mut current: Option<usize> = None;
    let mut in_media = false;
    let mut rest = body;
    let mut lines: usize = 0;
    let mut seen_version = false;
    while let Some((line, _, next)) = text::next_line(rest) {
        rest = next;
        lines = lines.saturating_add(1);
        if lines > MAX_SDP_LINES {
            return Err(Reason::TooLong);
        }
        let line = text::trim(line);
        if line.is_empty() {
            continue;
        }
        let (ty, value) = match line {
            [t, b'=', v @ ..] => (*t, text::trim(v)),
            _ => {
                if !seen_version {
                    return Err(Reason::Malformed);
                }
                continue;
            }
        };
        if !seen_version {
            if ty != b'v' {
                return Err(Reason::Malformed);
            }
            seen_version = true;
            continue;
        }
        match ty {
            b'm' => {
                in_media = true;
                let m = parse_m(value)?;
                current = None;
                match sdp.media.get_mut(usize::from(sdp.len)) {
                    Some(slot) => {
                        *slot = m;
                        current = Some(usize::from(sdp.len));
                        sdp.len = sdp.len.saturating_add(1);
                    }
                    None => sdp.extra_media = sdp.extra_media.saturating_add(1),
                }
            }
            b'c' => {
                let c = parse_conn(value).ok_or(Reason::Malformed)?;
                if !in_media {
                    sdp.session_conn = Some(c);
                } else if let Some(m) = current.and_then(|i| sdp.media.get_mut(i)) {
                    m.conn = Some(c);
                }
            }
            b'a' => {
                let dir = match value {
                    _ if text::eq_nocase(value, b"sendrecv") => Some(MediaDirection::SendRecv),
                    _ if text::eq_nocase(value, b"sendonly") => Some(MediaDirection::SendOnly),
                    _ if text::eq_nocase(value, b"recvonly") => Some(MediaDirection::RecvOnly),
                    _ if text::eq_nocase(value, b"inactive") => Some(MediaDirection::Inactive),
                    _ => None,
                };
                if !in_media {
                    if let Some(d) = dir {
                        session_dir = d;
                    }
                    continue;
                }
                let Some(m) = current.and_then(|i| sdp.media.get_mut(i)) else {
                    continue;
                };
                if let Some(d) = dir {
                    m.direction = d;
                } else if text::eq_nocase(value, b"rtcp-mux") {
                    m.rtcp_mux = true;
                } else if text::starts_with_nocase(value, b"rtcp:") {
                    let v = value.get(5..).unwrap_or(&[]);
                    let (port, addr) = text::split_ws(v);
                    m.rtcp_port = Some(text::parse_port(port).ok_or(Reason::Malformed)?);
                    if !addr.is_empty() {
                        m.rtcp_addr = Some(parse_conn(addr).ok_or(Reason::Malformed)?);
                    }
                }
            }
            _ => {}
        }
    }
    if !seen_version {
        return Err(Reason::Malformed);
    }
    let session_conn = sdp.session_conn;
    for m in sdp.media.iter_mut().take(usize::from(sdp.len)) {
        if m.conn.is_none() {
            m.conn = session_conn;
        }
        if m.direction == MediaDirection::SendRecv {
            m.direction = session_dir;
        }
        if m.port == 0 {
            m.rtcp_port = None;
        } else if m.rtcp_port.is_none() {
            m.rtcp_port = if m.rtcp_mux {
                Some(m.port)
            } else {
                m.port.checked_add(1)
            };
        }
    }
    Ok(sdp)
}

fn parse_m(v: &[u8]) -> Result<Media, Reason> {
    let (kind, rest) = text::split_ws(v);
    let (port, rest) = text::split_ws(rest);
    let (proto, _fmts) = text::split_ws(rest);
    if kind.is_empty() || port.is_empty() || proto.is_empty() {
        return Err(Reason::Malformed);
    }
    let (port, count) = match text::split_once(port, b'/') {
        Some((p, n)) => (
            p,
            text::parse_u16(n)
                .filter(|&n| n != 0)
                .ok_or(Reason::Malformed)?,
        ),
        None => (port, 1),
    };
    let port = text::parse_u16(port).ok_or(Reason::Malformed)?;
    let kind = match kind {
        _ if text::eq_nocase(kind, b"audio") => MediaKind::Audio,
        _ if text::eq_nocase(kind, b"video") => MediaKind::Video,
        _ if text::eq_nocase(kind, b"text") => MediaKind::Text,
        _ if text::eq_nocase(kind, b"application") => MediaKind::Application,
        _ if text::eq_nocase(kind, b"message") => MediaKind::Message,
        _ if text::eq_nocase(kind, b"image") => MediaKind::Image,
        _ => MediaKind::Other,
    };
    Ok(Media {
        kind,
        port,
        port_count: count,
        proto: MediaProto::from_token(proto),
        ..Media::default()
    })
}
