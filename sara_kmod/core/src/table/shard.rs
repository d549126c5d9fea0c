//! One shard: slots, chains, free list, cursors, counts.

use super::super::flow::{reduce, FlowKey, Wildcard};
use super::{
    Counts, FlowInfo, Identity, InsertError, Loc, Millis, PendingChecks, PurgeReport, Redispatch,
    Removal, SessionInfo, SessionRef, ShardStats, Status, Walk, MAX_SHARDS, MAX_SHARD_SLOTS,
    MAX_TIMEOUT_MS, NIL,
};
use core::ops::DerefMut;

// Flag byte of a slot.
const F_STATUS: u8 = 0b0000_0011;
const F_IDENT_SHIFT: u8 = 2;
const F_WILD_SHIFT: u8 = 4;
const F_USED: u8 = 0b0100_0000;
const F_ENDED: u8 = 0b1000_0000;

/// One slot of a shard: a flow record (when in use) and the head of one hash bucket.
///
/// 56 bytes (checked by a test), which is also the table's memory per flow at full capacity. Fields are
/// private; read records through [`FlowInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Slot {
    bytes: u64,
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    proto: u8,
    flags: u8,
    server: u16,
    /// Session id.
    session: u32,
    /// Raw [`Loc`] of the session's signalling flow (its own for a signalling flow). In a free slot:
    /// the previous free slot (the free list is doubly linked so any free slot can be taken in O(1)).
    sig: u32,
    /// Next record in the bucket chain, or next free slot.
    next: u32,
    /// Head of bucket `i` for slot `i` (independent of the record in the slot).
    head: u32,
    /// Low 32 bits of the flow hash: bucket = reduce(hash, capacity).
    hash: u32,
    last_seen: u32,
    timeout: u32,
    packets: u32,
}

impl Slot {
    /// An unused slot with an empty bucket: fill storage with it (e.g. `vec![Slot::EMPTY; n]`).
    pub const EMPTY: Slot = Slot {
        bytes: 0,
        src: [0; 4],
        dst: [0; 4],
        sport: 0,
        dport: 0,
        proto: 0,
        flags: 0,
        server: 0,
        session: 0,
        sig: 0,
        next: NIL,
        head: NIL,
        hash: 0,
        last_seen: 0,
        timeout: 0,
        packets: 0,
    };

    fn used(&self) -> bool {
        self.flags & F_USED != 0
    }
    fn ended(&self) -> bool {
        self.flags & F_ENDED != 0
    }
    fn status(&self) -> Status {
        Status::from_bits(self.flags & F_STATUS)
    }
    fn identity(&self) -> Identity {
        Identity::from_bits(self.flags >> F_IDENT_SHIFT)
    }
    fn wildcard(&self) -> Wildcard {
        Wildcard::from_bits(self.flags >> F_WILD_SHIFT)
    }
    fn key(&self) -> FlowKey {
        FlowKey::new(self.src, self.sport, self.dst, self.dport, self.proto)
    }
    fn matches(&self, key: &FlowKey, h32: u32, wild: Wildcard) -> bool {
        self.used()
            && self.hash == h32
            && self.wildcard() == wild
            && self.src == key.src_addr
            && self.dst == key.dst_addr
            && self.sport == key.src_port
            && self.dport == key.dst_port
            && self.proto == key.protocol
    }
    fn idle(&self, now: Millis) -> u32 {
        super::idle_ms(now, self.last_seen)
    }
    /// Past its life: idle > 2 × timeout, or (ended) idle > linger.
    fn expired(&self, now: Millis) -> bool {
        let limit = if self.ended() {
            self.timeout
        } else {
            self.timeout.saturating_mul(2)
        };
        self.idle(now) > limit
    }
    fn count(&mut self, bytes: u32) {
        self.packets = self.packets.saturating_add(1);
        self.bytes = self.bytes.saturating_add(u64::from(bytes));
    }
    fn session_ref(&self) -> SessionRef {
        SessionRef {
            loc: Loc::from_raw(self.sig),
            id: self.session,
        }
    }
    /// Resets the record part, keeping the bucket head of this slot.
    fn clear_record(&mut self) {
        let head = self.head;
        *self = Slot::EMPTY;
        self.head = head;
    }
}

const fn make_flags(status: Status, identity: Identity, wild: Wildcard, ended: bool) -> u8 {
    F_USED
        | (status as u8)
        | ((identity as u8) << F_IDENT_SHIFT)
        | (wild.bits() << F_WILD_SHIFT)
        | if ended { F_ENDED } else { 0 }
}

fn clamp_timeout(ms: u32) -> u32 {
    ms.clamp(1, MAX_TIMEOUT_MS)
}

fn bump(c: &mut u32, up: bool) {
    *c = if up {
        c.saturating_add(1)
    } else {
        c.saturating_sub(1)
    };
}

impl Counts {
    fn account(&mut self, flags: u8, up: bool) {
        if flags & F_USED == 0 {
            return;
        }
        bump(&mut self.flows, up);
        match Status::from_bits(flags & F_STATUS) {
            Status::New => bump(&mut self.new, up),
            Status::Established => bump(&mut self.established, up),
            Status::Inactive => bump(&mut self.inactive, up),
        }
        match Identity::from_bits(flags >> F_IDENT_SHIFT) {
            Identity::Signalling => bump(&mut self.signalling, up),
            Identity::Announced => bump(&mut self.announced, up),
            Identity::Secondary => bump(&mut self.secondary, up),
        }
        if Wildcard::from_bits(flags >> F_WILD_SHIFT) != Wildcard::Exact {
            bump(&mut self.wildcards, up);
        }
        if flags & F_ENDED != 0 {
            bump(&mut self.ended, up);
        }
    }
}

/// What a new record is.
struct NewRecord {
    identity: Identity,
    status: Status,
    wild: Wildcard,
    session: u32,
    /// Raw loc of the signalling flow; `None` for a signalling flow (its own loc).
    sig: Option<Loc>,
    server: u16,
    timeout: u32,
    bytes: Option<u32>,
}

/// One independent part of the flow table (see the module docs for the concurrency contract).
#[derive(Debug)]
pub struct Shard<S> {
    slots: S,
    index: u8,
    cap: u32,
    free: u32,
    purge_cursor: u32,
    counts: Counts,
    stats: ShardStats,
}

/// Why a shard could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardError {
    /// Storage of 0 slots, or more than [`MAX_SHARD_SLOTS`].
    Capacity,
    /// Shard index ≥ [`MAX_SHARDS`].
    Index,
}

impl<S: DerefMut<Target = [Slot]>> Shard<S> {
    /// Makes shard number `index` of a table over `storage`, whose length is the capacity (every slot
    /// is reset: O(capacity), once, at creation).
    pub fn new(mut storage: S, index: usize) -> Result<Self, ShardError> {
        let cap = storage.len();
        if cap == 0 || cap > MAX_SHARD_SLOTS {
            return Err(ShardError::Capacity);
        }
        let index = u8::try_from(index)
            .ok()
            .filter(|i| usize::from(*i) < MAX_SHARDS)
            .ok_or(ShardError::Index)?;
        // Free list 0 ⇄ 1 ⇄ … ⇄ cap−1 (`next` forward, `sig` backward). Index loops: iterator adaptors
        // with counters would leave overflow-check panic paths in the kernel object.
        let mut next = NIL;
        for i in (0..cap).rev() {
            if let Some(slot) = storage.get_mut(i) {
                *slot = Slot::EMPTY;
                slot.next = next;
                slot.sig = if i == 0 {
                    NIL
                } else {
                    (i as u32).wrapping_sub(1)
                };
            }
            next = i as u32;
        }
        Ok(Shard {
            slots: storage,
            index,
            cap: cap as u32,
            free: 0,
            purge_cursor: 0,
            counts: Counts::default(),
            stats: ShardStats::default(),
        })
    }

    /// This shard's index in its table.
    pub fn index(&self) -> usize {
        usize::from(self.index)
    }

    /// Number of slots (= most flows).
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Records in use (expired ones included until met or purged).
    pub fn len(&self) -> usize {
        self.counts.flows as usize
    }

    /// True when no record is in use.
    pub fn is_empty(&self) -> bool {
        self.counts.flows == 0
    }

    /// True when no slot is free.
    pub fn is_full(&self) -> bool {
        self.free == NIL
    }

    /// Counts by status and identity.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Refusals.
    pub fn stats(&self) -> ShardStats {
        self.stats
    }

    /// Gives the storage back.
    pub fn into_storage(self) -> S {
        self.slots
    }

    /// Verifies the shard's structure: every record in use is in its bucket's chain exactly once,
    /// chains and the free list are acyclic and disjoint and cover every slot, and the counts match a
    /// recount. O(capacity): for tests and debugging, not for the packet path.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let cap = self.capacity();
        let mut chained = 0usize;
        for b in 0..cap {
            let mut i = self.slots.get(b).ok_or("bucket out of range")?.head;
            let mut steps = 0usize;
            while i != NIL {
                let s = self.slot(i).ok_or("chain index out of range")?;
                if !s.used() {
                    return Err("unused slot in a chain");
                }
                if self.bucket(s.hash) != b {
                    return Err("record in the wrong bucket");
                }
                chained = chained.saturating_add(1);
                steps = steps.saturating_add(1);
                if steps > cap {
                    return Err("cycle in a chain");
                }
                i = s.next;
            }
        }
        let mut free = 0usize;
        let mut i = self.free;
        let mut prev = NIL;
        while i != NIL {
            let s = self.slot(i).ok_or("free index out of range")?;
            if s.used() {
                return Err("used slot in the free list");
            }
            if s.sig != prev {
                return Err("free list back link broken");
            }
            free = free.saturating_add(1);
            if free > cap {
                return Err("cycle in the free list");
            }
            prev = i;
            i = s.next;
        }
        let used = self.slots.iter().fold(
            0usize,
            |n, s| if s.used() { n.saturating_add(1) } else { n },
        );
        if used != chained {
            return Err("a record in use is not chained exactly once");
        }
        if used.saturating_add(free) != cap {
            return Err("slots neither used nor free");
        }
        let mut c = Counts::default();
        for s in self.slots.iter() {
            c.account(s.flags, true);
        }
        if c != self.counts {
            return Err("counts differ from a recount");
        }
        Ok(())
    }

    // ---- internals -------------------------------------------------------------------------

    fn bucket(&self, h32: u32) -> usize {
        reduce(h32, self.cap) as usize
    }

    fn slot(&self, i: u32) -> Option<&Slot> {
        self.slots.get(i as usize)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut Slot> {
        self.slots.get_mut(i as usize)
    }

    fn loc(&self, i: u32) -> Loc {
        // index < 256 and i < cap ≤ 2^24 by construction.
        Loc::from_raw((u32::from(self.index) << 24) | (i & 0x00ff_ffff))
    }

    /// Slot index of `loc` if it names this shard.
    fn local(&self, loc: Loc) -> Option<u32> {
        if loc.shard() != self.index() || loc.slot() >= self.capacity() {
            return None;
        }
        Some(loc.slot() as u32)
    }

    fn info(&self, i: u32) -> Option<FlowInfo> {
        let s = self.slot(i).filter(|s| s.used())?;
        Some(FlowInfo {
            key: s.key(),
            wildcard: s.wildcard(),
            loc: self.loc(i),
            session: s.session_ref(),
            server: s.server,
            status: s.status(),
            identity: s.identity(),
            ended: s.ended(),
            last_seen: s.last_seen,
            timeout_ms: s.timeout,
            packets: s.packets,
            bytes: s.bytes,
        })
    }

    fn set_flags(&mut self, i: u32, flags: u8) {
        if let Some(s) = self.slots.get_mut(i as usize) {
            let old = s.flags;
            s.flags = flags;
            self.counts.account(old, false);
            self.counts.account(flags, true);
        }
    }

    fn find(&self, key: &FlowKey, h32: u32, wild: Wildcard) -> Option<u32> {
        let mut i = self.slots.get(self.bucket(h32))?.head;
        // A chain cannot be longer than the shard; the bound only guards against a corrupted chain.
        let mut guard = self.cap;
        while i != NIL && guard > 0 {
            let s = self.slot(i)?;
            if s.matches(key, h32, wild) {
                return Some(i);
            }
            i = s.next;
            guard = guard.saturating_sub(1);
        }
        None
    }

    fn unlink(&mut self, i: u32) {
        let Some(s) = self.slot(i) else { return };
        let (b, next) = (self.bucket(s.hash), s.next);
        let Some(head) = self.slots.get(b).map(|h| h.head) else {
            return;
        };
        if head == i {
            if let Some(h) = self.slots.get_mut(b) {
                h.head = next;
            }
            return;
        }
        let mut p = head;
        let mut guard = self.cap;
        while p != NIL && guard > 0 {
            let Some(ps) = self.slot_mut(p) else { return };
            if ps.next == i {
                ps.next = next;
                return;
            }
            p = ps.next;
            guard = guard.saturating_sub(1);
        }
    }

    /// Takes free slot `i` out of the free list.
    fn take_free(&mut self, i: u32) {
        let Some(s) = self.slot(i) else { return };
        let (prev, next) = (s.sig, s.next);
        if prev == NIL {
            self.free = next;
        } else if let Some(p) = self.slot_mut(prev) {
            p.next = next;
        }
        if let Some(n) = self.slot_mut(next) {
            n.sig = prev;
        }
    }

    /// Puts slot `i` (cleared) at the head of the free list.
    fn push_free(&mut self, i: u32) {
        let head = self.free;
        if let Some(h) = self.slot_mut(head) {
            h.sig = i;
        }
        if let Some(s) = self.slot_mut(i) {
            s.next = head;
            s.sig = NIL;
        }
        self.free = i;
    }

    /// A free slot for a record of bucket `b`: slot `b` itself when free (then the bucket head and the
    /// record share a cache line and a lookup costs one miss), else the head of the free list.
    fn alloc(&mut self, b: usize) -> Option<u32> {
        let home = b as u32;
        let i = if self.slot(home).is_some_and(|s| !s.used()) {
            home
        } else {
            self.free
        };
        if i == NIL {
            return None;
        }
        self.take_free(i);
        Some(i)
    }

    /// Frees slot `i` and returns the record it held.
    fn release(&mut self, i: u32) -> Option<FlowInfo> {
        let info = self.info(i)?;
        self.unlink(i);
        let s = self.slot_mut(i)?;
        let flags = s.flags;
        s.clear_record();
        self.push_free(i);
        self.counts.account(flags, false);
        Some(info)
    }

    fn release_and_tell<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        i: u32,
        why: Removal,
        on_remove: &mut F,
    ) {
        if let Some(info) = self.release(i) {
            on_remove(&info, why);
        }
    }

    /// The live record for (key, wild): an expired one met here is removed (and told) first.
    fn find_live<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        h32: u32,
        wild: Wildcard,
        now: Millis,
        on_remove: &mut F,
    ) -> Option<u32> {
        let i = self.find(key, h32, wild)?;
        let s = self.slot(i)?;
        if s.expired(now) {
            let why = if s.ended() {
                Removal::Closed
            } else {
                Removal::Expired
            };
            self.release_and_tell(i, why, on_remove);
            return None;
        }
        Some(i)
    }

    fn insert<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        hash: u64,
        rec: NewRecord,
        now: Millis,
        on_remove: &mut F,
    ) -> Result<u32, InsertError> {
        let h32 = hash as u32;
        let key = key.wildcarded(rec.wild);
        if let Some(i) = self.find_live(&key, h32, rec.wild, now, on_remove) {
            return Err(InsertError::Exists(self.loc(i)));
        }
        let b = self.bucket(h32);
        let i = self.alloc(b).ok_or(InsertError::Full)?;
        let head = self.slots.get(b).map_or(NIL, |h| h.head);
        let sig = rec.sig.unwrap_or(self.loc(i)).raw();
        let flags = make_flags(rec.status, rec.identity, rec.wild, false);
        let s = self.slot_mut(i).ok_or(InsertError::Full)?;
        s.src = key.src_addr;
        s.dst = key.dst_addr;
        s.sport = key.src_port;
        s.dport = key.dst_port;
        s.proto = key.protocol;
        s.flags = flags;
        s.server = rec.server;
        s.session = rec.session;
        s.sig = sig;
        s.hash = h32;
        s.last_seen = now;
        s.timeout = clamp_timeout(rec.timeout);
        s.packets = 0;
        s.bytes = 0;
        if let Some(b) = rec.bytes {
            s.count(b);
        }
        s.next = head;
        if let Some(h) = self.slots.get_mut(b) {
            h.head = i;
        }
        self.counts.account(flags, true);
        Ok(i)
    }

    /// Checks a session whose signalling flow lives here, without side effects other than removing an
    /// expired signalling flow.
    /// Whether session `r`'s signalling record is here, with its id, not ended — however long idle
    /// (a backup's view of a replicated session: see [`Shard::purge_step_replicated`]).
    fn holds_session(&self, r: SessionRef) -> bool {
        self.local(r.loc)
            .and_then(|i| self.slot(i))
            .is_some_and(|s| {
                s.used() && s.identity() == Identity::Signalling && s.session == r.id && !s.ended()
            })
    }

    fn live_session<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        r: SessionRef,
        now: Millis,
        on_remove: &mut F,
    ) -> Option<u32> {
        let i = self.local(r.loc)?;
        let s = self.slot(i)?;
        if !s.used() || s.identity() != Identity::Signalling || s.session != r.id || s.ended() {
            return None;
        }
        if s.expired(now) {
            self.release_and_tell(i, Removal::Expired, on_remove);
            return None;
        }
        Some(i)
    }

    // ---- lookups ---------------------------------------------------------------------------

    /// The record stored under `key` (already wildcarded by the caller when `wild` is not Exact), live
    /// or not, without changing anything.
    pub fn get(&self, key: &FlowKey, hash: u64, wild: Wildcard) -> Option<FlowInfo> {
        self.info(self.find(key, hash as u32, wild)?)
    }

    /// The record at `loc`, if `loc` is in this shard and in use.
    pub fn get_at(&self, loc: Loc) -> Option<FlowInfo> {
        self.info(self.local(loc)?)
    }

    /// The packet path's exact lookup: finds the flow with exactly this key, applies the transition of
    /// the spec (Signalling → Established; Announced → Secondary + Established; Secondary/Inactive →
    /// Established), refreshes it, counts the packet (`bytes` long) and returns it with its previous
    /// identity and status. An ended flow is refreshed and counted only. `None`: no live flow (an
    /// expired one met is removed and told).
    ///
    /// For an Announced/Secondary result the caller must check the session ([`Self::session`], in the
    /// shard of `flow.session.loc`) before forwarding; [`super::Table::packet`] does it all.
    pub fn on_packet<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        hash: u64,
        now: Millis,
        bytes: u32,
        on_remove: &mut F,
    ) -> Option<(FlowInfo, Identity, Status)> {
        let i = self.find_live(key, hash as u32, Wildcard::Exact, now, on_remove)?;
        let s = self.slot_mut(i)?;
        let (prev_id, prev_st, ended, flags) = (s.identity(), s.status(), s.ended(), s.flags);
        s.last_seen = now;
        s.count(bytes);
        if !ended {
            let id = match prev_id {
                Identity::Announced => Identity::Secondary,
                other => other,
            };
            let nf = make_flags(Status::Established, id, Wildcard::Exact, false);
            if nf != flags {
                self.set_flags(i, nf);
            }
        }
        Some((self.info(i)?, prev_id, prev_st))
    }

    /// The live record stored under (`key`, `wild`) (`key` already wildcarded by the caller), without
    /// changing it (an expired one met is removed and told).
    pub fn lookup<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        hash: u64,
        wild: Wildcard,
        now: Millis,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        let i = self.find_live(key, hash as u32, wild, now, on_remove)?;
        self.info(i)
    }

    /// A live wildcard entry for packet key `key` (exact; it is wildcarded here with `w`), without
    /// changing it. `hash` is the hash of `key.wildcarded(w)`.
    pub fn lookup_wildcard<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        w: Wildcard,
        hash: u64,
        now: Millis,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        if w == Wildcard::Exact {
            return None;
        }
        let i = self.find_live(&key.wildcarded(w), hash as u32, w, now, on_remove)?;
        self.info(i)
    }

    // ---- insertions ------------------------------------------------------------------------

    /// Opens a session: a Signalling flow, status New, for the packet (`bytes` long) that created it.
    /// `session_id` is the caller's; the returned [`SessionRef`] names the session from now on.
    /// [`InsertError::Full`] is counted in [`ShardStats::full_sessions`].
    pub fn insert_signalling<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        at: Placement<'_>,
        session_id: u32,
        bytes: u32,
        on_remove: &mut F,
    ) -> Result<SessionRef, InsertError> {
        let rec = NewRecord {
            identity: Identity::Signalling,
            status: Status::New,
            wild: Wildcard::Exact,
            session: session_id,
            sig: None,
            server: at.server,
            timeout: at.timeout_ms,
            bytes: Some(bytes),
        };
        match self.insert(at.key, at.hash, rec, at.now, on_remove) {
            Ok(i) => Ok(SessionRef {
                loc: self.loc(i),
                id: session_id,
            }),
            Err(e) => {
                if e == InsertError::Full {
                    self.stats.full_sessions = self.stats.full_sessions.saturating_add(1);
                }
                Err(e)
            }
        }
    }

    /// Stores an Announced flow (status New) of `session`, on `at.server` (the session's). With a
    /// wildcard, `at.key`'s unknown ports are ignored (stored as 0) and `at.hash` must be the hash of
    /// `at.key.wildcarded(wild)`.
    pub fn insert_announced<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        at: Placement<'_>,
        wild: Wildcard,
        session: SessionRef,
        on_remove: &mut F,
    ) -> Result<Loc, InsertError> {
        let rec = NewRecord {
            identity: Identity::Announced,
            status: Status::New,
            wild,
            session: session.id,
            sig: Some(session.loc),
            server: at.server,
            timeout: at.timeout_ms,
            bytes: None,
        };
        self.insert_member(at.key, at.hash, rec, at.now, on_remove)
    }

    /// Stores a Secondary flow (Established) of `session`: the exact key of an announced flow confirmed
    /// by its first packet (`bytes` long, counted).
    pub fn insert_secondary<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        at: Placement<'_>,
        session: SessionRef,
        bytes: u32,
        on_remove: &mut F,
    ) -> Result<Loc, InsertError> {
        let rec = NewRecord {
            identity: Identity::Secondary,
            status: Status::Established,
            wild: Wildcard::Exact,
            session: session.id,
            sig: Some(session.loc),
            server: at.server,
            timeout: at.timeout_ms,
            bytes: Some(bytes),
        };
        self.insert_member(at.key, at.hash, rec, at.now, on_remove)
    }

    fn insert_member<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        hash: u64,
        rec: NewRecord,
        now: Millis,
        on_remove: &mut F,
    ) -> Result<Loc, InsertError> {
        match self.insert(key, hash, rec, now, on_remove) {
            Ok(i) => Ok(self.loc(i)),
            Err(e) => {
                if e == InsertError::Full {
                    self.stats.full_members = self.stats.full_members.saturating_add(1);
                }
                Err(e)
            }
        }
    }

    // ---- sessions --------------------------------------------------------------------------

    /// Checks that session `r` is alive (its signalling flow lives here, unended, with this id) and
    /// returns its server. With `keep_alive`, refreshes the signalling flow (a member flow carried a
    /// packet: the session is active; an Inactive signalling flow becomes Established).
    pub fn session<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        r: SessionRef,
        now: Millis,
        keep_alive: bool,
        on_remove: &mut F,
    ) -> Option<SessionInfo> {
        let i = self.live_session(r, now, on_remove)?;
        if keep_alive {
            let s = self.slot_mut(i)?;
            s.last_seen = now;
            if s.status() == Status::Inactive {
                let f = make_flags(
                    Status::Established,
                    Identity::Signalling,
                    Wildcard::Exact,
                    false,
                );
                self.set_flags(i, f);
            }
        }
        let s = self.slot(i)?;
        Some(SessionInfo {
            session: r,
            server: s.server,
        })
    }

    /// A packet of live session `r` reached without a lookup of its key (a SIP call found in the
    /// Call-ID index): counted on the session's signalling record, which is refreshed and
    /// Established, as if the packet had matched it. `None` if the session is not alive here.
    pub fn session_packet<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        r: SessionRef,
        now: Millis,
        bytes: u32,
        on_remove: &mut F,
    ) -> Option<SessionInfo> {
        let i = self.live_session(r, now, on_remove)?;
        let s = self.slot_mut(i)?;
        s.last_seen = now;
        s.count(bytes);
        let flags = s.flags;
        let nf = make_flags(
            Status::Established,
            Identity::Signalling,
            Wildcard::Exact,
            false,
        );
        if nf != flags {
            self.set_flags(i, nf);
        }
        let s = self.slot(i)?;
        Some(SessionInfo {
            session: r,
            server: s.server,
        })
    }

    /// Moves live session `r` to `server` (its members follow on their next packet). False if the
    /// session is not alive here.
    pub fn reassign(&mut self, r: SessionRef, server: u16, now: Millis) -> bool {
        let Some(i) = self.live_session(r, now, &mut super::ignore) else {
            return false;
        };
        match self.slot_mut(i) {
            Some(s) => {
                s.server = server;
                true
            }
            None => false,
        }
    }

    /// Updates the server copy of member flow `loc` of session `r` (after its session said otherwise).
    pub fn set_server(&mut self, loc: Loc, r: SessionRef, server: u16) -> bool {
        let Some(i) = self.local(loc) else {
            return false;
        };
        match self.slot_mut(i) {
            Some(s) if s.used() && s.identity() != Identity::Signalling && s.session_ref() == r => {
                s.server = server;
                true
            }
            _ => false,
        }
    }

    /// Ends live session `r`: its members stop matching at once; its signalling flow lingers
    /// `linger_ms` after its last packet (Inactive, ended), or goes now if `linger_ms` is 0 (told as
    /// [`Removal::Closed`]). Returns the signalling flow as it was; `None` if the session was not alive
    /// (already ended, gone, or not here).
    pub fn end_session<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        r: SessionRef,
        now: Millis,
        linger_ms: u32,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        let i = self.live_session(r, now, on_remove)?;
        self.end_at(i, now, linger_ms, on_remove)
    }

    fn end_at<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        i: u32,
        now: Millis,
        linger_ms: u32,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        let info = self.info(i)?;
        if info.ended {
            return None;
        }
        if linger_ms == 0 {
            self.release_and_tell(i, Removal::Closed, on_remove);
            return Some(info);
        }
        let s = self.slot_mut(i)?;
        s.last_seen = now;
        s.timeout = clamp_timeout(linger_ms);
        let f = make_flags(Status::Inactive, info.identity, info.wildcard, true);
        self.set_flags(i, f);
        Some(info)
    }

    /// Ends the flow with exactly this key: a signalling flow ends its session (as
    /// [`Self::end_session`]); a member flow (e.g. an FTP data connection's FIN) ends alone, lingering
    /// the same way. Returns the flow as it was; `None` if there is no live, unended flow with this key.
    pub fn end_flow<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        key: &FlowKey,
        hash: u64,
        now: Millis,
        linger_ms: u32,
        on_remove: &mut F,
    ) -> Option<FlowInfo> {
        let i = self.find_live(key, hash as u32, Wildcard::Exact, now, on_remove)?;
        self.end_at(i, now, linger_ms, on_remove)
    }

    // ---- removals --------------------------------------------------------------------------

    /// Removes the record stored under (`key`, `wild`) (`key` wildcarded by the caller) and returns it.
    pub fn remove(&mut self, key: &FlowKey, hash: u64, wild: Wildcard) -> Option<FlowInfo> {
        let i = self.find(key, hash as u32, wild)?;
        self.release(i)
    }

    /// Removes the record at `loc` and returns it.
    pub fn remove_at(&mut self, loc: Loc) -> Option<FlowInfo> {
        let i = self.local(loc)?;
        self.release(i)
    }

    /// Removes the record at `loc` only if it is still a member (Announced/Secondary) of session `r`:
    /// safe to call after a check made under another lock.
    pub fn remove_member(&mut self, loc: Loc, r: SessionRef) -> Option<FlowInfo> {
        let i = self.local(loc)?;
        let s = self.slot(i)?;
        if !s.used() || s.identity() == Identity::Signalling || s.session_ref() != r {
            return None;
        }
        self.release(i)
    }

    // ---- walks -----------------------------------------------------------------------------

    /// One step of the purge: visits at most `budget` slots from the shard's purge cursor (never the
    /// whole table unless asked), marks Inactive the flows idle longer than their timeout, removes those
    /// past their life (idle > 2 × timeout; ended and idle > linger) and the members whose session —
    /// living in this shard — is gone. Members whose session lives in another shard are put in
    /// `pending` for the caller to check; when `pending` is full the step stops early (the cursor stays
    /// on that slot), so drain it between steps.
    pub fn purge_step<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        now: Millis,
        budget: usize,
        pending: &mut PendingChecks,
        on_remove: &mut F,
    ) -> PurgeReport {
        self.purge_walk(Aging::Idle, now, budget, pending, on_remove)
    }

    /// One step of a **backup's** purge (its records are replicated: they see no packets here, so
    /// idle time says nothing of them): removes only what replication has ended — signalling records
    /// of ended sessions past their linger, and members whose session is gone or ended (here, or in
    /// `pending` for the caller when it lives in another shard). No record is aged, none marked
    /// Inactive. Without it a backup's table keeps every session it was ever told of until a
    /// resynchronisation empties it.
    pub fn purge_step_replicated<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        now: Millis,
        budget: usize,
        pending: &mut PendingChecks,
        on_remove: &mut F,
    ) -> PurgeReport {
        self.purge_walk(Aging::Replicated, now, budget, pending, on_remove)
    }

    /// One purge step judged by `aging`: [`Shard::purge_step`] or [`Shard::purge_step_replicated`].
    pub fn purge_walk<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        aging: Aging,
        now: Millis,
        budget: usize,
        pending: &mut PendingChecks,
        on_remove: &mut F,
    ) -> PurgeReport {
        let mut rep = PurgeReport::default();
        let mut left = budget.min(self.capacity());
        while left > 0 {
            let i = self.purge_cursor;
            if !self.purge_slot(aging, i, now, pending, &mut rep, on_remove) {
                break;
            }
            left = left.saturating_sub(1);
            rep.visited = rep.visited.saturating_add(1);
            let next = i.saturating_add(1);
            self.purge_cursor = if next >= self.cap {
                rep.wrapped = true;
                0
            } else {
                next
            };
        }
        rep
    }

    /// Purges slot `i`; false if the step must stop here (pending full).
    fn purge_slot<F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        aging: Aging,
        i: u32,
        now: Millis,
        pending: &mut PendingChecks,
        rep: &mut PurgeReport,
        on_remove: &mut F,
    ) -> bool {
        let Some(s) = self.slot(i).copied() else {
            return true;
        };
        if !s.used() {
            return true;
        }
        // A replicated record dies only once ended (its linger runs from the end, applied here).
        let dead = match aging {
            Aging::Idle => s.expired(now),
            Aging::Replicated => s.ended() && s.expired(now),
        };
        if dead {
            let why = if s.ended() {
                Removal::Closed
            } else {
                Removal::Expired
            };
            self.release_and_tell(i, why, on_remove);
            rep.removed = rep.removed.saturating_add(1);
            return true;
        }
        if s.identity() != Identity::Signalling {
            let r = s.session_ref();
            if r.loc.shard() == self.index() {
                let gone = match aging {
                    Aging::Idle => self.live_session(r, now, on_remove).is_none(),
                    Aging::Replicated => !self.holds_session(r),
                };
                if gone {
                    self.release_and_tell(i, Removal::Orphaned, on_remove);
                    rep.removed = rep.removed.saturating_add(1);
                    return true;
                }
            } else if pending.is_full() {
                return false;
            } else {
                pending.push(self.loc(i), r);
            }
        }
        if aging == Aging::Idle
            && !s.ended()
            && s.status() != Status::Inactive
            && s.idle(now) > s.timeout
        {
            let f = make_flags(Status::Inactive, s.identity(), s.wildcard(), false);
            self.set_flags(i, f);
            rep.inactive = rep.inactive.saturating_add(1);
        }
        true
    }

    /// Refreshes every record's idle time to `now` (a backup dispatcher taking over: its replicated
    /// flows saw no packet here, and must not be taken for idle). Returns the records touched.
    pub fn touch_all(&mut self, now: Millis) -> usize {
        let mut n = 0usize;
        for s in self.slots.iter_mut() {
            if s.used() {
                s.last_seen = now;
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// Removes every record, each handed to `on_remove` with [`Removal::Deleted`] (a backup
    /// dispatcher dropping its replicated state before a resynchronisation). Returns how many.
    pub fn clear<F: FnMut(&FlowInfo, Removal)>(&mut self, on_remove: &mut F) -> usize {
        let mut n = 0usize;
        for i in 0..self.cap {
            if let Some(info) = self.remove_at(self.loc(i)) {
                on_remove(&info, Removal::Deleted);
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// Hands the records in use to `f`, in slot order, from `*cursor` (start with 0), visiting at most
    /// `budget` slots. Stops early when `f` returns false (that record will be handed again on the next
    /// call: a netlink dump whose message is full). A record that lives for the whole dump is handed
    /// exactly once; records never move, so a dump interleaved with changes neither skips nor repeats
    /// them.
    pub fn dump<F: FnMut(&FlowInfo) -> bool>(
        &self,
        cursor: &mut u32,
        budget: usize,
        mut f: F,
    ) -> Walk {
        let mut left = budget;
        while left > 0 {
            let i = *cursor;
            if i >= self.cap {
                *cursor = 0;
                return Walk::Done;
            }
            if let Some(info) = self.info(i) {
                if !f(&info) {
                    return Walk::More;
                }
            }
            *cursor = i.saturating_add(1);
            left = left.saturating_sub(1);
        }
        if *cursor >= self.cap {
            *cursor = 0;
            return Walk::Done;
        }
        Walk::More
    }

    /// Re-dispatch support: visits at most `budget` slots from `*cursor` and, for each live unended
    /// session (signalling flow) on server `from`, applies what `decide` says ([`Redispatch`]). The
    /// kernel runs it when a server goes down and its service's down action is "re-dispatch" (it may
    /// instead re-dispatch lazily, per packet, with [`Self::reassign`]). Returns the number of sessions
    /// moved or ended and the walk's progress.
    pub fn redispatch_step<D: FnMut(&FlowInfo) -> Redispatch, F: FnMut(&FlowInfo, Removal)>(
        &mut self,
        cursor: &mut u32,
        budget: usize,
        from: u16,
        now: Millis,
        mut decide: D,
        on_remove: &mut F,
    ) -> (u32, Walk) {
        let mut changed = 0u32;
        let mut left = budget;
        while left > 0 {
            let i = *cursor;
            if i >= self.cap {
                *cursor = 0;
                return (changed, Walk::Done);
            }
            if let Some(info) = self.info(i) {
                let live = !self.slot(i).is_some_and(|s| s.expired(now));
                if live
                    && info.identity == Identity::Signalling
                    && !info.ended
                    && info.server == from
                {
                    match decide(&info) {
                        Redispatch::Keep => {}
                        Redispatch::Move(to) => {
                            if let Some(s) = self.slot_mut(i) {
                                s.server = to;
                                changed = changed.saturating_add(1);
                            }
                        }
                        Redispatch::End { linger_ms } => {
                            if self.end_at(i, now, linger_ms, on_remove).is_some() {
                                changed = changed.saturating_add(1);
                            }
                        }
                    }
                }
            }
            *cursor = i.saturating_add(1);
            left = left.saturating_sub(1);
        }
        if *cursor >= self.cap {
            *cursor = 0;
            return (changed, Walk::Done);
        }
        (changed, Walk::More)
    }
}

/// Where a new record goes and what it starts with: its key and that key's hash (of the key as
/// stored, wildcarded if it is a wildcard entry), its server, its idle timeout and the time now.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'k> {
    /// The key (for a wildcard entry: the caller's key, wildcarded when stored).
    pub key: &'k FlowKey,
    /// Hash of the key as stored.
    pub hash: u64,
    /// Server of the record (a member's is its session's).
    pub server: u16,
    /// Idle timeout, ms.
    pub timeout_ms: u32,
    /// Now.
    pub now: Millis,
}

/// How a purge judges a record: by its idle time (the dispatcher that forwards), or only by what
/// replication ended (a backup, whose replicated records see no packets).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Aging {
    /// The forwarding dispatcher's purge ([`Shard::purge_step`]).
    Idle,
    /// A backup's purge ([`Shard::purge_step_replicated`]).
    Replicated,
}
