//! `sarectl`: the operator's tool for SARA. Argument definitions and dispatch; the work is done in
//! the `sara_ctl` library (`cmd`, `cli`, `kernel`, `output`).
//!
//! To add a subcommand: add a variant to [`Command`] (with an `after_help` example), and an arm to
//! [`run`] that returns a [`Done`] or an [`Error`] (whose `exit_code()` is the process status).

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{value_parser, Args, Parser, Subcommand};
use sara_core::flow::FlowKey;
use sara_core::genl;
use sara_ctl::cli::{self, Endpoint};
use sara_ctl::cmd::{self, Done, RawAttr, RawRequest};
use sara_ctl::error::{Error, EXIT_STATUS_HELP};
use sara_ctl::kernel::{ServerAdd, ServiceAdd, ServiceKey, MAX_SERVER_ID, MAX_WEIGHT};
use sara_ctl::output::Format;

const ABOUT: &str = "Configure and inspect SARA, the session-aware load balancer (sara.ko)";

const LONG_ABOUT: &str = "\
Configure and inspect SARA, the session-aware load balancer (kernel module sara.ko).

SARA forwards the packets of a virtual service (a virtual IP address, a port and a protocol) to
one of its servers, keeping every flow of a session (for example a SIP call and its RTP media) on
the same server. sarectl talks to sara.ko over generic netlink (family \"sara\"), in the network
namespace it runs in. Changing the configuration needs CAP_NET_ADMIN (run as root); reading it
does not.";

fn top_after_help() -> String {
    format!(
        "\
Examples:
  sarectl server add 1 --ip 10.0.0.11 --mac 52:54:00:00:00:11 --dev eth1
  sarectl server add 2 --ip 10.0.0.12 --mac 52:54:00:00:00:12 --dev eth1
  sarectl service add 192.0.2.10:5060/udp --sig sip
  sarectl apply -f /etc/sara/cluster.json      # the whole configuration from one file
  sarectl show                                 # the running configuration in that format
  sarectl service list
  sarectl --json server list
  sarectl sessions                             # who is connected, to which server
  sarectl flows --session 17
  sarectl stats --prometheus

Output: aligned tables for people; --json prints JSON for scripts (stable field names, numbers as
numbers, addresses as strings). Errors go to standard error.

{EXIT_STATUS_HELP}"
    )
}

/// Command line of `sarectl`.
#[derive(Parser, Debug)]
#[command(name = "sarectl", version, about = ABOUT, long_about = LONG_ABOUT, after_help = top_after_help())]
struct Cli {
    /// JSON output for scripts: lists and counters as JSON, changes silent on success (accepted
    /// before or after the subcommand)
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

/// The subcommands. New ones go here.
#[derive(Subcommand, Debug)]
enum Command {
    /// Virtual services: the VIP:PORT/PROTO that SARA balances
    #[command(
        subcommand,
        after_help = "\
Example:
  sarectl service add 192.0.2.10:554/tcp --sig rtsp --timeout 60
  sarectl service list
  sarectl service del 192.0.2.10:554/tcp"
    )]
    Service(ServiceCmd),

    /// Servers: the real machines behind the virtual services
    #[command(
        subcommand,
        after_help = "\
Example:
  sarectl server add 1 --ip 10.0.0.11 --mac 52:54:00:00:00:11 --dev eth1
  sarectl server list
  sarectl server del 1"
    )]
    Server(ServerCmd),

    /// Replace sara.ko's services and servers with those of a cluster file, atomically
    #[command(after_help = APPLY_AFTER_HELP)]
    Apply(ApplyArgs),

    /// Print sara.ko's running services and servers as a cluster file (JSON), for `sarectl apply`
    #[command(after_help = SHOW_AFTER_HELP)]
    Show,

    /// Show SARA's counters for this network namespace: packets, sessions, flows, inspection
    #[command(after_help = "\
Running totals since the namespace's first service (packets_*, dropped_*, sessions_created, ...)
and gauges, values now (flows, sessions, flows_new, ..., table_capacity: how many flows the
table can hold, 0 until the first service is added).

Examples:
  sarectl stats
  sarectl stats --json
  sarectl stats --prometheus > /var/lib/node_exporter/sara.prom")]
    Stats(StatsArgs),

    /// List the flows SARA is tracking: signalling flows and the flows they announced
    #[command(after_help = FLOWS_AFTER_HELP)]
    Flows(FlowsArgs),

    /// List the sessions SARA is tracking: one signalling flow plus the flows it announced
    #[command(after_help = SESSIONS_AFTER_HELP)]
    Sessions(SessionsArgs),

    /// Report the full identity of an announced flow (a gateway report), completing its unknown port
    #[command(after_help = ANNOUNCE_AFTER_HELP)]
    Announce(AnnounceArgs),

    /// Run the monitoring agent on a server: load vectors and heartbeats to the manager
    #[command(after_help = "\
Examples:
  sarectl agent --manager 10.0.0.2:7400 --id 1 --check tcp:127.0.0.1:554 --key-file /etc/sara/key
  sarectl agent drain --at +300      # planned maintenance in 5 minutes: stop new sessions now

Every datagram is sealed with the cluster key of --key-file (see 'sarectl key --help'); without it
the agent does not start, unless given --insecure.")]
    Agent(sara_ctl::control::agent::AgentArgs),

    /// Run the control-plane manager on the dispatcher: failure detection, forecasts, thresholds,
    /// pushed to sara.ko every interval
    #[command(after_help = "\
Example:
  sarectl manager --listen 10.0.0.2:7400 --config /etc/sara/cluster.json --key-file /etc/sara/key

Only datagrams sealed with a key of --key-file (or of the cluster file's \"key_file\") are taken, a
server's only from its own sender id; refusals are counted in 'sarectl status' (see 'sarectl key
--help'). Without a key file the manager does not start, unless given --insecure.")]
    Manager(sara_ctl::control::manager::ManagerArgs),

    /// Run the gateway's signalling inspection: servers' replies (RTSP, SIP/SDP, FTP) give the
    /// completed identity of announced flows, reported to the manager on the active dispatcher
    Gateway(sara_ctl::gateway::GatewayArgs),

    /// Dispatcher failover: `ha run` on each of two dispatchers (heartbeats, session replication,
    /// takeover of the VIP); `ha status` shows role, peer, replication lag and last takeover
    #[command(
        subcommand,
        after_help = "\
Examples:
  sarectl ha run --id 1 --priority 200 --preempt --listen 10.0.0.2:7410 --peer 10.0.0.3:7410 \\
      --vip 10.0.0.100 --dev eth0 --key-file /etc/sara/key
  sarectl ha status"
    )]
    Ha(sara_ctl::ha::HaCmd),

    /// Keys that authenticate the daemons' control datagrams: make a key file, check one
    #[command(subcommand, after_help = KEY_AFTER_HELP)]
    Key(KeyCmd),

    /// Show the manager's view of the cluster: servers, loads, forecasts, thresholds
    #[command(after_help = STATUS_AFTER_HELP)]
    Status(StatusArgs),

    /// Tools for testing sara.ko itself (not for operators)
    #[command(
        subcommand,
        hide = true,
        after_help = "\
Example:
  sarectl debug send-raw --cmd 1 --attr A_PORT:5000 --attr A_PROTO:06"
    )]
    Debug(DebugCmd),
}

const STATUS_AFTER_HELP: &str = "\
Reads the status file that `sarectl manager` rewrites every interval (it does not ask the manager):
the manager must be running with the same --status-file on this machine.

With --prometheus, the Prometheus text format (loads and thresholds per-mille, 1000 = full, as in
the cluster file; times in seconds). Per server (labels server=ID, and name= when the cluster file
gives one):
  sara_manager_server_state{state=up|draining|down|unknown}   1 for its state, 0 for the others
  sara_manager_server_load_known                               1 while its load monitor is alive
  sara_manager_server_load_permille, _forecast_permille, _damped_permille
  sara_manager_server_heartbeats_total, _heartbeats_lost_total, _agent_restarts_total
  sara_manager_server_heartbeat_age_seconds
For the manager:
  sara_manager_servers{state=...}                              how many servers are in each state
  sara_manager_dispatcher_load_permille, _cluster_load_permille, _admission_load_permille
  sara_manager_threshold_permille{threshold=t1|t2|t3|c}        the thresholds in force
  sara_manager_heartbeats_total, _load_vectors_total, _datagrams_total, _garbage_total,
  _unknown_server_total, _pushes_total, _push_failures_total, sara_manager_last_push_failed
  sara_manager_announce_*_total (gateway reports), sara_manager_announce_max_latency_seconds
  sara_auth_refused_total{daemon=\"manager\",reason=...}      refused datagrams, every reason
  sara_auth_insecure{daemon=\"manager\"}                      1 when run with --insecure
  sara_status_written_timestamp_seconds{daemon=\"manager\"}   when the file was written
The same families from `sarectl ha status --prometheus` have daemon=\"ha\", so both files can sit
in one textfile directory. Write the file atomically (node_exporter may read it at any moment):
  f=/var/lib/node_exporter/textfile/sara-manager.prom
  sarectl status --prometheus > $f.$$ && mv $f.$$ $f
and alert, for example, on rate(sara_auth_refused_total[5m]) > 0 (someone sends forged or replayed
datagrams, or a node has another key), sara_manager_servers{state=\"down\"} > 0, or
time() - sara_status_written_timestamp_seconds > 30 (the manager stopped).

Examples:
  sarectl status
  sarectl status --json --status-file /run/sara/manager.json
  sarectl status --prometheus";

const KEY_AFTER_HELP: &str = "\
The SARA daemons talk over UDP: each agent sends heartbeats and loads to the manager, the gateway
sends flow reports to the manager, the two dispatchers' `sarectl ha run` exchange heartbeats and
session replication. Each datagram carries a tag made with a key that the whole cluster shares;
a daemon drops (and counts, in its status) every datagram whose tag does not verify, that it
already took (a replay), or that comes from an address it does not expect. Nothing is encrypted:
the keys stop strangers from changing what the balancer believes, not from reading it.

One key file serves the whole cluster. Make it once, copy it unchanged to every node (servers,
dispatchers, gateway), readable by root only (mode 0600: a file that its group or others may
read or write is refused), and start every daemon with --key-file FILE (or \"key_file\" in the
manager's cluster file). A daemon without --key-file refuses to start unless given --insecure,
which turns authentication off (as before keys existed).

The daemons look at the file every second and take a changed file at once (a bad file is logged
and the old keys kept), so keys rotate without a restart. A file holds one or two keys; the first
seals what the node sends, both are accepted. To rotate, finish each step on every node before
starting the next:
  1. add the new key as the second line:
       sarectl key generate /root/next.key --id 2
       grep '^sara-key' /root/next.key >> /etc/sara/key     (copy that line to every node)
  2. make the new key the first line (edit the file; it stays mode 0600);
  3. remove the old key's line.
'sarectl key show FILE' tells which ids a file holds, which one seals, and whether its
permissions are right.

Examples:
  sarectl key generate /etc/sara/key
  sarectl key show /etc/sara/key
  sarectl agent --manager 10.0.0.2:7400 --id 1 --key-file /etc/sara/key";

const APPLY_AFTER_HELP: &str = "\
Checks the whole file, then sends it to sara.ko as one request (CMD_CONFIG_SET). sara.ko checks
it again and swaps its configuration in one step: afterwards it runs the new configuration or, if
anything is refused, still the old one, never a mix. Services and servers missing from the file are
removed; those that stay (same service, or same server id, ip, mac and dev) keep their counters
and the state the manager pushed.

The file (JSON; example in sara_ctl/examples/cluster.json):
  {
    \"services\": [
      {\"vip\": \"192.0.2.10\", \"port\": 554, \"protocol\": \"tcp\", \"sig\": \"rtsp\",
       \"policy\": \"forecast\", \"timeout\": 60, \"down_action\": \"redispatch\"}
    ],
    \"servers\": [
      {\"id\": 1, \"name\": \"rtsp-a\", \"ip\": \"10.0.0.11\", \"mac\": \"52:54:00:00:00:11\",
       \"dev\": \"eth1\", \"weight\": 1}
    ],
    \"thresholds\": {\"t1\": 600, \"t2\": 750, \"t3\": 900, \"c\": 1000}, \"alpha\": 0.8
  }
A service needs vip, port and protocol (tcp or udp); sig, policy, timeout and down_action take
sara.ko's defaults when absent (see sarectl service add --help). A server needs id, ip, mac and dev;
weight is optional, name is for people. The tuning (thresholds, alpha, window, heartbeat_ms,
delta_ms, misses, ...) is not sent to sara.ko: sarectl manager --config reads it from the same file.

Examples:
  sarectl apply -f /etc/sara/cluster.json
  sarectl apply -f cluster.json --dry-run      # check the file, print what would be sent
  sarectl show > saved.json && sarectl apply -f saved.json

Exit status 0 when applied, 1 when sara.ko refused it (its reason is printed, and the file's
service or server it objects to), 2 when the file cannot be read or is wrong: the message names
the line, column and field at fault (cluster.json:12:17: servers[1].mac: ...).";

const SHOW_AFTER_HELP: &str = "\
Prints the services and servers sara.ko holds in the format of sarectl apply, always as JSON
(--json is accepted and changes nothing): sarectl apply -f on the output changes nothing. Counters,
server states and the manager's tuning are not part of it.

Examples:
  sarectl show
  sarectl show > /etc/sara/cluster.json
  sarectl apply -f <(sarectl show)";

const FLOWS_AFTER_HELP: &str = "\
A session is a signalling flow (RTSP, SIP, FTP control, or any flow of a service without
inspection) plus the flows its signalling announced (RTP/RTCP media, FTP data), all sent to one
server. Each flow has a STATUS (new: just created; established: packets seen since;
inactive: idle longer than its timeout, removed once idle twice as long) and an IDENTITY
(signalling; announced: expected but not seen yet; secondary: announced and seen). An announced
flow whose port is not known yet shows that port as * (0 in JSON, named by \"wildcard\").
\"(ended)\" marks a flow whose session is over (FIN/RST, BYE, TEARDOWN) and that lingers until
purged. IDLE is the time since the flow's last packet.

--server and --session are applied by sara.ko, --status and --identity by sarectl.

With --json, an array of objects:
  {\"src\": \"10.0.1.2\", \"sport\": 40000, \"dst\": \"10.0.0.100\", \"dport\": 554,
   \"proto\": \"tcp\", \"server\": 1, \"session\": 17, \"status\": \"established\",
   \"identity\": \"signalling\", \"wildcard\": \"none\", \"ended\": false, \"idle_ms\": 123,
   \"timeout_ms\": 30000, \"packets\": 12, \"bytes\": 3456}
wildcard is none, src_port, dst_port or both_ports; an unknown port is 0.

Examples:
  sarectl flows
  sarectl flows --server 1 --status established
  sarectl flows --session 17 --json
  sarectl flows --identity announced      # flows still waiting for their first packet";

const SESSIONS_AFTER_HELP: &str = "\
One row per session, from the flow table: the session's server, its CLIENT and SERVICE (the
signalling flow's source, and its destination with the protocol), the signalling flow's STATUS,
how many FLOWS the session has (the signalling flow included), how many of them are ANNOUNCED
(expected, not seen yet) and SECONDARY (announced and seen), and the IDLE time of its most recently
used flow. A session whose signalling flow is not in the table (it was purged while the table was
read) shows - for CLIENT, SERVICE and STATUS (null in JSON).

On a UDP SIP service each call is a session. Its CALL-ID is shortened from what SARA's Call-ID
index keeps: the first 8 and last 6 bytes around …, then the Call-ID's length in bytes
(a84b4c76…ta.com (31)); a Call-ID of at most 14 bytes is shown whole. A session that is no call,
or a call that has ended (BYE) and only lingers, shows -. Reading the index needs CAP_NET_ADMIN
(its dump carries the index's hash key): without it the sessions are listed without Call-IDs, and
a note says so on stderr.

--call-id lists only the session of that call. Give the whole Call-ID, e.g. from a SIP trace: it is
matched exactly (the keyed hash of the session's client address and the Call-ID, its length and
edge bytes, as sara.ko compares them), so the shortened form shown here is not accepted. No call
with that Call-ID: an empty list, exit status 0 (as --server).

With --json, an array of objects:
  {\"session\": 17, \"server\": 1, \"client\": \"10.0.1.2:40000\",
   \"service\": \"10.0.0.100:554/tcp\", \"status\": \"established\", \"ended\": false,
   \"flows\": 3, \"announced\": 0, \"secondary\": 2, \"idle_ms\": 50,
   \"call_id_short\": null, \"call_id_len\": null}
a SIP call's session has \"call_id_short\": \"a84b4c76…ta.com\", \"call_id_len\": 31.

Examples:
  sarectl sessions
  sarectl sessions --server 2
  sarectl sessions --call-id a84b4c76e66710@pc33.atlanta.com --json
  sarectl sessions --json";

const ANNOUNCE_AFTER_HELP: &str = "\
The signalling of a session announces flows (RTP media, FTP data) whose port on one side may only
be known from the server's reply, which does not pass through this dispatcher. SARA then stores
the announced flow with that port unknown (shown as * by sarectl flows). A gateway that sees the
reply reports the flow's full identity, as packets will arrive at the dispatcher (client side as
--src, virtual IP side as --dst): the stored flow matching it becomes exact. Needs CAP_NET_ADMIN.

Exit status 0 when a stored flow was completed, 1 when sara.ko refused the report, for example
because no announced flow waiting for its port matches it.

Examples:
  sarectl announce --proto udp --src 10.0.1.2:7624 --dst 10.0.0.100:42182
  sarectl flows --identity announced      # the flows waiting for a report";

fn flow_status_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new(cli::table_names(cli::FLOW_STATUSES)).map(|s| {
        cli::FLOW_STATUSES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(v, _)| *v)
            .expect("clap checked the possible values")
    })
}

fn flow_identity_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new(cli::table_names(cli::FLOW_IDENTITIES)).map(|s| {
        cli::FLOW_IDENTITIES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(v, _)| *v)
            .expect("clap checked the possible values")
    })
}

#[derive(Args, Debug)]
struct FlowsArgs {
    /// Only the flows of sessions on this server (id 1-65535)
    #[arg(long, value_name = "ID", value_parser = value_parser!(u32).range(1..=i64::from(MAX_SERVER_ID)))]
    server: Option<u32>,

    /// Only the flows of this session
    #[arg(long, value_name = "ID")]
    session: Option<u32>,

    /// Only flows with this status
    #[arg(long, value_name = "STATUS", value_parser = flow_status_parser())]
    status: Option<u8>,

    /// Only flows with this identity
    #[arg(long, value_name = "IDENTITY", value_parser = flow_identity_parser())]
    identity: Option<u8>,
}

#[derive(Args, Debug)]
struct SessionsArgs {
    /// Only the sessions on this server (id 1-65535)
    #[arg(long, value_name = "ID", value_parser = value_parser!(u32).range(1..=i64::from(MAX_SERVER_ID)))]
    server: Option<u32>,

    /// Only the session of this SIP call: its whole Call-ID, as in a SIP trace (matched exactly;
    /// the shortened form this command shows is not accepted). Needs CAP_NET_ADMIN
    #[arg(long, value_name = "CALL-ID", value_parser = cli::parse_call_id)]
    call_id: Option<String>,
}

#[derive(Args, Debug)]
struct AnnounceArgs {
    /// The flow's protocol (tcp or udp)
    #[arg(long, value_name = "PROTO", value_parser = cli::parse_protocol)]
    proto: u8,

    /// Where the flow's packets come from (the client side), IP:PORT
    #[arg(long, value_name = "IP:PORT", value_parser = endpoint_parser)]
    src: Endpoint,

    /// Where they go (the virtual IP side), IP:PORT
    #[arg(long, value_name = "IP:PORT", value_parser = endpoint_parser)]
    dst: Endpoint,
}

impl AnnounceArgs {
    /// The flow's 5-tuple.
    fn key(&self) -> FlowKey {
        FlowKey::new(
            self.src.ip.octets(),
            self.src.port,
            self.dst.ip.octets(),
            self.dst.port,
            self.proto,
        )
    }
}

fn endpoint_parser(s: &str) -> Result<Endpoint, String> {
    s.parse()
}

#[derive(Args, Debug)]
struct ApplyArgs {
    /// The cluster file (JSON); - reads standard input
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: std::path::PathBuf,

    /// Check the file and print what would be sent, without changing anything
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Make a new key file with one new random key (mode 0600)
    #[command(after_help = "\
Writes FILE with one new 256-bit key from the operating system's random source, as the line
`sara-key-v1 ID HEX` (HEX: 64 hex digits) after two comment lines, with mode 0600, atomically.
The directory is created if it does not exist. An existing FILE is not overwritten unless --force
is given: replacing the key on one node only cuts it off from the others (see 'sarectl key
--help' for a rotation without an outage). The key itself is never printed.

Examples:
  sarectl key generate /etc/sara/key
  sarectl key generate /root/next.key --id 2     # the next key, for a rotation")]
    Generate(KeyGenerateArgs),

    /// Show a key file's key ids (never the keys) and whether its permissions are right
    #[command(after_help = "\
Prints the ids of the keys in FILE (the first seals what this node sends, every one is
accepted), the file's mode and owner, and whether a daemon given --key-file FILE would take it.
Exit status 0 when it would, 4 when it would not (wrong permissions, bad text) or the file cannot
be read.

Examples:
  sarectl key show /etc/sara/key
  sarectl --json key show /etc/sara/key")]
    Show(KeyShowArgs),
}

#[derive(Args, Debug)]
struct KeyGenerateArgs {
    /// The key file to write, e.g. /etc/sara/key
    #[arg(value_name = "FILE")]
    file: std::path::PathBuf,

    /// The new key's id, 0-4294967295: sent in every datagram so that receivers pick the key; give
    /// the next key of a rotation another id than the current one
    #[arg(long, value_name = "N", default_value_t = 1)]
    id: u32,

    /// Replace FILE if it exists
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug)]
struct KeyShowArgs {
    /// The key file to look at
    #[arg(value_name = "FILE")]
    file: std::path::PathBuf,
}

#[derive(Subcommand, Debug)]
enum ServiceCmd {
    /// Add a virtual service
    #[command(after_help = "\
Examples:
  sarectl service add 192.0.2.10:5060/udp --sig sip
  sarectl service add 192.0.2.10:554/tcp --sig rtsp --policy rr --timeout 60 --down-action keep

Options not given take sara.ko's defaults.")]
    Add(ServiceAddArgs),

    /// Delete a virtual service
    #[command(after_help = "Example:\n  sarectl service del 192.0.2.10:5060/udp")]
    Del(ServiceDelArgs),

    /// List the virtual services
    #[command(after_help = "Examples:\n  sarectl service list\n  sarectl service list --json")]
    List,
}

#[derive(Subcommand, Debug)]
enum ServerCmd {
    /// Add a server
    #[command(after_help = "\
Examples:
  sarectl server add 1 --ip 10.0.0.11 --mac 52:54:00:00:00:11 --dev eth1
  sarectl server add 2 --ip 10.0.0.12 --mac 52:54:00:00:00:12 --dev eth1 --weight 3

The server must be on the same L2 segment as this dispatcher, reachable through --dev, with the
virtual IP configured on its loopback (SARA forwards packets unchanged, by MAC address).")]
    Add(ServerAddArgs),

    /// Delete a server
    #[command(after_help = "Example:\n  sarectl server del 2")]
    Del(ServerDelArgs),

    /// List the servers
    #[command(after_help = "Examples:\n  sarectl server list\n  sarectl server list --json")]
    List,
}

fn service_key_parser(s: &str) -> Result<ServiceKey, String> {
    s.parse()
}

fn sig_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new(cli::sig_names())
        .map(|s| cli::sig_from_name(&s).expect("clap checked the possible values"))
}

fn policy_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new(cli::policy_names())
        .map(|s| cli::policy_from_name(&s).expect("clap checked the possible values"))
}

fn down_action_parser() -> impl TypedValueParser<Value = u8> {
    PossibleValuesParser::new(cli::down_action_names())
        .map(|s| cli::down_action_from_name(&s).expect("clap checked the possible values"))
}

fn default_note(what: &str) -> String {
    format!("{what} [sara.ko's default: ")
}

#[derive(Args, Debug)]
struct ServiceAddArgs {
    /// The service: virtual IPv4 address, port (1-65535) and protocol (tcp or udp)
    #[arg(value_name = "VIP:PORT/PROTO", value_parser = service_key_parser)]
    service: ServiceKey,

    #[arg(
        long,
        value_name = "PROTO",
        value_parser = sig_parser(),
        help = default_note("Signalling protocol to inspect, so that the flows a session announces \
            (RTP media, FTP data) go to the same server") + genl::sigproto_name(genl::SIG_NONE) + "]"
    )]
    sig: Option<u8>,

    #[arg(
        long,
        value_name = "POLICY",
        value_parser = policy_parser(),
        help = default_note("How a new session picks its server") + genl::policy_name(genl::POLICY_HASH) + "]"
    )]
    policy: Option<u8>,

    #[arg(
        long,
        value_name = "SECONDS",
        value_parser = value_parser!(u32).range(1..=i64::from(genl::MAX_TIMEOUT_S)),
        help = default_note(&format!(
            "Idle time after which a flow of this service expires, 1-{}",
            genl::MAX_TIMEOUT_S
        )) + &genl::DEFAULT_TIMEOUT_S.to_string() + "]"
    )]
    timeout: Option<u32>,

    #[arg(
        long,
        value_name = "ACTION",
        value_parser = down_action_parser(),
        help = default_note("What happens to the established flows of a server that goes down: \
            move them to another server at once, or keep them on it")
            + &cli::down_action_name(genl::DOWN_REDISPATCH) + "]"
    )]
    down_action: Option<u8>,
}

#[derive(Args, Debug)]
struct ServiceDelArgs {
    /// The service to delete
    #[arg(value_name = "VIP:PORT/PROTO", value_parser = service_key_parser)]
    service: ServiceKey,
}

#[derive(Args, Debug)]
struct ServerAddArgs {
    /// Server id, 1-65535: the number this server goes by in SARA and in its heartbeats
    #[arg(value_name = "ID", value_parser = value_parser!(u32).range(1..=i64::from(MAX_SERVER_ID)))]
    id: u32,

    /// The server's IPv4 address
    #[arg(long, value_name = "IPv4", value_parser = cli::parse_host_ipv4)]
    ip: Ipv4Addr,

    /// The server's MAC address, as six hex bytes (aa:bb:cc:dd:ee:ff)
    #[arg(long, value_name = "MAC", value_parser = cli::parse_mac)]
    mac: [u8; 6],

    /// Network interface of this machine through which the server is reached
    #[arg(long, value_name = "IFNAME", value_parser = cli::parse_ifname)]
    dev: String,

    /// Weight for weighted policies (wrr), 1-65535 [sara.ko's default: 1]
    #[arg(long, value_name = "N", value_parser = value_parser!(u32).range(1..=i64::from(MAX_WEIGHT)))]
    weight: Option<u32>,
}

#[derive(Args, Debug)]
struct ServerDelArgs {
    /// Id of the server to delete
    #[arg(value_name = "ID", value_parser = value_parser!(u32).range(1..=i64::from(MAX_SERVER_ID)))]
    id: u32,
}

#[derive(Args, Debug)]
struct StatsArgs {
    /// Print the Prometheus text format instead of a table: running totals as
    /// sara_<counter>_total (type counter), values now such as sara_flows as gauges
    #[arg(long, conflicts_with = "json")]
    prometheus: bool,
}

#[derive(Subcommand, Debug)]
enum DebugCmd {
    /// Send exactly the given request to family "sara" and print the kernel's answer
    #[command(after_help = "\
Sends one generic netlink message to family \"sara\" with NLM_F_REQUEST|NLM_F_ACK, the given
command and the given attributes in order, with no checks: for proving that sara.ko's policy
rejects malformed requests. TYPE is a number (decimal or 0x hex) or a name (A_SERVER_MAC); HEX is
the payload bytes in order (network order is up to you), possibly empty; ':' '.' '_' in HEX are
ignored. Numbers in host order: u16 5060 = c413 on little-endian machines.

Examples:
  # server add with a 5-byte MAC: expect EINVAL naming A_SERVER_MAC
  sarectl --json debug send-raw --cmd 4 --attr 7:01000000 --attr 8:0a00000b \\
      --attr 9:5254000000 --attr 10:6c6f00
  # service add without A_VIP: expect EINVAL, missing attribute 1
  sarectl debug send-raw --cmd 1 --attr A_PORT:5000 --attr A_PROTO:06

Exit status 0 when acked, 1 when refused (with --json the answer is on stdout either way).")]
    SendRaw(SendRawArgs),
}

#[derive(Args, Debug)]
struct SendRawArgs {
    /// Generic netlink command number (see sara_core::genl CMD_*)
    #[arg(long, value_name = "N")]
    cmd: u8,

    /// One attribute, TYPE:HEX; repeat for more, sent in the given order
    #[arg(long = "attr", value_name = "TYPE:HEX", value_parser = cmd::parse_raw_attr)]
    attrs: Vec<RawAttr>,

    /// Version field of the generic netlink header
    #[arg(long, value_name = "V", default_value_t = genl::VERSION)]
    version: u8,

    /// Also set NLM_F_DUMP
    #[arg(long)]
    dump: bool,
}

/// The format of `stats`, `status` and `ha status`: a table, `--json` or `--prometheus`, never
/// both (`--json` given before the subcommand escapes clap's conflict check: refused here).
fn output_format(json: bool, prometheus: bool) -> Result<Format, Error> {
    match (json, prometheus) {
        (true, true) => Err(Error::Usage(
            "--json and --prometheus cannot be used together: choose one output format".into(),
        )),
        (true, false) => Ok(Format::Json),
        (false, true) => Ok(Format::Prometheus),
        (false, false) => Ok(Format::Table),
    }
}

/// Run the parsed command line.
/// `sarectl status` options.
#[derive(Debug, clap::Args)]
struct StatusArgs {
    /// The file the running manager writes its state to (its --status-file)
    #[arg(long, default_value = "/run/sara/manager.json")]
    status_file: std::path::PathBuf,

    /// Print the Prometheus text format instead of a table (for node_exporter's textfile
    /// collector): refused datagrams by reason, servers by state, each server's load, forecast and
    /// heartbeats, the cluster's load and the thresholds; the metrics are listed below. Not with
    /// --json
    #[arg(long, conflicts_with = "json")]
    prometheus: bool,
}

fn control(r: sara_ctl::control::Result<()>) -> Result<Done, Error> {
    r.map(|()| Done {
        stdout: String::new(),
        exit: 0,
    })
    .map_err(|e| Error::Io(e.to_string()))
}

fn run(cli: Cli) -> Result<Done, Error> {
    let table_or_json = if cli.json {
        Format::Json
    } else {
        Format::Table
    };
    match cli.command {
        Command::Agent(a) => control(sara_ctl::control::agent::run(a)),
        Command::Manager(a) => control(sara_ctl::control::manager::run(a)),
        Command::Gateway(a) => control(sara_ctl::gateway::run(a)),
        Command::Ha(sara_ctl::ha::HaCmd::Run(a)) => control(sara_ctl::ha::run(a)),
        Command::Ha(sara_ctl::ha::HaCmd::Status(a)) => {
            let format = output_format(cli.json, a.prometheus)?;
            control(sara_ctl::ha::status(&a, format))
        }
        Command::Ha(sara_ctl::ha::HaCmd::Role(a)) => control(sara_ctl::ha::set_role(&a)),
        Command::Key(KeyCmd::Generate(a)) => {
            cmd::key_generate(&a.file, a.id, a.force, table_or_json)
        }
        Command::Key(KeyCmd::Show(a)) => cmd::key_show(&a.file, table_or_json),
        Command::Status(a) => cmd::status(&a.status_file, output_format(cli.json, a.prometheus)?),
        Command::Service(c) => match c {
            ServiceCmd::Add(a) => cmd::service_add(
                &ServiceAdd {
                    key: a.service,
                    sig: a.sig,
                    policy: a.policy,
                    timeout: a.timeout,
                    down_action: a.down_action,
                },
                table_or_json,
            ),
            ServiceCmd::Del(a) => cmd::service_del(&a.service, table_or_json),
            ServiceCmd::List => cmd::service_list(table_or_json),
        },
        Command::Server(c) => match c {
            ServerCmd::Add(a) => cmd::server_add(
                &ServerAdd {
                    id: a.id,
                    ip: a.ip,
                    mac: a.mac,
                    ifname: a.dev,
                    weight: a.weight,
                },
                table_or_json,
            ),
            ServerCmd::Del(a) => cmd::server_del(a.id, table_or_json),
            ServerCmd::List => cmd::server_list(table_or_json),
        },
        Command::Apply(a) => cmd::apply(&a.file, a.dry_run, table_or_json),
        Command::Show => cmd::show(),
        Command::Stats(a) => cmd::stats(output_format(cli.json, a.prometheus)?),
        Command::Flows(a) => cmd::flows(
            &cmd::FlowFilter {
                server: a.server,
                session: a.session,
                status: a.status,
                identity: a.identity,
            },
            table_or_json,
        ),
        Command::Sessions(a) => cmd::sessions(a.server, a.call_id.as_deref(), table_or_json),
        Command::Announce(a) => cmd::announce(&a.key(), table_or_json),
        Command::Debug(DebugCmd::SendRaw(a)) => cmd::send_raw(
            &RawRequest {
                cmd: a.cmd,
                attrs: a.attrs,
                version: a.version,
                dump: a.dump,
            },
            table_or_json,
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(done) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`sarectl stats | head -1`) is not an error worth reporting.
            let _ = out
                .write_all(done.stdout.as_bytes())
                .and_then(|_| out.flush());
            ExitCode::from(done.exit)
        }
        Err(e) => {
            eprintln!("sarectl: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("sarectl").chain(args.iter().copied()))
    }

    fn err(args: &[&str]) -> String {
        let e = parse(args).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        e.to_string()
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn service_add_full() {
        let cli = parse(&[
            "service",
            "add",
            "192.0.2.10:554/tcp",
            "--sig",
            "rtsp",
            "--policy",
            "least-sessions",
            "--timeout",
            "60",
            "--down-action",
            "keep",
        ])
        .unwrap();
        let Command::Service(ServiceCmd::Add(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.service.to_string(), "192.0.2.10:554/tcp");
        assert_eq!(a.sig, Some(genl::SIG_RTSP));
        assert_eq!(a.policy, Some(genl::POLICY_LEAST_SESSIONS));
        assert_eq!(a.timeout, Some(60));
        assert_eq!(a.down_action, Some(genl::DOWN_KEEP));
        assert!(!cli.json);
    }

    #[test]
    fn service_add_minimal_leaves_defaults_to_the_kernel() {
        let cli = parse(&["service", "add", "10.0.0.1:80/udp"]).unwrap();
        let Command::Service(ServiceCmd::Add(a)) = cli.command else {
            panic!()
        };
        assert_eq!(
            (a.sig, a.policy, a.timeout, a.down_action),
            (None, None, None, None)
        );
    }

    #[test]
    fn service_add_rejects_bad_arguments() {
        assert!(err(&["service", "add", "10.0.0.1:0/udp"]).contains("1 to 65535"));
        assert!(err(&["service", "add", "10.0.0.1:80/icmp"]).contains("use tcp or udp"));
        assert!(err(&["service", "add", "10.0.0.256:80/tcp"]).contains("not an IPv4 address"));
        assert!(err(&["service", "add", "10.0.0.1:80"]).contains("VIP:PORT/PROTO"));
        assert!(err(&["service", "add", "10.0.0.1:80/tcp", "--sig", "http"])
            .contains("possible values"));
        assert!(
            err(&["service", "add", "10.0.0.1:80/tcp", "--policy", "fastest"])
                .contains("least-sessions")
        );
        assert!(err(&["service", "add", "10.0.0.1:80/tcp", "--timeout", "0"]).contains("0"));
        assert!(
            err(&["service", "add", "10.0.0.1:80/tcp", "--timeout", "86401"]).contains("86401")
        );
        assert!(
            err(&["service", "add", "10.0.0.1:80/tcp", "--down-action", "drop"])
                .contains("redispatch")
        );
        assert!(parse(&["service", "add", "10.0.0.1:80/tcp", "--timeout", "86400"]).is_ok());
        err(&["service", "add"]);
        err(&["service", "del"]);
        err(&["service"]);
    }

    #[test]
    fn server_add_full_and_errors() {
        let cli = parse(&[
            "server",
            "add",
            "7",
            "--ip",
            "10.0.0.7",
            "--mac",
            "52:54:00:00:00:07",
            "--dev",
            "eth1",
            "--weight",
            "3",
        ])
        .unwrap();
        let Command::Server(ServerCmd::Add(a)) = cli.command else {
            panic!()
        };
        assert_eq!(
            (a.id, a.ip, a.mac, a.dev.as_str(), a.weight),
            (
                7,
                Ipv4Addr::new(10, 0, 0, 7),
                [0x52, 0x54, 0, 0, 0, 7],
                "eth1",
                Some(3)
            )
        );
        let base = [
            "server",
            "add",
            "7",
            "--ip",
            "10.0.0.7",
            "--mac",
            "52:54:00:00:00:07",
            "--dev",
            "eth1",
        ];
        assert!(parse(&base).is_ok());
        let with = |i: usize, v: &str| {
            let mut a: Vec<&str> = base.to_vec();
            a[i] = v;
            err(&a)
        };
        assert!(with(5 + 1, "52:54:00:00:07").contains("5 byte(s)"));
        assert!(with(3 + 1, "10.0.0").contains("not an IPv4 address"));
        assert!(with(7 + 1, "an-interface-name-too-long").contains("at most 15"));
        with(2, "0");
        with(2, "65536");
        with(2, "seven");
        err(&["server", "add", "7", "--ip", "10.0.0.7", "--dev", "eth1"]); // no --mac
        let mut a = base.to_vec();
        a.extend(["--weight", "0"]);
        err(&a);
        assert!(parse(&["server", "del", "65535"]).is_ok());
        err(&["server", "del", "0"]);
    }

    #[test]
    fn json_flag_is_global_and_prometheus_conflicts_with_it() {
        assert!(parse(&["--json", "server", "list"]).unwrap().json);
        assert!(parse(&["server", "list", "--json"]).unwrap().json);
        assert!(parse(&["service", "list", "--json"]).unwrap().json);
        let cli = parse(&["stats", "--prometheus"]).unwrap();
        let Command::Stats(a) = cli.command else {
            panic!()
        };
        assert!(a.prometheus);
        let e = parse(&["stats", "--json", "--prometheus"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
        // clap does not see this one (the global flag comes first): run() refuses it, exit 2.
        let cli = parse(&["--json", "stats", "--prometheus"]).unwrap();
        let e = run(cli).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("cannot be used together"));
        // The manager's and the failover daemon's status take the same flag, with the same rule.
        let cli = parse(&["status", "--prometheus"]).unwrap();
        let Command::Status(a) = cli.command else {
            panic!()
        };
        assert!(a.prometheus);
        let e = parse(&["status", "--json", "--prometheus"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ArgumentConflict);
        let cli = parse(&["ha", "status", "--prometheus"]).unwrap();
        let Command::Ha(sara_ctl::ha::HaCmd::Status(a)) = cli.command else {
            panic!()
        };
        assert!(a.prometheus);
        // Refused before any file or sara.ko is read.
        for args in [
            &[
                "--json",
                "status",
                "--prometheus",
                "--status-file",
                "/nonexistent",
            ][..],
            &["ha", "status", "--json", "--prometheus"],
            &["--json", "ha", "status", "--prometheus"],
        ] {
            let e = run(parse(args).unwrap()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
            assert!(e.to_string().contains("cannot be used together"), "{e}");
        }
        assert_eq!(output_format(false, false).unwrap(), Format::Table);
        assert_eq!(output_format(true, false).unwrap(), Format::Json);
        assert_eq!(output_format(false, true).unwrap(), Format::Prometheus);
    }

    #[test]
    fn debug_send_raw_parses() {
        let cli = parse(&[
            "debug",
            "send-raw",
            "--cmd",
            "4",
            "--attr",
            "7:01000000",
            "--attr",
            "A_SERVER_MAC:5254000000",
            "--attr",
            "10:",
        ])
        .unwrap();
        let Command::Debug(DebugCmd::SendRaw(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.cmd, 4);
        assert_eq!(a.version, genl::VERSION);
        assert_eq!(
            a.attrs,
            vec![
                RawAttr {
                    ty: 7,
                    payload: vec![1, 0, 0, 0]
                },
                RawAttr {
                    ty: 9, // A_SERVER_MAC
                    payload: vec![0x52, 0x54, 0, 0, 0]
                },
                RawAttr {
                    ty: 10,
                    payload: vec![]
                }
            ]
        );
        err(&["debug", "send-raw"]);
        err(&["debug", "send-raw", "--cmd", "256"]);
        err(&["debug", "send-raw", "--cmd", "1", "--attr", "1:xyz"]);
    }

    #[test]
    fn apply_and_show_command_lines() {
        let cli = parse(&["apply", "-f", "cluster.json", "--dry-run"]).unwrap();
        let Command::Apply(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.file, std::path::PathBuf::from("cluster.json"));
        assert!(a.dry_run);
        let cli = parse(&["apply", "--file", "-"]).unwrap();
        let Command::Apply(a) = cli.command else {
            panic!()
        };
        assert!(!a.dry_run);
        err(&["apply"]); // -f is required
        assert!(parse(&["show", "--json"]).unwrap().json);
        assert!(matches!(parse(&["show"]).unwrap().command, Command::Show));
        err(&["show", "extra"]);
    }

    #[test]
    fn apply_dry_run_and_bad_files_need_no_kernel() {
        let dir = std::env::temp_dir().join(format!("sarectl-apply-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.json");
        let done = run(parse(&["apply", "-f", example, "--dry-run"]).unwrap()).unwrap();
        assert_eq!(done.exit, 0);
        assert!(
            done.stdout.contains("2 services, 3 servers"),
            "{}",
            done.stdout
        );
        let done = run(parse(&["--json", "apply", "-f", example, "--dry-run"]).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
        assert_eq!(v["servers"].as_array().unwrap().len(), 3);
        assert!(v.get("alpha").is_none(), "tuning is not sent");

        let bad = dir.join("bad.json");
        std::fs::write(
            &bad,
            "{\"servers\": [\n  {\"id\": 1, \"ip\": \"10.0.0.1\"}\n]}\n",
        )
        .unwrap();
        for dry in [true, false] {
            let mut args = vec!["apply", "-f", bad.to_str().unwrap()];
            if dry {
                args.push("--dry-run");
            }
            let e = run(parse(&args).unwrap()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "a wrong file is a usage error");
            assert!(
                e.to_string().ends_with(
                    "bad.json:2:3: servers[0]: server 1 has no mac, dev: sarectl apply needs ip, \
                     mac and dev for every server"
                ),
                "{e}"
            );
        }
        let e = run(parse(&["apply", "-f", "/nonexistent/c.json"]).unwrap()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("/nonexistent/c.json"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn key_generate_and_show() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sarectl-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The directory is made if missing.
        let file = dir.join("etc/key");
        let f = file.to_str().unwrap();
        let done = run(parse(&["key", "generate", f]).unwrap()).unwrap();
        assert_eq!(done.exit, 0);
        assert!(
            done.stdout.contains("wrote a new key (id 1)") && done.stdout.contains("--key-file"),
            "{}",
            done.stdout
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&file).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("sara-key-v1 1 "))
            .unwrap();
        let hex = line.rsplit(' ').next().unwrap();
        assert_eq!(hex.len(), 64);
        assert!(!done.stdout.contains(hex), "the key is never printed");

        // Not overwritten without --force: a usage error, the file unchanged.
        let e = run(parse(&["key", "generate", f, "--id", "2"]).unwrap()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("exists; not overwriting it")
                && e.to_string().contains("--force"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
        // With --force: a new key.
        let done =
            run(parse(&["--json", "key", "generate", f, "--id", "7", "--force"]).unwrap()).unwrap();
        assert_eq!((done.exit, done.stdout.as_str()), (0, ""));
        assert_ne!(std::fs::read_to_string(&file).unwrap(), text);

        // show: ids, permissions, never the key.
        let key_hex = std::fs::read_to_string(&file).unwrap();
        let key_hex = key_hex
            .lines()
            .last()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_string();
        let done = run(parse(&["key", "show", f]).unwrap()).unwrap();
        assert_eq!(done.exit, 0);
        assert!(
            done.stdout.contains("keys:         7 (seals"),
            "{}",
            done.stdout
        );
        assert!(done.stdout.contains("0600"), "{}", done.stdout);
        assert!(done.stdout.contains("usable:       yes"), "{}", done.stdout);
        assert!(!done.stdout.contains(&key_hex));
        // A second key (rotation step 1), then a file others may read: shown, exit 4.
        let mut two = std::fs::read_to_string(&file).unwrap();
        two.push_str(&format!("sara-key-v1 8 {}\n", "ab".repeat(32)));
        std::fs::write(&file, two).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let done = run(parse(&["--json", "key", "show", f]).unwrap()).unwrap();
        assert_eq!(done.exit, 4);
        let v: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
        assert_eq!(v["mode"], "0644");
        assert_eq!(v["permissions_ok"], false);
        assert_eq!(v["usable"], false);
        assert_eq!(
            v["keys"],
            serde_json::json!([{"id": 7, "seals": true}, {"id": 8, "seals": false}])
        );
        let done = run(parse(&["key", "show", f]).unwrap()).unwrap();
        assert!(
            done.stdout.contains(&format!("chmod 600 {f}")),
            "{}",
            done.stdout
        );
        // Bad text: said, exit 4; a missing file: an error.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&file, "sara-key-v1 1 abc\n").unwrap();
        let done = run(parse(&["key", "show", f]).unwrap()).unwrap();
        assert_eq!(done.exit, 4);
        assert!(
            done.stdout.contains("unreadable: line 1:"),
            "{}",
            done.stdout
        );
        let e =
            run(parse(&["key", "show", dir.join("nope").to_str().unwrap()]).unwrap()).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        err(&["key", "generate"]);
        err(&["key", "generate", f, "--id", "-1"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn apply_help_documents_the_file_and_the_exit_codes() {
        let mut root = Cli::command();
        let h = root
            .find_subcommand_mut("apply")
            .unwrap()
            .render_long_help()
            .to_string();
        for want in [
            "sarectl apply -f",
            "\"services\"",
            "sarectl manager --config reads it from the same file",
            "2 when the file",
            "servers[1].mac",
        ] {
            assert!(h.contains(want), "{want} missing from apply --help:\n{h}");
        }
    }

    #[test]
    fn debug_is_hidden_from_help() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("service"));
        assert!(!help.contains("debug"), "{help}");
    }

    #[test]
    fn every_help_has_an_example_and_the_exit_codes_are_documented() {
        let mut root = Cli::command();
        root.build();
        let long = root.render_long_help().to_string();
        for code in [
            "0  success",
            "1  the kernel refused",
            "2  usage error",
            "3  sara.ko is not loaded",
            "4  any other",
        ] {
            assert!(long.contains(code), "{code} missing from --help");
        }
        fn walk(c: &clap::Command, path: &str) {
            if c.get_name() == "help" {
                return;
            }
            let after = c
                .get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("sarectl "),
                "`{path}` has no example in after_help"
            );
            for s in c.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()));
            }
        }
        walk(&root, "sarectl");
    }

    #[test]
    fn help_shows_the_kernel_defaults_from_genl() {
        let mut root = Cli::command();
        let h = root
            .find_subcommand_mut("service")
            .unwrap()
            .find_subcommand_mut("add")
            .unwrap()
            .render_help()
            .to_string();
        assert!(
            h.contains(&format!("default: {}]", genl::DEFAULT_TIMEOUT_S)),
            "{h}"
        );
        assert!(h.contains("default: hash]"), "{h}");
        assert!(h.contains("least-sessions"), "{h}");
        assert!(h.contains("redispatch"), "{h}");
    }

    #[test]
    fn help_and_version_exit_zero() {
        let e = parse(&["--help"]).unwrap_err();
        assert_eq!(e.exit_code(), 0);
        let e = parse(&["server", "add", "--help"]).unwrap_err();
        assert_eq!(e.exit_code(), 0);
        let e = parse(&["--version"]).unwrap_err();
        assert_eq!(e.exit_code(), 0);
    }

    #[test]
    fn flows_sessions_and_announce_command_lines() {
        let cli = parse(&[
            "flows",
            "--server",
            "2",
            "--session",
            "17",
            "--status",
            "established",
            "--identity",
            "secondary",
            "--json",
        ])
        .unwrap();
        assert!(cli.json);
        let Command::Flows(a) = cli.command else {
            panic!()
        };
        assert_eq!(
            (a.server, a.session, a.status, a.identity),
            (
                Some(2),
                Some(17),
                Some(genl::FLOW_STATUS_ESTABLISHED),
                Some(genl::FLOW_IDENTITY_SECONDARY)
            )
        );
        let Command::Flows(a) = parse(&["flows"]).unwrap().command else {
            panic!()
        };
        assert_eq!(
            (a.server, a.session, a.status, a.identity),
            (None, None, None, None)
        );
        assert!(err(&["flows", "--status", "open"]).contains("inactive"));
        assert!(err(&["flows", "--identity", "media"]).contains("secondary"));
        err(&["flows", "--server", "0"]);
        err(&["flows", "--session", "-1"]);

        let Command::Sessions(a) = parse(&["sessions", "--server", "3"]).unwrap().command else {
            panic!()
        };
        assert_eq!(a.server, Some(3));
        assert!(parse(&["sessions", "--json"]).unwrap().json);
        err(&["sessions", "--server", "65536"]);
        let Command::Sessions(a) = parse(&[
            "sessions",
            "--call-id",
            " a84b4c76e66710@pc33.atlanta.com\r\n",
            "--server",
            "2",
        ])
        .unwrap()
        .command
        else {
            panic!()
        };
        // White space around a pasted Call-ID is dropped; the rest is kept byte for byte.
        assert_eq!(
            (a.server, a.call_id.as_deref()),
            (Some(2), Some("a84b4c76e66710@pc33.atlanta.com"))
        );
        let Command::Sessions(a) = parse(&["sessions"]).unwrap().command else {
            panic!()
        };
        assert_eq!(a.call_id, None);
        // The shortened form sarectl shows is refused, as are an empty and an unindexable Call-ID.
        assert!(err(&["sessions", "--call-id", "a84b4c76…ta.com"]).contains("whole Call-ID"));
        assert!(err(&["sessions", "--call-id", " "]).contains("not empty"));
        assert!(err(&["sessions", "--call-id", &"x".repeat(257)]).contains("at most 256 bytes"));
        assert!(parse(&["sessions", "--call-id", &"x".repeat(256)]).is_ok());
        err(&["sessions", "--call-id"]);

        let cli = parse(&[
            "announce",
            "--proto",
            "udp",
            "--src",
            "10.0.1.2:7624",
            "--dst",
            "10.0.0.100:42182",
        ])
        .unwrap();
        let Command::Announce(a) = cli.command else {
            panic!()
        };
        assert_eq!(
            a.key(),
            FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], 42182, 17)
        );
        assert_eq!(
            cli::show_key(&a.key()),
            "udp 10.0.1.2:7624 -> 10.0.0.100:42182"
        );
        let base = [
            "announce",
            "--proto",
            "udp",
            "--src",
            "10.0.1.2:7624",
            "--dst",
            "10.0.0.100:42182",
        ];
        let with = |i: usize, v: &str| {
            let mut a: Vec<&str> = base.to_vec();
            a[i] = v;
            err(&a)
        };
        assert!(with(2, "sctp").contains("use tcp or udp"));
        assert!(with(4, "10.0.1.2").contains("IP:PORT"));
        assert!(with(6, "10.0.0.100:0").contains("1 to 65535"));
        err(&base[..5]); // --dst missing
    }

    #[test]
    fn flow_help_documents_the_json_shape() {
        let mut root = Cli::command();
        let h = root
            .find_subcommand_mut("flows")
            .unwrap()
            .render_long_help()
            .to_string();
        for want in [
            "\"wildcard\": \"none\"",
            "both_ports",
            "sarectl flows --session 17",
        ] {
            assert!(h.contains(want), "{want} missing from flows --help:\n{h}");
        }
        let h = root
            .find_subcommand_mut("sessions")
            .unwrap()
            .render_long_help()
            .to_string();
        for want in [
            "\"client\": \"10.0.1.2:40000\"",
            "\"call_id_short\": \"a84b4c76…ta.com\"",
            "CAP_NET_ADMIN",
            "the shortened form shown here is not accepted",
            "sarectl sessions --call-id a84b4c76e66710@pc33.atlanta.com --json",
        ] {
            assert!(
                h.contains(want),
                "{want} missing from sessions --help:\n{h}"
            );
        }
    }
}
