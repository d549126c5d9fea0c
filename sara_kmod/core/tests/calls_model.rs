//! The Call-ID index against a model: a `HashMap` from (client address, Call-ID) to the call's value,
//! last-seen time and lifetime, over random sequences of inserts, lookups, refreshes, BYE ends,
//! removals (by key and by location), purge steps and time jumps (small steps, lifetimes, long
//! jumps, across the 2³² ms wrap), with shards small enough to be full often.
//!
//! The model keeps absolute time (u64); the index is compared on every answer, its structure is
//! checked after every step, and its whole content after every full purge.

use proptest::prelude::*;
use sara_core::calls::{
    client_v4, CallIndex, CallInfo, CallInsertError, CallKey, CallSlot, ClientAddr, MAX_CALL_ID,
};
use sara_core::flow::{shard_of, FlowHasher};
use sara_core::table::{Loc, Walk, MAX_TIMEOUT_MS};
use std::collections::HashMap;

const HASHER: FlowHasher = FlowHasher::from_words(0xca11_0000_0000_0001, 0xca11_0000_0000_0002);

const CLIENTS: usize = 3;
/// Call-IDs chosen to be confusable: shared prefixes and suffixes, a case difference, a middle
/// difference in long ones (beyond the stored edge bytes), one byte, the longest allowed.
fn call_id(i: usize) -> Vec<u8> {
    match i {
        0 => b"a".to_vec(),
        1 => b"A".to_vec(),
        2 => b"1-4242@10.0.0.1".to_vec(),
        3 => b"2-4242@10.0.0.1".to_vec(),
        4 => b"abcdefgh-0000-uvwxyz".to_vec(),
        5 => b"abcdefgh-0001-uvwxyz".to_vec(),
        6 => b"abcdefgh-0000-uvwxyz0".to_vec(),
        _ => vec![b'z'; MAX_CALL_ID],
    }
}
const IDS: usize = 8;

fn client(c: usize) -> ClientAddr {
    if c == 2 {
        // An IPv6 client.
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = 1;
        a
    } else {
        client_v4([10, 0, 0, c as u8])
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        c: usize,
        i: usize,
        long: bool,
    },
    Lookup {
        c: usize,
        i: usize,
    },
    Refresh {
        c: usize,
        i: usize,
    },
    End {
        c: usize,
        i: usize,
        linger: bool,
    },
    Remove {
        c: usize,
        i: usize,
    },
    /// Remove by location an entry inserted before, with its right value or a wrong one.
    RemoveAt {
        h: usize,
        right: bool,
    },
    Advance(u32),
    Purge(usize),
    FullPurge,
    Dump,
}

fn op() -> impl Strategy<Value = Op> {
    let ci = (0..CLIENTS, 0..IDS);
    prop_oneof![
        8 => (ci.clone(), any::<bool>()).prop_map(|((c, i), long)| Op::Insert { c, i, long }),
        4 => ci.clone().prop_map(|(c, i)| Op::Lookup { c, i }),
        6 => ci.clone().prop_map(|(c, i)| Op::Refresh { c, i }),
        2 => (ci.clone(), any::<bool>()).prop_map(|((c, i), linger)| Op::End { c, i, linger }),
        2 => ci.prop_map(|(c, i)| Op::Remove { c, i }),
        1 => (0usize..1000, any::<bool>()).prop_map(|(h, right)| Op::RemoveAt { h, right }),
        5 => prop_oneof![
            6 => 0u32..3_000,
            2 => 3_000u32..45_000,
            1 => 1_000_000u32..10_000_000,
        ].prop_map(Op::Advance),
        2 => (1usize..8).prop_map(Op::Purge),
        1 => Just(Op::FullPurge),
        1 => Just(Op::Dump),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct MCall {
    value: u32,
    last_seen: u64,
    timeout: u32,
    loc: Loc,
}

type MKey = (ClientAddr, Vec<u8>);

struct Harness {
    shards: Vec<CallIndex<Vec<CallSlot<u32>>, u32>>,
    calls: HashMap<MKey, MCall>,
    now: u64,
    /// Time of the last full purge: the index needs every slot visited once every < 2³¹ ms.
    last_full: u64,
    next_value: u32,
    history: Vec<(Loc, u32)>,
    hits: HashMap<&'static str, u32>,
}

const TIMEOUTS: [u32; 2] = [5_000, 40_000];
const LINGER: u32 = 2_000;

impl Harness {
    fn new(nshards: usize, cap: usize, start: u64) -> Harness {
        Harness {
            shards: (0..nshards)
                .map(|i| CallIndex::new(vec![CallSlot::vacant(); cap], i).unwrap())
                .collect(),
            calls: HashMap::new(),
            now: start,
            last_full: start,
            next_value: 1,
            history: Vec::new(),
            hits: HashMap::new(),
        }
    }
    fn hit(&mut self, what: &'static str) {
        *self.hits.entry(what).or_default() += 1;
    }
    fn now(&self) -> u32 {
        self.now as u32
    }
    fn live(&self, m: &MCall) -> bool {
        self.now - m.last_seen <= u64::from(m.timeout)
    }
    fn model(&self, k: &MKey) -> Option<MCall> {
        self.calls.get(k).copied().filter(|m| self.live(m))
    }
    fn live_in_shard(&self, s: usize) -> usize {
        self.calls
            .iter()
            .filter(|(k, m)| self.live(m) && self.shard(&k.0, &k.1).0 == s)
            .count()
    }
    fn shard(&self, c: &ClientAddr, id: &[u8]) -> (usize, u64) {
        let h = CallKey::new(*c, id).unwrap().hash(&HASHER);
        (shard_of(h, self.shards.len()), h)
    }
    fn same(&self, got: &CallInfo<u32>, want: &MCall, k: &MKey) {
        assert_eq!(
            (got.value, got.last_seen, got.timeout_ms, got.loc),
            (want.value, want.last_seen as u32, want.timeout, want.loc),
            "{k:?}"
        );
        assert_eq!(got.client, k.0);
        assert_eq!(usize::from(got.call_id_len), k.1.len());
    }

    fn run(&mut self, op: &Op) {
        let now = self.now();
        match *op {
            Op::Insert { c, i, long } => {
                let k: MKey = (client(c), call_id(i));
                let (s, h) = self.shard(&k.0, &k.1);
                let ck = CallKey::new(k.0, &k.1).unwrap();
                let value = self.next_value;
                self.next_value += 1;
                let to = TIMEOUTS[usize::from(long)];
                let got = self.shards[s].insert(&ck, h, value, to, now);
                match (got, self.model(&k)) {
                    (Err(CallInsertError::Exists(info)), Some(m)) => {
                        self.hit("insert: exists");
                        self.same(&info, &m, &k);
                    }
                    (Ok(loc), None) => {
                        self.hit(if self.calls.contains_key(&k) {
                            "insert: replaces dead"
                        } else {
                            "insert"
                        });
                        assert_eq!(loc.shard(), s);
                        // A slot reused: the call it held was dead and has been reclaimed.
                        let now64 = self.now;
                        self.calls.retain(|_, m| {
                            let same = m.loc == loc;
                            assert!(
                                !same || now64 - m.last_seen > u64::from(m.timeout),
                                "live call evicted"
                            );
                            !same
                        });
                        self.calls.insert(
                            k,
                            MCall {
                                value,
                                last_seen: self.now,
                                timeout: to,
                                loc,
                            },
                        );
                        self.history.push((loc, value));
                    }
                    (Err(CallInsertError::Full), None) => {
                        self.hit("insert: full");
                        assert!(self.shards[s].is_full(), "Full with a free slot");
                        assert!(self.live_in_shard(s) <= self.shards[s].capacity());
                    }
                    (got, want) => panic!("insert {k:?}: got {got:?}, model {want:?}"),
                }
                // Established calls are never evicted: every live call of the model is still there.
                if self.live_in_shard(s) == self.shards[s].capacity() {
                    self.hit("shard full of live calls");
                }
            }
            Op::Lookup { c, i } => {
                let k: MKey = (client(c), call_id(i));
                let (s, h) = self.shard(&k.0, &k.1);
                let got = self.shards[s].lookup(&CallKey::new(k.0, &k.1).unwrap(), h, now);
                match (got, self.model(&k)) {
                    (Some(g), Some(m)) => {
                        self.hit("lookup hit");
                        self.same(&g, &m, &k);
                    }
                    (None, None) => self.hit("lookup miss"),
                    (got, want) => panic!("lookup {k:?}: got {got:?}, model {want:?}"),
                }
            }
            Op::Refresh { c, i } => {
                let k: MKey = (client(c), call_id(i));
                let (s, h) = self.shard(&k.0, &k.1);
                let got = self.shards[s].refresh(&CallKey::new(k.0, &k.1).unwrap(), h, now);
                match (got, self.model(&k)) {
                    (Some(g), Some(mut m)) => {
                        self.hit("refresh");
                        m.last_seen = self.now;
                        self.same(&g, &m, &k);
                        self.calls.insert(k, m);
                    }
                    (None, None) => {}
                    (got, want) => panic!("refresh {k:?}: got {got:?}, model {want:?}"),
                }
            }
            Op::End { c, i, linger } => {
                let k: MKey = (client(c), call_id(i));
                let (s, h) = self.shard(&k.0, &k.1);
                let l = if linger { LINGER } else { 0 };
                let got = self.shards[s].end(&CallKey::new(k.0, &k.1).unwrap(), h, now, l);
                match (got, self.model(&k)) {
                    (Some(g), Some(mut m)) => {
                        self.same(&g, &m, &k);
                        if linger {
                            self.hit("end: linger");
                            m.last_seen = self.now;
                            m.timeout = LINGER.min(m.timeout).min(MAX_TIMEOUT_MS);
                            self.calls.insert(k, m);
                        } else {
                            self.hit("end: now");
                            self.calls.remove(&k);
                        }
                    }
                    (None, None) => {}
                    (got, want) => panic!("end {k:?}: got {got:?}, model {want:?}"),
                }
            }
            Op::Remove { c, i } => {
                let k: MKey = (client(c), call_id(i));
                let (s, h) = self.shard(&k.0, &k.1);
                let got = self.shards[s].remove(&CallKey::new(k.0, &k.1).unwrap(), h);
                match (got, self.calls.get(&k).copied()) {
                    (Some(g), Some(m)) => {
                        self.hit("remove");
                        self.same(&g, &m, &k);
                    }
                    // A dead entry may already have been reclaimed.
                    (None, Some(m)) => assert!(!self.live(&m), "live call not removed: {k:?}"),
                    (None, None) => {}
                    (got, want) => panic!("remove {k:?}: got {got:?}, model {want:?}"),
                }
                self.calls.remove(&k);
            }
            Op::RemoveAt { h, right } => {
                let Some(&(loc, value)) = self.history.get(h % self.history.len().max(1)) else {
                    return;
                };
                let v = if right {
                    value
                } else {
                    value.wrapping_add(1_000_000)
                };
                let got = self.shards[loc.shard()].remove_at(loc, &v);
                let holder = self
                    .calls
                    .iter()
                    .find(|(_, m)| m.loc == loc)
                    .map(|(k, m)| (k.clone(), *m));
                match (got, holder) {
                    (Some(g), Some((k, m))) => {
                        assert_eq!(m.value, v);
                        self.same(&g, &m, &k);
                        self.hit("remove_at");
                        self.calls.remove(&k);
                    }
                    (None, Some((k, m))) => {
                        // Wrong value, or a dead entry already reclaimed.
                        assert!(m.value != v || !self.live(&m), "remove_at refused {k:?}");
                        if m.value == v {
                            self.calls.remove(&k);
                        }
                    }
                    (None, None) => {}
                    (got, None) => panic!("remove_at {loc:?}: got {got:?}, model has none"),
                }
            }
            Op::Advance(ms) => {
                self.now += u64::from(ms);
                // The kernel's purge visits every slot far more often than every 2³⁰ ms.
                if self.now - self.last_full > 1 << 30 {
                    self.run(&Op::FullPurge);
                }
            }
            Op::Purge(budget) => {
                for s in 0..self.shards.len() {
                    self.shards[s].purge_step(now, budget);
                }
            }
            Op::FullPurge => {
                for s in 0..self.shards.len() {
                    let cap = self.shards[s].capacity();
                    let r = self.shards[s].purge_step(now, cap);
                    assert_eq!(r.visited as usize, cap);
                    assert!(r.wrapped);
                }
                let before = self.calls.len();
                self.calls
                    .retain(|_, m| self.now - m.last_seen <= u64::from(m.timeout));
                if self.calls.len() < before {
                    self.hit("full purge removed calls");
                }
                self.last_full = self.now;
                self.compare_all();
            }
            Op::Dump => self.dump_matches(),
        }
        for s in &self.shards {
            s.check_invariants().unwrap();
        }
        let live = self.calls.values().filter(|m| self.live(m)).count();
        let held: usize = self.shards.iter().map(|s| s.len()).sum();
        assert!(held >= live, "index holds {held} < {live} live calls");
    }

    /// After a full purge the index holds exactly the model's (live) calls.
    fn compare_all(&self) {
        let held: usize = self.shards.iter().map(|s| s.len()).sum();
        assert_eq!(held, self.calls.len());
        for (k, m) in &self.calls {
            let (s, h) = self.shard(&k.0, &k.1);
            let got = self.shards[s]
                .get(&CallKey::new(k.0, &k.1).unwrap(), h)
                .expect("model call missing");
            self.same(&got, m, k);
        }
    }

    /// A dump (small budgets) hands every entry in use exactly once.
    fn dump_matches(&self) {
        let mut seen = Vec::new();
        for s in &self.shards {
            let mut cursor = 0;
            while s.dump(&mut cursor, 2, |c| {
                seen.push(c.loc);
                true
            }) == Walk::More
            {}
        }
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "an entry was dumped twice");
        assert_eq!(n, self.shards.iter().map(|s| s.len()).sum::<usize>());
        for m in self.calls.values().filter(|m| self.live(m)) {
            assert!(seen.contains(&m.loc), "live call not dumped");
        }
    }
}

#[test]
fn model_test_reaches_every_path() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut hits: HashMap<&'static str, u32> = HashMap::new();
    for _ in 0..48 {
        let ops = prop::collection::vec(op(), 1..200)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut h = Harness::new(2, 5, u64::from(u32::MAX) - 30_000);
        for op in &ops {
            h.run(op);
        }
        h.run(&Op::FullPurge);
        for (k, v) in h.hits {
            *hits.entry(k).or_default() += v;
        }
    }
    for path in [
        "insert",
        "insert: exists",
        "insert: replaces dead",
        "insert: full",
        "shard full of live calls",
        "lookup hit",
        "lookup miss",
        "refresh",
        "end: linger",
        "end: now",
        "remove",
        "remove_at",
        "full purge removed calls",
    ] {
        assert!(
            hits.get(path).copied().unwrap_or(0) > 0,
            "path never taken: {path} ({hits:?})"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Two small shards across the clock's wrap: refusals, reuse of dead entries.
    #[test]
    fn sharded_index_matches_the_model(ops in prop::collection::vec(op(), 1..200)) {
        let mut h = Harness::new(2, 5, u64::from(u32::MAX) - 30_000);
        for op in &ops {
            h.run(op);
        }
        h.run(&Op::FullPurge);
    }

    /// One roomier shard: fewer refusals, longer chains.
    #[test]
    fn single_shard_index_matches_the_model(ops in prop::collection::vec(op(), 1..200)) {
        let mut h = Harness::new(1, 30, 0);
        for op in &ops {
            h.run(op);
        }
        h.run(&Op::FullPurge);
    }
}
