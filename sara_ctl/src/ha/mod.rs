//! `sarectl ha`: dispatcher failover (sara-spec.md, "High availability of the dispatcher").
//!
//! `sarectl ha run` runs on each of the two dispatchers, next to sara.ko with the same services and
//! servers configured on both. The protocol is in [`node`]; [`kernel`] is sara.ko's side (role,
//! replication ring, installing records), [`vip`] the virtual IP on the interface, [`link`] the
//! sealing and opening of the datagrams (`--key-file`, the `--peer` address). The daemon writes its
//! state to a status file, which `sarectl ha status` shows with the kernel's role.

pub mod kernel;
pub mod link;
pub mod node;
pub mod vip;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sara_core::msg::repl::{Role, BATCH_HEADER_LEN};
use serde_json::{json, Value};

use crate::cli;
use crate::control::secure::{AuthArgs, Cidr, DaemonAuth};
use crate::control::{unix_ms_now, Error, Result};
use crate::kernel::HaRole;
use crate::output::{Format, HaStatus, Output};
use link::Link;
use node::{Config, Node};

/// Default status file.
pub const DEFAULT_STATUS_FILE: &str = "/run/sara/ha.json";

const STATUS_AFTER_HELP: &str = "\
Reads the status file that `sarectl ha run` rewrites every 200 ms, and sara.ko's role in this
network namespace. Exit status 4 when there is no status file (the daemon is not running, or has
another --status-file), except with --json.

With --prometheus, the Prometheus text format (times in seconds; a figure the file does not hold,
such as the backup's lag on the active dispatcher, is left out):
  sara_failover_role{role=active|backup}         1 for the daemon's role, 0 for the other
  sara_failover_kernel_role{role=standalone|active|backup}  sara.ko's role, read now
  sara_failover_synced                           1 when the backup holds every session (1 on
                                                 the active)
  sara_failover_sessions_known                   sessions the backup holds
  sara_failover_peer_alive                       1 while the peer's heartbeats come
  sara_failover_peer_heartbeat_age_seconds       since the peer's last datagram
  sara_failover_records_unread, _batches_unacked, _ack_age_seconds   the active's lag
  sara_failover_last_batch_age_seconds           the backup's: since the last batch
  sara_failover_last_takeover_timestamp_seconds  when this dispatcher last took the VIP
  sara_failover_takeovers_total, _stepdowns_total, _late_ticks_total, _batches_sent_total,
  _batches_received_total, _batches_lost_total, _records_sent_total, _records_applied_total,
  _records_failed_total, _resyncs_requested_total, _resyncs_sent_total, _resyncs_failed_total,
  _records_adopted_total, _records_adopt_skipped_total, _handbacks_sent_total,
  _handback_sessions_sent_total, _handback_batches_received_total, _garbage_total,
  _send_errors_total
  sara_auth_refused_total{daemon=\"ha\",reason=...}         refused datagrams, every reason
  sara_auth_insecure{daemon=\"ha\"}                         1 when run with --insecure
  sara_status_written_timestamp_seconds{daemon=\"ha\"}      when the file was written
The same families from `sarectl status --prometheus` have daemon=\"manager\". Write the file
atomically (node_exporter may read it at any moment):
  f=/var/lib/node_exporter/textfile/sara-ha.prom
  sarectl ha status --prometheus > $f.$$ && mv $f.$$ $f
and alert, for example, on sum(sara_failover_role{role=\"active\"}) != 1 over both dispatchers,
sara_failover_synced == 0 on the backup for long, or rate(sara_auth_refused_total[5m]) > 0.

Examples:
  sarectl ha status
  sarectl ha status --json --status-file /run/sara/ha.json
  sarectl ha status --prometheus";

const RUN_AFTER_HELP: &str = "\
Run one on each of the two dispatchers. Both need sara.ko with the same services and servers (same
server ids), the cluster interface (--dev) on the servers' segment, and each other's --listen address
as --peer. The daemon starts as backup (sara.ko forwards nothing, the VIP is removed from --dev),
listens for 2 x misses x period, then:
  * no active peer heard: it takes the VIP (sara.ko active, VIP added to --dev, gratuitous ARP);
  * an active peer: it stays backup, asks for a full copy of the peer's sessions, then follows every
    session opened, moved or ended there (batched, numbered; a lost batch is repaired by a new full
    copy). A backup in sync takes over within misses x period of the active's last heartbeat, and its
    sessions keep their servers.
Of two active dispatchers (after a partition, or a takeover from a peer that was only silent for a
while), the one with the lower priority (then id) steps down and hands back the sessions it opened
while active; the other adopts those it has no entry for (its own decisions stand), so they keep
their servers. With --preempt, a backup of higher priority takes the VIP back once it is in sync:
the active steps down first, so no packet is ever forwarded by both.

Every datagram is sealed with the cluster key of --key-file (see 'sarectl key --help') as sender
--id, and only datagrams from the --peer address, sealed by the peer's id (the one its batch
header names, never this dispatcher's own), and not seen before are taken: a stranger can neither
claim the active role nor inject sessions. --accept-from further limits the source networks.
Refusals are counted by reason in the status (sarectl ha status). --insecure sends and takes
unauthenticated datagrams (as VRRP without authentication), as before keys existed: then keep the
replication port reachable between the dispatchers only.

Example (dispatcher 1, the preferred one; dispatcher 2 the same with --id 2 --priority 100 and the
addresses swapped):
  sarectl ha run --id 1 --priority 200 --preempt --listen 10.0.0.2:7410 --peer 10.0.0.3:7410 \\
      --vip 10.0.0.100 --dev eth0 --key-file /etc/sara/key";

/// `sarectl ha …`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum HaCmd {
    /// Run the failover daemon on this dispatcher
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Show this dispatcher's role, its peer, the replication lag and the last takeover
    #[command(after_help = STATUS_AFTER_HELP)]
    Status(StatusArgs),
    /// Set sara.ko's role by hand (maintenance; `ha run` manages it while it runs)
    #[command(after_help = "\
standalone: no failover (forwards, replicates nothing: a single dispatcher); active: forwards and
queues replication records; backup: forwards nothing (the VIP's packets are dropped and counted).
Stop `sarectl ha run` first: it would set the role back.

Examples:
  sarectl ha role standalone
  sarectl ha role backup")]
    Role(RoleArgs),
}

/// `sarectl ha role`.
#[derive(clap::Args, Debug, Clone)]
pub struct RoleArgs {
    /// standalone, active or backup
    #[arg(value_parser = ["standalone", "active", "backup"])]
    pub role: String,
}

/// `sarectl ha role`.
pub fn set_role(args: &RoleArgs) -> Result<()> {
    let role = match args.role.as_str() {
        "active" => HaRole::Active,
        "backup" => HaRole::Backup,
        _ => HaRole::Standalone,
    };
    let mut c = crate::kernel::Client::open()
        .map_err(|e| Error::new(format!("opening sara.ko's control socket: {e}")))?;
    c.ha_set_role(role)
        .map_err(|e| Error::new(format!("setting sara.ko's role to {}: {e}", args.role)))
}

/// `sarectl ha run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// This dispatcher's id, 1..65535 (different from the peer's)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub id: u16,
    /// Priority, 1..255: the higher one keeps (or, with --preempt, takes back) the VIP
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..))]
    pub priority: u8,
    /// Take the VIP back from a lower-priority active peer once in sync with it
    #[arg(long)]
    pub preempt: bool,
    /// UDP address to receive the peer's heartbeats and replication on (IP:PORT)
    #[arg(long)]
    pub listen: SocketAddr,
    /// The peer dispatcher's --listen address (IP:PORT)
    #[arg(long)]
    pub peer: SocketAddr,
    /// The virtual IP
    #[arg(long)]
    pub vip: Ipv4Addr,
    /// Interface the VIP goes on (the cluster segment)
    #[arg(long)]
    pub dev: String,
    /// Heartbeat period, ms
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(10..=10000))]
    pub period_ms: u64,
    /// Heartbeats missed before the peer is taken for failed
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=100))]
    pub misses: u32,
    /// How often the active dispatcher reads sara.ko's replication ring, ms
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub repl_ms: u64,
    /// Where to write the daemon's state (read by sarectl ha status)
    #[arg(long, default_value = DEFAULT_STATUS_FILE)]
    pub status_file: PathBuf,
    /// Testing: drop this percentage of outgoing replication batches (heartbeats are kept)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100), hide = true)]
    pub drop_percent: u8,
    /// `--key-file FILE` or `--insecure`.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Take datagrams only from these networks (CIDR, comma-separated or repeated), besides the
    /// --peer address check; others are refused as wrong_source. Default: any network.
    #[arg(long, value_name = "CIDR[,CIDR…]", value_delimiter = ',')]
    pub accept_from: Vec<Cidr>,
    /// Real-time priority of the daemon (SCHED_RR, 1-99), with its memory locked: a busy machine must
    /// not delay its heartbeats, or the peer takes over from a live dispatcher. As corosync does.
    /// Without the privilege it runs at normal priority and says so.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=99))]
    pub rt_priority: u8,
    /// Run at normal priority, memory not locked (not recommended: see --rt-priority)
    #[arg(long)]
    pub no_realtime: bool,
}

/// `sarectl ha status`.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    /// The daemon's status file
    #[arg(long, default_value = DEFAULT_STATUS_FILE)]
    pub status_file: PathBuf,
    /// Print the Prometheus text format instead of text (for node_exporter's textfile collector):
    /// role, peer, replication lag, takeovers, batches and records, refused datagrams by reason;
    /// the metrics are listed below. Not with --json.
    // No `conflicts_with = "json"`: --json is sarectl's global flag, unknown to this crate's own
    // parsers (tests); main.rs refuses the pair.
    #[arg(long)]
    pub prometheus: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Active => "active",
        Role::Backup => "backup",
    }
}

/// A tiny deterministic generator for the drop injection.
struct Lcg(u64);
impl Lcg {
    fn next_percent(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % 100) as u8
    }
}

struct Sender {
    sock: UdpSocket,
    link: Link,
    drop_percent: u8,
    rng: Lcg,
    dropped: u64,
    send_errors: u64,
}

impl Sender {
    /// A datagram received from `from`: opened by the link (refused ones are counted there), handed to
    /// the node, and the node's answers sent.
    fn deliver(
        &mut self,
        d: &[u8],
        from: SocketAddr,
        node: &mut Node,
        k: &mut dyn node::Kernel,
        v: &mut dyn node::Vip,
    ) {
        let now = Instant::now();
        if let Some(msg) = self.link.open(d, from, now, &mut node.totals.garbage) {
            let out = node.receive(msg, now, k, v);
            self.send(out);
        }
    }

    fn send(&mut self, out: Vec<Vec<u8>>) {
        for (i, d) in out.into_iter().enumerate() {
            // Decided on the message (a batch with records), before its trailer is added.
            if self.drop_percent > 0
                && d.len() > BATCH_HEADER_LEN
                && self.rng.next_percent() < self.drop_percent
            {
                self.dropped += 1;
                continue;
            }
            let Some(d) = self.link.seal(d) else {
                self.send_errors += 1;
                continue;
            };
            if self.sock.send_to(&d, self.link.peer()).is_err() {
                self.send_errors += 1;
            }
            // A long resynchronisation: let the peer keep up (its socket buffer is 4 MiB).
            if i % 256 == 255 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

fn set_buffers(sock: &UdpSocket) {
    for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // Larger buffers ride out a resynchronisation; failure is harmless.
        let _ = crate::sys::set_int_option(sock, libc::SOL_SOCKET, opt, 4 << 20);
    }
}

fn status_json(
    node: &Node,
    args: &RunArgs,
    k: &mut kernel::NlKernel,
    s: &Sender,
    now: Instant,
) -> Value {
    let kr = kernel::ha_get(k.client()).ok();
    let peer = node.peer().map(|p| {
        json!({
            "addr": args.peer.to_string(),
            "id": p.id,
            "role": role_name(p.role),
            "priority": p.priority,
            "heard_ms_ago": now.saturating_duration_since(p.heard).as_millis() as u64,
            "alive": node.peer_alive(now),
        })
    });
    let (epoch, seq) = node.position();
    let lag = match node.role() {
        Role::Active => {
            let pending = kr.map(|s| s.head.saturating_sub(node.ring_next()));
            let (batches, ack_age) = node
                .lag(now)
                .map_or((None, None), |(b, a)| (Some(b), Some(a.as_millis() as u64)));
            json!({"records_unread": pending, "batches_unacked": batches, "ack_age_ms": ack_age})
        }
        Role::Backup => json!({
            "last_batch_ms_ago": node.since_last_batch(now).map(|d| d.as_millis() as u64),
            "synced": node.synced(),
        }),
    };
    let t = &node.totals;
    json!({
        "id": args.id,
        "priority": args.priority,
        "preempt": args.preempt,
        "role": role_name(node.role()),
        "kernel_role": kr.map(|s| cli::ha_role_name(s.role)),
        "vip": args.vip.to_string(),
        "dev": args.dev,
        "peer": peer,
        "epoch": epoch,
        "seq": seq,
        "synced": node.role() == Role::Active || node.synced(),
        "sessions_known": node.sessions_known(),
        "lag": lag,
        "last_takeover": node.last_takeover.as_ref().map(|x| json!({"at_unix_ms": x.at_unix_ms, "reason": x.reason})),
        "totals": {
            "batches_sent": t.batches_sent, "batches_received": t.batches_received,
            "batches_lost": t.batches_lost, "records_sent": t.records_sent,
            "records_applied": t.records_applied, "records_failed": t.records_failed,
            "resyncs_requested": t.resyncs_requested, "resyncs_sent": t.resyncs_sent,
            "resyncs_failed": t.resyncs_failed,
            "takeovers": t.takeovers, "stepdowns": t.stepdowns, "garbage": t.garbage,
            "late_ticks": t.late_ticks,
            "records_adopted": t.records_adopted, "records_adopt_skipped": t.records_adopt_skipped,
            "handbacks_sent": t.handbacks_sent, "handback_sessions_sent": t.handback_sessions_sent,
            "handback_batches_received": t.handback_batches_received,
            "dropped_for_test": s.dropped, "send_errors": s.send_errors,
        },
        "auth": serde_json::to_value(s.link.status()).unwrap_or(Value::Null),
        "written_unix_ms": unix_ms_now(),
    })
}

fn write_status(path: &PathBuf, v: &Value) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, format!("{v}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// `sarectl ha run`. Refuses to start without keys or `--insecure`.
pub fn run(args: RunArgs) -> Result<()> {
    let auth = DaemonAuth::new(&args.auth.mode(None)?, u32::from(args.id))?
        .with_accept_from(args.accept_from.clone());
    let mut k = kernel::NlKernel::open().map_err(Error::new)?;
    let mut v = vip::IfVip::new(args.vip, &args.dev).map_err(Error::new)?;
    let sock = UdpSocket::bind(args.listen)
        .map_err(|e| Error::new(format!("cannot listen on {}: {e}", args.listen)))?;
    set_buffers(&sock);
    // The handler only stores to an atomic (async-signal-safe).
    crate::sys::on_stop_signals(on_signal);
    let cfg = Config {
        id: args.id,
        priority: args.priority,
        preempt: args.preempt,
        period: Duration::from_millis(args.period_ms),
        misses: args.misses,
    };
    let start = Instant::now();
    let mut node = Node::new(cfg, start);
    node.start(&mut k, &mut v);
    let mut s = Sender {
        sock: sock
            .try_clone()
            .map_err(|e| Error::new(format!("socket: {e}")))?,
        link: Link::new(auth, args.peer),
        drop_percent: args.drop_percent,
        rng: Lcg(unix_ms_now() ^ u64::from(args.id)),
        dropped: 0,
        send_errors: 0,
    };
    eprintln!(
        "sarectl ha: dispatcher {} priority {}{} on {} (VIP {} on {}), peer {}; heartbeat {} ms, failed after {} missed; starting as backup",
        args.id,
        args.priority,
        if args.preempt { " (preempt)" } else { "" },
        args.listen,
        args.vip,
        args.dev,
        args.peer,
        args.period_ms,
        args.misses
    );
    eprintln!("sarectl ha: {}", s.link.start_line());
    if args.no_realtime {
        eprintln!("sarectl ha: normal scheduling priority (--no-realtime): a busy machine can delay heartbeats");
    } else {
        match crate::sys::realtime(args.rt_priority) {
            Ok(()) => eprintln!(
                "sarectl ha: real-time scheduling (SCHED_RR priority {}), memory locked",
                args.rt_priority
            ),
            Err(e) => eprintln!(
                "sarectl ha: warning: cannot run at real-time priority ({e}): heartbeats may be late on a busy machine"
            ),
        }
    }
    let period = Duration::from_millis(args.period_ms);
    let repl_every = Duration::from_millis(args.repl_ms);
    let mut next_tick = start;
    let mut next_repl = start;
    let mut next_status = start;
    let mut role = node.role();
    let mut buf = vec![0u8; 65536];
    let mut logged_errors = 0u64;
    while !STOP.load(Ordering::Relaxed) {
        let now = Instant::now();
        s.link.poll(now);
        for l in s.link.take_log() {
            eprintln!("sarectl ha [{}]: {l}", unix_ms_now());
        }
        if now >= next_tick {
            // Everything the peer sent before this moment is judged before its silence is: after a
            // stall the socket can hold heartbeats the loop has not read yet.
            let _ = sock.set_nonblocking(true);
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                s.deliver(&buf[..n], from, &mut node, &mut k, &mut v);
            }
            let _ = sock.set_nonblocking(false);
            let now = Instant::now();
            let out = node.tick(now, &mut k, &mut v);
            s.send(out);
            next_tick += period;
            if next_tick < now {
                next_tick = now + period;
            }
        }
        if node.role() == Role::Active && now >= next_repl {
            let mut out = Vec::new();
            node.replicate(&mut k, &mut out);
            s.send(out);
            next_repl = now + repl_every;
        }
        if node.role() != role {
            let why = node
                .last_takeover
                .as_ref()
                .map(|t| t.reason.clone())
                .unwrap_or_default();
            eprintln!(
                "sarectl ha: {} -> {} at {} ms (unix){}",
                role_name(role),
                role_name(node.role()),
                unix_ms_now(),
                if node.role() == Role::Active {
                    format!(": {why}")
                } else {
                    String::new()
                }
            );
            role = node.role();
            next_status = now;
        }
        for e in node.take_log() {
            logged_errors += 1;
            if logged_errors <= 1000 || logged_errors.is_multiple_of(1000) {
                eprintln!("sarectl ha [{}]: {e}", unix_ms_now());
            }
        }
        if now >= next_status {
            write_status(
                &args.status_file,
                &status_json(&node, &args, &mut k, &s, now),
            );
            next_status = now + Duration::from_millis(200);
        }
        let mut until = next_tick;
        if node.role() == Role::Active {
            until = until.min(next_repl);
        }
        let wait = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let _ = sock.set_read_timeout(Some(wait));
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => s.deliver(&buf[..n], from, &mut node, &mut k, &mut v),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(Error::new(format!("receiving on {}: {e}", args.listen))),
        }
    }
    // Stopped: hand the VIP over at once rather than after misses x period.
    if node.role() == Role::Active {
        let mut out = Vec::new();
        node.stop(&mut k, &mut v, &mut out);
        s.send(out);
        eprintln!("sarectl ha: stopped: stepped down (sara.ko backup, VIP removed)");
    } else {
        eprintln!("sarectl ha: stopped");
    }
    write_status(
        &args.status_file,
        &status_json(&node, &args, &mut k, &s, Instant::now()),
    );
    Ok(())
}

/// `sarectl ha status`: text, JSON or Prometheus text ([`crate::output::ha_status_prometheus`]).
/// Without a daemon status file, the text and the Prometheus text (sara.ko's role only) are an
/// error; the JSON is not (its `daemon` is null).
pub fn status(args: &StatusArgs, format: Format) -> Result<()> {
    // Written at once; a closed pipe (`sarectl ha status | head -1`) is not an error.
    let emit = |out: &str| {
        let _ = io::Write::write_all(&mut io::stdout().lock(), out.as_bytes());
    };
    let kernel = crate::kernel::Client::open()
        .ok()
        .and_then(|mut c| kernel::ha_get(&mut c).ok());
    let text = std::fs::read_to_string(&args.status_file);
    let daemon: Option<Value> = text
        .as_ref()
        .ok()
        .and_then(|t| serde_json::from_str(t).ok());
    let daemon_age_ms = daemon
        .as_ref()
        .and_then(|d| d["written_unix_ms"].as_u64())
        .map(|w| unix_ms_now().saturating_sub(w));
    let st = HaStatus {
        kernel,
        daemon,
        daemon_age_ms,
    };
    match format {
        Format::Json => {
            emit(&st.json());
            return Ok(());
        }
        Format::Prometheus => emit(&crate::output::ha_status_prometheus(&st)),
        Format::Table => emit(&st.text()),
    }
    if st.daemon.is_none() {
        return Err(Error::new(format!(
            "no daemon status in {}: is `sarectl ha run` running (with this --status-file)?",
            args.status_file.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    enum Cli {
        #[command(subcommand)]
        Ha(HaCmd),
    }

    fn run_args(extra: &[&str]) -> std::result::Result<RunArgs, clap::Error> {
        let mut v = vec![
            "sarectl",
            "ha",
            "run",
            "--id",
            "1",
            "--listen",
            "127.0.0.1:0",
            "--peer",
            "127.0.0.1:9",
            "--vip",
            "10.0.0.100",
            "--dev",
            "lo",
        ];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v)? {
            Cli::Ha(HaCmd::Run(a)) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_to_start_without_keys_or_insecure() {
        // Both refused before sara.ko, the VIP or the socket are touched.
        let e = run(run_args(&[]).unwrap()).unwrap_err();
        assert!(
            e.message().contains("sarectl key generate /etc/sara/key")
                && e.message().contains("--insecure"),
            "{e}"
        );
        let e = run(run_args(&["--key-file", "/nonexistent/sara.key"]).unwrap()).unwrap_err();
        assert!(e.message().contains("/nonexistent/sara.key"), "{e}");
        assert!(run_args(&["--key-file", "/k", "--insecure"]).is_err());
        let a = run_args(&[
            "--insecure",
            "--accept-from",
            "10.0.0.0/24",
            "--accept-from",
            "fd00::/8",
        ])
        .unwrap();
        assert_eq!(a.accept_from.len(), 2);
        assert!(run_args(&["--insecure", "--accept-from", "10.0.0.0/40"]).is_err());
    }
}
