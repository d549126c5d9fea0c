//! The flow table: `CMD_FLOW_GET` (a dump) and gateway reports, `CMD_ANNOUNCE`.
//!
//! ```text
//! CMD_FLOW_GET request: [A_SERVER_ID u32] [A_SESSION_ID u32]       (filters applied by sara.ko)
//!   each dump message: A_FLOW nests, one per flow:
//!     A_FLOW_SRC be32 | A_FLOW_SPORT u16 | A_FLOW_DST be32 | A_FLOW_DPORT u16 | A_PROTO u8 |
//!     A_SERVER_ID u32 | A_SESSION_ID u32 | A_FLOW_STATUS u8 | A_FLOW_IDENTITY u8 |
//!     A_FLOW_WILDCARD u8 | A_FLOW_ENDED u8 | A_FLOW_IDLE_MS u32 | A_FLOW_TIMEOUT_MS u32 |
//!     A_PAD | A_PACKETS u64 | A_PAD | A_FLOW_BYTES u64         (a port named by the wildcard is 0)
//! CMD_ANNOUNCE request: A_FLOW_SRC | A_FLOW_SPORT | A_FLOW_DST | A_FLOW_DPORT | A_PROTO
//! ```

use std::net::Ipv4Addr;

use sara_core::flow::FlowKey;
use sara_core::genl;

use super::attr::Attr;
use super::msg::Request;
use super::service::{is_pad, required};
use super::Client;
use crate::error::Error;

wire_enum!(
    /// A flow's status (`A_FLOW_STATUS`).
    FlowStatus {
        /// Just created, no further packet yet.
        New = genl::FLOW_STATUS_NEW,
        /// Packets seen since.
        Established = genl::FLOW_STATUS_ESTABLISHED,
        /// Idle longer than its timeout.
        Inactive = genl::FLOW_STATUS_INACTIVE,
    }
);

wire_enum!(
    /// A flow's identity in its session (`A_FLOW_IDENTITY`).
    FlowIdentity {
        /// The session's signalling flow.
        Signalling = genl::FLOW_IDENTITY_SIGNALLING,
        /// Announced by the signalling, not seen yet.
        Announced = genl::FLOW_IDENTITY_ANNOUNCED,
        /// Announced and seen.
        Secondary = genl::FLOW_IDENTITY_SECONDARY,
    }
);

wire_enum!(
    /// The unknown ports of an announced flow (`A_FLOW_WILDCARD`), sent as 0.
    PortWildcard {
        /// Both ports known.
        Exact = genl::WILDCARD_EXACT,
        /// The source port is unknown.
        SrcPort = genl::WILDCARD_SRC_PORT,
        /// The destination port is unknown.
        DstPort = genl::WILDCARD_DST_PORT,
        /// Both ports are unknown.
        BothPorts = genl::WILDCARD_BOTH_PORTS,
    }
);

/// One flow of the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Its 5-tuple, as packets from the client side carry it (an unknown port is 0).
    pub key: FlowKey,
    /// Server of the flow's session (0 when the kernel does not say).
    pub server: u32,
    /// Session id.
    pub session: u32,
    /// Status.
    pub status: FlowStatus,
    /// Identity.
    pub identity: FlowIdentity,
    /// Unknown ports.
    pub wildcard: PortWildcard,
    /// The flow (for a signalling flow: its session) has ended and lingers until purged.
    pub ended: bool,
    /// Milliseconds since the flow's last packet.
    pub idle_ms: u32,
    /// The flow's idle timeout in milliseconds (for an ended flow: how long it lingers).
    pub timeout_ms: u32,
    /// Packets counted on the flow.
    pub packets: u64,
    /// Bytes counted on the flow.
    pub bytes: u64,
}

/// A dump of the flow table: its flows in the kernel's order, each decoded on its own (a nest
/// that does not decode is its error, in its place), and whether the dump was still interrupted
/// after [`super::DUMP_TRIES`] tries (a flow that moved between table entries while the table was
/// read may be missing or listed twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowDump {
    /// The flows.
    pub flows: Vec<Result<Flow, Error>>,
    /// `NLM_F_DUMP_INTR` on the last try.
    pub interrupted: bool,
}

impl FlowDump {
    /// Every flow, or the first one that did not decode.
    pub fn all(self) -> Result<Vec<Flow>, Error> {
        self.flows.into_iter().collect()
    }

    /// The flows that decoded; the others are left out.
    pub fn decodable(self) -> Vec<Flow> {
        self.flows.into_iter().filter_map(Result::ok).collect()
    }
}

/// `CMD_FLOW_GET` (sent as a dump), with the optional kernel-side filters.
fn flow_get_request(server: Option<u32>, session: Option<u32>) -> Request {
    let mut attrs = Vec::new();
    if let Some(id) = server {
        attrs.push(Attr::u32(genl::A_SERVER_ID, id));
    }
    if let Some(id) = session {
        attrs.push(Attr::u32(genl::A_SESSION_ID, id));
    }
    Request {
        cmd: genl::CMD_FLOW_GET,
        attrs,
    }
}

/// `CMD_ANNOUNCE`: a gateway report completing an announced flow.
fn announce_request(k: &FlowKey) -> Request {
    Request {
        cmd: genl::CMD_ANNOUNCE,
        attrs: vec![
            Attr::ipv4(genl::A_FLOW_SRC, Ipv4Addr::from(k.src_addr)),
            Attr::u16(genl::A_FLOW_SPORT, k.src_port),
            Attr::ipv4(genl::A_FLOW_DST, Ipv4Addr::from(k.dst_addr)),
            Attr::u16(genl::A_FLOW_DPORT, k.dst_port),
            Attr::u8(genl::A_PROTO, k.protocol),
        ],
    }
}

/// Decode one `A_FLOW` nest's attributes. `A_FLOW_SRC`, `A_FLOW_DST`, `A_PROTO`, `A_SESSION_ID`,
/// `A_FLOW_STATUS` and `A_FLOW_IDENTITY` are required; the others default to 0 / exact / false
/// when absent. Padding and unknown attributes (a newer kernel) are skipped.
fn decode_flow(attrs: &[Attr]) -> Result<Flow, Error> {
    let (mut src, mut dst, mut proto, mut session, mut status, mut identity) =
        (None, None, None, None, None, None);
    let (mut sport, mut dport) = (0, 0);
    let mut f = Flow {
        key: FlowKey::default(),
        server: 0,
        session: 0,
        status: FlowStatus::New,
        identity: FlowIdentity::Signalling,
        wildcard: PortWildcard::Exact,
        ended: false,
        idle_ms: 0,
        timeout_ms: 0,
        packets: 0,
        bytes: 0,
    };
    for a in attrs.iter().filter(|a| !is_pad(a)) {
        match a.ty {
            genl::A_FLOW_SRC => src = Some(a.get_ipv4()?),
            genl::A_FLOW_SPORT => sport = a.get_u16()?,
            genl::A_FLOW_DST => dst = Some(a.get_ipv4()?),
            genl::A_FLOW_DPORT => dport = a.get_u16()?,
            genl::A_PROTO => proto = Some(a.get_u8()?),
            genl::A_SERVER_ID => f.server = a.get_u32()?,
            genl::A_SESSION_ID => session = Some(a.get_u32()?),
            genl::A_FLOW_STATUS => status = Some(a.get_u8()?),
            genl::A_FLOW_IDENTITY => identity = Some(a.get_u8()?),
            genl::A_FLOW_WILDCARD => f.wildcard = PortWildcard::from_u8(a.get_u8()?),
            genl::A_FLOW_ENDED => f.ended = a.get_u8()? != 0,
            genl::A_FLOW_IDLE_MS => f.idle_ms = a.get_u32()?,
            genl::A_FLOW_TIMEOUT_MS => f.timeout_ms = a.get_u32()?,
            genl::A_PACKETS => f.packets = a.get_u64()?,
            genl::A_FLOW_BYTES => f.bytes = a.get_u64()?,
            _ => {}
        }
    }
    let src = required(src, "flow", genl::A_FLOW_SRC)?;
    let dst = required(dst, "flow", genl::A_FLOW_DST)?;
    let proto = required(proto, "flow", genl::A_PROTO)?;
    f.key = FlowKey::new(src.octets(), sport, dst.octets(), dport, proto);
    f.session = required(session, "flow", genl::A_SESSION_ID)?;
    f.status = FlowStatus::from_u8(required(status, "flow", genl::A_FLOW_STATUS)?);
    f.identity = FlowIdentity::from_u8(required(identity, "flow", genl::A_FLOW_IDENTITY)?);
    Ok(f)
}

/// Every `A_FLOW` nest of every message of a `CMD_FLOW_GET` dump (a message may hold none), in
/// the kernel's order.
fn decode_flows(replies: &[Vec<Attr>]) -> Vec<Result<Flow, Error>> {
    replies
        .iter()
        .flatten()
        .filter(|a| a.ty == genl::A_FLOW)
        .map(|a| decode_flow(&a.nested()?))
        .collect()
}

impl Client {
    /// `CMD_FLOW_GET` as a dump, with the kernel-side filters: only the flows of sessions on
    /// `server`, only the flows of `session`.
    pub fn flows(&mut self, server: Option<u32>, session: Option<u32>) -> Result<FlowDump, Error> {
        let dump = self.dump(&flow_get_request(server, session))?;
        let replies: Vec<Vec<Attr>> = dump.replies.into_iter().map(|r| r.attrs).collect();
        Ok(FlowDump {
            flows: decode_flows(&replies),
            interrupted: dump.interrupted,
        })
    }

    /// `CMD_ANNOUNCE`: complete the announced flow that `k` (the full 5-tuple, as packets will
    /// arrive) matches. `ENOENT` when none waits for it.
    pub fn announce(&mut self, k: &FlowKey) -> Result<(), Error> {
        self.call(&announce_request(k)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::attr::encode_attrs;
    use crate::kernel::msg::{
        decode_datagram, encode_request, Body, Outcome, FLAGS_DUMP, FLAGS_REQUEST_ACK,
        NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLMSG_DONE, NLMSG_ERROR,
    };
    use crate::kernel::test_util::*;

    #[test]
    fn flow_dump_request_bytes() {
        let req = flow_get_request(Some(2), Some(17));
        let bytes = encode_request(30, FLAGS_DUMP, 4, &req).unwrap();
        let mut want = nlmsg(
            30,
            0x305, // NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP (ROOT | MATCH)
            4,
            &genlmsg(
                genl::CMD_FLOW_GET,
                &[
                    nla(genl::A_SERVER_ID, &2u32.to_ne_bytes()),
                    nla(genl::A_SESSION_ID, &17u32.to_ne_bytes()),
                ],
            ),
        );
        want[12..16].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(bytes, want);
        assert_eq!(FLAGS_DUMP, 0x305);
        // No filters: a bare CMD_FLOW_GET.
        let bytes = encode_request(30, FLAGS_DUMP, 4, &flow_get_request(None, None)).unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(bytes[16], genl::CMD_FLOW_GET);
        assert_eq!(
            flow_get_request(None, Some(3)).attrs,
            vec![Attr::u32(genl::A_SESSION_ID, 3)]
        );
    }

    #[test]
    fn announce_request_bytes() {
        let key = FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], 42182, 17);
        let bytes = encode_request(30, FLAGS_REQUEST_ACK, 8, &announce_request(&key)).unwrap();
        let mut want = nlmsg(
            30,
            FLAGS_REQUEST_ACK,
            8,
            &genlmsg(
                genl::CMD_ANNOUNCE,
                &[
                    nla(genl::A_FLOW_SRC, &[10, 0, 1, 2]),
                    nla(genl::A_FLOW_SPORT, &7624u16.to_ne_bytes()),
                    nla(genl::A_FLOW_DST, &[10, 0, 0, 100]),
                    nla(genl::A_FLOW_DPORT, &42182u16.to_ne_bytes()),
                    nla(genl::A_PROTO, &[17]),
                ],
            ),
        );
        want[12..16].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(bytes, want);
    }

    fn attrs_of(d: &[u8]) -> Vec<Vec<Attr>> {
        decode_datagram(d)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m.body {
                Body::Genl { attrs, .. } => Some(attrs),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn flow_dump_two_multipart_messages_then_done() {
        use genl::{FLOW_IDENTITY_SECONDARY as SEC, FLOW_IDENTITY_SIGNALLING as SIG};
        let seq = 21;
        // Datagram 1: a message left over from an earlier request, then one with two flows.
        let mut d1 = nlmsg(30, NLM_F_MULTI, seq - 1, &genlmsg(genl::CMD_FLOW_GET, &[]));
        d1.extend(nlmsg(
            30,
            NLM_F_MULTI,
            seq,
            &genlmsg(
                genl::CMD_FLOW_GET,
                &[
                    flow_nest([10, 0, 1, 2], 40000, 554, 6, 17, SIG, 0, 12),
                    flow_nest([10, 0, 1, 2], 7624, 42182, 17, 17, SEC, 0, 40),
                ],
            ),
        ));
        // Datagram 2: one flow with an attribute from a newer kernel, and a message with none.
        let mut newer = flow_nest([10, 0, 1, 3], 40001, 554, 6, 18, SIG, 0, 1);
        let inner_len = newer.len() + 8;
        newer.extend(nla(300, &[1, 2, 3, 4]));
        newer[0..2].copy_from_slice(&(inner_len as u16).to_ne_bytes());
        let mut d2 = nlmsg(30, NLM_F_MULTI, seq, &genlmsg(genl::CMD_FLOW_GET, &[newer]));
        d2.extend(nlmsg(
            30,
            NLM_F_MULTI,
            seq,
            &genlmsg(genl::CMD_FLOW_GET, &[]),
        ));
        // Datagram 3: the end of the dump.
        let d3 = nlmsg(NLMSG_DONE, NLM_F_MULTI, seq, &0i32.to_ne_bytes());

        let got = gather(seq, &[d1, d2, d3]);
        assert_eq!(got[0], None);
        assert_eq!(got[1], None);
        let Some(Outcome::Ok {
            replies,
            warning,
            interrupted,
        }) = &got[2]
        else {
            panic!("{:?}", got[2])
        };
        assert_eq!((warning, interrupted), (&None, &false));
        assert_eq!(
            replies.len(),
            3,
            "the stale message is not part of the answer"
        );
        let attrs: Vec<Vec<Attr>> = replies.iter().map(|r| r.attrs.clone()).collect();
        let flows = FlowDump {
            flows: decode_flows(&attrs),
            interrupted: false,
        }
        .all()
        .unwrap();
        assert_eq!(flows.len(), 3);
        assert_eq!(
            flows[0],
            Flow {
                key: FlowKey::new([10, 0, 1, 2], 40000, [10, 0, 0, 100], 554, 6),
                server: 1,
                session: 17,
                status: FlowStatus::Established,
                identity: FlowIdentity::Signalling,
                wildcard: PortWildcard::Exact,
                ended: false,
                idle_ms: 123,
                timeout_ms: 30000,
                packets: 12,
                bytes: 1200,
            }
        );
        assert_eq!(
            (
                flows[1].identity,
                flows[1].key.protocol,
                flows[1].key.dst_port
            ),
            (FlowIdentity::Secondary, 17, 42182)
        );
        assert_eq!((flows[2].session, flows[2].packets), (18, 1));
    }

    #[test]
    fn flow_dump_done_with_error_and_refused_dump() {
        let seq = 5;
        let one = nlmsg(
            30,
            NLM_F_MULTI,
            seq,
            &genlmsg(
                genl::CMD_FLOW_GET,
                &[flow_nest([10, 0, 1, 2], 1, 2, 17, 3, 0, 0, 0)],
            ),
        );
        let mut done = (-libc::ENOBUFS).to_ne_bytes().to_vec();
        done.extend(nla(
            NLMSGERR_ATTR_MSG,
            b"flow table changed during the dump\0",
        ));
        let done = nlmsg(NLMSG_DONE, NLM_F_MULTI | 0x200, seq, &done);
        let got = gather(seq, &[one, done]);
        let Some(Outcome::Refused(e)) = &got[1] else {
            panic!("{:?}", got[1])
        };
        assert_eq!(e.errno, libc::ENOBUFS);
        assert_eq!(
            e.message.as_deref(),
            Some("flow table changed during the dump")
        );
        // A dump refused at once (bad filter): NLMSG_ERROR naming the attribute.
        let sent = encode_request(30, FLAGS_DUMP, seq, &flow_get_request(Some(0), None)).unwrap();
        let mut body = (-libc::ERANGE).to_ne_bytes().to_vec();
        body.extend_from_slice(&sent);
        body.extend(nla(NLMSGERR_ATTR_OFFS, &20u32.to_ne_bytes()));
        let got = gather(seq, &[nlmsg(NLMSG_ERROR, 0x200, seq, &body)]);
        let Some(Outcome::Refused(e)) = &got[0] else {
            panic!("{:?}", got[0])
        };
        assert_eq!(
            (e.errno, e.bad_attr),
            (libc::ERANGE, Some(genl::A_SERVER_ID))
        );
    }

    #[test]
    fn flow_nest_with_wildcard_port() {
        let n = flow_nest(
            [10, 0, 1, 2],
            7624,
            0,
            17,
            17,
            genl::FLOW_IDENTITY_ANNOUNCED,
            genl::WILDCARD_DST_PORT,
            0,
        );
        let dgram = nlmsg(30, NLM_F_MULTI, 1, &genlmsg(genl::CMD_FLOW_GET, &[n]));
        let flows = decode_flows(&attrs_of(&dgram));
        let f = flows[0].clone().unwrap();
        assert_eq!(
            (f.key.dst_port, f.wildcard, f.identity),
            (0, PortWildcard::DstPort, FlowIdentity::Announced)
        );
        // The CLI's row of it.
        let row = crate::output::FlowRow::from(&f);
        assert_eq!(row.destination(), "10.0.0.100:*");
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(v["dport"], 0);
        assert_eq!(v["wildcard"], "dst_port");
        assert_eq!(v["identity"], "announced");
        assert!(crate::output::flows_table(&[row]).contains(" 10.0.0.100:* "));
    }

    fn minimal_flow(session: u32, identity: u8) -> Vec<Attr> {
        vec![
            Attr::ipv4(genl::A_FLOW_SRC, Ipv4Addr::new(10, 0, 1, 2)),
            Attr::ipv4(genl::A_FLOW_DST, Ipv4Addr::new(10, 0, 0, 100)),
            Attr::u8(genl::A_PROTO, 17),
            Attr::u32(genl::A_SESSION_ID, session),
            Attr::u8(genl::A_FLOW_STATUS, genl::FLOW_STATUS_NEW),
            Attr::u8(genl::A_FLOW_IDENTITY, identity),
        ]
    }

    #[test]
    fn decode_flow_tolerates_missing_optional_and_unknown_attributes() {
        let mut attrs = minimal_flow(9, genl::FLOW_IDENTITY_ANNOUNCED);
        attrs.push(Attr::bytes(500, [1, 2, 3]));
        attrs.push(Attr::u8(genl::A_FLOW_WILDCARD, genl::WILDCARD_BOTH_PORTS));
        let f = decode_flow(&attrs).unwrap();
        assert_eq!((f.key.src_port, f.key.dst_port, f.server), (0, 0, 0));
        assert_eq!((f.packets, f.bytes, f.idle_ms, f.timeout_ms), (0, 0, 0, 0));
        assert_eq!(f.wildcard, PortWildcard::BothPorts);
        assert_eq!(
            (f.status, f.identity),
            (FlowStatus::New, FlowIdentity::Announced)
        );
        assert!(!f.ended);
        // Absent wildcard: exact.
        assert_eq!(
            decode_flow(&minimal_flow(9, 0)).unwrap().wildcard,
            PortWildcard::Exact
        );
        // Values newer than this sarectl come through, as numbers.
        let mut attrs = minimal_flow(9, 7);
        attrs.push(Attr::u8(genl::A_FLOW_STATUS, 9));
        attrs.push(Attr::u8(genl::A_FLOW_WILDCARD, 8));
        let f = decode_flow(&attrs).unwrap();
        assert_eq!(
            (f.identity, f.status, f.wildcard),
            (
                FlowIdentity::Unknown(7),
                FlowStatus::Unknown(9),
                PortWildcard::Unknown(8)
            )
        );
        // A flow without its key or session is a protocol error, named.
        for (i, name) in [
            (0, "A_FLOW_SRC"),
            (3, "A_SESSION_ID"),
            (5, "A_FLOW_IDENTITY"),
        ] {
            let mut attrs = minimal_flow(9, 0);
            attrs.remove(i);
            let e = decode_flow(&attrs).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("flow without attribute {name}")),
                "{e}"
            );
            assert_eq!(e.exit_code(), 4);
        }
        // A wrongly sized attribute too.
        let mut attrs = minimal_flow(9, 0);
        attrs.push(Attr::bytes(genl::A_FLOW_SPORT, [1]));
        assert!(decode_flow(&attrs).is_err());
    }

    #[test]
    fn flows_come_in_the_kernels_order_each_decoded_on_its_own() {
        let nest = |session, identity, sport| {
            let mut a = minimal_flow(session, identity);
            a.push(Attr::u16(genl::A_FLOW_SPORT, sport));
            // As decoded from the wire: the type without NLA_F_NESTED.
            Attr::bytes(genl::A_FLOW, encode_attrs(&a))
        };
        let replies = vec![
            vec![
                nest(5, genl::FLOW_IDENTITY_SECONDARY, 2),
                nest(3, genl::FLOW_IDENTITY_SIGNALLING, 9),
            ],
            vec![],
            vec![
                Attr::bytes(genl::A_FLOW, encode_attrs(&minimal_flow(6, 0)[1..])),
                nest(5, genl::FLOW_IDENTITY_SIGNALLING, 7),
                Attr::u32(genl::A_SERVER_ID, 1), // top-level, not a flow
            ],
        ];
        let dump = FlowDump {
            flows: decode_flows(&replies),
            interrupted: true,
        };
        assert_eq!(dump.flows.len(), 4);
        assert!(dump.flows[2].is_err(), "the nest without A_FLOW_SRC");
        let e = dump.clone().all().unwrap_err();
        assert!(e.to_string().contains("A_FLOW_SRC"), "{e}");
        let got: Vec<(u32, u16)> = dump
            .decodable()
            .iter()
            .map(|f| (f.session, f.key.src_port))
            .collect();
        assert_eq!(got, vec![(5, 2), (3, 9), (5, 7)]);
        assert!(decode_flows(&[]).is_empty());
    }
}
