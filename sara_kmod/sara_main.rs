// SPDX-License-Identifier: GPL-2.0

//! SARA: a session-aware load balancer for clusters of Internet servers.
//!
//! `sara.ko` sits on the dispatcher of a direct-routing cluster (see `shared/design/sara-spec.md`):
//! packets for a virtual service (VIP, port, protocol) are stolen at IPv4 PRE_ROUTING and sent on,
//! unchanged at L3, to the MAC of the server chosen for their session; replies go from the servers
//! straight to the clients.
//!
//! Layout, one file per concern (as IPVS does):
//! * `sara_core` (`core/src/`): every decision, pure and host-tested — compiled in here as a module;
//! * [`netns`]: the state of one network namespace (services, servers, counters);
//! * [`hook`]: the packet path;
//! * [`ctl`]: the generic netlink commands;
//! * [`sys`]: the only place with FFI, raw pointers and `unsafe` (thin wrappers over `glue/sara_glue.c`).

use kernel::prelude::*;

// The core, compiled in as a public module (its API is public, so nothing in it needs a blanket
// lint allowance). rustfmt skips it from here: its files are formatted with its cargo package (scripts/fmt.sh).
#[rustfmt::skip]
#[path = "core/src/lib.rs"]
pub mod sara_core;

// Every file above `sys/` is safe Rust, enforced: `unsafe` lives in `sys/` alone (each with its
// `// SAFETY:` comment), and the core forbids it in its own crate root.
#[forbid(unsafe_code)]
mod config;
#[forbid(unsafe_code)]
mod conn;
#[forbid(unsafe_code)]
mod ctl;
#[forbid(unsafe_code)]
mod hook;
#[forbid(unsafe_code)]
mod netns;
#[forbid(unsafe_code)]
mod repl;
#[forbid(unsafe_code)]
mod sched;
#[forbid(unsafe_code)]
mod service;
mod sys;

// The glue's entry points reach the module through `sys::Instance`, implemented once here.
sys::entry_points!(netns::NetState);

impl sys::Instance for netns::NetState {
    fn new(net: sys::NetPtr) -> Result<KBox<Self>> {
        netns::NetState::new(net)
    }
    fn net(&self) -> sys::NetPtr {
        self.net
    }
    fn hook(&self, skb: sys::skb::Skb, g: &sys::rcu::RcuGuard) -> sys::Verdict {
        hook::packet(self, skb, g)
    }
    fn request(&self, cmd: u8, req: &sys::genl::Request<'_>, w: &sys::rcu::WriterToken) -> Result {
        ctl::request(self, cmd, req, w)
    }
    fn dump(&self, d: &mut sys::genl::Dump<'_>) -> kernel::ffi::c_int {
        ctl::flow_dump(self, d)
    }
    fn counter(&self, id: usize) -> u64 {
        ctl::counter(self, id)
    }
    fn purge(&self, g: &sys::rcu::RcuGuard) -> u32 {
        self.purge(g)
    }
}

module! {
    type: Sara,
    name: "sara",
    author: "SARA developers",
    description: "SARA: session-aware load balancer for clusters of Internet servers",
    license: "GPL",
}

struct Sara;

impl kernel::Module for Sara {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        sys::glue_init()?;
        pr_info!(
            "loaded: generic netlink family \"{}\", counters in /sys/kernel/sara\n",
            sara_core::genl::FAMILY_NAME
        );
        Ok(Sara)
    }
}

impl Drop for Sara {
    fn drop(&mut self) {
        sys::glue_exit();
        pr_info!("unloaded\n");
    }
}
