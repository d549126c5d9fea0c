// SPDX-License-Identifier: GPL-2.0

//! The `extern "C"` functions `glue/sara_glue.c` calls (declared in `glue/sara_glue.h`). Each turns
//! raw pointers into the safe types of [`super`] and calls safe code.

use super::genl::{Dump, Request};
use super::rcu::{RcuGuard, WriterToken};
use super::skb::Skb;
use super::{ffi, NetPtr};
use crate::netns::NetState;
use crate::sara_core::counters::COUNTERS;
use kernel::alloc::KBox;
use kernel::ffi::{c_char, c_int, c_uint, c_void};

/// Pernet init: a new namespace's state, or NULL when memory is short.
#[no_mangle]
extern "C" fn sara_rs_net_init(net: *mut ffi::Net) -> *mut c_void {
    match NetState::new(NetPtr(net)) {
        Ok(st) => KBox::into_raw(st).cast(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// Pernet exit: frees a namespace's state.
///
/// # Safety
/// `state` came from `sara_rs_net_init`; the hook is unregistered and a grace period has passed;
/// no netlink request or sysfs read can reach it any more.
#[no_mangle]
unsafe extern "C" fn sara_rs_net_exit(state: *mut c_void) {
    // SAFETY: per the function's contract we own `state` again.
    drop(unsafe { KBox::from_raw(state.cast::<NetState>()) });
}

/// The PRE_ROUTING hook: returns NF_DROP (0), NF_ACCEPT (1) or NF_STOLEN (2).
///
/// # Safety
/// Called by the netfilter core (inside `rcu_read_lock()`) with the namespace's live state, the
/// packet and its namespace.
#[no_mangle]
unsafe extern "C" fn sara_rs_hook(
    state: *mut c_void,
    skb: *mut ffi::SkBuff,
    net: *mut ffi::Net,
) -> c_uint {
    // SAFETY: the state lives until pernet exit, which first unregisters this hook.
    let st = unsafe { &*state.cast::<NetState>() };
    // SAFETY: `skb` and `net` are valid for this call.
    let skb = unsafe { Skb::from_raw(skb, NetPtr(net)) };
    // SAFETY: netfilter hooks run inside an RCU read-side critical section.
    let guard = unsafe { RcuGuard::assume_held() };
    crate::hook::packet(st, skb, &guard) as c_uint
}

/// A generic netlink request of family `sara`: 0 or a negative errno.
///
/// # Safety
/// Called by the generic netlink core for a request in `state`'s namespace, with its `genl_info`.
#[no_mangle]
unsafe extern "C" fn sara_rs_genl_doit(
    state: *mut c_void,
    cmd: u8,
    info: *const ffi::GenlInfo,
) -> c_int {
    // SAFETY: the requesting socket holds a reference on the namespace, so its state is alive.
    let st = unsafe { &*state.cast::<NetState>() };
    // SAFETY: `info` is this request's; `st.net` is its namespace.
    let req = unsafe { Request::from_raw(info, st.net) };
    // SAFETY: SARA's family has no `parallel_ops`: the genetlink core runs one request at a time.
    let w = unsafe { WriterToken::assume_exclusive() };
    match crate::ctl::request(st, cmd, &req, &w) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Value of counter `id` in `state`'s namespace (sysfs).
///
/// # Safety
/// `state` is a live namespace state (the reader's own namespace).
#[no_mangle]
unsafe extern "C" fn sara_rs_counter(state: *mut c_void, id: u32) -> u64 {
    // SAFETY: per the contract.
    let st = unsafe { &*state.cast::<NetState>() };
    crate::ctl::counter(st, id as usize)
}

/// One step of the flow table's purge (the namespace's delayed work); returns the delay before the
/// next step in ms, 0 to stop.
///
/// # Safety
/// Called by the purge work of `state`'s namespace, inside `rcu_read_lock()`, while the state lives
/// (pernet exit cancels the work before freeing the state).
#[no_mangle]
unsafe extern "C" fn sara_rs_purge(state: *mut c_void) -> u32 {
    // SAFETY: per the contract.
    let st = unsafe { &*state.cast::<NetState>() };
    // SAFETY: the glue holds `rcu_read_lock()` around this call.
    let guard = unsafe { RcuGuard::assume_held() };
    crate::conn::purge(st, &guard)
}

/// A dump request of family `sara` (the flow table): bytes written, 0 at the end, or a negative errno.
///
/// # Safety
/// Called by the generic netlink core for a dump in `state`'s namespace, with its buffer and callback.
#[no_mangle]
unsafe extern "C" fn sara_rs_genl_dumpit(
    state: *mut c_void,
    skb: *mut ffi::SkBuff,
    cb: *mut ffi::NetlinkCallback,
) -> c_int {
    // SAFETY: the requesting socket holds a reference on the namespace, so its state is alive.
    let st = unsafe { &*state.cast::<NetState>() };
    // SAFETY: `skb` and `cb` are this dumpit call's.
    let mut dump = unsafe { Dump::from_raw(skb, cb) };
    crate::ctl::flow_dump(st, &mut dump)
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
