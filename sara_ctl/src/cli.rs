//! The CLI's words for values, both ways: the parsers of the operator's arguments (and of the
//! cluster file's values: the same validators), and the names of the kernel's numbers (protocols,
//! signalling protocols, policies, down actions, server states, flow statuses, identities and
//! wildcards, roles). A value newer than this sarectl is named `unknown(N)`. The kernel client
//! ([`crate::kernel`]) takes and gives the numbers; this is where they become text.

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use sara_core::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
use sara_core::genl;

use crate::kernel::{FlowIdentity, FlowStatus, HaRole, PortWildcard, ServiceKey};

/// Names of the down actions (`genl::DOWN_*`), for flags and output.
pub const DOWN_ACTIONS: &[(u8, &str)] = &[
    (genl::DOWN_REDISPATCH, "redispatch"),
    (genl::DOWN_KEEP, "keep"),
];

// ---- names of the kernel's numbers ----------------------------------------------------------------------------------

/// `tcp`, `udp`, or the protocol number.
pub fn proto_name(p: u8) -> Cow<'static, str> {
    match p {
        PROTO_TCP => "tcp".into(),
        PROTO_UDP => "udp".into(),
        sara_core::calls::PROTO_SIP_CALL => "sip-call".into(),
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

/// Name of a signalling protocol value, or `unknown(N)`.
pub fn sig_name(v: u8) -> String {
    known_or_number(genl::sigproto_name(v), v)
}
/// Name of a policy value, or `unknown(N)`.
pub fn policy_name(v: u8) -> String {
    known_or_number(genl::policy_name(v), v)
}
/// Name of a server state value, or `unknown(N)`.
pub fn state_name(v: u8) -> String {
    known_or_number(genl::state_name(v), v)
}
/// Name of a flow status.
pub fn status_name(s: FlowStatus) -> String {
    flow_status_name(s.to_u8())
}
/// Name of a flow identity.
pub fn identity_name(i: FlowIdentity) -> String {
    flow_identity_name(i.to_u8())
}
/// Name of a flow's unknown ports.
pub fn port_wildcard_name(w: PortWildcard) -> String {
    wildcard_name(w.to_u8())
}
/// Name of a high-availability role (`?` for one this sarectl does not know).
pub fn ha_role_name(r: HaRole) -> &'static str {
    genl::ha_role_name(r.to_u8())
}

/// A flow key for people: `udp 10.0.1.2:7624 -> 10.0.0.100:42182`.
pub fn show_key(k: &FlowKey) -> String {
    format!(
        "{} {}:{} -> {}:{}",
        proto_name(k.protocol),
        Ipv4Addr::from(k.src_addr),
        k.src_port,
        Ipv4Addr::from(k.dst_addr),
        k.dst_port
    )
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

// ---- the operator's input -------------------------------------------------------------------------

/// `192.0.2.10:5060/udp`.
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

/// `VIP:PORT/PROTO`, e.g. `192.0.2.10:5060/udp`.
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

/// Parse a whole SIP Call-ID (`sarectl sessions --call-id`), as a SIP trace shows the header's value:
/// surrounding white space is dropped (the Call-ID is compared byte for byte after that, as sara.ko
/// does). The shortened form `sarectl sessions` shows (with `…`) is refused: its middle bytes are
/// unknown, so it matches no call; a Call-ID longer than 256 bytes is refused too (sara.ko indexes
/// none).
pub fn parse_call_id(s: &str) -> Result<String, String> {
    let id = s.trim();
    if id.is_empty() {
        return Err(
            "a Call-ID is not empty: give the whole value of the call's Call-ID header".into(),
        );
    }
    if id.contains('…') {
        return Err(format!(
            "'{id}' is a shortened Call-ID as sarectl sessions shows it, which cannot be matched: \
             give the whole Call-ID (the value of the Call-ID header in a SIP trace)"
        ));
    }
    if id.len() > sara_core::calls::MAX_CALL_ID {
        return Err(format!(
            "this Call-ID is {} bytes long: sara.ko indexes Call-IDs of at most {} bytes (longer \
             ones are no call of their own)",
            id.len(),
            sara_core::calls::MAX_CALL_ID
        ));
    }
    Ok(id.to_string())
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
    }

    #[test]
    fn names_of_the_kernel_values() {
        assert_eq!(sig_name(genl::SIG_SIP), "sip");
        assert_eq!(sig_name(200), "unknown(200)");
        assert_eq!(policy_name(genl::POLICY_WRR), "wrr");
        assert_eq!(policy_name(9), "unknown(9)");
        assert_eq!(state_name(genl::STATE_DRAINING), "draining");
        assert_eq!(state_name(3), "unknown(3)");
        assert_eq!(down_action_name(genl::DOWN_KEEP), "keep");
        assert_eq!(down_action_name(7), "unknown(7)");
        assert_eq!(status_name(FlowStatus::Inactive), "inactive");
        assert_eq!(status_name(FlowStatus::Unknown(9)), "unknown(9)");
        assert_eq!(identity_name(FlowIdentity::Secondary), "secondary");
        assert_eq!(port_wildcard_name(PortWildcard::BothPorts), "both_ports");
        assert_eq!(ha_role_name(HaRole::Backup), "backup");
        assert_eq!(ha_role_name(HaRole::Unknown(4)), "?");
        assert_eq!(proto_name(PROTO_TCP), "tcp");
        assert_eq!(proto_name(PROTO_UDP), "udp");
        assert_eq!(proto_name(47), "47");
        assert_eq!(proto_name(sara_core::calls::PROTO_SIP_CALL), "sip-call");
        let k = FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], 42182, PROTO_UDP);
        assert_eq!(show_key(&k), "udp 10.0.1.2:7624 -> 10.0.0.100:42182");
    }
}
