//! "Adopt if absent" (`sara_core::adopt`): the active dispatcher takes the sessions its peer opened
//! while both held the VIP (a spurious takeover), from the records the peer hands back — its
//! sessions, their flows and their SIP calls, through the wire encoding, as `sarectl ha` sends them
//! — without changing anything of its own (decisions.md, "A dispatcher that steps down hands its
//! sessions to the winner"). Both dispatchers hand out session ids on their own (both from 1 here),
//! and hash their flow tables with different secrets; their Call-ID index keys agree (an HA pair in
//! sync).

mod support;

use sara_core::adopt::{session_choice, AdoptRun, SessionChoice, Step};
use sara_core::flow::{FlowHasher, FlowKey, Wildcard, PROTO_UDP};
use sara_core::msg::repl::{self, CallRecord, FlowRecord, Record, SessionRecord, Status};
use sara_core::table::{ignore, FlowInfo, Identity, Millis, TableCursor, Walk};
use std::collections::{BTreeMap, HashSet};
use support::{invite, request, through_wire, Did, Node, CLIENT, T, VIP};

const ACTIVE_TABLE: FlowHasher =
    FlowHasher::from_words(0x0a0a_0000_0000_0001, 0x0a0a_0000_0000_0002);
const PEER_TABLE: FlowHasher = FlowHasher::from_words(0x0b0b_0000_0000_0001, 0x0b0b_0000_0000_0002);
/// Another client of the SIP service (its own socket).
const OTHER: [u8; 4] = [10, 0, 1, 5];

fn node(table: FlowHasher) -> Node {
    Node::keyed(table, 4, 256, 64)
}

/// A UDP session's signalling flow from `client:port` to the VIP's port 9400.
fn udp(client: [u8; 4], port: u16) -> FlowKey {
    FlowKey::new(client, port, VIP, 9400, PROTO_UDP)
}

fn every_flow(n: &Node) -> Vec<FlowInfo> {
    let mut out = Vec::new();
    let mut cur = TableCursor::default();
    while n.t().dump(&mut cur, 64, |f| {
        out.push(*f);
        true
    }) == Walk::More
    {}
    out
}

/// What a dispatcher hands back (as `sarectl ha` builds it from `sara.ko`'s dumps): per live
/// session, its `Session` record, then its flows' `Flow` records, then its calls' `Call` records,
/// each through the wire encoding.
fn handback(n: &Node) -> Vec<Record> {
    let flows = every_flow(n);
    let mut calls: BTreeMap<u32, Vec<CallRecord>> = BTreeMap::new();
    let mut cursor = 0u64;
    while n.c().dump(&mut cursor, 16, |e| {
        calls
            .entry(e.value.id)
            .or_default()
            .push(CallRecord::of(e.value.id, &e.mark()));
        true
    }) == Walk::More
    {}
    let mut out = Vec::new();
    for s in flows
        .iter()
        .filter(|f| f.identity == Identity::Signalling && !f.ended)
    {
        out.push(Record::Session(SessionRecord {
            flow: s.key,
            session_id: s.session.id,
            server_id: s.server,
            identity: repl::Identity::Signalling,
            status: Status::Established,
            timeout_s: s.timeout_ms.div_ceil(1000),
        }));
        for m in flows
            .iter()
            .filter(|f| f.identity != Identity::Signalling && f.session == s.session)
        {
            let identity = if m.identity == Identity::Secondary {
                repl::Identity::Secondary
            } else {
                repl::Identity::Announced
            };
            out.push(Record::Flow(FlowRecord {
                flow: m.key,
                wildcard: m.wildcard,
                session_id: s.session.id,
                identity,
                status: Status::New,
                timeout_s: m.timeout_ms.div_ceil(1000),
            }));
        }
        for c in calls.get(&s.session.id).into_iter().flatten() {
            out.push(Record::Call(*c));
        }
    }
    out.into_iter().map(through_wire).collect()
}

/// Adopts `recs` into `n` at `now` (one run); the steps in order.
fn adopt(n: &Node, recs: &[Record], now: Millis) -> Vec<Step> {
    let mut run = AdoptRun::new();
    let mut new_id = || n.id();
    recs.iter()
        .map(|r| run.record(r, &n.t(), &n.c(), now, &mut new_id, &mut ignore))
        .collect()
}

fn adopted(steps: &[Step]) -> Vec<Record> {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Adopted(r) => Some(*r),
            _ => None,
        })
        .collect()
}

fn count(steps: &[Step], want: Step) -> usize {
    steps.iter().filter(|s| **s == want).count()
}

#[test]
fn the_choice_for_a_session_record_follows_what_the_table_holds() {
    let n = node(ACTIVE_TABLE);
    let t = n.t();
    let live = t
        .open_session(&udp(CLIENT, 1000), 7, 2, T, 0, 0, &mut ignore)
        .unwrap();
    let ended = t
        .open_session(&udp(CLIENT, 1001), 8, 2, T, 0, 0, &mut ignore)
        .unwrap();
    t.end_session(ended, 0, 5_000, &mut ignore);
    t.announce(&udp(CLIENT, 1002), Wildcard::Exact, live, T, 0, &mut ignore)
        .unwrap();
    let get = |p| t.get(&udp(CLIENT, p), Wildcard::Exact);
    assert_eq!(session_choice(None, 2, 10), SessionChoice::Open);
    assert_eq!(
        session_choice(get(1000).as_ref(), 2, 10),
        SessionChoice::Join(live)
    );
    // This dispatcher put the session on another server: its decision stands.
    assert_eq!(
        session_choice(get(1000).as_ref(), 1, 10),
        SessionChoice::Keep
    );
    // An ended session lingering there, a member flow there: kept too.
    assert_eq!(
        session_choice(get(1001).as_ref(), 2, 10),
        SessionChoice::Keep
    );
    assert_eq!(
        session_choice(get(1002).as_ref(), 2, 10),
        SessionChoice::Keep
    );
    // A record past its life is gone, purged or not.
    assert_eq!(
        session_choice(get(1000).as_ref(), 1, 2 * T + 1),
        SessionChoice::Open
    );
    assert_eq!(
        session_choice(get(1001).as_ref(), 1, 5_001),
        SessionChoice::Open
    );
}

#[test]
fn the_peers_sessions_calls_and_flows_are_adopted_only_where_absent() {
    let (a, b) = (node(ACTIVE_TABLE), node(PEER_TABLE));
    // The active dispatcher's own: a call on CLIENT's socket (server 1) and a UDP session (server 1).
    let Did::Opened(own, 1, _) = a.datagram(&invite("own-1@a", 7000), 0, 1) else {
        panic!()
    };
    let own_udp = a
        .t()
        .open_session(&udp(CLIENT, 1000), a.id(), 1, T, 0, 0, &mut ignore)
        .unwrap();
    // The peer, active for a moment, opened (its ids from 1 too, colliding with the active's):
    // * call peer-1 from another client (server 2): nothing of it on the active;
    let Did::Opened(p1, 2, _) = b.datagram_from(OTHER, invite("peer-1@b", 7100).as_bytes(), 0, 2)
    else {
        panic!()
    };
    // * call peer-2 on CLIENT's socket, server 1, as the active had it (the same socket record);
    let Did::Opened(_, 1, _) = b.datagram(&invite("peer-2@b", 7200), 0, 1) else {
        panic!()
    };
    // * call peer-3 on CLIENT's socket, its own record (server 2);
    let Did::Opened(_, 2, _) = b.datagram(&invite("peer-3@b", 7300), 0, 2) else {
        panic!()
    };
    // * the UDP session the active has on server 1, on server 2, with a flow of its own.
    let conflict = b
        .t()
        .open_session(&udp(CLIENT, 1000), b.id(), 2, T, 0, 0, &mut ignore)
        .unwrap();
    b.t()
        .announce(
            &udp(CLIENT, 1003),
            Wildcard::Exact,
            conflict,
            T,
            0,
            &mut ignore,
        )
        .unwrap();
    assert_eq!(p1.id, own.id, "both dispatchers hand out ids from 1");
    let recs = handback(&b);
    let before: HashSet<u32> = every_flow(&a).iter().map(|f| f.session.id).collect();

    let first = adopt(&a, &recs, 100);
    assert_eq!(count(&first, Step::Refused), 0, "{first:?}");
    // Skipped: peer-2's session (the socket's, joined), the UDP session and its flow (kept).
    assert_eq!(count(&first, Step::Skipped), 3, "{first:?}");
    let got = adopted(&first);
    // Opened here: peer-1's and peer-3's sessions, under new ids of the active's own.
    let opened: Vec<SessionRecord> = got
        .iter()
        .filter_map(|r| match r {
            Record::Session(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 2, "{got:?}");
    for s in &opened {
        assert!(
            !before.contains(&s.session_id),
            "id {} reused",
            s.session_id
        );
        assert_eq!(s.server_id, 2);
    }
    // Every adopted flow and call names a session of the active's (the adopted records are what it
    // replicates to its own backup).
    let local: HashSet<u32> = every_flow(&a).iter().map(|f| f.session.id).collect();
    for r in &got {
        let id = match r {
            Record::Session(s) => s.session_id,
            Record::Flow(f) => f.session_id,
            Record::Call(c) => c.session_id,
            other => panic!("{other:?}"),
        };
        assert!(local.contains(&id));
    }
    // The same records again (a duplicate or replayed handback): nothing changes.
    let table = every_flow(&a);
    let steps = adopt(&a, &recs, 150);
    assert!(adopted(&steps).is_empty(), "{steps:?}");
    assert_eq!(count(&steps, Step::Skipped), recs.len());
    let again = every_flow(&a);
    let key = |f: &FlowInfo| (f.key, f.wildcard, f.session, f.server);
    assert_eq!(
        again.iter().map(key).collect::<Vec<_>>(),
        table.iter().map(key).collect::<Vec<_>>()
    );
    // Each call's later messages reach the server the peer gave it; its media too.
    assert!(matches!(
        a.datagram_from(OTHER, request("INFO", "peer-1@b").as_bytes(), 200, 9),
        Did::ToCall(_, 2, false)
    ));
    assert_eq!(
        a.datagram(&request("INFO", "peer-2@b"), 200, 9),
        Did::ToCall(own, 1, false),
        "peer-2 joined the session of CLIENT's socket (the same server)"
    );
    assert!(matches!(
        a.datagram(&request("INFO", "peer-3@b"), 200, 9),
        Did::ToCall(_, 2, false)
    ));
    assert_eq!(a.media(7100, 200), Some(2));
    assert_eq!(a.media(7200, 200), Some(1));
    assert_eq!(a.media(7300, 200), Some(2));
    // The active's own decisions stand: its call, its UDP session on server 1, and nothing of the
    // peer's flow of that session.
    assert_eq!(
        a.datagram(&request("INFO", "own-1@a"), 200, 9),
        Did::ToCall(own, 1, false)
    );
    assert_eq!(a.media(7000, 200), Some(1));
    let k = a.t().get(&udp(CLIENT, 1000), Wildcard::Exact).unwrap();
    assert_eq!((k.session, k.server), (own_udp, 1));
    assert!(a.t().get(&udp(CLIENT, 1003), Wildcard::Exact).is_none());
    a.check();
}

#[test]
fn calls_under_another_key_and_records_without_their_session_are_refused() {
    let (a, b) = (node(ACTIVE_TABLE), node(PEER_TABLE));
    let Did::Opened(..) = b.datagram_from(OTHER, invite("peer-1@b", 7100).as_bytes(), 0, 2) else {
        panic!()
    };
    let recs = handback(&b);
    // A peer that never had this dispatcher's Call-ID key: its session and flow are adopted, its
    // call cannot be (its hash means nothing here).
    let mut run = vec![Record::CallKey([9; 16])];
    run.extend_from_slice(&recs);
    let steps = adopt(&a, &run, 10);
    let kinds: Vec<&str> = steps
        .iter()
        .zip(&run)
        .map(|(s, r)| match (s, r) {
            (Step::Adopted(_), Record::Session(_)) => "session",
            (Step::Adopted(_), Record::Flow(_)) => "flow",
            (Step::Refused, Record::Call(_)) => "call refused",
            (Step::Noted, Record::CallKey(_)) => "key",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["key", "session", "flow", "flow", "call refused"]);
    // A flow or call with no session before it in the run; a resync's control record: refused.
    let flow = recs[1];
    let call = recs[3];
    assert_eq!(
        adopt(&a, &[flow, call, Record::ResyncEnd { records: 3 }], 20),
        [Step::Refused, Step::Refused, Step::Refused]
    );
    // A session's end is the active's own business.
    assert_eq!(
        adopt(&a, &[recs[0], Record::SessionEnded { session_id: 1 }], 30),
        [Step::Skipped, Step::Skipped]
    );
    assert!(a.t().get(&udp(CLIENT, 1), Wildcard::Exact).is_none());
    a.check();
}
