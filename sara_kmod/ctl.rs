// SPDX-License-Identifier: GPL-2.0

//! Generic netlink commands of family `sara` (IPVS: `ip_vs_ctl.c`). Numbers and attribute meanings
//! are in `core/src/genl.rs`. Every failure sets an extack message naming what is wrong, and a
//! failed request changes nothing (the new configuration is built aside and published only whole).

use crate::netns::{NetState, Server, Service};
use crate::sara_core::counters::COUNTERS;
use crate::sara_core::genl::*;
use crate::sys::genl::{Reply, Request};
use crate::sys::rcu::WriterToken;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::flags::GFP_KERNEL;
use kernel::c_str;
use kernel::error::code::*;
use kernel::prelude::*;
use kernel::sync::Arc;

/// Dispatches one request.
pub(crate) fn request(st: &NetState, cmd: u8, req: &Request<'_>, w: &WriterToken) -> Result {
    match cmd {
        CMD_SERVICE_ADD => service_add(st, req, w),
        CMD_SERVICE_DEL => service_del(st, req, w),
        CMD_SERVICE_GET => service_get(st, req, w),
        CMD_SERVER_ADD => server_add(st, req, w),
        CMD_SERVER_DEL => server_del(st, req, w),
        CMD_SERVER_GET => server_get(st, req, w),
        CMD_STATS_GET => stats_get(st, req),
        _ => Err(req.error(crate::sys::errno::eopnotsupp(), 0, c_str!("this sara.ko does not implement that command yet"))),
    }
}

/// The (VIP, port, protocol) that names a service in a request.
fn service_key(req: &Request<'_>) -> Result<([u8; 4], u16, u8)> {
    let vip = req.ipv4(A_VIP).ok_or_else(|| req.error(EINVAL, A_VIP, c_str!("missing virtual IP")))?;
    let port = req.u16(A_PORT).ok_or_else(|| req.error(EINVAL, A_PORT, c_str!("missing port")))?;
    let proto = req.u8(A_PROTO).ok_or_else(|| req.error(EINVAL, A_PROTO, c_str!("missing protocol")))?;
    if proto != 6 && proto != 17 {
        return Err(req.error(EINVAL, A_PROTO, c_str!("protocol must be tcp (6) or udp (17)")));
    }
    Ok((vip, port, proto))
}

/// A unicast address a host can own: not 0.0.0.0, not multicast, not broadcast.
fn unicast_ipv4(a: [u8; 4]) -> bool {
    a != [0; 4] && a[0] < 224
}

fn service_add(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let (vip, port, proto) = service_key(req)?;
    if !unicast_ipv4(vip) {
        return Err(req.error(EINVAL, A_VIP, c_str!("virtual IP must be a unicast address")));
    }
    let cfg = st.config.read_writer(w);
    if cfg.service(vip, port, proto).is_some() {
        return Err(req.error(EEXIST, A_VIP, c_str!("this service already exists")));
    }
    let svc = Service {
        vip,
        port,
        proto,
        sig: req.u8(A_SIGPROTO).unwrap_or(SIG_NONE),
        policy: req.u8(A_POLICY).unwrap_or(POLICY_HASH),
        timeout_s: req.u32(A_TIMEOUT).unwrap_or(DEFAULT_TIMEOUT_S),
        down_action: req.u8(A_DOWN_ACTION).unwrap_or(DOWN_REDISPATCH),
        packets: Arc::new(AtomicU64::new(0), GFP_KERNEL)?,
    };
    let new = cfg.with_services(|_| true, Some(svc))?;
    st.config.replace(w, new);
    Ok(())
}

fn service_del(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let (vip, port, proto) = service_key(req)?;
    let cfg = st.config.read_writer(w);
    if cfg.service(vip, port, proto).is_none() {
        return Err(req.error(ENOENT, A_VIP, c_str!("no such service")));
    }
    let new = cfg.with_services(|s| !(s.vip == vip && s.port == port && s.proto == proto), None)?;
    st.config.replace(w, new);
    Ok(())
}

/// Upper bound of one service's or server's nest in a reply.
const NEST_SIZE: u32 = 160;

fn list_size(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(NEST_SIZE).saturating_add(64)
}

fn put_service(r: &mut Reply<'_>, s: &Service) -> Result {
    let n = r.nest(A_SERVICE)?;
    r.bytes(A_VIP, &s.vip)?;
    r.u16(A_PORT, s.port)?;
    r.u8(A_PROTO, s.proto)?;
    r.u8(A_SIGPROTO, s.sig)?;
    r.u8(A_POLICY, s.policy)?;
    r.u32(A_TIMEOUT, s.timeout_s)?;
    r.u8(A_DOWN_ACTION, s.down_action)?;
    r.u64(A_PACKETS, s.packets.load(Ordering::Relaxed))?;
    r.end(n);
    Ok(())
}

fn service_get(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let cfg = st.config.read_writer(w);
    let mut r = req.reply(list_size(cfg.services.len()))?;
    for s in cfg.services.iter() {
        put_service(&mut r, s)?;
    }
    r.send()
}

fn server_add(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let id = req.u32(A_SERVER_ID).ok_or_else(|| req.error(EINVAL, A_SERVER_ID, c_str!("missing server id")))?;
    let id = u16::try_from(id).map_err(|_| req.error(EINVAL, A_SERVER_ID, c_str!("server id must be 1..65535")))?;
    let ip = req.ipv4(A_SERVER_IP).ok_or_else(|| req.error(EINVAL, A_SERVER_IP, c_str!("missing server IP")))?;
    if !unicast_ipv4(ip) {
        return Err(req.error(EINVAL, A_SERVER_IP, c_str!("server IP must be a unicast address")));
    }
    let (mac_len, mac) = req
        .bytes::<6>(A_SERVER_MAC)
        .ok_or_else(|| req.error(EINVAL, A_SERVER_MAC, c_str!("missing server MAC")))?;
    if mac_len != 6 || mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(req.error(EINVAL, A_SERVER_MAC, c_str!("server MAC must be a 6-byte unicast address")));
    }
    let mut name = [0u8; 16];
    let ifname = req
        .string(A_IFNAME, &mut name)
        .ok_or_else(|| req.error(EINVAL, A_IFNAME, c_str!("missing interface name")))?;
    let ifindex = match req.net().ifindex(ifname) {
        Ok(i) => i,
        Err(e) if e == ENODEV => {
            return Err(req.error(ENODEV, A_IFNAME, c_str!("no such interface in this network namespace")))
        }
        Err(_) => return Err(req.error(EINVAL, A_IFNAME, c_str!("interface is not an Ethernet device"))),
    };
    let cfg = st.config.read_writer(w);
    if cfg.servers.iter().any(|s| s.id == id) {
        return Err(req.error(EEXIST, A_SERVER_ID, c_str!("a server with this id already exists")));
    }
    let server = Server {
        id,
        ip,
        mac,
        ifindex,
        ifname: name,
        weight: req.u32(A_WEIGHT).unwrap_or(1),
        state: STATE_UP,
        packets: Arc::new(AtomicU64::new(0), GFP_KERNEL)?,
    };
    let new = cfg.with_servers(|_| true, Some(server))?;
    st.config.replace(w, new);
    Ok(())
}

fn server_del(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let id = req.u32(A_SERVER_ID).ok_or_else(|| req.error(EINVAL, A_SERVER_ID, c_str!("missing server id")))?;
    let cfg = st.config.read_writer(w);
    if !cfg.servers.iter().any(|s| u32::from(s.id) == id) {
        return Err(req.error(ENOENT, A_SERVER_ID, c_str!("no such server")));
    }
    let new = cfg.with_servers(|s| u32::from(s.id) != id, None)?;
    st.config.replace(w, new);
    Ok(())
}

fn put_server(r: &mut Reply<'_>, s: &Server) -> Result {
    let n = r.nest(A_SERVER)?;
    r.u32(A_SERVER_ID, u32::from(s.id))?;
    r.bytes(A_SERVER_IP, &s.ip)?;
    r.bytes(A_SERVER_MAC, &s.mac)?;
    let len = s.ifname.iter().position(|&b| b == 0).unwrap_or(15);
    r.bytes(A_IFNAME, s.ifname.get(..=len).unwrap_or(&[0]))?;
    r.u32(A_IFINDEX, s.ifindex as u32)?;
    r.u32(A_WEIGHT, s.weight)?;
    r.u8(A_STATE, s.state)?;
    r.u64(A_PACKETS, s.packets.load(Ordering::Relaxed))?;
    r.end(n);
    Ok(())
}

fn server_get(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let cfg = st.config.read_writer(w);
    let mut r = req.reply(list_size(cfg.servers.len()))?;
    for s in cfg.servers.iter() {
        put_server(&mut r, s)?;
    }
    r.send()
}

fn stats_get(st: &NetState, req: &Request<'_>) -> Result {
    let mut r = req.reply(list_size(1).saturating_add(16 * COUNTERS.len() as u32))?;
    let n = r.nest(A_STATS)?;
    for id in 0..COUNTERS.len() {
        r.counter(id, st.counters.get(id))?;
    }
    r.end(n);
    r.send()
}
