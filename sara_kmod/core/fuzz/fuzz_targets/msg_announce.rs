//! Announcement: parse arbitrary bytes; what parses re-emits to the same bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::msg::announce::{self, Announce, AnnounceEntry, MAX_ENTRIES};
use sara_core::msg::MAX_DATAGRAM;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = announce::parse(data) {
        let mut entries = [AnnounceEntry::default(); MAX_ENTRIES];
        let mut n = 0;
        for e in v.entries() {
            entries[n] = e;
            n += 1;
        }
        assert_eq!(n, v.len());
        let mut out = [0u8; MAX_DATAGRAM];
        let len = announce::emit(
            &Announce {
                seq: v.seq,
                entries: &entries[..n],
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..len], data);
    }
});
