//! The Call-ID index: which session each SIP call belongs to (issue #14, "a SIP call is a session").
//!
//! On a SIP trunk every call shares one signalling 5-tuple, so the flow table alone cannot tell calls
//! apart. This index maps a call — its **client address** and its **Call-ID** ([`CallKey`]) — to a
//! caller-chosen value `V` (for the kernel: the [`super::table::SessionRef`] of the call's session),
//! with a last-seen time and a lifetime. [`classify`] says what the data path does with a SIP message
//! once it knows whether its call is in the index.
//!
//! ## Key and identity
//! * The client address is 16 bytes ([`ClientAddr`]): an IPv4 client is stored IPv4-mapped
//!   (`::ffff:a.b.c.d`, [`client_v4`]), so IPv6 clients need no change. It is stored whole and compared
//!   exactly: the same Call-ID from two clients is two calls, and no client can reach another's call.
//! * The Call-ID is compared byte for byte as RFC 3261 says (case-sensitive, no normalisation; the
//!   parser has trimmed the header value). At most [`MAX_CALL_ID`] bytes: a longer Call-ID is not
//!   indexed ([`CallIdError::TooLong`]; the classifier sends its message to the fallback rule).
//! * An entry does not keep the whole Call-ID, to keep entries at one cache line: it keeps the 64-bit
//!   keyed hash of (client, Call-ID) ([`CallKey::hash`], SipHash-1-3 under the Call-ID key),
//!   the Call-ID's length, its first [`HEAD_BYTES`] and its last [`TAIL_BYTES`] bytes. Call-IDs of up
//!   to 14 bytes are therefore compared exactly; two longer Call-IDs of one client are confused only if
//!   they have the same length, the same 14 edge bytes and the same 64-bit keyed hash, which a client
//!   cannot aim at without the secret (chance ≤ 2⁻⁵⁶ per comparison even with 256 shards, whose choice
//!   uses 8 of the hash's bits). The edge bytes are also what `sarectl` shows as the shortened Call-ID.
//!
//! ## Layout (as the flow table's, see `super::table`)
//! Caller-provided storage `S: DerefMut<Target = [CallSlot<V>]>` (`KVVec` in the kernel, `Vec` on the
//! host); slot `i` holds entry `i` and the head of bucket `i`; entries of a bucket are chained by
//! index, free slots too (doubly linked, so a new entry takes its own bucket's slot when free). No
//! allocation, entries never move while they live ([`Loc`] names one for its life), 100 % fill.
//! [`CallSlot<SessionRef>`] is 64 bytes, everything included. Bucket = `reduce(low 32 bits of the
//! hash, capacity)`; the kernel picks the shard from the high 32 bits (`flow::shard_of`), one
//! [`CallIndex`] per shard, each behind its own BH-safe lock, never two held at once.
//!
//! ## Time and expiry
//! Wrapping [`Millis`], idle time by [`idle_ms`] (a `last_seen` slightly ahead of `now` is idle 0). An
//! entry lives while idle ≤ its `timeout_ms` (set at insert, clamped to 1..=[`MAX_TIMEOUT_MS`];
//! [`CallIndex::end`] shortens it to a linger time). A dead entry is treated as absent by every lookup
//! that meets it (and removed there), reused by inserts, and reclaimed by [`CallIndex::purge_step`],
//! which must visit every slot at least once every 2³¹ − 2³⁰ ms (the kernel's purge does it every
//! second or so).
//!
//! ## Full index
//! An insert into a full index first reclaims dead entries of its own bucket's chain and up to
//! [`FULL_RECLAIM`] slots from the purge cursor; if no slot is free then, it is refused
//! ([`CallInsertError::Full`], counted): a live call is never evicted to make room.
//!
//! ## Sizing
//! [`call_capacity`]: `flow_capacity / 2` (at least 1). Every call with media holds at least two flow
//! records (its session and its RTP flow), so the flow table never holds more than that many calls
//! with media; the index is never the tighter limit for them.

mod dispatch;
mod route;
mod sessions;
#[cfg(test)]
mod tests;

// In sara.ko the core is compiled in as a module: re-exports the kernel does not use yet would trip
// `unused_imports` under -Dwarnings.
#[allow(unused_imports)]
pub use dispatch::{classify, Dispatch, Fallback};
#[allow(unused_imports)]
pub use route::{
    admission_kind, call_record_key, home_of_new_call, rendezvous, service_protocol, Home,
    CALL_RECORD_PROBES, PROTO_SIP_CALL,
};
#[allow(unused_imports)]
pub use sessions::{
    CallShards, Calls, Found, OpenCallError, OpenedCall, SweepReport, DUMP_BATCH, ENTRY_TIMEOUT_MS,
    SWEEP_BATCH,
};

use super::dpi::sip::SipMessage;
use super::flow::{reduce, FlowHasher};
use super::table::{
    idle_ms, Loc, Millis, ShardError, Walk, MAX_SHARDS, MAX_SHARD_SLOTS, MAX_TIMEOUT_MS,
};
use core::marker::PhantomData;
use core::ops::DerefMut;

/// A client address: 16 bytes, network order; IPv4 as IPv4-mapped IPv6 ([`client_v4`]).
pub type ClientAddr = [u8; 16];

/// Longest Call-ID indexed, in bytes (real ones are 10–80 bytes; RFC 3261 sets no bound).
pub const MAX_CALL_ID: usize = 256;
/// Leading Call-ID bytes kept in an entry.
pub const HEAD_BYTES: usize = 8;
/// Trailing Call-ID bytes kept in an entry.
pub const TAIL_BYTES: usize = 6;
/// Slots a refused-for-full insert may purge from the cursor to find a dead entry to reuse.
pub const FULL_RECLAIM: usize = 8;

const NIL: u32 = u32::MAX;

/// The address of an IPv4 client as a [`ClientAddr`]: `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2).
pub const fn client_v4(a: [u8; 4]) -> ClientAddr {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3],
    ]
}

/// Capacity of the Call-ID index of a flow table of `flow_capacity` flows: half of it, at least 1
/// (see the module docs). The kernel splits it over its shards as it does the table.
pub const fn call_capacity(flow_capacity: usize) -> usize {
    let c = flow_capacity / 2;
    if c == 0 {
        1
    } else {
        c
    }
}

/// Why a message has no usable Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallIdError {
    /// No (non-empty) Call-ID header in the bytes inspected.
    Missing,
    /// Longer than [`MAX_CALL_ID`].
    TooLong,
}

/// A call: client address and Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallKey<'a> {
    client: ClientAddr,
    call_id: &'a [u8],
}

impl<'a> CallKey<'a> {
    /// The call `call_id` of `client`; the Call-ID must be 1..=[`MAX_CALL_ID`] bytes.
    pub fn new(client: ClientAddr, call_id: &'a [u8]) -> Result<Self, CallIdError> {
        if call_id.is_empty() {
            return Err(CallIdError::Missing);
        }
        if call_id.len() > MAX_CALL_ID {
            return Err(CallIdError::TooLong);
        }
        Ok(CallKey { client, call_id })
    }

    /// The call of a parsed SIP message sent by `client`.
    pub fn of_message(client: ClientAddr, msg: &SipMessage<'a>) -> Result<Self, CallIdError> {
        CallKey::new(client, msg.call_id.ok_or(CallIdError::Missing)?)
    }

    /// The client address.
    pub fn client(&self) -> &ClientAddr {
        &self.client
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &'a [u8] {
        self.call_id
    }

    /// The keyed hash of the call: SipHash-1-3 of the 16 address bytes followed by the Call-ID. Low 32
    /// bits: bucket; high 32 bits: shard; all 64 stored and compared.
    pub fn hash(&self, h: &FlowHasher) -> u64 {
        h.hash_parts(&[&self.client, self.call_id])
    }

    fn edges(&self) -> ([u8; HEAD_BYTES], [u8; TAIL_BYTES]) {
        let mut head = [0u8; HEAD_BYTES];
        let mut tail = [0u8; TAIL_BYTES];
        let id = self.call_id;
        let h = id.get(..HEAD_BYTES).unwrap_or(id);
        if let Some(d) = head.get_mut(..h.len()) {
            d.copy_from_slice(h);
        }
        let t = id.get(id.len().saturating_sub(TAIL_BYTES)..).unwrap_or(&[]);
        if let Some(d) = tail.get_mut(..t.len()) {
            d.copy_from_slice(t);
        }
        (head, tail)
    }

    /// Length as stored (≤ [`MAX_CALL_ID`] < 2¹⁶ by construction).
    fn len16(&self) -> u16 {
        u16::try_from(self.call_id.len()).unwrap_or(u16::MAX)
    }

    /// The call as an index entry stores it, `hash` being `self.hash(…)`.
    pub fn mark(&self, hash: u64) -> CallMark {
        let (head, tail) = self.edges();
        CallMark {
            client: self.client,
            hash,
            len: self.len16(),
            head,
            tail,
        }
    }
}

/// A call as an index entry stores and compares it: client address, keyed hash, Call-ID length and
/// edge bytes, not the Call-ID itself. What a replication `Call` record carries (`msg::repl`): an
/// index whose hasher has the same key finds the call's messages by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CallMark {
    /// The client address.
    pub client: ClientAddr,
    /// The keyed hash of (client, Call-ID).
    pub hash: u64,
    /// Length of the Call-ID, 1..=[`MAX_CALL_ID`].
    pub len: u16,
    /// Its first [`HEAD_BYTES`] bytes, zero-padded.
    pub head: [u8; HEAD_BYTES],
    /// Its last `min(len, TAIL_BYTES)` bytes, zero-padded.
    pub tail: [u8; TAIL_BYTES],
}

impl CallMark {
    /// Whether this can be a call's mark: a length in 1..=[`MAX_CALL_ID`].
    pub fn valid(&self) -> bool {
        self.len != 0 && usize::from(self.len) <= MAX_CALL_ID
    }
}

/// One slot of a [`CallIndex`]: an entry (when in use) and the head of one hash bucket.
///
/// 64 bytes for `V` = [`super::table::SessionRef`] (checked by a test). Fields are private; read
/// entries through [`CallInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct CallSlot<V> {
    hash: u64,
    client: ClientAddr,
    value: V,
    /// In use: last-seen time. Free: the previous free slot.
    last_seen: u32,
    timeout: u32,
    /// Next entry of the bucket chain, or next free slot.
    next: u32,
    /// Head of bucket `i` for slot `i`.
    head: u32,
    /// Call-ID length; 0: slot not in use (a Call-ID is never empty).
    len: u16,
    first: [u8; HEAD_BYTES],
    last: [u8; TAIL_BYTES],
}

impl<V: Copy + Default> CallSlot<V> {
    /// An unused slot with an empty bucket (fill storage with it: `vec![CallSlot::vacant(); n]`).
    pub fn vacant() -> Self {
        CallSlot {
            hash: 0,
            client: [0; 16],
            value: V::default(),
            last_seen: 0,
            timeout: 0,
            next: NIL,
            head: NIL,
            len: 0,
            first: [0; HEAD_BYTES],
            last: [0; TAIL_BYTES],
        }
    }

    fn used(&self) -> bool {
        self.len != 0
    }

    fn dead(&self, now: Millis) -> bool {
        idle_ms(now, self.last_seen) > self.timeout
    }
}

/// A copy of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo<V> {
    /// Where the entry lives (stable for its life).
    pub loc: Loc,
    /// The client address.
    pub client: ClientAddr,
    /// The caller's value (the call's session).
    pub value: V,
    /// The call's keyed hash.
    pub hash: u64,
    /// Length of the Call-ID.
    pub call_id_len: u16,
    /// Its first bytes (zero-padded when shorter).
    pub call_id_head: [u8; HEAD_BYTES],
    /// Its last bytes (the first `min(len, TAIL_BYTES)` are meaningful).
    pub call_id_tail: [u8; TAIL_BYTES],
    /// Last insert or refresh.
    pub last_seen: Millis,
    /// Lifetime after the last refresh, ms.
    pub timeout_ms: u32,
}

impl<V> CallInfo<V> {
    /// The call as the entry stores it (what a replication `Call` record carries).
    pub const fn mark(&self) -> CallMark {
        CallMark {
            client: self.client,
            hash: self.hash,
            len: self.call_id_len,
            head: self.call_id_head,
            tail: self.call_id_tail,
        }
    }

    /// Milliseconds since the last refresh.
    pub const fn idle(&self, now: Millis) -> u32 {
        idle_ms(now, self.last_seen)
    }

    /// The Call-ID shortened for people: its first bytes, whether bytes are left out, and the last
    /// bytes not already in the first part. The whole Call-ID when it is ≤ 14 bytes.
    pub fn short_call_id(&self) -> (&[u8], bool, &[u8]) {
        let len = usize::from(self.call_id_len);
        let head = self.call_id_head.get(..len.min(HEAD_BYTES)).unwrap_or(&[]);
        // The tail holds bytes len−t..len, t = min(len, TAIL_BYTES); show those past the head.
        let t = len.min(TAIL_BYTES);
        let tail_start = len.saturating_sub(t);
        let skip = HEAD_BYTES.saturating_sub(tail_start).min(t);
        let tail = self.call_id_tail.get(skip..t).unwrap_or(&[]);
        let elided = len > HEAD_BYTES.saturating_add(TAIL_BYTES);
        (head, elided, tail)
    }
}

/// Why an insert failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallInsertError<V> {
    /// No free slot even after reclaiming dead entries: live calls are never evicted.
    Full,
    /// A [`CallMark`] that no call can have (length 0 or over [`MAX_CALL_ID`]).
    Invalid,
    /// The call is already indexed (e.g. its INVITE was handled on another CPU a moment ago).
    Exists(CallInfo<V>),
}

/// Counters of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallStats {
    /// Inserts refused because the index was full.
    pub full: u64,
    /// Entries removed because their lifetime was over (by a lookup, an insert or the purge).
    pub expired: u64,
}

/// What one purge step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallPurge {
    /// Slots visited.
    pub visited: u32,
    /// Dead entries removed.
    pub removed: u32,
    /// The cursor went past the last slot back to 0 during this step.
    pub wrapped: bool,
}

/// One shard of the Call-ID index (see the module docs).
#[derive(Debug)]
pub struct CallIndex<S, V> {
    slots: S,
    index: u8,
    cap: u32,
    free: u32,
    len: u32,
    purge_cursor: u32,
    sweep_cursor: u32,
    stats: CallStats,
    _value: PhantomData<V>,
}

/// What one [`CallIndex::sweep_collect`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallSweep {
    /// Slots visited.
    pub visited: u32,
    /// Entries handed out (the first `found` of the output).
    pub found: usize,
    /// The cursor went past the last slot back to 0.
    pub wrapped: bool,
}

impl<V: Copy + Default + PartialEq, S: DerefMut<Target = [CallSlot<V>]>> CallIndex<S, V> {
    /// Makes shard `index` of an index over `storage`, whose length is the capacity (every slot is
    /// reset: O(capacity), once).
    pub fn new(mut storage: S, index: usize) -> Result<Self, ShardError> {
        let cap = storage.len();
        if cap == 0 || cap > MAX_SHARD_SLOTS {
            return Err(ShardError::Capacity);
        }
        let index = u8::try_from(index)
            .ok()
            .filter(|i| usize::from(*i) < MAX_SHARDS)
            .ok_or(ShardError::Index)?;
        // Free list 0 ⇄ 1 ⇄ … ⇄ cap−1 (`next` forward, `last_seen` backward).
        let mut next = NIL;
        for i in (0..cap).rev() {
            if let Some(slot) = storage.get_mut(i) {
                *slot = CallSlot::vacant();
                slot.next = next;
                slot.last_seen = if i == 0 {
                    NIL
                } else {
                    (i as u32).wrapping_sub(1)
                };
            }
            next = i as u32;
        }
        Ok(CallIndex {
            slots: storage,
            index,
            cap: cap as u32,
            free: 0,
            len: 0,
            purge_cursor: 0,
            sweep_cursor: 0,
            stats: CallStats::default(),
            _value: PhantomData,
        })
    }

    /// This shard's index.
    pub fn index(&self) -> usize {
        usize::from(self.index)
    }

    /// Number of slots (= most entries).
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Entries in use (dead ones included until met or purged).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True when no entry is in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no slot is free.
    pub fn is_full(&self) -> bool {
        self.free == NIL
    }

    /// Counters.
    pub fn stats(&self) -> CallStats {
        self.stats
    }

    /// Gives the storage back.
    pub fn into_storage(self) -> S {
        self.slots
    }

    /// Verifies the structure: every entry in use is in its bucket's chain exactly once, chains and
    /// the free list are acyclic, disjoint and cover every slot, and `len` matches. O(capacity): for
    /// tests and debugging.
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
                    return Err("entry in the wrong bucket");
                }
                chained = chained.saturating_add(1);
                steps = steps.saturating_add(1);
                if steps > cap {
                    return Err("cycle in a chain");
                }
                i = s.next;
            }
        }
        let (mut free, mut i, mut prev) = (0usize, self.free, NIL);
        while i != NIL {
            let s = self.slot(i).ok_or("free index out of range")?;
            if s.used() {
                return Err("used slot in the free list");
            }
            if s.last_seen != prev {
                return Err("free list back link broken");
            }
            free = free.saturating_add(1);
            if free > cap {
                return Err("cycle in the free list");
            }
            prev = i;
            i = s.next;
        }
        let used = self.slots.iter().filter(|s| s.used()).count();
        if used != chained {
            return Err("an entry in use is not chained exactly once");
        }
        if used.saturating_add(free) != cap {
            return Err("slots neither used nor free");
        }
        if used != self.len() {
            return Err("len differs from a recount");
        }
        Ok(())
    }

    // ---- internals -------------------------------------------------------------------------

    fn bucket(&self, hash: u64) -> usize {
        reduce(hash as u32, self.cap) as usize
    }

    fn slot(&self, i: u32) -> Option<&CallSlot<V>> {
        self.slots.get(i as usize)
    }

    fn slot_mut(&mut self, i: u32) -> Option<&mut CallSlot<V>> {
        self.slots.get_mut(i as usize)
    }

    fn loc(&self, i: u32) -> Loc {
        Loc::from_raw((u32::from(self.index) << 24) | (i & 0x00ff_ffff))
    }

    fn local(&self, loc: Loc) -> Option<u32> {
        if loc.shard() != self.index() || loc.slot() >= self.capacity() {
            return None;
        }
        Some(loc.slot() as u32)
    }

    fn info(&self, i: u32) -> Option<CallInfo<V>> {
        let s = self.slot(i).filter(|s| s.used())?;
        Some(CallInfo {
            loc: self.loc(i),
            client: s.client,
            value: s.value,
            hash: s.hash,
            call_id_len: s.len,
            call_id_head: s.first,
            call_id_tail: s.last,
            last_seen: s.last_seen,
            timeout_ms: s.timeout,
        })
    }

    fn find(&self, key: &CallKey<'_>, hash: u64) -> Option<u32> {
        self.find_mark(&key.mark(hash))
    }

    fn find_mark(&self, m: &CallMark) -> Option<u32> {
        let (hash, len, first, last) = (m.hash, m.len, m.head, m.tail);
        let mut i = self.slots.get(self.bucket(hash))?.head;
        // A chain is never longer than the shard; the bound only guards against corruption.
        let mut guard = self.cap;
        while i != NIL && guard > 0 {
            let s = self.slot(i)?;
            if s.used()
                && s.hash == hash
                && s.len == len
                && s.client == m.client
                && s.first == first
                && s.last == last
            {
                return Some(i);
            }
            i = s.next;
            guard = guard.saturating_sub(1);
        }
        None
    }

    /// The live entry of `key`; a dead one met is removed.
    fn find_live(&mut self, key: &CallKey<'_>, hash: u64, now: Millis) -> Option<u32> {
        self.find_live_mark(&key.mark(hash), now)
    }

    fn find_live_mark(&mut self, m: &CallMark, now: Millis) -> Option<u32> {
        let i = self.find_mark(m)?;
        if self.slot(i)?.dead(now) {
            self.expire(i);
            return None;
        }
        Some(i)
    }

    fn expire(&mut self, i: u32) {
        if self.release(i).is_some() {
            self.stats.expired = self.stats.expired.saturating_add(1);
        }
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
        let (mut p, mut guard) = (head, self.cap);
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

    fn take_free(&mut self, i: u32) {
        let Some(s) = self.slot(i) else { return };
        let (prev, next) = (s.last_seen, s.next);
        if prev == NIL {
            self.free = next;
        } else if let Some(p) = self.slot_mut(prev) {
            p.next = next;
        }
        if let Some(n) = self.slot_mut(next) {
            n.last_seen = prev;
        }
    }

    fn push_free(&mut self, i: u32) {
        let head = self.free;
        if let Some(h) = self.slot_mut(head) {
            h.last_seen = i;
        }
        if let Some(s) = self.slot_mut(i) {
            s.next = head;
            s.last_seen = NIL;
        }
        self.free = i;
    }

    /// A free slot for an entry of bucket `b`: slot `b` itself when free, else the free list's head.
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

    /// Frees slot `i` and returns the entry it held.
    fn release(&mut self, i: u32) -> Option<CallInfo<V>> {
        let info = self.info(i)?;
        self.unlink(i);
        let s = self.slot_mut(i)?;
        let head = s.head;
        *s = CallSlot::vacant();
        s.head = head;
        self.push_free(i);
        self.len = self.len.saturating_sub(1);
        Some(info)
    }

    /// Removes the dead entries of bucket `b`'s chain (bounded by the chain's length).
    fn reclaim_chain(&mut self, b: usize, now: Millis) {
        let mut i = self.slots.get(b).map_or(NIL, |h| h.head);
        let mut guard = self.cap;
        while i != NIL && guard > 0 {
            let Some(s) = self.slot(i) else { return };
            let (next, dead) = (s.next, s.dead(now));
            if dead {
                self.expire(i);
            }
            i = next;
            guard = guard.saturating_sub(1);
        }
    }

    // ---- lookups ---------------------------------------------------------------------------

    /// The entry of `key`, live or not, changing nothing.
    pub fn get(&self, key: &CallKey<'_>, hash: u64) -> Option<CallInfo<V>> {
        self.info(self.find(key, hash)?)
    }

    /// The entry at `loc`, if `loc` is in this shard and in use.
    pub fn get_at(&self, loc: Loc) -> Option<CallInfo<V>> {
        self.info(self.local(loc)?)
    }

    /// The live entry of `key` (`hash` = `key.hash(…)`), not refreshed; a dead one met is removed.
    pub fn lookup(&mut self, key: &CallKey<'_>, hash: u64, now: Millis) -> Option<CallInfo<V>> {
        let i = self.find_live(key, hash, now)?;
        self.info(i)
    }

    /// The packet path's lookup: the live entry of `key`, refreshed (last seen = `now`).
    pub fn refresh(&mut self, key: &CallKey<'_>, hash: u64, now: Millis) -> Option<CallInfo<V>> {
        let i = self.find_live(key, hash, now)?;
        self.slot_mut(i)?.last_seen = now;
        self.info(i)
    }

    // ---- changes ---------------------------------------------------------------------------

    /// Indexes a new call with `value`, living `timeout_ms` after its last refresh. A dead entry of the
    /// same call is replaced. When no slot is free, dead entries are reclaimed first (see the module
    /// docs); [`CallInsertError::Full`] is counted in [`CallStats::full`].
    pub fn insert(
        &mut self,
        key: &CallKey<'_>,
        hash: u64,
        value: V,
        timeout_ms: u32,
        now: Millis,
    ) -> Result<Loc, CallInsertError<V>> {
        self.insert_mark(&key.mark(hash), value, timeout_ms, now)
    }

    /// [`Self::insert`] of a call known by its mark (a replicated binding). The mark's hash must be
    /// the one this index's hasher gives the call, or its messages never find it.
    pub fn insert_mark(
        &mut self,
        m: &CallMark,
        value: V,
        timeout_ms: u32,
        now: Millis,
    ) -> Result<Loc, CallInsertError<V>> {
        let hash = m.hash;
        if !m.valid() {
            return Err(CallInsertError::Invalid);
        }
        if let Some(i) = self.find_live_mark(m, now) {
            return Err(self
                .info(i)
                .map_or(CallInsertError::Full, CallInsertError::Exists));
        }
        let b = self.bucket(hash);
        if self.is_full() {
            self.reclaim_chain(b, now);
        }
        if self.is_full() {
            self.purge_step(now, FULL_RECLAIM);
        }
        let Some(i) = self.alloc(b) else {
            self.stats.full = self.stats.full.saturating_add(1);
            return Err(CallInsertError::Full);
        };
        let head = self.slots.get(b).map_or(NIL, |h| h.head);
        let (first, last, len) = (m.head, m.tail, m.len);
        let Some(s) = self.slot_mut(i) else {
            return Err(CallInsertError::Full);
        };
        s.hash = hash;
        s.client = m.client;
        s.value = value;
        s.last_seen = now;
        s.timeout = timeout_ms.clamp(1, MAX_TIMEOUT_MS);
        s.len = len;
        s.first = first;
        s.last = last;
        s.next = head;
        if let Some(h) = self.slots.get_mut(b) {
            h.head = i;
        }
        self.len = self.len.saturating_add(1);
        Ok(self.loc(i))
    }

    /// The call has ended (BYE): its entry lingers `linger_ms` from now (so retransmissions still
    /// reach its server; a refresh keeps it `linger_ms` more, never its old lifetime), or goes now if `linger_ms` is 0. Returns
    /// the entry as it was; `None` if the call is not live here.
    pub fn end(
        &mut self,
        key: &CallKey<'_>,
        hash: u64,
        now: Millis,
        linger_ms: u32,
    ) -> Option<CallInfo<V>> {
        let i = self.find_live(key, hash, now)?;
        if linger_ms == 0 {
            return self.release(i);
        }
        let info = self.info(i)?;
        let s = self.slot_mut(i)?;
        s.last_seen = now;
        s.timeout = linger_ms.min(MAX_TIMEOUT_MS).min(s.timeout.max(1));
        Some(info)
    }

    /// Removes the entry of `key` (live or not) and returns it.
    pub fn remove(&mut self, key: &CallKey<'_>, hash: u64) -> Option<CallInfo<V>> {
        let i = self.find(key, hash)?;
        self.release(i)
    }

    /// Removes the entry at `loc` only if it still holds `value` (safe after a check made under
    /// another lock, e.g. the call's session found dead in the flow table).
    pub fn remove_at(&mut self, loc: Loc, value: &V) -> Option<CallInfo<V>> {
        let i = self.local(loc)?;
        let s = self.slot(i)?;
        if !s.used() || s.value != *value {
            return None;
        }
        self.release(i)
    }

    /// Removes every entry; returns how many (a backup dispatcher resynchronising).
    pub fn clear(&mut self) -> usize {
        let mut n = 0usize;
        for i in 0..self.cap {
            if self.release(i).is_some() {
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// Sets every entry's last-seen time to `now` (a backup taking over: its replicated calls saw no
    /// packet here). Returns the entries touched.
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

    // ---- walks -----------------------------------------------------------------------------

    /// One purge step: visits at most `budget` slots (never more than the capacity) from the purge
    /// cursor and removes the dead entries. Entries never move, so successive steps visit every slot
    /// once per pass, neither skipping nor repeating one.
    pub fn purge_step(&mut self, now: Millis, budget: usize) -> CallPurge {
        let mut rep = CallPurge::default();
        let mut left = budget.min(self.capacity());
        while left > 0 {
            let i = self.purge_cursor;
            if self.slot(i).is_some_and(|s| s.used() && s.dead(now)) {
                self.expire(i);
                rep.removed = rep.removed.saturating_add(1);
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

    /// The sweep's step, which removes the entries of calls whose session has gone (an entry lives
    /// while its session does, so a call whose BYE was lost goes with its session): visits at most
    /// `budget` slots from the sweep cursor and copies the (location, value) of each entry in use into
    /// `out`, stopping early once `out` is full (the cursor then stays on the next slot). The caller
    /// checks each value under the other lock, then removes the dead ones with
    /// [`CallIndex::remove_at`] (which re-checks the value). Entries never move: one pass visits every
    /// slot once.
    pub fn sweep_collect(&mut self, budget: usize, out: &mut [(Loc, V)]) -> CallSweep {
        let mut rep = CallSweep::default();
        let mut left = budget.min(self.capacity());
        while left > 0 && rep.found < out.len() {
            let i = self.sweep_cursor;
            if let Some(info) = self.info(i) {
                if let Some(o) = out.get_mut(rep.found) {
                    *o = (info.loc, info.value);
                    rep.found = rep.found.saturating_add(1);
                }
            }
            left = left.saturating_sub(1);
            rep.visited = rep.visited.saturating_add(1);
            let next = i.saturating_add(1);
            self.sweep_cursor = if next >= self.cap {
                rep.wrapped = true;
                0
            } else {
                next
            };
        }
        rep
    }

    /// Hands the entries in use to `f`, in slot order, from `*cursor` (start with 0), visiting at most
    /// `budget` slots; stops early when `f` returns false (that entry is handed again next call). An
    /// entry that lives for the whole dump is handed exactly once.
    pub fn dump<F: FnMut(&CallInfo<V>) -> bool>(
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
}
