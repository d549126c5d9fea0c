// SPDX-License-Identifier: GPL-2.0

//! The flow table of one namespace (IPVS: `ip_vs_conn.c`): `sara_core`'s sharded table over
//! preallocated storage, each shard behind a BH-safe spinlock, and the bookkeeping of what happens
//! to flows and sessions (counters, per-server session counts).
//!
//! Memory: the whole table is allocated once, with `GFP_KERNEL` on the control path, when the
//! namespace's first service is added: `capacity × size_of::<Slot>()` bytes (56 per flow) plus one
//! lock per shard; with it the Call-ID index of the namespace's SIP calls (`sara_core::calls`):
//! `call_capacity(capacity)` entries of 64 bytes over as many shards, each with its own lock; and
//! the pool of SIP-over-TCP streams (`sara_core::streams`): `stream_capacity(capacity)` =
//! min(capacity / 256, 1024) streams of 4096 carry bytes, a 64-byte state and a 24-byte tag, over as
//! many shards again. The packet path never allocates for any of them; when a shard is full a new session
//! (a new call) is refused (`dropped_table_full`, `call_index_full`) and established flows are never
//! evicted; a SIP-over-TCP connection that finds no stream is inspected segment by segment
//! (`sip_tcp_pool_full`).
//!
//! Locking: the core's [`Table`] takes one shard lock at a time through [`ShardSet`], and its
//! `Calls` one Call-ID index lock at a time, never while it holds a table lock or the other way
//! round; SARA never holds two of its shard, index or scheduler locks together (see
//! `sara_core::table`, "Concurrency contract").
//! The one lock taken inside a shard lock is the replication ring's (`repl`, its own lockdep
//! class): a removal callback that ends a session queues the end for the backup. A stream pool
//! shard's lock (a class of its own, too) is the one taken *before* others: the hook inspects the
//! messages a stream frames with its lock held, announcing their flows in the table; nothing takes
//! it while holding a table, index or ring lock (the pool's sweep alternates, as the index's does).

use crate::config::Config;
use crate::sara_core::calls::{call_capacity, CallIndex, CallShards, CallSlot, Calls};
use crate::sara_core::counters as c;
use crate::sara_core::dpi::stream::{Framing, CARRY};
use crate::sara_core::flow::FlowHasher;
use crate::sara_core::msg::repl::Record;
use crate::sara_core::streams::{stream_capacity, StreamShard, StreamShards, StreamTag, Streams};
use crate::sara_core::table::{
    FlowInfo, Identity, Millis, Moves, Removal, SessionRef, Shard, ShardSet, Slot, Table,
};
use crate::sys::lock::BhLocks;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, KBox, KVVec};
use kernel::prelude::*;

/// The two little-endian halves of a SipHash key (as `FlowHasher::new` reads it).
fn key_words(key: &[u8; 16]) -> (u64, u64) {
    FlowHasher::new(*key).words()
}

/// Most shards (each with its own lock).
const MAX_SHARDS: usize = 64;
/// Fewest slots per shard.
const MIN_SHARD_SLOTS: usize = 1024;
/// Time between two purge steps, ms.
pub(crate) const PURGE_INTERVAL_MS: u32 = 100;
/// How long a closed signalling flow keeps its server (the rest of a TCP close, a retransmitted BYE).
pub(crate) const LINGER_MS: u32 = 5000;

type Shards = BhLocks<Shard<KVVec<Slot>>>;

impl ShardSet for Shards {
    type Storage = KVVec<Slot>;

    fn shard_count(&self) -> usize {
        self.len()
    }

    fn with_shard<R, F: FnOnce(&mut Shard<KVVec<Slot>>) -> R>(&self, i: usize, f: F) -> Option<R> {
        self.get(i).map(|l| l.with(f))
    }
}

type CallShardLocks = BhLocks<CallIndex<KVVec<CallSlot<SessionRef>>, SessionRef>>;

impl CallShards for CallShardLocks {
    type Storage = KVVec<CallSlot<SessionRef>>;

    fn shard_count(&self) -> usize {
        self.len()
    }

    fn with_shard<R, F: FnOnce(&mut CallIndex<Self::Storage, SessionRef>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R> {
        self.get(i).map(|l| l.with(f))
    }
}

type StreamShardLocks = BhLocks<StreamShard<KVVec<StreamTag>, KVVec<Framing>, KVVec<u8>>>;

impl StreamShards for StreamShardLocks {
    type Tags = KVVec<StreamTag>;
    type Framing = KVVec<Framing>;
    type Carry = KVVec<u8>;

    fn shard_count(&self) -> usize {
        self.len()
    }

    fn with_shard<R, F: FnOnce(&mut StreamShard<Self::Tags, Self::Framing, Self::Carry>) -> R>(
        &self,
        i: usize,
        f: F,
    ) -> Option<R> {
        self.get(i).map(|l| l.with(f))
    }
}

/// A namespace's flow table, and beside it the Call-ID index of its SIP calls (`sara_core::calls`)
/// and the pool of its SIP-over-TCP streams (`sara_core::streams`): as many shards as the table,
/// each behind its own BH-safe lock (a stream's lock is held while its messages go to the table).
pub(crate) struct FlowTable {
    shards: Shards,
    calls: CallShardLocks,
    streams: StreamShardLocks,
    stream_capacity: u32,
    /// Stream slots each purge step's sweep visits per shard (a full pass about every second).
    stream_sweep_budget: usize,
    call_capacity: u32,
    /// Call-ID index slots each purge step visits per shard (expiry; a full pass about every second).
    call_purge_budget: usize,
    hasher: FlowHasher,
    /// The Call-ID index's SipHash key, two little-endian halves: random at first, then the active
    /// dispatcher's on a backup (its `CallKey` record), so that replicated bindings hash alike.
    call_key: [AtomicU64; 2],
    capacity: u32,
    /// Bytes of the slots of the flow table, the Call-ID index and the stream pool.
    memory: usize,
    /// Slots each purge step visits per shard (a full pass about every second).
    purge_budget: usize,
    /// Moves of flows between records, so that a dump knows whether it saw each flow once.
    moves: Moves,
}

impl FlowTable {
    /// A table of about `sara.flow_capacity` flows (module parameter), split into shards.
    pub(crate) fn new(hasher: FlowHasher) -> Result<KBox<Self>> {
        let want = (crate::sys::flow_capacity() as usize).max(MIN_SHARD_SLOTS);
        let n = (want / MIN_SHARD_SLOTS).clamp(1, MAX_SHARDS);
        let per = (want / n).min(crate::sara_core::table::MAX_SHARD_SLOTS);
        let shards = BhLocks::new(n, |i| {
            let storage = KVVec::from_elem(Slot::EMPTY, per, GFP_KERNEL)?;
            Shard::new(storage, i).map_err(|_| EINVAL)
        })?;
        let capacity = u32::try_from(n.saturating_mul(per)).unwrap_or(u32::MAX);
        let purge_budget = (per / (1000 / PURGE_INTERVAL_MS as usize)).max(64);
        // The Call-ID index: `call_capacity(flows)` entries over the same number of shards.
        let call_per = (call_capacity(n.saturating_mul(per)) / n)
            .clamp(1, crate::sara_core::table::MAX_SHARD_SLOTS);
        let calls = BhLocks::new(n, |i| {
            let storage = KVVec::from_elem(CallSlot::vacant(), call_per, GFP_KERNEL)?;
            CallIndex::new(storage, i).map_err(|_| EINVAL)
        })?;
        let call_capacity = u32::try_from(n.saturating_mul(call_per)).unwrap_or(u32::MAX);
        let call_purge_budget = (call_per / (1000 / PURGE_INTERVAL_MS as usize)).max(64);
        // The SIP-over-TCP stream pool: `stream_capacity(flows)` streams over the same number of
        // shards (at least one stream each).
        let stream_per = (stream_capacity(n.saturating_mul(per)) / n).max(1);
        let streams = BhLocks::new_stream(n, |i| {
            let tags = KVVec::from_elem(StreamTag::VACANT, stream_per, GFP_KERNEL)?;
            let framing = KVVec::from_elem(Framing::new(), stream_per, GFP_KERNEL)?;
            let carry_bytes = stream_per.checked_mul(CARRY).ok_or(EINVAL)?;
            let carry = KVVec::from_elem(0u8, carry_bytes, GFP_KERNEL)?;
            StreamShard::new(tags, framing, carry, i).map_err(|_| EINVAL)
        })?;
        let stream_capacity = u32::try_from(n.saturating_mul(stream_per)).unwrap_or(u32::MAX);
        let stream_sweep_budget = (stream_per / (1000 / PURGE_INTERVAL_MS as usize)).max(8);
        // Its own key, not the flow table's: it is sent to the backup (see `set_call_key`).
        let mut key = [0u8; 16];
        crate::sys::random_bytes(&mut key);
        let (k0, k1) = key_words(&key);
        let flow_bytes = n
            .saturating_mul(per)
            .saturating_mul(core::mem::size_of::<Slot>());
        let call_bytes = n
            .saturating_mul(call_per)
            .saturating_mul(core::mem::size_of::<CallSlot<SessionRef>>());
        let stream_bytes = n.saturating_mul(stream_per).saturating_mul(
            CARRY
                .saturating_add(core::mem::size_of::<Framing>())
                .saturating_add(core::mem::size_of::<StreamTag>()),
        );
        pr_info!(
            "flow table: {} flows in {} shards, {} KiB; Call-ID index: {} calls, {} KiB; SIP-over-TCP streams: {}, {} KiB\n",
            capacity,
            n,
            flow_bytes / 1024,
            call_capacity,
            call_bytes / 1024,
            stream_capacity,
            stream_bytes / 1024
        );
        Ok(KBox::new(
            Self {
                shards,
                calls,
                streams,
                stream_capacity,
                stream_sweep_budget,
                call_capacity,
                call_purge_budget,
                hasher,
                call_key: [AtomicU64::new(k0), AtomicU64::new(k1)],
                capacity,
                memory: flow_bytes
                    .saturating_add(call_bytes)
                    .saturating_add(stream_bytes),
                purge_budget,
                moves: Moves::new(),
            },
            GFP_KERNEL,
        )?)
    }

    /// The core's table over our shards.
    pub(crate) fn table(&self) -> Table<'_, Shards> {
        Table::new(&self.shards, self.hasher).with_moves(&self.moves)
    }

    /// The Call-ID index over our call shards, hashing with the Call-ID key.
    pub(crate) fn calls(&self) -> Calls<'_, CallShardLocks> {
        let k0 = self.call_key[0].load(Ordering::Relaxed);
        let k1 = self.call_key[1].load(Ordering::Relaxed);
        Calls::new(&self.calls, FlowHasher::from_words(k0, k1))
    }

    /// The SIP-over-TCP stream pool, placing connections with the table's hash.
    pub(crate) fn streams(&self) -> Streams<'_, StreamShardLocks> {
        Streams::new(&self.streams, self.hasher)
    }

    /// Streams the SIP-over-TCP pool holds.
    pub(crate) fn stream_capacity(&self) -> u32 {
        self.stream_capacity
    }

    /// The Call-ID index's key (for the `CallKey` record of a resync).
    pub(crate) fn call_key(&self) -> [u8; 16] {
        let a = self.call_key[0].load(Ordering::Relaxed).to_le_bytes();
        let b = self.call_key[1].load(Ordering::Relaxed).to_le_bytes();
        let mut key = [0u8; 16];
        for (k, v) in key.iter_mut().zip(Iterator::chain(a.iter(), b.iter())) {
            *k = *v;
        }
        key
    }

    /// A backup takes the active dispatcher's Call-ID key (control path, backup role: no packet is
    /// dispatched here meanwhile). Entries hashed under the old key could never be found again:
    /// when the key changes, the index is emptied. Returns whether it changed.
    pub(crate) fn set_call_key(&self, key: &[u8; 16]) -> bool {
        if *key == self.call_key() {
            return false;
        }
        let (k0, k1) = key_words(key);
        self.call_key[0].store(k0, Ordering::Relaxed);
        self.call_key[1].store(k1, Ordering::Relaxed);
        self.calls().clear();
        true
    }

    /// Calls the Call-ID index can hold.
    pub(crate) fn call_capacity(&self) -> u32 {
        self.call_capacity
    }

    /// The table's move clock (see `sara_core::table::Moves`).
    pub(crate) fn moves(&self) -> &Moves {
        &self.moves
    }

    /// Flows the table can hold.
    pub(crate) fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Bytes of the slots of the flow table, the Call-ID index and the SIP-over-TCP stream pool
    /// (the shard locks and headers, a few KiB, not counted).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.memory
    }

    /// One purge step over every shard; called by the purge work every [`PURGE_INTERVAL_MS`].
    pub(crate) fn purge(&self, st: &dyn Sink, cfg: &Config, now: Millis) {
        let mut ev = Events { st, cfg };
        self.table()
            .purge_step(now, self.purge_budget, &mut |f, why| ev.removed(f, why));
        // The Call-ID index: expired entries (ended calls after their linger), then the entries of
        // calls whose session has gone (a tenth of each shard per step: a full pass every second).
        let calls = self.calls();
        calls.purge_step(now, self.call_purge_budget);
        calls.sweep_step(&self.table(), self.call_purge_budget, false);
        // The SIP-over-TCP streams of sessions that have ended or gone (a tenth of each shard).
        self.streams()
            .sweep_step(&self.table(), self.stream_sweep_budget);
    }

    /// A backup's purge step: its replicated records see no packets here, so none is aged by idle
    /// time; what replication ended goes — sessions ended past their linger, members of gone or
    /// ended sessions (`Table::purge_step_replicated`; without it a backup's table kept every
    /// session it was ever told of until a resynchronisation) — and the Call-ID bindings of sessions
    /// that have gone or ended (a replicated binding never sees its call's BYE, only its session's
    /// end).
    pub(crate) fn sweep_backup(&self, st: &dyn Sink, cfg: &Config, now: Millis) {
        let mut ev = Events { st, cfg };
        self.table()
            .purge_step_replicated(now, self.purge_budget, &mut |f, why| ev.removed(f, why));
        self.calls()
            .sweep_step(&self.table(), self.call_purge_budget, true);
        // A backup frames no stream; what it held as the active goes with its sessions.
        self.streams()
            .sweep_step(&self.table(), self.stream_sweep_budget);
    }
}

/// What the table's events reach in the namespace: its counters, its replication to the backup,
/// and its session ids. `netns::NetState` implements it; this file knows nothing else of it.
pub(crate) trait Sink {
    /// Adds one to counter `id`.
    fn count(&self, id: usize);
    /// Queues a record for the backup (when this dispatcher is the active one).
    fn replicate(&self, r: Record);
    /// A session with id `id` exists (installed from the active): later ids must differ.
    fn session_id_seen(&self, id: u32);
    /// A new session id of this dispatcher's (never 0).
    fn next_session_id(&self) -> u32;
}

/// What the table tells us as it changes: counters and per-server session counts.
pub(crate) struct Events<'a> {
    pub(crate) st: &'a dyn Sink,
    pub(crate) cfg: &'a Config,
}

impl Events<'_> {
    /// A record left the table (`on_remove` of the core's methods).
    pub(crate) fn removed(&mut self, f: &FlowInfo, why: Removal) {
        match why {
            Removal::Expired => self.st.count(c::FLOWS_EXPIRED),
            Removal::Closed | Removal::Orphaned => self.st.count(c::FLOWS_CLOSED),
            Removal::Replaced | Removal::Deleted => {}
        }
        if f.identity == Identity::Signalling && !f.ended {
            self.session_ended(f);
        }
    }

    /// The session of signalling flow `f` is over (counted, and replicated to the backup).
    pub(crate) fn session_ended(&mut self, f: &FlowInfo) {
        self.st.count(c::SESSIONS_ENDED);
        if let Some(s) = self.cfg.server(f.server) {
            s.live.session_gone();
        }
        self.st.replicate(Record::SessionEnded {
            session_id: f.session.id,
        });
    }

    /// A flow just ended by the table (`end_session`/`end_flow` returned it): counts a session end
    /// when it was a signalling flow.
    pub(crate) fn ended(&mut self, f: Option<FlowInfo>) {
        if let Some(f) = f {
            if f.identity == Identity::Signalling && !f.ended {
                self.session_ended(&f);
            }
        }
    }
}
