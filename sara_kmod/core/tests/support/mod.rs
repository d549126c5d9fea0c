//! The shared set-up of the SIP call tests (`calls_sessions.rs`, `call_repl_model.rs`,
//! `trunk_model.rs`) and of the `sip_calls` fuzz target (which includes this file by `#[path]`): a
//! dispatcher's flow table and Call-ID index on the host ([`Node`]), the SIP messages of a trunk,
//! and the hook's SIP-over-UDP steps ([`Node::datagram`], as `sara.ko`'s `Path::sip_dispatch`).
#![allow(dead_code)] // each test binary uses its own part

use sara_core::calls::{
    classify, client_v4, CallIndex, CallKey, CallSlot, Calls, Dispatch, Fallback, Found, Home,
    OpenCallError,
};
use sara_core::dpi::{sip, Direction};
use sara_core::flow::{FlowHasher, FlowKey, PROTO_UDP};
use sara_core::msg::repl::{encode_record, parse_records, Record};
use sara_core::table::{
    ignore, Classified, FlowInfo, Millis, PacketOpts, Removal, SessionRef, Shard, Slot, Table,
};
use std::cell::{Cell, RefCell};

/// The flow table's key of a [`Node`] made by [`Node::new`].
pub const TABLE_KEY: FlowHasher =
    FlowHasher::from_words(0x1111_2222_3333_4444, 0x5555_6666_7777_8888);
/// The Call-ID index's key of a [`Node`] made by [`Node::new`].
pub const CALL_KEY: FlowHasher =
    FlowHasher::from_words(0xca11_0000_0000_0001, 0xca11_0000_0000_0002);
/// The virtual IP of the SIP service (port 5060/udp).
pub const VIP: [u8; 4] = [192, 0, 2, 10];
/// The trunk's client (its socket is [`socket`]).
pub const CLIENT: [u8; 4] = [10, 0, 1, 2];
/// The service's session timeout, ms.
pub const T: u32 = 60_000;
/// How long an ended call lingers, ms (the kernel's `LINGER_MS`).
pub const LINGER: u32 = 5_000;
/// What every datagram weighs on its session record.
pub const BYTES: u32 = 100;

/// One shard of the Call-ID index as the tests hold it.
pub type Ix = CallIndex<Vec<CallSlot<SessionRef>>, SessionRef>;
/// The flow table's shards as the tests hold them.
pub type FlowShards = [RefCell<Shard<Vec<Slot>>>];

/// A dispatcher's state: its flow table and Call-ID index (each split in shards), their keys, the
/// next session id and the records the table reported removed.
pub struct Node {
    pub flows: Vec<RefCell<Shard<Vec<Slot>>>>,
    pub calls: Vec<RefCell<Ix>>,
    pub table_key: FlowHasher,
    pub calls_key: FlowHasher,
    next_id: Cell<u32>,
    pub removed: RefCell<Vec<FlowInfo>>,
}

impl Node {
    /// `shards` shards of `flows_per` flow slots and `calls_per` index slots, keys [`TABLE_KEY`] and
    /// [`CALL_KEY`].
    pub fn new(shards: usize, flows_per: usize, calls_per: usize) -> Node {
        Node {
            flows: (0..shards)
                .map(|i| RefCell::new(Shard::new(vec![Slot::EMPTY; flows_per], i).unwrap()))
                .collect(),
            calls: (0..shards)
                .map(|i| {
                    RefCell::new(CallIndex::new(vec![CallSlot::vacant(); calls_per], i).unwrap())
                })
                .collect(),
            table_key: TABLE_KEY,
            calls_key: CALL_KEY,
            next_id: Cell::new(0),
            removed: RefCell::new(Vec::new()),
        }
    }

    /// The same with the flow table hashing under `table_key` (another dispatcher's secret).
    pub fn keyed(table_key: FlowHasher, shards: usize, flows_per: usize, calls_per: usize) -> Node {
        Node {
            table_key,
            ..Node::new(shards, flows_per, calls_per)
        }
    }

    pub fn t(&self) -> Table<'_, FlowShards> {
        Table::new(&self.flows[..], self.table_key)
    }

    pub fn c(&self) -> Calls<'_, [RefCell<Ix>]> {
        Calls::new(&self.calls[..], self.calls_key)
    }

    /// Both structures' invariants.
    pub fn check(&self) {
        for s in &self.flows {
            s.borrow().check_invariants().unwrap();
        }
        for s in &self.calls {
            s.borrow().check_invariants().unwrap();
        }
    }

    /// A new session id (1, 2, …).
    pub fn id(&self) -> u32 {
        self.next_id.set(self.next_id.get() + 1);
        self.next_id.get()
    }

    /// A datagram from [`CLIENT`]'s [`socket`]: see [`Node::datagram_from`].
    pub fn datagram(&self, payload: &str, now: Millis, pick: u16) -> Did {
        self.datagram_from(CLIENT, payload.as_bytes(), now, pick)
    }

    /// What the hook does with a datagram from `client:5060` to the SIP service: parse it, find its
    /// call, classify it; a new call is opened on server `pick` (standing for admission and
    /// selection) and its SDP announced; a message of a live call announces its SDP in the call's
    /// session, and a BYE ends the session and the call.
    pub fn datagram_from(&self, client: [u8; 4], payload: &[u8], now: Millis, pick: u16) -> Did {
        let (t, c) = (self.t(), self.c());
        let Ok(msg) = sip::parse(payload) else {
            return Did::Hashed(Dispatch::Fallback(Fallback::NotSip));
        };
        let key = match CallKey::of_message(client_v4(client), &msg) {
            Ok(k) => k,
            Err(e) => return Did::Hashed(Dispatch::Fallback(e.into())),
        };
        let sock = socket(client);
        let h = c.hash(&key);
        let mut on_remove = |f: &FlowInfo, _w: Removal| self.removed.borrow_mut().push(*f);
        let found = c.find(&t, &key, h, now, BYTES, &mut on_remove);
        match (classify(&msg, found != Found::No), found) {
            (Dispatch::NewCall, _) => {
                let id = self.id();
                match c.open(&t, &sock, &key, h, id, pick, T, now, BYTES, &mut on_remove) {
                    Ok(o) => {
                        if let Ok(a) = msg.announce(Direction::FromClient) {
                            for f in a.flows() {
                                let (k, w) = f.key(&sock);
                                let _ = t.announce(&k, w, o.session, T, now, &mut on_remove);
                            }
                        }
                        Did::Opened(o.session, pick, o.home)
                    }
                    Err(e) => Did::Refused(e),
                }
            }
            (Dispatch::Call { end }, Found::Live { session, server }) => {
                if let Ok(a) = msg.announce(Direction::FromClient) {
                    for f in a.flows() {
                        let (k, w) = f.key(&sock);
                        let _ = t.announce(&k, w, session, T, now, &mut on_remove);
                    }
                    if a.session_end {
                        t.end_session(session, now, LINGER, &mut on_remove);
                    }
                }
                if end {
                    c.end(&key, h, now, LINGER);
                }
                Did::ToCall(session, server, end)
            }
            (Dispatch::Call { .. }, Found::Ended { server, .. }) => Did::ToEnded(server),
            (d, _) => Did::Hashed(d),
        }
    }

    /// The server of an RTP packet from [`CLIENT`]`:port` to the VIP, if its flow is known.
    pub fn media(&self, port: u16, now: Millis) -> Option<u16> {
        let k = FlowKey::new(CLIENT, port, VIP, 6000, PROTO_UDP);
        match self
            .t()
            .packet(&k, now, BYTES, PacketOpts::default(), &mut ignore)
        {
            Classified::Known(f) => Some(f.server),
            Classified::Unknown => None,
        }
    }
}

/// What the hook did with one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Did {
    /// A new call: its session, its server, where its record went.
    Opened(SessionRef, u16, Home),
    /// A message of a live call: its session, its server, whether it ended the call.
    ToCall(SessionRef, u16, bool),
    /// A message of an ended call whose record lingers: its server.
    ToEnded(u16),
    /// Sent by a stable hash (out of dialog, unknown call, no Call-ID).
    Hashed(Dispatch),
    /// A new call refused.
    Refused(OpenCallError),
}

impl Did {
    /// How the message was classified.
    pub fn dispatch(&self) -> Dispatch {
        match *self {
            Did::Opened(..) | Did::Refused(_) => Dispatch::NewCall,
            Did::ToCall(_, _, end) => Dispatch::Call { end },
            Did::ToEnded(_) => Dispatch::Call { end: false },
            Did::Hashed(d) => d,
        }
    }

    /// The server it went to: `None` for a refused call, `Some(0)` for "by the stable hash".
    pub fn server(&self) -> Option<u16> {
        match *self {
            Did::Opened(_, s, _) | Did::ToCall(_, s, _) | Did::ToEnded(s) => Some(s),
            Did::Hashed(_) => Some(0),
            Did::Refused(_) => None,
        }
    }
}

/// `client:5060 → VIP:5060/udp`, a trunk's socket.
pub fn socket(client: [u8; 4]) -> FlowKey {
    FlowKey::new(client, 5060, VIP, 5060, PROTO_UDP)
}

/// An INVITE of call `call_id` from [`CLIENT`] offering audio on `media_port`.
pub fn invite(call_id: &str, media_port: u16) -> String {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.1.2\r\ns=-\r\nc=IN IP4 10.0.1.2\r\nt=0 0\r\nm=audio {media_port} RTP/AVP 0\r\n"
    );
    format!(
        "INVITE sip:svc@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.1.2:5060\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A request without a body in call `call_id`.
pub fn request(method: &str, call_id: &str) -> String {
    format!(
        "{method} sip:svc@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.1.2:5060\r\nCall-ID: {call_id}\r\nCSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A replication record sent over the wire: encoded, parsed back (checked equal) and returned.
pub fn through_wire(r: Record) -> Record {
    let mut buf = [0u8; 32];
    let n = encode_record(&r, &mut buf).unwrap();
    let back: Vec<Record> = parse_records(&buf[..n]).unwrap().collect();
    assert_eq!(back, vec![r]);
    back[0]
}
