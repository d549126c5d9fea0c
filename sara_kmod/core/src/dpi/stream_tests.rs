//! Unit tests of the SIP-over-TCP framer (`stream.rs`). The property tests (arbitrary segmentation,
//! retransmissions, gaps) are in `tests/sip_stream.rs`.

extern crate std;

use super::super::sip::{self, Method, Start};
use super::super::Direction;
use super::*;
use std::vec;
use std::vec::Vec;

const INVITE: &[u8] = include_bytes!("../../testdata/captures/sipp-uac-invite.txt");
const ACK: &[u8] = include_bytes!("../../testdata/captures/sipp-uac-ack.txt");
const BYE: &[u8] = include_bytes!("../../testdata/captures/sipp-uac-bye.txt");
const OK200: &[u8] = include_bytes!("../../testdata/captures/sipp-uas-200-ok.txt");

/// What came out of a segment: each message's bytes and, for a head, why.
type Out = Vec<(Vec<u8>, Option<Cut>)>;

fn feed<const N: usize>(
    st: &mut SipStream<N>,
    seq: u32,
    seg_len: usize,
    seen: &[u8],
) -> (Out, Report) {
    let mut seg = st.segment(seq, seg_len, seen);
    let mut out = Vec::new();
    while let Some(m) = seg.next() {
        match m {
            Framed::Whole(b) => out.push((b.to_vec(), None)),
            Framed::Head(b, c) => out.push((b.to_vec(), Some(c))),
        }
    }
    (out, seg.report())
}

fn seg<const N: usize>(st: &mut SipStream<N>, seq: u32, bytes: &[u8]) -> (Out, Report) {
    feed(st, seq, bytes.len(), bytes)
}

fn whole(m: &[u8]) -> (Vec<u8>, Option<Cut>) {
    (m.to_vec(), None)
}

fn head_of(m: &[u8]) -> &[u8] {
    let i = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &m[..i + 4]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn the_captures_are_whole_messages() {
    // The fixtures' Content-Length counts exactly their bodies.
    for m in [INVITE, ACK, BYE, OK200] {
        let p = sip::parse(m).unwrap();
        let cl = p.content_length.unwrap() as usize;
        assert_eq!(head_of(m).len() + cl, m.len());
    }
}

#[test]
fn an_invite_split_at_every_byte_comes_out_whole_and_announces_its_media() {
    let isn = 0x1234_5678;
    for i in 0..=INVITE.len() {
        let mut st: SipStream = SipStream::new();
        st.start(isn);
        let (a, ra) = seg(&mut st, isn + 1, &INVITE[..i]);
        let (b, rb) = seg(&mut st, isn + 1 + i as u32, &INVITE[i..]);
        let all: Out = a.into_iter().chain(b).collect();
        assert_eq!(all, vec![whole(INVITE)], "split at {i}");
        assert_eq!(ra.messages + rb.messages, 1);
        assert_eq!(ra.desync + rb.desync, 0);
        assert_eq!(st.carried(), 0);
        assert!(st.in_step());
        assert_eq!(st.next_seq(), isn + 1 + INVITE.len() as u32);
        let m = sip::parse(&all[0].0).unwrap();
        assert_eq!(m.call_id, Some(&b"1-27286@127.0.0.1"[..]));
        let ann = m.announce(Direction::FromClient).unwrap();
        assert_eq!(ann.flows()[0].client.port, Some(6004));
    }
}

#[test]
fn a_trunk_stream_cut_at_every_pair_of_places_gives_every_message_once() {
    // INVITE, keep-alive, ACK, BYE back to back, cut into three segments at every (i, j).
    let stream = cat(&[INVITE, b"\r\n\r\n", ACK, BYE]);
    let want = vec![whole(INVITE), whole(ACK), whole(BYE)];
    let n = stream.len();
    for i in (0..=n).step_by(3) {
        for j in (i..=n).step_by(5) {
            let mut st: SipStream = SipStream::new();
            st.start(u32::MAX - 100); // the sequence numbers wrap inside the stream
            let base = (u32::MAX - 100).wrapping_add(1);
            let mut got = Out::new();
            for (a, b) in [(0, i), (i, j), (j, n)] {
                let (o, r) = seg(&mut st, base.wrapping_add(a as u32), &stream[a..b]);
                assert_eq!(r.desync, 0);
                got.extend(o);
            }
            assert_eq!(got, want, "cut at {i}, {j}");
        }
    }
}

#[test]
fn several_messages_in_one_segment_come_out_in_place() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let bytes = cat(&[b"\r\n", OK200, b"\r\n\r\n", ACK, BYE]);
    let mut s = st.segment(1, bytes.len(), &bytes);
    let mut n = 0;
    while let Some(m) = s.next() {
        // In place: the slice is inside the segment, not the carry buffer.
        let b = m.bytes();
        let off = b.as_ptr() as usize - bytes.as_ptr() as usize;
        assert!(off + b.len() <= bytes.len());
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(s.report().messages, 3);
    assert_eq!(st.carried(), 0);
}

#[test]
fn a_body_split_over_several_segments_is_carried() {
    let mut st: SipStream = SipStream::new();
    st.start(99);
    let h = head_of(INVITE).len();
    let mut seq = 100u32;
    let mut got = Out::new();
    // Head and the start of the next message's bytes in the last piece.
    let stream = cat(&[INVITE, ACK]);
    for (a, b) in [
        (0, h),
        (h, h + 10),
        (h + 10, h + 11),
        (h + 11, INVITE.len() + 3),
    ] {
        let (o, _) = seg(&mut st, seq, &stream[a..b]);
        seq += (b - a) as u32;
        got.extend(o);
        if b < INVITE.len() {
            assert!(got.is_empty());
            assert_eq!(st.carried(), b);
        }
    }
    assert_eq!(got, vec![whole(INVITE)]);
    assert_eq!(st.carried(), 3); // "ACK" carried as the start of the next head
    let (o, _) = seg(&mut st, seq, &stream[INVITE.len() + 3..]);
    assert_eq!(o, vec![whole(ACK)]);
}

#[test]
fn compact_content_length_and_bare_lf() {
    let body = b"v=0\nc=IN IP4 192.0.2.7\nm=audio 7000 RTP/AVP 0\n";
    let m = std::format!("INVITE sip:a@b SIP/2.0\ni: lf-1\nl:{}\n\n", body.len());
    let m = cat(&[m.as_bytes(), body]);
    let stream = cat(&[&m, b"OPTIONS sip:a@b SIP/2.0\ni: o\n\n"]);
    for i in 0..=stream.len() {
        let mut st: SipStream = SipStream::new();
        st.start(0);
        let (mut a, _) = seg(&mut st, 1, &stream[..i]);
        let (b, _) = seg(&mut st, 1 + i as u32, &stream[i..]);
        a.extend(b);
        assert_eq!(a.len(), 2, "split at {i}");
        assert_eq!(a[0], whole(&m));
        // No Content-Length: no body.
        assert_eq!(&a[1].0[..], &stream[m.len()..]);
    }
}

#[test]
fn a_retransmitted_segment_is_ignored_and_an_overlap_trimmed() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[INVITE, ACK]);
    let (o, _) = seg(&mut st, 1, &stream[..200]);
    assert!(o.is_empty());
    // The same segment again: nothing new.
    let (o, r) = seg(&mut st, 1, &stream[..200]);
    assert!(o.is_empty() && r.old);
    assert_eq!(st.carried(), 200);
    // A retransmission that repacks old and new bytes: only the new ones are used.
    let (o, r) = seg(&mut st, 101, &stream[100..600]);
    assert_eq!(r.overlap, 100);
    assert_eq!(o, vec![whole(INVITE)]);
    // Retransmitted after the message was handed out: not handed out again.
    let (o, r) = seg(&mut st, 1, &stream[..INVITE.len()]);
    assert!(o.is_empty() && r.old);
    let (o, _) = seg(&mut st, 601, &stream[600..]);
    assert_eq!(o, vec![whole(ACK)]);
    assert!(st.in_step());
}

#[test]
fn a_gap_inside_a_body_costs_that_body_only() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[INVITE, ACK, BYE]);
    let h = head_of(INVITE).len();
    let (o, _) = seg(&mut st, 1, &stream[..h + 20]);
    assert!(o.is_empty());
    // Bytes h+20..h+50 are lost; the segment after them is seen.
    let (o, r) = seg(
        &mut st,
        1 + (h + 50) as u32,
        &stream[h + 50..INVITE.len() + 100],
    );
    assert_eq!(r.gap, 30);
    assert_eq!(r.desync, 0);
    assert_eq!(o, vec![(head_of(INVITE).to_vec(), Some(Cut::Gap))]);
    // The head alone still gives the call; its SDP is reported truncated.
    let m = sip::parse(&o[0].0).unwrap();
    assert_eq!(m.call_id, Some(&b"1-27286@127.0.0.1"[..]));
    assert!(m.body.is_none());
    let (o, _) = seg(
        &mut st,
        1 + (INVITE.len() + 100) as u32,
        &stream[INVITE.len() + 100..],
    );
    assert_eq!(o, vec![whole(ACK), whole(BYE)]);
}

#[test]
fn a_gap_that_ends_exactly_at_the_body_end_keeps_step() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[INVITE, ACK]);
    let (o, _) = seg(&mut st, 1, &stream[..INVITE.len() - 40]);
    assert!(o.is_empty());
    let (o, r) = seg(&mut st, 1 + INVITE.len() as u32, ACK);
    assert_eq!((r.gap, r.desync), (40, 0));
    assert_eq!(
        o,
        vec![(head_of(INVITE).to_vec(), Some(Cut::Gap)), whole(ACK)]
    );
}

#[test]
fn a_gap_between_messages_loses_step_until_a_segment_starts_with_a_start_line() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[ACK, INVITE, BYE, ACK]);
    let a = ACK.len();
    let (o, _) = seg(&mut st, 1, &stream[..a + 10]);
    assert_eq!(o, vec![whole(ACK)]);
    // A gap in the INVITE's head: lost; the rest of the INVITE is not a start.
    let (o, r) = seg(
        &mut st,
        1 + (a + 30) as u32,
        &stream[a + 30..a + INVITE.len()],
    );
    assert!(o.is_empty());
    assert_eq!((r.gap, r.desync, r.resynced), (20, 1, false));
    assert!(!st.in_step());
    // The BYE starts a segment: found again.
    let at = a + INVITE.len();
    let (o, r) = seg(&mut st, 1 + at as u32, &stream[at..]);
    assert!(r.resynced);
    assert_eq!(o, vec![whole(BYE), whole(ACK)]);
    assert!(st.in_step());
}

#[test]
fn a_gap_at_a_boundary_resyncs_on_the_segment_after_it_when_it_starts_a_message() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let (o, _) = seg(&mut st, 1, ACK);
    assert_eq!(o.len(), 1);
    // The INVITE's segment is lost; the BYE's arrives.
    let (o, r) = seg(&mut st, 1 + (ACK.len() + INVITE.len()) as u32, BYE);
    assert_eq!((r.desync, r.resynced), (1, true));
    assert_eq!(o, vec![whole(BYE)]);
    // The INVITE's segment, late (reordered): the stream has moved past it.
    let (o, r) = seg(&mut st, 1 + ACK.len() as u32, INVITE);
    assert!(o.is_empty() && r.old);
}

#[test]
fn a_resync_needs_a_whole_standard_start_line_at_the_segment_start() {
    let yes: [&[u8]; 5] = [
        b"INVITE sip:a@b SIP/2.0\r\n",
        b"\r\n\r\nBYE sip:a@b SIP/2.0\r\n",
        b"SIP/2.0 200 OK\r\n",
        b"SIP/2.0 100\r\n",
        b"UPDATE sip:a@b SIP/2.0\n",
    ];
    let no: [&[u8]; 12] = [
        b"ACK sip:a@b SIP/2.0\r\n",    // the tail of a PRACK cut by a lost segment
        b"ITE sip:a@b SIP/2.0\r\n",    // the tail of INVITE cut by a lost segment
        b"FOO sip:a@b SIP/2.0\r\n",    // an extension method
        b"invite sip:a@b SIP/2.0\r\n", // methods are capitals
        b"INVITE sip:a@b SIP/2.0",     // the line is not whole yet
        b"INVITE SIP/2.0\r\n",         // no URI
        b"Call-ID: a SIP/2.0\r\n",     // a header
        b" INVITE sip:a@b SIP/2.0\r\n", // a continuation line
        b"sip/2.0 200 OK\r\n",         // not as written by anyone
        b"SIP/2.0 2000 OK\r\n",        // bad code
        b"v=0\r\n",                    // SDP
        b"INVITE sip:a@b SIP/2.00\r\n", // bad version
    ];
    for s in yes {
        assert!(starts_message(s), "{:?}", std::str::from_utf8(s));
    }
    for s in no {
        assert!(!starts_message(s), "{:?}", std::str::from_utf8(s));
    }
    // In step, any token method is a message (the parser judges it).
    assert!(start_line(b"FOO sip:a@b SIP/2.0", false));
    assert!(start_line(b"invite sip:a@b sip/2.0", false));
    assert!(!start_line(b"GET / HTTP/1.1", false));
    assert!(!start_line(b"", false));
}

#[test]
fn a_stream_met_midway_starts_at_the_first_segment_that_starts_a_message() {
    let mut st: SipStream = SipStream::new();
    assert!(!st.in_step());
    let stream = cat(&[INVITE, ACK]);
    let (o, r) = seg(&mut st, 5000, &stream[100..INVITE.len()]);
    assert!(o.is_empty());
    assert_eq!((r.desync, r.resynced, r.gap), (0, false, 0));
    // An ACK is no resync point (it may be the end of a PRACK); a BYE is.
    let (o, r) = seg(&mut st, 5000 + (INVITE.len() - 100) as u32, ACK);
    assert!(o.is_empty() && !r.resynced);
    let (o, r) = seg(&mut st, 5000 + (INVITE.len() + ACK.len() - 100) as u32, BYE);
    assert!(r.resynced);
    assert_eq!(o, vec![whole(BYE)]);
    // forget() brings it back to that state.
    st.forget();
    assert!(!st.in_step());
    let (o, _) = seg(&mut st, 7, INVITE);
    assert_eq!(o, vec![whole(INVITE)]);
}

#[test]
fn overlong_headers_lose_step() {
    let mut st: SipStream<256> = SipStream::new();
    st.start(0);
    let mut m = std::string::String::from("OPTIONS sip:a@b SIP/2.0\r\n");
    for i in 0..20 {
        m.push_str(&std::format!(
            "X-Filler-{i}: abcdefghijklmnopqrstuvwxyz\r\n"
        ));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    let m = m.into_bytes();
    // In one segment it is handed out in place, whatever its length.
    let (o, _) = seg(&mut st, 1, &m);
    assert_eq!(o, vec![whole(&m)]);
    // Split, its head cannot be carried: lost, nothing handed out.
    let mut seq = 1 + m.len() as u32;
    let mut desync = 0;
    for c in m.chunks(100) {
        let (o, r) = seg(&mut st, seq, c);
        assert!(o.is_empty());
        desync += r.desync;
        seq += c.len() as u32;
        assert!(st.carried() <= 256);
    }
    assert_eq!(desync, 1);
    assert!(!st.in_step());
    let (o, _) = seg(&mut st, seq, BYE);
    assert_eq!(o, vec![whole(BYE)]);
}

#[test]
fn an_overlong_message_gives_its_head_and_its_body_is_skipped_by_content_length() {
    let h = head_of(INVITE).len();
    // Room for the head and a part of the body only.
    let mut st: SipStream<400> = SipStream::new();
    assert!(h < 400 && INVITE.len() > 400);
    st.start(0);
    let stream = cat(&[INVITE, ACK, BYE]);
    let mut got = Out::new();
    let mut skipped = 0;
    for (i, c) in stream.chunks(64).enumerate() {
        let (o, r) = seg(&mut st, 1 + (i * 64) as u32, c);
        assert_eq!(r.desync, 0);
        skipped += r.skipped;
        got.extend(o);
    }
    assert_eq!(
        got,
        vec![
            (head_of(INVITE).to_vec(), Some(Cut::TooLong)),
            whole(ACK),
            whole(BYE)
        ]
    );
    assert_eq!(skipped as usize, INVITE.len() - h);
    // The head found while carrying but the body longer than the room: same.
    let mut st: SipStream<400> = SipStream::new();
    st.start(0);
    let (o, _) = seg(&mut st, 1, &stream[..h - 5]);
    assert!(o.is_empty());
    let (o, _) = seg(&mut st, 1 + (h - 5) as u32, &stream[h - 5..h + 10]);
    assert_eq!(o, vec![(head_of(INVITE).to_vec(), Some(Cut::TooLong))]);
    let (o, _) = seg(&mut st, 1 + (h + 10) as u32, &stream[h + 10..]);
    assert_eq!(o, vec![whole(ACK), whole(BYE)]);
}

#[test]
fn an_overlong_message_whose_head_was_carried_skips_its_body_inside_the_segment() {
    // The head ends in a segment that also holds the rest of the body and the next messages (the
    // property test found this one: the bytes after the head were dropped with the body).
    let h = head_of(INVITE).len();
    let mut st: SipStream<400> = SipStream::new();
    st.start(0);
    let stream = cat(&[INVITE, ACK, BYE]);
    let (o, _) = seg(&mut st, 1, &stream[..h - 5]);
    assert!(o.is_empty());
    let (o, r) = seg(&mut st, 1 + (h - 5) as u32, &stream[h - 5..]);
    assert_eq!(
        o,
        vec![
            (head_of(INVITE).to_vec(), Some(Cut::TooLong)),
            whole(ACK),
            whole(BYE)
        ]
    );
    assert_eq!(r.skipped as usize, INVITE.len() - h);
}

#[test]
fn a_bad_content_length_hands_out_the_head_and_loses_step() {
    for cl in [
        "Content-Length: x",
        "Content-Length: 99999999999",
        "l: 1\r\nl: 2",
    ] {
        let m = std::format!("INVITE sip:a@b SIP/2.0\r\ni: bad\r\n{cl}\r\n\r\nv=0\r\n");
        let head = &m.as_bytes()[..m.find("\r\n\r\n").unwrap() + 4];
        let stream = cat(&[m.as_bytes(), ACK]);
        // In place, and carried.
        for split in [stream.len(), 10] {
            let mut st: SipStream = SipStream::new();
            st.start(0);
            let (mut o, r1) = seg(&mut st, 1, &stream[..split]);
            let (o2, r2) = seg(&mut st, 1 + split as u32, &stream[split..]);
            o.extend(o2);
            assert_eq!(o, vec![(head.to_vec(), Some(Cut::BadLength))], "{cl}");
            assert_eq!(r1.desync + r2.desync, 1);
        }
    }
    // A start line that is not SIP, in step: lost, nothing handed out.
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let (o, r) = seg(&mut st, 1, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(o.is_empty());
    assert_eq!(r.desync, 1);
}

#[test]
fn bytes_the_caller_cannot_read_are_a_gap_at_the_segment_end() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[INVITE, ACK]);
    let h = head_of(INVITE).len();
    // A segment of the whole INVITE of which only the head and 10 body bytes are readable.
    let (o, r) = feed(&mut st, 1, INVITE.len(), &stream[..h + 10]);
    assert_eq!(o, vec![(head_of(INVITE).to_vec(), Some(Cut::Gap))]);
    assert_eq!((r.gap as usize, r.desync), (INVITE.len() - h - 10, 0));
    let (o, _) = seg(&mut st, 1 + INVITE.len() as u32, ACK);
    assert_eq!(o, vec![whole(ACK)]);
    // Unreadable bytes between messages: lost.
    let (o, r) = feed(&mut st, 1 + stream.len() as u32, BYE.len() + 10, BYE);
    assert_eq!(o, vec![whole(BYE)]);
    assert_eq!((r.gap, r.desync), (10, 1));
}

#[test]
fn a_segment_not_read_to_its_end_loses_step() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[ACK, BYE]);
    {
        let mut s = st.segment(1, stream.len(), &stream);
        assert!(s.next().is_some()); // the BYE is never asked for
    }
    let (o, r) = seg(
        &mut st,
        1 + stream.len() as u32,
        b"SIP/2.0 200 OK\r\nl: 0\r\n\r\n",
    );
    assert_eq!((r.desync, r.resynced), (1, true));
    assert_eq!(o.len(), 1);
}

#[test]
fn empty_segments_and_bare_keepalives_change_nothing() {
    let mut st: SipStream = SipStream::new();
    st.start(10);
    let (o, r) = seg(&mut st, 11, b"");
    assert!(o.is_empty() && !r.old);
    let (o, _) = seg(&mut st, 11, b"\r\n\r\n");
    assert!(o.is_empty());
    let (o, _) = seg(&mut st, 15, b"\r\n");
    assert!(o.is_empty());
    assert!(st.in_step());
    assert_eq!(st.next_seq(), 17);
    let (o, _) = seg(&mut st, 17, ACK);
    assert_eq!(o, vec![whole(ACK)]);
}

#[test]
fn handed_out_messages_parse_as_the_datagrams_do() {
    let mut st: SipStream = SipStream::new();
    st.start(0);
    let stream = cat(&[INVITE, OK200, ACK, BYE]);
    let mut seq = 1u32;
    let mut starts = Vec::new();
    for c in stream.chunks(77) {
        let mut s = st.segment(seq, c.len(), c);
        while let Some(m) = s.next() {
            let p = sip::parse(m.bytes()).unwrap();
            starts.push(p.start);
        }
        seq += c.len() as u32;
    }
    assert_eq!(
        starts,
        vec![
            Start::Request(Method::Invite),
            Start::Response(200),
            Start::Request(Method::Ack),
            Start::Request(Method::Bye)
        ]
    );
}

#[test]
fn the_state_is_the_carry_buffer_and_a_few_words() {
    assert!(core::mem::size_of::<SipStream>() <= CARRY + 64);
    assert_eq!(CARRY, 4096);
}

#[test]
fn a_stream_with_its_buffer_kept_apart_frames_as_a_sip_stream() {
    // The kernel's pool keeps each stream as a `Framing` in one array and its carry buffer in
    // another (`StreamMut`): the same segments give the same messages and reports, whatever the
    // cuts, as a `SipStream` of the buffer's length.
    // 64 bytes of state beside the buffer (README: a pool stream is 4096 + 64 + a 24-byte tag).
    assert_eq!(core::mem::size_of::<Framing>(), 64);
    let stream = cat(&[INVITE, b"\r\n", ACK, BYE]);
    let n = stream.len();
    for i in (0..=n).step_by(7) {
        for cap in [256usize, CARRY] {
            let mut f = Framing::new();
            let mut buf = vec![0u8; cap];
            let mut a: SipStream<256> = SipStream::new();
            let mut b: SipStream = SipStream::new();
            let mut m = StreamMut::new(&mut f, &mut buf);
            m.start(7);
            assert!(m.in_step() && m.next_seq() == 8);
            a.start(7);
            b.start(7);
            for (x, y) in [(0, i), (i, n)] {
                let bytes = &stream[x..y];
                let seq = 8 + x as u32;
                let mut seg = StreamMut::new(&mut f, &mut buf).segment(seq, bytes.len(), bytes);
                let mut got = Out::new();
                while let Some(m) = seg.next() {
                    got.push(match m {
                        Framed::Whole(b) => (b.to_vec(), None),
                        Framed::Head(b, c) => (b.to_vec(), Some(c)),
                    });
                }
                let r = seg.report();
                let want = if cap == CARRY {
                    seg_pair(&mut b, seq, bytes)
                } else {
                    seg_pair(&mut a, seq, bytes)
                };
                assert_eq!((got, r), want, "cut at {i}, capacity {cap}");
                let carried = StreamMut::new(&mut f, &mut buf).carried();
                let want = if cap == CARRY {
                    b.carried()
                } else {
                    a.carried()
                };
                assert_eq!(carried, want);
            }
        }
    }
    // Forgotten, it is lost until a segment starts with a message.
    let mut f = Framing::default();
    let mut buf = [0u8; 64];
    let mut m = StreamMut::new(&mut f, &mut buf);
    m.start(0);
    m.forget();
    assert!(!m.in_step());
}

fn seg_pair<const N: usize>(st: &mut SipStream<N>, seq: u32, bytes: &[u8]) -> (Out, Report) {
    seg(st, seq, bytes)
}
