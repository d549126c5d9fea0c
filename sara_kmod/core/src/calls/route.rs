//! Where the records of SIP calls live in the flow table, and the stateless rules of the SIP data
//! path (issue #14; the choice is docs/decisions.md, "A SIP call over UDP is a session").
//!
//! * **A call's session record.** Each call indexed by the Call-ID index is a session of the flow
//!   table: one Signalling record, its [`super::super::table::SessionRef`] stored in the index entry,
//!   and the flows its SDP announces as members. The *first* call on a signalling 5-tuple takes the
//!   5-tuple's own record ([`Home::Socket`]): one call per UA socket looks exactly as before (the
//!   session's signalling flow is the socket, `sarectl flows` shows it, replication sends it). Every
//!   further call while that record lives gets a record of its own ([`Home::Own`]) under a key that
//!   no packet can have: [`call_record_key`], protocol [`PROTO_SIP_CALL`]. A record is only reached
//!   through its call's index entry, never by a lookup of a packet's key.
//! * **No key decides a datagram of a SIP-over-UDP service**: every datagram on its 5-tuple goes
//!   through [`super::classify`]; the 5-tuple's record is refreshed only by its own call's messages.
//! * **Stateless rules** for what belongs to no indexed call: rendezvous hashing ([`rendezvous`]) of
//!   the call hash (out-of-dialog requests, unknown Call-IDs) or of the 5-tuple hash (no usable
//!   Call-ID) over the servers that take new sessions.

use super::super::admission::PacketKind;
use super::super::flow::{FlowKey, PROTO_UDP};
use super::super::select::hash::score;
use super::super::table::{FlowInfo, Identity, Millis};
use super::Dispatch;

/// IP protocol number of a call's own session record ("use for experimentation and testing",
/// RFC 3692: no packet the hook handles has it — the hook only looks at TCP and UDP).
pub const PROTO_SIP_CALL: u8 = 253;

/// Keys tried for a call's own record before a new call is refused: a clash needs the same client,
/// VIP and service and the same 16-bit tag as a live call.
pub const CALL_RECORD_PROBES: u16 = 8;

/// The key of attempt `probe` (0..[`CALL_RECORD_PROBES`]) of a call's own session record: the
/// client's address, the VIP and the service's port as they are, a 16-bit tag taken from the call's
/// hash (plus `probe`) as the source port, protocol [`PROTO_SIP_CALL`]. Tools read it as "a call of
/// this client on this service" ([`service_protocol`] gives the service's protocol back).
pub fn call_record_key(
    client: [u8; 4],
    vip: [u8; 4],
    service_port: u16,
    call_hash: u64,
    probe: u16,
) -> FlowKey {
    let tag = ((call_hash >> 16) as u16).wrapping_add(probe);
    FlowKey::new(client, tag, vip, service_port, PROTO_SIP_CALL)
}

/// The protocol of the service a signalling record belongs to: UDP for a call's own record, the
/// record's own protocol otherwise.
pub const fn service_protocol(protocol: u8) -> u8 {
    if protocol == PROTO_SIP_CALL {
        PROTO_UDP
    } else {
        protocol
    }
}

/// Where a new call's session record goes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// The signalling 5-tuple has no record: the call's session is the 5-tuple's record.
    Socket,
    /// The 5-tuple's record is an ended session lingering (its call said BYE): it is removed and the
    /// new call takes the 5-tuple (a UA placing its next call from the same port, as before #14).
    SocketReused,
    /// The 5-tuple's record is the live session of another call: the new call gets a record of its
    /// own ([`call_record_key`]).
    Own,
}

/// Where a new call goes, given the record the flow table holds under its signalling 5-tuple at
/// `now` (a record idle past twice its timeout is gone, whether or not the purge has removed it).
pub fn home_of_new_call(socket: Option<&FlowInfo>, now: Millis) -> Home {
    match socket {
        None => Home::Socket,
        Some(f) if f.identity == Identity::Signalling && f.ended => Home::SocketReused,
        Some(f) if f.idle(now) > f.timeout_ms.saturating_mul(2) => Home::Socket,
        Some(_) => Home::Own,
    }
}

/// The admission control class of a SIP datagram: new work (a new call, an out-of-dialog request
/// such as REGISTER or OPTIONS) is admitted as a new session, everything else as established traffic.
pub const fn admission_kind(d: Dispatch) -> PacketKind {
    match d {
        Dispatch::NewCall | Dispatch::OutOfDialog => PacketKind::NewSession,
        Dispatch::Call { .. } | Dispatch::UnknownCall | Dispatch::Fallback(_) => {
            PacketKind::Established
        }
    }
}

/// Rendezvous (highest random weight) hashing: the server id with the highest `score(hash, id)`
/// among `ids` (the servers that take new sessions). A server leaving moves only its own share;
/// the same `hash` always picks the same server while the set does not change. Ties (probability
/// 2⁻⁶⁴) go to the last id listed. `None` when `ids` is empty.
pub fn rendezvous<I: IntoIterator<Item = u16>>(hash: u64, ids: I) -> Option<u16> {
    ids.into_iter().max_by_key(|&id| score(hash, id))
}
