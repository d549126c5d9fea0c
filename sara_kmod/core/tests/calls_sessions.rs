//! Host tests of the calls as sessions of the flow table (`calls/sessions.rs`, `calls/route.rs`): a
//! SIP trunk — many calls on one signalling 5-tuple — simulated through the same steps as the
//! kernel's hook ([`support::Node::datagram`]).

mod support;

use sara_core::admission::PacketKind;
use sara_core::calls::client_v4;
use sara_core::calls::{
    admission_kind, call_record_key, home_of_new_call, rendezvous, service_protocol,
    CallInsertError, CallKey, Dispatch, Fallback, Home, OpenCallError, PROTO_SIP_CALL,
};
use sara_core::flow::{FlowHasher, FlowKey, Wildcard, PROTO_UDP};
use sara_core::msg::repl::{CallRecord, Record};
use sara_core::table::{ignore, Identity, Millis, SessionRef, Status, Walk};
use std::collections::{HashMap, HashSet};
use support::{
    invite, request, socket, through_wire, Did, Node, CLIENT, LINGER, T, TABLE_KEY, VIP,
};

#[test]
fn the_first_call_takes_the_socket_the_next_ones_get_their_own_records() {
    let fx = Node::new(4, 256, 128);
    let Did::Opened(s1, 1, Home::Socket) = fx.datagram(&invite("call-1@a", 7000), 0, 1) else {
        panic!()
    };
    let Did::Opened(s2, 2, Home::Own) = fx.datagram(&invite("call-2@a", 7002), 1, 2) else {
        panic!()
    };
    let r1 = fx.t().session_record(s1).unwrap();
    assert_eq!(r1.key, socket(CLIENT));
    let r2 = fx.t().session_record(s2).unwrap();
    assert_eq!(r2.key.protocol, PROTO_SIP_CALL);
    assert_eq!(
        (r2.key.src_addr, r2.key.dst_addr, r2.key.dst_port),
        (CLIENT, VIP, 5060)
    );
    assert_eq!(service_protocol(r2.key.protocol), PROTO_UDP);
    // Every message of each call reaches its call's server, retransmitted INVITE included.
    assert_eq!(
        fx.datagram(&request("ACK", "call-2@a"), 2, 9),
        Did::ToCall(s2, 2, false)
    );
    assert_eq!(
        fx.datagram(&request("ACK", "call-1@a"), 2, 9),
        Did::ToCall(s1, 1, false)
    );
    assert_eq!(
        fx.datagram(&invite("call-2@a", 7002), 3, 9),
        Did::ToCall(s2, 2, false)
    );
    // Each datagram of a call is counted on its own session record, which is Established.
    let r2 = fx.t().session_record(s2).unwrap();
    assert_eq!(
        (r2.packets, r2.bytes, r2.status),
        (3, 300, Status::Established)
    );
    assert_eq!(fx.t().session_record(s1).unwrap().packets, 2);
    // Media follows each call.
    assert_eq!(fx.media(7000, 4), Some(1));
    assert_eq!(fx.media(7002, 4), Some(2));
    fx.check();
}

#[test]
fn a_trunk_of_fifty_calls_and_the_bye_of_one_leaves_the_others_flowing() {
    let fx = Node::new(8, 1024, 256);
    let mut sess = Vec::new();
    for i in 0..50u16 {
        let Did::Opened(s, _, _) =
            fx.datagram(&invite(&format!("c{i}@trunk"), 8000 + 2 * i), 10, 1 + i % 2)
        else {
            panic!("call {i}")
        };
        sess.push(s);
    }
    assert_eq!(sess.iter().collect::<HashSet<_>>().len(), 50);
    assert_eq!(fx.c().fill().0, 50);
    // The BYE of call 0 (the socket's own record) and of call 7 (an own record).
    for i in [0usize, 7] {
        assert_eq!(
            fx.datagram(&request("BYE", &format!("c{i}@trunk")), 20, 9),
            Did::ToCall(sess[i], 1 + (i as u16) % 2, true)
        );
        // A retransmitted BYE still reaches the call's server.
        assert_eq!(
            fx.datagram(&request("BYE", &format!("c{i}@trunk")), 21, 9),
            Did::ToEnded(1 + (i as u16) % 2)
        );
    }
    for i in 0..50u16 {
        let m = fx.media(8000 + 2 * i, 30);
        if i == 0 || i == 7 {
            assert_eq!(m, None, "media of ended call {i}");
        } else {
            assert_eq!(m, Some(1 + i % 2), "media of call {i}");
            assert_eq!(
                fx.datagram(&request("INFO", &format!("c{i}@trunk")), 31, 9),
                Did::ToCall(sess[usize::from(i)], 1 + i % 2, false)
            );
        }
    }
    // Exactly the two calls ended: no other session was reported over.
    let ends: Vec<_> = fx
        .removed
        .borrow()
        .iter()
        .filter(|f| f.identity == Identity::Signalling)
        .cloned()
        .collect();
    assert!(ends.is_empty(), "{ends:?}");
    // The next call after the socket's call ended takes the socket again.
    let Did::Opened(s, 2, Home::SocketReused) = fx.datagram(&invite("c50@trunk", 9000), 40, 2)
    else {
        panic!()
    };
    assert_eq!(fx.t().session_record(s).unwrap().key, socket(CLIENT));
    assert_eq!(fx.media(9000, 41), Some(2));
    fx.check();
}

#[test]
fn a_re_invite_that_moves_the_media_adds_flows_to_the_same_call() {
    let fx = Node::new(2, 128, 64);
    let Did::Opened(s, 2, _) = fx.datagram(&invite("mv@a", 7100), 0, 2) else {
        panic!()
    };
    let _ = fx.datagram(&invite("other@a", 7200), 0, 1);
    // A re-INVITE of the call: inspected in the call's session, its new media flow announced there.
    assert_eq!(
        fx.datagram(&invite("mv@a", 7300), 5, 1),
        Did::ToCall(s, 2, false)
    );
    assert_eq!(fx.media(7300, 6), Some(2));
    assert_eq!(fx.media(7100, 6), Some(2));
}

#[test]
fn out_of_dialog_and_unknown_calls_are_not_indexed() {
    let fx = Node::new(2, 128, 64);
    assert_eq!(
        fx.datagram(&request("OPTIONS", "ping-1"), 0, 1),
        Did::Hashed(Dispatch::OutOfDialog)
    );
    assert_eq!(
        fx.datagram(&request("BYE", "never-seen"), 0, 1),
        Did::Hashed(Dispatch::UnknownCall)
    );
    assert_eq!(
        fx.datagram("\r\n\r\n", 0, 1),
        Did::Hashed(Dispatch::Fallback(Fallback::NotSip))
    );
    assert_eq!(fx.c().fill().0, 0);
    assert_eq!(fx.t().len(), 0);
}

#[test]
fn a_full_index_refuses_a_new_call_and_leaves_no_record() {
    let fx = Node::new(1, 64, 2);
    assert!(matches!(
        fx.datagram(&invite("a", 7000), 0, 1),
        Did::Opened(..)
    ));
    assert!(matches!(
        fx.datagram(&invite("b", 7002), 0, 1),
        Did::Opened(..)
    ));
    let before = fx.t().len();
    assert_eq!(
        fx.datagram(&invite("c", 7004), 0, 1),
        Did::Refused(OpenCallError::IndexFull)
    );
    assert_eq!(fx.t().len(), before);
    assert_eq!(fx.c().fill().2.full, 1);
    // Established calls are never evicted.
    assert!(matches!(
        fx.datagram(&request("ACK", "a"), 1, 9),
        Did::ToCall(_, 1, false)
    ));
    fx.check();
}

#[test]
fn a_call_indexed_meanwhile_is_a_race_and_leaves_no_record() {
    let fx = Node::new(2, 64, 16);
    let (t, c) = (fx.t(), fx.c());
    let k = CallKey::new(client_v4(CLIENT), b"dup").unwrap();
    let h = c.hash(&k);
    let first = c
        .open(&t, &socket(CLIENT), &k, h, 1, 1, T, 0, 0, &mut ignore)
        .unwrap();
    assert_eq!(first.home, Home::Socket);
    let n = t.len();
    assert_eq!(
        c.open(&t, &socket(CLIENT), &k, h, 2, 2, T, 0, 0, &mut ignore),
        Err(OpenCallError::Raced)
    );
    assert_eq!(t.len(), n);
    fx.check();
}

#[test]
fn a_call_whose_session_expired_is_found_no_more_and_swept() {
    let fx = Node::new(2, 128, 32);
    let Did::Opened(_, 1, _) = fx.datagram(&invite("x", 7000), 0, 1) else {
        panic!()
    };
    let Did::Opened(_, 2, _) = fx.datagram(&invite("y", 7002), 0, 2) else {
        panic!()
    };
    // Signalling quiet, media alive: the calls stay (a member's packet keeps its session alive).
    for now in (0..200_000).step_by(10_000) {
        assert_eq!(fx.media(7002, now), Some(2));
    }
    assert!(matches!(
        fx.datagram(&request("BYE", "y"), 200_000, 9),
        Did::ToCall(_, 2, true)
    ));
    // Call x saw nothing for 200 s: its session has expired; the sweep removes its entry.
    let now = 200_000;
    fx.t().purge_step(now, 1000, &mut ignore);
    let rep = fx.c().sweep_step(&fx.t(), 1000, false);
    assert_eq!(rep.removed, 1);
    assert_eq!(fx.c().fill().0, 1); // y's entry lingers after its BYE
    assert_eq!(fx.c().purge_step(now + LINGER + 1, 1000), 1);
    assert_eq!(fx.c().fill().0, 0);
    // A late ACK of x is an unknown call now.
    assert_eq!(
        fx.datagram(&request("ACK", "x"), now + 1, 9),
        Did::Hashed(Dispatch::UnknownCall)
    );
    fx.check();
}

#[test]
fn a_stale_entry_is_removed_by_the_lookup_that_meets_it() {
    let fx = Node::new(1, 64, 8);
    let Did::Opened(s, 1, _) = fx.datagram(&invite("z", 7000), 0, 1) else {
        panic!()
    };
    // The session record goes (e.g. removed by the control plane) while the entry stays.
    fx.t()
        .remove(&fx.t().session_record(s).unwrap().key, Wildcard::Exact);
    assert_eq!(fx.c().fill().0, 1);
    // Its retransmitted INVITE opens the call again.
    assert!(matches!(
        fx.datagram(&invite("z", 7000), 1, 2),
        Did::Opened(_, 2, Home::Socket)
    ));
    assert_eq!(fx.c().fill().0, 1);
    fx.check();
}

#[test]
fn record_keys_probe_and_the_socket_record_is_reused_only_when_gone() {
    let k0 = call_record_key(CLIENT, VIP, 5060, 0xffff_0000, 0);
    let k1 = call_record_key(CLIENT, VIP, 5060, 0xffff_0000, 1);
    assert_eq!(k0.src_port, 0xffff);
    assert_eq!(k1.src_port, 0);
    assert_eq!(k0.protocol, PROTO_SIP_CALL);
    assert_eq!(service_protocol(6), 6);
    // A dead socket record (idle past twice its timeout) is taken over.
    let fx = Node::new(1, 16, 4);
    let t = fx.t();
    t.open_session(&socket(CLIENT), 1, 1, T, 0, 0, &mut ignore)
        .unwrap();
    let rec = t.get(&socket(CLIENT), Wildcard::Exact).unwrap();
    assert_eq!(home_of_new_call(Some(&rec), 2 * T), Home::Own);
    assert_eq!(home_of_new_call(Some(&rec), 2 * T + 1), Home::Socket);
    assert_eq!(home_of_new_call(None, 0), Home::Socket);
}

#[test]
fn admission_classes() {
    assert_eq!(admission_kind(Dispatch::NewCall), PacketKind::NewSession);
    assert_eq!(
        admission_kind(Dispatch::OutOfDialog),
        PacketKind::NewSession
    );
    assert_eq!(
        admission_kind(Dispatch::Call { end: true }),
        PacketKind::Established
    );
    assert_eq!(
        admission_kind(Dispatch::UnknownCall),
        PacketKind::Established
    );
    assert_eq!(
        admission_kind(Dispatch::Fallback(Fallback::NotSip)),
        PacketKind::Established
    );
}

#[test]
fn rendezvous_is_stable_even_and_moves_only_the_leaving_servers_share() {
    assert_eq!(rendezvous(42, []), None);
    let all = [1u16, 2, 3, 4];
    let mut per: HashMap<u16, u32> = HashMap::new();
    let mut moved = 0;
    for i in 0..4000u64 {
        let h = TABLE_KEY.hash_bytes(&i.to_be_bytes());
        let a = rendezvous(h, all).unwrap();
        assert_eq!(rendezvous(h, all), Some(a));
        *per.entry(a).or_default() += 1;
        let b = rendezvous(h, [1u16, 2, 4]).unwrap();
        if a != 3 {
            assert_eq!(a, b, "a server leaving moved another's call");
        } else {
            moved += 1;
        }
    }
    assert_eq!(moved, per[&3]);
    for id in all {
        assert!((800..1200).contains(&per[&id]), "{per:?}");
    }
}

/// The active dispatcher's replication of a trunk as `sara.ko` queues it and dumps it: per call,
/// its session's record (key, id, server) and its `Call` record (the index entry's mark).
fn replicate(fx: &Node) -> Vec<(FlowKey, u32, u16, CallRecord)> {
    let (t, c) = (fx.t(), fx.c());
    let mut out = Vec::new();
    let mut cursor = 0u64;
    while c.dump(&mut cursor, 7, |e| {
        let f = t.session_record(e.value).unwrap();
        // The record crosses the wire.
        let Record::Call(rec) = through_wire(Record::Call(CallRecord::of(e.value.id, &e.mark())))
        else {
            unreachable!()
        };
        out.push((f.key, e.value.id, f.server, rec));
        true
    }) == Walk::More
    {}
    out
}

/// A backup applying the replication (as `repl::apply`): the session's record, then its call.
fn apply(backup: &Node, recs: &[(FlowKey, u32, u16, CallRecord)], now: Millis) -> Vec<SessionRef> {
    let (t, c) = (backup.t(), backup.c());
    recs.iter()
        .map(|(key, id, server, rec)| {
            let r = t
                .open_session(key, *id, *server, T, now, 0, &mut ignore)
                .unwrap();
            c.bind_replicated(&t, r, rec, now).unwrap();
            r
        })
        .collect()
}

#[test]
fn after_a_takeover_every_call_of_a_trunk_reaches_its_session_by_its_replicated_binding() {
    let active = Node::new(4, 256, 64);
    let mut opened = HashMap::new();
    for i in 0..24u16 {
        let Did::Opened(s, server, _) = active.datagram(
            &invite(&format!("{i}-4242@10.0.1.2"), 9000 + 2 * i),
            1,
            1 + i % 3,
        ) else {
            panic!("call {i}")
        };
        opened.insert(i, (s.id, server));
    }
    let recs = replicate(&active);
    assert_eq!(recs.len(), 24);
    // The backup, its index keyed as the active's (the `CallKey` record of the resync).
    let backup = Node::new(4, 256, 64);
    let sessions = apply(&backup, &recs, 100);
    assert_eq!(backup.c().fill().0, 24);
    for i in 0..24u16 {
        let (id, server) = opened[&i];
        let r = *sessions.iter().find(|r| r.id == id).unwrap();
        // In-dialog messages of each call, and its retransmitted INVITE, reach its own session.
        assert_eq!(
            backup.datagram(&request("ACK", &format!("{i}-4242@10.0.1.2")), 200, 9),
            Did::ToCall(r, server, false),
            "call {i}"
        );
        assert_eq!(
            backup.datagram(&invite(&format!("{i}-4242@10.0.1.2"), 9000 + 2 * i), 201, 9),
            Did::ToCall(r, server, false),
            "call {i}"
        );
    }
    // A BYE ends its own call only.
    let (id0, server0) = opened[&0];
    let r0 = *sessions.iter().find(|r| r.id == id0).unwrap();
    assert_eq!(
        backup.datagram(&request("BYE", "0-4242@10.0.1.2"), 300, 9),
        Did::ToCall(r0, server0, true)
    );
    let (id5, server5) = opened[&5];
    let r5 = *sessions.iter().find(|r| r.id == id5).unwrap();
    assert_eq!(
        backup.datagram(&request("BYE", "5-4242@10.0.1.2"), 301, 9),
        Did::ToCall(r5, server5, true)
    );
    // Applying the same records again changes nothing (a resync after events).
    let c = backup.c();
    for (_, id, _, rec) in &recs {
        if let Some(r) = sessions
            .iter()
            .find(|r| r.id == *id && r.id != id0 && r.id != id5)
        {
            c.bind_replicated(&backup.t(), *r, rec, 302).unwrap();
        }
    }
    assert_eq!(c.fill().0, 24);
    backup.check();
}

#[test]
fn a_replicated_binding_needs_the_senders_key_and_a_live_session() {
    let active = Node::new(2, 64, 16);
    let Did::Opened(s, 2, _) = active.datagram(&invite("k@a", 9000), 1, 2) else {
        panic!()
    };
    let recs = replicate(&active);
    // A backup hashing under another key holds the binding but no message finds it.
    let mut other = Node::new(2, 64, 16);
    other.calls_key = FlowHasher::from_words(1, 2);
    let r = apply(&other, &recs, 10)[0];
    assert_eq!(r.id, s.id);
    assert!(matches!(
        other.datagram(&request("ACK", "k@a"), 11, 9),
        Did::Hashed(Dispatch::UnknownCall)
    ));
    // No live session: refused. An invalid mark: refused.
    let lone = Node::new(2, 64, 16);
    let ghost = SessionRef::default();
    assert_eq!(
        lone.c().bind_replicated(&lone.t(), ghost, &recs[0].3, 1),
        Err(CallInsertError::Invalid)
    );
    let mut bad = recs[0].3;
    bad.len = 0;
    assert_eq!(
        lone.c().bind(&bad.mark([0; 16]), ghost, 1),
        Err(CallInsertError::Invalid)
    );
    // An entry of the same call bound to another session is rebound (the active's view wins).
    let backup = Node::new(2, 64, 16);
    let r = apply(&backup, &recs, 10)[0];
    let t = backup.t();
    let other_session = t
        .open_session(
            &FlowKey::new(CLIENT, 5062, VIP, 5060, PROTO_UDP),
            77,
            1,
            T,
            10,
            0,
            &mut ignore,
        )
        .unwrap();
    backup
        .c()
        .bind_replicated(&t, other_session, &recs[0].3, 11)
        .unwrap();
    assert_eq!(
        backup.datagram(&request("ACK", "k@a"), 12, 9),
        Did::ToCall(other_session, 1, false)
    );
    assert_ne!(r, other_session);
    // The active's SessionEnded: on a backup (no BYE seen, table not aged) the binding goes with
    // the session's end at the next sweep; an active's sweep would keep it for its linger.
    t.end_session(other_session, 20, LINGER, &mut ignore);
    assert_eq!(backup.c().sweep_step(&t, 1000, false).removed, 0);
    assert_eq!(backup.c().fill().0, 1);
    assert_eq!(backup.c().sweep_step(&t, 1000, true).removed, 1);
    assert_eq!(backup.c().fill().0, 0);
    backup.check();
}

#[test]
fn the_dump_hands_every_call_once_across_parts_and_refusals() {
    let fx = Node::new(4, 256, 32);
    for i in 0..40u16 {
        assert!(matches!(
            fx.datagram(&invite(&format!("d{i}@x"), 9000 + 2 * i), 1, 1),
            Did::Opened(..)
        ));
    }
    let c = fx.c();
    let mut seen = Vec::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    let mut refused = 0;
    loop {
        calls += 1;
        assert!(calls < 1000, "the dump does not end");
        // A part that fills up after 3 entries (as a full record run does).
        let mut room = 3;
        let w = c.dump(&mut cursor, 5, |e| {
            if room == 0 {
                refused += 1;
                return false;
            }
            room -= 1;
            seen.push(e.value.id);
            true
        });
        if w == Walk::Done {
            break;
        }
    }
    assert!(refused > 0);
    seen.sort_unstable();
    let mut want: Vec<u32> = (1..=40).collect();
    want.sort_unstable();
    assert_eq!(seen, want, "each call exactly once");
    // The next walk starts over from 0.
    let mut again = 0;
    let mut cursor = 0u64;
    while c.dump(&mut cursor, 1000, |_| {
        again += 1;
        true
    }) == Walk::More
    {}
    assert_eq!(again, 40);
}
