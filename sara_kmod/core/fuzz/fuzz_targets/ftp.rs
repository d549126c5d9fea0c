//! FTP parser and inspection on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::dpi::{ftp, inspect, Direction, Sig};

include!("common.rs");

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = ftp::parse(data) {
        check_announcement(&f.announce());
    }
    if let Ok(a) = inspect(Sig::Ftp, Direction::FromServer, data) {
        check_announcement(&a);
    }
});
