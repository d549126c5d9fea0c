//! Flow table cost: lookup (packet of a known flow) and insert (new session) at 1k, 100k and 1M flows,
//! with the memory per flow. `cargo bench -p sara_core --bench table` (about a minute).
//!
//! The table is one shard per size (the kernel's per-shard work is the same; sharding only divides the
//! flows), filled to 100 % of its slots for the lookups, and kept full for the inserts by removing a
//! flow before each insert.

mod common;

use common::{key, spread, HASHER, TIMEOUT};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sara_core::flow::{FlowKey, Wildcard};
use sara_core::table::{ignore, Placement, Shard, Slot};
use std::hint::black_box;
use std::time::Duration;

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
