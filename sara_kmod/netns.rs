// SPDX-License-Identifier: GPL-2.0

//! The state of SARA in one network namespace (IPVS keeps the same in `struct netns_ipvs`): its
//! services and servers, published with RCU, its flow table and its counters.
//!
//! Concurrency: the packet path reads [`NetState::config`] under RCU and bumps counters with relaxed
//! atomics; netlink handlers (one at a time, see [`crate::sys::rcu::WriterToken`]) build a new
//! [`Config`] and publish it whole, so a packet sees either the old configuration or the new one,
//! never a mix.

use crate::conn::FlowTable;
use crate::sara_core::counters::{self as c, NUM_COUNTERS};
use crate::sara_core::flow::FlowHasher;
use crate::sara_core::flow::{FlowKey, Wildcard};
use crate::sara_core::genl::{HA_ACTIVE, HA_BACKUP};
use crate::sara_core::msg::repl::{
    FlowRecord, Identity as RIdentity, Record, SessionRecord, Status as RStatus,
};
use crate::sys::rcu::{OnceBox, RcuBox, WriterToken};
use crate::sys::{Defrag, NetPtr};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, KBox};
use kernel::prelude::*;

pub(crate) use crate::config::Config;
pub(crate) use crate::service::{Loads, Server, ServerLive, Service};

/// Counters of one namespace, indexed by `sara_core::counters` ids.
pub(crate) struct Counters([AtomicU64; NUM_COUNTERS]);

impl Counters {
    fn new() -> Self {
        Self([const { AtomicU64::new(0) }; NUM_COUNTERS])
    }

    /// Adds one to counter `id` (ids out of range are ignored).
    pub(crate) fn inc(&self, id: usize) {
        if let Some(c) = self.0.get(id) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds `n` to counter `id` (ids out of range are ignored).
    pub(crate) fn add(&self, id: usize, n: u64) {
        if let Some(c) = self.0.get(id) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Value of counter `id` (0 for ids out of range).
    pub(crate) fn get(&self, id: usize) -> u64 {
        self.0.get(id).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

/// SARA in one network namespace.
pub(crate) struct NetState {
    /// The namespace.
    pub(crate) net: NetPtr,
    /// Services and servers.
    pub(crate) config: RcuBox<Config>,
    /// Counters.
    pub(crate) counters: Counters,
    /// Loads and thresholds pushed by the control plane.
    pub(crate) loads: Loads,
    /// Keyed flow hash (SipHash-1-3 with a secret key chosen at namespace creation), so nobody can
    /// aim flows at one server or one bucket without knowing the key.
    pub(crate) hasher: FlowHasher,
    /// The flow table: allocated when the namespace's first service is added (so namespaces that
    /// never balance anything cost no memory), then kept until the namespace goes.
    table: OnceBox<FlowTable>,
    /// The last session id handed out.
    pub(crate) session_ids: AtomicU32,
    /// High-availability role (`genl::HA_*`; see `repl`).
    pub(crate) role: AtomicU8,
    /// The replication ring: allocated when an HA role is first set.
    repl: OnceBox<crate::repl::Repl>,
    /// IPv4 defragmentation before the hook, on while the namespace has services (see
    /// [`NetState::publish`]).
    defrag: Defrag,
}

impl NetState {
    /// Fresh state for namespace `net`: no services, no servers, zero counters.
    pub(crate) fn new(net: NetPtr) -> Result<KBox<Self>> {
        let mut key = [0u8; 16];
        crate::sys::random_bytes(&mut key);
        Ok(KBox::new(
            Self {
                net,
                config: RcuBox::new(Config::empty()?),
                counters: Counters::new(),
                loads: Loads::new(),
                hasher: FlowHasher::new(key),
                table: OnceBox::new(),
                session_ids: AtomicU32::new(0),
                role: AtomicU8::new(crate::sara_core::genl::HA_STANDALONE),
                repl: OnceBox::new(),
                defrag: Defrag::new(net),
            },
            GFP_KERNEL,
        )?)
    }

    /// The flow table, once allocated.
    pub(crate) fn table(&self) -> Option<&FlowTable> {
        self.table.get()
    }

    /// Allocates the flow table if it does not exist yet (control path, before the first service is
    /// published) and starts its purge.
    pub(crate) fn ensure_table(&self, w: &WriterToken) -> Result<&FlowTable> {
        if let Some(t) = self.table() {
            return Ok(t);
        }
        let t = self.table.set(w, FlowTable::new(self.hasher)?);
        // A new table has a new Call-ID key: an active's backup must hash its calls with it.
        self.replicate_call_key();
        self.net.purge_kick();
        Ok(t)
    }

    /// Publishes configuration `new` (control path), with IPv4 defragmentation on exactly while it
    /// has services (decisions.md "IPv4 fragments"): switched on before services are published, so
    /// that the hook sees their datagrams whole, and off once the last one is gone. Fails, changing
    /// nothing, when defragmentation cannot be switched on.
    pub(crate) fn publish(&self, w: &WriterToken, new: KBox<Config>) -> Result {
        let services = !new.services.is_empty();
        if services {
            self.defrag.hold(w)?;
        }
        self.config.replace(w, new);
        if !services {
            self.defrag.release(w);
        }
        Ok(())
    }

    /// The replication ring, once allocated.
    pub(crate) fn repl(&self) -> Option<&crate::repl::Repl> {
        self.repl.get()
    }

    /// Allocates the replication ring if it does not exist yet (control path).
    pub(crate) fn ensure_repl(&self, w: &WriterToken) -> Result<&crate::repl::Repl> {
        if let Some(r) = self.repl() {
            return Ok(r);
        }
        Ok(self.repl.set(w, crate::repl::Repl::new()?))
    }

    /// A new session id (never 0).
    pub(crate) fn next_session_id(&self) -> u32 {
        let id = self
            .session_ids
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        if id == 0 {
            self.session_ids
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_add(1)
        } else {
            id
        }
    }

    /// The purge work's step (see `sys::entry::sara_rs_purge`): the delay to the next step, 0 (stop)
    /// while the namespace has no table.
    pub(crate) fn purge(&self, g: &crate::sys::rcu::RcuGuard) -> u32 {
        let Some(t) = self.table() else { return 0 };
        // A backup's replicated flows see no packets here: they are aged from the takeover on;
        // until then only what replication ended is purged.
        if !self.is_backup() {
            t.purge(self, self.config.read(g), crate::sys::now_ms());
        } else {
            t.sweep_backup(self, self.config.read(g), crate::sys::now_ms());
        }
        crate::conn::PURGE_INTERVAL_MS
    }

    /// Role change (control path). Returns whether this was a takeover (backup → active).
    pub(crate) fn set_role(&self, role: u8) -> bool {
        let old = self.role.swap(role, Ordering::Relaxed);
        // Becoming active: the backup hashes Call-IDs with this dispatcher's key from now on (a
        // resync sends it too; this covers a backup that synchronised before, e.g. with no table).
        if role == HA_ACTIVE && old != HA_ACTIVE {
            self.replicate_call_key();
        }
        if old == HA_BACKUP && role != HA_BACKUP {
            if let Some(t) = self.table() {
                let n = t.table().touch_all(crate::sys::now_ms());
                pr_info!(
                    "takeover: now {}, {} replicated flows refreshed\n",
                    crate::sara_core::genl::ha_role_name(role),
                    n
                );
            }
            self.counters.inc(c::HA_TAKEOVERS);
            return true;
        }
        if old != role {
            pr_info!(
                "high availability role: {}\n",
                crate::sara_core::genl::ha_role_name(role)
            );
        }
        false
    }
}

/// Replication to the backup (see `repl`).
impl NetState {
    /// Whether this namespace's dispatcher is the backup (forwards nothing).
    pub(crate) fn is_backup(&self) -> bool {
        self.role.load(Ordering::Relaxed) == HA_BACKUP
    }

    /// Queues a record for the backup, when this dispatcher is the active one.
    pub(crate) fn replicate(&self, r: Record) {
        if self.role.load(Ordering::Relaxed) != HA_ACTIVE {
            return;
        }
        if let Some(ring) = self.repl() {
            ring.push(r);
            self.counters.inc(c::REPL_RECORDS);
        }
    }

    /// A session was opened on, or moved to, `server`; `key` is its signalling flow.
    pub(crate) fn replicate_session(&self, key: &FlowKey, id: u32, server: u16, timeout_ms: u32) {
        self.replicate(Record::Session(SessionRecord {
            flow: *key,
            session_id: id,
            server_id: server,
            identity: RIdentity::Signalling,
            status: RStatus::Established,
            timeout_s: crate::repl::secs(timeout_ms),
        }));
    }

    /// The Call-ID index's key, for the backup (active role, once the table exists).
    pub(crate) fn replicate_call_key(&self) {
        if let Some(t) = self.table() {
            self.replicate(Record::CallKey(t.call_key()));
        }
    }

    /// A SIP call was bound to session `id` (its Call-ID index entry, less the client address, which
    /// is the session's).
    pub(crate) fn replicate_call(&self, id: u32, mark: &crate::sara_core::calls::CallMark) {
        self.replicate(Record::Call(crate::sara_core::msg::repl::CallRecord::of(
            id, mark,
        )));
    }

    /// A flow joined session `id`: `key` with the ports named by `wild` unknown.
    pub(crate) fn replicate_flow(
        &self,
        key: &FlowKey,
        wild: Wildcard,
        id: u32,
        timeout_ms: u32,
        seen: bool,
    ) {
        let (identity, status) = if seen {
            (RIdentity::Secondary, RStatus::Established)
        } else {
            (RIdentity::Announced, RStatus::New)
        };
        self.replicate(Record::Flow(FlowRecord {
            flow: key.wildcarded(wild),
            wildcard: wild,
            session_id: id,
            identity,
            status,
            timeout_s: crate::repl::secs(timeout_ms),
        }));
    }
}

impl crate::conn::Sink for NetState {
    fn count(&self, id: usize) {
        self.counters.inc(id);
    }
    fn replicate(&self, r: crate::sara_core::msg::repl::Record) {
        NetState::replicate(self, r);
    }
    fn session_id_seen(&self, id: u32) {
        self.session_ids.fetch_max(id, Ordering::Relaxed);
    }
    fn next_session_id(&self) -> u32 {
        NetState::next_session_id(self)
    }
}
