//! The virtual IP on the cluster interface: added at takeover and announced with gratuitous ARP
//! (so the gateway's and the servers' neighbour entries point at this dispatcher at once, instead of
//! after their ARP entries age), removed when stepping down.
//!
//! The address is added and removed with rtnetlink (what `ip -4 addr add VIP/32 dev DEV` does, without
//! starting a program), the announcement is sent on a packet socket: an ARP request from VIP for VIP
//! (RFC 5227 "ARP announcement") and an ARP reply of the same, both to the broadcast address.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::node::Vip;

/// The VIP on one interface.
pub struct IfVip {
    vip: Ipv4Addr,
    dev: String,
}

impl IfVip {
    /// For `vip` on `dev` (checked to exist).
    pub fn new(vip: Ipv4Addr, dev: &str) -> Result<IfVip, String> {
        ifindex(dev).map_err(|e| format!("interface {dev}: {e}"))?;
        Ok(IfVip {
            vip,
            dev: dev.to_string(),
        })
    }

    /// Adds (`add`) or removes the address with one rtnetlink request (RTM_NEWADDR / RTM_DELADDR),
    /// in-process: a takeover must not wait for a program to start. Returns the kernel's errno.
    fn addr(&self, add: bool) -> Result<(), i32> {
        let idx = ifindex(&self.dev).map_err(|e| e.raw_os_error().unwrap_or(libc::ENODEV))?;
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
    // SAFETY: plain socket(2).
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `m` is valid for its length; the destination is the kernel (a zeroed sockaddr_nl).
    let sent = unsafe {
        let mut sa: libc::sockaddr_nl = std::mem::zeroed();
        sa.nl_family = libc::AF_NETLINK as u16;
        libc::sendto(
            fd.as_raw_fd(),
            m.as_ptr().cast(),
            m.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is valid for its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < (NLMSG_HDRLEN + 4) as isize {
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

fn ifindex(dev: &str) -> io::Result<u32> {
    let name = std::ffi::CString::new(dev)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    // SAFETY: a C string that lives across the call.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(i)
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
    let idx = ifindex(dev)?;
    let mac = mac_of(dev)?;
    let proto = (libc::ETH_P_ARP as u16).to_be();
    // SAFETY: plain socket(2).
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            i32::from(proto),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = idx as i32;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    for op in [1u16, 2] {
        let p = arp(op, mac, ip);
        // SAFETY: `p` and `sll` are valid for the sizes given.
        let r = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                p.as_ptr().cast(),
                p.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
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
