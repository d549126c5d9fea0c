//! The pool of SIP-over-TCP streams of a namespace (issue #14; docs/decisions.md "SIP over TCP:
//! messages framed per connection"): which TCP connection's framer (a
//! [`SipStream`](super::dpi::stream::SipStream) kept as a [`StreamMut`]: its [`Framing`] state and
//! its [`CARRY`]-byte carry buffer, ≈ 4.1 KiB in all) is in which slot.
//!
//! The state does not fit the flow record (56 bytes, no free field), so the kernel keeps beside the
//! table a fixed pool of streams made with it: [`stream_capacity`]`(flow_capacity)` =
//! min(`flow_capacity` / [`FLOWS_PER_STREAM`], [`MAX_STREAMS`]) slots (at least 1), split into as
//! many shards as the table, each behind its own lock ([`StreamShards`]). The packet path never
//! allocates: a connection that finds no free slot is inspected segment by segment, as before.
//!
//! ## A slot
//! A slot is tagged with its connection's 5-tuple (client → VIP) and the session the connection is
//! ([`StreamTag`]); its stream is a [`Framing`] (≈ 64 bytes) and [`CARRY`] bytes of one flat carry
//! array, the `i`-th stream's buffer at `i × CARRY`. Three arrays, none of them of 4 KiB values: a
//! `SipStream` (4 KiB by value) would go through the stack of whoever makes the array, and the
//! kernel makes it on a netlink request's. Session id 0 marks a vacant slot (the kernel never hands
//! out id 0).
//!
//! ## Where a connection's slot is: open addressing, [`PROBES`] probes
//! The connection's hash (the table's keyed SipHash of its 5-tuple) picks its shard (high 32 bits,
//! [`shard_of`]) and its home slot there (low 32 bits, [`reduce`]); its slot is one of the
//! [`PROBES`] slots from home on (wrapping at the shard's end), its *window*. A connection has at
//! most one slot: claiming takes the slot its 5-tuple already holds (a new session on the same
//! 5-tuple: the old one has ended), else the first vacant slot of the window; a window without
//! either is *full* for that connection (the pool is not: counted by the kernel as
//! `sip_tcp_pool_full` all the same). Freeing a slot makes it vacant at once: a lookup scans the
//! whole window (no tombstones, no probe chains to keep), so a window is at most [`PROBES`] tags of
//! 24 bytes — tags are kept apart from the streams, in an array of their own, so a lookup reads
//! one or two cache lines, not eight pages.
//!
//! ## When a slot is freed
//! * its session's signalling flow closes (the kernel's FIN/RST path): [`Streams::close`];
//! * its session has ended or its record has gone (purged, replaced, the table cleared): the sweep,
//!   [`Streams::sweep_step`], visits a tenth of each shard every purge step and checks each slot's
//!   session against the table (one lock at a time: collect under the pool's lock, check under the
//!   table's, free under the pool's again if the tag is unchanged);
//! * a new session of the same 5-tuple claims it: re-tagged then (a lookup that meets the 5-tuple
//!   under another session, [`Lookup::Stale`], leaves the slot alone: that session may be the newer
//!   one, which another CPU opened a moment ago).
//!
//! ## Locking
//! The kernel runs the framer's messages through the parser and the table (announcing the media
//! flows) while it holds the stream's shard lock: a pool lock is taken before a table lock, never
//! inside one (a lockdep class of its own in `sara.ko`). Nothing here takes a table lock while it
//! holds a pool lock ([`Streams::sweep_step`] alternates).

#[cfg(test)]
mod tests;

use super::dpi::stream::{Framing, StreamMut, CARRY};
use super::flow::{reduce, shard_of, FlowHasher, FlowKey};
use super::table::{SessionRef, ShardError, ShardSet, Table, MAX_SHARDS, MAX_SHARD_SLOTS};
use core::cell::RefCell;
use core::ops::DerefMut;

/// Most streams a pool holds (≈ 4.1 MiB of `SipStream`s: SIP over TCP is mostly trunks, a few connections each carrying many calls; more connections than streams fall back to per-segment inspection, counted).
pub const MAX_STREAMS: usize = 1024;
/// Flows of the table per stream of the pool.
pub const FLOWS_PER_STREAM: usize = 256;
/// Slots a connection's slot may be in: its home slot and the next ones.
pub const PROBES: usize = 8;
/// Slots one sweep batch checks against the table (a fixed array on the stack: 8 × 16 bytes).
pub const SWEEP_BATCH: usize = 8;

/// Streams of the pool of a table of `flow_capacity` flows: min(`flow_capacity` / 256, 1024), at
/// least 1.
pub const fn stream_capacity(flow_capacity: usize) -> usize {
    let c = flow_capacity / FLOWS_PER_STREAM;
    if c == 0 {
        1
    } else if c > MAX_STREAMS {
        MAX_STREAMS
    } else {
        c
    }
}

/// What a slot holds: its connection and session (`session.id == 0`: vacant).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamTag {
    /// The connection's 5-tuple, client → VIP.
    pub key: FlowKey,
    /// The session the connection is.
    pub session: SessionRef,
}

impl StreamTag {
    /// A vacant slot's tag.
    pub const VACANT: StreamTag = StreamTag {
        key: FlowKey::new([0; 4], 0, [0; 4], 0, 0),
        session: SessionRef {
            loc: super::table::Loc::from_raw(0),
            id: 0,
        },
    };

    /// Whether the slot is in use.
    pub fn used(&self) -> bool {
        self.session.id != 0
    }
}

/// What [`StreamShard::lookup`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The connection's slot, of this session.
    Hit(usize),
    /// The connection holds a slot under another session (an earlier one of its 5-tuple, which has
    /// ended, or — a race with a SYN reopening the 5-tuple on another CPU — a later one): left as it
    /// is; [`StreamShard::claim`] re-tags it, the sweep frees it once its session is dead.
    Stale,
    /// The connection has no slot.
    Miss,
}

/// What one [`StreamShard::sweep_collect`] visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamSweep {
    /// Slots visited.
    pub visited: usize,
    /// Slots in use copied out.
    pub found: usize,
    /// The cursor went past the shard's last slot.
    pub wrapped: bool,
}

/// One shard of the pool: `tags[i]` says whose stream `i` (`framing[i]` and
/// `carry[i × CARRY..][..CARRY]`) is. The arrays are the caller's (`KVVec` in the kernel, `Vec` on
/// the host): the shard's capacity of tags and states, [`CARRY`] times that of carry bytes.
#[derive(Debug)]
pub struct StreamShard<K, S, B> {
    tags: K,
    framing: S,
    carry: B,
    used: usize,
    cursor: usize,
    index: usize,
}

impl<K, S, B> StreamShard<K, S, B>
where
    K: DerefMut<Target = [StreamTag]>,
    S: DerefMut<Target = [Framing]>,
    B: DerefMut<Target = [u8]>,
{
    /// Shard number `index` over `tags`, `framing` and `carry` (every tag is reset to vacant:
    /// O(capacity), once; the streams are left as they are — a claimed stream is restarted by its
    /// caller).
    pub fn new(mut tags: K, framing: S, carry: B, index: usize) -> Result<Self, ShardError> {
        let cap = tags.len();
        if cap == 0
            || cap > MAX_SHARD_SLOTS
            || framing.len() != cap
            || cap.checked_mul(CARRY) != Some(carry.len())
        {
            return Err(ShardError::Capacity);
        }
        if index >= MAX_SHARDS {
            return Err(ShardError::Index);
        }
        for t in tags.iter_mut() {
            *t = StreamTag::VACANT;
        }
        Ok(StreamShard {
            tags,
            framing,
            carry,
            used: 0,
            cursor: 0,
            index,
        })
    }

    /// This shard's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Slots of this shard.
    pub fn capacity(&self) -> usize {
        self.tags.len()
    }

    /// Slots in use.
    pub fn len(&self) -> usize {
        self.used
    }

    /// Whether no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The tag of slot `i` (`None` out of range).
    pub fn tag(&self, i: usize) -> Option<StreamTag> {
        self.tags.get(i).copied()
    }

    /// The stream of slot `i`, in use or not (`None` out of range).
    pub fn stream_mut(&mut self, i: usize) -> Option<StreamMut<'_>> {
        let at = i.checked_mul(CARRY)?;
        let buf = self.carry.get_mut(at..at.checked_add(CARRY)?)?;
        Some(StreamMut::new(self.framing.get_mut(i)?, buf))
    }

    /// The `k`-th slot of the window of `hash` (`k` < [`PROBES`]).
    fn probe(&self, hash: u64, k: usize) -> usize {
        let cap = self.capacity();
        let home = reduce(hash as u32, u32::try_from(cap).unwrap_or(u32::MAX)) as usize;
        home.wrapping_add(k).checked_rem(cap).unwrap_or(0)
    }

    /// The window of `hash`: [`PROBES`] slots, fewer in a shard that has fewer.
    fn window(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        (0..PROBES.min(self.capacity())).map(move |k| self.probe(hash, k))
    }

    /// The slot of connection `key` (any session) and its tag.
    pub fn find(&self, key: &FlowKey, hash: u64) -> Option<(usize, StreamTag)> {
        self.window(hash).find_map(|i| {
            self.tags
                .get(i)
                .filter(|t| t.used() && t.key == *key)
                .map(|t| (i, *t))
        })
    }

    /// The slot of connection `key` in `session`.
    pub fn lookup(&self, key: &FlowKey, session: SessionRef, hash: u64) -> Lookup {
        match self.find(key, hash) {
            Some((i, t)) if t.session == session => Lookup::Hit(i),
            Some(_) => Lookup::Stale,
            None => Lookup::Miss,
        }
    }

    /// A slot for connection `key` in `session`: the one `key` holds already (re-tagged), else the
    /// first vacant slot of its window. Returns the slot and whether the connection held it already;
    /// `None` when the window is full (or `session.id` is 0). The caller restarts the slot's stream.
    pub fn claim(
        &mut self,
        key: &FlowKey,
        session: SessionRef,
        hash: u64,
    ) -> Option<(usize, bool)> {
        if session.id == 0 {
            return None;
        }
        let tag = StreamTag { key: *key, session };
        if let Some((i, _)) = self.find(key, hash) {
            if let Some(t) = self.tags.get_mut(i) {
                *t = tag;
            }
            return Some((i, true));
        }
        let i = self
            .window(hash)
            .find(|&i| self.tags.get(i).is_some_and(|t| !t.used()))?;
        let t = self.tags.get_mut(i)?;
        *t = tag;
        self.used = self.used.saturating_add(1);
        Some((i, false))
    }

    /// Frees the slot of connection `key` if it is `session`'s. Returns whether one was freed.
    pub fn release(&mut self, key: &FlowKey, session: SessionRef, hash: u64) -> bool {
        match self.find(key, hash) {
            Some((i, t)) if t.session == session => {
                self.vacate(i);
                true
            }
            _ => false,
        }
    }

    /// Frees slot `i` if it still holds `session` (the sweep's second step). Returns whether it did.
    pub fn release_at(&mut self, i: usize, session: SessionRef) -> bool {
        if self
            .tags
            .get(i)
            .is_some_and(|t| t.used() && t.session == session)
        {
            self.vacate(i);
            return true;
        }
        false
    }

    fn vacate(&mut self, i: usize) {
        if let Some(t) = self.tags.get_mut(i) {
            if t.used() {
                *t = StreamTag::VACANT;
                self.used = self.used.saturating_sub(1);
            }
        }
    }

    /// The sweep's first step: visits at most `budget` slots from the sweep cursor and copies the
    /// (slot, session) of each slot in use into `out`, stopping early once `out` is full (the cursor
    /// then stays on the next slot) or past the shard's last slot (`wrapped`). The caller checks each session under the table's lock, then
    /// frees the dead ones with [`StreamShard::release_at`] (which re-checks the tag).
    pub fn sweep_collect(&mut self, budget: usize, out: &mut [(usize, SessionRef)]) -> StreamSweep {
        let mut rep = StreamSweep::default();
        let cap = self.capacity();
        let mut left = budget.min(cap);
        while left > 0 && rep.found < out.len() {
            let i = self.cursor;
            if let Some(t) = self.tags.get(i).filter(|t| t.used()) {
                if let Some(o) = out.get_mut(rep.found) {
                    *o = (i, t.session);
                    rep.found = rep.found.saturating_add(1);
                }
            }
            left = left.saturating_sub(1);
            rep.visited = rep.visited.saturating_add(1);
            let next = i.saturating_add(1);
            if next >= cap {
                // One pass at most: the next step starts the next pass.
                self.cursor = 0;
                rep.wrapped = true;
                break;
            }
            self.cursor = next;
        }
        rep
    }

    /// Frees every slot. Returns how many were in use.
    pub fn clear(&mut self) -> usize {
        for t in self.tags.iter_mut() {
            *t = StreamTag::VACANT;
        }
        core::mem::take(&mut self.used)
    }

    /// Checks the shard's bookkeeping: the count of slots in use, and at most one slot per
    /// connection, inside its window (tests).
    pub fn check_invariants(&self, hasher: &FlowHasher) -> Result<(), &'static str> {
        let used = self.tags.iter().filter(|t| t.used()).count();
        if used != self.used {
            return Err("count of slots in use is wrong");
        }
        for (i, t) in self.tags.iter().enumerate().filter(|(_, t)| t.used()) {
            match self.find(&t.key, hasher.hash(&t.key)) {
                Some((j, _)) if j == i => {}
                Some(_) => return Err("a connection holds two slots"),
                None => return Err("a slot lies outside its connection's window"),
            }
        }
        Ok(())
    }
}

/// Access to the pool's shards, one at a time (as [`ShardSet`] for the table).
pub trait StreamShards {
    /// The tags of each shard.
    type Tags: DerefMut<Target = [StreamTag]>;
    /// The streams' states of each shard.
    type Framing: DerefMut<Target = [Framing]>;
    /// The streams' carry buffers of each shard.
    type Carry: DerefMut<Target = [u8]>;

    /// Number of shards.
    fn shard_count(&self) -> usize;

    /// Runs `f` on shard `i` with exclusive access; `None` if there is no shard `i`.
    fn with_shard<R, F: FnOnce(&mut StreamShard<Self::Tags, Self::Framing, Self::Carry>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R>;
}

impl<K, S, B> StreamShards for [RefCell<StreamShard<K, S, B>>]
where
    K: DerefMut<Target = [StreamTag]>,
    S: DerefMut<Target = [Framing]>,
    B: DerefMut<Target = [u8]>,
{
    type Tags = K;
    type Framing = S;
    type Carry = B;

    fn shard_count(&self) -> usize {
        self.len()
    }

    fn with_shard<R, F: FnOnce(&mut StreamShard<K, S, B>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R> {
        let mut shard = self.get(i)?.try_borrow_mut().ok()?;
        Some(f(&mut shard))
    }
}

/// The pool was full for a connection (its window has no vacant slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFull;

/// What one [`Streams::sweep_step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Slots visited.
    pub visited: usize,
    /// Slots freed (their session had ended or gone).
    pub freed: usize,
}

/// The pool over its shards, each connection placed by the keyed hash of its 5-tuple.
pub struct Streams<'a, P: ?Sized> {
    shards: &'a P,
    hasher: FlowHasher,
}

impl<'a, P: StreamShards + ?Sized> Streams<'a, P> {
    /// The pool over `shards`, hashing 5-tuples with `hasher` (the table's).
    pub fn new(shards: &'a P, hasher: FlowHasher) -> Self {
        Streams { shards, hasher }
    }

    fn place(&self, key: &FlowKey) -> (usize, u64) {
        let h = self.hasher.hash(key);
        (shard_of(h, self.shards.shard_count()), h)
    }

    /// Claims a slot for connection `key` in `session` (see [`StreamShard::claim`]) and runs `f` on
    /// its stream with the shard held (`f` restarts it: `start` at a SYN, `forget` met mid-stream).
    /// The `bool` says whether the connection held the slot already.
    pub fn open<R>(
        &self,
        key: &FlowKey,
        session: SessionRef,
        f: impl FnOnce(StreamMut<'_>) -> R,
    ) -> Result<(R, bool), PoolFull> {
        let (i, h) = self.place(key);
        self.shards
            .with_shard(i, |s| {
                let (slot, reused) = s.claim(key, session, h)?;
                s.stream_mut(slot).map(|st| (f(st), reused))
            })
            .flatten()
            .ok_or(PoolFull)
    }

    /// Runs `f` on the stream of connection `key` in `session`, with its shard held; `None` when the
    /// connection has no slot of this session.
    pub fn with<R>(
        &self,
        key: &FlowKey,
        session: SessionRef,
        f: impl FnOnce(StreamMut<'_>) -> R,
    ) -> Option<R> {
        let (i, h) = self.place(key);
        self.shards
            .with_shard(i, |s| match s.lookup(key, session, h) {
                Lookup::Hit(slot) => s.stream_mut(slot).map(f),
                Lookup::Stale | Lookup::Miss => None,
            })
            .flatten()
    }

    /// Frees the slot of connection `key` if it is `session`'s. Returns whether one was freed.
    pub fn close(&self, key: &FlowKey, session: SessionRef) -> bool {
        let (i, h) = self.place(key);
        self.shards
            .with_shard(i, |s| s.release(key, session, h))
            .unwrap_or(false)
    }

    /// One sweep step: visits up to `budget` slots of each shard and frees those whose session has
    /// ended or whose record has gone from `table`. One lock at a time: the sessions of a batch are
    /// copied out under the shard's lock, checked under the table's, freed under the shard's again
    /// if their slot still holds them.
    pub fn sweep_step<S: ShardSet + ?Sized>(
        &self,
        table: &Table<'_, S>,
        budget: usize,
    ) -> SweepReport {
        let mut rep = SweepReport::default();
        for i in 0..self.shards.shard_count() {
            let mut left = budget;
            while left > 0 {
                let mut batch = [(0usize, SessionRef::default()); SWEEP_BATCH];
                let Some(s) = self
                    .shards
                    .with_shard(i, |x| x.sweep_collect(left, &mut batch))
                else {
                    break;
                };
                rep.visited = rep.visited.saturating_add(s.visited);
                left = left.saturating_sub(s.visited);
                for (slot, r) in batch.iter().take(s.found) {
                    let dead = table.session_record(*r).is_none_or(|f| f.ended);
                    if dead
                        && self
                            .shards
                            .with_shard(i, |x| x.release_at(*slot, *r))
                            .unwrap_or(false)
                    {
                        rep.freed = rep.freed.saturating_add(1);
                    }
                }
                if s.visited == 0 || s.wrapped {
                    break;
                }
            }
        }
        rep
    }

    /// Slots in use and slots in all, summed over the shards.
    pub fn fill(&self) -> (usize, usize) {
        let (mut len, mut cap) = (0usize, 0usize);
        for i in 0..self.shards.shard_count() {
            if let Some((l, c)) = self.shards.with_shard(i, |x| (x.len(), x.capacity())) {
                len = len.saturating_add(l);
                cap = cap.saturating_add(c);
            }
        }
        (len, cap)
    }

    /// Frees every slot. Returns how many were in use.
    pub fn clear(&self) -> usize {
        let mut n = 0usize;
        for i in 0..self.shards.shard_count() {
            n = n.saturating_add(self.shards.with_shard(i, |x| x.clear()).unwrap_or(0));
        }
        n
    }
}
