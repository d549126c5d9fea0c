//! Ethernet II frames (with up to two 802.1Q / 802.1ad VLAN tags skipped by [`EthernetFrame::network`]).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  destination MAC address                      |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                    source MAC address                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          EtherType            |   payload …                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! With a VLAN tag, EtherType is 0x8100 (or 0x88a8) and is followed by:
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | PCP |D|        VLAN id        |    inner EtherType            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! SARA forwards by rewriting the destination MAC ([`EthernetFrame::set_dst_addr`]) and leaving the rest
//! of the frame unchanged.

use super::{read_6, read_u16, write_bytes, Error};

/// Length of the Ethernet header without VLAN tags.
pub const HEADER_LEN: usize = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ) service tag.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;

mod field {
    use core::ops::Range;
    pub(super) const DST: Range<usize> = 0..6;
    pub(super) const SRC: Range<usize> = 6..12;
    pub(super) const ETHERTYPE: Range<usize> = 12..14;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps a buffer without checking it (accessors then return 0 / empty for missing bytes).
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer that holds at least the 14-byte header.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> [u8; 6] {
        read_6(self.buffer.as_ref(), field::DST)
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> [u8; 6] {
        read_6(self.buffer.as_ref(), field::SRC)
    }

    /// The outer EtherType (0x8100 for a VLAN-tagged frame).
    pub fn ethertype(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Everything after the 14-byte header.
    pub fn payload(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// The network-layer EtherType and payload, after skipping up to two VLAN tags (802.1ad outer,
    /// 802.1Q inner). [`Error::Truncated`] if a tag is cut short; [`Error::Malformed`] for a third tag.
    pub fn network(&self) -> Result<(u16, &[u8]), Error> {
        let mut ethertype = self.ethertype();
        let mut rest = self.payload();
        for _ in 0..2 {
            if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
                return Ok((ethertype, rest));
            }
            let (tag, after) = rest.split_at_checked(4).ok_or(Error::Truncated)?;
            ethertype = read_u16(tag, 2..4);
            rest = after;
        }
        if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
            return Err(Error::Malformed);
        }
        Ok((ethertype, rest))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address (how SARA hands a frame to a server).
    pub fn set_dst_addr(&mut self, mac: [u8; 6]) {
        write_bytes(self.buffer.as_mut(), field::DST, &mac);
    }

    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, mac: [u8; 6]) {
        write_bytes(self.buffer.as_mut(), field::SRC, &mac);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn frame(types: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf]);
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                v.extend_from_slice(&[0x00, 0x2a]); // TCI: VLAN 42
            }
            v.extend_from_slice(&t.to_be_bytes());
        }
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn plain_frame() {
        let f = frame(&[ETHERTYPE_IPV4], b"ip");
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.dst_addr(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(e.src_addr(), [0xa, 0xb, 0xc, 0xd, 0xe, 0xf]);
        assert_eq!(e.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(e.payload(), b"ip");
        assert_eq!(e.network(), Ok((ETHERTYPE_IPV4, &b"ip"[..])));
        assert_eq!(EthernetFrame::new_checked(&f[..13]), Err(Error::Truncated));
    }

    #[test]
    fn vlan_tags() {
        let f = frame(&[ETHERTYPE_VLAN, ETHERTYPE_IPV4], b"ip");
        assert_eq!(
            EthernetFrame::new_checked(&f[..]).unwrap().network(),
            Ok((ETHERTYPE_IPV4, &b"ip"[..]))
        );
        let f = frame(&[ETHERTYPE_QINQ, ETHERTYPE_VLAN, ETHERTYPE_ARP], b"a");
        assert_eq!(
            EthernetFrame::new_checked(&f[..]).unwrap().network(),
            Ok((ETHERTYPE_ARP, &b"a"[..]))
        );
        let f = frame(
            &[
                ETHERTYPE_QINQ,
                ETHERTYPE_VLAN,
                ETHERTYPE_VLAN,
                ETHERTYPE_IPV4,
            ],
            b"",
        );
        assert_eq!(
            EthernetFrame::new_checked(&f[..]).unwrap().network(),
            Err(Error::Malformed)
        );
        let f = frame(&[ETHERTYPE_VLAN], &[0, 1]);
        assert_eq!(
            EthernetFrame::new_checked(&f[..]).unwrap().network(),
            Err(Error::Truncated)
        );
    }

    #[test]
    fn rewrite_destination() {
        let mut f = frame(&[ETHERTYPE_IPV4], b"ip");
        let mut e = EthernetFrame::new_checked(&mut f[..]).unwrap();
        e.set_dst_addr([0x52, 0x54, 0, 0, 0, 9]);
        e.set_src_addr([0x52, 0x54, 0, 0, 0, 1]);
        assert_eq!(&f[..12], &[0x52, 0x54, 0, 0, 0, 9, 0x52, 0x54, 0, 0, 0, 1]);
        assert_eq!(&f[14..], b"ip");
        // On a short buffer the setter does nothing rather than panic.
        let mut short = [0u8; 3];
        EthernetFrame::new_unchecked(&mut short[..]).set_dst_addr([9; 6]);
        assert_eq!(short, [0; 3]);
    }
}
