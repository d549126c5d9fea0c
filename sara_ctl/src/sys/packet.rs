//! `AF_PACKET` sockets (`SOCK_DGRAM`: without link-layer headers): the gateway's capture, with the
//! kernel's receive timestamps, and the dispatcher's gratuitous ARP.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A packet socket for `ethertype` (host order; `libc::ETH_P_ALL` for every protocol).
pub struct PacketSocket {
    fd: OwnedFd,
    proto_be: u16,
}

/// One received packet.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes copied into the buffer.
    pub len: usize,
    /// Ethertype (host order).
    pub ethertype: u16,
    /// When the kernel received (or sent) it; now if the kernel gave no timestamp.
    pub time: SystemTime,
}

fn sockaddr(proto_be: u16, ifindex: u32) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto_be;
    sll.sll_ifindex = ifindex as i32;
    sll
}

impl PacketSocket {
    /// Opens a packet socket for `ethertype` (needs CAP_NET_RAW), not bound to an interface.
    pub fn open(ethertype: u16) -> io::Result<PacketSocket> {
        let proto_be = ethertype.to_be();
        let fd = super::socket(libc::AF_PACKET, libc::SOCK_DGRAM, i32::from(proto_be))?;
        Ok(PacketSocket { fd, proto_be })
    }

    /// Receives only what interface `ifindex` sends and receives.
    pub fn bind(&self, ifindex: u32) -> io::Result<()> {
        let sll = sockaddr(self.proto_be, ifindex);
        // SAFETY: the address and its size match; the descriptor is open.
        let r = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sets an `int` option at `SOL_SOCKET` level.
    pub fn set_option(&self, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
        super::set_int_option(&self.fd, libc::SOL_SOCKET, opt, v)
    }

    /// Sends `payload` out of interface `ifindex` to link-layer address `dst` (6 bytes).
    pub fn send_to(&self, payload: &[u8], ifindex: u32, dst: [u8; 6]) -> io::Result<()> {
        let mut sll = sockaddr(self.proto_be, ifindex);
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dst);
        // SAFETY: `payload` and `sll` are valid for the sizes given.
        let r = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                payload.as_ptr().cast(),
                payload.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout` for a packet (`Duration::ZERO`: do not wait) and receives it with its
    /// kernel timestamp (`SO_TIMESTAMPNS` must be set). `None` on timeout or interruption.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<Received>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: one pollfd, valid for the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(None);
            }
            return Err(e);
        }
        if r == 0 {
            return Ok(None);
        }
        let mut sll = sockaddr(0, 0);
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16];
        // SAFETY: plain data, zero is valid.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        mh.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
        mh.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control.as_mut_ptr().cast();
        mh.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: every pointer in `mh` points into live buffers of the sizes given.
        let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut mh, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let mut time = SystemTime::now();
        // SAFETY: walking the control messages the kernel wrote into `control`, with libc's macros,
        // which stay within `mh.msg_controllen`.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&mh);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    time = UNIX_EPOCH
                        + Duration::new(
                            ts.tv_sec.max(0) as u64,
                            ts.tv_nsec.clamp(0, 999_999_999) as u32,
                        );
                }
                c = libc::CMSG_NXTHDR(&mh, c);
            }
        }
        Ok(Some(Received {
            len: (n as usize).min(buf.len()),
            ethertype: u16::from_be(sll.sll_protocol),
            time,
        }))
    }
}
