//! The Call-ID index as a set of shards beside the flow table, and the steps that span both (one lock
//! at a time, as [`super::super::table::Table`] does): finding a call's session, opening a new call,
//! ending one, and sweeping the entries of sessions that have gone.
//!
//! The kernel keeps one [`CallIndex`] per flow-table shard, each behind its own BH-safe lock, and
//! implements [`CallShards`] over them; the host implementation over `[RefCell<…>]` is for tests.
//! No method here holds an index lock while it takes a table lock, or the other way round: each step
//! re-validates what the previous one found (session id + location, value check in
//! [`CallIndex::remove_at`]).

use super::super::flow::{shard_of, FlowHasher, FlowKey, Wildcard};
use super::super::msg::repl::CallRecord;
use super::super::table::{
    FlowInfo, InsertError, Loc, Millis, Removal, SessionRef, ShardSet, Table, Walk, MAX_TIMEOUT_MS,
};
use super::route::{call_record_key, home_of_new_call, Home, CALL_RECORD_PROBES};
use super::{
    client_v4, CallIndex, CallInfo, CallInsertError, CallKey, CallMark, CallSlot, CallStats,
};
use core::cell::RefCell;
use core::ops::DerefMut;

/// The index entry of a live call has this lifetime: it lives while its session does (the sweep
/// removes it once the session has gone) or, after its BYE, for the linger time.
pub const ENTRY_TIMEOUT_MS: u32 = MAX_TIMEOUT_MS;

/// Entries [`Calls::dump`] copies out under one lock (a fixed array on the stack: 8 × 80 bytes).
pub const DUMP_BATCH: usize = 8;

/// Entries one sweep batch checks against the table (a fixed array on the stack: 8 × 12 bytes).
pub const SWEEP_BATCH: usize = 8;

/// Access to the Call-ID index's shards, one at a time (as [`ShardSet`] for the table).
pub trait CallShards {
    /// The slot storage of each shard.
    type Storage: DerefMut<Target = [CallSlot<SessionRef>]>;

    /// Number of shards.
    fn shard_count(&self) -> usize;

    /// Runs `f` on shard `i` with exclusive access; `None` if there is no shard `i`.
    fn with_shard<R, F: FnOnce(&mut CallIndex<Self::Storage, SessionRef>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R>;
}

impl<S: DerefMut<Target = [CallSlot<SessionRef>]>> CallShards
    for [RefCell<CallIndex<S, SessionRef>>]
{
    type Storage = S;

    fn shard_count(&self) -> usize {
        self.len()
    }

    fn with_shard<R, F: FnOnce(&mut CallIndex<S, SessionRef>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R> {
        let mut shard = self.get(i)?.try_borrow_mut().ok()?;
        Some(f(&mut shard))
    }
}

/// Where a call's datagram goes (from [`Calls::find`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The call is indexed and its session is alive (refreshed): to `server`.
    Live {
        /// The call's session.
        session: SessionRef,
        /// Its server.
        server: u16,
    },
    /// The call has ended (BYE) and its session record still lingers: to its server, no inspection
    /// (a retransmitted BYE, the ACK of a late response).
    Ended {
        /// The session.
        session: SessionRef,
        /// Its server.
        server: u16,
    },
    /// Not indexed, or its session has gone (the stale entry is removed here).
    No,
}

/// Why a new call was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenCallError {
    /// The flow table has no room for the call's session record (or every probe clashed).
    TableFull,
    /// The Call-ID index is full (no live call is ever evicted).
    IndexFull,
    /// Another CPU indexed the same call a moment ago: follow it (find the call again).
    Raced,
}

/// What a new call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedCall {
    /// Its session.
    pub session: SessionRef,
    /// Its session record's key (for replication: the signalling 5-tuple, or its own key).
    pub key: FlowKey,
    /// Where it went.
    pub home: Home,
    /// Location of its index entry.
    pub entry: Loc,
}

/// What [`Calls::sweep_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Slots visited.
    pub visited: u32,
    /// Entries removed because their session had gone.
    pub removed: u32,
}

/// The Call-ID index: a hasher (the flow table's) and a set of shards.
#[derive(Debug)]
pub struct Calls<'a, C: CallShards + ?Sized> {
    shards: &'a C,
    hasher: FlowHasher,
}

impl<'a, C: CallShards + ?Sized> Calls<'a, C> {
    /// The index over `shards` (shard `i` made with index `i`), hashing with `hasher` (the
    /// kernel's Call-ID key: its own, shared by an HA pair; see `msg::repl`'s `CallKey`).
    pub fn new(shards: &'a C, hasher: FlowHasher) -> Self {
        Calls { shards, hasher }
    }

    /// The keyed hash of `key`.
    pub fn hash(&self, key: &CallKey<'_>) -> u64 {
        key.hash(&self.hasher)
    }

    fn shard(&self, hash: u64) -> usize {
        shard_of(hash, self.shards.shard_count())
    }

    fn with<R, F: FnOnce(&mut CallIndex<C::Storage, SessionRef>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R> {
        self.shards.with_shard(i, f)
    }

    /// The live entry of `key`, refreshed, without looking at its session.
    pub fn entry(&self, key: &CallKey<'_>, hash: u64, now: Millis) -> Option<CallInfo<SessionRef>> {
        self.with(self.shard(hash), |x| x.refresh(key, hash, now))
            .flatten()
    }

    /// Finds the call of `key` and its session: the entry is refreshed, and the datagram (`bytes`) is
    /// counted on the session's signalling record, which it refreshes (0 bytes: a lookup that counts
    /// nothing, e.g. after a race). An entry whose session has gone is removed and the call reported
    /// as not indexed.
    #[allow(clippy::too_many_arguments)]
    pub fn find<T: ShardSet + ?Sized, F: FnMut(&FlowInfo, Removal)>(
        &self,
        table: &Table<'_, T>,
        key: &CallKey<'_>,
        hash: u64,
        now: Millis,
        bytes: u32,
        on_remove: &mut F,
    ) -> Found {
        let Some(e) = self.entry(key, hash, now) else {
            return Found::No;
        };
        let session = e.value;
        if let Some(server) = table.touch_session(session, now, bytes, on_remove) {
            return Found::Live { session, server };
        }
        if let Some(f) = table.session_record(session).filter(|f| f.ended) {
            return Found::Ended {
                session,
                server: f.server,
            };
        }
        self.with(e.loc.shard(), |x| x.remove_at(e.loc, &session));
        Found::No
    }

    /// Opens a new call: its session record (see [`super::route`]: the signalling 5-tuple `socket`'s
    /// record, or one of its own under the service at `socket`'s destination) on `server`, then its
    /// index entry. On [`OpenCallError::IndexFull`] and [`OpenCallError::Raced`] the session record
    /// just made is removed again (nothing was announced in it yet).
    #[allow(clippy::too_many_arguments)]
    pub fn open<T: ShardSet + ?Sized, F: FnMut(&FlowInfo, Removal)>(
        &self,
        table: &Table<'_, T>,
        socket: &FlowKey,
        key: &CallKey<'_>,
        hash: u64,
        session_id: u32,
        server: u16,
        timeout_ms: u32,
        now: Millis,
        bytes: u32,
        on_remove: &mut F,
    ) -> Result<OpenedCall, OpenCallError> {
        let mut home = home_of_new_call(table.get(socket, Wildcard::Exact).as_ref(), now);
        if home == Home::SocketReused {
            table.remove(socket, Wildcard::Exact);
        }
        let mut opened = None;
        if home != Home::Own {
            match table.open_session(
                socket, session_id, server, timeout_ms, now, bytes, on_remove,
            ) {
                Ok(r) => opened = Some((r, *socket)),
                Err(InsertError::Full) => return Err(OpenCallError::TableFull),
                // Another call took the socket's record a moment ago (another CPU).
                Err(InsertError::Exists(_)) => home = Home::Own,
            }
        }
        if opened.is_none() {
            for probe in 0..CALL_RECORD_PROBES {
                let k = call_record_key(
                    socket.src_addr,
                    socket.dst_addr,
                    socket.dst_port,
                    hash,
                    probe,
                );
                match table.open_session(&k, session_id, server, timeout_ms, now, bytes, on_remove)
                {
                    Ok(r) => {
                        opened = Some((r, k));
                        break;
                    }
                    Err(InsertError::Full) => return Err(OpenCallError::TableFull),
                    Err(InsertError::Exists(_)) => {}
                }
            }
        }
        let (session, rkey) = opened.ok_or(OpenCallError::TableFull)?;
        let ins = self
            .with(self.shard(hash), |x| {
                x.insert(key, hash, session, ENTRY_TIMEOUT_MS, now)
            })
            .unwrap_or(Err(CallInsertError::Full));
        match ins {
            Ok(entry) => Ok(OpenedCall {
                session,
                key: rkey,
                home,
                entry,
            }),
            Err(e) => {
                // Not a session after all: gone without a trace (no session end is reported).
                table.remove(&rkey, Wildcard::Exact);
                Err(match e {
                    // A key's mark is always valid: `Invalid` cannot happen here.
                    CallInsertError::Full | CallInsertError::Invalid => OpenCallError::IndexFull,
                    CallInsertError::Exists(_) => OpenCallError::Raced,
                })
            }
        }
    }

    /// Binds a replicated call (its [`CallMark`], from the active dispatcher's `Call` record) to
    /// `session` (the session its record was applied to): the call's messages then find that
    /// session here, provided this index hashes with the sender's key (see `msg::repl`'s `CallKey`).
    /// An entry of the same call bound to another session is replaced (the active dispatcher's view
    /// wins). Refused: a mark no call can have, a full index.
    pub fn bind(
        &self,
        mark: &CallMark,
        session: SessionRef,
        now: Millis,
    ) -> Result<Loc, CallInsertError<SessionRef>> {
        self.with(self.shard(mark.hash), |x| {
            match x.insert_mark(mark, session, ENTRY_TIMEOUT_MS, now) {
                Err(CallInsertError::Exists(e)) if e.value == session => Ok(e.loc),
                Err(CallInsertError::Exists(e)) => {
                    x.remove_at(e.loc, &e.value);
                    x.insert_mark(mark, session, ENTRY_TIMEOUT_MS, now)
                }
                r => r,
            }
        })
        .unwrap_or(Err(CallInsertError::Full))
    }

    /// Applies a replicated `Call` record on a backup: binds its call to `session` (the session of
    /// the `Session` record before it), the client address being the source address of that
    /// session's signalling record (a socket's 5-tuple or a call's own key). Refused: `session` has no
    /// live record here, or [`Self::bind`] refuses.
    pub fn bind_replicated<T: ShardSet + ?Sized>(
        &self,
        table: &Table<'_, T>,
        session: SessionRef,
        rec: &CallRecord,
        now: Millis,
    ) -> Result<Loc, CallInsertError<SessionRef>> {
        let Some(f) = table.session_record(session).filter(|f| !f.ended) else {
            return Err(CallInsertError::Invalid);
        };
        self.bind(&rec.mark(client_v4(f.key.src_addr)), session, now)
    }

    /// Adopts a peer dispatcher's `Call` record on the active one ("adopt if absent", see
    /// [`super::super::adopt`]): binds its call to `session` as [`Self::bind_replicated`] does, but
    /// only when the index has no live entry for the call: an entry already there, whatever session
    /// it names, is kept ([`CallInsertError::Exists`]). Refused as there: `session` has no live
    /// record here, a mark no call can have, a full index.
    pub fn adopt<T: ShardSet + ?Sized>(
        &self,
        table: &Table<'_, T>,
        session: SessionRef,
        rec: &CallRecord,
        now: Millis,
    ) -> Result<Loc, CallInsertError<SessionRef>> {
        let Some(f) = table.session_record(session).filter(|f| !f.ended) else {
            return Err(CallInsertError::Invalid);
        };
        let mark = rec.mark(client_v4(f.key.src_addr));
        self.with(self.shard(mark.hash), |x| {
            x.insert_mark(&mark, session, ENTRY_TIMEOUT_MS, now)
        })
        .unwrap_or(Err(CallInsertError::Full))
    }

    /// Whether this index hashes with the Call-ID key `key` (a `CallKey` record's).
    pub fn uses_key(&self, key: &[u8; 16]) -> bool {
        FlowHasher::new(*key).words() == self.hasher.words()
    }

    /// Hands the entries in use to `f` from `*cursor` (shard in the high 32 bits, slot in the low;
    /// start with 0), at most `budget` slots visited; stops early when `f` returns false (that entry
    /// comes again next call). Returns [`Walk::Done`] when every shard has been walked. Entries are
    /// copied out under their shard's lock [`DUMP_BATCH`] at a time and `f` runs with no lock held,
    /// so it may look at the table. Entries never move while they live, so one that lives
    /// throughout is handed exactly once.
    pub fn dump<F: FnMut(&CallInfo<SessionRef>) -> bool>(
        &self,
        cursor: &mut u64,
        budget: usize,
        mut f: F,
    ) -> Walk {
        let mut left = budget;
        while left > 0 {
            let shard = (*cursor >> 32) as usize;
            if shard >= self.shards.shard_count() {
                return Walk::Done;
            }
            let start = *cursor as u32;
            let mut batch = [None::<CallInfo<SessionRef>>; DUMP_BATCH];
            let mut slot = start;
            let mut n = 0usize;
            let walk = self
                .with(shard, |x| {
                    // Stop when the batch is full: its last entry's slot is where to go on.
                    x.dump(&mut slot, left, |e| {
                        let Some(b) = batch.get_mut(n) else {
                            return false;
                        };
                        *b = Some(*e);
                        n = n.saturating_add(1);
                        true
                    })
                })
                .unwrap_or(Walk::Done);
            // `slot` is 0 after a whole shard (Walk::Done), else the first slot not visited.
            let next = if walk == Walk::Done {
                ((shard as u64).saturating_add(1)) << 32
            } else {
                ((shard as u64) << 32) | u64::from(slot)
            };
            // A finished shard counts one slot: the walk goes on to the next (at most the shard
            // count of them per call).
            let visited = if walk == Walk::Done {
                1
            } else {
                slot.saturating_sub(start) as usize
            };
            for e in batch.iter().take(n).flatten() {
                if !f(e) {
                    *cursor = ((shard as u64) << 32) | e.loc.slot() as u64;
                    return Walk::More;
                }
            }
            *cursor = next;
            left = left.saturating_sub(visited.max(1));
        }
        if (*cursor >> 32) as usize >= self.shards.shard_count() {
            Walk::Done
        } else {
            Walk::More
        }
    }

    /// The call of `key` has ended (its BYE): its entry lingers `linger_ms` (retransmissions of the
    /// BYE still reach its server). Ending its session is the caller's (DPI's) part.
    pub fn end(
        &self,
        key: &CallKey<'_>,
        hash: u64,
        now: Millis,
        linger_ms: u32,
    ) -> Option<CallInfo<SessionRef>> {
        self.with(self.shard(hash), |x| x.end(key, hash, now, linger_ms))
            .flatten()
    }

    /// One purge step of every shard: dead entries removed (`budget` slots per shard).
    pub fn purge_step(&self, now: Millis, budget: usize) -> u32 {
        let mut removed = 0u32;
        for i in 0..self.shards.shard_count() {
            if let Some(p) = self.with(i, |x| x.purge_step(now, budget)) {
                removed = removed.saturating_add(p.removed);
            }
        }
        removed
    }

    /// One sweep step of every shard (`budget` slots per shard, in batches of [`SWEEP_BATCH`]):
    /// entries whose session record no longer holds their session are removed. Ended sessions count
    /// as present (their entries linger by their own timeout), except with `ended_too`: a backup
    /// dispatcher's replicated bindings never see their call's BYE (only its session's end), and
    /// its table is not aged, so there an ended session's binding goes with the end.
    pub fn sweep_step<T: ShardSet + ?Sized>(
        &self,
        table: &Table<'_, T>,
        budget: usize,
        ended_too: bool,
    ) -> SweepReport {
        let mut rep = SweepReport::default();
        for i in 0..self.shards.shard_count() {
            let mut left = budget;
            while left > 0 {
                let mut batch = [(Loc::default(), SessionRef::default()); SWEEP_BATCH];
                let Some(s) = self.with(i, |x| x.sweep_collect(left, &mut batch)) else {
                    break;
                };
                rep.visited = rep.visited.saturating_add(s.visited);
                left = left.saturating_sub(s.visited as usize);
                for (loc, r) in batch.iter().take(s.found) {
                    let gone = match table.session_record(*r) {
                        None => true,
                        Some(f) => ended_too && f.ended,
                    };
                    if gone && self.with(i, |x| x.remove_at(*loc, r)).flatten().is_some() {
                        rep.removed = rep.removed.saturating_add(1);
                    }
                }
                if s.visited == 0 || s.wrapped {
                    break;
                }
            }
        }
        rep
    }

    /// Entries in use, capacity, and the counters summed over the shards.
    pub fn fill(&self) -> (usize, usize, CallStats) {
        let (mut len, mut cap, mut st) = (0usize, 0usize, CallStats::default());
        for i in 0..self.shards.shard_count() {
            if let Some((l, c, s)) = self.with(i, |x| (x.len(), x.capacity(), x.stats())) {
                len = len.saturating_add(l);
                cap = cap.saturating_add(c);
                st.full = st.full.saturating_add(s.full);
                st.expired = st.expired.saturating_add(s.expired);
            }
        }
        (len, cap, st)
    }

    /// Removes every entry (a backup resynchronising, the table cleared).
    pub fn clear(&self) -> usize {
        let mut n = 0usize;
        for i in 0..self.shards.shard_count() {
            n = n.saturating_add(self.with(i, |x| x.clear()).unwrap_or(0));
        }
        n
    }
}
