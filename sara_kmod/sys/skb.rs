// SPDX-License-Identifier: GPL-2.0

//! One packet in the netfilter hook.

use super::{ffi, NetPtr};

/// A packet handed to the PRE_ROUTING hook, `skb->data` at the IPv4 header. Valid for one hook call;
/// the hook's return value (see [`super::entry`]) says whether netfilter keeps it (`Accept`), frees
/// it (`Drop`) or whether [`Skb::xmit`] took it (`Stolen`).
///
/// # Invariants
/// `ptr` is the hook's valid `sk_buff` and `net` its namespace, until the hook returns; the `Skb`
/// is not kept past the hook call.
pub(crate) struct Skb {
    ptr: *mut ffi::SkBuff,
    net: NetPtr,
}

/// What [`Skb::xmit`] did.
pub(crate) enum Xmit {
    /// Queued on the server's interface; the packet is gone.
    Queued,
    /// Handed to the interface, which dropped it; the packet is gone.
    DeviceDropped,
    /// The interface no longer exists or is down; the packet is still ours to drop.
    NoDevice,
    /// The header could not be made writable; the packet is still ours to drop.
    NoMemory,
}

impl Skb {
    /// # Safety
    /// `ptr` is the hook's `sk_buff`, `net` its namespace; both valid until the hook returns.
    pub(crate) unsafe fn from_raw(ptr: *mut ffi::SkBuff, net: NetPtr) -> Self {
        Self { ptr, net }
    }

    /// The linear part of the packet, from the IPv4 header on, and the packet's full length.
    pub(crate) fn linear(&self) -> (&[u8], u32) {
        let mut headlen = 0u32;
        let mut len = 0u32;
        // SAFETY: `self.ptr` is valid (type invariant); the out pointers are valid for writes.
        let data = unsafe { ffi::sara_skb_data(self.ptr, &mut headlen, &mut len) };
        if data.is_null() {
            return (&[], 0);
        }
        // SAFETY: the kernel guarantees `headlen` readable bytes at `skb->data`; they stay valid and
        // unchanged while we borrow `self` immutably (pull/linearize/xmit take `&mut self`/`self`).
        let s = unsafe { core::slice::from_raw_parts(data, headlen as usize) };
        (s, len)
    }

    /// Makes the first `n` bytes linear (`pskb_may_pull`); false if the packet is shorter or memory
    /// is short.
    pub(crate) fn pull(&mut self, n: u32) -> bool {
        // SAFETY: `self.ptr` is valid and owned by this hook call.
        unsafe { ffi::sara_skb_pull(self.ptr, n) }
    }

    /// Makes the whole packet linear (for payload inspection); false when memory is short.
    #[allow(dead_code)]
    pub(crate) fn linearize(&mut self) -> bool {
        // SAFETY: `self.ptr` is valid and owned by this hook call.
        unsafe { ffi::sara_skb_linearize(self.ptr) == 0 }
    }

    /// Direct-routing transmit: Ethernet destination = `mac`, out through `ifindex`.
    pub(crate) fn xmit(self, ifindex: i32, mac: &[u8; 6]) -> Xmit {
        // SAFETY: `self.ptr` and `self.net.0` are valid for this hook call; `mac` has 6 bytes. The
        // glue consumes the skb when it returns >= 0 and leaves it to us otherwise; `self` is moved
        // in, so no use after a consuming transmit is possible.
        let r = unsafe { ffi::sara_xmit(self.net.0, self.ptr, ifindex, mac.as_ptr()) };
        match r {
            0 => Xmit::Queued,
            r if r > 0 => Xmit::DeviceDropped,
            r if r == -(kernel::bindings::ENOMEM as i32) => Xmit::NoMemory,
            _ => Xmit::NoDevice,
        }
    }
}
