//! The authentication trailer: 32 bytes after every control message.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     message (a sara_core::msg datagram, unchanged), 1..=1368  |
//! |                             bytes                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           sender id                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            key id                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                      sequence (64 bits)                       +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |       tag: the first 16 bytes of HMAC-SHA-256(key, DOMAIN     |
//! +           ‖ message ‖ sender id ‖ key id ‖ sequence)          +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! * `sender id` (big-endian `u32`): who sealed it; the replay window is kept per sender id, and the
//!   daemon checks it against the senders it knows (and the source address they use). It is in the
//!   trailer, not read from the message, so that nothing of the message is parsed before the tag has
//!   verified.
//! * `key id` (`u32`): which key of the ring sealed it ([`super::keys`]); an id the receiver does not
//!   hold is refused as [`Reject::UnknownKey`] before any MAC is computed.
//! * `sequence` (`u64`): per sender, strictly increasing ([`super::Sequencer`]), for the replay window.
//! * `tag`: HMAC-SHA-256 truncated to its leftmost 128 bits (RFC 2104 §5, as IPsec and TLS do),
//!   over the fixed prefix [`DOMAIN`] followed by every byte before the tag. The prefix binds a tag
//!   to this protocol and version: a key that were also used elsewhere could not make a tag that
//!   verifies here. Since the trailer's fields have fixed sizes and sit at the end, the covered bytes
//!   split into (message, sender, key id, sequence) one way only.
//!
//! A receiver refuses, in this order, without reading the message: a datagram shorter than
//! [`TRAILER_LEN`] + 1 or longer than [`MAX_SEALED`] ([`Reject::Malformed`]), an unknown key id, a
//! tag that does not verify (compared in constant time by `Mac::verify_truncated_left`). Nothing of
//! the datagram is believed before [`open`] returns it; the replay window comes after
//! ([`super::Receiver`]).

use hmac::{Hmac, KeyInit, Mac};
use sara_core::msg::MAX_DATAGRAM;
use sha2::Sha256;

use super::counters::Reject;
use super::keys::{Key, KeyRing};

/// Domain-separation prefix of every MAC input (not sent).
pub const DOMAIN: &[u8; 12] = b"SARA-auth-v1";
/// Size of the kept tag: 128 bits of the 256.
pub const TAG_LEN: usize = 16;
/// Size of the trailer: sender id, key id, sequence, tag.
pub const TRAILER_LEN: usize = 4 + 4 + 8 + TAG_LEN;
// The core sizes its messages (`msg::MAX_MESSAGE`, `repl::MAX_RECORDS`, `announce::MAX_ENTRIES`)
// for a trailer of `msg::AUTH_TRAILER_LEN` bytes, without depending on this crate: the two agree.
const _: () = assert!(TRAILER_LEN == sara_core::msg::AUTH_TRAILER_LEN);
/// Largest sealed datagram: the messages' own budget (`sara_core::msg::MAX_DATAGRAM`), which the
/// trailer now shares.
pub const MAX_SEALED: usize = MAX_DATAGRAM;
/// Largest message that can be sealed: the budget less the trailer.
pub const MAX_MESSAGE: usize = MAX_SEALED - TRAILER_LEN;

type HmacSha256 = Hmac<Sha256>;

/// A datagram whose tag verified: who sent it, with which key, its sequence, and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The sender id of the trailer.
    pub sender: u32,
    /// The key that verified it.
    pub key_id: u32,
    /// The sender's sequence number (not yet checked against the replay window).
    pub seq: u64,
    /// The message: the datagram without its trailer.
    pub msg: &'a [u8],
}

/// Why a message could not be sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealError {
    /// An empty message.
    Empty,
    /// Longer than [`MAX_MESSAGE`]: sealed, it would not fit the datagram budget.
    TooLong,
    /// The output buffer is smaller than the message plus [`TRAILER_LEN`].
    BufferTooSmall,
}

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::Empty => f.write_str("empty message"),
            SealError::TooLong => write!(f, "message too long to seal: over {MAX_MESSAGE} bytes"),
            SealError::BufferTooSmall => {
                f.write_str("output buffer too small for the message and its trailer")
            }
        }
    }
}

impl std::error::Error for SealError {}

/// The keyed MAC over DOMAIN ‖ `covered`.
fn mac(key: &Key, covered: &[u8]) -> Option<HmacSha256> {
    // HMAC takes a key of any length, so this never fails; no panic path all the same.
    let mut m = HmacSha256::new_from_slice(&key.bytes).ok()?;
    m.update(DOMAIN);
    m.update(covered);
    Some(m)
}

/// Writes `msg` followed by its trailer (sealed with `key`, as `sender`, sequence `seq`) into `out`;
/// returns the number of bytes written (`msg.len()` + [`TRAILER_LEN`]). `out` beyond that is left
/// as it was.
pub fn seal(
    key: &Key,
    sender: u32,
    seq: u64,
    msg: &[u8],
    out: &mut [u8],
) -> Result<usize, SealError> {
    if msg.is_empty() {
        return Err(SealError::Empty);
    }
    if msg.len() > MAX_MESSAGE {
        return Err(SealError::TooLong);
    }
    let n = msg.len() + TRAILER_LEN;
    let dst = out.get_mut(..n).ok_or(SealError::BufferTooSmall)?;
    let (body, tag) = dst.split_at_mut(n - TAG_LEN);
    let (m, fields) = body.split_at_mut(msg.len());
    m.copy_from_slice(msg);
    fields[..4].copy_from_slice(&sender.to_be_bytes());
    fields[4..8].copy_from_slice(&key.id.to_be_bytes());
    fields[8..16].copy_from_slice(&seq.to_be_bytes());
    // `mac` cannot fail (see there); an all-zero tag would only make the datagram refused.
    match mac(key, body) {
        Some(m) => tag.copy_from_slice(&m.finalize().into_bytes()[..TAG_LEN]),
        None => tag.fill(0),
    }
    Ok(n)
}

/// [`seal`] into a new vector of the exact size.
pub fn seal_to_vec(key: &Key, sender: u32, seq: u64, msg: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut out = vec![0u8; msg.len().saturating_add(TRAILER_LEN)];
    let n = seal(key, sender, seq, msg, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Reads the trailer of `datagram`, finds its key in `ring` and verifies the tag. Never panics;
/// returns the message only when the tag verified. Does not look at the replay window.
pub fn open<'a>(ring: &KeyRing, datagram: &'a [u8]) -> Result<Opened<'a>, Reject> {
    if datagram.len() <= TRAILER_LEN || datagram.len() > MAX_SEALED {
        return Err(Reject::Malformed);
    }
    let (covered, tag) = datagram.split_at(datagram.len() - TAG_LEN);
    let (msg, fields) = covered.split_at(covered.len() - (TRAILER_LEN - TAG_LEN));
    let (sender, fields) = fields.split_first_chunk::<4>().ok_or(Reject::Malformed)?;
    let (key_id, fields) = fields.split_first_chunk::<4>().ok_or(Reject::Malformed)?;
    let (seq, _) = fields.split_first_chunk::<8>().ok_or(Reject::Malformed)?;
    let key_id = u32::from_be_bytes(*key_id);
    let key = ring.get(key_id).ok_or(Reject::UnknownKey)?;
    let m = mac(key, covered).ok_or(Reject::BadTag)?;
    m.verify_truncated_left(tag).map_err(|_| Reject::BadTag)?;
    Ok(Opened {
        sender: u32::from_be_bytes(*sender),
        key_id,
        seq: u64::from_be_bytes(*seq),
        msg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sara_core::msg::repl::{BATCH_HEADER_LEN, MAX_RECORDS, MAX_RECORD_LEN};
    use sara_core::msg::{announce, heartbeat, load};

    fn key(id: u32, fill: u8) -> Key {
        Key {
            id,
            bytes: [fill; 32],
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn layout_and_known_answer() {
        // Computed independently (Python: hmac.new(bytes(range(32)), b"SARA-auth-v1" + msg +
        // trailer fields, "sha256").hexdigest()[:32]).
        let k = Key {
            id: 0x0102_0304,
            bytes: core::array::from_fn(|i| i as u8),
        };
        let msg = b"hello SARA";
        let d = seal_to_vec(&k, 0xa1b2_c3d4, 0x1122_3344_5566_7788, msg).unwrap();
        assert_eq!(d.len(), msg.len() + 32);
        assert_eq!(&d[..10], msg);
        assert_eq!(hex(&d[10..14]), "a1b2c3d4");
        assert_eq!(hex(&d[14..18]), "01020304");
        assert_eq!(hex(&d[18..26]), "1122334455667788");
        assert_eq!(hex(&d[26..]), "909b8a315b13e1945aae7effc308dbda");
    }

    #[test]
    fn round_trip() {
        let ring = KeyRing::single(key(7, 0x5a));
        for len in [1, 2, heartbeat::LEN, load::LEN, 100, MAX_MESSAGE] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let mut out = vec![0xeeu8; MAX_SEALED + 10];
            let n = seal(ring.sealing(), 42, 1_000 + len as u64, &msg, &mut out).unwrap();
            assert_eq!(n, len + TRAILER_LEN);
            assert!(
                out[n..].iter().all(|&b| b == 0xee),
                "wrote past the datagram"
            );
            let o = open(&ring, &out[..n]).unwrap();
            assert_eq!(
                o,
                Opened {
                    sender: 42,
                    key_id: 7,
                    seq: 1_000 + len as u64,
                    msg: &msg
                }
            );
        }
    }

    #[test]
    fn seal_limits() {
        let k = key(1, 1);
        let mut out = [0u8; MAX_SEALED + 1];
        assert_eq!(seal(&k, 1, 1, &[], &mut out), Err(SealError::Empty));
        let big = [0u8; MAX_MESSAGE + 1];
        assert_eq!(seal(&k, 1, 1, &big, &mut out), Err(SealError::TooLong));
        assert_eq!(
            seal(&k, 1, 1, &big[..MAX_MESSAGE], &mut out),
            Ok(MAX_SEALED)
        );
        let mut small = [0u8; 11 + TRAILER_LEN - 1];
        assert_eq!(
            seal(&k, 1, 1, &[1; 11], &mut small),
            Err(SealError::BufferTooSmall)
        );
        assert_eq!(
            seal(&k, 1, 1, &[1; 11], &mut [0u8; 11 + TRAILER_LEN]),
            Ok(43)
        );
        assert_eq!(seal_to_vec(&k, 1, 1, &big), Err(SealError::TooLong));
        // Edges of the fields.
        let ring = KeyRing::single(key(u32::MAX, 3));
        for (sender, seq) in [(0, 0), (u32::MAX, u64::MAX)] {
            let d = seal_to_vec(ring.sealing(), sender, seq, b"x").unwrap();
            let o = open(&ring, &d).unwrap();
            assert_eq!(
                (o.sender, o.key_id, o.seq, o.msg),
                (sender, u32::MAX, seq, &b"x"[..])
            );
        }
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let ring = KeyRing::single(key(7, 0x5a));
        let msg: Vec<u8> = (0..load::LEN as u8).collect();
        let d = seal_to_vec(ring.sealing(), 3, 99, &msg).unwrap();
        let key_id_bits = (msg.len() + 4) * 8..(msg.len() + 8) * 8;
        for bit in 0..d.len() * 8 {
            let mut f = d.clone();
            f[bit / 8] ^= 1 << (bit % 8);
            let want = if key_id_bits.contains(&bit) {
                Reject::UnknownKey
            } else {
                Reject::BadTag
            };
            assert_eq!(open(&ring, &f), Err(want), "bit {bit}");
        }
        // With a second key whose id is one bit away, that flip is a bad tag instead.
        let ring2 = KeyRing::new(vec![key(7, 0x5a), key(7 ^ 1, 0x5a)]).unwrap();
        let mut f = d.clone();
        f[msg.len() + 7] ^= 1;
        assert_eq!(open(&ring2, &f), Err(Reject::BadTag));
        assert!(open(&ring2, &d).is_ok());
    }

    #[test]
    fn unknown_key_and_two_keys() {
        let old = key(1, 0x11);
        let new = key(2, 0x22);
        let only_old = KeyRing::single(old.clone());
        let both = KeyRing::new(vec![old.clone(), new.clone()]).unwrap();
        let rotated = KeyRing::new(vec![new.clone(), old.clone()]).unwrap();
        let by_old = seal_to_vec(&old, 1, 1, b"m").unwrap();
        let by_new = seal_to_vec(&new, 1, 2, b"m").unwrap();
        assert_eq!(open(&only_old, &by_new), Err(Reject::UnknownKey));
        for ring in [&both, &rotated] {
            assert_eq!(open(ring, &by_old).unwrap().key_id, 1);
            assert_eq!(open(ring, &by_new).unwrap().key_id, 2);
        }
        // Same id, other bytes: the tag does not verify.
        let impostor = KeyRing::single(key(1, 0x12));
        assert_eq!(open(&impostor, &by_old), Err(Reject::BadTag));
    }

    #[test]
    fn every_truncation_is_refused() {
        let ring = KeyRing::single(key(7, 0x5a));
        let d = seal_to_vec(ring.sealing(), 3, 99, &[0xab; 60]).unwrap();
        for n in 0..d.len() {
            let r = open(&ring, &d[..n]);
            if n <= TRAILER_LEN {
                assert_eq!(r, Err(Reject::Malformed), "length {n}");
            } else {
                assert!(r.is_err(), "length {n}");
            }
            // Cutting the front instead.
            assert!(open(&ring, &d[d.len() - n..]).is_err(), "suffix {n}");
        }
        let too_long = vec![0u8; MAX_SEALED + 1];
        assert_eq!(open(&ring, &too_long), Err(Reject::Malformed));
    }

    #[test]
    fn domain_separation() {
        // The same bytes tagged with plain HMAC (no prefix) do not verify.
        let k = key(7, 0x5a);
        let ring = KeyRing::single(k.clone());
        let mut d = seal_to_vec(&k, 3, 99, b"message").unwrap();
        let cut = d.len() - TAG_LEN;
        let mut plain = HmacSha256::new_from_slice(&k.bytes).unwrap();
        plain.update(&d[..cut]);
        let t = plain.finalize().into_bytes();
        d[cut..].copy_from_slice(&t[..TAG_LEN]);
        assert_eq!(open(&ring, &d), Err(Reject::BadTag));
    }

    /// The size budget: what fits once every datagram carries the trailer.
    #[test]
    fn size_budget() {
        assert_eq!((TRAILER_LEN, MAX_MESSAGE), (32, 1368));
        const { assert!(heartbeat::LEN <= MAX_MESSAGE && load::LEN <= MAX_MESSAGE) };
        // Replication batches and announcements: how many records (entries) fit with the trailer.
        // Without the trailer 43 of each would fit (1396 and 1388 bytes); with it, 42 fit
        // (1364 + 32 = 1396 and 1356 + 32 = 1388 bytes), and the core's caps are those.
        let batch = |n: usize| BATCH_HEADER_LEN + n * MAX_RECORD_LEN;
        let ann = |n: usize| announce::FIXED_LEN + n * announce::ENTRY_LEN;
        let records_fit = (MAX_MESSAGE - BATCH_HEADER_LEN) / MAX_RECORD_LEN;
        let entries_fit = (MAX_MESSAGE - announce::FIXED_LEN) / announce::ENTRY_LEN;
        assert_eq!((records_fit, entries_fit), (42, 42));
        assert_eq!((batch(42), ann(42)), (1364, 1356));
        assert!(batch(43) > MAX_MESSAGE && ann(43) > MAX_MESSAGE);
        assert_eq!((MAX_RECORDS, announce::MAX_ENTRIES), (42, 42));
        assert_eq!(MAX_MESSAGE, sara_core::msg::MAX_MESSAGE);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_open(d in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let ring = KeyRing::new(vec![key(1, 1), key(2, 2)]).unwrap();
            // Forcing a known key id exercises the MAC path, not only the key lookup.
            let mut d = d;
            if d.len() > TRAILER_LEN {
                let at = d.len() - TAG_LEN - 12;
                d[at..at + 4].copy_from_slice(&1u32.to_be_bytes());
            }
            prop_assert!(open(&ring, &d).is_err());
        }

        #[test]
        fn any_message_round_trips(
            msg in proptest::collection::vec(any::<u8>(), 1..=MAX_MESSAGE),
            sender in any::<u32>(),
            seq in any::<u64>(),
            flip in any::<usize>(),
        ) {
            let ring = KeyRing::single(key(9, 0x99));
            let mut d = seal_to_vec(ring.sealing(), sender, seq, &msg).unwrap();
            let o = open(&ring, &d).unwrap();
            prop_assert_eq!((o.sender, o.key_id, o.seq, o.msg), (sender, 9, seq, &msg[..]));
            let bit = flip % (d.len() * 8);
            d[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(open(&ring, &d).is_err());
        }
    }
}
