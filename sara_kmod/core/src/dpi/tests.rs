//! DPI tests on real-world samples (`testdata/`) and on malformed and adversarial input.
//!
//! Samples are stored with LF line ends; [`crlf`] sends them as the tools do (CRLF), [`bare_lf`] as
//! sloppy senders do (bare LF, Content-Length removed so the body runs to the end of the datagram).

extern crate std;

use std::string::String;
use std::vec::Vec;

use super::ftp::{self, Ftp};
use super::rtsp::{
    self, Delivery, Lower, Method as RtspMethod, PortRange, Profile, Start as RtspStart,
};
use super::sdp::{self, Conn, MediaDirection, MediaKind, MediaProto};
use super::sip::{self, Method as SipMethod, Start as SipStart};
use super::text;
use super::*;

macro_rules! sample {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/", $path)).as_slice()
    };
}

fn crlf(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 64);
    for &b in s {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn bare_lf(s: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(s.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let l = line.to_ascii_lowercase();
        if l.starts_with("content-length") || l.starts_with("l:") {
            continue;
        }
        out.push_str(line);
    }
    out.into_bytes()
}

fn ip(s: &str) -> Ipv4 {
    text::parse_ipv4(s.as_bytes()).unwrap()
}

fn ep(addr: Option<&str>, port: Option<u16>) -> Endpoint {
    Endpoint {
        addr: addr.map(ip),
        port,
    }
}

fn udp(client: Endpoint, server: Endpoint, index: u8, rtcp: bool) -> AnnouncedFlow {
    AnnouncedFlow {
        proto: PROTO_UDP,
        client,
        server,
        index,
        rtcp,
    }
}

/// Both line-end forms of an RTSP sample must give the same result.
fn rtsp_both(s: &[u8]) -> Result<Announcement, Reason> {
    let a = inspect(Sig::Rtsp, Direction::FromClient, &crlf(s));
    let b = inspect(Sig::Rtsp, Direction::FromClient, &bare_lf(s));
    assert_eq!(a, b);
    a
}

fn sip_both(s: &[u8], dir: Direction) -> Result<Announcement, Reason> {
    let a = inspect(Sig::Sip, dir, &crlf(s));
    let b = inspect(Sig::Sip, dir, &bare_lf(s));
    assert_eq!(a, b);
    a
}

// ---------------------------------------------------------------------------------------------
// RTSP

#[test]
fn rtsp_rfc2326_setup_and_folded_reply() {
    let m = crlf(sample!("rtsp/rfc2326-10.4-setup.txt"));
    let msg = rtsp::parse(&m).unwrap();
    assert_eq!(msg.start, RtspStart::Request(RtspMethod::Setup));
    assert_eq!(msg.cseq, Some(302));
    let spec = msg.transports.specs()[0];
    assert_eq!(
        spec.client_port,
        Some(PortRange {
            first: 4588,
            last: 4589
        })
    );
    assert_eq!(spec.delivery, Delivery::Unicast);
    assert_eq!(spec.profile, Profile::RtpAvp);
    assert_eq!(spec.lower, Lower::Udp);
    let a = rtsp_both(sample!("rtsp/rfc2326-10.4-setup.txt")).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, Some(4588)), ep(None, None), 0, false),
            udp(ep(None, Some(4589)), ep(None, None), 0, true)
        ]
    );
    assert!(!a.session_end);

    // The reply's Transport header is folded over two lines in the RFC.
    let m = crlf(sample!("rtsp/rfc2326-10.4-setup-reply.txt"));
    let msg = rtsp::parse(&m).unwrap();
    assert_eq!(msg.start, RtspStart::Reply(200));
    assert_eq!(msg.session, Some(&b"47112344"[..]));
    let spec = msg.transports.specs()[0];
    assert_eq!(
        spec.server_port,
        Some(PortRange {
            first: 6256,
            last: 6257
        })
    );
    let a = rtsp_both(sample!("rtsp/rfc2326-10.4-setup-reply.txt")).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, Some(4588)), ep(None, Some(6256)), 0, false),
            udp(ep(None, Some(4589)), ep(None, Some(6257)), 0, true)
        ]
    );
}

#[test]
fn rtsp_rfc2326_teardown_play_interleaved() {
    let a = rtsp_both(sample!("rtsp/rfc2326-10.7-teardown.txt")).unwrap();
    assert!(a.session_end);
    assert!(a.flows().is_empty());
    let m = crlf(sample!("rtsp/rfc2326-10.7-teardown.txt"));
    assert_eq!(rtsp::parse(&m).unwrap().cseq, Some(892));

    assert_eq!(
        rtsp_both(sample!("rtsp/rfc2326-14.1-play.txt")),
        Err(Reason::NoAnnouncement)
    );

    assert_eq!(
        rtsp_both(sample!("rtsp/rfc2326-10.12-setup-interleaved.txt")),
        Err(Reason::Interleaved)
    );
    let m = crlf(sample!("rtsp/rfc2326-10.12-setup-interleaved.txt"));
    let spec = rtsp::parse(&m).unwrap().transports.specs()[0];
    assert_eq!(spec.interleaved, Some((0, 1)));
    assert_eq!(spec.lower, Lower::Tcp);
    assert_eq!(
        rtsp_both(sample!("rtsp/ffmpeg-setup-tcp.txt")),
        Err(Reason::Interleaved)
    );
}

#[test]
fn rtsp_rfc2326_alternatives_and_media_on_demand() {
    // A folded list of two specs: multicast (no unicast flow) and unicast.
    let m = crlf(sample!("rtsp/rfc2326-12.39-setup-alternatives.txt"));
    let msg = rtsp::parse(&m).unwrap();
    let specs = msg.transports.specs();
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].delivery, Delivery::Multicast);
    assert_eq!(
        specs[1].client_port,
        Some(PortRange {
            first: 3456,
            last: 3457
        })
    );
    let a = rtsp_both(sample!("rtsp/rfc2326-12.39-setup-alternatives.txt")).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, Some(3456)), ep(None, None), 1, false),
            udp(ep(None, Some(3457)), ep(None, None), 1, true)
        ]
    );

    let a = rtsp_both(sample!("rtsp/rfc2326-14.1-setup-reply.txt")).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, Some(3056)), ep(None, Some(5000)), 0, false),
            udp(ep(None, Some(3057)), ep(None, Some(5001)), 0, true)
        ]
    );
}

#[test]
fn rtsp_tool_requests() {
    for (s, port, cseq) in [
        (sample!("rtsp/ffmpeg-setup.txt"), 27998, 3),
        (sample!("rtsp/ffmpeg-setup-second-track.txt"), 28000, 4),
        (sample!("rtsp/live555-openrtsp-setup.txt"), 52446, 4),
        (sample!("rtsp/vlc-setup.txt"), 56470, 4),
    ] {
        let a = rtsp_both(s).unwrap();
        assert_eq!(
            a.flows(),
            [
                udp(ep(None, Some(port)), ep(None, None), 0, false),
                udp(ep(None, Some(port + 1)), ep(None, None), 0, true)
            ]
        );
        assert_eq!(rtsp::parse(&crlf(s)).unwrap().cseq, Some(cseq));
    }
    let m = crlf(sample!("rtsp/ffmpeg-setup-second-track.txt"));
    assert_eq!(
        rtsp::parse(&m).unwrap().session,
        Some(&b"9Uv8a0cGyAGd7Sk6"[..])
    );
    let m = crlf(sample!("rtsp/ffmpeg-setup.txt"));
    assert_eq!(
        rtsp::parse(&m).unwrap().transports.specs()[0].lower,
        Lower::Udp
    );
}

#[test]
fn rtsp_server_replies() {
    let m = crlf(sample!("rtsp/live555-server-setup-reply.txt"));
    let msg = rtsp::parse(&m).unwrap();
    assert_eq!(msg.session, Some(&b"5C4A0C1E"[..]));
    assert_eq!(msg.session_timeout, Some(65));
    let spec = msg.transports.specs()[0];
    assert_eq!(spec.source, Some(ip("192.0.2.10")));
    assert_eq!(spec.destination, Some(ip("198.51.100.7")));
    let a = rtsp_both(sample!("rtsp/live555-server-setup-reply.txt")).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(
                ep(Some("198.51.100.7"), Some(52446)),
                ep(Some("192.0.2.10"), Some(6970)),
                0,
                false
            ),
            udp(
                ep(Some("198.51.100.7"), Some(52447)),
                ep(Some("192.0.2.10"), Some(6971)),
                0,
                true
            ),
        ]
    );

    let a = rtsp_both(sample!("rtsp/gst-rtsp-server-setup-reply.txt")).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, Some(27998)), ep(None, Some(52814)), 0, false),
            udp(ep(None, Some(27999)), ep(None, Some(52815)), 0, true),
        ]
    );
    let m = crlf(sample!("rtsp/gst-rtsp-server-setup-reply.txt"));
    assert_eq!(rtsp::parse(&m).unwrap().session_timeout, Some(60));

    assert_eq!(
        rtsp_both(sample!("rtsp/gst-rtsp-server-options-reply.txt")),
        Err(Reason::NoAnnouncement)
    );
    assert_eq!(
        rtsp_both(sample!("rtsp/gst-rtsp-server-461.txt")),
        Err(Reason::NoAnnouncement)
    );
}

#[test]
fn rtsp_partial_first_segment() {
    let full = crlf(sample!("rtsp/live555-openrtsp-setup.txt"));
    let want = inspect(Sig::Rtsp, Direction::FromClient, &full).unwrap();
    // Every cut: either the same answer, or Truncated; never a different port.
    for cut in 0..full.len() {
        match inspect(Sig::Rtsp, Direction::FromClient, &full[..cut]) {
            Ok(a) => assert_eq!(a, want, "cut at {cut}"),
            Err(r) => assert_eq!(r, Reason::Truncated, "cut at {cut}"),
        }
    }
    // Cut right after the Transport line: it could still be folded, so it is held back…
    let at = full.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 2;
    assert_eq!(
        inspect(Sig::Rtsp, Direction::FromClient, &full[..at]),
        Err(Reason::Truncated)
    );
    // …until the next line has started.
    let mut more = full[..at].to_vec();
    more.extend_from_slice(b"Ses");
    assert_eq!(inspect(Sig::Rtsp, Direction::FromClient, &more), Ok(want));
}

#[test]
fn rtsp_tolerances() {
    let m = b"setup rtsp://h/x RTSP/1.0\ncseq:   5  \ntransport  :rtp/avp/udp ; UNICAST ; Client_Port = 5000 - 5001 , RTP/AVP;unicast;client_port=6000\n\n";
    let msg = rtsp::parse(m).unwrap();
    assert_eq!(msg.start, RtspStart::Request(RtspMethod::Setup));
    assert_eq!(msg.cseq, Some(5));
    let a = inspect(Sig::Rtsp, Direction::FromClient, m).unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, Some(5000)), ep(None, None), 0, false),
            udp(ep(None, Some(5001)), ep(None, None), 0, true),
            udp(ep(None, Some(6000)), ep(None, None), 1, false),
        ]
    );
    // Two Transport headers are concatenated; more than MAX_TRANSPORTS specs are counted.
    let m = b"SETUP rtsp://h/x RTSP/1.0\r\nTransport: RTP/AVP;client_port=1-2,RTP/AVP;client_port=3-4,RTP/AVP;client_port=5-6\r\nTransport: RTP/AVP;client_port=7-8,RTP/AVP;client_port=9-10\r\n\r\n";
    let msg = rtsp::parse(m).unwrap();
    assert_eq!(msg.transports.specs().len(), rtsp::MAX_TRANSPORTS);
    assert_eq!(msg.transports.extra, 1);
    let a = msg.announce().unwrap();
    assert_eq!(a.flows().len(), MAX_FLOWS);
    assert_eq!(a.dropped, 2);
    // RTSP/2.0-style profile and unknown parameters.
    let m = b"SETUP rtsp://h/x RTSP/1.0\r\nTransport: RTP/SAVPF;unicast;client_port=7000-7001;ssrc=1234;foo;bar=;=baz\r\n\r\n";
    let msg = rtsp::parse(m).unwrap();
    assert_eq!(msg.transports.specs()[0].profile, Profile::RtpSavpf);
    assert_eq!(msg.announce().unwrap().flows().len(), 2);
    // Source is a host name: ignored.
    let m = b"RTSP/1.0 200 OK\r\nTransport: RTP/AVP;unicast;source=media.example.com;client_port=1000-1001;server_port=2000-2001\r\n\r\n";
    let a = inspect(Sig::Rtsp, Direction::FromServer, m).unwrap();
    assert_eq!(a.flows()[0].server, ep(None, Some(2000)));
}

#[test]
fn rtsp_malformed_and_adversarial() {
    let setup = |t: &str| {
        let m = std::format!("SETUP rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\nTransport: {t}\r\n\r\n");
        inspect(Sig::Rtsp, Direction::FromClient, m.as_bytes())
    };
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=0-1"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=65536-65537"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=99999999999999999999-1"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=5001-5000"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=-"),
        Err(Reason::Malformed)
    );
    assert_eq!(setup("RTP/AVP;unicast;client_port"), Err(Reason::Malformed));
    assert_eq!(
        setup("RTP/AVP/SCTP;unicast;client_port=1-2"),
        Err(Reason::Malformed)
    );
    assert_eq!(setup("RTP;unicast;client_port=1-2"), Err(Reason::Malformed));
    assert_eq!(
        setup("RTP/AVP;unicast;interleaved=300-301"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        setup("RTP/AVP;multicast;port=3456-3457"),
        Err(Reason::Unsupported)
    );
    assert_eq!(setup("RTP/AVP;unicast"), Err(Reason::NoTransport));
    assert_eq!(setup(""), Err(Reason::NoTransport));
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=65535")
            .unwrap()
            .flows()
            .len(),
        1
    );
    assert_eq!(
        setup("RTP/AVP;unicast;client_port=1\0-2"),
        Err(Reason::Malformed)
    );
    // A bad spec next to a good one: the good one is used.
    assert_eq!(
        setup("RTP/AVP;client_port=0, RTP/AVP;client_port=8-9")
            .unwrap()
            .flows()
            .len(),
        2
    );

    let insp = |m: &[u8]| inspect(Sig::Rtsp, Direction::FromClient, m);
    assert_eq!(
        insp(b"SETUP rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
        Err(Reason::NoTransport)
    );
    assert_eq!(insp(b""), Err(Reason::Truncated));
    assert_eq!(insp(b"SETUP rtsp://h/x RTSP/1.0"), Err(Reason::Truncated));
    assert_eq!(
        insp(b"SETUP rtsp://h/x RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;client_por"),
        Err(Reason::Truncated)
    );
    assert_eq!(
        insp(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(
        insp(b"INVITE sip:a@b SIP/2.0\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(
        insp(b"\x00\x01\x02\x03\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(insp(b"RTSP/1.0 2000 OK\r\n\r\n"), Err(Reason::Malformed));
    assert_eq!(insp(b"RTSP/1.0 abc OK\r\n\r\n"), Err(Reason::Malformed));
    assert_eq!(insp(b"RTSP/1.0\r\n\r\n"), Err(Reason::Malformed));
    assert_eq!(
        insp(b"RTSP/x.y 200 OK\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(insp(b"\r\n\r\n"), Err(Reason::NotThisProtocol));
    // Missing CRLF entirely: one long line.
    assert_eq!(
        insp(b"SETUP rtsp://h/x RTSP/1.0 Transport: RTP/AVP;client_port=1-2"),
        Err(Reason::Truncated)
    );
    // NUL bytes in header names do not match.
    assert_eq!(
        insp(b"SETUP rtsp://h/x RTSP/1.0\r\nTrans\0port: RTP/AVP;client_port=1-2\r\n\r\n"),
        Err(Reason::NoTransport)
    );
    // Too many header lines, and an oversized header block.
    let mut m = b"SETUP rtsp://h/x RTSP/1.0\r\n".to_vec();
    for _ in 0..200 {
        m.extend_from_slice(b"X-Pad: 1\r\n");
    }
    m.extend_from_slice(b"Transport: RTP/AVP;client_port=1-2\r\n\r\n");
    assert_eq!(insp(&m), Err(Reason::TooLong));
    let mut m = b"SETUP rtsp://h/x RTSP/1.0\r\nX-Big: ".to_vec();
    m.resize(20_000, b'a');
    m.extend_from_slice(b"\r\nTransport: RTP/AVP;client_port=1-2\r\n\r\n");
    assert_eq!(insp(&m), Err(Reason::TooLong));
    let mut m = b"SETUP rtsp://h/".to_vec();
    m.resize(20_000, b'a');
    assert_eq!(insp(&m), Err(Reason::TooLong));
}

// ---------------------------------------------------------------------------------------------
// SIP and SDP

#[test]
fn sip_rfc3665_basic_call() {
    let m = crlf(sample!("sip/rfc3665-3.1-f1-invite.txt"));
    let msg = sip::parse(&m).unwrap();
    assert_eq!(msg.start, SipStart::Request(SipMethod::Invite));
    assert_eq!(
        msg.call_id,
        Some(&b"3848276298220188511@atlanta.example.com"[..])
    );
    assert_eq!(msg.cseq, Some(1));
    assert_eq!(msg.cseq_method, Some(SipMethod::Invite));
    assert_eq!(msg.content_length, Some(151));
    assert_eq!(msg.body.unwrap().len(), 151);
    let a = sip_both(
        sample!("sip/rfc3665-3.1-f1-invite.txt"),
        Direction::FromClient,
    )
    .unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(
                ep(Some("192.0.2.101"), Some(49172)),
                ep(None, None),
                0,
                false
            ),
            udp(
                ep(Some("192.0.2.101"), Some(49173)),
                ep(None, None),
                0,
                true
            )
        ]
    );

    // The answer (its Via is folded) gives the server side.
    let m = crlf(sample!("sip/rfc3665-3.1-f4-200ok.txt"));
    let msg = sip::parse(&m).unwrap();
    assert_eq!(msg.start, SipStart::Response(200));
    let a = sip_both(
        sample!("sip/rfc3665-3.1-f4-200ok.txt"),
        Direction::FromServer,
    )
    .unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(
                ep(None, None),
                ep(Some("192.0.2.201"), Some(3456)),
                0,
                false
            ),
            udp(ep(None, None), ep(Some("192.0.2.201"), Some(3457)), 0, true)
        ]
    );

    let a = sip_both(sample!("sip/rfc3665-3.1-f6-bye.txt"), Direction::FromClient).unwrap();
    assert!(a.session_end);
    assert!(a.flows().is_empty());
}

#[test]
fn sip_rfc3261_and_rfc4317() {
    // c= with a host name: not resolved.
    let m = crlf(sample!("sip/rfc3261-24.2-f1-invite.txt"));
    assert_eq!(sip::parse(&m).unwrap().cseq, Some(314159));
    assert_eq!(
        sip_both(
            sample!("sip/rfc3261-24.2-f1-invite.txt"),
            Direction::FromClient
        ),
        Err(Reason::Unsupported)
    );
    assert_eq!(
        sip_both(
            sample!("sip/rfc4317-offer-hostname.txt"),
            Direction::FromClient
        ),
        Err(Reason::Unsupported)
    );
    let m = crlf(sample!("sip/rfc4317-offer-hostname.txt"));
    let sdp = sip::parse(&m).unwrap().sdp().unwrap();
    assert_eq!(sdp.media().len(), 2);
    assert_eq!(sdp.media()[1].kind, MediaKind::Video);
    assert_eq!(sdp.media()[1].port, 51372);
    assert_eq!(sdp.media()[1].conn, Some(Conn::Unsupported));

    let a = sip_both(
        sample!("sip/rfc4317-2.1-offer-answer-video.txt"),
        Direction::FromServer,
    )
    .unwrap();
    let s = |p| ep(Some("192.0.2.201"), Some(p));
    assert_eq!(
        a.flows(),
        [
            udp(ep(None, None), s(49174), 0, false),
            udp(ep(None, None), s(49175), 0, true),
            udp(ep(None, None), s(49170), 1, false),
            udp(ep(None, None), s(49171), 1, true),
        ]
    );

    // A rejected stream (port 0) keeps its place but announces nothing.
    let m = crlf(sample!("sip/rfc4317-2.2-video-rejected.txt"));
    let sdp = sip::parse(&m).unwrap().sdp().unwrap();
    assert_eq!(sdp.media().len(), 2);
    assert!(!sdp.media()[1].enabled());
    assert_eq!(sdp.media()[1].rtcp_port, None);
    let a = sip_both(
        sample!("sip/rfc4317-2.2-video-rejected.txt"),
        Direction::FromServer,
    )
    .unwrap();
    assert_eq!(a.flows().len(), 2);
    assert!(a.flows().iter().all(|f| f.index == 0));
}

#[test]
fn sip_rfc3605_rtcp_attribute() {
    let a = sip_both(
        sample!("sip/rfc3605-rtcp-attribute.txt"),
        Direction::FromClient,
    )
    .unwrap();
    assert_eq!(
        a.flows(),
        [
            udp(
                ep(Some("192.0.2.101"), Some(49170)),
                ep(None, None),
                0,
                false
            ),
            udp(
                ep(Some("192.0.2.101"), Some(53020)),
                ep(None, None),
                0,
                true
            ),
            udp(
                ep(Some("192.0.2.101"), Some(49172)),
                ep(None, None),
                1,
                false
            ),
            udp(
                ep(Some("126.16.64.4"), Some(53022)),
                ep(None, None),
                1,
                true
            ),
        ]
    );
}

#[test]
fn sip_rfc4475_tortuous_invite() {
    let m = crlf(sample!("sip/rfc4475-wsinv-tortuous.txt"));
    let msg = sip::parse(&m).unwrap();
    assert_eq!(msg.call_id, Some(&b"wsinv.ndaksdj@192.0.2.1"[..]));
    // "cseq: 0009\r\n  INVITE" is folded.
    assert_eq!(msg.cseq, Some(9));
    assert_eq!(msg.cseq_method, Some(SipMethod::Invite));
    assert_eq!(msg.content_length, Some(150));
    let a = inspect(Sig::Sip, Direction::FromClient, &m).unwrap();
    let c = |p| ep(Some("192.0.2.4"), Some(p));
    assert_eq!(
        a.flows(),
        [
            udp(c(49217), ep(None, None), 0, false),
            udp(c(49218), ep(None, None), 0, true),
            udp(c(3227), ep(None, None), 1, false),
            udp(c(3228), ep(None, None), 1, true),
        ]
    );
}

#[test]
fn sip_compact_forms() {
    let m = crlf(sample!("sip/compact-forms.txt"));
    let msg = sip::parse(&m).unwrap();
    assert_eq!(msg.call_id, Some(&b"compact-1@192.0.2.10"[..]));
    assert_eq!(msg.content_type, Some(&b"application/sdp"[..]));
    assert!(msg.content_length.is_some());
    let a = sip_both(sample!("sip/compact-forms.txt"), Direction::FromClient).unwrap();
    assert_eq!(a.flows()[0].client, ep(Some("192.0.2.10"), Some(40000)));
}

#[test]
fn sip_tools() {
    let m = crlf(sample!("sip/baresip-invite.txt"));
    let sdp = sip::parse(&m).unwrap().sdp().unwrap();
    assert_eq!(sdp.media().len(), 2);
    assert_eq!(sdp.media()[0].direction, MediaDirection::SendRecv);
    assert_eq!(sdp.media()[0].proto, MediaProto::RtpAvp);
    let a = sip_both(sample!("sip/baresip-invite.txt"), Direction::FromClient).unwrap();
    let c = |p| ep(Some("198.51.100.7"), Some(p));
    assert_eq!(
        a.flows(),
        [
            udp(c(10754), ep(None, None), 0, false),
            udp(c(10755), ep(None, None), 0, true),
            udp(c(10078), ep(None, None), 1, false),
            udp(c(10079), ep(None, None), 1, true),
        ]
    );
    // rtcp-mux: one flow per stream.
    let a = sip_both(sample!("sip/baresip-rtcp-mux.txt"), Direction::FromClient).unwrap();
    assert_eq!(a.flows(), [udp(c(10400), ep(None, None), 0, false)]);

    assert_eq!(
        sip_both(sample!("sip/sipsak-invite.txt"), Direction::FromClient),
        Err(Reason::NoBody)
    );
    assert_eq!(
        sip_both(sample!("sip/sipsak-options.txt"), Direction::FromClient),
        Err(Reason::NoAnnouncement)
    );
}

#[test]
fn sip_media_limits_and_families() {
    assert_eq!(
        sip_both(sample!("sip/ipv6-offer.txt"), Direction::FromClient),
        Err(Reason::Unsupported)
    );
    let m = crlf(sample!("sip/five-media.txt"));
    let sdp = sip::parse(&m).unwrap().sdp().unwrap();
    assert_eq!(sdp.media().len(), sdp::MAX_MEDIA);
    assert_eq!(sdp.extra_media, 1);
    assert_eq!(sdp.media()[3].proto, MediaProto::Tcp);
    assert_eq!(sdp.media()[3].addr(), Some(ip("198.51.100.8")));
    assert_eq!(sdp.media()[3].kind, MediaKind::Application);
    let a = inspect(Sig::Sip, Direction::FromClient, &m).unwrap();
    let c = |p| ep(Some("198.51.100.7"), Some(p));
    assert_eq!(
        a.flows(),
        [
            udp(c(20000), ep(None, None), 0, false),
            udp(c(20001), ep(None, None), 0, true),
            udp(c(20002), ep(None, None), 1, false),
            udp(c(20003), ep(None, None), 1, true),
            AnnouncedFlow {
                proto: PROTO_TCP,
                client: ep(Some("198.51.100.8"), Some(20006)),
                server: ep(None, None),
                index: 3,
                rtcp: false
            },
        ]
    );
    assert_eq!(a.dropped, 2);
}

#[test]
fn sip_partial_and_bodies() {
    let full = crlf(sample!("sip/rfc3665-3.1-f1-invite.txt"));
    let want = inspect(Sig::Sip, Direction::FromClient, &full).unwrap();
    for cut in 0..full.len() {
        match inspect(Sig::Sip, Direction::FromClient, &full[..cut]) {
            Ok(a) => panic!("cut at {cut} announced {a:?}"),
            Err(r) => assert_eq!(r, Reason::Truncated, "cut at {cut}"),
        }
    }
    // Bytes after Content-Length are the next message.
    let mut more = full.clone();
    more.extend_from_slice(b"m=audio 1 RTP/AVP 0\r\n");
    assert_eq!(inspect(Sig::Sip, Direction::FromClient, &more), Ok(want));

    let with = |ct: &str, body: &str| {
        let m = std::format!(
            "INVITE sip:b@h SIP/2.0\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        inspect(Sig::Sip, Direction::FromClient, m.as_bytes())
    };
    let ok_body = "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert!(with("application/sdp", ok_body).is_ok());
    assert!(with("Application/SDP ; charset=x", ok_body).is_ok());
    assert_eq!(
        with("multipart/mixed;boundary=x", ok_body),
        Err(Reason::Unsupported)
    );
    assert_eq!(
        with("application/sdp", "v=0\r\nm=audio 0 RTP/AVP 0\r\n"),
        Err(Reason::NoMedia)
    );
    assert_eq!(
        with("application/sdp", "v=0\r\ns=-\r\n"),
        Err(Reason::NoMedia)
    );
    assert_eq!(
        with("application/sdp", "x=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        with("application/sdp", "v=0\r\nm=audio 65536 RTP/AVP 0\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        with(
            "application/sdp",
            "v=0\r\nm=audio 99999999999999999999 RTP/AVP 0\r\n"
        ),
        Err(Reason::Malformed)
    );
    assert_eq!(
        with("application/sdp", "v=0\r\nm=audio\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        with(
            "application/sdp",
            "v=0\r\nc=IN IP4 300.1.1.1\r\nm=audio 4000 RTP/AVP 0\r\n"
        ),
        Err(Reason::Malformed)
    );
    assert_eq!(
        with(
            "application/sdp",
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:0\r\n"
        ),
        Err(Reason::Malformed)
    );
    assert_eq!(
        with(
            "application/sdp",
            "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:70000\r\n"
        ),
        Err(Reason::Malformed)
    );
    assert_eq!(with("application/sdp", "   "), Err(Reason::NoBody));
    // Port 65535: no room for RTCP at PORT+1.
    let a = with("application/sdp", "v=0\r\nm=audio 65535 RTP/AVP 0\r\n").unwrap();
    assert_eq!(
        a.flows(),
        [udp(ep(None, Some(65535)), ep(None, None), 0, false)]
    );
    // Hold (c=0.0.0.0) and a multicast address with TTL.
    let a = with(
        "application/sdp",
        "v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert_eq!(a.flows()[0].client, ep(None, Some(4000)));
    let a = with(
        "application/sdp",
        "v=0\r\nc=IN IP4 224.2.1.1/127/3\r\nm=video 4000/2 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert_eq!(a.flows()[0].client, ep(Some("224.2.1.1"), Some(4000)));
    // Body shorter than Content-Length.
    let m = b"INVITE sip:b@h SIP/2.0\r\nContent-Type: application/sdp\r\nContent-Length: 500\r\n\r\nv=0\r\n";
    assert_eq!(
        inspect(Sig::Sip, Direction::FromClient, m),
        Err(Reason::Truncated)
    );
    // Giant and conflicting Content-Length.
    let m = b"INVITE sip:b@h SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n";
    assert_eq!(
        inspect(Sig::Sip, Direction::FromClient, m),
        Err(Reason::Malformed)
    );
    let m = b"INVITE sip:b@h SIP/2.0\r\nContent-Length: 4\r\nl: 5\r\n\r\nv=0\r\n";
    assert_eq!(
        inspect(Sig::Sip, Direction::FromClient, m),
        Err(Reason::Malformed)
    );
    // gzip body.
    let m = b"INVITE sip:b@h SIP/2.0\r\nContent-Encoding: gzip\r\nContent-Type: application/sdp\r\n\r\n\x1f\x8b";
    assert_eq!(
        inspect(Sig::Sip, Direction::FromClient, m),
        Err(Reason::Unsupported)
    );
    // No Content-Type, but an SDP body (UDP, no Content-Length).
    let m = b"INVITE sip:b@h SIP/2.0\n\nv=0\nm=audio 4000 RTP/AVP 0\n";
    assert!(inspect(Sig::Sip, Direction::FromClient, m).is_ok());
    // SDP in a 200 OK to OPTIONS is a capability list, not an answer.
    let m = b"SIP/2.0 200 OK\r\nCSeq: 2 OPTIONS\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        inspect(Sig::Sip, Direction::FromServer, m),
        Err(Reason::NoAnnouncement)
    );
    // 183 with SDP (early media) is an answer.
    let m = b"SIP/2.0 183 Session Progress\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\r\nv=0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        inspect(Sig::Sip, Direction::FromServer, m).unwrap().flows()[0].server,
        ep(None, Some(4000))
    );
}

/// An INVITE too large for one datagram of a 1500-byte link (issue #14): SDP attributes before
/// its media line push that line into the last IPv4 fragment. Only the whole, reassembled datagram
/// announces the media; the first fragment's bytes alone are a truncated message.
#[test]
fn sip_fragmented_invite() {
    let mut sdp = String::from(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.101\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\n",
    );
    for i in 0..36 {
        sdp.push_str(&std::format!("a=x-pad{i:02}:{:0>70}\r\n", 0));
    }
    sdp.push_str("m=audio 7100 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n");
    let m = std::format!(
        "INVITE sip:b@h SIP/2.0\r\nCall-ID: big@192.0.2.101\r\nCSeq: 1 INVITE\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    let m = m.as_bytes();
    assert!(m.len() >= 3000, "{}", m.len());
    // On a 1500-byte link each fragment carries 1480 bytes of the UDP datagram (8-byte header
    // first): the first one 1472 bytes of the message, the third one those from 2952 on.
    let first = &m[..1472];
    let media = m.windows(8).position(|w| w == b"m=audio ").unwrap();
    assert!(
        media >= 2952,
        "the m= line is in the third fragment: {media}"
    );
    let a = inspect(Sig::Sip, Direction::FromClient, m).unwrap();
    let c = ep(Some("192.0.2.101"), Some(7100));
    let c1 = ep(Some("192.0.2.101"), Some(7101));
    assert_eq!(
        a.flows(),
        [
            udp(c, ep(None, None), 0, false),
            udp(c1, ep(None, None), 0, true)
        ]
    );
    assert_eq!(
        inspect(Sig::Sip, Direction::FromClient, first),
        Err(Reason::Truncated)
    );
    // The Call-ID is in the first fragment; the media are not.
    assert_eq!(
        sip::parse(first).unwrap().call_id,
        Some(&b"big@192.0.2.101"[..])
    );
}

#[test]
fn sip_malformed_start_lines() {
    let insp = |m: &[u8]| inspect(Sig::Sip, Direction::FromClient, m);
    assert_eq!(insp(b"SIP/2.0 99 Weird\r\n\r\n"), Err(Reason::Malformed));
    assert_eq!(insp(b"SIP/2.0 700 Weird\r\n\r\n"), Err(Reason::Malformed));
    assert_eq!(
        insp(b"SIP/3.0 200 OK\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(
        insp(b"INVITE sip:b@h RTSP/1.0\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(insp(b"INVITE\r\n\r\n"), Err(Reason::NotThisProtocol));
    assert_eq!(
        insp(b"INV\0ITE sip:b@h SIP/2.0\r\n\r\n"),
        Err(Reason::NotThisProtocol)
    );
    assert_eq!(insp(b"INVITE sip:b@h SIP/2.0"), Err(Reason::Truncated));
    assert_eq!(
        insp(b"BYE sip:b@h SIP/2.0\r\n\r\n").map(|a| a.session_end),
        Ok(true)
    );
    assert_eq!(
        insp(b"bye sip:b@h sip/2.0\n\n").map(|a| a.session_end),
        Ok(true)
    );
    assert_eq!(
        insp(b"CANCEL sip:b@h SIP/2.0\r\n\r\n"),
        Err(Reason::NoAnnouncement)
    );
    assert_eq!(
        insp(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
        Err(Reason::NotThisProtocol)
    );
}

// ---------------------------------------------------------------------------------------------
// FTP

fn ftp_flow(client: Endpoint, server: Endpoint) -> AnnouncedFlow {
    AnnouncedFlow {
        proto: PROTO_TCP,
        client,
        server,
        index: 0,
        rtcp: false,
    }
}

#[test]
fn ftp_samples() {
    let f = |s: &[u8]| ftp::parse(&crlf(s));
    assert_eq!(
        f(sample!("ftp/vsftpd-227.txt")),
        Ok(Ftp::Passive {
            addr: ip("192.0.2.10"),
            port: 156 * 256 + 64
        })
    );
    assert_eq!(
        f(sample!("ftp/filezilla-227.txt")),
        Ok(Ftp::Passive {
            addr: ip("192.0.2.10"),
            port: 195 * 256 + 87
        })
    );
    assert_eq!(
        f(sample!("ftp/pureftpd-227-no-parens.txt")),
        Ok(Ftp::Passive {
            addr: ip("192.0.2.10"),
            port: 19 * 256 + 137
        })
    );
    assert_eq!(
        f(sample!("ftp/proftpd-229.txt")),
        Ok(Ftp::ExtendedPassive { port: 40017 })
    );
    assert_eq!(
        f(sample!("ftp/client-port.txt")),
        Ok(Ftp::Port {
            addr: ip("198.51.100.7"),
            port: 203 * 256 + 17
        })
    );
    assert_eq!(
        f(sample!("ftp/client-eprt.txt")),
        Ok(Ftp::ExtendedPort {
            addr: ip("198.51.100.7"),
            port: 6275
        })
    );
    assert_eq!(
        f(sample!("ftp/client-eprt-ipv6.txt")),
        Err(Reason::Unsupported)
    );
    assert_eq!(
        f(sample!("ftp/vsftpd-banner.txt")),
        Err(Reason::NoAnnouncement)
    );
    assert_eq!(
        f(sample!("ftp/pipelined.txt")),
        Ok(Ftp::Passive {
            addr: ip("192.0.2.10"),
            port: 117 * 256 + 48
        })
    );
    // Bare LF works the same.
    assert_eq!(
        ftp::parse(sample!("ftp/vsftpd-227.txt")),
        f(sample!("ftp/vsftpd-227.txt"))
    );

    let a = inspect(
        Sig::Ftp,
        Direction::FromServer,
        &crlf(sample!("ftp/vsftpd-227.txt")),
    )
    .unwrap();
    assert_eq!(
        a.flows(),
        [ftp_flow(
            ep(None, None),
            ep(Some("192.0.2.10"), Some(40000))
        )]
    );
    let a = inspect(
        Sig::Ftp,
        Direction::FromServer,
        &crlf(sample!("ftp/proftpd-229.txt")),
    )
    .unwrap();
    assert_eq!(a.flows(), [ftp_flow(ep(None, None), ep(None, Some(40017)))]);
    let a = inspect(
        Sig::Ftp,
        Direction::FromClient,
        &crlf(sample!("ftp/client-port.txt")),
    )
    .unwrap();
    assert_eq!(
        a.flows(),
        [ftp_flow(
            ep(Some("198.51.100.7"), Some(51985)),
            ep(None, None)
        )]
    );
}

#[test]
fn ftp_malformed() {
    let f = |s: &[u8]| ftp::parse(s);
    assert_eq!(
        f(b"227 Entering Passive Mode (192,0,2,10,0,0).\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"227 Entering Passive Mode (192,0,2,256,1,1).\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"227 Entering Passive Mode (192,0,2,10,1).\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"227 Entering Passive Mode (1992,0,2,10,1,1).\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(f(b"227 Entering Passive Mode\r\n"), Err(Reason::Malformed));
    assert_eq!(
        f(b"227 Entering Passive Mode ( 192 , 0 , 2 , 10 , 1 , 2 )\r\n"),
        Ok(Ftp::Passive {
            addr: ip("192.0.2.10"),
            port: 258
        })
    );
    assert_eq!(
        f(b"227 Entering Passive Mode (192,0,2,10,156,"),
        Err(Reason::Truncated)
    );
    assert_eq!(
        f(b"227 Entering Passive Mode (192,0,2,10,156,64)"),
        Err(Reason::Truncated)
    );
    assert_eq!(
        f(b"229 Entering Extended Passive Mode (|||0|)\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"229 Entering Extended Passive Mode (|||65536|)\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"229 Entering Extended Passive Mode (|||6446)\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"229 Entering Extended Passive Mode (!!!6446!)\r\n"),
        Ok(Ftp::ExtendedPassive { port: 6446 })
    );
    assert_eq!(
        f(b"229 Entering Extended Passive Mode (|1|1.2.3.4|6446|)\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"229 Entering Extended Passive Mode (\r\n"),
        Err(Reason::Malformed)
    );
    assert_eq!(
        f(b"port 1,2,3,4,5,6\r\n"),
        Ok(Ftp::Port {
            addr: [1, 2, 3, 4],
            port: 1286
        })
    );
    assert_eq!(f(b"EPRT |1|1.2.3.4|99999|\r\n"), Err(Reason::Malformed));
    assert_eq!(f(b"EPRT |3|1.2.3.4|9|\r\n"), Err(Reason::Malformed));
    assert_eq!(f(b"EPRT\r\n"), Err(Reason::Malformed));
    assert_eq!(f(b""), Err(Reason::Truncated));
    assert_eq!(f(b"\x00\x00\x00"), Err(Reason::NotThisProtocol));
    assert_eq!(f(b"SSH-2.0-OpenSSH_9.2\r\n"), Err(Reason::NotThisProtocol));
    assert_eq!(
        f(b"USER anonymous\r\nPASS x\r\n"),
        Err(Reason::NoAnnouncement)
    );
    // More than MAX_FTP_LINES lines before the announcement: not seen.
    let mut m = Vec::new();
    for _ in 0..ftp::MAX_FTP_LINES {
        m.extend_from_slice(b"200 OK\r\n");
    }
    m.extend_from_slice(b"227 (1,2,3,4,5,6)\r\n");
    assert_eq!(f(&m), Err(Reason::NoAnnouncement));
}

// ---------------------------------------------------------------------------------------------
// Every sample, every protocol, every cut and a few mutations: no panic.

#[test]
fn no_panic_on_cuts_and_mutations() {
    let all: [&[u8]; 12] = [
        sample!("rtsp/rfc2326-10.4-setup-reply.txt"),
        sample!("rtsp/live555-server-setup-reply.txt"),
        sample!("rtsp/rfc2326-12.39-setup-alternatives.txt"),
        sample!("sip/rfc4475-wsinv-tortuous.txt"),
        sample!("sip/baresip-invite.txt"),
        sample!("sip/five-media.txt"),
        sample!("sip/rfc3605-rtcp-attribute.txt"),
        sample!("ftp/pipelined.txt"),
        sample!("ftp/client-eprt.txt"),
        sample!("ftp/proftpd-229.txt"),
        sample!("sip/compact-forms.txt"),
        sample!("rtsp/rfc2326-10.7-teardown.txt"),
    ];
    for s in all {
        let m = crlf(s);
        for cut in 0..=m.len() {
            for sig in [Sig::Rtsp, Sig::Sip, Sig::Ftp] {
                let _ = inspect(sig, Direction::FromClient, &m[..cut]);
            }
        }
        for i in 0..m.len() {
            for b in [0u8, b'\n', b'9', b':', b';', b',', 0xff] {
                let mut v = m.clone();
                v[i] = b;
                for sig in [Sig::Rtsp, Sig::Sip, Sig::Ftp] {
                    if let Ok(a) = inspect(sig, Direction::FromServer, &v) {
                        assert!(a.flows().len() <= MAX_FLOWS);
                        assert!(a
                            .flows()
                            .iter()
                            .all(|f| f.client.port != Some(0) && f.server.port != Some(0)));
                    }
                }
            }
        }
    }
}

#[test]
fn results_stay_small() {
    // Everything the packet path keeps on the (softirq) stack.
    use core::mem::size_of;
    assert!(
        size_of::<Announcement>() <= 256,
        "{}",
        size_of::<Announcement>()
    );
    assert!(
        size_of::<rtsp::RtspMessage<'_>>() <= 256,
        "{}",
        size_of::<rtsp::RtspMessage<'_>>()
    );
    assert!(
        size_of::<sip::SipMessage<'_>>() <= 256,
        "{}",
        size_of::<sip::SipMessage<'_>>()
    );
    assert!(size_of::<sdp::Sdp>() <= 256, "{}", size_of::<sdp::Sdp>());
    assert!(size_of::<Ftp>() <= 16);
    std::println!(
        "sizes: Announcement {} RtspMessage {} SipMessage {} Sdp {}",
        size_of::<Announcement>(),
        size_of::<rtsp::RtspMessage<'_>>(),
        size_of::<sip::SipMessage<'_>>(),
        size_of::<sdp::Sdp>()
    );
}
