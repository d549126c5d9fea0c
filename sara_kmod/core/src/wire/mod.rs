//! Zero-copy views of the headers SARA reads: Ethernet, IPv4, TCP, UDP.
//!
//! In the manner of smoltcp: a view wraps any `T: AsRef<[u8]>` (a `&[u8]` in the packet path), and
//! `new_checked` verifies the lengths before any accessor may be called, so accessors never fail.
//! Accessors are total anyway: reading past the end of a buffer (only possible through
//! `new_unchecked`) gives 0 or an empty slice, never a panic. Every function here may be given
//! arbitrary bytes (the fuzz targets do).
//!
//! The one entry point the packet hook needs is [`parse_l4`] (or [`parse_l4_head`] when only the linear
//! head of the skb is at hand): it validates the IPv4 header and the TCP/UDP header and returns the
//! 5-tuple, the TCP flags and where the L4 payload is.
//!
//! ## Fragments
//! SARA does not reassemble IPv4 fragments itself: while a namespace has services, `sara.ko` keeps
//! the kernel's `nf_defrag_ipv4` on, whose PRE_ROUTING hook runs before SARA's and hands it every
//! datagram whole (see `docs/decisions.md`, "IPv4 fragments"). A reassembled datagram goes on to its
//! server in fragments again, cut by [`refragment`]. [`L4Info::fragment`] says what a packet is:
//! * [`Fragment::Whole`]: a normal packet, or a datagram the stack reassembled.
//! * [`Fragment::First`] (MF set, offset 0) and [`Fragment::NonFirst`] (offset > 0; it carries no L4
//!   header, so [`L4Info::has_ports`] is false and the ports of [`L4Info::key`] are 0): a fragment
//!   the stack did not gather; the hook drops it, counted as `DROP_FRAGMENT` (`super::counters`).
//!   [`L4Info::frag_key`] (`(src, dst, protocol, IP id)`) is what ties a datagram's fragments.

pub mod ethernet;
pub mod ipv4;
pub mod tcp;
pub mod udp;

// In sara.ko the core is a private module: re-exports the kernel does not use would trip
// `unused_imports` under -Dwarnings.
#[allow(unused_imports)]
pub use ethernet::EthernetFrame;
#[allow(unused_imports)]
pub use ipv4::{refragment, FragKey, Fragment, Ipv4Packet, Refragment};
#[allow(unused_imports)]
pub use tcp::{TcpFlags, TcpPacket};
#[allow(unused_imports)]
pub use udp::UdpPacket;

use super::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
use core::ops::Range;

/// Why bytes could not be read as a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than a header or a length field says.
    Truncated,
    /// A field is inconsistent: wrong IP version, header length below the minimum, total length
    /// below the header length, a fragment reaching past 65535 bytes, a UDP length below 8.
    Malformed,
    /// A well-formed packet of a protocol SARA does not balance (neither TCP nor UDP).
    Unsupported,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated packet",
            Error::Malformed => "malformed packet",
            Error::Unsupported => "unsupported protocol",
        })
    }
}

// ---- total field readers (0 / empty when out of range) -------------------------------------

fn read_u8(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn read_u16(b: &[u8], r: Range<usize>) -> u16 {
    b.get(r)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map_or(0, u16::from_be_bytes)
}

fn read_u32(b: &[u8], r: Range<usize>) -> u32 {
    b.get(r)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

fn read_4(b: &[u8], r: Range<usize>) -> [u8; 4] {
    b.get(r)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .unwrap_or([0; 4])
}

fn read_6(b: &[u8], r: Range<usize>) -> [u8; 6] {
    b.get(r)
        .and_then(|s| <[u8; 6]>::try_from(s).ok())
        .unwrap_or([0; 6])
}

fn write_bytes(b: &mut [u8], r: Range<usize>, v: &[u8]) {
    if let Some(dst) = b.get_mut(r) {
        for (d, s) in dst.iter_mut().zip(v) {
            *d = *s;
        }
    }
}

/// The Internet checksum (RFC 1071) of `data`: the one's complement of the one's complement sum of
/// its 16-bit big-endian words (an odd last byte is padded with 0). A header whose checksum field is
/// right sums to 0 here.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let (words, tail) = data.as_chunks::<2>();
    let mut sum: u32 = 0;
    for w in words {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes(*w)));
        // Fold as we go so the accumulator never exceeds 17 bits.
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    if let Some(&last) = tail.first() {
        sum = sum.wrapping_add(u32::from(last) << 8);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff).wrapping_add(sum >> 16);
    }
    !(sum as u16)
}

// ---- the packet hook's entry point ----------------------------------------------------------

/// What the packet path needs from an IPv4 packet's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L4Info {
    /// The 5-tuple. Ports are 0 when the packet carries no L4 header (non-first fragment).
    pub key: FlowKey,
    /// TCP flags (empty for UDP and for non-first fragments).
    pub tcp_flags: TcpFlags,
    /// The TCP sequence number (0 for UDP and for non-first fragments).
    pub tcp_seq: u32,
    /// IPv4 header length in bytes (20..=60).
    pub ip_header_len: usize,
    /// The IP total length field: bytes of this packet from the start of its IPv4 header.
    pub ip_total_len: usize,
    /// Offset of the L4 payload from the start of the IPv4 header (after the TCP/UDP header; after the
    /// IP header for a non-first fragment).
    pub payload_offset: usize,
    /// Length of the L4 payload carried by this packet, per its headers (for a first fragment: the
    /// bytes in this fragment).
    pub payload_len: usize,
    /// Fragment status.
    pub fragment: Fragment,
}

impl L4Info {
    /// True when the packet carries its L4 header, so [`Self::key`] has the real ports.
    pub fn has_ports(&self) -> bool {
        !matches!(self.fragment, Fragment::NonFirst { .. })
    }

    /// The `(src, dst, protocol, IP id)` key of a fragment (first or not); `None` for a whole packet.
    pub fn frag_key(&self) -> Option<FragKey> {
        let id = match self.fragment {
            Fragment::Whole => return None,
            Fragment::First { id } | Fragment::NonFirst { id, .. } => id,
        };
        Some(FragKey {
            src_addr: self.key.src_addr,
            dst_addr: self.key.dst_addr,
            protocol: self.key.protocol,
            id,
        })
    }

    /// True for a TCP packet with SYN set and ACK clear (the opening of a connection).
    pub fn is_tcp_syn(&self) -> bool {
        self.key.protocol == PROTO_TCP && self.tcp_flags.syn() && !self.tcp_flags.ack()
    }

    /// True for a TCP packet with FIN or RST set (the closing of a connection).
    pub fn is_tcp_close(&self) -> bool {
        self.key.protocol == PROTO_TCP && (self.tcp_flags.fin() || self.tcp_flags.rst())
    }

    /// The TCP sequence number of the first payload byte: the header's, plus one on a SYN (the SYN
    /// takes a number of its own; data on a SYN, TCP Fast Open, begins after it). Wrapping.
    pub fn payload_seq(&self) -> u32 {
        self.tcp_seq.wrapping_add(u32::from(
            self.key.protocol == PROTO_TCP && self.tcp_flags.syn(),
        ))
    }

    /// The L4 payload within `ip` (the same bytes that were parsed), or `None` if `ip` does not hold
    /// all of it (possible after [`parse_l4_head`]).
    pub fn payload<'a>(&self, ip: &'a [u8]) -> Option<&'a [u8]> {
        let end = self.payload_offset.checked_add(self.payload_len)?;
        ip.get(self.payload_offset..end)
    }
}

/// Parses an IPv4 packet whose bytes are all in `ip` (from the first byte of the IPv4 header; trailing
/// link-layer padding beyond the IP total length is allowed and ignored).
///
/// Checks, in order: a 20-byte header is present ([`Error::Truncated`]); version 4, IHL ≥ 5
/// ([`Error::Malformed`]); the header with its options fits ([`Error::Truncated`]); total length ≥
/// header length ([`Error::Malformed`]) and ≤ the buffer ([`Error::Truncated`]); a fragment does not
/// reach past 65535 bytes ([`Error::Malformed`]); the protocol is TCP or UDP ([`Error::Unsupported`]),
/// except for non-first fragments, which have no L4 header to check; then the TCP header (data offset ≥
/// 5 and within the packet) or UDP header (8 bytes; length field ≥ 8 and, for a whole datagram, ≤ the
/// IP payload).
pub fn parse_l4(ip: &[u8]) -> Result<L4Info, Error> {
    let pkt = Ipv4Packet::new_checked(ip)?;
    parse_from(&pkt)
}

/// Like [`parse_l4`], for a buffer that holds at least the IPv4 and L4 headers but maybe not the whole
/// packet (the linear head of a non-linear skb): the IP total length may exceed `ip.len()`. The
/// payload offset and length still come from the headers; [`L4Info::payload`] tells whether the payload
/// is in the buffer.
pub fn parse_l4_head(ip: &[u8]) -> Result<L4Info, Error> {
    let pkt = Ipv4Packet::new_checked_head(ip)?;
    parse_from(&pkt)
}

fn parse_from(pkt: &Ipv4Packet<&[u8]>) -> Result<L4Info, Error> {
    let hl = pkt.header_len();
    let total = usize::from(pkt.total_len());
    // Bytes of the IP payload announced by the header (total ≥ hl was checked).
    let ip_payload_len = total.saturating_sub(hl);
    // Bytes of it present in the buffer.
    let avail = pkt.payload();
    let fragment = pkt.fragment();
    let mut info = L4Info {
        key: FlowKey::new(pkt.src_addr(), 0, pkt.dst_addr(), 0, pkt.protocol()),
        tcp_flags: TcpFlags::EMPTY,
        tcp_seq: 0,
        ip_header_len: hl,
        ip_total_len: total,
        payload_offset: hl,
        payload_len: ip_payload_len,
        fragment,
    };
    if let Fragment::NonFirst { .. } = fragment {
        return Ok(info);
    }
    match pkt.protocol() {
        PROTO_TCP => {
            let tcp = TcpPacket::new_checked(avail)?;
            let thl = tcp.header_len();
            info.key.src_port = tcp.src_port();
            info.key.dst_port = tcp.dst_port();
            info.tcp_flags = tcp.flags();
            info.tcp_seq = tcp.seq_number();
            info.payload_offset = hl.saturating_add(thl);
            info.payload_len = ip_payload_len.checked_sub(thl).ok_or(Error::Malformed)?;
        }
        PROTO_UDP => {
            if avail.len() < udp::HEADER_LEN {
                return Err(Error::Truncated);
            }
            let udp = UdpPacket::new_unchecked(avail);
            let ulen = usize::from(udp.len());
            if ulen < udp::HEADER_LEN {
                return Err(Error::Malformed);
            }
            info.key.src_port = udp.src_port();
            info.key.dst_port = udp.dst_port();
            info.payload_offset = hl.saturating_add(udp::HEADER_LEN);
            info.payload_len = if fragment == Fragment::Whole {
                // A UDP length beyond the IP payload is a short datagram (Linux drops those); a shorter
                // one leaves trailing bytes that are not part of the datagram.
                if ulen > ip_payload_len {
                    return Err(Error::Malformed);
                }
                ulen.saturating_sub(udp::HEADER_LEN)
            } else {
                // First fragment: the UDP length covers the whole datagram; this fragment carries what
                // its IP payload holds.
                ip_payload_len.saturating_sub(udp::HEADER_LEN)
            };
        }
        _ => return Err(Error::Unsupported),
    }
    Ok(info)
}

#[cfg(test)]
pub(super) mod testpkt {
    //! Packet builders for the tests of this module tree and of the table.
    extern crate std;
    use super::internet_checksum;
    use std::vec::Vec;

    /// An IPv4 header (20 bytes + `opts`) followed by `l4`, checksum filled in.
    pub fn ipv4(
        src: [u8; 4],
        dst: [u8; 4],
        proto: u8,
        id: u16,
        frag: u16,
        opts: &[u8],
        l4: &[u8],
    ) -> Vec<u8> {
        let hl = 20 + opts.len();
        assert!(hl.is_multiple_of(4) && hl <= 60);
        let total = (hl + l4.len()) as u16;
        let mut v = Vec::new();
        v.push(0x40 | (hl / 4) as u8);
        v.push(0);
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&frag.to_be_bytes());
        v.push(64);
        v.push(proto);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(opts);
        let c = internet_checksum(&v);
        v[10..12].copy_from_slice(&c.to_be_bytes());
        v.extend_from_slice(l4);
        v
    }

    /// A TCP header with `flags`, data offset 5 + `opt_words`, then `payload`.
    pub fn tcp(sport: u16, dport: u16, flags: u8, opt_words: usize, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&0u32.to_be_bytes());
        v.push(((5 + opt_words) as u8) << 4);
        v.push(flags);
        v.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        v.extend(std::iter::repeat_n(1u8, opt_words * 4));
        v.extend_from_slice(payload);
        v
    }

    /// A UDP header (length = 8 + payload) then `payload`.
    pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(payload);
        v
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::testpkt::*;
    use super::*;
    use std::vec::Vec;

    const C: [u8; 4] = [198, 51, 100, 7];
    const V: [u8; 4] = [192, 0, 2, 10];

    #[test]
    fn tcp_syn_with_ip_options_and_tcp_options() {
        let p = ipv4(
            C,
            V,
            6,
            1,
            0x4000,
            &[1, 1, 1, 0],
            &tcp(40000, 554, 0x02, 3, b"OPTIONS"),
        );
        let i = parse_l4(&p).unwrap();
        assert_eq!(i.key, FlowKey::new(C, 40000, V, 554, 6));
        assert_eq!(i.ip_header_len, 24);
        assert_eq!(i.payload_offset, 24 + 32);
        assert_eq!(i.payload_len, 7);
        assert_eq!(i.payload(&p), Some(&b"OPTIONS"[..]));
        assert!(i.tcp_flags.syn() && !i.tcp_flags.fin() && !i.tcp_flags.rst());
        assert!(i.is_tcp_syn() && !i.is_tcp_close());
        // The builder's sequence number is 1; the SYN's data (Fast Open) begins at 2.
        assert_eq!((i.tcp_seq, i.payload_seq()), (1, 2));
        assert_eq!(i.fragment, Fragment::Whole);
        assert!(i.has_ports());
        assert_eq!(i.frag_key(), None);
    }

    #[test]
    fn tcp_sequence_numbers() {
        let mut t = tcp(40000, 5060, 0x18, 0, b"INVITE");
        t[4..8].copy_from_slice(&0xffff_fffeu32.to_be_bytes());
        let i = parse_l4(&ipv4(C, V, 6, 1, 0, &[], &t)).unwrap();
        assert_eq!((i.tcp_seq, i.payload_seq()), (0xffff_fffe, 0xffff_fffe));
        // A SYN at the top of the sequence space: its data begins at 0.
        t[13] = 0x02;
        t[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let i = parse_l4(&ipv4(C, V, 6, 1, 0, &[], &t)).unwrap();
        assert_eq!((i.tcp_seq, i.payload_seq()), (u32::MAX, 0));
        // UDP has none.
        let i = parse_l4(&ipv4(C, V, 17, 1, 0, &[], &udp(1, 2, b"x"))).unwrap();
        assert_eq!((i.tcp_seq, i.payload_seq()), (0, 0));
    }

    #[test]
    fn tcp_fin_and_rst_are_closes() {
        for flags in [0x11u8, 0x04, 0x14] {
            let p = ipv4(C, V, 6, 1, 0, &[], &tcp(1, 2, flags, 0, b""));
            let i = parse_l4(&p).unwrap();
            assert!(i.is_tcp_close(), "{flags:#x}");
            assert!(!i.is_tcp_syn());
        }
    }

    #[test]
    fn udp_with_link_padding() {
        let mut p = ipv4(C, V, 17, 1, 0, &[], &udp(5060, 5060, b"INVITE"));
        p.extend_from_slice(&[0; 12]); // Ethernet minimum-frame padding after the IP packet
        let i = parse_l4(&p).unwrap();
        assert_eq!(i.key, FlowKey::new(C, 5060, V, 5060, 17));
        assert_eq!(i.payload(&p), Some(&b"INVITE"[..]));
        assert_eq!(i.tcp_flags, TcpFlags::EMPTY);
    }

    #[test]
    fn udp_length_checks() {
        let mut u = udp(1, 2, b"abcd");
        u[4..6].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(
            parse_l4(&ipv4(C, V, 17, 1, 0, &[], &u)),
            Err(Error::Malformed)
        );
        u[4..6].copy_from_slice(&13u16.to_be_bytes());
        assert_eq!(
            parse_l4(&ipv4(C, V, 17, 1, 0, &[], &u)),
            Err(Error::Malformed)
        );
        u[4..6].copy_from_slice(&10u16.to_be_bytes()); // shorter than the IP payload: trailing bytes
        let p = ipv4(C, V, 17, 1, 0, &[], &u);
        assert_eq!(parse_l4(&p).unwrap().payload(&p), Some(&b"ab"[..]));
        assert_eq!(
            parse_l4(&ipv4(C, V, 17, 1, 0, &[], &u[..7])),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn fragments() {
        // First fragment: MF set, offset 0; the UDP length covers the whole datagram.
        let mut u = udp(7000, 8000, &[0xaa; 16]);
        u[4..6].copy_from_slice(&3000u16.to_be_bytes());
        let p = ipv4(C, V, 17, 0x1234, 0x2000, &[], &u);
        let i = parse_l4(&p).unwrap();
        assert_eq!(i.fragment, Fragment::First { id: 0x1234 });
        assert!(i.has_ports());
        assert_eq!(i.key.src_port, 7000);
        assert_eq!(i.payload_len, 16);
        assert_eq!(
            i.frag_key(),
            Some(FragKey {
                src_addr: C,
                dst_addr: V,
                protocol: 17,
                id: 0x1234
            })
        );

        // Non-first fragment (offset 185 * 8 = 1480 bytes), no L4 header, protocol not checked.
        for proto in [17u8, 6, 1] {
            let p = ipv4(C, V, proto, 0x1234, 185, &[], &[0x55; 40]);
            let i = parse_l4(&p).unwrap();
            assert_eq!(
                i.fragment,
                Fragment::NonFirst {
                    id: 0x1234,
                    offset: 1480,
                    more: false
                }
            );
            assert!(!i.has_ports());
            assert_eq!(
                (i.key.src_port, i.key.dst_port, i.key.protocol),
                (0, 0, proto)
            );
            assert_eq!((i.payload_offset, i.payload_len), (20, 40));
            assert_eq!(i.frag_key().unwrap().id, 0x1234);
        }
        // A fragment that would end past 65535 bytes (ping of death).
        let p = ipv4(C, V, 17, 9, 0x1fff, &[], &[0; 16]);
        assert_eq!(parse_l4(&p), Err(Error::Malformed));
        // A first fragment too short to hold the TCP header.
        let p = ipv4(C, V, 6, 9, 0x2000, &[], &[0; 8]);
        assert_eq!(parse_l4(&p), Err(Error::Truncated));
    }

    #[test]
    fn header_errors() {
        let good = ipv4(C, V, 6, 1, 0, &[], &tcp(1, 2, 0x10, 0, b"x"));
        assert!(parse_l4(&good).is_ok());
        for n in 0..good.len() {
            assert_eq!(parse_l4(&good[..n]), Err(Error::Truncated), "len {n}");
        }
        let mut bad = good.clone();
        bad[0] = 0x65; // version 6
        assert_eq!(parse_l4(&bad), Err(Error::Malformed));
        bad[0] = 0x44; // IHL 4
        assert_eq!(parse_l4(&bad), Err(Error::Malformed));
        bad[0] = 0x4f; // IHL 15 = 60 bytes > 41
        assert_eq!(parse_l4(&bad), Err(Error::Truncated));
        let mut bad = good.clone();
        bad[2..4].copy_from_slice(&19u16.to_be_bytes()); // total < header
        assert_eq!(parse_l4(&bad), Err(Error::Malformed));
        let mut bad = good.clone();
        bad[32] = 0x40; // TCP data offset 4
        assert_eq!(parse_l4(&bad), Err(Error::Malformed));
        let mut bad = good.clone();
        bad[32] = 0x60; // TCP data offset 6: 24-byte header in a 21-byte segment
        assert_eq!(parse_l4(&bad), Err(Error::Truncated));
        let icmp = ipv4(C, V, 1, 1, 0, &[], &[8, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse_l4(&icmp), Err(Error::Unsupported));
    }

    #[test]
    fn head_only_buffers() {
        let p = ipv4(C, V, 6, 1, 0, &[], &tcp(1000, 80, 0x18, 0, &[b'G'; 500]));
        assert_eq!(parse_l4(&p[..60]), Err(Error::Truncated));
        let i = parse_l4_head(&p[..60]).unwrap();
        assert_eq!(i.key.dst_port, 80);
        assert_eq!(
            (i.payload_offset, i.payload_len, i.ip_total_len),
            (40, 500, 540)
        );
        assert_eq!(i.payload(&p[..60]), None);
        assert_eq!(i.payload(&p).map(<[u8]>::len), Some(500));
        // The L4 header must still be whole.
        assert_eq!(parse_l4_head(&p[..39]), Err(Error::Truncated));
    }

    #[test]
    fn checksum_of_a_valid_header_is_zero() {
        let p = ipv4(C, V, 6, 77, 0, &[], &[]);
        assert_eq!(internet_checksum(&p[..20]), 0);
        assert!(Ipv4Packet::new_checked(&p[..]).unwrap().verify_checksum());
        // RFC 1071 example words.
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
        assert_eq!(internet_checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap stand-in for the fuzz target: every prefix of some byte soups.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for round in 0..2000 {
            let len = (round % 90) as usize;
            let mut b: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if let Some(first) = b.first_mut() {
                *first = 0x45 + (round % 3) as u8;
            }
            let _ = parse_l4(&b);
            let _ = parse_l4_head(&b);
            let _ = EthernetFrame::new_checked(&b[..]).map(|e| (e.ethertype(), e.payload().len()));
            let _ = TcpPacket::new_checked(&b[..]).map(|t| t.payload().len());
            let _ = UdpPacket::new_checked(&b[..]).map(|u| u.payload().len());
            let u = Ipv4Packet::new_unchecked(&b[..]);
            let _ = (u.payload(), u.options(), u.fragment(), u.verify_checksum());
            let t = TcpPacket::new_unchecked(&b[..]);
            let _ = (t.payload(), t.options(), t.flags());
        }
    }
}
