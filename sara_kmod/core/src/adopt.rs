//! "Adopt if absent": how the active dispatcher takes sessions its peer opened while the peer held
//! the virtual IP too — a handback from a peer that has just stepped down, or what a second active
//! peer replicated while both were active — without undoing any decision of its own
//! (decisions.md, "A dispatcher that steps down hands its sessions to the winner").
//!
//! A record run is walked in order, as a backup walks one (`sara.ko`'s `repl::apply`): a `Flow` or
//! `Call` record belongs to the session of the latest `Session` record before it in the run with
//! the same session id. For each record, given what this dispatcher's table and Call-ID index hold:
//!
//! * `Session`: no live record under its signalling flow → the session is opened here, on the
//!   record's server, under a session id of this dispatcher's own (the peer handed out its ids on
//!   its own: the same numbers may name other sessions here). Its live signalling record there, on
//!   the record's server → the same session as far as can be told (adopted before, or both
//!   dispatchers chose alike): nothing changes, and the records that follow join it. Anything else
//!   there (the session on another server, an ended session lingering, a member flow) → this
//!   dispatcher's decision stands, and the records that follow for that session are skipped.
//! * `Flow`: installed in the current session only if no live record has its key.
//! * `Call`: bound to the current session only if the index has no live entry for the call, and
//!   only while the run's Call-ID key (its latest `CallKey` record) is this index's: a call hashed
//!   under another key could never be found here (refused).
//! * `CallKey`: this dispatcher's key never changes; it only says whether the run's calls can be
//!   bound.
//! * `SessionEnded`: nothing; an active dispatcher ends its sessions on its own evidence.
//!
//! What is installed comes back in [`Step::Adopted`] as this dispatcher replicates it to its own
//! backup (with its own session id). Nothing already there is ever changed or removed, so adopting
//! a run twice changes nothing the second time — except that an announced flow with an unknown port
//! whose first packet came in between (its wildcard entry then became the exact flow) is announced
//! again: a second entry of the same session, on its server, that expires unused.

use super::calls::{CallInsertError, CallShards, Calls};
use super::flow::Wildcard;
use super::msg::repl::{CallRecord, FlowRecord, Record, SessionRecord};
use super::table::{
    AnnounceError, FlowInfo, Identity, InsertError, Millis, Removal, SessionRef, ShardSet, Table,
};

/// What to do with a `Session` record, given the record the table holds under its signalling flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionChoice {
    /// Nothing live there: open the session here.
    Open,
    /// The live signalling record of a session on the record's server: the same session; what
    /// follows joins it.
    Join(SessionRef),
    /// Something else holds the key: this dispatcher's decision stands; what follows is skipped.
    Keep,
}

/// Whether `f` is past its life at `now` (idle over twice its timeout, or, ended, over its linger):
/// gone, whether or not the purge has removed it yet.
fn expired(f: &FlowInfo, now: Millis) -> bool {
    let limit = if f.ended {
        f.timeout_ms
    } else {
        f.timeout_ms.saturating_mul(2)
    };
    f.idle(now) > limit
}

/// The choice for a `Session` record of a session on `server`, `present` being the table's record
/// under its signalling flow (exact key), if any.
pub fn session_choice(present: Option<&FlowInfo>, server: u16, now: Millis) -> SessionChoice {
    match present {
        None => SessionChoice::Open,
        Some(f) if expired(f, now) => SessionChoice::Open,
        Some(f) if f.identity == Identity::Signalling && !f.ended && f.server == server => {
            SessionChoice::Join(f.session)
        }
        Some(_) => SessionChoice::Keep,
    }
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Installed: the record as this dispatcher replicates it (its own session id).
    Adopted(Record),
    /// Not installed: this dispatcher has it already, or its own decision covers it.
    Skipped,
    /// Not installed: no session before it, a full table or index, a call under another key, a
    /// record that is no session state.
    Refused,
    /// Nothing to install: a `CallKey` record (it only decides whether the run's calls can be bound).
    Noted,
}

/// The session the records that follow belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Current {
    None,
    /// Peer's session id → this dispatcher's session (opened or joined).
    Into(u32, SessionRef),
    /// Peer's session id whose records are skipped (this dispatcher's decision stands).
    Skip(u32),
}

/// One run of records being adopted (one `CMD_REPL_APPLY` in adopt mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdoptRun {
    cur: Current,
    /// The run's calls hash under this index's key (true until a `CallKey` says otherwise: the peer
    /// of an HA pair in sync hashes with the active's key).
    key_ok: bool,
}

impl Default for AdoptRun {
    fn default() -> Self {
        Self::new()
    }
}

impl AdoptRun {
    /// A run at its start.
    pub const fn new() -> Self {
        AdoptRun {
            cur: Current::None,
            key_ok: true,
        }
    }

    /// Adopts one record into `table` and `calls` at `now`; `new_id` gives a session id of this
    /// dispatcher's for a session opened here; `on_remove` is told of records the table drops on
    /// the way (expired ones met).
    pub fn record<T, C, I, F>(
        &mut self,
        rec: &Record,
        table: &Table<'_, T>,
        calls: &Calls<'_, C>,
        now: Millis,
        new_id: &mut I,
        on_remove: &mut F,
    ) -> Step
    where
        T: ShardSet + ?Sized,
        C: CallShards + ?Sized,
        I: FnMut() -> u32,
        F: FnMut(&FlowInfo, Removal),
    {
        match *rec {
            Record::Session(s) => self.session(&s, table, now, new_id, on_remove),
            Record::Flow(f) => match self.cur {
                Current::Into(id, r) if id == f.session_id => {
                    Self::flow(&f, r, table, now, on_remove)
                }
                Current::Skip(id) if id == f.session_id => Step::Skipped,
                _ => Step::Refused,
            },
            Record::Call(c) => match self.cur {
                Current::Into(id, r) if id == c.session_id => {
                    if !self.key_ok {
                        return Step::Refused;
                    }
                    match calls.adopt(table, r, &c, now) {
                        Ok(_) => Step::Adopted(Record::Call(CallRecord {
                            session_id: r.id,
                            ..c
                        })),
                        Err(CallInsertError::Exists(_)) => Step::Skipped,
                        Err(_) => Step::Refused,
                    }
                }
                Current::Skip(id) if id == c.session_id => Step::Skipped,
                _ => Step::Refused,
            },
            Record::CallKey(key) => {
                self.key_ok = calls.uses_key(&key);
                Step::Noted
            }
            Record::SessionEnded { .. } => Step::Skipped,
            _ => Step::Refused,
        }
    }

    fn session<T, I, F>(
        &mut self,
        s: &SessionRecord,
        table: &Table<'_, T>,
        now: Millis,
        new_id: &mut I,
        on_remove: &mut F,
    ) -> Step
    where
        T: ShardSet + ?Sized,
        I: FnMut() -> u32,
        F: FnMut(&FlowInfo, Removal),
    {
        let present = table.get(&s.flow, Wildcard::Exact);
        match session_choice(present.as_ref(), s.server_id, now) {
            SessionChoice::Join(r) => {
                self.cur = Current::Into(s.session_id, r);
                Step::Skipped
            }
            SessionChoice::Keep => {
                self.cur = Current::Skip(s.session_id);
                Step::Skipped
            }
            SessionChoice::Open => {
                let id = new_id();
                let timeout_ms = s.timeout_s.saturating_mul(1000);
                match table.open_session(&s.flow, id, s.server_id, timeout_ms, now, 0, on_remove) {
                    Ok(r) => {
                        self.cur = Current::Into(s.session_id, r);
                        Step::Adopted(Record::Session(SessionRecord {
                            session_id: id,
                            ..*s
                        }))
                    }
                    // Opened a moment ago by a packet here: this dispatcher's own session.
                    Err(InsertError::Exists(_)) => {
                        self.cur = Current::Skip(s.session_id);
                        Step::Skipped
                    }
                    Err(InsertError::Full) => {
                        self.cur = Current::None;
                        Step::Refused
                    }
                }
            }
        }
    }

    fn flow<T, F>(
        f: &FlowRecord,
        r: SessionRef,
        table: &Table<'_, T>,
        now: Millis,
        on_remove: &mut F,
    ) -> Step
    where
        T: ShardSet + ?Sized,
        F: FnMut(&FlowInfo, Removal),
    {
        if table
            .get(&f.flow, f.wildcard)
            .is_some_and(|x| !expired(&x, now))
        {
            return Step::Skipped;
        }
        let timeout_ms = f.timeout_s.saturating_mul(1000);
        match table.announce(&f.flow, f.wildcard, r, timeout_ms, now, on_remove) {
            Ok(_) => Step::Adopted(Record::Flow(FlowRecord {
                session_id: r.id,
                ..*f
            })),
            Err(AnnounceError::Exists(_)) => Step::Skipped,
            Err(_) => Step::Refused,
        }
    }
}
