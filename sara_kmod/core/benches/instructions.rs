//! Instruction counts of the core's hot paths, under Valgrind's Callgrind (gungraun): exact and
//! repeatable, unlike times. `make bench-host` (installs the runner) or, with `gungraun-runner` 0.20.0
//! on `PATH` or in `GUNGRAUN_RUNNER`, `cargo bench -p sara_core --bench instructions`.
//!
//! Each benchmark runs once in its own process under Callgrind; only the benchmark function is
//! counted. Its input (a table of 10^6 flows, the keys to look up) is made by the setup function
//! before it and dropped after it, outside the count. Table operations run a batch of
//! [`BATCH`] different keys spread over the table, so the figure is the average cost of a key, not of
//! one lucky or unlucky chain: divide by 100.
//!
//! What is counted is what the packet path runs in the core (`Table::packet` hashes the key, picks
//! the shard, walks the chain, refreshes the flow) with a `RefCell` where the kernel takes a BH-safe
//! spinlock; the lock, netfilter and the skb are not in it.
//!
//! Call-ID lookup (issue #14): there is no Call-ID index yet. When it exists, its benchmark goes here
//! as `callid_lookup` (hit and miss at 1k and 10^6 sessions), next to the flow-key lookups, and joins
//! the `table` group below.

use gungraun::prelude::*;
use sara_core::dpi::{inspect, Announcement, Direction, Reason, Sig};
use sara_core::flow::FlowKey;
use sara_core::table::{ignore, Classified, PurgeReport};
use std::hint::black_box;

mod common;
use common::{
    key, spread, FlowTable, HASHER, OTHER_PORT, RTSP_SETUP_FFMPEG, RTSP_SETUP_GST, SERVICE_PORT,
    SIP_INVITE_BARESIP, SIP_INVITE_SIPP, TIMEOUT,
};

/// Keys per table benchmark.
const BATCH: u32 = 100;
/// The time of the lookups: a second after the flows were opened (all live).
const NOW: u32 = 1_000;

/// A table of `flows` flows, each of which has had a packet (status Established, as flows are in the
/// steady state), and [`BATCH`] of its keys, spread over it.
fn with_known_keys(flows: u32) -> (FlowTable, Vec<FlowKey>) {
    let t = FlowTable::holding(flows, flows);
    let table = t.table();
    for i in 0..flows {
        let c = table.packet(&key(i), 1, 100, SERVICE_PORT, &mut ignore);
        assert!(matches!(c, Classified::Known(_)));
    }
    let keys = (0..BATCH).map(|j| key(spread(j, flows))).collect();
    (t, keys)
}

/// A table of `flows` flows and [`BATCH`] keys it does not hold.
fn with_unknown_keys(flows: u32) -> (FlowTable, Vec<FlowKey>) {
    let t = FlowTable::holding(flows, flows);
    let keys = (0..BATCH).map(|j| key(flows + j)).collect();
    (t, keys)
}

/// A table of `flows - BATCH` flows, to which the benchmark adds the last [`BATCH`].
fn with_room(flows: u32) -> (FlowTable, u32) {
    (FlowTable::holding(flows, flows - BATCH), flows - BATCH)
}

fn full(flows: u32) -> FlowTable {
    FlowTable::holding(flows, flows)
}

// SipHash-1-3 of one flow key (every packet pays it once, and once more per wildcard probe).
#[library_benchmark]
#[bench::one_key(key(7))]
fn siphash(k: FlowKey) -> u64 {
    HASHER.hash(black_box(&k))
}

// `Table::packet` for packets of known flows: hash, shard, exact lookup, refresh.
#[library_benchmark]
#[bench::flows_1k(args = (1_000), setup = with_known_keys)]
#[bench::flows_1m(args = (1_000_000), setup = with_known_keys)]
fn lookup_hit((t, keys): (FlowTable, Vec<FlowKey>)) -> (FlowTable, u32) {
    let table = t.table();
    let mut known = 0;
    for k in &keys {
        if let Classified::Known(f) =
            table.packet(black_box(k), NOW, 100, SERVICE_PORT, &mut ignore)
        {
            known += u32::from(f.server != 0);
        }
    }
    assert_eq!(known, BATCH);
    (t, known)
}

// `Table::packet` for packets of unknown flows to a service port: one exact lookup that misses.
#[library_benchmark]
#[bench::flows_1k(args = (1_000), setup = with_unknown_keys)]
#[bench::flows_1m(args = (1_000_000), setup = with_unknown_keys)]
fn lookup_miss((t, keys): (FlowTable, Vec<FlowKey>)) -> (FlowTable, u32) {
    miss(t, &keys, SERVICE_PORT)
}

// `Table::packet` for packets of unknown flows to another port: the exact lookup and the three
// wildcard probes (three more hashes and lookups).
#[library_benchmark]
#[bench::flows_1k(args = (1_000), setup = with_unknown_keys)]
#[bench::flows_1m(args = (1_000_000), setup = with_unknown_keys)]
fn lookup_miss_probes((t, keys): (FlowTable, Vec<FlowKey>)) -> (FlowTable, u32) {
    miss(t, &keys, OTHER_PORT)
}

fn miss(t: FlowTable, keys: &[FlowKey], opts: sara_core::table::PacketOpts) -> (FlowTable, u32) {
    let table = t.table();
    let mut unknown = 0;
    for k in keys {
        if table.packet(black_box(k), NOW, 100, opts, &mut ignore) == Classified::Unknown {
            unknown += 1;
        }
    }
    assert_eq!(unknown, BATCH);
    (t, unknown)
}

// `Table::open_session`: a new session's signalling flow (hash, shard, insert), into a table that
// ends with `flows` flows.
#[library_benchmark]
#[bench::flows_1k(args = (1_000), setup = with_room)]
#[bench::flows_1m(args = (1_000_000), setup = with_room)]
fn insert((t, first): (FlowTable, u32)) -> (FlowTable, u32) {
    let mut opened = 0;
    for i in first..first + BATCH {
        opened += u32::from(t.open(black_box(i), NOW).is_some());
    }
    assert_eq!(opened, BATCH);
    (t, opened)
}

// One purge step as the kernel runs it every 100 ms (`Table::purge_step`, a tenth of every shard)
// over a full table whose flows are all live: the steady state, it only reads.
#[library_benchmark]
#[bench::flows_1k(args = (1_000), setup = full)]
#[bench::flows_1m(args = (1_000_000), setup = full)]
fn purge_step_live(t: FlowTable) -> (FlowTable, PurgeReport) {
    let rep = t
        .table()
        .purge_step(black_box(NOW), t.purge_budget, &mut ignore);
    assert_eq!(rep.removed, 0);
    (t, rep)
}

// The same step when every flow it visits has expired (idle more than twice its timeout): it removes
// them all (the worst step).
#[library_benchmark]
#[bench::flows_1k(args = (1_000), setup = full)]
#[bench::flows_1m(args = (1_000_000), setup = full)]
fn purge_step_expired(t: FlowTable) -> (FlowTable, PurgeReport) {
    let rep = t
        .table()
        .purge_step(black_box(2 * TIMEOUT + 1), t.purge_budget, &mut ignore);
    assert_eq!(rep.removed, rep.visited);
    (t, rep)
}

// DPI of a real captured request from the client (`dpi::inspect`: parse, then the announced flows).
#[library_benchmark]
#[bench::rtsp_setup_ffmpeg(Sig::Rtsp, RTSP_SETUP_FFMPEG)]
#[bench::rtsp_setup_gstreamer(Sig::Rtsp, RTSP_SETUP_GST)]
#[bench::sip_invite_sdp_baresip(Sig::Sip, SIP_INVITE_BARESIP)]
#[bench::sip_invite_sdp_sipp(Sig::Sip, SIP_INVITE_SIPP)]
fn dpi(sig: Sig, payload: &'static [u8]) -> Result<Announcement, Reason> {
    let a = inspect(black_box(sig), Direction::FromClient, black_box(payload));
    assert!(a.as_ref().is_ok_and(|a| !a.flows().is_empty()));
    a
}

library_benchmark_group!(
    name = table,
    benchmarks = [
        siphash,
        lookup_hit,
        lookup_miss,
        lookup_miss_probes,
        insert,
        purge_step_live,
        purge_step_expired
    ]
);

library_benchmark_group!(name = dpi_parse, benchmarks = [dpi]);

main!(library_benchmark_groups = table, dpi_parse);
