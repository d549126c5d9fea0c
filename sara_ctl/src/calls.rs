//! SIP calls in `sarectl sessions` (issue #14): the calls of sara.ko's Call-ID index joined to the
//! sessions of the flow dump, each call's Call-ID shortened for people, and `--call-id`: the
//! session(s) of one whole Call-ID, matched exactly.
//!
//! The index keeps no Call-ID, only what an entry compares (`sara_core::calls::CallMark`): the
//! 64-bit keyed hash of (client address, Call-ID) under the index's SipHash key, the Call-ID's length
//! and its first 8 and last ≤ 6 bytes. Its dump (`CMD_REPL_GET` with `A_REPL_CALLS`, read by
//! [`crate::kernel::Client::repl_calls`]; the one of a resynchronisation, so it needs
//! CAP_NET_ADMIN) is a `CallKey` record (that key) and a `Call` record per live call: its session
//! id and that mark less the client address, which is the source address of the session's
//! signalling flow. So:
//!
//! * **Join by session id.** A `Call` record names its session by the id the flow dump gives every
//!   flow of the session (`A_SESSION_ID`, the same `SessionRef::id`): [`annotate`].
//! * **Shortened Call-ID** from the edge bytes ([`short_call_id`]): `a84b4c76…ta.com`, exact when the
//!   Call-ID is at most 14 bytes; with the length beside it.
//! * **`--call-id ID`**: for each session, the keyed hash of (its signalling flow's source address,
//!   ID) under the dumped key, and the edge bytes and length of ID, compared with its `Call` record
//!   ([`CallTable::is_call`]): exactly the index's own comparison, so a whole Call-ID pasted from a
//!   SIP trace finds its call and nothing else. A shortened form cannot be matched (its middle bytes
//!   are unknown) and is refused as input ([`crate::cli::parse_call_id`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use sara_core::calls::{client_v4, CallKey, HEAD_BYTES, MAX_CALL_ID, TAIL_BYTES};
use sara_core::flow::FlowHasher;
use sara_core::genl;
use sara_core::msg::repl::{CallRecord, Record};

use crate::cli;
use crate::output::{FlowRow, SessionRow};

/// The calls of one Call-ID index dump, by session id, and the index's key.
#[derive(Debug, Clone, Default)]
pub struct CallTable {
    /// The index's SipHash key (from the `CallKey` record; none when the namespace has no table).
    key: Option<FlowHasher>,
    /// `Call` records by session id, in dump order (a session has one call; more are kept, the
    /// first is shown).
    by_session: BTreeMap<u32, Vec<CallRecord>>,
}

impl CallTable {
    /// The table of a dump's records (`CallKey`, then `Call` records; a record of no call — a length
    /// outside 1..=256 — and other record types are left out).
    pub fn from_records(records: &[Record]) -> CallTable {
        let mut t = CallTable::default();
        for r in records {
            match r {
                Record::CallKey(k) if t.key.is_none() => t.key = Some(FlowHasher::new(*k)),
                Record::Call(c) if c.len != 0 && usize::from(c.len) <= MAX_CALL_ID => {
                    t.by_session.entry(c.session_id).or_default().push(*c);
                }
                _ => {}
            }
        }
        t
    }

    /// Calls in the table.
    pub fn len(&self) -> usize {
        self.by_session.values().map(Vec::len).sum()
    }

    /// Whether the table holds no call.
    pub fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }

    /// The (first) call of session `session`.
    pub fn of_session(&self, session: u32) -> Option<&CallRecord> {
        self.by_session.get(&session).and_then(|v| v.first())
    }

    /// Whether session `session`, whose client (its signalling flow's source) is `client`, is the
    /// call `call_id`: the keyed hash of (client, Call-ID), the length and the edge bytes all equal
    /// those of one of its `Call` records. False without the index's key.
    pub fn is_call(&self, session: u32, client: Ipv4Addr, call_id: &[u8]) -> bool {
        let (Some(h), Some(recs)) = (&self.key, self.by_session.get(&session)) else {
            return false;
        };
        let client = client_v4(client.octets());
        let Ok(k) = CallKey::new(client, call_id) else {
            return false;
        };
        let want = k.mark(k.hash(h));
        recs.iter().any(|r| r.mark(client) == want)
    }
}

/// A Call-ID shortened for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortCallId {
    /// The first 8 bytes, `…`, the last 6 (or, for a Call-ID of at most 14 bytes, all of it); bytes
    /// outside printable ASCII as `\xNN`.
    pub text: String,
    /// The Call-ID's length in bytes.
    pub len: u16,
    /// Whether `text` is the whole Call-ID (no byte left out).
    pub exact: bool,
}

/// Printable ASCII as it is, any other byte as `\xNN` (a Call-ID is a SIP token, but the index keeps
/// whatever bytes a client sent).
fn push_bytes(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

/// The Call-ID of `c` shortened: its first bytes, `…` when bytes are left out, then the last bytes
/// not already among the first (as `sara_core::calls::CallInfo::short_call_id`).
pub fn short_call_id(c: &CallRecord) -> ShortCallId {
    let len = usize::from(c.len);
    let head = c.head.get(..len.min(HEAD_BYTES)).unwrap_or(&[]);
    // The tail holds bytes len−t..len, t = min(len, TAIL_BYTES): those past the head are shown.
    let t = len.min(TAIL_BYTES);
    let skip = HEAD_BYTES.saturating_sub(len - t).min(t);
    let tail = c.tail.get(skip..t).unwrap_or(&[]);
    let exact = len <= HEAD_BYTES + TAIL_BYTES;
    let mut text = String::new();
    push_bytes(&mut text, head);
    if !exact {
        text.push('…');
    }
    push_bytes(&mut text, tail);
    ShortCallId {
        text,
        len: c.len,
        exact,
    }
}

/// Give each session that is a SIP call of `calls` its shortened Call-ID and length.
pub fn annotate(sessions: &mut [SessionRow], calls: &CallTable) {
    for s in sessions {
        if let Some(c) = calls.of_session(s.session) {
            let short = short_call_id(c);
            s.call_id_short = Some(short.text);
            s.call_id_len = Some(short.len);
        }
    }
}

/// The sessions whose call is `call_id` (matched exactly, [`CallTable::is_call`]) among those whose
/// signalling flow is in `flows` (a session needs it: its source is the call's client address).
pub fn sessions_of_call(flows: &[FlowRow], calls: &CallTable, call_id: &[u8]) -> BTreeSet<u32> {
    let signalling = cli::flow_identity_name(genl::FLOW_IDENTITY_SIGNALLING);
    flows
        .iter()
        .filter(|f| f.identity == signalling && calls.is_call(f.session, f.src, call_id))
        .map(|f| f.session)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{group_sessions, render, sessions_table, Format};

    const KEY: [u8; 16] = *b"sixteen byte key";
    const CLIENT: [u8; 4] = [10, 0, 1, 2];
    /// A 31-byte Call-ID (RFC 3261's example).
    const LONG: &[u8] = b"a84b4c76e66710@pc33.atlanta.com";

    /// The `Call` record sara.ko dumps for `call_id` of `client` in session `session`.
    fn record(session: u32, client: [u8; 4], call_id: &[u8]) -> CallRecord {
        let k = CallKey::new(client_v4(client), call_id).unwrap();
        CallRecord::of(session, &k.mark(k.hash(&FlowHasher::new(KEY))))
    }

    fn flow(session: u32, identity: &str, src: [u8; 4], sport: u16, proto: &str) -> FlowRow {
        FlowRow {
            src: Ipv4Addr::from(src),
            sport,
            dst: Ipv4Addr::new(10, 0, 0, 100),
            dport: 5060,
            proto: proto.into(),
            server: 1 + session % 2,
            session,
            status: "established".into(),
            identity: identity.into(),
            wildcard: "none".into(),
            ended: false,
            idle_ms: 20,
            timeout_ms: 30_000,
            packets: 3,
            bytes: 900,
        }
    }

    /// A trunk: sessions 7 (the socket's own record) and 8, 9 (calls' own `sip-call` records), an
    /// RTSP session 10, and the dump of the index.
    fn trunk() -> (Vec<FlowRow>, CallTable) {
        let flows = vec![
            flow(7, "signalling", CLIENT, 5060, "udp"),
            flow(7, "secondary", CLIENT, 20000, "udp"),
            flow(8, "signalling", CLIENT, 0x1234, "sip-call"),
            flow(8, "secondary", CLIENT, 20004, "udp"),
            flow(9, "signalling", CLIENT, 0x4321, "sip-call"),
            flow(10, "signalling", [10, 0, 1, 3], 40000, "tcp"),
        ];
        let records = vec![
            Record::CallKey(KEY),
            Record::Call(record(7, CLIENT, b"1-4242@10.0.1.2")),
            Record::Call(record(8, CLIENT, LONG)),
            Record::Call(record(9, CLIENT, b"short@x")),
            // A call whose session is not in the flow dump (opened after it was read).
            Record::Call(record(99, CLIENT, b"late@x")),
        ];
        (flows, CallTable::from_records(&records))
    }

    #[test]
    fn shortening_keeps_the_edges_and_says_what_is_left_out() {
        let s = |id: &[u8]| short_call_id(&record(1, CLIENT, id));
        let long = s(LONG);
        assert_eq!(
            long,
            ShortCallId {
                text: "a84b4c76…ta.com".into(),
                len: 31,
                exact: false
            }
        );
        // Up to 14 bytes the Call-ID is whole, whatever the split between head and tail.
        for id in [
            &b"a"[..],
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefghijklm",
            b"abcdefghijklmn",
        ] {
            let got = s(id);
            assert_eq!(got.text.as_bytes(), id, "{got:?}");
            assert_eq!((got.len as usize, got.exact), (id.len(), true));
        }
        // 15 bytes: one byte left out.
        assert_eq!(s(b"abcdefghijklmno").text, "abcdefgh…jklmno");
        assert!(!s(b"abcdefghijklmno").exact);
        // Bytes that are not printable ASCII are escaped, never printed raw.
        assert_eq!(s(b"a b\x1b[2J\xff").text, "a\\x20b\\x1b[2J\\xff");
    }

    #[test]
    fn calls_join_their_sessions_by_session_id() {
        let (flows, calls) = trunk();
        assert_eq!(calls.len(), 4);
        let mut sessions = group_sessions(&flows);
        annotate(&mut sessions, &calls);
        let got: Vec<(u32, Option<&str>, Option<u16>)> = sessions
            .iter()
            .map(|s| (s.session, s.call_id_short.as_deref(), s.call_id_len))
            .collect();
        assert_eq!(
            got,
            vec![
                (7, Some("1-4242@1….0.1.2"), Some(15)),
                (8, Some("a84b4c76…ta.com"), Some(31)),
                (9, Some("short@x"), Some(7)),
                (10, None, None),
            ]
        );
        // The text table and the JSON show them.
        let text = sessions_table(&sessions);
        assert!(text.lines().next().unwrap().ends_with("CALL-ID"), "{text}");
        assert!(text.contains("10.0.0.100:5060/udp"), "{text}");
        assert!(text.contains("  a84b4c76…ta.com (31)\n"), "{text}");
        assert!(text.contains("  short@x\n"), "{text}");
        assert!(text.contains("  1-4242@1….0.1.2 (15)\n"), "{text}");
        let v: serde_json::Value =
            serde_json::from_str(&render(sessions.as_slice(), Format::Json)).unwrap();
        assert_eq!(v[1]["session"], 8);
        assert_eq!(v[1]["call_id_short"], "a84b4c76…ta.com");
        assert_eq!(v[1]["call_id_len"], 31);
        assert_eq!(v[3]["call_id_short"], serde_json::Value::Null);
        assert_eq!(v[3]["call_id_len"], serde_json::Value::Null);
        // No dump read (no CAP_NET_ADMIN): the sessions are listed, without Call-IDs.
        let mut plain = group_sessions(&flows);
        annotate(&mut plain, &CallTable::default());
        assert!(plain.iter().all(|s| s.call_id_short.is_none()));
    }

    #[test]
    fn a_whole_call_id_finds_exactly_its_session() {
        let (flows, calls) = trunk();
        let find = |id: &[u8]| {
            sessions_of_call(&flows, &calls, id)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(find(LONG), vec![8]);
        assert_eq!(find(b"1-4242@10.0.1.2"), vec![7]);
        assert_eq!(find(b"short@x"), vec![9]);
        // A Call-ID with the same length and edge bytes but another middle: its hash differs.
        let mut twin = LONG.to_vec();
        twin[12] ^= 1;
        let (k, t) = (record(8, CLIENT, LONG), record(8, CLIENT, &twin));
        assert_eq!((k.len, k.head, k.tail), (t.len, t.head, t.tail));
        assert_ne!(k.hash(), t.hash());
        assert!(find(&twin).is_empty());
        // The shortened form, another case, a prefix, nothing: no match.
        assert!(find("a84b4c76…ta.com".as_bytes()).is_empty());
        assert!(find(b"SHORT@X").is_empty());
        assert!(find(b"short@").is_empty());
        assert!(find(b"").is_empty());
        // The same Call-ID from another client is another call.
        assert!(!calls.is_call(8, Ipv4Addr::new(10, 0, 1, 3), LONG));
        // A session not in the flow dump is not listed; one without a call never matches.
        assert!(find(b"late@x").is_empty());
        assert!(!calls.is_call(10, Ipv4Addr::new(10, 0, 1, 3), LONG));
        // Under another key (a dump of another dispatcher's index) nothing matches.
        let mut other = vec![Record::CallKey([9; 16])];
        other.push(Record::Call(record(8, CLIENT, LONG)));
        assert!(sessions_of_call(&flows, &CallTable::from_records(&other), LONG).is_empty());
        // Without the key (no table in the namespace yet) nothing matches either.
        let keyless = CallTable::from_records(&[Record::Call(record(8, CLIENT, LONG))]);
        assert!(sessions_of_call(&flows, &keyless, LONG).is_empty());
        assert!(CallTable::default().is_empty());
    }

    /// The whole path as sara.ko takes it: a call indexed by a `CallIndex` under the index's hasher,
    /// its entry dumped as `ctl.rs` does (the `CallKey` record is the key's two halves, little
    /// endian, as `conn.rs`'s `call_key`; the `Call` record made from the entry's copy), the records
    /// encoded to bytes and parsed back as `Client::repl_calls` does: sarectl finds the call.
    #[test]
    fn a_call_indexed_and_dumped_as_the_kernel_does_is_found() {
        use sara_core::calls::{CallIndex, CallSlot};
        use sara_core::msg::repl::{encode_record, parse_records, MAX_RECORD_LEN};
        let hasher = FlowHasher::from_words(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        let mut index: CallIndex<Vec<CallSlot<u32>>, u32> =
            CallIndex::new(vec![CallSlot::vacant(); 16], 0).unwrap();
        let client = client_v4(CLIENT);
        let mut run = vec![0u8; 5 * MAX_RECORD_LEN];
        let (k0, k1) = hasher.words();
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&k0.to_le_bytes());
        key[8..].copy_from_slice(&k1.to_le_bytes());
        let mut n = encode_record(&Record::CallKey(key), &mut run).unwrap();
        for (session, id) in [
            (41u32, LONG),
            (42, &b"1-4242@10.0.1.2"[..]),
            (43, &b"1-838@10.0.1.2"[..]),
            (44, &b"7@10.0.1.2"[..]),
        ] {
            let k = CallKey::new(client, id).unwrap();
            let h = k.hash(&hasher);
            index.insert(&k, h, session, 60_000, 0).unwrap();
            let e = index.get(&k, h).unwrap();
            let rec = Record::Call(CallRecord::of(e.value, &e.mark()));
            n += encode_record(&rec, &mut run[n..]).unwrap();
        }
        let records: Vec<Record> = parse_records(&run[..n]).unwrap().collect();
        let calls = CallTable::from_records(&records);
        let flows = vec![
            flow(41, "signalling", CLIENT, 0x2222, "sip-call"),
            flow(42, "signalling", CLIENT, 5060, "udp"),
        ];
        let find = |id: &[u8]| sessions_of_call(&flows, &calls, id);
        assert_eq!(find(LONG).into_iter().collect::<Vec<_>>(), vec![41]);
        assert_eq!(
            find(b"1-4242@10.0.1.2").into_iter().collect::<Vec<_>>(),
            vec![42]
        );
        assert!(find(b"1-4242@10.0.1.3").is_empty());
        // 14 bytes and fewer: the whole Call-ID is in the record's edge bytes.
        for (session, id) in [(43u32, &b"1-838@10.0.1.2"[..]), (44, &b"7@10.0.1.2"[..])] {
            let flows = vec![flow(session, "signalling", CLIENT, 5060, "udp")];
            assert_eq!(
                sessions_of_call(&flows, &calls, id)
                    .into_iter()
                    .collect::<Vec<_>>(),
                vec![session],
                "{}",
                String::from_utf8_lossy(id)
            );
        }
        assert_eq!(
            short_call_id(calls.of_session(41).unwrap()).text,
            "a84b4c76…ta.com"
        );
        // The shortening is the core's own (`CallInfo::short_call_id`), at every length around 14.
        let ids: Vec<Vec<u8>> = (1..=20u8).map(|n| (b'a'..b'a' + n).collect()).collect();
        for (i, id) in ids.iter().enumerate() {
            let k = CallKey::new(client, id).unwrap();
            let h = k.hash(&hasher);
            let session = 100 + i as u32;
            index.insert(&k, h, session, 60_000, 0).unwrap();
            let e = index.get(&k, h).unwrap();
            let (head, elided, tail) = e.short_call_id();
            let mut want = String::from_utf8(head.to_vec()).unwrap();
            if elided {
                want.push('…');
            }
            want.push_str(std::str::from_utf8(tail).unwrap());
            let got = short_call_id(&CallRecord::of(session, &k.mark(h)));
            assert_eq!((got.text, got.exact), (want, !elided), "{id:?}");
            index.remove(&k, h);
        }
    }

    #[test]
    fn records_of_no_call_are_left_out() {
        let mut bad = record(3, CLIENT, b"x");
        bad.len = 0;
        let mut huge = record(4, CLIENT, b"x");
        huge.len = 257;
        let t = CallTable::from_records(&[
            Record::Call(bad),
            Record::Call(huge),
            Record::SessionEnded { session_id: 5 },
        ]);
        assert!(t.is_empty());
        // Two calls of one session (not made by sara.ko, but kept): the first is shown, both match.
        let t = CallTable::from_records(&[
            Record::CallKey(KEY),
            Record::Call(record(3, CLIENT, b"one")),
            Record::Call(record(3, CLIENT, b"two")),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!(short_call_id(t.of_session(3).unwrap()).text, "one");
        assert!(t.is_call(3, Ipv4Addr::from(CLIENT), b"two"));
    }
}
