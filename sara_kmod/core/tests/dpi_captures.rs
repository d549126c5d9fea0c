//! DPI on real captures (`testdata/captures/`): TCP/UDP payloads recorded with tcpdump on loopback
//! while real tools talked to each other (see `testdata/README.md` for the tools, versions and
//! commands). Each file is one segment or datagram, byte for byte (CRLF line ends), fed to the parsers
//! as the kernel would see it.

use sara_core::dpi::ftp::{self, Ftp};
use sara_core::dpi::rtsp::{
    self, Delivery, Lower, Method as RtspMethod, PortRange, Profile, Start,
};
use sara_core::dpi::sdp::{self, Conn, MediaKind, MediaProto};
use sara_core::dpi::sip::{self, Method as SipMethod, Start as SipStart};
use sara_core::dpi::{
    inspect, AnnouncedFlow, Direction, Endpoint, Reason, Sig, PROTO_TCP, PROTO_UDP,
};

macro_rules! capture {
    ($name:literal) => {{
        let b: &[u8] = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/captures/",
            $name
        ));
        b
    }};
}

const LOCALHOST: [u8; 4] = [127, 0, 0, 1];

fn ep(addr: Option<[u8; 4]>, port: Option<u16>) -> Endpoint {
    Endpoint { addr, port }
}

fn flow(proto: u8, client: Endpoint, server: Endpoint, index: u8, rtcp: bool) -> AnnouncedFlow {
    AnnouncedFlow {
        proto,
        client,
        server,
        index,
        rtcp,
    }
}

/// Text captures must still be as on the wire: every LF preceded by CR (guards against a checkout
/// that converts line ends).
fn assert_crlf(b: &[u8]) {
    assert!(b.contains(&b'\n'));
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            assert!(i > 0 && b[i - 1] == b'\r', "bare LF at byte {i}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RTSP: ffmpeg and GStreamer's rtspsrc against gst-rtsp-server

#[test]
fn ffmpeg_setup_udp_and_gst_rtsp_server_reply() {
    let req = capture!("ffmpeg-gst-rtsp-server-setup.txt");
    assert_crlf(req);
    let m = rtsp::parse(req).unwrap();
    assert_eq!(m.start, Start::Request(RtspMethod::Setup));
    assert_eq!(m.cseq, Some(3));
    assert_eq!(m.session, None);
    assert!(m.headers_complete);
    let spec = m.transports.specs()[0];
    assert_eq!(spec.profile, Profile::RtpAvp);
    assert_eq!(spec.lower, Lower::Udp);
    assert_eq!(spec.delivery, Delivery::Unicast);
    assert_eq!(
        spec.client_port,
        Some(PortRange {
            first: 7624,
            last: 7625
        })
    );
    let a = inspect(Sig::Rtsp, Direction::FromClient, req).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(PROTO_UDP, ep(None, Some(7624)), ep(None, None), 0, false),
            flow(PROTO_UDP, ep(None, Some(7625)), ep(None, None), 0, true),
        ]
    );
    assert!(!a.session_end);

    let rep = capture!("ffmpeg-gst-rtsp-server-setup-reply.txt");
    assert_crlf(rep);
    let m = rtsp::parse(rep).unwrap();
    assert_eq!(m.start, Start::Reply(200));
    assert_eq!(m.cseq, Some(3));
    assert_eq!(m.session, Some(&b"Fe8AqYACSSTGLFoO"[..]));
    let spec = m.transports.specs()[0];
    assert_eq!(
        spec.server_port,
        Some(PortRange {
            first: 42182,
            last: 42183
        })
    );
    let a = inspect(Sig::Rtsp, Direction::FromServer, rep).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(
                PROTO_UDP,
                ep(None, Some(7624)),
                ep(None, Some(42182)),
                0,
                false
            ),
            flow(
                PROTO_UDP,
                ep(None, Some(7625)),
                ep(None, Some(42183)),
                0,
                true
            ),
        ]
    );
    assert!(!a.session_end);
}

#[test]
fn ffmpeg_play_and_teardown() {
    let play = capture!("ffmpeg-gst-rtsp-server-play.txt");
    let m = rtsp::parse(play).unwrap();
    assert_eq!(m.start, Start::Request(RtspMethod::Play));
    assert_eq!(m.cseq, Some(4));
    assert_eq!(m.session, Some(&b"Fe8AqYACSSTGLFoO"[..]));
    assert_eq!(
        inspect(Sig::Rtsp, Direction::FromClient, play),
        Err(Reason::NoAnnouncement)
    );

    let td = capture!("ffmpeg-gst-rtsp-server-teardown.txt");
    assert_crlf(td);
    let m = rtsp::parse(td).unwrap();
    assert_eq!(m.start, Start::Request(RtspMethod::Teardown));
    assert_eq!(m.cseq, Some(5));
    assert_eq!(m.session, Some(&b"Fe8AqYACSSTGLFoO"[..]));
    let a = inspect(Sig::Rtsp, Direction::FromClient, td).unwrap();
    assert!(a.session_end);
    assert!(a.flows().is_empty());
}

#[test]
fn gst_rtsp_server_describe_reply() {
    // The DESCRIBE reply carries an SDP body: RTSP announces nothing from it.
    let rep = capture!("ffmpeg-gst-rtsp-server-describe-reply.txt");
    assert_crlf(rep);
    let m = rtsp::parse(rep).unwrap();
    assert_eq!(m.start, Start::Reply(200));
    assert_eq!(m.cseq, Some(2));
    assert_eq!(
        inspect(Sig::Rtsp, Direction::FromServer, rep),
        Err(Reason::NoAnnouncement)
    );
    // Its body is a real SDP: one audio line, port 0, c=0.0.0.0.
    let body = &rep[rep.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(body.len(), 356); // Content-Length
    let s = sdp::parse(body).unwrap();
    assert_eq!(s.media().len(), 1);
    let md = s.media()[0];
    assert_eq!(md.kind, MediaKind::Audio);
    assert_eq!(md.port, 0);
    assert!(!md.enabled());
    assert_eq!(md.proto, MediaProto::RtpAvp);
    assert_eq!(md.conn, Some(Conn::Ip4([0, 0, 0, 0])));
}

#[test]
fn ffmpeg_setup_interleaved() {
    let req = capture!("ffmpeg-gst-rtsp-server-setup-interleaved.txt");
    let m = rtsp::parse(req).unwrap();
    assert_eq!(m.start, Start::Request(RtspMethod::Setup));
    let spec = m.transports.specs()[0];
    assert_eq!(spec.lower, Lower::Tcp);
    assert_eq!(spec.client_port, None);
    // Interleaved RTP rides on the RTSP connection: no new flow, and the reason says why.
    assert_eq!(
        inspect(Sig::Rtsp, Direction::FromClient, req),
        Err(Reason::Interleaved)
    );
    let rep = capture!("ffmpeg-gst-rtsp-server-setup-interleaved-reply.txt");
    let m = rtsp::parse(rep).unwrap();
    assert_eq!(m.start, Start::Reply(200));
    assert_eq!(m.transports.specs()[0].lower, Lower::Tcp);
    assert_eq!(
        inspect(Sig::Rtsp, Direction::FromServer, rep),
        Err(Reason::Interleaved)
    );
}

#[test]
fn gst_rtspsrc_setup_and_reply() {
    // rtspsrc writes CSeq and User-Agent before Transport, and a Date header.
    let req = capture!("gst-rtspsrc-setup.txt");
    assert_crlf(req);
    let m = rtsp::parse(req).unwrap();
    assert_eq!(m.start, Start::Request(RtspMethod::Setup));
    assert_eq!(m.cseq, Some(3));
    let a = inspect(Sig::Rtsp, Direction::FromClient, req).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(PROTO_UDP, ep(None, Some(44766)), ep(None, None), 0, false),
            flow(PROTO_UDP, ep(None, Some(44767)), ep(None, None), 0, true),
        ]
    );
    let rep = capture!("gst-rtspsrc-gst-rtsp-server-setup-reply.txt");
    let m = rtsp::parse(rep).unwrap();
    assert_eq!(m.session, Some(&b"uaY_.Jin9ZE2jaLj"[..]));
    let a = inspect(Sig::Rtsp, Direction::FromServer, rep).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(
                PROTO_UDP,
                ep(None, Some(44766)),
                ep(None, Some(57492)),
                0,
                false
            ),
            flow(
                PROTO_UDP,
                ep(None, Some(44767)),
                ep(None, Some(57493)),
                0,
                true
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// SIP: SIPp's built-in uac calling its built-in uas (UDP)

#[test]
fn sipp_invite_offer() {
    let inv = capture!("sipp-uac-invite.txt");
    assert_crlf(inv);
    let m = sip::parse(inv).unwrap();
    assert_eq!(m.start, SipStart::Request(SipMethod::Invite));
    assert_eq!(m.call_id, Some(&b"1-27286@127.0.0.1"[..]));
    assert_eq!(m.cseq, Some(1));
    assert_eq!(m.cseq_method, Some(SipMethod::Invite));
    assert_eq!(m.content_type, Some(&b"application/sdp"[..]));
    // SIPp pads the value: "Content-Length:   129".
    assert_eq!(m.content_length, Some(129));
    assert_eq!(m.body.unwrap().len(), 129);
    let s = m.sdp().unwrap();
    assert_eq!(s.session_conn, Some(Conn::Ip4(LOCALHOST)));
    assert_eq!(s.media().len(), 1);
    let md = s.media()[0];
    assert_eq!(md.kind, MediaKind::Audio);
    assert_eq!(md.port, 6004);
    assert_eq!(md.rtcp_port, Some(6005));
    assert_eq!(md.addr(), Some(LOCALHOST));
    let a = inspect(Sig::Sip, Direction::FromClient, inv).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(
                PROTO_UDP,
                ep(Some(LOCALHOST), Some(6004)),
                ep(None, None),
                0,
                false
            ),
            flow(
                PROTO_UDP,
                ep(Some(LOCALHOST), Some(6005)),
                ep(None, None),
                0,
                true
            ),
        ]
    );
    assert!(!a.session_end);
}

#[test]
fn sipp_200_ok_answer() {
    let ok = capture!("sipp-uas-200-ok.txt");
    assert_crlf(ok);
    let m = sip::parse(ok).unwrap();
    assert_eq!(m.start, SipStart::Response(200));
    assert_eq!(m.cseq_method, Some(SipMethod::Invite));
    assert_eq!(m.content_length, Some(129));
    let s = m.sdp().unwrap();
    assert_eq!(s.media()[0].port, 6000);
    let a = inspect(Sig::Sip, Direction::FromServer, ok).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(
                PROTO_UDP,
                ep(None, None),
                ep(Some(LOCALHOST), Some(6000)),
                0,
                false
            ),
            flow(
                PROTO_UDP,
                ep(None, None),
                ep(Some(LOCALHOST), Some(6001)),
                0,
                true
            ),
        ]
    );
    assert!(!a.session_end);
}

#[test]
fn sipp_ack_and_bye() {
    let ack = capture!("sipp-uac-ack.txt");
    let m = sip::parse(ack).unwrap();
    assert_eq!(m.start, SipStart::Request(SipMethod::Ack));
    assert_eq!(m.content_length, Some(0));
    assert_eq!(
        inspect(Sig::Sip, Direction::FromClient, ack),
        Err(Reason::NoAnnouncement)
    );

    let bye = capture!("sipp-uac-bye.txt");
    assert_crlf(bye);
    let m = sip::parse(bye).unwrap();
    assert_eq!(m.start, SipStart::Request(SipMethod::Bye));
    assert_eq!(m.call_id, Some(&b"1-27286@127.0.0.1"[..]));
    assert_eq!(m.cseq, Some(2));
    let a = inspect(Sig::Sip, Direction::FromClient, bye).unwrap();
    assert!(a.session_end);
    assert!(a.flows().is_empty());
}

// ---------------------------------------------------------------------------------------------
// FTP: curl and tnftp against vsftpd

#[test]
fn vsftpd_passive_replies() {
    let r = capture!("curl-vsftpd-pasv-227.txt");
    assert_crlf(r);
    assert_eq!(
        ftp::parse(r),
        Ok(Ftp::Passive {
            addr: LOCALHOST,
            port: 156 * 256 + 147
        })
    );
    let a = inspect(Sig::Ftp, Direction::FromServer, r).unwrap();
    assert_eq!(
        a.flows(),
        [flow(
            PROTO_TCP,
            ep(None, None),
            ep(Some(LOCALHOST), Some(40083)),
            0,
            false
        )]
    );

    let r = capture!("curl-vsftpd-epsv-229.txt");
    assert_eq!(ftp::parse(r), Ok(Ftp::ExtendedPassive { port: 40067 }));
    let a = inspect(Sig::Ftp, Direction::FromServer, r).unwrap();
    assert_eq!(
        a.flows(),
        [flow(
            PROTO_TCP,
            ep(None, None),
            ep(None, Some(40067)),
            0,
            false
        )]
    );

    let r = capture!("tnftp-vsftpd-epsv-229.txt");
    assert_eq!(ftp::parse(r), Ok(Ftp::ExtendedPassive { port: 40050 }));
}

#[test]
fn curl_active_commands() {
    let c = capture!("curl-port.txt");
    assert_crlf(c);
    assert_eq!(
        ftp::parse(c),
        Ok(Ftp::Port {
            addr: LOCALHOST,
            port: 225 * 256 + 55
        })
    );
    let a = inspect(Sig::Ftp, Direction::FromClient, c).unwrap();
    assert_eq!(
        a.flows(),
        [flow(
            PROTO_TCP,
            ep(Some(LOCALHOST), Some(57655)),
            ep(None, None),
            0,
            false
        )]
    );
    let c = capture!("curl-eprt.txt");
    assert_eq!(
        ftp::parse(c),
        Ok(Ftp::ExtendedPort {
            addr: LOCALHOST,
            port: 60421
        })
    );
    let a = inspect(Sig::Ftp, Direction::FromClient, c).unwrap();
    assert_eq!(
        a.flows(),
        [flow(
            PROTO_TCP,
            ep(Some(LOCALHOST), Some(60421)),
            ep(None, None),
            0,
            false
        )]
    );
}

#[test]
fn ftp_segments_that_announce_nothing() {
    // The banner and FEAT reply lines, each its own segment as vsftpd sent them: the " PASV"
    // feature line must not be taken for a command or a reply.
    for s in [
        capture!("vsftpd-banner.txt"),
        capture!("vsftpd-feat-first-line.txt"),
    ] {
        assert_eq!(ftp::parse(s), Err(Reason::NoAnnouncement), "{s:?}");
    }
    // curl's EPSV: the client asks for passive mode; the port comes in the reply (gateway only).
    let epsv = capture!("curl-epsv.txt");
    assert_eq!(ftp::parse(epsv), Ok(Ftp::PassiveRequest));
    let a = inspect(Sig::Ftp, Direction::FromClient, epsv).unwrap();
    assert_eq!(a.flows().len(), 1);
    assert_eq!(a.flows()[0].client, Endpoint::default());
    assert_eq!(a.flows()[0].server, Endpoint::default());
    let s = capture!("vsftpd-feat-pasv-line.txt");
    assert!(ftp::parse(s).is_err(), "{s:?}");
    assert!(inspect(Sig::Ftp, Direction::FromServer, s).is_err());
}

// ---------------------------------------------------------------------------------------------
// SIP: baresip 1.0.0 calling baresip 1.0.0 (UDP); SDP addresses are the host's own (192.0.2.2)

const BARESIP_HOST: [u8; 4] = [192, 0, 2, 2];

#[test]
fn baresip_call() {
    // INVITE with an empty "Supported:" header and an offer of PCMU/PCMA/telephone-event.
    let inv = capture!("baresip-invite.txt");
    assert_crlf(inv);
    let m = sip::parse(inv).unwrap();
    assert_eq!(m.start, SipStart::Request(SipMethod::Invite));
    assert_eq!(m.call_id, Some(&b"2f6cc965a066112e"[..]));
    assert_eq!(m.cseq, Some(63928));
    assert_eq!(m.content_length, Some(339));
    assert_eq!(m.body.unwrap().len(), 339);
    let md = m.sdp().unwrap().media()[0];
    assert_eq!(md.kind, MediaKind::Audio);
    assert_eq!(md.port, 10016);
    assert!(!md.rtcp_mux);
    assert_eq!(md.addr(), Some(BARESIP_HOST));
    let a = inspect(Sig::Sip, Direction::FromClient, inv).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(
                PROTO_UDP,
                ep(Some(BARESIP_HOST), Some(10016)),
                ep(None, None),
                0,
                false
            ),
            flow(
                PROTO_UDP,
                ep(Some(BARESIP_HOST), Some(10017)),
                ep(None, None),
                0,
                true
            ),
        ]
    );

    // The callee's auto-answer: "200 Answering".
    let ok = capture!("baresip-200-answering.txt");
    let m = sip::parse(ok).unwrap();
    assert_eq!(m.start, SipStart::Response(200));
    assert_eq!(m.cseq_method, Some(SipMethod::Invite));
    assert_eq!(m.content_length, Some(325));
    let a = inspect(Sig::Sip, Direction::FromServer, ok).unwrap();
    assert_eq!(
        a.flows(),
        [
            flow(
                PROTO_UDP,
                ep(None, None),
                ep(Some(BARESIP_HOST), Some(10104)),
                0,
                false
            ),
            flow(
                PROTO_UDP,
                ep(None, None),
                ep(Some(BARESIP_HOST), Some(10105)),
                0,
                true
            ),
        ]
    );

    let bye = capture!("baresip-bye.txt");
    let m = sip::parse(bye).unwrap();
    assert_eq!(m.start, SipStart::Request(SipMethod::Bye));
    assert_eq!(m.call_id, Some(&b"2f6cc965a066112e"[..]));
    let a = inspect(Sig::Sip, Direction::FromClient, bye).unwrap();
    assert!(a.session_end);
    assert!(a.flows().is_empty());
}
