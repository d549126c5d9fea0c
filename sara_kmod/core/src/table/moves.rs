//! The table's move clock: how a walk over the shards (a flow dump) knows that it saw every flow
//! exactly once.
//!
//! A flow moves between records in two cases: the first packet of an announced flow confirms its
//! wildcard entry (the exact key is installed as a Secondary flow in its own shard, then the wildcard
//! entry is removed from its shard), and a gateway report completes a wildcard entry the same way.
//! A dump walks the shards one lock at a time, so a move that overlaps it can be seen twice (the
//! wildcard entry before, the exact entry after) or not at all (the exact shard visited before the
//! insert, the wildcard shard after the removal). Every other change leaves a living flow in its
//! record, which a dump sees once.
//!
//! The clock counts moves begun and moves finished. A walk that [`Moves::stamp`]s at its start (no
//! move in progress) and finds the same stamp at its end ([`Moves::unchanged`]) overlapped no move:
//! it listed every flow that lived throughout exactly once. Otherwise the caller reports the walk as
//! interrupted (netlink's `NLM_F_DUMP_INTR`), and the reader walks again.

use core::sync::atomic::{AtomicU32, Ordering};

/// Counts of moves begun and finished (wrapping).
#[derive(Debug, Default)]
pub struct Moves {
    begun: AtomicU32,
    finished: AtomicU32,
}

/// The clock at the start of a walk: the count of moves begun when none was in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(u32);

impl Stamp {
    /// The stamp as a number (to keep it between the calls of a netlink dump).
    pub fn get(self) -> u32 {
        self.0
    }
    /// A stamp kept as a number by [`Stamp::get`].
    pub fn from_raw(v: u32) -> Stamp {
        Stamp(v)
    }
}

/// A move in progress: made by [`Moves::begin`] before the new record is inserted, dropped after the
/// old one is removed.
#[must_use = "the move ends when the guard is dropped"]
pub struct Move<'a>(&'a Moves);

impl Drop for Move<'_> {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Moves {
    /// A clock with no move.
    pub const fn new() -> Moves {
        Moves {
            begun: AtomicU32::new(0),
            finished: AtomicU32::new(0),
        }
    }

    /// Marks a move as begun; it ends when the guard is dropped.
    pub fn begin(&self) -> Move<'_> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        Move(self)
    }

    /// The stamp for a walk starting now, or `None` while a move is in progress. `finished` is read
    /// before `begun`: equal counts then mean that every move begun by the second read had finished
    /// by the first.
    pub fn stamp(&self) -> Option<Stamp> {
        let finished = self.finished.load(Ordering::SeqCst);
        let begun = self.begun.load(Ordering::SeqCst);
        (finished == begun).then_some(Stamp(begun))
    }

    /// True when no move has begun since `stamp` was taken. A move's insert and removal are made
    /// under shard locks, which the walk takes too: a record the walk saw inserted was inserted
    /// after its move's begin, which this load then sees.
    pub fn unchanged(&self, stamp: Stamp) -> bool {
        self.begun.load(Ordering::SeqCst) == stamp.0
    }
}
