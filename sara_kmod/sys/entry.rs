// SPDX-License-Identifier: GPL-2.0

//! The `extern "C"` functions `glue/sara_glue.c` calls (declared in `glue/sara_glue.h`). Each turns
//! raw pointers into the safe types of [`super`] and calls the module through [`Instance`], the one
//! trait it implements (the `Adapter<T>` pattern of the kernel's `phy.rs`): `sys/` does not know
//! the module's types. The module names its type once, with [`entry_points!`], which defines the
//! exported symbols over the generic bodies here.

use super::genl::{Dump, Request};
use super::rcu::{RcuGuard, WriterToken};
use super::skb::Skb;
use super::{ffi, NetPtr, Verdict};
use crate::sara_core::counters::COUNTERS;
use kernel::alloc::KBox;
use kernel::error::Result;
use kernel::ffi::{c_char, c_int, c_uint, c_void};

/// SARA's state in one network namespace, as the glue sees it: made by the namespace's pernet init,
/// freed by its pernet exit, and reached by the hook, netlink requests, sysfs reads and the purge
/// work in between.
pub(crate) trait Instance: Sized + Send + Sync {
    /// A new namespace's state.
    fn new(net: NetPtr) -> Result<KBox<Self>>;
    /// The namespace this state belongs to.
    fn net(&self) -> NetPtr;
    /// One packet at IPv4 PRE_ROUTING (softirq, inside the RCU read-side section `g`).
    fn hook(&self, skb: Skb, g: &RcuGuard) -> Verdict;
    /// One generic netlink request; `w` proves that no other request runs.
    fn request(&self, cmd: u8, req: &Request<'_>, w: &WriterToken) -> Result;
    /// One call of a dump: bytes written, 0 at the end, or a negative errno.
    fn dump(&self, d: &mut Dump<'_>) -> c_int;
    /// Value of counter `id` (sysfs).
    fn counter(&self, id: usize) -> u64;
    /// One purge step; the delay before the next in ms, 0 to stop.
    fn purge(&self, g: &RcuGuard) -> u32;
}

/// Defines the exported entry points of `glue/sara_glue.h` for the module's [`Instance`] type.
macro_rules! entry_points {
    ($t:ty) => {
        /// Pernet init: a new namespace's state, or NULL when memory is short.
        #[no_mangle]
        extern "C" fn sara_rs_net_init(
            net: *mut $crate::sys::ffi::Net,
        ) -> *mut ::kernel::ffi::c_void {
            $crate::sys::entry::net_init::<$t>(net)
        }

        /// Pernet exit. Safety: see [`crate::sys::entry::net_exit`].
        #[no_mangle]
        unsafe extern "C" fn sara_rs_net_exit(state: *mut ::kernel::ffi::c_void) {
            // SAFETY: the glue calls this with the contract of `net_exit`.
            unsafe { $crate::sys::entry::net_exit::<$t>(state) }
        }

        /// The PRE_ROUTING hook. Safety: see [`crate::sys::entry::hook`].
        #[no_mangle]
        unsafe extern "C" fn sara_rs_hook(
            state: *mut ::kernel::ffi::c_void,
            skb: *mut $crate::sys::ffi::SkBuff,
            net: *mut $crate::sys::ffi::Net,
        ) -> ::kernel::ffi::c_uint {
            // SAFETY: the glue calls this with the contract of `hook`.
            unsafe { $crate::sys::entry::hook::<$t>(state, skb, net) }
        }

        /// A generic netlink request. Safety: see [`crate::sys::entry::genl_doit`].
        #[no_mangle]
        unsafe extern "C" fn sara_rs_genl_doit(
            state: *mut ::kernel::ffi::c_void,
            cmd: u8,
            info: *const $crate::sys::ffi::GenlInfo,
        ) -> ::kernel::ffi::c_int {
            // SAFETY: the glue calls this with the contract of `genl_doit`.
            unsafe { $crate::sys::entry::genl_doit::<$t>(state, cmd, info) }
        }

        /// A dump call. Safety: see [`crate::sys::entry::genl_dumpit`].
        #[no_mangle]
        unsafe extern "C" fn sara_rs_genl_dumpit(
            state: *mut ::kernel::ffi::c_void,
            skb: *mut $crate::sys::ffi::SkBuff,
            cb: *mut $crate::sys::ffi::NetlinkCallback,
        ) -> ::kernel::ffi::c_int {
            // SAFETY: the glue calls this with the contract of `genl_dumpit`.
            unsafe { $crate::sys::entry::genl_dumpit::<$t>(state, skb, cb) }
        }

        /// A counter's value (sysfs). Safety: see [`crate::sys::entry::counter`].
        #[no_mangle]
        unsafe extern "C" fn sara_rs_counter(state: *mut ::kernel::ffi::c_void, id: u32) -> u64 {
            // SAFETY: the glue calls this with the contract of `counter`.
            unsafe { $crate::sys::entry::counter::<$t>(state, id) }
        }

        /// One purge step. Safety: see [`crate::sys::entry::purge`].
        #[no_mangle]
        unsafe extern "C" fn sara_rs_purge(state: *mut ::kernel::ffi::c_void) -> u32 {
            // SAFETY: the glue calls this with the contract of `purge`.
            unsafe { $crate::sys::entry::purge::<$t>(state) }
        }
    };
}
pub(crate) use entry_points;

/// Pernet init: a new namespace's state, or NULL when memory is short.
pub(crate) fn net_init<T: Instance>(net: *mut ffi::Net) -> *mut c_void {
    match T::new(NetPtr(net)) {
        Ok(st) => KBox::into_raw(st).cast(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Pernet exit: frees a namespace's state.
///
/// # Safety
/// `state` came from [`net_init`] with the same `T`; the hook is unregistered and a grace period has
/// passed; no netlink request or sysfs read can reach it any more.
pub(crate) unsafe fn net_exit<T: Instance>(state: *mut c_void) {
    // SAFETY: per the function's contract we own `state` again.
    drop(unsafe { KBox::from_raw(state.cast::<T>()) });
}

/// The PRE_ROUTING hook: returns NF_DROP (0), NF_ACCEPT (1) or NF_STOLEN (2).
///
/// # Safety
/// Called by the netfilter core (inside `rcu_read_lock()`) with the namespace's live state (from
/// [`net_init`] with the same `T`), the packet and its namespace.
pub(crate) unsafe fn hook<T: Instance>(
    state: *mut c_void,
    skb: *mut ffi::SkBuff,
    net: *mut ffi::Net,
) -> c_uint {
    // SAFETY: the state lives until pernet exit, which first unregisters this hook.
    let st = unsafe { &*state.cast::<T>() };
    // SAFETY: `skb` and `net` are valid for this call.
    let skb = unsafe { Skb::from_raw(skb, NetPtr(net)) };
    // SAFETY: netfilter hooks run inside an RCU read-side critical section.
    let guard = unsafe { RcuGuard::assume_held() };
    st.hook(skb, &guard) as c_uint
}

/// A generic netlink request of family `sara`: 0 or a negative errno.
///
/// # Safety
/// Called by the generic netlink core for a request in `state`'s namespace (state from
/// [`net_init`] with the same `T`), with its `genl_info`.
pub(crate) unsafe fn genl_doit<T: Instance>(
    state: *mut c_void,
    cmd: u8,
    info: *const ffi::GenlInfo,
) -> c_int {
    // SAFETY: the requesting socket holds a reference on the namespace, so its state is alive.
    let st = unsafe { &*state.cast::<T>() };
    // SAFETY: `info` is this request's; `st.net()` is its namespace.
    let req = unsafe { Request::from_raw(info, st.net()) };
    // SAFETY: SARA's family has no `parallel_ops`: the genetlink core runs one request at a time.
    let w = unsafe { WriterToken::assume_exclusive() };
    match st.request(cmd, &req, &w) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Value of counter `id` in `state`'s namespace (sysfs).
///
/// # Safety
/// `state` is a live namespace state (the reader's own namespace) from [`net_init`] with the same `T`.
pub(crate) unsafe fn counter<T: Instance>(state: *mut c_void, id: u32) -> u64 {
    // SAFETY: per the contract.
    let st = unsafe { &*state.cast::<T>() };
    st.counter(id as usize)
}

/// One step of the flow table's purge (the namespace's delayed work); returns the delay before the
/// next step in ms, 0 to stop.
///
/// # Safety
/// Called by the purge work of `state`'s namespace (state from [`net_init`] with the same `T`),
/// inside `rcu_read_lock()`, while the state lives (pernet exit cancels the work before freeing it).
pub(crate) unsafe fn purge<T: Instance>(state: *mut c_void) -> u32 {
    // SAFETY: per the contract.
    let st = unsafe { &*state.cast::<T>() };
    // SAFETY: the glue holds `rcu_read_lock()` around this call.
    let guard = unsafe { RcuGuard::assume_held() };
    st.purge(&guard)
}

/// A dump request of family `sara` (the flow table): bytes written, 0 at the end, or a negative errno.
///
/// # Safety
/// Called by the generic netlink core for a dump in `state`'s namespace (state from [`net_init`]
/// with the same `T`), with its buffer and callback.
pub(crate) unsafe fn genl_dumpit<T: Instance>(
    state: *mut c_void,
    skb: *mut ffi::SkBuff,
    cb: *mut ffi::NetlinkCallback,
) -> c_int {
    // SAFETY: the requesting socket holds a reference on the namespace, so its state is alive.
    let st = unsafe { &*state.cast::<T>() };
    // SAFETY: `skb` and `cb` are this dumpit call's.
    let mut dump = unsafe { Dump::from_raw(skb, cb) };
    st.dump(&mut dump)
}

/// Number of counters (sysfs files).
#[no_mangle]
extern "C" fn sara_rs_num_counters() -> u32 {
    u32::try_from(COUNTERS.len()).unwrap_or(0)
}

/// NUL-terminated, static name of counter `id` (sysfs file name), or NULL.
#[no_mangle]
extern "C" fn sara_rs_counter_name(id: u32) -> *const c_char {
    COUNTERS
        .get(id as usize)
        .map_or(core::ptr::null(), |c| c.name_nul.as_ptr())
}
