// SPDX-License-Identifier: GPL-2.0

//! BH-safe spinlocks (6.12's `kernel::sync::SpinLock` has no `_bh` form).
//!
//! The flow table's shards and each service's scheduler state are taken from the packet hook
//! (softirq) and from process context (netlink, the purge work). `spin_lock_bh` keeps a softirq on
//! the same CPU from interrupting a process-context holder and spinning on the lock forever.
//! Three lockdep classes: outer locks ([`BhLocks::new`]: table shards, Call-ID index shards,
//! schedulers), of which SARA never holds two at once (see the table's concurrency contract); inner
//! locks ([`BhLocks::new_inner`]: the replication ring), which may be taken while one outer lock is
//! held (a flow removed by the purge ends its session, and the end is queued for the backup) and
//! take no other lock while held; and stream locks ([`BhLocks::new_stream`]: the SIP-over-TCP
//! stream pool's shards), of which SARA holds at most one, taken before any other: the messages a
//! stream frames are inspected with its lock held, which announces their media flows in the table
//! (an outer lock, then the ring's). No outer or inner lock holder takes a stream lock.

use super::ffi;
use core::cell::UnsafeCell;
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::prelude::*;
use kernel::types::Opaque;

/// A value behind a BH-safe spinlock. Made only inside a [`BhLocks`] array, which initialises the
/// lock in place and never moves it.
pub(crate) struct BhLock<T> {
    lock: Opaque<kernel::bindings::spinlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `data` (`with`), so sharing a `BhLock` between CPUs
// is sound when the value may move between them.
unsafe impl<T: Send> Sync for BhLock<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for BhLock<T> {}

impl<T> BhLock<T> {
    /// Runs `f` with the lock held and bottom halves disabled.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: the lock was initialised by `BhLocks::new` and never moves (the array is not
        // resized after initialisation).
        unsafe { ffi::sara_lock_bh(self.lock.get()) };
        // SAFETY: we hold the lock, so nobody else has a reference to `data`; `f` cannot take the
        // lock again (non-reentrant use would deadlock, not alias: SARA never nests these locks).
        let r = f(unsafe { &mut *self.data.get() });
        // SAFETY: we took the lock above.
        unsafe { ffi::sara_unlock_bh(self.lock.get()) };
        r
    }
}

/// The lockdep class of a [`BhLocks`] array (see the module documentation).
#[derive(Clone, Copy)]
enum Class {
    Outer,
    Inner,
    Stream,
}

/// A fixed array of [`BhLock`]s, allocated and initialised once.
pub(crate) struct BhLocks<T> {
    items: KVec<BhLock<T>>,
}

impl<T> BhLocks<T> {
    /// `n` locks, the `i`-th guarding `make(i)`; `make` may fail (e.g. an allocation).
    pub(crate) fn new(n: usize, make: impl FnMut(usize) -> Result<T>) -> Result<Self> {
        Self::with_class(n, make, Class::Outer)
    }

    /// As [`BhLocks::new`], of the inner lock class (see the module documentation).
    pub(crate) fn new_inner(n: usize, make: impl FnMut(usize) -> Result<T>) -> Result<Self> {
        Self::with_class(n, make, Class::Inner)
    }

    /// As [`BhLocks::new`], of the stream lock class (see the module documentation).
    pub(crate) fn new_stream(n: usize, make: impl FnMut(usize) -> Result<T>) -> Result<Self> {
        Self::with_class(n, make, Class::Stream)
    }

    fn with_class(
        n: usize,
        mut make: impl FnMut(usize) -> Result<T>,
        class: Class,
    ) -> Result<Self> {
        let mut items = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in 0..n {
            items.push(
                BhLock {
                    lock: Opaque::uninit(),
                    data: UnsafeCell::new(make(i)?),
                },
                GFP_KERNEL,
            )?;
        }
        // The vector has its final size: the locks will not move any more.
        for l in items.iter() {
            // SAFETY: `l.lock` is valid, uninitialised memory for a `spinlock_t` that stays put for
            // the array's life.
            unsafe {
                match class {
                    Class::Outer => ffi::sara_lock_init(l.lock.get()),
                    Class::Inner => ffi::sara_lock_init_inner(l.lock.get()),
                    Class::Stream => ffi::sara_lock_init_stream(l.lock.get()),
                }
            }
        }
        Ok(Self { items })
    }

    /// The number of locks.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Lock `i`.
    pub(crate) fn get(&self, i: usize) -> Option<&BhLock<T>> {
        self.items.get(i)
    }
}
