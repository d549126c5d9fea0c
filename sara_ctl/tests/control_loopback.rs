//! Host integration test of the control plane: one manager and two agents on 127.0.0.1 exchange
//! real UDP with short periods (d = δ = 50 ms, n = 3); pushes are captured instead of going to
//! sara.ko. Every datagram is sealed with a key file made for the test, as the daemons do
//! (`--key-file`); one scenario runs `--insecure`, as before keys existed.
//!
//! Timing bounds carry an allowance for a loaded machine (SLACK); the exact timing rules are unit
//! tested with an injected clock in `control::detector`.

use sara_core::genl::{STATE_DOWN, STATE_DRAINING, STATE_UP};
use sara_ctl::auth::{generate, write_key_file, KeyRing, Reject};
use sara_ctl::control::agent::{write_drain_file, Agent, AgentConfig};
use sara_ctl::control::manager::{read_status, CaptureSink, ClusterConfig, Manager, Push};
use sara_ctl::control::measure::{Components, Weights};
use sara_ctl::control::secure::{AuthMode, DaemonAuth, MANAGER_SENDER_ID};
use sara_ctl::control::wire::{encode_heartbeat, Flag, Heartbeat};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const D_MS: u64 = 50;
const N: u64 = 3;
/// Scheduling allowance on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(150);

type Log = Arc<Mutex<Vec<String>>>;

struct Running {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Running {
    fn stop(&mut self) -> Instant {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().expect("thread panicked");
        }
        Instant::now()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Cluster {
    dir: PathBuf,
    /// The key file every daemon uses (none: --insecure).
    key: Option<PathBuf>,
    manager_addr: SocketAddr,
    sink: CaptureSink,
    log: Log,
    status: PathBuf,
    agents: Vec<Running>,
    manager: Running,
    base: (Instant, u64),
}

fn capture_log(log: &Log, who: &'static str) -> Box<dyn FnMut(&str) + Send> {
    let log = log.clone();
    Box::new(move |l| log.lock().unwrap().push(format!("{who}: {l}")))
}

/// The cluster, its daemons sealing with a new key file (or `--insecure`).
fn start(name: &str, keys: bool) -> Cluster {
    let dir = std::env::temp_dir().join(format!("sara-loopback-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = keys.then(|| {
        let k = dir.join("sara.key");
        write_key_file(&k, &KeyRing::single(generate(1).unwrap()), false).unwrap();
        k
    });
    let mode = match &key {
        Some(k) => AuthMode::KeyFile(k.clone()),
        None => AuthMode::Insecure,
    };
    let base = (
        Instant::now(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );

    let mut cfg = ClusterConfig::with_servers(&[1, 2]);
    cfg.heartbeat_ms = D_MS;
    cfg.misses = N as u32;
    cfg.delta_ms = D_MS;
    cfg.interval_ms = Some(100);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let manager_addr = sock.local_addr().unwrap();
    let sink = CaptureSink::default();
    let log: Log = Arc::default();
    let status = dir.join("manager.json");
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        let (sink, log, status, stop) = (sink.clone(), log.clone(), status.clone(), stop.clone());
        let auth = DaemonAuth::new(&mode, MANAGER_SENDER_ID).unwrap();
        std::thread::spawn(move || {
            let mut m = Manager::new(cfg, sink)
                .unwrap()
                .with_auth(auth)
                .with_dispatcher_load(Box::new(|| 0))
                .with_status_file(status)
                .with_log(capture_log(&log, "manager"));
            m.run(&sock, &stop).unwrap();
        })
    };
    let manager = Running {
        stop,
        handle: Some(handle),
    };

    let agents = [(1u16, 400u16), (2, 600)]
        .into_iter()
        .map(|(id, cpu)| {
            let cfg = AgentConfig {
                manager: manager_addr,
                id,
                delta: Duration::from_millis(D_MS),
                heartbeat: Duration::from_millis(D_MS),
                check: None,
                check_every: Duration::from_secs(1),
                weights: Weights::parse("cpu=1").unwrap(),
                backlog: None,
                drain_file: dir.join(format!("agent{id}.drain")),
                auth: mode.clone(),
            };
            let stop = Arc::new(AtomicBool::new(false));
            let (stop2, log) = (stop.clone(), log.clone());
            let handle = std::thread::spawn(move || {
                Agent::new(cfg)
                    .unwrap()
                    .with_source(Box::new(move || Components {
                        cpu,
                        ..Default::default()
                    }))
                    .with_log(capture_log(
                        &log,
                        if id == 1 { "agent 1" } else { "agent 2" },
                    ))
                    .run(&stop2)
                    .unwrap();
            });
            Running {
                stop,
                handle: Some(handle),
            }
        })
        .collect();
    Cluster {
        dir,
        key,
        manager_addr,
        sink,
        log,
        status,
        agents,
        manager,
        base,
    }
}

impl Cluster {
    fn pushes(&self) -> Vec<(Instant, Push)> {
        self.sink.pushes.lock().unwrap().clone()
    }

    fn state(p: &Push, id: u16) -> Option<u8> {
        p.servers.iter().find(|s| s.id == id).map(|s| s.state)
    }

    /// The first push made at or after `since` in which server `id` has `state`.
    fn wait_state(&self, id: u16, state: u8, since: Instant, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some((t, _)) = self
                .pushes()
                .into_iter()
                .find(|(t, p)| *t >= since && Self::state(p, id) == Some(state))
            {
                return Some(t);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn unix_ms(&self, t: Instant) -> u64 {
        self.base.1 + t.duration_since(self.base.0).as_millis() as u64
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn wait_both_up(&self) -> Instant {
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(3);
        loop {
            if let Some((t, _)) = self.pushes().into_iter().find(|(_, p)| {
                [1, 2].iter().all(|id| {
                    p.servers
                        .iter()
                        .any(|s| s.id == *id && s.state == STATE_UP && s.load_known)
                })
            }) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "servers never both up; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for a in &mut self.agents {
            a.stop();
        }
        self.manager.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The scenarios share the two cores: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn stopped_agent_is_down_within_n_heartbeats_plus_one_period() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut c = start("down", true);
    let up = c.wait_both_up();
    // Loads arrive: scalar = cpu with weights cpu=1.
    let p = c.pushes().last().unwrap().1.clone();
    let loads: Vec<u16> = p.servers.iter().map(|s| s.load).collect();
    assert_eq!(loads, vec![400, 600], "{p:?}");

    let stopped = c.agents[1].stop();
    let bound = Duration::from_millis(N * D_MS + D_MS);
    let down = c
        .wait_state(
            2,
            STATE_DOWN,
            stopped,
            bound + SLACK + Duration::from_secs(1),
        )
        .unwrap_or_else(|| panic!("server 2 never went down; log:\n{}", c.log_text()));
    let took = down.duration_since(stopped);
    eprintln!(
        "server 2 down {} ms after its agent stopped (bound {} ms)",
        took.as_millis(),
        bound.as_millis()
    );
    assert!(
        took <= bound + SLACK,
        "took {took:?}, bound n·d + d = {bound:?}"
    );
    assert!(
        c.log_text()
            .contains("manager: server 2 down: no heartbeat for 0."),
        "{}",
        c.log_text()
    );

    // Server 1 stayed up in every push since both were up.
    for (t, p) in c.pushes() {
        if t >= up {
            assert_eq!(Cluster::state(&p, 1), Some(STATE_UP), "{p:?}");
        }
    }
}

/// Datagrams that are not SARA messages: empty, short, text, bad versions and flags, too long.
fn garbage() -> [&'static [u8]; 7] {
    [
        b"",
        b"x",
        b"GET / HTTP/1.1\r\nHost: sara\r\n\r\n",
        &[0u8; 11],                            // heartbeat, version 0
        &[0, 1, 0, 0, 0, 1, 0x17, 0, 0, 0, 0], // heartbeat, flag 7
        &[
            0x53, 0x41, 9, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0,
        ], // version 9
        &[0xff; 1500],
    ]
}

/// The status once `done` holds of it.
fn status_when(
    c: &Cluster,
    what: &str,
    done: impl Fn(&sara_ctl::control::manager::Status) -> bool,
) -> sara_ctl::control::manager::Status {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Ok(st) = read_status(&c.status) {
            if done(&st) {
                return st;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen; log:\n{}",
            c.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn insecure_garbage_datagrams_are_counted_and_ignored() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = start("garbage", false);
    c.wait_both_up();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    for g in garbage() {
        s.send_to(g, c.manager_addr).unwrap();
    }
    let status = status_when(&c, "garbage counted", |st| st.counters.garbage >= 7);
    assert_eq!(status.counters.garbage, 7);
    assert_eq!(status.counters.unknown_server, 0);
    assert!(status.counters.heartbeats > 0 && status.counters.load_vectors > 0);
    assert!(
        status.servers.iter().all(|s| s.state == "up"),
        "{:?}",
        status.servers
    );
    let auth = status.auth.unwrap();
    assert_eq!((auth.mode.as_str(), auth.rejected), ("insecure", 0));
    let log = c.log_text();
    assert_eq!(
        log.matches("not a SARA monitoring message").count(),
        1,
        "{log}"
    );
    assert!(log.contains("manager: WARNING: --insecure"), "{log}");
    assert!(log.contains("agent 1: WARNING: --insecure"), "{log}");
}

#[test]
fn unsealed_forged_and_replayed_datagrams_are_refused_and_counted() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = start("forged", true);
    c.wait_both_up();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Garbage and messages without a trailer: malformed, never parsed (not garbage).
    for g in garbage() {
        s.send_to(g, c.manager_addr).unwrap();
    }
    let hb = |host_id: u16, flag: Flag| {
        encode_heartbeat(&Heartbeat {
            host_id,
            seq: 1_000_000,
            flag,
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as u32,
        })
    };
    // A forger without the key tries to take server 2 down: with a key of its own under the
    // cluster's key id (bad_tag), and of another id (unknown_key).
    let forged_dir = c.dir.join("forger");
    std::fs::create_dir_all(&forged_dir).unwrap();
    for id in [1, 9] {
        let k = forged_dir.join(format!("key{id}"));
        write_key_file(&k, &KeyRing::single(generate(id).unwrap()), false).unwrap();
        let mut forger = DaemonAuth::new(&AuthMode::KeyFile(k), 2).unwrap();
        for _ in 0..20 {
            let d = forger.seal(hb(2, Flag::AppDown)).unwrap();
            s.send_to(&d, c.manager_addr).unwrap();
        }
    }
    // A key holder: server 1's genuine "up", replayed; sender 1 claiming server 2 (unknown_sender).
    let mut holder = DaemonAuth::new(&AuthMode::KeyFile(c.key.clone().unwrap()), 1).unwrap();
    let genuine = holder.seal(hb(1, Flag::Up)).unwrap();
    for _ in 0..3 {
        s.send_to(&genuine, c.manager_addr).unwrap();
    }
    let claim = holder.seal(hb(2, Flag::AppDown)).unwrap();
    s.send_to(&claim, c.manager_addr).unwrap();

    let status = status_when(&c, "refusals counted", |st| {
        st.auth.as_ref().is_some_and(|a| a.rejected >= 50)
    });
    let auth = status.auth.clone().unwrap();
    let r = auth.rejections;
    // The replays are refused as replay, or as too_old if agent 1's own heartbeats (the same
    // sender id) moved its window more than 4 ms past them in between.
    assert_eq!(
        (
            r.malformed,
            r.bad_tag,
            r.unknown_key,
            r.replay + r.too_old,
            r.unknown_sender
        ),
        (7, 20, 20, 2, 1),
        "{auth:?}"
    );
    assert_eq!(auth.rejected, 50);
    assert_eq!(r.get(Reject::WrongSource), 0);
    assert_eq!(status.counters.garbage, 0);
    assert_eq!(status.counters.unknown_server, 0);
    // Nothing refused reached the detector: both servers stay up (the agents' genuine
    // heartbeats keep coming), and server 2 was never pushed down.
    std::thread::sleep(Duration::from_millis(3 * D_MS));
    for (_, p) in c.pushes() {
        assert_ne!(Cluster::state(&p, 2), Some(STATE_DOWN), "{p:?}");
    }
    let status = read_status(&c.status).unwrap();
    assert!(
        status.servers.iter().all(|s| s.state == "up"),
        "{:?}",
        status.servers
    );
    let text = sara_ctl::output::status_table(&status);
    assert!(text.contains("authentication: keys 1 from "), "{text}");
    assert!(
        text.contains("refused 50: 7 malformed, 20 unknown_key, 20 bad_tag, 1 unknown_sender, "),
        "{text}"
    );
    // Logged once per reason, not per datagram.
    let log = c.log_text();
    assert_eq!(log.matches("as bad_tag").count(), 1, "{log}");
    assert_eq!(log.matches("as malformed").count(), 1, "{log}");
    assert!(
        log.contains("manager: authenticating control datagrams with the keys of"),
        "{log}"
    );
    assert!(
        log.contains("agent 2: authenticating control datagrams"),
        "{log}"
    );
}

#[test]
fn planned_drain_moves_server_to_draining_before_its_time_then_down() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = start("drain", true);
    c.wait_both_up();
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = now_s + 2;
    let written = Instant::now();
    write_drain_file(&c.dir.join("agent1.drain"), at).unwrap();

    let draining = c
        .wait_state(1, STATE_DRAINING, written, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("server 1 never drained; log:\n{}", c.log_text()));
    assert!(draining.duration_since(written) <= Duration::from_millis(2 * D_MS) + SLACK);
    assert!(
        c.unix_ms(draining) < at * 1000,
        "draining must start before the planned time"
    );

    let down = c
        .wait_state(1, STATE_DOWN, draining, Duration::from_secs(4))
        .unwrap_or_else(|| {
            panic!(
                "server 1 never went down at its planned time; log:\n{}",
                c.log_text()
            )
        });
    let down_ms = c.unix_ms(down);
    // Down at the announced time: not before it (allow the clocks' ms rounding), soon after.
    assert!(
        down_ms + 5 >= at * 1000,
        "down at {down_ms}, planned {}",
        at * 1000
    );
    assert!(
        down_ms <= at * 1000 + 2 * D_MS + SLACK.as_millis() as u64,
        "down at {down_ms}, planned {}",
        at * 1000
    );
    // Server 2 is untouched.
    assert_eq!(
        Cluster::state(&c.pushes().last().unwrap().1, 2),
        Some(STATE_UP)
    );

    // Cancel: back up.
    let cancelled = Instant::now();
    std::fs::remove_file(c.dir.join("agent1.drain")).unwrap();
    c.wait_state(1, STATE_UP, cancelled, Duration::from_secs(2))
        .unwrap_or_else(|| panic!("server 1 did not come back; log:\n{}", c.log_text()));
    let log = c.log_text();
    assert!(
        log.contains("manager: server 1 draining: planned failure at"),
        "{log}"
    );
    assert!(
        log.contains("agent 1: planned failure announced for"),
        "{log}"
    );
    assert!(log.contains("agent 1: planned failure cancelled"), "{log}");
}
