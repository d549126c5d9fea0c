extern crate std;

use super::super::dpi::sip;
use super::super::flow::{shard_of, FlowHasher};
use super::super::table::{Loc, SessionRef, ShardError, Walk};
use super::*;
use std::format;
use std::vec;
use std::vec::Vec;

const H: FlowHasher = FlowHasher::from_words(0x0123_4567_89ab_cdef, 0x0fed_cba9_8765_4321);
const A: ClientAddr = client_v4([10, 0, 0, 1]);
const B: ClientAddr = client_v4([10, 0, 0, 2]);
const T: u32 = 30_000;

type Idx = CallIndex<Vec<CallSlot<SessionRef>>, SessionRef>;

fn index(cap: usize) -> Idx {
    CallIndex::new(vec![CallSlot::vacant(); cap], 0).unwrap()
}

fn key<'a>(c: ClientAddr, id: &'a [u8]) -> (CallKey<'a>, u64) {
    let k = CallKey::new(c, id).unwrap();
    let h = k.hash(&H);
    (k, h)
}

fn sref(id: u32) -> SessionRef {
    SessionRef {
        loc: Loc::new(1, id as usize).unwrap(),
        id,
    }
}

fn insert(
    x: &mut Idx,
    c: ClientAddr,
    id: &[u8],
    v: u32,
    now: Millis,
) -> Result<Loc, CallInsertError<SessionRef>> {
    let (k, h) = key(c, id);
    x.insert(&k, h, sref(v), T, now)
}

#[test]
fn slot_is_one_cache_line() {
    assert_eq!(core::mem::size_of::<CallSlot<SessionRef>>(), 64);
    assert_eq!(core::mem::size_of::<CallSlot<u32>>(), 64);
}

#[test]
fn sizing_and_construction() {
    assert_eq!(call_capacity(262_144), 131_072);
    assert_eq!(call_capacity(3), 1);
    assert_eq!(call_capacity(1), 1);
    assert_eq!(call_capacity(0), 1);
    assert_eq!(Idx::new(Vec::new(), 0).err(), Some(ShardError::Capacity));
    assert_eq!(
        Idx::new(vec![CallSlot::vacant(); 4], 256).err(),
        Some(ShardError::Index)
    );
    let x = index(7);
    assert_eq!(
        (x.capacity(), x.len(), x.is_empty(), x.is_full()),
        (7, 0, true, false)
    );
    x.check_invariants().unwrap();
    assert_eq!(client_v4([192, 0, 2, 1])[10..], [0xff, 0xff, 192, 0, 2, 1]);
}

#[test]
fn call_key_bounds() {
    assert_eq!(CallKey::new(A, b"").err(), Some(CallIdError::Missing));
    let long = [b'x'; MAX_CALL_ID + 1];
    assert_eq!(CallKey::new(A, &long).err(), Some(CallIdError::TooLong));
    assert!(CallKey::new(A, &long[..MAX_CALL_ID]).is_ok());
    let m = sip::parse(b"OPTIONS sip:a SIP/2.0\r\nCall-ID: abc@h\r\n\r\n").unwrap();
    assert_eq!(CallKey::of_message(A, &m).unwrap().call_id(), b"abc@h");
    let m = sip::parse(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n").unwrap();
    assert_eq!(CallKey::of_message(A, &m).err(), Some(CallIdError::Missing));
    // The hash covers the client and the Call-ID, with no ambiguity at the boundary (fixed 16 bytes).
    let (k, h) = key(A, b"abc");
    assert_eq!(h, H.hash_parts(&[&A, b"abc"]));
    assert_eq!(*k.client(), A);
    assert_ne!(key(B, b"abc").1, h);
    assert_ne!(key(A, b"abd").1, h);
}

#[test]
fn hit_miss_refresh_remove() {
    let mut x = index(16);
    let loc = insert(&mut x, A, b"call-1@host", 1, 100).unwrap();
    let (k, h) = key(A, b"call-1@host");
    let got = x.lookup(&k, h, 200).unwrap();
    assert_eq!(
        (got.loc, got.value, got.last_seen, got.timeout_ms),
        (loc, sref(1), 100, T)
    );
    assert_eq!(x.get_at(loc), Some(got));
    // Misses: another Call-ID, a prefix, another client.
    for (c, id) in [
        (A, &b"call-2@host"[..]),
        (A, b"call-1@hos"),
        (A, b"call-1@host "),
        (B, b"call-1@host"),
    ] {
        let (k2, h2) = key(c, id);
        assert_eq!(x.lookup(&k2, h2, 200), None);
    }
    assert_eq!(x.refresh(&k, h, 5_000).unwrap().last_seen, 5_000);
    assert_eq!(x.get(&k, h).unwrap().last_seen, 5_000);
    assert_eq!(
        insert(&mut x, A, b"call-1@host", 9, 5_001),
        Err(CallInsertError::Exists(x.get(&k, h).unwrap()))
    );
    assert_eq!(x.remove(&k, h).map(|i| i.value), Some(sref(1)));
    assert_eq!(x.remove(&k, h), None);
    assert!(x.is_empty());
    x.check_invariants().unwrap();
}

#[test]
fn same_call_id_from_two_clients_is_two_calls() {
    let mut x = index(8);
    let la = insert(&mut x, A, b"shared-id", 1, 0).unwrap();
    let lb = insert(&mut x, B, b"shared-id", 2, 0).unwrap();
    assert_ne!(la, lb);
    let (ka, ha) = key(A, b"shared-id");
    let (kb, hb) = key(B, b"shared-id");
    assert_eq!(x.lookup(&ka, ha, 1).unwrap().value, sref(1));
    assert_eq!(x.lookup(&kb, hb, 1).unwrap().value, sref(2));
    // A forged hash (same bucket, wrong client) never reaches the other client's call.
    assert_eq!(x.lookup(&kb, ha, 1), None);
    x.remove(&ka, ha).unwrap();
    assert_eq!(x.lookup(&kb, hb, 1).unwrap().value, sref(2));
    x.check_invariants().unwrap();
}

#[test]
fn entries_with_equal_hash_but_different_call_ids_are_distinct() {
    // Force the same (forged) hash: the stored length and edge bytes still tell them apart.
    let mut x = index(8);
    let k1 = CallKey::new(A, b"0123456789-aaaa-abcdef").unwrap();
    let k2 = CallKey::new(A, b"0123456789-bbbb-abcdef").unwrap();
    let k3 = CallKey::new(A, b"0123456789-aaaa-abcdeF").unwrap();
    let k4 = CallKey::new(A, b"0123456789-aaaa-abcdef!").unwrap();
    x.insert(&k1, 42, sref(1), T, 0).unwrap();
    assert!(x.insert(&k3, 42, sref(3), T, 0).is_ok());
    assert!(x.insert(&k4, 42, sref(4), T, 0).is_ok());
    // k2 differs only in the middle: with a forged equal hash it is taken for k1. Real hashes differ.
    assert!(matches!(
        x.insert(&k2, 42, sref(2), T, 0),
        Err(CallInsertError::Exists(_))
    ));
    assert_ne!(k1.hash(&H), k2.hash(&H));
    assert!(x.insert(&k2, k2.hash(&H), sref(2), T, 0).is_ok());
    x.check_invariants().unwrap();
}

#[test]
fn short_call_id_for_people() {
    let mut x = index(8);
    for id in [
        &b"a"[..],
        b"abcdefgh",
        b"abcdefghij",
        b"abcdefghijklmn",
        b"abcdefghijklmnopq",
    ] {
        let (k, h) = key(A, id);
        let loc = x.insert(&k, h, sref(0), T, 0).unwrap();
        let info = x.get_at(loc).unwrap();
        let (head, elided, tail) = info.short_call_id();
        let mut joined = head.to_vec();
        joined.extend_from_slice(tail);
        if id.len() <= HEAD_BYTES + TAIL_BYTES {
            assert!(!elided);
            assert_eq!(joined, id, "{:?}", core::str::from_utf8(id));
        } else {
            assert!(elided);
            assert_eq!(head, &id[..HEAD_BYTES]);
            assert_eq!(tail, &id[id.len() - TAIL_BYTES..]);
        }
    }
}

#[test]
fn full_index_refuses_and_never_evicts_a_live_call() {
    let mut x = index(4);
    for i in 0..4u32 {
        insert(&mut x, A, format!("c{i}").as_bytes(), i, 0).unwrap();
    }
    assert!(x.is_full());
    assert_eq!(insert(&mut x, A, b"c4", 4, 10), Err(CallInsertError::Full));
    assert_eq!(insert(&mut x, B, b"c0", 4, T), Err(CallInsertError::Full));
    assert_eq!(x.stats().full, 2);
    for i in 0..4u32 {
        let id = format!("c{i}");
        let (k, h) = key(A, id.as_bytes());
        assert_eq!(x.lookup(&k, h, T).unwrap().value, sref(i));
    }
    // One call ends: its slot is free for the next.
    let (k, h) = key(A, b"c2");
    x.end(&k, h, T, 0).unwrap();
    insert(&mut x, A, b"c4", 4, T).unwrap();
    x.check_invariants().unwrap();
}

#[test]
fn expiry_and_reuse_of_dead_entries() {
    let mut x = index(4);
    for i in 0..4u32 {
        insert(&mut x, A, format!("c{i}").as_bytes(), i, 0).unwrap();
    }
    // c0 stays alive.
    let (k0, h0) = key(A, b"c0");
    x.refresh(&k0, h0, T).unwrap();
    // At T + 1 the other three are dead (idle > T), c0 is not: a full index reuses a dead slot.
    let (k1, h1) = key(A, b"c1");
    assert!(x.lookup(&k1, h1, T).is_some(), "idle == timeout is alive");
    let now = T + 1;
    insert(&mut x, B, b"n0", 10, now).unwrap();
    insert(&mut x, B, b"n1", 11, now).unwrap();
    insert(&mut x, B, b"n2", 12, now).unwrap();
    assert_eq!(
        insert(&mut x, B, b"n3", 13, now),
        Err(CallInsertError::Full)
    );
    assert_eq!(x.lookup(&k0, h0, now).unwrap().value, sref(0));
    assert_eq!(x.lookup(&k1, h1, now), None);
    assert_eq!(x.stats().expired, 3);
    // A dead entry of the same call is replaced by a new insert.
    let mut y = index(4);
    insert(&mut y, A, b"again", 1, 0).unwrap();
    let loc = insert(&mut y, A, b"again", 2, T + 1).unwrap();
    assert_eq!(y.get_at(loc).unwrap().value, sref(2));
    assert_eq!(y.len(), 1);
    x.check_invariants().unwrap();
    y.check_invariants().unwrap();
}

#[test]
fn end_lingers_then_goes() {
    let mut x = index(4);
    insert(&mut x, A, b"bye", 1, 0).unwrap();
    let (k, h) = key(A, b"bye");
    assert_eq!(x.end(&k, h, 1_000, 5_000).unwrap().timeout_ms, T);
    assert_eq!(x.get(&k, h).unwrap().timeout_ms, 5_000);
    // A retransmitted BYE still finds the call and keeps it another linger.
    assert!(x.refresh(&k, h, 5_900).is_some());
    assert!(x.lookup(&k, h, 10_900).is_some());
    assert!(x.lookup(&k, h, 10_901).is_none());
    // A linger longer than the lifetime does not lengthen it.
    insert(&mut x, A, b"bye", 2, 20_000).unwrap();
    x.end(&k, h, 20_000, 10 * T).unwrap();
    assert_eq!(x.get(&k, h).unwrap().timeout_ms, T);
    assert!(x.end(&CallKey::new(A, b"nope").unwrap(), 0, 0, 1).is_none());
}

#[test]
fn time_wraps() {
    let mut x = index(4);
    let start = u32::MAX - 10_000;
    insert(&mut x, A, b"wrap", 1, start).unwrap();
    let (k, h) = key(A, b"wrap");
    // 20 s later the clock has wrapped: idle 20 000 ≤ T.
    let now = start.wrapping_add(20_000);
    assert!(now < start);
    assert_eq!(x.lookup(&k, h, now).unwrap().idle(now), 20_000);
    assert_eq!(x.purge_step(now, 4).removed, 0);
    // A last_seen slightly ahead of now (another CPU) is idle 0.
    x.refresh(&k, h, now).unwrap();
    assert!(x.lookup(&k, h, now.wrapping_sub(50)).is_some());
    assert_eq!(x.get(&k, h).unwrap().idle(now.wrapping_sub(50)), 0);
    // Past its lifetime across the wrap: gone.
    let later = now.wrapping_add(T + 1);
    assert_eq!(x.purge_step(later, 4).removed, 1);
    assert!(x.lookup(&k, h, later).is_none());
}

#[test]
fn purge_cursor_neither_skips_nor_repeats() {
    let cap = 13;
    let mut x = index(cap);
    for i in 0..cap as u32 {
        insert(&mut x, A, format!("p{i}").as_bytes(), i, 0).unwrap();
    }
    // Steps of odd budgets: one pass visits exactly cap slots and wraps exactly once per pass.
    let (mut visited, mut wraps) = (0u32, 0u32);
    for budget in [1, 5, 2, 7, 3, 4, 100] {
        let r = x.purge_step(0, budget);
        assert_eq!(r.visited as usize, budget.min(cap));
        visited += r.visited;
        wraps += u32::from(r.wrapped);
    }
    assert_eq!(visited as usize, 22 + cap);
    assert_eq!(wraps, 2, "22 + 13 = 35 slots: passes end at 13 and 26");
    // Everything dies: one pass of small steps removes each entry exactly once.
    let now = T + 1;
    let mut removed = 0;
    let mut seen = 0;
    while seen < cap {
        let r = x.purge_step(now, 3);
        seen += r.visited as usize;
        removed += r.removed;
    }
    assert_eq!(removed as usize, cap);
    assert!(x.is_empty());
    assert_eq!(x.stats().expired, cap as u64);
    x.check_invariants().unwrap();
}

#[test]
fn dump_hands_each_entry_once() {
    let mut x = index(10);
    for i in 0..7u32 {
        insert(&mut x, A, format!("d{i}").as_bytes(), i, 0).unwrap();
    }
    let mut cursor = 0;
    let mut got = Vec::new();
    let mut refuse = 2;
    loop {
        let w = x.dump(&mut cursor, 3, |c| {
            // A full message now and then: that entry comes again.
            if refuse > 0 && got.len() == 3 {
                refuse -= 1;
                return false;
            }
            got.push(c.value.id);
            true
        });
        if w == Walk::Done {
            break;
        }
    }
    got.sort_unstable();
    assert_eq!(got, (0..7).collect::<Vec<_>>());
    assert_eq!(cursor, 0);
}

#[test]
fn remove_at_checks_the_value_and_clear_touch_all() {
    let mut x = index(6);
    let loc = insert(&mut x, A, b"x", 1, 0).unwrap();
    assert_eq!(x.remove_at(loc, &sref(2)), None);
    assert_eq!(x.remove_at(Loc::new(3, 0).unwrap(), &sref(1)), None);
    assert_eq!(x.remove_at(loc, &sref(1)).unwrap().value, sref(1));
    assert_eq!(x.remove_at(loc, &sref(1)), None);
    insert(&mut x, A, b"y", 1, 0).unwrap();
    insert(&mut x, B, b"y", 2, 0).unwrap();
    assert_eq!(x.touch_all(10 * T), 2);
    let (k, h) = key(B, b"y");
    assert!(x.lookup(&k, h, 10 * T + 5).is_some());
    assert_eq!(x.clear(), 2);
    assert!(x.is_empty());
    x.check_invariants().unwrap();
}

#[test]
fn shards_are_independent_and_use_the_high_bits() {
    let n = 4;
    let mut shards: Vec<Idx> = (0..n)
        .map(|i| CallIndex::new(vec![CallSlot::vacant(); 8], i).unwrap())
        .collect();
    let ids: Vec<_> = (0..20).map(|i| format!("s{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let (k, h) = key(A, id.as_bytes());
        let s = shard_of(h, n);
        let loc = shards[s].insert(&k, h, sref(i as u32), T, 0).unwrap();
        assert_eq!(loc.shard(), s);
    }
    for (i, id) in ids.iter().enumerate() {
        let (k, h) = key(A, id.as_bytes());
        assert_eq!(
            shards[shard_of(h, n)].lookup(&k, h, 1).unwrap().value,
            sref(i as u32)
        );
    }
    assert_eq!(shards.iter().map(|s| s.len()).sum::<usize>(), 20);
}

// ---- classifier ---------------------------------------------------------------------------------

fn msg(start: &str, call_id: Option<&str>) -> std::string::String {
    let mut m = std::format!("{start}\r\nVia: SIP/2.0/UDP 10.0.0.1\r\nCSeq: 1 INVITE\r\n");
    if let Some(c) = call_id {
        m.push_str(&std::format!("Call-ID: {c}\r\n"));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    m
}

fn classified(start: &str, call_id: Option<&str>, known: bool) -> Dispatch {
    let text = msg(start, call_id);
    let m = sip::parse(text.as_bytes()).unwrap();
    classify(&m, known)
}

#[test]
fn classifier_known_calls_go_to_their_server() {
    for m in [
        "INVITE", "ACK", "PRACK", "UPDATE", "INFO", "CANCEL", "OPTIONS", "NOTIFY", "REFER",
        "MESSAGE", "FOO",
    ] {
        let start = std::format!("{m} sip:u@vip SIP/2.0");
        assert_eq!(
            classified(&start, Some("c@h"), true),
            Dispatch::Call { end: false },
            "{m}"
        );
    }
    assert_eq!(
        classified("BYE sip:u@vip SIP/2.0", Some("c@h"), true),
        Dispatch::Call { end: true }
    );
    assert_eq!(
        classified("SIP/2.0 200 OK", Some("c@h"), true),
        Dispatch::Call { end: false }
    );
}

#[test]
fn classifier_unknown_calls() {
    assert_eq!(
        classified("INVITE sip:u@vip SIP/2.0", Some("c@h"), false),
        Dispatch::NewCall
    );
    for m in ["ACK", "BYE", "CANCEL", "PRACK", "UPDATE", "INFO"] {
        let start = std::format!("{m} sip:u@vip SIP/2.0");
        assert_eq!(
            classified(&start, Some("c@h"), false),
            Dispatch::UnknownCall,
            "{m}"
        );
    }
    assert_eq!(
        classified("SIP/2.0 180 Ringing", Some("c@h"), false),
        Dispatch::UnknownCall
    );
    for m in [
        "OPTIONS",
        "REGISTER",
        "SUBSCRIBE",
        "NOTIFY",
        "PUBLISH",
        "MESSAGE",
        "REFER",
        "FOO",
    ] {
        let start = std::format!("{m} sip:u@vip SIP/2.0");
        assert_eq!(
            classified(&start, Some("c@h"), false),
            Dispatch::OutOfDialog,
            "{m}"
        );
    }
}

#[test]
fn classifier_fallbacks() {
    for known in [false, true] {
        assert_eq!(
            classified("INVITE sip:u@vip SIP/2.0", None, known),
            Dispatch::Fallback(Fallback::NoCallId)
        );
        let long = "x".repeat(MAX_CALL_ID + 1);
        assert_eq!(
            classified("BYE sip:u@vip SIP/2.0", Some(&long), known),
            Dispatch::Fallback(Fallback::CallIdTooLong)
        );
    }
    // An empty Call-ID header counts as none; a CRLF keep-alive is not SIP (the caller's NotSip).
    assert_eq!(
        classified("INVITE sip:u@vip SIP/2.0", Some(""), false),
        Dispatch::Fallback(Fallback::NoCallId)
    );
    assert!(sip::parse(b"\r\n\r\n").is_err());
    assert_eq!(Fallback::from(CallIdError::Missing), Fallback::NoCallId);
    // Compact form `i:` works as well.
    let m = sip::parse(b"OPTIONS sip:a SIP/2.0\r\ni: q@h\r\n\r\n").unwrap();
    assert_eq!(classify(&m, false), Dispatch::OutOfDialog);
}
