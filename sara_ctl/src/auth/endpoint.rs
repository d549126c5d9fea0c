//! The two ends a daemon holds: a [`Sealer`] per sending socket, a [`Receiver`] per receiving one.
//! Both take the key ring on each call, so a daemon that reloads its key file
//! ([`super::KeyFileWatch`]) passes the ring in force and nothing else changes.

use super::counters::{Reject, Rejections};
use super::keys::KeyRing;
use super::replay::{ReplayGuard, Sequencer};
use super::trailer::{self, Opened, SealError, TRAILER_LEN};

/// Seals what one sender sends: its sender id and its [`Sequencer`].
#[derive(Debug, Clone)]
pub struct Sealer {
    sender: u32,
    seq: Sequencer,
}

impl Sealer {
    /// A sealer for sender id `sender` (one per sending process and sender id: two sealers with
    /// one id would send colliding sequences).
    pub fn new(sender: u32) -> Self {
        Sealer {
            sender,
            seq: Sequencer::new(),
        }
    }

    /// This sealer's sender id.
    pub fn sender(&self) -> u32 {
        self.sender
    }

    /// Writes `msg` and its trailer into `out` with the ring's sealing key and the next sequence
    /// number; returns the length. A refused message uses up no sequence number.
    pub fn seal(&mut self, ring: &KeyRing, msg: &[u8], out: &mut [u8]) -> Result<usize, SealError> {
        if msg.is_empty() {
            return Err(SealError::Empty);
        }
        if msg.len() > trailer::MAX_MESSAGE {
            return Err(SealError::TooLong);
        }
        if out.len() < msg.len() + TRAILER_LEN {
            return Err(SealError::BufferTooSmall);
        }
        let seq = self.seq.next_seq();
        trailer::seal(ring.sealing(), self.sender, seq, msg, out)
    }

    /// [`Sealer::seal`] into a new vector of the exact size.
    pub fn seal_to_vec(&mut self, ring: &KeyRing, msg: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut out = vec![0u8; msg.len().saturating_add(TRAILER_LEN)];
        let n = self.seal(ring, msg, &mut out)?;
        out.truncate(n);
        Ok(out)
    }
}

/// Verifies what one receiving socket gets: the trailer, then the daemon's own check of the sender,
/// then the replay window; counts every refusal by reason.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    replay: ReplayGuard,
    rejections: Rejections,
}

impl Receiver {
    /// A receiver that has heard nobody yet, for at most [`super::replay::MAX_SENDERS`] senders.
    pub fn new() -> Self {
        Self::with_guard(ReplayGuard::new())
    }

    /// A receiver with this replay table (another cap, a first-datagram floor).
    pub fn with_guard(replay: ReplayGuard) -> Self {
        Receiver {
            replay,
            rejections: Rejections::new(),
        }
    }

    /// Takes one datagram: [`trailer::open`] (malformed, unknown key, bad tag), then
    /// `admit(&opened)` — the daemon's check that the verified sender id is one it takes messages
    /// from, at the address it came from (return [`Reject::UnknownSender`] or
    /// [`Reject::WrongSource`]; never admit the daemon's own sender id, or its datagrams reflected
    /// back would be taken) — then the replay window. The window moves only when all of that
    /// passed. Every refusal is counted ([`Receiver::rejections`]) and returned; on success the
    /// message (without trailer) is ready to parse.
    pub fn receive<'a>(
        &mut self,
        ring: &KeyRing,
        datagram: &'a [u8],
        admit: impl FnOnce(&Opened<'a>) -> Result<(), Reject>,
    ) -> Result<Opened<'a>, Reject> {
        let r = trailer::open(ring, datagram).and_then(|o| {
            admit(&o)?;
            self.replay.accept(o.sender, o.seq)?;
            Ok(o)
        });
        if let Err(why) = r {
            self.rejections.count(why);
        }
        r
    }

    /// Counts a refusal decided outside [`Receiver::receive`] (e.g. a datagram from an address the
    /// daemon refused before opening it), so that all refusals are in one place. A message that
    /// verified but does not parse is not one: the daemon's `sara_core::msg::Error` counters have it.
    pub fn count(&mut self, why: Reject) {
        self.rejections.count(why);
    }

    /// The refusals so far, by reason.
    pub fn rejections(&self) -> &Rejections {
        &self.rejections
    }

    /// The replay windows (highest sequence per sender, number of senders; `forget`).
    pub fn replay(&self) -> &ReplayGuard {
        &self.replay
    }

    /// The replay windows, to forget a sender taken out of the configuration.
    pub fn replay_mut(&mut self) -> &mut ReplayGuard {
        &mut self.replay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::Key;

    fn ring(id: u32, fill: u8) -> KeyRing {
        KeyRing::single(Key {
            id,
            bytes: [fill; 32],
        })
    }

    fn admit_all(_: &Opened<'_>) -> Result<(), Reject> {
        Ok(())
    }

    #[test]
    fn sealer_and_receiver() {
        let ring = ring(1, 0x42);
        let mut tx = Sealer::new(17);
        assert_eq!(tx.sender(), 17);
        let mut rx = Receiver::new();
        let a = tx.seal_to_vec(&ring, b"first").unwrap();
        let b = tx.seal_to_vec(&ring, b"second").unwrap();
        // Reordered: both taken.
        let ob = rx.receive(&ring, &b, admit_all).unwrap();
        assert_eq!((ob.sender, ob.key_id, ob.msg), (17, 1, &b"second"[..]));
        let oa = rx.receive(&ring, &a, admit_all).unwrap();
        assert!(oa.seq < ob.seq);
        // Replayed: refused and counted.
        assert_eq!(rx.receive(&ring, &a, admit_all), Err(Reject::Replay));
        assert_eq!(rx.receive(&ring, &b, admit_all), Err(Reject::Replay));
        assert_eq!(rx.rejections().replay, 2);
        assert_eq!(rx.replay().top(17), Some(ob.seq));
        assert_eq!(rx.replay().senders(), 1);
        // Refused messages use no sequence number; buffers are checked first.
        let last = tx.seq.last();
        assert_eq!(tx.seal(&ring, &[], &mut [0; 64]), Err(SealError::Empty));
        assert_eq!(
            tx.seal(&ring, b"x", &mut [0; 32]),
            Err(SealError::BufferTooSmall)
        );
        assert_eq!(
            tx.seal_to_vec(&ring, &[0; trailer::MAX_MESSAGE + 1]),
            Err(SealError::TooLong)
        );
        assert_eq!(tx.seq.last(), last);
        let mut out = [0u8; 64];
        assert_eq!(tx.seal(&ring, b"x", &mut out), Ok(33));
    }

    #[test]
    fn refusals_do_not_move_the_window() {
        let good = ring(1, 0x42);
        let mut rx = Receiver::new();
        let d = trailer::seal_to_vec(good.sealing(), 5, 1_000, b"msg").unwrap();
        // A forgery carrying the same sender and sequence: bad tag, and the genuine one still
        // passes afterwards.
        let mut forged = d.clone();
        forged[0] ^= 1;
        assert_eq!(rx.receive(&good, &forged, admit_all), Err(Reject::BadTag));
        // Not admitted (unknown sender, wrong source): counted, the window untouched.
        assert_eq!(
            rx.receive(&good, &d, |_| Err(Reject::WrongSource)),
            Err(Reject::WrongSource)
        );
        assert_eq!(
            rx.receive(&good, &d, |o| if o.sender == 5 {
                Err(Reject::UnknownSender)
            } else {
                Ok(())
            }),
            Err(Reject::UnknownSender)
        );
        assert_eq!(rx.replay().senders(), 0);
        assert!(rx.receive(&good, &d, admit_all).is_ok());
        assert_eq!(rx.receive(&good, &d, admit_all), Err(Reject::Replay));
        // Other keys, other lengths.
        assert_eq!(
            rx.receive(&ring(2, 0x42), &d, admit_all),
            Err(Reject::UnknownKey)
        );
        assert_eq!(
            rx.receive(&good, &d[..20], admit_all),
            Err(Reject::Malformed)
        );
        rx.count(Reject::UnknownSender);
        let c = rx.rejections();
        assert_eq!(
            (
                c.bad_tag,
                c.wrong_source,
                c.unknown_sender,
                c.replay,
                c.unknown_key,
                c.malformed
            ),
            (1, 1, 2, 1, 1, 1)
        );
        assert_eq!(c.total(), 7);
        // Forget: the next datagram is a first one again.
        assert!(rx.replay_mut().forget(5));
        assert!(rx.receive(&good, &d, admit_all).is_ok());
    }

    #[test]
    fn sender_cap_is_counted() {
        let ring = ring(1, 0x42);
        let mut rx = Receiver::with_guard(ReplayGuard::with_cap(2));
        for s in 0..4u32 {
            let d = trailer::seal_to_vec(ring.sealing(), s, 1, b"m").unwrap();
            let r = rx.receive(&ring, &d, admit_all);
            assert_eq!(r.is_ok(), s < 2, "sender {s}");
        }
        assert_eq!(rx.rejections().too_many_senders, 2);
    }

    #[test]
    fn rotation_without_an_outage() {
        // Two nodes, A and B, each with its own ring, going through the three steps one node at a
        // time; at every moment each accepts what the other sends.
        let old = Key {
            id: 1,
            bytes: [1; 32],
        };
        let new = Key {
            id: 2,
            bytes: [2; 32],
        };
        let r_old = KeyRing::single(old.clone());
        let r_add = KeyRing::new(vec![old.clone(), new.clone()]).unwrap();
        let r_swap = KeyRing::new(vec![new.clone(), old.clone()]).unwrap();
        let r_new = KeyRing::single(new.clone());
        let states = [
            (&r_old, &r_old),
            (&r_add, &r_old),
            (&r_add, &r_add),
            (&r_swap, &r_add),
            (&r_swap, &r_swap),
            (&r_new, &r_swap),
            (&r_new, &r_new),
        ];
        let (mut tx_a, mut tx_b) = (Sealer::new(1), Sealer::new(2));
        let (mut rx_a, mut rx_b) = (Receiver::new(), Receiver::new());
        for (i, (a, b)) in states.into_iter().enumerate() {
            let from_a = tx_a.seal_to_vec(a, b"a").unwrap();
            let from_b = tx_b.seal_to_vec(b, b"b").unwrap();
            assert!(
                rx_b.receive(b, &from_a, admit_all).is_ok(),
                "step {i}: B takes A's"
            );
            assert!(
                rx_a.receive(a, &from_b, admit_all).is_ok(),
                "step {i}: A takes B's"
            );
        }
        // Skipping step 2 (removing the old key on one node while the other still seals with it)
        // is what breaks.
        let from_a = tx_a.seal_to_vec(&r_add, b"a").unwrap();
        assert_eq!(
            rx_b.receive(&r_new, &from_a, admit_all),
            Err(Reject::UnknownKey)
        );
    }
}
