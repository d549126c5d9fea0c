// SPDX-License-Identifier: GPL-2.0

//! Server selection for new sessions (IPVS: `ip_vs_sched.c`): one [`Sched`] per service, holding the
//! service's policy (`sara_core::select`) and its view of the servers as [`Candidate`]s.
//!
//! A configuration version builds its services' `Sched`s afresh; each lives behind a BH-safe lock in
//! [`crate::netns::Config::sched`], taken once per new session (never together with a table shard
//! lock). Before each selection the candidates are refreshed from the servers' live state (pushed
//! state, session counts); a new control-plane push (seen through [`Loads::pushes`]) replaces the
//! forecasts and drops the per-session increments added since the previous push.

use crate::sara_core::select::{AnyPolicy, Candidate, Forecast, Hash, Input, Policy, ServerState};
use crate::service::{Loads, Server};
use core::sync::atomic::Ordering;
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;

/// One service's scheduler.
pub(crate) struct Sched {
    policy: AnyPolicy,
    cands: KVec<Candidate>,
    /// `Loads::pushes` when the forecasts were last taken (`u64::MAX`: never).
    push_gen: u64,
}

impl Sched {
    /// A scheduler with policy `policy` (genl `POLICY_*`) over `servers`, in their order.
    pub(crate) fn new(policy: u8, servers: &[Server]) -> Result<Self> {
        // The netlink policy bounds the value; anything else would be the default.
        let policy = AnyPolicy::from_genl(policy).unwrap_or(AnyPolicy::Hash(Hash));
        let mut cands = KVec::with_capacity(servers.len(), GFP_KERNEL)?;
        for s in servers {
            let mut c = Candidate::new(s.id);
            c.weight = u16::try_from(s.weight).unwrap_or(u16::MAX);
            cands.push(c, GFP_KERNEL)?;
        }
        Ok(Self {
            policy,
            cands,
            push_gen: u64::MAX,
        })
    }

    /// Chooses the server of a new session among `servers` (the configuration's, same order as at
    /// creation); `None` when no server may take new sessions.
    pub(crate) fn select(
        &mut self,
        servers: &[Server],
        loads: &Loads,
        input: Input,
    ) -> Option<u16> {
        let gen = loads.pushes.load(Ordering::Relaxed);
        let pushed = gen != self.push_gen;
        self.push_gen = gen;
        for (c, s) in self.cands.iter_mut().zip(servers.iter()) {
            let live = &s.live;
            c.state = ServerState::from_genl(live.state.load(Ordering::Relaxed))
                .unwrap_or(ServerState::Down);
            c.sessions = live.sessions.load(Ordering::Relaxed);
            if pushed {
                c.push_forecast(
                    live.forecast.load(Ordering::Relaxed),
                    live.load_known.load(Ordering::Relaxed),
                );
            }
        }
        if let AnyPolicy::Forecast(f) = &mut self.policy {
            // The control plane pushes the increment in per-mille; the policy counts in ppm.
            *f = Forecast::new(
                u32::from(loads.increment.load(Ordering::Relaxed)).saturating_mul(1000),
            );
        }
        let i = self.policy.select(&mut self.cands, input)?;
        self.cands.get(i).map(|c| c.id)
    }
}
