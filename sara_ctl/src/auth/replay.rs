//! Anti-replay: a sliding window of sequence numbers per sender, and the sender side's sequence.
//!
//! ## Window ([`ReplayWindow`])
//!
//! RFC 6479's ring of bitmap words: the highest sequence accepted (`top`) and a bit per sequence for
//! the [`WINDOW`] sequences up to it, kept in [`WINDOW`]/64 + 1 words indexed by `seq / 64` modulo
//! their number, so that moving the window clears whole words and never shifts. A sequence is
//!
//! * accepted if it is above `top` (the window slides up to it), or within the window and not seen;
//! * refused as [`Reject::Replay`] if within the window and seen;
//! * refused as [`Reject::TooOld`] if `top − seq ≥ WINDOW` (whether seen or not: no longer known).
//!
//! All arithmetic is on `u64` without overflow (sequence 0 and `u64::MAX` are ordinary values).
//!
//! ## Senders ([`ReplayGuard`])
//!
//! One window per sender id, created by the sender's first datagram, which is accepted whatever its
//! sequence (there is nothing to compare it with; see [`ReplayGuard::set_first_floor`] for the one
//! bound there is). At most [`MAX_SENDERS`] windows (about 530 bytes each): a datagram from a new
//! sender when the table is full is refused as [`Reject::TooManySenders`], and the senders already
//! known keep working. A window changes only on [`ReplayGuard::accept`], which the caller makes only
//! after the tag verified and the daemon admitted the sender ([`super::Receiver`] does it in that
//! order), so forged datagrams neither use up sequence numbers nor fill the table.
//!
//! ## Sequence ([`Sequencer`])
//!
//! A sender's sequence is its wall clock in microseconds since the Unix epoch, or the previous
//! sequence + 1 if that is more: `next = max(previous + 1, now_µs)`.
//!
//! * A restarted sender needs no stored state to be ahead of its previous self: its first sequence
//!   is the clock at restart, past everything it sent before (it could not send more than one
//!   datagram per microsecond).
//! * A clock that steps back while the sender runs changes nothing: the sequence goes on + 1.
//! * **Caveat: a sender restarted with its clock set back** (a step back of Δ between its last
//!   datagram and its restart) sends sequences below what its receivers accepted last. Those more
//!   than [`WINDOW`] below are refused as `too_old` until its clock passes its old sequence again,
//!   that is for about Δ, then it is accepted again by itself (which it would not be for a very long
//!   time if the sequence only counted datagrams). The operator sees that sender's datagrams counted
//!   under `too_old` in the receiver's rejection counters (and the sender's own status says it
//!   sends); restarting the receiving daemon forgets the windows and ends it at once.
//! * Between bursts the sequence follows the clock, so the window is [`WINDOW`] microseconds of send
//!   time (about 4 ms) for sparse traffic and [`WINDOW`] datagrams within a burst: a datagram
//!   overtaken by one sent more than 4 ms after it is refused as `too_old`. Control messages are
//!   periodic and superseded by the next one (heartbeats, load vectors), or their loss is detected
//!   and repaired (replication batches: resync), so that costs at most a repair.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::counters::Reject;

/// Size of the replay window in sequence numbers.
pub const WINDOW: u64 = 4096;
/// Most senders a [`ReplayGuard`] keeps a window for.
pub const MAX_SENDERS: usize = 4096;

const WORD_BITS: u64 = 64;
/// Words of the ring: one more than the window needs, so the word being filled never overlaps the
/// oldest word still in the window.
const WORDS: usize = (WINDOW / WORD_BITS) as usize + 1;

/// One sender's window: the highest sequence accepted and which of the [`WINDOW`] below it were seen.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    top: u64,
    bits: [u64; WORDS],
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("top", &self.top)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// A window whose first accepted sequence is `first`.
    pub fn new(first: u64) -> Self {
        let mut w = ReplayWindow {
            top: first,
            bits: [0; WORDS],
        };
        w.mark(first);
        w
    }

    /// The highest sequence accepted.
    pub fn top(&self) -> u64 {
        self.top
    }

    fn slot(seq: u64) -> (usize, u64) {
        // The modulo is below WORDS, so it fits a usize.
        let word = ((seq / WORD_BITS) % WORDS as u64) as usize;
        (word, 1u64 << (seq % WORD_BITS))
    }

    fn mark(&mut self, seq: u64) {
        let (w, bit) = Self::slot(seq);
        if let Some(x) = self.bits.get_mut(w) {
            *x |= bit;
        }
    }

    fn seen(&self, seq: u64) -> bool {
        let (w, bit) = Self::slot(seq);
        self.bits.get(w).is_some_and(|x| x & bit != 0)
    }

    /// Whether `seq` would be accepted, without changing anything.
    pub fn check(&self, seq: u64) -> Result<(), Reject> {
        if seq > self.top {
            Ok(())
        } else if self.top - seq >= WINDOW {
            Err(Reject::TooOld)
        } else if self.seen(seq) {
            Err(Reject::Replay)
        } else {
            Ok(())
        }
    }

    /// Accepts `seq` (marks it seen, slides the window up to it) or says why not.
    pub fn accept(&mut self, seq: u64) -> Result<(), Reject> {
        self.check(seq)?;
        if seq > self.top {
            let from = self.top / WORD_BITS;
            let to = seq / WORD_BITS;
            // Clear the words between the old top's and the new one's (all of them after a jump
            // of a whole ring or more); `from + i ≤ to`, so no overflow.
            let n = (to - from).min(WORDS as u64);
            for i in 1..=n {
                let (w, _) = Self::slot((from + i) * WORD_BITS);
                if let Some(x) = self.bits.get_mut(w) {
                    *x = 0;
                }
            }
            self.top = seq;
        }
        self.mark(seq);
        Ok(())
    }
}

/// The replay windows of every sender a receiver has heard, at most `cap` of them.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    windows: HashMap<u32, Box<ReplayWindow>>,
    cap: usize,
    first_floor: u64,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayGuard {
    /// Empty, for at most [`MAX_SENDERS`] senders.
    pub fn new() -> Self {
        Self::with_cap(MAX_SENDERS)
    }

    /// Empty, for at most `cap` senders.
    pub fn with_cap(cap: usize) -> Self {
        ReplayGuard {
            windows: HashMap::new(),
            cap,
            first_floor: 0,
        }
    }

    /// The lowest sequence a sender's *first* datagram may have (default 0: any). The sequence is a
    /// clock ([`Sequencer`]), so a daemon may set this at start to its own clock less a margin for
    /// clock differences (e.g. 5 minutes): datagrams recorded longer ago than that before it
    /// started, and replayed before their sender's next genuine one, are then refused as
    /// `too_old` instead of opening the sender's window. Off by default, because it asks the
    /// cluster's clocks to agree within the margin.
    pub fn set_first_floor(&mut self, floor: u64) {
        self.first_floor = floor;
    }

    /// Whether `seq` from `sender` would be accepted, without changing anything.
    pub fn check(&self, sender: u32, seq: u64) -> Result<(), Reject> {
        match self.windows.get(&sender) {
            Some(w) => w.check(seq),
            None if self.windows.len() >= self.cap => Err(Reject::TooManySenders),
            None if seq < self.first_floor => Err(Reject::TooOld),
            None => Ok(()),
        }
    }

    /// Accepts `seq` from `sender`, or says why not. Call it only for a datagram whose tag verified.
    pub fn accept(&mut self, sender: u32, seq: u64) -> Result<(), Reject> {
        if let Some(w) = self.windows.get_mut(&sender) {
            return w.accept(seq);
        }
        self.check(sender, seq)?;
        self.windows
            .insert(sender, Box::new(ReplayWindow::new(seq)));
        Ok(())
    }

    /// The highest sequence accepted from `sender`, if it was heard.
    pub fn top(&self, sender: u32) -> Option<u64> {
        self.windows.get(&sender).map(|w| w.top())
    }

    /// Number of senders with a window.
    pub fn senders(&self) -> usize {
        self.windows.len()
    }

    /// Forgets `sender`'s window (a sender taken out of the configuration): its next datagram is a
    /// first one again. Returns whether it had one.
    pub fn forget(&mut self, sender: u32) -> bool {
        self.windows.remove(&sender).is_some()
    }
}

/// Microseconds since the Unix epoch by the wall clock (0 before 1970).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A sender's sequence numbers: `max(previous + 1, wall clock in µs)` (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sequencer {
    last: Option<u64>,
}

impl Sequencer {
    /// A sequencer that has given no number yet (the first follows the clock).
    pub const fn new() -> Self {
        Sequencer { last: None }
    }

    /// The next sequence number, by the wall clock.
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq_at(now_micros())
    }

    /// The next sequence number when the clock reads `now_us`: above every previous one (at
    /// `u64::MAX` it stays there, and receivers refuse the repeats, some 580,000 years from now).
    pub fn next_seq_at(&mut self, now_us: u64) -> u64 {
        let seq = match self.last {
            Some(l) => l.saturating_add(1).max(now_us),
            None => now_us,
        };
        self.last = Some(seq);
        seq
    }

    /// The last number given, if any.
    pub fn last(&self) -> Option<u64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn fresh_duplicate_reordered_too_old() {
        let mut w = ReplayWindow::new(1000);
        assert_eq!(w.accept(1000), Err(Reject::Replay));
        assert_eq!(w.accept(1002), Ok(()));
        assert_eq!(w.accept(1001), Ok(()), "reordered within the window");
        assert_eq!(w.accept(1001), Err(Reject::Replay));
        assert_eq!(w.accept(999), Ok(()), "below the first, within the window");
        assert_eq!(w.top(), 1002);
        // The window's lower edge: top − (WINDOW − 1) is in, top − WINDOW is out.
        let top = 1_000_000;
        assert_eq!(w.accept(top), Ok(()));
        assert_eq!(w.check(top - WINDOW), Err(Reject::TooOld));
        assert_eq!(w.accept(top - WINDOW + 1), Ok(()));
        assert_eq!(w.accept(top - WINDOW + 1), Err(Reject::Replay));
        assert_eq!(w.accept(1002), Err(Reject::TooOld));
        // `check` changes nothing.
        assert_eq!(w.check(top + 1), Ok(()));
        assert_eq!(w.check(top + 1), Ok(()));
        assert_eq!(w.top(), top);
    }

    #[test]
    fn every_offset_in_the_window_is_accepted_once() {
        let top = 10 * WINDOW + 17;
        let mut w = ReplayWindow::new(top);
        for back in 1..WINDOW {
            assert_eq!(w.accept(top - back), Ok(()), "top - {back}");
        }
        for back in 0..WINDOW {
            assert_eq!(w.check(top - back), Err(Reject::Replay), "top - {back}");
        }
        assert_eq!(w.check(top - WINDOW), Err(Reject::TooOld));
    }

    #[test]
    fn sliding_forgets_what_left_the_window() {
        // Jumps of every size up to two rings: what was seen before the jump and is still in the
        // window stays seen; what was never seen in the window is accepted.
        for jump in (1..2 * WORDS as u64 * WORD_BITS).step_by(37) {
            let base = 5 * WINDOW;
            let mut w = ReplayWindow::new(base);
            for s in base - 100..base {
                w.accept(s).unwrap();
            }
            let top = base + jump;
            w.accept(top).unwrap();
            for s in base - 100..=base {
                let want = if top - s >= WINDOW {
                    Err(Reject::TooOld)
                } else {
                    Err(Reject::Replay)
                };
                assert_eq!(w.check(s), want, "jump {jump}, seq {s}");
            }
            for s in (base + 1..top).rev().take(WINDOW as usize) {
                let want = if top - s >= WINDOW {
                    Err(Reject::TooOld)
                } else {
                    Ok(())
                };
                assert_eq!(w.check(s), want, "jump {jump}, gap seq {s}");
            }
        }
    }

    #[test]
    fn the_edges_of_u64() {
        let mut w = ReplayWindow::new(0);
        assert_eq!(w.accept(0), Err(Reject::Replay));
        assert_eq!(w.accept(1), Ok(()));
        assert_eq!(w.accept(u64::MAX), Ok(()));
        assert_eq!(w.top(), u64::MAX);
        assert_eq!(w.accept(u64::MAX), Err(Reject::Replay));
        assert_eq!(w.accept(u64::MAX - 1), Ok(()));
        assert_eq!(w.accept(u64::MAX - (WINDOW - 1)), Ok(()));
        assert_eq!(w.accept(u64::MAX - WINDOW), Err(Reject::TooOld));
        assert_eq!(w.accept(0), Err(Reject::TooOld));
        assert_eq!(w.accept(1), Err(Reject::TooOld));
        // Just below the top of u64, sliding word by word.
        let mut w = ReplayWindow::new(u64::MAX - 3 * WINDOW);
        for s in (u64::MAX - 3 * WINDOW..=u64::MAX).step_by(63) {
            assert_eq!(
                w.accept(s),
                if s == u64::MAX - 3 * WINDOW {
                    Err(Reject::Replay)
                } else {
                    Ok(())
                }
            );
        }
    }

    #[test]
    fn guard_per_sender_and_cap() {
        let mut g = ReplayGuard::with_cap(3);
        assert_eq!(g.accept(1, 50), Ok(()));
        assert_eq!(g.accept(2, 50), Ok(()), "senders are independent");
        assert_eq!(g.accept(1, 50), Err(Reject::Replay));
        assert_eq!(g.accept(3, 7), Ok(()));
        assert_eq!(g.senders(), 3);
        assert_eq!(g.check(4, 1), Err(Reject::TooManySenders));
        assert_eq!(g.accept(4, 1), Err(Reject::TooManySenders));
        assert_eq!(g.senders(), 3);
        assert_eq!(g.accept(2, 51), Ok(()), "known senders go on when full");
        assert_eq!(g.top(2), Some(51));
        assert_eq!(g.top(4), None);
        assert!(g.forget(3));
        assert!(!g.forget(3));
        assert_eq!(g.accept(4, 1), Ok(()));
        assert_eq!(ReplayGuard::new().cap, MAX_SENDERS);
    }

    #[test]
    fn first_floor() {
        let mut g = ReplayGuard::new();
        g.set_first_floor(1_000);
        assert_eq!(g.accept(1, 999), Err(Reject::TooOld));
        assert_eq!(g.accept(1, 1_000), Ok(()));
        // Once a sender has a window, the window decides.
        assert_eq!(g.accept(1, 998), Ok(()));
    }

    #[test]
    fn sequencer_follows_the_clock_and_never_goes_back() {
        let mut s = Sequencer::new();
        assert_eq!(s.last(), None);
        assert_eq!(s.next_seq_at(1_000), 1_000);
        assert_eq!(s.next_seq_at(1_000), 1_001, "two in one microsecond");
        assert_eq!(s.next_seq_at(1_000), 1_002);
        assert_eq!(s.next_seq_at(5_000), 5_000, "follows the clock");
        assert_eq!(s.next_seq_at(10), 5_001, "clock stepped back: + 1");
        assert_eq!(s.last(), Some(5_001));
        let mut s = Sequencer::new();
        assert_eq!(s.next_seq_at(u64::MAX), u64::MAX);
        assert_eq!(s.next_seq_at(0), u64::MAX);
        // The real clock: some time after 2020, increasing.
        let mut s = Sequencer::new();
        let a = s.next_seq();
        let b = s.next_seq();
        assert!(a > 1_577_836_800_000_000 && b > a);
    }

    #[test]
    fn a_restarted_sender_is_ahead_unless_its_clock_went_back() {
        let mut g = ReplayGuard::new();
        let mut before = Sequencer::new();
        for t in 0..100u64 {
            g.accept(9, before.next_seq_at(100_000_000 + t)).unwrap();
        }
        // Restarted a second later: accepted at once.
        let mut after = Sequencer::new();
        assert_eq!(g.accept(9, after.next_seq_at(101_000_000)), Ok(()));
        // Restarted with its clock a minute back: too old until its clock passes 101_000_000.
        let mut back = Sequencer::new();
        assert_eq!(
            g.accept(9, back.next_seq_at(41_000_000)),
            Err(Reject::TooOld)
        );
        assert_eq!(
            g.accept(9, back.next_seq_at(100_990_000)),
            Err(Reject::TooOld)
        );
        assert_eq!(g.accept(9, back.next_seq_at(101_000_001)), Ok(()));
    }

    proptest! {
        /// The window against a plain model: a set of everything accepted and the top.
        #[test]
        fn matches_a_model(
            start in any::<u64>(),
            steps in proptest::collection::vec((any::<bool>(), 0u64..3 * WINDOW), 1..300),
        ) {
            let start = start.min(u64::MAX - 300 * 3 * WINDOW);
            let mut w = ReplayWindow::new(start);
            let mut seen: HashSet<u64> = HashSet::from([start]);
            let mut top = start;
            for (up, d) in steps {
                let seq = if up { top + d } else { top.saturating_sub(d) };
                let want = if seq > top {
                    Ok(())
                } else if top - seq >= WINDOW {
                    Err(Reject::TooOld)
                } else if seen.contains(&seq) {
                    Err(Reject::Replay)
                } else {
                    Ok(())
                };
                prop_assert_eq!(w.accept(seq), want, "seq {} top {}", seq, top);
                if want.is_ok() {
                    seen.insert(seq);
                    top = top.max(seq);
                }
                prop_assert_eq!(w.top(), top);
            }
        }
    }
}
