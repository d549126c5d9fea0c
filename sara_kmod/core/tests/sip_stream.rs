//! SIP over TCP (`sara_core::dpi::stream`), over random streams of SIP messages (INVITEs and 200s
//! with SDP bodies of random length, ACK, PRACK, BYE, OPTIONS without Content-Length, MESSAGE whose
//! body holds empty lines and a request line; CRLF or bare LF; `Content-Length` or `l`; keep-alive
//! CRLFs between messages) cut into random segments, with random initial sequence numbers (so they
//! wrap).
//!
//! Checked: any segmentation gives exactly the messages that framing the unsegmented stream gives,
//! which are the messages written; retransmitted and repacked (overlapping) segments change
//! nothing; with segments lost, every message handed out is one that was written (whole, or its
//! head), in order — never a false start — and every message (but an ACK) that a kept segment
//! starts with its whole start line, and kept segments hold, is handed out (the framing is found
//! again); with a small carry buffer, a message too long for it gives its head and the stream stays
//! in step.

use proptest::prelude::*;
use proptest::sample::Index;
use sara_core::dpi::sip;
use sara_core::dpi::stream::{Cut, Framed, Report, SipStream};

#[derive(Debug, Clone, Copy)]
enum Kind {
    Invite,
    Ok200,
    Ack,
    Prack,
    Bye,
    Options,
    Message,
}

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    call: u16,
    body_lines: usize,
    compact: bool,
    lf: bool,
}

fn kind(with_tricky_bodies: bool) -> impl Strategy<Value = Kind> {
    let tricky = if with_tricky_bodies { 1 } else { 0 };
    prop_oneof![
        3 => Just(Kind::Invite),
        2 => Just(Kind::Ok200),
        2 => Just(Kind::Ack),
        1 => Just(Kind::Prack),
        2 => Just(Kind::Bye),
        1 => Just(Kind::Options),
        tricky => Just(Kind::Message),
    ]
}

fn spec(tricky: bool, max_body_lines: usize) -> impl Strategy<Value = Spec> {
    (
        kind(tricky),
        any::<u16>(),
        0..max_body_lines,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(kind, call, body_lines, compact, lf)| Spec {
            kind,
            call,
            body_lines,
            compact,
            lf,
        })
}

/// The bytes of one message.
fn render(s: &Spec) -> Vec<u8> {
    let nl = if s.lf { "\n" } else { "\r\n" };
    let mut body = String::new();
    let (start, cseq) = match s.kind {
        Kind::Invite => ("INVITE sip:svc@192.0.2.10 SIP/2.0", "1 INVITE"),
        Kind::Ok200 => ("SIP/2.0 200 OK", "1 INVITE"),
        Kind::Ack => ("ACK sip:svc@192.0.2.10 SIP/2.0", "1 ACK"),
        Kind::Prack => ("PRACK sip:svc@192.0.2.10 SIP/2.0", "2 PRACK"),
        Kind::Bye => ("BYE sip:svc@192.0.2.10 SIP/2.0", "3 BYE"),
        Kind::Options => ("OPTIONS sip:svc@192.0.2.10 SIP/2.0", "9 OPTIONS"),
        Kind::Message => ("MESSAGE sip:svc@192.0.2.10 SIP/2.0", "4 MESSAGE"),
    };
    match s.kind {
        Kind::Invite | Kind::Ok200 => {
            for l in [
                "v=0",
                "o=- 1 1 IN IP4 10.0.1.2",
                "s=-",
                "c=IN IP4 10.0.1.2",
                "t=0 0",
            ] {
                body.push_str(l);
                body.push_str(nl);
            }
            body.push_str(&format!("m=audio {} RTP/AVP 0{nl}", 20_000 + s.call % 1000));
            for i in 0..s.body_lines {
                body.push_str(&format!("a=x-filler:{i} abcdefghijklmnopqrstuvwxyz{nl}"));
            }
        }
        Kind::Message => {
            // Empty lines and a request line inside a body: only Content-Length finds its end.
            body.push_str(&format!("hello{nl}{nl}INVITE sip:x@y SIP/2.0{nl}{nl}"));
            for i in 0..s.body_lines {
                body.push_str(&format!("line {i}{nl}"));
            }
        }
        _ => {}
    }
    let mut m = format!(
        "{start}{nl}Via: SIP/2.0/TCP 10.0.1.2:5060;branch=z9hG4bK{}{nl}Call-ID: {}-trunk@10.0.1.2{nl}CSeq: {cseq}{nl}",
        s.call, s.call
    );
    if !body.is_empty() {
        m.push_str(&format!("Content-Type: application/sdp{nl}"));
    }
    match (s.kind, s.compact) {
        (Kind::Options, _) => {} // no Content-Length: no body
        (_, true) => m.push_str(&format!("l: {}{nl}", body.len())),
        (_, false) => m.push_str(&format!("Content-Length:  {}{nl}", body.len())),
    }
    m.push_str(nl);
    m.push_str(&body);
    m.into_bytes()
}

/// The messages and the stream that carries them (keep-alives between them).
fn build(specs: &[(Spec, u8)]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let (msgs, stream, _) = build_at(specs);
    (msgs, stream)
}

/// Messages, their stream, and where each message's keep-alive, then the message itself, start.
type Built = (Vec<Vec<u8>>, Vec<u8>, Vec<(usize, usize)>);

/// The same, and where each message's keep-alive, then the message itself, start in the stream.
fn build_at(specs: &[(Spec, u8)]) -> Built {
    let mut msgs = Vec::new();
    let mut stream = Vec::new();
    let mut at = Vec::new();
    for (s, sep) in specs {
        let before = stream.len();
        stream.extend_from_slice(match sep % 4 {
            0 | 1 => &b""[..],
            2 => b"\r\n",
            _ => b"\r\n\r\n",
        });
        at.push((before, stream.len()));
        let m = render(s);
        stream.extend_from_slice(&m);
        msgs.push(m);
    }
    (msgs, stream, at)
}

fn head(m: &[u8]) -> &[u8] {
    for i in 0..m.len() {
        if m[i..].starts_with(b"\n\n") {
            return &m[..i + 2];
        }
        if m[i..].starts_with(b"\n\r\n") {
            return &m[..i + 3];
        }
    }
    m
}

/// Cut points → segment bounds [(from, to)], covering 0..n.
fn bounds(n: usize, cuts: &[Index]) -> Vec<(usize, usize)> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(n + 1)).collect();
    at.push(0);
    at.push(n);
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| (w[0], w[1])).collect()
}

type Out = Vec<(Vec<u8>, Option<Cut>)>;

fn feed<const N: usize>(st: &mut SipStream<N>, seq: u32, bytes: &[u8], out: &mut Out) -> Report {
    let mut seg = st.segment(seq, bytes.len(), bytes);
    while let Some(m) = seg.next() {
        out.push(match m {
            Framed::Whole(b) => (b.to_vec(), None),
            Framed::Head(b, c) => (b.to_vec(), Some(c)),
        });
    }
    seg.report()
}

fn wholes(msgs: &[Vec<u8>]) -> Out {
    msgs.iter().map(|m| (m.clone(), None)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_segmentation_gives_the_messages_of_the_unsegmented_stream(
        specs in prop::collection::vec((spec(true, 30), any::<u8>()), 1..12),
        cuts in prop::collection::vec(any::<Index>(), 0..40),
        isn in any::<u32>(),
    ) {
        let (msgs, stream) = build(&specs);
        let data = isn.wrapping_add(1);
        // Unsegmented: one segment holding the whole stream (every message in place).
        let mut one: SipStream = SipStream::new();
        one.start(isn);
        let mut unsegmented = Out::new();
        let r = feed(&mut one, data, &stream, &mut unsegmented);
        prop_assert_eq!(r.desync, 0);
        prop_assert_eq!(&unsegmented, &wholes(&msgs));
        // Segmented anywhere.
        let mut st: SipStream = SipStream::new();
        st.start(isn);
        let mut got = Out::new();
        for (a, b) in bounds(stream.len(), &cuts) {
            let r = feed(&mut st, data.wrapping_add(a as u32), &stream[a..b], &mut got);
            prop_assert_eq!((r.desync, r.gap, r.overlap, r.old), (0, 0, 0, false));
        }
        prop_assert_eq!(&got, &unsegmented);
        prop_assert_eq!(st.carried(), 0);
        prop_assert!(st.in_step());
        // What the parser makes of each is what it makes of the message written.
        for (g, m) in got.iter().zip(&msgs) {
            prop_assert_eq!(sip::parse(&g.0), sip::parse(m));
        }
    }

    #[test]
    fn retransmitted_and_repacked_segments_change_nothing(
        specs in prop::collection::vec((spec(true, 20), any::<u8>()), 1..10),
        steps in prop::collection::vec((0usize..400, 1usize..300, any::<Option<(Index, Index)>>()), 1..200),
        isn in any::<u32>(),
    ) {
        let (msgs, stream) = build(&specs);
        let n = stream.len();
        let data = isn.wrapping_add(1);
        let mut st: SipStream = SipStream::new();
        st.start(isn);
        let mut got = Out::new();
        let mut p = 0usize; // first byte not yet sent
        for (back, fwd, again) in steps {
            if p == n {
                break;
            }
            // A segment that repeats up to `back` bytes already sent and adds new ones.
            let a = p.saturating_sub(back);
            let b = (p + fwd).min(n);
            let r = feed(&mut st, data.wrapping_add(a as u32), &stream[a..b], &mut got);
            prop_assert_eq!(r.overlap as usize, p - a);
            prop_assert_eq!(r.desync, 0);
            p = b;
            // And maybe an old segment again, wholly retransmitted.
            if let Some((x, y)) = again {
                let (x, y) = (x.index(p + 1), y.index(p + 1));
                let (x, y) = (x.min(y), x.max(y));
                if x < y {
                    let r = feed(&mut st, data.wrapping_add(x as u32), &stream[x..y], &mut got);
                    prop_assert!(r.old);
                }
            }
        }
        if p < n {
            feed(&mut st, data.wrapping_add(p as u32), &stream[p..], &mut got);
        }
        prop_assert_eq!(got, wholes(&msgs));
    }

    #[test]
    fn with_segments_lost_every_message_handed_out_is_one_written_in_order(
        specs in prop::collection::vec((spec(false, 20), any::<u8>()), 1..16),
        cuts in prop::collection::vec(any::<Index>(), 0..60),
        lost in prop::collection::vec(any::<bool>(), 60),
        isn in any::<u32>(),
        midway in any::<bool>(),
    ) {
        let (msgs, stream, at) = build_at(&specs);
        let data = isn.wrapping_add(1);
        let mut st: SipStream = SipStream::new();
        if !midway {
            st.start(isn);
        }
        let mut got = Out::new();
        let segs = bounds(stream.len(), &cuts);
        let kept = |i: usize| !lost[i % lost.len()] || i.is_multiple_of(3);
        for (i, (a, b)) in segs.iter().enumerate() {
            if kept(i) {
                feed(&mut st, data.wrapping_add(*a as u32), &stream[*a..*b], &mut got);
                prop_assert!(st.carried() <= sara_core::dpi::stream::CARRY);
            }
        }
        // Found again: a message (not an ACK) whose kept segments start at its keep-alive or at
        // itself, the first with its whole start line, and hold it all is handed out whole,
        // whatever was lost before it.
        let mut must = Vec::new();
        for (k, &(sep, start)) in at.iter().enumerate() {
            let end = start + msgs[k].len();
            let Some(first) = segs.iter().position(|&(a, _)| sep <= a && a <= start) else {
                continue;
            };
            let line_end = start + msgs[k].iter().position(|&b| b == b'\n').unwrap() + 1;
            if segs[first].1 < line_end {
                continue;
            }
            let covered = segs.iter().enumerate().skip(first).take_while(|(_, &(a, _))| a < end);
            if specs[k].0.kind as u8 != Kind::Ack as u8 && covered.clone().all(|(i, _)| kept(i)) {
                must.push(msgs[k].clone());
            }
        }
        // A subsequence of the messages written, each whole or its head.
        let mut j = 0usize;
        for (bytes, cut) in &got {
            let found = (j..msgs.len()).find(|&k| match cut {
                None => msgs[k] == *bytes,
                Some(Cut::Gap) => head(&msgs[k]) == &bytes[..],
                Some(c) => panic!("{c:?}: every head here fits the carry and every length is good"),
            });
            prop_assert!(found.is_some(), "not written: {:?}", String::from_utf8_lossy(bytes));
            j = found.unwrap() + 1;
        }
        for m in &must {
            prop_assert!(
                got.iter().any(|(b, c)| c.is_none() && b == m),
                "not found again: {:?}",
                String::from_utf8_lossy(m)
            );
        }
    }

    #[test]
    fn a_message_too_long_for_the_carry_gives_its_head_and_the_stream_stays_in_step(
        specs in prop::collection::vec((spec(true, 12), any::<u8>()), 1..12),
        cuts in prop::collection::vec(any::<Index>(), 0..40),
        isn in any::<u32>(),
    ) {
        const CAP: usize = 400;
        let (msgs, stream) = build(&specs);
        let data = isn.wrapping_add(1);
        let mut st: SipStream<CAP> = SipStream::new();
        st.start(isn);
        let mut got = Out::new();
        let segs = bounds(stream.len(), &cuts);
        for (a, b) in &segs {
            let r = feed(&mut st, data.wrapping_add(*a as u32), &stream[*a..*b], &mut got);
            prop_assert_eq!(r.desync, 0);
        }
        // Where each message lies in the stream, and whether one segment holds it all.
        let mut want = Out::new();
        let mut at = 0usize;
        for m in &msgs {
            let start = at + stream[at..].windows(m.len()).position(|w| w == &m[..]).unwrap();
            let end = start + m.len();
            at = end;
            let in_one = segs.iter().any(|(a, b)| *a <= start && end <= *b);
            if m.len() <= CAP || in_one {
                want.push((m.clone(), None));
            } else {
                want.push((head(m).to_vec(), Some(Cut::TooLong)));
            }
        }
        prop_assert_eq!(got, want);
    }
}
