//! What `sarectl` prints: aligned tables for people, JSON for scripts, Prometheus text for
//! scrapers. Every function returns the text; the caller prints it.
//!
//! What a command shows is one [`Output`] value, both JSON and text: the rows of a listing
//! ([`ServiceRow`], [`ServerRow`], [`FlowRow`], [`SessionRow`], made from the kernel client's typed
//! replies with the names of [`crate::cli`]), the counters ([`Stats`]), the manager's status
//! ([`Status`]), the failover status ([`HaStatus`]), `sarectl apply --dry-run` ([`DryRun`]), a key
//! file ([`KeyFileReport`]). The counters and the two daemons' status also have a Prometheus text
//! form ([`stats_prometheus`], [`status_prometheus`], [`ha_status_prometheus`]).

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
    /// Prometheus text exposition format (`sarectl stats`, `status`, `ha status`:
    /// [`stats_prometheus`], [`status_prometheus`], [`ha_status_prometheus`]).
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

/// `v` as JSON or as text (a table: [`Format::Table`]; the Prometheus text is each command's own,
/// [`stats_prometheus`], [`status_prometheus`], [`ha_status_prometheus`]).
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
    /// `10.0.0.100:554/tcp`: the destination with the protocol, as services are written (a SIP
    /// call's own session record, protocol `sip-call`, belongs to the UDP service).
    pub fn service(&self) -> String {
        let proto = if self.proto == cli::proto_name(sara_core::calls::PROTO_SIP_CALL) {
            "udp"
        } else {
            self.proto.as_str()
        };
        format!("{}/{}", self.destination(), proto)
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
    /// A SIP call's session: its Call-ID shortened (first 8 and last 6 bytes around `…`, the whole
    /// Call-ID when it is at most 14 bytes; bytes outside printable ASCII as `\xNN`), from the
    /// Call-ID index (`crate::calls`). Null for other sessions, or when the index was not read.
    pub call_id_short: Option<String>,
    /// The Call-ID's length in bytes (null as `call_id_short`).
    pub call_id_len: Option<u16>,
}

/// Group flows by session id, in session id order (no Call-IDs yet: `crate::calls::annotate`).
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
                call_id_short: None,
                call_id_len: None,
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

/// A session's CALL-ID cell: `-` when it is no SIP call (or the index was not read); the shortened
/// Call-ID, followed by its length in bytes when bytes are left out: `a84b4c76…ta.com (31)`.
fn call_id_text(short: Option<&str>, len: Option<u16>) -> String {
    match (short, len) {
        (Some(s), Some(n))
            if usize::from(n) > sara_core::calls::HEAD_BYTES + sara_core::calls::TAIL_BYTES =>
        {
            format!("{s} ({n})")
        }
        (Some(s), _) => s.to_string(),
        (None, _) => "-".into(),
    }
}

/// `sarectl sessions`: one row per session; `-` where the signalling flow is not in the table, and
/// for the CALL-ID of a session that is no SIP call.
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
                call_id_text(s.call_id_short.as_deref(), s.call_id_len),
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
            "CALL-ID",
        ],
        &[
            Right, Right, Left, Left, Left, Right, Right, Right, Right, Left,
        ],
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

// ---- Prometheus text ------------------------------------------------------------------------

/// Escape a `# HELP` text for the Prometheus text format.
fn prom_escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Escape a label value for the Prometheus text format: backslash, double quote, line feed.
fn prom_escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as the Prometheus text format writes it (`NaN`, `+Inf`, `-Inf`; never an exponent).
fn prom_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

/// `v / 10^digits` exactly, without trailing zeros: milliseconds (3) or microseconds (6) as
/// seconds, `1500` ms -> `1.5`.
fn prom_scaled(v: u64, digits: u32) -> String {
    let unit = 10u64.pow(digits);
    let frac = v % unit;
    if frac == 0 {
        return (v / unit).to_string();
    }
    let f = format!("{frac:0width$}", width = digits as usize);
    format!("{}.{}", v / unit, f.trim_end_matches('0'))
}

/// `1` or `0`.
fn prom_bool(b: bool) -> String {
    u8::from(b).to_string()
}

const COUNTER: &str = "counter";
const GAUGE: &str = "gauge";

/// A Prometheus text exposition being written: each metric family's `# HELP` and `# TYPE`, then all
/// its samples together (the format wants a family's samples in one group).
#[derive(Default)]
struct Prom(String);

impl Prom {
    /// The `# HELP` and `# TYPE` lines of a family; its samples follow.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.0.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} {kind}\n",
            prom_escape_help(help)
        ));
    }

    /// One sample: `name{label="value",...} value`.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: &str) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", prom_escape_label(v)))
                .collect();
            self.0.push_str(&format!("{{{}}}", l.join(",")));
        }
        self.0.push(' ');
        self.0.push_str(value);
        self.0.push('\n');
    }

    /// A family of one sample.
    fn one(&mut self, name: &str, kind: &str, help: &str, labels: &[(&str, &str)], value: &str) {
        self.family(name, kind, help);
        self.sample(name, labels, value);
    }

    /// A state set: one sample per state, 1 for `now` and 0 for the others (`now` is added when it
    /// is none of `states`), so that every state's series exists whatever the state.
    fn states<'a>(
        &mut self,
        name: &str,
        labels: &[(&'a str, &'a str)],
        key: &'a str,
        states: &[&'a str],
        now: &'a str,
    ) {
        let extra = (!states.contains(&now)).then_some(now);
        for st in states.iter().copied().chain(extra) {
            let mut l = labels.to_vec();
            l.push((key, st));
            self.sample(name, &l, &prom_bool(st == now));
        }
    }
}

/// `sarectl stats --prometheus`, with HELP and TYPE for each metric: a running total as
/// `sara_<name>_total` of type counter, a gauge (`counters::is_gauge`: a value now, such as the
/// number of flows in the table) as `sara_<name>` of type gauge.
pub fn stats_prometheus(stats: &Stats) -> String {
    let mut p = Prom::default();
    for c in &stats.counters {
        let (metric, kind) = if counters::is_gauge(c.id) {
            (format!("sara_{}", counter_name(c)), GAUGE)
        } else {
            (format!("sara_{}_total", counter_name(c)), COUNTER)
        };
        p.one(&metric, kind, &counter_help(c), &[], &c.value.to_string());
    }
    p.0
}

// The families both daemons write, with the label `daemon`: their HELP must be the same in both
// (node_exporter's textfile collector refuses a family whose HELP differs between two files).

const HELP_WRITTEN: &str = "when the daemon last wrote its status file, Unix time in seconds \
     (the daemon rewrites it every interval: an old value means it has stopped)";
const HELP_INSECURE: &str = "1 when the daemon runs with --insecure (control datagrams neither \
     sealed nor verified), 0 with a key file";
const HELP_REFUSED: &str = "control datagrams the daemon refused, by reason (malformed, \
     unknown_key, bad_tag, unknown_sender, wrong_source, replay, too_old, too_many_senders; \
     see sarectl key --help)";

/// `sara_status_written_timestamp_seconds{daemon}`.
fn prom_written(p: &mut Prom, daemon: &str, unix_ms: u64) {
    p.one(
        "sara_status_written_timestamp_seconds",
        GAUGE,
        HELP_WRITTEN,
        &[("daemon", daemon)],
        &prom_scaled(unix_ms, 3),
    );
}

/// `sara_auth_insecure{daemon}` and `sara_auth_refused_total{daemon,reason}`, every reason
/// (zeros too, so that `rate()` has a series from the start).
fn prom_auth(p: &mut Prom, daemon: &str, a: &crate::control::secure::AuthStatus) {
    p.one(
        "sara_auth_insecure",
        GAUGE,
        HELP_INSECURE,
        &[("daemon", daemon)],
        &prom_bool(a.mode == "insecure"),
    );
    p.family("sara_auth_refused_total", COUNTER, HELP_REFUSED);
    for (r, n) in a.rejections.by_reason() {
        p.sample(
            "sara_auth_refused_total",
            &[("daemon", daemon), ("reason", r.name())],
            &n.to_string(),
        );
    }
}

/// The server states of the manager's status, in the order `sarectl status --prometheus` lists
/// them.
const SERVER_STATES: [&str; 4] = ["up", "draining", "down", "unknown"];

/// `sarectl status --prometheus`: the manager's status file as Prometheus metrics, `sara_manager_*`
/// and the daemons' `sara_auth_*` and `sara_status_written_timestamp_seconds` with
/// `daemon="manager"`. Loads are per-mille, as in the cluster file's thresholds; per-server metrics
/// have the labels `server` (its id) and `name` (when the cluster file gives one).
pub fn status_prometheus(s: &Status) -> String {
    let mut p = Prom::default();
    prom_written(&mut p, "manager", s.time_unix_ms);

    p.family(
        "sara_manager_servers",
        GAUGE,
        "servers of the manager's configuration in each state (up, draining, down, unknown: \
         nothing heard yet)",
    );
    let mut states: Vec<&str> = SERVER_STATES.to_vec();
    for v in &s.servers {
        if !states.contains(&v.state.as_str()) {
            states.push(&v.state);
        }
    }
    for st in states {
        let n = s.servers.iter().filter(|v| v.state == st).count();
        p.sample("sara_manager_servers", &[("state", st)], &n.to_string());
    }

    let ids: Vec<String> = s.servers.iter().map(|v| v.id.to_string()).collect();
    let labels: Vec<Vec<(&str, &str)>> = s
        .servers
        .iter()
        .zip(&ids)
        .map(|(v, id)| {
            let mut l = vec![("server", id.as_str())];
            if let Some(n) = &v.name {
                l.push(("name", n.as_str()));
            }
            l
        })
        .collect();
    p.family(
        "sara_manager_server_state",
        GAUGE,
        "1 for the server's state as the manager decided it (pushed to sara.ko), 0 for the others",
    );
    for (i, v) in s.servers.iter().enumerate() {
        p.states(
            "sara_manager_server_state",
            &labels[i],
            "state",
            &SERVER_STATES,
            &v.state,
        );
    }
    type PerServer = fn(&crate::control::manager::ServerStatus) -> Option<String>;
    let per_server: [(&str, &str, &str, PerServer); 8] = [
        (
            "sara_manager_server_load_known",
            GAUGE,
            "1 when the server's load monitor is alive (its load is known), 0 otherwise",
            |v| Some(prom_bool(v.load_known)),
        ),
        (
            "sara_manager_server_load_permille",
            GAUGE,
            "the server's last measured load l, per-mille",
            |v| v.load.map(|l| l.to_string()),
        ),
        (
            "sara_manager_server_forecast_permille",
            GAUGE,
            "the server's load forecast l^ (next interval), per-mille",
            |v| v.forecast.map(prom_f64),
        ),
        (
            "sara_manager_server_damped_permille",
            GAUGE,
            "the server's damped load estimate l~, per-mille: the FORECAST column of sarectl \
             status, pushed to sara.ko",
            |v| v.damped.map(prom_f64),
        ),
        (
            "sara_manager_server_heartbeats_total",
            COUNTER,
            "heartbeats received from the server's agent",
            |v| Some(v.heartbeats.to_string()),
        ),
        (
            "sara_manager_server_heartbeats_lost_total",
            COUNTER,
            "heartbeats of the server's agent that never came (gaps in their sequence numbers)",
            |v| Some(v.lost.to_string()),
        ),
        (
            "sara_manager_server_heartbeat_age_seconds",
            GAUGE,
            "seconds since the server's last heartbeat, when the status was written",
            |v| v.last_heartbeat_ago_ms.map(|ms| prom_scaled(ms, 3)),
        ),
        (
            "sara_manager_server_agent_restarts_total",
            COUNTER,
            "restarts of the server's agent seen by the manager",
            |v| Some(v.restarts.to_string()),
        ),
    ];
    for (name, kind, help, value) in per_server {
        let values: Vec<(usize, String)> = s
            .servers
            .iter()
            .enumerate()
            .filter_map(|(i, v)| value(v).map(|x| (i, x)))
            .collect();
        if values.is_empty() {
            continue;
        }
        p.family(name, kind, help);
        for (i, x) in values {
            p.sample(name, &labels[i], &x);
        }
    }

    let k = &s.counters;
    let totals: [(&str, &str, u64); 13] = [
        (
            "sara_manager_datagrams_total",
            "datagrams received on the manager's port",
            k.datagrams,
        ),
        (
            "sara_manager_heartbeats_total",
            "heartbeats taken into account, all servers (late and duplicate ones included)",
            k.heartbeats,
        ),
        (
            "sara_manager_load_vectors_total",
            "load vectors taken into account, all servers",
            k.load_vectors,
        ),
        (
            "sara_manager_garbage_total",
            "authenticated datagrams that are not monitoring messages (ignored)",
            k.garbage,
        ),
        (
            "sara_manager_unknown_server_total",
            "messages from server ids not in the manager's configuration (ignored)",
            k.unknown_server,
        ),
        (
            "sara_manager_pushes_total",
            "pushes of states, loads and thresholds to sara.ko",
            k.pushes,
        ),
        (
            "sara_manager_push_failures_total",
            "pushes that sara.ko refused or that could not be sent",
            k.push_failures,
        ),
        (
            "sara_manager_announce_datagrams_total",
            "gateway report datagrams taken",
            k.announce_datagrams,
        ),
        (
            "sara_manager_announce_lost_total",
            "gateway report datagrams lost (gaps in their sequence numbers)",
            k.announce_lost,
        ),
        (
            "sara_manager_announce_entries_total",
            "flows reported in the gateway reports",
            k.announce_entries,
        ),
        (
            "sara_manager_announce_completed_total",
            "reported flows that sara.ko completed",
            k.announce_completed,
        ),
        (
            "sara_manager_announce_rejected_total",
            "reported flows that sara.ko refused (no announced flow waiting for them)",
            k.announce_rejected,
        ),
        (
            "sara_manager_announce_failed_total",
            "reported flows that could not be sent to sara.ko",
            k.announce_failed,
        ),
    ];
    for (name, help, v) in totals {
        p.one(name, COUNTER, help, &[], &v.to_string());
    }
    p.one(
        "sara_manager_announce_max_latency_seconds",
        GAUGE,
        "longest time from receiving a gateway report to sara.ko's answer, since the manager started",
        &[],
        &prom_scaled(k.announce_max_us, 6),
    );
    p.one(
        "sara_manager_last_push_failed",
        GAUGE,
        "1 when the last push to sara.ko failed (sarectl status shows the error), 0 otherwise",
        &[],
        &prom_bool(s.last_push_error.is_some()),
    );

    p.one(
        "sara_manager_dispatcher_load_permille",
        GAUGE,
        "the dispatcher's own load l_d, per-mille",
        &[],
        &s.load_dispatcher.to_string(),
    );
    p.one(
        "sara_manager_cluster_load_permille",
        GAUGE,
        "the cluster's load l_c (from the forecasts when they are known), per-mille",
        &[],
        &s.load_cluster.to_string(),
    );
    p.one(
        "sara_manager_admission_load_permille",
        GAUGE,
        "x = max(l_d, l_c), per-mille: what admission control compares with the thresholds",
        &[],
        &s.x.to_string(),
    );
    p.family(
        "sara_manager_threshold_permille",
        GAUGE,
        "the admission thresholds in force (T2 and T3 move under overload), per-mille: new \
         sessions refused from t1 (all above t2), established ones from t3, everything at c",
    );
    let t = s.thresholds_in_force;
    for (name, v) in [("t1", t.t1), ("t2", t.t2), ("t3", t.t3), ("c", t.c)] {
        p.sample(
            "sara_manager_threshold_permille",
            &[("threshold", name)],
            &v.to_string(),
        );
    }

    if let Some(a) = &s.auth {
        prom_auth(&mut p, "manager", a);
    }
    p.0
}

/// The roles of the failover daemon.
const HA_ROLES: [&str; 2] = ["active", "backup"];
/// sara.ko's roles.
const KERNEL_HA_ROLES: [&str; 3] = ["standalone", "active", "backup"];

/// The running totals of the failover daemon's status (`totals.<field>`), as
/// `sara_failover_<field>_total`.
const HA_TOTALS: [(&str, &str); 19] = [
    (
        "takeovers",
        "times this dispatcher took the VIP (became active)",
    ),
    (
        "stepdowns",
        "times this dispatcher gave the VIP up (became backup)",
    ),
    (
        "late_ticks",
        "heartbeat ticks that came over two periods late (the daemon was not run): no takeover is \
         decided on them",
    ),
    (
        "batches_sent",
        "replication batches (with records) sent to the peer",
    ),
    (
        "batches_received",
        "replication batches (with records) taken from the peer",
    ),
    (
        "batches_lost",
        "replication batches from the peer that never came (each makes the backup resynchronise)",
    ),
    ("records_sent", "replication records sent to the peer"),
    (
        "records_applied",
        "replication records from the peer installed in sara.ko",
    ),
    (
        "records_failed",
        "replication records from the peer that sara.ko could not install",
    ),
    (
        "resyncs_requested",
        "full copies of the sessions asked of the peer",
    ),
    (
        "resyncs_sent",
        "full copies of the sessions sent to the peer",
    ),
    (
        "resyncs_failed",
        "full copies asked of this daemon that it could not send (the flow table could not be read whole); the peer asks again",
    ),
    (
        "records_adopted",
        "records of sessions the peer opened while it was active too (its handback, or its \
         replication while both were active) that sara.ko adopted here",
    ),
    (
        "records_adopt_skipped",
        "records of the peer's sessions sara.ko left as it had them (already there, or its own \
         decision for that session stands)",
    ),
    (
        "handbacks_sent",
        "times this dispatcher stepped down to an active peer of higher priority and handed back \
         the sessions it opened while active",
    ),
    (
        "handback_sessions_sent",
        "sessions handed back to the peer on stepping down",
    ),
    (
        "handback_batches_received",
        "handback batches received from the peer while active (their records adopted)",
    ),
    (
        "garbage",
        "authenticated datagrams from the peer that are not failover messages (ignored)",
    ),
    (
        "send_errors",
        "datagrams that could not be sent to the peer",
    ),
];

/// `sarectl ha status --prometheus`: the failover daemon's status file as Prometheus metrics,
/// `sara_failover_*` and the daemons' `sara_auth_*` and `sara_status_written_timestamp_seconds`
/// with `daemon="ha"`, and sara.ko's role as read now. A number missing from the file (an older
/// daemon, or a figure of the other role) gives no sample.
pub fn ha_status_prometheus(st: &HaStatus) -> String {
    let mut p = Prom::default();
    let d = st.daemon.as_ref();
    let num = |v: &Value| v.as_u64();
    if let Some(w) = d.and_then(|d| num(&d["written_unix_ms"])) {
        prom_written(&mut p, "ha", w);
    }
    if let Some(role) = d.and_then(|d| d["role"].as_str()) {
        p.family(
            "sara_failover_role",
            GAUGE,
            "1 for the failover daemon's role (active: holds the VIP and forwards; backup), 0 \
             for the other",
        );
        p.states("sara_failover_role", &[], "role", &HA_ROLES, role);
    }
    if let Some(k) = st.kernel {
        p.family(
            "sara_failover_kernel_role",
            GAUGE,
            "1 for sara.ko's role as sarectl read it (standalone: no failover), 0 for the others",
        );
        p.states(
            "sara_failover_kernel_role",
            &[],
            "role",
            &KERNEL_HA_ROLES,
            cli::ha_role_name(k.role),
        );
    }
    let Some(d) = d else {
        return p.0;
    };
    if let Some(b) = d["synced"].as_bool() {
        p.one(
            "sara_failover_synced",
            GAUGE,
            "1 when this dispatcher holds every session of the active one (always 1 on the \
             active), 0 while it resynchronises: a takeover now would lose sessions",
            &[],
            &prom_bool(b),
        );
    }
    if let Some(n) = num(&d["sessions_known"]) {
        p.one(
            "sara_failover_sessions_known",
            GAUGE,
            "sessions replicated from the active dispatcher that this backup holds",
            &[],
            &n.to_string(),
        );
    }
    let peer = d["peer"].as_object();
    p.one(
        "sara_failover_peer_alive",
        GAUGE,
        "1 when the peer's heartbeats are coming, 0 when it is silent (failed?) or was never heard",
        &[],
        &prom_bool(peer.is_some_and(|p| p["alive"] == true)),
    );
    if let Some(ms) = peer.and_then(|p| num(&p["heard_ms_ago"])) {
        p.one(
            "sara_failover_peer_heartbeat_age_seconds",
            GAUGE,
            "seconds since the peer's last datagram, when the status was written",
            &[],
            &prom_scaled(ms, 3),
        );
    }
    let l = &d["lag"];
    let lag: [(&str, &str, Option<String>); 4] = [
        (
            "sara_failover_records_unread",
            "records of sara.ko's replication ring not read yet (active)",
            num(&l["records_unread"]).map(|n| n.to_string()),
        ),
        (
            "sara_failover_batches_unacked",
            "replication batches the backup has not acknowledged yet (active)",
            num(&l["batches_unacked"]).map(|n| n.to_string()),
        ),
        (
            "sara_failover_ack_age_seconds",
            "seconds since the backup's last acknowledgement (active)",
            num(&l["ack_age_ms"]).map(|ms| prom_scaled(ms, 3)),
        ),
        (
            "sara_failover_last_batch_age_seconds",
            "seconds since the last replication batch from the active dispatcher (backup)",
            num(&l["last_batch_ms_ago"]).map(|ms| prom_scaled(ms, 3)),
        ),
    ];
    for (name, help, v) in lag {
        if let Some(v) = v {
            p.one(name, GAUGE, help, &[], &v);
        }
    }
    if let Some(ms) = num(&d["last_takeover"]["at_unix_ms"]) {
        p.one(
            "sara_failover_last_takeover_timestamp_seconds",
            GAUGE,
            "when this dispatcher last took the VIP, Unix time in seconds",
            &[],
            &prom_scaled(ms, 3),
        );
    }
    for (field, help) in HA_TOTALS {
        if let Some(n) = num(&d["totals"][field]) {
            p.one(
                &format!("sara_failover_{field}_total"),
                COUNTER,
                help,
                &[],
                &n.to_string(),
            );
        }
    }
    if let Some(a) = d
        .get("auth")
        .and_then(|a| serde_json::from_value::<crate::control::secure::AuthStatus>(a.clone()).ok())
    {
        prom_auth(&mut p, "ha", &a);
    }
    p.0
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
        if t["resyncs_failed"].as_u64().is_some_and(|n| n > 0) {
            say!(
                "resyncs:        {} full copies asked of this daemon could not be sent (sara.ko's flow table changed during every read); the peer asked again",
                t["resyncs_failed"]
            );
        }
        if t["late_ticks"].as_u64().is_some_and(|n| n > 0) {
            say!(
                "stalls:         {} heartbeat ticks came over two periods late (this daemon was not run); no takeover was decided on them",
                t["late_ticks"]
            );
        }
        let n = |k: &str| t[k].as_u64().unwrap_or(0);
        if n("handbacks_sent") > 0 || n("records_adopted") > 0 || n("records_adopt_skipped") > 0 {
            say!(
                "handback:       {} sessions handed back in {} step-downs; {} records of the peer's sessions adopted, {} left as they were here",
                n("handback_sessions_sent"),
                n("handbacks_sent"),
                n("records_adopted"),
                n("records_adopt_skipped")
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
            call_id_short: None,
            call_id_len: None,
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
            call_id_short: None,
            call_id_len: None,
        };
        let ended = SessionRow {
            session: 19,
            ended: Some(true),
            ..full.clone()
        };
        // Two calls of a SIP trunk: a long Call-ID shortened, with its length; a short one whole.
        let call = SessionRow {
            session: 20,
            client: Some("10.0.1.2:5060".into()),
            service: Some("10.0.0.100:5060/udp".into()),
            call_id_short: Some("a84b4c76…ta.com".into()),
            call_id_len: Some(31),
            ..full.clone()
        };
        let short = SessionRow {
            session: 21,
            call_id_short: Some("1-42@10.0.1.2".into()),
            call_id_len: Some(13),
            ..call.clone()
        };
        assert_eq!(
            sessions_table(&[full, raced, ended, call, short]),
            "\
SESSION  SERVER  CLIENT          SERVICE              STATUS               FLOWS  ANNOUNCED  SECONDARY   IDLE  CALL-ID
     17       1  10.0.1.2:40000  10.0.0.100:554/tcp   established              3          0          2   50ms  -
     18       2  -               -                    -                        1          0          1  1m01s  -
     19       1  10.0.1.2:40000  10.0.0.100:554/tcp   established (ended)      3          0          2   50ms  -
     20       1  10.0.1.2:5060   10.0.0.100:5060/udp  established              3          0          2   50ms  a84b4c76…ta.com (31)
     21       1  10.0.1.2:5060   10.0.0.100:5060/udp  established              3          0          2   50ms  1-42@10.0.1.2
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
                r#""status":"established","ended":false,"flows":3,"announced":0,"secondary":2,"idle_ms":50,"#,
                r#""call_id_short":null,"call_id_len":null},"#,
                r#"{"session":18,"server":2,"client":null,"service":null,"status":null,"ended":null,"#,
                r#""flows":1,"announced":1,"secondary":0,"idle_ms":123,"call_id_short":null,"call_id_len":null}]"#
            )
        );
        // A SIP call's session carries its shortened Call-ID and the Call-ID's length.
        let mut call = sessions[0].clone();
        call.call_id_short = Some("a84b4c76…ta.com".into());
        call.call_id_len = Some(31);
        let v: serde_json::Value =
            serde_json::from_str(&render(&[call][..], Format::Json)).unwrap();
        assert_eq!(v[0]["call_id_short"], "a84b4c76…ta.com");
        assert_eq!(v[0]["call_id_len"], 31);
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
        // The first id past this build's counters (a newer module's): shown by number.
        let unknown = counters::NUM_COUNTERS;
        let s = Stats {
            counters: vec![
                Counter { id: 1, value: 5 },
                Counter {
                    id: unknown,
                    value: 6,
                },
            ],
        };
        assert_eq!(
            serde_json::to_string(&StatsJson(&s)).unwrap(),
            format!(r#"{{"packets_forwarded":5,"counter_{unknown}":6}}"#)
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
                    call_id_short: None,
                    call_id_len: None,
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
                    call_id_short: None,
                    call_id_len: None,
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
                    call_id_short: None,
                    call_id_len: None,
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
        // A SIP call's own session record belongs to the UDP service of its destination.
        let call = Flow {
            key: FlowKey::new(
                [10, 0, 1, 2],
                0x1234,
                [10, 0, 0, 100],
                5060,
                sara_core::calls::PROTO_SIP_CALL,
            ),
            ..f
        };
        let row = FlowRow::from(&call);
        assert_eq!(row.proto, "sip-call");
        assert_eq!(row.service(), "10.0.0.100:5060/udp");
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
        // A dispatcher that handed sessions back, or adopted its peer's: one more line, and the
        // Prometheus counters.
        let mut d = st.daemon.clone().unwrap();
        d["totals"]["handbacks_sent"] = 1.into();
        d["totals"]["handback_sessions_sent"] = 6.into();
        d["totals"]["records_adopted"] = 10.into();
        d["totals"]["records_adopt_skipped"] = 3.into();
        let handed = HaStatus {
            daemon: Some(d),
            ..st.clone()
        };
        assert!(
            handed.text().ends_with(
                "handback:       6 sessions handed back in 1 step-downs; 10 records of the peer's sessions adopted, 3 left as they were here\n"
            ),
            "{}",
            handed.text()
        );
        let p = ha_status_prometheus(&handed);
        assert!(
            p.contains("\nsara_failover_records_adopted_total 10\n"),
            "{p}"
        );
        assert!(
            p.contains("\nsara_failover_handback_sessions_sent_total 6\n"),
            "{p}"
        );
        assert!(!st.text().contains("handback"));
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

    // ---- Prometheus text of the daemons' status ----

    fn manager_status() -> Status {
        use crate::auth::Reject;
        use crate::control::manager::{Counters, ServerStatus};
        use crate::control::thresholds::{MoveParams, Thresholds};
        let server = |id, name: Option<&str>, state: &str| ServerStatus {
            id,
            name: name.map(String::from),
            state: state.into(),
            reason: "x".into(),
            last_heartbeat_ago_ms: None,
            flag: None,
            planned_failure: None,
            heartbeats: 0,
            lost: 0,
            late: 0,
            restarts: 0,
            clock_skew_s: None,
            load_monitor: "waiting".into(),
            load_known: false,
            last_vector_ago_ms: None,
            vectors: 0,
            components: None,
            load: None,
            forecast: None,
            err: None,
            damped: None,
        };
        let up = ServerStatus {
            last_heartbeat_ago_ms: Some(40),
            heartbeats: 120,
            lost: 2,
            restarts: 1,
            load_known: true,
            load: Some(420),
            forecast: Some(430.5),
            damped: Some(425.25),
            ..server(1, Some("rtsp \"a\"\\\nx"), "up")
        };
        let mut auth = crate::control::secure::AuthStatus {
            mode: "keys".into(),
            key_file: Some("/etc/sara/key".into()),
            key_ids: vec![1],
            sender_id: 0xFFFF_0000,
            ..Default::default()
        };
        for r in [
            Reject::BadTag,
            Reject::BadTag,
            Reject::BadTag,
            Reject::Replay,
        ] {
            auth.rejections.count(r);
        }
        auth.rejected = auth.rejections.total();
        Status {
            version: 1,
            time_unix_ms: 1_700_000_000_250,
            listen: "10.0.0.2:7400".into(),
            uptime_ms: 5000,
            counters: Counters {
                datagrams: 131,
                heartbeats: 120,
                load_vectors: 10,
                unknown_server: 1,
                pushes: 50,
                push_failures: 1,
                announce_max_us: 1500,
                ..Default::default()
            },
            last_push_error: Some("EPERM".into()),
            load_dispatcher: 100,
            load_cluster: 430,
            forecast: true,
            x: 430,
            thresholds_operator: Thresholds::default(),
            thresholds_in_force: Thresholds {
                t2: 740,
                ..Thresholds::default()
            },
            moving: MoveParams::default(),
            servers: vec![up, server(2, None, "down")],
            auth: Some(auth),
        }
    }

    #[test]
    fn manager_status_as_prometheus() {
        assert_eq!(
            status_prometheus(&manager_status()),
            r##"# HELP sara_status_written_timestamp_seconds when the daemon last wrote its status file, Unix time in seconds (the daemon rewrites it every interval: an old value means it has stopped)
# TYPE sara_status_written_timestamp_seconds gauge
sara_status_written_timestamp_seconds{daemon="manager"} 1700000000.25
# HELP sara_manager_servers servers of the manager's configuration in each state (up, draining, down, unknown: nothing heard yet)
# TYPE sara_manager_servers gauge
sara_manager_servers{state="up"} 1
sara_manager_servers{state="draining"} 0
sara_manager_servers{state="down"} 1
sara_manager_servers{state="unknown"} 0
# HELP sara_manager_server_state 1 for the server's state as the manager decided it (pushed to sara.ko), 0 for the others
# TYPE sara_manager_server_state gauge
sara_manager_server_state{server="1",name="rtsp \"a\"\\\nx",state="up"} 1
sara_manager_server_state{server="1",name="rtsp \"a\"\\\nx",state="draining"} 0
sara_manager_server_state{server="1",name="rtsp \"a\"\\\nx",state="down"} 0
sara_manager_server_state{server="1",name="rtsp \"a\"\\\nx",state="unknown"} 0
sara_manager_server_state{server="2",state="up"} 0
sara_manager_server_state{server="2",state="draining"} 0
sara_manager_server_state{server="2",state="down"} 1
sara_manager_server_state{server="2",state="unknown"} 0
# HELP sara_manager_server_load_known 1 when the server's load monitor is alive (its load is known), 0 otherwise
# TYPE sara_manager_server_load_known gauge
sara_manager_server_load_known{server="1",name="rtsp \"a\"\\\nx"} 1
sara_manager_server_load_known{server="2"} 0
# HELP sara_manager_server_load_permille the server's last measured load l, per-mille
# TYPE sara_manager_server_load_permille gauge
sara_manager_server_load_permille{server="1",name="rtsp \"a\"\\\nx"} 420
# HELP sara_manager_server_forecast_permille the server's load forecast l^ (next interval), per-mille
# TYPE sara_manager_server_forecast_permille gauge
sara_manager_server_forecast_permille{server="1",name="rtsp \"a\"\\\nx"} 430.5
# HELP sara_manager_server_damped_permille the server's damped load estimate l~, per-mille: the FORECAST column of sarectl status, pushed to sara.ko
# TYPE sara_manager_server_damped_permille gauge
sara_manager_server_damped_permille{server="1",name="rtsp \"a\"\\\nx"} 425.25
# HELP sara_manager_server_heartbeats_total heartbeats received from the server's agent
# TYPE sara_manager_server_heartbeats_total counter
sara_manager_server_heartbeats_total{server="1",name="rtsp \"a\"\\\nx"} 120
sara_manager_server_heartbeats_total{server="2"} 0
# HELP sara_manager_server_heartbeats_lost_total heartbeats of the server's agent that never came (gaps in their sequence numbers)
# TYPE sara_manager_server_heartbeats_lost_total counter
sara_manager_server_heartbeats_lost_total{server="1",name="rtsp \"a\"\\\nx"} 2
sara_manager_server_heartbeats_lost_total{server="2"} 0
# HELP sara_manager_server_heartbeat_age_seconds seconds since the server's last heartbeat, when the status was written
# TYPE sara_manager_server_heartbeat_age_seconds gauge
sara_manager_server_heartbeat_age_seconds{server="1",name="rtsp \"a\"\\\nx"} 0.04
# HELP sara_manager_server_agent_restarts_total restarts of the server's agent seen by the manager
# TYPE sara_manager_server_agent_restarts_total counter
sara_manager_server_agent_restarts_total{server="1",name="rtsp \"a\"\\\nx"} 1
sara_manager_server_agent_restarts_total{server="2"} 0
# HELP sara_manager_datagrams_total datagrams received on the manager's port
# TYPE sara_manager_datagrams_total counter
sara_manager_datagrams_total 131
# HELP sara_manager_heartbeats_total heartbeats taken into account, all servers (late and duplicate ones included)
# TYPE sara_manager_heartbeats_total counter
sara_manager_heartbeats_total 120
# HELP sara_manager_load_vectors_total load vectors taken into account, all servers
# TYPE sara_manager_load_vectors_total counter
sara_manager_load_vectors_total 10
# HELP sara_manager_garbage_total authenticated datagrams that are not monitoring messages (ignored)
# TYPE sara_manager_garbage_total counter
sara_manager_garbage_total 0
# HELP sara_manager_unknown_server_total messages from server ids not in the manager's configuration (ignored)
# TYPE sara_manager_unknown_server_total counter
sara_manager_unknown_server_total 1
# HELP sara_manager_pushes_total pushes of states, loads and thresholds to sara.ko
# TYPE sara_manager_pushes_total counter
sara_manager_pushes_total 50
# HELP sara_manager_push_failures_total pushes that sara.ko refused or that could not be sent
# TYPE sara_manager_push_failures_total counter
sara_manager_push_failures_total 1
# HELP sara_manager_announce_datagrams_total gateway report datagrams taken
# TYPE sara_manager_announce_datagrams_total counter
sara_manager_announce_datagrams_total 0
# HELP sara_manager_announce_lost_total gateway report datagrams lost (gaps in their sequence numbers)
# TYPE sara_manager_announce_lost_total counter
sara_manager_announce_lost_total 0
# HELP sara_manager_announce_entries_total flows reported in the gateway reports
# TYPE sara_manager_announce_entries_total counter
sara_manager_announce_entries_total 0
# HELP sara_manager_announce_completed_total reported flows that sara.ko completed
# TYPE sara_manager_announce_completed_total counter
sara_manager_announce_completed_total 0
# HELP sara_manager_announce_rejected_total reported flows that sara.ko refused (no announced flow waiting for them)
# TYPE sara_manager_announce_rejected_total counter
sara_manager_announce_rejected_total 0
# HELP sara_manager_announce_failed_total reported flows that could not be sent to sara.ko
# TYPE sara_manager_announce_failed_total counter
sara_manager_announce_failed_total 0
# HELP sara_manager_announce_max_latency_seconds longest time from receiving a gateway report to sara.ko's answer, since the manager started
# TYPE sara_manager_announce_max_latency_seconds gauge
sara_manager_announce_max_latency_seconds 0.0015
# HELP sara_manager_last_push_failed 1 when the last push to sara.ko failed (sarectl status shows the error), 0 otherwise
# TYPE sara_manager_last_push_failed gauge
sara_manager_last_push_failed 1
# HELP sara_manager_dispatcher_load_permille the dispatcher's own load l_d, per-mille
# TYPE sara_manager_dispatcher_load_permille gauge
sara_manager_dispatcher_load_permille 100
# HELP sara_manager_cluster_load_permille the cluster's load l_c (from the forecasts when they are known), per-mille
# TYPE sara_manager_cluster_load_permille gauge
sara_manager_cluster_load_permille 430
# HELP sara_manager_admission_load_permille x = max(l_d, l_c), per-mille: what admission control compares with the thresholds
# TYPE sara_manager_admission_load_permille gauge
sara_manager_admission_load_permille 430
# HELP sara_manager_threshold_permille the admission thresholds in force (T2 and T3 move under overload), per-mille: new sessions refused from t1 (all above t2), established ones from t3, everything at c
# TYPE sara_manager_threshold_permille gauge
sara_manager_threshold_permille{threshold="t1"} 600
sara_manager_threshold_permille{threshold="t2"} 740
sara_manager_threshold_permille{threshold="t3"} 900
sara_manager_threshold_permille{threshold="c"} 1000
# HELP sara_auth_insecure 1 when the daemon runs with --insecure (control datagrams neither sealed nor verified), 0 with a key file
# TYPE sara_auth_insecure gauge
sara_auth_insecure{daemon="manager"} 0
# HELP sara_auth_refused_total control datagrams the daemon refused, by reason (malformed, unknown_key, bad_tag, unknown_sender, wrong_source, replay, too_old, too_many_senders; see sarectl key --help)
# TYPE sara_auth_refused_total counter
sara_auth_refused_total{daemon="manager",reason="malformed"} 0
sara_auth_refused_total{daemon="manager",reason="unknown_key"} 0
sara_auth_refused_total{daemon="manager",reason="bad_tag"} 3
sara_auth_refused_total{daemon="manager",reason="unknown_sender"} 0
sara_auth_refused_total{daemon="manager",reason="wrong_source"} 0
sara_auth_refused_total{daemon="manager",reason="replay"} 1
sara_auth_refused_total{daemon="manager",reason="too_old"} 0
sara_auth_refused_total{daemon="manager",reason="too_many_senders"} 0
"##
        );
    }

    #[test]
    fn every_refusal_reason_is_exported_even_at_zero() {
        use crate::auth::Reject;
        // An insecure manager that refused nothing, and one whose status file predates the keys.
        let mut st = manager_status();
        st.auth = Some(crate::control::secure::AuthStatus {
            mode: "insecure".into(),
            ..Default::default()
        });
        let p = status_prometheus(&st);
        assert!(
            p.contains("\nsara_auth_insecure{daemon=\"manager\"} 1\n"),
            "{p}"
        );
        let refused: Vec<&str> = p
            .lines()
            .filter(|l| l.starts_with("sara_auth_refused_total{"))
            .collect();
        let want: Vec<String> = Reject::ALL
            .iter()
            .map(|r| {
                format!(
                    "sara_auth_refused_total{{daemon=\"manager\",reason=\"{}\"}} 0",
                    r.name()
                )
            })
            .collect();
        assert_eq!(refused, want);
        st.auth = None;
        assert!(!status_prometheus(&st).contains("sara_auth_"));
        // A state newer than this sarectl is exported too, besides the four known ones.
        st.servers[1].state = "quarantined".into();
        let p = status_prometheus(&st);
        assert!(
            p.contains("\nsara_manager_servers{state=\"quarantined\"} 1\n"),
            "{p}"
        );
        assert!(
            p.contains("\nsara_manager_servers{state=\"down\"} 0\n"),
            "{p}"
        );
        assert!(
            p.contains("\nsara_manager_server_state{server=\"2\",state=\"quarantined\"} 1\n"),
            "{p}"
        );
        assert!(
            p.contains("\nsara_manager_server_state{server=\"2\",state=\"down\"} 0\n"),
            "{p}"
        );
        check_exposition(&p);
    }

    #[test]
    fn prometheus_labels_and_numbers_are_escaped_and_spelt_per_the_format() {
        assert_eq!(prom_escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(prom_escape_label("line\nnext"), "line\\nnext");
        assert_eq!(prom_escape_label("plain é"), "plain é");
        let mut p = Prom::default();
        p.sample("m", &[("a", "x\"y"), ("b", "\\")], "1");
        p.sample("m", &[], "2");
        assert_eq!(p.0, "m{a=\"x\\\"y\",b=\"\\\\\"} 1\nm 2\n");
        assert_eq!(prom_scaled(0, 3), "0");
        assert_eq!(prom_scaled(1500, 3), "1.5");
        assert_eq!(prom_scaled(40, 3), "0.04");
        assert_eq!(prom_scaled(1_700_000_000_000, 3), "1700000000");
        assert_eq!(prom_scaled(7, 6), "0.000007");
        assert_eq!(prom_scaled(u64::MAX, 3), "18446744073709551.615");
        assert_eq!(prom_f64(430.5), "430.5");
        assert_eq!(prom_f64(400.0), "400");
        assert_eq!(prom_f64(1e-7), "0.0000001");
        assert_eq!(prom_f64(f64::NAN), "NaN");
        assert_eq!(prom_f64(f64::INFINITY), "+Inf");
        assert_eq!(prom_f64(f64::NEG_INFINITY), "-Inf");
    }

    fn ha_daemon() -> Value {
        serde_json::json!({
            "id": 1, "priority": 200, "preempt": true, "role": "active",
            "peer": {"addr": "10.0.0.3:7410", "id": 2, "role": "backup", "priority": 100,
                     "heard_ms_ago": 12, "alive": true},
            "epoch": 3, "seq": 40, "synced": true, "sessions_known": 0,
            "lag": {"records_unread": 0, "batches_unacked": 1, "ack_age_ms": 7},
            "last_takeover": {"at_unix_ms": 1700000000000u64, "reason": "peer silent"},
            "totals": {"batches_sent": 10, "batches_received": 0, "batches_lost": 0,
                       "records_sent": 25, "records_applied": 0, "records_failed": 0,
                       "resyncs_requested": 0, "resyncs_sent": 1, "takeovers": 1,
                       "stepdowns": 0, "garbage": 0, "late_ticks": 2,
                       "dropped_for_test": 0, "send_errors": 0},
            "auth": {"mode": "keys", "key_file": "/etc/sara/key", "key_ids": [2, 1],
                     "sender_id": 1, "accept_from": [],
                     "rejections": {"wrong_source": 5}, "rejected": 5},
            "written_unix_ms": 1700000001000u64,
        })
    }

    #[test]
    fn ha_status_as_prometheus() {
        use crate::kernel::HaRole;
        let st = HaStatus {
            kernel: Some(HaState {
                role: HaRole::Active,
                head: 42,
                capacity: 4096,
            }),
            daemon: Some(ha_daemon()),
            daemon_age_ms: Some(100),
        };
        assert_eq!(
            ha_status_prometheus(&st),
            r##"# HELP sara_status_written_timestamp_seconds when the daemon last wrote its status file, Unix time in seconds (the daemon rewrites it every interval: an old value means it has stopped)
# TYPE sara_status_written_timestamp_seconds gauge
sara_status_written_timestamp_seconds{daemon="ha"} 1700000001
# HELP sara_failover_role 1 for the failover daemon's role (active: holds the VIP and forwards; backup), 0 for the other
# TYPE sara_failover_role gauge
sara_failover_role{role="active"} 1
sara_failover_role{role="backup"} 0
# HELP sara_failover_kernel_role 1 for sara.ko's role as sarectl read it (standalone: no failover), 0 for the others
# TYPE sara_failover_kernel_role gauge
sara_failover_kernel_role{role="standalone"} 0
sara_failover_kernel_role{role="active"} 1
sara_failover_kernel_role{role="backup"} 0
# HELP sara_failover_synced 1 when this dispatcher holds every session of the active one (always 1 on the active), 0 while it resynchronises: a takeover now would lose sessions
# TYPE sara_failover_synced gauge
sara_failover_synced 1
# HELP sara_failover_sessions_known sessions replicated from the active dispatcher that this backup holds
# TYPE sara_failover_sessions_known gauge
sara_failover_sessions_known 0
# HELP sara_failover_peer_alive 1 when the peer's heartbeats are coming, 0 when it is silent (failed?) or was never heard
# TYPE sara_failover_peer_alive gauge
sara_failover_peer_alive 1
# HELP sara_failover_peer_heartbeat_age_seconds seconds since the peer's last datagram, when the status was written
# TYPE sara_failover_peer_heartbeat_age_seconds gauge
sara_failover_peer_heartbeat_age_seconds 0.012
# HELP sara_failover_records_unread records of sara.ko's replication ring not read yet (active)
# TYPE sara_failover_records_unread gauge
sara_failover_records_unread 0
# HELP sara_failover_batches_unacked replication batches the backup has not acknowledged yet (active)
# TYPE sara_failover_batches_unacked gauge
sara_failover_batches_unacked 1
# HELP sara_failover_ack_age_seconds seconds since the backup's last acknowledgement (active)
# TYPE sara_failover_ack_age_seconds gauge
sara_failover_ack_age_seconds 0.007
# HELP sara_failover_last_takeover_timestamp_seconds when this dispatcher last took the VIP, Unix time in seconds
# TYPE sara_failover_last_takeover_timestamp_seconds gauge
sara_failover_last_takeover_timestamp_seconds 1700000000
# HELP sara_failover_takeovers_total times this dispatcher took the VIP (became active)
# TYPE sara_failover_takeovers_total counter
sara_failover_takeovers_total 1
# HELP sara_failover_stepdowns_total times this dispatcher gave the VIP up (became backup)
# TYPE sara_failover_stepdowns_total counter
sara_failover_stepdowns_total 0
# HELP sara_failover_late_ticks_total heartbeat ticks that came over two periods late (the daemon was not run): no takeover is decided on them
# TYPE sara_failover_late_ticks_total counter
sara_failover_late_ticks_total 2
# HELP sara_failover_batches_sent_total replication batches (with records) sent to the peer
# TYPE sara_failover_batches_sent_total counter
sara_failover_batches_sent_total 10
# HELP sara_failover_batches_received_total replication batches (with records) taken from the peer
# TYPE sara_failover_batches_received_total counter
sara_failover_batches_received_total 0
# HELP sara_failover_batches_lost_total replication batches from the peer that never came (each makes the backup resynchronise)
# TYPE sara_failover_batches_lost_total counter
sara_failover_batches_lost_total 0
# HELP sara_failover_records_sent_total replication records sent to the peer
# TYPE sara_failover_records_sent_total counter
sara_failover_records_sent_total 25
# HELP sara_failover_records_applied_total replication records from the peer installed in sara.ko
# TYPE sara_failover_records_applied_total counter
sara_failover_records_applied_total 0
# HELP sara_failover_records_failed_total replication records from the peer that sara.ko could not install
# TYPE sara_failover_records_failed_total counter
sara_failover_records_failed_total 0
# HELP sara_failover_resyncs_requested_total full copies of the sessions asked of the peer
# TYPE sara_failover_resyncs_requested_total counter
sara_failover_resyncs_requested_total 0
# HELP sara_failover_resyncs_sent_total full copies of the sessions sent to the peer
# TYPE sara_failover_resyncs_sent_total counter
sara_failover_resyncs_sent_total 1
# HELP sara_failover_garbage_total authenticated datagrams from the peer that are not failover messages (ignored)
# TYPE sara_failover_garbage_total counter
sara_failover_garbage_total 0
# HELP sara_failover_send_errors_total datagrams that could not be sent to the peer
# TYPE sara_failover_send_errors_total counter
sara_failover_send_errors_total 0
# HELP sara_auth_insecure 1 when the daemon runs with --insecure (control datagrams neither sealed nor verified), 0 with a key file
# TYPE sara_auth_insecure gauge
sara_auth_insecure{daemon="ha"} 0
# HELP sara_auth_refused_total control datagrams the daemon refused, by reason (malformed, unknown_key, bad_tag, unknown_sender, wrong_source, replay, too_old, too_many_senders; see sarectl key --help)
# TYPE sara_auth_refused_total counter
sara_auth_refused_total{daemon="ha",reason="malformed"} 0
sara_auth_refused_total{daemon="ha",reason="unknown_key"} 0
sara_auth_refused_total{daemon="ha",reason="bad_tag"} 0
sara_auth_refused_total{daemon="ha",reason="unknown_sender"} 0
sara_auth_refused_total{daemon="ha",reason="wrong_source"} 5
sara_auth_refused_total{daemon="ha",reason="replay"} 0
sara_auth_refused_total{daemon="ha",reason="too_old"} 0
sara_auth_refused_total{daemon="ha",reason="too_many_senders"} 0
"##
        );
    }

    #[test]
    fn ha_prometheus_leaves_out_what_the_file_does_not_hold() {
        // Nothing at all: no sample (and no HELP without samples).
        let none = HaStatus {
            kernel: None,
            daemon: None,
            daemon_age_ms: None,
        };
        assert_eq!(ha_status_prometheus(&none), "");
        // sara.ko only (no daemon): its role, nothing else.
        let kernel_only = HaStatus {
            kernel: Some(HaState {
                role: crate::kernel::HaRole::Unknown(9),
                head: 0,
                capacity: 0,
            }),
            ..none.clone()
        };
        let p = ha_status_prometheus(&kernel_only);
        assert!(p.ends_with("sara_failover_kernel_role{role=\"backup\"} 0\nsara_failover_kernel_role{role=\"?\"} 1\n"), "{p}");
        assert_eq!(p.lines().filter(|l| !l.starts_with('#')).count(), 4, "{p}");
        // A backup, never having heard its peer, from a daemon older than late_ticks and keys.
        let d = serde_json::json!({
            "role": "backup", "peer": null, "synced": false, "sessions_known": 7,
            "lag": {"last_batch_ms_ago": null, "synced": false}, "last_takeover": null,
            "totals": {"batches_received": 3}, "written_unix_ms": 1700000001500u64,
        });
        let p = ha_status_prometheus(&HaStatus {
            daemon: Some(d),
            ..none
        });
        let samples: Vec<&str> = p.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "sara_status_written_timestamp_seconds{daemon=\"ha\"} 1700000001.5",
                "sara_failover_role{role=\"active\"} 0",
                "sara_failover_role{role=\"backup\"} 1",
                "sara_failover_synced 0",
                "sara_failover_sessions_known 7",
                "sara_failover_peer_alive 0",
                "sara_failover_batches_received_total 3",
            ]
        );
        check_exposition(&p);
    }

    /// Checks a text exposition against the format: every family has one `# HELP` then one `# TYPE`
    /// line before its samples, all its samples together; names and label names are valid, label
    /// values use only the format's escapes, values are numbers; counters end with `_total` and
    /// gauges do not; no series twice. Returns each family's HELP and TYPE lines.
    fn check_exposition(text: &str) -> Vec<(String, String)> {
        let name_ok = |n: &str| {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        assert!(text.is_empty() || text.ends_with('\n'));
        let mut families: Vec<(String, String)> = Vec::new();
        let mut series = std::collections::BTreeSet::new();
        let mut current: Option<(String, String)> = None;
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(name_ok(&name), "{line}");
                let ty = lines.next().expect("TYPE after HELP");
                let kind = ty
                    .strip_prefix(&format!("# TYPE {name} "))
                    .unwrap_or_else(|| panic!("{ty} after {line}"));
                assert!(kind == "counter" || kind == "gauge", "{ty}");
                assert_eq!(name.ends_with("_total"), kind == "counter", "{name} {kind}");
                assert!(
                    families
                        .iter()
                        .all(|(h, _)| !h.starts_with(&format!("# HELP {name} "))),
                    "{name} twice"
                );
                families.push((line.to_string(), ty.to_string()));
                current = Some((name, kind.to_string()));
                assert!(
                    lines.peek().is_some_and(|l| !l.starts_with('#')),
                    "{line}: no sample"
                );
                continue;
            }
            assert!(!line.starts_with('#'), "{line}");
            let (name, _) = current.as_ref().expect("a sample before any HELP");
            let (series_id, value) = line.rsplit_once(' ').unwrap();
            // A plain decimal (Rust would also parse "inf" or "1e3": not what is written here).
            let decimal = value.parse::<f64>().is_ok()
                && value
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
            assert!(
                decimal || ["NaN", "+Inf", "-Inf"].contains(&value),
                "{line}"
            );
            let (metric, labels) = match series_id.split_once('{') {
                Some((m, l)) => (m, l.strip_suffix('}').expect("closing brace")),
                None => (series_id, ""),
            };
            assert_eq!(metric, name, "{line}: not in its family");
            // The labels: name="value" pairs, comma-separated, with only \\ \" \n escapes.
            let mut rest = labels;
            while !rest.is_empty() {
                let (lname, after) = rest.split_once("=\"").expect("label=\"");
                assert!(name_ok(lname), "{line}: label {lname}");
                let mut chars = after.char_indices();
                let end = loop {
                    match chars.next().expect("closing quote") {
                        (_, '\\') => {
                            let (_, e) = chars.next().unwrap();
                            assert!(matches!(e, '\\' | '"' | 'n'), "{line}: escape \\{e}");
                        }
                        (i, '"') => break i,
                        (_, '\n') => panic!("{line}: raw newline"),
                        _ => {}
                    }
                };
                rest = &after[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
            assert!(series.insert(series_id.to_string()), "{line}: twice");
        }
        families
    }

    #[test]
    fn every_export_is_valid_and_the_shared_families_agree() {
        use sara_core::counters::NUM_COUNTERS;
        check_exposition(&stats_prometheus(&Stats {
            counters: (0..NUM_COUNTERS)
                .map(|id| Counter { id, value: 1 })
                .collect(),
        }));
        let manager = check_exposition(&status_prometheus(&manager_status()));
        let ha = check_exposition(&ha_status_prometheus(&HaStatus {
            kernel: None,
            daemon: Some(ha_daemon()),
            daemon_age_ms: None,
        }));
        // The families both daemons write have the same HELP and TYPE (node_exporter's textfile
        // collector refuses two files that disagree), and no other name is shared.
        let name = |f: &(String, String)| f.1.split(' ').nth(2).unwrap().to_string();
        let shared: Vec<&(String, String)> = manager
            .iter()
            .filter(|m| ha.iter().any(|h| name(h) == name(m)))
            .collect();
        let names: Vec<String> = shared.iter().map(|f| name(f)).collect();
        assert_eq!(
            names,
            [
                "sara_status_written_timestamp_seconds",
                "sara_auth_insecure",
                "sara_auth_refused_total"
            ]
        );
        for m in shared {
            assert!(ha.contains(m), "{m:?}");
        }
        // No daemon metric takes a name of sara.ko's counters (sarectl stats --prometheus).
        let kernel = check_exposition(&stats_prometheus(&Stats {
            counters: (0..NUM_COUNTERS)
                .map(|id| Counter { id, value: 1 })
                .collect(),
        }));
        for k in &kernel {
            assert!(
                !manager.iter().chain(&ha).any(|d| name(d) == name(k)),
                "{k:?}"
            );
        }
    }
}
