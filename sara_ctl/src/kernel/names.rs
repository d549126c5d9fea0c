//! The names of `sara`'s attribute numbers (`sara_core::genl::A_*`), for messages: a refusal names
//! the attribute the kernel objected to, `debug send-raw` takes and shows names. A leaf: the words of
//! [`crate::error`] use it.

use sara_core::genl;

/// Name of a SARA attribute number (from `sara_core::genl`), for messages.
pub fn attr_name(t: u16) -> Option<&'static str> {
    Some(match t {
        genl::A_VIP => "A_VIP",
        genl::A_PORT => "A_PORT",
        genl::A_PROTO => "A_PROTO",
        genl::A_SIGPROTO => "A_SIGPROTO",
        genl::A_POLICY => "A_POLICY",
        genl::A_TIMEOUT => "A_TIMEOUT",
        genl::A_SERVER_ID => "A_SERVER_ID",
        genl::A_SERVER_IP => "A_SERVER_IP",
        genl::A_SERVER_MAC => "A_SERVER_MAC",
        genl::A_IFNAME => "A_IFNAME",
        genl::A_IFINDEX => "A_IFINDEX",
        genl::A_WEIGHT => "A_WEIGHT",
        genl::A_SERVICE => "A_SERVICE",
        genl::A_SERVER => "A_SERVER",
        genl::A_STATS => "A_STATS",
        genl::A_PAD => "A_PAD",
        genl::A_STATE => "A_STATE",
        genl::A_DOWN_ACTION => "A_DOWN_ACTION",
        genl::A_PACKETS => "A_PACKETS",
        genl::A_FORECAST => "A_FORECAST",
        genl::A_LOAD => "A_LOAD",
        genl::A_LOAD_DISPATCHER => "A_LOAD_DISPATCHER",
        genl::A_LOAD_CLUSTER => "A_LOAD_CLUSTER",
        genl::A_T1 => "A_T1",
        genl::A_T2 => "A_T2",
        genl::A_T3 => "A_T3",
        genl::A_TC => "A_TC",
        genl::A_SESSIONS => "A_SESSIONS",
        genl::A_INCREMENT => "A_INCREMENT",
        genl::A_LOAD_KNOWN => "A_LOAD_KNOWN",
        genl::A_FLOW => "A_FLOW",
        genl::A_FLOW_SRC => "A_FLOW_SRC",
        genl::A_FLOW_SPORT => "A_FLOW_SPORT",
        genl::A_FLOW_DST => "A_FLOW_DST",
        genl::A_FLOW_DPORT => "A_FLOW_DPORT",
        genl::A_SESSION_ID => "A_SESSION_ID",
        genl::A_FLOW_STATUS => "A_FLOW_STATUS",
        genl::A_FLOW_IDENTITY => "A_FLOW_IDENTITY",
        genl::A_FLOW_WILDCARD => "A_FLOW_WILDCARD",
        genl::A_FLOW_IDLE_MS => "A_FLOW_IDLE_MS",
        genl::A_FLOW_TIMEOUT_MS => "A_FLOW_TIMEOUT_MS",
        genl::A_FLOW_BYTES => "A_FLOW_BYTES",
        genl::A_FLOW_ENDED => "A_FLOW_ENDED",
        genl::A_TABLE_CAPACITY => "A_TABLE_CAPACITY",
        genl::A_HA_ROLE => "A_HA_ROLE",
        genl::A_REPL_SEQ => "A_REPL_SEQ",
        genl::A_REPL_HEAD => "A_REPL_HEAD",
        genl::A_REPL_RECORDS => "A_REPL_RECORDS",
        genl::A_REPL_LOST => "A_REPL_LOST",
        genl::A_REPL_CAPACITY => "A_REPL_CAPACITY",
        genl::A_REPL_APPLIED => "A_REPL_APPLIED",
        genl::A_REPL_FAILED => "A_REPL_FAILED",
        genl::A_HA_FLUSH => "A_HA_FLUSH",
        genl::A_REPL_CALLS => "A_REPL_CALLS",
        genl::A_REPL_ADOPT => "A_REPL_ADOPT",
        genl::A_REPL_SKIPPED => "A_REPL_SKIPPED",
        _ => return None,
    })
}

/// `A_SERVER_MAC (9)`, or `9` for a number this sarectl has no name for.
pub fn attr_label(t: u16) -> String {
    match attr_name(t) {
        Some(n) => format!("{n} ({t})"),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_labels() {
        assert_eq!(attr_label(genl::A_SERVER_MAC), "A_SERVER_MAC (9)");
        assert_eq!(attr_label(999), "999");
        for t in 1..=genl::A_MAX {
            assert!(attr_name(t).is_some(), "attribute {t} has no name");
        }
    }
}
