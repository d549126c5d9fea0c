//! SIP over TCP: where each message of one direction of a TCP connection begins and ends (issue #14,
//! docs/decisions.md "SIP over TCP: messages framed per connection").
//!
//! Over UDP one datagram is one SIP message. Over TCP the sender's messages are a byte stream that
//! its TCP cuts into segments anywhere: a message may be split over several segments, and one
//! segment may end one message and hold several more. [`SipStream`] is the per-connection state
//! that turns successive segments (with their sequence numbers) back into messages, each handed out
//! as one contiguous byte slice for [`super::sip::parse`] — in place when the message lies inside
//! one segment, from a carry buffer of `CAP` bytes (default [`CARRY`]) when it was split.
//!
//! ## Framing (RFC 3261 §7.5, §18.3, §20.14)
//! A message is a start line, header lines, an empty line (`CRLF CRLF`; a bare `LF LF` is accepted
//! as the parsers accept it) and exactly `Content-Length` (compact form `l`) body bytes; a message
//! without Content-Length has no body. CR and LF bytes before a start line are skipped (keep-alives,
//! RFC 5626 `CRLF CRLF` pings). A message whose start line is neither `SIP/2.0 ddd` nor
//! `token SP … SP SIP/2.0`, or whose Content-Length is malformed or given twice with two values,
//! cannot be framed: the stream is *lost* (below).
//!
//! ## Sequence numbers
//! The stream keeps `next_seq`, the sequence number of the next byte it expects (comparisons are
//! modulo 2³², as TCP's):
//! * a segment wholly before `next_seq` is a retransmission: ignored (`report.old`);
//! * a segment that starts before `next_seq` and goes past it: its first bytes are ignored
//!   (`report.overlap`), the rest is new;
//! * a segment after `next_seq` (a lost or reordered segment before it): the bytes between are a
//!   **gap** (`report.gap`). A gap inside a body whose end is known costs only that message's body:
//!   its head is handed out as [`Framed::Head`] with [`Cut::Gap`] and the next message is found at
//!   the known end. A gap anywhere else (between messages, in a header block, past a body's end)
//!   loses the framing. A segment that arrives after a later one was seen is a retransmission for
//!   the stream (never looked at again), so a reordered pair costs the earlier segment.
//!
//! ## States (in the field `state`)
//! ```text
//!              CR/LF skipped              no empty line yet: bytes copied to `buf`
//!   ┌──────────► Boundary ──────────────────────────────────────────────► Head
//!   │   (buf empty)  │ head + body in this segment:                         │ empty line found,
//!   │                │ Framed::Whole in place                               │ Content-Length read
//!   │                │ body goes on past it, head+body ≤ CAP: copied ─► Body ◄┘ (head+body ≤ CAP)
//!   │                │ head+body > CAP: Framed::Head(TooLong) ───────────► Skip { left }
//!   │                │                                                       ▲  (head+body > CAP)
//!   ├── Body complete: Framed::Whole from buf ◄── Body { head, total }       │
//!   ├── Skip: `left` body bytes passed over ◄────────────────────────────────┘
//!   │
//!   └── Lost ── a new segment (not an overlap) whose first bytes, CR/LF skipped, are a whole
//!               SIP start line with a standard method other than ACK (a segment cut after the
//!               "PR" of a PRACK starts with one), in capitals, or `SIP/2.0 ddd` (resync)
//!   To Lost: a gap outside a known body; a header block longer than CAP; a bad start line or
//!   Content-Length; a segment handed in before the previous one was drained; a new stream
//!   ([`SipStream::new`], [`SipStream::forget`]) until its first segment says where it is.
//! ```
//! Fields: `buf[..len]` the carried bytes of the message being framed (meaningful in Head and Body
//! only), `scanned` how much of them is known to hold no empty line, `next_seq`/`seq_known` the
//! expected sequence number, `pending` a head owed to the caller (a gap hit its body outside
//! [`Segment::next`]), `draining` whether a [`Segment`] is being read.
//!
//! ## Bounds
//! The carried state is at most `CAP` bytes ([`CARRY`] = 4096: the head and SDP body of an INVITE
//! are 0.5–2.5 KB; a page). What does not fit:
//! * a message split over segments whose head + body exceed `CAP`: its head is handed out
//!   ([`Framed::Head`], [`Cut::TooLong`]; the parser finds its Call-ID and reports its body as
//!   truncated), its body is skipped by its Content-Length — the stream stays in step;
//! * a header block longer than `CAP` not ending in its segment: the stream is lost (its end, hence
//!   its Content-Length, is unknown) until a segment starts with a start line.
//!
//! A message wholly inside one segment is handed out in place whatever its length. Work per
//! segment is linear: its bytes are scanned a bounded number of times, plus at most `CAP` bytes
//! once more (a carried head takes up to the buffer's room before its end is known, and hands the
//! bytes past it back to the segment); every loop is bounded; nothing allocates, panics or
//! overflows.
//!
//! ## Use (`sara.ko`'s hook, `Path::sip_tcp`; docs/decisions.md, "SIP over TCP")
//! The state does not fit the flow record (56 bytes): the kernel keeps a per-namespace pool of
//! streams made with the table (`kvmalloc`; [`super::super::streams`]), each slot tagged with the
//! connection's 5-tuple and session, behind its shard's lock (taken before, never inside, a table
//! shard's lock). A pool slot is a [`StreamMut`]: its [`Framing`] in one array, its buffer in a flat
//! carry array (no 4 KiB value is ever built on a kernel stack).
//! ```text
//! SYN opening a session of a TCP service with --sig sip:  streams.open(key, session,
//!                                                              |s| s.start(l4.tcp_seq))
//! later segment with payload, slot of key and session:    streams.with(key, session, |s| {
//!                                                              let mut seg = s.segment(
//!                                                                  l4.payload_seq(),
//!                                                                  l4.payload_len, // per headers
//!                                                                  linear_payload); // readable
//!                                                              while let Some(m) = seg.next() {
//!                                                                  apply(sip::parse(m.bytes())
//!                                                                    .and_then(|p| p.announce(..)))
//!                                                              }   // a BYE's session_end ignored
//!                                                              count(seg.report()) })
//! no slot (pool full at its SYN; met mid-stream):         a slot taken late, forget() first; if
//!                                                          none is free, the segment is inspected
//!                                                          alone, from its first byte
//! FIN/RST, session ended or its record gone:               slot freed (at once, or by the sweep)
//! ```
//! Data on a SYN (TCP Fast Open) begins at `isn + 1`: `start(isn)`, then `segment(isn + 1, …)`.

use super::sip::Method;
use super::text;

/// Default carry capacity of a [`SipStream`], in bytes (see the module docs, "Bounds").
pub const CARRY: usize = 4096;

/// Why only the head of a message is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cut {
    /// Head and body were longer than the carry buffer: the body was skipped by its Content-Length.
    TooLong,
    /// Bytes of its body were never seen (a gap): the next message is found at its known end.
    Gap,
    /// Its Content-Length is malformed or conflicting: its end is unknown, the stream is lost.
    BadLength,
}

/// One message found in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A whole message: start line, headers, empty line and its Content-Length body.
    Whole(&'a [u8]),
    /// Only the head of a message (start line to the empty line included), and why.
    Head(&'a [u8], Cut),
}

impl<'a> Framed<'a> {
    /// The bytes to parse (`sip::parse` reads a head alone as a message whose body is truncated).
    pub fn bytes(&self) -> &'a [u8] {
        match *self {
            Framed::Whole(b) | Framed::Head(b, _) => b,
        }
    }
}

/// What one segment did to its stream, for the caller's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Report {
    /// Whole messages handed out.
    pub messages: u32,
    /// Heads handed out ([`Framed::Head`]).
    pub heads: u32,
    /// The segment held no new byte (a retransmission, or a segment overtaken by a later one).
    pub old: bool,
    /// Bytes at its start already seen, ignored.
    pub overlap: u32,
    /// Bytes never seen: before the segment, or past what the caller could read of it.
    pub gap: u32,
    /// The framing was lost (0 or 1 per segment, 2 if a resync was lost again).
    pub desync: u32,
    /// The framing was found again at the segment's start.
    pub resynced: bool,
    /// Bytes passed over without being framed (while lost, or a body skipped as too long).
    pub skipped: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a message boundary: the next byte other than CR/LF starts a message.
    Boundary,
    /// `buf[..len]` holds the start of a message whose empty line has not been seen.
    Head,
    /// `buf[..len]` holds a message's head (`head` bytes) and part of its body; `total` in all.
    Body { head: usize, total: usize },
    /// `left` body bytes of a message not kept are still to come.
    Skip { left: u32 },
    /// Where messages begin is unknown: waiting for a segment that starts with a start line.
    Lost,
}

/// The framing state of one direction of one TCP connection (see the module docs), with its carry
/// buffer of `CAP` bytes. [`StreamMut`] is the same with the buffer kept elsewhere (the kernel's
/// pool keeps its streams' buffers in one array, and each stream's state in another).
#[derive(Debug, Clone)]
pub struct SipStream<const CAP: usize = CARRY> {
    buf: [u8; CAP],
    f: Framing,
}

impl<const CAP: usize> Default for SipStream<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> SipStream<CAP> {
    /// A stream met mid-connection: lost, its position taken from its first segment.
    pub const fn new() -> Self {
        SipStream {
            buf: [0; CAP],
            f: Framing::new(),
        }
    }

    /// The stream as a [`StreamMut`] (its state and its buffer).
    pub fn as_mut(&mut self) -> StreamMut<'_> {
        StreamMut {
            f: &mut self.f,
            buf: &mut self.buf,
        }
    }

    /// Restarts the stream at a SYN with sequence number `isn`: its data begins at `isn + 1`, with
    /// a message. In place (the buffer is not cleared: nothing reads it before it is written).
    pub fn start(&mut self, isn: u32) {
        self.f.start(isn);
    }

    /// Restarts the stream as [`SipStream::new`] does, in place: lost until a segment starts with a
    /// start line.
    pub fn forget(&mut self) {
        self.f.forget();
    }

    /// Whether the stream knows where its next message begins (not lost).
    pub fn in_step(&self) -> bool {
        self.f.in_step()
    }

    /// The sequence number of the next byte expected (meaningful once a segment or SYN was seen).
    pub fn next_seq(&self) -> u32 {
        self.f.next_seq
    }

    /// Bytes carried over now (≤ `CAP`).
    pub fn carried(&self) -> usize {
        self.f.carried()
    }

    /// Hands in a segment of `seg_len` payload bytes starting at sequence number `seq`, of which the
    /// caller can read `seen` (its first bytes; the rest is a gap at the segment's end). Read the
    /// messages with [`Segment::next`] until it returns `None`; a segment dropped before that leaves
    /// the stream lost at the next one.
    pub fn segment<'s, 'p>(
        &'s mut self,
        seq: u32,
        seg_len: usize,
        seen: &'p [u8],
    ) -> Segment<'s, 'p> {
        self.as_mut().segment(seq, seg_len, seen)
    }
}

/// A stream whose carry buffer is kept apart from its state: the state ([`Framing`]) and the buffer
/// (any length: the stream's capacity, `CAP` of [`SipStream`]), borrowed together for a while.
/// Behaves as a [`SipStream`] as long as it is given the same state and buffer every time.
#[derive(Debug)]
pub struct StreamMut<'a> {
    f: &'a mut Framing,
    buf: &'a mut [u8],
}

impl<'a> StreamMut<'a> {
    /// The stream of state `f` and carry buffer `buf`.
    pub fn new(f: &'a mut Framing, buf: &'a mut [u8]) -> Self {
        StreamMut { f, buf }
    }

    /// As [`SipStream::start`].
    pub fn start(&mut self, isn: u32) {
        self.f.start(isn);
    }

    /// As [`SipStream::forget`].
    pub fn forget(&mut self) {
        self.f.forget();
    }

    /// As [`SipStream::in_step`].
    pub fn in_step(&self) -> bool {
        self.f.in_step()
    }

    /// As [`SipStream::next_seq`].
    pub fn next_seq(&self) -> u32 {
        self.f.next_seq
    }

    /// As [`SipStream::carried`] (≤ the buffer's length).
    pub fn carried(&self) -> usize {
        self.f.carried()
    }

    /// As [`SipStream::segment`].
    pub fn segment<'p>(self, seq: u32, seg_len: usize, seen: &'p [u8]) -> Segment<'a, 'p> {
        self.f.segment(self.buf, seq, seg_len, seen)
    }
}

/// The state of a stream without its carry buffer (see [`StreamMut`]); a new one is lost, as
/// [`SipStream::new`]. Fields: see the module docs ("States").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    len: usize,
    scanned: usize,
    next_seq: u32,
    seq_known: bool,
    draining: bool,
    state: State,
    pending: Option<(usize, Cut)>,
}

impl Default for Framing {
    fn default() -> Self {
        Self::new()
    }
}

impl Framing {
    /// The state of a stream met mid-connection (lost).
    pub const fn new() -> Self {
        Framing {
            len: 0,
            scanned: 0,
            next_seq: 0,
            seq_known: false,
            draining: false,
            state: State::Lost,
            pending: None,
        }
    }

    fn start(&mut self, isn: u32) {
        self.reset(State::Boundary);
        self.next_seq = isn.wrapping_add(1);
        self.seq_known = true;
    }

    fn forget(&mut self) {
        self.reset(State::Lost);
        self.seq_known = false;
    }

    fn reset(&mut self, state: State) {
        self.state = state;
        self.len = 0;
        self.scanned = 0;
        self.draining = false;
        self.pending = None;
    }

    fn in_step(&self) -> bool {
        self.state != State::Lost
    }

    fn carried(&self) -> usize {
        match self.state {
            State::Head | State::Body { .. } => self.len,
            _ => 0,
        }
    }

    /// [`SipStream::segment`] with carry buffer `buf`.
    fn segment<'s, 'p>(
        &'s mut self,
        buf: &'s mut [u8],
        seq: u32,
        seg_len: usize,
        seen: &'p [u8],
    ) -> Segment<'s, 'p> {
        let mut report = Report::default();
        if self.draining {
            self.desync(&mut report);
        }
        let seg_len = u32::try_from(seg_len.max(seen.len())).unwrap_or(u32::MAX);
        let seen = seen
            .get(..usize::try_from(seg_len).unwrap_or(usize::MAX))
            .unwrap_or(seen);
        if !self.seq_known {
            self.next_seq = seq;
            self.seq_known = true;
        }
        let off = seq.wrapping_sub(self.next_seq);
        let (rest, new_len) = if off == 0 || off > 1 << 31 {
            // Starts at or before next_seq: `behind` bytes already seen.
            let behind = 0u32.wrapping_sub(off);
            if behind >= seg_len {
                report.old = seg_len > 0;
                return Segment::empty(self, buf, report);
            }
            report.overlap = behind;
            let skip = usize::try_from(behind).unwrap_or(usize::MAX);
            (
                seen.get(skip..).unwrap_or(&[]),
                seg_len.saturating_sub(behind),
            )
        } else {
            report.gap = off;
            self.lose(off, &mut report);
            (seen, seg_len)
        };
        if report.overlap == 0 && self.state == State::Lost && starts_message(rest) {
            self.state = State::Boundary;
            report.resynced = true;
        }
        self.next_seq = seq.wrapping_add(seg_len);
        let unseen = new_len.saturating_sub(u32::try_from(rest.len()).unwrap_or(u32::MAX));
        self.draining = true;
        Segment {
            s: self,
            buf,
            rest,
            unseen,
            report,
        }
    }

    fn desync(&mut self, report: &mut Report) {
        if self.state != State::Lost {
            report.desync = report.desync.saturating_add(1);
        }
        self.state = State::Lost;
        self.len = 0;
    }

    /// `n` bytes at the current position were never seen.
    fn lose(&mut self, n: u32, report: &mut Report) {
        if n == 0 {
            return;
        }
        let n_us = usize::try_from(n).unwrap_or(usize::MAX);
        match self.state {
            State::Lost => {}
            State::Boundary | State::Head => self.desync(report),
            State::Skip { left } => {
                if n <= left {
                    self.state = match left.saturating_sub(n) {
                        0 => State::Boundary,
                        l => State::Skip { left: l },
                    };
                } else {
                    self.desync(report);
                }
            }
            State::Body { head, total } => {
                let need = total.saturating_sub(self.len);
                self.pending = Some((head, Cut::Gap));
                if n_us < need {
                    let left = u32::try_from(need.saturating_sub(n_us)).unwrap_or(u32::MAX);
                    self.state = State::Skip { left };
                } else if n_us == need {
                    self.state = State::Boundary;
                } else {
                    self.desync(report);
                }
            }
        }
    }
}

/// One segment being read (see [`SipStream::segment`]).
#[derive(Debug)]
pub struct Segment<'s, 'p> {
    s: &'s mut Framing,
    /// The stream's carry buffer (its length is the stream's capacity).
    buf: &'s mut [u8],
    rest: &'p [u8],
    unseen: u32,
    report: Report,
}

/// What one step of [`Segment::next`] found.
enum Step<'p> {
    /// Go on.
    Again,
    /// The segment is used up.
    End,
    /// A message inside the segment.
    InPlace(Framed<'p>),
    /// `buf[..n]`: a whole message (`None`) or a head.
    Carried(usize, Option<Cut>),
}

/// Why a complete head cannot be framed.
enum Unframable {
    /// Not a SIP start line.
    NotSip,
    /// Bad or conflicting Content-Length.
    BadLength,
}

impl<'s, 'p> Segment<'s, 'p> {
    fn empty(s: &'s mut Framing, buf: &'s mut [u8], report: Report) -> Self {
        // A retransmission leaves the stream as it was (a pending head is handed out now).
        s.draining = true;
        Segment {
            s,
            buf,
            rest: &[],
            unseen: 0,
            report,
        }
    }

    /// What this segment did so far (complete once [`Segment::next`] has returned `None`).
    pub fn report(&self) -> Report {
        self.report
    }

    /// The next message of the segment, or `None` when every byte of it has been used (the carried
    /// part of a message that goes on in the next segment stays in the stream).
    #[allow(clippy::should_implement_trait)] // a lending iterator: the message may borrow the stream
    pub fn next(&mut self) -> Option<Framed<'_>> {
        // Each step consumes bytes of `rest` (or the unseen tail) or ends: bounded by the segment's
        // length.
        loop {
            match self.step() {
                Step::Again => {}
                Step::End => return None,
                Step::InPlace(m) => return Some(m),
                Step::Carried(n, cut) => {
                    let b = self.buf.get(..n).unwrap_or(&[]);
                    return Some(cut.map_or(Framed::Whole(b), |c| Framed::Head(b, c)));
                }
            }
        }
    }

    /// One step of [`Segment::next`]; never returns a borrow of the stream (the caller makes it).
    fn step(&mut self) -> Step<'p> {
        if let Some((n, cut)) = self.s.pending.take() {
            self.report.heads = self.report.heads.saturating_add(1);
            return Step::Carried(n, Some(cut));
        }
        if self.rest.is_empty() {
            if self.unseen > 0 {
                let u = core::mem::take(&mut self.unseen);
                self.report.gap = self.report.gap.saturating_add(u);
                self.s.lose(u, &mut self.report);
                return Step::Again; // hands out the head the gap may have cut
            }
            self.s.draining = false;
            return Step::End;
        }
        match self.s.state {
            State::Lost => {
                let n = u32::try_from(self.rest.len()).unwrap_or(u32::MAX);
                self.report.skipped = self.report.skipped.saturating_add(n);
                self.rest = &[];
                Step::Again
            }
            State::Skip { left } => {
                let n = self
                    .rest
                    .len()
                    .min(usize::try_from(left).unwrap_or(usize::MAX));
                self.rest = self.rest.get(n..).unwrap_or(&[]);
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                self.report.skipped = self.report.skipped.saturating_add(n);
                self.s.state = match left.saturating_sub(n) {
                    0 => State::Boundary,
                    l => State::Skip { left: l },
                };
                Step::Again
            }
            State::Boundary => {
                let k = self
                    .rest
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                    .unwrap_or(self.rest.len());
                self.rest = self.rest.get(k..).unwrap_or(&[]);
                if self.rest.is_empty() {
                    return Step::Again;
                }
                self.at_boundary().map_or(Step::Again, Step::InPlace)
            }
            State::Head => self
                .in_head()
                .map_or(Step::Again, |(n, cut)| Step::Carried(n, cut)),
            State::Body { head: _, total } => {
                let s = &mut *self.s;
                let need = total.saturating_sub(s.len);
                let k = need.min(self.rest.len());
                let (take, after) = self.rest.split_at_checked(k).unwrap_or((self.rest, &[]));
                let end = s.len.saturating_add(k);
                if let Some(d) = self.buf.get_mut(s.len..end) {
                    d.copy_from_slice(take);
                }
                s.len = end;
                self.rest = after;
                if s.len < total {
                    return Step::Again;
                }
                s.state = State::Boundary;
                self.report.messages = self.report.messages.saturating_add(1);
                Step::Carried(total, None)
            }
        }
    }

    /// Boundary state, `rest` starts with a byte other than CR/LF: frame in place, or carry.
    fn at_boundary(&mut self) -> Option<Framed<'p>> {
        let rest = self.rest;
        let Some(h) = head_end(rest, 0) else {
            if rest.len() >= self.buf.len() {
                self.s.desync(&mut self.report);
            } else {
                let s = &mut *self.s;
                if let Some(d) = self.buf.get_mut(..rest.len()) {
                    d.copy_from_slice(rest);
                }
                s.len = rest.len();
                s.scanned = rest.len();
                s.state = State::Head;
            }
            self.rest = &[];
            return None;
        };
        let head = rest.get(..h).unwrap_or(rest);
        let cl = match frame(head) {
            Ok(cl) => cl,
            Err(e) => return self.unframable(e, head),
        };
        let body_here = rest.len().saturating_sub(h);
        match h.checked_add(usize::try_from(cl).unwrap_or(usize::MAX)) {
            Some(total) if total <= rest.len() => {
                self.rest = rest.get(total..).unwrap_or(&[]);
                self.report.messages = self.report.messages.saturating_add(1);
                Some(Framed::Whole(rest.get(..total).unwrap_or(rest)))
            }
            Some(total) if total <= self.buf.len() => {
                let s = &mut *self.s;
                if let Some(d) = self.buf.get_mut(..rest.len()) {
                    d.copy_from_slice(rest);
                }
                s.len = rest.len();
                s.state = State::Body { head: h, total };
                self.rest = &[];
                None
            }
            _ => {
                self.rest = &[];
                self.too_long(cl, body_here);
                Some(Framed::Head(head, Cut::TooLong))
            }
        }
    }

    /// Head state: carry more of the head, frame it once its empty line is there. Returns the
    /// length of `buf`'s prefix to hand out and whether it is a head only (the caller makes the
    /// slice: a borrow made here could not be given back conditionally inside `next`'s loop).
    fn in_head(&mut self) -> Option<(usize, Option<Cut>)> {
        let s = &mut *self.s;
        let room = self.buf.len().saturating_sub(s.len);
        let k = room.min(self.rest.len());
        let old = s.len;
        let end = old.saturating_add(k);
        if let (Some(d), Some(src)) = (self.buf.get_mut(old..end), self.rest.get(..k)) {
            d.copy_from_slice(src);
        }
        s.len = end;
        let found = head_end(
            self.buf.get(..end).unwrap_or(&[]),
            s.scanned.saturating_sub(3),
        );
        let Some(h) = found else {
            s.scanned = end;
            self.rest = self.rest.get(k..).unwrap_or(&[]);
            if end >= self.buf.len() {
                self.s.desync(&mut self.report);
            }
            return None;
        };
        // The empty line ends in the new bytes (h > old): they are this message's up to h at least.
        let cl = match frame(self.buf.get(..h).unwrap_or(&[])) {
            Ok(cl) => cl,
            Err(e) => {
                self.rest = &[];
                self.s.desync(&mut self.report);
                return match e {
                    Unframable::NotSip => None,
                    Unframable::BadLength => {
                        self.report.heads = self.report.heads.saturating_add(1);
                        Some((h, Some(Cut::BadLength)))
                    }
                };
            }
        };
        match h.checked_add(usize::try_from(cl).unwrap_or(usize::MAX)) {
            Some(total) if total <= end => {
                // Bytes past the message's end belong to the next one: give them back.
                let back = end.saturating_sub(total);
                self.rest = self.rest.get(k.saturating_sub(back)..).unwrap_or(&[]);
                s.len = total;
                s.state = State::Boundary;
                self.report.messages = self.report.messages.saturating_add(1);
                Some((total, None))
            }
            Some(total) if total <= self.buf.len() => {
                self.rest = self.rest.get(k..).unwrap_or(&[]);
                s.state = State::Body { head: h, total };
                None
            }
            _ => {
                self.rest = self.rest.get(k..).unwrap_or(&[]);
                self.too_long(cl, end.saturating_sub(h));
                Some((h, Some(Cut::TooLong)))
            }
        }
    }

    /// A message too long to carry whose first `body_here` body bytes have been used (and taken off
    /// `rest` by the caller): skip the rest of its body.
    fn too_long(&mut self, cl: u32, body_here: usize) {
        let here = u32::try_from(body_here).unwrap_or(u32::MAX);
        self.report.skipped = self.report.skipped.saturating_add(here);
        self.report.heads = self.report.heads.saturating_add(1);
        self.s.state = match cl.saturating_sub(here) {
            0 => State::Boundary,
            left => State::Skip { left },
        };
    }

    /// A complete head in place that cannot be framed: the stream is lost.
    fn unframable(&mut self, e: Unframable, head: &'p [u8]) -> Option<Framed<'p>> {
        self.s.desync(&mut self.report);
        self.rest = &[];
        match e {
            Unframable::NotSip => None,
            Unframable::BadLength => {
                self.report.heads = self.report.heads.saturating_add(1);
                Some(Framed::Head(head, Cut::BadLength))
            }
        }
    }
}

/// The end of the head of the message at the start of `buf` (just past its empty line: `LF LF` or
/// `LF CR LF`), searching from `from`. `buf` starts with a byte other than CR/LF, so the first LF
/// ends the start line and an empty line cannot be the first line.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    let mut at = from;
    for w in tail.windows(2) {
        // `w` = buf[at], buf[at + 1]
        if w.first() == Some(&b'\n') {
            match w.get(1) {
                Some(b'\n') => return at.checked_add(2),
                Some(b'\r') if buf.get(at.saturating_add(2)) == Some(&b'\n') => {
                    return at.checked_add(3)
                }
                _ => {}
            }
        }
        at = at.saturating_add(1);
    }
    None
}

/// The Content-Length of a complete head (0 when absent), or why it cannot be framed.
fn frame(head: &[u8]) -> Result<u32, Unframable> {
    let Some((line, true, headers)) = text::next_line(head) else {
        return Err(Unframable::NotSip);
    };
    if !start_line(line, false) {
        return Err(Unframable::NotSip);
    }
    let mut cl: Option<u32> = None;
    for h in text::Headers::new(headers, true) {
        if h.is(&[b"Content-Length", b"l"]) {
            let n = text::parse_u32(h.value).ok_or(Unframable::BadLength)?;
            if cl.is_some_and(|old| old != n) {
                return Err(Unframable::BadLength);
            }
            cl = Some(n);
        }
    }
    Ok(cl.unwrap_or(0))
}

/// Whether `line` (without its line end) is a SIP start line: `SIP/2.0 ddd …` or
/// `METHOD SP Request-URI SP SIP/2.0`. `strict` (a resync, where a false start would frame garbage):
/// the line must start the segment's bytes (no leading whitespace), the method must be a standard
/// one other than ACK, in capitals, the URI must not be empty, and a response must be written
/// exactly `SIP/2.0 ddd`.
fn start_line(line: &[u8], strict: bool) -> bool {
    if strict && line.first().is_none_or(|&b| text::is_lws(b)) {
        return false; // a continuation line, or nothing
    }
    if text::starts_with_nocase(line, b"SIP/") {
        let (version, rest) = text::split_ws(line);
        let (code, _) = text::split_ws(rest);
        let exact = !strict || line.starts_with(b"SIP/2.0 ");
        return exact
            && text::eq_nocase(version, b"SIP/2.0")
            && code.len() == 3
            && code.iter().all(u8::is_ascii_digit);
    }
    let (method, rest) = text::split_ws(line);
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(b);
    if method.is_empty() || !method.iter().all(token) {
        return false;
    }
    let rest = text::trim(rest);
    if !text::ends_with_nocase(rest, b"SIP/2.0") {
        return false;
    }
    if !strict {
        return true;
    }
    let uri = rest.get(..rest.len().saturating_sub(7)).unwrap_or(&[]);
    // ACK is no resync point: a segment cut after the "PR" of a PRACK starts with one.
    rest.ends_with(b" SIP/2.0")
        && method.iter().all(u8::is_ascii_uppercase)
        && !matches!(Method::from_token(method), Method::Other | Method::Ack)
        && !text::trim(uri).is_empty()
}

/// Whether a segment (after CR/LF) starts with a whole strict start line: a resync point.
fn starts_message(seg: &[u8]) -> bool {
    let k = seg
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(seg.len());
    let seg = seg.get(k..).unwrap_or(&[]);
    matches!(text::next_line(seg), Some((line, true, _)) if start_line(line, true))
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
