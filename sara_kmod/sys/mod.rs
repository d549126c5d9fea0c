// SPDX-License-Identifier: GPL-2.0

//! The only place in `sara.ko` with FFI, raw pointers and `unsafe`.
//!
//! Each file wraps one kernel subsystem reached through `glue/sara_glue.c` and hands the code above
//! it safe types: [`skb::Skb`] (one packet in the hook), [`genl::Request`] and [`genl::Reply`] (one
//! netlink request), [`rcu::RcuBox`] (RCU-published configuration), [`NetPtr`] (a namespace).
//! [`entry`] holds the `extern "C"` functions the C glue calls.

pub(crate) mod entry;
pub(crate) mod ffi;
pub(crate) mod genl;
pub(crate) mod lock;
pub(crate) mod rcu;
pub(crate) mod skb;

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::error::{to_result, Result};
use kernel::str::CStr;

pub(crate) use entry::{entry_points, Instance};

/// A netfilter verdict (what the hook returns to the glue).
#[repr(u32)]
pub(crate) enum Verdict {
    /// NF_DROP: netfilter frees the packet.
    Drop = 0,
    /// NF_ACCEPT: the packet goes on through the stack.
    Accept = 1,
    /// NF_STOLEN: we transmitted the packet.
    Stolen = 2,
}

/// A network namespace.
///
/// # Invariants
/// The pointer stays valid for as long as the namespace's SARA state exists (the state is created
/// by the namespace's pernet init and destroyed by its pernet exit), and a `NetPtr` is only held
/// by that state or by calls made while it lives.
#[derive(Clone, Copy)]
pub(crate) struct NetPtr(*mut ffi::Net);

// SAFETY: `struct net` is shared kernel state designed for concurrent use; we only pass the pointer
// back to kernel functions that take their own locks/RCU.
unsafe impl Send for NetPtr {}
// SAFETY: as above.
unsafe impl Sync for NetPtr {}

impl NetPtr {
    /// ifindex of the Ethernet device `name` in this namespace.
    pub(crate) fn ifindex(&self, name: &CStr) -> Result<i32> {
        // SAFETY: `self.0` is a live namespace (type invariant); `name` is NUL-terminated.
        let r = unsafe { ffi::sara_dev_ifindex(self.0, name.as_char_ptr()) };
        to_result(r.min(0))?;
        Ok(r)
    }

    /// Starts the purge work of this namespace's flow table now.
    pub(crate) fn purge_kick(&self) {
        // SAFETY: `self.0` is a live namespace whose SARA state (and purge work) exists.
        unsafe { ffi::sara_purge_kick(self.0) }
    }
}

/// A namespace's reference on IPv4 defragmentation at PRE_ROUTING (`nf_defrag_ipv4`, priority -400:
/// before SARA's hook), held while the namespace has services and given back when the last one
/// goes or with the namespace's state (pernet exit, module unload).
pub(crate) struct Defrag {
    net: NetPtr,
    /// Whether the reference is held (changed by netlink requests only, one at a time).
    held: AtomicBool,
}

impl Defrag {
    /// Not held.
    pub(crate) fn new(net: NetPtr) -> Self {
        Self {
            net,
            held: AtomicBool::new(false),
        }
    }

    /// Takes the reference unless it is held (control path; `_w`: no other request runs).
    pub(crate) fn hold(&self, _w: &rcu::WriterToken) -> Result {
        if self.held.load(Ordering::Relaxed) {
            return Ok(());
        }
        // SAFETY: `self.net.0` is a live namespace (`NetPtr`'s invariant); process context.
        to_result(unsafe { ffi::sara_defrag_enable(self.net.0) })?;
        self.held.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Gives the reference back if it is held (control path).
    pub(crate) fn release(&self, _w: &rcu::WriterToken) {
        if self.held.swap(false, Ordering::Relaxed) {
            // SAFETY: `self.net.0` is a live namespace; this namespace holds one reference.
            unsafe { ffi::sara_defrag_disable(self.net.0) }
        }
    }
}

impl Drop for Defrag {
    fn drop(&mut self) {
        if *self.held.get_mut() {
            // SAFETY: the namespace's state is dropped by its pernet exit (process context), while
            // the namespace is still valid; this namespace holds one reference.
            unsafe { ffi::sara_defrag_disable(self.net.0) }
        }
    }
}

/// Errnos that 6.12's `kernel::error::code` lacks.
pub(crate) mod errno {
    use kernel::error::Error;

    fn e(n: u32) -> Error {
        Error::from_errno(-(n as i32))
    }
    /// Operation not supported.
    pub(crate) fn eopnotsupp() -> Error {
        e(kernel::bindings::EOPNOTSUPP)
    }
    /// Message too long (a reply did not fit).
    pub(crate) fn emsgsize() -> Error {
        e(kernel::bindings::EMSGSIZE)
    }
}

/// Registers the pernet operations, sysfs files and the generic netlink family.
pub(crate) fn glue_init() -> Result {
    // SAFETY: called once from module init, before anything else of ours runs.
    to_result(unsafe { ffi::sara_glue_init() })
}

/// Undoes [`glue_init`]: waits for netlink requests and hooks in flight, then frees every namespace's
/// state.
pub(crate) fn glue_exit() {
    // SAFETY: called once from module exit, after a successful `glue_init`.
    unsafe { ffi::sara_glue_exit() }
}

/// Fills `buf` with random bytes from the kernel's CRNG.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    // SAFETY: `buf` is valid for `len` bytes of writes.
    unsafe { ffi::sara_random_bytes(buf.as_mut_ptr().cast(), len) }
}

/// A uniform random `u32` (`get_random_u32`: per-CPU batched, cheap enough per packet).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no preconditions; callable from any context.
    unsafe { ffi::sara_random_u32() }
}

/// The table's clock: `jiffies` in milliseconds, wrapping.
pub(crate) fn now_ms() -> u32 {
    // SAFETY: no preconditions; callable from any context.
    unsafe { ffi::sara_now_ms() }
}

/// The `flow_capacity` module parameter (clamped by the glue).
pub(crate) fn flow_capacity() -> u32 {
    // SAFETY: no preconditions; reads a module parameter.
    unsafe { ffi::sara_flow_capacity() }
}
