//! IPv4 headers (RFC 791).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |    DSCP   |ECN|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |R|D|M|     Fragment Offset     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options (IHL > 5) …                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! IHL: header length in 32-bit words (5..=15). R: reserved, D: don't fragment, M: more fragments.
//! Fragment Offset: in units of 8 bytes.
//! ```
//!
//! Options are skipped, not interpreted ([`Ipv4Packet::options`] exposes their bytes).

use super::{internet_checksum, read_4, read_u16, read_u8, Error};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    use core::ops::Range;
    pub(super) const VER_IHL: usize = 0;
    pub(super) const DSCP_ECN: usize = 1;
    pub(super) const TOTAL_LEN: Range<usize> = 2..4;
    pub(super) const IDENT: Range<usize> = 4..6;
    pub(super) const FLAGS_FRAG: Range<usize> = 6..8;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: Range<usize> = 10..12;
    pub(super) const SRC: Range<usize> = 12..16;
    pub(super) const DST: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// Where a packet stands with respect to IPv4 fragmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fragment {
    /// Not a fragment (MF clear, offset 0).
    Whole,
    /// The first fragment (MF set, offset 0): it carries the L4 header.
    First {
        /// The IP identification shared by all fragments of the datagram.
        id: u16,
    },
    /// A later fragment (offset > 0): no L4 header, no ports.
    NonFirst {
        /// The IP identification shared by all fragments of the datagram.
        id: u16,
        /// Offset of this fragment's data in the datagram, in bytes.
        offset: u16,
        /// More fragments follow.
        more: bool,
    },
}

/// What ties the fragments of one datagram together: `(src, dst, protocol, IP id)` (RFC 791).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    /// Source address.
    pub src_addr: [u8; 4],
    /// Destination address.
    pub dst_addr: [u8; 4],
    /// IP protocol.
    pub protocol: u8,
    /// IP identification.
    pub id: u16,
}

impl FragKey {
    /// 11 bytes to hash (e.g. with `FlowHasher::hash_bytes`): src, dst, protocol, id (big endian).
    pub fn to_bytes(&self) -> [u8; 11] {
        let [s0, s1, s2, s3] = self.src_addr;
        let [d0, d1, d2, d3] = self.dst_addr;
        let [i0, i1] = self.id.to_be_bytes();
        [s0, s1, s2, s3, d0, d1, d2, d3, self.protocol, i0, i1]
    }
}

/// How a datagram that reached the dispatcher in fragments, and that the stack reassembled before
/// SARA's hook (`nf_defrag_ipv4`), leaves for its server: in fragments again, by the rules the
/// kernel forwards such a datagram with (`ip_forward`'s `ip_exceeds_mtu`, `ip_do_fragment`), so the
/// server gets fragments no larger than the client sent nor than the server's link carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refragment {
    /// In fragments of at most this many bytes, IP header included: the size of the largest fragment
    /// it arrived in, or the interface's MTU if that is smaller.
    Split(u16),
    /// Not sent: its largest fragment had DF set and exceeds the interface's MTU (a router would
    /// answer "fragmentation needed"), or the MTU cannot carry the header and 8 bytes of data.
    TooBig,
}

/// [`Refragment`] of a reassembled datagram: `frag_max_size` is the size of the largest fragment it
/// arrived in (`IPCB(skb)->frag_max_size`, > 0), `dont_frag` its reassembled header's DF flag (set
/// when that largest fragment had DF), `header_len` its IP header's length, `mtu` the MTU of the
/// interface towards its server.
pub fn refragment(frag_max_size: u16, dont_frag: bool, header_len: usize, mtu: u32) -> Refragment {
    if dont_frag && u32::from(frag_max_size) > mtu {
        return Refragment::TooBig;
    }
    let size = u32::from(frag_max_size).min(mtu);
    let least = u32::try_from(header_len.saturating_add(8)).unwrap_or(u32::MAX);
    if size < least {
        return Refragment::TooBig;
    }
    // size ≤ frag_max_size, a u16.
    Refragment::Split(u16::try_from(size).unwrap_or(frag_max_size))
}

/// A view of an IPv4 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer that holds a whole, consistent IPv4 packet (see [`super::parse_l4`] for the
    /// checks). Bytes after the IP total length (link padding) are allowed.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Ipv4Packet { buffer };
        p.check_header()?;
        if usize::from(p.total_len()) > p.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(p)
    }

    /// Wraps a buffer that holds at least a whole, consistent IPv4 header, options included; the
    /// packet's total length may exceed the buffer.
    pub fn new_checked_head(buffer: T) -> Result<Self, Error> {
        let p = Ipv4Packet { buffer };
        p.check_header()?;
        Ok(p)
    }

    fn check_header(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != 4 || self.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if self.header_len() > len {
            return Err(Error::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < self.header_len() {
            return Err(Error::Malformed);
        }
        // Fragment data may not reach past the largest datagram (65535 bytes).
        let data = total.saturating_sub(self.header_len());
        if usize::from(self.frag_offset()).saturating_add(data) > usize::from(u16::MAX) {
            return Err(Error::Malformed);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// IP version (4).
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(read_u8(self.buffer.as_ref(), field::VER_IHL) & 0x0f) << 2
    }

    /// DSCP (upper six bits of the second byte).
    pub fn dscp(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::DSCP_ECN) >> 2
    }

    /// ECN (lower two bits of the second byte).
    pub fn ecn(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::DSCP_ECN) & 3
    }

    /// Total length: header and data, in bytes.
    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_DF != 0
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field × 8; at most 65528).
    pub fn frag_offset(&self) -> u16 {
        (read_u16(self.buffer.as_ref(), field::FLAGS_FRAG) & FRAG_OFFSET_MASK) << 3
    }

    /// Fragment status (see [`Fragment`]).
    pub fn fragment(&self) -> Fragment {
        let id = self.ident();
        let offset = self.frag_offset();
        let more = self.more_frags();
        match (offset, more) {
            (0, false) => Fragment::Whole,
            (0, true) => Fragment::First { id },
            (offset, more) => Fragment::NonFirst { id, offset, more },
        }
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TTL)
    }

    /// Protocol of the payload (6 TCP, 17 UDP).
    pub fn protocol(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// True when the header checksum is right. (The kernel has checked it in `ip_rcv` before
    /// PRE_ROUTING; this is for the other users of the views.)
    pub fn verify_checksum(&self) -> bool {
        match self.buffer.as_ref().get(..self.header_len()) {
            Some(h) if h.len() >= HEADER_LEN => internet_checksum(h) == 0,
            _ => false,
        }
    }

    /// Source address.
    pub fn src_addr(&self) -> [u8; 4] {
        read_4(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> [u8; 4] {
        read_4(self.buffer.as_ref(), field::DST)
    }

    /// The options' bytes (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// The payload: from the end of the header to the total length, cut at the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(b.len());
        b.get(self.header_len()..end).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testpkt::ipv4;
    use super::*;

    #[test]
    fn fields() {
        let p = ipv4(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            17,
            0xbeef,
            0x4000,
            &[7, 7, 7, 7],
            b"data",
        );
        let i = Ipv4Packet::new_checked(&p[..]).unwrap();
        assert_eq!(i.version(), 4);
        assert_eq!(i.header_len(), 24);
        assert_eq!(i.total_len(), 28);
        assert_eq!(i.ident(), 0xbeef);
        assert!(i.dont_frag() && !i.more_frags());
        assert_eq!(i.frag_offset(), 0);
        assert_eq!(i.fragment(), Fragment::Whole);
        assert_eq!(i.ttl(), 64);
        assert_eq!(i.protocol(), 17);
        assert_eq!((i.dscp(), i.ecn()), (0, 0));
        assert_eq!(i.src_addr(), [10, 0, 0, 1]);
        assert_eq!(i.dst_addr(), [10, 0, 0, 2]);
        assert_eq!(i.options(), &[7, 7, 7, 7]);
        assert_eq!(i.payload(), b"data");
        assert!(i.verify_checksum());
        assert_ne!(i.checksum(), 0);
    }

    #[test]
    fn fragment_kinds() {
        let mk = |frag: u16| {
            let p = ipv4([1, 1, 1, 1], [2, 2, 2, 2], 17, 5, frag, &[], &[0; 8]);
            Ipv4Packet::new_checked(&p[..]).unwrap().fragment()
        };
        assert_eq!(mk(0), Fragment::Whole);
        assert_eq!(mk(0x4000), Fragment::Whole);
        assert_eq!(mk(0x2000), Fragment::First { id: 5 });
        assert_eq!(
            mk(0x2001),
            Fragment::NonFirst {
                id: 5,
                offset: 8,
                more: true
            }
        );
        assert_eq!(
            mk(0x0010),
            Fragment::NonFirst {
                id: 5,
                offset: 128,
                more: false
            }
        );
        let k = FragKey {
            src_addr: [1, 1, 1, 1],
            dst_addr: [2, 2, 2, 2],
            protocol: 17,
            id: 0x0102,
        };
        assert_eq!(k.to_bytes(), [1, 1, 1, 1, 2, 2, 2, 2, 17, 1, 2]);
    }

    #[test]
    fn head_variant_allows_short_buffers_only_after_the_header() {
        let p = ipv4(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            6,
            5,
            0,
            &[1, 1, 1, 1],
            &[0; 100],
        );
        assert_eq!(Ipv4Packet::new_checked(&p[..50]), Err(Error::Truncated));
        let h = Ipv4Packet::new_checked_head(&p[..50]).unwrap();
        assert_eq!(h.payload().len(), 26);
        assert_eq!(
            Ipv4Packet::new_checked_head(&p[..23]),
            Err(Error::Truncated)
        );
        // Unchecked view of garbage: total accessors, no panic.
        let g = Ipv4Packet::new_unchecked(&[0x4f_u8, 0, 0xff][..]);
        assert_eq!(
            (g.header_len(), g.total_len(), g.payload(), g.options()),
            (60, 0, &[][..], &[][..])
        );
        assert!(!g.verify_checksum());
    }

    #[test]
    fn refragment_keeps_the_fragment_size_within_the_mtu() {
        // As they came: 1500-byte fragments over a 1500-byte link.
        assert_eq!(refragment(1500, false, 20, 1500), Refragment::Split(1500));
        // Smaller fragments than the link carries stay that small (never larger than the client's).
        assert_eq!(refragment(576, false, 20, 1500), Refragment::Split(576));
        assert_eq!(refragment(1500, false, 20, 9000), Refragment::Split(1500));
        // A narrower link towards the server: cut further, unless DF forbids it.
        assert_eq!(refragment(1500, false, 20, 1400), Refragment::Split(1400));
        assert_eq!(refragment(1500, true, 20, 1400), Refragment::TooBig);
        assert_eq!(refragment(1400, true, 20, 1400), Refragment::Split(1400));
        assert_eq!(refragment(1400, true, 20, 1500), Refragment::Split(1400));
        // Room for the header (options included) and 8 bytes of data, or nothing.
        assert_eq!(refragment(1500, false, 60, 68), Refragment::Split(68));
        assert_eq!(refragment(1500, false, 60, 67), Refragment::TooBig);
        assert_eq!(refragment(27, false, 20, 1500), Refragment::TooBig);
        assert_eq!(refragment(28, false, 20, 1500), Refragment::Split(28));
        assert_eq!(refragment(0, false, 20, 1500), Refragment::TooBig);
        // Extremes: no overflow, the result never exceeds what came in.
        assert_eq!(
            refragment(u16::MAX, false, 20, u32::MAX),
            Refragment::Split(u16::MAX)
        );
        assert_eq!(
            refragment(u16::MAX, true, usize::MAX, u32::MAX),
            Refragment::TooBig
        );
        assert_eq!(refragment(1500, false, 20, 0), Refragment::TooBig);
        // The rules over a grid: never larger than what came nor than the MTU, DF never cut further.
        for fms in (0..=u16::MAX).step_by(97).chain([u16::MAX]) {
            for mtu in [
                0,
                27,
                28,
                67,
                68,
                576,
                1280,
                1500,
                9000,
                65535,
                65536,
                u32::MAX,
            ] {
                for hl in [20, 24, 60] {
                    for df in [false, true] {
                        let least = u32::try_from(hl + 8).unwrap();
                        let fits = u32::from(fms).min(mtu) >= least;
                        match refragment(fms, df, hl, mtu) {
                            Refragment::Split(n) => {
                                assert!(fits && n <= fms && u32::from(n) <= mtu);
                                assert_eq!(u32::from(n), u32::from(fms).min(mtu));
                                assert!(!df || u32::from(fms) <= mtu);
                            }
                            Refragment::TooBig => {
                                assert!(!fits || (df && u32::from(fms) > mtu))
                            }
                        }
                    }
                }
            }
        }
    }
}
