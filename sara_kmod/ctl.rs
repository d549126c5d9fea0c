// SPDX-License-Identifier: GPL-2.0

//! Generic netlink commands of family `sara` (IPVS: `ip_vs_ctl.c`). Numbers and attribute meanings
//! are in `core/src/genl.rs`. Every failure sets an extack message naming what is wrong, and a
//! failed request changes nothing (the new configuration is built aside and published only whole).

use crate::netns::{Config, NetState, Server, ServerLive, Service};
use crate::sara_core::admission::Thresholds;
use crate::sara_core::counters::{self as cn, COUNTERS};
use crate::sara_core::flow::{FlowKey, Wildcard};
use crate::sara_core::genl::*;
use crate::sara_core::msg::repl::{self, CallRecord, Record};
use crate::sara_core::table::{FlowInfo, Stamp, TableCursor, Walk};
use crate::sys::genl::{Attrs, Dump, Request, Writer};
use crate::sys::rcu::WriterToken;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::c_str;
use kernel::error::code::*;
use kernel::prelude::*;
use kernel::str::CStr;
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
        CMD_PUSH => push(st, req, w),
        CMD_CONFIG_SET => config_set(st, req, w),
        CMD_ANNOUNCE => announce(st, req),
        CMD_HA_SET => ha_set(st, req, w),
        CMD_HA_GET => ha_get(st, req),
        CMD_REPL_GET => repl_get(st, req),
        CMD_REPL_APPLY => repl_apply(st, req, w),
        _ => Err(req.error(
            crate::sys::errno::eopnotsupp(),
            0,
            c_str!("this sara.ko does not implement that command yet"),
        )),
    }
}

/// Where the attributes being read sit: at the top level of the request, or inside a nest (then
/// errors point at the nest, as netlink cannot point inside it).
#[derive(Clone, Copy)]
struct At<'r, 'a> {
    req: &'r Request<'a>,
    nest: Option<u16>,
}

impl At<'_, '_> {
    fn err(&self, e: Error, attr: u16, msg: &'static CStr) -> Error {
        self.req.error(e, self.nest.unwrap_or(attr), msg)
    }
}

/// The (VIP, port, protocol) that names a service.
fn service_key(at: At<'_, '_>, a: &impl Attrs) -> Result<([u8; 4], u16, u8)> {
    let vip = a
        .ipv4(A_VIP)
        .ok_or_else(|| at.err(EINVAL, A_VIP, c_str!("missing virtual IP")))?;
    let port = a
        .u16(A_PORT)
        .ok_or_else(|| at.err(EINVAL, A_PORT, c_str!("missing port")))?;
    let proto = a
        .u8(A_PROTO)
        .ok_or_else(|| at.err(EINVAL, A_PROTO, c_str!("missing protocol")))?;
    if proto != 6 && proto != 17 {
        return Err(at.err(
            EINVAL,
            A_PROTO,
            c_str!("protocol must be tcp (6) or udp (17)"),
        ));
    }
    Ok((vip, port, proto))
}

/// A unicast address a host can own: not 0.0.0.0, not multicast, not broadcast.
fn unicast_ipv4(a: [u8; 4]) -> bool {
    a != [0; 4] && a[0] < 224
}

/// A new service from attributes (not yet checked against the configuration).
fn parse_service(at: At<'_, '_>, a: &impl Attrs) -> Result<Service> {
    let (vip, port, proto) = service_key(at, a)?;
    if !unicast_ipv4(vip) {
        return Err(at.err(
            EINVAL,
            A_VIP,
            c_str!("virtual IP must be a unicast address"),
        ));
    }
    Ok(Service {
        vip,
        port,
        proto,
        sig: a.u8(A_SIGPROTO).unwrap_or(SIG_NONE),
        policy: a.u8(A_POLICY).unwrap_or(POLICY_HASH),
        timeout_s: a.u32(A_TIMEOUT).unwrap_or(DEFAULT_TIMEOUT_S),
        down_action: a.u8(A_DOWN_ACTION).unwrap_or(DOWN_REDISPATCH),
        packets: Arc::new(AtomicU64::new(0), GFP_KERNEL)?,
    })
}

/// A new server from attributes (not yet checked against the configuration); resolves its
/// interface in the request's namespace.
fn parse_server(at: At<'_, '_>, a: &impl Attrs) -> Result<Server> {
    let id = a
        .u32(A_SERVER_ID)
        .ok_or_else(|| at.err(EINVAL, A_SERVER_ID, c_str!("missing server id")))?;
    let id = u16::try_from(id)
        .map_err(|_| at.err(EINVAL, A_SERVER_ID, c_str!("server id must be 1..65535")))?;
    let ip = a
        .ipv4(A_SERVER_IP)
        .ok_or_else(|| at.err(EINVAL, A_SERVER_IP, c_str!("missing server IP")))?;
    if !unicast_ipv4(ip) {
        return Err(at.err(
            EINVAL,
            A_SERVER_IP,
            c_str!("server IP must be a unicast address"),
        ));
    }
    let (mac_len, mac) = a
        .bytes::<6>(A_SERVER_MAC)
        .ok_or_else(|| at.err(EINVAL, A_SERVER_MAC, c_str!("missing server MAC")))?;
    if mac_len != 6 || mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(at.err(
            EINVAL,
            A_SERVER_MAC,
            c_str!("server MAC must be a 6-byte unicast address"),
        ));
    }
    let mut name = [0u8; 16];
    let ifname = a
        .string(A_IFNAME, &mut name)
        .ok_or_else(|| at.err(EINVAL, A_IFNAME, c_str!("missing interface name")))?;
    let ifindex = match at.req.net().ifindex(ifname) {
        Ok(i) => i,
        Err(e) if e == ENODEV => {
            return Err(at.err(
                ENODEV,
                A_IFNAME,
                c_str!("no such interface in this network namespace"),
            ))
        }
        Err(_) => {
            return Err(at.err(
                EINVAL,
                A_IFNAME,
                c_str!("interface is not an Ethernet device"),
            ))
        }
    };
    Ok(Server {
        id,
        ip,
        mac,
        ifindex,
        ifname: name,
        weight: a.u32(A_WEIGHT).unwrap_or(1),
        live: Arc::new(ServerLive::new(), GFP_KERNEL)?,
    })
}

/// Publishes configuration `new` (with IPv4 defragmentation on while it has services:
/// [`NetState::publish`]).
fn publish(st: &NetState, req: &Request<'_>, w: &WriterToken, new: KBox<Config>) -> Result {
    st.publish(w, new).map_err(|e| {
        req.error(
            e,
            0,
            c_str!("cannot switch on IPv4 defragmentation (nf_defrag_ipv4) in this namespace"),
        )
    })
}

fn service_add(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let svc = parse_service(At { req, nest: None }, req)?;
    let cfg = st.config.read_writer(w);
    if cfg.service(svc.vip, svc.port, svc.proto).is_some() {
        return Err(req.error(EEXIST, A_VIP, c_str!("this service already exists")));
    }
    st.ensure_table(w)?;
    let new = cfg.with_services(|_| true, Some(svc))?;
    publish(st, req, w, new)
}

fn service_del(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let (vip, port, proto) = service_key(At { req, nest: None }, req)?;
    let cfg = st.config.read_writer(w);
    if cfg.service(vip, port, proto).is_none() {
        return Err(req.error(ENOENT, A_VIP, c_str!("no such service")));
    }
    let new = cfg.with_services(
        |s| !(s.vip == vip && s.port == port && s.proto == proto),
        None,
    )?;
    publish(st, req, w, new)
}

/// Upper bound of one service's or server's nest in a reply.
const NEST_SIZE: u32 = 160;

fn list_size(n: usize) -> u32 {
    u32::try_from(n)
        .unwrap_or(u32::MAX)
        .saturating_mul(NEST_SIZE)
        .saturating_add(64)
}

fn put_service(r: &mut Writer, s: &Service) -> Result {
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
    let server = parse_server(At { req, nest: None }, req)?;
    let cfg = st.config.read_writer(w);
    if cfg.servers.iter().any(|s| s.id == server.id) {
        return Err(req.error(
            EEXIST,
            A_SERVER_ID,
            c_str!("a server with this id already exists"),
        ));
    }
    let new = cfg.with_servers(|_| true, Some(server))?;
    publish(st, req, w, new)
}

/// Most services or servers one `CMD_CONFIG_SET` may carry.
const MAX_CONFIG_ITEMS: usize = 4096;

/// `CMD_CONFIG_SET` (`sarectl apply`): the whole configuration, validated whole, published at once.
/// Services and servers that exist before and after keep their counters and pushed state.
fn config_set(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let cfg = st.config.read_writer(w);
    let mut services: KVec<Service> = KVec::new();
    for idx in 0.. {
        let Some(n) = req.nest(A_SERVICE, idx)? else {
            break;
        };
        let at = At {
            req,
            nest: Some(A_SERVICE),
        };
        if services.len() >= MAX_CONFIG_ITEMS {
            return Err(at.err(EINVAL, 0, c_str!("too many services")));
        }
        let mut svc = parse_service(at, &n)?;
        if services
            .iter()
            .any(|s| (s.vip, s.port, s.proto) == (svc.vip, svc.port, svc.proto))
        {
            return Err(at.err(EEXIST, 0, c_str!("the same service is listed twice")));
        }
        if let Some(old) = cfg.service(svc.vip, svc.port, svc.proto) {
            svc.packets = old.packets.clone();
        }
        services.push(svc, GFP_KERNEL)?;
    }
    let mut servers: KVec<Server> = KVec::new();
    for idx in 0.. {
        let Some(n) = req.nest(A_SERVER, idx)? else {
            break;
        };
        let at = At {
            req,
            nest: Some(A_SERVER),
        };
        if servers.len() >= MAX_CONFIG_ITEMS {
            return Err(at.err(EINVAL, 0, c_str!("too many servers")));
        }
        let mut server = parse_server(at, &n)?;
        if servers.iter().any(|s| s.id == server.id) {
            return Err(at.err(EEXIST, 0, c_str!("the same server id is listed twice")));
        }
        let same = |o: &&Server| {
            (o.id, o.ip, o.mac, o.ifindex) == (server.id, server.ip, server.mac, server.ifindex)
        };
        if let Some(old) = cfg.servers.iter().find(same) {
            server.live = old.live.clone();
        }
        servers.push(server, GFP_KERNEL)?;
    }
    if !services.is_empty() {
        st.ensure_table(w)?;
    }
    publish(st, req, w, Config::new(services, servers)?)
}

fn server_del(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let id = req
        .u32(A_SERVER_ID)
        .ok_or_else(|| req.error(EINVAL, A_SERVER_ID, c_str!("missing server id")))?;
    let cfg = st.config.read_writer(w);
    if !cfg.servers.iter().any(|s| u32::from(s.id) == id) {
        return Err(req.error(ENOENT, A_SERVER_ID, c_str!("no such server")));
    }
    let new = cfg.with_servers(|s| u32::from(s.id) != id, None)?;
    publish(st, req, w, new)
}

fn put_server(r: &mut Writer, s: &Server) -> Result {
    let n = r.nest(A_SERVER)?;
    r.u32(A_SERVER_ID, u32::from(s.id))?;
    r.bytes(A_SERVER_IP, &s.ip)?;
    r.bytes(A_SERVER_MAC, &s.mac)?;
    let len = s.ifname.iter().position(|&b| b == 0).unwrap_or(15);
    r.bytes(A_IFNAME, s.ifname.get(..=len).unwrap_or(&[0]))?;
    r.u32(A_IFINDEX, s.ifindex as u32)?;
    r.u32(A_WEIGHT, s.weight)?;
    let live = &s.live;
    r.u8(A_STATE, live.state.load(Ordering::Relaxed))?;
    r.u16(A_FORECAST, live.forecast.load(Ordering::Relaxed))?;
    r.u16(A_LOAD, live.load.load(Ordering::Relaxed))?;
    r.u8(
        A_LOAD_KNOWN,
        u8::from(live.load_known.load(Ordering::Relaxed)),
    )?;
    r.u64(A_PACKETS, live.packets.load(Ordering::Relaxed))?;
    r.u32(A_SESSIONS, live.sessions.load(Ordering::Relaxed))?;
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
    let counts = st.table().map(|t| t.table().counts());
    for id in 0..COUNTERS.len() {
        r.counter(id, value(st, id, counts.as_ref()))?;
    }
    r.end(n);
    r.u32(A_TABLE_CAPACITY, st.table().map_or(0, |t| t.capacity()))?;
    let l = &st.loads;
    r.u16(A_LOAD_DISPATCHER, l.dispatcher.load(Ordering::Relaxed))?;
    r.u16(A_LOAD_CLUSTER, l.cluster.load(Ordering::Relaxed))?;
    for (a, v) in [A_T1, A_T2, A_T3, A_TC].into_iter().zip(l.thresholds()) {
        r.u16(a, v)?;
    }
    r.u16(A_INCREMENT, l.increment.load(Ordering::Relaxed))?;
    r.send()
}

/// Most servers one push may name.
const MAX_PUSH_SERVERS: usize = 1024;

/// One server's values in a push.
struct ServerPush {
    id: u16,
    state: Option<u8>,
    forecast: Option<u16>,
    load: Option<u16>,
    load_known: Option<u8>,
}

/// `CMD_PUSH` from the control plane (`sarectl manager`): validated whole, then applied; a bad
/// push changes nothing.
fn push(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let t = [A_T1, A_T2, A_T3, A_TC].map(|a| req.u16(a));
    let thresholds = match t {
        [Some(t1), Some(t2), Some(t3), Some(c)] => {
            if Thresholds::new(t1, t2, t3, c).is_err() {
                return Err(req.error(
                    EINVAL,
                    A_T1,
                    c_str!("thresholds must satisfy T1 < T2 < T3 < C <= 1000"),
                ));
            }
            Some([t1, t2, t3, c])
        }
        [None, None, None, None] => None,
        _ => {
            return Err(req.error(
                EINVAL,
                A_T1,
                c_str!("thresholds come together: T1, T2, T3 and C"),
            ))
        }
    };
    let cfg = st.config.read_writer(w);
    let mut servers = KVec::new();
    for idx in 0.. {
        let Some(n) = req.nest(A_SERVER, idx)? else {
            break;
        };
        if servers.len() >= MAX_PUSH_SERVERS {
            return Err(req.error(EINVAL, A_SERVER, c_str!("too many servers in one push")));
        }
        let id = n
            .u32(A_SERVER_ID)
            .and_then(|id| u16::try_from(id).ok())
            .ok_or_else(|| {
                req.error(
                    EINVAL,
                    A_SERVER,
                    c_str!("each server in a push needs A_SERVER_ID"),
                )
            })?;
        if !cfg.servers.iter().any(|s| s.id == id) {
            return Err(req.error(
                ENOENT,
                A_SERVER,
                c_str!("a push names a server that is not configured"),
            ));
        }
        let p = ServerPush {
            id,
            state: n.u8(A_STATE),
            forecast: n.u16(A_FORECAST),
            load: n.u16(A_LOAD),
            load_known: n.u8(A_LOAD_KNOWN),
        };
        servers.push(p, GFP_KERNEL)?;
    }
    // Everything is valid: apply.
    for p in servers.iter() {
        let Some(s) = cfg.servers.iter().find(|s| s.id == p.id) else {
            continue;
        };
        let live = &s.live;
        if let Some(v) = p.state {
            let old = live.state.swap(v, Ordering::Relaxed);
            if old != v {
                pr_info!("server {} is now {} (control plane)\n", p.id, state_name(v));
            }
        }
        if let Some(v) = p.forecast {
            live.forecast.store(v, Ordering::Relaxed);
        }
        if let Some(v) = p.load {
            live.load.store(v, Ordering::Relaxed);
        }
        if let Some(v) = p.load_known {
            live.load_known.store(v != 0, Ordering::Relaxed);
        }
    }
    let l = &st.loads;
    if let Some(t) = thresholds {
        l.set_thresholds(t);
    }
    if let Some(v) = req.u16(A_LOAD_DISPATCHER) {
        l.dispatcher.store(v, Ordering::Relaxed);
    }
    if let Some(v) = req.u16(A_LOAD_CLUSTER) {
        l.cluster.store(v, Ordering::Relaxed);
    }
    if let Some(v) = req.u16(A_INCREMENT) {
        l.increment.store(v, Ordering::Relaxed);
    }
    l.pushes.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Value of counter `id`: a running total, or for a gauge the table's state now (`counts`: the
/// table's counts, when the caller has them).
fn value(st: &NetState, id: usize, counts: Option<&crate::sara_core::table::Counts>) -> u64 {
    if !cn::is_gauge(id) {
        return st.counters.get(id);
    }
    let Some(t) = st.table() else { return 0 };
    match id {
        cn::GAUGE_CALLS => return u64::try_from(t.calls().fill().0).unwrap_or(u64::MAX),
        cn::GAUGE_CALL_CAPACITY => return u64::from(t.call_capacity()),
        cn::GAUGE_TABLE_BYTES => return u64::try_from(t.memory_bytes()).unwrap_or(u64::MAX),
        cn::GAUGE_SIP_TCP_STREAMS => {
            return u64::try_from(t.streams().fill().0).unwrap_or(u64::MAX)
        }
        cn::GAUGE_SIP_TCP_STREAM_CAPACITY => return u64::from(t.stream_capacity()),
        _ => {}
    }
    let owned;
    let k = match counts {
        Some(k) => k,
        None => {
            owned = t.table().counts();
            &owned
        }
    };
    u64::from(match id {
        cn::GAUGE_FLOWS => k.flows,
        cn::GAUGE_SESSIONS => k.signalling.saturating_sub(k.ended),
        cn::GAUGE_NEW => k.new,
        cn::GAUGE_ESTABLISHED => k.established,
        cn::GAUGE_INACTIVE => k.inactive,
        cn::GAUGE_SIGNALLING => k.signalling,
        cn::GAUGE_ANNOUNCED_NOW => k.announced,
        cn::GAUGE_SECONDARY_NOW => k.secondary,
        cn::GAUGE_WILDCARD => k.wildcards,
        cn::GAUGE_CAPACITY => t.capacity(),
        _ => 0,
    })
}

/// Value of counter `id` (sysfs).
pub(crate) fn counter(st: &NetState, id: usize) -> u64 {
    value(st, id, None)
}

/// A flow's 5-tuple from request attributes (a gateway report).
fn flow_key(req: &Request<'_>) -> Result<FlowKey> {
    let miss = |a, m| req.error(EINVAL, a, m);
    let src = req
        .ipv4(A_FLOW_SRC)
        .ok_or_else(|| miss(A_FLOW_SRC, c_str!("missing flow source address")))?;
    let sport = req
        .u16(A_FLOW_SPORT)
        .ok_or_else(|| miss(A_FLOW_SPORT, c_str!("missing flow source port")))?;
    let dst = req
        .ipv4(A_FLOW_DST)
        .ok_or_else(|| miss(A_FLOW_DST, c_str!("missing flow destination address")))?;
    let dport = req
        .u16(A_FLOW_DPORT)
        .ok_or_else(|| miss(A_FLOW_DPORT, c_str!("missing flow destination port")))?;
    let proto = req
        .u8(A_PROTO)
        .ok_or_else(|| miss(A_PROTO, c_str!("missing protocol")))?;
    if proto != 6 && proto != 17 {
        return Err(req.error(
            EINVAL,
            A_PROTO,
            c_str!("protocol must be tcp (6) or udp (17)"),
        ));
    }
    Ok(FlowKey::new(src, sport, dst, dport, proto))
}

/// `CMD_ANNOUNCE`: a gateway report completes an announced flow stored with unknown ports.
fn announce(st: &NetState, req: &Request<'_>) -> Result {
    let key = flow_key(req)?;
    st.counters.inc(cn::ANNOUNCE_RECEIVED);
    let Some(ft) = st.table() else {
        st.counters.inc(cn::ANNOUNCE_REJECTED);
        return Err(req.error(
            ENOENT,
            0,
            c_str!("no announced flow matches: this namespace has no services"),
        ));
    };
    // Reading the configuration as a writer is safe here: requests are serialised (no parallel_ops).
    let now = crate::sys::now_ms();
    let t = ft.table();
    let mut ok = false;
    for w in Wildcard::PROBES {
        if let Ok(loc) =
            t.complete_announced(&key, w, &key, now, &mut crate::sara_core::table::ignore)
        {
            if let Some(f) = t.get_at(loc) {
                st.replicate_flow(&key, Wildcard::Exact, f.session.id, f.timeout_ms, false);
            }
            ok = true;
            break;
        }
    }
    if !ok {
        st.counters.inc(cn::ANNOUNCE_REJECTED);
        return Err(req.error(
            ENOENT,
            0,
            c_str!("no live announced flow matches this report"),
        ));
    }
    st.counters.inc(cn::ANNOUNCE_COMPLETED);
    Ok(())
}

/// Slots a dump call visits at most (bounds the time of one call).
const DUMP_BUDGET: usize = 65536;

/// `cb->args` of the flow dump: the cursor (shard, slot), done, the move stamp, its state.
const DA_SHARD: usize = 0;
const DA_SLOT: usize = 1;
const DA_DONE: usize = 2;
const DA_STAMP: usize = 3;
const DA_STATE: usize = 4;
/// `DA_STATE`: first call not made yet; every move so far seen; the dump overlapped a move.
const DUMP_FRESH: kernel::ffi::c_long = 0;
const DUMP_CONSISTENT: kernel::ffi::c_long = 1;
const DUMP_INTERRUPTED: kernel::ffi::c_long = 2;

/// One call of the `CMD_FLOW_GET` dump: as many flows as fit in this message, resumed next call
/// from the cursor kept in `cb->args`. A flow that lives throughout stays in its record, so the
/// dump lists it once, except when it moves between records meanwhile (an announced flow confirmed
/// by its first packet or by a gateway report): then the messages from that call on carry
/// `NLM_F_DUMP_INTR`, and `sarectl` dumps again (see `sara_core::table::Moves`).
pub(crate) fn flow_dump(st: &NetState, d: &mut Dump<'_>) -> kernel::ffi::c_int {
    let server = d.u32(A_SERVER_ID).and_then(|v| u16::try_from(v).ok());
    let session = d.u32(A_SESSION_ID);
    let Some(ft) = st.table() else { return 0 };
    let args = d.args();
    if args[DA_DONE] != 0 {
        return 0;
    }
    if args[DA_STATE] == DUMP_FRESH {
        match ft.moves().stamp() {
            Some(s) => {
                args[DA_STAMP] = s.get() as kernel::ffi::c_long;
                args[DA_STATE] = DUMP_CONSISTENT;
            }
            None => args[DA_STATE] = DUMP_INTERRUPTED,
        }
    }
    let stamp = Stamp::from_raw(args[DA_STAMP] as u32);
    let was_interrupted = args[DA_STATE] == DUMP_INTERRUPTED;
    let mut cursor = TableCursor {
        shard: args[DA_SHARD] as u32,
        slot: args[DA_SLOT] as u32,
    };
    let now = crate::sys::now_ms();
    let Some(mut m) = d.begin(CMD_FLOW_GET) else {
        return -(EMSGSIZE_ERRNO);
    };
    let mut wrote = 0u32;
    let mut full = false;
    let walk = ft.table().dump(&mut cursor, DUMP_BUDGET, |f| {
        if server.is_some_and(|s| s != f.server) || session.is_some_and(|s| s != f.session.id) {
            return true;
        }
        if put_flow(&mut m, f, now).is_err() {
            full = true;
            return false;
        }
        wrote = wrote.saturating_add(1);
        true
    });
    if full && wrote == 0 {
        return -(EMSGSIZE_ERRNO);
    }
    // After this call's walk: did a move begin since the dump started?
    let interrupted = was_interrupted || !ft.moves().unchanged(stamp);
    if interrupted {
        m.mark_interrupted();
    }
    let r = m.finish();
    let args = d.args();
    if interrupted {
        args[DA_STATE] = DUMP_INTERRUPTED;
    }
    args[DA_SHARD] = cursor.shard as kernel::ffi::c_long;
    args[DA_SLOT] = cursor.slot as kernel::ffi::c_long;
    if walk == Walk::Done {
        args[DA_DONE] = 1;
    }
    r
}

const EMSGSIZE_ERRNO: kernel::ffi::c_int = kernel::bindings::EMSGSIZE as kernel::ffi::c_int;

/// One flow as an `A_FLOW` nest; on `Err` the message holds nothing of it.
fn put_flow(m: &mut Writer, f: &FlowInfo, now: u32) -> Result {
    let n = m.nest(A_FLOW)?;
    let r = (|| -> Result {
        m.bytes(A_FLOW_SRC, &f.key.src_addr)?;
        m.u16(A_FLOW_SPORT, f.key.src_port)?;
        m.bytes(A_FLOW_DST, &f.key.dst_addr)?;
        m.u16(A_FLOW_DPORT, f.key.dst_port)?;
        m.u8(A_PROTO, f.key.protocol)?;
        m.u32(A_SERVER_ID, u32::from(f.server))?;
        m.u32(A_SESSION_ID, f.session.id)?;
        m.u8(A_FLOW_STATUS, f.status_at(now) as u8)?;
        m.u8(A_FLOW_IDENTITY, f.identity as u8)?;
        m.u8(A_FLOW_WILDCARD, f.wildcard.bits())?;
        m.u8(A_FLOW_ENDED, u8::from(f.ended))?;
        m.u32(A_FLOW_IDLE_MS, f.idle(now))?;
        m.u32(A_FLOW_TIMEOUT_MS, f.timeout_ms)?;
        m.u64(A_PACKETS, u64::from(f.packets))?;
        m.u64(A_FLOW_BYTES, f.bytes)
    })();
    match r {
        Ok(()) => {
            m.end(n);
            Ok(())
        }
        Err(e) => {
            m.cancel(n);
            Err(e)
        }
    }
}

/// `CMD_HA_SET`: the dispatcher's role (see `repl`).
fn ha_set(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let role = req
        .u8(A_HA_ROLE)
        .ok_or_else(|| req.error(EINVAL, A_HA_ROLE, c_str!("missing role")))?;
    if role != HA_STANDALONE {
        st.ensure_repl(w)?;
    }
    st.set_role(role);
    Ok(())
}

/// `CMD_HA_GET`: role and ring position.
fn ha_get(st: &NetState, req: &Request<'_>) -> Result {
    let mut r = req.reply(128)?;
    r.u8(A_HA_ROLE, st.role.load(Ordering::Relaxed))?;
    r.u64(A_REPL_HEAD, st.repl().map_or(0, |x| x.head()))?;
    r.u32(
        A_REPL_CAPACITY,
        if st.repl().is_some() {
            crate::repl::RING_RECORDS as u32
        } else {
            0
        },
    )?;
    r.send()
}

/// `CMD_REPL_GET`: replication records from `A_REPL_SEQ` on, or with `A_REPL_CALLS` the Call-ID
/// index's calls.
fn repl_get(st: &NetState, req: &Request<'_>) -> Result {
    if let Some(cursor) = req
        .bytes::<8>(A_REPL_CALLS)
        .and_then(|(n, b)| (n == 8).then(|| u64::from_ne_bytes(b)))
    {
        return repl_calls(st, req, cursor);
    }
    let from = req
        .bytes::<8>(A_REPL_SEQ)
        .and_then(|(n, b)| (n == 8).then(|| u64::from_ne_bytes(b)))
        .ok_or_else(|| req.error(EINVAL, A_REPL_SEQ, c_str!("missing sequence number")))?;
    let ring = st.repl().ok_or_else(|| {
        req.error(
            ENOENT,
            0,
            c_str!("replication is off here: no high-availability role was set"),
        )
    })?;
    let mut buf: KVec<u8> = KVec::from_elem(0u8, REPL_RUN_MAX as usize, GFP_KERNEL)?;
    let out = ring.read(from, &mut buf);
    if out.lost {
        st.counters.inc(cn::REPL_OVERRUNS);
    }
    let mut r = req.reply(REPL_RUN_MAX.saturating_add(256))?;
    r.u64(A_REPL_SEQ, out.first)?;
    r.u64(A_REPL_HEAD, out.head)?;
    r.u8(A_REPL_LOST, u8::from(out.lost))?;
    r.bytes(A_REPL_RECORDS, buf.get(..out.len).unwrap_or(&[]))?;
    r.send()
}

/// Call-ID index entries one `CMD_REPL_GET` part visits at most (its locks are taken per shard, as
/// the purge does).
const CALL_DUMP_BUDGET: usize = 4096;

/// `CMD_REPL_GET` with `A_REPL_CALLS`: the Call-ID index's live calls as `Call` records from
/// `cursor` on (a `CallKey` record first when `cursor` is 0), as many as fit a record run; the reply's
/// `A_REPL_CALLS` is where to go on, absent when the walk is done. An entry that lives throughout
/// the walk is sent exactly once (entries never move); calls opened meanwhile reach the ring.
fn repl_calls(st: &NetState, req: &Request<'_>, mut cursor: u64) -> Result {
    let Some(ft) = st.table() else {
        // No services yet, so no calls (and no key: it comes with the table, see `ensure_table`).
        let mut r = req.reply(64)?;
        r.bytes(A_REPL_RECORDS, &[])?;
        return r.send();
    };
    let mut buf: KVec<u8> = KVec::from_elem(0u8, REPL_RUN_MAX as usize, GFP_KERNEL)?;
    let mut len = 0usize;
    if cursor == 0 {
        let rec = Record::CallKey(ft.call_key());
        if let Some(rest) = buf.get_mut(len..) {
            if let Ok(n) = repl::encode_record(&rec, rest) {
                len = len.saturating_add(n);
            }
        }
    }
    let t = ft.table();
    let now = crate::sys::now_ms();
    let walk = ft.calls().dump(&mut cursor, CALL_DUMP_BUDGET, |e| {
        // A call whose session has gone (its entry not swept yet) or ended is not worth sending.
        if !t.session_record(e.value).is_some_and(|f| !f.ended) || e.idle(now) > e.timeout_ms {
            return true;
        }
        let rec = Record::Call(CallRecord::of(e.value.id, &e.mark()));
        let Some(rest) = buf.get_mut(len..) else {
            return false;
        };
        match repl::encode_record(&rec, rest) {
            Ok(n) => {
                len = len.saturating_add(n);
                true
            }
            // The run is full: this entry comes first in the next part.
            Err(crate::sara_core::msg::Error::BufferTooSmall) => false,
            // Not a call's mark (none is made so): skipped.
            Err(_) => true,
        }
    });
    let mut r = req.reply(REPL_RUN_MAX.saturating_add(256))?;
    r.bytes(A_REPL_RECORDS, buf.get(..len).unwrap_or(&[]))?;
    if walk == Walk::More {
        r.u64(A_REPL_CALLS, cursor)?;
    }
    r.send()
}

/// `CMD_REPL_APPLY`: install records from the active dispatcher (backup role only), or with
/// `A_REPL_ADOPT` adopt the peer's records where this table has nothing (active role only).
fn repl_apply(st: &NetState, req: &Request<'_>, w: &WriterToken) -> Result {
    let adopt = req.bytes_into(A_REPL_ADOPT, &mut []).is_some();
    let flush = req.bytes_into(A_HA_FLUSH, &mut []).is_some();
    if adopt && flush {
        return Err(req.error(
            EINVAL,
            A_REPL_ADOPT,
            c_str!("adopting never flushes: records are adopted into the table, not over it"),
        ));
    }
    if adopt && st.role.load(Ordering::Relaxed) != HA_ACTIVE {
        return Err(req.error(
            EBUSY,
            A_REPL_ADOPT,
            c_str!("only the active dispatcher adopts its peer's sessions; a backup installs the active's records as they are"),
        ));
    }
    if !adopt && !st.is_backup() {
        return Err(req.error(
            EBUSY,
            A_HA_ROLE,
            c_str!("only a backup installs replicated state: set the role to backup first"),
        ));
    }
    let ft = st
        .table()
        .ok_or_else(|| req.error(ENOENT, 0, c_str!("no services are configured here: configure the same services as the active dispatcher first")))?;
    let mut buf: KVec<u8> = KVec::from_elem(0u8, REPL_RUN_MAX as usize, GFP_KERNEL)?;
    let n = match req.bytes_into(A_REPL_RECORDS, &mut buf) {
        Some(n) if n <= buf.len() => n,
        Some(_) => return Err(req.error(EINVAL, A_REPL_RECORDS, c_str!("record run too long"))),
        None => 0,
    };
    let cfg = st.config.read_writer(w);
    let records = buf.get(..n).unwrap_or(&[]);
    let malformed = || {
        req.error(
            EINVAL,
            A_REPL_RECORDS,
            c_str!("malformed replication records"),
        )
    };
    if adopt {
        // Counted (`repl_adopted`, `repl_adopt_skipped`); the daemon logs what it handed over.
        let done = crate::repl::adopt(st, cfg, ft, records).map_err(|()| malformed())?;
        let mut r = req.reply(64)?;
        r.u32(A_REPL_APPLIED, done.adopted)?;
        r.u32(A_REPL_SKIPPED, done.skipped)?;
        r.u32(A_REPL_FAILED, done.failed)?;
        return r.send();
    }
    let done = crate::repl::apply(st, cfg, ft, records, flush).map_err(|()| malformed())?;
    let mut r = req.reply(64)?;
    r.u32(A_REPL_APPLIED, done.applied)?;
    r.u32(A_REPL_FAILED, done.failed)?;
    r.send()
}
