//! What `sarectl` prints: aligned tables for people, JSON for scripts, Prometheus text for
//! scrapers. Every function returns the text; the caller prints it.
//!
//! What a command shows is one [`Output`] value, both JSON and text: the rows of a listing
//! ([`ServiceRow`], [`ServerRow`], [`FlowRow`], [`SessionRow`], made from the kernel client's typed
//! replies with the names of [`crate::cli`]), the counters ([`Stats`]), the manager's status
//! ([`Status`]), the failover status ([`HaStatus`]), `sarectl apply --dry-run` ([`DryRun`]), a key
//! file ([`KeyFileReport`]).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Value};

use sara_core::{counters, genl};

use crate::cli;
use crate::config::{KernelConfig, Plan};
use crate::control::manager::Status;
use crate::control::when::format_unix_utc;
use crate::kernel::{Counter, Flow, HaState, Server, Service, Stats};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned table.
    Table,
    /// JSON (pretty, one document).
    Json,
    /// Prometheus text exposition format (stats only).
    Prometheus,
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// An aligned table: a header row, then the rows; columns separated by two spaces, no trailing
/// spaces. Widths count characters, not bytes.
pub fn table(headers: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for r in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate().take(n) {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width[i] - c.chars().count();
            let right = align.get(i) == Some(&Align::Right);
            if right {
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push_str(c);
            if !right && i + 1 < n {
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into())
}

/// JSON text of any output value, ending with a newline.
pub fn json<T: Serialize + ?Sized>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("\"{e}\""));
    s.push('\n');
    s
}

/// A value a command prints: the same value as JSON (`--json`, for scripts) or as text (for
/// people).
pub trait Output {
    /// The JSON text, ending with a newline.
    fn json(&self) -> String;
    /// The text for people.
    fn text(&self) -> String;
}

/// `v` as JSON or as text (a table: [`Format::Table`]; Prometheus text is the counters' own,
/// [`stats_prometheus`]).
pub fn render<T: Output + ?Sized>(v: &T, format: Format) -> String {
    match format {
        Format::Json => v.json(),
        _ => v.text(),
    }
}

// ---- the rows of the listings ---------------------------------------------------------------

/// One virtual service, as `sarectl service list` shows it. Field names are the JSON names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRow {
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
pub struct ServerRow {
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

impl From<&Service> for ServiceRow {
    fn from(s: &Service) -> Self {
        ServiceRow {
            vip: s.key.vip,
            port: s.key.port,
            protocol: cli::proto_name(s.key.proto).into_owned(),
            sig: s.sig.map(cli::sig_name),
            policy: s.policy.map(cli::policy_name),
            timeout: s.timeout,
            down_action: s.down_action.map(cli::down_action_name),
            packets: s.packets,
        }
    }
}

impl From<&Server> for ServerRow {
    fn from(s: &Server) -> Self {
        ServerRow {
            id: s.id,
            ip: s.ip,
            mac: cli::format_mac(&s.mac),
            dev: s.ifname.clone(),
            ifindex: s.ifindex,
            weight: s.weight,
            state: s.state.map(cli::state_name),
            sessions: s.sessions,
            forecast: s.forecast,
            load: s.load,
            load_known: s.load_known,
            packets: s.packets,
        }
    }
}

/// One flow of the flow table, as `sarectl flows --json` prints it. Field names and order are the
/// JSON contract (other tools and the VM tests read it): an unknown port is 0, `status`, `identity`
/// and `wildcard` are names (`unknown(N)` for a value newer than this sarectl).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowRow {
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

impl From<&Flow> for FlowRow {
    fn from(f: &Flow) -> Self {
        FlowRow {
            src: Ipv4Addr::from(f.key.src_addr),
            sport: f.key.src_port,
            dst: Ipv4Addr::from(f.key.dst_addr),
            dport: f.key.dst_port,
            proto: cli::proto_name(f.key.protocol).into_owned(),
            server: f.server,
            session: f.session,
            status: cli::status_name(f.status),
            identity: cli::identity_name(f.identity),
            wildcard: cli::port_wildcard_name(f.wildcard),
            ended: f.ended,
            idle_ms: f.idle_ms,
            timeout_ms: f.timeout_ms,
            packets: f.packets,
            bytes: f.bytes,
        }
    }
}

/// Sort flows for people: by session, signalling flow first, then by addresses and ports.
pub fn sort_flows(flows: &mut [FlowRow]) {
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
}

impl FlowRow {
    /// `10.0.1.2:40000` (`*` for an unknown port).
    pub fn source(&self) -> String {
        format!("{}:{}", self.src, cli::port_text(self.sport))
    }
    /// `10.0.0.100:554` (`*` for an unknown port).
    pub fn destination(&self) -> String {
        format!("{}:{}", self.dst, cli::port_text(self.dport))
    }
    /// `10.0.0.100:554/tcp`: the destination with the protocol, as services are written.
    pub fn service(&self) -> String {
        format!("{}/{}", self.destination(), self.proto)
    }
    fn identity_rank(&self) -> usize {
        cli::FLOW_IDENTITIES
            .iter()
            .position(|(_, n)| *n == self.identity)
            .unwrap_or(cli::FLOW_IDENTITIES.len())
    }
}

/// One session, as `sarectl sessions` shows it: its flows grouped by session id. Field names and
/// order are the JSON contract. `client`, `service`, `status` and `ended` describe the session's
/// signalling flow and are null when that flow is not in the dump (it ended between two messages
/// of the dump, for example).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRow {
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
pub fn group_sessions(flows: &[FlowRow]) -> Vec<SessionRow> {
    let signalling = cli::flow_identity_name(genl::FLOW_IDENTITY_SIGNALLING);
    let announced = cli::flow_identity_name(genl::FLOW_IDENTITY_ANNOUNCED);
    let secondary = cli::flow_identity_name(genl::FLOW_IDENTITY_SECONDARY);
    let mut by_id: std::collections::BTreeMap<u32, Vec<&FlowRow>> = Default::default();
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
            SessionRow {
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

// ---- tables ---------------------------------------------------------------------------------

/// `sarectl service list`.
pub fn services_table(services: &[ServiceRow]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                format!("{}:{}/{}", s.vip, s.port, s.protocol),
                opt(&s.sig),
                opt(&s.policy),
                s.timeout
                    .map(|t| format!("{t}s"))
                    .unwrap_or_else(|| "-".into()),
                opt(&s.down_action),
                opt(&s.packets),
            ]
        })
        .collect();
    table(
        &[
            "SERVICE",
            "SIG",
            "POLICY",
            "TIMEOUT",
            "DOWN-ACTION",
            "PACKETS",
        ],
        &[Left, Left, Left, Right, Left, Right],
        &rows,
    )
}

/// `sarectl server list`.
pub fn servers_table(servers: &[ServerRow]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.ip.to_string(),
                s.mac.clone(),
                opt(&s.dev),
                opt(&s.ifindex),
                opt(&s.weight),
                opt(&s.state),
                match (s.load_known, s.load) {
                    (Some(true), Some(l)) => l.to_string(),
                    _ => "-".into(),
                },
                match (s.load_known, s.forecast) {
                    (Some(true), Some(f)) => f.to_string(),
                    _ => "-".into(),
                },
                s.sessions.to_string(),
                opt(&s.packets),
            ]
        })
        .collect();
    table(
        &[
            "ID", "IP", "MAC", "DEV", "IFINDEX", "WEIGHT", "STATE", "LOAD", "FORECAST", "SESSIONS",
            "PACKETS",
        ],
        &[
            Right, Left, Left, Left, Right, Right, Left, Right, Right, Right, Right,
        ],
        &rows,
    )
}

/// A duration in milliseconds for people: `850ms`, `12.3s`, `4m05s`, `2h07m`.
pub fn duration_ms(ms: u32) -> String {
    let ms = u64::from(ms);
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{}.{}s", ms / 1000, ms % 1000 / 100),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// A status with ` (ended)` when the flow or session has ended and only lingers.
fn status_text(status: &str, ended: bool) -> String {
    if ended {
        format!("{status} (ended)")
    } else {
        status.to_string()
    }
}

/// A server id, `-` for none (0).
fn server_text(id: u32) -> String {
    if id == 0 {
        "-".into()
    } else {
        id.to_string()
    }
}

/// `sarectl flows`: one row per flow; an unknown port of an announced flow is `*`.
pub fn flows_table(flows: &[FlowRow]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = flows
        .iter()
        .map(|f| {
            vec![
                f.proto.clone(),
                f.source(),
                f.destination(),
                server_text(f.server),
                f.session.to_string(),
                status_text(&f.status, f.ended),
                f.identity.clone(),
                duration_ms(f.idle_ms),
                duration_ms(f.timeout_ms),
                f.packets.to_string(),
                f.bytes.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "PROTO",
            "SOURCE",
            "DESTINATION",
            "SERVER",
            "SESSION",
            "STATUS",
            "IDENTITY",
            "IDLE",
            "TIMEOUT",
            "PACKETS",
            "BYTES",
        ],
        &[
            Left, Left, Left, Right, Right, Left, Left, Right, Right, Right, Right,
        ],
        &rows,
    )
}

/// `sarectl sessions`: one row per session; `-` where the signalling flow is not in the table.
pub fn sessions_table(sessions: &[SessionRow]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.session.to_string(),
                server_text(s.server),
                opt(&s.client),
                opt(&s.service),
                match (&s.status, s.ended) {
                    (Some(st), ended) => status_text(st, ended.unwrap_or(false)),
                    (None, _) => "-".into(),
                },
                s.flows.to_string(),
                s.announced.to_string(),
                s.secondary.to_string(),
                duration_ms(s.idle_ms),
            ]
        })
        .collect();
    table(
        &[
            "SESSION",
            "SERVER",
            "CLIENT",
            "SERVICE",
            "STATUS",
            "FLOWS",
            "ANNOUNCED",
            "SECONDARY",
            "IDLE",
        ],
        &[Right, Right, Left, Left, Left, Right, Right, Right, Right],
        &rows,
    )
}

/// A counter's name, or `counter_<id>` for one newer than this sarectl.
pub fn counter_name(c: &Counter) -> Cow<'static, str> {
    match counters::COUNTERS.get(c.id) {
        Some(k) => k.name.into(),
        None => format!("counter_{}", c.id).into(),
    }
}

/// One line of help about a counter.
pub fn counter_help(c: &Counter) -> Cow<'static, str> {
    match counters::COUNTERS.get(c.id) {
        Some(k) => k.help.into(),
        None => format!("counter {} (not known to this sarectl)", c.id).into(),
    }
}

/// The counters as a JSON object `{name: value}`, in id order.
struct StatsJson<'a>(&'a Stats);

impl Serialize for StatsJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.counters.len()))?;
        for c in &self.0.counters {
            m.serialize_entry(counter_name(c).as_ref(), &c.value)?;
        }
        m.end()
    }
}

/// `sarectl stats`: name, value, and what the counter counts.
pub fn stats_table(stats: &Stats) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = stats
        .counters
        .iter()
        .map(|c| {
            vec![
                counter_name(c).into_owned(),
                c.value.to_string(),
                counter_help(c).into_owned(),
            ]
        })
        .collect();
    table(
        &["COUNTER", "VALUE", "DESCRIPTION"],
        &[Left, Right, Left],
        &rows,
    )
}

/// Escape a `# HELP` text for the Prometheus text format.
fn prom_escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `sarectl stats --prometheus`, with HELP and TYPE for each metric: a running total as
/// `sara_<name>_total` of type counter, a gauge (`counters::is_gauge`: a value now, such as the
/// number of flows in the table) as `sara_<name>` of type gauge.
pub fn stats_prometheus(stats: &Stats) -> String {
    let mut out = String::new();
    for c in &stats.counters {
        let (metric, kind) = if counters::is_gauge(c.id) {
            (format!("sara_{}", counter_name(c)), "gauge")
        } else {
            (format!("sara_{}_total", counter_name(c)), "counter")
        };
        out.push_str(&format!(
            "# HELP {metric} {}\n",
            prom_escape_help(&counter_help(c))
        ));
        out.push_str(&format!("# TYPE {metric} {kind}\n"));
        out.push_str(&format!("{metric} {}\n", c.value));
    }
    out
}

// ---- what the commands print ----------------------------------------------------------------

impl Output for [ServiceRow] {
    fn json(&self) -> String {
        json(self)
    }
    fn text(&self) -> String {
        services_table(self)
    }
}

impl Output for [ServerRow] {
    fn json(&self) -> String {
        json(self)
    }
    fn text(&self) -> String {
        servers_table(self)
    }
}

impl Output for [FlowRow] {
    fn json(&self) -> String {
        json(self)
    }
    fn text(&self) -> String {
        flows_table(self)
    }
}

impl Output for [SessionRow] {
    fn json(&self) -> String {
        json(self)
    }
    fn text(&self) -> String {
        sessions_table(self)
    }
}

impl Output for Stats {
    fn json(&self) -> String {
        json(&StatsJson(self))
    }
    fn text(&self) -> String {
        stats_table(self)
    }
}

/// `sarectl status`: the manager's status file.
impl Output for Status {
    fn json(&self) -> String {
        json(self)
    }
    fn text(&self) -> String {
        status_table(self)
    }
}

/// `sarectl apply --dry-run`: the cluster file's services and servers (JSON), or the request in
/// words.
#[derive(Debug, Clone, Copy)]
pub struct DryRun<'a> {
    /// What would be sent.
    pub plan: &'a Plan,
    /// The request's length in bytes.
    pub request_len: usize,
}

impl Output for DryRun<'_> {
    fn json(&self) -> String {
        json(&KernelConfig::from_plan(self.plan))
    }
    fn text(&self) -> String {
        describe(self.plan, self.request_len)
    }
}

/// `sarectl apply --dry-run`: the request in words.
fn describe(p: &Plan, request_len: usize) -> String {
    let mut s = format!(
        "valid; sarectl apply would send CMD_CONFIG_SET ({} bytes) replacing sara.ko's \
         configuration with {}, {}:\n",
        request_len,
        count(p.services.len(), "service"),
        count(p.servers.len(), "server")
    );
    for a in &p.services {
        s.push_str(&format!("  service {}", a.key));
        if let Some(v) = a.sig {
            s.push_str(&format!("  sig {}", genl::sigproto_name(v)));
        }
        if let Some(v) = a.policy {
            s.push_str(&format!("  policy {}", genl::policy_name(v)));
        }
        if let Some(v) = a.timeout {
            s.push_str(&format!("  timeout {v}s"));
        }
        if let Some(v) = a.down_action {
            s.push_str(&format!("  down-action {}", cli::down_action_name(v)));
        }
        s.push('\n');
    }
    for a in &p.servers {
        s.push_str(&format!(
            "  server {}  {}  {}  dev {}",
            a.id,
            a.ip,
            cli::format_mac(&a.mac),
            a.ifname
        ));
        if let Some(w) = a.weight {
            s.push_str(&format!("  weight {w}"));
        }
        s.push('\n');
    }
    s
}

/// `3 servers`, `1 service`.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

// ---- key files ------------------------------------------------------------------------------

/// One key of a key file, as `sarectl key show` lists it (never its bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyRow {
    /// The key id (sent in every trailer).
    pub id: u32,
    /// Whether it seals what the node sends (the file's first key); every key is accepted.
    pub seals: bool,
}

/// `sarectl key show FILE`: the key ids, the file's permissions, and whether the daemons take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyFileReport {
    /// The file.
    pub file: String,
    /// Permission bits, octal (`"0600"`).
    pub mode: String,
    /// Owner's user id.
    pub uid: u32,
    /// Neither group nor others may read or write it (what the daemons require).
    pub permissions_ok: bool,
    /// The keys, the sealing key first (empty when the text does not parse).
    pub keys: Vec<KeyRow>,
    /// What is wrong with the text, if anything.
    pub text_error: Option<String>,
    /// Whether a daemon given `--key-file FILE` would take it.
    pub usable: bool,
}

impl Output for KeyFileReport {
    fn json(&self) -> String {
        json(self)
    }

    fn text(&self) -> String {
        let mut out = format!("key file:     {}\n", self.file);
        if self.permissions_ok {
            out.push_str(&format!(
                "permissions:  {} (owner uid {}): ok, neither group nor others may read it\n",
                self.mode, self.uid
            ));
        } else {
            out.push_str(&format!(
                "permissions:  {} (owner uid {}): WRONG, its group or others may read or write it, \
                 so the daemons refuse it; run `chmod 600 {}`\n",
                self.mode, self.uid, self.file
            ));
        }
        match &self.text_error {
            Some(e) => out.push_str(&format!("keys:         unreadable: {e}\n")),
            None => {
                let keys: Vec<String> = self
                    .keys
                    .iter()
                    .map(|k| {
                        if k.seals {
                            format!("{} (seals what this node sends; accepted)", k.id)
                        } else {
                            format!("{} (accepted)", k.id)
                        }
                    })
                    .collect();
                out.push_str(&format!("keys:         {}\n", keys.join(", ")));
            }
        }
        out.push_str(if self.usable {
            "usable:       yes (pass --key-file with this file to the daemons)\n"
        } else {
            "usable:       no: the daemons refuse this file (see above)\n"
        });
        out
    }
}

// ---- the manager and the failover daemon ----------------------------------------------------

/// The manager's status as a table for people (what `sarectl status` prints without `--json`).
pub fn status_table(s: &Status) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let t = s.thresholds_in_force;
    let o = s.thresholds_operator;
    let _ = writeln!(
        out,
        "manager on {}, status written {} (uptime {:.1} s)",
        s.listen,
        format_unix_utc(s.time_unix_ms / 1000),
        s.uptime_ms as f64 / 1000.0
    );
    let _ = writeln!(
        out,
        "loads (per-mille): dispatcher {}  cluster {}{}  x {}",
        s.load_dispatcher,
        s.load_cluster,
        if s.forecast { " (forecast)" } else { "" },
        s.x
    );
    let _ = writeln!(
        out,
        "thresholds in force: T1 {}  T2 {}  T3 {}  C {}{}",
        t.t1,
        t.t2,
        t.t3,
        t.c,
        if t == o {
            String::new()
        } else {
            format!("   (operator: T2 {}  T3 {})", o.t2, o.t3)
        }
    );
    let k = s.counters;
    let _ = writeln!(
        out,
        "received: {} heartbeats, {} load vectors, {} garbage, {} from unknown servers; pushes {} ok, {} failed",
        k.heartbeats, k.load_vectors, k.garbage, k.unknown_server, k.pushes, k.push_failures
    );
    if let Some(a) = &s.auth {
        let _ = writeln!(out, "{}", a.line());
    }
    if k.announce_datagrams > 0 {
        let _ = writeln!(
            out,
            "gateway reports: {} datagrams ({} lost), {} entries: {} completed, {} rejected, {} failed; slowest {} us",
            k.announce_datagrams,
            k.announce_lost,
            k.announce_entries,
            k.announce_completed,
            k.announce_rejected,
            k.announce_failed,
            k.announce_max_us
        );
    }
    if let Some(e) = &s.last_push_error {
        let _ = writeln!(out, "last push error: {e}");
    }
    let _ = writeln!(
        out,
        "\n{:>5}  {:<12} {:<9} {:>5} {:>8} {:>6} {:>5}  reason",
        "id", "name", "state", "load", "forecast", "lost", "known"
    );
    for v in &s.servers {
        let num = |x: Option<f64>| x.map(|x| format!("{x:.0}")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:>5}  {:<12} {:<9} {:>5} {:>8} {:>6} {:>5}  {}",
            v.id,
            v.name.as_deref().unwrap_or("-"),
            v.state,
            v.load.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            num(v.damped),
            v.lost,
            if v.load_known { "yes" } else { "no" },
            v.reason
        );
    }
    out
}

/// `sarectl ha status`: sara.ko's role, and the failover daemon's status file.
#[derive(Debug, Clone, PartialEq)]
pub struct HaStatus {
    /// sara.ko's role and ring, if it could be read.
    pub kernel: Option<HaState>,
    /// The daemon's status file, if there is one.
    pub daemon: Option<Value>,
    /// How old the status file is (ms).
    pub daemon_age_ms: Option<u64>,
}

impl Output for HaStatus {
    /// One line of JSON.
    fn json(&self) -> String {
        let v = json!({
            "kernel_role": self.kernel.map(|k| cli::ha_role_name(k.role)),
            "kernel_repl_head": self.kernel.map(|k| k.head),
            "daemon": self.daemon,
            "daemon_status_age_ms": self.daemon_age_ms,
        });
        format!("{v}\n")
    }

    /// The kernel's line, then the daemon's (none without a status file).
    fn text(&self) -> String {
        let mut out = String::new();
        macro_rules! say {
            ($($t:tt)*) => {{
                out.push_str(&format!($($t)*));
                out.push('\n');
            }};
        }
        match self.kernel {
            Some(HaState {
                role,
                head,
                capacity: cap,
            }) => say!(
                "sara.ko role:   {} (replication ring {head} records written, holds {cap})",
                cli::ha_role_name(role)
            ),
            None => say!("sara.ko role:   unknown (sara.ko not loaded, or too old for failover)"),
        }
        let Some(d) = &self.daemon else {
            return out;
        };
        let age_ms = self.daemon_age_ms;
        let stale = age_ms.is_some_and(|a| a > 2000);
        say!(
            "daemon:         dispatcher {} priority {}{}, role {}{}",
            d["id"],
            d["priority"],
            if d["preempt"] == true {
                " (preempt)"
            } else {
                ""
            },
            d["role"].as_str().unwrap_or("?"),
            if stale {
                format!(
                    "  [status {} s old: the daemon may have stopped]",
                    age_ms.unwrap_or(0) / 1000
                )
            } else {
                String::new()
            }
        );
        match d["peer"].as_object() {
            Some(p) => say!(
                "peer:           {} dispatcher {} priority {}, {} ({} ms since its last heartbeat)",
                p["addr"].as_str().unwrap_or("?"),
                p["id"],
                p["priority"],
                if p["alive"] == true {
                    p["role"].as_str().unwrap_or("?").to_string()
                } else {
                    "not heard (failed?)".to_string()
                },
                p["heard_ms_ago"]
            ),
            None => say!("peer:           never heard"),
        }
        let l = &d["lag"];
        if d["role"] == "active" {
            say!(
                "replication:    epoch {} batch {}; {} records not read yet, {} batches not acknowledged, last ack {} ms ago",
                d["epoch"], d["seq"], l["records_unread"], l["batches_unacked"], l["ack_age_ms"]
            );
        } else {
            say!(
                "replication:    epoch {} expecting batch {}; {}; {} sessions known; last batch {} ms ago",
                d["epoch"], d["seq"], if l["synced"] == true { "in sync" } else { "NOT in sync (resynchronising)" },
                d["sessions_known"], l["last_batch_ms_ago"]
            );
        }
        match d["last_takeover"].as_object() {
            Some(t) => say!(
                "last takeover:  at {} ms (unix): {}",
                t["at_unix_ms"],
                t["reason"].as_str().unwrap_or("")
            ),
            None => say!("last takeover:  none"),
        }
        let t = &d["totals"];
        say!(
            "totals:         {} batches sent, {} received, {} lost; {} resyncs asked, {} sent; {} records applied, {} failed",
            t["batches_sent"], t["batches_received"], t["batches_lost"], t["resyncs_requested"], t["resyncs_sent"],
            t["records_applied"], t["records_failed"]
        );
        if t["late_ticks"].as_u64().is_some_and(|n| n > 0) {
            say!(
                "stalls:         {} heartbeat ticks came over two periods late (this daemon was not run); no takeover was decided on them",
                t["late_ticks"]
            );
        }
        if let Some(a) = d.get("auth").and_then(|a| {
            serde_json::from_value::<crate::control::secure::AuthStatus>(a.clone()).ok()
        }) {
            say!("{}", a.line());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::Counter;
    use std::net::Ipv4Addr;

    fn service() -> ServiceRow {
        ServiceRow {
            vip: Ipv4Addr::new(192, 0, 2, 10),
            port: 5060,
            protocol: "udp".into(),
            sig: Some("sip".into()),
            policy: Some("least-sessions".into()),
            timeout: Some(30),
            down_action: Some("redispatch".into()),
            packets: Some(1234567),
        }
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "NUM", "LAST"],
            &[Align::Left, Align::Right, Align::Left],
            &[
                vec!["long-name".into(), "7".into(), "x".into()],
                vec!["é".into(), "1234".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "A           NUM  LAST\nlong-name     7  x\né          1234\n"
        );
    }

    #[test]
    fn services_table_layout() {
        let mut other = service();
        other.vip = Ipv4Addr::new(10, 0, 0, 1);
        other.port = 21;
        other.protocol = "tcp".into();
        other.sig = None;
        other.timeout = None;
        other.packets = Some(0);
        let t = services_table(&[service(), other]);
        assert_eq!(
            t,
            "\
SERVICE              SIG  POLICY          TIMEOUT  DOWN-ACTION  PACKETS
192.0.2.10:5060/udp  sip  least-sessions      30s  redispatch   1234567
10.0.0.1:21/tcp      -    least-sessions        -  redispatch         0
"
        );
        assert_eq!(
            services_table(&[]),
            "SERVICE  SIG  POLICY  TIMEOUT  DOWN-ACTION  PACKETS\n"
        );
    }

    #[test]
    fn servers_table_layout() {
        let s = ServerRow {
            id: 12,
            ip: Ipv4Addr::new(10, 0, 0, 12),
            mac: "52:54:00:00:00:0c".into(),
            dev: Some("eth1".into()),
            ifindex: Some(3),
            weight: Some(1),
            state: Some("up".into()),
            sessions: 2,
            forecast: Some(300),
            load: Some(250),
            load_known: Some(true),
            packets: None,
        };
        assert_eq!(
            servers_table(&[s]),
            "\
ID  IP         MAC                DEV   IFINDEX  WEIGHT  STATE  LOAD  FORECAST  SESSIONS  PACKETS
12  10.0.0.12  52:54:00:00:00:0c  eth1        3       1  up      250       300         2        -
"
        );
    }

    #[test]
    fn json_has_stable_names_numbers_and_strings() {
        let v: serde_json::Value = serde_json::from_str(&json(&[service()])).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{
                "vip": "192.0.2.10", "port": 5060, "protocol": "udp", "sig": "sip",
                "policy": "least-sessions", "timeout": 30, "down_action": "redispatch",
                "packets": 1234567
            }])
        );
        let s = ServerRow {
            id: 1,
            ip: Ipv4Addr::new(10, 0, 0, 1),
            mac: "52:54:00:00:00:01".into(),
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
        let v: serde_json::Value = serde_json::from_str(&json(&s)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": 1, "ip": "10.0.0.1", "mac": "52:54:00:00:00:01", "dev": null,
                "ifindex": null, "weight": null, "state": null, "sessions": 0,
                "forecast": null, "load": null, "load_known": null, "packets": null
            })
        );
    }

    #[test]
    fn stats_text_and_prometheus() {
        let stats = Stats {
            counters: vec![
                Counter {
                    id: sara_core::counters::PKT_SEEN,
                    value: 10,
                },
                Counter { id: 300, value: 2 },
            ],
        };
        let t = stats_table(&stats);
        assert!(
            t.starts_with("COUNTER       VALUE  DESCRIPTION\npackets_seen     10  IPv4 packets"),
            "{t}"
        );
        assert!(
            t.contains("counter_300       2  counter 300 (not known to this sarectl)\n"),
            "{t}"
        );
        let p = stats_prometheus(&stats);
        assert_eq!(
            p,
            "\
# HELP sara_packets_seen_total IPv4 packets the hook looked at in this namespace
# TYPE sara_packets_seen_total counter
sara_packets_seen_total 10
# HELP sara_counter_300_total counter 300 (not known to this sarectl)
# TYPE sara_counter_300_total counter
sara_counter_300_total 2
"
        );
        // The gauges are a closed range of ids; newer ids (appended) are running totals.
        assert!(!sara_core::counters::is_gauge(300));
        assert_eq!(prom_escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn every_counter_makes_a_valid_metric_name() {
        for (id, _) in sara_core::counters::COUNTERS.iter().enumerate() {
            let p = stats_prometheus(&Stats {
                counters: vec![Counter { id, value: 1 }],
            });
            let metric = p.lines().last().unwrap().split(' ').next().unwrap();
            assert!(metric.starts_with("sara_"));
            let gauge = sara_core::counters::is_gauge(id);
            assert_eq!(metric.ends_with("_total"), !gauge, "{metric}");
            let kind = if gauge { "gauge" } else { "counter" };
            assert!(p.contains(&format!("# TYPE {metric} {kind}\n")), "{p}");
            assert!(
                metric
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{metric}"
            );
        }
    }

    #[test]
    fn prometheus_types_gauges_without_total() {
        use sara_core::counters::*;
        let stats = Stats {
            counters: vec![
                Counter {
                    id: FLOWS_ANNOUNCED,
                    value: 7,
                },
                Counter {
                    id: ANNOUNCE_REJECTED,
                    value: 1,
                },
                Counter {
                    id: GAUGE_FLOWS,
                    value: 3,
                },
                Counter {
                    id: GAUGE_ANNOUNCED_NOW,
                    value: 1,
                },
                Counter {
                    id: GAUGE_CAPACITY,
                    value: 65536,
                },
            ],
        };
        assert_eq!(
            stats_prometheus(&stats),
            "\
# HELP sara_flows_announced_total flows announced by signalling inspection and stored
# TYPE sara_flows_announced_total counter
sara_flows_announced_total 7
# HELP sara_announce_rejected_total gateway reports that matched no announced flow
# TYPE sara_announce_rejected_total counter
sara_announce_rejected_total 1
# HELP sara_flows flows in the table now (gauge)
# TYPE sara_flows gauge
sara_flows 3
# HELP sara_flows_announced_now flows with identity Announced now (gauge)
# TYPE sara_flows_announced_now gauge
sara_flows_announced_now 1
# HELP sara_table_capacity flows the table can hold (gauge; 0 until the first service)
# TYPE sara_table_capacity gauge
sara_table_capacity 65536
"
        );
        // Every known counter has its own metric name: no gauge collides with a counter.
        let all = Stats {
            counters: (0..NUM_COUNTERS)
                .map(|id| Counter { id, value: 0 })
                .collect(),
        };
        let p = stats_prometheus(&all);
        let mut names: Vec<&str> = p
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert_eq!(n, NUM_COUNTERS);
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(duration_ms(0), "0ms");
        assert_eq!(duration_ms(999), "999ms");
        assert_eq!(duration_ms(1000), "1.0s");
        assert_eq!(duration_ms(12_345), "12.3s");
        assert_eq!(duration_ms(59_999), "59.9s");
        assert_eq!(duration_ms(60_000), "1m00s");
        assert_eq!(duration_ms(245_000), "4m05s");
        assert_eq!(duration_ms(3_600_000), "1h00m");
        assert_eq!(duration_ms(u32::MAX), "1193h02m");
    }

    fn flow(session: u32, identity: &str, sport: u16, dport: u16) -> FlowRow {
        FlowRow {
            src: Ipv4Addr::new(10, 0, 1, 2),
            sport,
            dst: Ipv4Addr::new(10, 0, 0, 100),
            dport,
            proto: if identity == "signalling" {
                "tcp"
            } else {
                "udp"
            }
            .into(),
            server: 1,
            session,
            status: "established".into(),
            identity: identity.into(),
            wildcard: "none".into(),
            ended: false,
            idle_ms: 123,
            timeout_ms: 30_000,
            packets: 12,
            bytes: 3456,
        }
    }

    #[test]
    fn flows_table_layout() {
        let mut announced = flow(17, "announced", 7624, 0);
        announced.wildcard = "dst_port".into();
        announced.status = "new".into();
        announced.packets = 0;
        announced.bytes = 0;
        announced.idle_ms = 2500;
        let mut ended = flow(18, "signalling", 40002, 554);
        ended.ended = true;
        ended.server = 0;
        ended.timeout_ms = 5000;
        let t = flows_table(&[flow(17, "signalling", 40000, 554), announced, ended]);
        assert_eq!(
            t,
            "\
PROTO  SOURCE          DESTINATION     SERVER  SESSION  STATUS               IDENTITY     IDLE  TIMEOUT  PACKETS  BYTES
tcp    10.0.1.2:40000  10.0.0.100:554       1       17  established          signalling  123ms    30.0s       12   3456
udp    10.0.1.2:7624   10.0.0.100:*         1       17  new                  announced    2.5s    30.0s        0      0
tcp    10.0.1.2:40002  10.0.0.100:554       -       18  established (ended)  signalling  123ms     5.0s       12   3456
"
        );
        assert_eq!(
            flows_table(&[]),
            "PROTO  SOURCE  DESTINATION  SERVER  SESSION  STATUS  IDENTITY  IDLE  TIMEOUT  PACKETS  BYTES\n"
        );
    }

    #[test]
    fn sessions_table_layout() {
        let full = SessionRow {
            session: 17,
            server: 1,
            client: Some("10.0.1.2:40000".into()),
            service: Some("10.0.0.100:554/tcp".into()),
            status: Some("established".into()),
            ended: Some(false),
            flows: 3,
            announced: 0,
            secondary: 2,
            idle_ms: 50,
        };
        let raced = SessionRow {
            session: 18,
            server: 2,
            client: None,
            service: None,
            status: None,
            ended: None,
            flows: 1,
            announced: 0,
            secondary: 1,
            idle_ms: 61_000,
        };
        let ended = SessionRow {
            session: 19,
            ended: Some(true),
            ..full.clone()
        };
        assert_eq!(
            sessions_table(&[full, raced, ended]),
            "\
SESSION  SERVER  CLIENT          SERVICE             STATUS               FLOWS  ANNOUNCED  SECONDARY   IDLE
     17       1  10.0.1.2:40000  10.0.0.100:554/tcp  established              3          0          2   50ms
     18       2  -               -                   -                        1          0          1  1m01s
     19       1  10.0.1.2:40000  10.0.0.100:554/tcp  established (ended)      3          0          2   50ms
"
        );
    }

    #[test]
    fn flow_and_session_json_shapes() {
        let text = json(&[flow(17, "signalling", 40000, 554)]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{"src":"10.0.1.2","sport":40000,"dst":"10.0.0.100","dport":554,
                "proto":"tcp","server":1,"session":17,"status":"established",
                "identity":"signalling","wildcard":"none","ended":false,"idle_ms":123,
                "timeout_ms":30000,"packets":12,"bytes":3456}])
        );
        // The field order of the contract, too.
        assert_eq!(
            serde_json::to_string(&flow(17, "signalling", 40000, 554)).unwrap(),
            r#"{"src":"10.0.1.2","sport":40000,"dst":"10.0.0.100","dport":554,"proto":"tcp","server":1,"session":17,"status":"established","identity":"signalling","wildcard":"none","ended":false,"idle_ms":123,"timeout_ms":30000,"packets":12,"bytes":3456}"#
        );
        let flows = [
            flow(17, "signalling", 40000, 554),
            flow(17, "secondary", 7624, 42182),
            flow(17, "secondary", 7625, 42183),
            flow(18, "announced", 7626, 0),
        ];
        let mut flows = flows.to_vec();
        flows[1].idle_ms = 50;
        flows[3].server = 2;
        let sessions = group_sessions(&flows);
        assert_eq!(
            serde_json::to_string(&sessions).unwrap(),
            concat!(
                r#"[{"session":17,"server":1,"client":"10.0.1.2:40000","service":"10.0.0.100:554/tcp","#,
                r#""status":"established","ended":false,"flows":3,"announced":0,"secondary":2,"idle_ms":50},"#,
                r#"{"session":18,"server":2,"client":null,"service":null,"status":null,"ended":null,"#,
                r#""flows":1,"announced":1,"secondary":0,"idle_ms":123}]"#
            )
        );
        assert_eq!(json(&Vec::<FlowRow>::new()), "[]\n");
    }

    const EXAMPLE: &str = include_str!("../examples/cluster.json");

    #[test]
    fn dry_run_words() {
        let p = crate::config::parse_for_apply(EXAMPLE, "x").unwrap();
        let d = describe(&p, 256);
        assert!(d.starts_with(
            "valid; sarectl apply would send CMD_CONFIG_SET (256 bytes) replacing sara.ko's \
             configuration with 2 services, 3 servers:\n"
        ));
        assert!(d.contains("  service 192.0.2.10:554/tcp  sig rtsp  policy forecast  timeout 60s  down-action redispatch\n"), "{d}");
        assert!(
            d.contains("  server 3  10.0.0.13  52:54:00:00:00:13  dev eth1  weight 2\n"),
            "{d}"
        );
        assert_eq!(count(1, "server"), "1 server");
        assert_eq!(count(0, "service"), "0 services");
    }

    #[test]
    fn counters_name_unknown_ids() {
        assert_eq!(
            counter_name(&Counter {
                id: counters::PKT_SEEN,
                value: 0
            }),
            "packets_seen"
        );
        assert_eq!(counter_name(&Counter { id: 500, value: 0 }), "counter_500");
        let s = Stats {
            counters: vec![Counter { id: 1, value: 5 }, Counter { id: 77, value: 6 }],
        };
        assert_eq!(
            serde_json::to_string(&StatsJson(&s)).unwrap(),
            r#"{"packets_forwarded":5,"counter_77":6}"#
        );
    }

    #[test]
    fn sessions_group_flows_and_survive_a_missing_signalling_flow() {
        let flow = |session, identity: &str, server, idle_ms, ended| FlowRow {
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
                SessionRow {
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
                SessionRow {
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
                SessionRow {
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
    fn flows_are_sorted_by_session_signalling_first() {
        let mut flows = vec![
            flow(5, "secondary", 2, 0),
            flow(3, "signalling", 9, 0),
            flow(5, "signalling", 7, 0),
            flow(5, "unknown(7)", 1, 0),
            flow(5, "secondary", 1, 0),
        ];
        sort_flows(&mut flows);
        let got: Vec<(u32, &str, u16)> = flows
            .iter()
            .map(|f| (f.session, f.identity.as_str(), f.sport))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "signalling", 9),
                (5, "signalling", 7),
                (5, "secondary", 1),
                (5, "secondary", 2),
                (5, "unknown(7)", 1),
            ]
        );
    }

    #[test]
    fn rows_name_the_kernels_numbers() {
        use crate::kernel::{FlowIdentity, FlowStatus, PortWildcard, ServiceKey};
        use sara_core::flow::FlowKey;
        let s = Service {
            key: ServiceKey {
                vip: Ipv4Addr::new(192, 0, 2, 10),
                port: 5060,
                proto: 17,
            },
            sig: Some(200),
            policy: Some(genl::POLICY_LEAST_SESSIONS),
            timeout: Some(30),
            down_action: Some(9),
            packets: Some(1234567),
        };
        let row = ServiceRow::from(&s);
        assert_eq!(row.protocol, "udp");
        assert_eq!(row.sig.as_deref(), Some("unknown(200)"));
        assert_eq!(row.policy.as_deref(), Some("least-sessions"));
        assert_eq!(row.down_action.as_deref(), Some("unknown(9)"));
        let v = Server {
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
        };
        let row = ServerRow::from(&v);
        assert_eq!(row.mac, "52:54:00:ab:00:07");
        assert_eq!(row.dev.as_deref(), Some("veth1"));
        assert_eq!(row.state.as_deref(), Some("draining"));
        let mut v = v;
        v.state = Some(5);
        assert_eq!(ServerRow::from(&v).state.as_deref(), Some("unknown(5)"));
        let f = Flow {
            key: FlowKey::new([10, 0, 1, 2], 40000, [10, 0, 0, 100], 554, 6),
            server: 1,
            session: 17,
            status: FlowStatus::Established,
            identity: FlowIdentity::Signalling,
            wildcard: PortWildcard::Exact,
            ended: false,
            idle_ms: 123,
            timeout_ms: 30_000,
            packets: 12,
            bytes: 3456,
        };
        assert_eq!(FlowRow::from(&f), flow(17, "signalling", 40000, 554));
        let f = Flow {
            status: FlowStatus::Unknown(9),
            identity: FlowIdentity::Unknown(7),
            wildcard: PortWildcard::Unknown(8),
            ..f
        };
        let row = FlowRow::from(&f);
        assert_eq!(
            (
                row.status.as_str(),
                row.identity.as_str(),
                row.wildcard.as_str()
            ),
            ("unknown(9)", "unknown(7)", "unknown(8)")
        );
        assert_eq!(row.source(), "10.0.1.2:40000");
        assert_eq!(row.service(), "10.0.0.100:554/tcp");
    }

    #[test]
    fn one_value_is_json_and_text() {
        let rows = vec![service()];
        assert_eq!(render(rows.as_slice(), Format::Json), json(&rows));
        assert_eq!(
            render(rows.as_slice(), Format::Table),
            services_table(&rows)
        );
        let stats = Stats {
            counters: vec![Counter {
                id: counters::PKT_SEEN,
                value: 3,
            }],
        };
        assert_eq!(
            render(&stats, Format::Json),
            "{\n  \"packets_seen\": 3\n}\n"
        );
        assert_eq!(render(&stats, Format::Table), stats_table(&stats));
    }

    #[test]
    fn ha_status_json_and_text() {
        use crate::kernel::HaRole;
        let none = HaStatus {
            kernel: None,
            daemon: None,
            daemon_age_ms: None,
        };
        assert_eq!(
            none.json(),
            "{\"daemon\":null,\"daemon_status_age_ms\":null,\"kernel_repl_head\":null,\"kernel_role\":null}\n"
        );
        assert_eq!(
            none.text(),
            "sara.ko role:   unknown (sara.ko not loaded, or too old for failover)\n"
        );
        let daemon = serde_json::json!({
            "id": 1, "priority": 200, "preempt": true, "role": "active",
            "peer": {"addr": "10.0.0.3:7410", "id": 2, "role": "backup", "priority": 100,
                     "heard_ms_ago": 12, "alive": true},
            "epoch": 3, "seq": 40, "synced": true, "sessions_known": 5,
            "lag": {"records_unread": 0, "batches_unacked": 1, "ack_age_ms": 7},
            "last_takeover": {"at_unix_ms": 1700000000000u64, "reason": "peer silent"},
            "totals": {"batches_sent": 10, "batches_received": 0, "batches_lost": 0,
                       "resyncs_requested": 0, "resyncs_sent": 1, "records_applied": 0,
                       "records_failed": 0},
        });
        let st = HaStatus {
            kernel: Some(HaState {
                role: HaRole::Active,
                head: 42,
                capacity: 4096,
            }),
            daemon: Some(daemon),
            daemon_age_ms: Some(3500),
        };
        assert_eq!(
            st.text(),
            "\
sara.ko role:   active (replication ring 42 records written, holds 4096)
daemon:         dispatcher 1 priority 200 (preempt), role active  [status 3 s old: the daemon may have stopped]
peer:           10.0.0.3:7410 dispatcher 2 priority 100, backup (12 ms since its last heartbeat)
replication:    epoch 3 batch 40; 0 records not read yet, 1 batches not acknowledged, last ack 7 ms ago
last takeover:  at 1700000000000 ms (unix): peer silent
totals:         10 batches sent, 0 received, 0 lost; 0 resyncs asked, 1 sent; 0 records applied, 0 failed
"
        );
        let v: serde_json::Value = serde_json::from_str(&st.json()).unwrap();
        assert_eq!(v["kernel_role"], "active");
        assert_eq!(v["kernel_repl_head"], 42);
        assert_eq!(v["daemon_status_age_ms"], 3500);
        assert_eq!(v["daemon"]["peer"]["id"], 2);
        assert!(!st.json().trim_end().contains('\n'), "one line");
        // A daemon with keys: one more line, with the refusals.
        let mut d = st.daemon.clone().unwrap();
        d["auth"] = serde_json::json!({
            "mode": "keys", "key_file": "/etc/sara/key", "key_ids": [2, 1], "sender_id": 1,
            "accept_from": [], "rejections": {"bad_tag": 3, "replay": 1}, "rejected": 4
        });
        let keyed = HaStatus {
            daemon: Some(d),
            ..st.clone()
        };
        assert!(
            keyed.text().ends_with(
                "authentication: keys 2, 1 from /etc/sara/key (sender id 1); refused 4: 3 bad_tag, 1 replay\n"
            ),
            "{}",
            keyed.text()
        );
        let odd = HaStatus {
            kernel: Some(HaState {
                role: HaRole::Unknown(9),
                head: 0,
                capacity: 0,
            }),
            ..none
        };
        assert!(
            odd.text().starts_with("sara.ko role:   ? "),
            "{}",
            odd.text()
        );
    }
}
