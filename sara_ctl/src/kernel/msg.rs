//! Netlink messages: the bytes of one generic netlink request ([`encode_request`]), the reading of a
//! reply datagram ([`decode_datagram`]), and the gathering of one request's answer from the
//! datagrams that arrive ([`Answer`]).
//!
//! A request, as [`encode_request`] lays it out (host byte order):
//!
//! ```text
//!  0               4       6       8               12              16  17  18  20
//! +---------------+-------+-------+---------------+---------------+---+---+---+------------+
//! | nlmsg_len     | type  | flags | nlmsg_seq     | nlmsg_pid (0) |cmd|ver| 0 | attributes |
//! +---------------+-------+-------+---------------+---------------+---+---+---+------------+
//!   nlmsghdr (16 bytes): type = the family id     genlmsghdr (4)    each as kernel/attr.rs draws
//! ```
//!
//! An `NLMSG_ERROR` (an ack when `error` is 0):
//!
//! ```text
//! +-----------+--------------------------------------+----------------------------------------+
//! | error i32 | the request's nlmsghdr, and its body | extended-ack TLVs (NLMSGERR_ATTR_MSG,  |
//! | (-errno)  | unless NLM_F_CAPPED                  | _OFFS, _MISS_TYPE, _POLICY)            |
//! +-----------+--------------------------------------+----------------------------------------+
//! ```
//!
//! Requests and reply payloads are made and read with `neli`'s types (`Nlmsghdr`, `Genlmsghdr`,
//! `Nlattr`). Two things are done here by hand, on purpose:
//! * splitting a datagram into messages by `nlmsg_len`: `neli` does not skip bytes it did not
//!   read, so an ack carrying extended-ack TLVs would misalign every following message;
//! * decoding `NLMSG_ERROR`: `neli` assumes the echoed request is always there, which is false
//!   when the kernel sets `NLM_F_CAPPED`, and it has no names for `NLMSGERR_ATTR_MISS_TYPE`.

use std::io::Cursor;

use neli::consts::nl::NlmF;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder, NoUserHeader};
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::types::{Buffer, GenlBuffer};
use neli::{FromBytes, ToBytes};
use sara_core::genl;

use super::attr::{align4, parse_attrs, Attr};
use crate::error::{Error, KernelError, PolicyHint};

/// `nlmsghdr` length.
pub const NLMSG_HDRLEN: usize = 16;
/// `genlmsghdr` length.
pub const GENL_HDRLEN: usize = 4;
/// Request flags: `NLM_F_REQUEST | NLM_F_ACK`.
pub const FLAGS_REQUEST_ACK: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
/// Dump request flags: `NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP` (the kernel ends a dump with
/// `NLMSG_DONE`, not with an ack).
pub const FLAGS_DUMP: u16 = FLAGS_REQUEST_ACK | NLM_F_DUMP;

const NLMSG_NOOP: u16 = libc::NLMSG_NOOP as u16;
pub(super) const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
pub(super) const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
pub(super) const NLMSG_OVERRUN: u16 = libc::NLMSG_OVERRUN as u16;
/// `NLM_F_DUMP`.
pub const NLM_F_DUMP: u16 = libc::NLM_F_DUMP as u16;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_DUMP_INTR: u16 = libc::NLM_F_DUMP_INTR as u16;

// `enum nlmsgerr_attrs` and `enum netlink_policy_type_attr` from <linux/netlink.h>.
pub(super) const NLMSGERR_ATTR_MSG: u16 = 1;
pub(super) const NLMSGERR_ATTR_OFFS: u16 = 2;
pub(super) const NLMSGERR_ATTR_POLICY: u16 = 4;
pub(super) const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
const NL_POLICY_TYPE_ATTR_MIN_VALUE_S: u16 = 2;
const NL_POLICY_TYPE_ATTR_MAX_VALUE_S: u16 = 3;
const NL_POLICY_TYPE_ATTR_MIN_VALUE_U: u16 = 4;
const NL_POLICY_TYPE_ATTR_MAX_VALUE_U: u16 = 5;
const NL_POLICY_TYPE_ATTR_MIN_LENGTH: u16 = 6;
const NL_POLICY_TYPE_ATTR_MAX_LENGTH: u16 = 7;

/// Largest attribute payload (`nla_len` is a u16 and includes the 4-byte header).
pub const MAX_ATTR_PAYLOAD: usize = u16::MAX as usize - 4;

/// One generic netlink request to family `sara`: a command and its top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `genl::CMD_*`.
    pub cmd: u8,
    /// Attributes in the order they are sent.
    pub attrs: Vec<Attr>,
}

// ---- encoding -------------------------------------------------------------------------------

/// The bytes of one generic netlink request message (`nlmsghdr` + `genlmsghdr` + attributes),
/// with `genl::VERSION` in the generic header.
pub fn encode_request(nl_type: u16, flags: u16, seq: u32, req: &Request) -> Result<Vec<u8>, Error> {
    encode_request_version(nl_type, flags, seq, genl::VERSION, req)
}

/// [`encode_request`] with an explicit generic netlink version.
pub fn encode_request_version(
    nl_type: u16,
    flags: u16,
    seq: u32,
    version: u8,
    req: &Request,
) -> Result<Vec<u8>, Error> {
    let bad = |e: &dyn std::fmt::Display| Error::Usage(format!("cannot encode the request: {e}"));
    let mut attrs = GenlBuffer::<u16, Buffer>::new();
    for a in &req.attrs {
        if a.payload.len() > MAX_ATTR_PAYLOAD {
            return Err(Error::Usage(format!(
                "attribute {} is {} bytes; netlink allows at most {MAX_ATTR_PAYLOAD}",
                a.ty,
                a.payload.len()
            )));
        }
        let ty = AttrTypeBuilder::default()
            .nla_type(a.ty)
            .build()
            .map_err(|e| bad(&e))?;
        let attr = NlattrBuilder::default()
            .nla_type(ty)
            .nla_payload(a.payload.clone())
            .build()
            .map_err(|e| bad(&e))?;
        attrs.push(attr);
    }
    let genlhdr = GenlmsghdrBuilder::<u8, u16, NoUserHeader>::default()
        .cmd(req.cmd)
        .version(version)
        .attrs(attrs)
        .build()
        .map_err(|e| bad(&e))?;
    let msg = NlmsghdrBuilder::default()
        .nl_type(nl_type)
        .nl_flags(NlmF::from(flags))
        .nl_seq(seq)
        .nl_pid(0)
        .nl_payload(NlPayload::Payload(genlhdr))
        .build()
        .map_err(|e| bad(&e))?;
    let mut out = Cursor::new(Vec::new());
    msg.to_bytes(&mut out).map_err(|e| bad(&e))?;
    Ok(out.into_inner())
}

/// The type of the attribute at `offset` bytes from the start of a request message (what
/// `NLMSGERR_ATTR_OFFS` points at), if that offset lies on an attribute of `request`.
pub fn attr_type_at(request: &[u8], offset: u32) -> Option<u16> {
    let off = usize::try_from(offset).ok()?;
    if off < NLMSG_HDRLEN + GENL_HDRLEN {
        return None;
    }
    let b = request.get(off + 2..off + 4)?;
    Some(u16::from_ne_bytes([b[0], b[1]]) & 0x3fff)
}

// ---- decoding -------------------------------------------------------------------------------

/// What one netlink message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A generic netlink message (a reply).
    Genl {
        /// Command.
        cmd: u8,
        /// Family version.
        version: u8,
        /// Top-level attributes.
        attrs: Vec<Attr>,
    },
    /// `NLMSG_ERROR` with error 0: the request succeeded. The kernel may add a warning message.
    Ack {
        /// `NLMSGERR_ATTR_MSG` of a successful request.
        warning: Option<String>,
    },
    /// `NLMSG_ERROR` with a negative error, or a `NLMSG_DONE` ending a failed dump.
    Error(KernelError),
    /// `NLMSG_DONE`: end of a dump.
    Done,
    /// `NLMSG_NOOP`.
    Noop,
    /// `NLMSG_OVERRUN`: data was lost.
    Overrun,
    /// A control message type this sarectl does not know.
    Other,
}

/// One netlink message: header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `nlmsg_type`.
    pub nl_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// What it says.
    pub body: Body,
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}
fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decode the extended-ack TLVs that follow an `nlmsgerr`.
fn decode_ext_ack(tlvs: &[u8], err: &mut KernelError) {
    let Ok(attrs) = parse_attrs(tlvs) else { return };
    for a in attrs {
        match a.ty {
            NLMSGERR_ATTR_MSG => err.message = Some(a.get_string()),
            NLMSGERR_ATTR_OFFS => err.bad_attr_offset = a.get_u32().ok(),
            NLMSGERR_ATTR_MISS_TYPE => err.missing_attr = a.get_u32().ok().map(|t| t as u16),
            NLMSGERR_ATTR_POLICY => {
                let mut p = PolicyHint::default();
                for x in a.nested().unwrap_or_default() {
                    match x.ty {
                        NL_POLICY_TYPE_ATTR_MIN_VALUE_U => p.min_value = x.get_u64().ok(),
                        NL_POLICY_TYPE_ATTR_MAX_VALUE_U => p.max_value = x.get_u64().ok(),
                        NL_POLICY_TYPE_ATTR_MIN_VALUE_S => {
                            p.min_value_s = x.get_u64().ok().map(|v| v as i64)
                        }
                        NL_POLICY_TYPE_ATTR_MAX_VALUE_S => {
                            p.max_value_s = x.get_u64().ok().map(|v| v as i64)
                        }
                        NL_POLICY_TYPE_ATTR_MIN_LENGTH => p.min_len = x.get_u32().ok(),
                        NL_POLICY_TYPE_ATTR_MAX_LENGTH => p.max_len = x.get_u32().ok(),
                        _ => {}
                    }
                }
                err.policy = Some(p);
            }
            _ => {}
        }
    }
}

/// Decode the body of an `NLMSG_ERROR` (`struct nlmsgerr` + optional echoed request + TLVs).
fn decode_nlmsgerr(body: &[u8], flags: u16) -> Result<Body, String> {
    if body.len() < 4 + NLMSG_HDRLEN {
        return Err(format!("NLMSG_ERROR of {} bytes is too short", body.len()));
    }
    let error = rd_u32(body, 0) as i32;
    let orig = &body[4..];
    let orig_len = rd_u32(orig, 0) as usize;
    // The echoed request is there unless NLM_F_CAPPED (always capped on success).
    let echoed = if error != 0 && flags & NLM_F_CAPPED == 0 {
        align4(orig_len.max(NLMSG_HDRLEN))
    } else {
        NLMSG_HDRLEN
    };
    let tlvs = body.get(4 + echoed..).unwrap_or(&[]);
    let mut err = KernelError {
        errno: error.saturating_neg(),
        ..Default::default()
    };
    decode_ext_ack(tlvs, &mut err);
    if let Some(off) = err.bad_attr_offset {
        if echoed > NLMSG_HDRLEN {
            err.bad_attr = attr_type_at(&orig[..echoed.min(orig.len())], off);
        }
    }
    if error == 0 {
        Ok(Body::Ack {
            warning: err.message,
        })
    } else {
        Ok(Body::Error(err))
    }
}

/// Decode one message (`bytes` is exactly `nlmsg_len` long, or padded to 4).
fn decode_message(bytes: &[u8]) -> Result<Message, String> {
    let nl_type = rd_u16(bytes, 4);
    let flags = rd_u16(bytes, 6);
    let seq = rd_u32(bytes, 8);
    let pid = rd_u32(bytes, 12);
    let len = (rd_u32(bytes, 0) as usize).min(bytes.len());
    let payload = &bytes[NLMSG_HDRLEN..len];
    let body = match nl_type {
        NLMSG_NOOP => Body::Noop,
        NLMSG_OVERRUN => Body::Overrun,
        NLMSG_ERROR => decode_nlmsgerr(payload, flags)?,
        NLMSG_DONE => {
            // The end of a dump carries an int: 0, or the error that stopped the dump.
            if payload.len() >= 4 && rd_u32(payload, 0) != 0 {
                let mut err = KernelError {
                    errno: (rd_u32(payload, 0) as i32).saturating_neg(),
                    ..Default::default()
                };
                decode_ext_ack(&payload[4..], &mut err);
                Body::Error(err)
            } else {
                Body::Done
            }
        }
        t if t < libc::NLMSG_MIN_TYPE as u16 => Body::Other,
        _ => {
            let mut padded = bytes[..len].to_vec();
            padded.resize(align4(len), 0);
            let m = Nlmsghdr::<u16, Genlmsghdr<u8, u16>>::from_bytes(&mut Cursor::new(padded))
                .map_err(|e| format!("generic netlink message does not parse: {e}"))?;
            let g = m
                .get_payload()
                .ok_or("generic netlink message without payload")?;
            Body::Genl {
                cmd: *g.cmd(),
                version: *g.version(),
                attrs: g
                    .attrs()
                    .iter()
                    .map(|a| Attr {
                        ty: *a.nla_type().nla_type(),
                        payload: a.nla_payload().as_ref().to_vec(),
                    })
                    .collect(),
            }
        }
    };
    Ok(Message {
        nl_type,
        flags,
        seq,
        pid,
        body,
    })
}

/// Split one received datagram into its messages and decode each.
pub fn decode_datagram(buf: &[u8]) -> Result<Vec<Message>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while buf.len() - at >= NLMSG_HDRLEN {
        let len = rd_u32(buf, at) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() - at {
            return Err(format!(
                "message at byte {at} claims {len} bytes of {}",
                buf.len() - at
            ));
        }
        let end = (at + align4(len)).min(buf.len());
        out.push(decode_message(&buf[at..end])?);
        at = end;
    }
    if at != buf.len() {
        return Err(format!(
            "{} stray bytes after the last message",
            buf.len() - at
        ));
    }
    Ok(out)
}

// ---- gathering an answer --------------------------------------------------------------------

/// The answer to one request (sequence number `seq`), gathered from the messages that arrive,
/// datagram after datagram: reply messages (for a dump, the multi-part messages) until the ack,
/// the refusal, or the `NLMSG_DONE` that ends a dump. Messages for other sequence numbers (left
/// over from an earlier exchange) are skipped.
#[derive(Debug, Clone)]
pub struct Answer {
    seq: u32,
    replies: Vec<Reply>,
    interrupted: bool,
}

impl Answer {
    /// Wait for the answer to request `seq`.
    pub fn new(seq: u32) -> Self {
        Answer {
            seq,
            replies: Vec::new(),
            interrupted: false,
        }
    }

    /// Take in one datagram's messages; `Some` once the answer is complete (the rest of the
    /// datagram, if any, is ignored). A dump whose messages say `NLM_F_DUMP_INTR` (the kernel's
    /// table changed during the dump) ends `interrupted`.
    pub fn feed(&mut self, msgs: Vec<Message>) -> Result<Option<Outcome>, Error> {
        for m in msgs.into_iter().filter(|m| m.seq == self.seq) {
            self.interrupted |= m.flags & NLM_F_DUMP_INTR != 0;
            match m.body {
                Body::Genl { cmd, attrs, .. } => self.replies.push(Reply { cmd, attrs }),
                Body::Ack { warning } => {
                    return Ok(Some(Outcome::Ok {
                        replies: std::mem::take(&mut self.replies),
                        warning,
                        interrupted: false,
                    }))
                }
                Body::Done => {
                    return Ok(Some(Outcome::Ok {
                        replies: std::mem::take(&mut self.replies),
                        warning: None,
                        interrupted: self.interrupted,
                    }))
                }
                Body::Error(e) => return Ok(Some(Outcome::Refused(e))),
                Body::Overrun => {
                    return Err(Error::Io(
                        "netlink overrun: the kernel's answer was lost".into(),
                    ))
                }
                Body::Noop | Body::Other => {}
            }
        }
        Ok(None)
    }
}

/// One reply message of family `sara`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Command of the reply.
    pub cmd: u8,
    /// Top-level attributes.
    pub attrs: Vec<Attr>,
}

/// The outcome of one exchange: the reply messages, or the kernel's refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acked (or dump done), with the replies that came before, a warning if any, and whether a
    /// dump was interrupted.
    Ok {
        /// Reply messages.
        replies: Vec<Reply>,
        /// The ack's `NLMSGERR_ATTR_MSG`, if any.
        warning: Option<String>,
        /// A dump ended by `NLMSG_DONE` whose messages carried `NLM_F_DUMP_INTR`: a flow moved
        /// between table entries while it was read, so the list may show it twice or not at all.
        interrupted: bool,
    },
    /// Refused.
    Refused(KernelError),
}

/// The first attribute of type `ty` among the top-level attributes of `replies`.
pub fn find(replies: &[Reply], ty: u16) -> Option<&Attr> {
    replies
        .iter()
        .flat_map(|r| r.attrs.iter())
        .find(|a| a.ty == ty)
}

/// The top-level attributes of each reply message.
pub fn attr_lists(replies: Vec<Reply>) -> Vec<Vec<Attr>> {
    replies.into_iter().map(|r| r.attrs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::test_util::*;
    use std::net::Ipv4Addr;

    #[test]
    fn neli_round_trip_of_a_request() {
        let req = Request {
            cmd: genl::CMD_SERVER_ADD,
            attrs: vec![
                Attr::u32(genl::A_SERVER_ID, 65535),
                Attr::ipv4(genl::A_SERVER_IP, Ipv4Addr::new(198, 51, 100, 7)),
                Attr::bytes(genl::A_SERVER_MAC, [2, 0, 0, 0, 0, 7]),
                Attr::string(genl::A_IFNAME, "eth0"),
                Attr::u32(genl::A_WEIGHT, 3),
            ],
        };
        let bytes = encode_request(0x20, FLAGS_REQUEST_ACK, 1, &req).unwrap();
        // Read back with neli's own types...
        let m = Nlmsghdr::<u16, Genlmsghdr<u8, u16>>::from_bytes(&mut Cursor::new(&bytes)).unwrap();
        assert_eq!(*m.nl_type(), 0x20);
        let g = m.get_payload().unwrap();
        assert_eq!(*g.cmd(), genl::CMD_SERVER_ADD);
        assert_eq!(*g.version(), genl::VERSION);
        // ...and with this module's decoder: the same attributes come out.
        let msgs = decode_datagram(&bytes).unwrap();
        assert_eq!(msgs.len(), 1);
        match &msgs[0].body {
            Body::Genl { cmd, attrs, .. } => {
                assert_eq!(*cmd, genl::CMD_SERVER_ADD);
                assert_eq!(attrs, &req.attrs);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(attr_type_at(&bytes, 20), Some(genl::A_SERVER_ID));
        assert_eq!(attr_type_at(&bytes, 36), Some(genl::A_SERVER_MAC));
        assert_eq!(attr_type_at(&bytes, 4), None);
        assert_eq!(attr_type_at(&bytes, 4000), None);
    }

    #[test]
    fn request_header_bytes() {
        let req = Request {
            cmd: genl::CMD_STATS_GET,
            attrs: vec![],
        };
        let bytes = encode_request_version(0x1c, FLAGS_DUMP, 9, 7, &req).unwrap();
        let mut want = 20u32.to_ne_bytes().to_vec(); // nlmsg_len
        want.extend(0x1cu16.to_ne_bytes()); // family id
        want.extend(0x305u16.to_ne_bytes()); // REQUEST | ACK | DUMP
        want.extend(9u32.to_ne_bytes()); // seq
        want.extend(0u32.to_ne_bytes()); // pid
        want.extend([genl::CMD_STATS_GET, 7, 0, 0]); // genlmsghdr: cmd, version, reserved
        assert_eq!(bytes, want);
        assert_eq!(
            encode_request(0x1c, FLAGS_REQUEST_ACK, 9, &req).unwrap()[17],
            genl::VERSION
        );
    }

    #[test]
    fn replies_find_and_attribute_lists() {
        let replies = vec![
            Reply {
                cmd: 1,
                attrs: vec![Attr::u8(5, 1)],
            },
            Reply {
                cmd: 1,
                attrs: vec![Attr::u8(6, 2), Attr::u8(5, 3)],
            },
        ];
        assert_eq!(find(&replies, 5), Some(&Attr::u8(5, 1)));
        assert_eq!(find(&replies, 6).unwrap().get_u8().unwrap(), 2);
        assert_eq!(find(&replies, 7), None);
        assert_eq!(
            attr_lists(replies),
            vec![vec![Attr::u8(5, 1)], vec![Attr::u8(6, 2), Attr::u8(5, 3)]]
        );
    }

    #[test]
    fn oversized_attribute_is_refused_before_sending() {
        let req = Request {
            cmd: 1,
            attrs: vec![Attr::bytes(1, vec![0u8; MAX_ATTR_PAYLOAD + 1])],
        };
        assert!(matches!(
            encode_request(30, FLAGS_REQUEST_ACK, 1, &req),
            Err(Error::Usage(_))
        ));
        let req = Request {
            cmd: 1,
            attrs: vec![Attr::bytes(1, vec![0u8; MAX_ATTR_PAYLOAD])],
        };
        assert!(encode_request(30, FLAGS_REQUEST_ACK, 1, &req).is_ok());
    }

    #[test]
    fn ack_with_capped_header_and_warning() {
        // Success: error 0, the request's header only (NLM_F_CAPPED), then a warning TLV.
        let mut body = 0i32.to_ne_bytes().to_vec();
        body.extend(nlmsg(30, 5, 9, &[])[..16].iter());
        body.extend(nla(NLMSGERR_ATTR_MSG, b"timeout rounded\0"));
        let dgram = nlmsg(NLMSG_ERROR, 0x100 | 0x200, 9, &body);
        let msgs = decode_datagram(&dgram).unwrap();
        assert_eq!(msgs[0].seq, 9);
        assert_eq!(
            msgs[0].body,
            Body::Ack {
                warning: Some("timeout rounded".into())
            }
        );
        // A plain ack.
        let mut body = 0i32.to_ne_bytes().to_vec();
        body.extend(nlmsg(30, 5, 9, &[])[..16].iter());
        let msgs = decode_datagram(&nlmsg(NLMSG_ERROR, 0x100, 9, &body)).unwrap();
        assert_eq!(msgs[0].body, Body::Ack { warning: None });
    }

    /// The error a 6.12 kernel sends for a 5-byte MAC: echoed request, then MSG, OFFS, POLICY.
    fn einval_bad_mac_fixture(capped: bool) -> (Vec<u8>, Vec<u8>) {
        let req = Request {
            cmd: genl::CMD_SERVER_ADD,
            attrs: vec![
                Attr::u32(genl::A_SERVER_ID, 1),
                Attr::ipv4(genl::A_SERVER_IP, Ipv4Addr::new(10, 0, 0, 1)),
                Attr::bytes(genl::A_SERVER_MAC, [1, 2, 3, 4, 5]),
                Attr::string(genl::A_IFNAME, "eth0"),
            ],
        };
        let sent = encode_request(30, FLAGS_REQUEST_ACK, 5, &req).unwrap();
        let mut body = (-libc::EINVAL).to_ne_bytes().to_vec();
        if capped {
            body.extend_from_slice(&sent[..16]);
        } else {
            body.extend_from_slice(&sent);
        }
        body.extend(nla(
            NLMSGERR_ATTR_MSG,
            b"Attribute failed policy validation\0",
        ));
        body.extend(nla(NLMSGERR_ATTR_OFFS, &36u32.to_ne_bytes()));
        body.extend(nest(
            NLMSGERR_ATTR_POLICY,
            &[
                nla(1, &13u32.to_ne_bytes()), // NL_ATTR_TYPE_BINARY
                nla(NL_POLICY_TYPE_ATTR_MIN_LENGTH, &6u32.to_ne_bytes()),
                nla(NL_POLICY_TYPE_ATTR_MAX_LENGTH, &6u32.to_ne_bytes()),
            ],
        ));
        let flags = 0x200 | if capped { 0x100 } else { 0 };
        (nlmsg(NLMSG_ERROR, flags, 5, &body), sent)
    }

    #[test]
    fn error_with_echoed_request_and_ext_ack() {
        let (dgram, _) = einval_bad_mac_fixture(false);
        let msgs = decode_datagram(&dgram).unwrap();
        let Body::Error(e) = &msgs[0].body else {
            panic!("{:?}", msgs[0])
        };
        assert_eq!(e.errno, libc::EINVAL);
        assert_eq!(
            e.message.as_deref(),
            Some("Attribute failed policy validation")
        );
        assert_eq!(e.bad_attr_offset, Some(36));
        assert_eq!(e.bad_attr, Some(genl::A_SERVER_MAC));
        assert_eq!(
            e.policy,
            Some(PolicyHint {
                min_len: Some(6),
                max_len: Some(6),
                ..Default::default()
            })
        );
        assert_eq!(
            e.describe(),
            "invalid request: Attribute failed policy validation (offending attribute \
             A_SERVER_MAC (9); length in bytes must be 6)"
        );
    }

    #[test]
    fn capped_error_still_decodes() {
        let (dgram, sent) = einval_bad_mac_fixture(true);
        let msgs = decode_datagram(&dgram).unwrap();
        let Body::Error(e) = &msgs[0].body else {
            panic!("{:?}", msgs[0])
        };
        assert_eq!(e.errno, libc::EINVAL);
        assert_eq!(e.bad_attr_offset, Some(36));
        assert_eq!(e.bad_attr, None); // not echoed: the client looks it up in what it sent
        assert_eq!(attr_type_at(&sent, 36), Some(genl::A_SERVER_MAC));
    }

    #[test]
    fn missing_attribute_and_bare_errno() {
        let mut body = (-libc::EINVAL).to_ne_bytes().to_vec();
        body.extend(nlmsg(30, 5, 3, &genlmsg(genl::CMD_SERVICE_ADD, &[]))); // echoed
        body.extend(nla(
            NLMSGERR_ATTR_MISS_TYPE,
            &u32::from(genl::A_VIP).to_ne_bytes(),
        ));
        let msgs = decode_datagram(&nlmsg(NLMSG_ERROR, 0x200, 3, &body)).unwrap();
        let Body::Error(e) = &msgs[0].body else {
            panic!()
        };
        assert_eq!(e.missing_attr, Some(genl::A_VIP));
        assert_eq!(
            e.describe(),
            "invalid request (missing attribute A_VIP (1))"
        );

        // Without NETLINK_EXT_ACK: errno and echoed request only.
        let mut body = (-libc::EPERM).to_ne_bytes().to_vec();
        body.extend(nlmsg(
            30,
            5,
            3,
            &genlmsg(genl::CMD_SERVER_DEL, &[nla(7, &[1, 0, 0, 0])]),
        ));
        let msgs = decode_datagram(&nlmsg(NLMSG_ERROR, 0, 3, &body)).unwrap();
        assert_eq!(
            msgs[0].body,
            Body::Error(KernelError::from_errno(libc::EPERM))
        );
    }

    #[test]
    fn dump_done_with_error_and_malformed_datagrams() {
        let mut done = (-libc::EMSGSIZE).to_ne_bytes().to_vec();
        done.extend(nla(NLMSGERR_ATTR_MSG, b"too many\0"));
        let msgs = decode_datagram(&nlmsg(NLMSG_DONE, 2, 1, &done)).unwrap();
        let Body::Error(e) = &msgs[0].body else {
            panic!()
        };
        assert_eq!(
            (e.errno, e.message.as_deref()),
            (libc::EMSGSIZE, Some("too many"))
        );
        let msgs = decode_datagram(&nlmsg(NLMSG_DONE, 2, 1, &0i32.to_ne_bytes())).unwrap();
        assert_eq!(msgs[0].body, Body::Done);

        let mut bad = nlmsg(30, 0, 1, &genlmsg(3, &[nla(1, &[1, 2, 3, 4])]));
        bad[0] = 200; // length beyond the datagram
        assert!(decode_datagram(&bad).is_err());
        let mut bad = nlmsg(30, 0, 1, &genlmsg(3, &[nla(1, &[1, 2, 3, 4])]));
        bad[20] = 200; // attribute length beyond the message
        assert!(decode_datagram(&bad).is_err());
        assert!(decode_datagram(&[1, 2, 3]).is_err());
        assert!(decode_datagram(&[]).unwrap().is_empty());
    }

    #[test]
    fn interrupted_dump_ends_interrupted() {
        let seq = 3;
        let one = nlmsg(
            30,
            NLM_F_MULTI | NLM_F_DUMP_INTR,
            seq,
            &genlmsg(genl::CMD_FLOW_GET, &[]),
        );
        let done = nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, &0i32.to_ne_bytes());
        let got = gather(seq, &[one, done]);
        let Some(Outcome::Ok {
            replies,
            warning,
            interrupted,
        }) = &got[1]
        else {
            panic!("{:?}", got[1])
        };
        assert_eq!(replies.len(), 1);
        assert_eq!((warning, interrupted), (&None, &true));
    }
}
