//! `sarectl agent`: the monitoring agent that runs on each server.
//!
//! Every δ it reads the load vector ([`super::measure`]) and sends it to the manager; every d it
//! sends a heartbeat whose flag says whether the application is up (1) or down (2), from an
//! optional check, or announces a planned failure (3).
//!
//! ## Planned failures: the drain file
//! `sarectl agent drain --at TIME` writes the planned failure time (Unix seconds, first line) to a
//! file, by default [`DEFAULT_DRAIN_FILE`]; the running agent reads that file before every heartbeat
//! and, while it exists, sends flag 3 with that time. The manager then drains the server (no new
//! sessions) until the time, and marks it down from then on. `sarectl agent drain --cancel` deletes
//! the file: heartbeats go back to flag 1/2 and the server comes back up. The file survives agent
//! restarts (a planned maintenance stays announced) and is written atomically (temporary file and
//! rename), so the agent never reads half of it. Several agents on one host each need their own
//! `--drain-file`.

use super::measure::{BacklogPort, Components, Sampler, Weights};
use super::secure::{AuthArgs, AuthMode, DaemonAuth};
use super::when::{format_unix_utc, parse_at};
use super::wire::{encode_heartbeat, encode_load, load_vector, Flag, Heartbeat};
use super::{Context, Error, Result};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Where `sarectl agent` looks for a planned failure, and `sarectl agent drain` writes it.
pub const DEFAULT_DRAIN_FILE: &str = "/run/sara/agent.drain";

const AGENT_AFTER_HELP: &str = "\
The agent sends a heartbeat every --heartbeat-ms and a load vector every --delta-ms to the
manager (sarectl manager) over UDP. Loads are per-mille: CPU (/proc/stat), memory
(/proc/meminfo), network buffers (/proc/net/sockstat), I/O queue (/sys/block/*/inflight),
application backlog (the accept queue of --backlog, or of the --check tcp port).

The heartbeat flag is 1 (application up) or 2 (application down) from --check or --check-cmd
(no check: always 1), or 3 while a planned failure is announced in the drain file (see
'sarectl agent drain --help').

Every datagram is sealed with the cluster key of --key-file (see 'sarectl key --help'), as sender
--id; the manager takes a server's messages only from that sender id (and, if its cluster file
gives the server's ip, from that address). --insecure sends them unauthenticated instead.

Examples:
  sarectl agent --manager 10.0.0.1:7460 --id 1 --check tcp:127.0.0.1:5060 --key-file /etc/sara/key
  sarectl agent --manager 10.0.0.1:7460 --id 2 --check-cmd 'systemctl is-active --quiet asterisk' \\
      --backlog udp:5060 --weights cpu=0.6,mem=0.2,backlog=0.2 --key-file /etc/sara/key
  sarectl agent drain --at +300          # planned failure in 5 minutes
  sarectl agent drain --cancel";

const DRAIN_AFTER_HELP: &str = "\
Writes the planned failure time to the drain file; the agent running on this server reads it
before each heartbeat and announces the failure (heartbeat flag 3). The manager stops giving the
server new sessions at once (draining) and marks it down at the announced time. The file stays
until 'sarectl agent drain --cancel' removes it, across agent restarts.

TIME is +SECONDS (or +5m, +1h) from now, @UNIX-SECONDS, or a UTC time like 2026-03-01T12:00:00Z.
The manager compares it with its own clock: keep the clocks synchronised (NTP).

Examples:
  sarectl agent drain --at +300
  sarectl agent drain --at 2026-03-01T22:00:00Z
  sarectl agent drain --cancel";

/// `sarectl agent …`: run the agent, or `sarectl agent drain …`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = AGENT_AFTER_HELP
)]
pub struct AgentArgs {
    /// Announce or cancel a planned failure of this server.
    #[command(subcommand)]
    pub action: Option<AgentAction>,
    /// Options of the running agent.
    #[command(flatten)]
    pub run: AgentRunArgs,
}

/// Subcommands of `sarectl agent`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AgentAction {
    /// Announce a planned failure of this server (or cancel it) to the running agent.
    #[command(after_help = DRAIN_AFTER_HELP)]
    Drain(DrainArgs),
}

/// Options of the running agent.
#[derive(clap::Args, Debug, Clone)]
pub struct AgentRunArgs {
    /// Address of the manager (sarectl manager --listen), as IP:PORT or HOST:PORT.
    #[arg(long, value_name = "IP:PORT", required = true)]
    pub manager: Option<String>,
    /// This server's id, as configured in the kernel (sarectl server add ID …) and the manager.
    #[arg(long, value_name = "N", required = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub id: Option<u16>,
    /// Period δ of the load vectors, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub delta_ms: u64,
    /// Period d of the heartbeats, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(10..))]
    pub heartbeat_ms: u64,
    /// Application check: the application is up while a TCP connection to IP:PORT succeeds.
    #[arg(long, value_name = "tcp:IP:PORT", conflicts_with = "check_cmd")]
    pub check: Option<String>,
    /// Application check: the application is up while this shell command exits with status 0.
    #[arg(long, value_name = "COMMAND")]
    pub check_cmd: Option<String>,
    /// Period of the application check, in milliseconds; it is also the check's time limit.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub check_ms: u64,
    /// Weights of the load components in the scalar load, e.g. cpu=0.5,mem=0.2,backlog=0.3
    /// (components not named weigh 0). Default: cpu=0.4,mem=0.2,net=0.1,io=0.1,backlog=0.2.
    #[arg(long, value_name = "NAME=W,…")]
    pub weights: Option<String>,
    /// Port whose backlog is the application-backlog load: tcp:PORT (accept queue) or udp:PORT
    /// (receive queue). Default: the port of --check tcp:…, else none (backlog 0).
    #[arg(long, value_name = "tcp:PORT|udp:PORT")]
    pub backlog: Option<String>,
    /// File announcing a planned failure (written by 'sarectl agent drain').
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DRAIN_FILE)]
    pub drain_file: PathBuf,
    /// `--key-file FILE` or `--insecure`.
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// Options of `sarectl agent drain`.
#[derive(clap::Args, Debug, Clone)]
pub struct DrainArgs {
    /// When the server will fail: +SECONDS, +5m, +1h, @UNIX-SECONDS or 2026-03-01T12:00:00Z.
    #[arg(long, value_name = "TIME", required_unless_present = "cancel")]
    pub at: Option<String>,
    /// Cancel the announced planned failure.
    #[arg(long, conflicts_with = "at")]
    pub cancel: bool,
    /// The drain file of the agent (its --drain-file).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_DRAIN_FILE)]
    pub drain_file: PathBuf,
}

/// How the agent decides whether the application is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A TCP connection to this address succeeds.
    Tcp(SocketAddr),
    /// This shell command exits with status 0.
    Cmd(String),
}

/// The agent's settings, checked.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where the messages go.
    pub manager: SocketAddr,
    /// Server id.
    pub id: u16,
    /// Load vector period δ.
    pub delta: Duration,
    /// Heartbeat period d.
    pub heartbeat: Duration,
    /// Application check.
    pub check: Option<Check>,
    /// Period (and time limit) of the check.
    pub check_every: Duration,
    /// Weights of the scalar load.
    pub weights: Weights,
    /// Port whose backlog is measured.
    pub backlog: Option<BacklogPort>,
    /// Drain file.
    pub drain_file: PathBuf,
    /// Authentication of the datagrams (sealed as sender `id`).
    pub auth: AuthMode,
}

impl AgentConfig {
    /// Checks the command line.
    pub fn from_args(a: &AgentRunArgs) -> Result<Self> {
        let manager_s = a
            .manager
            .as_deref()
            .ok_or_else(|| Error::new("--manager IP:PORT is required"))?;
        let manager = manager_s
            .to_socket_addrs()
            .ctx(|| format!("resolving the manager address {manager_s:?} (expected IP:PORT)"))?
            .next()
            .ok_or_else(|| {
                Error::new(format!(
                    "the manager address {manager_s:?} resolves to nothing"
                ))
            })?;
        let id = a.id.ok_or_else(|| Error::new("--id N is required"))?;
        let check = match (&a.check, &a.check_cmd) {
            (Some(c), _) => {
                let addr = c.strip_prefix("tcp:").ok_or_else(|| {
                    Error::new(format!(
                        "--check {c:?}: expected tcp:IP:PORT (or use --check-cmd)"
                    ))
                })?;
                let sa = addr
                    .to_socket_addrs()
                    .ctx(|| format!("resolving the --check address {addr:?}"))?
                    .next()
                    .ok_or_else(|| {
                        Error::new(format!("--check address {addr:?} resolves to nothing"))
                    })?;
                Some(Check::Tcp(sa))
            }
            (None, Some(cmd)) => Some(Check::Cmd(cmd.clone())),
            (None, None) => None,
        };
        let weights = match &a.weights {
            Some(w) => Weights::parse(w).map_err(|e| Error::new(format!("--weights: {e}")))?,
            None => Weights::default(),
        };
        let backlog = match (&a.backlog, &check) {
            (Some(b), _) => {
                Some(BacklogPort::parse(b).map_err(|e| Error::new(format!("--backlog: {e}")))?)
            }
            (None, Some(Check::Tcp(sa))) => Some(BacklogPort::Tcp(sa.port())),
            _ => None,
        };
        let auth = a.auth.mode(None)?;
        Ok(AgentConfig {
            manager,
            id,
            delta: Duration::from_millis(a.delta_ms),
            heartbeat: Duration::from_millis(a.heartbeat_ms),
            check,
            check_every: Duration::from_millis(a.check_ms),
            weights,
            backlog,
            drain_file: a.drain_file.clone(),
            auth,
        })
    }
}

/// Runs `sarectl agent …`: the agent (until killed), or `drain`.
pub fn run(args: AgentArgs) -> Result<()> {
    match args.action {
        Some(AgentAction::Drain(d)) => drain(&d),
        None => {
            let cfg = AgentConfig::from_args(&args.run)?;
            let stop = AtomicBool::new(false);
            Agent::new(cfg)?.run(&stop)
        }
    }
}

/// Runs `sarectl agent drain …`.
pub fn drain(d: &DrainArgs) -> Result<()> {
    if d.cancel {
        match std::fs::remove_file(&d.drain_file) {
            Ok(()) => println!(
                "planned failure cancelled (removed {})",
                d.drain_file.display()
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                println!(
                    "no planned failure was announced ({} does not exist)",
                    d.drain_file.display()
                )
            }
            Err(e) => {
                return Err(Error::new(format!(
                    "removing the drain file {}: {e}",
                    d.drain_file.display()
                )))
            }
        }
        return Ok(());
    }
    let at_s =
        d.at.as_deref()
            .ok_or_else(|| Error::new("--at TIME or --cancel is required"))?;
    let now = super::unix_ms_now() / 1000;
    let at = parse_at(at_s, now).map_err(|e| Error::new(format!("--at: {e}")))?;
    write_drain_file(&d.drain_file, at)?;
    let when = if at > now {
        format!("in {} s", at - now)
    } else {
        "now: already past".into()
    };
    println!(
        "planned failure announced for {} ({when}), written to {}; the agent reads it before its next heartbeat",
        format_unix_utc(at),
        d.drain_file.display()
    );
    Ok(())
}

/// Writes a drain file announcing a planned failure at `at_unix_s`, atomically.
pub fn write_drain_file(path: &Path, at_unix_s: u64) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).ctx(|| {
            format!(
                "creating the directory {} for the drain file",
                dir.display()
            )
        })?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let text = format!(
        "{at_unix_s}\n# planned failure at {} (Unix seconds above), written by sarectl agent drain\n",
        format_unix_utc(at_unix_s)
    );
    std::fs::write(&tmp, text).ctx(|| format!("writing the drain file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| {
        format!(
            "renaming {} to the drain file {}",
            tmp.display(),
            path.display()
        )
    })
}

/// Reads a drain file: `Ok(None)` when it does not exist.
pub fn read_drain_file(path: &Path) -> Result<Option<u64>> {
    match std::fs::read_to_string(path) {
        Ok(t) => {
            let first = t.split_whitespace().next().unwrap_or("");
            match first.parse::<u64>() {
                Ok(v) if v <= u64::from(u32::MAX) => Ok(Some(v)),
                _ => Err(Error::new(format!(
                    "the drain file {} does not start with a Unix time in seconds (found {first:?}); \
                     rewrite it with 'sarectl agent drain --at …' or remove it with --cancel",
                    path.display()
                ))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(format!(
            "reading the drain file {}: {e}",
            path.display()
        ))),
    }
}

/// Runs one application check; `Err` says why the application is down.
pub fn run_check(check: &Check, limit: Duration) -> std::result::Result<(), String> {
    match check {
        Check::Tcp(addr) => TcpStream::connect_timeout(addr, limit)
            .map(|_| ())
            .map_err(|e| format!("TCP connection to {addr} failed: {e}")),
        Check::Cmd(cmd) => {
            let mut child = Command::new("/bin/sh")
                .arg("-c")
                .arg(cmd)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start /bin/sh for the check command {cmd:?}: {e}"))?;
            let deadline = Instant::now() + limit;
            loop {
                match child.try_wait() {
                    Ok(Some(st)) if st.success() => return Ok(()),
                    Ok(Some(st)) => return Err(format!("check command {cmd:?} ended with {st}")),
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(format!(
                            "check command {cmd:?} still running after {} ms: killed",
                            limit.as_millis()
                        ));
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    Err(e) => return Err(format!("waiting for the check command {cmd:?}: {e}")),
                }
            }
        }
    }
}

/// Source of load components (the live system by default).
pub type ComponentSource = Box<dyn FnMut() -> Components + Send>;
/// Where the agent's log lines go (stderr by default).
pub type LogFn = Box<dyn FnMut(&str) + Send>;

/// The running agent.
pub struct Agent {
    cfg: AgentConfig,
    sock: UdpSocket,
    source: ComponentSource,
    log: LogFn,
    hb_seq: u32,
    load_seq: u32,
    drain: Option<u64>,
    drain_error: Option<String>,
    send_error: Option<String>,
    auth: DaemonAuth,
}

impl Agent {
    /// An agent with its UDP socket (bound to an ephemeral port of the wildcard address) and its
    /// keys (the key file must be good).
    pub fn new(cfg: AgentConfig) -> Result<Self> {
        let auth = DaemonAuth::new(&cfg.auth, u32::from(cfg.id))?;
        let bind: SocketAddr = if cfg.manager.is_ipv4() {
            "0.0.0.0:0".parse()
        } else {
            "[::]:0".parse()
        }
        .expect("literal");
        let sock = UdpSocket::bind(bind).ctx(|| {
            format!(
                "opening a UDP socket to send to the manager {}",
                cfg.manager
            )
        })?;
        let mut sampler = Sampler::new(cfg.backlog);
        let log_prefix = format!("sarectl agent {}", cfg.id);
        let source: ComponentSource = Box::new(move || {
            let s = sampler.sample();
            for p in s.new_problems {
                eprintln!("{log_prefix}: {p}");
            }
            s.components
        });
        let id = cfg.id;
        Ok(Agent {
            cfg,
            sock,
            source,
            log: Box::new(move |l| eprintln!("sarectl agent {id}: {l}")),
            hb_seq: 0,
            load_seq: 0,
            drain: None,
            drain_error: None,
            send_error: None,
            auth,
        })
    }

    /// Replaces the load measurement (tests, simulations).
    pub fn with_source(mut self, source: ComponentSource) -> Self {
        self.source = source;
        self
    }

    /// Replaces the log output.
    pub fn with_log(mut self, log: LogFn) -> Self {
        self.log = log;
        self
    }

    fn send(&mut self, msg: Vec<u8>, what: &str) {
        let bytes = match self.auth.seal(msg) {
            Ok(b) => b,
            // Cannot happen for these short messages; said all the same.
            Err(e) => {
                let msg = format!("cannot seal a {what}: {e}");
                if self.send_error.as_deref() != Some(msg.as_str()) {
                    (self.log)(&msg);
                    self.send_error = Some(msg);
                }
                return;
            }
        };
        match self.sock.send_to(&bytes, self.cfg.manager) {
            Ok(_) => {
                if self.send_error.take().is_some() {
                    (self.log)(&format!(
                        "sending to the manager {} works again",
                        self.cfg.manager
                    ));
                }
            }
            Err(e) => {
                let msg = format!(
                    "sending a {what} to the manager {} failed: {e} (will keep trying)",
                    self.cfg.manager
                );
                if self.send_error.as_deref() != Some(msg.as_str()) {
                    (self.log)(&msg);
                    self.send_error = Some(msg);
                }
            }
        }
    }

    fn poll_drain(&mut self) {
        match read_drain_file(&self.cfg.drain_file) {
            Ok(d) => {
                self.drain_error = None;
                if d != self.drain {
                    match d {
                        Some(at) => (self.log)(&format!(
                            "planned failure announced for {} (from {}): heartbeats now carry flag 3",
                            format_unix_utc(at),
                            self.cfg.drain_file.display()
                        )),
                        None => (self.log)(&format!(
                            "planned failure cancelled ({} removed): heartbeats carry flag 1/2 again",
                            self.cfg.drain_file.display()
                        )),
                    }
                    self.drain = d;
                }
            }
            // Keep what was announced before; complain once.
            Err(e) => {
                if self.drain_error.as_deref() != Some(e.message()) {
                    (self.log)(e.message());
                    self.drain_error = Some(e.message().to_string());
                }
            }
        }
    }

    /// Sends heartbeats and load vectors until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<()> {
        let app = AtomicU8::new(Flag::Up as u8);
        let check = self.cfg.check.clone();
        let every = self.cfg.check_every;
        let id = self.cfg.id;
        (self.log)(&format!(
            "sending heartbeats every {} ms and load vectors every {} ms to {}",
            self.cfg.heartbeat.as_millis(),
            self.cfg.delta.as_millis(),
            self.cfg.manager
        ));
        (self.log)(&self.auth.start_line());
        std::thread::scope(|s| {
            if let Some(check) = check {
                // The first result before the first heartbeat.
                let first = run_check(&check, every);
                if let Err(why) = &first {
                    (self.log)(&format!("application down: {why}"));
                    app.store(Flag::AppDown as u8, Ordering::Relaxed);
                }
                let app = &app;
                s.spawn(move || {
                    let mut last = first;
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        while t0.elapsed() < every && !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(20).min(every));
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = run_check(&check, every);
                        match (&last, &r) {
                            (Ok(()), Err(why)) => {
                                eprintln!("sarectl agent {id}: application down: {why}")
                            }
                            (Err(_), Ok(())) => {
                                eprintln!("sarectl agent {id}: application up again")
                            }
                            _ => {}
                        }
                        let flag = if r.is_ok() { Flag::Up } else { Flag::AppDown };
                        app.store(flag as u8, Ordering::Relaxed);
                        last = r;
                    }
                });
            }
            let mut next_hb = Instant::now();
            let mut next_load = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let now = Instant::now();
                self.auth.poll(now);
                for l in self.auth.take_log() {
                    (self.log)(&l);
                }
                if now >= next_hb {
                    self.poll_drain();
                    let (flag, timestamp) = match self.drain {
                        Some(at) => (Flag::PlannedFailure, at as u32),
                        None => (
                            Flag::from_u8(app.load(Ordering::Relaxed)).unwrap_or(Flag::Up),
                            (super::unix_ms_now() / 1000) as u32,
                        ),
                    };
                    let hb = Heartbeat {
                        host_id: self.cfg.id,
                        seq: self.hb_seq,
                        flag,
                        timestamp,
                    };
                    self.hb_seq = self.hb_seq.wrapping_add(1);
                    self.send(encode_heartbeat(&hb), "heartbeat");
                    next_hb += self.cfg.heartbeat;
                    if next_hb < now {
                        next_hb = now + self.cfg.heartbeat; // we were late: do not burst
                    }
                }
                if now >= next_load {
                    let components = (self.source)();
                    let v = load_vector(
                        self.cfg.id,
                        self.load_seq,
                        super::unix_ms_now() as u32, // modulo 2³², as the format says
                        &components,
                        self.cfg.weights.scalar(&components),
                    );
                    self.load_seq = self.load_seq.wrapping_add(1);
                    self.send(encode_load(&v), "load vector");
                    next_load += self.cfg.delta;
                    if next_load < now {
                        next_load = now + self.cfg.delta;
                    }
                }
                let wake = next_hb.min(next_load);
                let now = Instant::now();
                if wake > now {
                    std::thread::sleep((wake - now).min(Duration::from_millis(100)));
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    enum Cli {
        Agent(AgentArgs),
    }

    fn parse(args: &[&str]) -> std::result::Result<AgentArgs, clap::Error> {
        let mut v = vec!["sarectl", "agent"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|Cli::Agent(a)| a)
    }

    #[test]
    fn command_line() {
        let a = parse(&[
            "--manager",
            "127.0.0.1:7460",
            "--id",
            "3",
            "--check",
            "tcp:127.0.0.1:8080",
        ])
        .unwrap();
        assert!(a.action.is_none());
        // Neither --key-file nor --insecure: refused, saying how to make a key.
        let e = AgentConfig::from_args(&a.run).unwrap_err();
        assert!(
            e.message().contains("sarectl key generate /etc/sara/key")
                && e.message().contains("--insecure"),
            "{e}"
        );
        let k = parse(&["--manager", "127.0.0.1:1", "--id", "3", "--key-file", "/k"]).unwrap();
        assert_eq!(
            AgentConfig::from_args(&k.run).unwrap().auth,
            AuthMode::KeyFile("/k".into())
        );
        assert!(parse(&[
            "--manager",
            "127.0.0.1:1",
            "--id",
            "3",
            "--key-file",
            "/k",
            "--insecure"
        ])
        .is_err());
        let mut a = a;
        a.run.auth.insecure = true;
        let c = AgentConfig::from_args(&a.run).unwrap();
        assert_eq!(c.auth, AuthMode::Insecure);
        assert_eq!(c.id, 3);
        assert_eq!(c.delta, Duration::from_millis(1000));
        assert_eq!(c.heartbeat, Duration::from_millis(200));
        assert_eq!(
            c.backlog,
            Some(BacklogPort::Tcp(8080)),
            "backlog port from the tcp check"
        );
        assert_eq!(c.drain_file, PathBuf::from(DEFAULT_DRAIN_FILE));
        assert!(parse(&["--id", "3"]).is_err(), "--manager is required");
        assert!(
            parse(&["--manager", "127.0.0.1:1"]).is_err(),
            "--id is required"
        );
        assert!(parse(&["--manager", "127.0.0.1:1", "--id", "0"]).is_err());
        assert!(parse(&[
            "--manager",
            "a:1",
            "--id",
            "1",
            "--check",
            "tcp:x:1",
            "--check-cmd",
            "true"
        ])
        .is_err());

        let a = parse(&[
            "--manager",
            "127.0.0.1:1",
            "--id",
            "1",
            "--check",
            "udp:1.2.3.4:5",
        ])
        .unwrap();
        assert!(AgentConfig::from_args(&a.run)
            .unwrap_err()
            .message()
            .contains("tcp:IP:PORT"));
        let a = parse(&[
            "--manager",
            "127.0.0.1:1",
            "--id",
            "1",
            "--weights",
            "cpu=x",
        ])
        .unwrap();
        assert!(AgentConfig::from_args(&a.run)
            .unwrap_err()
            .message()
            .starts_with("--weights"));
        let a = parse(&["--manager", "nonsense", "--id", "1"]).unwrap();
        assert!(AgentConfig::from_args(&a.run)
            .unwrap_err()
            .message()
            .contains("manager address"));
    }

    #[test]
    fn drain_command_line() {
        let a = parse(&["drain", "--at", "+30"]).unwrap();
        match a.action {
            Some(AgentAction::Drain(d)) => {
                assert_eq!(d.at.as_deref(), Some("+30"));
                assert!(!d.cancel);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["drain"]).is_err(), "--at or --cancel");
        assert!(parse(&["drain", "--cancel"]).is_ok());
        assert!(parse(&["drain", "--cancel", "--at", "+1"]).is_err());
    }

    #[test]
    fn drain_file_round_trip() {
        let dir = std::env::temp_dir().join(format!("sara-agent-drain-{}", std::process::id()));
        let f = dir.join("sub/agent.drain");
        assert_eq!(read_drain_file(&f).unwrap(), None);
        write_drain_file(&f, 1_772_366_400).unwrap();
        assert_eq!(read_drain_file(&f).unwrap(), Some(1_772_366_400));
        assert!(std::fs::read_to_string(&f)
            .unwrap()
            .contains("2026-03-01T12:00:00Z"));
        std::fs::write(&f, "soon\n").unwrap();
        let e = read_drain_file(&f).unwrap_err();
        assert!(
            e.message().contains("does not start with a Unix time"),
            "{e}"
        );
        drain(&DrainArgs {
            at: None,
            cancel: true,
            drain_file: f.clone(),
        })
        .unwrap();
        assert_eq!(read_drain_file(&f).unwrap(), None);
        drain(&DrainArgs {
            at: Some("+60".into()),
            cancel: false,
            drain_file: f.clone(),
        })
        .unwrap();
        let at = read_drain_file(&f).unwrap().unwrap();
        let now = super::super::unix_ms_now() / 1000;
        assert!(at >= now + 59 && at <= now + 61, "{at} vs {now}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn checks() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert!(run_check(&Check::Tcp(addr), Duration::from_millis(500)).is_ok());
        drop(l);
        let e = run_check(&Check::Tcp(addr), Duration::from_millis(500)).unwrap_err();
        assert!(e.contains(&addr.to_string()), "{e}");
        assert!(run_check(&Check::Cmd("true".into()), Duration::from_secs(2)).is_ok());
        let e = run_check(&Check::Cmd("exit 3".into()), Duration::from_secs(2)).unwrap_err();
        assert!(e.contains("exit status: 3"), "{e}");
        let t = Instant::now();
        let e = run_check(&Check::Cmd("sleep 5".into()), Duration::from_millis(100)).unwrap_err();
        assert!(
            e.contains("killed") && t.elapsed() < Duration::from_secs(2),
            "{e}"
        );
    }
}
