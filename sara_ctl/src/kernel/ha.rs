//! High availability: the dispatcher's role (`CMD_HA_SET`, `CMD_HA_GET`) and the replication ring
//! (`CMD_REPL_GET` on the active, `CMD_REPL_APPLY` on a backup, or on the active in adopt mode).
//!
//! ```text
//! CMD_HA_SET     request: A_HA_ROLE u8
//! CMD_HA_GET     reply:   A_HA_ROLE u8 | A_REPL_HEAD u64 | A_REPL_CAPACITY u32
//! CMD_REPL_GET   request: A_REPL_SEQ u64 (the first record wanted)
//!                reply:   A_REPL_SEQ u64 (the first record returned) | A_REPL_HEAD u64 |
//!                         A_REPL_RECORDS (a run of msg::repl records) [| A_REPL_LOST u8]
//! CMD_REPL_GET   request: A_REPL_CALLS u64 (a cursor, 0 to start: the Call-ID index's calls)
//!                reply:   A_REPL_RECORDS ([CallKey when the cursor was 0,] Call records)
//!                         [| A_REPL_CALLS u64 (the cursor to ask with next; absent: done)]
//! CMD_REPL_APPLY request: A_REPL_RECORDS [| A_HA_FLUSH flag]
//!                reply:   A_REPL_APPLIED u32 | A_REPL_FAILED u32
//! CMD_REPL_APPLY request: A_REPL_RECORDS | A_REPL_ADOPT flag (the active: adopt if absent)
//!                reply:   A_REPL_APPLIED u32 (adopted) | A_REPL_SKIPPED u32 | A_REPL_FAILED u32
//! ```
//!
//! A value the kernel leaves out (an older `sara.ko`) reads as 0.

use sara_core::genl;
use sara_core::msg::repl::{self, Record};

use super::attr::Attr;
use super::msg::{find, Request};
use super::Client;
use crate::error::Error;

wire_enum!(
    /// The dispatcher's high-availability role (`A_HA_ROLE`).
    HaRole {
        /// No failover: forwards, replicates nothing.
        Standalone = genl::HA_STANDALONE,
        /// Forwards and queues replication records.
        Active = genl::HA_ACTIVE,
        /// Forwards nothing, takes replicated records.
        Backup = genl::HA_BACKUP,
    }
);

/// The role and the replication ring of the namespace (`CMD_HA_GET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaState {
    /// The role.
    pub role: HaRole,
    /// The sequence number the next replication record will get.
    pub head: u64,
    /// Records the ring holds.
    pub capacity: u32,
}

/// Most `CMD_REPL_GET` parts of one Call-ID index dump ([`Client::repl_calls`]): each visits up to
/// 4096 entries (sara.ko's `CALL_DUMP_BUDGET`) or fills a record run (512 records), so this covers
/// 16 M entries.
pub const CALL_DUMP_PARTS: usize = 1 << 15;

/// Records read from the replication ring (`CMD_REPL_GET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplRun {
    /// Sequence number of the first record of the run.
    pub first: u64,
    /// Records before `first` were overwritten before they were read.
    pub lost: bool,
    /// The records, back to back (`msg::repl` encoding); [`ReplRun::records`] reads them.
    pub run: Vec<u8>,
}

impl ReplRun {
    /// The records of the run.
    pub fn records(&self) -> Result<Vec<Record>, sara_core::msg::Error> {
        Ok(repl::parse_records(&self.run)?.collect())
    }
}

/// What a `CMD_REPL_APPLY` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplApplied {
    /// Records installed.
    pub applied: u32,
    /// Records that could not be installed.
    pub failed: u32,
    /// Adopt mode: records left as this dispatcher has them (already there, or decided otherwise).
    pub skipped: u32,
}

/// The records back to back, as `A_REPL_RECORDS` carries them (a record that does not encode is
/// left out).
fn run_bytes(records: &[Record]) -> Vec<u8> {
    let mut out = vec![0u8; records.len() * repl::MAX_RECORD_LEN];
    let mut n = 0;
    for r in records {
        if let Ok(k) = repl::encode_record(r, &mut out[n..]) {
            n += k;
        }
    }
    out.truncate(n);
    out
}

fn ha_set_request(role: HaRole) -> Request {
    Request {
        cmd: genl::CMD_HA_SET,
        attrs: vec![Attr::u8(genl::A_HA_ROLE, role.to_u8())],
    }
}

fn repl_get_request(from: u64) -> Request {
    Request {
        cmd: genl::CMD_REPL_GET,
        attrs: vec![Attr::bytes(genl::A_REPL_SEQ, from.to_ne_bytes())],
    }
}

fn repl_calls_request(cursor: u64) -> Request {
    Request {
        cmd: genl::CMD_REPL_GET,
        attrs: vec![Attr::bytes(genl::A_REPL_CALLS, cursor.to_ne_bytes())],
    }
}

/// One part of the Call-ID index's dump: its records, and the cursor of the next part (`None`:
/// done). A reply without `A_REPL_CALLS` ends the dump, so an older `sara.ko` (which answers with
/// ring records, or refuses the attribute) is not asked again.
fn decode_repl_calls(replies: &[super::Reply]) -> (Vec<u8>, Option<u64>) {
    let run = find(replies, genl::A_REPL_RECORDS)
        .map(|a| a.payload.clone())
        .unwrap_or_default();
    let next = find(replies, genl::A_REPL_CALLS).and_then(|a| a.get_u64().ok());
    (run, next)
}

fn repl_apply_request(records: &[Record], flush: bool) -> Request {
    let mut attrs = vec![Attr::bytes(genl::A_REPL_RECORDS, run_bytes(records))];
    if flush {
        attrs.push(Attr::bytes(genl::A_HA_FLUSH, Vec::new()));
    }
    Request {
        cmd: genl::CMD_REPL_APPLY,
        attrs,
    }
}

fn repl_adopt_request(records: &[Record]) -> Request {
    Request {
        cmd: genl::CMD_REPL_APPLY,
        attrs: vec![
            Attr::bytes(genl::A_REPL_RECORDS, run_bytes(records)),
            Attr::bytes(genl::A_REPL_ADOPT, Vec::new()),
        ],
    }
}

fn decode_ha_state(replies: &[super::Reply]) -> HaState {
    let role = find(replies, genl::A_HA_ROLE)
        .and_then(|a| a.get_u8().ok())
        .unwrap_or(0);
    let head = find(replies, genl::A_REPL_HEAD)
        .and_then(|a| a.get_u64().ok())
        .unwrap_or(0);
    let capacity = find(replies, genl::A_REPL_CAPACITY)
        .and_then(|a| a.get_u32().ok())
        .unwrap_or(0);
    HaState {
        role: HaRole::from_u8(role),
        head,
        capacity,
    }
}

/// A run that was asked from `from`: the first record's number defaults to `from`.
fn decode_repl_run(replies: &[super::Reply], from: u64) -> ReplRun {
    let first = find(replies, genl::A_REPL_SEQ)
        .and_then(|a| a.get_u64().ok())
        .unwrap_or(from);
    let lost = find(replies, genl::A_REPL_LOST)
        .and_then(|a| a.get_u8().ok())
        .unwrap_or(0)
        != 0;
    let run = find(replies, genl::A_REPL_RECORDS)
        .map(|a| a.payload.clone())
        .unwrap_or_default();
    ReplRun { first, lost, run }
}

fn decode_repl_applied(replies: &[super::Reply]) -> ReplApplied {
    let n = |ty| {
        find(replies, ty)
            .and_then(|a| a.get_u32().ok())
            .unwrap_or(0)
    };
    ReplApplied {
        applied: n(genl::A_REPL_APPLIED),
        failed: n(genl::A_REPL_FAILED),
        skipped: n(genl::A_REPL_SKIPPED),
    }
}

impl Client {
    /// `CMD_HA_SET`.
    pub fn ha_set_role(&mut self, role: HaRole) -> Result<(), Error> {
        self.call(&ha_set_request(role)).map(drop)
    }

    /// `CMD_HA_GET`.
    pub fn ha_get(&mut self) -> Result<HaState, Error> {
        let replies = self.call(&Request {
            cmd: genl::CMD_HA_GET,
            attrs: vec![],
        })?;
        Ok(decode_ha_state(&replies))
    }

    /// `CMD_REPL_GET`: the records of the ring from sequence number `from` on (as many as fit).
    pub fn repl_get(&mut self, from: u64) -> Result<ReplRun, Error> {
        let replies = self.call(&repl_get_request(from))?;
        Ok(decode_repl_run(&replies, from))
    }

    /// `CMD_REPL_GET` with `A_REPL_CALLS`: every SIP call of the Call-ID index as a `Call` record,
    /// after the index's `CallKey` record (for a resynchronisation). At most `max_parts` requests.
    pub fn repl_calls(&mut self, max_parts: usize) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        let mut cursor = 0u64;
        for _ in 0..max_parts {
            let replies = self.call(&repl_calls_request(cursor))?;
            let (run, next) = decode_repl_calls(&replies);
            let recs = repl::parse_records(&run).map_err(|e| {
                Error::Protocol(format!("sara.ko's call records do not parse: {e:?}"))
            })?;
            out.extend(recs.filter(|r| matches!(r, Record::Call(_) | Record::CallKey(_))));
            match next {
                Some(c) if c != cursor => cursor = c,
                _ => return Ok(out),
            }
        }
        Err(Error::Protocol(format!(
            "the Call-ID index's dump did not end within {max_parts} requests"
        )))
    }

    /// `CMD_REPL_APPLY`: install `records` on a backup; `flush` first removes every flow (a
    /// resynchronisation begins).
    pub fn repl_apply(&mut self, records: &[Record], flush: bool) -> Result<ReplApplied, Error> {
        let replies = self.call(&repl_apply_request(records, flush))?;
        Ok(decode_repl_applied(&replies))
    }

    /// `CMD_REPL_APPLY` with `A_REPL_ADOPT`: on the active dispatcher, adopt `records` of the peer's
    /// sessions where the table has nothing (`applied` counts the records adopted).
    pub fn repl_adopt(&mut self, records: &[Record]) -> Result<ReplApplied, Error> {
        let replies = self.call(&repl_adopt_request(records))?;
        Ok(decode_repl_applied(&replies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::msg::{decode_datagram, encode_request, Body, FLAGS_REQUEST_ACK};
    use crate::kernel::test_util::*;
    use crate::kernel::Reply;
    use sara_core::flow::FlowKey;
    use sara_core::msg::repl::{Identity, SessionRecord, Status};

    fn session(id: u32) -> Record {
        Record::Session(SessionRecord {
            flow: FlowKey::new([10, 0, 1, 2], 40000, [10, 0, 0, 100], 5060, 17),
            session_id: id,
            server_id: 2,
            identity: Identity::Signalling,
            status: Status::Established,
            timeout_s: 30,
        })
    }

    /// The reply messages of one datagram.
    fn replies(dgram: &[u8]) -> Vec<Reply> {
        decode_datagram(dgram)
            .unwrap()
            .into_iter()
            .filter_map(|m| match m.body {
                Body::Genl { cmd, attrs, .. } => Some(Reply { cmd, attrs }),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn role_request_bytes() {
        let bytes =
            encode_request(30, FLAGS_REQUEST_ACK, 3, &ha_set_request(HaRole::Backup)).unwrap();
        let mut want = nlmsg(
            30,
            FLAGS_REQUEST_ACK,
            3,
            &genlmsg(
                genl::CMD_HA_SET,
                &[nla(genl::A_HA_ROLE, &[genl::HA_BACKUP])],
            ),
        );
        want[12..16].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(bytes, want);
        assert_eq!(
            ha_set_request(HaRole::Standalone).attrs,
            vec![Attr::u8(genl::A_HA_ROLE, genl::HA_STANDALONE)]
        );
    }

    #[test]
    fn ha_get_reply_and_its_defaults() {
        let reply = genlmsg(
            genl::CMD_HA_GET,
            &[
                nla(genl::A_HA_ROLE, &[genl::HA_ACTIVE]),
                nla(genl::A_PAD, &[]),
                nla(genl::A_REPL_HEAD, &77u64.to_ne_bytes()),
                nla(genl::A_REPL_CAPACITY, &4096u32.to_ne_bytes()),
            ],
        );
        let s = decode_ha_state(&replies(&nlmsg(30, 0, 1, &reply)));
        assert_eq!(
            s,
            HaState {
                role: HaRole::Active,
                head: 77,
                capacity: 4096
            }
        );
        // An older sara.ko says nothing: standalone, an empty ring.
        let s = decode_ha_state(&[]);
        assert_eq!((s.role, s.head, s.capacity), (HaRole::Standalone, 0, 0));
        // A role newer than this sarectl is kept as its number.
        let r = vec![Reply {
            cmd: genl::CMD_HA_GET,
            attrs: vec![Attr::u8(genl::A_HA_ROLE, 7)],
        }];
        assert_eq!(decode_ha_state(&r).role, HaRole::Unknown(7));
    }

    #[test]
    fn call_dump_request_and_reply() {
        let req = repl_calls_request(0);
        assert_eq!(req.cmd, genl::CMD_REPL_GET);
        assert_eq!(
            req.attrs,
            vec![Attr::bytes(genl::A_REPL_CALLS, 0u64.to_ne_bytes())]
        );
        let call = Record::Call(sara_core::msg::repl::CallRecord {
            session_id: 5,
            len: 3,
            hash: [1, 2],
            head: *b"abc\0\0\0\0\0",
            tail: *b"abc\0\0\0",
        });
        let run = run_bytes(&[Record::CallKey([4; 16]), call]);
        let reply = genlmsg(
            genl::CMD_REPL_GET,
            &[
                nla(genl::A_REPL_RECORDS, &run),
                nla(genl::A_REPL_CALLS, &((3u64 << 32) | 17).to_ne_bytes()),
            ],
        );
        let (got, next) = decode_repl_calls(&replies(&nlmsg(30, 0, 1, &reply)));
        assert_eq!(got, run);
        assert_eq!(next, Some((3u64 << 32) | 17));
        // The last part: no cursor, the dump is over (as from an older sara.ko that ignores it).
        let reply = genlmsg(genl::CMD_REPL_GET, &[nla(genl::A_REPL_RECORDS, &[])]);
        assert_eq!(
            decode_repl_calls(&replies(&nlmsg(30, 0, 1, &reply))),
            (Vec::new(), None)
        );
    }

    #[test]
    fn ring_read_request_and_reply() {
        let req = repl_get_request(1000);
        assert_eq!(req.cmd, genl::CMD_REPL_GET);
        assert_eq!(
            req.attrs,
            vec![Attr::bytes(genl::A_REPL_SEQ, 1000u64.to_ne_bytes())]
        );
        let run = run_bytes(&[session(5), Record::SessionEnded { session_id: 5 }]);
        let reply = genlmsg(
            genl::CMD_REPL_GET,
            &[
                nla(genl::A_REPL_SEQ, &1002u64.to_ne_bytes()),
                nla(genl::A_REPL_HEAD, &1004u64.to_ne_bytes()),
                nla(genl::A_REPL_RECORDS, &run),
                nla(genl::A_REPL_LOST, &[1]),
            ],
        );
        let r = decode_repl_run(&replies(&nlmsg(30, 0, 1, &reply)), 1000);
        assert_eq!((r.first, r.lost), (1002, true));
        assert_eq!(
            r.records().unwrap(),
            vec![session(5), Record::SessionEnded { session_id: 5 }]
        );
        // Nothing new: the run starts where it was asked, empty, nothing lost.
        let r = decode_repl_run(&[], 1000);
        assert_eq!((r.first, r.lost, r.run.len()), (1000, false, 0));
        assert!(r.records().unwrap().is_empty());
        let bad = ReplRun {
            first: 0,
            lost: false,
            run: vec![1, 2, 3],
        };
        assert!(bad.records().is_err());
    }

    #[test]
    fn apply_request_and_reply() {
        let req = repl_apply_request(&[session(1), session(2)], true);
        assert_eq!(req.cmd, genl::CMD_REPL_APPLY);
        assert_eq!(req.attrs.len(), 2);
        assert_eq!(req.attrs[0].ty, genl::A_REPL_RECORDS);
        assert_eq!(
            repl::parse_records(&req.attrs[0].payload)
                .unwrap()
                .collect::<Vec<_>>(),
            vec![session(1), session(2)]
        );
        assert_eq!(req.attrs[1], Attr::bytes(genl::A_HA_FLUSH, []));
        assert_eq!(repl_apply_request(&[], false).attrs.len(), 1);
        let reply = genlmsg(
            genl::CMD_REPL_APPLY,
            &[
                nla(genl::A_REPL_APPLIED, &2u32.to_ne_bytes()),
                nla(genl::A_REPL_FAILED, &1u32.to_ne_bytes()),
            ],
        );
        assert_eq!(
            decode_repl_applied(&replies(&nlmsg(30, 0, 1, &reply))),
            ReplApplied {
                applied: 2,
                failed: 1,
                skipped: 0
            }
        );
        assert_eq!(
            decode_repl_applied(&[]),
            ReplApplied {
                applied: 0,
                failed: 0,
                skipped: 0
            }
        );
    }

    #[test]
    fn adopt_request_and_reply() {
        let req = repl_adopt_request(&[session(1)]);
        assert_eq!(req.cmd, genl::CMD_REPL_APPLY);
        assert_eq!(
            repl::parse_records(&req.attrs[0].payload)
                .unwrap()
                .collect::<Vec<_>>(),
            vec![session(1)]
        );
        assert_eq!(req.attrs[1], Attr::bytes(genl::A_REPL_ADOPT, []));
        assert_eq!(req.attrs.len(), 2, "never with A_HA_FLUSH");
        let reply = genlmsg(
            genl::CMD_REPL_APPLY,
            &[
                nla(genl::A_REPL_APPLIED, &3u32.to_ne_bytes()),
                nla(genl::A_REPL_SKIPPED, &4u32.to_ne_bytes()),
                nla(genl::A_REPL_FAILED, &1u32.to_ne_bytes()),
            ],
        );
        assert_eq!(
            decode_repl_applied(&replies(&nlmsg(30, 0, 1, &reply))),
            ReplApplied {
                applied: 3,
                failed: 1,
                skipped: 4
            }
        );
    }
}
