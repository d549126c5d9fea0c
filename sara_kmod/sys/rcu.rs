// SPDX-License-Identifier: GPL-2.0

//! RCU-published values: read lock-free in the packet path, replaced whole by the control path.
//!
//! 6.12's `kernel` crate has no RCU abstraction; this is the classic pattern with an `AtomicPtr`:
//! readers load with Acquire inside an RCU read-side critical section (the netfilter core holds
//! `rcu_read_lock()` around every hook), writers store the new value with Release, wait with
//! `synchronize_rcu()` and only then free the old one.

use super::ffi;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::alloc::KBox;

/// Proof of an RCU read-side critical section. Made only by [`super::entry`] for code that runs
/// inside one (the netfilter hook).
pub(crate) struct RcuGuard(PhantomData<*mut ()>);

impl RcuGuard {
    /// # Safety
    /// The caller runs inside `rcu_read_lock()`/`rcu_read_unlock()` for the guard's whole life.
    pub(crate) unsafe fn assume_held() -> Self {
        Self(PhantomData)
    }
}

/// Proof that the caller is a writer: it holds the generic netlink mutex (SARA's family does not set
/// `parallel_ops`, so the kernel runs its requests one at a time). Made only by [`super::entry`] for
/// netlink handlers and for namespace set-up/tear-down, which no request can overlap.
pub(crate) struct WriterToken(PhantomData<*mut ()>);

impl WriterToken {
    /// # Safety
    /// The caller is serialised against every other writer of the namespace's `RcuBox`es.
    pub(crate) unsafe fn assume_exclusive() -> Self {
        Self(PhantomData)
    }
}

/// A heap value published with RCU.
pub(crate) struct RcuBox<T> {
    ptr: AtomicPtr<T>,
}

impl<T> RcuBox<T> {
    /// Publishes `v`.
    pub(crate) fn new(v: KBox<T>) -> Self {
        Self {
            ptr: AtomicPtr::new(KBox::into_raw(v)),
        }
    }

    /// The current value, for a reader inside an RCU read-side critical section.
    pub(crate) fn read<'a>(&'a self, _g: &'a RcuGuard) -> &'a T {
        // SAFETY: the pointer always comes from `KBox::into_raw` and is never null; a replaced value
        // is freed only after `synchronize_rcu()`, i.e. after every critical section that could
        // have loaded it — including the one `_g` proves we are in.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }

    /// The current value, for the (single) writer.
    pub(crate) fn read_writer<'a>(&'a self, _w: &'a WriterToken) -> &'a T {
        // SAFETY: only writers replace the value and `_w` proves no other writer runs, so the value
        // cannot be freed while this borrow lives.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }

    /// Publishes `v`, waits until no reader can see the old value, and frees it.
    pub(crate) fn replace(&self, _w: &WriterToken, v: KBox<T>) {
        let old = self.ptr.swap(KBox::into_raw(v), Ordering::AcqRel);
        // SAFETY: no preconditions; we are in process context (netlink handler).
        unsafe { ffi::sara_synchronize_rcu() };
        // SAFETY: `old` came from `KBox::into_raw` and, after the grace period, nobody else can
        // reach it.
        drop(unsafe { KBox::from_raw(old) });
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `KBox::into_raw`; the owner (a namespace's state) is dropped
        // only after the hook is unregistered and a grace period has passed (pernet exit).
        drop(unsafe { KBox::from_raw(*self.ptr.get_mut()) });
    }
}

// SAFETY: the value is shared between CPUs only through `&T` (needs `T: Sync`) and moved to another
// thread only by dropping it (needs `T: Send`).
unsafe impl<T: Send + Sync> Send for RcuBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

/// A heap value set once by a writer and then read by anyone until the owner is dropped (the flow
/// table, allocated with the first service of a namespace).
pub(crate) struct OnceBox<T> {
    ptr: AtomicPtr<T>,
}

impl<T> OnceBox<T> {
    /// Not set yet.
    pub(crate) const fn new() -> Self {
        Self {
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The value, if set.
    pub(crate) fn get(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from `KBox::into_raw` in `set` and is freed only by `drop`,
        // which cannot run while `self` is borrowed.
        unsafe { p.as_ref() }
    }

    /// Sets the value if it is not set yet (writers are serialised, `_w`), and returns the value in
    /// place (the old one if it was already set; `v` is then dropped).
    pub(crate) fn set(&self, _w: &WriterToken, v: KBox<T>) -> &T {
        if self.ptr.load(Ordering::Acquire).is_null() {
            self.ptr.store(KBox::into_raw(v), Ordering::Release);
        }
        // SAFETY: the pointer is non-null now: set above or before, from `KBox::into_raw`; it lives
        // until `drop`.
        unsafe { &*self.ptr.load(Ordering::Acquire) }
    }
}

impl<T> Drop for OnceBox<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: `p` came from `KBox::into_raw`; the owner is dropped only once no reader can
            // reach it (see `RcuBox`'s `Drop`).
            drop(unsafe { KBox::from_raw(p) });
        }
    }
}

// SAFETY: as for `RcuBox`.
unsafe impl<T: Send + Sync> Send for OnceBox<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for OnceBox<T> {}
