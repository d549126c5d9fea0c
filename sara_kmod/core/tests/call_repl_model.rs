//! Failover of a SIP trunk's Call-ID bindings (issue #14, decisions.md "Failover keeps every call of
//! a trunk"), over random trunks: random Call-IDs (1..=256 arbitrary bytes, several clients), calls
//! opened on an active dispatcher's table and index, some ended; the active's view replicated as
//! `sara.ko` and `sarectl ha` do it — each live call's session record and its `Call` record, both
//! through the wire encoding — onto a backup whose flow table has ANOTHER secret and whose Call-ID
//! index has the active's key (its `CallKey` record).
//!
//! Checked: every record round-trips; on the backup, every live call's message finds its own
//! session (same id, same server) by its Call-ID; an ended call finds none; the backup's index holds
//! exactly the live calls; both structures' invariants hold.

mod support;

use proptest::prelude::*;
use sara_core::calls::{client_v4, CallKey, Found};
use sara_core::flow::FlowHasher;
use sara_core::msg::repl::{CallRecord, Record};
use sara_core::table::{ignore, Walk};
use std::collections::HashSet;
use support::{socket, through_wire, Node, T};

const ACTIVE_TABLE: FlowHasher =
    FlowHasher::from_words(0x0a0a_0000_0000_0001, 0x0a0a_0000_0000_0002);
const BACKUP_TABLE: FlowHasher =
    FlowHasher::from_words(0x0b0b_0000_0000_0001, 0x0b0b_0000_0000_0002);

fn client(i: u8) -> [u8; 4] {
    [10, 0, 1, 2 + i % 3]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_live_call_of_a_trunk_finds_its_session_on_the_backup(
        calls in prop::collection::vec(
            (any::<u8>(), prop::collection::vec(any::<u8>(), 1..=256), 1u16..=3, any::<bool>()),
            1..40,
        )
    ) {
        let active = Node::keyed(ACTIVE_TABLE, 4, 256, 64);
        let (t, c) = (active.t(), active.c());
        // Opened on the active: (client, Call-ID, session, server, still live).
        let mut opened = Vec::new();
        let mut seen = HashSet::new();
        for (i, (cl, id, server, ends)) in calls.iter().enumerate() {
            if !seen.insert((client(*cl), id.clone())) {
                continue; // the same call again: a retransmission, not a new call
            }
            let key = CallKey::new(client_v4(client(*cl)), id).unwrap();
            let h = c.hash(&key);
            let sid = i as u32 + 1;
            let Ok(o) = c.open(&t, &socket(client(*cl)), &key, h, sid, *server, T, 0, 100, &mut ignore) else {
                continue; // full: refused, nothing left behind
            };
            if *ends {
                t.end_session(o.session, 1, 5_000, &mut ignore);
                c.end(&key, h, 1, 5_000);
            }
            opened.push((*cl, id.clone(), o.session.id, *server, !*ends));
        }
        // Replication of the live calls: the session's record, then the call's.
        let mut recs = Vec::new();
        let mut cursor = 0u64;
        while c.dump(&mut cursor, 5, |e| {
            if let Some(f) = t.session_record(e.value).filter(|f| !f.ended) {
                let m = e.mark();
                let Record::Call(rec) = through_wire(Record::Call(CallRecord::of(e.value.id, &m))) else {
                    unreachable!()
                };
                assert_eq!(rec.mark(e.client), m);
                recs.push((f.key, f.session.id, f.server, rec));
            }
            true
        }) == Walk::More {}
        let backup = Node::keyed(BACKUP_TABLE, 4, 256, 64);
        let (bt, bc) = (backup.t(), backup.c());
        for (key, id, server, rec) in &recs {
            let r = bt.open_session(key, *id, *server, T, 10, 0, &mut ignore).unwrap();
            bc.bind_replicated(&bt, r, rec, 10).unwrap();
        }
        let live = opened.iter().filter(|o| o.4).count();
        prop_assert_eq!(recs.len(), live);
        prop_assert_eq!(bc.fill().0, live);
        for (cl, id, sid, server, is_live) in &opened {
            let key = CallKey::new(client_v4(client(*cl)), id).unwrap();
            let found = bc.find(&bt, &key, bc.hash(&key), 20, 100, &mut ignore);
            if *is_live {
                match found {
                    Found::Live { session, server: s } => {
                        prop_assert_eq!(session.id, *sid);
                        prop_assert_eq!(s, *server);
                    }
                    other => prop_assert!(false, "live call {:?} of {}: {:?}", id, cl, other),
                }
            } else {
                prop_assert_eq!(found, Found::No);
            }
        }
        active.check();
        backup.check();
    }
}
