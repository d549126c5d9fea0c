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
    /// Queued on the server's interface, whole (`fragments` 0) or in `fragments` fragments; the
    /// packet is gone.
    Queued {
        /// How many fragments the datagram was sent in (0: sent whole).
        fragments: u32,
    },
    /// Handed to the interface, which dropped it (or one of its fragments); the packet is gone.
    DeviceDropped,
    /// Fragmenting it failed (memory short); the packet is gone.
    FragmentFailed,
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

    /// The size of the largest fragment this datagram arrived in, when the stack reassembled it
    /// (`nf_defrag_ipv4` before the hook: `IPCB(skb)->frag_max_size`); 0 for a packet that arrived
    /// whole.
    pub(crate) fn frag_max_size(&self) -> u16 {
        // SAFETY: `self.ptr` is valid (type invariant); at PRE_ROUTING its control buffer is IPv4's.
        unsafe { ffi::sara_skb_frag_max_size(self.ptr) }
    }

    /// The MTU of interface `ifindex` of the packet's namespace; `None` if it has gone.
    pub(crate) fn dev_mtu(&self, ifindex: i32) -> Option<u32> {
        // SAFETY: `self.net.0` is valid for this hook call, which runs inside `rcu_read_lock()`.
        let r = unsafe { ffi::sara_dev_mtu(self.net.0, ifindex) };
        u32::try_from(r).ok()
    }

    /// Direct-routing transmit: Ethernet destination = `mac`, out through `ifindex`; whole when
    /// `frag_size` is 0, else in fragments of at most `frag_size` bytes (a datagram the stack
    /// reassembled: see `sara_core::wire::ipv4::refragment`).
    pub(crate) fn xmit(self, ifindex: i32, mac: &[u8; 6], frag_size: u16) -> Xmit {
        let mut frags = 0u32;
        // SAFETY: `self.ptr` and `self.net.0` are valid for this hook call (inside
        // `rcu_read_lock()`); `mac` has 6 bytes; `frags` is valid for writes. The glue consumes the
        // skb when it returns >= 0 and leaves it to us otherwise; `self` is moved in, so no use
        // after a consuming transmit is possible.
        let r = unsafe {
            ffi::sara_xmit(
                self.net.0,
                self.ptr,
                ifindex,
                mac.as_ptr(),
                frag_size,
                &mut frags,
            )
        };
        match r {
            0 => Xmit::Queued { fragments: frags },
            1 => Xmit::DeviceDropped,
            r if r > 0 => Xmit::FragmentFailed,
            r if r == -(kernel::bindings::ENOMEM as i32) => Xmit::NoMemory,
            _ => Xmit::NoDevice,
        }
    }
}
