//! State replication between the dispatchers: batches of records from the active dispatcher to the
//! backup (session created or reassigned, flow added, session ended), and the control records that
//! detect and repair loss by a full resynchronisation.
//!
//! ## Batch
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          magic "SA"           |  version = 1  |   type = 3    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           sender_id           |     role      |   priority    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            epoch                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        batch sequence                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         record count          |     flags     | reserved (0)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     records (count of them)                   |
//! ```
//!
//! * `sender_id`: the sending dispatcher's id; `role`: 1 active, 2 backup (as the sender sees itself);
//!   `priority`: the sender's configured priority (higher wins when two dispatchers both claim the
//!   active role; the HA logic decides, this format only carries it).
//! * `epoch`: chosen by the active dispatcher when it starts and each time it begins a full resync
//!   (a new value each time, e.g. the previous one + 1); `batch sequence` starts at 0 in each epoch and
//!   grows by 1 per batch (wrapping).
//! * `record count`: 0..=[`MAX_RECORDS`]; the datagram is exactly the header plus the records and at
//!   most [`MAX_DATAGRAM`] bytes. The count is bounded so that the batch and its authentication
//!   trailer fit [`MAX_DATAGRAM`] whatever the mix: 42 records of the largest kind make 20 + 42·32 =
//!   1364 bytes, 1396 with the 32-byte trailer ([`super::MAX_MESSAGE`]). A batch of 0 records is a
//!   keep-alive that shows the current sequence number.
//! * `flags`: bit 0 [`BATCH_HANDBACK`], the other bits 0 (a batch with another bit set is refused
//!   whole). A handback batch comes from a dispatcher that just stepped down from the active role
//!   because it heard an active peer of higher (priority, id): it holds sessions that dispatcher
//!   opened while it was active — `CallKey` (its Call-ID key), then per session its `Session`
//!   record followed by the session's `Flow` and `Call` records — and nothing else. Each handback
//!   batch stands alone: it repeats the `CallKey`, and a session cut by a batch boundary gets its
//!   `Session` record again at the start of the next batch. Its `epoch` and `batch sequence` are the
//!   sender's backup position and mean nothing to the receiver: handback batches are not numbered,
//!   not acknowledged and not repaired; the receiver, if active, adopts their records ("adopt if
//!   absent": what it has already stays as it is), so a duplicate changes nothing and a lost one
//!   costs only its own sessions (decisions.md, "A dispatcher that steps down hands its sessions to
//!   the winner").
//!
//! ## Records
//!
//! Every record starts with `type u8 | length u8` (length = the whole record in bytes, fixed per type
//! in version 1).
//!
//! ```text
//! type 1, Session (32 bytes): a session was created, or (again) assigned to a server
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   type = 1    |  length = 32  |   identity    |    status     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          session id                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          server id            |         reserved (0)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     idle timeout (seconds)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         signalling flow (16-byte flow block, see msg)         |
//!
//! type 2, Flow (32 bytes): a flow was added to a session (announced, or seen: secondary)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   type = 2    |  length = 32  |   identity    |    status     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          session id                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   wildcard    |                 reserved (0)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     idle timeout (seconds)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              flow (16-byte flow block; wild ports 0)          |
//!
//! type 8, Call (32 bytes): a SIP call is bound to a session (its Call-ID index entry, issue #14)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   type = 8    |  length = 32  |      Call-ID length (1..=256)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          session id                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          keyed hash of (client, Call-ID), 64 bits             |
//! |                   (under the Call-ID key)                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               first 8 bytes of the Call-ID                    |
//! |                       (zero-padded)                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        last min(length, 6) bytes of the Call-ID, zero-padded  |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |         reserved (0)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! type 9, CallKey (20 bytes): the sender's Call-ID key (first record of a resync's table)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   type = 9    |  length = 20  |         reserved (0)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              SipHash key of the Call-ID index (16 bytes)      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! type 3, SessionEnded (8) / 5, ResyncBegin (8) / 6, ResyncEnd (8)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     type      |  length = 8   |         reserved (0)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     value: session id / sessions to come / records sent       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! type 4, ResyncRequest (12 bytes) / 7, Ack (12 bytes)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     type      |  length = 12  | flags (Ack)   | reserved (0)  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   epoch the requester has                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |               next batch sequence it expected                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Ack (backup → active, in every keep-alive while the backup is in sync): the epoch it has complete
//! and the next batch sequence it expects; flags bit 0: the backup asks for the virtual IP
//! (preemption: it has the higher priority and is in sync). The active dispatcher reads the
//! replication lag from it, and hands over only to a backup whose Ack is current.
//!
//! Identity: 0 signalling, 1 announced, 2 secondary. Status: 0 new, 1 established, 2 inactive.
//! Wildcard: bit 0 the source port is unknown, bit 1 the destination port is unknown (as
//! `flow::Wildcard`); a port is 0 in the flow block exactly when it is unknown (the ports of a
//! session's signalling flow are never 0). Timeouts are at most
//! `genl::MAX_TIMEOUT_S`; server ids are 1..=65535; flows are TCP or UDP.
//!
//! A `Call` record is the call's index entry as the index stores it (`calls::CallMark`) less the
//! client address, which is its session's: the source address of the session's signalling flow
//! (a socket's 5-tuple, or a call's own `PROTO_SIP_CALL` key). The hash is keyed: a receiver indexes
//! the call under it only with the sender's Call-ID key, which `CallKey` carries: a resync's table
//! begins with it, and the sender queues it when it becomes active or makes a new index. A receiver of this version refuses types it does not know (the whole
//! batch, counted), as an older one refuses types 8 and 9.
//!
//! ## Loss and resynchronisation
//!
//! The backup keeps, per sender, the epoch and the next batch sequence it expects ([`SeqTracker`]).
//! A batch in order is applied. On a gap (lost batches), or a batch of an unknown epoch that does not
//! begin with `ResyncBegin`, the backup sends the active dispatcher a batch holding one
//! `ResyncRequest` (its epoch and expected sequence). The active dispatcher answers with a new epoch:
//! a batch starting with `ResyncBegin` (number of sessions to come), then `Session` and `Flow` records
//! for its whole table over as many batches as needed, then `ResyncEnd` (number of records sent since
//! `ResyncBegin`). On `ResyncBegin` the backup drops its replicated state; on `ResyncEnd` it compares
//! the count with what it applied and asks again if they differ. A returning dispatcher sends
//! `ResyncRequest` before it may take the virtual IP back.

use super::super::calls::{CallMark, HEAD_BYTES, MAX_CALL_ID, PROTO_SIP_CALL, TAIL_BYTES};
use super::super::flow::{FlowKey, Wildcard, PROTO_TCP, PROTO_UDP};
use super::super::genl::MAX_TIMEOUT_S;
use super::{seq_after, Error, MsgType, Reader, Writer, HEADER_LEN, MAX_DATAGRAM, MAX_MESSAGE};

/// Size of the batch header.
pub const BATCH_HEADER_LEN: usize = 20;
/// Largest record.
pub const MAX_RECORD_LEN: usize = 32;
/// Most records in one batch: so that any mix, with the authentication trailer after it, fits
/// [`MAX_DATAGRAM`] — `(MAX_DATAGRAM − AUTH_TRAILER_LEN − BATCH_HEADER_LEN) / MAX_RECORD_LEN` =
/// (1400 − 32 − 20) / 32 = 42 (43 before the trailer).
pub const MAX_RECORDS: usize = (MAX_MESSAGE - BATCH_HEADER_LEN) / MAX_RECORD_LEN;

/// Record type numbers.
const T_SESSION: u8 = 1;
const T_FLOW: u8 = 2;
const T_SESSION_ENDED: u8 = 3;
const T_RESYNC_REQUEST: u8 = 4;
const T_RESYNC_BEGIN: u8 = 5;
const T_RESYNC_END: u8 = 6;
const T_ACK: u8 = 7;
const T_CALL: u8 = 8;
const T_CALL_KEY: u8 = 9;

/// Ack flag: the backup asks for the virtual IP.
pub const ACK_WANTS_VIP: u8 = 1;

/// Batch flag: a handback (see the module docs).
pub const BATCH_HANDBACK: u8 = 1;

/// The sender's role as it sees itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Role {
    /// Owns the virtual IP and forwards.
    Active = 1,
    /// Silent replica.
    Backup = 2,
}

/// A flow's identity in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Identity {
    /// The session's signalling flow.
    #[default]
    Signalling = 0,
    /// Announced by the signalling, not seen yet.
    Announced = 1,
    /// Announced and seen.
    Secondary = 2,
}

/// A flow's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Status {
    /// First packet seen.
    #[default]
    New = 0,
    /// Traffic seen since.
    Established = 1,
    /// Idle longer than its timeout.
    Inactive = 2,
}

impl Identity {
    fn from_u8(v: u8) -> Result<Identity, Error> {
        match v {
            0 => Ok(Identity::Signalling),
            1 => Ok(Identity::Announced),
            2 => Ok(Identity::Secondary),
            _ => Err(Error::BadValue),
        }
    }
}

impl Status {
    fn from_u8(v: u8) -> Result<Status, Error> {
        match v {
            0 => Ok(Status::New),
            1 => Ok(Status::Established),
            2 => Ok(Status::Inactive),
            _ => Err(Error::BadValue),
        }
    }
}

/// The batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Sending dispatcher's id.
    pub sender_id: u16,
    /// Sender's role.
    pub role: Role,
    /// Sender's priority.
    pub priority: u8,
    /// Epoch.
    pub epoch: u32,
    /// Batch sequence number within the epoch.
    pub seq: u32,
    /// `BATCH_*` bits (0 for replication and heartbeats).
    pub flags: u8,
}

/// A session was created or (re)assigned to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionRecord {
    /// The session's signalling flow.
    pub flow: FlowKey,
    /// Session id.
    pub session_id: u32,
    /// Server the session is assigned to (1..=65535).
    pub server_id: u16,
    /// Identity of the flow (signalling).
    pub identity: Identity,
    /// Status of the flow.
    pub status: Status,
    /// Idle timeout in seconds.
    pub timeout_s: u32,
}

/// A flow was added to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowRecord {
    /// The flow, with its unknown ports 0.
    pub flow: FlowKey,
    /// Which ports are unknown.
    pub wildcard: Wildcard,
    /// Session id.
    pub session_id: u32,
    /// Identity (announced or secondary).
    pub identity: Identity,
    /// Status.
    pub status: Status,
    /// Idle timeout in seconds.
    pub timeout_s: u32,
}

/// A SIP call was bound to a session: its Call-ID index entry less the client address (see the
/// module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallRecord {
    /// Session id.
    pub session_id: u32,
    /// Call-ID length, 1..=[`MAX_CALL_ID`].
    pub len: u16,
    /// The keyed hash of (client, Call-ID), as two halves (high, low): keeps the record's alignment
    /// at 4 so the ring's records stay 32 bytes.
    pub hash: [u32; 2],
    /// First bytes of the Call-ID.
    pub head: [u8; HEAD_BYTES],
    /// Last bytes of the Call-ID.
    pub tail: [u8; TAIL_BYTES],
}

impl CallRecord {
    /// The record of `mark`'s call in session `session_id`.
    pub fn of(session_id: u32, m: &CallMark) -> CallRecord {
        CallRecord {
            session_id,
            len: m.len,
            hash: [(m.hash >> 32) as u32, m.hash as u32],
            head: m.head,
            tail: m.tail,
        }
    }

    /// The keyed hash.
    pub fn hash(&self) -> u64 {
        (u64::from(self.hash[0]) << 32) | u64::from(self.hash[1])
    }

    /// The call's index entry for `client` (its session's client address).
    pub fn mark(&self, client: [u8; 16]) -> CallMark {
        CallMark {
            client,
            hash: self.hash(),
            len: self.len,
            head: self.head,
            tail: self.tail,
        }
    }
}

/// One replication record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record {
    /// Session created or (re)assigned.
    Session(SessionRecord),
    /// Flow added to a session.
    Flow(FlowRecord),
    /// Session ended (its flows end with it).
    SessionEnded {
        /// Session id.
        session_id: u32,
    },
    /// Backup → active: state lost, please resync.
    ResyncRequest {
        /// Epoch the requester has (0 if none).
        epoch: u32,
        /// Next batch sequence it expected.
        next_seq: u32,
    },
    /// Active → backup: a full resync starts (drop replicated state).
    ResyncBegin {
        /// Number of sessions that will follow.
        sessions: u32,
    },
    /// Active → backup: the full resync is complete.
    ResyncEnd {
        /// Records sent since `ResyncBegin` (not counting it or this one).
        records: u32,
    },
    /// A SIP call bound to a session.
    Call(CallRecord),
    /// The sender's Call-ID key (SipHash key of its Call-ID index).
    CallKey([u8; 16]),
    /// Backup → active: in sync up to here.
    Ack {
        /// `ACK_*` bits.
        flags: u8,
        /// Epoch the backup has complete.
        epoch: u32,
        /// Next batch sequence it expects.
        next_seq: u32,
    },
}

impl Record {
    /// Encoded size of this record.
    pub fn encoded_len(&self) -> usize {
        match self {
            Record::Session(_) | Record::Flow(_) | Record::Call(_) => 32,
            Record::CallKey(_) => 20,
            Record::ResyncRequest { .. } | Record::Ack { .. } => 12,
            Record::SessionEnded { .. } | Record::ResyncBegin { .. } | Record::ResyncEnd { .. } => {
                8
            }
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let proto_ok = |k: &FlowKey| k.protocol == PROTO_TCP || k.protocol == PROTO_UDP;
        match self {
            Record::Session(s) => {
                // A SIP call's own session record (`calls::PROTO_SIP_CALL`) carries a 16-bit tag,
                // possibly 0, as its source port.
                let call = s.flow.protocol == PROTO_SIP_CALL;
                let ports_ok = (call || s.flow.src_port != 0) && s.flow.dst_port != 0;
                if s.server_id == 0
                    || s.timeout_s > MAX_TIMEOUT_S
                    || !(proto_ok(&s.flow) || call)
                    || !ports_ok
                {
                    return Err(Error::BadValue);
                }
            }
            Record::Flow(f) => {
                // A port is 0 exactly when the wildcard says it is unknown.
                let bits = f.wildcard.bits();
                let ports_ok = (f.flow.src_port == 0) == (bits & 1 != 0)
                    && (f.flow.dst_port == 0) == (bits & 2 != 0);
                if f.timeout_s > MAX_TIMEOUT_S || !proto_ok(&f.flow) || !ports_ok {
                    return Err(Error::BadValue);
                }
            }
            Record::Call(c) => {
                // As the index stores it: the tail holds min(len, 6) bytes, zero-padded, and the
                // head min(len, 8).
                let len = usize::from(c.len);
                let head_pad = c.head.get(len.min(HEAD_BYTES)..).unwrap_or(&[]);
                let tail_pad = c.tail.get(len.min(TAIL_BYTES)..).unwrap_or(&[]);
                if len == 0
                    || len > MAX_CALL_ID
                    || head_pad.iter().any(|b| *b != 0)
                    || tail_pad.iter().any(|b| *b != 0)
                {
                    return Err(Error::BadValue);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        self.validate()?;
        let len = u8::try_from(self.encoded_len()).map_err(|_| Error::BadValue)?;
        match self {
            Record::Session(s) => {
                w.bytes(&[T_SESSION, len, s.identity as u8, s.status as u8])?;
                w.u32(s.session_id)?;
                w.u16(s.server_id)?;
                w.u16(0)?;
                w.u32(s.timeout_s)?;
                w.flow(&s.flow)
            }
            Record::Flow(f) => {
                w.bytes(&[T_FLOW, len, f.identity as u8, f.status as u8])?;
                w.u32(f.session_id)?;
                w.bytes(&[f.wildcard.bits(), 0, 0, 0])?;
                w.u32(f.timeout_s)?;
                w.flow(&f.flow)
            }
            Record::Call(c) => {
                w.bytes(&[T_CALL, len])?;
                w.u16(c.len)?;
                w.u32(c.session_id)?;
                w.u32(c.hash[0])?;
                w.u32(c.hash[1])?;
                w.bytes(&c.head)?;
                w.bytes(&c.tail)?;
                w.u16(0)
            }
            Record::CallKey(k) => {
                w.bytes(&[T_CALL_KEY, len, 0, 0])?;
                w.bytes(k)
            }
            Record::SessionEnded { session_id } => small(w, T_SESSION_ENDED, len, *session_id),
            Record::ResyncRequest { epoch, next_seq } => {
                small(w, T_RESYNC_REQUEST, len, *epoch)?;
                w.u32(*next_seq)
            }
            Record::ResyncBegin { sessions } => small(w, T_RESYNC_BEGIN, len, *sessions),
            Record::Ack {
                flags,
                epoch,
                next_seq,
            } => {
                w.bytes(&[T_ACK, len, *flags, 0])?;
                w.u32(*epoch)?;
                w.u32(*next_seq)
            }
            Record::ResyncEnd { records } => small(w, T_RESYNC_END, len, *records),
        }
    }

    /// Reads one record from the front of `r`.
    fn read(r: &mut Reader<'_>) -> Result<Record, Error> {
        let ty = r.u8()?;
        let len = r.u8()?;
        let want: u8 = match ty {
            T_SESSION | T_FLOW | T_CALL => 32,
            T_CALL_KEY => 20,
            T_RESYNC_REQUEST | T_ACK => 12,
            T_SESSION_ENDED | T_RESYNC_BEGIN | T_RESYNC_END => 8,
            _ => return Err(Error::BadType),
        };
        if len != want {
            return Err(Error::BadValue);
        }
        let rec = match ty {
            T_SESSION => {
                let identity = Identity::from_u8(r.u8()?)?;
                let status = Status::from_u8(r.u8()?)?;
                let session_id = r.u32()?;
                let server_id = r.u16()?;
                r.reserved::<2>()?;
                let timeout_s = r.u32()?;
                let flow = r.flow()?;
                Record::Session(SessionRecord {
                    flow,
                    session_id,
                    server_id,
                    identity,
                    status,
                    timeout_s,
                })
            }
            T_FLOW => {
                let identity = Identity::from_u8(r.u8()?)?;
                let status = Status::from_u8(r.u8()?)?;
                let session_id = r.u32()?;
                let wild = r.u8()?;
                if wild > 3 {
                    return Err(Error::BadValue);
                }
                r.reserved::<3>()?;
                let timeout_s = r.u32()?;
                let flow = r.flow()?;
                let wildcard = Wildcard::from_bits(wild);
                Record::Flow(FlowRecord {
                    flow,
                    wildcard,
                    session_id,
                    identity,
                    status,
                    timeout_s,
                })
            }
            T_CALL => {
                let len = r.u16()?;
                let session_id = r.u32()?;
                let hash = [r.u32()?, r.u32()?];
                let head = r.array::<HEAD_BYTES>()?;
                let tail = r.array::<TAIL_BYTES>()?;
                r.reserved::<2>()?;
                Record::Call(CallRecord {
                    session_id,
                    len,
                    hash,
                    head,
                    tail,
                })
            }
            T_CALL_KEY => {
                r.reserved::<2>()?;
                Record::CallKey(r.array::<16>()?)
            }
            T_ACK => {
                let flags = r.u8()?;
                if flags & !ACK_WANTS_VIP != 0 {
                    return Err(Error::BadValue);
                }
                r.reserved::<1>()?;
                Record::Ack {
                    flags,
                    epoch: r.u32()?,
                    next_seq: r.u32()?,
                }
            }
            _ => {
                r.reserved::<2>()?;
                let v = r.u32()?;
                match ty {
                    T_SESSION_ENDED => Record::SessionEnded { session_id: v },
                    T_RESYNC_REQUEST => Record::ResyncRequest {
                        epoch: v,
                        next_seq: r.u32()?,
                    },
                    T_RESYNC_BEGIN => Record::ResyncBegin { sessions: v },
                    _ => Record::ResyncEnd { records: v },
                }
            }
        };
        rec.validate()?;
        Ok(rec)
    }
}

fn small(w: &mut Writer<'_>, ty: u8, len: u8, v: u32) -> Result<(), Error> {
    w.bytes(&[ty, len, 0, 0])?;
    w.u32(v)
}

/// A batch to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch<'a> {
    /// Header.
    pub header: BatchHeader,
    /// 0..=[`MAX_RECORDS`] records.
    pub records: &'a [Record],
}

/// A parsed, fully validated batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchView<'a> {
    /// Header.
    pub header: BatchHeader,
    count: u16,
    body: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// Number of records.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether the batch holds no record (a keep-alive).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The records, in order.
    pub fn records(&self) -> Records<'a> {
        Records {
            r: Reader::new(self.body),
            left: self.count,
        }
    }
}

/// Iterator over the records of a [`BatchView`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    r: Reader<'a>,
    left: u16,
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        self.left = self.left.checked_sub(1)?;
        Record::read(&mut self.r).ok()
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<(BatchHeader, u16), Error> {
    r.header(MsgType::Repl)?;
    let sender_id = r.u16()?;
    let role = match r.u8()? {
        1 => Role::Active,
        2 => Role::Backup,
        _ => return Err(Error::BadValue),
    };
    let priority = r.u8()?;
    let epoch = r.u32()?;
    let seq = r.u32()?;
    let count = r.u16()?;
    let flags = r.u8()?;
    r.reserved::<1>()?;
    if usize::from(count) > MAX_RECORDS || flags & !BATCH_HANDBACK != 0 {
        return Err(Error::BadValue);
    }
    Ok((
        BatchHeader {
            sender_id,
            role,
            priority,
            epoch,
            seq,
            flags,
        },
        count,
    ))
}

/// Parses and validates a batch (every record is checked here, so [`BatchView::records`] yields
/// exactly `count` records).
pub fn parse(buf: &[u8]) -> Result<BatchView<'_>, Error> {
    if buf.len() > MAX_DATAGRAM {
        return Err(Error::TooLong);
    }
    let mut r = Reader::new(buf);
    let (header, count) = read_header(&mut r)?;
    let body = r.rest();
    for _ in 0..count {
        Record::read(&mut r)?;
    }
    r.end()?;
    Ok(BatchView {
        header,
        count,
        body,
    })
}

fn write_header(w: &mut Writer<'_>, h: &BatchHeader, count: u16) -> Result<(), Error> {
    w.header(MsgType::Repl)?;
    w.u16(h.sender_id)?;
    w.u8(h.role as u8)?;
    w.u8(h.priority)?;
    w.u32(h.epoch)?;
    w.u32(h.seq)?;
    w.u16(count)?;
    w.u8(h.flags)?;
    w.u8(0)
}

/// Writes a batch; returns its size.
pub fn emit(b: &Batch<'_>, out: &mut [u8]) -> Result<usize, Error> {
    if b.records.len() > MAX_RECORDS {
        return Err(Error::TooLong);
    }
    let mut bw = BatchWriter::new(&b.header, out)?;
    for r in b.records {
        bw.push(r)?;
    }
    Ok(bw.finish())
}

/// Builds a batch record by record (for the packet path: no record array needed).
#[derive(Debug)]
pub struct BatchWriter<'a> {
    w: Writer<'a>,
    cap: usize,
    count: u16,
}

impl<'a> BatchWriter<'a> {
    /// Starts a batch in `out` (at most [`MAX_DATAGRAM`] bytes of it are used).
    pub fn new(header: &BatchHeader, out: &'a mut [u8]) -> Result<Self, Error> {
        let cap = out.len().min(MAX_DATAGRAM);
        let mut w = Writer::new(out);
        if cap < BATCH_HEADER_LEN {
            return Err(Error::BufferTooSmall);
        }
        write_header(&mut w, header, 0)?;
        Ok(BatchWriter { w, cap, count: 0 })
    }

    /// Whether `r` fits in this batch.
    pub fn fits(&self, r: &Record) -> bool {
        usize::from(self.count) < MAX_RECORDS
            && self
                .w
                .pos()
                .checked_add(r.encoded_len())
                .is_some_and(|end| end <= self.cap)
    }

    /// Appends a record. Nothing is written on error: [`Error::TooLong`] when the batch is full
    /// ([`MAX_RECORDS`] or [`MAX_DATAGRAM`]), [`Error::BufferTooSmall`] when `out` is, [`Error::BadValue`]
    /// for an invalid record.
    pub fn push(&mut self, r: &Record) -> Result<(), Error> {
        r.validate()?;
        if usize::from(self.count) >= MAX_RECORDS {
            return Err(Error::TooLong);
        }
        if !self.fits(r) {
            return Err(
                if self.w.pos().saturating_add(r.encoded_len()) > MAX_DATAGRAM {
                    Error::TooLong
                } else {
                    Error::BufferTooSmall
                },
            );
        }
        r.write(&mut self.w)?;
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    /// Records so far.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether no record was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Completes the batch (writes the record count); returns its size.
    pub fn finish(mut self) -> usize {
        // The header was written by `new`, so the count field exists: this cannot fail.
        let _ = self.w.patch_u16(HEADER_LEN.saturating_add(12), self.count);
        self.w.pos()
    }
}

/// Writes one record at the front of `out`, without a batch header; returns its size. The kernel's
/// replication ring hands records to `sarectl ha` this way (`CMD_REPL_GET`), and `sarectl ha`
/// gives them back to the backup's kernel the same way (`CMD_REPL_APPLY`): a "record run" is records
/// back to back, exactly as inside a batch.
pub fn encode_record(r: &Record, out: &mut [u8]) -> Result<usize, Error> {
    r.validate()?;
    if out.len() < r.encoded_len() {
        return Err(Error::BufferTooSmall);
    }
    let mut w = Writer::new(out);
    r.write(&mut w)?;
    Ok(w.pos())
}

/// Most records in one record run (its count must fit the iterator's `u16`).
pub const MAX_RUN_RECORDS: usize = u16::MAX as usize;

/// Parses a record run (see [`encode_record`]): every record is validated before any is yielded,
/// so a bad run is refused whole.
pub fn parse_records(buf: &[u8]) -> Result<Records<'_>, Error> {
    let mut r = Reader::new(buf);
    let mut count: u16 = 0;
    while !r.rest().is_empty() {
        Record::read(&mut r)?;
        count = count.checked_add(1).ok_or(Error::TooLong)?;
    }
    Ok(Records {
        r: Reader::new(buf),
        left: count,
    })
}

/// What a received batch means for the receiver's sequence state (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqCheck {
    /// The expected batch: apply it.
    InOrder,
    /// This many batches were lost before this one: apply it, and request a resync.
    Lost(u32),
    /// A batch of a new sender or epoch: apply it if it begins with `ResyncBegin`, else request a
    /// resync.
    NewEpoch,
    /// A duplicate or late batch (older than the expected one, or of an older epoch): ignore it.
    Stale,
}

/// The receiver's view of one sender's batch numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeqTracker {
    state: Option<(u16, u32, u32)>,
}

impl SeqTracker {
    /// A tracker that has seen nothing.
    pub const fn new() -> Self {
        SeqTracker { state: None }
    }

    /// The epoch and next expected sequence (what a `ResyncRequest` carries); `(0, 0)` before any batch.
    pub fn expected(&self) -> (u32, u32) {
        self.state.map_or((0, 0), |(_, e, n)| (e, n))
    }

    /// Accounts for a received batch header.
    pub fn check(&mut self, h: &BatchHeader) -> SeqCheck {
        let next_seq = h.seq.wrapping_add(1);
        match self.state {
            Some((sender, epoch, next)) if sender == h.sender_id && epoch == h.epoch => {
                if h.seq == next {
                    self.state = Some((sender, epoch, next_seq));
                    SeqCheck::InOrder
                } else if seq_after(h.seq, next) {
                    self.state = Some((sender, epoch, next_seq));
                    SeqCheck::Lost(h.seq.wrapping_sub(next))
                } else {
                    SeqCheck::Stale
                }
            }
            Some((sender, epoch, _)) if sender == h.sender_id && !seq_after(h.epoch, epoch) => {
                SeqCheck::Stale
            }
            _ => {
                self.state = Some((h.sender_id, h.epoch, next_seq));
                SeqCheck::NewEpoch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    const H: BatchHeader = BatchHeader {
        sender_id: 1,
        role: Role::Active,
        priority: 100,
        epoch: 5,
        seq: 42,
        flags: 0,
    };

    fn session(i: u32) -> Record {
        Record::Session(SessionRecord {
            flow: FlowKey::new([198, 51, 100, 7], 40000, [192, 0, 2, 1], 554, PROTO_TCP),
            session_id: i,
            server_id: 3,
            identity: Identity::Signalling,
            status: Status::Established,
            timeout_s: 30,
        })
    }

    fn flow() -> Record {
        Record::Flow(FlowRecord {
            flow: FlowKey::new([198, 51, 100, 7], 5000, [192, 0, 2, 1], 0, PROTO_UDP),
            wildcard: Wildcard::DstPort,
            session_id: 77,
            identity: Identity::Announced,
            status: Status::New,
            timeout_s: 60,
        })
    }

    #[test]
    fn record_runs_round_trip_and_refuse_bad_input_whole() {
        let recs = all_kinds();
        let mut buf = std::vec![0u8; 256];
        let mut n = 0;
        for r in &recs {
            n += encode_record(r, &mut buf[n..]).unwrap();
        }
        let got: Vec<Record> = parse_records(&buf[..n]).unwrap().collect();
        assert_eq!(got, recs);
        assert_eq!(parse_records(&[]).unwrap().count(), 0);
        // A cut record, or a bad one after good ones, refuses the run.
        assert!(parse_records(&buf[..n - 1]).is_err());
        let mut bad = buf[..n].to_vec();
        bad.extend_from_slice(&[T_SESSION_ENDED, 9, 0, 0, 0, 0, 0, 1]);
        assert!(parse_records(&bad).is_err());
        assert_eq!(
            encode_record(&session(1), &mut [0u8; 31]),
            Err(Error::BufferTooSmall)
        );
    }

    fn all_kinds() -> Vec<Record> {
        std::vec![
            Record::ResyncBegin { sessions: 1 },
            session(77),
            flow(),
            Record::SessionEnded { session_id: 77 },
            Record::ResyncRequest {
                epoch: 4,
                next_seq: 9
            },
            Record::ResyncEnd { records: 2 },
            Record::Ack {
                flags: ACK_WANTS_VIP,
                epoch: 5,
                next_seq: 43
            },
            call(),
            Record::CallKey([7; 16]),
        ]
    }

    fn call() -> Record {
        Record::Call(CallRecord {
            session_id: 77,
            len: 10,
            hash: [0x0102_0304, 0x0506_0708],
            head: *b"1-42@10.",
            tail: *b"0.0.12",
        })
    }

    #[test]
    fn call_records_golden_bytes_and_refusals() {
        let mut b = [0u8; 64];
        let n = encode_record(&call(), &mut b).unwrap();
        assert_eq!(n, 32);
        #[rustfmt::skip]
        let golden: [u8; 32] = [
            8, 32, 0, 10,
            0, 0, 0, 77,
            1, 2, 3, 4,
            5, 6, 7, 8,
            b'1', b'-', b'4', b'2', b'@', b'1', b'0', b'.',
            b'0', b'.', b'0', b'.', b'1', b'2', 0, 0,
        ];
        assert_eq!(b[..n], golden);
        assert_eq!(
            parse_records(&golden).unwrap().collect::<Vec<_>>(),
            [call()]
        );
        let Record::Call(c) = call() else { panic!() };
        assert_eq!(c.hash(), 0x0102_0304_0506_0708);
        let m = c.mark([1; 16]);
        assert_eq!(CallRecord::of(77, &m), c);
        let n = encode_record(&Record::CallKey([9; 16]), &mut b).unwrap();
        assert_eq!(b[..4], [9, 20, 0, 0]);
        assert_eq!(b[4..n], [9; 16]);
        // Refused whole, never a crash: a length of 0 or over 256, padding that is not zero, a bad
        // record length, reserved bytes set, a cut record.
        let bad = |at: usize, v: u8| {
            let mut x = golden;
            x[at] = v;
            parse_records(&x).map(|_| ())
        };
        assert_eq!(bad(3, 0), Err(Error::BadValue));
        assert_eq!(bad(2, 1), Err(Error::BadValue)); // 266 bytes
        assert_eq!(bad(30, 1), Err(Error::BadValue)); // reserved
        assert_eq!(bad(1, 20), Err(Error::BadValue)); // record length
        assert!(parse_records(&golden[..31]).is_err());
        let mut short = golden;
        short[3] = 4; // a 4-byte Call-ID keeps 4 head and 4 tail bytes, the rest zero
        assert_eq!(parse_records(&short).map(|_| ()), Err(Error::BadValue));
        let mut c4 = c;
        c4.len = 4;
        c4.head = *b"abcd\0\0\0\0";
        c4.tail = *b"abcd\0\0";
        assert!(encode_record(&Record::Call(c4), &mut b).is_ok());
        c4.len = 257;
        assert_eq!(
            encode_record(&Record::Call(c4), &mut b),
            Err(Error::BadValue)
        );
        let mut key = [0u8; 20];
        encode_record(&Record::CallKey([1; 16]), &mut key).unwrap();
        key[2] = 1;
        assert_eq!(parse_records(&key).map(|_| ()), Err(Error::BadValue));
    }

    #[test]
    fn a_ring_record_stays_32_bytes() {
        assert!(core::mem::size_of::<Record>() <= 32);
    }

    #[test]
    fn golden_bytes() {
        let recs = [
            session(0x0102_0304),
            flow(),
            Record::SessionEnded { session_id: 9 },
        ];
        let mut b = [0u8; 256];
        let n = emit(
            &Batch {
                header: H,
                records: &recs,
            },
            &mut b,
        )
        .unwrap();
        assert_eq!(n, 20 + 32 + 32 + 8);
        #[rustfmt::skip]
        let golden: [u8; 92] = [
            0x53, 0x41, 1, 3,
            0, 1, 1, 100,
            0, 0, 0, 5,
            0, 0, 0, 42,
            0, 3, 0, 0,
            // Session
            1, 32, 0, 1,
            1, 2, 3, 4,
            0, 3, 0, 0,
            0, 0, 0, 30,
            198, 51, 100, 7, 192, 0, 2, 1, 0x9c, 0x40, 0x02, 0x2a, 6, 4, 0, 0,
            // Flow
            2, 32, 1, 0,
            0, 0, 0, 77,
            2, 0, 0, 0,
            0, 0, 0, 60,
            198, 51, 100, 7, 192, 0, 2, 1, 0x13, 0x88, 0, 0, 17, 4, 0, 0,
            // SessionEnded
            3, 8, 0, 0,
            0, 0, 0, 9,
        ];
        assert_eq!(b[..n], golden);
        let v = parse(&golden).unwrap();
        assert_eq!(v.header, H);
        assert_eq!(v.records().collect::<Vec<_>>(), recs);
    }

    #[test]
    fn a_handback_batch_carries_its_flag() {
        let h = BatchHeader {
            role: Role::Backup,
            flags: BATCH_HANDBACK,
            ..H
        };
        let recs = [Record::CallKey([3; 16]), session(9), flow()];
        let mut b = [0u8; MAX_DATAGRAM];
        let n = emit(
            &Batch {
                header: h,
                records: &recs,
            },
            &mut b,
        )
        .unwrap();
        assert_eq!(b[16..20], [0, 3, BATCH_HANDBACK, 0]);
        let v = parse(&b[..n]).unwrap();
        assert_eq!(v.header, h);
        assert_eq!(v.records().collect::<Vec<_>>(), recs);
        // Replication and heartbeats keep the byte 0, as before the flag existed.
        let n = emit(
            &Batch {
                header: H,
                records: &[],
            },
            &mut b,
        )
        .unwrap();
        assert_eq!(b[18..n], [0, 0]);
        assert_eq!(parse(&b[..n]).unwrap().header.flags, 0);
    }

    #[test]
    fn every_kind_round_trips() {
        let recs = all_kinds();
        let mut b = [0u8; MAX_DATAGRAM];
        let n = emit(
            &Batch {
                header: H,
                records: &recs,
            },
            &mut b,
        )
        .unwrap();
        let v = parse(&b[..n]).unwrap();
        assert_eq!(v.len(), recs.len());
        assert_eq!(v.records().collect::<Vec<_>>(), recs);
        // Keep-alive.
        let n = emit(
            &Batch {
                header: H,
                records: &[],
            },
            &mut b,
        )
        .unwrap();
        assert_eq!(n, BATCH_HEADER_LEN);
        assert!(parse(&b[..n]).unwrap().is_empty());
    }

    #[test]
    fn writer_fills_up() {
        assert_eq!(MAX_RECORDS, 42);
        // A full batch of the largest records leaves room for the authentication trailer.
        const {
            assert!(
                BATCH_HEADER_LEN + MAX_RECORDS * MAX_RECORD_LEN + super::super::AUTH_TRAILER_LEN
                    <= MAX_DATAGRAM
            )
        };
        let mut b = [0u8; 2000];
        let mut w = BatchWriter::new(&H, &mut b).unwrap();
        let mut i = 0;
        while w.push(&session(i)).is_ok() {
            i += 1;
        }
        assert_eq!(w.len(), MAX_RECORDS);
        assert_eq!(
            w.push(&Record::SessionEnded { session_id: 1 }),
            Err(Error::TooLong)
        );
        let n = w.finish();
        assert_eq!(n, BATCH_HEADER_LEN + MAX_RECORDS * 32);
        assert!(n <= MAX_DATAGRAM);
        let v = parse(&b[..n]).unwrap();
        assert_eq!(v.records().count(), MAX_RECORDS);

        // A small buffer: BufferTooSmall, nothing written.
        let mut b = [0u8; 40];
        let mut w = BatchWriter::new(&H, &mut b).unwrap();
        assert_eq!(w.push(&session(1)), Err(Error::BufferTooSmall));
        w.push(&Record::SessionEnded { session_id: 1 }).unwrap();
        let n = w.finish();
        assert_eq!(n, 28);
        assert_eq!(parse(&b[..n]).unwrap().len(), 1);
        assert!(matches!(
            BatchWriter::new(&H, &mut [0u8; 19]),
            Err(Error::BufferTooSmall)
        ));
        let many: Vec<_> = (0..=MAX_RECORDS as u32)
            .map(|i| Record::SessionEnded { session_id: i })
            .collect();
        assert_eq!(
            emit(
                &Batch {
                    header: H,
                    records: &many
                },
                &mut [0u8; MAX_DATAGRAM]
            ),
            Err(Error::TooLong)
        );
    }

    #[test]
    fn invalid_records_are_refused() {
        let Record::Session(s) = session(1) else {
            unreachable!()
        };
        let Record::Flow(f) = flow() else {
            unreachable!()
        };
        let bad = [
            Record::Session(SessionRecord { server_id: 0, ..s }),
            Record::Session(SessionRecord {
                timeout_s: MAX_TIMEOUT_S + 1,
                ..s
            }),
            Record::Session(SessionRecord {
                flow: FlowKey {
                    protocol: 1,
                    ..s.flow
                },
                ..s
            }),
            Record::Flow(FlowRecord {
                flow: FlowKey {
                    dst_port: 80,
                    ..f.flow
                },
                ..f
            }),
        ];
        let mut b = [0u8; 256];
        for r in bad {
            assert_eq!(
                emit(
                    &Batch {
                        header: H,
                        records: &[r]
                    },
                    &mut b
                ),
                Err(Error::BadValue),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_sip_calls_own_session_record_is_valid_with_any_tag() {
        let Record::Session(s) = session(1) else {
            unreachable!()
        };
        let mut b = [0u8; 256];
        for tag in [0u16, 1, 65535] {
            let r = Record::Session(SessionRecord {
                flow: FlowKey {
                    protocol: PROTO_SIP_CALL,
                    src_port: tag,
                    ..s.flow
                },
                ..s
            });
            let batch = Batch {
                header: H,
                records: &[r],
            };
            assert!(emit(&batch, &mut b).is_ok(), "{r:?}");
        }
        // A TCP or UDP session still needs both ports.
        let r = Record::Session(SessionRecord {
            flow: FlowKey {
                src_port: 0,
                ..s.flow
            },
            ..s
        });
        let batch = Batch {
            header: H,
            records: &[r],
        };
        assert_eq!(emit(&batch, &mut b), Err(Error::BadValue));
    }

    #[test]
    fn rejects() {
        let recs = all_kinds();
        let mut b = [0u8; MAX_DATAGRAM];
        let n = emit(
            &Batch {
                header: H,
                records: &recs,
            },
            &mut b,
        )
        .unwrap();
        let good = b[..n].to_vec();
        let bad = |at: usize, v: u8| {
            let mut x = good.clone();
            x[at] = v;
            parse(&x).map(|_| ())
        };
        assert_eq!(parse(&good[..n - 1]), Err(Error::Truncated));
        assert_eq!(parse(&good[..10]), Err(Error::Truncated));
        let mut long = good.clone();
        long.extend_from_slice(&[0; 8]);
        assert_eq!(parse(&long), Err(Error::TooLong));
        assert_eq!(parse(&[0u8; MAX_DATAGRAM + 1]), Err(Error::TooLong));
        assert_eq!(bad(2, 9), Err(Error::BadVersion));
        assert_eq!(bad(3, 2), Err(Error::BadType));
        assert_eq!(bad(0, b'X'), Err(Error::BadMagic));
        assert_eq!(bad(6, 0), Err(Error::BadValue)); // role
        assert_eq!(bad(17, 43), Err(Error::BadValue)); // count > MAX_RECORDS
        assert_eq!(bad(17, 5), Err(Error::TooLong)); // count says fewer
        assert_eq!(bad(17, 10), Err(Error::Truncated)); // count says more
        assert_eq!(bad(18, 2), Err(Error::BadValue)); // a flag this version does not know
        assert_eq!(bad(19, 1), Err(Error::BadValue)); // reserved
        assert_eq!(bad(20, 99), Err(Error::BadType)); // record type
        assert_eq!(bad(21, 12), Err(Error::BadValue)); // record length
        assert_eq!(bad(28 + 2, 3), Err(Error::BadValue)); // identity
        assert_eq!(bad(28 + 3, 3), Err(Error::BadValue)); // status
        assert_eq!(bad(28 + 9, 0), Err(Error::BadValue)); // server id 0
        assert_eq!(bad(28 + 32 + 8, 4), Err(Error::BadValue)); // wildcard bits
        assert_eq!(bad(28 + 32 + 8, 0), Err(Error::BadValue)); // exact, but dst port 0
        assert_eq!(bad(28 + 32 + 8, 3), Err(Error::BadValue)); // src port wild, but not 0
    }

    #[test]
    fn sequence_tracking() {
        let mut t = SeqTracker::new();
        assert_eq!(t.expected(), (0, 0));
        let h = |epoch, seq| BatchHeader { epoch, seq, ..H };
        assert_eq!(t.check(&h(5, 0)), SeqCheck::NewEpoch);
        assert_eq!(t.check(&h(5, 1)), SeqCheck::InOrder);
        assert_eq!(t.check(&h(5, 1)), SeqCheck::Stale);
        assert_eq!(t.check(&h(5, 0)), SeqCheck::Stale);
        assert_eq!(t.check(&h(5, 5)), SeqCheck::Lost(3));
        assert_eq!(t.expected(), (5, 6));
        assert_eq!(t.check(&h(4, 6)), SeqCheck::Stale);
        assert_eq!(t.check(&h(6, 0)), SeqCheck::NewEpoch);
        assert_eq!(
            t.check(&BatchHeader {
                sender_id: 2,
                ..h(1, 0)
            }),
            SeqCheck::NewEpoch
        );
        // Wrapping.
        let mut t = SeqTracker::new();
        t.check(&h(1, u32::MAX));
        assert_eq!(t.check(&h(1, 0)), SeqCheck::InOrder);
    }
}
