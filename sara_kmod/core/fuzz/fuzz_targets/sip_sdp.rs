//! SIP parser, SDP parser and SIP inspection on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::dpi::{inspect, sdp, sip, Direction, Sig};

include!("common.rs");

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = sip::parse(data) {
        if let Some(b) = m.body {
            if let Some(n) = m.content_length {
                assert_eq!(b.len(), n as usize);
            }
        }
        if let Ok(s) = m.sdp() {
            assert!(s.media().len() <= sdp::MAX_MEDIA);
        }
        for dir in [Direction::FromClient, Direction::FromServer] {
            if let Ok(a) = m.announce(dir) {
                check_announcement(&a);
            }
        }
    }
    // The body parser on its own.
    if let Ok(s) = sdp::parse(data) {
        for m in s.media() {
            if m.port == 0 {
                assert_eq!(m.rtcp_port, None);
            }
        }
    }
    if let Ok(a) = inspect(Sig::Sip, Direction::FromClient, data) {
        check_announcement(&a);
    }
});
