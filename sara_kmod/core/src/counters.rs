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
    DROP_FRAGMENT = 7, "dropped_fragment", "non-first IPv4 fragments for a virtual IP with no known flow";
    DROP_ADMISSION_NEW = 8, "dropped_admission_new", "packets refused by admission control: new session";
    DROP_ADMISSION_EST = 9, "dropped_admission_established", "packets refused by admission control: established session";
    DROP_TABLE_FULL = 10, "dropped_table_full", "new sessions refused because the flow table was full";
    DROP_NOMEM = 11, "dropped_nomem", "packets dropped because a buffer could not be made writable";
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
    }
}
