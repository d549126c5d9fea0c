//! The generic netlink interface of `sara.ko`: one table of numbers shared by the module, its C glue
//! and `sarectl`.
//!
//! Family `sara`, version [`VERSION`], one instance per network namespace (a request acts on the
//! namespace of the socket that sent it). Mutating commands need CAP_NET_ADMIN in that namespace.
//!
//! The C glue (`sara_kmod/glue/sara_glue.c`) needs these numbers for its attribute policy; Kbuild
//! generates `sara_genl_defs.h` from this file with `scripts/genl-defs.awk`, which reads every line
//! of the form `pub const NAME: TYPE = NUMBER;`. Keep that form (one constant per line, decimal).
//!
//! Conventions:
//! * IPv4 addresses travel as `NLA_BE32` (the four address bytes in network order).
//! * Ports are `NLA_U16` in host order; protocols are IP protocol numbers (6 TCP, 17 UDP).
//! * Replies to `*_GET` carry one nest per object (`A_SERVICE`, `A_SERVER`) in a single message.
//! * `CMD_STATS_GET` replies with one `A_STATS` nest whose attribute types are counter ids + 1
//!   (see `super::counters`), each a 64-bit value; inside that nest, type 0 is alignment padding
//!   (skip it). Elsewhere 64-bit attributes are padded with `A_PAD`.

/// Family name, as resolved through `CTRL_CMD_GETFAMILY`.
pub const FAMILY_NAME: &str = "sara";
/// Family version; bumped when a command or attribute changes meaning.
pub const VERSION: u8 = 1;

// ---- commands -------------------------------------------------------------------------------
/// Add a virtual service: `A_VIP`, `A_PORT`, `A_PROTO` (required); `A_SIGPROTO`, `A_POLICY`,
/// `A_TIMEOUT`, `A_DOWN_ACTION` (optional).
pub const CMD_SERVICE_ADD: u8 = 1;
/// Delete a virtual service: `A_VIP`, `A_PORT`, `A_PROTO`.
pub const CMD_SERVICE_DEL: u8 = 2;
/// List services: reply has one `A_SERVICE` nest per service.
pub const CMD_SERVICE_GET: u8 = 3;
/// Add a server: `A_SERVER_ID`, `A_SERVER_IP`, `A_SERVER_MAC`, `A_IFNAME` (required); `A_WEIGHT`.
pub const CMD_SERVER_ADD: u8 = 4;
/// Delete a server: `A_SERVER_ID`.
pub const CMD_SERVER_DEL: u8 = 5;
/// List servers: reply has one `A_SERVER` nest per server.
pub const CMD_SERVER_GET: u8 = 6;
/// Read the namespace's counters: reply has one `A_STATS` nest.
pub const CMD_STATS_GET: u8 = 7;
/// Control plane push, every interval: `A_LOAD_DISPATCHER`, `A_LOAD_CLUSTER`, `A_T1`, `A_T2`, `A_T3`,
/// `A_TC`, optional `A_INCREMENT`, and one `A_SERVER` nest per known server with `A_SERVER_ID`,
/// `A_STATE`, `A_FORECAST`, `A_LOAD`, `A_LOAD_KNOWN`. Servers not named keep their state.
pub const CMD_PUSH: u8 = 8;
/// Dump the flow table (a netlink dump: `NLM_F_DUMP`, several messages, then `NLMSG_DONE`). Optional
/// filters in the request: `A_SERVER_ID` (flows of sessions on that server), `A_SESSION_ID` (flows of
/// that session). Each message carries `A_FLOW` nests, one per flow: `A_FLOW_SRC`, `A_FLOW_SPORT`,
/// `A_FLOW_DST`, `A_FLOW_DPORT`, `A_PROTO`, `A_SERVER_ID`, `A_SESSION_ID`, `A_FLOW_STATUS`,
/// `A_FLOW_IDENTITY`, `A_FLOW_WILDCARD`, `A_FLOW_ENDED`, `A_FLOW_IDLE_MS`, `A_FLOW_TIMEOUT_MS`,
/// `A_PACKETS`, `A_FLOW_BYTES`. A port named by `A_FLOW_WILDCARD` is unknown and sent as 0.
pub const CMD_FLOW_GET: u8 = 9;
/// Gateway report completing an announced flow: the flow's full identity as the dispatcher will see
/// it (`A_FLOW_SRC`, `A_FLOW_SPORT`, `A_FLOW_DST`, `A_FLOW_DPORT`, `A_PROTO`; all required, ports
/// 1..=65535). The announced flow stored with a wildcard that this identity completes becomes exact.
/// `ENOENT` (with an extack message) when no live announced flow matches.
pub const CMD_ANNOUNCE: u8 = 10;
/// Replace the namespace's whole configuration at once (`sarectl apply`): zero or more `A_SERVICE`
/// nests (each as for `CMD_SERVICE_ADD`) and zero or more `A_SERVER` nests (each as for
/// `CMD_SERVER_ADD`). Everything is validated first; then the new set of services and servers is
/// published in one step, so packets see the old configuration or the new one, never a mix. A
/// service or server that exists before and after (same key / same id, address, MAC and interface)
/// keeps its counters and pushed state.
pub const CMD_CONFIG_SET: u8 = 11;
/// Set the dispatcher's high-availability role (`sarectl ha`): `A_HA_ROLE`. Standalone and active
/// forward; active also queues a replication record for each session event; a backup forwards
/// nothing (packets for a virtual service are dropped and counted), does not age its flows, and
/// takes `CMD_REPL_APPLY`. Backup → active refreshes every flow's idle time (the replicated flows
/// saw no packet here) and counts a takeover.
pub const CMD_HA_SET: u8 = 12;
/// Read the role and the replication ring: reply `A_HA_ROLE`, `A_REPL_HEAD`, `A_REPL_CAPACITY`.
pub const CMD_HA_GET: u8 = 13;
/// Read replication records from `A_REPL_SEQ` on (active role): reply `A_REPL_SEQ` (first record
/// returned), `A_REPL_HEAD`, `A_REPL_RECORDS` (as many as fit `REPL_RUN_MAX`), `A_REPL_LOST` when
/// records were overwritten unread. With `A_REPL_CALLS` (a cursor, 0 to start) instead: the SIP
/// calls of the Call-ID index as `Call` records (after a `CallKey` record when the cursor is 0), for
/// a resynchronisation; reply `A_REPL_RECORDS` and, while more are left, `A_REPL_CALLS` (the cursor
/// to ask with next).
pub const CMD_REPL_GET: u8 = 14;
/// Install replication records on a backup: `A_REPL_RECORDS` (a `Flow` or `SessionEnded` record
/// applies to the session of the latest `Session` record before it with the same session id),
/// optional `A_HA_FLUSH`. Reply `A_REPL_APPLIED`, `A_REPL_FAILED`. With `A_REPL_ADOPT` instead (the
/// active role only, never with `A_HA_FLUSH`): adopt the peer dispatcher's records "if absent"
/// (`sara_core::adopt`: what the table has stays as it is); reply `A_REPL_APPLIED` (records
/// adopted), `A_REPL_SKIPPED` (already there, or this dispatcher decided otherwise),
/// `A_REPL_FAILED`.
pub const CMD_REPL_APPLY: u8 = 15;
/// Highest command number in use.
pub const CMD_MAX: u8 = 15;

// ---- attributes (one flat space; nests reuse it) --------------------------------------------
/// Unused attribute 0.
pub const A_UNSPEC: u16 = 0;
/// Virtual IPv4 address of a service (`NLA_BE32`).
pub const A_VIP: u16 = 1;
/// Port of a service (`NLA_U16`, host order, 1..=65535).
pub const A_PORT: u16 = 2;
/// IP protocol of a service (`NLA_U8`, 6 or 17).
pub const A_PROTO: u16 = 3;
/// Signalling protocol inspected on a service (`NLA_U8`, see `SIG_*`).
pub const A_SIGPROTO: u16 = 4;
/// Selection policy of a service (`NLA_U8`, see `POLICY_*`).
pub const A_POLICY: u16 = 5;
/// Idle timeout of a service's flows in seconds (`NLA_U32`, 1..=86400).
pub const A_TIMEOUT: u16 = 6;
/// Server id (`NLA_U32`, 1..=65535).
pub const A_SERVER_ID: u16 = 7;
/// Server IPv4 address (`NLA_BE32`).
pub const A_SERVER_IP: u16 = 8;
/// Server MAC address (binary, exactly 6 bytes).
pub const A_SERVER_MAC: u16 = 9;
/// Interface through which a server is reached (`NLA_NUL_STRING`, at most 15 bytes).
pub const A_IFNAME: u16 = 10;
/// Interface index (`NLA_U32`, in replies).
pub const A_IFINDEX: u16 = 11;
/// Server weight for weighted policies (`NLA_U32`, 1..=65535, default 1).
pub const A_WEIGHT: u16 = 12;
/// One service in a reply (nest).
pub const A_SERVICE: u16 = 13;
/// One server in a reply (nest).
pub const A_SERVER: u16 = 14;
/// Counters in a reply (nest of `NLA_U64`, type = counter id + 1).
pub const A_STATS: u16 = 15;
/// Padding for 64-bit attributes.
pub const A_PAD: u16 = 16;
/// Server state (`NLA_U8`, see `STATE_*`).
pub const A_STATE: u16 = 17;
/// What happens to a down server's established flows (`NLA_U8`, see `DOWN_*`).
pub const A_DOWN_ACTION: u16 = 18;
/// Packets forwarded to a server or through a service (`NLA_U64`, in replies).
pub const A_PACKETS: u16 = 19;
/// A server's damped load forecast l̃_j, per-mille (`NLA_U16`, 0..=1000; in `CMD_PUSH` server nests).
pub const A_FORECAST: u16 = 20;
/// A server's last measured load l_j, per-mille (`NLA_U16`, 0..=1000).
pub const A_LOAD: u16 = 21;
/// The dispatcher's own load l_d, per-mille (`NLA_U16`, 0..=1000; `CMD_PUSH`).
pub const A_LOAD_DISPATCHER: u16 = 22;
/// The cluster load l_c (eq. 1, or its forecast), per-mille (`NLA_U16`, 0..=1000; `CMD_PUSH`).
pub const A_LOAD_CLUSTER: u16 = 23;
/// Admission threshold T1 in force, per-mille (`NLA_U16`; `CMD_PUSH`). T1 < T2 < T3 < C ≤ 1000.
pub const A_T1: u16 = 24;
/// Admission threshold T2 in force, per-mille (`NLA_U16`; `CMD_PUSH`).
pub const A_T2: u16 = 25;
/// Admission threshold T3 in force, per-mille (`NLA_U16`; `CMD_PUSH`).
pub const A_T3: u16 = 26;
/// Capacity threshold C in force, per-mille (`NLA_U16`; `CMD_PUSH`).
pub const A_TC: u16 = 27;
/// Active sessions on a server (`NLA_U32`, in replies).
pub const A_SESSIONS: u16 = 28;
/// Per-session increment added to a server's forecast between pushes, per-mille (`NLA_U16`; `CMD_PUSH`).
pub const A_INCREMENT: u16 = 29;
/// Whether the server's load monitor is alive (`NLA_U8`, 0 or 1; `CMD_PUSH` server nests).
pub const A_LOAD_KNOWN: u16 = 30;
/// One flow in a `CMD_FLOW_GET` reply (nest).
pub const A_FLOW: u16 = 31;
/// A flow's source IPv4 address (`NLA_BE32`).
pub const A_FLOW_SRC: u16 = 32;
/// A flow's source port (`NLA_U16`; 0 = unknown, see `A_FLOW_WILDCARD`).
pub const A_FLOW_SPORT: u16 = 33;
/// A flow's destination IPv4 address (`NLA_BE32`).
pub const A_FLOW_DST: u16 = 34;
/// A flow's destination port (`NLA_U16`; 0 = unknown).
pub const A_FLOW_DPORT: u16 = 35;
/// A session id (`NLA_U32`): in flow nests, and as a `CMD_FLOW_GET` filter.
pub const A_SESSION_ID: u16 = 36;
/// A flow's status (`NLA_U8`, see `FLOW_STATUS_*`).
pub const A_FLOW_STATUS: u16 = 37;
/// A flow's identity (`NLA_U8`, see `FLOW_IDENTITY_*`).
pub const A_FLOW_IDENTITY: u16 = 38;
/// Unknown ports of an announced flow (`NLA_U8`, see `WILDCARD_*`).
pub const A_FLOW_WILDCARD: u16 = 39;
/// Milliseconds since the flow's last packet (`NLA_U32`).
pub const A_FLOW_IDLE_MS: u16 = 40;
/// The flow's idle timeout in milliseconds (`NLA_U32`; for an ended flow: its linger time).
pub const A_FLOW_TIMEOUT_MS: u16 = 41;
/// Bytes counted on a flow (`NLA_U64`).
pub const A_FLOW_BYTES: u16 = 42;
/// The flow (for a signalling flow: its session) has ended and lingers (`NLA_U8`, 0 or 1).
pub const A_FLOW_ENDED: u16 = 43;
/// Flow table capacity of the namespace (`NLA_U32`, in `CMD_STATS_GET` replies; 0 before the first
/// service is added, when the table is allocated).
pub const A_TABLE_CAPACITY: u16 = 44;
/// High-availability role of the namespace's dispatcher (`NLA_U8`: `HA_STANDALONE`, `HA_ACTIVE`,
/// `HA_BACKUP`).
pub const A_HA_ROLE: u16 = 45;
/// A replication sequence number (`NLA_U64`): in `CMD_REPL_GET`, the first record wanted; in its
/// reply, the sequence number of the first record returned.
pub const A_REPL_SEQ: u16 = 46;
/// The sequence number the next replication record will get (`NLA_U64`, read-only).
pub const A_REPL_HEAD: u16 = 47;
/// A record run (`NLA_BINARY`, at most `REPL_RUN_MAX` bytes): `msg::repl` records back to back.
pub const A_REPL_RECORDS: u16 = 48;
/// In a `CMD_REPL_GET` reply: records before `A_REPL_SEQ` were overwritten before they were read
/// (`NLA_U8` 1): the backup must be resynchronised from a flow dump (read-only).
pub const A_REPL_LOST: u16 = 49;
/// Records the replication ring holds (`NLA_U32`, read-only).
pub const A_REPL_CAPACITY: u16 = 50;
/// Records installed by a `CMD_REPL_APPLY` (`NLA_U32`, read-only).
pub const A_REPL_APPLIED: u16 = 51;
/// Records a `CMD_REPL_APPLY` could not install (`NLA_U32`, read-only).
pub const A_REPL_FAILED: u16 = 52;
/// In `CMD_REPL_APPLY`: first remove every flow of the table (a resynchronisation begins) (`NLA_FLAG`).
pub const A_HA_FLUSH: u16 = 53;
/// In `CMD_REPL_GET` and its reply: a cursor over the Call-ID index (`NLA_U64`; see `CMD_REPL_GET`).
pub const A_REPL_CALLS: u16 = 54;
/// In `CMD_REPL_APPLY`: adopt the records only where the table has nothing (`NLA_FLAG`; active role,
/// not with `A_HA_FLUSH`).
pub const A_REPL_ADOPT: u16 = 55;
/// Records a `CMD_REPL_APPLY` with `A_REPL_ADOPT` left as this dispatcher has them (`NLA_U32`,
/// read-only).
pub const A_REPL_SKIPPED: u16 = 56;
/// Highest attribute number in use.
pub const A_MAX: u16 = 56;

// ---- values ---------------------------------------------------------------------------------
/// No signalling inspection: every flow is its own session.
pub const SIG_NONE: u8 = 0;
/// RTSP (RFC 2326) signalling.
pub const SIG_RTSP: u8 = 1;
/// SIP (RFC 3261) with SDP (RFC 4566).
pub const SIG_SIP: u8 = 2;
/// FTP passive mode (RFC 959, RFC 2428).
pub const SIG_FTP: u8 = 3;
/// Highest signalling protocol value.
pub const SIG_MAX: u8 = 3;

/// Hash of the flow's 5-tuple over the available servers (walking skeleton default).
pub const POLICY_HASH: u8 = 0;
/// Forecast least loaded ("shell").
pub const POLICY_FORECAST: u8 = 1;
/// Round robin.
pub const POLICY_RR: u8 = 2;
/// Random.
pub const POLICY_RANDOM: u8 = 3;
/// Least sessions.
pub const POLICY_LEAST_SESSIONS: u8 = 4;
/// Weighted round robin.
pub const POLICY_WRR: u8 = 5;
/// Highest policy value.
pub const POLICY_MAX: u8 = 5;

/// Server accepts new sessions.
pub const STATE_UP: u8 = 0;
/// Server is down: no new sessions; established flows per the service's down action.
pub const STATE_DOWN: u8 = 1;
/// Server is draining (planned failure): no new sessions, established flows kept.
pub const STATE_DRAINING: u8 = 2;

/// Re-dispatch a down server's established flows to another server at once (default).
pub const DOWN_REDISPATCH: u8 = 0;
/// Keep a down server's established flows on it.
pub const DOWN_KEEP: u8 = 1;

/// Flow status New (`A_FLOW_STATUS`).
pub const FLOW_STATUS_NEW: u8 = 0;
/// Flow status Established.
pub const FLOW_STATUS_ESTABLISHED: u8 = 1;
/// Flow status Inactive.
pub const FLOW_STATUS_INACTIVE: u8 = 2;

/// Flow identity Signalling (`A_FLOW_IDENTITY`).
pub const FLOW_IDENTITY_SIGNALLING: u8 = 0;
/// Flow identity Announced.
pub const FLOW_IDENTITY_ANNOUNCED: u8 = 1;
/// Flow identity Secondary.
pub const FLOW_IDENTITY_SECONDARY: u8 = 2;

/// No unknown port (`A_FLOW_WILDCARD`).
pub const WILDCARD_EXACT: u8 = 0;
/// Source port unknown (bit 0, as `flow::Wildcard::bits`).
pub const WILDCARD_SRC_PORT: u8 = 1;
/// Destination port unknown (bit 1).
pub const WILDCARD_DST_PORT: u8 = 2;
/// Both ports unknown.
pub const WILDCARD_BOTH_PORTS: u8 = 3;

/// No high availability (`A_HA_ROLE`): forwards, replicates nothing.
pub const HA_STANDALONE: u8 = 0;
/// Active dispatcher: forwards and queues replication records.
pub const HA_ACTIVE: u8 = 1;
/// Backup dispatcher: forwards nothing, takes replicated records.
pub const HA_BACKUP: u8 = 2;

/// Largest `A_REPL_RECORDS` payload (a record run, see `msg::repl::encode_record`) in one request
/// or reply.
pub const REPL_RUN_MAX: u32 = 16384;

/// Default idle timeout of a service's flows, in seconds.
pub const DEFAULT_TIMEOUT_S: u32 = 30;
/// Largest accepted idle timeout, in seconds.
pub const MAX_TIMEOUT_S: u32 = 86400;
/// Interface name length limit without the NUL (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Name of a signalling protocol value, for people.
pub fn sigproto_name(v: u8) -> &'static str {
    match v {
        SIG_NONE => "none",
        SIG_RTSP => "rtsp",
        SIG_SIP => "sip",
        SIG_FTP => "ftp",
        _ => "?",
    }
}

/// Name of a policy value, for people.
pub fn policy_name(v: u8) -> &'static str {
    match v {
        POLICY_HASH => "hash",
        POLICY_FORECAST => "forecast",
        POLICY_RR => "rr",
        POLICY_RANDOM => "random",
        POLICY_LEAST_SESSIONS => "least-sessions",
        POLICY_WRR => "wrr",
        _ => "?",
    }
}

/// Name of a high-availability role value, for people.
pub fn ha_role_name(v: u8) -> &'static str {
    match v {
        HA_STANDALONE => "standalone",
        HA_ACTIVE => "active",
        HA_BACKUP => "backup",
        _ => "?",
    }
}

/// Name of a server state value, for people.
pub fn state_name(v: u8) -> &'static str {
    match v {
        STATE_UP => "up",
        STATE_DOWN => "down",
        STATE_DRAINING => "draining",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for v in 0..=POLICY_MAX {
            assert_ne!(policy_name(v), "?");
        }
        for v in 0..=SIG_MAX {
            assert_ne!(sigproto_name(v), "?");
        }
        assert_eq!(policy_name(POLICY_MAX + 1), "?");
    }

    #[test]
    fn attribute_numbers_are_dense_and_below_max() {
        let all = [
            A_VIP,
            A_PORT,
            A_PROTO,
            A_SIGPROTO,
            A_POLICY,
            A_TIMEOUT,
            A_SERVER_ID,
            A_SERVER_IP,
            A_SERVER_MAC,
            A_IFNAME,
            A_IFINDEX,
            A_WEIGHT,
            A_SERVICE,
            A_SERVER,
            A_STATS,
            A_PAD,
            A_STATE,
            A_DOWN_ACTION,
            A_PACKETS,
            A_FORECAST,
            A_LOAD,
            A_LOAD_DISPATCHER,
            A_LOAD_CLUSTER,
            A_T1,
            A_T2,
            A_T3,
            A_TC,
            A_SESSIONS,
            A_INCREMENT,
            A_LOAD_KNOWN,
            A_FLOW,
            A_FLOW_SRC,
            A_FLOW_SPORT,
            A_FLOW_DST,
            A_FLOW_DPORT,
            A_SESSION_ID,
            A_FLOW_STATUS,
            A_FLOW_IDENTITY,
            A_FLOW_WILDCARD,
            A_FLOW_IDLE_MS,
            A_FLOW_TIMEOUT_MS,
            A_FLOW_BYTES,
            A_FLOW_ENDED,
            A_TABLE_CAPACITY,
            A_HA_ROLE,
            A_REPL_SEQ,
            A_REPL_HEAD,
            A_REPL_RECORDS,
            A_REPL_LOST,
            A_REPL_CAPACITY,
            A_REPL_APPLIED,
            A_REPL_FAILED,
            A_HA_FLUSH,
            A_REPL_CALLS,
            A_REPL_ADOPT,
            A_REPL_SKIPPED,
        ];
        for (i, a) in all.iter().enumerate() {
            assert_eq!(usize::from(*a), i + 1);
        }
        assert_eq!(A_MAX as usize, all.len());
    }
}
