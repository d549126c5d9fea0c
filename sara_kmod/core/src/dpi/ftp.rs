//! FTP data-connection announcements (RFC 959, RFC 1123 §4.1.2.6, RFC 2428).
//!
//! * Server replies `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` and
//!   `229 Entering Extended Passive Mode (|||port|)`: the client will open a TCP connection to that
//!   address and port (passive mode; this is what crosses the dispatcher).
//! * Client commands `PORT h1,h2,h3,h4,p1,p2` and `EPRT |1|addr|port|`: the server will connect to the
//!   client (active mode); the client's packets of that connection then come from that address and
//!   port to the virtual IP (usually port 20, not announced).
//!
//! Tolerances: any text around the numbers of a 227 reply (RFC 1123 says to scan for the first digit),
//! spaces around the commas, any delimiter in 229/EPRT (RFC 2428), CRLF or bare LF, several replies or
//! commands in one segment (the first that announces something wins), command names in any case.
//!
//! Bounds: at most [`MAX_FTP_LINES`] lines of the first [`super::text::MAX_SCAN`] bytes are read.

use super::text::{self, Ipv4};
use super::{AnnouncedFlow, Announcement, Endpoint, Reason, PROTO_TCP};

/// Lines read per payload.
pub const MAX_FTP_LINES: usize = 16;

/// A data connection announced on an FTP control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ftp {
    /// `227` reply: the server listens on `addr:port`.
    Passive {
        /// Address in the reply.
        addr: Ipv4,
        /// Port in the reply.
        port: u16,
    },
    /// `229` reply: the server listens on `port` at the control connection's address.
    ExtendedPassive {
        /// Port in the reply.
        port: u16,
    },
    /// `PORT` command: the client listens on `addr:port`.
    Port {
        /// Address in the command.
        addr: Ipv4,
        /// Port in the command.
        port: u16,
    },
    /// `EPRT |1|…` command: the client listens on `addr:port`.
    ExtendedPort {
        /// Address in the command.
        addr: Ipv4,
        /// Port in the command.
        port: u16,
    },
    /// `PASV` or `EPSV` command: the client asks for passive mode. The port comes in the server's
    /// reply, which only the gateway sees; the dispatcher knows no more than "a TCP connection from
    /// this client to the virtual IP" (both ports unknown) until a gateway report completes it.
    PassiveRequest,
}

/// Parses an FTP control payload (server replies or client commands).
///
/// Errors: [`Reason::NotThisProtocol`] if the first line is neither a reply (`ddd` then space, `-` or
/// end) nor a command (3 or 4 letters); [`Reason::Malformed`] for a 227/229/PORT/EPRT line whose
/// numbers do not parse (a port of 0, a number above 255…); [`Reason::Unsupported`] for an IPv6 `EPRT`;
/// [`Reason::Truncated`] if the payload ends inside such a line; [`Reason::NoAnnouncement`] if no
/// line announces anything.
pub fn parse(payload: &[u8]) -> Result<Ftp, Reason> {
    let view = payload.get(..text::MAX_SCAN).unwrap_or(payload);
    let mut rest = view;
    let mut first = true;
    let mut lines: usize = 0;
    while let Some((line, terminated, next)) = text::next_line(rest) {
        rest = next;
        lines = lines.saturating_add(1);
        if lines > MAX_FTP_LINES {
            break;
        }
        // A command starts the line; an indented word is a multi-line reply's text (FEAT's " PASV").
        let indented = line.first().is_some_and(|b| b.is_ascii_whitespace());
        let line = text::trim(line);
        if line.is_empty() {
            continue;
        }
        let kind = classify(line);
        if first {
            if kind == Kind::NotFtp {
                return Err(Reason::NotThisProtocol);
            }
            first = false;
        }
        let (word, args) = text::split_ws(line);
        let parsed = match kind {
            Kind::Reply if word == b"227" => Some(parse_227(args)),
            Kind::Reply if word == b"229" => Some(parse_229(args)),
            Kind::Command if text::eq_nocase(word, b"PORT") => Some(parse_port_cmd(args)),
            Kind::Command if text::eq_nocase(word, b"EPRT") => Some(parse_eprt(args)),
            Kind::Command
                if !indented
                    && (text::eq_nocase(word, b"PASV") || text::eq_nocase(word, b"EPSV")) =>
            {
                Some(Ok(Ftp::PassiveRequest))
            }
            _ => None,
        };
        if let Some(r) = parsed {
            if !terminated {
                // The numbers may go on in the next segment.
                return Err(if payload.len() > text::MAX_SCAN {
                    Reason::TooLong
                } else {
                    Reason::Truncated
                });
            }
            return r;
        }
    }
    if first {
        return Err(Reason::Truncated);
    }
    Err(Reason::NoAnnouncement)
}

#[derive(PartialEq, Eq)]
enum Kind {
    Reply,
    Command,
    NotFtp,
}

fn classify(line: &[u8]) -> Kind {
    match line {
        [a, b, c, rest @ ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && matches!(rest.first(), None | Some(b' ' | b'-')) =>
        {
            Kind::Reply
        }
        _ => {
            let (word, _) = text::split_ws(line);
            let letters = line.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            if (3..=4).contains(&word.len()) && letters == word.len() {
                Kind::Command
            } else {
                Kind::NotFtp
            }
        }
    }
}

/// Parses `h1,h2,h3,h4,p1,p2` at the start of `s` (spaces allowed around commas); the rest is ignored.
fn six_numbers(s: &[u8]) -> Result<(Ipv4, u16), Reason> {
    let mut v = [0u8; 6];
    let mut rest = s;
    for (i, slot) in v.iter_mut().enumerate() {
        let r = text::trim(rest);
        let digits = r.iter().take_while(|b| b.is_ascii_digit()).count();
        let (num, after) = r.split_at_checked(digits).ok_or(Reason::Malformed)?;
        if num.is_empty() || num.len() > 3 {
            return Err(Reason::Malformed);
        }
        *slot = text::parse_u8(num).ok_or(Reason::Malformed)?;
        let after = text::trim(after);
        rest = if i < 5 {
            after.strip_prefix(b",").ok_or(Reason::Malformed)?
        } else {
            after
        };
    }
    let [a, b, c, d, p1, p2] = v;
    let port = u16::from_be_bytes([p1, p2]);
    if port == 0 {
        return Err(Reason::Malformed);
    }
    Ok(([a, b, c, d], port))
}

fn parse_227(text_part: &[u8]) -> Result<Ftp, Reason> {
    let at = text_part
        .iter()
        .position(u8::is_ascii_digit)
        .ok_or(Reason::Malformed)?;
    let s = text_part.get(at..).ok_or(Reason::Malformed)?;
    let (addr, port) = six_numbers(s)?;
    Ok(Ftp::Passive { addr, port })
}

/// Splits `<d>f1<d>f2<d>f3<d>` (the fields of RFC 2428) starting at `s`.
fn rfc2428_fields(s: &[u8]) -> Result<[&[u8]; 3], Reason> {
    let (&d, rest) = s.split_first().ok_or(Reason::Malformed)?;
    if !(33..=126).contains(&d) || d.is_ascii_digit() {
        return Err(Reason::Malformed);
    }
    let mut parts = rest.split(move |&b| b == d);
    let f1 = parts.next().ok_or(Reason::Malformed)?;
    let f2 = parts.next().ok_or(Reason::Malformed)?;
    let f3 = parts.next().ok_or(Reason::Malformed)?;
    // The closing delimiter must be there.
    parts.next().ok_or(Reason::Malformed)?;
    Ok([f1, f2, f3])
}

fn parse_229(text_part: &[u8]) -> Result<Ftp, Reason> {
    let at = text_part
        .iter()
        .position(|&b| b == b'(')
        .ok_or(Reason::Malformed)?;
    let s = text_part
        .get(at.saturating_add(1)..)
        .ok_or(Reason::Malformed)?;
    let [proto, addr, port] = rfc2428_fields(s)?;
    if !text::trim(proto).is_empty() || !text::trim(addr).is_empty() {
        // RFC 2428 says both are empty in a 229 reply.
        return Err(Reason::Malformed);
    }
    let port = text::parse_port(port).ok_or(Reason::Malformed)?;
    Ok(Ftp::ExtendedPassive { port })
}

fn parse_port_cmd(args: &[u8]) -> Result<Ftp, Reason> {
    let (addr, port) = six_numbers(args)?;
    Ok(Ftp::Port { addr, port })
}

fn parse_eprt(args: &[u8]) -> Result<Ftp, Reason> {
    let [af, addr, port] = rfc2428_fields(text::trim(args))?;
    match text::parse_u8(af) {
        Some(1) => {}
        Some(2) => return Err(Reason::Unsupported),
        _ => return Err(Reason::Malformed),
    }
    let addr = text::parse_ipv4(addr).ok_or(Reason::Malformed)?;
    let port = text::parse_port(port).ok_or(Reason::Malformed)?;
    Ok(Ftp::ExtendedPort { addr, port })
}

impl Ftp {
    /// The announced TCP flow (see [`super::inspect`]): passive mode `client:? → addr:port` (an address
    /// of 0.0.0.0 is reported as none: the control connection's), active mode `addr:port → VIP:?`.
    pub fn announce(&self) -> Announcement {
        let nz = |a: Ipv4| (a != [0, 0, 0, 0]).then_some(a);
        let (client, server) = match *self {
            Ftp::Passive { addr, port } => (
                Endpoint::default(),
                Endpoint {
                    addr: nz(addr),
                    port: Some(port),
                },
            ),
            Ftp::ExtendedPassive { port } => (
                Endpoint::default(),
                Endpoint {
                    addr: None,
                    port: Some(port),
                },
            ),
            Ftp::Port { addr, port } | Ftp::ExtendedPort { addr, port } => (
                Endpoint {
                    addr: nz(addr),
                    port: Some(port),
                },
                Endpoint::default(),
            ),
            Ftp::PassiveRequest => (Endpoint::default(), Endpoint::default()),
        };
        let mut a = Announcement::default();
        a.push(AnnouncedFlow {
            proto: PROTO_TCP,
            client,
            server,
            index: 0,
            rtcp: false,
        });
        a
    }
}
