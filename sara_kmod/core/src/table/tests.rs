//! Unit tests of the flow table: one per rule of the spec's "Flows and sessions", plus structure.

extern crate std;

use super::super::flow::{FlowHasher, FlowKey, Wildcard, PROTO_TCP, PROTO_UDP};
use super::*;
use core::cell::RefCell;
use std::collections::HashSet;
use std::vec;
use std::vec::Vec;

type Sh = Shard<Vec<Slot>>;
const H: FlowHasher = FlowHasher::from_words(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
const VIP: [u8; 4] = [192, 0, 2, 10];
const T: u32 = 30_000;
const OPTS: PacketOpts = PacketOpts {
    keep_alive: true,
    probe_wildcards: true,
};

fn tcp(c: u16, sport: u16, dport: u16) -> FlowKey {
    let [a, b] = c.to_be_bytes();
    FlowKey::new([10, 1, a, b], sport, VIP, dport, PROTO_TCP)
}

fn udp(c: u16, sport: u16, dport: u16) -> FlowKey {
    FlowKey {
        protocol: PROTO_UDP,
        ..tcp(c, sport, dport)
    }
}

struct Fx {
    shards: Vec<RefCell<Sh>>,
    ev: RefCell<Vec<(FlowInfo, Removal)>>,
    moves: Moves,
}

impl Fx {
    fn new(n: usize, cap: usize) -> Fx {
        Fx {
            shards: (0..n)
                .map(|i| RefCell::new(Shard::new(vec![Slot::EMPTY; cap], i).unwrap()))
                .collect(),
            ev: RefCell::new(Vec::new()),
            moves: Moves::new(),
        }
    }
    fn t(&self) -> Table<'_, [RefCell<Sh>]> {
        Table::new(&self.shards[..], H).with_moves(&self.moves)
    }
    fn check(&self) {
        for s in &self.shards {
            s.borrow().check_invariants().unwrap();
        }
    }
    fn packet(&self, k: &FlowKey, now: Millis) -> Classified {
        self.packet_opts(k, now, OPTS)
    }
    fn packet_opts(&self, k: &FlowKey, now: Millis, o: PacketOpts) -> Classified {
        let r = self.t().packet(k, now, 100, o, &mut |f: &FlowInfo, w| {
            self.ev.borrow_mut().push((*f, w))
        });
        self.check();
        r
    }
    fn open(
        &self,
        k: &FlowKey,
        id: u32,
        server: u16,
        now: Millis,
    ) -> Result<SessionRef, InsertError> {
        let r = self
            .t()
            .open_session(k, id, server, T, now, 60, &mut |f: &FlowInfo, w| {
                self.ev.borrow_mut().push((*f, w))
            });
        self.check();
        r
    }
    fn announce(
        &self,
        k: &FlowKey,
        w: Wildcard,
        r: SessionRef,
        now: Millis,
    ) -> Result<Loc, AnnounceError> {
        let res = self.t().announce(k, w, r, T, now, &mut |f: &FlowInfo, x| {
            self.ev.borrow_mut().push((*f, x))
        });
        self.check();
        res
    }
    fn purge_all(&self, now: Millis) -> PurgeReport {
        self.purge_pass(now, Aging::Idle)
    }
    /// A whole pass of a backup's purge (`purge_step_replicated`) over every shard.
    fn purge_all_replicated(&self, now: Millis) -> PurgeReport {
        self.purge_pass(now, Aging::Replicated)
    }
    fn purge_pass(&self, now: Millis, aging: Aging) -> PurgeReport {
        let cap = self.shards[0].borrow().capacity();
        let mut total = PurgeReport::default();
        // Enough steps for every shard to go round once even when pending checks stop steps early.
        for _ in 0..(cap + 2) {
            let mut tell = |f: &FlowInfo, w| self.ev.borrow_mut().push((*f, w));
            let rep = self.t().purge_shards(aging, now, cap, &mut tell);
            total.add(&rep);
            if total.visited as usize >= cap * self.shards.len() {
                break;
            }
        }
        self.check();
        total
    }
    fn events(&self) -> Vec<(FlowInfo, Removal)> {
        core::mem::take(&mut *self.ev.borrow_mut())
    }
}

fn known(c: Classified) -> Forward {
    match c {
        Classified::Known(f) => f,
        Classified::Unknown => panic!("expected a known flow"),
    }
}

#[test]
fn slot_is_compact() {
    assert_eq!(core::mem::size_of::<Slot>(), 56);
    assert_eq!(core::mem::align_of::<Slot>(), 8);
    // Chaining with the bucket heads inside the slots: the table is sized to its capacity exactly, so
    // at the configured (maximum) load factor of 1.0 the memory per tracked flow is one slot.
    let cap = 1 << 20;
    let bytes_per_flow = core::mem::size_of::<Slot>() * cap / cap;
    assert!(bytes_per_flow <= 64, "{bytes_per_flow} bytes per flow");
    assert!(core::mem::size_of::<PendingChecks>() <= 128);
}

#[test]
fn loc_encoding() {
    let l = Loc::new(63, 0x00ab_cdef).unwrap();
    assert_eq!((l.shard(), l.slot()), (63, 0x00ab_cdef));
    assert_eq!(Loc::from_raw(l.raw()), l);
    assert_eq!(Loc::new(256, 0), None);
    assert_eq!(Loc::new(0, 1 << 24), None);
    assert_eq!(
        Shard::new(vec![Slot::EMPTY; 0], 0).err(),
        Some(ShardError::Capacity)
    );
    assert_eq!(
        Shard::new(vec![Slot::EMPTY; 1], 256).err(),
        Some(ShardError::Index)
    );
}

#[test]
fn unknown_then_signalling_new_then_established() {
    let fx = Fx::new(4, 64);
    let k = tcp(1, 40000, 554);
    assert_eq!(fx.packet(&k, 0), Classified::Unknown);
    let r = fx.open(&k, 7, 3, 0).unwrap();
    let info = fx.t().get(&k, Wildcard::Exact).unwrap();
    assert_eq!(
        (info.identity, info.status, info.server, info.session),
        (Identity::Signalling, Status::New, 3, r)
    );
    assert_eq!((info.packets, info.bytes), (1, 60));
    let f = known(fx.packet(&k, 10));
    assert_eq!(f.server, 3);
    assert_eq!(
        (f.prev_identity, f.prev_status),
        (Identity::Signalling, Status::New)
    );
    assert_eq!(
        (f.flow.identity, f.flow.status, f.flow.last_seen),
        (Identity::Signalling, Status::Established, 10)
    );
    assert_eq!((f.flow.packets, f.flow.bytes), (2, 160));
    assert!(f.inspect());
    assert_eq!(fx.open(&k, 8, 4, 11), Err(InsertError::Exists(r.loc)));
    let c = fx.t().counts();
    assert_eq!((c.flows, c.signalling, c.established, c.new), (1, 1, 1, 0));
}

#[test]
fn announced_exact_becomes_secondary_on_its_first_packet() {
    let fx = Fx::new(4, 64);
    let sig = tcp(1, 40000, 554);
    let r = fx.open(&sig, 1, 5, 0).unwrap();
    let media = udp(1, 5000, 6970);
    let loc = fx.announce(&media, Wildcard::Exact, r, 5).unwrap();
    let a = fx.t().get(&media, Wildcard::Exact).unwrap();
    assert_eq!(
        (a.identity, a.status, a.server, a.loc, a.session),
        (Identity::Announced, Status::New, 5, loc, r)
    );
    let f = known(fx.packet(&media, 20));
    assert_eq!(f.server, 5);
    assert_eq!(
        (f.prev_identity, f.prev_status),
        (Identity::Announced, Status::New)
    );
    assert_eq!(
        (f.flow.identity, f.flow.status),
        (Identity::Secondary, Status::Established)
    );
    assert!(!f.inspect());
    let f = known(fx.packet(&media, 30));
    assert_eq!(
        (f.prev_identity, f.flow.identity, f.flow.last_seen),
        (Identity::Secondary, Identity::Secondary, 30)
    );
    // Same session announcing the same key again: no change, same location.
    assert_eq!(fx.announce(&media, Wildcard::Exact, r, 40), Ok(loc));
}

#[test]
fn wildcard_entries_are_found_by_the_second_lookup_and_confirmed() {
    for w in [Wildcard::DstPort, Wildcard::SrcPort, Wildcard::BothPorts] {
        let fx = Fx::new(8, 64);
        let sig = tcp(1, 40000, 554);
        let r = fx.open(&sig, 1, 9, 0).unwrap();
        let media = udp(1, 5000, 6970);
        fx.announce(&media, w, r, 1).unwrap();
        let stored = fx.t().get(&media, w).unwrap();
        assert_eq!(stored.key, media.wildcarded(w));
        assert_eq!(stored.wildcard, w);
        assert_eq!(fx.t().counts().wildcards, 1);
        // The exact key misses, a wildcard entry matches: the exact key is installed.
        let f = known(fx.packet(&media, 50));
        assert_eq!((f.server, f.wildcard, f.installed), (9, Some(w), true));
        assert_eq!(
            (f.prev_identity, f.flow.identity),
            (Identity::Announced, Identity::Secondary)
        );
        assert_eq!(f.flow.key, media);
        assert_eq!(fx.t().get(&media, w), None, "wildcard replaced");
        assert_eq!(
            fx.events().iter().map(|e| e.1).collect::<Vec<_>>(),
            vec![Removal::Replaced]
        );
        let c = fx.t().counts();
        assert_eq!((c.flows, c.wildcards, c.secondary), (2, 0, 1));
        // Next packet: exact hit.
        let f = known(fx.packet(&media, 60));
        assert_eq!((f.wildcard, f.prev_identity), (None, Identity::Secondary));
        // A flow not covered by the wildcard stays unknown.
        assert_eq!(fx.packet(&udp(2, 5000, 6970), 70), Classified::Unknown);
    }
}

#[test]
fn moves_between_records_are_counted_for_dumps() {
    let fx = Fx::new(8, 64);
    let r = fx.open(&tcp(1, 40000, 554), 1, 9, 0).unwrap();
    let stamp = fx.moves.stamp().expect("no move in progress");
    // Opening, announcing and exact hits leave every living flow in its record.
    let media = udp(1, 5000, 6970);
    fx.announce(&media, Wildcard::DstPort, r, 1).unwrap();
    known(fx.packet(&tcp(1, 40000, 554), 2));
    assert!(fx.moves.unchanged(stamp));
    // The first media packet moves the flow from its wildcard entry to its exact entry.
    assert!(known(fx.packet(&media, 3)).installed);
    assert!(!fx.moves.unchanged(stamp), "a confirmation is a move");
    let stamp = fx.moves.stamp().expect("the move is over");
    known(fx.packet(&media, 4));
    assert!(fx.moves.unchanged(stamp));
    // A gateway report completing a wildcard entry is a move too.
    let partial = udp(1, 0, 7000);
    fx.announce(&partial, Wildcard::SrcPort, r, 5).unwrap();
    let full = udp(1, 5002, 7000);
    fx.t()
        .complete_announced(&partial, Wildcard::SrcPort, &full, 6, &mut |_, _| {})
        .unwrap();
    assert!(!fx.moves.unchanged(stamp));
    // While a move is in progress no walk can start consistently.
    let mv = fx.moves.begin();
    assert_eq!(fx.moves.stamp(), None);
    drop(mv);
    assert!(fx.moves.stamp().is_some());
}

#[test]
fn wildcard_with_no_probing_is_not_seen() {
    let fx = Fx::new(4, 64);
    let r = fx.open(&tcp(1, 1, 554), 1, 1, 0).unwrap();
    let media = udp(1, 5000, 6970);
    fx.announce(&media, Wildcard::DstPort, r, 1).unwrap();
    assert_eq!(
        fx.packet_opts(
            &media,
            2,
            PacketOpts {
                probe_wildcards: false,
                keep_alive: true
            }
        ),
        Classified::Unknown
    );
    assert!(matches!(fx.packet(&media, 3), Classified::Known(_)));
}

#[test]
fn wildcard_confirmation_when_the_exact_shard_is_full_forwards_and_keeps_the_wildcard() {
    // One shard of 2 slots: signalling + wildcard entry fill it.
    let fx = Fx::new(1, 2);
    let r = fx.open(&tcp(1, 1, 554), 1, 4, 0).unwrap();
    let media = udp(1, 5000, 6970);
    fx.announce(&media, Wildcard::DstPort, r, 1).unwrap();
    let f = known(fx.packet(&media, 2));
    assert_eq!(
        (f.server, f.installed, f.flow.wildcard),
        (4, false, Wildcard::DstPort)
    );
    assert!(fx.t().get(&media, Wildcard::DstPort).is_some());
    assert_eq!(fx.shards[0].borrow().stats().full_members, 1);
}

#[test]
fn gateway_report_completes_a_wildcard_entry() {
    let fx = Fx::new(8, 64);
    let r = fx.open(&tcp(1, 40000, 554), 1, 2, 0).unwrap();
    let partial = udp(1, 5000, 0);
    fx.announce(&partial, Wildcard::DstPort, r, 1).unwrap();
    let full = udp(1, 5000, 6970);
    let t = fx.t();
    let mut ign = ignore;
    assert_eq!(
        t.complete_announced(
            &partial,
            Wildcard::DstPort,
            &udp(1, 5001, 6970),
            2,
            &mut ign
        ),
        Err(AnnounceError::Mismatch)
    );
    assert_eq!(
        t.complete_announced(&partial, Wildcard::Exact, &full, 2, &mut ign),
        Err(AnnounceError::Mismatch)
    );
    assert_eq!(
        t.complete_announced(
            &udp(3, 5000, 0),
            Wildcard::DstPort,
            &udp(3, 5000, 1),
            2,
            &mut ign
        ),
        Err(AnnounceError::NotFound)
    );
    let loc = t
        .complete_announced(&partial, Wildcard::DstPort, &full, 3, &mut ign)
        .unwrap();
    fx.check();
    let a = t.get(&full, Wildcard::Exact).unwrap();
    assert_eq!(
        (a.loc, a.identity, a.status, a.session, a.last_seen),
        (loc, Identity::Announced, Status::New, r, 3)
    );
    assert_eq!(t.get(&partial, Wildcard::DstPort), None);
    assert_eq!(
        t.complete_announced(&partial, Wildcard::DstPort, &full, 4, &mut ign),
        Err(AnnounceError::NotFound)
    );
    let f = known(fx.packet(&full, 5));
    assert_eq!(
        (f.prev_identity, f.flow.identity, f.server),
        (Identity::Announced, Identity::Secondary, 2)
    );
}

#[test]
fn report_after_first_packet_just_removes_the_wildcard() {
    let fx = Fx::new(8, 64);
    let r = fx.open(&tcp(1, 40000, 554), 1, 2, 0).unwrap();
    let full = udp(1, 5000, 6970);
    fx.announce(&full, Wildcard::DstPort, r, 1).unwrap();
    // Announce the exact key too (another wildcard-free announcement of the same flow).
    let exact = fx.announce(&full, Wildcard::Exact, r, 1).unwrap();
    let loc = fx
        .t()
        .complete_announced(&full, Wildcard::DstPort, &full, 2, &mut ignore)
        .unwrap();
    assert_eq!(loc, exact);
    assert_eq!(fx.t().counts().wildcards, 0);
}

#[test]
fn inactive_after_timeout_and_gone_after_twice_the_timeout() {
    let fx = Fx::new(2, 16);
    let k = tcp(1, 1, 80);
    fx.open(&k, 1, 1, 0).unwrap();
    known(fx.packet(&k, 0));
    // idle == timeout: still Established.
    fx.purge_all(T);
    assert_eq!(
        fx.t().get(&k, Wildcard::Exact).unwrap().status,
        Status::Established
    );
    // idle == timeout + 1: Inactive.
    let rep = fx.purge_all(T + 1);
    assert_eq!(rep.inactive, 1);
    let info = fx.t().get(&k, Wildcard::Exact).unwrap();
    assert_eq!(
        (info.status, info.status_at(T + 1)),
        (Status::Inactive, Status::Inactive)
    );
    assert_eq!(fx.t().counts().inactive, 1);
    // A packet revives it.
    let f = known(fx.packet(&k, T + 2));
    assert_eq!(
        (f.prev_status, f.flow.status),
        (Status::Inactive, Status::Established)
    );
    // idle == 2 × timeout: still there; + 1: gone, even before any purge.
    let last = T + 2;
    assert!(matches!(
        fx.packet_opts(&k, last, OPTS),
        Classified::Known(_)
    ));
    fx.purge_all(last + 2 * T);
    assert!(fx.t().get(&k, Wildcard::Exact).is_some());
    fx.events();
    assert_eq!(fx.packet(&k, last + 2 * T + 1), Classified::Unknown);
    let ev = fx.events();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].0.key, ev[0].1), (k, Removal::Expired));
    assert!(fx.t().is_empty());
}

#[test]
fn purge_removes_expired_flows_and_reports_them() {
    let fx = Fx::new(4, 32);
    for c in 0..20 {
        fx.open(&tcp(c, 1, 80), u32::from(c), 1, u32::from(c) * 1000)
            .unwrap();
    }
    // At 2T + 9500 ms, flows opened at 0..=9 s are past 2T (+0.5 s margin); 10..19 are not.
    let now = 2 * T + 9_500;
    let rep = fx.purge_all(now);
    assert_eq!(rep.removed, 10);
    let ev = fx.events();
    assert!(ev
        .iter()
        .all(|(f, w)| *w == Removal::Expired && f.last_seen < 10_000));
    assert_eq!(fx.t().len(), 10);
    assert_eq!(fx.t().counts().inactive, 10);
}

#[test]
fn purge_step_is_bounded_by_its_budget_and_wraps() {
    let fx = Fx::new(1, 100);
    let mut pending = PendingChecks::new();
    let mut sh = fx.shards[0].borrow_mut();
    let mut visited = 0;
    let mut wrapped = 0;
    for _ in 0..25 {
        let rep = sh.purge_step(0, 7, &mut pending, &mut ignore);
        assert_eq!(rep.visited, 7);
        visited += rep.visited;
        wrapped += u32::from(rep.wrapped);
    }
    assert_eq!((visited, wrapped), (175, 1));
    assert_eq!(
        sh.purge_step(0, 1000, &mut pending, &mut ignore).visited,
        100,
        "never more than the shard"
    );
}

#[test]
fn ending_a_session_ends_its_members_everywhere_at_once() {
    let fx = Fx::new(8, 64);
    let sig = tcp(1, 40000, 5060);
    let r = fx.open(&sig, 1, 3, 0).unwrap();
    let members: Vec<FlowKey> = (0..12).map(|i| udp(1, 6000 + i, 7000 + i)).collect();
    for m in &members {
        fx.announce(m, Wildcard::Exact, r, 1).unwrap();
    }
    known(fx.packet(&members[0], 2));
    let partial = udp(1, 9000, 0);
    fx.announce(&partial, Wildcard::DstPort, r, 1).unwrap();
    assert_eq!(fx.t().len(), 14);
    // SIP BYE / RTSP TEARDOWN: end with a linger of 2 s.
    let ended = fx.t().end_session(r, 10, 2_000, &mut ignore).unwrap();
    assert_eq!((ended.identity, ended.ended), (Identity::Signalling, false));
    assert_eq!(
        fx.t().end_session(r, 11, 2_000, &mut ignore),
        None,
        "ends once"
    );
    // Members no longer match (and are removed when met), wherever they live.
    for m in &members {
        assert_eq!(fx.packet(m, 20), Classified::Unknown);
    }
    assert_eq!(fx.packet(&udp(1, 9000, 1234), 20), Classified::Unknown);
    assert!(fx.events().iter().all(|e| e.1 == Removal::Orphaned));
    // The signalling flow lingers: still forwarded, not inspected, not refreshed as a session.
    let f = known(fx.packet(&sig, 1_000));
    assert!(f.flow.ended && !f.inspect());
    assert_eq!((f.server, f.flow.status), (3, Status::Inactive));
    assert_eq!(fx.t().counts().ended, 1);
    // Its linger runs from its last packet.
    assert!(matches!(fx.packet(&sig, 3_000), Classified::Known(_)));
    assert_eq!(fx.packet(&sig, 5_001), Classified::Unknown);
    assert_eq!(fx.events()[0].1, Removal::Closed);
    assert!(fx.t().is_empty());
}

#[test]
fn tcp_close_of_the_signalling_flow_ends_the_session() {
    let fx = Fx::new(4, 64);
    let sig = tcp(1, 40000, 21);
    let r = fx.open(&sig, 1, 3, 0).unwrap();
    let data = tcp(1, 40001, 20000);
    fx.announce(&data, Wildcard::Exact, r, 1).unwrap();
    // A member's FIN ends only the member.
    let m = fx.t().end_flow(&data, 5, 0, &mut ignore).unwrap();
    assert_eq!(m.identity, Identity::Announced);
    assert_eq!(fx.t().get(&data, Wildcard::Exact), None);
    assert!(matches!(fx.packet(&sig, 6), Classified::Known(_)));
    // FIN on the signalling flow with no linger: gone at once.
    fx.announce(&data, Wildcard::Exact, r, 7).unwrap();
    let s = fx.t().end_flow(&sig, 8, 0, &mut ignore).unwrap();
    assert_eq!(s.session, r);
    assert_eq!(fx.packet(&sig, 9), Classified::Unknown);
    assert_eq!(fx.packet(&data, 9), Classified::Unknown);
    assert!(fx.t().is_empty());
}

#[test]
fn purge_reclaims_orphans_in_other_shards() {
    let fx = Fx::new(8, 64);
    let sig = tcp(1, 40000, 554);
    let r = fx.open(&sig, 1, 3, 0).unwrap();
    for i in 0..30 {
        fx.announce(&udp(1, 6000 + i, 7000), Wildcard::Exact, r, 1)
            .unwrap();
    }
    let spread: HashSet<usize> = (0..30)
        .map(|i| {
            fx.t()
                .get(&udp(1, 6000 + i, 7000), Wildcard::Exact)
                .unwrap()
                .loc
                .shard()
        })
        .collect();
    assert!(spread.len() > 2, "members spread over shards");
    fx.t().end_session(r, 2, 0, &mut ignore).unwrap();
    assert_eq!(fx.t().len(), 30);
    let rep = fx.purge_all(3);
    assert_eq!(rep.removed, 30);
    assert!(fx.t().is_empty());
    assert!(fx.events().iter().all(|e| e.1 == Removal::Orphaned));
}

#[test]
fn expiry_of_the_signalling_flow_ends_the_session() {
    let fx = Fx::new(4, 64);
    let sig = tcp(1, 40000, 554);
    let r = fx.open(&sig, 1, 3, 0).unwrap();
    let media = udp(1, 5000, 6970);
    fx.announce(&media, Wildcard::Exact, r, 0).unwrap();
    // Without keep-alive, media packets do not keep the session: at 2T + 1 the signalling flow is gone.
    let no_ka = PacketOpts {
        keep_alive: false,
        probe_wildcards: true,
    };
    for t in (0..=2 * T).step_by(5_000) {
        assert!(matches!(
            fx.packet_opts(&media, t, no_ka),
            Classified::Known(_)
        ));
    }
    assert_eq!(
        fx.packet_opts(&media, 2 * T + 1, no_ka),
        Classified::Unknown
    );
    let ev = fx.events();
    assert_eq!(
        ev.iter().map(|e| (e.0.identity, e.1)).collect::<Vec<_>>(),
        vec![
            (Identity::Signalling, Removal::Expired),
            (Identity::Secondary, Removal::Orphaned)
        ]
    );
}

#[test]
fn keep_alive_keeps_an_active_session() {
    let fx = Fx::new(4, 64);
    let sig = udp(1, 5060, 5060);
    let r = fx.open(&sig, 1, 3, 0).unwrap();
    let media = udp(1, 5000, 6970);
    fx.announce(&media, Wildcard::Exact, r, 0).unwrap();
    // RTP every 5 s for 10 minutes while SIP is silent.
    for t in (5_000..600_000).step_by(5_000) {
        assert_eq!(known(fx.packet(&media, t)).server, 3);
        if t % 60_000 == 0 {
            fx.purge_all(t);
        }
    }
    let s = fx.t().get(&sig, Wildcard::Exact).unwrap();
    assert_eq!(s.last_seen, 595_000);
    // The signalling flow itself was not hit by a packet: still New (no second signalling packet).
    assert_eq!((s.packets, s.status), (1, Status::New));
}

#[test]
fn full_table_refuses_new_sessions_and_never_evicts() {
    let fx = Fx::new(1, 8);
    for c in 0..8 {
        fx.open(&tcp(c, 1, 80), u32::from(c), 1, 0).unwrap();
        known(fx.packet(&tcp(c, 1, 80), 1));
    }
    assert!(fx.shards[0].borrow().is_full());
    assert_eq!(fx.open(&tcp(100, 1, 80), 100, 1, 2), Err(InsertError::Full));
    assert_eq!(fx.open(&tcp(101, 1, 80), 101, 1, 2), Err(InsertError::Full));
    assert_eq!(fx.shards[0].borrow().stats().full_sessions, 2);
    let r0 = fx.t().get(&tcp(0, 1, 80), Wildcard::Exact).unwrap().session;
    assert_eq!(
        fx.announce(&udp(0, 1, 2), Wildcard::Exact, r0, 2),
        Err(AnnounceError::Full)
    );
    for c in 0..8 {
        assert_eq!(
            known(fx.packet(&tcp(c, 1, 80), 3)).flow.identity,
            Identity::Signalling,
            "not evicted"
        );
    }
    // Room comes back when a flow expires: the insert meets... nothing, the purge frees the slot.
    fx.t().end_flow(&tcp(3, 1, 80), 4, 0, &mut ignore).unwrap();
    fx.open(&tcp(100, 1, 80), 100, 1, 5).unwrap();
}

#[test]
fn expired_records_do_not_block_inserts_of_their_key() {
    let fx = Fx::new(1, 4);
    let k = tcp(1, 1, 80);
    fx.open(&k, 1, 1, 0).unwrap();
    let r = fx.open(&k, 2, 2, 2 * T + 1).unwrap();
    assert_eq!(r.id, 2);
    assert_eq!(fx.events()[0].1, Removal::Expired);
}

#[test]
fn reassign_moves_the_whole_session() {
    let fx = Fx::new(8, 64);
    let sig = tcp(1, 40000, 554);
    let r = fx.open(&sig, 1, 3, 0).unwrap();
    let media: Vec<FlowKey> = (0..6).map(|i| udp(1, 6000 + i, 7000)).collect();
    for m in &media {
        fx.announce(m, Wildcard::Exact, r, 1).unwrap();
    }
    assert!(fx.t().reassign(r, 8, 2));
    assert_eq!(known(fx.packet(&sig, 3)).server, 8);
    for m in &media {
        let f = known(fx.packet(m, 4));
        assert_eq!((f.server, f.flow.server), (8, 8));
        assert_eq!(
            fx.t().get(m, Wildcard::Exact).unwrap().server,
            8,
            "copy refreshed"
        );
    }
    assert!(
        !fx.t().reassign(SessionRef { loc: r.loc, id: 99 }, 1, 5),
        "wrong id"
    );
}

#[test]
fn redispatch_walks_sessions_of_one_server() {
    let fx = Fx::new(4, 32);
    let mut sessions = Vec::new();
    for c in 0..20u16 {
        sessions.push(
            fx.open(
                &tcp(c, 1, 80),
                u32::from(c),
                if c % 2 == 0 { 1 } else { 2 },
                0,
            )
            .unwrap(),
        );
        fx.announce(&udp(c, 1, 2), Wildcard::Exact, sessions[usize::from(c)], 0)
            .unwrap();
    }
    let mut cur = TableCursor::default();
    let mut moved = 0;
    let mut calls = 0;
    loop {
        let (n, w) = fx.t().redispatch_step(
            &mut cur,
            5,
            1,
            1,
            |f| {
                assert_eq!((f.identity, f.server), (Identity::Signalling, 1));
                if f.key.src_addr[3] == 0 {
                    Redispatch::End { linger_ms: 0 }
                } else {
                    Redispatch::Move(7)
                }
            },
            &mut ignore,
        );
        moved += n;
        calls += 1;
        if w == Walk::Done {
            break;
        }
    }
    assert_eq!(moved, 10);
    assert!(calls >= 4 * 32 / 5);
    for c in 0..20u16 {
        let want = if c == 0 {
            None
        } else if c % 2 == 0 {
            Some(7)
        } else {
            Some(2)
        };
        assert_eq!(
            fx.t()
                .get(&tcp(c, 1, 80), Wildcard::Exact)
                .map(|f| f.server),
            want,
            "client {c}"
        );
    }
    assert_eq!(fx.packet(&udp(0, 1, 2), 2), Classified::Unknown);
    assert_eq!(known(fx.packet(&udp(2, 1, 2), 2)).server, 7);
}

#[test]
fn dump_is_resumable_and_exact() {
    let fx = Fx::new(4, 50);
    let keys: Vec<FlowKey> = (0..120).map(|c| tcp(c, 1, 80)).collect();
    for (i, k) in keys.iter().enumerate() {
        fx.open(k, i as u32, 1, 0).unwrap();
    }
    // Small budgets, and a consumer that refuses every 7th record once (message full).
    let mut seen = Vec::new();
    let mut cur = TableCursor::default();
    let mut refusals = 0;
    let mut step = 0;
    loop {
        step += 1;
        let w = fx.t().dump(&mut cur, 13, |f| {
            if seen.len() % 7 == 3 && refusals < seen.len() / 7 + 1 {
                refusals += 1;
                return false;
            }
            seen.push(f.key);
            true
        });
        // Between calls, flows come and go; the 120 that stay must be seen exactly once.
        if step % 3 == 0 {
            let extra = tcp(1000 + step, 1, 80);
            let _ = fx.open(&extra, 0, 1, 0);
            fx.t().remove(&extra, Wildcard::Exact);
        }
        if w == Walk::Done {
            break;
        }
        assert!(step < 1000);
    }
    let set: HashSet<FlowKey> = seen.iter().copied().collect();
    assert_eq!(set.len(), seen.len(), "no record twice");
    for k in &keys {
        assert!(set.contains(k), "record missing");
    }
    assert_eq!(cur, TableCursor::default());
}

#[test]
fn dump_of_one_shard_stops_when_told() {
    let fx = Fx::new(1, 10);
    for c in 0..10 {
        fx.open(&tcp(c, 1, 80), 0, 1, 0).unwrap();
    }
    let sh = fx.shards[0].borrow();
    let mut cur = 0;
    let mut n = 0;
    assert_eq!(
        sh.dump(&mut cur, 100, |_| {
            n += 1;
            n < 4
        }),
        Walk::More
    );
    assert_eq!(cur, 3);
    let mut rest = 0;
    assert_eq!(
        sh.dump(&mut cur, 100, |_| {
            rest += 1;
            true
        }),
        Walk::Done
    );
    assert_eq!((rest, cur), (7, 0));
}

#[test]
fn announce_conflicts() {
    let fx = Fx::new(4, 64);
    let r1 = fx.open(&tcp(1, 1, 554), 1, 1, 0).unwrap();
    let r2 = fx.open(&tcp(2, 1, 554), 2, 2, 0).unwrap();
    let m = udp(9, 5000, 6000);
    fx.announce(&m, Wildcard::Exact, r1, 1).unwrap();
    assert!(matches!(
        fx.announce(&m, Wildcard::Exact, r2, 1),
        Err(AnnounceError::Exists(_))
    ));
    // A signalling flow's key cannot be announced, not even by its own session.
    assert!(matches!(
        fx.announce(&tcp(2, 1, 554), Wildcard::Exact, r1, 1),
        Err(AnnounceError::Exists(_))
    ));
    assert!(matches!(
        fx.announce(&tcp(2, 1, 554), Wildcard::Exact, r2, 1),
        Err(AnnounceError::Exists(_))
    ));
    // Once r1 is over, r2 takes the key over.
    fx.t().end_session(r1, 2, 0, &mut ignore).unwrap();
    let loc = fx.announce(&m, Wildcard::Exact, r2, 3).unwrap();
    assert_eq!(fx.t().get(&m, Wildcard::Exact).unwrap().session, r2);
    assert_eq!(fx.t().get(&m, Wildcard::Exact).unwrap().loc, loc);
    assert_eq!(
        fx.announce(&udp(9, 1, 1), Wildcard::Exact, r1, 4),
        Err(AnnounceError::SessionGone)
    );
    // A stale reference (right place, wrong id) is refused too.
    assert_eq!(
        fx.announce(
            &udp(9, 1, 1),
            Wildcard::Exact,
            SessionRef { id: 77, ..r2 },
            4
        ),
        Err(AnnounceError::SessionGone)
    );
}

#[test]
fn a_refresh_slightly_ahead_of_now_is_not_expiry() {
    // CPU B refreshed the flow at 1001 after CPU A read the clock at 1000.
    let fx = Fx::new(2, 16);
    let k = tcp(1, 1, 80);
    fx.open(&k, 1, 1, 0).unwrap();
    known(fx.packet(&k, 1001));
    assert!(matches!(fx.packet(&k, 1000), Classified::Known(_)));
    fx.purge_all(1000);
    assert_eq!(
        fx.t().get(&k, Wildcard::Exact).unwrap().status,
        Status::Established
    );
    assert_eq!(idle_ms(1000, 1001), 0);
    assert_eq!(idle_ms(0, u32::MAX), 1);
}

#[test]
fn time_wraps_around() {
    let fx = Fx::new(2, 16);
    let start = u32::MAX - 5_000;
    let k = tcp(1, 1, 80);
    fx.open(&k, 1, 1, start).unwrap();
    let t1 = start.wrapping_add(10_000); // past the wrap
    assert!(t1 < start);
    known(fx.packet(&k, t1));
    fx.purge_all(t1.wrapping_add(T));
    assert_eq!(
        fx.t().get(&k, Wildcard::Exact).unwrap().status,
        Status::Established
    );
    fx.purge_all(t1.wrapping_add(T + 1));
    assert_eq!(
        fx.t().get(&k, Wildcard::Exact).unwrap().status,
        Status::Inactive
    );
    assert!(matches!(
        fx.packet(&k, t1.wrapping_add(2 * T)),
        Classified::Known(_)
    ));
    assert_eq!(
        fx.packet(&k, t1.wrapping_add(4 * T + 1)),
        Classified::Unknown
    );
}

#[test]
fn chains_survive_any_removal_order() {
    // Capacity 5 with 5 flows: buckets collide; remove in every rotation and check the structure.
    for rot in 0..5 {
        let fx = Fx::new(1, 5);
        let keys: Vec<FlowKey> = (0..5).map(|c| tcp(c, 7, 80)).collect();
        for (i, k) in keys.iter().enumerate() {
            fx.open(k, i as u32, 1, 0).unwrap();
        }
        for j in 0..5 {
            let k = keys[(j + rot) % 5];
            assert_eq!(fx.t().remove(&k, Wildcard::Exact).unwrap().key, k);
            fx.check();
            for (i, other) in keys.iter().enumerate() {
                let gone = (0..=j).any(|x| (x + rot) % 5 == i);
                assert_eq!(fx.t().get(other, Wildcard::Exact).is_some(), !gone);
            }
        }
        assert!(fx.t().is_empty());
        // Every slot is free again.
        for c in 10..15 {
            fx.open(&tcp(c, 7, 80), 0, 1, 0).unwrap();
        }
        assert!(fx.shards[0].borrow().is_full());
    }
}

#[test]
fn counters_saturate() {
    let fx = Fx::new(1, 4);
    let k = tcp(1, 1, 80);
    fx.open(&k, 1, 1, 0).unwrap();
    for _ in 0..3 {
        fx.t().packet(&k, 0, u32::MAX, OPTS, &mut ignore);
    }
    let f = fx.t().get(&k, Wildcard::Exact).unwrap();
    assert_eq!((f.packets, f.bytes), (4, 3 * u64::from(u32::MAX) + 60));
}

#[test]
fn touch_all_keeps_idle_flows_alive_and_clear_empties_the_table() {
    let fx = Fx::new(4, 16);
    let r = fx.open(&tcp(1, 40000, 554), 1, 2, 0).unwrap();
    fx.announce(&udp(1, 5000, 0), Wildcard::DstPort, r, 0)
        .unwrap();
    fx.open(&tcp(2, 40001, 554), 2, 1, 0).unwrap();
    // Long idle (a backup saw no packet): touched at takeover, nothing has expired.
    let late = 10 * T;
    assert_eq!(fx.t().touch_all(late), 3);
    fx.check();
    assert_eq!(fx.purge_all(late + 1).removed, 0);
    assert_eq!(fx.t().len(), 3);
    assert_eq!(
        fx.t()
            .get(&tcp(1, 40000, 554), Wildcard::Exact)
            .unwrap()
            .last_seen,
        late
    );
    fx.events();
    assert_eq!(
        fx.t()
            .clear(&mut |f: &FlowInfo, w| fx.ev.borrow_mut().push((*f, w))),
        3
    );
    fx.check();
    assert!(fx.t().is_empty());
    let ev = fx.events();
    assert_eq!(ev.len(), 3);
    assert!(ev.iter().all(|(_, w)| *w == Removal::Deleted));
    // The table works as before.
    fx.open(&tcp(1, 40000, 554), 3, 1, late).unwrap();
    assert_eq!(fx.t().len(), 1);
}

/// A backup's purge: replicated records see no packets there, so idle time says nothing of them;
/// only what replication ended goes — an ended session after its linger, and the members of a
/// session that is gone or ended, in its shard or another — and nothing is marked Inactive. (The
/// soak found a backup whose table kept every session it was ever told of.)
#[test]
fn a_backups_purge_removes_only_what_replication_ended() {
    let fx = Fx::new(4, 64);
    let mut sessions = Vec::new();
    for c in 0..8u16 {
        let r = fx.open(&udp(c, 5060, 5060), u32::from(c), 1, 0).unwrap();
        fx.announce(&udp(c, 7000 + c, 6000), Wildcard::Exact, r, 0)
            .unwrap();
        sessions.push(r);
    }
    assert_eq!(fx.t().len(), 16);
    // Long past every timeout: nothing goes, nothing becomes Inactive.
    let later = 100 * T;
    let rep = fx.purge_all_replicated(later);
    assert_eq!((rep.removed, rep.inactive), (0, 0));
    assert_eq!(fx.t().len(), 16);
    assert!(fx.events().is_empty());
    // Sessions 0 and 1 ended by replication at `later`: quiet here for longer than twice their
    // timeout, their signalling records go at once; the purge then takes their members.
    for r in &sessions[..2] {
        fx.t()
            .end_session(*r, later, 1_000, &mut |_: &FlowInfo, _| {});
    }
    assert_eq!(fx.t().len(), 14);
    assert_eq!(fx.purge_all_replicated(later).removed, 2);
    assert_eq!(fx.t().len(), 12);
    // Sessions 8 and 9, replicated at `later`, ended 10 ms after with a linger of 1 s: within the
    // linger their members go (the session is over) and their signalling records stay; after it,
    // those go too.
    for c in 8..10u16 {
        let r = fx
            .open(&udp(c, 5060, 5060), u32::from(c), 1, later)
            .unwrap();
        fx.announce(&udp(c, 7000 + c, 6000), Wildcard::Exact, r, later)
            .unwrap();
        fx.t()
            .end_session(r, later + 10, 1_000, &mut |_: &FlowInfo, _| {});
    }
    assert_eq!(fx.t().len(), 16);
    assert_eq!(fx.purge_all_replicated(later + 500).removed, 2);
    assert_eq!(fx.purge_all_replicated(later + 1_500).removed, 2);
    assert_eq!(fx.t().len(), 12);
    for r in &sessions[2..] {
        assert!(fx.t().session_record(*r).is_some_and(|f| !f.ended));
    }
    fx.events();
    // The same table under the forwarding dispatcher's purge would age all of it out.
    assert_eq!(fx.purge_all(later + 1_500).removed, 12);
    assert_eq!(fx.t().len(), 0);
}
