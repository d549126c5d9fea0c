//! A SIP trunk over the flow table and the Call-ID index (`sara_core::calls::Calls`), against a
//! model, over random sequences of INVITEs (new calls and retransmissions), ACKs, BYEs, RTP packets
//! of the calls, purge and sweep steps, on tables small enough to fill: each datagram goes through
//! the same steps as `sara.ko`'s hook (parse, find, classify, open/announce/end).
//!
//! Checked on every step: a live call's messages and media reach the server its call was opened on;
//! no two live calls share a session; a BYE ends only its own call (the other calls' media keep
//! their servers); a refused call leaves no record; both structures' invariants hold. Time moves in
//! small steps so nothing expires (expiry is the unit tests' business).

mod support;

use proptest::prelude::*;
use sara_core::calls::{client_v4, CallKey, Dispatch};
use sara_core::table::ignore;
use std::collections::HashMap;
use support::{invite, request, Node, CLIENT};

const CALLS: usize = 12;

#[derive(Debug, Clone, Copy)]
enum Op {
    Invite(usize, u16),
    Ack(usize),
    Bye(usize),
    Rtp(usize),
    Purge,
    Wait(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..CALLS, 1u16..=3).prop_map(|(c, s)| Op::Invite(c, s)),
        2 => (0..CALLS).prop_map(Op::Ack),
        2 => (0..CALLS).prop_map(Op::Bye),
        4 => (0..CALLS).prop_map(Op::Rtp),
        1 => Just(Op::Purge),
        1 => (0u32..200).prop_map(Op::Wait),
    ]
}

fn call_id(c: usize) -> String {
    format!("{c}-trunk@10.0.1.2")
}

/// Each call's generation has its own media port, so a call opened again announces a new flow.
fn media_port(c: usize, generation: u32) -> u16 {
    20_000 + (c as u16) * 64 + (generation % 16) as u16 * 2
}

/// The model's view of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    None,
    Live { server: u16, port: u16 },
    Ended { server: u16 },
}

struct World {
    node: Node,
    now: u32,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn a_trunk_behaves_as_its_model(
        shards in 1usize..=3,
        flows_per in 6usize..40,
        calls_per in 1usize..8,
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let mut w = World { node: Node::new(shards, flows_per, calls_per), now: 1 };
        let mut model = [Call::None; CALLS];
        let mut generation = [0u32; CALLS];
        let mut ended_at: HashMap<usize, u32> = HashMap::new();
        for op in ops {
            w.now += 1;
            match op {
                Op::Invite(c, pick) => {
                    let port = match model[c] { Call::Live { port, .. } => port, _ => media_port(c, generation[c]) };
                    let before = w.node.t().len();
                    let did = w.node.datagram(&invite(&call_id(c), port), w.now, pick);
                    let (to, d) = (did.server(), did.dispatch());
                    match model[c] {
                        Call::Live { server, .. } => prop_assert_eq!(to, Some(server), "retransmitted INVITE of call {}", c),
                        Call::Ended { server } if d != Dispatch::NewCall => prop_assert_eq!(to, Some(server)),
                        _ => {
                            prop_assert_eq!(d, Dispatch::NewCall);
                            match to {
                                Some(s) => {
                                    prop_assert_eq!(s, pick);
                                    model[c] = Call::Live { server: s, port };
                                    generation[c] += 1;
                                }
                                // A refused call leaves no session record behind (its media may
                                // have been announced only after the open succeeded).
                                None => prop_assert!(w.node.t().len() <= before, "refused call left a record"),
                            }
                        }
                    }
                }
                Op::Ack(c) => {
                    let did = w.node.datagram(&request("ACK", &call_id(c)), w.now, 9);
                    let (to, d) = (did.server(), did.dispatch());
                    match model[c] {
                        Call::Live { server, .. } => prop_assert_eq!(to, Some(server)),
                        Call::Ended { server } => prop_assert!(to == Some(server) || d == Dispatch::UnknownCall),
                        Call::None => prop_assert_eq!(d, Dispatch::UnknownCall),
                    }
                }
                Op::Bye(c) => {
                    let did = w.node.datagram(&request("BYE", &call_id(c)), w.now, 9);
                    let (to, d) = (did.server(), did.dispatch());
                    match model[c] {
                        Call::Live { server, .. } => {
                            prop_assert_eq!(to, Some(server));
                            prop_assert_eq!(d, Dispatch::Call { end: true });
                            model[c] = Call::Ended { server };
                            ended_at.insert(c, w.now);
                        }
                        Call::Ended { server } => prop_assert!(to == Some(server) || d == Dispatch::UnknownCall),
                        Call::None => prop_assert_eq!(d, Dispatch::UnknownCall),
                    }
                }
                Op::Rtp(c) => {
                    if let Call::Live { server, port } = model[c] {
                        // The media flow may not have fit in a full table; when stored, it is the call's.
                        if let Some(s) = w.node.media(port, w.now) {
                            prop_assert_eq!(s, server, "media of call {} on another server", c);
                        }
                    } else if let Call::Ended { .. } = model[c] {
                        let port = media_port(c, generation[c].wrapping_sub(1));
                        prop_assert_eq!(w.node.media(port, w.now), None, "media of ended call {} still forwarded", c);
                    }
                }
                Op::Purge => {
                    w.node.t().purge_step(w.now, 64, &mut ignore);
                    w.node.c().purge_step(w.now, 64);
                    w.node.c().sweep_step(&w.node.t(), 64, false);
                }
                Op::Wait(ms) => w.now += ms,
            }
            // Live calls never share a session.
            let t = w.node.t();
            let c = w.node.c();
            let mut seen = HashMap::new();
            for (i, m) in model.iter().enumerate() {
                if let Call::Live { .. } = m {
                    let id = call_id(i);
                    let key = CallKey::new(client_v4(CLIENT), id.as_bytes()).unwrap();
                    let h = c.hash(&key);
                    if let Some(e) = c.entry(&key, h, w.now) {
                        prop_assert!(seen.insert(e.value, i).is_none(), "two live calls share {:?}", e.value);
                        prop_assert!(t.session_record(e.value).is_some());
                    } else {
                        prop_assert!(false, "live call {} not indexed", i);
                    }
                }
            }
            w.node.check();
        }
    }
}
