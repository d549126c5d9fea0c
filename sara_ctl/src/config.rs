//! The cluster file: one JSON document describing a SARA cluster, read by `sarectl apply` (the
//! services and servers, given to `sara.ko` in one `CMD_CONFIG_SET`), by `sarectl manager --config`
//! (the servers to watch and the tuning), and written by `sarectl show` (what `sara.ko` holds).
//!
//! The document is [`ClusterConfig`]: `services` (see [`ServiceEntry`]), `servers`
//! (see [`ServerEntry`]) and the manager's tuning. Values are checked with the same validators as
//! `sarectl service add` / `server add` (`crate::cli::parse_*`), while the document is read, so
//! that every error carries its place: `cluster.json:12:17: servers[1].mac: …` (line and column
//! from `serde_json`, the field path from a small scan of the text, [`locate`]).

use std::fmt;
use std::net::Ipv4Addr;

use sara_core::genl;
use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cli;
use crate::control::cluster::DEFAULT_ALPHA;
use crate::control::forecast::DEFAULT_WINDOW;
use crate::control::measure::Weights;
use crate::control::thresholds::{MoveParams, MovingThresholds, Thresholds};
use crate::control::Context as _;
use crate::error::Error;
use crate::kernel::{self, ServerAdd, ServiceAdd, ServiceKey};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

// ---- values that travel as text ------------------------------------------------------------

/// A JSON string checked on the way in with a `cli` validator, printed back the same way.
macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident($inner:ty), $parse:expr, $show:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let show: fn(&$inner) -> String = $show;
                s.serialize_str(&show(&self.0))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str(TextVisitor($parse)).map($name)
            }
        }
    };
}

text_value!(
    /// A unicast IPv4 address (`"10.0.0.11"`).
    HostIp(Ipv4Addr),
    cli::parse_host_ipv4,
    |a| a.to_string()
);
text_value!(
    /// A unicast MAC address (`"52:54:00:00:00:11"`).
    Mac([u8; 6]),
    cli::parse_mac,
    cli::format_mac
);
text_value!(
    /// A network interface name (`"eth1"`).
    IfName(String),
    cli::parse_ifname,
    |s| s.clone()
);
text_value!(
    /// A service's IP protocol (`"tcp"` or `"udp"`).
    Protocol(u8),
    cli::parse_protocol,
    |p| cli::proto_name(*p).into_owned()
);
text_value!(
    /// A signalling protocol (`genl::SIG_*` by name: `"rtsp"`).
    Sig(u8),
    |s| named("signalling protocol", s, cli::sig_from_name, &cli::sig_names()),
    |v| genl::sigproto_name(*v).to_string()
);
text_value!(
    /// A selection policy (`genl::POLICY_*` by name: `"forecast"`).
    Policy(u8),
    |s| named("policy", s, cli::policy_from_name, &cli::policy_names()),
    |v| genl::policy_name(*v).to_string()
);
text_value!(
    /// What happens to a down server's flows (`genl::DOWN_*` by name: `"redispatch"`).
    DownAction(u8),
    |s| named("down action", s, cli::down_action_from_name, &cli::down_action_names()),
    |v| cli::down_action_name(*v)
);

/// Checks a string while the deserializer still knows where it is (`serde_json` then gives the
/// error the string's own line and column).
struct TextVisitor<T>(fn(&str) -> Result<T, String>);

impl<T> Visitor<'_> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(E::custom)
    }
}

fn named(what: &str, s: &str, find: fn(&str) -> Option<u8>, all: &[&str]) -> Result<u8, String> {
    find(s).ok_or_else(|| format!("unknown {what} '{s}': use one of {}", all.join(", ")))
}

/// A service port, 1‥65535 (a JSON number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number, 1 to 65535")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Port, E> {
                cli::parse_port(&n.to_string()).map(Port).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Port, E> {
                cli::parse_port(&n.to_string()).map(Port).map_err(E::custom)
            }
        }
        d.deserialize_u64(V)
    }
}

// ---- the services ----------------------------------------------------------------------------

/// One virtual service, with the attributes of `CMD_SERVICE_ADD`. Only `vip`, `port` and
/// `protocol` are required; the others take `sara.ko`'s defaults when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    /// Virtual IPv4 address (`A_VIP`).
    pub vip: HostIp,
    /// Port (`A_PORT`).
    pub port: Port,
    /// `tcp` or `udp` (`A_PROTO`).
    pub protocol: Protocol,
    /// Signalling protocol inspected (`A_SIGPROTO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<Sig>,
    /// Selection policy (`A_POLICY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// Idle timeout of the service's flows, seconds (`A_TIMEOUT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// What happens to a down server's established flows (`A_DOWN_ACTION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_action: Option<DownAction>,
}

impl ServiceEntry {
    /// The service's identity.
    pub fn key(&self) -> ServiceKey {
        ServiceKey {
            vip: self.vip.0,
            port: self.port.0,
            proto: self.protocol.0,
        }
    }

    /// What `sarectl service add` would send for it.
    pub fn to_add(&self) -> ServiceAdd {
        ServiceAdd {
            key: self.key(),
            sig: self.sig.as_ref().map(|v| v.0),
            policy: self.policy.as_ref().map(|v| v.0),
            timeout: self.timeout,
            down_action: self.down_action.as_ref().map(|v| v.0),
        }
    }
}

// ---- errors with their place -----------------------------------------------------------------

/// A value at fault: its field path (`servers[1].mac`, empty for the whole document) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field path.
    pub path: String,
    /// What is wrong, for an operator.
    pub message: String,
}

impl FieldError {
    /// An error about the value at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A problem in a cluster file: which file, where (line and column, 1-based), which field, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file's name as the operator gave it.
    pub origin: String,
    /// Line and column, when known.
    pub position: Option<(usize, usize)>,
    /// Field and message.
    pub field: FieldError,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.origin, self.field),
            None => write!(f, "{}: {}", self.origin, self.field),
        }
    }
}

/// Where one value of the document is: from its key (object members) or its first byte, to just
/// after its last byte (`usize::MAX` when the text ends first).
#[derive(Debug, Clone)]
struct Span {
    path: String,
    start: usize,
    end: usize,
}

/// A forgiving scan of a JSON text recording the span of every value it gets to.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    out: Vec<Span>,
}

fn member_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// One value at `path`; false when the text is malformed (the scan stops there).
    fn value(&mut self, path: String, member_start: Option<usize>) -> bool {
        self.ws();
        let slot = self.out.len();
        self.out.push(Span {
            start: member_start.unwrap_or(self.i),
            end: usize::MAX,
            path: path.clone(),
        });
        let ok = match self.peek() {
            Some(b'{') => self.object(&path),
            Some(b'[') => self.array(&path),
            Some(b'"') => self.string().is_some(),
            Some(_) => {
                let from = self.i;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
                self.i > from
            }
            None => false,
        };
        if ok {
            self.out[slot].end = self.i;
        }
        ok
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1;
        let from = self.i;
        while let Some(c) = self.peek() {
            match c {
                b'\\' => self.i += 2,
                b'"' => {
                    let s = String::from_utf8_lossy(&self.b[from..self.i]).into_owned();
                    self.i += 1;
                    return Some(s);
                }
                _ => self.i += 1,
            }
        }
        None
    }

    fn object(&mut self, path: &str) -> bool {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return true;
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return false;
            }
            let key_start = self.i;
            let Some(key) = self.string() else {
                return false;
            };
            self.ws();
            if self.peek() != Some(b':') {
                return false;
            }
            self.i += 1;
            if !self.value(member_path(path, &key), Some(key_start)) {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn array(&mut self, path: &str) -> bool {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return true;
        }
        for n in 0.. {
            if !self.value(format!("{path}[{n}]"), None) {
                return false;
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return true;
                }
                _ => return false,
            }
        }
        false
    }
}

fn spans(text: &str) -> Vec<Span> {
    let mut s = Scan {
        b: text.as_bytes(),
        i: 0,
        out: Vec::new(),
    };
    s.value(String::new(), None);
    s.out
}

/// Line and column (1-based, in bytes as `serde_json` counts them) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    (line, offset.min(text.len()) - line_start + 1)
}

/// Byte offset of a (1-based) line and column.
fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    (line_start + col.saturating_sub(1)).min(text.len())
}

/// The field path of the innermost value at a byte offset ("" for none).
fn path_at(spans: &[Span], offset: usize) -> String {
    spans
        .iter()
        .filter(|s| s.start <= offset && offset < s.end)
        .max_by_key(|s| s.start)
        .map(|s| s.path.clone())
        .unwrap_or_default()
}

/// Place a [`FieldError`] found after reading: the line and column of its field in `text`.
pub fn locate(text: &str, origin: &str, field: FieldError) -> ConfigError {
    let position = spans(text)
        .iter()
        .find(|s| s.path == field.path)
        .map(|s| line_col(text, s.start));
    ConfigError {
        origin: origin.to_string(),
        position,
        field,
    }
}

/// A `serde_json` error with its field path.
fn from_serde(text: &str, origin: &str, e: &serde_json::Error) -> ConfigError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    if e.line() == 0 {
        return ConfigError {
            origin: origin.to_string(),
            position: None,
            field: FieldError::new("", message),
        };
    }
    let path = path_at(&spans(text), offset_of(text, e.line(), e.column()));
    ConfigError {
        origin: origin.to_string(),
        position: Some((e.line(), e.column())),
        field: FieldError::new(path, message),
    }
}

/// Reads a cluster file and checks every value (types, addresses, duplicates, thresholds…);
/// `origin` names it in errors. An empty server list is accepted here (`sarectl manager` refuses
/// it, `sarectl apply` takes it to mean "no servers").
pub fn parse_cluster(text: &str, origin: &str) -> Result<ClusterConfig, ConfigError> {
    let cfg: ClusterConfig =
        serde_json::from_str(text).map_err(|e| from_serde(text, origin, &e))?;
    cfg.check().map_err(|e| locate(text, origin, e))?;
    Ok(cfg)
}

// ---- sarectl apply ---------------------------------------------------------------------------

/// What `sarectl apply` gives the kernel: every service and every server, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Services, in file order.
    pub services: Vec<ServiceAdd>,
    /// Servers, in file order.
    pub servers: Vec<ServerAdd>,
}

/// The services and servers of a checked configuration, as the kernel takes them; every server
/// needs `ip`, `mac` and `dev`.
pub fn plan(cfg: &ClusterConfig) -> Result<Plan, FieldError> {
    let mut servers = Vec::new();
    for (i, s) in cfg.servers.iter().enumerate() {
        let (Some(ip), Some(mac), Some(dev)) = (&s.ip, &s.mac, &s.dev) else {
            let missing: Vec<&str> = [
                ("ip", s.ip.is_none()),
                ("mac", s.mac.is_none()),
                ("dev", s.dev.is_none()),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(n, _)| *n)
            .collect();
            return Err(FieldError::new(
                format!("servers[{i}]"),
                format!(
                    "server {} has no {}: sarectl apply needs ip, mac and dev for every server",
                    s.id,
                    missing.join(", ")
                ),
            ));
        };
        servers.push(ServerAdd {
            id: u32::from(s.id),
            ip: ip.0,
            mac: mac.0,
            ifname: dev.0.clone(),
            weight: s.weight,
        });
    }
    Ok(Plan {
        services: cfg.services.iter().map(ServiceEntry::to_add).collect(),
        servers,
    })
}

/// Reads a cluster file for `sarectl apply`: [`parse_cluster`], then [`plan`].
pub fn parse_for_apply(text: &str, origin: &str) -> Result<Plan, ConfigError> {
    let cfg = parse_cluster(text, origin)?;
    plan(&cfg).map_err(|e| locate(text, origin, e))
}

// ---- sarectl show ----------------------------------------------------------------------------

/// What `sarectl show` prints: the part of a cluster file that `sara.ko` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelConfig {
    /// Services.
    pub services: Vec<ServiceEntry>,
    /// Servers.
    pub servers: Vec<ServerEntry>,
}

impl KernelConfig {
    /// The cluster-file form of a plan (what the kernel holds once it is applied).
    pub fn from_plan(p: &Plan) -> Self {
        KernelConfig {
            services: p
                .services
                .iter()
                .map(|a| ServiceEntry {
                    vip: HostIp(a.key.vip),
                    port: Port(a.key.port),
                    protocol: Protocol(a.key.proto),
                    sig: a.sig.map(Sig),
                    policy: a.policy.map(Policy),
                    timeout: a.timeout,
                    down_action: a.down_action.map(DownAction),
                })
                .collect(),
            servers: p
                .servers
                .iter()
                .map(|a| ServerEntry {
                    id: a.id as u16,
                    name: None,
                    ip: Some(HostIp(a.ip)),
                    mac: Some(Mac(a.mac)),
                    dev: Some(IfName(a.ifname.clone())),
                    weight: a.weight,
                })
                .collect(),
        }
    }
}

/// A kernel value for the cluster file: `Some(v)` when this sarectl has a name for it, else the
/// error naming the value (`unknown(N)`), which could not be applied back.
fn named_value(
    what: &str,
    owner: &str,
    v: Option<u8>,
    name: fn(u8) -> String,
    find: fn(&str) -> Option<u8>,
) -> Result<Option<u8>, Error> {
    v.map(|v| {
        let n = name(v);
        find(&n).ok_or_else(|| {
            Error::Protocol(format!(
                "{owner} has {what} {n}, which this sarectl cannot write in a cluster file"
            ))
        })
    })
    .transpose()
}

/// The running configuration from the kernel's service and server lists. Counters and pushed
/// state are left out; a value this sarectl has no name for is an error (it could not be applied
/// back).
pub fn from_kernel(
    services: &[kernel::Service],
    servers: &[kernel::Server],
) -> Result<KernelConfig, Error> {
    let mut out = KernelConfig {
        services: Vec::new(),
        servers: Vec::new(),
    };
    for s in services {
        let k = s.key;
        let owner = format!("service {}:{}/{}", k.vip, k.port, cli::proto_name(k.proto));
        out.services.push(ServiceEntry {
            vip: HostIp(k.vip),
            port: Port(k.port),
            protocol: Protocol(
                cli::proto_from_name(&cli::proto_name(k.proto))
                    .ok_or_else(|| Error::Protocol(format!("{owner} has an unknown protocol")))?,
            ),
            sig: named_value(
                "signalling protocol",
                &owner,
                s.sig,
                cli::sig_name,
                cli::sig_from_name,
            )?
            .map(Sig),
            policy: named_value(
                "policy",
                &owner,
                s.policy,
                cli::policy_name,
                cli::policy_from_name,
            )?
            .map(Policy),
            timeout: s.timeout,
            down_action: named_value(
                "down action",
                &owner,
                s.down_action,
                cli::down_action_name,
                cli::down_action_from_name,
            )?
            .map(DownAction),
        });
    }
    for s in servers {
        let id = u16::try_from(s.id)
            .map_err(|_| Error::Protocol(format!("server id {} is out of range", s.id)))?;
        // The MAC as the file would carry it: the checks of `sarectl server add` apply.
        let mac = cli::parse_mac(&cli::format_mac(&s.mac))
            .map_err(|e| Error::Protocol(format!("server {id}: {e}")))?;
        out.servers.push(ServerEntry {
            id,
            name: None,
            ip: Some(HostIp(s.ip)),
            mac: Some(Mac(mac)),
            dev: s.ifname.clone().map(IfName),
            weight: s.weight,
        });
    }
    Ok(out)
}

// ---- the cluster file's schema --------------------------------------------------------------------------

/// One server of the cluster: watched by the manager; `sarectl apply` also gives it to `sara.ko`
/// (and then needs `ip`, `mac` and `dev`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    /// Server id (1‥65535), as in the kernel and the agent's --id.
    pub id: u16,
    /// Name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The server's IPv4 address (`A_SERVER_IP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<HostIp>,
    /// The server's MAC address (`A_SERVER_MAC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<Mac>,
    /// Interface of the dispatcher through which the server is reached (`A_IFNAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<IfName>,
    /// Weight for weighted policies, 1‥65535 (`A_WEIGHT`; the kernel's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

fn default_true() -> bool {
    true
}

/// The cluster configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Virtual services, for `sarectl apply` (the manager does not use them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceEntry>,
    /// Servers to watch.
    pub servers: Vec<ServerEntry>,
    /// Heartbeat period d (ms).
    #[serde(default = "ClusterConfig::default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// Heartbeats missed before a server is down (n).
    #[serde(default = "ClusterConfig::default_misses")]
    pub misses: u32,
    /// Load vector period δ (ms).
    #[serde(default = "ClusterConfig::default_delta_ms")]
    pub delta_ms: u64,
    /// Push interval (ms); default δ.
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// Forecast window T (samples).
    #[serde(default = "ClusterConfig::default_window")]
    pub window: usize,
    /// Use the damped forecasts l̃ (true) or the last measurements (false) for the cluster load.
    #[serde(default = "default_true")]
    pub forecast: bool,
    /// α of the cluster load.
    #[serde(default = "ClusterConfig::default_alpha")]
    pub alpha: f64,
    /// The operator's thresholds.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// How the thresholds move.
    #[serde(default)]
    pub moving: MoveParams,
    /// Per-session increment of a server's forecast (per-mille), pushed as `A_INCREMENT` if set.
    #[serde(default)]
    pub increment: Option<u16>,
    /// Measure the dispatcher's own load l_d (else 0).
    #[serde(default = "default_true")]
    pub dispatcher_load: bool,
    /// Weights of the dispatcher's load components.
    #[serde(default = "ClusterConfig::default_dispatcher_weights")]
    pub dispatcher_weights: Weights,
    /// The cluster's key file, for `sarectl manager` (its `--key-file` wins); relative to the
    /// cluster file's directory. `sarectl apply` does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<std::path::PathBuf>,
}

impl ClusterConfig {
    fn default_heartbeat_ms() -> u64 {
        200
    }
    fn default_misses() -> u32 {
        3
    }
    fn default_delta_ms() -> u64 {
        1000
    }
    fn default_window() -> usize {
        DEFAULT_WINDOW
    }
    fn default_alpha() -> f64 {
        DEFAULT_ALPHA
    }
    fn default_dispatcher_weights() -> Weights {
        Weights {
            cpu: 0.5,
            mem: 0.2,
            net: 0.3,
            io: 0.0,
            backlog: 0.0,
        }
    }

    /// A configuration with these server ids and every default.
    pub fn with_servers(ids: &[u16]) -> Self {
        serde_json::from_value(serde_json::json!({
            "servers": ids.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>()
        }))
        .expect("defaults are valid")
    }

    /// Parses and checks a configuration; `origin` names it in errors, which carry the line,
    /// column and field path (`cluster.json:12:17: servers[1].mac: …`).
    pub fn parse(text: &str, origin: &str) -> crate::control::Result<Self> {
        let located =
            |e: ConfigError| crate::control::Error::new(format!("cluster configuration {e}"));
        let cfg = parse_cluster(text, origin).map_err(located)?;
        if let Err(e) = cfg.check_servers_listed() {
            return Err(located(locate(text, origin, e)));
        }
        Ok(cfg)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> crate::control::Result<Self> {
        let text = std::fs::read_to_string(path)
            .ctx(|| format!("reading the cluster configuration {}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks the values, as the manager needs them.
    pub fn validate(&self) -> crate::control::Result<()> {
        self.check_servers_listed()
            .and_then(|()| self.check())
            .map_err(|e| crate::control::Error::new(e.to_string()))
    }

    fn check_servers_listed(&self) -> std::result::Result<(), FieldError> {
        if self.servers.is_empty() {
            return Err(FieldError::new(
                "servers",
                "\"servers\" is empty: list the servers to watch, e.g. [{\"id\": 1}]",
            ));
        }
        Ok(())
    }

    /// Checks the values that both the manager and `sarectl apply` rely on (an empty server list
    /// is fine here); the error names the field at fault.
    pub fn check(&self) -> std::result::Result<(), FieldError> {
        let mut ids = BTreeMap::new();
        for (i, s) in self.servers.iter().enumerate() {
            let at = |f: &str| format!("servers[{i}].{f}");
            if s.id == 0 {
                return Err(FieldError::new(
                    at("id"),
                    "server id 0 is not valid (ids are 1..65535)",
                ));
            }
            if let Some(j) = ids.insert(s.id, i) {
                return Err(FieldError::new(
                    at("id"),
                    format!("server id {} is listed twice (first as servers[{j}])", s.id),
                ));
            }
            if let Some(w) = s.weight.filter(|w| !(1..=kernel::MAX_WEIGHT).contains(w)) {
                return Err(FieldError::new(
                    at("weight"),
                    format!("weight must be 1..{}; got {w}", kernel::MAX_WEIGHT),
                ));
            }
        }
        let mut keys = BTreeMap::new();
        for (i, s) in self.services.iter().enumerate() {
            if let Some(t) = s
                .timeout
                .filter(|t| !(1..=sara_core::genl::MAX_TIMEOUT_S).contains(t))
            {
                return Err(FieldError::new(
                    format!("services[{i}].timeout"),
                    format!(
                        "timeout must be 1..{} seconds; got {t}",
                        sara_core::genl::MAX_TIMEOUT_S
                    ),
                ));
            }
            let k = s.key();
            if let Some(j) = keys.insert((k.vip, k.port, k.proto), i) {
                return Err(FieldError::new(
                    format!("services[{i}]"),
                    format!("service {k} is listed twice (first as services[{j}])"),
                ));
            }
        }
        let at_least_10 = |name: &str, v: u64| {
            if v < 10 {
                Err(FieldError::new(
                    name,
                    format!("{name} must be at least 10; got {v}"),
                ))
            } else {
                Ok(())
            }
        };
        at_least_10("heartbeat_ms", self.heartbeat_ms)?;
        at_least_10("delta_ms", self.delta_ms)?;
        if self.misses == 0 {
            return Err(FieldError::new("misses", "misses must be at least 1"));
        }
        if let Some(i) = self.interval_ms {
            at_least_10("interval_ms", i)?;
        }
        if self.window == 0 {
            return Err(FieldError::new(
                "window",
                "window must be at least 1 sample",
            ));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(FieldError::new(
                "alpha",
                format!("alpha must be between 0 and 1; got {}", self.alpha),
            ));
        }
        if let Some(i) = self.increment.filter(|i| *i > 1000) {
            return Err(FieldError::new(
                "increment",
                format!("increment must be at most 1000 per-mille; got {i}"),
            ));
        }
        self.dispatcher_weights
            .validate()
            .map_err(|e| FieldError::new("dispatcher_weights", e.to_string()))?;
        if let Err(e) = MovingThresholds::new(self.thresholds, self.moving) {
            let field = if self.thresholds.is_ordered() {
                "moving"
            } else {
                "thresholds"
            };
            return Err(FieldError::new(field, e.to_string()));
        }
        Ok(())
    }

    /// The push interval in force.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms.unwrap_or(self.delta_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::{Server, Service};

    const EXAMPLE: &str = include_str!("../examples/cluster.json");

    fn err(text: &str) -> String {
        match parse_for_apply(text, "c.json") {
            Ok(p) => panic!("accepted: {text}\n{p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn example_file_is_valid_for_apply_and_for_the_manager() {
        let p = parse_for_apply(EXAMPLE, "examples/cluster.json").unwrap();
        assert_eq!((p.services.len(), p.servers.len()), (2, 3));
        assert_eq!(p.services[0].key.to_string(), "192.0.2.10:554/tcp");
        assert_eq!(p.services[0].sig, Some(genl::SIG_RTSP));
        assert_eq!(p.services[0].policy, Some(genl::POLICY_FORECAST));
        assert_eq!(p.services[0].timeout, Some(60));
        assert_eq!(p.services[0].down_action, Some(genl::DOWN_REDISPATCH));
        assert_eq!(
            (p.services[1].policy, p.services[1].timeout),
            (None, None),
            "absent: the kernel's defaults"
        );
        assert_eq!(
            p.servers[2],
            ServerAdd {
                id: 3,
                ip: Ipv4Addr::new(10, 0, 0, 13),
                mac: [0x52, 0x54, 0, 0, 0, 0x13],
                ifname: "eth1".into(),
                weight: Some(2),
            }
        );
        let m = ClusterConfig::parse(EXAMPLE, "examples/cluster.json").unwrap();
        assert_eq!(
            m.servers.iter().map(|s| s.id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(m.servers[0].name.as_deref(), Some("media-a"));
        assert_eq!(m.alpha, 0.8);
        assert_eq!(m.services.len(), 2);
    }

    #[test]
    fn the_manager_still_takes_its_old_files_and_locates_its_errors() {
        let m = ClusterConfig::parse(r#"{"servers": [{"id": 1, "name": "a"}, {"id": 2}]}"#, "t")
            .unwrap();
        assert!(m.services.is_empty());
        assert_eq!(m.servers[1].ip, None);
        let e = ClusterConfig::parse("{\n  \"servers\": []\n}", "m.json").unwrap_err();
        assert!(
            e.message()
                .starts_with("cluster configuration m.json:2:3: servers: \"servers\" is empty"),
            "{e}"
        );
        // The manager does not need ip/mac/dev, but checks them when they are there.
        let e = ClusterConfig::parse(
            r#"{"servers": [{"id": 1, "mac": "ff:ff:ff:ff:ff:ff"}]}"#,
            "t",
        )
        .unwrap_err();
        assert!(e.message().contains("t:1:"), "{e}");
        assert!(e.message().contains("servers[0].mac: "), "{e}");
        assert!(e.message().contains("broadcast"), "{e}");
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let file = "{\n  \"services\": [\n    {\"vip\": \"192.0.2.10\", \"port\": 554, \"protocol\": \"tcp\"}\n  ],\n  \"servers\": [\n    {\"id\": 1, \"ip\": \"10.0.0.11\", \"mac\": \"52:54:00:00:00:11\", \"dev\": \"eth1\"},\n    {\"id\": 2, \"ip\": \"10.0.0.12\", \"mac\": \"MAC\", \"dev\": \"eth1\"}\n  ]\n}\n";
        let good = file.replace("\"MAC\"", "\"52:54:00:00:00:12\"");
        assert!(parse_for_apply(&good, "c.json").is_ok());
        let with = |mac: &str| err(&file.replace("\"MAC\"", mac));
        assert_eq!(
            with("\"52:54:00:12:34\""),
            "c.json:7:56: servers[1].mac: '52:54:00:12:34' is not a MAC address: 5 byte(s), \
             expected six hex bytes like 52:54:00:12:34:56"
        );
        assert_eq!(
            with("17"),
            "c.json:7:42: servers[1].mac: invalid type: integer `17`, expected a string"
        );
        let cases: &[(&str, &str, &str)] = &[
            // (from, to, expected error start, then a piece of the message)
            ("\"port\": 554", "\"port\": 0", "c.json:3:"),
            ("\"port\": 554", "\"port\": 65536", "c.json:3:"),
            (
                "\"protocol\": \"tcp\"",
                "\"protocol\": \"sctp\"",
                "c.json:3:",
            ),
            (
                "\"vip\": \"192.0.2.10\"",
                "\"vip\": \"224.0.0.1\"",
                "c.json:3:",
            ),
            ("\"vip\": \"192.0.2.10\", ", "", "c.json:3:"),
            ("\"dev\": \"eth1\"}", "\"dev\": \"eth1/2\"}", "c.json:6:"),
            (
                "\"id\": 2",
                "\"id\": 1",
                "c.json:7:6: servers[1].id: server id 1 is listed twice",
            ),
            (
                "\"id\": 2",
                "\"id\": 0",
                "c.json:7:6: servers[1].id: server id 0",
            ),
            (
                "\"id\": 2",
                "\"id\": 2, \"weight\": 0",
                "c.json:7:15: servers[1].weight: weight must be",
            ),
            (
                "\"id\": 2",
                "\"id\": 2, \"mca\": 0",
                "c.json:7:19: servers[1].mca: unknown field `mca`",
            ),
            (
                "\"ip\": \"10.0.0.12\", ",
                "",
                "c.json:7:5: servers[1]: server 2 has no ip:",
            ),
            ("\"tcp\"}", "\"tcp\", \"timeout\": 0}", "c.json:3:"),
            ("\"tcp\"}", "\"tcp\", \"policy\": \"fastest\"}", "c.json:3:"),
            (
                "\"tcp\"}",
                "\"tcp\"}, {\"vip\": \"192.0.2.10\", \"port\": 554, \"protocol\": \"TCP\"}",
                "c.json:3:",
            ),
            (
                "  ]\n}",
                "  ],\n  \"thresholds\": {\"t1\": 800, \"t2\": 750, \"t3\": 900, \"c\": 1000}\n}",
                "c.json:9:3: thresholds: admission thresholds must satisfy T1 < T2 < T3 < C",
            ),
            (
                "  ]\n}",
                "  ],\n  \"alpha\": 1.5\n}",
                "c.json:9:3: alpha: alpha must be between 0 and 1",
            ),
            (
                "  ]\n}",
                "  ],\n  \"hearbeat_ms\": 100\n}",
                "c.json:9:15: hearbeat_ms: unknown field `hearbeat_ms`",
            ),
            ("  ]\n}", "  ],\n}", "c.json:9:1: trailing comma"),
        ];
        let fields = [
            "services[0].port: '0' is not a port",
            "services[0].port: '65536' is not a port",
            "services[0].protocol: unknown protocol 'sctp': use tcp or udp",
            "services[0].vip: '224.0.0.1' is a broadcast or multicast address",
            "services[0]: missing field `vip`",
            "servers[0].dev: 'eth1/2' is not a valid interface name",
            "",
            "",
            "",
            "",
            "",
            "services[0].timeout: timeout must be 1..86400 seconds; got 0",
            "services[0].policy: unknown policy 'fastest': use one of hash, forecast, rr, random, least-sessions, wrr",
            "services[1]: service 192.0.2.10:554/tcp is listed twice (first as services[0])",
            "",
            "",
            "",
            "",
        ];
        for ((from, to, start), field) in cases.iter().zip(fields) {
            assert!(good.contains(from), "{from}");
            let e = err(&good.replacen(from, to, 1));
            assert!(e.starts_with(start), "{to}: {e}");
            assert!(e.contains(field), "{to}: {e}");
        }
        // Not JSON at all: still a line and column.
        assert_eq!(err("servers"), "c.json:1:1: expected value");
        assert!(
            err("").starts_with("c.json:1:0: EOF while parsing a value"),
            "{}",
            err("")
        );
        assert_eq!(
            err("\"x\""),
            "c.json:1:3: invalid type: string \"x\", expected struct ClusterConfig"
        );
    }

    #[test]
    fn scan_paths_and_positions() {
        let text = "{\"a\": [1, {\"b c\": \"x\"}], \"d\": {}}";
        let s = spans(text);
        let paths: Vec<&str> = s.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(paths, ["", "a", "a[0]", "a[1]", "a[1][\"b c\"]", "d"]);
        assert_eq!(path_at(&s, text.find("\"x\"").unwrap()), "a[1][\"b c\"]");
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(offset_of("a\nbc", 2, 2), 3);
        // A text cut short still yields the paths it got to.
        let s = spans("{\"a\": [1, {\"b\": ");
        assert_eq!(s.last().unwrap().path, "a[1].b");
    }

    fn kernel_lists() -> (Vec<Service>, Vec<Server>) {
        let services = vec![
            Service {
                key: ServiceKey {
                    vip: Ipv4Addr::new(192, 0, 2, 10),
                    port: 554,
                    proto: 6,
                },
                sig: Some(genl::SIG_RTSP),
                policy: Some(genl::POLICY_LEAST_SESSIONS),
                timeout: Some(60),
                down_action: Some(genl::DOWN_KEEP),
                packets: Some(99),
            },
            Service {
                key: ServiceKey {
                    vip: Ipv4Addr::new(192, 0, 2, 11),
                    port: 5060,
                    proto: 17,
                },
                sig: Some(genl::SIG_NONE),
                policy: Some(genl::POLICY_HASH),
                timeout: Some(30),
                down_action: Some(genl::DOWN_REDISPATCH),
                packets: Some(0),
            },
        ];
        let servers = vec![Server {
            id: 513,
            ip: Ipv4Addr::new(10, 0, 2, 1),
            mac: [0x52, 0x54, 0, 0, 2, 1],
            ifname: Some("veth-lb0".into()),
            ifindex: Some(7),
            weight: Some(4),
            state: Some(genl::STATE_DRAINING),
            sessions: 12,
            forecast: Some(300),
            load: Some(250),
            load_known: Some(true),
            packets: Some(1000),
        }];
        (services, servers)
    }

    #[test]
    fn show_then_apply_is_the_same_configuration() {
        let (services, servers) = kernel_lists();
        let shown = crate::output::json(&from_kernel(&services, &servers).unwrap());
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(
            v["servers"][0],
            serde_json::json!({"id": 513, "ip": "10.0.2.1", "mac": "52:54:00:00:02:01",
                               "dev": "veth-lb0", "weight": 4})
        );
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["servers", "services"],
            "only what the kernel holds"
        );
        // Apply what show printed: the plan describes the same services and servers (the kernel
        // client's tests check that CMD_CONFIG_SET carries a plan's values).
        let plan = parse_for_apply(&shown, "show").unwrap();
        let want: Vec<ServiceAdd> = services
            .iter()
            .map(|s| ServiceAdd {
                key: s.key,
                sig: s.sig,
                policy: s.policy,
                timeout: s.timeout,
                down_action: s.down_action,
            })
            .collect();
        assert_eq!(plan.services, want);
        assert_eq!(
            plan.servers,
            vec![ServerAdd {
                id: 513,
                ip: servers[0].ip,
                mac: servers[0].mac,
                ifname: "veth-lb0".into(),
                weight: Some(4),
            }]
        );
        // And show after that apply prints the same text.
        assert_eq!(crate::output::json(&KernelConfig::from_plan(&plan)), shown);
        // An empty kernel round-trips too.
        let empty = crate::output::json(&from_kernel(&[], &[]).unwrap());
        assert_eq!(empty, "{\n  \"services\": [],\n  \"servers\": []\n}\n");
        assert_eq!(parse_for_apply(&empty, "show").unwrap().servers, vec![]);
    }

    #[test]
    fn show_refuses_values_it_could_not_apply_back() {
        let (mut services, servers) = kernel_lists();
        services[0].policy = Some(9);
        let e = from_kernel(&services, &servers).unwrap_err();
        assert!(
            e.to_string()
                .contains("service 192.0.2.10:554/tcp has policy unknown(9)"),
            "{e}"
        );
        let (mut services, _) = kernel_lists();
        services[1].key.proto = 47;
        let e = from_kernel(&services, &servers).unwrap_err();
        assert!(
            e.to_string()
                .contains("service 192.0.2.11:5060/47 has an unknown protocol"),
            "{e}"
        );
        let (services, mut servers) = kernel_lists();
        servers[0].mac = [0xff; 6];
        let e = from_kernel(&services, &servers).unwrap_err();
        assert!(
            e.to_string()
                .contains("server 513: 'ff:ff:ff:ff:ff:ff' is a"),
            "{e}"
        );
    }
}
