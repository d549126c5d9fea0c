// SPDX-License-Identifier: GPL-2.0

//! One version of a namespace's configuration: its services, its servers and their scheduler state,
//! published whole with RCU by `netns` (a packet sees the old version or the new one, never a mix).

use crate::sched::Sched;
use crate::service::{Server, Service};
use crate::sys::lock::BhLocks;
use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::prelude::*;

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
        Self::new(
            filtered(&self.services, keep, extra)?,
            filtered(&self.servers, |_| true, None)?,
        )
    }

    /// A copy whose servers are those of `self` for which `keep` holds, plus `extra` if given.
    pub(crate) fn with_servers(
        &self,
        keep: impl Fn(&Server) -> bool,
        extra: Option<Server>,
    ) -> Result<KBox<Self>> {
        Self::new(
            filtered(&self.services, |_| true, None)?,
            filtered(&self.servers, keep, extra)?,
        )
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

/// The items of `v` for which `keep` holds, then `extra` if given, in a new vector.
fn filtered<T: Clone>(v: &[T], keep: impl Fn(&T) -> bool, extra: Option<T>) -> Result<KVec<T>> {
    let mut out = KVec::with_capacity(v.len().saturating_add(1), GFP_KERNEL)?;
    for x in v.iter().filter(|x| keep(x)) {
        out.push(x.clone(), GFP_KERNEL)?;
    }
    if let Some(x) = extra {
        out.push(x, GFP_KERNEL)?;
    }
    Ok(out)
}
