//! Heartbeat: parse arbitrary bytes; what parses re-emits to the same bytes; what is built from
//! arbitrary fields round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::msg::heartbeat::{self, Flag, Heartbeat};

fuzz_target!(|data: &[u8]| {
    let mut out = [0u8; heartbeat::LEN];
    if let Ok(hb) = heartbeat::parse(data) {
        assert_eq!(heartbeat::emit(&hb, &mut out), Ok(heartbeat::LEN));
        assert_eq!(&out[..], data);
    }
    if let Some(b) = data.get(..11) {
        let hb = Heartbeat {
            host_id: u16::from_be_bytes([b[0], b[1]]),
            seq: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            flag: Flag::from_u8(b[6] % 3 + 1).unwrap(),
            timestamp: u32::from_be_bytes([b[7], b[8], b[9], b[10]]),
        };
        let n = heartbeat::emit(&hb, &mut out).unwrap();
        assert_eq!(heartbeat::parse(&out[..n]), Ok(hb));
    }
});
