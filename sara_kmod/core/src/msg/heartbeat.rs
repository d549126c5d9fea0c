//! The heartbeat (availability announcement, paper Fig. 6): 11 bytes exactly.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           host_id             |            seq ...            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         ... seq               |  ver  | flag  | timestamp ... |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                ... timestamp                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//!  offset  size  field
//!       0     2  host_id    the sender's id (a server id, or a dispatcher's id)
//!       2     4  seq        +1 per heartbeat sent (wrapping); gaps count lost heartbeats
//!       6     1  ver|flag   high nibble: version (1); low nibble: flag
//!       7     4  timestamp  seconds since the Unix epoch (UTC): the planned failure time for
//!                           flag 3, otherwise the time the heartbeat was sent
//! ```
//!
//! Flags: 1 node up and application up, 2 node up and application down, 3 planned failure at
//! `timestamp`.
//!
//! Why the version is in the flag byte: the paper's message is 11 bytes and its flag needs 2 bits, so
//! the version takes the high nibble of that byte and the size stays 11. A sender of the paper's
//! original format (high nibble 0) is rejected as [`Error::BadVersion`], like any unknown version.

use super::{Error, Reader, Writer};

/// Size of a heartbeat.
pub const LEN: usize = 11;
/// Version carried in the high nibble of the flag byte.
pub const VERSION: u8 = 1;

/// The availability event a heartbeat announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Flag {
    /// Node up, application up.
    Up = 1,
    /// Node up, application down.
    AppDown = 2,
    /// Planned failure at the heartbeat's timestamp: drain before it.
    PlannedFailure = 3,
}

impl Flag {
    /// The flag for its number.
    pub fn from_u8(v: u8) -> Option<Flag> {
        match v {
            1 => Some(Flag::Up),
            2 => Some(Flag::AppDown),
            3 => Some(Flag::PlannedFailure),
            _ => None,
        }
    }
}

/// One heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// Sender id.
    pub host_id: u16,
    /// Sequence number.
    pub seq: u32,
    /// Availability event.
    pub flag: Flag,
    /// Seconds since the Unix epoch: planned failure time (flag 3) or send time.
    pub timestamp: u32,
}

/// Parses a heartbeat: exactly [`LEN`] bytes, version [`VERSION`], flag 1..=3.
pub fn parse(buf: &[u8]) -> Result<Heartbeat, Error> {
    let mut r = Reader::new(buf);
    let host_id = r.u16()?;
    let seq = r.u32()?;
    let vf = r.u8()?;
    let timestamp = r.u32()?;
    r.end()?;
    if vf >> 4 != VERSION {
        return Err(Error::BadVersion);
    }
    let flag = Flag::from_u8(vf & 0x0f).ok_or(Error::BadValue)?;
    Ok(Heartbeat {
        host_id,
        seq,
        flag,
        timestamp,
    })
}

/// Writes a heartbeat into `out`; returns [`LEN`].
pub fn emit(hb: &Heartbeat, out: &mut [u8]) -> Result<usize, Error> {
    if out.len() < LEN {
        return Err(Error::BufferTooSmall);
    }
    let mut w = Writer::new(out);
    w.u16(hb.host_id)?;
    w.u32(hb.seq)?;
    w.u8((VERSION << 4) | hb.flag as u8)?;
    w.u32(hb.timestamp)?;
    Ok(w.pos())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: [u8; LEN] = [
        0x00, 0x07, 0x00, 0x00, 0x01, 0x02, 0x13, 0x65, 0xa5, 0x6b, 0x80,
    ];
    const HB: Heartbeat = Heartbeat {
        host_id: 7,
        seq: 258,
        flag: Flag::PlannedFailure,
        timestamp: 1_705_339_776,
    };

    #[test]
    fn golden_bytes() {
        let mut b = [0u8; 16];
        assert_eq!(emit(&HB, &mut b), Ok(LEN));
        assert_eq!(b[..LEN], GOLDEN);
        assert_eq!(parse(&GOLDEN), Ok(HB));
        let up = Heartbeat {
            flag: Flag::Up,
            ..HB
        };
        emit(&up, &mut b).unwrap();
        assert_eq!(b[6], 0x11);
    }

    #[test]
    fn rejects() {
        assert_eq!(parse(&GOLDEN[..10]), Err(Error::Truncated));
        assert_eq!(parse(&[]), Err(Error::Truncated));
        let mut long = [0u8; 12];
        long[..LEN].copy_from_slice(&GOLDEN);
        assert_eq!(parse(&long), Err(Error::TooLong));
        let mut v = GOLDEN;
        v[6] = 0x03; // the paper's format, no version
        assert_eq!(parse(&v), Err(Error::BadVersion));
        v[6] = 0x23;
        assert_eq!(parse(&v), Err(Error::BadVersion));
        for f in [0x10, 0x14, 0x1f] {
            v[6] = f;
            assert_eq!(parse(&v), Err(Error::BadValue));
        }
        assert_eq!(emit(&HB, &mut [0u8; 10]), Err(Error::BufferTooSmall));
    }

    #[test]
    fn round_trip_extremes() {
        for flag in [Flag::Up, Flag::AppDown, Flag::PlannedFailure] {
            for (host_id, seq, timestamp) in [(0, 0, 0), (u16::MAX, u32::MAX, u32::MAX)] {
                let hb = Heartbeat {
                    host_id,
                    seq,
                    flag,
                    timestamp,
                };
                let mut b = [0u8; LEN];
                emit(&hb, &mut b).unwrap();
                assert_eq!(parse(&b), Ok(hb));
            }
        }
    }
}
