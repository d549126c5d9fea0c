//! Counter ids and their names: the one list behind sysfs (`/sys/kernel/sara/<netns>/…` files),
//! the `A_STATS` netlink nest, `sarectl stats` and its Prometheus export.
//!
//! A counter's id is its index in [`COUNTERS`]; ids are stable, new counters are appended.

/// One counter's description.
#[derive(Debug, Clone, Copy)]
pub struct CounterInfo {
    /// Name used in sysfs, JSON and Prometheus (`sara_<name>_total`).
    pub name: &'static str,
    /// One line for operators.
    pub help: &'static str,
    /// `name` with a trailing NUL, for the kernel's C side (sysfs file names).
    pub name_nul: &'static str,
}

macro_rules! counters {
    ($($id:ident = $idx:literal, $name:literal, $help:literal;)*) => {
        $(
            #[doc = $help]
            pub const $id: usize = $idx;
        )*
        /// Every counter, indexed by id.
        pub const COUNTERS: &[CounterInfo] = &[$(CounterInfo { name: $name, help: $help, name_nul: concat!($name, "\0") }),*];
    };
}

counters! {
    PKT_SEEN = 0, "packets_seen", "IPv4 packets the hook looked at in this namespace";
    PKT_FORWARDED = 1, "packets_forwarded", "packets sent to a server";
    PKT_PASSED = 2, "packets_passed", "packets not for a virtual service, left to the normal stack";
    DROP_NO_SERVER = 3, "dropped_no_server", "packets for a service that has no available server";
    DROP_NO_DEVICE = 4, "dropped_no_device", "packets whose server interface has gone";
    DROP_XMIT = 5, "dropped_xmit", "packets the chosen interface refused to transmit";
    DROP_MALFORMED = 6, "dropped_malformed", "packets for a virtual IP too short or inconsistent to parse";
    DROP_FRAGMENT = 7, "dropped_fragment", "IPv4 fragments for a virtual IP that reached the hook not reassembled (the stack's defragmentation did not gather them): dropped";
    DROP_ADMISSION_NEW = 8, "dropped_admission_new", "packets refused by admission control: new session";
    DROP_ADMISSION_EST = 9, "dropped_admission_established", "packets refused by admission control: established session";
    DROP_TABLE_FULL = 10, "dropped_table_full", "new sessions refused because the flow table was full";
    DROP_NOMEM = 11, "dropped_nomem", "packets dropped because a buffer could not be made writable";
    DROP_NO_SESSION = 12, "dropped_no_session", "TCP resets for a virtual service that belong to no known flow";
    SESSIONS_CREATED = 13, "sessions_created", "sessions opened (a new flow on a virtual service, admitted and scheduled)";
    SESSIONS_ENDED = 14, "sessions_ended", "sessions over: closed (FIN/RST, BYE, TEARDOWN) or expired";
    SESSIONS_REDISPATCHED = 15, "sessions_redispatched", "sessions moved off a server that went down";
    FLOWS_ANNOUNCED = 16, "flows_announced", "flows announced by signalling inspection and stored";
    FLOWS_SECONDARY = 17, "flows_secondary", "announced flows confirmed by their first packet";
    FLOWS_TABLE_FULL = 18, "flows_table_full", "announced or secondary flows not stored because the flow table was full";
    FLOWS_EXPIRED = 19, "flows_expired", "flows removed after twice their idle timeout";
    FLOWS_CLOSED = 20, "flows_closed", "flows removed after their session ended";
    DPI_INSPECTED = 21, "dpi_inspected", "signalling payloads inspected";
    DPI_ANNOUNCING = 22, "dpi_announcing", "inspected payloads that announced flows";
    DPI_SESSION_END = 23, "dpi_session_end", "inspected payloads that ended their session (BYE, TEARDOWN)";
    DPI_NOT_THIS_PROTOCOL = 24, "dpi_not_this_protocol", "inspected payloads that were not of the service's signalling protocol";
    DPI_TRUNCATED = 25, "dpi_truncated", "inspected payloads cut before the part that announces flows";
    DPI_MALFORMED = 26, "dpi_malformed", "inspected payloads with a malformed field that matters";
    DPI_TOO_LONG = 27, "dpi_too_long", "inspected payloads beyond the inspection bounds";
    DPI_NO_ANNOUNCEMENT = 28, "dpi_no_announcement", "inspected messages of a kind that announces nothing";
    DPI_NO_TRANSPORT = 29, "dpi_no_transport", "RTSP SETUPs without a usable Transport header";
    DPI_INTERLEAVED = 30, "dpi_interleaved", "RTSP SETUPs with media interleaved in the signalling connection";
    DPI_NO_BODY = 31, "dpi_no_body", "SIP INVITEs without a body";
    DPI_NO_MEDIA = 32, "dpi_no_media", "SDP bodies without an enabled media line";
    DPI_UNSUPPORTED = 33, "dpi_unsupported", "inspected messages SARA does not handle (IPv6, multicast, non-SDP bodies)";
    ANNOUNCE_RECEIVED = 34, "announce_received", "gateway reports received";
    ANNOUNCE_COMPLETED = 35, "announce_completed", "gateway reports that completed an announced flow";
    ANNOUNCE_REJECTED = 36, "announce_rejected", "gateway reports that matched no announced flow";
    GAUGE_FLOWS = 37, "flows", "flows in the table now (gauge)";
    GAUGE_SESSIONS = 38, "sessions", "live sessions now: signalling flows not ended (gauge)";
    GAUGE_NEW = 39, "flows_new", "flows with status New now (gauge)";
    GAUGE_ESTABLISHED = 40, "flows_established", "flows with status Established now (gauge)";
    GAUGE_INACTIVE = 41, "flows_inactive", "flows with status Inactive now (gauge)";
    GAUGE_SIGNALLING = 42, "flows_signalling", "flows with identity Signalling now (gauge)";
    GAUGE_ANNOUNCED_NOW = 43, "flows_announced_now", "flows with identity Announced now (gauge)";
    GAUGE_SECONDARY_NOW = 44, "flows_secondary_now", "flows with identity Secondary now (gauge)";
    GAUGE_WILDCARD = 45, "flows_wildcard", "announced flows stored with an unknown port now (gauge)";
    GAUGE_CAPACITY = 46, "table_capacity", "flows the table can hold (gauge; 0 until the first service)";
    DROP_BACKUP = 47, "dropped_backup", "packets for a virtual service that reached this dispatcher while it is the backup (a backup never forwards)";
    REPL_RECORDS = 48, "repl_records", "replication records queued for the backup dispatcher (session opened, flow added, session ended)";
    REPL_OVERRUNS = 49, "repl_overruns", "times the replication reader fell behind the ring (the backup is then resynchronised)";
    REPL_APPLIED = 50, "repl_applied", "replication records installed from the active dispatcher";
    REPL_REJECTED = 51, "repl_rejected", "replication records that could not be installed (unknown session, table full)";
    HA_TAKEOVERS = 52, "ha_takeovers", "times this dispatcher became active after being the backup";
    CALLS_OPENED = 53, "calls_opened", "SIP calls opened as sessions of their own (an INVITE with a new Call-ID on a UDP SIP service)";
    CALLS_ENDED = 54, "calls_ended", "SIP calls ended by their BYE";
    SIP_BY_CALL_ID = 55, "sip_by_call_id", "SIP datagrams dispatched by Call-ID to the server of their call";
    SIP_UNKNOWN_CALL_ID = 56, "sip_unknown_call_id", "in-dialog SIP messages (ACK, BYE, CANCEL, PRACK, UPDATE, INFO, responses) whose Call-ID is not indexed, sent by the Call-ID hash";
    SIP_OUT_OF_DIALOG = 57, "sip_out_of_dialog", "SIP requests outside any call (OPTIONS, REGISTER, ...) sent by the Call-ID hash";
    SIP_FALLBACK_NOT_SIP = 58, "sip_fallback_not_sip", "datagrams on a UDP SIP service that are no SIP message (keep-alives, truncated), sent by the 5-tuple hash";
    SIP_FALLBACK_NO_CALL_ID = 59, "sip_fallback_no_call_id", "SIP messages without a Call-ID in the bytes inspected, sent by the 5-tuple hash";
    SIP_FALLBACK_CALL_ID_TOO_LONG = 60, "sip_fallback_call_id_too_long", "SIP messages whose Call-ID is too long to index, sent by the 5-tuple hash";
    CALL_INDEX_FULL = 61, "call_index_full", "new SIP calls refused because the Call-ID index was full";
    GAUGE_CALLS = 62, "calls_indexed", "Call-ID index entries in use now (gauge)";
    GAUGE_CALL_CAPACITY = 63, "call_index_capacity", "calls the Call-ID index can hold (gauge; 0 until the first service)";
    GAUGE_TABLE_BYTES = 64, "table_bytes", "bytes sara.ko holds for the flow table, the Call-ID index and the SIP-over-TCP stream pool (gauge; allocated with the first service, 0 before)";
    REPL_ADOPTED = 65, "repl_adopted", "records of sessions the peer dispatcher opened while it was active too (its handback, or its replication while both were active) installed here because this table had none of them";
    REPL_ADOPT_SKIPPED = 66, "repl_adopt_skipped", "records of the peer's sessions not adopted because this dispatcher has that session, flow or call already, or decided otherwise for it (its own decision stands)";
    SIP_TCP_STREAMS_OPENED = 67, "sip_tcp_streams_opened", "SIP-over-TCP connections given a stream that frames their messages (at their SYN, or later when met without one)";
    SIP_TCP_POOL_FULL = 68, "sip_tcp_pool_full", "times a SIP-over-TCP connection found no free stream (at its SYN, or at a later segment): its segments are inspected one by one";
    SIP_TCP_NO_STREAM = 69, "sip_tcp_no_stream", "segments with payload of a SIP-over-TCP connection that had no stream (the pool was full at its SYN, or it was met mid-stream)";
    SIP_TCP_MESSAGES = 70, "sip_tcp_messages", "SIP messages framed in SIP-over-TCP streams and inspected (whole, or their head alone)";
    SIP_TCP_DESYNC = 71, "sip_tcp_desync", "times a SIP-over-TCP stream lost its framing (a gap outside a body, an overlong head, a bad start line or Content-Length)";
    SIP_TCP_RESYNC = 72, "sip_tcp_resync", "times a SIP-over-TCP stream found its framing again (a segment starting with a message)";
    SIP_TCP_GAPS = 73, "sip_tcp_gaps", "SIP-over-TCP segments with bytes never seen (a lost or reordered segment before them, or payload past what could be read)";
    SIP_TCP_BYE = 74, "sip_tcp_bye", "BYEs framed in SIP-over-TCP streams: each ends a call, not the connection's session";
    GAUGE_SIP_TCP_STREAMS = 75, "sip_tcp_streams", "SIP-over-TCP streams in use now (gauge)";
    GAUGE_SIP_TCP_STREAM_CAPACITY = 76, "sip_tcp_stream_capacity", "SIP-over-TCP streams the pool holds: min(flow_capacity / 256, 1024) (gauge; 0 until the first service)";
    FRAG_REASSEMBLED = 77, "frag_reassembled", "TCP/UDP datagrams for a virtual IP that arrived in IPv4 fragments, seen whole once the stack (nf_defrag_ipv4) reassembled them";
    FRAG_PASSED = 78, "frag_passed", "reassembled datagrams not for a virtual service (another port of the VIP), left whole to the normal stack";
    FRAG_REFRAGMENTED = 79, "frag_refragmented", "reassembled datagrams sent to their server in fragments again (at most the size of the largest one that arrived and the interface's MTU)";
    FRAG_SENT = 80, "frag_sent", "fragments sent to servers (of the datagrams in frag_refragmented)";
    FRAG_TOO_BIG = 81, "frag_too_big", "reassembled datagrams dropped because their largest fragment had DF set and exceeds the MTU towards their server";
    FRAG_FAILED = 82, "frag_failed", "reassembled datagrams lost while being fragmented again for their server (memory short)";
}

/// Counters from this id to [`LAST_GAUGE`] are gauges (values now, computed when read), not running
/// totals.
pub const FIRST_GAUGE: usize = GAUGE_FLOWS;
/// The last gauge.
pub const LAST_GAUGE: usize = GAUGE_CAPACITY;

/// Gauges added after the running totals that follow the first range (the Call-ID index's, the
/// table's memory, the SIP-over-TCP stream pool's).
pub const LATER_GAUGES: [usize; 5] = [
    GAUGE_CALLS,
    GAUGE_CALL_CAPACITY,
    GAUGE_TABLE_BYTES,
    GAUGE_SIP_TCP_STREAMS,
    GAUGE_SIP_TCP_STREAM_CAPACITY,
];

/// Whether counter `id` is a gauge.
pub const fn is_gauge(id: usize) -> bool {
    (id >= FIRST_GAUGE && id <= LAST_GAUGE)
        || id == GAUGE_CALLS
        || id == GAUGE_CALL_CAPACITY
        || id == GAUGE_TABLE_BYTES
        || id == GAUGE_SIP_TCP_STREAMS
        || id == GAUGE_SIP_TCP_STREAM_CAPACITY
}

/// The counter of a SIP fallback reason.
pub const fn sip_fallback(reason: super::calls::Fallback) -> usize {
    match reason {
        super::calls::Fallback::NotSip => SIP_FALLBACK_NOT_SIP,
        super::calls::Fallback::NoCallId => SIP_FALLBACK_NO_CALL_ID,
        super::calls::Fallback::CallIdTooLong => SIP_FALLBACK_CALL_ID_TOO_LONG,
    }
}

/// The counter of a DPI failure reason (index `dpi::Reason::index`).
pub const fn dpi_reason(reason_index: usize) -> usize {
    DPI_NOT_THIS_PROTOCOL.saturating_add(reason_index)
}

/// Number of counters.
pub const NUM_COUNTERS: usize = COUNTERS.len();

/// Id of the counter with this name.
pub fn by_name(name: &str) -> Option<usize> {
    COUNTERS.iter().position(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_positions_and_names_are_unique() {
        assert_eq!(COUNTERS[PKT_SEEN].name, "packets_seen");
        assert_eq!(COUNTERS[DROP_NOMEM].name, "dropped_nomem");
        for (i, c) in COUNTERS.iter().enumerate() {
            assert_eq!(by_name(c.name), Some(i));
            assert!(c.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert_eq!(c.name_nul.strip_suffix('\0'), Some(c.name));
        }
        for r in crate::dpi::Reason::ALL {
            assert_eq!(
                COUNTERS[dpi_reason(r.index())].name.strip_prefix("dpi_"),
                Some(r.name())
            );
        }
        assert!(is_gauge(GAUGE_CAPACITY) && !is_gauge(ANNOUNCE_REJECTED));
        assert!(!is_gauge(DROP_BACKUP) && !is_gauge(HA_TAKEOVERS));
        assert!(
            is_gauge(GAUGE_CALLS) && is_gauge(GAUGE_CALL_CAPACITY) && !is_gauge(CALL_INDEX_FULL)
        );
        assert!(!is_gauge(CALLS_OPENED) && !is_gauge(HA_TAKEOVERS + 1));
        assert!(LATER_GAUGES.iter().all(|&g| is_gauge(g)));
        assert!(!is_gauge(REPL_ADOPTED) && !is_gauge(REPL_ADOPT_SKIPPED));
        assert!((SIP_TCP_STREAMS_OPENED..=SIP_TCP_BYE).all(|id| !is_gauge(id)));
        assert!(
            COUNTERS[SIP_TCP_STREAMS_OPENED..=GAUGE_SIP_TCP_STREAM_CAPACITY]
                .iter()
                .all(|c| c.name.starts_with("sip_tcp_"))
        );
        // The fragment counters, appended last: running totals, all named frag_*.
        assert_eq!(FRAG_FAILED, NUM_COUNTERS - 1);
        assert_eq!(FRAG_REASSEMBLED, GAUGE_SIP_TCP_STREAM_CAPACITY + 1);
        assert!((FRAG_REASSEMBLED..NUM_COUNTERS).all(|id| !is_gauge(id)));
        assert!(COUNTERS[FRAG_REASSEMBLED..]
            .iter()
            .all(|c| c.name.starts_with("frag_")));
        use super::super::calls::Fallback;
        assert_eq!(
            COUNTERS[sip_fallback(Fallback::NotSip)].name,
            "sip_fallback_not_sip"
        );
        assert_eq!(
            COUNTERS[sip_fallback(Fallback::NoCallId)].name,
            "sip_fallback_no_call_id"
        );
        assert_eq!(
            COUNTERS[sip_fallback(Fallback::CallIdTooLong)].name,
            "sip_fallback_call_id_too_long"
        );
    }
}
