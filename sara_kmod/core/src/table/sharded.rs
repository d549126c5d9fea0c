//! The table as a set of shards, and every operation that spans shards, written once as a sequence of
//! single-shard steps (see the concurrency contract in the module docs).

use super::super::flow::{shard_of, FlowHasher, FlowKey, Wildcard};
use super::{
    Aging, Counts, FlowInfo, Identity, InsertError, Loc, Millis, Move, Moves, PendingChecks,
    Placement, PurgeReport, Redispatch, Removal, SessionRef, Shard, Slot, Status, Walk,
};
use core::cell::RefCell;
use core::ops::DerefMut;

/// Access to the shards of a table, one at a time.
///
/// The kernel implements it over its array of spinlock-protected shards: `with_shard` takes shard `i`'s
/// lock with BH disabled, runs `f`, and releases the lock. [`Table`] never calls `with_shard` from
/// inside `f`, so no two shard locks are ever held together. The host implementation over
/// `[RefCell<Shard<S>>]` is for tests, tools and benchmarks.
pub trait ShardSet {
    /// The slot storage of each shard.
    type Storage: DerefMut<Target = [Slot]>;

    /// Number of shards.
    fn shard_count(&self) -> usize;

    /// Runs `f` on shard `i` with exclusive access; `None` if there is no shard `i` (or it is busy,
    /// which the contract rules out).
    fn with_shard<R, F: FnOnce(&mut Shard<Self::Storage>) -> R>(&self, i: usize, f: F)
        -> Option<R>;
}

impl<S: DerefMut<Target = [Slot]>> ShardSet for [RefCell<Shard<S>>] {
    type Storage = S;

    fn shard_count(&self) -> usize {
        self.len()
    }

    fn with_shard<R, F: FnOnce(&mut Shard<S>) -> R>(&self, i: usize, f: F) -> Option<R> {
        let cell = self.get(i)?;
        let mut shard = cell.try_borrow_mut().ok()?;
        Some(f(&mut shard))
    }
}

/// Options of [`Table::packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketOpts {
    /// A packet on a member flow refreshes its session's signalling flow (see the module docs).
    pub keep_alive: bool,
    /// Try the wildcard entries when the exact lookup misses. The kernel may clear it while no
    /// wildcard entry exists anywhere (sum of [`Counts::wildcards`], e.g. kept in an atomic), to save
    /// the three extra lookups.
    pub probe_wildcards: bool,
}

impl Default for PacketOpts {
    fn default() -> Self {
        PacketOpts {
            keep_alive: true,
            probe_wildcards: true,
        }
    }
}

/// Where a known packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// The server: the session's.
    pub server: u16,
    /// The flow the packet belongs to, after this packet. For a wildcard match: the exact flow just
    /// installed, or the wildcard entry if it could not be installed (see `installed`).
    pub flow: FlowInfo,
    /// Identity before this packet.
    pub prev_identity: Identity,
    /// Status before this packet.
    pub prev_status: Status,
    /// Matched through a wildcard entry (second lookup).
    pub wildcard: Option<Wildcard>,
    /// For a wildcard match: the exact key was installed as a Secondary flow. False when its shard was
    /// full (the packet is forwarded anyway and the wildcard entry is kept).
    pub installed: bool,
}

impl Forward {
    /// True when the payload should go to DPI: a signalling flow that has not ended.
    pub fn inspect(&self) -> bool {
        self.flow.identity == Identity::Signalling && !self.flow.ended
    }
}

/// Result of [`Table::packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classified {
    /// A packet of a known flow of a live session.
    Known(Forward),
    /// No live flow matches: if the packet is for a virtual service it may open a session (admission,
    /// selection, then [`Table::open_session`]); otherwise it is not SARA's.
    Unknown,
}

/// Why an announcement failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnounceError {
    /// The session given to [`Table::announce`] is not alive.
    SessionGone,
    /// The target shard is full.
    Full,
    /// Another live session already has a flow with this key.
    Exists(Loc),
    /// No live wildcard entry to complete (none stored, expired, or its session is over).
    NotFound,
    /// The completed key does not fit the partial one (differs outside the wildcard ports).
    Mismatch,
}

/// A position in a walk over all shards (dump, redispatch). Start from `TableCursor::default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableCursor {
    /// Shard being walked.
    pub shard: u32,
    /// Next slot in that shard.
    pub slot: u32,
}

/// The flow table: a hasher and a set of shards. Every method is a sequence of single-shard steps.
#[derive(Debug)]
pub struct Table<'a, T: ShardSet + ?Sized> {
    shards: &'a T,
    hasher: FlowHasher,
    /// Counts the moves of flows between records, for consistent dumps (see [`Moves`]).
    moves: Option<&'a Moves>,
}

impl<'a, T: ShardSet + ?Sized> Table<'a, T> {
    /// A table over `shards`; shard `i` must have been made with index `i`.
    pub fn new(shards: &'a T, hasher: FlowHasher) -> Self {
        Table {
            shards,
            hasher,
            moves: None,
        }
    }

    /// The same table, counting its flows' moves between records on `moves` (the kernel keeps one
    /// clock per table, so its dumps can tell whether they overlapped a move).
    pub fn with_moves(self, moves: &'a Moves) -> Self {
        Table {
            moves: Some(moves),
            ..self
        }
    }

    /// Marks a move of a flow from one record to another as begun, if moves are counted.
    fn begin_move(&self) -> Option<Move<'a>> {
        self.moves.map(Moves::begin)
    }

    /// The hasher.
    pub fn hasher(&self) -> &FlowHasher {
        &self.hasher
    }

    /// Hash of a key.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash(key)
    }

    /// The shard of a hash.
    pub fn shard_index(&self, hash: u64) -> usize {
        shard_of(hash, self.shards.shard_count())
    }

    fn with<R, F: FnOnce(&mut Shard<T::Storage>) -> R>(&self, i: usize, f: F) -> Option<R> {
        self.shards.with_shard(i, f)
    }

    /// Checks session `r` in its shard.
    fn session<F: FnMut(&FlowInfo, Removal)>(
        &self,
        r: SessionRef,
        now: Millis,
        keep_alive: bool,
        on_remove: &mut F,
    ) -> Option<u16> {
        self.with(r.loc.shard(), |s| s.session(r, now, keep_alive, on_remove))
            .flatten()
            .map(|i| i.server)
    }

    fn drop_member<F: FnMut(&FlowInfo, Removal)>(
        &self,
        loc: Loc,
        r: SessionRef,
        why: Removal,
        on_remove: &mut F,
    ) {
        if let Some(info) = self
            .with(loc.shard(), |s| s.remove_member(loc, r))
            .flatten()
        {
            on_remove(&info, why);
        }
    }

    /// The packet path's lookup (paper Fig. 3), for a packet with key `key` and `bytes` bytes:
    /// 1. exact lookup in the key's shard: a Signalling flow is forwarded to its server; a member flow
    ///    is forwarded to its session's server after checking the session in the session's shard (a
    ///    dead session's member is removed and the packet goes on to step 2);
    /// 2. wildcard lookups ([`Wildcard::PROBES`], each in its own shard): a live entry of a live session
    ///    is confirmed: its exact key is installed as a Secondary flow in the key's shard, the wildcard
    ///    entry is removed, and the packet is forwarded;
    /// 3. otherwise [`Classified::Unknown`].
    ///
    /// What the caller does next: admission control (every `Known` packet is an established-session
    /// packet; an `Unknown` one for a virtual service would open a session); DPI on the payload when
    /// [`Forward::inspect`]; on a TCP FIN/RST of a signalling flow, [`Self::end_flow`]. A TCP SYN that
    /// meets a lingering (`ended`) flow means the client reuses the 5-tuple for a new connection:
    /// [`Self::remove`] it and classify the packet again.
    pub fn packet<F: FnMut(&FlowInfo, Removal)>(
        &self,
        key: &FlowKey,
        now: Millis,
        bytes: u32,
        opts: PacketOpts,
        on_remove: &mut F,
    ) -> Classified {
        let h = self.hash(key);
        let e = self.shard_index(h);
        if let Some((flow, prev_identity, prev_status)) = self
            .with(e, |s| s.on_packet(key, h, now, bytes, on_remove))
            .flatten()
        {
            let fwd = |server, flow| Forward {
                server,
                flow,
                prev_identity,
                prev_status,
                wildcard: None,
                installed: false,
            };
            if flow.identity == Identity::Signalling {
                return Classified::Known(fwd(flow.server, flow));
            }
            let r = flow.session;
            match self.session(r, now, opts.keep_alive, on_remove) {
                Some(server) => {
                    let mut flow = flow;
                    if server != flow.server {
                        self.with(e, |s| s.set_server(flow.loc, r, server));
                        flow.server = server;
                    }
                    return Classified::Known(fwd(server, flow));
                }
                None => self.drop_member(flow.loc, r, Removal::Orphaned, on_remove),
            }
        }
        if !opts.probe_wildcards {
            return Classified::Unknown;
        }
        for w in Wildcard::PROBES {
            let wk = key.wildcarded(w);
            let hw = self.hash(&wk);
            let ws = self.shard_index(hw);
            let Some(ann) = self
                .with(ws, |s| s.lookup_wildcard(key, w, hw, now, on_remove))
                .flatten()
            else {
                continue;
            };
            let r = ann.session;
            let Some(server) = self.session(r, now, opts.keep_alive, on_remove) else {
                self.drop_member(ann.loc, r, Removal::Orphaned, on_remove);
                continue;
            };
            // From here until the wildcard entry is removed the flow is in two records (or, for a
            // dump that visits the wildcard's shard after the removal and the exact shard before the
            // insert, in none): a move.
            let mv = self.begin_move();
            let ins = self
                .with(e, |s| {
                    let at = Placement {
                        key,
                        hash: h,
                        server,
                        timeout_ms: ann.timeout_ms,
                        now,
                    };
                    let res = s.insert_secondary(at, r, bytes, on_remove);
                    res.map(|loc| s.get_at(loc))
                })
                .unwrap_or(Err(InsertError::Full));
            let (flow, installed) = match ins {
                Ok(Some(flow)) => {
                    self.drop_member(ann.loc, r, Removal::Replaced, on_remove);
                    (flow, true)
                }
                _ => (ann, false),
            };
            drop(mv);
            return Classified::Known(Forward {
                server,
                flow,
                prev_identity: ann.identity,
                prev_status: ann.status,
                wildcard: Some(w),
                installed,
            });
        }
        Classified::Unknown
    }

    /// Opens a session for a packet that [`Self::packet`] classified Unknown and that admission control
    /// and server selection accepted: a Signalling flow, status New, on `server`.
    /// [`InsertError::Exists`] means another CPU opened it meanwhile: classify the packet again.
    #[allow(clippy::too_many_arguments)]
    pub fn open_session<F: FnMut(&FlowInfo, Removal)>(
        &self,
        key: &FlowKey,
        session_id: u32,
        server: u16,
        timeout_ms: u32,
        now: Millis,
        bytes: u32,
        on_remove: &mut F,
    ) -> Result<SessionRef, InsertError> {
        let h = self.hash(key);
        self.with(self.shard_index(h), |s| {
            let at = Placement {
                key,
                hash: h,
                server,
                timeout_ms,
                now,
            };
            s.insert_signalling(at, session_id, bytes, on_remove)
        })
        .unwrap_or(Err(InsertError::Full))
    }

    /// Stores a flow announced by DPI in session `r`: `key` with the ports named by `wild` unknown,
    /// idle timeout `timeout_ms`, on the session's server. Announcing a key the same session already
    /// announced refreshes nothing and returns the existing location; a key held by a dead session's
    /// flow is taken over.
    pub fn announce<F: FnMut(&FlowInfo, Removal)>(
        &self,
        key: &FlowKey,
        wild: Wildcard,
        r: SessionRef,
        timeout_ms: u32,
        now: Millis,
        on_remove: &mut F,
    ) -> Result<Loc, AnnounceError> {
        let server = self
            .session(r, now, false, on_remove)
            .ok_or(AnnounceError::SessionGone)?;
        let wk = key.wildcarded(wild);
        let hw = self.hash(&wk);
        let ws = self.shard_index(hw);
        self.insert_member(ws, &wk, hw, wild, r, server, timeout_ms, now, on_remove)
    }

    /// Inserts an Announced member, resolving a clash with an existing record once.
    #[allow(clippy::too_many_arguments)]
    fn insert_member<F: FnMut(&FlowInfo, Removal)>(
        &self,
        shard: usize,
        key: &FlowKey,
        hash: u64,
        wild: Wildcard,
        r: SessionRef,
        server: u16,
        timeout_ms: u32,
        now: Millis,
        on_remove: &mut F,
    ) -> Result<Loc, AnnounceError> {
        let mut retried = false;
        loop {
            let res = self
                .with(shard, |s| {
                    let at = Placement {
                        key,
                        hash,
                        server,
                        timeout_ms,
                        now,
                    };
                    s.insert_announced(at, wild, r, on_remove)
                })
                .unwrap_or(Err(InsertError::Full));
            let loc = match res {
                Ok(loc) => return Ok(loc),
                Err(InsertError::Full) => return Err(AnnounceError::Full),
                Err(InsertError::Exists(loc)) => loc,
            };
            if retried {
                return Err(AnnounceError::Exists(loc));
            }
            retried = true;
            if let Some(old) = self.with(shard, |s| s.get_at(loc)).flatten() {
                if old.session == r && old.identity != Identity::Signalling {
                    return Ok(loc);
                }
                if old.identity == Identity::Signalling
                    || self.session(old.session, now, false, on_remove).is_some()
                {
                    return Err(AnnounceError::Exists(loc));
                }
                self.drop_member(loc, old.session, Removal::Orphaned, on_remove);
            }
        }
    }

    /// A gateway report completes a partly known announced flow: the wildcard entry stored for
    /// `partial` (with `wild`) becomes the exact flow `full` (Announced, refreshed), in `full`'s shard.
    /// If `full` is already a flow of the same session (its first packet came first), the wildcard entry
    /// is just removed.
    pub fn complete_announced<F: FnMut(&FlowInfo, Removal)>(
        &self,
        partial: &FlowKey,
        wild: Wildcard,
        full: &FlowKey,
        now: Millis,
        on_remove: &mut F,
    ) -> Result<Loc, AnnounceError> {
        if wild == Wildcard::Exact || full.wildcarded(wild) != partial.wildcarded(wild) {
            return Err(AnnounceError::Mismatch);
        }
        let wk = partial.wildcarded(wild);
        let hw = self.hash(&wk);
        let ws = self.shard_index(hw);
        let ann = self
            .with(ws, |s| s.lookup_wildcard(&wk, wild, hw, now, on_remove))
            .flatten()
            .ok_or(AnnounceError::NotFound)?;
        let r = ann.session;
        let Some(server) = self.session(r, now, false, on_remove) else {
            // A member of a dead session does not exist, whether or not the purge has reclaimed it yet.
            self.drop_member(ann.loc, r, Removal::Orphaned, on_remove);
            return Err(AnnounceError::NotFound);
        };
        let h = self.hash(full);
        let mv = self.begin_move();
        let loc = self.insert_member(
            self.shard_index(h),
            full,
            h,
            Wildcard::Exact,
            r,
            server,
            ann.timeout_ms,
            now,
            on_remove,
        )?;
        self.drop_member(ann.loc, r, Removal::Replaced, on_remove);
        drop(mv);
        Ok(loc)
    }

    /// Ends session `r` (see [`Shard::end_session`]).
    pub fn end_session<F: FnMut(&FlowInfo, Removal)>(
        &self,
        r: SessionRef,
        now: Millis,
        linger_ms: u32,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        self.with(r.loc.shard(), |s| {
            s.end_session(r, now, linger_ms, on_remove)
        })
        .flatten()
    }

    /// Ends the flow with key `key` (see [`Shard::end_flow`]): for a TCP FIN/RST on a signalling flow
    /// this ends its session. A member flow is checked against its session first: a member of a dead
    /// session does not exist (it is removed, and `None` returned).
    pub fn end_flow<F: FnMut(&FlowInfo, Removal)>(
        &self,
        key: &FlowKey,
        now: Millis,
        linger_ms: u32,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        let h = self.hash(key);
        let e = self.shard_index(h);
        let flow = self
            .with(e, |s| s.lookup(key, h, Wildcard::Exact, now, on_remove))
            .flatten()?;
        if flow.identity != Identity::Signalling
            && self.session(flow.session, now, false, on_remove).is_none()
        {
            self.drop_member(flow.loc, flow.session, Removal::Orphaned, on_remove);
            return None;
        }
        self.with(e, |s| s.end_flow(key, h, now, linger_ms, on_remove))
            .flatten()
    }

    /// A packet of session `r` reached without a flow lookup (a SIP call found in the Call-ID index):
    /// counted on the session's signalling record, refreshed, Established (see
    /// [`Shard::session_packet`]). Returns its server; `None` if the session is not alive (ended,
    /// expired, or its record reused).
    pub fn touch_session<F: FnMut(&FlowInfo, Removal)>(
        &self,
        r: SessionRef,
        now: Millis,
        bytes: u32,
        on_remove: &mut F,
    ) -> Option<u16> {
        self.with(r.loc.shard(), |s| {
            s.session_packet(r, now, bytes, on_remove)
        })
        .flatten()
        .map(|i| i.server)
    }

    /// The signalling record of session `r` if it still holds that session, alive, ended (lingering)
    /// or expired but not yet removed; changes nothing.
    pub fn session_record(&self, r: SessionRef) -> Option<FlowInfo> {
        self.get_at(r.loc)
            .filter(|f| f.identity == Identity::Signalling && f.session == r)
    }

    /// Moves session `r` to `server` (see [`Shard::reassign`]).
    pub fn reassign(&self, r: SessionRef, server: u16, now: Millis) -> bool {
        self.with(r.loc.shard(), |s| s.reassign(r, server, now))
            .unwrap_or(false)
    }

    /// Removes the record with `key` (wildcarded here by `wild`).
    pub fn remove(&self, key: &FlowKey, wild: Wildcard) -> Option<FlowInfo> {
        let k = key.wildcarded(wild);
        let h = self.hash(&k);
        self.with(self.shard_index(h), |s| s.remove(&k, h, wild))
            .flatten()
    }

    /// The record at `loc` (e.g. a session's signalling flow), without changing anything.
    pub fn get_at(&self, loc: Loc) -> Option<FlowInfo> {
        self.with(loc.shard(), |s| s.get_at(loc)).flatten()
    }

    /// The record with `key` (wildcarded here by `wild`), without changing anything.
    pub fn get(&self, key: &FlowKey, wild: Wildcard) -> Option<FlowInfo> {
        let k = key.wildcarded(wild);
        let h = self.hash(&k);
        self.with(self.shard_index(h), |s| s.get(&k, h, wild))
            .flatten()
    }

    /// One purge step in every shard (`budget` slots each), then the cross-shard member checks the
    /// shards left (each: the session's shard, then, if dead, the member's shard).
    pub fn purge_step<F: FnMut(&FlowInfo, Removal)>(
        &self,
        now: Millis,
        budget: usize,
        on_remove: &mut F,
    ) -> PurgeReport {
        self.purge_shards(Aging::Idle, now, budget, on_remove)
    }

    /// A backup's purge step over every shard ([`Shard::purge_step_replicated`]): only what
    /// replication ended goes (sessions ended past their linger, members of gone or ended sessions).
    pub fn purge_step_replicated<F: FnMut(&FlowInfo, Removal)>(
        &self,
        now: Millis,
        budget: usize,
        on_remove: &mut F,
    ) -> PurgeReport {
        self.purge_shards(Aging::Replicated, now, budget, on_remove)
    }

    /// One purge step in every shard judged by `aging` ([`Table::purge_step`],
    /// [`Table::purge_step_replicated`]), then the cross-shard member checks.
    pub fn purge_shards<F: FnMut(&FlowInfo, Removal)>(
        &self,
        aging: Aging,
        now: Millis,
        budget: usize,
        on_remove: &mut F,
    ) -> PurgeReport {
        let mut total = PurgeReport::default();
        for i in 0..self.shards.shard_count() {
            let mut pending = PendingChecks::new();
            let step = self.with(i, |s| {
                s.purge_walk(aging, now, budget, &mut pending, on_remove)
            });
            if let Some(rep) = step {
                total.add(&rep);
            }
            for &(loc, r) in pending.as_slice() {
                let gone = match aging {
                    Aging::Replicated => self.session_record(r).is_none_or(|f| f.ended),
                    Aging::Idle => self.session(r, now, false, on_remove).is_none(),
                };
                if gone {
                    if let Some(info) = self
                        .with(loc.shard(), |s| s.remove_member(loc, r))
                        .flatten()
                    {
                        on_remove(&info, Removal::Orphaned);
                        total.removed = total.removed.saturating_add(1);
                    }
                }
            }
        }
        total
    }

    /// Counts summed over the shards.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for i in 0..self.shards.shard_count() {
            if let Some(sc) = self.with(i, |s| s.counts()) {
                c.add(&sc);
            }
        }
        c
    }

    /// Records in use over all shards.
    pub fn len(&self) -> usize {
        self.counts().flows as usize
    }

    /// True when no record is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refreshes every record's idle time (see [`Shard::touch_all`]), one shard at a time.
    pub fn touch_all(&self, now: Millis) -> usize {
        (0..self.shards.shard_count())
            .filter_map(|i| self.with(i, |s| s.touch_all(now)))
            .fold(0, usize::saturating_add)
    }

    /// Removes every record (see [`Shard::clear`]), one shard at a time.
    pub fn clear<F: FnMut(&FlowInfo, Removal)>(&self, on_remove: &mut F) -> usize {
        (0..self.shards.shard_count())
            .filter_map(|i| self.with(i, |s| s.clear(on_remove)))
            .fold(0, usize::saturating_add)
    }

    /// A dump across shards from `cursor` (see [`Shard::dump`]), visiting at most `budget` slots in
    /// all.
    pub fn dump<F: FnMut(&FlowInfo) -> bool>(
        &self,
        cursor: &mut TableCursor,
        budget: usize,
        mut f: F,
    ) -> Walk {
        let mut left = budget;
        loop {
            let si = cursor.shard as usize;
            if si >= self.shards.shard_count() {
                *cursor = TableCursor::default();
                return Walk::Done;
            }
            if left == 0 {
                return Walk::More;
            }
            let mut slot = cursor.slot;
            let before = slot as usize;
            let (walk, cap) = self
                .with(si, |s| (s.dump(&mut slot, left, &mut f), s.capacity()))
                .unwrap_or((Walk::Done, before));
            match walk {
                Walk::More => {
                    cursor.slot = slot;
                    return Walk::More;
                }
                Walk::Done => {
                    left = left.saturating_sub(cap.saturating_sub(before));
                    cursor.shard = cursor.shard.saturating_add(1);
                    cursor.slot = 0;
                }
            }
        }
    }

    /// Re-dispatch across shards from `cursor` (see [`Shard::redispatch_step`]), `budget` slots per
    /// shard visited. Returns the sessions changed and the progress.
    pub fn redispatch_step<D: FnMut(&FlowInfo) -> Redispatch, F: FnMut(&FlowInfo, Removal)>(
        &self,
        cursor: &mut TableCursor,
        budget: usize,
        from: u16,
        now: Millis,
        mut decide: D,
        on_remove: &mut F,
    ) -> (u32, Walk) {
        let si = cursor.shard as usize;
        if si >= self.shards.shard_count() {
            *cursor = TableCursor::default();
            return (0, Walk::Done);
        }
        let mut slot = cursor.slot;
        let (n, walk) = self
            .with(si, |s| {
                s.redispatch_step(&mut slot, budget, from, now, &mut decide, on_remove)
            })
            .unwrap_or((0, Walk::Done));
        match walk {
            Walk::More => cursor.slot = slot,
            Walk::Done => {
                cursor.shard = cursor.shard.saturating_add(1);
                cursor.slot = 0;
                if cursor.shard as usize >= self.shards.shard_count() {
                    *cursor = TableCursor::default();
                    return (n, Walk::Done);
                }
            }
        }
        (n, Walk::More)
    }
}
