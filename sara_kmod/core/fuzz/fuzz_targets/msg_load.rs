//! Load vector: parse arbitrary bytes; parse then emit gives the same bytes; built vectors round-trip.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::msg::load::{self, LoadVector};

fuzz_target!(|data: &[u8]| {
    let mut out = [0u8; load::LEN];
    if let Ok(v) = load::parse(data) {
        assert_eq!(load::emit(&v, &mut out), Ok(load::LEN));
        assert_eq!(&out[..], data);
    }
    if let Some(b) = data.get(..22) {
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let v = LoadVector {
            host_id: u16at(0),
            seq: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            timestamp_ms: u32::from_be_bytes([b[6], b[7], b[8], b[9]]),
            cpu: u16at(10),
            memory: u16at(12),
            net_buffers: u16at(14),
            io_queue: u16at(16),
            backlog: u16at(18),
            load: u16at(20),
        };
        match load::emit(&v, &mut out) {
            Ok(n) => assert_eq!(load::parse(&out[..n]), Ok(v)),
            Err(e) => assert_eq!(e, sara_core::msg::Error::BadValue),
        }
    }
});
