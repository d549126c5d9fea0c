//! SARA's UDP messages: heartbeat, load vector, flow announcement, state replication.
//!
//! Every format is in network byte order, drawn field by field in its module, and carries a version;
//! a receiver drops (and counts, by [`Error`]) what it cannot parse. Each module has
//! `parse(&[u8]) -> Result<T, Error>` and `emit(&T, &mut [u8]) -> Result<usize, Error>` (the number of
//! bytes written); variable-length messages parse into a validated view whose records are read
//! without failure afterwards.
//!
//! | message | module | size | sender → receiver |
//! |---|---|---|---|
//! | heartbeat | [`heartbeat`] | 11 bytes exactly | every node → failure detector; dispatcher ↔ dispatcher |
//! | load vector | [`load`] | 28 bytes exactly | server agent → manager, every δ |
//! | announcement | [`announce`] | 12 + 32·n bytes, n ≤ 42 | gateway → active dispatcher |
//! | replication batch | [`repl`] | 20 + records (8–32 bytes each), ≤ 42 records | active ↔ backup dispatcher |
//!
//! Every datagram on the wire also carries an authentication trailer of [`AUTH_TRAILER_LEN`] bytes
//! after the message (`sara_ctl::auth`, issue #15), within the same [`MAX_DATAGRAM`]: a message is
//! at most [`MAX_MESSAGE`] bytes, which is what bounds the announcement's and the batch's counts.
//!
//! The heartbeat keeps the paper's 11-byte layout (Fig. 6) and carries its version in the high nibble
//! of its flag byte. The other messages start with a common 4-byte header ([`Header`]):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      magic 0x53 0x41 "SA"     |    version    |     type      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A flow's 5-tuple travels as a 16-byte block ([`FLOW_LEN`]), ready for a later IPv6 form by its
//! family byte:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    source address (IPv4)                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 destination address (IPv4)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          source port          |       destination port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   protocol    |  family = 4   |        reserved (0)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Reserved fields are sent as 0 and must be 0 on receipt in version 1 (so that a later version may
//! give them a meaning that old receivers reject rather than misread).

pub mod announce;
pub mod heartbeat;
pub mod load;
pub mod repl;

use super::flow::FlowKey;

/// Magic of the common header: "SA".
pub const MAGIC: u16 = 0x5341;
/// Version of the messages defined here.
pub const VERSION: u8 = 1;
/// Size of the common header.
pub const HEADER_LEN: usize = 4;
/// Largest datagram any message here may be (fits a 1500-byte MTU with IP/UDP and tunnel headers).
pub const MAX_DATAGRAM: usize = 1400;
/// Size of the authentication trailer that `sara_ctl::auth` puts after every message (sender id 4,
/// key id 4, sequence 8, tag 16). The core does not seal or verify anything; it only leaves room:
/// `sara_ctl` asserts that its `auth::TRAILER_LEN` is this.
pub const AUTH_TRAILER_LEN: usize = 32;
/// Largest message, so that the message and its authentication trailer fit [`MAX_DATAGRAM`]. The
/// variable-length messages ([`announce`], [`repl`]) take their most entries or records from it.
pub const MAX_MESSAGE: usize = MAX_DATAGRAM - AUTH_TRAILER_LEN;
/// Size of an encoded flow 5-tuple.
pub const FLOW_LEN: usize = 16;
/// Address family byte of an IPv4 flow block.
pub const FAMILY_IPV4: u8 = 4;

/// Why a message could not be parsed or emitted. A receiver counts drops by this (index = `as usize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Error {
    /// Shorter than its fixed size, its header or its record count says.
    Truncated = 0,
    /// Longer than its fixed size or its record count says, or larger than [`MAX_DATAGRAM`].
    TooLong = 1,
    /// Wrong magic: not one of these messages.
    BadMagic = 2,
    /// A version this code does not speak.
    BadVersion = 3,
    /// A message or record type this code does not know (or not the one expected).
    BadType = 4,
    /// A field out of range: flag, per-mille above 1000, status, identity, family, non-zero reserved
    /// bits, record length, more records than allowed.
    BadValue = 5,
    /// `emit`: the output buffer is too small.
    BufferTooSmall = 6,
}

impl Error {
    /// Number of error kinds.
    pub const COUNT: usize = 7;

    /// Stable lower-case name (counters, logs).
    pub fn name(self) -> &'static str {
        match self {
            Error::Truncated => "truncated",
            Error::TooLong => "too_long",
            Error::BadMagic => "bad_magic",
            Error::BadVersion => "bad_version",
            Error::BadType => "bad_type",
            Error::BadValue => "bad_value",
            Error::BufferTooSmall => "buffer_too_small",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Message types of the common header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MsgType {
    /// Load vector ([`load`]).
    Load = 1,
    /// Flow announcement ([`announce`]).
    Announce = 2,
    /// State replication batch ([`repl`]).
    Repl = 3,
}

impl MsgType {
    /// The type for its number.
    pub fn from_u8(v: u8) -> Option<MsgType> {
        match v {
            1 => Some(MsgType::Load),
            2 => Some(MsgType::Announce),
            3 => Some(MsgType::Repl),
            _ => None,
        }
    }
}

/// The common header of the non-heartbeat messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version ([`VERSION`]).
    pub version: u8,
    /// Message type.
    pub kind: MsgType,
}

impl Header {
    /// Reads and checks the common header: magic, version ([`VERSION`] only), known type.
    pub fn parse(buf: &[u8]) -> Result<Header, Error> {
        let mut r = Reader::new(buf);
        if r.u16()? != MAGIC {
            return Err(Error::BadMagic);
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::BadVersion);
        }
        let kind = MsgType::from_u8(r.u8()?).ok_or(Error::BadType)?;
        Ok(Header { version, kind })
    }
}

/// A bounds-checked big-endian reader.
#[derive(Debug, Clone)]
struct Reader<'a> {
    buf: &'a [u8],
}

#[allow(dead_code)]
impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn rest(&self) -> &'a [u8] {
        self.buf
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, tail) = self.buf.split_first_chunk::<N>().ok_or(Error::Truncated)?;
        self.buf = tail;
        Ok(*head)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a reserved field of `N` bytes, which must be zero.
    fn reserved<const N: usize>(&mut self) -> Result<(), Error> {
        if self.array::<N>()? == [0; N] {
            Ok(())
        } else {
            Err(Error::BadValue)
        }
    }

    /// Reads the common header and checks its type.
    fn header(&mut self, want: MsgType) -> Result<(), Error> {
        let h = Header::parse(self.buf)?;
        if h.kind != want {
            return Err(Error::BadType);
        }
        self.array::<HEADER_LEN>().map(|_| ())
    }

    /// Reads a 16-byte flow block.
    fn flow(&mut self) -> Result<FlowKey, Error> {
        let src = self.array::<4>()?;
        let dst = self.array::<4>()?;
        let sport = self.u16()?;
        let dport = self.u16()?;
        let proto = self.u8()?;
        if self.u8()? != FAMILY_IPV4 {
            return Err(Error::BadValue);
        }
        self.reserved::<2>()?;
        Ok(FlowKey::new(src, sport, dst, dport, proto))
    }

    /// Succeeds only if everything was read.
    fn end(&self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TooLong)
        }
    }
}

/// A bounds-checked big-endian writer.
#[derive(Debug)]
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, pos: 0 }
    }

    fn pos(&self) -> usize {
        self.pos
    }

    fn bytes(&mut self, b: &[u8]) -> Result<(), Error> {
        let end = self.pos.checked_add(b.len()).ok_or(Error::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(b);
        self.pos = end;
        Ok(())
    }

    fn u8(&mut self, v: u8) -> Result<(), Error> {
        self.bytes(&[v])
    }

    fn u16(&mut self, v: u16) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    fn u32(&mut self, v: u32) -> Result<(), Error> {
        self.bytes(&v.to_be_bytes())
    }

    fn header(&mut self, kind: MsgType) -> Result<(), Error> {
        self.u16(MAGIC)?;
        self.u8(VERSION)?;
        self.u8(kind as u8)
    }

    fn flow(&mut self, k: &FlowKey) -> Result<(), Error> {
        self.bytes(&k.src_addr)?;
        self.bytes(&k.dst_addr)?;
        self.u16(k.src_port)?;
        self.u16(k.dst_port)?;
        self.u8(k.protocol)?;
        self.u8(FAMILY_IPV4)?;
        self.u16(0)
    }

    /// Overwrites a big-endian u16 at `at` (already written).
    fn patch_u16(&mut self, at: usize, v: u16) -> Result<(), Error> {
        let end = at.checked_add(2).ok_or(Error::BufferTooSmall)?;
        let dst = self.buf.get_mut(at..end).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(&v.to_be_bytes());
        Ok(())
    }
}

/// Whether sequence number `a` comes after `b` in serial-number arithmetic (RFC 1982, 32 bits).
pub fn seq_after(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        assert_eq!(
            Header::parse(&[0x53, 0x41, 1, 2]),
            Ok(Header {
                version: 1,
                kind: MsgType::Announce
            })
        );
        assert_eq!(Header::parse(&[0x53, 0x41, 1]), Err(Error::Truncated));
        assert_eq!(Header::parse(&[0x53, 0x42, 1, 2]), Err(Error::BadMagic));
        assert_eq!(Header::parse(&[0x53, 0x41, 2, 2]), Err(Error::BadVersion));
        assert_eq!(Header::parse(&[0x53, 0x41, 1, 9]), Err(Error::BadType));
    }

    #[test]
    fn flow_block() {
        let k = FlowKey::new([10, 0, 0, 1], 5000, [192, 0, 2, 1], 554, 17);
        let mut b = [0u8; FLOW_LEN];
        let mut w = Writer::new(&mut b);
        w.flow(&k).unwrap();
        assert_eq!(w.pos(), FLOW_LEN);
        assert_eq!(
            b,
            [10, 0, 0, 1, 192, 0, 2, 1, 0x13, 0x88, 0x02, 0x2a, 17, 4, 0, 0]
        );
        assert_eq!(Reader::new(&b).flow(), Ok(k));
        let mut bad = b;
        bad[13] = 6;
        assert_eq!(Reader::new(&bad).flow(), Err(Error::BadValue));
        bad = b;
        bad[15] = 1;
        assert_eq!(Reader::new(&bad).flow(), Err(Error::BadValue));
        assert_eq!(Reader::new(&b[..15]).flow(), Err(Error::Truncated));
        assert_eq!(
            Writer::new(&mut [0u8; 15]).flow(&k),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn serial_numbers() {
        assert!(seq_after(1, 0));
        assert!(seq_after(0, u32::MAX));
        assert!(!seq_after(0, 0));
        assert!(!seq_after(0, 1));
        assert!(!seq_after(0x8000_0000, 0));
    }
}
