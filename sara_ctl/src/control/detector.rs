//! Failure detector (paper Fig. 7) and load-monitor watchdog (Fig. 8), driven by an injected clock.
//!
//! Rules, for heartbeat period `d`, `n` allowed misses (default 3) and load period `δ`:
//! * no heartbeat for more than `n·d` → **down** ("no heartbeat for 0.6 s");
//! * latest heartbeat flag 2 (application down) → **down**;
//! * latest heartbeat flag 3 (planned failure at `timestamp`, Unix seconds) → **draining** before that
//!   time (no new sessions, established ones kept), **down** from it on;
//! * latest heartbeat flag 1 → **up**;
//! * a configured server never heard from is **unknown** during the first `n·d` after the manager
//!   starts (it is then not pushed, so the kernel keeps what it had), **down** after that.
//!
//! Lost heartbeats are counted from gaps in `seq`. A heartbeat that arrives late (at most 64 behind
//! the highest `seq` seen) still proves the agent alive, un-counts its loss, but does not change the
//! flag. `seq` 0 after a non-zero one, or a jump back of more than 64, is an agent restart: the
//! sequence starts over (and is logged).
//!
//! The load monitor of a server has failed when no load vector came for more than `3·δ`: its load is
//! then unknown (`A_LOAD_KNOWN` = 0).
//!
//! Every change of a server's state or of its reason, and every change of its load monitor, is an
//! [`Event`] whose `Display` is one log line: `server 2 down: no heartbeat for 0.6 s`.

use super::when::format_unix_utc;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// A moment, as the detector sees it: a monotonic clock for timeouts and the wall clock for
/// planned failures (whose time comes from the server's clock as Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic milliseconds (any origin).
    pub mono_ms: u64,
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

/// Source of [`Now`]: [`SystemClock`] in production, [`ManualClock`] in tests.
pub trait Clock {
    /// The current moment.
    fn now(&self) -> Now;
}

/// The system's monotonic and wall clocks.
#[derive(Debug, Clone)]
pub struct SystemClock {
    origin: std::time::Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin: std::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Now {
        Now {
            mono_ms: self.origin.elapsed().as_millis() as u64,
            unix_ms: super::unix_ms_now(),
        }
    }
}

/// A clock that moves only when told to (both of its clocks move together). Clones share the
/// same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: std::sync::Arc<std::sync::Mutex<Now>>,
}

impl ManualClock {
    /// A clock at this moment.
    pub fn new(now: Now) -> Self {
        ManualClock {
            now: std::sync::Arc::new(std::sync::Mutex::new(now)),
        }
    }

    /// Moves both clocks forward.
    pub fn advance_ms(&self, ms: u64) {
        let mut n = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *n = Now {
            mono_ms: n.mono_ms + ms,
            unix_ms: n.unix_ms + ms,
        };
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Now {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Heartbeat flag: node up, application up.
pub const FLAG_UP: u8 = 1;
/// Heartbeat flag: node up, application down.
pub const FLAG_APP_DOWN: u8 = 2;
/// Heartbeat flag: planned failure at the heartbeat's timestamp.
pub const FLAG_PLANNED: u8 = 3;

/// How far behind the highest sequence number a heartbeat may arrive and still count as late
/// rather than as an agent restart.
pub const REORDER_WINDOW: u32 = 64;

/// Clock difference (seconds) between a server and the manager above which it is reported once.
pub const SKEW_WARN_S: i64 = 2;

/// Timing of the monitoring protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorConfig {
    /// Heartbeat period d, in milliseconds.
    pub heartbeat_ms: u64,
    /// Heartbeats that may be missed before a server is down (n).
    pub misses: u32,
    /// Load vector period δ, in milliseconds.
    pub delta_ms: u64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            heartbeat_ms: 200,
            misses: 3,
            delta_ms: 1000,
        }
    }
}

impl DetectorConfig {
    /// `n·d`: silence after which a server is down.
    pub fn heartbeat_timeout_ms(&self) -> u64 {
        self.heartbeat_ms.saturating_mul(u64::from(self.misses))
    }

    /// `3·δ`: silence after which a load monitor has failed.
    pub fn load_timeout_ms(&self) -> u64 {
        self.delta_ms.saturating_mul(3)
    }
}

/// A server's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    /// Not heard from yet, shortly after the manager started: not pushed.
    Unknown,
    /// Takes new sessions.
    Up,
    /// Planned failure ahead: no new sessions, established ones kept.
    Draining,
    /// No new sessions.
    Down,
}

impl ServerState {
    /// The kernel's `STATE_*` value, or `None` for [`ServerState::Unknown`] (not pushed).
    pub fn kernel(self) -> Option<u8> {
        use sara_core::genl::{STATE_DOWN, STATE_DRAINING, STATE_UP};
        match self {
            ServerState::Unknown => None,
            ServerState::Up => Some(STATE_UP),
            ServerState::Draining => Some(STATE_DRAINING),
            ServerState::Down => Some(STATE_DOWN),
        }
    }

    /// Lower-case name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Unknown => "unknown",
            ServerState::Up => "up",
            ServerState::Draining => "draining",
            ServerState::Down => "down",
        }
    }
}

/// Why a server is in its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Manager just started, nothing heard yet.
    Waiting,
    /// Never heard from since the manager started, for longer than `n·d`.
    NeverHeard,
    /// Heartbeats stopped for longer than `n·d`.
    HeartbeatTimeout,
    /// Agent reports flag 1.
    AppUp,
    /// Agent reports flag 2.
    AppDown,
    /// Agent reports flag 3, time not reached.
    PlannedAhead,
    /// Agent reports flag 3, time reached.
    PlannedReached,
}

/// A server's load monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMonitor {
    /// No vector yet, shortly after the manager started.
    Waiting,
    /// Vectors arrive: the load is known.
    Alive,
    /// No vector for more than `3·δ`: the load is unknown.
    Failed,
}

/// What the detector knows about one server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerHealth {
    /// Server id.
    pub id: u16,
    /// Current state.
    pub state: ServerState,
    /// Why.
    pub cause: Cause,
    /// The reason, for people.
    pub reason: String,
    /// Monotonic time of the last heartbeat (ms).
    #[serde(skip)]
    pub last_heartbeat_ms: Option<u64>,
    /// Highest heartbeat sequence number seen.
    pub max_seq: Option<u32>,
    /// Bit i set: heartbeat `max_seq − i` received.
    #[serde(skip)]
    recent: u64,
    /// Latest flag (from the heartbeat with the highest sequence number).
    pub flag: Option<u8>,
    /// Planned failure time (Unix seconds) when the latest flag is 3.
    pub planned_unix_s: Option<u64>,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// Heartbeats lost (sequence gaps not filled by late arrivals).
    pub lost: u64,
    /// Heartbeats that arrived after a later one.
    pub late: u64,
    /// Heartbeats received twice.
    pub duplicates: u64,
    /// Agent restarts seen (sequence started over).
    pub restarts: u64,
    /// Server clock minus manager clock, seconds, from the last flag-1/2 heartbeat.
    pub clock_skew_s: Option<i64>,
    #[serde(skip)]
    skew_reported: bool,
    /// Load monitor state.
    pub load_monitor: LoadMonitor,
    /// Monotonic time of the last load vector (ms).
    #[serde(skip)]
    pub last_vector_ms: Option<u64>,
    /// Load vectors received.
    pub vectors: u64,
}

impl ServerHealth {
    fn new(id: u16) -> Self {
        ServerHealth {
            id,
            state: ServerState::Unknown,
            cause: Cause::Waiting,
            reason: "waiting for the first heartbeat".into(),
            last_heartbeat_ms: None,
            max_seq: None,
            recent: 0,
            flag: None,
            planned_unix_s: None,
            heartbeats: 0,
            lost: 0,
            late: 0,
            duplicates: 0,
            restarts: 0,
            clock_skew_s: None,
            skew_reported: false,
            load_monitor: LoadMonitor::Waiting,
            last_vector_ms: None,
            vectors: 0,
        }
    }

    /// True when the load is known (vectors arriving).
    pub fn load_known(&self) -> bool {
        self.load_monitor == LoadMonitor::Alive
    }
}

/// What happened, for the log and for the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The state or its cause changed.
    State {
        /// Previous state.
        from: ServerState,
        /// New state.
        to: ServerState,
        /// New cause.
        cause: Cause,
    },
    /// Load vectors stopped: load unknown.
    LoadMonitorFailed,
    /// Load vectors (re)started.
    LoadMonitorAlive,
    /// The agent's heartbeat sequence started over.
    AgentRestarted,
    /// The server's clock is off from the manager's.
    ClockSkew,
}

/// One event; `Display` gives its log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Server id.
    pub server: u16,
    /// What happened.
    pub kind: EventKind,
    /// One line for the log, starting with `server N`.
    pub message: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What became of a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// Taken into account (new highest sequence number, or restart).
    Accepted,
    /// Arrived after a later one: proves liveness only.
    Late,
    /// Seen before: proves liveness only.
    Duplicate,
    /// The server id is not in the configuration: ignored.
    UnknownServer,
    /// The flag is not 1, 2 or 3: ignored.
    BadFlag,
}

/// The failure detector of every configured server.
#[derive(Debug, Clone)]
pub struct Detector {
    cfg: DetectorConfig,
    started_ms: u64,
    servers: BTreeMap<u16, ServerHealth>,
    pending: Vec<Event>,
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

impl Detector {
    /// A detector for these server ids, started at `now`.
    pub fn new(cfg: DetectorConfig, ids: impl IntoIterator<Item = u16>, now: Now) -> Self {
        Detector {
            cfg,
            started_ms: now.mono_ms,
            servers: ids
                .into_iter()
                .map(|id| (id, ServerHealth::new(id)))
                .collect(),
            pending: Vec::new(),
        }
    }

    /// The timing in force.
    pub fn config(&self) -> DetectorConfig {
        self.cfg
    }

    /// One server.
    pub fn server(&self, id: u16) -> Option<&ServerHealth> {
        self.servers.get(&id)
    }

    /// Every server, by id.
    pub fn servers(&self) -> impl Iterator<Item = &ServerHealth> {
        self.servers.values()
    }

    /// Records a heartbeat `host_id | seq | flag | timestamp` received at `now`. Call
    /// [`Detector::evaluate`] afterwards to get the state changes.
    pub fn heartbeat(
        &mut self,
        id: u16,
        seq: u32,
        flag: u8,
        timestamp: u32,
        now: Now,
    ) -> HeartbeatOutcome {
        if !(FLAG_UP..=FLAG_PLANNED).contains(&flag) {
            return HeartbeatOutcome::BadFlag;
        }
        let Some(h) = self.servers.get_mut(&id) else {
            return HeartbeatOutcome::UnknownServer;
        };
        h.heartbeats += 1;
        h.last_heartbeat_ms = Some(now.mono_ms);
        let outcome = match h.max_seq {
            None => {
                h.recent = 1;
                HeartbeatOutcome::Accepted
            }
            Some(max) => {
                let forward = seq.wrapping_sub(max);
                let back = max.wrapping_sub(seq);
                if seq == 0 && max != 0 || (forward >= 1 << 31 && back > REORDER_WINDOW) {
                    h.restarts += 1;
                    h.recent = 1;
                    self.pending.push(Event {
                        server: id,
                        kind: EventKind::AgentRestarted,
                        message: format!(
                            "server {id} agent restarted: heartbeat sequence went back from {max} to {seq}"
                        ),
                    });
                    HeartbeatOutcome::Accepted
                } else if forward == 0 {
                    h.duplicates += 1;
                    HeartbeatOutcome::Duplicate
                } else if forward < 1 << 31 {
                    h.lost += u64::from(forward - 1);
                    h.recent = if forward >= 64 {
                        1
                    } else {
                        (h.recent << forward) | 1
                    };
                    HeartbeatOutcome::Accepted
                } else {
                    // 1 ≤ back ≤ REORDER_WINDOW
                    let bit = if back < 64 { 1u64 << back } else { 0 };
                    if bit != 0 && h.recent & bit != 0 {
                        h.duplicates += 1;
                        HeartbeatOutcome::Duplicate
                    } else {
                        h.recent |= bit;
                        h.late += 1;
                        h.lost = h.lost.saturating_sub(1);
                        HeartbeatOutcome::Late
                    }
                }
            }
        };
        if outcome == HeartbeatOutcome::Accepted {
            h.max_seq = Some(seq);
            h.flag = Some(flag);
            h.planned_unix_s = (flag == FLAG_PLANNED).then_some(u64::from(timestamp));
            if flag != FLAG_PLANNED {
                let skew = i64::from(timestamp) - (now.unix_ms / 1000) as i64;
                h.clock_skew_s = Some(skew);
                if skew.abs() > SKEW_WARN_S && !h.skew_reported {
                    h.skew_reported = true;
                    self.pending.push(Event {
                        server: id,
                        kind: EventKind::ClockSkew,
                        message: format!(
                            "server {id} clock differs from this manager's by {skew} s: planned \
                             failure times it announces will be off by as much (synchronise the clocks)"
                        ),
                    });
                } else if skew.abs() <= SKEW_WARN_S {
                    h.skew_reported = false;
                }
            }
        }
        outcome
    }

    /// Records a load vector from server `id` received at `now`; false for an unknown server.
    pub fn load_vector(&mut self, id: u16, now: Now) -> bool {
        match self.servers.get_mut(&id) {
            Some(h) => {
                h.vectors += 1;
                h.last_vector_ms = Some(now.mono_ms);
                true
            }
            None => false,
        }
    }

    /// Recomputes every server's state and load monitor at `now`; returns what changed (and the
    /// restarts and clock warnings seen since the last call), in server order.
    pub fn evaluate(&mut self, now: Now) -> Vec<Event> {
        let mut events = std::mem::take(&mut self.pending);
        let hb_timeout = self.cfg.heartbeat_timeout_ms();
        let load_timeout = self.cfg.load_timeout_ms();
        let since_start = now.mono_ms.saturating_sub(self.started_ms);
        for h in self.servers.values_mut() {
            let id = h.id;
            let (state, cause, reason) = match h.last_heartbeat_ms {
                None if since_start <= hb_timeout => (
                    ServerState::Unknown,
                    Cause::Waiting,
                    "waiting for the first heartbeat".into(),
                ),
                None => (
                    ServerState::Down,
                    Cause::NeverHeard,
                    format!(
                        "no heartbeat since this manager started {} ago",
                        secs(since_start)
                    ),
                ),
                Some(t) if now.mono_ms.saturating_sub(t) > hb_timeout => (
                    ServerState::Down,
                    Cause::HeartbeatTimeout,
                    format!("no heartbeat for {}", secs(now.mono_ms - t)),
                ),
                Some(_) => match (h.flag, h.planned_unix_s) {
                    (Some(FLAG_APP_DOWN), _) => (
                        ServerState::Down,
                        Cause::AppDown,
                        "its agent reports the application down".into(),
                    ),
                    (Some(FLAG_PLANNED), Some(at)) if now.unix_ms < at.saturating_mul(1000) => (
                        ServerState::Draining,
                        Cause::PlannedAhead,
                        format!(
                            "planned failure at {} (in {})",
                            format_unix_utc(at),
                            secs(at * 1000 - now.unix_ms)
                        ),
                    ),
                    (Some(FLAG_PLANNED), at) => (
                        ServerState::Down,
                        Cause::PlannedReached,
                        format!(
                            "planned failure time {} reached",
                            format_unix_utc(at.unwrap_or(0))
                        ),
                    ),
                    _ => (
                        ServerState::Up,
                        Cause::AppUp,
                        "heartbeats arriving, application up".into(),
                    ),
                },
            };
            if (state, cause) != (h.state, h.cause) {
                events.push(Event {
                    server: id,
                    kind: EventKind::State {
                        from: h.state,
                        to: state,
                        cause,
                    },
                    message: format!("server {id} {}: {reason}", state.name()),
                });
                h.state = state;
                h.cause = cause;
            }
            h.reason = reason;

            let monitor = match h.last_vector_ms {
                Some(t) if now.mono_ms.saturating_sub(t) <= load_timeout => LoadMonitor::Alive,
                Some(_) => LoadMonitor::Failed,
                None if since_start <= load_timeout => LoadMonitor::Waiting,
                None => LoadMonitor::Failed,
            };
            if monitor != h.load_monitor {
                let message = match (monitor, h.last_vector_ms) {
                    (LoadMonitor::Alive, _) => {
                        format!("server {id} load monitor alive: load vectors arriving")
                    }
                    (_, Some(t)) => format!(
                        "server {id} load monitor failed: no load vector for {} (load unknown)",
                        secs(now.mono_ms.saturating_sub(t))
                    ),
                    (_, None) => format!(
                        "server {id} load monitor failed: no load vector since this manager \
                         started {} ago (load unknown)",
                        secs(since_start)
                    ),
                };
                let kind = if monitor == LoadMonitor::Alive {
                    EventKind::LoadMonitorAlive
                } else {
                    EventKind::LoadMonitorFailed
                };
                events.push(Event {
                    server: id,
                    kind,
                    message,
                });
                h.load_monitor = monitor;
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Now = Now {
        mono_ms: 10_000,
        unix_ms: 1_772_366_400_000,
    };

    fn det() -> (Detector, ManualClock) {
        let clock = ManualClock::new(T0);
        let cfg = DetectorConfig {
            heartbeat_ms: 1000,
            misses: 3,
            delta_ms: 1000,
        };
        (Detector::new(cfg, [1, 2], clock.now()), clock)
    }

    fn ts(c: &ManualClock) -> u32 {
        (c.now().unix_ms / 1000) as u32
    }

    fn lines(ev: &[Event]) -> Vec<String> {
        ev.iter().map(|e| e.to_string()).collect()
    }

    /// The events about server 1's or 2's state, restarts and clock (not its load monitor).
    fn state_lines(ev: &[Event], id: u16) -> Vec<String> {
        let ev: Vec<Event> = ev
            .iter()
            .filter(|e| {
                e.server == id
                    && !matches!(
                        e.kind,
                        EventKind::LoadMonitorFailed | EventKind::LoadMonitorAlive
                    )
            })
            .cloned()
            .collect();
        lines(&ev)
    }

    #[test]
    fn down_after_n_heartbeat_periods() {
        let (mut d, c) = det();
        assert!(d.evaluate(c.now()).is_empty());
        assert_eq!(
            d.heartbeat(2, 1, FLAG_UP, ts(&c), c.now()),
            HeartbeatOutcome::Accepted
        );
        assert_eq!(
            lines(&d.evaluate(c.now())),
            ["server 2 up: heartbeats arriving, application up"]
        );
        c.advance_ms(3000); // exactly n·d: still up
        assert!(state_lines(&d.evaluate(c.now()), 2).is_empty());
        c.advance_ms(1);
        let ev: Vec<Event> = d
            .evaluate(c.now())
            .into_iter()
            .filter(|e| e.server == 2)
            .collect();
        assert_eq!(
            state_lines(&ev, 2),
            ["server 2 down: no heartbeat for 3.0 s"]
        );
        assert_eq!(
            ev[0].kind,
            EventKind::State {
                from: ServerState::Up,
                to: ServerState::Down,
                cause: Cause::HeartbeatTimeout
            }
        );
        assert_eq!(
            d.server(2).unwrap().state.kernel(),
            Some(sara_core::genl::STATE_DOWN)
        );
        // And back up with the next heartbeat.
        d.heartbeat(2, 2, FLAG_UP, ts(&c), c.now());
        assert_eq!(
            lines(&d.evaluate(c.now())),
            ["server 2 up: heartbeats arriving, application up"]
        );
    }

    #[test]
    fn never_heard_is_unknown_then_down() {
        let (mut d, c) = det();
        assert_eq!(d.server(1).unwrap().state, ServerState::Unknown);
        assert_eq!(ServerState::Unknown.kernel(), None);
        c.advance_ms(3000);
        assert!(d.evaluate(c.now()).is_empty());
        c.advance_ms(100);
        let ev = d.evaluate(c.now());
        assert_eq!(
            lines(&ev),
            [
                "server 1 down: no heartbeat since this manager started 3.1 s ago",
                "server 1 load monitor failed: no load vector since this manager started 3.1 s ago (load unknown)",
                "server 2 down: no heartbeat since this manager started 3.1 s ago",
                "server 2 load monitor failed: no load vector since this manager started 3.1 s ago (load unknown)",
            ]
        );
    }

    #[test]
    fn application_down_flag() {
        let (mut d, c) = det();
        d.heartbeat(1, 1, FLAG_UP, ts(&c), c.now());
        d.evaluate(c.now());
        d.heartbeat(1, 2, FLAG_APP_DOWN, ts(&c), c.now());
        assert_eq!(
            lines(&d.evaluate(c.now())),
            ["server 1 down: its agent reports the application down"]
        );
        // Silence after app down: still down, but the reason changed, so it is logged.
        c.advance_ms(3500);
        assert_eq!(
            lines(&d.evaluate(c.now()))[0],
            "server 1 down: no heartbeat for 3.5 s"
        );
    }

    #[test]
    fn planned_failure_drains_then_downs() {
        let (mut d, c) = det();
        let at = ts(&c) + 10;
        d.heartbeat(1, 1, FLAG_PLANNED, at, c.now());
        assert_eq!(
            lines(&d.evaluate(c.now())),
            ["server 1 draining: planned failure at 2026-03-01T12:00:10Z (in 10.0 s)"]
        );
        assert_eq!(
            d.server(1).unwrap().state.kernel(),
            Some(sara_core::genl::STATE_DRAINING)
        );
        for s in 2..=10 {
            c.advance_ms(1000);
            d.heartbeat(1, s, FLAG_PLANNED, at, c.now());
            assert!(
                state_lines(&d.evaluate(c.now()), 1).is_empty(),
                "still draining at {s}"
            );
        }
        c.advance_ms(999);
        d.heartbeat(1, 11, FLAG_PLANNED, at, c.now());
        assert!(state_lines(&d.evaluate(c.now()), 1).is_empty());
        c.advance_ms(1);
        assert_eq!(
            state_lines(&d.evaluate(c.now()), 1),
            ["server 1 down: planned failure time 2026-03-01T12:00:10Z reached"]
        );
        // Maintenance over: flag 1 again.
        c.advance_ms(500);
        d.heartbeat(1, 12, FLAG_UP, ts(&c), c.now());
        let ev: Vec<Event> = d
            .evaluate(c.now())
            .into_iter()
            .filter(|e| e.server == 1)
            .collect();
        assert_eq!(
            ev[0].kind,
            EventKind::State {
                from: ServerState::Down,
                to: ServerState::Up,
                cause: Cause::AppUp
            }
        );
        assert_eq!(d.server(1).unwrap().planned_unix_s, None);
    }

    #[test]
    fn planned_time_in_the_past_is_down_at_once() {
        let (mut d, c) = det();
        d.heartbeat(1, 1, FLAG_PLANNED, ts(&c) - 5, c.now());
        assert_eq!(
            d.evaluate(c.now())[0].message,
            "server 1 down: planned failure time 2026-03-01T11:59:55Z reached"
        );
    }

    #[test]
    fn lost_late_duplicate_and_restart() {
        let (mut d, c) = det();
        let t = ts(&c);
        use HeartbeatOutcome::*;
        assert_eq!(d.heartbeat(1, 10, FLAG_UP, t, c.now()), Accepted);
        assert_eq!(d.heartbeat(1, 11, FLAG_UP, t, c.now()), Accepted);
        assert_eq!(d.heartbeat(1, 15, FLAG_UP, t, c.now()), Accepted); // 12, 13, 14 lost
        assert_eq!(d.server(1).unwrap().lost, 3);
        assert_eq!(d.heartbeat(1, 13, FLAG_APP_DOWN, t, c.now()), Late); // 13 came late
        assert_eq!(d.server(1).unwrap().lost, 2);
        assert_eq!(
            d.server(1).unwrap().flag,
            Some(FLAG_UP),
            "a late heartbeat's flag is stale"
        );
        assert_eq!(d.heartbeat(1, 13, FLAG_UP, t, c.now()), Duplicate);
        assert_eq!(d.heartbeat(1, 15, FLAG_UP, t, c.now()), Duplicate);
        assert_eq!(d.heartbeat(1, 11, FLAG_UP, t, c.now()), Duplicate);
        let h = d.server(1).unwrap();
        assert_eq!(
            (h.heartbeats, h.lost, h.late, h.duplicates, h.restarts),
            (7, 2, 1, 3, 0)
        );
        d.evaluate(c.now());
        // Restart: the new agent counts from 0.
        assert_eq!(d.heartbeat(1, 0, FLAG_UP, t, c.now()), Accepted);
        assert_eq!(d.heartbeat(1, 1, FLAG_UP, t, c.now()), Accepted);
        let h = d.server(1).unwrap();
        assert_eq!((h.lost, h.restarts, h.max_seq), (2, 1, Some(1)));
        assert_eq!(
            lines(&d.evaluate(c.now())),
            ["server 1 agent restarted: heartbeat sequence went back from 15 to 0"]
        );
        // A jump far back is a restart as well; a jump far forward is loss.
        assert_eq!(d.heartbeat(1, 1001, FLAG_UP, t, c.now()), Accepted);
        assert_eq!(d.server(1).unwrap().lost, 2 + 999);
        assert_eq!(d.heartbeat(1, 500, FLAG_UP, t, c.now()), Accepted);
        assert_eq!(d.server(1).unwrap().restarts, 2);
        // Sequence numbers wrap.
        let (mut d, c) = det();
        d.heartbeat(1, u32::MAX - 1, FLAG_UP, t, c.now());
        assert_eq!(d.heartbeat(1, 1, FLAG_UP, t, c.now()), Accepted);
        assert_eq!(d.server(1).unwrap().lost, 2); // u32::MAX and 0
    }

    #[test]
    fn unknown_server_and_bad_flag_are_ignored() {
        let (mut d, c) = det();
        assert_eq!(
            d.heartbeat(9, 1, FLAG_UP, 0, c.now()),
            HeartbeatOutcome::UnknownServer
        );
        assert_eq!(d.heartbeat(1, 1, 0, 0, c.now()), HeartbeatOutcome::BadFlag);
        assert_eq!(d.heartbeat(1, 1, 4, 0, c.now()), HeartbeatOutcome::BadFlag);
        assert!(!d.load_vector(9, c.now()));
        assert_eq!(d.server(1).unwrap().heartbeats, 0);
        assert!(d.evaluate(c.now()).is_empty());
    }

    #[test]
    fn load_monitor_fails_after_three_deltas() {
        let (mut d, c) = det();
        assert!(d.load_vector(1, c.now()));
        assert_eq!(
            lines(&d.evaluate(c.now())),
            ["server 1 load monitor alive: load vectors arriving"]
        );
        assert!(d.server(1).unwrap().load_known());
        c.advance_ms(3000);
        d.heartbeat(1, 1, FLAG_UP, ts(&c), c.now()); // heartbeats do not feed the load monitor
        d.evaluate(c.now());
        assert!(d.server(1).unwrap().load_known());
        c.advance_ms(1);
        let ev: Vec<Event> = d
            .evaluate(c.now())
            .into_iter()
            .filter(|e| e.server == 1 && !matches!(e.kind, EventKind::State { .. }))
            .collect();
        assert_eq!(
            lines(&ev),
            ["server 1 load monitor failed: no load vector for 3.0 s (load unknown)"]
        );
        assert_eq!(ev[0].kind, EventKind::LoadMonitorFailed);
        assert!(!d.server(1).unwrap().load_known());
        assert_eq!(
            d.server(1).unwrap().state,
            ServerState::Up,
            "load and liveness are separate"
        );
        d.load_vector(1, c.now());
        assert_eq!(d.evaluate(c.now())[0].kind, EventKind::LoadMonitorAlive);
    }

    #[test]
    fn clock_skew_is_reported_once() {
        let (mut d, c) = det();
        d.heartbeat(1, 1, FLAG_UP, ts(&c) + 30, c.now());
        let ev = d.evaluate(c.now());
        assert_eq!(ev[0].kind, EventKind::ClockSkew);
        assert!(ev[0]
            .message
            .starts_with("server 1 clock differs from this manager's by 30 s"));
        d.heartbeat(1, 2, FLAG_UP, ts(&c) + 30, c.now());
        assert!(d.evaluate(c.now()).is_empty());
        assert_eq!(d.server(1).unwrap().clock_skew_s, Some(30));
    }
}
