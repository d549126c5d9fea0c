//! Tolerant text helpers shared by the RTSP, SIP, SDP and FTP parsers.
//!
//! Every helper works on borrowed bytes (no copies, no allocation) and never panics. Lines end with a
//! LF; a CR just before it is dropped (so CRLF and bare LF both work; a bare CR is not a line end).
//!
//! Header blocks ([`split_message`], [`Headers`]) follow RFC 822 style as RTSP and SIP use it:
//! `Name: value` lines, case-insensitive names, optional whitespace around the colon, continuation
//! lines starting with a space or a tab (folding), and an empty line before the body.
//!
//! Bounds: a message is looked at through its first [`MAX_SCAN`] bytes only, and its header block may
//! hold at most [`MAX_LINES`] lines (continuation lines included); every loop here is bounded by one of
//! these two numbers.

use super::Reason;

/// At most this many bytes of a payload are looked at (header block and body).
pub const MAX_SCAN: usize = 8192;
/// At most this many lines in a header block (start line and continuation lines included).
pub const MAX_LINES: usize = 128;

/// An IPv4 address as its four bytes in network order (`[192, 0, 2, 1]` is 192.0.2.1).
pub type Ipv4 = [u8; 4];

/// A message cut into start line, header block and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// The start line without its line end (may be unterminated when `start_complete` is false).
    pub start: &'a [u8],
    /// Whether the start line ended with a LF.
    pub start_complete: bool,
    /// The header lines after the start line, up to (not including) the empty line; when the empty
    /// line was not found, everything after the start line that was looked at.
    pub head: &'a [u8],
    /// The bytes after the empty line (within the first [`MAX_SCAN`] bytes), or `None` if the header
    /// block is not complete in what was looked at.
    pub body: Option<&'a [u8]>,
    /// Whether the payload was longer than [`MAX_SCAN`] bytes (so `head`/`body` were cut).
    pub clipped: bool,
}

impl<'a> Message<'a> {
    /// Whether the whole header block (up to the empty line) is present.
    pub fn headers_complete(&self) -> bool {
        self.body.is_some()
    }

    /// The headers of this message, folded lines joined (see [`Headers`]).
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.head, self.body.is_some())
    }

    /// The reason to give when something needed is missing from the header block: `TooLong` if the
    /// payload was cut at [`MAX_SCAN`], `Truncated` if the header block ended early, `None` if the header
    /// block is complete (the thing is just absent).
    pub fn missing_reason(&self) -> Option<Reason> {
        if self.body.is_some() {
            None
        } else if self.clipped {
            Some(Reason::TooLong)
        } else {
            Some(Reason::Truncated)
        }
    }
}

/// Splits a payload into start line, header block and body.
///
/// Looks at the first [`MAX_SCAN`] bytes only. Fails with [`Reason::Truncated`] if the payload is
/// empty, and with [`Reason::TooLong`] if the header block has more than [`MAX_LINES`] lines. A header
/// block that does not end within the bytes looked at is not an error: `body` is then `None` and
/// [`Headers`] yields only the headers known to be complete.
pub fn split_message(payload: &[u8]) -> Result<Message<'_>, Reason> {
    let clipped = payload.len() > MAX_SCAN;
    let view = payload.get(..MAX_SCAN).unwrap_or(payload);
    if view.is_empty() {
        return Err(Reason::Truncated);
    }
    let (start, start_complete, after_start) = match next_line(view) {
        Some(l) => l,
        None => return Err(Reason::Truncated),
    };
    let mut rest = after_start;
    let mut lines: usize = 1;
    // Each pass consumes one line; MAX_LINES bounds the passes.
    while let Some((line, terminated, next)) = next_line(rest) {
        lines = lines.saturating_add(1);
        if lines > MAX_LINES {
            return Err(Reason::TooLong);
        }
        if !terminated {
            break;
        }
        if line.is_empty() {
            let used = after_start.len().saturating_sub(rest.len());
            let head = after_start.get(..used).unwrap_or(after_start);
            return Ok(Message {
                start,
                start_complete,
                head,
                body: Some(next),
                clipped,
            });
        }
        rest = next;
    }
    // Ran out of bytes before the empty line: the header block is incomplete.
    Ok(Message {
        start,
        start_complete,
        head: after_start,
        body: None,
        clipped,
    })
}

/// Splits off the first line of `buf`: `(line without CR/LF, ended with LF, rest after the LF)`.
/// `None` if `buf` is empty.
pub fn next_line(buf: &[u8]) -> Option<(&[u8], bool, &[u8])> {
    if buf.is_empty() {
        return None;
    }
    match buf.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let (line, rest) = buf.split_at_checked(i)?;
            let rest = rest.get(1..).unwrap_or(&[]);
            Some((strip_cr(line), true, rest))
        }
        None => Some((buf, false, &[])),
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// One header: its name (trimmed) and its value (trimmed; a folded value keeps its inner line ends,
/// which every value parser here treats as whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Header name as written (compare with [`eq_nocase`]).
    pub name: &'a [u8],
    /// Header value, trimmed, continuation lines included.
    pub value: &'a [u8],
}

impl Header<'_> {
    /// Whether the header's name is one of `names` (case-insensitive).
    pub fn is(&self, names: &[&[u8]]) -> bool {
        names.iter().any(|n| eq_nocase(self.name, n))
    }
}

/// Iterator over the headers of a header block, joining continuation lines.
///
/// Lines without a colon are skipped. When the header block is incomplete (the payload ends inside
/// it), a header is yielded only if the line after it has started and is not a continuation line: the
/// last header before the cut could still continue, so it is held back and [`Headers::held_back`] is
/// set.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a [u8],
    complete: bool,
    held_back: bool,
}

impl<'a> Headers<'a> {
    /// Headers of `head`; `complete` says whether the block ended with its empty line.
    pub fn new(head: &'a [u8], complete: bool) -> Self {
        Headers {
            rest: head,
            complete,
            held_back: false,
        }
    }

    /// Whether iteration stopped at a header that may continue past the end of the payload.
    pub fn held_back(&self) -> bool {
        self.held_back
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        // The block has at most MAX_LINES lines (split_message checked), so this loop is bounded.
        loop {
            let start = self.rest;
            let (line, terminated, mut rest) = next_line(start)?;
            if !terminated && !self.complete {
                self.held_back = true;
                self.rest = &[];
                return None;
            }
            // Continuation lines: the next line starts with SP or HT.
            while let Some(&b) = rest.first() {
                if b != b' ' && b != b'\t' {
                    break;
                }
                match next_line(rest) {
                    Some((_, true, r)) => rest = r,
                    _ => {
                        if !self.complete {
                            self.held_back = true;
                            self.rest = &[];
                            return None;
                        }
                        rest = &[];
                    }
                }
            }
            if rest.is_empty() && !self.complete {
                // Nothing after this header: it may continue in the next segment.
                self.held_back = true;
                self.rest = &[];
                return None;
            }
            self.rest = rest;
            let used = start.len().saturating_sub(rest.len());
            let whole = start.get(..used).unwrap_or(start);
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = whole.split_at_checked(colon)?;
            let value = value.get(1..).unwrap_or(&[]);
            let name = trim(name);
            if name.is_empty() || name.iter().any(|&b| b == b' ' || b == b'\t') {
                continue;
            }
            return Some(Header {
                name,
                value: trim(value),
            });
        }
    }
}

/// Trims ASCII whitespace (SP, HT, CR, LF, FF) from both ends.
pub fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// Case-insensitive ASCII equality.
pub fn eq_nocase(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Whether `s` starts with `prefix`, ignoring ASCII case.
pub fn starts_with_nocase(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Whether `s` ends with `suffix`, ignoring ASCII case.
pub fn ends_with_nocase(s: &[u8], suffix: &[u8]) -> bool {
    s.len()
        .checked_sub(suffix.len())
        .and_then(|at| s.get(at..))
        .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
}

/// Whether `b` is linear whitespace (SP, HT, CR, LF).
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits at the first `sep`: `(before, after)`, or `None` if `sep` does not occur.
pub fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    let (a, b) = s.split_at_checked(i)?;
    Some((a, b.get(1..).unwrap_or(&[])))
}

/// Splits at the first run of linear whitespace: `(first token, rest with leading whitespace removed)`.
pub fn split_ws(s: &[u8]) -> (&[u8], &[u8]) {
    let s = trim(s);
    match s.iter().position(|&b| is_lws(b)) {
        Some(i) => match s.split_at_checked(i) {
            Some((a, b)) => (a, trim(b)),
            None => (s, &[]),
        },
        None => (s, &[]),
    }
}

/// Parses an unsigned decimal number (ASCII digits only, surrounding whitespace allowed); `None` on an
/// empty field, a non-digit or overflow.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    let s = trim(s);
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v
            .checked_mul(10)?
            .checked_add(u32::from(b.wrapping_sub(b'0')))?;
    }
    Some(v)
}

/// Parses a decimal number that fits a `u16`.
pub fn parse_u16(s: &[u8]) -> Option<u16> {
    parse_u32(s).and_then(|v| u16::try_from(v).ok())
}

/// Parses a decimal number that fits a `u8`.
pub fn parse_u8(s: &[u8]) -> Option<u8> {
    parse_u32(s).and_then(|v| u8::try_from(v).ok())
}

/// Parses a port: a decimal number in 1..=65535.
pub fn parse_port(s: &[u8]) -> Option<u16> {
    parse_u16(s).filter(|&p| p != 0)
}

/// Parses a dotted-quad IPv4 address (`a.b.c.d`, each 0..=255, surrounding whitespace allowed).
pub fn parse_ipv4(s: &[u8]) -> Option<Ipv4> {
    let s = trim(s);
    if s.len() > 15 {
        return None;
    }
    let mut out = [0u8; 4];
    let mut parts = s.split(|&b| b == b'.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *slot = parse_u8(p)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b" 42 "), Some(42));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"4294967296"), None);
        assert_eq!(parse_u32(b"99999999999999999999999"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b"1\x002"), None);
        assert_eq!(parse_port(b"0"), None);
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(parse_port(b"65536"), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_ipv4(b"192.0.2.1"), Some([192, 0, 2, 1]));
        assert_eq!(parse_ipv4(b"010.0.0.1"), Some([10, 0, 0, 1]));
        assert_eq!(parse_ipv4(b"256.0.0.1"), None);
        assert_eq!(parse_ipv4(b"1.2.3"), None);
        assert_eq!(parse_ipv4(b"1.2.3.4.5"), None);
        assert_eq!(parse_ipv4(b"1..3.4"), None);
        assert_eq!(parse_ipv4(b"host.example.com"), None);
    }

    #[test]
    fn split_and_fold() {
        let m = split_message(b"START\r\nA: 1\r\nB:\r\n  two\r\n\tlines\r\nc :3\n\nbody").unwrap();
        assert_eq!(m.start, b"START");
        assert_eq!(m.body, Some(&b"body"[..]));
        let h: std::vec::Vec<_> = m.headers().collect();
        assert_eq!(h.len(), 3);
        assert_eq!(h[0].value, b"1");
        assert_eq!(h[1].value, b"two\r\n\tlines");
        assert_eq!(h[2].name, b"c");
        assert_eq!(h[2].value, b"3");
    }

    #[test]
    fn partial_block_holds_back_last_header() {
        // The last complete line may still be folded: held back.
        let m = split_message(b"START\r\nA: 1\r\nB: 2\r\n").unwrap();
        assert!(!m.headers_complete());
        let mut it = m.headers();
        assert_eq!(it.next().map(|h| h.value), Some(&b"1"[..]));
        assert_eq!(it.next(), None);
        assert!(it.held_back());
        // Once the next line has begun (and is not a continuation), B is complete.
        let m = split_message(b"START\r\nA: 1\r\nB: 2\r\nC: 3").unwrap();
        let v: std::vec::Vec<_> = m.headers().map(|h| h.value).collect();
        assert_eq!(v, [&b"1"[..], b"2"]);
        // Cut inside a continuation.
        let m = split_message(b"START\r\nA: 1\r\n x").unwrap();
        assert_eq!(m.headers().count(), 0);
    }

    #[test]
    fn too_many_lines() {
        let mut v = std::vec::Vec::new();
        v.extend_from_slice(b"START\r\n");
        for _ in 0..MAX_LINES {
            v.extend_from_slice(b"X: y\r\n");
        }
        v.extend_from_slice(b"\r\n");
        assert_eq!(split_message(&v), Err(Reason::TooLong));
    }
}
