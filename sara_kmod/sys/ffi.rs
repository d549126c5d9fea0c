// SPDX-License-Identifier: GPL-2.0

//! Declarations of `glue/sara_glue.c` (see `glue/sara_glue.h`; keep the two in step).

use kernel::bindings::spinlock_t;
use kernel::ffi::{c_char, c_int, c_long, c_void};

/// `struct net` (opaque).
#[repr(C)]
pub(crate) struct Net {
    _p: [u8; 0],
}

/// `struct sk_buff` (opaque).
#[repr(C)]
pub(crate) struct SkBuff {
    _p: [u8; 0],
}

/// `struct genl_info` (opaque).
#[repr(C)]
pub(crate) struct GenlInfo {
    _p: [u8; 0],
}

/// `struct nlattr` (opaque).
#[repr(C)]
pub(crate) struct NlAttr {
    _p: [u8; 0],
}

/// `struct netlink_callback` (opaque).
#[repr(C)]
pub(crate) struct NetlinkCallback {
    _p: [u8; 0],
}

extern "C" {
    pub(crate) fn sara_glue_init() -> c_int;
    pub(crate) fn sara_glue_exit();
    pub(crate) fn sara_skb_data(skb: *const SkBuff, headlen: *mut u32, len: *mut u32) -> *const u8;
    pub(crate) fn sara_skb_pull(skb: *mut SkBuff, n: u32) -> bool;
    pub(crate) fn sara_skb_linearize(skb: *mut SkBuff) -> c_int;
    pub(crate) fn sara_xmit(
        net: *mut Net,
        skb: *mut SkBuff,
        ifindex: c_int,
        mac: *const u8,
        frag_size: u16,
        frags: *mut u32,
    ) -> c_int;
    pub(crate) fn sara_skb_frag_max_size(skb: *const SkBuff) -> u16;
    pub(crate) fn sara_dev_mtu(net: *mut Net, ifindex: c_int) -> c_int;
    pub(crate) fn sara_defrag_enable(net: *mut Net) -> c_int;
    pub(crate) fn sara_defrag_disable(net: *mut Net);
    pub(crate) fn sara_dev_ifindex(net: *mut Net, name: *const c_char) -> c_int;
    pub(crate) fn sara_random_bytes(buf: *mut c_void, len: u32);
    pub(crate) fn sara_synchronize_rcu();
    pub(crate) fn sara_info_attrs(info: *const GenlInfo) -> *mut *mut NlAttr;
    pub(crate) fn sara_attr_nest(
        info: *const GenlInfo,
        attr: c_int,
        idx: u32,
        tb: *mut *mut NlAttr,
    ) -> c_int;
    pub(crate) fn sara_tb_u8(tb: *mut *mut NlAttr, attr: c_int, out: *mut u8) -> c_int;
    pub(crate) fn sara_tb_u16(tb: *mut *mut NlAttr, attr: c_int, out: *mut u16) -> c_int;
    pub(crate) fn sara_tb_u32(tb: *mut *mut NlAttr, attr: c_int, out: *mut u32) -> c_int;
    pub(crate) fn sara_tb_bytes(tb: *mut *mut NlAttr, attr: c_int, buf: *mut u8, cap: u32)
        -> c_int;
    pub(crate) fn sara_set_err(info: *const GenlInfo, attr: c_int, msg: *const c_char);
    pub(crate) fn sara_reply_new(info: *mut GenlInfo, size: u32) -> *mut SkBuff;
    pub(crate) fn sara_put_u8(msg: *mut SkBuff, attr: c_int, v: u8) -> c_int;
    pub(crate) fn sara_put_u16(msg: *mut SkBuff, attr: c_int, v: u16) -> c_int;
    pub(crate) fn sara_put_u32(msg: *mut SkBuff, attr: c_int, v: u32) -> c_int;
    pub(crate) fn sara_put_u64(msg: *mut SkBuff, attr: c_int, v: u64, pad: c_int) -> c_int;
    pub(crate) fn sara_put_bytes(
        msg: *mut SkBuff,
        attr: c_int,
        p: *const c_void,
        len: u32,
    ) -> c_int;
    pub(crate) fn sara_nest_start(msg: *mut SkBuff, attr: c_int) -> *mut c_void;
    pub(crate) fn sara_nest_end(msg: *mut SkBuff, nest: *mut c_void);
    pub(crate) fn sara_reply_send(msg: *mut SkBuff, info: *mut GenlInfo) -> c_int;
    pub(crate) fn sara_reply_free(msg: *mut SkBuff);
    pub(crate) fn sara_nest_cancel(msg: *mut SkBuff, nest: *mut c_void);
    pub(crate) fn sara_dump_args(cb: *mut NetlinkCallback) -> *mut c_long;
    pub(crate) fn sara_dump_attrs(cb: *mut NetlinkCallback) -> *mut *mut NlAttr;
    pub(crate) fn sara_dump_begin(
        skb: *mut SkBuff,
        cb: *mut NetlinkCallback,
        cmd: u8,
    ) -> *mut c_void;
    pub(crate) fn sara_dump_end(skb: *mut SkBuff, hdr: *mut c_void) -> c_int;
    pub(crate) fn sara_dump_cancel(skb: *mut SkBuff, hdr: *mut c_void);
    pub(crate) fn sara_dump_mark_interrupted(hdr: *mut c_void);
    pub(crate) fn sara_random_u32() -> u32;
    pub(crate) fn sara_now_ms() -> u32;
    pub(crate) fn sara_flow_capacity() -> u32;
    pub(crate) fn sara_purge_kick(net: *mut Net);
    pub(crate) fn sara_lock_init(lock: *mut spinlock_t);
    pub(crate) fn sara_lock_init_inner(lock: *mut spinlock_t);
    pub(crate) fn sara_lock_init_stream(lock: *mut spinlock_t);
    pub(crate) fn sara_lock_bh(lock: *mut spinlock_t);
    pub(crate) fn sara_unlock_bh(lock: *mut spinlock_t);
}
