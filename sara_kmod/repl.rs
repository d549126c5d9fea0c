// SPDX-License-Identifier: GPL-2.0

//! Dispatcher high availability in the kernel (IPVS: `ip_vs_sync.c`): the namespace's role, the
//! replication ring the active dispatcher fills, and what a backup does with the records it is
//! given. Spec "High availability of the dispatcher"; the daemon side is `sarectl ha`.
//!
//! * Role (`CMD_HA_SET`): standalone (no HA: forwards, records nothing), active (forwards and queues
//!   one `msg::repl` record per session event), backup (forwards nothing: packets for a virtual IP
//!   are dropped and counted; its flows are not aged by idle time, since they see no packets here,
//!   only what replication ended is purged (`conn::FlowTable::sweep_backup`); it takes
//!   records with `CMD_REPL_APPLY`). Backup → active refreshes every flow's idle time, so a
//!   replicated session is timed from the takeover, not from its last packet on the old active.
//! * Events recorded on the active: a session opened (`Session`), moved to another server
//!   (`Session` again, new server), a flow announced by DPI or completed by a gateway report
//!   (`Flow`, with its wildcard), an announced flow confirmed by its first packet (`Flow`, exact
//!   key, secondary), a SIP call opened (`Session`, then `Call`: its Call-ID binding), a session
//!   ended — closed or expired (`SessionEnded`); the Call-ID key (`CallKey`) when the namespace
//!   becomes active or makes its table.
//! * The ring: [`RING_RECORDS`] records, preallocated when a role is first set (control path,
//!   `GFP_KERNEL`), behind one BH-safe lock; record `n` (a 64-bit sequence number) sits in slot
//!   `n mod RING_RECORDS`. The packet path only copies a record in. A reader that falls more than
//!   the ring behind is told (`A_REPL_LOST`) and resynchronises the backup from a flow dump.
//! * Apply on a backup: a `Flow` or `SessionEnded` record applies to the session of the latest
//!   `Session` record before it in the same run with the same session id (`sarectl ha` puts the
//!   session's record in front when it is not there). A `Session` record of a key that is already
//!   the same session's signalling flow is a reassignment (or nothing); of a key held by something
//!   else, a replacement. A `Call` record binds its SIP call to the session of the `Session`
//!   record before it (its Call-ID index entry, under the active's Call-ID key, which a `CallKey`
//!   record at the start of every resync sets here; a changed key empties the index).
//! * Adopt on the active (`CMD_REPL_APPLY` with `A_REPL_ADOPT`, [`adopt`]): the records of sessions
//!   the peer opened while it held the VIP too (its handback after stepping down, or its
//!   replication while both were active) are installed only where this table has nothing — the
//!   decision is `sara_core::adopt`'s — under session ids of this dispatcher's, and queued on this
//!   ring like sessions opened here, so this dispatcher's backup learns them. Nothing already here
//!   is changed (`repl_adopted`, `repl_adopt_skipped`).

use crate::config::Config;
use crate::conn::{Events, FlowTable, Sink, LINGER_MS};
use crate::sara_core::adopt::{AdoptRun, Step};
use crate::sara_core::counters as c;
use crate::sara_core::flow::Wildcard;
use crate::sara_core::msg::repl::{self, Record, SessionRecord};
use crate::sara_core::table::{AnnounceError, FlowInfo, Identity, Removal, SessionRef};
use crate::sys::lock::BhLocks;
use core::sync::atomic::Ordering;
use kernel::alloc::{flags::GFP_KERNEL, KBox, KVVec};
use kernel::prelude::*;

/// Records the ring holds (2 MiB of records): about 20 s of new sessions at 3,000 per second with
/// two flows each, while `sarectl ha` reads it every few milliseconds.
pub(crate) const RING_RECORDS: usize = 65536;

struct Ring {
    buf: KVVec<Record>,
    /// Sequence number of the next record written.
    head: u64,
}

/// The replication ring of one namespace.
pub(crate) struct Repl {
    ring: BhLocks<Ring>,
}

/// What one read of the ring gave.
pub(crate) struct ReadOut {
    /// Sequence number of the first record written to the buffer.
    pub(crate) first: u64,
    /// Sequence number the next record will get.
    pub(crate) head: u64,
    /// Bytes of records written.
    pub(crate) len: usize,
    /// The requested records are gone (overwritten unread, or never written: a reader from an earlier load of the module).
    pub(crate) lost: bool,
}

impl Repl {
    /// An empty ring (control path).
    pub(crate) fn new() -> Result<KBox<Self>> {
        // The inner lock class: records are queued while a shard lock may be held.
        let ring = BhLocks::new_inner(1, |_| {
            let buf = KVVec::from_elem(
                Record::SessionEnded { session_id: 0 },
                RING_RECORDS,
                GFP_KERNEL,
            )?;
            Ok(Ring { buf, head: 0 })
        })?;
        Ok(KBox::new(Self { ring }, GFP_KERNEL)?)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Ring) -> R) -> Option<R> {
        self.ring.get(0).map(|l| l.with(f))
    }

    /// Appends a record (packet path: no allocation, one lock).
    pub(crate) fn push(&self, r: Record) {
        self.with(|ring| {
            let i = (ring.head % RING_RECORDS as u64) as usize;
            if let Some(slot) = ring.buf.get_mut(i) {
                *slot = r;
            }
            ring.head = ring.head.wrapping_add(1);
        });
    }

    /// The sequence number the next record will get.
    pub(crate) fn head(&self) -> u64 {
        self.with(|ring| ring.head).unwrap_or(0)
    }

    /// Encodes records from sequence number `from` on into `out` (a record run), as many as fit.
    pub(crate) fn read(&self, from: u64, out: &mut [u8]) -> ReadOut {
        self.with(|ring| {
            let oldest = ring.head.saturating_sub(RING_RECORDS as u64);
            // Older than the ring holds, or beyond what was written (a reader from before the
            // module was reloaded): the reader must start over from a flow dump.
            let (first, lost) = if from < oldest || from > ring.head {
                (oldest, true)
            } else {
                (from, false)
            };
            let mut seq = first;
            let mut len = 0usize;
            while seq < ring.head {
                let Some(r) = ring.buf.get((seq % RING_RECORDS as u64) as usize) else {
                    break;
                };
                let Some(rest) = out.get_mut(len..) else {
                    break;
                };
                match repl::encode_record(r, rest) {
                    Ok(n) => len = len.saturating_add(n),
                    // The buffer is full: the rest comes with the next read.
                    Err(crate::sara_core::msg::Error::BufferTooSmall) => break,
                    // A record the format cannot carry (none is made so; skipped, never stuck on).
                    Err(_) => {}
                }
                seq = seq.saturating_add(1);
            }
            ReadOut {
                first,
                head: ring.head,
                len,
                lost,
            }
        })
        .unwrap_or(ReadOut {
            first: from,
            head: 0,
            len: 0,
            lost: false,
        })
    }
}

/// Whole seconds of a timeout in ms, rounded up (a record carries seconds).
pub(crate) fn secs(ms: u32) -> u32 {
    ms.div_ceil(1000)
}

/// What one `CMD_REPL_APPLY` did.
#[derive(Default)]
pub(crate) struct Applied {
    pub(crate) applied: u32,
    pub(crate) failed: u32,
}

/// Installs a record run on a backup (control path). `flush` first removes every flow.
pub(crate) fn apply(
    st: &dyn Sink,
    cfg: &Config,
    ft: &FlowTable,
    run: &[u8],
    flush: bool,
) -> core::result::Result<Applied, ()> {
    let records = repl::parse_records(run).map_err(|_| ())?;
    let now = crate::sys::now_ms();
    let t = ft.table();
    let mut ev = Events { st, cfg };
    if flush {
        t.clear(&mut |f, w| ev.removed(f, w));
        // The resync brings the calls' bindings again (`Call` records after their sessions).
        ft.calls().clear();
    }
    let mut out = Applied::default();
    // The session the following Flow / SessionEnded records belong to.
    let mut cur: Option<SessionRef> = None;
    for rec in records {
        let ok = match rec {
            Record::Session(s) => {
                cur = apply_session(st, cfg, ft, &s, now);
                cur.is_some()
            }
            Record::Flow(f) => match cur {
                Some(r) if r.id == f.session_id => {
                    let timeout_ms = f.timeout_s.saturating_mul(1000);
                    match t.announce(&f.flow, f.wildcard, r, timeout_ms, now, &mut |x, w| {
                        ev.removed(x, w)
                    }) {
                        Ok(_) => true,
                        Err(AnnounceError::Exists(loc)) => {
                            t.get_at(loc).is_some_and(|x| x.session == r)
                        }
                        Err(_) => false,
                    }
                }
                _ => false,
            },
            // A SIP call bound to the current session: indexed here under the active's key.
            Record::Call(call) => match cur {
                Some(r) if r.id == call.session_id => {
                    ft.calls().bind_replicated(&t, r, &call, now).is_ok()
                }
                _ => false,
            },
            // The active dispatcher's Call-ID key: the bindings that follow hash as there.
            Record::CallKey(key) => {
                ft.set_call_key(&key);
                true
            }
            Record::SessionEnded { session_id } => match cur {
                Some(r) if r.id == session_id => {
                    let ended = t.end_session(r, now, LINGER_MS, &mut |x, w| ev.removed(x, w));
                    ev.ended(ended);
                    cur = None;
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if ok {
            out.applied = out.applied.saturating_add(1);
            st.count(c::REPL_APPLIED);
        } else {
            out.failed = out.failed.saturating_add(1);
            st.count(c::REPL_REJECTED);
        }
    }
    Ok(out)
}

/// What one `CMD_REPL_APPLY` in adopt mode did.
#[derive(Default)]
pub(crate) struct Adopted {
    pub(crate) adopted: u32,
    pub(crate) skipped: u32,
    pub(crate) failed: u32,
}

/// Adopts a record run from the peer dispatcher on the active one (control path; see the module
/// docs): each record installed only where the table has nothing, never changing what is here.
pub(crate) fn adopt(
    st: &dyn Sink,
    cfg: &Config,
    ft: &FlowTable,
    run: &[u8],
) -> core::result::Result<Adopted, ()> {
    let records = repl::parse_records(run).map_err(|_| ())?;
    let now = crate::sys::now_ms();
    let t = ft.table();
    let calls = ft.calls();
    let mut ev = Events { st, cfg };
    let mut walk = AdoptRun::new();
    let mut new_id = || st.next_session_id();
    let mut out = Adopted::default();
    for rec in records {
        match walk.record(&rec, &t, &calls, now, &mut new_id, &mut |x, w| {
            ev.removed(x, w)
        }) {
            Step::Adopted(r) => {
                if let Record::Session(s) = r {
                    st.count(c::SESSIONS_CREATED);
                    if let Some(server) = cfg.server(s.server_id) {
                        server.live.sessions.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // As a session opened here: this dispatcher's backup learns it from the ring.
                st.replicate(r);
                out.adopted = out.adopted.saturating_add(1);
                st.count(c::REPL_ADOPTED);
            }
            Step::Skipped => {
                out.skipped = out.skipped.saturating_add(1);
                st.count(c::REPL_ADOPT_SKIPPED);
            }
            Step::Refused => {
                out.failed = out.failed.saturating_add(1);
                st.count(c::REPL_REJECTED);
            }
            Step::Noted => {}
        }
    }
    Ok(out)
}

/// A `Session` record: the session, opened or moved, as the active dispatcher has it.
fn apply_session(
    st: &dyn Sink,
    cfg: &Config,
    ft: &FlowTable,
    s: &SessionRecord,
    now: u32,
) -> Option<SessionRef> {
    let t = ft.table();
    let mut ev = Events { st, cfg };
    if let Some(f) = t.get(&s.flow, Wildcard::Exact) {
        if f.identity == Identity::Signalling && f.session.id == s.session_id && !f.ended {
            if f.server != s.server_id && t.reassign(f.session, s.server_id, now) {
                if let Some(old) = cfg.server(f.server) {
                    old.live.session_gone();
                }
                if let Some(new) = cfg.server(s.server_id) {
                    new.live.sessions.fetch_add(1, Ordering::Relaxed);
                }
            }
            return Some(f.session);
        }
        // Another (or an ended) session holds the key: the active dispatcher's view wins.
        if let Some(old) = t.remove(&s.flow, Wildcard::Exact) {
            ev.removed(&old, Removal::Deleted);
        }
    }
    let timeout_ms = s.timeout_s.saturating_mul(1000);
    let r = t
        .open_session(
            &s.flow,
            s.session_id,
            s.server_id,
            timeout_ms,
            now,
            0,
            &mut |x: &FlowInfo, w| ev.removed(x, w),
        )
        .ok()?;
    st.count(c::SESSIONS_CREATED);
    if let Some(server) = cfg.server(s.server_id) {
        server.live.sessions.fetch_add(1, Ordering::Relaxed);
    }
    // Session ids this dispatcher hands out after a takeover must not be those of live sessions.
    st.session_id_seen(s.session_id);
    Some(r)
}
