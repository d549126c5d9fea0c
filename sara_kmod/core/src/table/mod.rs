//! The session/flow table.
//!
//! ## What it holds (spec "Flows and sessions")
//! One record per flow ([`FlowInfo`] is the copy handed out): key, session, server, status
//! ([`Status`]: New, Established, Inactive), identity ([`Identity`]: Signalling, Announced, Secondary),
//! last-seen time, idle timeout, packet and byte counters. A session is one Signalling flow plus the
//! flows announced in it; its identity is a [`SessionRef`] (where its signalling flow lives + a session
//! id), and every flow of the session carries it.
//!
//! Transitions ([`Shard::on_packet`], [`Table::packet`]):
//! * unknown flow on a service → the caller runs admission and selection, then
//!   [`Table::open_session`]: Signalling, New;
//! * packet on a Signalling flow → Established, refreshed;
//! * packet on an Announced flow (exact key, or a wildcard entry matched by the second lookup) →
//!   Secondary, Established, refreshed; a wildcard entry is then replaced by the exact key;
//! * packet on a Secondary flow → refreshed (Established);
//! * idle > timeout → Inactive (set by [`Shard::purge_step`]; a packet makes it Established again);
//! * idle > 2 × timeout → gone: purged by [`Shard::purge_step`], and treated as absent (and removed) by
//!   any lookup that meets it first, so behaviour does not depend on when the purge runs;
//! * [`Shard::end_session`] (TCP FIN/RST of the signalling flow, SIP BYE, RTSP TEARDOWN, told by the
//!   caller) → the session is over at once: its announced/secondary flows no longer match; the signalling
//!   flow itself lingers `linger_ms` after its last packet (so the rest of a TCP close still reaches the
//!   same server), status Inactive, then goes. `linger_ms = 0` removes it at once.
//! * An announced/secondary flow lives while its own idle time ≤ 2 × timeout **and** its session is
//!   alive. With `keep_alive` (see [`PacketOpts`]) a packet on a member flow also refreshes the session's
//!   signalling flow: a SIP call whose signalling is quiet for longer than twice the timeout is not cut
//!   while its RTP flows. (Decision recorded here because the spec is silent on it; an operator who wants
//!   the literal reading turns `keep_alive` off.)
//!
//! ## Layout: index chaining, head-in-slot, no allocation
//! A shard is one caller-provided array of [`Slot`]s (`S: DerefMut<Target = [Slot]>`: a `KVVec<Slot>`
//! in the kernel, a `Vec<Slot>` on the host). Slot `i` holds flow record `i` *and* the head of hash
//! bucket `i`; records of a bucket are chained through their `next` index, free records through the same
//! field. Why chaining rather than open addressing:
//! * **stable locations**: a record never moves while it lives, so a [`Loc`] (shard, slot) names it for
//!   its whole life. Sessions are referenced by the location of their signalling flow, dump and purge
//!   cursors are plain slot indices that neither skip nor repeat a record across calls, and member flows
//!   can be removed by location after a check done under another lock. Backward-shift deletion moves
//!   records and would break all three.
//! * **100 % fill**: there is no probe-length cliff, so the table is sized to exactly its capacity:
//!   bytes per flow = `size_of::<Slot>()` = 56, everything included (IPVS: ~320, conntrack: ~256).
//! * O(1): lookup/insert walk one chain, whose expected length is ≤ 1 + load/2 under SipHash; delete
//!   unlinks from one chain; the free list is doubly linked (through fields a free slot does not use),
//!   so a new record is put in its own bucket's slot whenever that slot is free: the bucket head and
//!   the record then share a cache line and a lookup costs one memory access instead of two (most
//!   records, below full load), which is what matters once the table outgrows the caches.
//!
//! ## Time
//! [`Millis`]: milliseconds as a wrapping `u32` (the kernel passes `jiffies_to_msecs(jiffies)`).
//! Idle time is `now.wrapping_sub(last_seen)` read as a signed difference ([`idle_ms`]): a `last_seen`
//! slightly *ahead* of `now` (another CPU refreshed the flow after this CPU read the clock) counts as
//! idle 0, not as 49 days. This is exact as long as every record is looked at (by a packet, a lookup or
//! the purge) at least once every 2³¹ ms ≈ 24.8 days, far beyond the largest purge delay
//! (2 × [`MAX_TIMEOUT_MS`]); the periodic purge guarantees it. Timeouts are clamped to 1..=
//! [`MAX_TIMEOUT_MS`] (2³⁰ ms ≈ 12.4 days; the control plane allows 86 400 s).
//!
//! ## Concurrency contract (implemented by the kernel glue)
//! * The unit is the [`Shard`]: fully independent (own storage, free list, cursors, counts). The kernel
//!   keeps N shards (≤ [`MAX_SHARDS`], e.g. 64), each behind its own BH-safe spinlock
//!   (`spin_lock_bh`), and picks a flow's shard from its hash: `flow::shard_of(hash, N)`. A shard's
//!   capacity is the total capacity / N.
//! * **Never hold two shard locks at once.** Everything that spans shards (a member flow checking its
//!   session, a wildcard entry confirmed by the exact key, orphan checks of the purge) is a sequence of
//!   single-shard steps, written once in [`Table`] over the [`ShardSet`] trait: the kernel implements
//!   `ShardSet::with_shard` as lock → run the closure → unlock, and calls [`Table`]'s methods. Between
//!   two steps the world may change; each step re-validates (session id + location, never a bare
//!   pointer), so a race costs at most one packet forwarded to the server the session had a moment ago.
//! * Ending a session touches only its signalling flow's shard. Its members in other shards are dead
//!   from that moment (lazy invalidation: [`Shard::session`] fails, so [`Table::packet`] removes them on
//!   their next packet) and are reclaimed by the purge ([`Table::purge_step`] checks up to
//!   [`PENDING_MAX`] cross-shard members per shard step) or by their own expiry. Bounded work everywhere.
//! * Flows of a session are never visited eagerly: re-dispatching a session to another server is one
//!   write in its signalling flow ([`Shard::reassign`]); members read the server from their session.
//!
//! ## Events
//! Methods that may drop records take `on_remove: &mut F` with `F: FnMut(&FlowInfo, Removal)`, called
//! once per record removed (pass [`ignore`] to ignore). A session ends exactly once: either when
//! [`Shard::end_session`] returns `Some`, or when its signalling flow is removed with `ended == false`
//! (what the kernel needs for per-server session counts and state replication).

mod moves;
mod shard;
mod sharded;
#[cfg(test)]
mod tests;

// In sara.ko the core is a private module: re-exports the kernel does not use would trip
// `unused_imports` under -Dwarnings.
#[allow(unused_imports)]
pub use moves::{Move, Moves, Stamp};
pub use shard::{Aging, Placement, Shard, ShardError, Slot};
#[allow(unused_imports)]
pub use sharded::{AnnounceError, Classified, Forward, PacketOpts, ShardSet, Table, TableCursor};

use super::flow::{FlowKey, Wildcard};

/// Time in milliseconds, wrapping (see the module docs).
pub type Millis = u32;

/// Largest idle timeout, in milliseconds (2³⁰ ≈ 12.4 days).
pub const MAX_TIMEOUT_MS: u32 = 1 << 30;
/// Most shards a table may have (a [`Loc`] keeps 8 bits for the shard).
pub const MAX_SHARDS: usize = 256;
/// Most slots one shard may have (a [`Loc`] keeps 24 bits for the slot).
pub const MAX_SHARD_SLOTS: usize = 1 << 24;
/// Cross-shard member checks one [`Shard::purge_step`] may leave for the caller.
pub const PENDING_MAX: usize = 8;

/// Sentinel of an empty chain / free list.
const NIL: u32 = u32::MAX;

/// Where a record lives: shard index (8 bits) and slot index (24 bits). Stable for the record's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Loc(u32);

impl Loc {
    /// The location of slot `slot` of shard `shard`, if both are in range.
    pub const fn new(shard: usize, slot: usize) -> Option<Loc> {
        if shard >= MAX_SHARDS || slot >= MAX_SHARD_SLOTS {
            return None;
        }
        Some(Loc(((shard as u32) << 24) | slot as u32))
    }

    /// The shard index.
    pub const fn shard(self) -> usize {
        (self.0 >> 24) as usize
    }

    /// The slot index within the shard.
    pub const fn slot(self) -> usize {
        (self.0 & 0x00ff_ffff) as usize
    }

    /// The raw 32-bit value (for replication and dumps).
    pub const fn raw(self) -> u32 {
        self.0
    }

    /// From a raw 32-bit value.
    pub const fn from_raw(v: u32) -> Loc {
        Loc(v)
    }
}

/// A session: where its signalling flow lives and the session id the caller gave it.
///
/// Valid while that signalling flow lives and still carries this id; checked by [`Shard::session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionRef {
    /// Location of the signalling flow.
    pub loc: Loc,
    /// Session id (chosen by the caller, e.g. a global counter; replicated to the backup dispatcher).
    pub id: u32,
}

/// Status of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Created, no further packet yet (an announced flow before its first packet).
    New = 0,
    /// Packets seen and recent.
    Established = 1,
    /// Idle longer than its timeout, or its session ended (lingering).
    Inactive = 2,
}

impl Status {
    const fn from_bits(b: u8) -> Status {
        match b & 3 {
            0 => Status::New,
            1 => Status::Established,
            _ => Status::Inactive,
        }
    }

    /// Name, for people.
    pub const fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Established => "established",
            Status::Inactive => "inactive",
        }
    }
}

/// Identity of a flow within its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The flow that opened the session (RTSP/SIP/FTP control connection, or any first flow).
    Signalling = 0,
    /// Announced by the signalling (DPI), no packet yet.
    Announced = 1,
    /// An announced flow that has carried packets.
    Secondary = 2,
}

impl Identity {
    const fn from_bits(b: u8) -> Identity {
        match b & 3 {
            0 => Identity::Signalling,
            1 => Identity::Announced,
            _ => Identity::Secondary,
        }
    }

    /// Name, for people.
    pub const fn name(self) -> &'static str {
        match self {
            Identity::Signalling => "signalling",
            Identity::Announced => "announced",
            Identity::Secondary => "secondary",
        }
    }
}

/// A copy of one flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowInfo {
    /// The stored key (ports named by `wildcard` are 0).
    pub key: FlowKey,
    /// Unknown ports of an announced flow.
    pub wildcard: Wildcard,
    /// Where the record lives.
    pub loc: Loc,
    /// The session (for a signalling flow: itself).
    pub session: SessionRef,
    /// The server: authoritative in a signalling flow; a copy in members (refreshed on their packets).
    pub server: u16,
    /// Status as last updated (purge marks Inactive; see [`FlowInfo::status_at`]).
    pub status: Status,
    /// Identity.
    pub identity: Identity,
    /// The flow (signalling: its session) has ended and the record lingers until it is purged.
    pub ended: bool,
    /// Time of the last packet (or refresh).
    pub last_seen: Millis,
    /// Idle timeout in ms (for an ended flow: its linger time).
    pub timeout_ms: u32,
    /// Packets counted (saturating).
    pub packets: u32,
    /// Bytes counted (saturating).
    pub bytes: u64,
}

impl FlowInfo {
    /// Milliseconds since the last packet (see [`idle_ms`]).
    pub const fn idle(&self, now: Millis) -> u32 {
        idle_ms(now, self.last_seen)
    }

    /// The status at `now`: Inactive once idle longer than the timeout, whether or not the purge has
    /// marked it yet.
    pub const fn status_at(&self, now: Millis) -> Status {
        if self.ended || self.idle(now) > self.timeout_ms {
            Status::Inactive
        } else {
            self.status
        }
    }
}

/// What a live session looks like (from [`Shard::session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session.
    pub session: SessionRef,
    /// Its server.
    pub server: u16,
}

/// Why a record was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Idle longer than twice its timeout.
    Expired,
    /// Ended (FIN/RST/BYE/TEARDOWN) and its linger time is over, or ended with no linger.
    Closed,
    /// A member flow whose session is gone.
    Orphaned,
    /// A wildcard announced entry replaced by the exact key (first packet or gateway report).
    Replaced,
    /// Removed on request.
    Deleted,
}

/// Why an insertion failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// The shard is full (no free slot). Established flows are never evicted to make room.
    Full,
    /// A live record with this key already exists, here.
    Exists(Loc),
}

/// What a redispatch visitor decides for one session (see [`Shard::redispatch_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redispatch {
    /// Leave the session on its server.
    Keep,
    /// Move the session (all its flows) to this server.
    Move(u16),
    /// End the session now (its signalling flow lingers `linger_ms`).
    End {
        /// Linger time of the signalling flow, ms.
        linger_ms: u32,
    },
}

/// Flow counts of a shard (or a table), kept up to date on every change.
///
/// Inactive is counted as the purge marks it (so it lags by at most one purge pass).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Records in use.
    pub flows: u32,
    /// Status New.
    pub new: u32,
    /// Status Established.
    pub established: u32,
    /// Status Inactive.
    pub inactive: u32,
    /// Identity Signalling (= sessions, ended ones included while they linger).
    pub signalling: u32,
    /// Identity Announced.
    pub announced: u32,
    /// Identity Secondary.
    pub secondary: u32,
    /// Announced flows stored with a wildcard.
    pub wildcards: u32,
    /// Ended flows lingering.
    pub ended: u32,
}

impl Counts {
    /// Adds another shard's counts (saturating).
    pub fn add(&mut self, o: &Counts) {
        self.flows = self.flows.saturating_add(o.flows);
        self.new = self.new.saturating_add(o.new);
        self.established = self.established.saturating_add(o.established);
        self.inactive = self.inactive.saturating_add(o.inactive);
        self.signalling = self.signalling.saturating_add(o.signalling);
        self.announced = self.announced.saturating_add(o.announced);
        self.secondary = self.secondary.saturating_add(o.secondary);
        self.wildcards = self.wildcards.saturating_add(o.wildcards);
        self.ended = self.ended.saturating_add(o.ended);
    }
}

/// Refusals of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShardStats {
    /// New sessions refused because the shard was full (the kernel's `DROP_TABLE_FULL`).
    pub full_sessions: u64,
    /// Announced/secondary flows not stored because the shard was full.
    pub full_members: u64,
}

/// What one purge step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// Slots visited.
    pub visited: u32,
    /// Flows newly marked Inactive.
    pub inactive: u32,
    /// Records removed (expired, closed, orphaned).
    pub removed: u32,
    /// True when the cursor went past the last slot back to 0 during this step.
    pub wrapped: bool,
}

impl PurgeReport {
    /// Adds another report.
    pub fn add(&mut self, o: &PurgeReport) {
        self.visited = self.visited.saturating_add(o.visited);
        self.inactive = self.inactive.saturating_add(o.inactive);
        self.removed = self.removed.saturating_add(o.removed);
        self.wrapped |= o.wrapped;
    }
}

/// Progress of a resumable walk (dump, redispatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// Every slot has been visited; the cursor is back at 0.
    Done,
    /// Budget used up or the visitor asked to stop: call again with the same cursor.
    More,
}

/// Member flows whose session lives in another shard, left by [`Shard::purge_step`] for the caller to
/// check (one lock at a time; [`Table::purge_step`] does it). Fixed size: no allocation, 100 bytes.
#[derive(Debug, Clone, Copy)]
pub struct PendingChecks {
    items: [(Loc, SessionRef); PENDING_MAX],
    len: usize,
}

impl Default for PendingChecks {
    fn default() -> Self {
        Self::new()
    }
}

impl PendingChecks {
    /// An empty list.
    pub const fn new() -> Self {
        PendingChecks {
            items: [(Loc(0), SessionRef { loc: Loc(0), id: 0 }); PENDING_MAX],
            len: 0,
        }
    }

    fn push(&mut self, member: Loc, session: SessionRef) -> bool {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = (member, session);
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    fn is_full(&self) -> bool {
        self.len >= PENDING_MAX
    }

    /// The pending (member location, its session) pairs.
    pub fn as_slice(&self) -> &[(Loc, SessionRef)] {
        self.items.get(..self.len).unwrap_or(&[])
    }

    /// Empties the list.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// Milliseconds from `then` to `now` on the wrapping clock; 0 when `then` is ahead of `now` (by less
/// than 2³¹ ms). That happens in the kernel: a CPU reads the clock, another CPU refreshes a flow with a
/// slightly later reading, then the first CPU looks at the flow. Without the clamp the difference would
/// wrap to ~49 days and the live flow would be taken for expired.
pub const fn idle_ms(now: Millis, then: Millis) -> u32 {
    let d = now.wrapping_sub(then);
    if d > i32::MAX as u32 {
        0
    } else {
        d
    }
}

/// A removal callback that does nothing.
pub fn ignore(_: &FlowInfo, _: Removal) {}
