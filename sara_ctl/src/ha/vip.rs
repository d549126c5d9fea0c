//! The virtual IP on the cluster interface: added at takeover and announced with gratuitous ARP
//! (so the gateway's and the servers' neighbour entries point at this dispatcher at once, instead of
//! after their ARP entries age), removed when stepping down.
//!
//! The address is added and removed with rtnetlink (what `ip -4 addr add VIP/32 dev DEV` does, without
//! starting a program), the announcement is sent on a packet socket: an ARP request from VIP for VIP
//! (RFC 5227 "ARP announcement") and an ARP reply of the same, both to the broadcast address.

use crate::sys::packet::PacketSocket;
use std::io;
use std::net::Ipv4Addr;

use super::node::Vip;

/// The VIP on one interface.
pub struct IfVip {
    vip: Ipv4Addr,
    dev: String,
}

impl IfVip {
    /// For `vip` on `dev` (checked to exist).
    pub fn new(vip: Ipv4Addr, dev: &str) -> Result<IfVip, String> {
        crate::sys::if_index(dev).map_err(|e| format!("interface {dev}: {e}"))?;
        Ok(IfVip {
            vip,
            dev: dev.to_string(),
        })
    }

    /// Adds (`add`) or removes the address with one rtnetlink request (RTM_NEWADDR / RTM_DELADDR),
    /// in-process: a takeover must not wait for a program to start. Returns the kernel's errno.
    fn addr(&self, add: bool) -> Result<(), i32> {
        let idx = crate::sys::if_index(&self.dev)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::ENODEV))?;
        rtnl_addr(add, idx, self.vip)
    }
}

/// One RTM_NEWADDR/RTM_DELADDR for `ip/32` on interface `idx`, acked.
fn rtnl_addr(add: bool, idx: u32, ip: Ipv4Addr) -> Result<(), i32> {
    const NLMSG_HDRLEN: usize = 16;
    const IFADDRMSG_LEN: usize = 8;
    const RTA_LEN: usize = 8; // header 4 + IPv4 4
    let len = NLMSG_HDRLEN + IFADDRMSG_LEN + 2 * RTA_LEN;
    let mut m = Vec::with_capacity(len);
    let (ty, flags) = if add {
        (
            libc::RTM_NEWADDR,
            libc::NLM_F_REQUEST | libc::NLM_F_ACK | libc::NLM_F_CREATE | libc::NLM_F_EXCL,
        )
    } else {
        (libc::RTM_DELADDR, libc::NLM_F_REQUEST | libc::NLM_F_ACK)
    };
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&(flags as u16).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
                                              // struct ifaddrmsg: family, prefixlen, flags, scope, index
    m.extend_from_slice(&[libc::AF_INET as u8, 32, 0, libc::RT_SCOPE_UNIVERSE]);
    m.extend_from_slice(&idx.to_ne_bytes());
    for attr in [libc::IFA_LOCAL, libc::IFA_ADDRESS] {
        m.extend_from_slice(&(RTA_LEN as u16).to_ne_bytes());
        m.extend_from_slice(&attr.to_ne_bytes());
        m.extend_from_slice(&ip.octets());
    }
    let err = |e: io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    let fd =
        crate::sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE).map_err(err)?;
    crate::sys::netlink_send_to_kernel(&fd, &m).map_err(err)?;
    let mut buf = [0u8; 1024];
    let n = crate::sys::recv(&fd, &mut buf).map_err(err)?;
    if n < NLMSG_HDRLEN + 4 {
        return Err(libc::EIO);
    }
    // The ack: an NLMSG_ERROR whose error field (after the header) is 0 or -errno.
    let ty = u16::from_ne_bytes([buf[4], buf[5]]);
    if ty != libc::NLMSG_ERROR as u16 {
        return Err(libc::EIO);
    }
    let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
    if err == 0 {
        Ok(())
    } else {
        Err(-err)
    }
}

fn mac_of(dev: &str) -> io::Result<[u8; 6]> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{dev}/address"))?;
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() != 6 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "no MAC address"));
    }
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad MAC"))?;
    }
    Ok(mac)
}

/// An ARP packet (no Ethernet header: the packet socket adds it): `op` 1 request, 2 reply, sender and
/// target both `ip`.
fn arp(op: u16, mac: [u8; 6], ip: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&op.to_be_bytes());
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&ip.octets());
    if op == 2 {
        p[18..24].copy_from_slice(&mac);
    }
    p[24..28].copy_from_slice(&ip.octets());
    p
}

/// Sends the gratuitous ARP request and reply on `dev`.
pub fn gratuitous_arp(dev: &str, ip: Ipv4Addr) -> io::Result<()> {
    let idx = crate::sys::if_index(dev)?;
    let mac = mac_of(dev)?;
    let sock = PacketSocket::open(libc::ETH_P_ARP as u16)?;
    for op in [1u16, 2] {
        sock.send_to(&arp(op, mac, ip), idx, [0xff; 6])?;
    }
    Ok(())
}

impl Vip for IfVip {
    fn up(&mut self) -> Result<(), String> {
        match self.addr(true) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => {
                return Err(format!(
                    "adding {} to {}: {}",
                    self.vip,
                    self.dev,
                    io::Error::from_raw_os_error(e)
                ))
            }
        }
        self.announce()
    }

    fn announce(&mut self) -> Result<(), String> {
        gratuitous_arp(&self.dev, self.vip).map_err(|e| {
            format!(
                "gratuitous ARP for {} on {} (needs CAP_NET_RAW): {e}",
                self.vip, self.dev
            )
        })
    }

    fn down(&mut self) -> Result<(), String> {
        match self.addr(false) {
            Ok(()) | Err(libc::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(format!(
                "removing {} from {}: {}",
                self.vip,
                self.dev,
                io::Error::from_raw_os_error(e)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_announcement_layout() {
        let mac = [2, 0, 0, 0, 0, 9];
        let ip = Ipv4Addr::new(10, 0, 0, 100);
        let req = arp(1, mac, ip);
        assert_eq!(&req[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&req[8..14], &mac);
        assert_eq!(&req[14..18], &[10, 0, 0, 100]);
        assert_eq!(&req[18..24], &[0; 6]);
        assert_eq!(&req[24..28], &[10, 0, 0, 100]);
        let rep = arp(2, mac, ip);
        assert_eq!(&rep[6..8], &[0, 2]);
        assert_eq!(&rep[18..24], &mac);
    }
}
