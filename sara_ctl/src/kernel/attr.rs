//! The netlink attribute, the transport's own type: [`Attr`] (a type and its payload bytes), its
//! constructors and length-checked getters, and the encoding and parsing of a run of attributes.
//!
//! One attribute on the wire (`struct nlattr`, host byte order), padded to 4 bytes:
//!
//! ```text
//!  0               2               4
//! +---------------+---------------+---------------------------+---------+
//! | nla_len (u16) | nla_type (u16)| payload (nla_len - 4)     | padding |
//! +---------------+---------------+---------------------------+---------+
//!   nla_len counts header + payload, not the padding; nla_type's top bits are flags
//!   (NLA_F_NESTED 0x8000, NLA_F_NET_BYTEORDER 0x4000)
//! ```

use std::net::Ipv4Addr;

use neli::FromBytesWithInput;

use crate::error::{attr_label, Error};

/// One netlink attribute: its type (flags masked off) and its payload bytes (no padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Attribute type, without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
    pub ty: u16,
    /// Payload bytes.
    pub payload: Vec<u8>,
}

impl Attr {
    /// Attribute with raw bytes.
    pub fn bytes(ty: u16, payload: impl Into<Vec<u8>>) -> Self {
        Attr {
            ty,
            payload: payload.into(),
        }
    }
    /// `NLA_U8`.
    pub fn u8(ty: u16, v: u8) -> Self {
        Attr::bytes(ty, [v])
    }
    /// `NLA_U16`, host order.
    pub fn u16(ty: u16, v: u16) -> Self {
        Attr::bytes(ty, v.to_ne_bytes())
    }
    /// `NLA_U32`, host order.
    pub fn u32(ty: u16, v: u32) -> Self {
        Attr::bytes(ty, v.to_ne_bytes())
    }
    /// `NLA_BE32` carrying an IPv4 address: the four address bytes in network order.
    pub fn ipv4(ty: u16, a: Ipv4Addr) -> Self {
        Attr::bytes(ty, a.octets())
    }
    /// `NLA_NUL_STRING`.
    pub fn string(ty: u16, s: &str) -> Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        Attr::bytes(ty, v)
    }

    fn want_len(&self, n: usize) -> Result<&[u8], Error> {
        if self.payload.len() == n {
            Ok(&self.payload)
        } else {
            Err(Error::Protocol(format!(
                "attribute {} has {} bytes, expected {n}",
                attr_label(self.ty),
                self.payload.len()
            )))
        }
    }
    /// Read an `NLA_U8`.
    pub fn get_u8(&self) -> Result<u8, Error> {
        Ok(self.want_len(1)?[0])
    }
    /// Read an `NLA_U16` (host order).
    pub fn get_u16(&self) -> Result<u16, Error> {
        let b = self.want_len(2)?;
        Ok(u16::from_ne_bytes([b[0], b[1]]))
    }
    /// Read an `NLA_U32` (host order).
    pub fn get_u32(&self) -> Result<u32, Error> {
        let b = self.want_len(4)?;
        Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Read an `NLA_U64` (host order; a 4-byte payload is read as a u32, like `nla_get_uint`).
    pub fn get_u64(&self) -> Result<u64, Error> {
        match self.payload.len() {
            4 => self.get_u32().map(u64::from),
            _ => {
                let b = self.want_len(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(u64::from_ne_bytes(a))
            }
        }
    }
    /// Read an `NLA_BE32` IPv4 address.
    pub fn get_ipv4(&self) -> Result<Ipv4Addr, Error> {
        let b = self.want_len(4)?;
        Ok(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }
    /// Read a 6-byte MAC address.
    pub fn get_mac(&self) -> Result<[u8; 6], Error> {
        let b = self.want_len(6)?;
        let mut m = [0u8; 6];
        m.copy_from_slice(b);
        Ok(m)
    }
    /// Read a (NUL-terminated) string; bytes after the first NUL are ignored.
    pub fn get_string(&self) -> String {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        String::from_utf8_lossy(&self.payload[..end]).into_owned()
    }
    /// Parse the payload as nested attributes.
    pub fn nested(&self) -> Result<Vec<Attr>, Error> {
        parse_attrs(&self.payload).map_err(|e| {
            Error::Protocol(format!("nest {} does not parse: {e}", attr_label(self.ty)))
        })
    }
}

/// Netlink attributes are padded to 4 bytes.
pub(crate) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parse a run of netlink attributes (e.g. a nest's payload). Types have their flag bits masked.
pub fn parse_attrs(bytes: &[u8]) -> Result<Vec<Attr>, String> {
    // neli strips each attribute's padding with read_exact: give the last one its padding even if
    // the sender did not (the kernel always does; a buffer cut short does not).
    let mut padded = bytes.to_vec();
    padded.resize(align4(bytes.len()), 0);
    let len = padded.len();
    let buf = neli::types::GenlBuffer::<u16, neli::types::Buffer>::from_bytes_with_input(
        &mut std::io::Cursor::new(padded),
        len,
    )
    .map_err(|e| format!("malformed attributes: {e}"))?;
    Ok(buf
        .iter()
        .map(|a| Attr {
            ty: *a.nla_type().nla_type(),
            payload: a.nla_payload().as_ref().to_vec(),
        })
        .collect())
}

/// Flag of a nested netlink attribute (`NLA_F_NESTED`), required by strict policies.
pub const NLA_F_NESTED: u16 = 0x8000;

/// Attributes encoded as netlink attributes (header, payload, padding to 4): a nest's payload.
pub fn encode_attrs(attrs: &[Attr]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in attrs {
        let len = 4 + a.payload.len();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&a.ty.to_ne_bytes());
        out.extend_from_slice(&a.payload);
        out.resize(out.len() + ((4 - len % 4) % 4), 0);
    }
    out
}

impl Attr {
    /// A nest of type `ty` (sent with `NLA_F_NESTED` set in the type) holding `attrs`.
    pub fn nest(ty: u16, attrs: &[Attr]) -> Self {
        Attr::bytes(ty | NLA_F_NESTED, encode_attrs(attrs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sara_core::genl;

    /// A test-side attribute encoder, independent of neli: header, payload, padding.
    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize(align4(v.len()), 0);
        v
    }

    #[test]
    fn scalar_getters_check_lengths() {
        assert_eq!(Attr::u16(1, 0x1234).get_u16().unwrap(), 0x1234);
        assert_eq!(Attr::bytes(1, 7u64.to_ne_bytes()).get_u64().unwrap(), 7);
        assert_eq!(Attr::u32(1, 9).get_u64().unwrap(), 9);
        assert_eq!(Attr::bytes(1, *b"eth0\0\0\0").get_string(), "eth0");
        assert_eq!(Attr::bytes(1, *b"eth0").get_string(), "eth0");
        let e = Attr::bytes(genl::A_SERVER_MAC, [1, 2, 3, 4, 5])
            .get_mac()
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("A_SERVER_MAC (9) has 5 bytes, expected 6"),
            "{e}"
        );
        assert!(Attr::bytes(genl::A_PORT, [1]).get_u16().is_err());
        assert!(Attr::bytes(genl::A_PACKETS, [1, 2, 3]).get_u64().is_err());
    }

    #[test]
    fn parse_attrs_tolerates_missing_final_padding() {
        let mut b = nla(1, &[1, 2, 3, 4]);
        b.extend(&nla(2, &[7])[..5]); // last attribute without its padding
        let a = parse_attrs(&b).unwrap();
        assert_eq!(a, vec![Attr::bytes(1, [1, 2, 3, 4]), Attr::bytes(2, [7])]);
        assert!(parse_attrs(&[8, 0, 1]).is_err());
    }
}
