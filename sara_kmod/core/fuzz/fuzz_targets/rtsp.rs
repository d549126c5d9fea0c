//! RTSP parser and inspection on arbitrary bytes: no panic, sane results.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::dpi::{inspect, rtsp, Direction, Sig};

include!("common.rs");

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = rtsp::parse(data) {
        assert!(m.transports.specs().len() <= rtsp::MAX_TRANSPORTS);
        for s in m.transports.specs() {
            for r in [s.client_port, s.server_port, s.port].into_iter().flatten() {
                assert!(r.first != 0 && r.first <= r.last);
            }
        }
        if let Ok(a) = m.announce() {
            check_announcement(&a);
        }
    }
    for dir in [Direction::FromClient, Direction::FromServer] {
        if let Ok(a) = inspect(Sig::Rtsp, dir, data) {
            check_announcement(&a);
        }
    }
});
