//! Lookup time at 10^6 flows: SARA's flow table against `hashbrown` holding the same keys, in one run,
//! with the ratios printed at the end. `cargo bench -p sara_core --bench vs_hashbrown` (about 30 s).
//!
//! Each lookup is what the packet path does for a packet of a known flow: hash the key, find it,
//! refresh its last-seen time and count the packet. Keys are visited in a spread order (scattered over
//! the 10^6), the same for all three, each benchmark going on from where its last batch stopped, so
//! most lookups miss the CPU caches as packets of many flows do.
//!
//! * `sara`: `Table::packet` over the kernel's shape of table (64 shards, 1.1M slots; see
//!   `common/mod.rs`), keyed SipHash-1-3;
//! * `hashbrown_siphash`: `hashbrown::HashTable` of (key, record) given the same SipHash-1-3 value,
//!   so the two differ only in the table;
//! * `hashbrown_foldhash`: `hashbrown::HashMap` with its default hasher (foldhash: faster, not a
//!   keyed PRF; what a user of hashbrown gets).
//!
//! Two ratios SARA / hashbrown are printed:
//! * from the samples criterion itself measured (`iter_custom`): per-lookup time as criterion's slope
//!   (least squares through the origin over the measurement samples). The three run one after the
//!   other, so a change of load on the machine between them moves the ratio;
//! * interleaved: [`ROUNDS`] rounds of [`TURN`] lookups of each of the three in turn (the order
//!   rotating), the median of the rounds' ratios, with their range. Steadier on a shared machine.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hashbrown::{HashMap, HashTable};
use sara_core::flow::FlowKey;
use sara_core::table::{ignore, Classified};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;
use common::{key, spread, FlowTable, BYTES, HASHER, SERVICE_PORT};

const FLOWS: u32 = 1_000_000;
const SAMPLES: usize = 30;
/// Rounds of the interleaved measurement, and lookups per turn.
const ROUNDS: usize = 15;
const TURN: u64 = 200_000;

/// What hashbrown stores per flow: the fields a lookup of SARA's table reads or writes, and the rest
/// of what SARA keeps (server, session, timeout), so the entries weigh about the same.
#[derive(Clone, Copy)]
#[allow(dead_code)] // `timeout` and `session` are carried for their weight only
struct Record {
    bytes: u64,
    packets: u32,
    last_seen: u32,
    timeout: u32,
    session: u32,
    server: u16,
}

impl Record {
    fn new(i: u32) -> Self {
        Record {
            bytes: u64::from(BYTES),
            packets: 1,
            last_seen: 0,
            timeout: common::TIMEOUT,
            session: i,
            server: 1 + (i % 4) as u16,
        }
    }

    /// The refresh of a packet of a known flow; returns the server.
    #[inline]
    fn on_packet(&mut self, now: u32) -> u16 {
        self.last_seen = now;
        self.packets = self.packets.wrapping_add(1);
        self.bytes = self.bytes.wrapping_add(u64::from(BYTES));
        self.server
    }
}

/// (iterations, time) of each call criterion made, per benchmark.
type Samples = RefCell<BTreeMap<&'static str, Vec<(u64, Duration)>>>;

/// One lookup of a key at a time (ms).
type Lookup<'a> = &'a mut dyn FnMut(&FlowKey, u32);

/// The three lookups compared, by name.
const NAMES: [&str; 3] = ["sara", "hashbrown_siphash", "hashbrown_foldhash"];

/// The time of `n` lookups of the keys from `cursor` on in the spread order (the cursor moves on).
fn turn(keys: &[FlowKey], cursor: &mut u32, n: u64, mut lookup: impl FnMut(&FlowKey)) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        lookup(&keys[spread(*cursor, FLOWS) as usize]);
        *cursor = cursor.wrapping_add(1);
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let samples = Samples::default();
    let keys: Vec<FlowKey> = (0..FLOWS).map(key).collect();

    let sara = FlowTable::holding(FLOWS, FLOWS);
    assert_eq!(sara.len(), FLOWS as usize);

    let mut same_hash: HashTable<(FlowKey, Record)> = HashTable::with_capacity(FLOWS as usize);
    let mut default_hash: HashMap<FlowKey, Record> = HashMap::with_capacity(FLOWS as usize);
    for (i, k) in keys.iter().enumerate() {
        let r = Record::new(i as u32);
        same_hash.insert_unique(HASHER.hash(k), (*k, r), |(k, _)| HASHER.hash(k));
        default_hash.insert(*k, r);
    }

    // One lookup of each, at time `now`.
    let table = sara.table();
    let mut sara_lookup = |k: &FlowKey, now: u32| {
        let c = table.packet(black_box(k), now, BYTES, SERVICE_PORT, &mut ignore);
        debug_assert!(matches!(c, Classified::Known(_)));
        black_box(c);
    };
    let mut siphash_lookup = |k: &FlowKey, now: u32| {
        let k = black_box(k);
        let r = same_hash.find_mut(HASHER.hash(k), |(e, _)| e == k);
        black_box(r.map(|(_, r)| r.on_packet(now)));
    };
    let mut foldhash_lookup = |k: &FlowKey, now: u32| {
        let k = black_box(k);
        black_box(default_hash.get_mut(k).map(|r| r.on_packet(now)));
    };
    let mut lookups: [Lookup; 3] = [&mut sara_lookup, &mut siphash_lookup, &mut foldhash_lookup];
    // Where each is in the spread order (apart, so that none finds the keys another just warmed).
    let mut cursors = [0, FLOWS / 3, 2 * (FLOWS / 3)];
    let mut now = 1u32;

    let mut g = c.benchmark_group("lookup at 10^6 flows");
    g.sample_size(SAMPLES)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    for ((name, lookup), cursor) in NAMES.into_iter().zip(&mut lookups).zip(&mut cursors) {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                now = now.wrapping_add(1);
                let d = turn(&keys, cursor, iters, |k| lookup(k, now));
                samples
                    .borrow_mut()
                    .entry(name)
                    .or_default()
                    .push((iters, d));
                d
            })
        });
    }
    g.finish();
    summary(&samples.borrow());

    // The interleaved measurement: ratios[j][r] = SARA's time / lookup j+1's in round r.
    let mut ratios = [Vec::new(), Vec::new()];
    for r in 0..ROUNDS {
        now = now.wrapping_add(1);
        let mut t = [Duration::ZERO; 3];
        for j in (0..3).map(|j| (j + r) % 3) {
            t[j] = turn(&keys, &mut cursors[j], TURN, |k| (lookups[j])(k, now));
        }
        for (j, v) in ratios.iter_mut().enumerate() {
            v.push(t[0].as_secs_f64() / t[j + 1].as_secs_f64());
        }
    }
    let parts: Vec<String> = ratios
        .iter_mut()
        .zip(&NAMES[1..])
        .map(|(v, name)| {
            v.sort_by(f64::total_cmp);
            format!(
                "{:.2} (vs {name}; rounds {:.2}-{:.2})",
                v[v.len() / 2],
                v[0],
                v[v.len() - 1]
            )
        })
        .collect();
    println!(
        "ratio SARA table lookup time / hashbrown lookup time at 10^6 keys, interleaved \
         ({ROUNDS} rounds of {TURN} lookups, median): {}",
        parts.join(", ")
    );
}

/// Per-lookup time of a benchmark: the least-squares slope through the origin of its last
/// [`SAMPLES`] samples (criterion's measurement; the calls before them were its warm-up).
fn per_lookup_ns(s: &[(u64, Duration)]) -> Option<f64> {
    let m = s.get(s.len().checked_sub(SAMPLES)?..)?;
    let (xy, xx) = m.iter().fold((0.0, 0.0), |(xy, xx), &(n, d)| {
        let (x, y) = (n as f64, d.as_nanos() as f64);
        (xy + x * y, xx + x * x)
    });
    (xx > 0.0).then(|| xy / xx)
}

fn summary(samples: &BTreeMap<&'static str, Vec<(u64, Duration)>>) {
    let ns = |name| samples.get(name).and_then(|s| per_lookup_ns(s));
    let Some(sara) = ns("sara") else {
        return; // filtered out
    };
    println!("\nlookup at 10^6 flows, per lookup (criterion's slope of this run):");
    println!("  sara                 {sara:7.1} ns");
    let mut ratios = Vec::new();
    for name in &NAMES[1..] {
        if let Some(h) = ns(name) {
            println!("  {name:<20} {h:7.1} ns");
            ratios.push(format!("{:.2} (vs {name})", sara / h));
        }
    }
    if !ratios.is_empty() {
        println!(
            "ratio SARA table lookup time / hashbrown lookup time at 10^6 keys, criterion: {}",
            ratios.join(", ")
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
