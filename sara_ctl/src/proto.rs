//! SARA's generic netlink messages as plain data: requests built from operator input, replies decoded
//! into [`Service`], [`Server`] and [`Stats`]. Every number and name comes from `sara_core::genl`
//! and `sara_core::counters`; the bytes on the wire are made and read by [`crate::nl`].

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use sara_core::{counters, genl};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::error::{attr_label, Error};

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
        crate::nl::parse_attrs(&self.payload).map_err(|e| {
            Error::Protocol(format!("nest {} does not parse: {e}", attr_label(self.ty)))
        })
    }
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

/// One generic netlink request to family `sara`: a command and its top-level attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `genl::CMD_*`.
    pub cmd: u8,
    /// Attributes in the order they are sent.
    pub attrs: Vec<Attr>,
}

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
    /// Active sessions on the server.
    pub sessions: Option<u32>,
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
        sessions: None,
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
            genl::A_SESSIONS => s.sessions = Some(a.get_u32()?),
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
    counters.sort_by_key(|c| c.id);
    Ok(Stats { counters })
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
}
