//! A SIP trunk over the flow table and the Call-ID index (`sara_core::calls::Calls`), against a
//! model, over random sequences of INVITEs (new calls and retransmissions), ACKs, BYEs, RTP packets
//! of the calls, purge and sweep steps, on tables small enough to fill: each datagram goes through
//! the same steps as `sara.ko`'s hook (parse, find, classify, open/announce/end).
//!
//! Checked on every step: a live call's messages and media reach the server its call was opened on;
//! no two live calls share a session; a BYE ends only its own call (the other calls' media keep
//! their servers); a refused call leaves no record; both structures' invariants hold. Time moves in
//! small steps so nothing expires (expiry is the unit tests' business).

use proptest::prelude::*;
use sara_core::calls::{
    classify, client_v4, CallIndex, CallKey, CallSlot, Calls, Dispatch, Found, OpenCallError,
};
use sara_core::dpi::{sip, Direction};
use sara_core::flow::{FlowHasher, FlowKey, PROTO_UDP};
use sara_core::table::{ignore, Classified, PacketOpts, SessionRef, Shard, Slot, Table};
use std::cell::RefCell;
use std::collections::HashMap;

const H: FlowHasher = FlowHasher::from_words(0x7777_0000_0000_0001, 0x7777_0000_0000_0002);
const VIP: [u8; 4] = [192, 0, 2, 10];
const CLIENT: [u8; 4] = [10, 0, 1, 2];
const T: u32 = 60_000;
const LINGER: u32 = 5_000;
const CALLS: usize = 12;

type Ix = CallIndex<Vec<CallSlot<SessionRef>>, SessionRef>;

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

fn socket() -> FlowKey {
    FlowKey::new(CLIENT, 5060, VIP, 5060, PROTO_UDP)
}

fn call_id(c: usize) -> String {
    format!("{c}-trunk@10.0.1.2")
}

/// Each call's generation has its own media port, so a call opened again announces a new flow.
fn media_port(c: usize, generation: u32) -> u16 {
    20_000 + (c as u16) * 64 + (generation % 16) as u16 * 2
}

fn invite(c: usize, port: u16) -> String {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.1.2\r\ns=-\r\nc=IN IP4 10.0.1.2\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
    );
    format!(
        "INVITE sip:s@192.0.2.10 SIP/2.0\r\nCall-ID: {}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        call_id(c),
        sdp.len()
    )
}

fn request(method: &str, c: usize) -> String {
    format!(
        "{method} sip:s@192.0.2.10 SIP/2.0\r\nCall-ID: {}\r\nCSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n",
        call_id(c)
    )
}

/// The model's view of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    None,
    Live { server: u16, port: u16 },
    Ended { server: u16 },
}

struct World {
    flows: Vec<RefCell<Shard<Vec<Slot>>>>,
    calls: Vec<RefCell<Ix>>,
    now: u32,
    next_id: u32,
}

impl World {
    fn t(&self) -> Table<'_, [RefCell<Shard<Vec<Slot>>>]> {
        Table::new(&self.flows[..], H)
    }
    fn c(&self) -> Calls<'_, [RefCell<Ix>]> {
        Calls::new(&self.calls[..], H)
    }
}

/// What the hook did with a datagram: the server, or None (dropped: a refused new call).
fn datagram(w: &mut World, payload: &str, pick: u16) -> (Option<u16>, Dispatch) {
    let msg = sip::parse(payload.as_bytes()).unwrap();
    let key = CallKey::of_message(client_v4(CLIENT), &msg).unwrap();
    w.next_id += 1;
    let session_id = w.next_id;
    let w: &World = w;
    let (t, c) = (w.t(), w.c());
    let h = c.hash(&key);
    let found = c.find(&t, &key, h, w.now, 100, &mut ignore);
    let d = classify(&msg, found != Found::No);
    let to = match (d, found) {
        (Dispatch::NewCall, _) => {
            match c.open(
                &t,
                &socket(),
                &key,
                h,
                session_id,
                pick,
                T,
                w.now,
                100,
                &mut ignore,
            ) {
                Ok(o) => {
                    for f in msg.announce(Direction::FromClient).unwrap().flows() {
                        let (k, wild) = f.key(&socket());
                        let _ = t.announce(&k, wild, o.session, T, w.now, &mut ignore);
                    }
                    Some(pick)
                }
                Err(OpenCallError::TableFull | OpenCallError::IndexFull) => None,
                Err(OpenCallError::Raced) => unreachable!("one CPU"),
            }
        }
        (Dispatch::Call { end }, Found::Live { session, server }) => {
            if let Ok(a) = msg.announce(Direction::FromClient) {
                for f in a.flows() {
                    let (k, wild) = f.key(&socket());
                    let _ = t.announce(&k, wild, session, T, w.now, &mut ignore);
                }
                if a.session_end {
                    t.end_session(session, w.now, LINGER, &mut ignore);
                }
            }
            if end {
                c.end(&key, h, w.now, LINGER);
            }
            Some(server)
        }
        (Dispatch::Call { .. }, Found::Ended { server, .. }) => Some(server),
        _ => Some(0), // hashed: server 0 stands for "by the stable hash"
    };
    (to, d)
}

fn rtp(w: &World, port: u16) -> Option<u16> {
    let k = FlowKey::new(CLIENT, port, VIP, 6000, PROTO_UDP);
    match w
        .t()
        .packet(&k, w.now, 100, PacketOpts::default(), &mut ignore)
    {
        Classified::Known(f) => Some(f.server),
        Classified::Unknown => None,
    }
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
        let mut w = World {
            flows: (0..shards).map(|i| RefCell::new(Shard::new(vec![Slot::EMPTY; flows_per], i).unwrap())).collect(),
            calls: (0..shards).map(|i| RefCell::new(CallIndex::new(vec![CallSlot::vacant(); calls_per], i).unwrap())).collect(),
            now: 1,
            next_id: 0,
        };
        let mut model = [Call::None; CALLS];
        let mut generation = [0u32; CALLS];
        let mut ended_at: HashMap<usize, u32> = HashMap::new();
        for op in ops {
            w.now += 1;
            match op {
                Op::Invite(c, pick) => {
                    let port = match model[c] { Call::Live { port, .. } => port, _ => media_port(c, generation[c]) };
                    let before = w.t().len();
                    let (to, d) = datagram(&mut w, &invite(c, port), pick);
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
                                None => prop_assert!(w.t().len() <= before, "refused call left a record"),
                            }
                        }
                    }
                }
                Op::Ack(c) => {
                    let (to, d) = datagram(&mut w, &request("ACK", c), 9);
                    match model[c] {
                        Call::Live { server, .. } => prop_assert_eq!(to, Some(server)),
                        Call::Ended { server } => prop_assert!(to == Some(server) || d == Dispatch::UnknownCall),
                        Call::None => prop_assert_eq!(d, Dispatch::UnknownCall),
                    }
                }
                Op::Bye(c) => {
                    let (to, d) = datagram(&mut w, &request("BYE", c), 9);
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
                        if let Some(s) = rtp(&w, port) {
                            prop_assert_eq!(s, server, "media of call {} on another server", c);
                        }
                    } else if let Call::Ended { .. } = model[c] {
                        let port = media_port(c, generation[c].wrapping_sub(1));
                        prop_assert_eq!(rtp(&w, port), None, "media of ended call {} still forwarded", c);
                    }
                }
                Op::Purge => {
                    w.t().purge_step(w.now, 64, &mut ignore);
                    w.c().purge_step(w.now, 64);
                    w.c().sweep_step(&w.t(), 64, false);
                }
                Op::Wait(ms) => w.now += ms,
            }
            // Live calls never share a session.
            let t = w.t();
            let c = w.c();
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
            for s in &w.flows { s.borrow().check_invariants().map_err(TestCaseError::fail)?; }
            for s in &w.calls { s.borrow().check_invariants().map_err(TestCaseError::fail)?; }
        }
    }
}
