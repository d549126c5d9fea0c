//! The flow announcement: the gateway tells the active dispatcher the completed identity of flows
//! announced in a session (the server-side port it learned from a server's reply, which never crosses
//! the dispatcher). Several announcements per datagram.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          magic "SA"           |  version = 1  |   type = 2    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          sequence                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     count     |                 reserved (0)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +    entry 1: signalling flow (16-byte flow block, see msg)     +
//! |             announced flow   (16-byte flow block)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          entry 2 …                            |
//! ```
//!
//! * `sequence`: +1 per datagram sent by this gateway (wrapping), for loss accounting.
//! * `count`: 1..=[`MAX_ENTRIES`] entries of 32 bytes follow; the datagram is exactly
//!   12 + 32·count bytes (at most 12 + 42·32 = 1356, 1388 with the 32-byte authentication trailer).
//! * signalling flow: the 5-tuple of the session's signalling flow as the dispatcher keys it (client →
//!   virtual IP); it finds the session.
//! * announced flow: the completed 5-tuple of the announced flow, client ip:port → virtual IP:server
//!   port, protocol. Both flows are TCP or UDP, and the announced flow's ports are not 0.

use super::super::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
use super::{Error, MsgType, Reader, Writer, FLOW_LEN, MAX_DATAGRAM, MAX_MESSAGE};

/// Size of the fixed part.
pub const FIXED_LEN: usize = 12;
/// Size of one entry.
pub const ENTRY_LEN: usize = 2 * FLOW_LEN;
/// Most entries in one datagram: so that it, with the authentication trailer after it, fits
/// [`MAX_DATAGRAM`] — `(MAX_DATAGRAM − AUTH_TRAILER_LEN − FIXED_LEN) / ENTRY_LEN` =
/// (1400 − 32 − 12) / 32 = 42 (43 before the trailer).
pub const MAX_ENTRIES: usize = (MAX_MESSAGE - FIXED_LEN) / ENTRY_LEN;

/// One announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AnnounceEntry {
    /// The session's signalling flow (client → virtual IP).
    pub signalling: FlowKey,
    /// The announced flow, completed (client → virtual IP:server port).
    pub announced: FlowKey,
}

/// A datagram to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce<'a> {
    /// Sequence number.
    pub seq: u32,
    /// 1..=[`MAX_ENTRIES`] entries.
    pub entries: &'a [AnnounceEntry],
}

/// A parsed, fully validated datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnounceView<'a> {
    /// Sequence number.
    pub seq: u32,
    body: &'a [u8],
}

impl<'a> AnnounceView<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.body.len() / ENTRY_LEN
    }

    /// Whether there are no entries (never true for a parsed datagram).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    /// The entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = AnnounceEntry> + 'a {
        self.body
            .chunks_exact(ENTRY_LEN)
            .filter_map(|c| read_entry(c).ok())
    }
}

fn valid_proto(p: u8) -> bool {
    p == PROTO_TCP || p == PROTO_UDP
}

fn check(e: &AnnounceEntry) -> Result<(), Error> {
    let a = &e.announced;
    if !valid_proto(e.signalling.protocol)
        || !valid_proto(a.protocol)
        || a.src_port == 0
        || a.dst_port == 0
    {
        return Err(Error::BadValue);
    }
    Ok(())
}

fn read_entry(b: &[u8]) -> Result<AnnounceEntry, Error> {
    let mut r = Reader::new(b);
    let e = AnnounceEntry {
        signalling: r.flow()?,
        announced: r.flow()?,
    };
    check(&e)?;
    Ok(e)
}

/// Parses and validates an announcement datagram (every entry is checked here, so
/// [`AnnounceView::entries`] yields exactly `count` entries).
pub fn parse(buf: &[u8]) -> Result<AnnounceView<'_>, Error> {
    if buf.len() > MAX_DATAGRAM {
        return Err(Error::TooLong);
    }
    let mut r = Reader::new(buf);
    r.header(MsgType::Announce)?;
    let seq = r.u32()?;
    let count = usize::from(r.u8()?);
    r.reserved::<3>()?;
    if count == 0 || count > MAX_ENTRIES {
        return Err(Error::BadValue);
    }
    let body = r.rest();
    let want = count.checked_mul(ENTRY_LEN).ok_or(Error::BadValue)?;
    if body.len() < want {
        return Err(Error::Truncated);
    }
    if body.len() > want {
        return Err(Error::TooLong);
    }
    for c in body.chunks_exact(ENTRY_LEN) {
        read_entry(c)?;
    }
    Ok(AnnounceView { seq, body })
}

/// Writes an announcement datagram; returns its size (12 + 32·n).
pub fn emit(a: &Announce<'_>, out: &mut [u8]) -> Result<usize, Error> {
    let n = a.entries.len();
    if n == 0 || n > MAX_ENTRIES {
        return Err(Error::BadValue);
    }
    a.entries.iter().try_for_each(check)?;
    let mut w = Writer::new(out);
    w.header(MsgType::Announce)?;
    w.u32(a.seq)?;
    w.u8(u8::try_from(n).map_err(|_| Error::BadValue)?)?;
    w.bytes(&[0; 3])?;
    for e in a.entries {
        w.flow(&e.signalling)?;
        w.flow(&e.announced)?;
    }
    Ok(w.pos())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn entry(i: u8) -> AnnounceEntry {
        AnnounceEntry {
            signalling: FlowKey::new([198, 51, 100, i], 40000, [192, 0, 2, 1], 554, PROTO_TCP),
            announced: FlowKey::new([198, 51, 100, i], 5001, [192, 0, 2, 1], 6971, PROTO_UDP),
        }
    }

    #[test]
    fn golden_bytes() {
        let e = [entry(7)];
        let mut b = [0u8; 64];
        let n = emit(
            &Announce {
                seq: 9,
                entries: &e,
            },
            &mut b,
        )
        .unwrap();
        assert_eq!(n, 44);
        #[rustfmt::skip]
        let golden: [u8; 44] = [
            0x53, 0x41, 1, 2,
            0, 0, 0, 9,
            1, 0, 0, 0,
            198, 51, 100, 7, 192, 0, 2, 1, 0x9c, 0x40, 0x02, 0x2a, 6, 4, 0, 0,
            198, 51, 100, 7, 192, 0, 2, 1, 0x13, 0x89, 0x1b, 0x3b, 17, 4, 0, 0,
        ];
        assert_eq!(b[..n], golden);
        let v = parse(&golden).unwrap();
        assert_eq!(v.seq, 9);
        assert_eq!(v.len(), 1);
        assert_eq!(v.entries().collect::<Vec<_>>(), e);
    }

    #[test]
    fn many_entries_round_trip() {
        assert_eq!(MAX_ENTRIES, 42);
        const {
            assert!(
                FIXED_LEN + MAX_ENTRIES * ENTRY_LEN + super::super::AUTH_TRAILER_LEN
                    <= MAX_DATAGRAM
            )
        };
        let es: Vec<_> = (0..MAX_ENTRIES as u8).map(entry).collect();
        let mut b = [0u8; MAX_DATAGRAM];
        let n = emit(
            &Announce {
                seq: u32::MAX,
                entries: &es,
            },
            &mut b,
        )
        .unwrap();
        assert_eq!(n, FIXED_LEN + MAX_ENTRIES * ENTRY_LEN);
        assert!(n <= MAX_DATAGRAM);
        let v = parse(&b[..n]).unwrap();
        assert_eq!(v.entries().collect::<Vec<_>>(), es);
        let too_many: Vec<_> = (0..=MAX_ENTRIES as u8).map(entry).collect();
        assert_eq!(
            emit(
                &Announce {
                    seq: 0,
                    entries: &too_many
                },
                &mut b
            ),
            Err(Error::BadValue)
        );
        assert_eq!(
            emit(
                &Announce {
                    seq: 0,
                    entries: &[]
                },
                &mut b
            ),
            Err(Error::BadValue)
        );
        assert_eq!(
            emit(
                &Announce {
                    seq: 0,
                    entries: &es
                },
                &mut b[..100]
            ),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn rejects() {
        let e = [entry(1), entry(2)];
        let mut b = [0u8; 128];
        let n = emit(
            &Announce {
                seq: 1,
                entries: &e,
            },
            &mut b,
        )
        .unwrap();
        let good = &b[..n];
        assert_eq!(parse(&good[..n - 1]), Err(Error::Truncated));
        assert_eq!(parse(&good[..FIXED_LEN - 1]), Err(Error::Truncated));
        let mut long = good.to_vec();
        long.push(0);
        assert_eq!(parse(&long), Err(Error::TooLong));
        assert_eq!(parse(&[0u8; MAX_DATAGRAM + 1]), Err(Error::TooLong));
        let bad = |at: usize, v: u8| {
            let mut x = good.to_vec();
            x[at] = v;
            parse(&x).map(|_| ())
        };
        assert_eq!(bad(2, 0), Err(Error::BadVersion));
        assert_eq!(bad(3, 1), Err(Error::BadType));
        assert_eq!(bad(8, 0), Err(Error::BadValue)); // count 0
        assert_eq!(bad(8, 3), Err(Error::Truncated)); // count says more
        assert_eq!(bad(8, 1), Err(Error::TooLong)); // count says less
        assert_eq!(bad(8, 43), Err(Error::BadValue)); // count > MAX_ENTRIES
        assert_eq!(bad(9, 1), Err(Error::BadValue)); // reserved
        assert_eq!(bad(12 + 12, 1), Err(Error::BadValue)); // signalling protocol ICMP
        assert_eq!(bad(12 + 13, 6), Err(Error::BadValue)); // family 6
        assert_eq!(bad(12 + 16 + 8, 0).and(Ok(())), Ok(())); // src port 0x0089: fine
        let mut x = good.to_vec();
        x[12 + 16 + 10] = 0;
        x[12 + 16 + 11] = 0;
        assert_eq!(parse(&x), Err(Error::BadValue)); // announced port 0
    }
}
