//! `sarectl manager`: the control plane on the dispatcher.
//!
//! It receives heartbeats and load vectors from the agents (UDP), runs the failure detector
//! ([`super::detector`]), the per-server forecasts ([`super::forecast`]), the cluster load
//! ([`super::cluster`]) and the moving thresholds ([`super::thresholds`]), and pushes the result to
//! `sara.ko` (generic netlink `CMD_PUSH`) through a [`KernelSink`]:
//! * every interval (default δ);
//! * at once when a server changes state or its load monitor fails or comes back.
//!
//! Datagrams that are not monitoring messages are counted (`garbage`) and ignored; messages from
//! server ids that are not in the configuration are counted (`unknown_server`) and ignored.
//!
//! ## Authentication
//! Every datagram is opened ([`super::secure::DaemonAuth::open`]) before anything of it is parsed:
//! its source must be in `--accept-from` (if given), its trailer must verify with a key of
//! `--key-file` (or the cluster file's `key_file`), and [`admit`] must take its sender id: a
//! heartbeat or load vector of server N only from sender N (and from N's `ip` when the cluster file
//! gives it), a gateway report only from a sender id above the server ids. Refusals are counted by
//! reason in the status (`auth.rejections`), not as garbage. With `--insecure` datagrams are taken
//! as they come, as before.
//!
//! Gateway reports (`sara_core::msg::announce`, sent by `sarectl gateway`) arrive on the same
//! socket: each entry's completed flow goes to `sara.ko` as `CMD_ANNOUNCE` ([`KernelSink::announce`]),
//! counted as completed, rejected (the kernel found no announced flow waiting for it: its first
//! packet came first, it expired, or was never announced) or failed (no answer from the kernel).
//! One log line per datagram (the first 200, then at most one a second) gives its sequence number,
//! the outcome and the time from receiving the datagram to the kernel's last acknowledgement
//! (`received_us`/`acked_us`, Unix microseconds, comparable with the gateway's `captured_us` on
//! one clock).
//!
//! ## Status
//! After every push the manager writes its state as JSON ([`Status`]) to the status file (default
//! [`DEFAULT_STATUS_FILE`]), atomically (temporary file and rename). `sarectl status` (or `jq`) reads
//! it; its `time_unix_ms` tells how fresh it is.
//!
//! ## Configuration (`--config cluster.json`)
//! ```json
//! {
//!   "servers": [ {"id": 1, "name": "sip-a"}, {"id": 2} ],
//!   "heartbeat_ms": 200, "misses": 3, "delta_ms": 1000, "interval_ms": 1000,
//!   "window": 5, "forecast": true, "alpha": 0.8,
//!   "thresholds": {"t1": 600, "t2": 750, "t3": 900, "c": 1000},
//!   "moving": {"beta": 0.5, "gamma": 0.5, "epsilon": 10},
//!   "increment": 5,
//!   "dispatcher_load": true,
//!   "dispatcher_weights": {"cpu": 0.5, "mem": 0.2, "net": 0.3, "io": 0, "backlog": 0},
//!   "key_file": "/etc/sara/key"
//! }
//! ```
//! Only `servers` is required; the values shown are the defaults, except `increment`, which is not
//! pushed unless given (the kernel keeps its own), `interval_ms`, which defaults to `delta_ms`, and
//! `key_file` (none: `--key-file` or `--insecure` is needed; a relative path is taken from the
//! cluster file's directory; `--key-file` wins over it).
//!
//! The same file is `sarectl apply`'s (see [`crate::config`]): it may also list `services` and give
//! each server its `ip`, `mac`, `dev` and `weight`; the manager checks those and does not use them.

use super::cluster::cluster_load;
use super::detector::{
    Clock, Detector, DetectorConfig, EventKind, HeartbeatOutcome, ServerState, SystemClock,
};
use super::forecast::{Estimate, Forecaster};
use super::measure::{Components, Sampler};
use super::secure::{AuthArgs, Cidr, DaemonAuth, FIRST_NON_SERVER_ID, MANAGER_SENDER_ID};
use super::thresholds::{MoveParams, MovingThresholds, Thresholds};
use super::when::format_unix_utc;
use super::wire::{components, decode, Message};
use super::{to_permille, Context, Error, Result};
use crate::auth::{Opened, Reject};
pub use crate::config::{ClusterConfig, ServerEntry};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the manager writes its status by default.
pub const DEFAULT_STATUS_FILE: &str = "/run/sara/manager.json";

const MANAGER_AFTER_HELP: &str = "\
The manager runs on the dispatcher. It listens for the agents' heartbeats and load vectors
(sarectl agent), decides which servers are up, draining or down, forecasts each server's load,
computes the cluster load and the admission thresholds, and pushes all of it to sara.ko every
interval and whenever a server changes state. Its state is written as JSON to --status-file
after every push.

The configuration file lists the servers to watch and the tuning; only \"servers\" is required:
  {\"servers\": [{\"id\": 1, \"name\": \"sip-a\"}, {\"id\": 2}],
   \"heartbeat_ms\": 200, \"misses\": 3, \"delta_ms\": 1000,
   \"thresholds\": {\"t1\": 600, \"t2\": 750, \"t3\": 900, \"c\": 1000}}
heartbeat_ms and delta_ms must match the agents' --heartbeat-ms and --delta-ms. The same file
can also hold the services and each server's ip, mac, dev and weight, for sarectl apply (see
sarectl apply --help); the manager checks them but does not use them, except ip: a server's
messages are then taken only from that address.

Authentication: every datagram must be sealed with a key of --key-file (or of the file named by
\"key_file\" in the cluster file; see 'sarectl key --help'). A heartbeat or load vector of server N
is taken only from sender id N (the agent's --id); a gateway report only from a sender id above
65535 (the gateway's --sender-id). --accept-from limits the source networks. What is refused is
counted by reason in the status (sarectl status) and logged at most once per reason every 10 s.
--insecure takes unauthenticated datagrams, as before.

Examples:
  sarectl manager --listen 10.0.0.1:7460 --config /etc/sara/cluster.json --key-file /etc/sara/key
  sarectl manager --listen 10.0.0.1:7460 --config /etc/sara/cluster.json --key-file /etc/sara/key \\
      --accept-from 10.0.0.0/24
  sarectl manager --listen 127.0.0.1:7460 --config cluster.json --dry-run --insecure";

/// `sarectl manager …`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = MANAGER_AFTER_HELP)]
pub struct ManagerArgs {
    /// Address to receive the agents' messages on (UDP), as IP:PORT.
    #[arg(long, value_name = "IP:PORT")]
    pub listen: SocketAddr,
    /// Cluster configuration (JSON): the servers to watch and the tuning.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Where to write the manager's state (JSON) after every push.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_STATUS_FILE)]
    pub status_file: PathBuf,
    /// Push interval in milliseconds (overrides interval_ms of the configuration).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..))]
    pub interval_ms: Option<u64>,
    /// Print each push as a JSON line on standard output instead of sending it to sara.ko.
    #[arg(long)]
    pub dry_run: bool,
    /// `--key-file FILE` or `--insecure`.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// This manager's sender id, 65536..4294967295: datagrams sealed with it are never taken (they
    /// would be its own, reflected back).
    #[arg(long, value_name = "N", default_value_t = MANAGER_SENDER_ID,
          value_parser = clap::value_parser!(u32).range(i64::from(FIRST_NON_SERVER_ID)..))]
    pub sender_id: u32,
    /// Take datagrams only from these networks (CIDR, comma-separated or repeated), e.g.
    /// 10.0.0.0/24; others are refused as wrong_source. Default: from anywhere.
    #[arg(long, value_name = "CIDR[,CIDR…]", value_delimiter = ',')]
    pub accept_from: Vec<Cidr>,
}

/// The detector's settings from the cluster file.
fn detector_config(cfg: &ClusterConfig) -> DetectorConfig {
    DetectorConfig {
        heartbeat_ms: cfg.heartbeat_ms,
        misses: cfg.misses,
        delta_ms: cfg.delta_ms,
    }
}

use sink::show_flow;
pub use sink::{
    AnnounceOutcome, CaptureSink, KernelSink, NetlinkSink, PrintSink, Push, PushServer, SinkError,
};
pub use status::{read_status, write_json_atomically, Counters, ServerStatus, Status};

mod sink;
mod status;

// ---- the manager ----------------------------------------------------------------------------

/// Source of the dispatcher's own load l_d (per-mille).
pub type LoadSource = Box<dyn FnMut() -> u16 + Send>;
/// Where the manager's log lines go.
pub type LogFn = Box<dyn FnMut(&str) + Send>;

#[derive(Debug, Clone)]
struct ServerLoad {
    forecaster: Forecaster,
    components: Option<Components>,
    load: Option<u16>,
    last_seq: Option<u32>,
    estimate: Option<Estimate>,
}

/// The control-plane manager: feed it datagrams and ticks, it pushes.
pub struct Manager<S: KernelSink> {
    cfg: ClusterConfig,
    sink: S,
    clock: Box<dyn Clock + Send>,
    started_ms: u64,
    detector: Detector,
    loads: BTreeMap<u16, ServerLoad>,
    thresholds: MovingThresholds,
    counters: Counters,
    dispatcher: LoadSource,
    log: LogFn,
    status_file: Option<PathBuf>,
    status_error: Option<String>,
    listen: String,
    last_push_error: Option<String>,
    unknown_logged: std::collections::BTreeSet<u16>,
    l_d: u16,
    l_c: u16,
    x: u16,
    announce_lines: u64,
    announce_last_log_ms: Option<u64>,
    announce_held: u64,
    announce_seq: BTreeMap<SocketAddr, u32>,
    announce_error: Option<String>,
    auth: DaemonAuth,
    server_ips: BTreeMap<u16, Ipv4Addr>,
}

impl<S: KernelSink> Manager<S> {
    /// A manager for this configuration (already validated by [`ClusterConfig::parse`] or not:
    /// it is checked again), pushing into `sink`, with the system clock, measuring the
    /// dispatcher's load if configured, logging to stderr, no status file, and no authentication
    /// (`sarectl manager` always sets it: [`Manager::with_auth`]).
    pub fn new(cfg: ClusterConfig, sink: S) -> Result<Self> {
        cfg.validate()?;
        let clock: Box<dyn Clock + Send> = Box::new(SystemClock::new());
        let now = clock.now();
        let thresholds = MovingThresholds::new(cfg.thresholds, cfg.moving)?;
        let detector = Detector::new(detector_config(&cfg), cfg.servers.iter().map(|s| s.id), now);
        let loads = cfg
            .servers
            .iter()
            .map(|s| {
                let l = ServerLoad {
                    forecaster: Forecaster::new(cfg.window),
                    components: None,
                    load: None,
                    last_seq: None,
                    estimate: None,
                };
                (s.id, l)
            })
            .collect();
        let server_ips = cfg
            .servers
            .iter()
            .filter_map(|s| s.ip.as_ref().map(|ip| (s.id, ip.0)))
            .collect();
        let dispatcher: LoadSource = if cfg.dispatcher_load {
            let mut sampler = Sampler::new(None);
            let w = cfg.dispatcher_weights;
            Box::new(move || {
                let s = sampler.sample();
                for p in s.new_problems {
                    eprintln!("sarectl manager: dispatcher load: {p}");
                }
                w.scalar(&s.components)
            })
        } else {
            Box::new(|| 0)
        };
        Ok(Manager {
            cfg,
            sink,
            clock,
            started_ms: now.mono_ms,
            detector,
            loads,
            thresholds,
            counters: Counters::default(),
            dispatcher,
            log: Box::new(|l| eprintln!("sarectl manager: {l}")),
            status_file: None,
            status_error: None,
            listen: String::new(),
            last_push_error: None,
            unknown_logged: Default::default(),
            l_d: 0,
            l_c: 0,
            x: 0,
            announce_lines: 0,
            announce_last_log_ms: None,
            announce_held: 0,
            announce_seq: BTreeMap::new(),
            announce_error: None,
            auth: DaemonAuth::insecure(MANAGER_SENDER_ID),
            server_ips,
        })
    }

    /// Uses another clock (tests); restarts the detector's grace period at its time.
    pub fn with_clock(mut self, clock: Box<dyn Clock + Send>) -> Self {
        let now = clock.now();
        self.detector = Detector::new(
            detector_config(&self.cfg),
            self.cfg.servers.iter().map(|s| s.id),
            now,
        );
        self.started_ms = now.mono_ms;
        self.clock = clock;
        self
    }

    /// Uses another source for the dispatcher's load.
    pub fn with_dispatcher_load(mut self, f: LoadSource) -> Self {
        self.dispatcher = f;
        self
    }

    /// Sends log lines elsewhere.
    pub fn with_log(mut self, log: LogFn) -> Self {
        self.log = log;
        self
    }

    /// Seals and verifies with this (keys or `--insecure`, sender id, source networks).
    pub fn with_auth(mut self, auth: DaemonAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Writes the status to this file after every push.
    pub fn with_status_file(mut self, path: PathBuf) -> Self {
        self.status_file = Some(path);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.cfg
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The sink (tests).
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Handles one datagram from `from`: opened first (source, trailer, sender: [`admit`]; with
    /// `--insecure` taken as it is), then parsed. Returns true when a server changed state (a push
    /// was made).
    pub fn handle_datagram(&mut self, datagram: &[u8], from: SocketAddr) -> bool {
        self.counters.datagrams += 1;
        let ips = &self.server_ips;
        let opened = self
            .auth
            .open(datagram, from, std::time::Instant::now(), |o| {
                admit(o, from, ips)
            });
        self.auth_log();
        let Ok(buf) = opened else {
            return false;
        };
        if is_announce(buf) {
            self.handle_announce(buf, from);
            return false;
        }
        let now = self.clock.now();
        let msg = match decode(buf) {
            Ok(m) => m,
            Err(why) => {
                if let Some(n) = self.count_garbage() {
                    (self.log)(&format!(
                        "ignored a datagram from {from} that is not a SARA monitoring message ({why}); \
                     {n} so far"
                    ));
                }
                return false;
            }
        };
        match msg {
            Message::Heartbeat(h) => {
                match self
                    .detector
                    .heartbeat(h.host_id, h.seq, h.flag as u8, h.timestamp, now)
                {
                    HeartbeatOutcome::UnknownServer => {
                        self.unknown(h.host_id, from);
                        return false;
                    }
                    HeartbeatOutcome::BadFlag => {
                        self.counters.garbage += 1;
                        return false;
                    }
                    _ => self.counters.heartbeats += 1,
                }
            }
            Message::Load(v) => {
                if !self.detector.load_vector(v.host_id, now) {
                    self.unknown(v.host_id, from);
                    return false;
                }
                self.counters.load_vectors += 1;
                if let Some(l) = self.loads.get_mut(&v.host_id) {
                    if l.last_seq != Some(v.seq) {
                        l.last_seq = Some(v.seq);
                        l.components = Some(components(&v));
                        l.load = Some(v.load);
                        l.estimate = Some(l.forecaster.push(f64::from(v.load)));
                    }
                }
            }
        }
        self.tick()
    }

    /// The authentication's log lines (refusals, key reloads) to the log.
    fn auth_log(&mut self) {
        for l in self.auth.take_log() {
            (self.log)(&l);
        }
    }

    /// Counts a datagram that does not parse; returns the count when it is worth a log line (the
    /// 1st, 10th, 100th, …: enough to notice without flooding the log).
    fn count_garbage(&mut self) -> Option<u64> {
        self.counters.garbage += 1;
        let n = self.counters.garbage;
        let digits = n.to_string();
        (digits.starts_with('1') && digits.bytes().skip(1).all(|b| b == b'0')).then_some(n)
    }

    /// A gateway report (`msg::announce`): every entry's completed flow to the kernel.
    fn handle_announce(&mut self, buf: &[u8], from: SocketAddr) {
        let received = std::time::SystemTime::now();
        let t0 = std::time::Instant::now();
        let view = match sara_core::msg::announce::parse(buf) {
            Ok(v) => v,
            Err(why) => {
                if let Some(n) = self.count_garbage() {
                    (self.log)(&format!(
                        "ignored a gateway report from {from} that does not parse ({why}); {n} so far"
                    ));
                }
                return;
            }
        };
        self.counters.announce_datagrams += 1;
        if let Some(prev) = self.announce_seq.insert(from, view.seq) {
            if sara_core::msg::seq_after(view.seq, prev) {
                self.counters.announce_lost += u64::from(view.seq.wrapping_sub(prev) - 1);
            }
        }
        // A few gateways at most; forget the oldest if a scan of source ports fills the map.
        if self.announce_seq.len() > 64 {
            if let Some(k) = self.announce_seq.keys().next().copied() {
                self.announce_seq.remove(&k);
            }
        }
        let (mut done, mut refused, mut failed) = (0u64, 0u64, 0u64);
        let mut first_refusal: Option<String> = None;
        let mut first_failure: Option<String> = None;
        for e in view.entries() {
            self.counters.announce_entries += 1;
            match self.sink.announce(&e.announced) {
                Ok(AnnounceOutcome::Completed) => done += 1,
                Ok(AnnounceOutcome::Refused { errno, message }) => {
                    refused += 1;
                    first_refusal.get_or_insert_with(|| {
                        let why = if message.is_empty() {
                            crate::error::errno_name(errno)
                                .map(str::to_string)
                                .unwrap_or_else(|| format!("errno {errno}"))
                        } else {
                            message
                        };
                        format!("{}: {why}", show_flow(&e.announced))
                    });
                }
                Err(err) => {
                    failed += 1;
                    first_failure.get_or_insert_with(|| err.to_string());
                }
            }
        }
        let acked = std::time::SystemTime::now();
        let us = t0.elapsed().as_micros() as u64;
        self.counters.announce_completed += done;
        self.counters.announce_rejected += refused;
        self.counters.announce_failed += failed;
        self.counters.announce_max_us = self.counters.announce_max_us.max(us);
        if let Some(f) = &first_failure {
            let msg = format!("sending gateway reports to sara.ko failed: {f}");
            if self.announce_error.as_deref() != Some(msg.as_str()) {
                (self.log)(&msg);
                self.announce_error = Some(msg);
            }
        } else if failed == 0 && self.announce_error.take().is_some() {
            (self.log)("sending gateway reports to sara.ko works again");
        }
        let now_ms = self.clock.now().mono_ms;
        let ok = self.announce_lines < 200
            || self
                .announce_last_log_ms
                .is_none_or(|t| now_ms.saturating_sub(t) >= 1000);
        if !ok {
            self.announce_held += 1;
            return;
        }
        self.announce_lines += 1;
        self.announce_last_log_ms = Some(now_ms);
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0)
        };
        let held = std::mem::take(&mut self.announce_held);
        (self.log)(&format!(
            "gateway report seq={} from {from}: {} entries, {done} completed, {refused} rejected, \
             {failed} failed; kernel acked in {us} us (received_us={} acked_us={}){}{}",
            view.seq,
            view.len(),
            unix(received),
            unix(acked),
            first_refusal
                .map(|r| format!("; rejected {r}"))
                .unwrap_or_default(),
            if held > 0 {
                format!(" ({held} report lines held back)")
            } else {
                String::new()
            }
        ));
    }

    fn unknown(&mut self, id: u16, from: SocketAddr) {
        self.counters.unknown_server += 1;
        if self.unknown_logged.insert(id) {
            (self.log)(&format!(
                "ignoring messages from server {id} ({from}): it is not in the cluster configuration"
            ));
        }
    }

    /// Runs the failure detector; logs and pushes at once if anything changed. Returns whether it
    /// pushed.
    pub fn tick(&mut self) -> bool {
        let now = self.clock.now();
        let events = self.detector.evaluate(now);
        let mut changed = false;
        for e in &events {
            (self.log)(&e.to_string());
            match e.kind {
                EventKind::State { .. } | EventKind::LoadMonitorAlive => changed = true,
                EventKind::LoadMonitorFailed => {
                    changed = true;
                    // Old samples no longer describe the server.
                    if let Some(l) = self.loads.get_mut(&e.server) {
                        l.forecaster.reset();
                        l.estimate = None;
                    }
                }
                EventKind::AgentRestarted | EventKind::ClockSkew => {}
            }
        }
        if changed {
            self.push(false);
        }
        changed
    }

    /// The events a tick would log (tests use [`Manager::with_log`] instead).
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Computes and sends a push. `interval`: true for the periodic push (the thresholds move
    /// once per interval), false for a push caused by a state change.
    pub fn push(&mut self, interval: bool) -> Push {
        if interval {
            self.l_d = (self.dispatcher)().min(1000);
        }
        let mut available = Vec::new();
        let mut servers = Vec::new();
        for h in self.detector.servers() {
            let Some(state) = h.state.kernel() else {
                continue;
            };
            let l = &self.loads[&h.id];
            let load = l.load.unwrap_or(0);
            let damped = l.estimate.map(|e| e.damped).unwrap_or(f64::from(load));
            let known = h.load_known() && l.load.is_some();
            if h.state == ServerState::Up && known {
                available.push(if self.cfg.forecast {
                    damped
                } else {
                    f64::from(load)
                });
            }
            servers.push(PushServer {
                id: h.id,
                state,
                forecast: to_permille(damped),
                load,
                load_known: known,
            });
        }
        self.l_c = cluster_load(&available, self.cfg.alpha)
            .map(to_permille)
            .unwrap_or(0);
        self.x = self.l_d.max(self.l_c);
        let t = if interval {
            self.thresholds.update(f64::from(self.x))
        } else {
            self.thresholds.current()
        };
        let p = Push {
            load_dispatcher: self.l_d,
            load_cluster: self.l_c,
            t1: t.t1,
            t2: t.t2,
            t3: t.t3,
            tc: t.c,
            increment: self.cfg.increment,
            servers,
        };
        match self.sink.push(&p) {
            Ok(()) => {
                self.counters.pushes += 1;
                if self.last_push_error.take().is_some() {
                    (self.log)("pushing to sara.ko works again");
                }
            }
            Err(e) => {
                self.counters.push_failures += 1;
                let msg =
                    format!("pushing loads, thresholds and server states to sara.ko failed: {e}");
                if self.last_push_error.as_deref() != Some(msg.as_str()) {
                    (self.log)(&msg);
                }
                self.last_push_error = Some(msg);
            }
        }
        self.write_status();
        p
    }

    /// The manager's state.
    pub fn status(&self) -> Status {
        let now = self.clock.now();
        let names: BTreeMap<u16, Option<String>> = self
            .cfg
            .servers
            .iter()
            .map(|s| (s.id, s.name.clone()))
            .collect();
        let servers = self
            .detector
            .servers()
            .map(|h| {
                let l = &self.loads[&h.id];
                ServerStatus {
                    id: h.id,
                    name: names.get(&h.id).cloned().flatten(),
                    state: h.state.name().to_string(),
                    reason: h.reason.clone(),
                    last_heartbeat_ago_ms: h
                        .last_heartbeat_ms
                        .map(|t| now.mono_ms.saturating_sub(t)),
                    flag: h.flag,
                    planned_failure: h.planned_unix_s.map(format_unix_utc),
                    heartbeats: h.heartbeats,
                    lost: h.lost,
                    late: h.late,
                    restarts: h.restarts,
                    clock_skew_s: h.clock_skew_s,
                    load_monitor: format!("{:?}", h.load_monitor).to_lowercase(),
                    load_known: h.load_known(),
                    last_vector_ago_ms: h.last_vector_ms.map(|t| now.mono_ms.saturating_sub(t)),
                    vectors: h.vectors,
                    components: l.components,
                    load: l.load,
                    forecast: l.estimate.map(|e| e.forecast),
                    err: l.estimate.map(|e| e.err),
                    damped: l.estimate.map(|e| e.damped),
                }
            })
            .collect();
        Status {
            version: 1,
            time_unix_ms: now.unix_ms,
            listen: self.listen.clone(),
            uptime_ms: now.mono_ms.saturating_sub(self.started_ms),
            counters: self.counters,
            last_push_error: self.last_push_error.clone(),
            load_dispatcher: self.l_d,
            load_cluster: self.l_c,
            forecast: self.cfg.forecast,
            x: self.x,
            thresholds_operator: self.thresholds.base(),
            thresholds_in_force: self.thresholds.current(),
            moving: self.thresholds.params(),
            servers,
            auth: Some(self.auth.status()),
        }
    }

    fn write_status(&mut self) {
        let Some(path) = self.status_file.clone() else {
            return;
        };
        let r = write_json_atomically(&path, &self.status());
        match r {
            Ok(()) => self.status_error = None,
            Err(e) => {
                if self.status_error.as_deref() != Some(e.message()) {
                    (self.log)(e.message());
                    self.status_error = Some(e.message().to_string());
                }
            }
        }
    }

    /// Receives on `sock` and pushes every interval until `stop` is set.
    pub fn run(&mut self, sock: &UdpSocket, stop: &AtomicBool) -> Result<()> {
        let local = sock
            .local_addr()
            .ctx(|| "reading the manager socket's address".to_string())?;
        self.listen = local.to_string();
        let interval = self.cfg.interval();
        // The detector looks 4 times per heartbeat period: a silent server is down at most
        // n·d + d/4 after its last heartbeat.
        let tick_every = Duration::from_millis((self.cfg.heartbeat_ms / 4).max(5));
        (self.log)(&format!(
            "listening on {local} (UDP) for {} servers; heartbeat {} ms × {}, load vectors every {} ms, push every {} ms",
            self.cfg.servers.len(),
            self.cfg.heartbeat_ms,
            self.cfg.misses,
            self.cfg.delta_ms,
            interval.as_millis()
        ));
        (self.log)(&self.auth.start_line());
        let mut next_push = std::time::Instant::now() + interval;
        let mut next_tick = std::time::Instant::now() + tick_every;
        let mut buf = vec![0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            let now = std::time::Instant::now();
            self.auth.poll(now);
            self.auth_log();
            if now >= next_tick {
                self.tick();
                next_tick = now + tick_every;
            }
            if now >= next_push {
                self.push(true);
                next_push += interval;
                if next_push <= now {
                    next_push = now + interval;
                }
            }
            let wait = next_tick
                .min(next_push)
                .saturating_duration_since(std::time::Instant::now());
            sock.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .ctx(|| format!("setting the receive timeout of the manager socket {local}"))?;
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    self.handle_datagram(&buf[..n], from);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                // ICMP errors of earlier sends and the like: not fatal for a receiver.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    return Err(Error::new(format!(
                        "receiving on the manager socket {local}: {e}"
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Whether a datagram claims to be a gateway report (common header with type Announce); it is then
/// parsed as one, and counted as garbage if it does not parse.
pub fn is_announce(buf: &[u8]) -> bool {
    matches!(
        buf.get(..sara_core::msg::HEADER_LEN)
            .map(sara_core::msg::Header::parse),
        Some(Ok(sara_core::msg::Header {
            kind: sara_core::msg::MsgType::Announce,
            ..
        }))
    )
}

/// Whether the manager takes a datagram whose trailer verified, from sender `o.sender` at `from`
/// (the defence in depth behind the key): a gateway report only from a sender id above the server
/// ids; a heartbeat or load vector claiming server N only from sender N and, when the cluster file
/// gives N's `ip`, from that address. A message that parses as neither is let through (a key
/// holder's garbage: counted as `garbage`).
pub fn admit(
    o: &Opened<'_>,
    from: SocketAddr,
    server_ips: &BTreeMap<u16, Ipv4Addr>,
) -> std::result::Result<(), Reject> {
    if is_announce(o.msg) {
        return if o.sender >= FIRST_NON_SERVER_ID {
            Ok(())
        } else {
            Err(Reject::UnknownSender)
        };
    }
    let host = match decode(o.msg) {
        Ok(Message::Heartbeat(h)) => h.host_id,
        Ok(Message::Load(v)) => v.host_id,
        Err(_) => return Ok(()),
    };
    if o.sender != u32::from(host) {
        return Err(Reject::UnknownSender);
    }
    match server_ips.get(&host) {
        Some(ip) if from.ip().to_canonical() != IpAddr::V4(*ip) => Err(Reject::WrongSource),
        _ => Ok(()),
    }
}

/// The key file the cluster file names, relative to the cluster file's directory.
fn config_key_file(cfg: &ClusterConfig, config: &Path) -> Option<PathBuf> {
    let k = cfg.key_file.as_ref()?;
    Some(match config.parent() {
        Some(dir) if k.is_relative() => dir.join(k),
        _ => k.clone(),
    })
}

/// Runs `sarectl manager …` with a sink for the real kernel (the caller provides it, e.g. the
/// netlink client); `--dry-run` prints pushes instead. Refuses to start without keys or
/// `--insecure`.
pub fn run_with_sink<S: KernelSink>(args: ManagerArgs, sink: S) -> Result<()> {
    let mut cfg = ClusterConfig::load(&args.config)?;
    if let Some(i) = args.interval_ms {
        cfg.interval_ms = Some(i);
    }
    let mode = args
        .auth
        .mode(config_key_file(&cfg, &args.config).as_deref())
        .map_err(|e| {
            Error::new(format!(
                "{e} (the manager also takes the key file from \"key_file\" in its cluster file)"
            ))
        })?;
    let auth = DaemonAuth::new(&mode, args.sender_id)?.with_accept_from(args.accept_from.clone());
    let sock = UdpSocket::bind(args.listen)
        .ctx(|| format!("listening for the agents on UDP {}", args.listen))?;
    let stop = AtomicBool::new(false);
    if args.dry_run {
        Manager::new(cfg, PrintSink)?
            .with_auth(auth)
            .with_status_file(args.status_file)
            .run(&sock, &stop)
    } else {
        Manager::new(cfg, sink)?
            .with_auth(auth)
            .with_status_file(args.status_file)
            .run(&sock, &stop)
    }
}

/// Runs `sarectl manager …`: pushes to `sara.ko` over generic netlink ([`NetlinkSink`]), or
/// prints them with `--dry-run`.
pub fn run(args: ManagerArgs) -> Result<()> {
    if args.dry_run {
        return run_with_sink(args, PrintSink);
    }
    let sink = NetlinkSink::open().map_err(|e| {
        Error::new(format!(
            "{e} (load sara.ko first, or try the manager with --dry-run)"
        ))
    })?;
    run_with_sink(args, sink)
}

#[cfg(test)]
mod tests {
    use super::super::detector::{ManualClock, Now};
    use super::super::wire::{encode_heartbeat, encode_load, load_vector, Flag, Heartbeat};
    use super::*;
    use sara_core::genl::{STATE_DOWN, STATE_DRAINING, STATE_UP};

    const T0: Now = Now {
        mono_ms: 0,
        unix_ms: 1_772_366_400_000,
    };
    fn from() -> SocketAddr {
        "127.0.0.1:9".parse().unwrap()
    }

    fn manager(cfg: ClusterConfig) -> (Manager<CaptureSink>, ManualClock, Arc<Mutex<Vec<String>>>) {
        let clock = ManualClock::new(T0);
        let log = Arc::new(Mutex::new(Vec::new()));
        let l2 = log.clone();
        let m = Manager::new(cfg, CaptureSink::default())
            .unwrap()
            .with_clock(Box::new(clock.clone()))
            .with_dispatcher_load(Box::new(|| 100))
            .with_log(Box::new(move |l| l2.lock().unwrap().push(l.to_string())));
        (m, clock, log)
    }

    fn hb(m: &mut Manager<CaptureSink>, c: &ManualClock, id: u16, seq: u32, flag: u8) {
        let ts = (c.now().unix_ms / 1000) as u32;
        let flag = Flag::from_u8(flag).unwrap();
        m.handle_datagram(
            &encode_heartbeat(&Heartbeat {
                host_id: id,
                seq,
                flag,
                timestamp: ts,
            }),
            from(),
        );
    }

    fn lv(m: &mut Manager<CaptureSink>, id: u16, seq: u32, load: u16) {
        let v = load_vector(
            id,
            seq,
            0,
            &Components {
                cpu: load,
                ..Default::default()
            },
            load,
        );
        m.handle_datagram(&encode_load(&v), from());
    }

    fn last(m: &Manager<CaptureSink>) -> Push {
        m.sink().pushes.lock().unwrap().last().unwrap().1.clone()
    }

    #[test]
    fn config_parsing_and_errors() {
        let c = ClusterConfig::parse(
            r#"{"servers": [{"id": 1, "name": "a"}, {"id": 2}]}"#,
            "test",
        )
        .unwrap();
        assert_eq!(c.heartbeat_ms, 200);
        assert_eq!(c.misses, 3);
        assert_eq!(c.interval(), Duration::from_millis(1000));
        assert_eq!(c.thresholds, Thresholds::default());
        for (text, msg) in [
            (r#"{"servers": []}"#, "is empty"),
            (r#"{"servers": [{"id": 1}, {"id": 1}]}"#, "listed twice"),
            (r#"{"servers": [{"id": 0}]}"#, "id 0"),
            (r#"{"servers": [{"id": 1}], "alpha": 2}"#, "alpha"),
            (
                r#"{"servers": [{"id": 1}], "thresholds": {"t1": 900, "t2": 800, "t3": 950, "c": 1000}}"#,
                "T1 < T2",
            ),
            (
                r#"{"servers": [{"id": 1}], "hearbeat_ms": 5}"#,
                "unknown field",
            ),
            (r#"{"servers": [{"id": 1}], "misses": 0}"#, "misses"),
            ("not json", "cluster configuration test"),
        ] {
            let e = ClusterConfig::parse(text, "test").unwrap_err();
            assert!(e.message().contains(msg), "{text}: {e}");
        }
        let e = ClusterConfig::load(Path::new("/nonexistent/cluster.json")).unwrap_err();
        assert!(
            e.message()
                .starts_with("reading the cluster configuration /nonexistent/cluster.json"),
            "{e}"
        );
    }

    #[test]
    fn push_contents_follow_the_servers() {
        let mut cfg = ClusterConfig::with_servers(&[1, 2, 3]);
        cfg.heartbeat_ms = 100;
        cfg.delta_ms = 100;
        cfg.increment = Some(7);
        let (mut m, c, log) = manager(cfg);
        // Servers 1 and 2 report; 3 stays silent.
        hb(&mut m, &c, 1, 0, 1);
        hb(&mut m, &c, 2, 0, 1);
        lv(&mut m, 1, 0, 200);
        lv(&mut m, 2, 0, 800);
        let p = m.push(true);
        assert_eq!(p.increment, Some(7));
        assert_eq!(p.load_dispatcher, 100);
        // Both up, loads known: l_c = 0.8·0.5 + 0.2·0.09 = 418 (first samples: l̃ = l).
        assert_eq!(p.load_cluster, 418);
        assert_eq!((p.t1, p.t2, p.t3, p.tc), (600, 750, 900, 1000));
        assert_eq!(
            p.servers,
            vec![
                PushServer {
                    id: 1,
                    state: STATE_UP,
                    forecast: 200,
                    load: 200,
                    load_known: true
                },
                PushServer {
                    id: 2,
                    state: STATE_UP,
                    forecast: 800,
                    load: 800,
                    load_known: true
                },
            ],
            "server 3 is still unknown and not pushed"
        );
        // After n·d, 3 is down and pushed at once by the tick.
        c.advance_ms(301);
        hb(&mut m, &c, 1, 1, 1);
        hb(&mut m, &c, 2, 1, 2); // 2: application down
        lv(&mut m, 1, 1, 200);
        lv(&mut m, 2, 1, 800);
        let p = last(&m);
        assert_eq!(p.servers[1].state, STATE_DOWN);
        assert_eq!(
            p.servers[2],
            PushServer {
                id: 3,
                state: STATE_DOWN,
                forecast: 0,
                load: 0,
                load_known: false
            }
        );
        // Only server 1 is available now: l_c = 0.8·0.2 = 160.
        assert_eq!(m.push(true).load_cluster, 160);
        let log = log.lock().unwrap().join("\n");
        assert!(
            log.contains("server 2 down: its agent reports the application down"),
            "{log}"
        );
        assert!(
            log.contains("server 3 down: no heartbeat since this manager started 0.3 s ago"),
            "{log}"
        );
    }

    #[test]
    fn forecast_feeds_cluster_load_and_thresholds_move() {
        let mut cfg = ClusterConfig::with_servers(&[1]);
        cfg.alpha = 1.0;
        let (mut m, c, _log) = manager(cfg);
        hb(&mut m, &c, 1, 0, 1);
        for (i, l) in [700u16, 800, 900].iter().enumerate() {
            lv(&mut m, 1, i as u32, *l);
        }
        // Ramp 700, 800, 900: l̂ = 1000, err of the last forecast (900 predicted) = 0 → l̃ = 1000.
        let p = m.push(true);
        assert_eq!(p.servers[0].forecast, 1000);
        assert_eq!(p.load_cluster, 1000);
        // x = 1000 > T2 = 750: T2 = max(610, 750 − 125) = 625; T3 = 900·(1 − 0.5) = 450 → floor 635.
        assert_eq!((p.t2, p.t3), (625, 635));
        // A duplicate vector (same seq) is not a new sample.
        lv(&mut m, 1, 2, 900);
        assert_eq!(m.status().servers[0].damped, Some(1000.0));
        // Without forecasting, l_c uses the measurement.
        let mut cfg = ClusterConfig::with_servers(&[1]);
        cfg.alpha = 1.0;
        cfg.forecast = false;
        let (mut m, c, _log) = manager(cfg);
        hb(&mut m, &c, 1, 0, 1);
        for (i, l) in [700u16, 800, 900].iter().enumerate() {
            lv(&mut m, 1, i as u32, *l);
        }
        assert_eq!(m.push(true).load_cluster, 900);
    }

    #[test]
    fn drain_then_down_and_load_monitor() {
        let mut cfg = ClusterConfig::with_servers(&[1]);
        cfg.heartbeat_ms = 1000;
        cfg.delta_ms = 1000;
        let (mut m, c, log) = manager(cfg);
        let at = (c.now().unix_ms / 1000) as u32 + 2;
        lv(&mut m, 1, 0, 300);
        m.handle_datagram(
            &encode_heartbeat(&Heartbeat {
                host_id: 1,
                seq: 0,
                flag: Flag::PlannedFailure,
                timestamp: at,
            }),
            from(),
        );
        assert_eq!(last(&m).servers[0].state, STATE_DRAINING);
        c.advance_ms(1000);
        m.handle_datagram(
            &encode_heartbeat(&Heartbeat {
                host_id: 1,
                seq: 1,
                flag: Flag::PlannedFailure,
                timestamp: at,
            }),
            from(),
        );
        assert_eq!(last(&m).servers[0].state, STATE_DRAINING);
        c.advance_ms(1000);
        m.handle_datagram(
            &encode_heartbeat(&Heartbeat {
                host_id: 1,
                seq: 2,
                flag: Flag::PlannedFailure,
                timestamp: at,
            }),
            from(),
        );
        assert_eq!(last(&m).servers[0].state, STATE_DOWN);
        assert!(last(&m).servers[0].load_known);
        c.advance_ms(1001); // 3δ + 1 since the vector
        m.tick();
        let s = last(&m).servers[0];
        assert!(!s.load_known, "{s:?}");
        assert_eq!(s.load, 300, "the last known load is still pushed");
        let log = log.lock().unwrap().join("\n");
        assert!(
            log.contains("server 1 draining: planned failure at 2026-03-01T12:00:02Z (in 2.0 s)"),
            "{log}"
        );
        assert!(
            log.contains("server 1 down: planned failure time 2026-03-01T12:00:02Z reached"),
            "{log}"
        );
        assert!(
            log.contains("server 1 load monitor failed: no load vector for 3.0 s (load unknown)"),
            "{log}"
        );
    }

    #[test]
    fn garbage_and_strangers_are_counted_and_ignored() {
        let (mut m, c, log) = manager(ClusterConfig::with_servers(&[1]));
        // Empty, short, text, a heartbeat with flag 9, a heartbeat of the paper's unversioned form.
        let hb9 = [0, 1, 0, 0, 0, 1, 0x19, 0, 0, 0, 0];
        let hb_v0 = [0, 1, 0, 0, 0, 1, 0x01, 0, 0, 0, 0];
        for g in [&b""[..], b"x", b"GET / HTTP/1.1\r\n", &hb9, &hb_v0] {
            m.handle_datagram(g, from());
        }
        hb(&mut m, &c, 42, 0, 1);
        lv(&mut m, 42, 0, 10);
        let k = m.counters();
        assert_eq!(
            (k.datagrams, k.garbage, k.unknown_server, k.heartbeats),
            (7, 5, 2, 0)
        );
        let log = log.lock().unwrap();
        assert!(
            log[0].starts_with(
                "ignored a datagram from 127.0.0.1:9 that is not a SARA monitoring message"
            ),
            "{log:?}"
        );
        assert_eq!(
            log.iter().filter(|l| l.contains("not a SARA")).count(),
            1,
            "logged once, not per datagram"
        );
        assert_eq!(log.iter().filter(|l| l.contains("server 42")).count(), 1);
    }

    #[test]
    fn failing_sink_is_counted_and_status_written() {
        struct Refuse;
        impl KernelSink for Refuse {
            fn push(&mut self, _: &Push) -> std::result::Result<(), SinkError> {
                Err("the sara generic netlink family is not registered (is sara.ko loaded?)".into())
            }
        }
        let dir = std::env::temp_dir().join(format!("sara-manager-status-{}", std::process::id()));
        let file = dir.join("manager.json");
        let log = Arc::new(Mutex::new(Vec::new()));
        let l2 = log.clone();
        let mut m = Manager::new(ClusterConfig::with_servers(&[1]), Refuse)
            .unwrap()
            .with_dispatcher_load(Box::new(|| 0))
            .with_status_file(file.clone())
            .with_log(Box::new(move |l| l2.lock().unwrap().push(l.to_string())));
        m.push(true);
        m.push(true);
        let s = read_status(&file).unwrap();
        assert_eq!(s.counters.push_failures, 2);
        assert!(s
            .last_push_error
            .as_deref()
            .unwrap()
            .contains("is sara.ko loaded?"));
        assert_eq!(s.servers[0].state, "unknown");
        assert_eq!(
            log.lock().unwrap().len(),
            1,
            "the same failure is logged once"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let e = read_status(Path::new("/nonexistent/m.json")).unwrap_err();
        assert!(e.message().contains("is 'sarectl manager' running"), "{e}");
    }

    #[test]
    fn netlink_sink_without_the_module_reports_it() {
        // On a host without sara.ko the family does not resolve: the push fails with words, and
        // the next push tries again.
        let mut sink = NetlinkSink::default();
        let p = Push {
            load_dispatcher: 0,
            load_cluster: 0,
            t1: 1,
            t2: 2,
            t3: 3,
            tc: 4,
            increment: None,
            servers: vec![],
        };
        if let Err(e) = sink.push(&p) {
            assert!(!e.to_string().is_empty());
            assert!(sink.client.is_none());
        }
    }

    #[test]
    fn status_table_for_people() {
        let (mut m, c, _log) = manager(ClusterConfig::with_servers(&[1, 2]));
        hb(&mut m, &c, 1, 0, 1);
        lv(&mut m, 1, 0, 420);
        m.push(true);
        let t = crate::output::status_table(&m.status());
        assert!(
            t.contains("thresholds in force: T1 600  T2 750  T3 900  C 1000"),
            "{t}"
        );
        assert!(t.contains("heartbeats arriving, application up"), "{t}");
        let line1 = t
            .lines()
            .find(|l| l.trim_start().starts_with("1 "))
            .unwrap();
        assert!(line1.contains("up") && line1.contains("420"), "{line1}");
        let line2 = t
            .lines()
            .find(|l| l.trim_start().starts_with("2 "))
            .unwrap();
        assert!(
            line2.contains("unknown") && line2.contains("waiting for the first heartbeat"),
            "{line2}"
        );
    }

    #[test]
    fn gateway_reports_go_to_the_kernel_and_are_counted() {
        use sara_core::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
        use sara_core::msg::announce::{emit, Announce, AnnounceEntry};
        let (mut m, _c, log) = manager(ClusterConfig::with_servers(&[1]));
        let sig = FlowKey::new([10, 0, 1, 2], 40000, [10, 0, 0, 100], 554, PROTO_TCP);
        let e = |p: u16| AnnounceEntry {
            signalling: sig,
            announced: FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], p, PROTO_UDP),
        };
        let dgram = |seq: u32, es: &[AnnounceEntry]| {
            let mut b = vec![0u8; 1400];
            let n = emit(&Announce { seq, entries: es }, &mut b).unwrap();
            b.truncate(n);
            b
        };
        // Port 42182 completes, 42183 is refused by the capture sink (odd port).
        assert!(!m.handle_datagram(&dgram(1, &[e(42182), e(42183)]), from()));
        m.handle_datagram(&dgram(4, &[e(42184)]), from()); // 2 and 3 lost
        let mut bad = dgram(5, &[e(42186)]);
        bad.pop();
        m.handle_datagram(&bad, from());
        let k = m.counters();
        assert_eq!(
            (
                k.datagrams,
                k.announce_datagrams,
                k.announce_entries,
                k.announce_completed
            ),
            (3, 2, 3, 2)
        );
        assert_eq!(
            (
                k.announce_rejected,
                k.announce_failed,
                k.announce_lost,
                k.garbage
            ),
            (1, 0, 2, 1)
        );
        assert_eq!(k.heartbeats + k.load_vectors, 0);
        let sent = m.sink().announces.lock().unwrap().clone();
        assert_eq!(
            sent,
            vec![e(42182).announced, e(42183).announced, e(42184).announced]
        );
        let log = log.lock().unwrap().join("\n");
        assert!(
            log.contains("gateway report seq=1 from 127.0.0.1:9: 2 entries, 1 completed, 1 rejected, 0 failed; kernel acked in"),
            "{log}"
        );
        assert!(log.contains("received_us="), "{log}");
        assert!(
            log.contains("rejected udp 10.0.1.2:7624 -> 10.0.0.100:42183: no live announced flow"),
            "{log}"
        );
        assert!(
            log.contains("gateway report from 127.0.0.1:9 that does not parse (truncated)"),
            "{log}"
        );
        assert!(crate::output::status_table(&m.status())
            .contains("gateway reports: 2 datagrams (2 lost), 3 entries: 2 completed, 1 rejected"));
        // A sink without gateway support: failed, said once.
        struct PushOnly;
        impl KernelSink for PushOnly {
            fn push(&mut self, _: &Push) -> std::result::Result<(), SinkError> {
                Ok(())
            }
        }
        let mut m = Manager::new(ClusterConfig::with_servers(&[1]), PushOnly)
            .unwrap()
            .with_dispatcher_load(Box::new(|| 0))
            .with_log(Box::new(|_| {}));
        m.handle_datagram(&dgram(1, &[e(42182)]), from());
        assert_eq!(m.counters().announce_failed, 1);
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sara-manager-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn key_file(dir: &Path, id: u32, fill: u8) -> PathBuf {
        let p = dir.join(format!("key{id}-{fill}"));
        let ring = crate::auth::KeyRing::single(crate::auth::Key {
            id,
            bytes: [fill; 32],
        });
        crate::auth::write_key_file(&p, &ring, true).unwrap();
        p
    }

    fn auth(key: &Path, sender: u32) -> DaemonAuth {
        DaemonAuth::new(&super::super::secure::AuthMode::KeyFile(key.into()), sender).unwrap()
    }

    fn heartbeat(id: u16, seq: u32, flag: Flag, c: &ManualClock) -> Vec<u8> {
        encode_heartbeat(&Heartbeat {
            host_id: id,
            seq,
            flag,
            timestamp: (c.now().unix_ms / 1000) as u32,
        })
    }

    #[test]
    fn sealed_datagrams_are_taken_and_the_others_refused_and_counted() {
        let d = temp_dir("auth");
        let key = key_file(&d, 1, 0x11);
        let other_key = key_file(&d, 1, 0x22); // same id, other bytes
        let text = r#"{"servers": [{"id": 1}, {"id": 2, "ip": "10.0.0.12"}]}"#;
        let cfg = ClusterConfig::parse(text, "t").unwrap();
        let (m, c, log) = manager(cfg);
        let mut m = m.with_auth(
            auth(&key, MANAGER_SENDER_ID).with_accept_from(vec!["10.0.0.0/24".parse().unwrap()]),
        );
        let s1: SocketAddr = "10.0.0.11:4000".parse().unwrap();
        let s2: SocketAddr = "10.0.0.12:4000".parse().unwrap();
        let (mut a1, mut a2) = (auth(&key, 1), auth(&key, 2));
        let mut forger = auth(&other_key, 2);
        // Genuine: taken.
        let hb1 = a1.seal(heartbeat(1, 0, Flag::Up, &c)).unwrap();
        m.handle_datagram(&hb1, s1);
        m.handle_datagram(&a2.seal(heartbeat(2, 0, Flag::Up, &c)).unwrap(), s2);
        assert_eq!(m.counters().heartbeats, 2);
        // Forged (server 2 "down", sealed with another key of the same id): bad_tag.
        m.handle_datagram(
            &forger.seal(heartbeat(2, 1, Flag::AppDown, &c)).unwrap(),
            s2,
        );
        // Unsealed (as before keys): malformed, not garbage.
        m.handle_datagram(&heartbeat(2, 1, Flag::AppDown, &c), s2);
        // Replayed: refused.
        m.handle_datagram(&hb1, s1);
        // Server 2's heartbeat from another address than its ip: wrong_source; from outside
        // --accept-from: wrong_source too.
        m.handle_datagram(&a2.seal(heartbeat(2, 2, Flag::AppDown, &c)).unwrap(), s1);
        m.handle_datagram(
            &a2.seal(heartbeat(2, 3, Flag::AppDown, &c)).unwrap(),
            "192.0.2.1:4000".parse().unwrap(),
        );
        // Sender 1 claiming server 2: unknown_sender; a gateway report from a server id too.
        m.handle_datagram(&a1.seal(heartbeat(2, 4, Flag::AppDown, &c)).unwrap(), s2);
        let report = {
            use sara_core::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
            use sara_core::msg::announce::{emit, Announce, AnnounceEntry};
            let e = AnnounceEntry {
                signalling: FlowKey::new([10, 0, 1, 2], 40000, [10, 0, 0, 100], 554, PROTO_TCP),
                announced: FlowKey::new([10, 0, 1, 2], 7624, [10, 0, 0, 100], 42182, PROTO_UDP),
            };
            let mut b = vec![0u8; 1400];
            let n = emit(
                &Announce {
                    seq: 1,
                    entries: &[e],
                },
                &mut b,
            )
            .unwrap();
            b.truncate(n);
            b
        };
        m.handle_datagram(&a1.seal(report.clone()).unwrap(), s1);
        assert_eq!(m.counters().announce_datagrams, 0);
        // The same report from a gateway's sender id: taken.
        let mut gw = auth(&key, super::super::secure::GATEWAY_SENDER_ID);
        m.handle_datagram(&gw.seal(report).unwrap(), "10.0.0.1:5000".parse().unwrap());
        assert_eq!(m.counters().announce_datagrams, 1);
        // Its own sender id (reflected back): refused.
        let mut me = auth(&key, MANAGER_SENDER_ID);
        m.handle_datagram(&me.seal(heartbeat(1, 5, Flag::Up, &c)).unwrap(), s1);

        let k = m.counters();
        assert_eq!((k.datagrams, k.heartbeats, k.garbage), (11, 2, 0));
        let st = m.status();
        let a = st.auth.clone().unwrap();
        let r = a.rejections;
        assert_eq!(
            (
                r.bad_tag,
                r.malformed,
                r.replay,
                r.wrong_source,
                r.unknown_sender
            ),
            (1, 1, 1, 2, 3)
        );
        assert_eq!(a.rejected, 8);
        assert_eq!((a.mode.as_str(), a.key_ids.as_slice()), ("keys", &[1][..]));
        // Nothing forged got through: server 2 is up.
        m.tick();
        assert!(
            m.status()
                .servers
                .iter()
                .all(|s| s.state == "up" && s.heartbeats == 1),
            "{:?}",
            m.status().servers
        );
        // Shown to people and in the JSON.
        let t = crate::output::status_table(&st);
        assert!(
            t.contains("authentication: keys 1 from ")
                && t.contains(
                    "refused 8: 1 malformed, 1 bad_tag, 3 unknown_sender, 2 wrong_source, 1 replay"
                ),
            "{t}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&crate::output::render(&st, crate::output::Format::Json)).unwrap();
        assert_eq!(v["auth"]["rejections"]["bad_tag"], 1);
        assert_eq!(v["auth"]["mode"], "keys");
        // Logged, once per reason.
        let log = log.lock().unwrap().join("\n");
        assert_eq!(log.matches("as bad_tag").count(), 1, "{log}");
        assert_eq!(log.matches("as wrong_source").count(), 1, "{log}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_manager_refuses_to_start_without_keys_or_insecure() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        enum Cli {
            Manager(ManagerArgs),
        }
        let d = temp_dir("start");
        let cfg = d.join("cluster.json");
        std::fs::write(&cfg, r#"{"servers": [{"id": 1}]}"#).unwrap();
        let args = |extra: &[&str]| {
            let mut v = vec![
                "sarectl",
                "manager",
                "--listen",
                "127.0.0.1:0",
                "--config",
                cfg.to_str().unwrap(),
                "--dry-run",
            ];
            v.extend_from_slice(extra);
            let Cli::Manager(a) = Cli::try_parse_from(v).unwrap();
            a
        };
        let e = run_with_sink(args(&[]), CaptureSink::default()).unwrap_err();
        assert!(
            e.message().contains("sarectl key generate /etc/sara/key")
                && e.message().contains("--insecure")
                && e.message().contains("\"key_file\""),
            "{e}"
        );
        // A key file named in the cluster file (relative to it) that does not exist: refused.
        std::fs::write(
            &cfg,
            r#"{"servers": [{"id": 1}], "key_file": "missing.key"}"#,
        )
        .unwrap();
        let e = run_with_sink(args(&[]), CaptureSink::default()).unwrap_err();
        assert!(
            e.message()
                .contains(&d.join("missing.key").display().to_string()),
            "{e}"
        );
        // A key file others may read: refused.
        let k = key_file(&d, 1, 1);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = run_with_sink(
            args(&["--key-file", k.to_str().unwrap()]),
            CaptureSink::default(),
        )
        .unwrap_err();
        assert!(e.message().contains("chmod 600"), "{e}");
        // The flags.
        let a = args(&["--accept-from", "10.0.0.0/24,192.0.2.7", "--insecure"]);
        assert_eq!(a.accept_from.len(), 2);
        assert_eq!(a.sender_id, MANAGER_SENDER_ID);
        assert!(Cli::try_parse_from([
            "sarectl",
            "manager",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "c",
            "--sender-id",
            "7"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "sarectl",
            "manager",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "c",
            "--accept-from",
            "10.0.0/8"
        ])
        .is_err());
        assert_eq!(
            config_key_file(
                &ClusterConfig::parse(r#"{"servers": [{"id": 1}], "key_file": "/abs"}"#, "t")
                    .unwrap(),
                &cfg
            ),
            Some(PathBuf::from("/abs"))
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn command_line() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        enum Cli {
            Manager(ManagerArgs),
        }
        let Cli::Manager(a) = Cli::try_parse_from([
            "sarectl",
            "manager",
            "--listen",
            "127.0.0.1:7460",
            "--config",
            "c.json",
        ])
        .unwrap();
        assert_eq!(a.status_file, PathBuf::from(DEFAULT_STATUS_FILE));
        assert!(!a.dry_run);
        assert!(Cli::try_parse_from(["sarectl", "manager", "--config", "c.json"]).is_err());
        assert!(
            Cli::try_parse_from(["sarectl", "manager", "--listen", "nope", "--config", "c"])
                .is_err()
        );
    }
}
