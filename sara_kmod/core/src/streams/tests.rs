//! Unit tests of the SIP-over-TCP stream pool.

extern crate std;

use super::super::dpi::stream::{Framed, Framing, CARRY};
use super::super::flow::{FlowHasher, FlowKey, Wildcard, PROTO_TCP};
use super::super::table::{FlowInfo, Loc, Removal, SessionRef, Shard, ShardError, Slot, Table};
use super::*;
use core::cell::RefCell;
use std::collections::HashMap;
use std::vec;
use std::vec::Vec;

const H: FlowHasher = FlowHasher::from_words(0x0123_4567_89ab_cdef, 0x0fed_cba9_8765_4321);
const VIP: [u8; 4] = [10, 0, 0, 100];

type Sh = StreamShard<Vec<StreamTag>, Vec<Framing>, Vec<u8>>;

fn shard_at(cap: usize, index: usize) -> Sh {
    StreamShard::new(
        vec![StreamTag::default(); cap],
        vec![Framing::new(); cap],
        vec![0u8; cap * CARRY],
        index,
    )
    .unwrap()
}

fn shard(cap: usize) -> Sh {
    shard_at(cap, 0)
}

fn conn(n: u32) -> FlowKey {
    let [a, b, c, d] = n.to_be_bytes();
    FlowKey::new(
        [10, a, b, c],
        40_000u16.wrapping_add(u16::from(d)),
        VIP,
        5060,
        PROTO_TCP,
    )
}

fn sref(id: u32) -> SessionRef {
    SessionRef {
        loc: Loc::new(0, id as usize & 0xff_ffff).unwrap(),
        id,
    }
}

#[test]
fn sizing_and_construction() {
    assert_eq!(stream_capacity(262_144), 1024);
    assert_eq!(stream_capacity(1 << 28), MAX_STREAMS);
    assert_eq!(stream_capacity(65_536), 256);
    assert_eq!(stream_capacity(4096), 16);
    assert_eq!(stream_capacity(255), 1);
    assert_eq!(stream_capacity(0), 1);
    // A tag is 24 bytes (a window of 8 is three cache lines); a stream ≈ 4.1 KiB.
    assert_eq!(core::mem::size_of::<StreamTag>(), 24);
    assert!(core::mem::size_of::<Framing>() <= 64);
    let e = |t: usize, s: usize, b: usize, i: usize| {
        StreamShard::new(
            vec![StreamTag::default(); t],
            vec![Framing::new(); s],
            vec![0u8; b],
            i,
        )
        .err()
    };
    assert_eq!(e(0, 0, 0, 0), Some(ShardError::Capacity));
    assert_eq!(e(4, 3, 4 * CARRY, 0), Some(ShardError::Capacity));
    assert_eq!(e(4, 4, 4 * CARRY - 1, 0), Some(ShardError::Capacity));
    assert_eq!(e(4, 4, 4 * CARRY, MAX_SHARDS), Some(ShardError::Index));
    assert_eq!(e(4, 4, 4 * CARRY, 1), None);
    // Every tag starts vacant, whatever the storage held.
    let used = StreamTag {
        key: conn(1),
        session: sref(1),
    };
    let s = StreamShard::new(
        vec![used; 4],
        vec![Framing::new(); 4],
        vec![0u8; 4 * CARRY],
        3,
    )
    .unwrap();
    assert!(s.is_empty() && s.capacity() == 4 && s.index() == 3);
    assert!((0..4).all(|i| s.tag(i) == Some(StreamTag::VACANT)));
    assert_eq!(s.tag(4), None);
}

#[test]
fn claim_lookup_release() {
    let mut s = shard(64);
    let (k, h) = (conn(1), H.hash(&conn(1)));
    assert_eq!(s.lookup(&k, sref(5), h), Lookup::Miss);
    let (i, reused) = s.claim(&k, sref(5), h).unwrap();
    assert!(!reused);
    assert_eq!(s.len(), 1);
    assert_eq!(s.lookup(&k, sref(5), h), Lookup::Hit(i));
    // Its stream: its own state and its own CARRY bytes of the carry array.
    s.stream_mut(i).unwrap().start(41);
    assert_eq!(s.stream_mut(i).unwrap().next_seq(), 42);
    assert!(s.stream_mut(64).is_none());
    // Another connection does not see it.
    let (k2, h2) = (conn(2), H.hash(&conn(2)));
    assert_eq!(s.lookup(&k2, sref(5), h2), Lookup::Miss);
    // Released only by its own session.
    assert!(!s.release(&k, sref(6), h));
    assert!(!s.release(&k2, sref(5), h2));
    assert!(s.release(&k, sref(5), h));
    assert!(s.is_empty());
    assert_eq!(s.lookup(&k, sref(5), h), Lookup::Miss);
    // Session id 0 never gets a slot (it marks a vacant one).
    assert_eq!(s.claim(&k, sref(0), h), None);
    s.check_invariants(&H).unwrap();
}

#[test]
fn a_new_session_of_the_connection_takes_its_slot() {
    let mut s = shard(64);
    let (k, h) = (conn(9), H.hash(&conn(9)));
    let (i, _) = s.claim(&k, sref(1), h).unwrap();
    // The 5-tuple reopened as session 2 (a SYN after the first connection closed): same slot.
    assert_eq!(s.claim(&k, sref(2), h), Some((i, true)));
    assert_eq!(s.len(), 1);
    assert_eq!(s.lookup(&k, sref(2), h), Lookup::Hit(i));
    // A packet of the old session (classified on another CPU before the SYN) meets the new one's
    // slot: no stream for it, and the slot stays the new session's.
    assert_eq!(s.lookup(&k, sref(1), h), Lookup::Stale);
    assert_eq!(s.lookup(&k, sref(2), h), Lookup::Hit(i));
    s.check_invariants(&H).unwrap();
}

#[test]
fn a_stale_slot_is_taken_by_the_late_claim() {
    let mut s = shard(64);
    let (k, h) = (conn(3), H.hash(&conn(3)));
    let (i, _) = s.claim(&k, sref(1), h).unwrap();
    // Session 1 ended and the 5-tuple is session 4 now, whose SYN got no slot (met mid-stream): no
    // stream, until the late claim takes the old session's slot.
    assert_eq!(s.lookup(&k, sref(4), h), Lookup::Stale);
    assert_eq!(s.len(), 1);
    assert_eq!(s.claim(&k, sref(4), h), Some((i, true)));
    assert_eq!(s.lookup(&k, sref(4), h), Lookup::Hit(i));
    s.check_invariants(&H).unwrap();
}

#[test]
fn a_full_window_refuses_and_a_freed_slot_is_found_again() {
    let mut s = shard(32);
    let mut held = Vec::new();
    let mut refused = None;
    for n in 0..1000u32 {
        let (k, h) = (conn(n), H.hash(&conn(n)));
        match s.claim(&k, sref(n + 1), h) {
            Some((i, false)) => held.push((k, h, n + 1, i)),
            Some((_, true)) => panic!("conn {n} held a slot already"),
            None => {
                refused = Some((k, h, n + 1));
                break;
            }
        }
        s.check_invariants(&H).unwrap();
    }
    let (k, h, id) = refused.expect("a shard of 32 refuses some connection");
    // Refused: every slot of its window is in use.
    assert!((0..PROBES).all(|j| s.tag(s.probe(h, j)).unwrap().used()));
    assert_eq!(s.len(), held.len());
    // Every connection that got a slot finds it.
    for &(k, h, id, i) in &held {
        assert_eq!(s.lookup(&k, sref(id), h), Lookup::Hit(i));
    }
    // Free one slot of the refused connection's window: it gets that one.
    let freed = s.probe(h, PROBES - 1);
    let t = s.tag(freed).unwrap();
    assert!(s.release_at(freed, t.session));
    assert!(!s.release_at(freed, t.session));
    assert_eq!(s.claim(&k, sref(id), h), Some((freed, false)));
    s.check_invariants(&H).unwrap();
}

#[test]
fn a_shard_smaller_than_the_window() {
    let mut s = shard(3);
    let mut n = 0u32;
    while s.len() < 3 {
        let (k, h) = (conn(n), H.hash(&conn(n)));
        assert!(s.claim(&k, sref(n + 1), h).is_some());
        n += 1;
    }
    let (k, h) = (conn(n), H.hash(&conn(n)));
    assert_eq!(s.claim(&k, sref(n + 1), h), None);
    s.check_invariants(&H).unwrap();
}

#[test]
fn model_of_random_operations() {
    // Claims, lookups and releases against a map of what must be held; the shard never holds a
    // connection twice, never loses one it accepted, and refuses only when the window is full.
    let mut s = shard(48);
    let mut model: HashMap<u32, (usize, u32)> = HashMap::new(); // conn → (slot, session id)
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next_id = 1u32;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let c = (x % 96) as u32;
        let (k, h) = (conn(c), H.hash(&conn(c)));
        match (x >> 8) % 4 {
            0 | 1 => {
                next_id += 1;
                match s.claim(&k, sref(next_id), h) {
                    Some((i, reused)) => {
                        assert_eq!(reused, model.contains_key(&c));
                        if let Some(&(j, _)) = model.get(&c) {
                            assert_eq!(i, j);
                        }
                        model.insert(c, (i, next_id));
                    }
                    None => {
                        assert!(!model.contains_key(&c));
                        assert!((0..PROBES).all(|j| s.tag(s.probe(h, j)).unwrap().used()));
                    }
                }
            }
            2 => {
                let id = model.get(&c).map_or(1, |&(_, id)| id);
                let r = s.lookup(&k, sref(id), h);
                match model.get(&c) {
                    Some(&(i, _)) => assert_eq!(r, Lookup::Hit(i)),
                    None => assert_eq!(r, Lookup::Miss),
                }
            }
            _ => {
                let id = model.get(&c).map_or(1, |&(_, id)| id);
                assert_eq!(s.release(&k, sref(id), h), model.remove(&c).is_some());
            }
        }
        assert_eq!(s.len(), model.len());
    }
    s.check_invariants(&H).unwrap();
    assert_eq!(s.clear(), model.len());
    assert!(s.is_empty());
    s.check_invariants(&H).unwrap();
}

#[test]
fn sweep_collect_visits_its_budget_and_wraps() {
    let mut s = shard(16);
    let mut ids = Vec::new();
    for n in 0..6u32 {
        let (k, h) = (conn(n), H.hash(&conn(n)));
        let (i, _) = s.claim(&k, sref(n + 1), h).unwrap();
        ids.push((i, sref(n + 1)));
    }
    ids.sort_by_key(|&(i, _)| i);
    let mut seen = Vec::new();
    let mut out = [(0usize, SessionRef::default()); 4];
    let mut visited = 0;
    loop {
        let r = s.sweep_collect(5, &mut out);
        assert!(r.visited <= 5 && r.found <= 4);
        seen.extend_from_slice(&out[..r.found]);
        visited += r.visited;
        if r.wrapped {
            break;
        }
    }
    assert_eq!(visited, 16);
    assert_eq!(seen, ids);
    // A zero budget or an empty batch visits nothing.
    assert_eq!(s.sweep_collect(0, &mut out).visited, 0);
    assert_eq!(s.sweep_collect(5, &mut []).visited, 0);
}

// ---- the pool over shards, beside a table ----------------------------------------------------

type Pool = Vec<RefCell<Sh>>;

fn pool(n: usize, per: usize) -> Pool {
    (0..n).map(|i| RefCell::new(shard_at(per, i))).collect()
}

fn table(n: usize, per: usize) -> Vec<RefCell<Shard<Vec<Slot>>>> {
    (0..n)
        .map(|i| RefCell::new(Shard::new(vec![Slot::EMPTY; per], i).unwrap()))
        .collect()
}

fn ignore(_: &FlowInfo, _: Removal) {}

#[test]
fn a_connection_frames_its_messages_in_its_slot() {
    let p = pool(4, 8);
    let streams = Streams::new(&p[..], H);
    let (a, b) = (conn(1), conn(2));
    // SYNs: each connection's stream starts at its ISN.
    assert_eq!(
        streams.open(&a, sref(1), |mut s| s.start(1000)),
        Ok(((), false))
    );
    assert_eq!(
        streams.open(&b, sref(2), |mut s| s.start(5000)),
        Ok(((), false))
    );
    let msg = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n";
    let (m1, m2) = msg.split_at(10);
    let frame = |k: &FlowKey, id: u32, seq: u32, bytes: &[u8]| {
        streams.with(k, sref(id), |s| {
            let mut seg = s.segment(seq, bytes.len(), bytes);
            let mut out = Vec::new();
            while let Some(m) = seg.next() {
                out.push(matches!(m, Framed::Whole(b) if b == msg));
            }
            out
        })
    };
    // The message split over two segments of `a`, interleaved with `b`'s whole message.
    assert_eq!(frame(&a, 1, 1001, m1), Some(vec![]));
    assert_eq!(frame(&b, 2, 5001, msg), Some(vec![true]));
    assert_eq!(frame(&a, 1, 1011, m2), Some(vec![true]));
    // Another session of the 5-tuple has no stream.
    assert_eq!(frame(&a, 3, 1001 + msg.len() as u32, msg), None);
    assert_eq!(streams.fill(), (2, 32));
    assert!(!streams.close(&a, sref(3)));
    assert!(streams.close(&a, sref(1)));
    assert!(streams.close(&b, sref(2)));
    assert_eq!(streams.fill(), (0, 32));
    // Met mid-stream (no SYN seen): a stream taken late, lost until a message starts a segment.
    assert_eq!(
        streams.open(&a, sref(3), |mut s| s.forget()),
        Ok(((), false))
    );
    assert_eq!(frame(&a, 3, 77, &msg[3..]), Some(vec![]));
    assert_eq!(
        frame(&a, 3, 77 + msg.len() as u32 - 3, msg),
        Some(vec![true])
    );
}

#[test]
fn a_full_pool_refuses() {
    let p = pool(1, 2);
    let streams = Streams::new(&p[..], H);
    assert!(streams.open(&conn(1), sref(1), |_| ()).is_ok());
    assert!(streams.open(&conn(2), sref(2), |_| ()).is_ok());
    assert_eq!(streams.open(&conn(3), sref(3), |_| ()), Err(PoolFull));
    // The same connection under a new session is not refused: it takes its own slot.
    assert_eq!(streams.open(&conn(2), sref(4), |_| 9), Ok((9, true)));
    assert_eq!(streams.clear(), 2);
    assert_eq!(streams.fill(), (0, 2));
}

#[test]
fn the_sweep_frees_the_slots_of_ended_and_gone_sessions() {
    let t = table(2, 64);
    let tab = Table::new(&t[..], H);
    let p = pool(2, 16);
    let streams = Streams::new(&p[..], H);
    let mut live = Vec::new();
    for n in 0..12u32 {
        let k = conn(n);
        let r = tab
            .open_session(&k, n + 1, 1, 30_000, 0, 60, &mut ignore)
            .unwrap();
        streams.open(&k, r, |mut s| s.start(n)).unwrap();
        live.push((k, r));
    }
    // A session ended (FIN: its record lingers ended), one removed, one replaced by a new session of
    // its 5-tuple whose stream was never opened.
    let (ka, _) = live[0];
    assert!(tab.end_flow(&ka, 10, 5000, &mut ignore).is_some());
    let (kb, _) = live[1];
    assert!(tab.remove(&kb, Wildcard::Exact).is_some());
    let (kc, _) = live[2];
    tab.remove(&kc, Wildcard::Exact).unwrap();
    tab.open_session(&kc, 100, 1, 30_000, 0, 60, &mut ignore)
        .unwrap();
    assert_eq!(streams.fill().0, 12);
    let mut freed = 0;
    let mut visited = 0;
    while visited < 32 {
        let r = streams.sweep_step(&tab, 5);
        assert!(r.visited <= 10);
        visited += r.visited;
        freed += r.freed;
    }
    assert_eq!(freed, 3);
    assert_eq!(streams.fill().0, 9);
    for (k, r) in &live[3..] {
        assert_eq!(streams.with(k, *r, |_| ()), Some(()));
    }
    for (k, r) in &live[..3] {
        assert_eq!(streams.with(k, *r, |_| ()), None);
    }
    for s in &p {
        s.borrow().check_invariants(&H).unwrap();
    }
}

#[test]
fn a_held_shard_gives_nothing() {
    // The host's shards are RefCells: a shard already borrowed (the kernel would deadlock) is a
    // miss, never a panic.
    let p = pool(1, 4);
    let streams = Streams::new(&p[..], H);
    streams.open(&conn(1), sref(1), |_| ()).unwrap();
    let _held = p[0].borrow_mut();
    assert_eq!(streams.with(&conn(1), sref(1), |_| ()), None);
    assert_eq!(streams.open(&conn(2), sref(2), |_| ()), Err(PoolFull));
    assert!(!streams.close(&conn(1), sref(1)));
    assert_eq!(streams.fill(), (0, 0));
}
