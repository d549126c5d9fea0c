//! The SIP-over-TCP framer (`dpi::stream`) on arbitrary bytes cut into arbitrary segments.
//!
//! The input is a list of operations, each a control byte, a length byte and (for new bytes) that
//! many bytes of the stream: a new segment in order, a retransmission of earlier bytes (whole, or
//! repacked with new ones), a gap (bytes of the stream never handed in), a segment of which the
//! caller reads only a part. Every message handed out goes through the SIP parser and the shared
//! announcement checks. Checked: nothing panics; the carry stays within its bound; a whole message
//! is its head (ending in an empty line) and its Content-Length body; and when no byte was lost,
//! the segmented stream (carry larger than any input) frames exactly as the unsegmented one; and a
//! stream whose buffer is kept apart (`StreamMut`, as the kernel's pool keeps them) frames exactly
//! as a `SipStream` of the same capacity.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::dpi::stream::{Cut, Framed, Framing, SipStream, StreamMut, CARRY};
use sara_core::dpi::{sip, Direction};

include!("common.rs");

/// Larger than any input (scripts/fuzz.sh runs with -max_len=20000 at most).
const BIG: usize = 32768;

fn check(m: Framed<'_>) -> (Vec<u8>, Option<Cut>) {
    let b = m.bytes();
    assert!(!b.is_empty());
    assert!(b[0] != b'\r' && b[0] != b'\n');
    if let Ok(p) = sip::parse(b) {
        for dir in [Direction::FromClient, Direction::FromServer] {
            if let Ok(a) = p.announce(dir) {
                check_announcement(&a);
            }
        }
    }
    match m {
        Framed::Whole(b) => (b.to_vec(), None),
        Framed::Head(b, c) => {
            assert!(b.ends_with(b"\n\n") || b.ends_with(b"\n\r\n"));
            (b.to_vec(), Some(c))
        }
    }
}

fn feed<const N: usize>(
    st: &mut SipStream<N>,
    seq: u32,
    len: usize,
    seen: &[u8],
    out: &mut Vec<(Vec<u8>, Option<Cut>)>,
) -> bool {
    let mut seg = st.segment(seq, len, seen);
    while let Some(m) = seg.next() {
        out.push(check(m));
    }
    let r = seg.report();
    drop(seg);
    assert!(st.carried() <= N);
    r.gap == 0
}

fn feed_apart(
    f: &mut Framing,
    buf: &mut [u8],
    seq: u32,
    len: usize,
    seen: &[u8],
    out: &mut Vec<(Vec<u8>, Option<Cut>)>,
) {
    let mut seg = StreamMut::new(f, buf).segment(seq, len, seen);
    while let Some(m) = seg.next() {
        out.push(check(m));
    }
    drop(seg);
    assert!(StreamMut::new(f, buf).carried() <= buf.len());
}

fuzz_target!(|data: &[u8]| {
    let Some((&isn_byte, mut ops)) = data.split_first() else {
        return;
    };
    let isn = u32::from(isn_byte)
        .wrapping_mul(0x0101_0101)
        .wrapping_sub(300);
    let mut small: SipStream = SipStream::new();
    let mut big: Box<SipStream<BIG>> = Box::new(SipStream::new());
    let (mut apart, mut apart_buf) = (Framing::new(), vec![0u8; CARRY]);
    small.start(isn);
    big.start(isn);
    StreamMut::new(&mut apart, &mut apart_buf).start(isn);
    let mut out_apart = Vec::new();
    let base = isn.wrapping_add(1);
    let mut stream: Vec<u8> = Vec::new(); // every byte of the stream so far, sent or lost
    let mut out_small = Vec::new();
    let mut out_big = Vec::new();
    let mut clean = true;
    while let [c, l, rest @ ..] = ops {
        let n = usize::from(*l).min(rest.len());
        let (bytes, after) = rest.split_at(n);
        let p = stream.len();
        let seq = |at: usize| base.wrapping_add(at as u32);
        match c & 7 {
            // In order.
            0..=3 => {
                stream.extend_from_slice(bytes);
                feed(&mut small, seq(p), n, bytes, &mut out_small);
                feed_apart(&mut apart, &mut apart_buf, seq(p), n, bytes, &mut out_apart);
                clean &= feed(&mut *big, seq(p), n, bytes, &mut out_big);
                ops = after;
            }
            // Repacked: up to `back` old bytes and the new ones.
            4 => {
                stream.extend_from_slice(bytes);
                let back = usize::from(c >> 3) * 8;
                let a = p.saturating_sub(back);
                let seg = &stream[a..];
                feed(&mut small, seq(a), seg.len(), seg, &mut out_small);
                feed_apart(
                    &mut apart,
                    &mut apart_buf,
                    seq(a),
                    seg.len(),
                    seg,
                    &mut out_apart,
                );
                clean &= feed(&mut *big, seq(a), seg.len(), seg, &mut out_big);
                ops = after;
            }
            // A retransmission of old bytes only (no input consumed).
            5 => {
                let a = p.saturating_sub(usize::from(*l));
                let b = p.saturating_sub(usize::from(c >> 3));
                if a < b {
                    let seg = &stream[a..b];
                    feed(&mut small, seq(a), seg.len(), seg, &mut out_small);
                    feed_apart(
                        &mut apart,
                        &mut apart_buf,
                        seq(a),
                        seg.len(),
                        seg,
                        &mut out_apart,
                    );
                    feed(&mut *big, seq(a), seg.len(), seg, &mut out_big);
                }
                ops = rest;
            }
            // Lost bytes.
            6 => {
                stream.extend_from_slice(bytes);
                clean = false;
                ops = after;
            }
            // A segment of which only the first bytes can be read.
            _ => {
                stream.extend_from_slice(bytes);
                let k = usize::from(c >> 3).min(n);
                feed(&mut small, seq(p), n, &bytes[..k], &mut out_small);
                feed_apart(
                    &mut apart,
                    &mut apart_buf,
                    seq(p),
                    n,
                    &bytes[..k],
                    &mut out_apart,
                );
                clean &= feed(&mut *big, seq(p), n, &bytes[..k], &mut out_big);
                ops = after;
            }
        }
    }
    assert_eq!(out_apart, out_small);
    if !clean {
        return;
    }
    // No byte lost: framing the whole stream as one segment gives the same messages, unless the
    // framing was lost (then the segmented stream may find it again at a later segment's start).
    let mut one: Box<SipStream<BIG>> = Box::new(SipStream::new());
    one.start(isn);
    let mut out_one = Vec::new();
    let mut seg = one.segment(base, stream.len(), &stream);
    while let Some(m) = seg.next() {
        out_one.push(check(m));
    }
    if seg.report().desync == 0 && !out_one.iter().any(|(_, c)| *c == Some(Cut::BadLength)) {
        assert_eq!(out_big, out_one);
    }
});
