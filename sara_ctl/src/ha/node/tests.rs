//! Two nodes over an in-memory "network" with in-memory kernels that follow sara.ko's rules for the
//! replication commands (records only while active; a Flow/SessionEnded record needs its session's
//! record before it in the same run; adopt if absent only while active, under ids of its own). The
//! VM test (qemu-tests/tests/20-failover.sh) runs the real daemon against the real module; these
//! check the protocol's corner cases quickly.

use super::*;
use crate::control::secure::{AuthMode, DaemonAuth};
use crate::ha::link::Link;
use sara_core::flow::{FlowKey, Wildcard, PROTO_TCP, PROTO_UDP};
use sara_core::msg::repl::{CallRecord, FlowRecord, Identity, Status};
use std::collections::BTreeMap;
use std::net::SocketAddr;

#[derive(Default)]
struct FakeKernel {
    /// The next this many dumps fail (as an interrupted dump of sara.ko's table does).
    failing_dumps: u32,
    active: bool,
    ring: Vec<Record>,
    /// session id → (server, members)
    table: BTreeMap<u32, (SessionRecord, Vec<FlowRecord>)>,
    /// The Call-ID index: session id → its SIP call's binding.
    calls: BTreeMap<u32, CallRecord>,
    /// The Call-ID index's key (sara.ko's is random until a backup takes the active's).
    call_key: [u8; 16],
    /// The last session id this kernel handed out itself (adopted sessions get the next).
    last_id: u32,
}

impl FakeKernel {
    fn open(&mut self, id: u32, server: u16) {
        let client = [10, 1, 0, (id % 250) as u8];
        self.open_key(id, server, client, 1000 + id as u16, 5000 + id as u16);
    }
    /// A session whose signalling flow comes from port `port` of 10.1.1.1, its announced flow from
    /// port `port + 20000 + server` (two dispatchers can each open one for the same client, under
    /// ids of their own and with flows of their own).
    fn open_port(&mut self, id: u32, server: u16, port: u16) {
        self.open_key(id, server, [10, 1, 1, 1], port, port + 20000 + server);
    }
    fn open_key(&mut self, id: u32, server: u16, client: [u8; 4], port: u16, media: u16) {
        let s = SessionRecord {
            flow: FlowKey::new(client, port, [10, 0, 0, 100], 554, PROTO_TCP),
            session_id: id,
            server_id: server,
            identity: Identity::Signalling,
            status: Status::Established,
            timeout_s: 30,
        };
        let f = FlowRecord {
            flow: FlowKey::new(client, media, [10, 0, 0, 100], 0, PROTO_UDP),
            wildcard: Wildcard::DstPort,
            session_id: id,
            identity: Identity::Announced,
            status: Status::New,
            timeout_s: 30,
        };
        self.table.insert(id, (s, vec![f]));
        if self.active {
            self.ring.push(Record::Session(s));
            self.ring.push(Record::Flow(f));
        }
    }
    /// The session whose signalling flow comes from `port` (as `open_port` made it).
    fn by_port(&self, port: u16) -> Option<&(SessionRecord, Vec<FlowRecord>)> {
        self.table
            .values()
            .find(|(s, _)| s.flow.src_addr == [10, 1, 1, 1] && s.flow.src_port == port)
    }
    fn next_id(&mut self) -> u32 {
        let top = self.table.keys().max().copied().unwrap_or(0);
        self.last_id = self.last_id.max(top) + 1;
        self.last_id
    }
    /// A SIP call of a trunk: its session (as `open`) and its Call-ID binding.
    fn open_call(&mut self, id: u32, server: u16) {
        self.open(id, server);
        let c = CallRecord {
            session_id: id,
            len: 12,
            hash: [id, id.wrapping_mul(2_654_435_761)],
            head: *b"call-000",
            tail: [b'@', b'h', b'o', b's', b't', (id % 250) as u8],
        };
        self.calls.insert(id, c);
        if self.active {
            self.ring.push(Record::Call(c));
        }
    }
    fn end(&mut self, id: u32) {
        self.table.remove(&id);
        self.calls.remove(&id);
        if self.active {
            self.ring.push(Record::SessionEnded { session_id: id });
        }
    }
    fn view(&self) -> Vec<(u32, u16, usize)> {
        self.table
            .iter()
            .map(|(id, (s, m))| (*id, s.server_id, m.len()))
            .collect()
    }
}

impl Kernel for FakeKernel {
    fn set_role(&mut self, active: bool) -> Result<(), String> {
        self.active = active;
        Ok(())
    }
    fn head(&mut self) -> Result<u64, String> {
        Ok(self.ring.len() as u64)
    }
    fn read(&mut self, from: u64) -> Result<(u64, Vec<Record>, bool), String> {
        let from = (from as usize).min(self.ring.len());
        let end = (from + 100).min(self.ring.len());
        Ok((from as u64, self.ring[from..end].to_vec(), false))
    }
    fn apply(&mut self, records: &[Record], flush: bool) -> Result<(u32, u32), String> {
        assert!(!self.active, "records applied to an active kernel");
        if flush {
            self.table.clear();
            self.calls.clear();
        }
        let (mut a, mut f) = (0, 0);
        let mut cur: Option<u32> = None;
        for r in records {
            match r {
                Record::Session(s) => {
                    let e = self.table.entry(s.session_id).or_insert((*s, Vec::new()));
                    e.0 = *s;
                    cur = Some(s.session_id);
                    a += 1;
                }
                Record::Flow(x) if cur == Some(x.session_id) => {
                    let m = &mut self.table.get_mut(&x.session_id).unwrap().1;
                    if !m.contains(x) {
                        m.push(*x);
                    }
                    a += 1;
                }
                Record::Call(c) if cur == Some(c.session_id) => {
                    self.calls.insert(c.session_id, *c);
                    a += 1;
                }
                Record::CallKey(k) => {
                    if *k != self.call_key {
                        self.call_key = *k;
                        self.calls.clear();
                    }
                    a += 1;
                }
                Record::SessionEnded { session_id } if cur == Some(*session_id) => {
                    self.table.remove(session_id);
                    self.calls.remove(session_id);
                    cur = None;
                    a += 1;
                }
                _ => f += 1,
            }
        }
        Ok((a, f))
    }
    /// As `sara_core::adopt`: installed only where nothing is, under an id of this kernel's own, and
    /// queued on the ring; a session held here on the record's server is joined, on another kept.
    fn adopt(&mut self, records: &[Record]) -> Result<(u32, u32, u32), String> {
        assert!(
            self.active,
            "records adopted by a kernel that is not active"
        );
        let (mut a, mut s, mut f) = (0, 0, 0);
        // (the peer's session id, this kernel's session if joined or opened)
        let mut cur: Option<(u32, Option<u32>)> = None;
        let mut key_ok = true;
        for r in records {
            match r {
                Record::Session(x) => {
                    let here = self
                        .table
                        .values()
                        .find(|(t, _)| t.flow == x.flow)
                        .map(|(t, _)| (t.session_id, t.server_id));
                    cur = match here {
                        None => {
                            let id = self.next_id();
                            let rec = SessionRecord {
                                session_id: id,
                                ..*x
                            };
                            self.table.insert(id, (rec, Vec::new()));
                            self.ring.push(Record::Session(rec));
                            a += 1;
                            Some((x.session_id, Some(id)))
                        }
                        Some((id, server)) => {
                            s += 1;
                            Some((x.session_id, (server == x.server_id).then_some(id)))
                        }
                    };
                }
                Record::Flow(x) => match cur {
                    Some((p, Some(id))) if p == x.session_id => {
                        if self
                            .table
                            .values()
                            .any(|(_, m)| m.iter().any(|y| y.flow == x.flow))
                        {
                            s += 1;
                        } else {
                            let rec = FlowRecord {
                                session_id: id,
                                ..*x
                            };
                            self.table.get_mut(&id).unwrap().1.push(rec);
                            self.ring.push(Record::Flow(rec));
                            a += 1;
                        }
                    }
                    Some((p, None)) if p == x.session_id => s += 1,
                    _ => f += 1,
                },
                Record::Call(c) => match cur {
                    Some((p, Some(id))) if p == c.session_id && key_ok => {
                        if self.calls.values().any(|y| y.hash == c.hash) {
                            s += 1;
                        } else {
                            let rec = CallRecord {
                                session_id: id,
                                ..*c
                            };
                            self.calls.insert(id, rec);
                            self.ring.push(Record::Call(rec));
                            a += 1;
                        }
                    }
                    Some((p, None)) if p == c.session_id => s += 1,
                    _ => f += 1,
                },
                Record::CallKey(k) => key_ok = *k == self.call_key,
                Record::SessionEnded { .. } => s += 1,
                _ => f += 1,
            }
        }
        Ok((a, s, f))
    }
    fn dump(&mut self) -> Result<Vec<Record>, String> {
        if self.failing_dumps > 0 {
            self.failing_dumps -= 1;
            return Err("the table changed during each read".to_string());
        }
        let mut v = vec![Record::CallKey(self.call_key)];
        v.extend(self.table.values().map(|(s, _)| Record::Session(*s)));
        v.extend(
            self.table
                .values()
                .flat_map(|(_, m)| m.iter().map(|f| Record::Flow(*f))),
        );
        v.extend(self.calls.values().map(|c| Record::Call(*c)));
        Ok(v)
    }
}

#[derive(Default)]
struct FakeVip {
    up: bool,
    garps: u32,
}

impl Vip for FakeVip {
    fn up(&mut self) -> Result<(), String> {
        self.up = true;
        self.garps += 1;
        Ok(())
    }
    fn announce(&mut self) -> Result<(), String> {
        self.garps += 1;
        Ok(())
    }
    fn down(&mut self) -> Result<(), String> {
        self.up = false;
        Ok(())
    }
}

struct Side {
    node: Node,
    k: FakeKernel,
    v: FakeVip,
    alive: bool,
    /// Its daemon is not run (SIGSTOP): no ticks, datagrams wait in `queue` (its socket); its
    /// kernel goes on.
    stalled: bool,
    queue: Vec<Vec<u8>>,
}

struct Net {
    a: Side,
    b: Side,
    now: Instant,
    /// Drop every n-th datagram with records from a to b (0: none).
    drop_every: u32,
    sent_ab: u32,
    /// Never both forwarding, checked after every step.
    both_active_seen: bool,
    /// Sealed datagrams: a's link (to b) and b's link (to a), as `sarectl ha run --key-file`.
    links: Option<(Link, Link)>,
    /// Every message b sent to a, unsealed (to replay some).
    from_b: Vec<Vec<u8>>,
}

const A_ADDR: &str = "10.0.0.2:7410";
const B_ADDR: &str = "10.0.0.3:7410";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const D: Duration = Duration::from_millis(50);

fn cfg(id: u16, priority: u8, preempt: bool) -> Config {
    Config {
        id,
        priority,
        preempt,
        period: D,
        misses: 3,
    }
}

impl Net {
    fn new() -> Net {
        let now = Instant::now();
        let mut a = Side {
            node: Node::new(cfg(1, 200, true), now),
            k: FakeKernel {
                call_key: [1; 16],
                ..FakeKernel::default()
            },
            v: FakeVip::default(),
            alive: true,
            stalled: false,
            queue: Vec::new(),
        };
        let mut b = Side {
            node: Node::new(cfg(2, 100, false), now),
            k: FakeKernel {
                call_key: [2; 16],
                ..FakeKernel::default()
            },
            v: FakeVip::default(),
            alive: true,
            stalled: false,
            queue: Vec::new(),
        };
        a.node.start(&mut a.k, &mut a.v);
        b.node.start(&mut b.k, &mut b.v);
        Net {
            a,
            b,
            now,
            drop_every: 0,
            sent_ab: 0,
            both_active_seen: false,
            links: None,
            from_b: Vec::new(),
        }
    }

    /// The same, every datagram sealed with the key file `key` and opened by the other side.
    fn sealed(key: &std::path::Path) -> Net {
        let mode = AuthMode::KeyFile(key.into());
        let mut n = Net::new();
        let la = Link::new(DaemonAuth::new(&mode, 1).unwrap(), addr(B_ADDR));
        let lb = Link::new(DaemonAuth::new(&mode, 2).unwrap(), addr(A_ADDR));
        n.links = Some((la, lb));
        n
    }

    /// Hands one datagram that arrives at a (`to_a`) or b from `from`, through the link if sealed.
    fn arrive(&mut self, to_a: bool, d: &[u8], from: SocketAddr) -> Vec<Vec<u8>> {
        let to = if to_a { &mut self.a } else { &mut self.b };
        let msg = match self.links.as_mut() {
            Some((la, lb)) => {
                let l = if to_a { la } else { lb };
                match l.open(d, from, self.now, &mut to.node.totals.garbage) {
                    Some(m) => m.to_vec(),
                    None => return Vec::new(),
                }
            }
            None => d.to_vec(),
        };
        to.node.receive(&msg, self.now, &mut to.k, &mut to.v)
    }

    fn deliver(&mut self, from_a: bool, dgs: Vec<Vec<u8>>) {
        for d in dgs {
            let (to, lossy) = if from_a {
                (&mut self.b, true)
            } else {
                (&mut self.a, false)
            };
            if !to.alive {
                continue;
            }
            if lossy && self.drop_every > 0 && d.len() > 20 {
                self.sent_ab += 1;
                if self.sent_ab.is_multiple_of(self.drop_every) {
                    continue;
                }
            }
            if !from_a {
                self.from_b.push(d.clone());
            }
            let d = match self.links.as_mut() {
                Some((la, lb)) => {
                    let l = if from_a { la } else { lb };
                    l.seal(d).expect("every batch fits with its trailer")
                }
                None => d,
            };
            let to = if from_a { &mut self.b } else { &mut self.a };
            if to.stalled {
                to.queue.push(d);
                continue;
            }
            let from = addr(if from_a { A_ADDR } else { B_ADDR });
            let back = self.arrive(!from_a, &d, from);
            self.deliver(!from_a, back);
        }
        if self.a.k.active && self.b.k.active && self.a.alive && self.b.alive {
            self.both_active_seen = true;
        }
    }

    /// Runs `ms` milliseconds of heartbeats.
    fn run(&mut self, ms: u64) {
        let steps = ms / D.as_millis() as u64;
        for _ in 0..steps {
            self.now += D;
            if self.a.alive && !self.a.stalled {
                let out = self.a.node.tick(self.now, &mut self.a.k, &mut self.a.v);
                self.deliver(true, out);
            }
            if self.b.alive && !self.b.stalled {
                let out = self.b.node.tick(self.now, &mut self.b.k, &mut self.b.v);
                self.deliver(false, out);
            }
        }
    }
}

/// a's daemon runs again (SIGCONT): first what waited on its socket, as the daemon reads it before
/// its next tick.
impl Net {
    fn resume_a(&mut self) {
        self.a.stalled = false;
        for d in std::mem::take(&mut self.a.queue) {
            let back = self.arrive(true, &d, addr(B_ADDR));
            self.deliver(true, back);
        }
    }
}

#[test]
fn the_higher_priority_becomes_active_and_the_backup_follows_its_sessions() {
    let mut n = Net::new();
    n.run(500);
    assert_eq!(n.a.node.role(), Role::Active);
    assert_eq!(n.b.node.role(), Role::Backup);
    assert!(n.a.v.up && !n.b.v.up);
    for id in 1..=30 {
        n.a.k.open(id, (id % 2 + 1) as u16);
    }
    n.a.k.end(7);
    n.run(300);
    assert_eq!(n.b.k.view(), n.a.k.view());
    assert!(n.b.node.synced());
    assert_eq!(n.b.node.sessions_known(), 29);
    assert!(!n.both_active_seen);
}

#[test]
fn the_backup_takes_over_when_the_active_goes_silent() {
    let mut n = Net::new();
    n.run(500);
    for id in 1..=10 {
        n.a.k.open(id, 1);
    }
    n.run(200);
    n.a.alive = false; // link down, daemon gone
    n.run(100);
    assert_eq!(n.b.node.role(), Role::Backup, "not before misses · d");
    n.run(200);
    assert_eq!(n.b.node.role(), Role::Active);
    assert!(n.b.k.active && n.b.v.up);
    assert_eq!(n.b.k.view().len(), 10, "the replicated sessions are there");
    assert!(
        n.b.v.garps >= 3,
        "gratuitous ARP at takeover and twice after: {}",
        n.b.v.garps
    );
    assert!(n
        .b
        .node
        .last_takeover
        .as_ref()
        .unwrap()
        .reason
        .contains("no heartbeat"));
}

#[test]
fn a_backup_that_was_not_run_does_not_take_over_on_waking() {
    let mut n = Net::new();
    n.run(500);
    assert_eq!(n.b.node.role(), Role::Backup);
    // Neither daemon runs for 400 ms (a stalled VM); the backup happens to wake first.
    n.now += Duration::from_millis(400);
    let out = n.b.node.tick(n.now, &mut n.b.k, &mut n.b.v);
    assert_eq!(n.b.node.role(), Role::Backup, "no verdict on a late tick");
    assert_eq!(n.b.node.totals.late_ticks, 1);
    n.deliver(false, out);
    let out = n.a.node.tick(n.now, &mut n.a.k, &mut n.a.v);
    n.deliver(true, out);
    n.run(500);
    assert_eq!(
        n.b.node.role(),
        Role::Backup,
        "the active's heartbeats came back"
    );
    assert_eq!(n.a.node.role(), Role::Active);
    assert!(!n.both_active_seen);
    // A real failure across a stall is taken over one period after waking.
    n.a.alive = false;
    n.now += Duration::from_millis(400);
    let _ = n.b.node.tick(n.now, &mut n.b.k, &mut n.b.v);
    assert_eq!(n.b.node.role(), Role::Backup);
    n.run(50);
    assert_eq!(n.b.node.role(), Role::Active);
}

#[test]
fn every_call_of_a_trunk_is_bound_on_the_backup_and_survives_a_takeover() {
    let mut n = Net::new();
    // Calls open while the backup catches up, with losses: events and resyncs both carry them.
    n.run(500);
    n.drop_every = 4;
    for round in 0..5 {
        for i in 1..=5 {
            n.a.k.open_call(round * 5 + i, (i % 2 + 1) as u16);
        }
        n.run(50);
    }
    n.a.k.end(3);
    n.drop_every = 0;
    n.run(3000);
    assert!(n.a.node.totals.resyncs_sent > 0);
    assert!(n.b.node.synced());
    // The backup hashes calls with the active's key, and holds every binding of every live call.
    assert_eq!(n.b.k.call_key, n.a.k.call_key);
    assert_eq!(n.b.k.calls.len(), 24);
    assert_eq!(n.b.k.calls, n.a.k.calls);
    assert_eq!(n.b.k.view(), n.a.k.view());
    // A call opened now arrives as a ring event: its session's record, then its binding.
    n.a.k.open_call(100, 2);
    n.run(200);
    assert_eq!(n.b.k.calls.get(&100), n.a.k.calls.get(&100));
    // Takeover: the new active keeps them all.
    n.a.alive = false;
    n.run(1000);
    assert_eq!(n.b.node.role(), Role::Active);
    assert_eq!(n.b.k.calls.len(), 25);
    assert_eq!(n.b.k.call_key, [1; 16]);
}

#[test]
fn a_chunk_of_a_long_run_gets_its_sessions_record_in_front() {
    let mut n = Net::new();
    n.run(500);
    // More than one kernel request's worth (400 records) in one resync.
    for id in 1..=450 {
        n.a.k.open_call(id, 1);
    }
    n.a.node.resync_wanted = true;
    n.run(1000);
    assert!(n.b.node.synced());
    assert_eq!(n.b.k.calls.len(), 450);
    assert_eq!(n.b.node.totals.records_failed, 0);
}

#[test]
fn lost_batches_are_repaired_by_a_resync() {
    let mut n = Net::new();
    n.run(500);
    n.drop_every = 3;
    for round in 0..10 {
        for id in 1..=5 {
            n.a.k.open(round * 5 + id, 2);
        }
        n.run(50);
    }
    n.drop_every = 0;
    n.run(3000);
    assert!(n.b.node.totals.batches_lost > 0);
    assert!(n.a.node.totals.resyncs_sent > 0);
    assert_eq!(n.b.k.view(), n.a.k.view());
    assert!(n.b.node.synced());
}

/// Sessions 1..=10 on the primary a, a killed, b takes over and opens 11..=20 (its next
/// `failing_dumps` dumps fail), then a comes back with an empty kernel table (rebooted).
fn primary_away_and_back(failing_dumps: u32) -> Net {
    let mut n = Net::new();
    n.run(500);
    for id in 1..=10 {
        n.a.k.open(id, 1);
    }
    n.run(200);
    n.a.alive = false;
    n.run(400);
    assert_eq!(n.b.node.role(), Role::Active);
    // Sessions opened on the new active while the primary is away.
    for id in 11..=20 {
        n.b.k.open(id, 2);
    }
    n.b.k.failing_dumps = failing_dumps;
    let now = n.now;
    n.a = Side {
        node: Node::new(cfg(1, 200, true), now),
        k: FakeKernel::default(),
        v: FakeVip::default(),
        alive: true,
        stalled: false,
        queue: Vec::new(),
    };
    n.a.node.start(&mut n.a.k, &mut n.a.v);
    n
}

#[test]
fn a_returning_primary_resyncs_then_takes_the_vip_back_without_overlap() {
    let mut n = primary_away_and_back(0);
    // It must not take the VIP before it is in sync.
    n.run(50);
    assert_eq!(n.a.node.role(), Role::Backup);
    n.run(2000);
    assert_eq!(n.a.node.role(), Role::Active);
    assert_eq!(n.b.node.role(), Role::Backup);
    assert_eq!(
        n.a.k.view().len(),
        20,
        "resynchronised before taking over: {:?}",
        n.a.k.view()
    );
    assert!(!n.both_active_seen, "two active dispatchers at once");
    // And b follows a again.
    n.a.k.open(21, 1);
    n.run(1500);
    assert_eq!(n.b.k.view(), n.a.k.view());
}

#[test]
fn two_actives_resolve_to_the_higher_priority() {
    let mut n = Net::new();
    // Partitioned at start: both take the VIP.
    n.b.alive = false;
    n.run(500);
    n.b.alive = true;
    n.a.alive = false;
    n.run(500);
    assert!(n.a.k.active && n.b.k.active);
    n.a.alive = true;
    n.both_active_seen = false;
    n.run(200);
    assert_eq!(n.a.node.role(), Role::Active);
    assert_eq!(n.b.node.role(), Role::Backup);
    assert!(!n.b.v.up);
}

/// A batch as a stranger would send it: dispatcher 3, active, the highest priority.
fn rogue_active() -> Vec<u8> {
    let h = repl::BatchHeader {
        sender_id: 3,
        role: Role::Active,
        priority: 255,
        epoch: 99,
        seq: 0,
        flags: 0,
    };
    let mut b = vec![0u8; MAX_DATAGRAM];
    let n = repl::BatchWriter::new(&h, &mut b).unwrap().finish();
    b.truncate(n);
    b
}

#[test]
fn unauthenticated_a_forged_active_takes_the_vip_away() {
    // The threat, as it was before keys (and is with --insecure): from the peer's address (or a
    // spoofed one), a "higher-priority active dispatcher" makes the active one step down.
    let mut n = Net::new();
    n.run(500);
    assert_eq!(n.a.node.role(), Role::Active);
    n.arrive(true, &rogue_active(), addr(B_ADDR));
    assert_eq!(n.a.node.role(), Role::Backup);
}

#[test]
fn sealed_dispatchers_replicate_and_refuse_forged_and_replayed_datagrams() {
    let dir = std::env::temp_dir().join(format!("sara-ha-sealed-{}", std::process::id()));
    let key = crate::ha::link::tests::key_file(&dir, 0x55);
    let stranger = crate::ha::link::tests::key_file(&dir, 0x66);
    let mut n = Net::sealed(&key);
    n.run(500);
    assert_eq!(n.a.node.role(), Role::Active);
    assert_eq!(n.b.node.role(), Role::Backup);
    for id in 1..=100 {
        n.a.k.open(id, (id % 2 + 1) as u16);
    }
    n.run(300);
    assert_eq!(n.b.k.view(), n.a.k.view());
    assert!(n.b.node.synced());

    // Unsealed (as before keys): malformed.
    let rogue = rogue_active();
    n.arrive(true, &rogue, addr(B_ADDR));
    // Sealed by a stranger, with its own key under the cluster's key id: bad_tag.
    let mut s = Link::new(
        DaemonAuth::new(&AuthMode::KeyFile(stranger.clone()), 3).unwrap(),
        addr(A_ADDR),
    );
    let forged = s.seal(rogue.clone()).unwrap();
    n.arrive(true, &forged, addr(B_ADDR));
    // A genuine datagram of b's, recorded: taken once, refused when replayed (replay) and when it
    // comes from another address than b's (wrong_source).
    let hb = n.b.node.tick(n.now, &mut n.b.k, &mut n.b.v).remove(0);
    let recorded = n.links.as_mut().unwrap().1.seal(hb).unwrap();
    n.arrive(true, &recorded, addr(B_ADDR));
    n.arrive(true, &recorded, addr(B_ADDR));
    n.arrive(true, &recorded, addr("10.0.0.9:7410"));
    // A key holder sealing as 2 (b's id) a batch whose header says dispatcher 3: unknown_sender.
    let mut holder = Link::new(
        DaemonAuth::new(&AuthMode::KeyFile(key.clone()), 2).unwrap(),
        addr(A_ADDR),
    );
    let lie = holder.seal(rogue).unwrap();
    n.arrive(true, &lie, addr(B_ADDR));

    assert_eq!(n.a.node.role(), Role::Active, "nothing forged got through");
    let (la, _) = n.links.as_ref().unwrap();
    let st = la.status();
    let r = st.rejections;
    assert_eq!(
        (
            r.malformed,
            r.bad_tag,
            r.replay,
            r.wrong_source,
            r.unknown_sender
        ),
        (1, 1, 1, 1, 1),
        "{st:?}"
    );
    assert_eq!(n.a.node.totals.garbage, 0);
    // And replication goes on.
    n.a.k.open(101, 1);
    n.run(300);
    assert_eq!(n.b.k.view(), n.a.k.view());
    assert!(!n.both_active_seen);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_resync_from_a_table_that_cannot_be_read_whole_is_not_sent_and_the_backup_asks_again() {
    // The new active's first two dumps fail: the returning primary must not take the VIP back
    // before it has every session.
    let mut n = primary_away_and_back(2);
    n.run(5000);
    assert_eq!(n.b.node.totals.resyncs_failed, 2);
    assert_eq!(n.a.node.role(), Role::Active);
    assert_eq!(n.a.k.view().len(), 20, "{:?}", n.a.k.view());
    assert!(n.a.node.totals.records_applied >= 20);
    assert!(!n.both_active_seen, "two active dispatchers at once");
}

#[test]
fn the_active_announces_the_vip_again_when_a_backup_took_it_during_a_stall() {
    // disp2 took over from the live primary while the primary's daemon was not run (a stall): its
    // gratuitous ARP moved the gateway's entry for the VIP. The primary, still active, must announce
    // the VIP again when it hears the other active, or the gateway keeps sending to the backup.
    let mut n = Net::new();
    n.run(500);
    assert_eq!(n.a.node.role(), Role::Active);
    let h = repl::BatchHeader {
        sender_id: 2,
        role: Role::Active,
        priority: 100,
        epoch: 7,
        seq: 0,
        flags: 0,
    };
    let mut b = vec![0u8; MAX_DATAGRAM];
    let len = repl::BatchWriter::new(&h, &mut b).unwrap().finish();
    b.truncate(len);
    let garps = n.a.v.garps;
    n.arrive(true, &b, addr(B_ADDR));
    assert_eq!(n.a.node.role(), Role::Active);
    assert!(n.a.v.garps > garps, "no announcement at once");
    n.run(200);
    assert!(
        n.a.v.garps >= garps + 3,
        "the VIP was not announced again in the next heartbeats ({garps} -> {})",
        n.a.v.garps
    );
}

/// The primary a (sessions 1..=10) stalls — its daemon not run, its kernel forwarding — long enough
/// for b to take over. While b holds the VIP: b opens 11..=15 (server 2) and 16 (server 2, for the
/// client of port 3100), a's kernel opens 11 (server 1, port 3100: that client's first packets
/// reached a before the gateway's entry moved) and 12 (port 3200). Then a's daemon runs again.
/// `keep_queue`: what b sent meanwhile is still on a's socket (else it was lost, say the socket
/// overflowed, and only the handback tells a).
fn spurious_takeover(keep_queue: bool) -> Net {
    let mut n = Net::new();
    n.run(500);
    for id in 1..=10 {
        n.a.k.open(id, 1);
    }
    n.run(300);
    assert!(n.b.node.synced());
    n.a.stalled = true;
    n.run(400);
    assert_eq!(n.b.node.role(), Role::Active);
    assert!(n.a.k.active, "a's kernel still forwards");
    for id in 11..=15 {
        n.b.k.open_port(id, 2, 3000 + id as u16);
    }
    n.b.k.open_port(16, 2, 3100);
    n.a.k.open_port(11, 1, 3100);
    n.a.k.open_port(12, 1, 3200);
    n.run(100);
    if !keep_queue {
        n.a.queue.clear();
    }
    n.resume_a();
    n.run(500);
    assert_eq!(n.a.node.role(), Role::Active);
    assert_eq!(n.b.node.role(), Role::Backup);
    assert!(n.a.v.up && !n.b.v.up && !n.b.k.active);
    n
}

/// What a must hold after b handed its sessions back.
fn assert_handed_back(n: &Net) {
    // Every session b opened is on a, on b's server, with its flow, under a's ids.
    let mut ids = std::collections::HashSet::new();
    for port in 3011..=3015 {
        let (s, m) = n.a.k.by_port(port).unwrap_or_else(|| {
            panic!("b's session of port {port} is not on a: {:?}", n.a.k.view())
        });
        assert_eq!((s.server_id, m.len()), (2, 1), "port {port}");
        assert!(s.session_id > 12, "an id of a's own: {}", s.session_id);
        assert_eq!(m[0].session_id, s.session_id);
        assert!(ids.insert(s.session_id));
    }
    // The client both dispatchers had: a's decision stands (server 1, its own flow only).
    let (s, m) = n.a.k.by_port(3100).unwrap();
    assert_eq!((s.session_id, s.server_id), (11, 1));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].flow.src_port, 3100 + 20000 + 1);
    assert_eq!(n.a.k.by_port(3200).unwrap().0.session_id, 12);
    // a's own sessions of before are untouched.
    for id in 1..=10 {
        assert_eq!(n.a.k.table[&id].0.server_id, 1);
    }
    assert_eq!(n.a.k.table.len(), 10 + 2 + 5);
}

#[test]
fn a_spurious_takeover_hands_the_sessions_opened_meanwhile_to_the_winner() {
    // b's replication while both were active is lost: the handback alone brings b's sessions.
    let mut n = spurious_takeover(false);
    assert_eq!(n.b.node.totals.handbacks_sent, 1);
    assert_eq!(
        n.b.node.totals.handback_sessions_sent, 6,
        "11..=16, above 10"
    );
    assert_eq!(n.a.node.totals.handback_batches_received, 1);
    assert_handed_back(&n);
    // 5 sessions and their 5 flows adopted; session 16 (port 3100) and its flow left as a had
    // them.
    assert_eq!(n.a.node.totals.records_adopted, 10);
    assert_eq!(n.a.node.totals.records_adopt_skipped, 2);
    assert_eq!(n.a.node.totals.records_failed, 0);
    assert!(n
        .a
        .node
        .take_log()
        .iter()
        .any(|l| l.contains("adopted 10 records")));
    assert!(n
        .b
        .node
        .take_log()
        .iter()
        .any(|l| l.contains("handing back 6 sessions")));
    // b resynchronises from a like any returning backup, and gets them back under a's ids; a's
    // adopted sessions reach it through a's own replication too.
    n.run(2000);
    assert!(n.b.node.synced());
    assert_eq!(n.b.k.view(), n.a.k.view());
    assert_eq!(n.a.node.role(), Role::Active);
}

#[test]
fn while_both_are_active_the_higher_adopts_and_a_duplicate_handback_changes_nothing() {
    // b's replication reaches a while both are active: a adopts it then; the handback that follows
    // finds everything there.
    let mut n = spurious_takeover(true);
    assert_handed_back(&n);
    assert_eq!(n.a.node.totals.records_adopted, 10);
    assert_eq!(n.b.node.totals.handbacks_sent, 1);
    assert!(n.a.node.totals.handback_batches_received >= 1);
    // The handback, again (a duplicate, or replayed by someone on the path with --insecure).
    let handback: Vec<Vec<u8>> = n
        .from_b
        .iter()
        .filter(|d| repl::parse(d).is_ok_and(|b| b.header.flags & repl::BATCH_HANDBACK != 0))
        .cloned()
        .collect();
    assert!(!handback.is_empty());
    let (table, ring) = (n.a.k.view(), n.a.k.ring.len());
    let skipped = n.a.node.totals.records_adopt_skipped;
    for d in &handback {
        let back = n.arrive(true, d, addr(B_ADDR));
        assert!(back.is_empty());
    }
    assert_eq!(n.a.k.view(), table);
    assert_eq!(n.a.k.ring.len(), ring, "nothing new to replicate");
    assert_eq!(n.a.node.totals.records_adopted, 10);
    assert!(n.a.node.totals.records_adopt_skipped > skipped);
    assert_eq!(n.a.node.role(), Role::Active);
    n.run(2000);
    assert_eq!(n.b.k.view(), n.a.k.view());
}

#[test]
fn a_backup_ignores_a_handback() {
    // Only the active adopts: a backup takes the active's records as they are.
    let mut n = spurious_takeover(false);
    let handback: Vec<Vec<u8>> = n
        .from_b
        .iter()
        .filter(|d| repl::parse(d).is_ok_and(|b| b.header.flags & repl::BATCH_HANDBACK != 0))
        .cloned()
        .collect();
    n.run(2000);
    let view = n.b.k.view();
    for d in &handback {
        n.b.node.receive(d, n.now, &mut n.b.k, &mut n.b.v);
    }
    assert_eq!(
        n.b.k.view(),
        view,
        "FakeKernel::adopt asserts the kernel is active"
    );
}

#[test]
fn a_dispatcher_that_stops_sends_what_its_ring_still_holds() {
    let mut n = Net::new();
    n.run(500);
    for id in 1..=5 {
        n.a.k.open(id, 1);
    }
    n.run(300);
    assert!(n.b.node.synced());
    // Opened after the daemon's last read of the ring, just before it is stopped.
    n.a.k.open(6, 2);
    let mut out = Vec::new();
    n.a.node.stop(&mut n.a.k, &mut n.a.v, &mut out);
    assert!(
        out.len() >= 2,
        "the ring's last records, then the heartbeat"
    );
    n.deliver(true, out);
    n.a.alive = false;
    n.run(200);
    assert_eq!(n.b.node.role(), Role::Active);
    assert_eq!(n.b.k.view(), n.a.k.view());
    assert_eq!(n.b.k.view().len(), 6);
}

/// A handback batch: `sender` says it stepped down, with one session (port 3999) and its flow.
fn forged_handback(sender: u16) -> Vec<u8> {
    let mut k = FakeKernel::default();
    k.open_port(77, 2, 3999);
    let h = repl::BatchHeader {
        sender_id: sender,
        role: Role::Backup,
        priority: 100,
        epoch: 0,
        seq: 0,
        flags: repl::BATCH_HANDBACK,
    };
    let mut b = vec![0u8; MAX_DATAGRAM];
    let mut w = repl::BatchWriter::new(&h, &mut b).unwrap();
    for r in k.dump().unwrap() {
        w.push(&r).unwrap();
    }
    let len = w.finish();
    b.truncate(len);
    b
}

#[test]
fn a_handback_that_is_not_the_peers_sealed_one_is_refused() {
    let dir = std::env::temp_dir().join(format!("sara-ha-handback-{}", std::process::id()));
    let key = crate::ha::link::tests::key_file(&dir, 0x57);
    let stranger = crate::ha::link::tests::key_file(&dir, 0x68);
    let mut n = Net::sealed(&key);
    n.run(500);
    assert_eq!(n.a.node.role(), Role::Active);
    let view = n.a.k.view();
    // Unsealed: its last 32 bytes read as a trailer name no key of the cluster (unknown_key).
    n.arrive(true, &forged_handback(2), addr(B_ADDR));
    // Sealed with a key that is not the cluster's: bad_tag.
    let mut s = Link::new(
        DaemonAuth::new(&AuthMode::KeyFile(stranger.clone()), 2).unwrap(),
        addr(A_ADDR),
    );
    let forged = s.seal(forged_handback(2)).unwrap();
    n.arrive(true, &forged, addr(B_ADDR));
    // Sealed with the cluster's key, from an address that is not the configured peer's:
    // wrong_source; by a key holder whose trailer is not the batch's sender: unknown_sender.
    let mut holder = Link::new(
        DaemonAuth::new(&AuthMode::KeyFile(key.clone()), 2).unwrap(),
        addr(A_ADDR),
    );
    let elsewhere = holder.seal(forged_handback(2)).unwrap();
    n.arrive(true, &elsewhere, addr("10.0.0.9:7410"));
    let lie = holder.seal(forged_handback(3)).unwrap();
    n.arrive(true, &lie, addr(B_ADDR));
    assert_eq!(n.a.k.view(), view, "nothing adopted");
    assert!(n.a.k.by_port(3999).is_none());
    assert_eq!(n.a.node.totals.handback_batches_received, 0);
    let r = n.links.as_ref().unwrap().0.status().rejections;
    assert_eq!(
        (r.unknown_key, r.bad_tag, r.wrong_source, r.unknown_sender),
        (1, 1, 1, 1),
        "{r:?}"
    );
    // The peer's own, sealed by its link, is taken (once: a replay of it is refused).
    let genuine = n
        .links
        .as_mut()
        .unwrap()
        .1
        .seal(forged_handback(2))
        .unwrap();
    n.arrive(true, &genuine, addr(B_ADDR));
    n.arrive(true, &genuine, addr(B_ADDR));
    assert_eq!(n.a.node.totals.handback_batches_received, 1);
    assert_eq!(n.a.k.by_port(3999).unwrap().0.server_id, 2);
    assert_eq!(n.links.as_ref().unwrap().0.status().rejections.replay, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn handback_batches_stand_alone() {
    // 30 sessions of 1 flow and one of 100 flows: every batch begins with the Call-ID key, holds at
    // most MAX_RECORDS records, and never a flow without its session's record before it.
    let mut table = vec![Record::CallKey([5; 16])];
    let mut k = FakeKernel::default();
    for id in 1..=31 {
        k.open(id, 1);
    }
    let big = k.table.get_mut(&31).unwrap();
    for p in 0..99u16 {
        let mut f = big.1[0];
        f.flow.src_port = 40000 + p;
        big.1.push(f);
    }
    table.extend(
        k.dump()
            .unwrap()
            .into_iter()
            .filter(|r| !matches!(r, Record::CallKey(_))),
    );
    let (key, groups) = handback_groups(&table, Some(0));
    assert_eq!(key, Some([5; 16]));
    assert_eq!(groups.len(), 31);
    // Only the sessions after the floor.
    assert_eq!(handback_groups(&table, Some(30)).1.len(), 1);
    assert_eq!(handback_groups(&table, None).1.len(), 31);
    let batches = handback_batches(key, &groups);
    let mut flows = 0;
    for b in &batches {
        assert!(b.len() <= repl::MAX_RECORDS);
        assert_eq!(b[0], Record::CallKey([5; 16]));
        let mut sessions = std::collections::HashSet::new();
        for r in &b[1..] {
            match r {
                Record::Session(s) => {
                    sessions.insert(s.session_id);
                }
                Record::Flow(f) => {
                    assert!(
                        sessions.contains(&f.session_id),
                        "{r:?} without its session"
                    );
                    flows += 1;
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(flows, 30 + 100);
    // And they go out whole: each one a batch that parses, flagged.
    let mut n = Net::new();
    n.run(500);
    let h = repl::BatchHeader {
        flags: repl::BATCH_HANDBACK,
        ..n.b.node.header()
    };
    for b in &batches {
        let d = n.b.node.datagram(&h, b);
        assert_eq!(repl::parse(&d).unwrap().len(), b.len());
    }
}
