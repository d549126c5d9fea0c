//! The only place in `sarectl` with `unsafe`: thin, safe wrappers over the few system calls that
//! the standard library and `neli` do not cover (as `sara_kmod/sys/` is for the module). Every
//! `unsafe` block says why it is sound (`// SAFETY:`); the rest of the crate denies `unsafe_code`.

pub mod packet;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The index of network interface `name` in this namespace.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    // SAFETY: a NUL-terminated C string that lives across the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(i)
}

/// A new socket (`socket(2)`, close-on-exec), owned.
pub fn socket(domain: libc::c_int, ty: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); no pointers.
    let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sets an `int` socket option.
pub fn set_int_option(
    fd: &impl AsRawFd,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    // SAFETY: an int option with its exact size, on an open descriptor; `v` lives across the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets `SO_RCVTIMEO`: a blocking receive on `fd` fails with `EAGAIN` after `t`.
pub fn set_recv_timeout(fd: &impl AsRawFd, t: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: t.as_secs() as libc::time_t,
        tv_usec: t.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: the fd is open; `tv` lives across the call and its size is passed exactly.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `msg` on a netlink socket to the kernel (destination port 0).
pub fn netlink_send_to_kernel(fd: &impl AsRawFd, msg: &[u8]) -> io::Result<usize> {
    // SAFETY: an all-zero sockaddr_nl is valid plain data.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: `msg` is valid for its length; `sa` and its size match.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// Receives one datagram on `fd` into `buf` (blocking).
pub fn recv(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of its length.
    let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Calls `handler` on SIGTERM and SIGINT. The handler must be async-signal-safe (e.g. store to an
/// atomic and nothing else).
pub fn on_stop_signals(handler: extern "C" fn(libc::c_int)) {
    let h = handler as libc::sighandler_t;
    // SAFETY: installing a handler function; the caller promises it is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, h);
        libc::signal(libc::SIGINT, h);
    }
}

/// Runs the calling process under SCHED_RR at `priority` (1-99) and locks its memory (current and
/// future pages), so neither a CPU-bound neighbour nor paging delays it: the failover daemon's
/// heartbeats. Both are tried; the first failure is returned (the scheduling change stays if only the
/// lock failed).
pub fn realtime(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: libc::c_int::from(priority),
    };
    // SAFETY: `param` is a valid sched_param for the call's duration; pid 0 is this process.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: mlockall takes flags only.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("memory not locked: {e}")));
    }
    Ok(())
}
