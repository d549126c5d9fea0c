//! The namespace's counters: `CMD_STATS_GET`.
//!
//! ```text
//! request: no attribute
//! reply:   A_STATS nest: one attribute per counter, type = counter id + 1, a u64 value
//!                        (type 0 inside the nest is alignment padding)
//!          A_TABLE_CAPACITY u32 (top level; the table_capacity gauge when the nest lacks it)
//! ```

use sara_core::{counters, genl};

use super::attr::Attr;
use super::msg::{attr_lists, Request};
use super::Client;
use crate::error::Error;

/// One counter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Counter id (index in `sara_core::counters::COUNTERS`; may be newer than this sarectl).
    pub id: usize,
    /// Value.
    pub value: u64,
}

/// The namespace's counters, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// Counters present in the reply, sorted by id.
    pub counters: Vec<Counter>,
}

/// The `A_STATS` nest of a `CMD_STATS_GET` reply: attribute type = counter id + 1, a 64-bit value.
///
/// Inside that nest, type 0 is alignment padding (`nla_put_u64_64bit` with pad type 0) and is
/// skipped, as is any empty attribute.
fn decode_stats(replies: &[Vec<Attr>]) -> Result<Stats, Error> {
    let nest = replies
        .iter()
        .flatten()
        .find(|a| a.ty == genl::A_STATS)
        .ok_or_else(|| Error::Protocol("the stats reply has no A_STATS nest".into()))?;
    let mut counters = Vec::new();
    for a in nest
        .nested()?
        .iter()
        .filter(|a| a.ty != 0 && !a.payload.is_empty())
    {
        counters.push(Counter {
            id: usize::from(a.ty - 1),
            value: a.get_u64()?,
        });
    }
    // The table's capacity may also come as a top-level A_TABLE_CAPACITY: shown as the
    // table_capacity gauge when the nest does not carry that gauge itself.
    let capacity = replies
        .iter()
        .flatten()
        .find(|a| a.ty == genl::A_TABLE_CAPACITY);
    if let Some(a) = capacity {
        if !counters.iter().any(|c| c.id == counters::GAUGE_CAPACITY) {
            counters.push(Counter {
                id: counters::GAUGE_CAPACITY,
                value: u64::from(a.get_u32()?),
            });
        }
    }
    counters.sort_by_key(|c| c.id);
    Ok(Stats { counters })
}

impl Client {
    /// `CMD_STATS_GET`.
    pub fn stats(&mut self) -> Result<Stats, Error> {
        let replies = self.call(&Request {
            cmd: genl::CMD_STATS_GET,
            attrs: vec![],
        })?;
        decode_stats(&attr_lists(replies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::attr::encode_attrs;
    use crate::kernel::msg::{decode_datagram, Body};
    use crate::kernel::test_util::*;

    #[test]
    fn stats_reply_with_padding_and_unknown_counter() {
        let stats = nest(
            genl::A_STATS,
            &[
                nla(
                    sara_core::counters::PKT_FORWARDED as u16 + 1,
                    &5u64.to_ne_bytes(),
                ),
                nla(0, &[]), // alignment padding: type 0 inside A_STATS
                nla(
                    sara_core::counters::PKT_SEEN as u16 + 1,
                    &9u64.to_ne_bytes(),
                ),
                nla(100, &1u64.to_ne_bytes()),
            ],
        );
        let dgram = nlmsg(30, 0, 1, &genlmsg(genl::CMD_STATS_GET, &[stats]));
        let msgs = decode_datagram(&dgram).unwrap();
        let Body::Genl { attrs, .. } = &msgs[0].body else {
            panic!()
        };
        let s = decode_stats(std::slice::from_ref(attrs)).unwrap();
        let got: Vec<(usize, u64)> = s.counters.iter().map(|c| (c.id, c.value)).collect();
        assert_eq!(
            got,
            vec![
                (sara_core::counters::PKT_SEEN, 9),
                (sara_core::counters::PKT_FORWARDED, 5),
                (99, 1) // newer than this sarectl: kept, by id
            ]
        );
        assert!(decode_stats(&[vec![]]).is_err());
    }

    #[test]
    fn stats_reply_with_new_counters_and_table_capacity() {
        use sara_core::counters::*;
        let stats = nest(
            genl::A_STATS,
            &[
                nla(ANNOUNCE_COMPLETED as u16 + 1, &2u64.to_ne_bytes()),
                nla(GAUGE_FLOWS as u16 + 1, &3u64.to_ne_bytes()),
            ],
        );
        let reply = genlmsg(
            genl::CMD_STATS_GET,
            &[stats, nla(genl::A_TABLE_CAPACITY, &4096u32.to_ne_bytes())],
        );
        let msgs = decode_datagram(&nlmsg(30, 0, 1, &reply)).unwrap();
        let Body::Genl { attrs, .. } = &msgs[0].body else {
            panic!()
        };
        let s = decode_stats(std::slice::from_ref(attrs)).unwrap();
        let got: Vec<(usize, u64)> = s.counters.iter().map(|c| (c.id, c.value)).collect();
        assert_eq!(
            got,
            vec![
                (ANNOUNCE_COMPLETED, 2),
                (GAUGE_FLOWS, 3),
                (GAUGE_CAPACITY, 4096)
            ]
        );
        use crate::output::Output;
        let j: serde_json::Value = serde_json::from_str(&s.json()).unwrap();
        assert_eq!(
            j.to_string(),
            r#"{"announce_completed":2,"flows":3,"table_capacity":4096}"#
        );
        let t = crate::output::stats_table(&s);
        assert!(
            t.contains("table_capacity       4096  flows the table can hold"),
            "{t}"
        );
    }
    #[test]
    fn the_nest_s_own_capacity_gauge_wins() {
        use sara_core::counters::GAUGE_CAPACITY;
        let replies = vec![vec![
            Attr::u32(genl::A_TABLE_CAPACITY, 10),
            // As decoded from the wire: the type without NLA_F_NESTED.
            Attr::bytes(
                genl::A_STATS,
                encode_attrs(&[Attr::bytes(GAUGE_CAPACITY as u16 + 1, 20u64.to_ne_bytes())]),
            ),
        ]];
        let s = decode_stats(&replies).unwrap();
        assert_eq!(
            s.counters,
            vec![Counter {
                id: GAUGE_CAPACITY,
                value: 20
            }]
        );
    }
}
