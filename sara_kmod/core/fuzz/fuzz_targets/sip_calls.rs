//! Per-call dispatch of SIP datagrams (`calls`: the Call-ID index, `classify`, the calls as sessions
//! of the flow table) on arbitrary bytes, through the hook's steps (`tests/support`'s
//! `Node::datagram_from`, included below), on tables small enough to fill.
//!
//! The input is datagrams separated by NUL bytes; each starts with a control byte: which of four
//! clients sends it, the server a new call goes to, how far time moves, or (instead of a datagram)
//! a purge and sweep step. Checked: nothing panics; every datagram sent again at once reaches the
//! same server (a retransmission follows its original; a new call's INVITE again finds its call, a
//! BYE's finds the ended call); the structures' invariants hold; a dump hands out every entry
//! once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::table::{ignore, Walk};

#[path = "../../tests/support/mod.rs"]
mod support;
use support::{Did, Node};

fuzz_target!(|data: &[u8]| {
    let node = Node::new(2, 16, 4);
    let mut now: u32 = 1;
    for chunk in data.split(|&b| b == 0) {
        let Some((&ctl, payload)) = chunk.split_first() else {
            continue;
        };
        let client = [10, 0, 1, 2 + (ctl & 3)];
        let pick = 1 + u16::from((ctl >> 2) & 3);
        now = now.wrapping_add(u32::from(ctl >> 5) * 1500);
        if ctl >> 4 == 0xf {
            node.t().purge_step(now, 8, &mut ignore);
            node.c().purge_step(now, 8);
            node.c().sweep_step(&node.t(), 8, ctl & 1 == 1);
            continue;
        }
        let first = node.datagram_from(client, payload, now, pick);
        let again = node.datagram_from(client, payload, now, pick);
        match first {
            Did::Opened(session, server, _) => {
                assert_eq!(server, pick);
                assert_eq!(again, Did::ToCall(session, server, false));
            }
            Did::ToCall(session, server, false) => {
                assert_eq!(again, Did::ToCall(session, server, false));
            }
            Did::ToCall(_, server, true) => assert_eq!(again, Did::ToEnded(server)),
            Did::ToEnded(server) => assert_eq!(again, Did::ToEnded(server)),
            Did::Hashed(d) => assert_eq!(again, Did::Hashed(d)),
            Did::Refused(_) => {}
        }
    }
    node.check();
    let c = node.c();
    let (len, cap, _) = c.fill();
    assert!(len <= cap);
    let mut seen = 0usize;
    let mut cursor = 0u64;
    while c.dump(&mut cursor, 3, |_| {
        seen += 1;
        true
    }) == Walk::More
    {}
    assert_eq!(seen, len);
});
