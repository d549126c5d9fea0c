//! One dispatcher's side of the high-availability protocol (sara-spec.md, "High availability of
//! the dispatcher"), without sockets: datagrams in, datagrams out, and calls to its [`Kernel`]
//! (sara.ko's role and replication commands) and [`Vip`] (the virtual IP on the interface).
//!
//! Every datagram is a `msg::repl` batch; its header carries the sender's id, role, priority,
//! epoch and batch sequence. Both dispatchers send one every heartbeat period `d` (an empty batch is
//! the heartbeat: the paper's heartbeat, with the role in it); `misses · d` without one from the
//! peer means it has failed (spec "Monitoring protocols", n = 3).
//!
//! * **Active**: reads the kernel's replication ring and sends its records in batches (sequence
//!   +1 per batch with records; a heartbeat shows the next sequence without taking it). On a
//!   `ResyncRequest`, or when the ring overran, starts a new epoch: `ResyncBegin`, a `Session`
//!   record per live session and a `Flow` record per member flow (a flow dump), `ResyncEnd`, then
//!   the ring's records from where the dump began (a change during the dump arrives twice; both
//!   kinds of record are idempotent on the backup).
//! * **Backup**: applies batches in order (`SeqTracker`); a gap, an epoch it does not have, or a
//!   heartbeat whose sequence is ahead of what it received makes it send `ResyncRequest` (again
//!   after [`RESYNC_RETRY`] if nothing comes). Once a `ResyncEnd` matches the records it got it is
//!   in sync and acknowledges (`Ack`) in every heartbeat. It remembers each live session's record,
//!   and puts it in front of the session's `Flow`/`SessionEnded` records when it hands them to the
//!   kernel (which finds the session by its signalling flow).
//! * **Takeover**: a backup that hears no heartbeat for `misses · d` becomes active: kernel role
//!   active (every replicated flow's idle time restarts), the VIP on the interface, gratuitous ARP.
//!   A dispatcher that starts hears for `2 · misses · d` first; with no active peer it takes the VIP,
//!   with one it stays backup and asks for a resync. No takeover is decided on a tick that comes
//!   more than `2 · d` after the previous one: the daemon itself was not run, and the peer's
//!   heartbeats of that time may be unread; the next tick decides.
//! * **Never two active**: an active dispatcher that hears another active one steps down if the
//!   other has the higher (priority, id). Preemption: a backup with `--preempt` and a higher
//!   priority asks for the VIP in its `Ack` once it is in sync; the active then steps down first
//!   (kernel role backup, VIP removed, a heartbeat saying so) and the backup takes over when it
//!   hears that: there is a moment when neither forwards, never one when both do.
//! * **Stepping down hands over** (decisions.md, "A dispatcher that steps down hands its sessions
//!   to the winner"). Whatever the reason, a dispatcher that leaves the active role sets its kernel
//!   to backup first (no session opens there any more), then sends what its ring still holds as
//!   ordinary batches. When it steps down because it heard an active peer of higher (priority, id)
//!   — it took over while that one was alive but silent, e.g. not scheduled — it also hands back
//!   the sessions it opened while active: from a dump of its table, every live session whose id is
//!   above the highest it knew as a backup when it took over (sara.ko hands out ids above every
//!   replicated one), with its flows and SIP calls, in batches flagged `BATCH_HANDBACK` (each
//!   standing alone: the Call-ID key first, a session's record in front of its flows and calls).
//!   The winner adopts them "if absent" (`Kernel::adopt`, `sara_core::adopt`): what it has stays as
//!   it is, so a duplicate changes nothing; handbacks are not numbered, acknowledged or repaired.
//!   While both are active, the higher one adopts the same way the records the lower one
//!   replicates to it. The one that stepped down then resynchronises from the winner as any
//!   returning backup does, and gets the adopted sessions back under the winner's ids.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sara_core::msg::repl::{
    self, BatchHeader, BatchWriter, CallRecord, FlowRecord, Record, Role, SeqCheck, SeqTracker,
    SessionRecord, ACK_WANTS_VIP, BATCH_HANDBACK,
};
use sara_core::msg::{seq_after, MAX_DATAGRAM};

use crate::control::unix_ms_now;

/// A backup asks again for a resync when nothing came this long after asking.
pub const RESYNC_RETRY: Duration = Duration::from_millis(1000);

/// What the node needs of sara.ko.
pub trait Kernel {
    /// Sets the role (`genl::HA_ACTIVE` / `HA_BACKUP`).
    fn set_role(&mut self, active: bool) -> Result<(), String>;
    /// The ring's next sequence number.
    fn head(&mut self) -> Result<u64, String>;
    /// Records from `from` on: (first returned, records, lost).
    fn read(&mut self, from: u64) -> Result<(u64, Vec<Record>, bool), String>;
    /// Installs records (backup); `flush` drops every flow first. Returns (applied, failed).
    fn apply(&mut self, records: &[Record], flush: bool) -> Result<(u32, u32), String>;
    /// The whole table as `Session` records (live sessions) followed by `Flow` records.
    fn dump(&mut self) -> Result<Vec<Record>, String>;
    /// Active: adopts the peer's records where the table has nothing ("adopt if absent"; what is
    /// there stays). Returns (adopted, skipped, failed).
    fn adopt(&mut self, records: &[Record]) -> Result<(u32, u32, u32), String>;
}

/// What the node needs of the network: the virtual IP.
pub trait Vip {
    /// Puts the VIP on the interface and announces it (gratuitous ARP).
    fn up(&mut self) -> Result<(), String>;
    /// Announces it again (the first announcement may be ignored by a neighbour that just learnt).
    fn announce(&mut self) -> Result<(), String>;
    /// Removes the VIP from the interface.
    fn down(&mut self) -> Result<(), String>;
}

/// The node's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// This dispatcher's id (distinct from the peer's).
    pub id: u16,
    /// Priority: the higher one wins when both claim the active role.
    pub priority: u8,
    /// Take the VIP back from a lower-priority active peer once in sync.
    pub preempt: bool,
    /// Heartbeat period `d`.
    pub period: Duration,
    /// Heartbeats missed before the peer is taken for failed (`n`).
    pub misses: u32,
}

impl Config {
    /// `misses · d`.
    pub fn dead_after(&self) -> Duration {
        self.period.saturating_mul(self.misses)
    }
}

/// The peer as last heard.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// Its id.
    pub id: u16,
    /// Its role.
    pub role: Role,
    /// Its priority.
    pub priority: u8,
    /// When its last datagram came.
    pub heard: Instant,
    /// Its last Ack (flags, epoch, next sequence) and when it came.
    pub ack: Option<(u8, u32, u32, Instant)>,
}

/// The last takeover.
#[derive(Debug, Clone)]
pub struct Takeover {
    /// Unix time, ms.
    pub at_unix_ms: u64,
    /// Why.
    pub reason: String,
}

/// Running totals for `sarectl ha status`.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub batches_sent: u64,
    pub batches_received: u64,
    pub batches_lost: u64,
    pub records_sent: u64,
    pub records_applied: u64,
    pub records_failed: u64,
    pub resyncs_requested: u64,
    pub resyncs_sent: u64,
    /// Resynchronisations asked for but not sent (the table could not be read whole).
    pub resyncs_failed: u64,
    pub takeovers: u64,
    pub stepdowns: u64,
    pub garbage: u64,
    /// Ticks that came more than two periods after the previous one (this daemon was not run):
    /// no takeover is decided on such a tick.
    pub late_ticks: u64,
    /// Records of the peer's sessions adopted by sara.ko (a handback, or while both were active).
    pub records_adopted: u64,
    /// Records of the peer's sessions sara.ko left as it had them (its own decision stands).
    pub records_adopt_skipped: u64,
    /// Handbacks sent (steps down to a higher active peer), and the sessions they held.
    pub handbacks_sent: u64,
    pub handback_sessions_sent: u64,
    /// Handback batches received from the peer (adopted while active).
    pub handback_batches_received: u64,
}

/// One dispatcher.
pub struct Node {
    cfg: Config,
    role: Role,
    started: Instant,
    peer: Option<Peer>,
    // Active side.
    epoch: u32,
    next_seq: u32,
    ring_next: u64,
    resync_wanted: bool,
    /// Active: the highest session id known as a backup at the takeover (`None`: none known): the
    /// sessions above it were opened here while active, and are handed back on stepping down.
    opened_after: Option<u32>,
    /// Active: the records of the peer's sessions it sent while it was active too (or handed
    /// back), by its session id: a `Flow` or `Call` record gets its session's in front.
    peer_sessions: HashMap<u32, SessionRecord>,
    /// The peer's Call-ID key, from its `CallKey` records: put in front of each run to adopt.
    peer_call_key: Option<[u8; 16]>,
    // Backup side.
    tracker: SeqTracker,
    synced: bool,
    need_resync: bool,
    asked_at: Option<Instant>,
    in_resync: Option<u32>,
    sessions: HashMap<u32, SessionRecord>,
    last_batch: Option<Instant>,
    garp_left: u32,
    last_tick: Option<Instant>,
    /// Last takeover, if any.
    pub last_takeover: Option<Takeover>,
    /// Totals.
    pub totals: Totals,
    /// Errors of kernel or VIP calls since the last `take_log`.
    log: Vec<String>,
}

impl Node {
    /// A dispatcher that starts as backup (call [`Node::start`] with its kernel).
    pub fn new(cfg: Config, now: Instant) -> Node {
        // A new epoch value per start (time based), so a restarted active is never taken for its
        // earlier self.
        let epoch = (unix_ms_now() as u32).max(1);
        Node {
            cfg,
            role: Role::Backup,
            started: now,
            peer: None,
            epoch,
            next_seq: 0,
            ring_next: 0,
            resync_wanted: false,
            opened_after: None,
            peer_sessions: HashMap::new(),
            peer_call_key: None,
            tracker: SeqTracker::new(),
            synced: false,
            need_resync: false,
            asked_at: None,
            in_resync: None,
            sessions: HashMap::new(),
            last_batch: None,
            garp_left: 0,
            last_tick: None,
            last_takeover: None,
            totals: Totals::default(),
            log: Vec::new(),
        }
    }

    /// Puts the kernel in the backup role and the VIP off the interface.
    pub fn start(&mut self, k: &mut dyn Kernel, v: &mut dyn Vip) {
        let r = k.set_role(false);
        self.note(r);
        let r = v.down();
        self.note(r);
    }

    fn note(&mut self, r: Result<(), String>) {
        if let Err(e) = r {
            self.log.push(e);
        }
    }

    /// Log lines since the last call.
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }

    /// The role now.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    /// The peer, if heard.
    pub fn peer(&self) -> Option<&Peer> {
        self.peer.as_ref()
    }
    /// Whether the peer was heard within `misses · d`.
    pub fn peer_alive(&self, now: Instant) -> bool {
        self.peer
            .is_some_and(|p| now.saturating_duration_since(p.heard) <= self.cfg.dead_after())
    }
    /// Backup: in sync with the active dispatcher.
    pub fn synced(&self) -> bool {
        self.synced
    }
    /// (epoch, next sequence): what the active sends, or what the backup expects.
    pub fn position(&self) -> (u32, u32) {
        match self.role {
            Role::Active => (self.epoch, self.next_seq),
            Role::Backup => self.tracker.expected(),
        }
    }
    /// Sessions the backup knows.
    pub fn sessions_known(&self) -> usize {
        self.sessions.len()
    }
    /// Active: batches sent that the backup has not acknowledged, and the age of its last Ack.
    pub fn lag(&self, now: Instant) -> Option<(u32, Duration)> {
        let p = self.peer?;
        let (_, epoch, next, at) = p.ack?;
        (self.role == Role::Active && epoch == self.epoch).then(|| {
            (
                self.next_seq.wrapping_sub(next),
                now.saturating_duration_since(at),
            )
        })
    }
    /// Backup: time since the last batch with records.
    pub fn since_last_batch(&self, now: Instant) -> Option<Duration> {
        self.last_batch.map(|t| now.saturating_duration_since(t))
    }
    /// Active: the ring position read next.
    pub fn ring_next(&self) -> u64 {
        self.ring_next
    }

    fn header(&self) -> BatchHeader {
        let (epoch, seq) = match self.role {
            Role::Active => (self.epoch, self.next_seq),
            Role::Backup => self.tracker.expected(),
        };
        BatchHeader {
            sender_id: self.cfg.id,
            role: self.role,
            priority: self.cfg.priority,
            epoch,
            seq,
            flags: 0,
        }
    }

    fn datagram(&self, h: &BatchHeader, recs: &[Record]) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let n = match BatchWriter::new(h, &mut buf) {
            Ok(mut w) => {
                for r in recs {
                    if w.push(r).is_err() {
                        break;
                    }
                }
                w.finish()
            }
            Err(_) => 0,
        };
        buf.truncate(n);
        buf
    }

    /// Active: records as numbered batches.
    fn batches(&mut self, recs: &[Record], out: &mut Vec<Vec<u8>>) {
        let mut i = 0;
        while i < recs.len() {
            let h = self.header();
            let mut buf = vec![0u8; MAX_DATAGRAM];
            let Ok(mut w) = BatchWriter::new(&h, &mut buf) else {
                return;
            };
            while i < recs.len() && w.fits(&recs[i]) {
                if w.push(&recs[i]).is_err() {
                    break;
                }
                i += 1;
            }
            if w.is_empty() {
                i += 1; // an invalid record: skip it rather than loop
                continue;
            }
            self.totals.records_sent += w.len() as u64;
            let n = w.finish();
            buf.truncate(n);
            out.push(buf);
            self.next_seq = self.next_seq.wrapping_add(1);
            self.totals.batches_sent += 1;
        }
    }

    /// Called every heartbeat period: the heartbeat, failure detection, and (active) replication.
    /// Returns the datagrams to send to the peer, in order.
    pub fn tick(&mut self, now: Instant, k: &mut dyn Kernel, v: &mut dyn Vip) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        // A tick more than two periods after the previous one means this daemon was not run for a
        // while (a stalled host or VM, a swapped-out process): the peer's heartbeats of that time
        // may still be in flight or unread, so silence measured across it proves nothing. Judge the
        // peer at the next tick instead, one period later (a real failure is taken over one period
        // late).
        let late = self
            .last_tick
            .is_some_and(|t| now.saturating_duration_since(t) > self.cfg.period.saturating_mul(2));
        self.last_tick = Some(now);
        if late {
            self.totals.late_ticks += 1;
        }
        match self.role {
            Role::Backup => {
                let dead = self.cfg.dead_after();
                let lost_peer = match self.peer {
                    Some(p) => {
                        p.role == Role::Active && now.saturating_duration_since(p.heard) > dead
                    }
                    None => now.saturating_duration_since(self.started) > dead.saturating_mul(2),
                };
                let both_backup_and_mine = self.peer.is_some_and(|p| {
                    p.role == Role::Backup
                        && now.saturating_duration_since(p.heard) <= dead
                        && now.saturating_duration_since(self.started) > dead.saturating_mul(2)
                        && (self.cfg.priority, self.cfg.id) > (p.priority, p.id)
                });
                let silent_backup = self.peer.is_some_and(|p| {
                    p.role == Role::Backup && now.saturating_duration_since(p.heard) > dead
                });
                if !late && (lost_peer || both_backup_and_mine || silent_backup) {
                    let why = match self.peer {
                        Some(p) if lost_peer => format!(
                            "no heartbeat from dispatcher {} for {} ms",
                            p.id,
                            now.saturating_duration_since(p.heard).as_millis()
                        ),
                        Some(p) if both_backup_and_mine => format!(
                            "dispatcher {} is backup and this one has the higher priority",
                            p.id
                        ),
                        Some(p) => format!("no heartbeat from dispatcher {} (backup)", p.id),
                        None => "no other dispatcher heard since start".to_string(),
                    };
                    self.become_active(why, k, v, &mut out);
                    return out;
                }
                let mut recs = Vec::new();
                let retry = self
                    .asked_at
                    .is_none_or(|t| now.saturating_duration_since(t) >= RESYNC_RETRY);
                let active_peer = self.peer.is_some_and(|p| p.role == Role::Active);
                if self.need_resync && active_peer && retry {
                    let (epoch, next_seq) = self.tracker.expected();
                    recs.push(Record::ResyncRequest { epoch, next_seq });
                    self.asked_at = Some(now);
                    self.totals.resyncs_requested += 1;
                } else if self.synced {
                    let (epoch, next_seq) = self.tracker.expected();
                    let wants = self.cfg.preempt
                        && self.peer.is_some_and(|p| self.cfg.priority > p.priority);
                    let flags = if wants { ACK_WANTS_VIP } else { 0 };
                    recs.push(Record::Ack {
                        flags,
                        epoch,
                        next_seq,
                    });
                }
                out.push(self.datagram(&self.header(), &recs));
            }
            Role::Active => {
                self.replicate(k, &mut out);
                out.push(self.datagram(&self.header(), &[]));
                if self.garp_left > 0 {
                    // Gratuitous ARP again in the heartbeats after a takeover.
                    self.garp_left -= 1;
                    let r = v.announce();
                    self.note(r);
                }
            }
        }
        out
    }

    /// Active: called often (every few ms): the ring's new records, and a resync when asked.
    pub fn replicate(&mut self, k: &mut dyn Kernel, out: &mut Vec<Vec<u8>>) {
        if self.role != Role::Active {
            return;
        }
        if self.resync_wanted {
            self.resync_wanted = false;
            self.resync(k, out);
        }
        self.read_ring(k, out, true);
    }

    /// Active: the ring's new records as batches; on records lost (overwritten unread), a resync
    /// when `resync_on_loss`, else they are passed over.
    fn read_ring(&mut self, k: &mut dyn Kernel, out: &mut Vec<Vec<u8>>, resync_on_loss: bool) {
        for _ in 0..64 {
            match k.read(self.ring_next) {
                Ok((first, recs, lost)) => {
                    if lost {
                        self.ring_next = first;
                        if resync_on_loss {
                            // The backup missed records that are gone: give it the whole table.
                            self.resync(k, out);
                        } else {
                            self.log.push(
                                "replication records were overwritten unread: not sent".to_string(),
                            );
                        }
                        continue;
                    }
                    if recs.is_empty() {
                        break;
                    }
                    self.ring_next = first.saturating_add(recs.len() as u64);
                    self.batches(&recs, out);
                }
                Err(e) => {
                    self.log.push(e);
                    break;
                }
            }
        }
    }

    fn resync(&mut self, k: &mut dyn Kernel, out: &mut Vec<Vec<u8>>) {
        let head = match k.head() {
            Ok(h) => h,
            Err(e) => {
                self.log.push(e);
                return;
            }
        };
        let table = match k.dump() {
            Ok(t) => t,
            Err(e) => {
                // No resync this time. A new epoch makes sure the backup does not take the batches
                // that follow for a complete history (after a ring overrun it lacks records): it
                // sees the epoch change without a ResyncBegin and asks again.
                self.log.push(format!("{e}: the backup will ask again"));
                self.epoch = self.epoch.wrapping_add(1).max(1);
                self.next_seq = 0;
                self.totals.resyncs_failed += 1;
                return;
            }
        };
        self.epoch = self.epoch.wrapping_add(1).max(1);
        self.next_seq = 0;
        let sessions = table
            .iter()
            .filter(|r| matches!(r, Record::Session(_)))
            .count();
        let mut recs = Vec::with_capacity(table.len() + 2);
        recs.push(Record::ResyncBegin {
            sessions: u32::try_from(sessions).unwrap_or(u32::MAX),
        });
        let n = u32::try_from(table.len()).unwrap_or(u32::MAX);
        recs.extend(table);
        recs.push(Record::ResyncEnd { records: n });
        self.batches(&recs, out);
        self.log.push(format!(
            "resynchronising the backup: epoch {}, {sessions} sessions, {n} records in {} batches",
            self.epoch, self.next_seq
        ));
        self.ring_next = head;
        self.totals.resyncs_sent += 1;
    }

    fn become_active(
        &mut self,
        reason: String,
        k: &mut dyn Kernel,
        v: &mut dyn Vip,
        out: &mut Vec<Vec<u8>>,
    ) {
        let r = k.set_role(true);
        self.note(r);
        let r = v.up();
        self.note(r);
        self.role = Role::Active;
        self.epoch = self.epoch.wrapping_add(1).max(1);
        self.next_seq = 0;
        self.ring_next = match k.head() {
            Ok(h) => h,
            Err(e) => {
                self.log.push(e);
                0
            }
        };
        self.synced = false;
        self.need_resync = false;
        self.in_resync = None;
        // sara.ko hands out ids above every replicated one from now on: the sessions above the
        // highest known here are this dispatcher's own (handed back if it steps down to a live peer).
        self.opened_after = self.sessions.keys().copied().max();
        self.sessions.clear();
        self.peer_sessions.clear();
        self.totals.takeovers += 1;
        self.garp_left = 2;
        self.last_takeover = Some(Takeover {
            at_unix_ms: unix_ms_now(),
            reason,
        });
        // Tell the peer at once (if it is there, e.g. the one that just stepped down): it asks
        // for a resync on seeing the new epoch.
        out.push(self.datagram(&self.header(), &[]));
    }

    /// Leaves the active role: kernel backup (no session opens here any more), what the ring still
    /// holds sent as replication, VIP removed; with `handback` (the peer is an active dispatcher of
    /// higher priority) the sessions opened here while active are handed back to it. The last
    /// datagram in `out` is the heartbeat that says so.
    fn step_down(
        &mut self,
        why: String,
        handback: bool,
        k: &mut dyn Kernel,
        v: &mut dyn Vip,
        out: &mut Vec<Vec<u8>>,
    ) {
        self.log.push(format!("stepping down: {why}"));
        let was_active = self.role == Role::Active;
        let r = k.set_role(false);
        self.note(r);
        if was_active {
            // Sessions opened since the last read: an in-sync backup about to take over applies
            // them, an active peer adopts them. Never a resync now (the peer asks if it needs one).
            self.resync_wanted = false;
            self.read_ring(k, out, false);
        }
        let r = v.down();
        self.note(r);
        let opened_after = self.opened_after.take();
        self.role = Role::Backup;
        self.tracker = SeqTracker::new();
        self.synced = false;
        self.need_resync = true;
        self.asked_at = None;
        self.in_resync = None;
        self.sessions.clear();
        self.peer_sessions.clear();
        self.totals.stepdowns += 1;
        if was_active && handback {
            self.hand_back(opened_after, k, out);
        }
        out.push(self.datagram(&self.header(), &[]));
    }

    /// After stepping down to an active peer: the live sessions opened here while active (ids
    /// after `opened_after`), with their flows and calls, as handback batches.
    fn hand_back(&mut self, opened_after: Option<u32>, k: &mut dyn Kernel, out: &mut Vec<Vec<u8>>) {
        let table = match k.dump() {
            Ok(t) => t,
            Err(e) => {
                // What was replicated while both were active has reached the peer already.
                self.log.push(format!("no handback: {e}"));
                return;
            }
        };
        let (key, groups) = handback_groups(&table, opened_after);
        if groups.is_empty() {
            return;
        }
        let batches = handback_batches(key, &groups);
        let h = BatchHeader {
            flags: BATCH_HANDBACK,
            ..self.header()
        };
        let records: usize = batches.iter().map(Vec::len).sum();
        for b in &batches {
            out.push(self.datagram(&h, b));
        }
        self.totals.handbacks_sent += 1;
        self.totals.handback_sessions_sent += groups.len() as u64;
        self.log.push(format!(
            "handing back {} sessions opened here while active ({records} records in {} batches)",
            groups.len(),
            batches.len()
        ));
    }

    /// The daemon stops: step down, and tell the peer with priority 0 so that it takes over at
    /// its next heartbeat instead of after `misses · d`.
    pub fn stop(&mut self, k: &mut dyn Kernel, v: &mut dyn Vip, out: &mut Vec<Vec<u8>>) {
        self.step_down("the daemon is stopping".to_string(), false, k, v, out);
        // The ring's last records stay; the heartbeat is replaced.
        out.pop();
        self.cfg.priority = 0;
        self.need_resync = false;
        out.push(self.datagram(&self.header(), &[]));
    }

    /// A datagram from the peer. Returns datagrams to send back.
    pub fn receive(
        &mut self,
        buf: &[u8],
        now: Instant,
        k: &mut dyn Kernel,
        v: &mut dyn Vip,
    ) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let Ok(b) = repl::parse(buf) else {
            self.totals.garbage += 1;
            return out;
        };
        let h = b.header;
        if h.sender_id == self.cfg.id {
            self.totals.garbage += 1; // our own, looped back
            return out;
        }
        let ack = self
            .peer
            .filter(|p| p.id == h.sender_id)
            .and_then(|p| p.ack);
        self.peer = Some(Peer {
            id: h.sender_id,
            role: h.role,
            priority: h.priority,
            heard: now,
            ack,
        });
        let records: Vec<Record> = b.records().collect();
        if h.flags & BATCH_HANDBACK != 0 {
            // Sessions the peer opened while it was active too, handed back as it stepped down.
            if self.role == Role::Active {
                self.totals.handback_batches_received += 1;
                self.adopt(&records, k);
            }
            return out;
        }
        match (self.role, h.role) {
            (Role::Active, Role::Active) => {
                if (self.cfg.priority, self.cfg.id) < (h.priority, h.sender_id) {
                    let why = format!(
                        "dispatcher {} (priority {}) is active too",
                        h.sender_id, h.priority
                    );
                    self.step_down(why, true, k, v, &mut out);
                } else {
                    // What it opened meanwhile and replicates to this dispatcher: adopted, before
                    // the announcement below brings those sessions' packets here.
                    if !records.is_empty() {
                        self.adopt(&records, k);
                    }
                    // The other steps down, but its gratuitous ARP may have taken the VIP's
                    // neighbour entries (a backup that took over from this live dispatcher during
                    // a stall): announce the VIP again in the next heartbeats, or the gateway keeps
                    // sending to the backup, which drops, until its entry ages out.
                    self.garp_left = 2;
                    let r = v.announce();
                    self.note(r);
                }
            }
            (Role::Active, Role::Backup) => {
                // Both active is over: its sessions come again only in a handback.
                self.peer_sessions.clear();
                for r in &records {
                    match *r {
                        Record::ResyncRequest { .. } => self.resync_wanted = true,
                        Record::Ack {
                            flags,
                            epoch,
                            next_seq,
                        } => {
                            if let Some(p) = self.peer.as_mut() {
                                p.ack = Some((flags, epoch, next_seq, now));
                            }
                            let current = epoch == self.epoch && next_seq == self.next_seq;
                            if flags & ACK_WANTS_VIP != 0
                                && h.priority > self.cfg.priority
                                && current
                            {
                                let why = format!(
                                    "dispatcher {} (priority {}) is in sync and takes the VIP back",
                                    h.sender_id, h.priority
                                );
                                self.step_down(why, false, k, v, &mut out);
                                return out;
                            }
                        }
                        _ => {}
                    }
                }
                if self.resync_wanted {
                    self.replicate(k, &mut out);
                }
            }
            (Role::Backup, Role::Active) => self.backup_batch(&h, &records, now, k),
            (Role::Backup, Role::Backup) => {}
        }
        out
    }

    fn backup_batch(
        &mut self,
        h: &BatchHeader,
        records: &[Record],
        now: Instant,
        k: &mut dyn Kernel,
    ) {
        if records.is_empty() {
            // A heartbeat shows the next sequence the active will use.
            let (epoch, next) = self.tracker.expected();
            if epoch != h.epoch || next != h.seq {
                if self.synced || !self.need_resync {
                    self.need_resync = true;
                    self.asked_at = None;
                }
                self.synced = false;
            }
            return;
        }
        self.totals.batches_received += 1;
        self.last_batch = Some(now);
        match self.tracker.check(h) {
            SeqCheck::InOrder => {}
            SeqCheck::Lost(n) => {
                self.totals.batches_lost += u64::from(n);
                self.log.push(format!(
                    "{n} replication batches lost (epoch {}, batch {}): asking for a resync",
                    h.epoch, h.seq
                ));
                self.need_resync = true;
                self.synced = false;
                if self.in_resync.is_some() {
                    self.in_resync = None; // that resync is incomplete: ask again
                    self.asked_at = None;
                }
            }
            SeqCheck::NewEpoch => {
                if !matches!(records.first(), Some(Record::ResyncBegin { .. })) {
                    self.log.push(format!(
                        "batches of epoch {} without its beginning: asking for a resync",
                        h.epoch
                    ));
                    self.need_resync = true;
                    self.synced = false;
                    return;
                }
            }
            SeqCheck::Stale => return,
        }
        self.apply(records, k);
    }

    fn apply(&mut self, records: &[Record], k: &mut dyn Kernel) {
        let mut run: Vec<Record> = Vec::with_capacity(records.len() * 2);
        let mut flush = false;
        let mut last_session: Option<u32> = None;
        let mut unknown = 0u32;
        for r in records {
            match *r {
                Record::ResyncBegin { .. } => {
                    if !run.is_empty() {
                        self.hand(&run, flush, k);
                        run.clear();
                    }
                    flush = true;
                    self.sessions.clear();
                    self.in_resync = Some(0);
                    last_session = None;
                }
                Record::ResyncEnd { records: n } => {
                    let got = self.in_resync.take();
                    if got == Some(n) {
                        self.log.push(format!(
                            "in sync: {n} records of the resynchronisation, {} sessions",
                            self.sessions.len()
                        ));
                        self.need_resync = false;
                        self.synced = true;
                        self.asked_at = None;
                    } else {
                        self.log.push(format!(
                            "resynchronisation incomplete ({got:?} of {n} records): asking again"
                        ));
                        self.need_resync = true;
                        self.synced = false;
                        self.asked_at = None;
                    }
                }
                Record::Session(s) => {
                    self.count_resync();
                    self.sessions.insert(s.session_id, s);
                    run.push(*r);
                    last_session = Some(s.session_id);
                }
                Record::Flow(f) => {
                    self.count_resync();
                    match self.sessions.get(&f.session_id) {
                        Some(s) => {
                            if last_session != Some(f.session_id) {
                                run.push(Record::Session(*s));
                                last_session = Some(f.session_id);
                            }
                            run.push(*r);
                        }
                        None => unknown += 1,
                    }
                }
                // A SIP call's binding (sara.ko binds it to the session before it), as a flow.
                Record::Call(c) => {
                    self.count_resync();
                    match self.sessions.get(&c.session_id) {
                        Some(s) => {
                            if last_session != Some(c.session_id) {
                                run.push(Record::Session(*s));
                                last_session = Some(c.session_id);
                            }
                            run.push(*r);
                        }
                        None => unknown += 1,
                    }
                }
                // The active's Call-ID key: sara.ko hashes the calls that follow with it.
                Record::CallKey(_) => {
                    self.count_resync();
                    run.push(*r);
                }
                Record::SessionEnded { session_id } => {
                    self.count_resync();
                    if let Some(s) = self.sessions.remove(&session_id) {
                        if last_session != Some(session_id) {
                            run.push(Record::Session(s));
                        }
                        run.push(*r);
                        last_session = None;
                    }
                }
                _ => {}
            }
        }
        if !run.is_empty() || flush {
            self.hand(&run, flush, k);
        }
        self.totals.records_failed += u64::from(unknown);
    }

    fn count_resync(&mut self) {
        if let Some(n) = self.in_resync.as_mut() {
            *n = n.saturating_add(1);
        }
    }

    fn hand(&mut self, run: &[Record], flush: bool, k: &mut dyn Kernel) {
        for (i, chunk) in chunks(run, None).iter().enumerate() {
            match k.apply(chunk, flush && i == 0) {
                Ok((a, f)) => {
                    self.totals.records_applied += u64::from(a);
                    self.totals.records_failed += u64::from(f);
                }
                Err(e) => self.log.push(e),
            }
        }
        if run.is_empty() && flush {
            if let Err(e) = k.apply(&[], true) {
                self.log.push(e);
            }
        }
    }

    /// Active: records of the peer's sessions (a handback, or its replication while both are
    /// active), adopted by the kernel where it has nothing. A `Flow` or `Call` record gets its
    /// session's record in front (from this batch or an earlier one); a session's end only
    /// forgets it (the active ends its sessions itself).
    fn adopt(&mut self, records: &[Record], k: &mut dyn Kernel) {
        let mut run: Vec<Record> = Vec::with_capacity(records.len() * 2);
        let mut last_session: Option<u32> = None;
        for r in records {
            match *r {
                Record::Session(s) => {
                    self.peer_sessions.insert(s.session_id, s);
                    run.push(*r);
                    last_session = Some(s.session_id);
                }
                Record::Flow(FlowRecord { session_id, .. })
                | Record::Call(CallRecord { session_id, .. }) => {
                    match self.peer_sessions.get(&session_id) {
                        Some(s) => {
                            if last_session != Some(session_id) {
                                run.push(Record::Session(*s));
                                last_session = Some(session_id);
                            }
                            run.push(*r);
                        }
                        None => self.totals.records_failed += 1,
                    }
                }
                Record::CallKey(key) => self.peer_call_key = Some(key),
                Record::SessionEnded { session_id } => {
                    self.peer_sessions.remove(&session_id);
                    if last_session == Some(session_id) {
                        last_session = None;
                    }
                }
                _ => {}
            }
        }
        if run.is_empty() {
            return;
        }
        let key = self.peer_call_key.map(Record::CallKey);
        let (mut adopted, mut skipped) = (0u32, 0u32);
        for chunk in chunks(&run, key) {
            match k.adopt(&chunk) {
                Ok((a, s, f)) => {
                    adopted = adopted.saturating_add(a);
                    skipped = skipped.saturating_add(s);
                    self.totals.records_failed += u64::from(f);
                }
                Err(e) => self.log.push(e),
            }
        }
        self.totals.records_adopted += u64::from(adopted);
        self.totals.records_adopt_skipped += u64::from(skipped);
        if adopted > 0 {
            let from = self.peer.map_or(0, |p| p.id);
            self.log.push(format!(
                "adopted {adopted} records of sessions dispatcher {from} opened while active ({skipped} left as they were here)"
            ));
        }
    }
}

/// Records one kernel request holds: `genl::REPL_RUN_MAX` bytes, 400 records of 32 (and a spare).
const RUN_RECORDS: usize = 400;

/// A run cut into kernel requests. A chunk that begins with a session's flow, call or end gets that
/// session's record in front (sara.ko applies them to the session before them in the same
/// request); `prefix` (a `CallKey`) starts every chunk.
fn chunks(run: &[Record], prefix: Option<Record>) -> Vec<Vec<Record>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < run.len() {
        let end = (start + RUN_RECORDS).min(run.len());
        let mut chunk: Vec<Record> = Vec::with_capacity(end - start + 2);
        chunk.extend(prefix);
        let owner = match run[start] {
            Record::Flow(f) => Some(f.session_id),
            Record::Call(c) => Some(c.session_id),
            Record::SessionEnded { session_id } => Some(session_id),
            _ => None,
        };
        if let Some(id) = owner {
            if let Some(s) = run[..start].iter().rev().find_map(|r| match r {
                Record::Session(s) if s.session_id == id => Some(*s),
                _ => None,
            }) {
                chunk.push(Record::Session(s));
            }
        }
        chunk.extend_from_slice(&run[start..end]);
        start = end;
        out.push(chunk);
    }
    out
}

/// What a dispatcher that steps down hands back, from its table's dump (`Kernel::dump`: the
/// Call-ID key, sessions, flows, calls): its Call-ID key, and per live session opened after
/// `opened_after` (by serial order of ids; `None`: every session) its `Session` record followed by
/// its `Flow` and `Call` records.
fn handback_groups(
    table: &[Record],
    opened_after: Option<u32>,
) -> (Option<[u8; 16]>, Vec<Vec<Record>>) {
    let mine = |id: u32| opened_after.is_none_or(|floor| seq_after(id, floor));
    let mut key = None;
    let mut at: HashMap<u32, usize> = HashMap::new();
    let mut groups: Vec<Vec<Record>> = Vec::new();
    for r in table {
        match *r {
            Record::CallKey(k) => key = Some(k),
            Record::Session(s) if mine(s.session_id) => {
                if let Some(&i) = at.get(&s.session_id) {
                    groups[i][0] = *r;
                } else {
                    at.insert(s.session_id, groups.len());
                    groups.push(vec![*r]);
                }
            }
            Record::Flow(FlowRecord { session_id, .. })
            | Record::Call(CallRecord { session_id, .. }) => {
                if let Some(&i) = at.get(&session_id) {
                    groups[i].push(*r);
                }
            }
            _ => {}
        }
    }
    (key, groups)
}

/// Handback groups as batch contents: each batch begins with the Call-ID key (if known) and stands
/// alone; a group that does not fit what is left of a batch starts the next one, and one larger
/// than a batch goes on in the next with its `Session` record again in front.
fn handback_batches(key: Option<[u8; 16]>, groups: &[Vec<Record>]) -> Vec<Vec<Record>> {
    let fresh = || -> Vec<Record> { key.map(Record::CallKey).into_iter().collect() };
    let mut batches = Vec::new();
    let mut cur = fresh();
    let base = cur.len();
    for g in groups {
        if cur.len() > base && cur.len() + g.len() > repl::MAX_RECORDS {
            batches.push(std::mem::replace(&mut cur, fresh()));
        }
        for (i, r) in g.iter().enumerate() {
            if cur.len() >= repl::MAX_RECORDS {
                batches.push(std::mem::replace(&mut cur, fresh()));
                if i > 0 {
                    cur.push(g[0]);
                }
            }
            cur.push(*r);
        }
    }
    if cur.len() > base {
        batches.push(cur);
    }
    batches
}

#[cfg(test)]
mod tests;
