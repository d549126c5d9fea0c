// SPDX-License-Identifier: GPL-2.0

//! The state of SARA in one network namespace (IPVS keeps the same in `struct netns_ipvs`): its
//! services and servers, published with RCU, its flow table and its counters.
//!
//! Concurrency: the packet path reads [`NetState::config`] under RCU and bumps counters with relaxed
//! atomics; netlink handlers (one at a time, see [`crate::sys::rcu::WriterToken`]) build a new
//! [`Config`] and publish it whole, so a packet sees either the old configuration or the new one,
//! never a mix.

use crate::conn::FlowTable;
use crate::sara_core::counters::NUM_COUNTERS;
use crate::sara_core::flow::FlowHasher;
use crate::sched::Sched;
use crate::sys::lock::BhLocks;
use crate::sys::rcu::{OnceBox, RcuBox, WriterToken};
use crate::sys::NetPtr;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::prelude::*;

pub(crate) use crate::service::{Loads, Server, ServerLive, Service};

/// One version of a namespace's configuration.
pub(crate) struct Config {
    pub(crate) services: KVec<Service>,
    pub(crate) servers: KVec<Server>,
    /// The scheduler state of each service (same index as `services`), over `servers` in order.
    pub(crate) sched: BhLocks<Sched>,
}

impl Config {
    /// A configuration of these services and servers, with fresh scheduler state.
    pub(crate) fn new(services: KVec<Service>, servers: KVec<Server>) -> Result<KBox<Self>> {
        let sched = BhLocks::new(services.len(), |i| {
            let policy = services
                .get(i)
                .map_or(crate::sara_core::genl::POLICY_HASH, |s| s.policy);
            Sched::new(policy, &servers)
        })?;
        Ok(KBox::new(
            Self {
                services,
                servers,
                sched,
            },
            GFP_KERNEL,
        )?)
    }

    /// An empty configuration.
    pub(crate) fn empty() -> Result<KBox<Self>> {
        Self::new(KVec::new(), KVec::new())
    }

    /// A copy whose services are those of `self` for which `keep` holds, plus `extra` if given.
    pub(crate) fn with_services(
        &self,
        keep: impl Fn(&Service) -> bool,
        extra: Option<Service>,
    ) -> Result<KBox<Self>> {
        let mut services = KVec::with_capacity(self.services.len() + 1, GFP_KERNEL)?;
        for s in self.services.iter().filter(|s| keep(s)) {
            services.push(s.clone(), GFP_KERNEL)?;
        }
        if let Some(s) = extra {
            services.push(s, GFP_KERNEL)?;
        }
        let mut servers = KVec::with_capacity(self.servers.len(), GFP_KERNEL)?;
        servers.extend_from_slice(&self.servers, GFP_KERNEL)?;
        Self::new(services, servers)
    }

    /// A copy whose servers are those of `self` for which `keep` holds, plus `extra` if given.
    pub(crate) fn with_servers(
        &self,
        keep: impl Fn(&Server) -> bool,
        extra: Option<Server>,
    ) -> Result<KBox<Self>> {
        let mut servers = KVec::with_capacity(self.servers.len() + 1, GFP_KERNEL)?;
        for s in self.servers.iter().filter(|s| keep(s)) {
            servers.push(s.clone(), GFP_KERNEL)?;
        }
        if let Some(s) = extra {
            servers.push(s, GFP_KERNEL)?;
        }
        let mut services = KVec::with_capacity(self.services.len(), GFP_KERNEL)?;
        services.extend_from_slice(&self.services, GFP_KERNEL)?;
        Self::new(services, servers)
    }

    /// The service for `dst:port/proto`, if any.
    pub(crate) fn service(&self, vip: [u8; 4], port: u16, proto: u8) -> Option<&Service> {
        self.service_index(vip, port, proto)
            .and_then(|i| self.services.get(i))
    }

    /// The index of the service for `dst:port/proto`, if any.
    pub(crate) fn service_index(&self, vip: [u8; 4], port: u16, proto: u8) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.vip == vip && s.port == port && s.proto == proto)
    }

    /// The server with id `id`, if configured.
    pub(crate) fn server(&self, id: u16) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// Whether `addr` is the VIP of any service.
    pub(crate) fn is_vip(&self, addr: [u8; 4]) -> bool {
        self.services.iter().any(|s| s.vip == addr)
    }
}

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
        self.net.purge_kick();
        Ok(t)
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
}
