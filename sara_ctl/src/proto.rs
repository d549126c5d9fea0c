//! SARA's generic netlink messages as plain data: requests built from operator input, replies decoded
//! into [`Service`], [`Server`], [`Stats`], [`Flow`] and [`Session`]. Every number and name comes from `sara_core::genl`
//! and `sara_core::counters`. Attributes ([`Attr`]) and the messages around them are made and read
//! by [`crate::kernel`].

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use sara_core::{counters, genl};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::error::{attr_label, Error};
pub use crate::kernel::attr::{encode_attrs, parse_attrs, Attr, NLA_F_NESTED};
pub use crate::kernel::Request;

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = libc::IPPROTO_TCP as u8;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = libc::IPPROTO_UDP as u8;

/// Names of the down actions (`genl::DOWN_*`), for flags and output.
pub const DOWN_ACTIONS: &[(u8, &str)] = &[
    (genl::DOWN_REDISPATCH, "redispatch"),
    (genl::DOWN_KEEP, "keep"),
];

/// Largest server id and weight the kernel accepts (`A_SERVER_ID`, `A_WEIGHT`: 1..=65535).
pub const MAX_SERVER_ID: u32 = u16::MAX as u32;
/// Largest server weight.
pub const MAX_WEIGHT: u32 = u16::MAX as u32;

// ---- attributes and requests ----------------------------------------------------------------

// ---- names ----------------------------------------------------------------------------------

/// `tcp`, `udp`, or the protocol number.
pub fn proto_name(p: u8) -> Cow<'static, str> {
    match p {
        PROTO_TCP => "tcp".into(),
        PROTO_UDP => "udp".into(),
        other => other.to_string().into(),
    }
}

/// Protocol number of `tcp` / `udp` (any case).
pub fn proto_from_name(s: &str) -> Option<u8> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Some(PROTO_TCP),
        "udp" => Some(PROTO_UDP),
        _ => None,
    }
}

/// Every signalling protocol name, in value order (from `genl::sigproto_name`).
pub fn sig_names() -> Vec<&'static str> {
    (0..=genl::SIG_MAX).map(genl::sigproto_name).collect()
}
/// Value of a signalling protocol name.
pub fn sig_from_name(s: &str) -> Option<u8> {
    (0..=genl::SIG_MAX).find(|v| genl::sigproto_name(*v) == s)
}
/// Every policy name, in value order (from `genl::policy_name`).
pub fn policy_names() -> Vec<&'static str> {
    (0..=genl::POLICY_MAX).map(genl::policy_name).collect()
}
/// Value of a policy name.
pub fn policy_from_name(s: &str) -> Option<u8> {
    (0..=genl::POLICY_MAX).find(|v| genl::policy_name(*v) == s)
}
/// Every down-action name.
pub fn down_action_names() -> Vec<&'static str> {
    DOWN_ACTIONS.iter().map(|(_, n)| *n).collect()
}
/// Value of a down-action name.
pub fn down_action_from_name(s: &str) -> Option<u8> {
    DOWN_ACTIONS.iter().find(|(_, n)| *n == s).map(|(v, _)| *v)
}

/// A name from a `genl` naming function, or `unknown(N)` for a value newer than this sarectl.
fn known_or_number(name: &'static str, v: u8) -> String {
    if name == "?" {
        format!("unknown({v})")
    } else {
        name.to_string()
    }
}
/// Name of a down action, or `unknown(N)`.
pub fn down_action_name(v: u8) -> String {
    DOWN_ACTIONS
        .iter()
        .find(|(x, _)| *x == v)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("unknown({v})"))
}

/// Names of the flow statuses (`genl::FLOW_STATUS_*`), for flags and output.
pub const FLOW_STATUSES: &[(u8, &str)] = &[
    (genl::FLOW_STATUS_NEW, "new"),
    (genl::FLOW_STATUS_ESTABLISHED, "established"),
    (genl::FLOW_STATUS_INACTIVE, "inactive"),
];

/// Names of the flow identities (`genl::FLOW_IDENTITY_*`), in the order flows are listed.
pub const FLOW_IDENTITIES: &[(u8, &str)] = &[
    (genl::FLOW_IDENTITY_SIGNALLING, "signalling"),
    (genl::FLOW_IDENTITY_ANNOUNCED, "announced"),
    (genl::FLOW_IDENTITY_SECONDARY, "secondary"),
];

/// Names of the unknown-port markers of announced flows (`genl::WILDCARD_*`).
pub const WILDCARDS: &[(u8, &str)] = &[
    (genl::WILDCARD_EXACT, "none"),
    (genl::WILDCARD_SRC_PORT, "src_port"),
    (genl::WILDCARD_DST_PORT, "dst_port"),
    (genl::WILDCARD_BOTH_PORTS, "both_ports"),
];

/// The name of `v` in a value/name table, or `unknown(N)` for a value newer than this sarectl.
fn table_name(table: &[(u8, &str)], v: u8) -> String {
    table
        .iter()
        .find(|(x, _)| *x == v)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("unknown({v})"))
}

/// The names of a value/name table.
pub fn table_names(table: &[(u8, &'static str)]) -> Vec<&'static str> {
    table.iter().map(|(_, n)| *n).collect()
}

// ---- operator input -------------------------------------------------------------------------

/// A virtual service's identity: `VIP:PORT/PROTO`, e.g. `192.0.2.10:5060/udp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceKey {
    /// Virtual IPv4 address.
    pub vip: Ipv4Addr,
    /// Port, 1..=65535.
    pub port: u16,
    /// IP protocol number (6 or 17).
    pub proto: u8,
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.vip, self.port, proto_name(self.proto))
    }
}

/// Parse a unicast IPv4 address for a VIP or a server.
pub fn parse_host_ipv4(s: &str) -> Result<Ipv4Addr, String> {
    let a: Ipv4Addr = s
        .parse()
        .map_err(|_| format!("'{s}' is not an IPv4 address (example: 192.0.2.10)"))?;
    if a.is_unspecified() {
        return Err(format!(
            "'{s}' is the unspecified address; give a real IPv4 address"
        ));
    }
    if a.is_broadcast() || a.is_multicast() {
        return Err(format!(
            "'{s}' is a broadcast or multicast address; give a unicast IPv4 address"
        ));
    }
    Ok(a)
}

impl FromStr for ServiceKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const FORM: &str = "expected VIP:PORT/PROTO, for example 192.0.2.10:5060/udp";
        let (addr_port, proto) = s.split_once('/').ok_or_else(|| format!("'{s}': {FORM}"))?;
        let (vip, port) = addr_port
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}': {FORM}"))?;
        let vip = parse_host_ipv4(vip)?;
        let port = parse_port(port)?;
        let proto = parse_protocol(proto)?;
        Ok(ServiceKey { vip, port, proto })
    }
}

/// Parse a service port, 1..=65535.
pub fn parse_port(s: &str) -> Result<u16, String> {
    s.parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("'{s}' is not a port: give a number from 1 to 65535"))
}

/// Parse a service protocol name (`tcp` or `udp`, any case) into its IP protocol number.
pub fn parse_protocol(s: &str) -> Result<u8, String> {
    proto_from_name(s).ok_or_else(|| format!("unknown protocol '{s}': use tcp or udp"))
}

/// Parse `aa:bb:cc:dd:ee:ff` (or with `-`) into a unicast MAC address.
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    const FORM: &str = "expected six hex bytes like 52:54:00:12:34:56";
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(format!(
            "'{s}' is not a MAC address: {} byte(s), {FORM}",
            parts.len()
        ));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("'{s}' is not a MAC address: {FORM}"));
        }
        *m = u8::from_str_radix(p, 16)
            .map_err(|_| format!("'{s}' is not a MAC address: '{p}' is not hex; {FORM}"))?;
    }
    if mac == [0; 6] {
        return Err(format!(
            "'{s}' is the all-zero MAC address; give the server's MAC address"
        ));
    }
    if mac[0] & 1 != 0 {
        return Err(format!(
            "'{s}' is a multicast or broadcast MAC address; give the server's unicast MAC address"
        ));
    }
    Ok(mac)
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Check an interface name the way the kernel does (`dev_valid_name`), with `genl::IFNAME_MAX`.
pub fn parse_ifname(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the interface name is empty".into());
    }
    if s.len() > genl::IFNAME_MAX {
        return Err(format!(
            "interface name '{s}' is {} bytes long; Linux allows at most {}",
            s.len(),
            genl::IFNAME_MAX
        ));
    }
    if s == "."
        || s == ".."
        || s.chars()
            .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        return Err(format!("'{s}' is not a valid interface name"));
    }
    Ok(s.to_string())
}

/// `sarectl service add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAdd {
    /// The service.
    pub key: ServiceKey,
    /// `genl::SIG_*`, or the kernel's default.
    pub sig: Option<u8>,
    /// `genl::POLICY_*`, or the kernel's default.
    pub policy: Option<u8>,
    /// Idle timeout in seconds, or the kernel's default.
    pub timeout: Option<u32>,
    /// `genl::DOWN_*`, or the kernel's default.
    pub down_action: Option<u8>,
}

/// `sarectl server add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAdd {
    /// Server id, 1..=65535.
    pub id: u32,
    /// Server address.
    pub ip: Ipv4Addr,
    /// Server MAC address.
    pub mac: [u8; 6],
    /// Interface through which the server is reached.
    pub ifname: String,
    /// Weight, or the kernel's default.
    pub weight: Option<u32>,
}

fn key_attrs(k: &ServiceKey) -> Vec<Attr> {
    vec![
        Attr::ipv4(genl::A_VIP, k.vip),
        Attr::u16(genl::A_PORT, k.port),
        Attr::u8(genl::A_PROTO, k.proto),
    ]
}

/// `CMD_SERVICE_ADD`; optional attributes only when given, so the kernel's defaults apply.
pub fn service_add(s: &ServiceAdd) -> Request {
    let mut attrs = key_attrs(&s.key);
    if let Some(v) = s.sig {
        attrs.push(Attr::u8(genl::A_SIGPROTO, v));
    }
    if let Some(v) = s.policy {
        attrs.push(Attr::u8(genl::A_POLICY, v));
    }
    if let Some(v) = s.timeout {
        attrs.push(Attr::u32(genl::A_TIMEOUT, v));
    }
    if let Some(v) = s.down_action {
        attrs.push(Attr::u8(genl::A_DOWN_ACTION, v));
    }
    Request {
        cmd: genl::CMD_SERVICE_ADD,
        attrs,
    }
}

/// `CMD_SERVICE_DEL`.
pub fn service_del(k: &ServiceKey) -> Request {
    Request {
        cmd: genl::CMD_SERVICE_DEL,
        attrs: key_attrs(k),
    }
}

/// `CMD_SERVICE_GET`.
pub fn service_get() -> Request {
    Request {
        cmd: genl::CMD_SERVICE_GET,
        attrs: vec![],
    }
}

/// `CMD_SERVER_ADD`.
pub fn server_add(s: &ServerAdd) -> Request {
    let mut attrs = vec![
        Attr::u32(genl::A_SERVER_ID, s.id),
        Attr::ipv4(genl::A_SERVER_IP, s.ip),
        Attr::bytes(genl::A_SERVER_MAC, s.mac),
        Attr::string(genl::A_IFNAME, &s.ifname),
    ];
    if let Some(w) = s.weight {
        attrs.push(Attr::u32(genl::A_WEIGHT, w));
    }
    Request {
        cmd: genl::CMD_SERVER_ADD,
        attrs,
    }
}

/// `CMD_SERVER_DEL`.
pub fn server_del(id: u32) -> Request {
    Request {
        cmd: genl::CMD_SERVER_DEL,
        attrs: vec![Attr::u32(genl::A_SERVER_ID, id)],
    }
}

/// `CMD_SERVER_GET`.
pub fn server_get() -> Request {
    Request {
        cmd: genl::CMD_SERVER_GET,
        attrs: vec![],
    }
}

/// `CMD_STATS_GET`.
pub fn stats_get() -> Request {
    Request {
        cmd: genl::CMD_STATS_GET,
        attrs: vec![],
    }
}

/// One end of a flow, `IP:PORT`, e.g. `10.0.1.2:7624` (a unicast IPv4 address, port 1..=65535).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// IPv4 address.
    pub ip: Ipv4Addr,
    /// Port, 1..=65535.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ip, self.port)
    }
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (ip, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}': expected IP:PORT, for example 10.0.1.2:7624"))?;
        Ok(Endpoint {
            ip: parse_host_ipv4(ip)?,
            port: parse_port(port)?,
        })
    }
}

/// A flow's full identity as the dispatcher sees it: protocol, source and destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// IP protocol number (6 or 17).
    pub proto: u8,
    /// Where the flow's packets come from (the client side).
    pub src: Endpoint,
    /// Where they go (the virtual IP side).
    pub dst: Endpoint,
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", proto_name(self.proto), self.src, self.dst)
    }
}

/// `CMD_FLOW_GET` (sent as a dump), with the optional kernel-side filters.
pub fn flow_get(server: Option<u32>, session: Option<u32>) -> Request {
    let mut attrs = Vec::new();
    if let Some(id) = server {
        attrs.push(Attr::u32(genl::A_SERVER_ID, id));
    }
    if let Some(id) = session {
        attrs.push(Attr::u32(genl::A_SESSION_ID, id));
    }
    Request {
        cmd: genl::CMD_FLOW_GET,
        attrs,
    }
}

/// `CMD_ANNOUNCE`: a gateway report completing an announced flow.
pub fn announce(k: &FlowKey) -> Request {
    Request {
        cmd: genl::CMD_ANNOUNCE,
        attrs: vec![
            Attr::ipv4(genl::A_FLOW_SRC, k.src.ip),
            Attr::u16(genl::A_FLOW_SPORT, k.src.port),
            Attr::ipv4(genl::A_FLOW_DST, k.dst.ip),
            Attr::u16(genl::A_FLOW_DPORT, k.dst.port),
            Attr::u8(genl::A_PROTO, k.proto),
        ],
    }
}

// ---- replies --------------------------------------------------------------------------------

/// One virtual service, as `sarectl service list` shows it. Field names are the JSON names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Virtual IPv4 address.
    pub vip: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// `tcp`, `udp` (or the protocol number).
    pub protocol: String,
    /// Signalling protocol inspected.
    pub sig: Option<String>,
    /// Selection policy.
    pub policy: Option<String>,
    /// Idle timeout of flows, seconds.
    pub timeout: Option<u32>,
    /// What happens to a down server's flows.
    pub down_action: Option<String>,
    /// Packets forwarded through the service.
    pub packets: Option<u64>,
}

/// One server, as `sarectl server list` shows it. Field names are the JSON names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    /// Server id.
    pub id: u32,
    /// Server IPv4 address.
    pub ip: Ipv4Addr,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Interface name.
    pub dev: Option<String>,
    /// Interface index.
    pub ifindex: Option<u32>,
    /// Weight.
    pub weight: Option<u32>,
    /// `up`, `down`, `draining`.
    pub state: Option<String>,
    /// Active sessions on the server (0 when the kernel does not say).
    pub sessions: u32,
    /// Damped load forecast pushed by the control plane, per-mille.
    pub forecast: Option<u16>,
    /// Last measured load pushed by the control plane, per-mille.
    pub load: Option<u16>,
    /// Whether the server's load monitor is alive (as last pushed).
    pub load_known: Option<bool>,
    /// Packets forwarded to the server.
    pub packets: Option<u64>,
}

/// One counter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Counter id (index in `counters::COUNTERS`).
    pub id: usize,
    /// Value.
    pub value: u64,
}

impl Counter {
    /// The counter's name, or `counter_<id>` for one newer than this sarectl.
    pub fn name(&self) -> Cow<'static, str> {
        match counters::COUNTERS.get(self.id) {
            Some(c) => c.name.into(),
            None => format!("counter_{}", self.id).into(),
        }
    }
    /// One line of help.
    pub fn help(&self) -> Cow<'static, str> {
        match counters::COUNTERS.get(self.id) {
            Some(c) => c.help.into(),
            None => format!("counter {} (not known to this sarectl)", self.id).into(),
        }
    }
}

/// The namespace's counters, in id order. Serializes as a JSON object `{name: value}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Counters present in the reply, sorted by id.
    pub counters: Vec<Counter>,
}

impl Serialize for Stats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.counters.len()))?;
        for c in &self.counters {
            m.serialize_entry(c.name().as_ref(), &c.value)?;
        }
        m.end()
    }
}

/// Whether `a` is 64-bit alignment padding (`A_PAD`, empty payload).
fn is_pad(a: &Attr) -> bool {
    a.ty == genl::A_PAD && a.payload.is_empty()
}

fn required<T>(v: Option<T>, what: &str, attr: u16) -> Result<T, Error> {
    v.ok_or_else(|| Error::Protocol(format!("{what} without attribute {}", attr_label(attr))))
}

/// Decode one `A_SERVICE` nest's attributes. Unknown attributes (a newer kernel) are ignored.
pub fn decode_service(attrs: &[Attr]) -> Result<Service, Error> {
    let (mut vip, mut port, mut proto) = (None, None, None);
    let mut s = Service {
        vip: Ipv4Addr::UNSPECIFIED,
        port: 0,
        protocol: String::new(),
        sig: None,
        policy: None,
        timeout: None,
        down_action: None,
        packets: None,
    };
    for a in attrs.iter().filter(|a| !is_pad(a)) {
        match a.ty {
            genl::A_VIP => vip = Some(a.get_ipv4()?),
            genl::A_PORT => port = Some(a.get_u16()?),
            genl::A_PROTO => proto = Some(a.get_u8()?),
            genl::A_SIGPROTO => {
                let v = a.get_u8()?;
                s.sig = Some(known_or_number(genl::sigproto_name(v), v));
            }
            genl::A_POLICY => {
                let v = a.get_u8()?;
                s.policy = Some(known_or_number(genl::policy_name(v), v));
            }
            genl::A_TIMEOUT => s.timeout = Some(a.get_u32()?),
            genl::A_DOWN_ACTION => s.down_action = Some(down_action_name(a.get_u8()?)),
            genl::A_PACKETS => s.packets = Some(a.get_u64()?),
            _ => {}
        }
    }
    s.vip = required(vip, "service", genl::A_VIP)?;
    s.port = required(port, "service", genl::A_PORT)?;
    s.protocol = proto_name(required(proto, "service", genl::A_PROTO)?).into_owned();
    Ok(s)
}

/// Decode one `A_SERVER` nest's attributes. Unknown attributes (a newer kernel) are ignored.
pub fn decode_server(attrs: &[Attr]) -> Result<Server, Error> {
    let (mut id, mut ip, mut mac) = (None, None, None);
    let mut s = Server {
        id: 0,
        ip: Ipv4Addr::UNSPECIFIED,
        mac: String::new(),
        dev: None,
        ifindex: None,
        weight: None,
        state: None,
        sessions: 0,
        forecast: None,
        load: None,
        load_known: None,
        packets: None,
    };
    for a in attrs.iter().filter(|a| !is_pad(a)) {
        match a.ty {
            genl::A_FORECAST => s.forecast = Some(a.get_u16()?),
            genl::A_LOAD => s.load = Some(a.get_u16()?),
            genl::A_LOAD_KNOWN => s.load_known = Some(a.get_u8()? != 0),
            genl::A_SERVER_ID => id = Some(a.get_u32()?),
            genl::A_SERVER_IP => ip = Some(a.get_ipv4()?),
            genl::A_SERVER_MAC => mac = Some(a.get_mac()?),
            genl::A_IFNAME => s.dev = Some(a.get_string()),
            genl::A_IFINDEX => s.ifindex = Some(a.get_u32()?),
            genl::A_WEIGHT => s.weight = Some(a.get_u32()?),
            genl::A_STATE => {
                let v = a.get_u8()?;
                s.state = Some(known_or_number(genl::state_name(v), v));
            }
            genl::A_SESSIONS => s.sessions = a.get_u32()?,
            genl::A_PACKETS => s.packets = Some(a.get_u64()?),
            _ => {}
        }
    }
    s.id = required(id, "server", genl::A_SERVER_ID)?;
    s.ip = required(ip, "server", genl::A_SERVER_IP)?;
    s.mac = format_mac(&required(mac, "server", genl::A_SERVER_MAC)?);
    Ok(s)
}

/// Every `A_SERVICE` nest among the top-level attributes of the reply messages.
pub fn decode_services(replies: &[Vec<Attr>]) -> Result<Vec<Service>, Error> {
    replies
        .iter()
        .flatten()
        .filter(|a| a.ty == genl::A_SERVICE)
        .map(|a| decode_service(&a.nested()?))
        .collect()
}

/// Every `A_SERVER` nest among the top-level attributes of the reply messages.
pub fn decode_servers(replies: &[Vec<Attr>]) -> Result<Vec<Server>, Error> {
    replies
        .iter()
        .flatten()
        .filter(|a| a.ty == genl::A_SERVER)
        .map(|a| decode_server(&a.nested()?))
        .collect()
}

/// The `A_STATS` nest of a `CMD_STATS_GET` reply: attribute type = counter id + 1, a 64-bit value.
///
/// Inside that nest, type 0 is alignment padding (`nla_put_u64_64bit` with pad type 0) and is
/// skipped, as is any empty attribute.
pub fn decode_stats(replies: &[Vec<Attr>]) -> Result<Stats, Error> {
    let nest = replies
        .iter()
        .flatten()
        .find(|a| a.ty == genl::A_STATS)
        .ok_or_else(|| Error::Protocol("the stats reply has no A_STATS nest".into()))?;
    let mut counters = Vec::new();
    for a in nest
        .nested()?
        .iter()
        .filter(|a| a.ty != 0 && !a.payload.is_empty())
    {
        counters.push(Counter {
            id: usize::from(a.ty - 1),
            value: a.get_u64()?,
        });
    }
    // The table's capacity may also come as a top-level A_TABLE_CAPACITY: shown as the
    // table_capacity gauge when the nest does not carry that gauge itself.
    let capacity = replies
        .iter()
        .flatten()
        .find(|a| a.ty == genl::A_TABLE_CAPACITY);
    if let Some(a) = capacity {
        if !counters.iter().any(|c| c.id == counters::GAUGE_CAPACITY) {
            counters.push(Counter {
                id: counters::GAUGE_CAPACITY,
                value: u64::from(a.get_u32()?),
            });
        }
    }
    counters.sort_by_key(|c| c.id);
    Ok(Stats { counters })
}

// ---- flows and sessions ---------------------------------------------------------------------

/// One flow of the flow table, as `sarectl flows --json` prints it. Field names and order are the
/// JSON contract (other tools and the VM tests read it): an unknown port is 0, `status`, `identity`
/// and `wildcard` are names (`unknown(N)` for a value newer than this sarectl).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Flow {
    /// Source address.
    pub src: Ipv4Addr,
    /// Source port, 0 = unknown.
    pub sport: u16,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Destination port, 0 = unknown.
    pub dport: u16,
    /// `tcp`, `udp` (or the protocol number).
    pub proto: String,
    /// Server of the flow's session (0 when the kernel does not say).
    pub server: u32,
    /// Session id.
    pub session: u32,
    /// `new`, `established`, `inactive`.
    pub status: String,
    /// `signalling`, `announced`, `secondary`.
    pub identity: String,
    /// Unknown ports: `none`, `src_port`, `dst_port`, `both_ports`.
    pub wildcard: String,
    /// The flow (for a signalling flow: its session) has ended and lingers until purged.
    pub ended: bool,
    /// Milliseconds since the flow's last packet.
    pub idle_ms: u32,
    /// The flow's idle timeout in milliseconds (for an ended flow: how long it lingers).
    pub timeout_ms: u32,
    /// Packets counted on the flow.
    pub packets: u64,
    /// Bytes counted on the flow.
    pub bytes: u64,
}

/// Name of a flow status value.
pub fn flow_status_name(v: u8) -> String {
    table_name(FLOW_STATUSES, v)
}
/// Name of a flow identity value.
pub fn flow_identity_name(v: u8) -> String {
    table_name(FLOW_IDENTITIES, v)
}
/// Name of a wildcard value.
pub fn wildcard_name(v: u8) -> String {
    table_name(WILDCARDS, v)
}

/// A port for people: `*` when unknown (0).
pub fn port_text(p: u16) -> String {
    if p == 0 {
        "*".into()
    } else {
        p.to_string()
    }
}

impl Flow {
    /// `10.0.1.2:40000` (`*` for an unknown port).
    pub fn source(&self) -> String {
        format!("{}:{}", self.src, port_text(self.sport))
    }
    /// `10.0.0.100:554` (`*` for an unknown port).
    pub fn destination(&self) -> String {
        format!("{}:{}", self.dst, port_text(self.dport))
    }
    /// `10.0.0.100:554/tcp`: the destination with the protocol, as services are written.
    pub fn service(&self) -> String {
        format!("{}/{}", self.destination(), self.proto)
    }
    fn identity_rank(&self) -> usize {
        FLOW_IDENTITIES
            .iter()
            .position(|(_, n)| *n == self.identity)
            .unwrap_or(FLOW_IDENTITIES.len())
    }
}

/// Decode one `A_FLOW` nest's attributes. `A_FLOW_SRC`, `A_FLOW_DST`, `A_PROTO`, `A_SESSION_ID`,
/// `A_FLOW_STATUS` and `A_FLOW_IDENTITY` are required; the others default to 0 / `none` / false
/// when absent. Padding and unknown attributes (a newer kernel) are skipped.
pub fn decode_flow(attrs: &[Attr]) -> Result<Flow, Error> {
    let (mut src, mut dst, mut proto, mut session, mut status, mut identity) =
        (None, None, None, None, None, None);
    let mut f = Flow {
        src: Ipv4Addr::UNSPECIFIED,
        sport: 0,
        dst: Ipv4Addr::UNSPECIFIED,
        dport: 0,
        proto: String::new(),
        server: 0,
        session: 0,
        status: String::new(),
        identity: String::new(),
        wildcard: wildcard_name(genl::WILDCARD_EXACT),
        ended: false,
        idle_ms: 0,
        timeout_ms: 0,
        packets: 0,
        bytes: 0,
    };
    for a in attrs.iter().filter(|a| !is_pad(a)) {
        match a.ty {
            genl::A_FLOW_SRC => src = Some(a.get_ipv4()?),
            genl::A_FLOW_SPORT => f.sport = a.get_u16()?,
            genl::A_FLOW_DST => dst = Some(a.get_ipv4()?),
            genl::A_FLOW_DPORT => f.dport = a.get_u16()?,
            genl::A_PROTO => proto = Some(a.get_u8()?),
            genl::A_SERVER_ID => f.server = a.get_u32()?,
            genl::A_SESSION_ID => session = Some(a.get_u32()?),
            genl::A_FLOW_STATUS => status = Some(a.get_u8()?),
            genl::A_FLOW_IDENTITY => identity = Some(a.get_u8()?),
            genl::A_FLOW_WILDCARD => f.wildcard = wildcard_name(a.get_u8()?),
            genl::A_FLOW_ENDED => f.ended = a.get_u8()? != 0,
            genl::A_FLOW_IDLE_MS => f.idle_ms = a.get_u32()?,
            genl::A_FLOW_TIMEOUT_MS => f.timeout_ms = a.get_u32()?,
            genl::A_PACKETS => f.packets = a.get_u64()?,
            genl::A_FLOW_BYTES => f.bytes = a.get_u64()?,
            _ => {}
        }
    }
    f.src = required(src, "flow", genl::A_FLOW_SRC)?;
    f.dst = required(dst, "flow", genl::A_FLOW_DST)?;
    f.proto = proto_name(required(proto, "flow", genl::A_PROTO)?).into_owned();
    f.session = required(session, "flow", genl::A_SESSION_ID)?;
    f.status = flow_status_name(required(status, "flow", genl::A_FLOW_STATUS)?);
    f.identity = flow_identity_name(required(identity, "flow", genl::A_FLOW_IDENTITY)?);
    Ok(f)
}

/// Every `A_FLOW` nest of every message of a `CMD_FLOW_GET` dump (a message may hold none),
/// sorted for people: by session, signalling flow first, then by addresses and ports.
pub fn decode_flows(replies: &[Vec<Attr>]) -> Result<Vec<Flow>, Error> {
    let mut flows = replies
        .iter()
        .flatten()
        .filter(|a| a.ty == genl::A_FLOW)
        .map(|a| decode_flow(&a.nested()?))
        .collect::<Result<Vec<_>, _>>()?;
    flows.sort_by(|a, b| {
        (
            a.session,
            a.identity_rank(),
            a.src,
            a.sport,
            a.dst,
            a.dport,
            &a.proto,
        )
            .cmp(&(
                b.session,
                b.identity_rank(),
                b.src,
                b.sport,
                b.dst,
                b.dport,
                &b.proto,
            ))
    });
    Ok(flows)
}

/// One session, as `sarectl sessions` shows it: its flows grouped by session id. Field names and
/// order are the JSON contract. `client`, `service`, `status` and `ended` describe the session's
/// signalling flow and are null when that flow is not in the dump (it ended between two messages
/// of the dump, for example).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// Session id.
    pub session: u32,
    /// The session's server (0 when the kernel does not say).
    pub server: u32,
    /// The signalling flow's source, `IP:PORT`.
    pub client: Option<String>,
    /// The signalling flow's destination, `VIP:PORT/PROTO`.
    pub service: Option<String>,
    /// The signalling flow's status.
    pub status: Option<String>,
    /// Whether the signalling flow (the session) has ended.
    pub ended: Option<bool>,
    /// Flows of the session in the dump, the signalling flow included.
    pub flows: u32,
    /// Of which announced (not seen yet).
    pub announced: u32,
    /// Of which secondary (announced and seen).
    pub secondary: u32,
    /// Idle time of the session's most recently used flow, milliseconds.
    pub idle_ms: u32,
}

/// Group flows by session id, in session id order.
pub fn group_sessions(flows: &[Flow]) -> Vec<Session> {
    let signalling = flow_identity_name(genl::FLOW_IDENTITY_SIGNALLING);
    let announced = flow_identity_name(genl::FLOW_IDENTITY_ANNOUNCED);
    let secondary = flow_identity_name(genl::FLOW_IDENTITY_SECONDARY);
    let mut by_id: std::collections::BTreeMap<u32, Vec<&Flow>> = Default::default();
    for f in flows {
        by_id.entry(f.session).or_default().push(f);
    }
    by_id
        .into_iter()
        .map(|(id, fs)| {
            let sig = fs.iter().find(|f| f.identity == signalling);
            let count = |name: &str| fs.iter().filter(|f| f.identity == name).count() as u32;
            let server = sig
                .map(|f| f.server)
                .filter(|s| *s != 0)
                .or_else(|| fs.iter().map(|f| f.server).find(|s| *s != 0))
                .unwrap_or(0);
            Session {
                session: id,
                server,
                client: sig.map(|f| f.source()),
                service: sig.map(|f| f.service()),
                status: sig.map(|f| f.status.clone()),
                ended: sig.map(|f| f.ended),
                flows: fs.len() as u32,
                announced: count(&announced),
                secondary: count(&secondary),
                idle_ms: fs.iter().map(|f| f.idle_ms).min().unwrap_or(0),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_key_parses_and_prints() {
        let k: ServiceKey = "192.0.2.10:5060/udp".parse().unwrap();
        assert_eq!(
            k,
            ServiceKey {
                vip: Ipv4Addr::new(192, 0, 2, 10),
                port: 5060,
                proto: 17
            }
        );
        assert_eq!(k.to_string(), "192.0.2.10:5060/udp");
        let k: ServiceKey = "10.0.0.1:554/TCP".parse().unwrap();
        assert_eq!(k.proto, 6);
        assert_eq!(k.to_string(), "10.0.0.1:554/tcp");
    }

    #[test]
    fn service_key_rejects_bad_input() {
        for (bad, why) in [
            ("192.0.2.10:5060", "VIP:PORT/PROTO"),
            ("192.0.2.10/udp", "VIP:PORT/PROTO"),
            ("300.0.2.10:5060/udp", "not an IPv4 address"),
            ("192.0.2:5060/udp", "not an IPv4 address"),
            ("0.0.0.0:80/tcp", "unspecified"),
            ("255.255.255.255:80/tcp", "broadcast"),
            ("224.0.0.1:80/udp", "multicast"),
            ("192.0.2.10:0/udp", "1 to 65535"),
            ("192.0.2.10:65536/udp", "1 to 65535"),
            ("192.0.2.10:http/tcp", "not a port"),
            ("192.0.2.10:80/sctp", "use tcp or udp"),
            ("192.0.2.10:80/", "use tcp or udp"),
        ] {
            let e = bad.parse::<ServiceKey>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("52:54:00:12:34:56").unwrap(),
            [0x52, 0x54, 0, 0x12, 0x34, 0x56]
        );
        assert_eq!(
            parse_mac("52-54-00-AB-cd-0F").unwrap(),
            [0x52, 0x54, 0, 0xab, 0xcd, 0x0f]
        );
        assert_eq!(parse_mac("2:0:0:0:0:1").unwrap(), [2, 0, 0, 0, 0, 1]);
        assert!(parse_mac("52:54:00:12:34")
            .unwrap_err()
            .contains("5 byte(s)"));
        assert!(parse_mac("52:54:00:12:34:56:78")
            .unwrap_err()
            .contains("7 byte(s)"));
        assert!(parse_mac("52:54:00:12:34:zz")
            .unwrap_err()
            .contains("not hex"));
        assert!(parse_mac("52:54:00:12:34:567").is_err());
        assert!(parse_mac("52:54::12:34:56").is_err());
        assert!(parse_mac("ff:ff:ff:ff:ff:ff")
            .unwrap_err()
            .contains("broadcast"));
        assert!(parse_mac("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        assert!(parse_mac("00:00:00:00:00:00")
            .unwrap_err()
            .contains("all-zero"));
        assert_eq!(
            format_mac(&[0x52, 0x54, 0, 0xab, 0xcd, 0x0f]),
            "52:54:00:ab:cd:0f"
        );
    }

    #[test]
    fn ifname_checks() {
        assert_eq!(parse_ifname("eth0").unwrap(), "eth0");
        assert_eq!(
            parse_ifname("a23456789012345").unwrap().len(),
            genl::IFNAME_MAX
        );
        assert!(parse_ifname("a234567890123456")
            .unwrap_err()
            .contains("at most 15"));
        for bad in ["", ".", "..", "eth/0", "eth 0", "eth:0"] {
            assert!(parse_ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_come_from_genl() {
        assert_eq!(sig_names(), ["none", "rtsp", "sip", "ftp"]);
        assert_eq!(
            policy_names(),
            ["hash", "forecast", "rr", "random", "least-sessions", "wrr"]
        );
        assert_eq!(
            policy_from_name("least-sessions"),
            Some(genl::POLICY_LEAST_SESSIONS)
        );
        assert_eq!(sig_from_name("sip"), Some(genl::SIG_SIP));
        assert_eq!(down_action_from_name("keep"), Some(genl::DOWN_KEEP));
        assert_eq!(
            down_action_from_name("redispatch"),
            Some(genl::DOWN_REDISPATCH)
        );
        assert_eq!(policy_from_name("nope"), None);
        assert_eq!(down_action_names(), ["redispatch", "keep"]);
    }

    #[test]
    fn service_add_request_has_only_given_attributes() {
        let key: ServiceKey = "10.1.2.3:554/tcp".parse().unwrap();
        let r = service_add(&ServiceAdd {
            key,
            sig: None,
            policy: None,
            timeout: None,
            down_action: None,
        });
        assert_eq!(r.cmd, genl::CMD_SERVICE_ADD);
        assert_eq!(
            r.attrs,
            vec![
                Attr::bytes(genl::A_VIP, [10, 1, 2, 3]),
                Attr::bytes(genl::A_PORT, 554u16.to_ne_bytes()),
                Attr::bytes(genl::A_PROTO, [6]),
            ]
        );
        let r = service_add(&ServiceAdd {
            key,
            sig: Some(genl::SIG_RTSP),
            policy: Some(genl::POLICY_RR),
            timeout: Some(60),
            down_action: Some(genl::DOWN_KEEP),
        });
        let tail: Vec<_> = r.attrs[3..].to_vec();
        assert_eq!(
            tail,
            vec![
                Attr::u8(genl::A_SIGPROTO, genl::SIG_RTSP),
                Attr::u8(genl::A_POLICY, genl::POLICY_RR),
                Attr::bytes(genl::A_TIMEOUT, 60u32.to_ne_bytes()),
                Attr::u8(genl::A_DOWN_ACTION, genl::DOWN_KEEP),
            ]
        );
        assert_eq!(service_del(&key).attrs, r.attrs[..3].to_vec());
        assert_eq!(service_del(&key).cmd, genl::CMD_SERVICE_DEL);
    }

    #[test]
    fn server_add_request() {
        let r = server_add(&ServerAdd {
            id: 3,
            ip: Ipv4Addr::new(10, 0, 0, 3),
            mac: [0x52, 0x54, 0, 0, 0, 3],
            ifname: "eth1".into(),
            weight: Some(5),
        });
        assert_eq!(r.cmd, genl::CMD_SERVER_ADD);
        assert_eq!(
            r.attrs,
            vec![
                Attr::bytes(genl::A_SERVER_ID, 3u32.to_ne_bytes()),
                Attr::bytes(genl::A_SERVER_IP, [10, 0, 0, 3]),
                Attr::bytes(genl::A_SERVER_MAC, [0x52, 0x54, 0, 0, 0, 3]),
                Attr::bytes(genl::A_IFNAME, *b"eth1\0"),
                Attr::bytes(genl::A_WEIGHT, 5u32.to_ne_bytes()),
            ]
        );
        assert_eq!(server_del(3).attrs, vec![Attr::u32(genl::A_SERVER_ID, 3)]);
        assert_eq!(server_get().cmd, genl::CMD_SERVER_GET);
        assert_eq!(service_get().cmd, genl::CMD_SERVICE_GET);
        assert_eq!(stats_get().cmd, genl::CMD_STATS_GET);
        assert!(stats_get().attrs.is_empty());
    }

    #[test]
    fn decode_service_with_unknown_values_and_attributes() {
        let attrs = vec![
            Attr::ipv4(genl::A_VIP, Ipv4Addr::new(192, 0, 2, 1)),
            Attr::u16(genl::A_PORT, 5060),
            Attr::u8(genl::A_PROTO, 17),
            Attr::u8(genl::A_SIGPROTO, 200),
            Attr::u8(genl::A_POLICY, genl::POLICY_FORECAST),
            Attr::bytes(genl::A_PAD, []),
            Attr::bytes(genl::A_PACKETS, 42u64.to_ne_bytes()),
            Attr::bytes(999, [1, 2, 3]),
        ];
        let s = decode_service(&attrs).unwrap();
        assert_eq!(s.protocol, "udp");
        assert_eq!(s.sig.as_deref(), Some("unknown(200)"));
        assert_eq!(s.policy.as_deref(), Some("forecast"));
        assert_eq!(s.timeout, None);
        assert_eq!(s.packets, Some(42));
        let e = decode_service(&attrs[1..]).unwrap_err();
        assert!(e.to_string().contains("without attribute A_VIP"), "{e}");
    }

    #[test]
    fn counters_name_unknown_ids() {
        assert_eq!(
            Counter {
                id: counters::PKT_SEEN,
                value: 0
            }
            .name(),
            "packets_seen"
        );
        assert_eq!(Counter { id: 500, value: 0 }.name(), "counter_500");
        let s = Stats {
            counters: vec![Counter { id: 1, value: 5 }, Counter { id: 77, value: 6 }],
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"packets_forwarded":5,"counter_77":6}"#
        );
    }

    fn minimal_flow(session: u32, identity: u8) -> Vec<Attr> {
        vec![
            Attr::ipv4(genl::A_FLOW_SRC, Ipv4Addr::new(10, 0, 1, 2)),
            Attr::ipv4(genl::A_FLOW_DST, Ipv4Addr::new(10, 0, 0, 100)),
            Attr::u8(genl::A_PROTO, PROTO_UDP),
            Attr::u32(genl::A_SESSION_ID, session),
            Attr::u8(genl::A_FLOW_STATUS, genl::FLOW_STATUS_NEW),
            Attr::u8(genl::A_FLOW_IDENTITY, identity),
        ]
    }

    #[test]
    fn decode_flow_tolerates_missing_optional_and_unknown_attributes() {
        let mut attrs = minimal_flow(9, genl::FLOW_IDENTITY_ANNOUNCED);
        attrs.push(Attr::bytes(500, [1, 2, 3]));
        attrs.push(Attr::u8(genl::A_FLOW_WILDCARD, genl::WILDCARD_BOTH_PORTS));
        let f = decode_flow(&attrs).unwrap();
        assert_eq!((f.sport, f.dport, f.server), (0, 0, 0));
        assert_eq!((f.packets, f.bytes, f.idle_ms, f.timeout_ms), (0, 0, 0, 0));
        assert_eq!(f.wildcard, "both_ports");
        assert_eq!(
            (f.status.as_str(), f.identity.as_str()),
            ("new", "announced")
        );
        assert!(!f.ended);
        assert_eq!(f.source(), "10.0.1.2:*");
        assert_eq!(f.service(), "10.0.0.100:*/udp");
        // Absent wildcard: none.
        assert_eq!(decode_flow(&minimal_flow(9, 0)).unwrap().wildcard, "none");
        // Values newer than this sarectl are named, not refused.
        let mut attrs = minimal_flow(9, 7);
        attrs.push(Attr::u8(genl::A_FLOW_STATUS, 9));
        attrs.push(Attr::u8(genl::A_FLOW_WILDCARD, 8));
        let f = decode_flow(&attrs).unwrap();
        assert_eq!(
            (f.identity.as_str(), f.status.as_str(), f.wildcard.as_str()),
            ("unknown(7)", "unknown(9)", "unknown(8)")
        );
        // A flow without its key or session is a protocol error, named.
        for (i, name) in [
            (0, "A_FLOW_SRC"),
            (3, "A_SESSION_ID"),
            (5, "A_FLOW_IDENTITY"),
        ] {
            let mut attrs = minimal_flow(9, 0);
            attrs.remove(i);
            let e = decode_flow(&attrs).unwrap_err();
            assert!(
                e.to_string()
                    .contains(&format!("flow without attribute {name}")),
                "{e}"
            );
            assert_eq!(e.exit_code(), 4);
        }
        // A wrongly sized attribute too.
        let mut attrs = minimal_flow(9, 0);
        attrs.push(Attr::bytes(genl::A_FLOW_SPORT, [1]));
        assert!(decode_flow(&attrs).is_err());
    }

    #[test]
    fn flows_are_sorted_by_session_signalling_first() {
        let nest = |session, identity, sport| {
            let mut a = minimal_flow(session, identity);
            a.push(Attr::u16(genl::A_FLOW_SPORT, sport));
            // As decoded from the wire: the type without NLA_F_NESTED.
            Attr::bytes(genl::A_FLOW, encode_attrs(&a))
        };
        let replies = vec![
            vec![
                nest(5, genl::FLOW_IDENTITY_SECONDARY, 2),
                nest(3, genl::FLOW_IDENTITY_SIGNALLING, 9),
            ],
            vec![],
            vec![
                nest(5, genl::FLOW_IDENTITY_SIGNALLING, 7),
                nest(5, genl::FLOW_IDENTITY_SECONDARY, 1),
                Attr::u32(genl::A_SERVER_ID, 1), // top-level, not a flow
            ],
        ];
        let got: Vec<(u32, String, u16)> = decode_flows(&replies)
            .unwrap()
            .into_iter()
            .map(|f| (f.session, f.identity, f.sport))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "signalling".into(), 9),
                (5, "signalling".into(), 7),
                (5, "secondary".into(), 1),
                (5, "secondary".into(), 2),
            ]
        );
        assert!(decode_flows(&[]).unwrap().is_empty());
    }

    #[test]
    fn sessions_group_flows_and_survive_a_missing_signalling_flow() {
        let flow = |session, identity: &str, server, idle_ms, ended| Flow {
            src: Ipv4Addr::new(10, 0, 1, 2),
            sport: 40000,
            dst: Ipv4Addr::new(10, 0, 0, 100),
            dport: 554,
            proto: "tcp".into(),
            server,
            session,
            status: "established".into(),
            identity: identity.into(),
            wildcard: "none".into(),
            ended,
            idle_ms,
            timeout_ms: 30_000,
            packets: 1,
            bytes: 1,
        };
        let flows = vec![
            flow(17, "signalling", 1, 900, false),
            flow(17, "announced", 1, 5000, false),
            flow(17, "secondary", 1, 50, false),
            flow(17, "secondary", 1, 70, false),
            flow(4, "secondary", 2, 10, false), // its signalling flow raced away
            flow(30, "signalling", 3, 1, true),
        ];
        let s = group_sessions(&flows);
        assert_eq!(
            s,
            vec![
                Session {
                    session: 4,
                    server: 2,
                    client: None,
                    service: None,
                    status: None,
                    ended: None,
                    flows: 1,
                    announced: 0,
                    secondary: 1,
                    idle_ms: 10,
                },
                Session {
                    session: 17,
                    server: 1,
                    client: Some("10.0.1.2:40000".into()),
                    service: Some("10.0.0.100:554/tcp".into()),
                    status: Some("established".into()),
                    ended: Some(false),
                    flows: 4,
                    announced: 1,
                    secondary: 2,
                    idle_ms: 50,
                },
                Session {
                    session: 30,
                    server: 3,
                    client: Some("10.0.1.2:40000".into()),
                    service: Some("10.0.0.100:554/tcp".into()),
                    status: Some("established".into()),
                    ended: Some(true),
                    flows: 1,
                    announced: 0,
                    secondary: 0,
                    idle_ms: 1,
                },
            ]
        );
        assert!(group_sessions(&[]).is_empty());
    }

    #[test]
    fn endpoints_and_flow_names() {
        let e: Endpoint = "10.0.1.2:7624".parse().unwrap();
        assert_eq!(
            e,
            Endpoint {
                ip: Ipv4Addr::new(10, 0, 1, 2),
                port: 7624
            }
        );
        assert_eq!(e.to_string(), "10.0.1.2:7624");
        for (bad, why) in [
            ("10.0.1.2", "IP:PORT"),
            ("10.0.1.2:0", "1 to 65535"),
            ("10.0.1.2:70000", "1 to 65535"),
            ("10.0.1:80", "not an IPv4 address"),
            ("0.0.0.0:80", "unspecified"),
        ] {
            let err = bad.parse::<Endpoint>().unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert_eq!(
            table_names(FLOW_STATUSES),
            ["new", "established", "inactive"]
        );
        assert_eq!(
            table_names(FLOW_IDENTITIES),
            ["signalling", "announced", "secondary"]
        );
        assert_eq!(
            table_names(WILDCARDS),
            ["none", "src_port", "dst_port", "both_ports"]
        );
        assert_eq!(flow_status_name(genl::FLOW_STATUS_INACTIVE), "inactive");
        assert_eq!(wildcard_name(genl::WILDCARD_SRC_PORT), "src_port");
        assert_eq!(port_text(0), "*");
        assert_eq!(flow_get(None, None).attrs, vec![]);
        assert_eq!(
            flow_get(None, Some(3)).attrs,
            vec![Attr::u32(genl::A_SESSION_ID, 3)]
        );
    }
}
