//! Flow table cost: lookup (packet of a known flow) and insert (new session) at 1k, 100k and 1M flows,
//! with the memory per flow. `cargo bench -p sara_core --bench table` (about a minute).
//!
//! The table is one shard per size (the kernel's per-shard work is the same; sharding only divides the
//! flows), filled to 100 % of its slots for the lookups, and kept full for the inserts by removing a
//! flow before each insert.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sara_core::flow::{FlowHasher, FlowKey, Wildcard, PROTO_UDP};
use sara_core::table::{ignore, Placement, Shard, Slot};
use std::hint::black_box;
use std::time::Duration;

const HASHER: FlowHasher = FlowHasher::from_words(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
const TIMEOUT: u32 = 30_000;

fn key(i: u32) -> FlowKey {
    let [a, b, c, d] = i.to_be_bytes();
    FlowKey::new(
        [10, a, b, c],
        1024 + u16::from(d),
        [192, 0, 2, 1],
        5060,
        PROTO_UDP,
    )
}

/// A record for `k` on server 1 with the benchmarks' timeout, at time `now`.
fn at(k: &FlowKey, now: u32) -> Placement<'_> {
    Placement {
        key: k,
        hash: HASHER.hash(k),
        server: 1,
        timeout_ms: TIMEOUT,
        now,
    }
}

fn filled(n: u32) -> Shard<Vec<Slot>> {
    let mut s = Shard::new(vec![Slot::EMPTY; n as usize], 0).unwrap();
    for i in 0..n {
        let k = key(i);
        s.insert_signalling(at(&k, 0), i, 100, &mut ignore).unwrap();
    }
    s
}

/// A cheap permutation of 0..n (odd multiplier mod 2^32, then reduce) so lookups miss the cache the way
/// packets of many flows do.
fn spread(i: u32, n: u32) -> u32 {
    ((u64::from(i.wrapping_mul(0x9e37_79b1)) * u64::from(n)) >> 32) as u32
}

fn bench(c: &mut Criterion) {
    println!(
        "Slot: {} bytes; bytes per flow at full capacity (load factor 1.0, bucket heads inside the slots): {}",
        std::mem::size_of::<Slot>(),
        std::mem::size_of::<Slot>()
    );
    let mut g = c.benchmark_group("table");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for &n in &[1_000u32, 100_000, 1_000_000] {
        let mut s = filled(n);
        s.check_invariants().unwrap();
        println!(
            "{n} flows: {} MiB of slots",
            (n as usize * std::mem::size_of::<Slot>()) >> 20
        );
        g.throughput(Throughput::Elements(1));

        // Lookup: hash + exact lookup + refresh, as for each packet of a known flow.
        let mut i = 0u32;
        g.bench_with_input(BenchmarkId::new("lookup", n), &n, |b, &n| {
            b.iter(|| {
                i = i.wrapping_add(1);
                let k = key(spread(i, n));
                let h = HASHER.hash(&k);
                black_box(s.on_packet(&k, h, 1, 100, &mut ignore))
            })
        });

        // Lookup miss (unknown flow), then the three wildcard probes a miss may cost.
        g.bench_with_input(
            BenchmarkId::new("miss+3 wildcard probes", n),
            &n,
            |b, &n| {
                b.iter(|| {
                    i = i.wrapping_add(1);
                    let k = key(n + i);
                    let mut hit = s
                        .on_packet(&k, HASHER.hash(&k), 1, 100, &mut ignore)
                        .is_some();
                    for w in Wildcard::PROBES {
                        let hw = HASHER.hash_wild(&k, w);
                        hit |= s.lookup_wildcard(&k, w, hw, 1, &mut ignore).is_some();
                    }
                    black_box(hit)
                })
            },
        );

        // Insert of a new session into a full table (one removal makes the room each time).
        let mut next = n;
        g.bench_with_input(BenchmarkId::new("remove+insert", n), &n, |b, &n| {
            b.iter(|| {
                let old = key(next - n);
                s.remove(&old, HASHER.hash(&old), Wildcard::Exact);
                let k = key(next);
                next += 1;
                black_box(s.insert_signalling(at(&k, 1), next, 100, &mut ignore))
            })
        });
        s.check_invariants().unwrap();
    }
    g.finish();

    let k = key(7);
    c.bench_function("siphash13 of a flow key", |b| {
        b.iter(|| black_box(HASHER.hash(black_box(&k))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
