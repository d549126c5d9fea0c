//! What the host benchmarks share: flow keys, a flow table shaped as `sara.ko` shapes it, and the
//! real captured signalling messages (`testdata/captures/`).
//!
//! The table is built as `sara_kmod/conn.rs` builds a namespace's table: capacity split into at most
//! 64 shards of at least 1024 slots, a purge budget of a tenth of a shard per step (at least 64), one
//! keyed SipHash-1-3 for the whole table. The host's shards are `RefCell`s where the kernel's are
//! BH-safe spinlocks. Capacity is 1.1 × the flows held (as in `make bench`: 1.1M slots for 1M flows),
//! so no shard is full.

// Each bench target uses part of this module.
#![allow(dead_code)]

use sara_core::flow::{FlowHasher, FlowKey, PROTO_UDP};
use sara_core::table::{ignore, PacketOpts, Shard, Slot, Table};
use std::cell::RefCell;

/// The table's secret (fixed, so that every run hashes the same keys to the same buckets).
pub const HASHER: FlowHasher = FlowHasher::from_words(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
/// Idle timeout of the benchmarks' flows, ms.
pub const TIMEOUT: u32 = 30_000;
/// Bytes counted per packet.
pub const BYTES: u32 = 100;
/// The kernel's bounds (sara_kmod/conn.rs).
const MAX_SHARDS: usize = 64;
const MIN_SHARD_SLOTS: usize = 1024;
/// Purge steps per second in the kernel (one every 100 ms).
const PURGE_STEPS_PER_S: usize = 10;

/// Flow `i`: a UDP client 10.a.b.c:1024+d (the four bytes of `i`) to 192.0.2.1:5060. Distinct for
/// every `i`.
pub fn key(i: u32) -> FlowKey {
    let [a, b, c, d] = i.to_be_bytes();
    FlowKey::new(
        [10, a, b, c],
        1024 + u16::from(d),
        [192, 0, 2, 1],
        5060,
        PROTO_UDP,
    )
}

/// A cheap scatter over 0..n (odd multiplier mod 2^32, then scaled to n: close to, not exactly, a
/// permutation) so that consecutive lookups land far apart, as packets of many flows do.
pub fn spread(i: u32, n: u32) -> u32 {
    ((u64::from(i.wrapping_mul(0x9e37_79b1)) * u64::from(n)) >> 32) as u32
}

/// The shards of one table (the kernel's `Shards`).
pub type Shards = Vec<RefCell<Shard<Vec<Slot>>>>;

/// A flow table as the kernel makes it, and its purge budget.
pub struct FlowTable {
    pub shards: Shards,
    pub purge_budget: usize,
}

impl FlowTable {
    /// An empty table for `capacity` flows, sharded as `sara.ko` shards it.
    pub fn new(capacity: usize) -> Self {
        let want = capacity.max(MIN_SHARD_SLOTS);
        let n = (want / MIN_SHARD_SLOTS).clamp(1, MAX_SHARDS);
        let per = want / n;
        let shards = (0..n)
            .map(|i| RefCell::new(Shard::new(vec![Slot::EMPTY; per], i).unwrap()))
            .collect();
        FlowTable {
            shards,
            purge_budget: (per / PURGE_STEPS_PER_S).max(64),
        }
    }

    /// A table sized for `flows` flows (capacity 1.1 × `flows`) holding flows `0..held`, each a
    /// session of its own (a signalling flow) opened at time 0.
    pub fn holding(flows: u32, held: u32) -> Self {
        let t = FlowTable::new(flows as usize + flows as usize / 10);
        for i in 0..held {
            t.open(i, 0).unwrap();
        }
        t
    }

    /// The core's table over these shards.
    pub fn table(&self) -> Table<'_, [RefCell<Shard<Vec<Slot>>>]> {
        Table::new(&self.shards[..], HASHER)
    }

    /// Opens flow `i` as a session (session id `i`, server 1‥4) at `now`, as the packet path does for
    /// a packet that opens a session.
    #[inline]
    pub fn open(&self, i: u32, now: u32) -> Option<()> {
        self.table()
            .open_session(
                &key(i),
                i,
                1 + (i % 4) as u16,
                TIMEOUT,
                now,
                BYTES,
                &mut ignore,
            )
            .ok()
            .map(|_| ())
    }

    /// Flows held.
    pub fn len(&self) -> usize {
        self.table().len()
    }
}

/// The packet path's options for a packet to a service port (no wildcard probes after a miss; see
/// docs/decisions.md, "A flow to a service port opens its own session").
pub const SERVICE_PORT: PacketOpts = PacketOpts {
    keep_alive: true,
    probe_wildcards: false,
};

/// The packet path's options for a packet to another port (a miss probes the three wildcards).
pub const OTHER_PORT: PacketOpts = PacketOpts {
    keep_alive: true,
    probe_wildcards: true,
};

/// One captured segment or datagram of `testdata/captures/`, byte for byte.
macro_rules! capture {
    ($name:literal) => {{
        let b: &'static [u8] = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/captures/",
            $name
        ));
        b
    }};
}

/// ffmpeg 5.1's RTSP SETUP (`RTP/AVP/UDP;unicast;client_port=7624-7625`) to gst-rtsp-server.
pub const RTSP_SETUP_FFMPEG: &[u8] = capture!("ffmpeg-gst-rtsp-server-setup.txt");
/// GStreamer rtspsrc's SETUP (CSeq, User-Agent and Date before Transport).
pub const RTSP_SETUP_GST: &[u8] = capture!("gst-rtspsrc-setup.txt");
/// baresip 1.0.0's INVITE with an SDP offer (PCMU/PCMA/telephone-event).
pub const SIP_INVITE_BARESIP: &[u8] = capture!("baresip-invite.txt");
/// SIPp 3.6.1's `uac` INVITE with an SDP offer.
pub const SIP_INVITE_SIPP: &[u8] = capture!("sipp-uac-invite.txt");
