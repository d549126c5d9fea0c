//! Services and servers, the configuration of `sara.ko`: `CMD_SERVICE_ADD`, `CMD_SERVICE_DEL`,
//! `CMD_SERVICE_GET`, `CMD_SERVER_ADD`, `CMD_SERVER_DEL`, `CMD_SERVER_GET`, and `CMD_CONFIG_SET`
//! (the whole configuration in one request).
//!
//! A request carries top-level attributes; a `*_GET` reply carries one nest per object:
//!
//! ```text
//! CMD_SERVICE_ADD: A_VIP be32 | A_PORT u16 | A_PROTO u8 [| A_SIGPROTO u8 | A_POLICY u8 |
//!                  A_TIMEOUT u32 | A_DOWN_ACTION u8]            (optional ones only when given)
//! CMD_SERVER_ADD:  A_SERVER_ID u32 | A_SERVER_IP be32 | A_SERVER_MAC 6 bytes | A_IFNAME string
//!                  [| A_WEIGHT u32]
//! CMD_CONFIG_SET:  A_SERVICE nest (as CMD_SERVICE_ADD) ... | A_SERVER nest (as CMD_SERVER_ADD) ...
//! replies:         A_SERVICE nest: the add attributes + A_PAD | A_PACKETS u64
//!                  A_SERVER nest:  the add attributes + A_IFINDEX, A_STATE, A_SESSIONS,
//!                                  A_FORECAST, A_LOAD, A_LOAD_KNOWN, A_PACKETS
//! ```

use std::net::Ipv4Addr;

use sara_core::genl;

use super::attr::Attr;
use super::msg::{
    attr_lists, encode_request, Request, FLAGS_REQUEST_ACK, GENL_HDRLEN, NLMSG_HDRLEN,
};
use super::Client;
use crate::error::{attr_label, Error};

/// Largest server id the kernel accepts (`A_SERVER_ID`: 1..=65535).
pub const MAX_SERVER_ID: u32 = u16::MAX as u32;
/// Largest server weight (`A_WEIGHT`: 1..=65535).
pub const MAX_WEIGHT: u32 = u16::MAX as u32;

/// A virtual service's identity: virtual IP, port and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceKey {
    /// Virtual IPv4 address.
    pub vip: Ipv4Addr,
    /// Port, 1..=65535.
    pub port: u16,
    /// IP protocol number (6 or 17).
    pub proto: u8,
}

/// A service to add (`CMD_SERVICE_ADD`); `None` leaves the kernel's default.
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

/// A server to add (`CMD_SERVER_ADD`).
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

/// One service as `sara.ko` lists it. Values are the kernel's numbers (a newer kernel may send one
/// this sarectl has no name for); `None` when the kernel did not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service.
    pub key: ServiceKey,
    /// `genl::SIG_*`.
    pub sig: Option<u8>,
    /// `genl::POLICY_*`.
    pub policy: Option<u8>,
    /// Idle timeout of flows, seconds.
    pub timeout: Option<u32>,
    /// `genl::DOWN_*`.
    pub down_action: Option<u8>,
    /// Packets forwarded through the service.
    pub packets: Option<u64>,
}

/// One server as `sara.ko` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Server id.
    pub id: u32,
    /// Server IPv4 address.
    pub ip: Ipv4Addr,
    /// MAC address.
    pub mac: [u8; 6],
    /// Interface name.
    pub ifname: Option<String>,
    /// Interface index.
    pub ifindex: Option<u32>,
    /// Weight.
    pub weight: Option<u32>,
    /// `genl::STATE_*`.
    pub state: Option<u8>,
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

/// The object of a `CMD_CONFIG_SET` that byte `offset` of the request lies in (what the kernel's
/// `NLMSGERR_ATTR_OFFS` points at): the n-th service or the n-th server, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigPlace {
    /// `services[n]`.
    Service(usize),
    /// `servers[n]`.
    Server(usize),
}

// ---- requests -------------------------------------------------------------------------------

fn key_attrs(k: &ServiceKey) -> Vec<Attr> {
    vec![
        Attr::ipv4(genl::A_VIP, k.vip),
        Attr::u16(genl::A_PORT, k.port),
        Attr::u8(genl::A_PROTO, k.proto),
    ]
}

/// The attributes of `CMD_SERVICE_ADD` (and of an `A_SERVICE` nest of `CMD_CONFIG_SET`); optional
/// attributes only when given, so the kernel's defaults apply.
fn service_attrs(s: &ServiceAdd) -> Vec<Attr> {
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
    attrs
}

/// The attributes of `CMD_SERVER_ADD` (and of an `A_SERVER` nest of `CMD_CONFIG_SET`).
fn server_attrs(s: &ServerAdd) -> Vec<Attr> {
    let mut attrs = vec![
        Attr::u32(genl::A_SERVER_ID, s.id),
        Attr::ipv4(genl::A_SERVER_IP, s.ip),
        Attr::bytes(genl::A_SERVER_MAC, s.mac),
        Attr::string(genl::A_IFNAME, &s.ifname),
    ];
    if let Some(w) = s.weight {
        attrs.push(Attr::u32(genl::A_WEIGHT, w));
    }
    attrs
}

fn request(cmd: u8, attrs: Vec<Attr>) -> Request {
    Request { cmd, attrs }
}

fn service_add_request(s: &ServiceAdd) -> Request {
    request(genl::CMD_SERVICE_ADD, service_attrs(s))
}

fn service_del_request(k: &ServiceKey) -> Request {
    request(genl::CMD_SERVICE_DEL, key_attrs(k))
}

fn server_add_request(s: &ServerAdd) -> Request {
    request(genl::CMD_SERVER_ADD, server_attrs(s))
}

fn server_del_request(id: u32) -> Request {
    request(genl::CMD_SERVER_DEL, vec![Attr::u32(genl::A_SERVER_ID, id)])
}

/// `CMD_CONFIG_SET`: one `A_SERVICE` nest per service with the attributes of `CMD_SERVICE_ADD`,
/// then one `A_SERVER` nest per server with those of `CMD_SERVER_ADD`.
fn config_set_request(services: &[ServiceAdd], servers: &[ServerAdd]) -> Request {
    let services = services
        .iter()
        .map(|s| Attr::nest(genl::A_SERVICE, &service_attrs(s)));
    let servers = servers
        .iter()
        .map(|s| Attr::nest(genl::A_SERVER, &server_attrs(s)));
    request(genl::CMD_CONFIG_SET, services.chain(servers).collect())
}

/// The length in bytes of the `CMD_CONFIG_SET` request for these services and servers.
pub fn config_set_len(services: &[ServiceAdd], servers: &[ServerAdd]) -> Result<usize, Error> {
    let req = config_set_request(services, servers);
    Ok(encode_request(0, FLAGS_REQUEST_ACK, 0, &req)?.len())
}

/// The service or server of the `CMD_CONFIG_SET` for these services and servers that byte
/// `offset` of the request lies in (the kernel's error offset, [`crate::error::KernelError`]'s
/// `bad_attr_offset`).
pub fn config_set_place(
    services: &[ServiceAdd],
    servers: &[ServerAdd],
    offset: u32,
) -> Option<ConfigPlace> {
    let req = config_set_request(services, servers);
    let bytes = encode_request(0, FLAGS_REQUEST_ACK, 0, &req).ok()?;
    place_of_offset(&bytes, offset)
}

/// The nest of an encoded `CMD_CONFIG_SET` holding byte `offset`.
fn place_of_offset(request: &[u8], offset: u32) -> Option<ConfigPlace> {
    let off = usize::try_from(offset).ok()?;
    let mut at = NLMSG_HDRLEN + GENL_HDRLEN;
    let (mut services, mut servers) = (0, 0);
    while at + 4 <= request.len() {
        let len = usize::from(u16::from_ne_bytes([request[at], request[at + 1]]));
        let ty = u16::from_ne_bytes([request[at + 2], request[at + 3]]) & 0x3fff;
        if len < 4 {
            return None;
        }
        let (place, n): (fn(usize) -> ConfigPlace, &mut usize) = match ty {
            genl::A_SERVICE => (ConfigPlace::Service, &mut services),
            genl::A_SERVER => (ConfigPlace::Server, &mut servers),
            _ => return None,
        };
        if off >= at && off < at + len {
            return Some(place(*n));
        }
        *n += 1;
        at += (len + 3) & !3;
    }
    None
}

// ---- replies --------------------------------------------------------------------------------

/// Whether `a` is 64-bit alignment padding (`A_PAD`, empty payload).
pub(super) fn is_pad(a: &Attr) -> bool {
    a.ty == genl::A_PAD && a.payload.is_empty()
}

/// `v`, or the protocol error "`what` without attribute `attr`".
pub(super) fn required<T>(v: Option<T>, what: &str, attr: u16) -> Result<T, Error> {
    v.ok_or_else(|| Error::Protocol(format!("{what} without attribute {}", attr_label(attr))))
}

/// Decode one `A_SERVICE` nest's attributes. Unknown attributes (a newer kernel) are ignored.
fn decode_service(attrs: &[Attr]) -> Result<Service, Error> {
    let (mut vip, mut port, mut proto) = (None, None, None);
    let mut s = Service {
        key: ServiceKey {
            vip: Ipv4Addr::UNSPECIFIED,
            port: 0,
            proto: 0,
        },
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
            genl::A_SIGPROTO => s.sig = Some(a.get_u8()?),
            genl::A_POLICY => s.policy = Some(a.get_u8()?),
            genl::A_TIMEOUT => s.timeout = Some(a.get_u32()?),
            genl::A_DOWN_ACTION => s.down_action = Some(a.get_u8()?),
            genl::A_PACKETS => s.packets = Some(a.get_u64()?),
            _ => {}
        }
    }
    s.key.vip = required(vip, "service", genl::A_VIP)?;
    s.key.port = required(port, "service", genl::A_PORT)?;
    s.key.proto = required(proto, "service", genl::A_PROTO)?;
    Ok(s)
}

/// Decode one `A_SERVER` nest's attributes. Unknown attributes (a newer kernel) are ignored.
fn decode_server(attrs: &[Attr]) -> Result<Server, Error> {
    let (mut id, mut ip, mut mac) = (None, None, None);
    let mut s = Server {
        id: 0,
        ip: Ipv4Addr::UNSPECIFIED,
        mac: [0; 6],
        ifname: None,
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
            genl::A_IFNAME => s.ifname = Some(a.get_string()),
            genl::A_IFINDEX => s.ifindex = Some(a.get_u32()?),
            genl::A_WEIGHT => s.weight = Some(a.get_u32()?),
            genl::A_STATE => s.state = Some(a.get_u8()?),
            genl::A_SESSIONS => s.sessions = a.get_u32()?,
            genl::A_PACKETS => s.packets = Some(a.get_u64()?),
            _ => {}
        }
    }
    s.id = required(id, "server", genl::A_SERVER_ID)?;
    s.ip = required(ip, "server", genl::A_SERVER_IP)?;
    s.mac = required(mac, "server", genl::A_SERVER_MAC)?;
    Ok(s)
}

/// Every `A_SERVICE` nest among the top-level attributes of the reply messages.
fn decode_services(replies: &[Vec<Attr>]) -> Result<Vec<Service>, Error> {
    replies
        .iter()
        .flatten()
        .filter(|a| a.ty == genl::A_SERVICE)
        .map(|a| decode_service(&a.nested()?))
        .collect()
}

/// Every `A_SERVER` nest among the top-level attributes of the reply messages.
fn decode_servers(replies: &[Vec<Attr>]) -> Result<Vec<Server>, Error> {
    replies
        .iter()
        .flatten()
        .filter(|a| a.ty == genl::A_SERVER)
        .map(|a| decode_server(&a.nested()?))
        .collect()
}

// ---- the commands ---------------------------------------------------------------------------

impl Client {
    /// `CMD_SERVICE_ADD`.
    pub fn service_add(&mut self, s: &ServiceAdd) -> Result<(), Error> {
        self.call(&service_add_request(s)).map(drop)
    }

    /// `CMD_SERVICE_DEL`.
    pub fn service_del(&mut self, k: &ServiceKey) -> Result<(), Error> {
        self.call(&service_del_request(k)).map(drop)
    }

    /// `CMD_SERVICE_GET`: every service, in the kernel's order.
    pub fn services(&mut self) -> Result<Vec<Service>, Error> {
        let replies = self.call(&request(genl::CMD_SERVICE_GET, vec![]))?;
        decode_services(&attr_lists(replies))
    }

    /// `CMD_SERVER_ADD`.
    pub fn server_add(&mut self, s: &ServerAdd) -> Result<(), Error> {
        self.call(&server_add_request(s)).map(drop)
    }

    /// `CMD_SERVER_DEL`.
    pub fn server_del(&mut self, id: u32) -> Result<(), Error> {
        self.call(&server_del_request(id)).map(drop)
    }

    /// `CMD_SERVER_GET`: every server, in the kernel's order.
    pub fn servers(&mut self) -> Result<Vec<Server>, Error> {
        let replies = self.call(&request(genl::CMD_SERVER_GET, vec![]))?;
        decode_servers(&attr_lists(replies))
    }

    /// `CMD_CONFIG_SET`: replace every service and server at once. On a refusal, the object the
    /// kernel objects to is [`config_set_place`] of its error offset.
    pub fn config_set(
        &mut self,
        services: &[ServiceAdd],
        servers: &[ServerAdd],
    ) -> Result<(), Error> {
        self.call(&config_set_request(services, servers)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::attr::parse_attrs;
    use crate::kernel::msg::{decode_datagram, Body, NLMSG_ERROR};
    use crate::kernel::test_util::*;

    #[test]
    fn service_add_request_bytes() {
        let req = service_add_request(&ServiceAdd {
            key: "192.0.2.10:5060/udp".parse().unwrap(),
            sig: Some(genl::SIG_SIP),
            policy: None,
            timeout: Some(30),
            down_action: None,
        });
        let bytes = encode_request(0x1c, FLAGS_REQUEST_ACK, 7, &req).unwrap();
        let mut want: Vec<u8> = Vec::new();
        want.extend_from_slice(&60u32.to_ne_bytes()); // nlmsg_len
        want.extend_from_slice(&0x1cu16.to_ne_bytes()); // family id
        want.extend_from_slice(&5u16.to_ne_bytes()); // REQUEST | ACK
        want.extend_from_slice(&7u32.to_ne_bytes()); // seq
        want.extend_from_slice(&0u32.to_ne_bytes()); // pid
        want.extend_from_slice(&[genl::CMD_SERVICE_ADD, genl::VERSION, 0, 0]);
        want.extend_from_slice(&8u16.to_ne_bytes()); // A_VIP, be32
        want.extend_from_slice(&genl::A_VIP.to_ne_bytes());
        want.extend_from_slice(&[192, 0, 2, 10]);
        want.extend_from_slice(&6u16.to_ne_bytes()); // A_PORT, u16 host order, padded
        want.extend_from_slice(&genl::A_PORT.to_ne_bytes());
        want.extend_from_slice(&5060u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        want.extend_from_slice(&5u16.to_ne_bytes()); // A_PROTO, u8, padded
        want.extend_from_slice(&genl::A_PROTO.to_ne_bytes());
        want.extend_from_slice(&[17, 0, 0, 0]);
        want.extend_from_slice(&5u16.to_ne_bytes()); // A_SIGPROTO
        want.extend_from_slice(&genl::A_SIGPROTO.to_ne_bytes());
        want.extend_from_slice(&[genl::SIG_SIP, 0, 0, 0]);
        want.extend_from_slice(&8u16.to_ne_bytes()); // A_TIMEOUT u32
        want.extend_from_slice(&genl::A_TIMEOUT.to_ne_bytes());
        want.extend_from_slice(&30u32.to_ne_bytes());
        assert_eq!(bytes, want);
        assert_eq!(bytes.len(), 60);
    }

    #[test]
    fn server_add_request_bytes_match_independent_encoder() {
        let req = server_add_request(&ServerAdd {
            id: 2,
            ip: Ipv4Addr::new(10, 0, 0, 2),
            mac: [0x52, 0x54, 0, 0, 0, 2],
            ifname: "veth-lb0".into(),
            weight: None,
        });
        let bytes = encode_request(30, FLAGS_REQUEST_ACK, 99, &req).unwrap();
        let want = {
            let mut m = nlmsg(
                30,
                FLAGS_REQUEST_ACK,
                99,
                &genlmsg(
                    genl::CMD_SERVER_ADD,
                    &[
                        nla(genl::A_SERVER_ID, &2u32.to_ne_bytes()),
                        nla(genl::A_SERVER_IP, &[10, 0, 0, 2]),
                        nla(genl::A_SERVER_MAC, &[0x52, 0x54, 0, 0, 0, 2]),
                        nla(genl::A_IFNAME, b"veth-lb0\0"),
                    ],
                ),
            );
            m[12..16].copy_from_slice(&0u32.to_ne_bytes()); // requests carry pid 0
            m
        };
        assert_eq!(bytes, want);
    }

    #[test]
    fn service_add_request_has_only_given_attributes() {
        let key = ServiceKey {
            vip: Ipv4Addr::new(10, 1, 2, 3),
            port: 554,
            proto: 6,
        };
        let r = service_add_request(&ServiceAdd {
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
        let r = service_add_request(&ServiceAdd {
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
        assert_eq!(service_del_request(&key).attrs, r.attrs[..3].to_vec());
        assert_eq!(service_del_request(&key).cmd, genl::CMD_SERVICE_DEL);
    }

    #[test]
    fn server_add_request_attributes() {
        let r = server_add_request(&ServerAdd {
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
        assert_eq!(
            server_del_request(3).attrs,
            vec![Attr::u32(genl::A_SERVER_ID, 3)]
        );
        assert_eq!(server_del_request(3).cmd, genl::CMD_SERVER_DEL);
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
        assert_eq!(s.key.proto, 17);
        assert_eq!(s.sig, Some(200)); // a value newer than this sarectl comes through
        assert_eq!(s.policy, Some(genl::POLICY_FORECAST));
        assert_eq!(s.timeout, None);
        assert_eq!(s.packets, Some(42));
        let e = decode_service(&attrs[1..]).unwrap_err();
        assert!(e.to_string().contains("without attribute A_VIP"), "{e}");
    }

    /// The request of a one-service, one-server file, byte by byte (native byte order, as the
    /// kernel reads it).
    #[test]
    fn config_set_request_bytes() {
        let text = r#"{
            "services": [{"vip": "192.0.2.10", "port": 5060, "protocol": "udp", "sig": "sip"}],
            "servers": [{"id": 1, "ip": "10.0.0.11", "mac": "52:54:00:00:00:11", "dev": "eth1",
                         "weight": 2, "name": "not sent"}],
            "alpha": 0.5
        }"#;
        let plan = crate::config::parse_for_apply(text, "t").unwrap();
        let req = config_set_request(&plan.services, &plan.servers);
        let bytes = encode_request(0x1c, FLAGS_REQUEST_ACK, 7, &req).unwrap();
        let mut w: Vec<u8> = Vec::new();
        let u16s = |w: &mut Vec<u8>, v: &[u16]| v.iter().for_each(|x| w.extend(x.to_ne_bytes()));
        w.extend(108u32.to_ne_bytes()); // nlmsg_len
        u16s(&mut w, &[0x1c, 5]); // family, NLM_F_REQUEST | NLM_F_ACK
        w.extend(7u32.to_ne_bytes()); // seq
        w.extend(0u32.to_ne_bytes()); // pid
        w.extend([genl::CMD_CONFIG_SET, genl::VERSION, 0, 0]);
        u16s(&mut w, &[36, genl::A_SERVICE | 0x8000]); // nest, NLA_F_NESTED
        u16s(&mut w, &[8, genl::A_VIP]);
        w.extend([192, 0, 2, 10]);
        u16s(&mut w, &[6, genl::A_PORT, 5060, 0]);
        u16s(&mut w, &[5, genl::A_PROTO]);
        w.extend([17, 0, 0, 0]);
        u16s(&mut w, &[5, genl::A_SIGPROTO]);
        w.extend([genl::SIG_SIP, 0, 0, 0]);
        u16s(&mut w, &[52, genl::A_SERVER | 0x8000]);
        u16s(&mut w, &[8, genl::A_SERVER_ID]);
        w.extend(1u32.to_ne_bytes());
        u16s(&mut w, &[8, genl::A_SERVER_IP]);
        w.extend([10, 0, 0, 11]);
        u16s(&mut w, &[10, genl::A_SERVER_MAC]);
        w.extend([0x52, 0x54, 0, 0, 0, 0x11, 0, 0]);
        u16s(&mut w, &[9, genl::A_IFNAME]);
        w.extend(*b"eth1\0\0\0\0");
        u16s(&mut w, &[8, genl::A_WEIGHT]);
        w.extend(2u32.to_ne_bytes());
        assert_eq!(bytes, w);
        // The nests carry exactly what service add / server add send.
        let inner = parse_attrs(&req.attrs[0].payload).unwrap();
        let add = service_add_request(&plan.services[0]);
        assert_eq!(inner, add.attrs);
        let inner = parse_attrs(&req.attrs[1].payload).unwrap();
        assert_eq!(inner, server_add_request(&plan.servers[0]).attrs);
        assert_eq!(config_set_len(&plan.services, &plan.servers).unwrap(), 108);
        // The kernel's error offset maps back to the file.
        assert_eq!(place_of_offset(&bytes, 20), Some(ConfigPlace::Service(0)));
        assert_eq!(
            place_of_offset(&bytes, 56 + 4 + 16),
            Some(ConfigPlace::Server(0))
        );
        assert_eq!(place_of_offset(&bytes, 108), None);
        assert_eq!(place_of_offset(&bytes, 4), None);
        assert_eq!(
            config_set_place(&plan.services, &plan.servers, 80),
            Some(ConfigPlace::Server(0))
        );
        // An empty file empties the kernel: no attributes at all.
        let req = config_set_request(&[], &[]);
        assert_eq!(req.cmd, genl::CMD_CONFIG_SET);
        assert!(req.attrs.is_empty());
    }

    #[test]
    fn config_set_counts_services_and_servers_apart() {
        let svc = |port| ServiceAdd {
            key: ServiceKey {
                vip: Ipv4Addr::new(192, 0, 2, 10),
                port,
                proto: 17,
            },
            sig: None,
            policy: None,
            timeout: None,
            down_action: None,
        };
        let srv = |id| ServerAdd {
            id,
            ip: Ipv4Addr::new(10, 0, 0, id as u8),
            mac: [2, 0, 0, 0, 0, id as u8],
            ifname: "eth1".into(),
            weight: None,
        };
        let (services, servers) = ([svc(1), svc(2)], [srv(1), srv(2), srv(3)]);
        let req = config_set_request(&services, &servers);
        let types: Vec<u16> = req.attrs.iter().map(|a| a.ty).collect();
        let (s, v) = (genl::A_SERVICE | 0x8000, genl::A_SERVER | 0x8000);
        assert_eq!(types, [s, s, v, v, v]);
        let bytes = encode_request(1, FLAGS_REQUEST_ACK, 1, &req).unwrap();
        // Each service nest is 4 + 8 + 8 + 8 = 28 bytes, each server nest 4 + 8 + 8 + 12 + 12 = 44.
        let at = |n: usize| (20 + n) as u32;
        assert_eq!(
            place_of_offset(&bytes, at(27)),
            Some(ConfigPlace::Service(0))
        );
        assert_eq!(
            place_of_offset(&bytes, at(28)),
            Some(ConfigPlace::Service(1))
        );
        assert_eq!(
            place_of_offset(&bytes, at(56)),
            Some(ConfigPlace::Server(0))
        );
        assert_eq!(
            place_of_offset(&bytes, at(56 + 44 * 2)),
            Some(ConfigPlace::Server(2))
        );
        assert_eq!(place_of_offset(&bytes, at(56 + 44 * 3)), None);
        // The decoders read back what the requests carry (a `sarectl show` of what was applied).
        let back: Vec<Service> = req.attrs[..2]
            .iter()
            .map(|a| decode_service(&a.nested().unwrap()).unwrap())
            .collect();
        assert_eq!(back[1].key, services[1].key);
        assert_eq!((back[1].sig, back[1].packets), (None, None));
        let back = decode_server(&req.attrs[4].nested().unwrap()).unwrap();
        assert_eq!((back.id, back.mac), (3, [2, 0, 0, 0, 0, 3]));
        assert_eq!(back.ifname.as_deref(), Some("eth1"));
    }

    #[test]
    fn server_without_its_mac_is_a_protocol_error() {
        let attrs = vec![
            Attr::u32(genl::A_SERVER_ID, 1),
            Attr::ipv4(genl::A_SERVER_IP, Ipv4Addr::new(10, 0, 0, 1)),
        ];
        let e = decode_server(&attrs).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected answer from sara.ko: server without attribute A_SERVER_MAC (9)"
        );
        let nest = Attr::bytes(genl::A_SERVER, [1, 2, 3]);
        assert!(decode_servers(&[vec![nest]]).is_err());
    }

    #[test]
    fn service_list_reply_then_ack_in_one_datagram() {
        let svc = |vip: [u8; 4], port: u16, proto: u8| {
            nest(
                genl::A_SERVICE,
                &[
                    nla(genl::A_VIP, &vip),
                    nla(genl::A_PORT, &port.to_ne_bytes()),
                    nla(genl::A_PROTO, &[proto]),
                    nla(genl::A_SIGPROTO, &[genl::SIG_RTSP]),
                    nla(genl::A_POLICY, &[genl::POLICY_HASH]),
                    nla(genl::A_TIMEOUT, &30u32.to_ne_bytes()),
                    nla(genl::A_DOWN_ACTION, &[genl::DOWN_REDISPATCH]),
                    nla(genl::A_PAD, &[]),
                    nla(genl::A_PACKETS, &1234u64.to_ne_bytes()),
                ],
            )
        };
        let mut dgram = nlmsg(
            30,
            0,
            11,
            &genlmsg(
                genl::CMD_SERVICE_GET,
                &[svc([10, 0, 0, 1], 554, 6), svc([10, 0, 0, 2], 5060, 17)],
            ),
        );
        let mut ack = 0i32.to_ne_bytes().to_vec();
        ack.extend(nlmsg(30, 5, 11, &[])[..16].iter());
        dgram.extend(nlmsg(NLMSG_ERROR, 0x100, 11, &ack));
        let msgs = decode_datagram(&dgram).unwrap();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].body, Body::Ack { warning: None });
        let Body::Genl { attrs, .. } = &msgs[0].body else {
            panic!()
        };
        let services = decode_services(std::slice::from_ref(attrs)).unwrap();
        assert_eq!(services.len(), 2);
        assert_eq!(
            services[0],
            Service {
                key: ServiceKey {
                    vip: Ipv4Addr::new(10, 0, 0, 1),
                    port: 554,
                    proto: 6,
                },
                sig: Some(genl::SIG_RTSP),
                policy: Some(genl::POLICY_HASH),
                timeout: Some(30),
                down_action: Some(genl::DOWN_REDISPATCH),
                packets: Some(1234),
            }
        );
        assert_eq!(services[1].key.proto, 17);
        assert_eq!(services[1].key.port, 5060);
    }

    #[test]
    fn server_list_reply() {
        let srv = nest(
            genl::A_SERVER,
            &[
                nla(genl::A_SERVER_ID, &7u32.to_ne_bytes()),
                nla(genl::A_SERVER_IP, &[10, 0, 0, 7]),
                nla(genl::A_SERVER_MAC, &[0x52, 0x54, 0, 0xab, 0, 7]),
                nla(genl::A_IFNAME, b"veth1\0"),
                nla(genl::A_IFINDEX, &12u32.to_ne_bytes()),
                nla(genl::A_WEIGHT, &1u32.to_ne_bytes()),
                nla(genl::A_STATE, &[genl::STATE_DRAINING]),
                nla(genl::A_SESSIONS, &4u32.to_ne_bytes()),
                nla(genl::A_PACKETS, &9u64.to_ne_bytes()),
                nla(400, &[9, 9]), // from a newer kernel: ignored
            ],
        );
        let dgram = nlmsg(30, 0, 1, &genlmsg(genl::CMD_SERVER_GET, &[srv]));
        let msgs = decode_datagram(&dgram).unwrap();
        let Body::Genl { attrs, .. } = &msgs[0].body else {
            panic!()
        };
        let servers = decode_servers(std::slice::from_ref(attrs)).unwrap();
        assert_eq!(
            servers,
            vec![Server {
                id: 7,
                ip: Ipv4Addr::new(10, 0, 0, 7),
                mac: [0x52, 0x54, 0, 0xab, 0, 7],
                ifname: Some("veth1".into()),
                ifindex: Some(12),
                weight: Some(1),
                state: Some(genl::STATE_DRAINING),
                sessions: 4,
                forecast: None,
                load: None,
                load_known: None,
                packets: Some(9),
            }]
        );
    }
}
