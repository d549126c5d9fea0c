//! Replication batch: parse arbitrary bytes; what parses re-emits to the same bytes (through both
//! `emit` and `BatchWriter`); the sequence tracker never panics. The same bytes as a record run
//! (`parse_records`, what `CMD_REPL_APPLY` reads in the kernel): what parses re-encodes to them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::msg::repl::{self, Batch, BatchWriter, Record, SeqTracker, MAX_RECORDS};
use sara_core::msg::MAX_DATAGRAM;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = repl::parse(data) {
        let mut recs = [Record::SessionEnded { session_id: 0 }; MAX_RECORDS];
        let mut n = 0;
        for r in v.records() {
            recs[n] = r;
            n += 1;
        }
        assert_eq!(n, v.len());
        let mut out = [0u8; MAX_DATAGRAM];
        let len = repl::emit(
            &Batch {
                header: v.header,
                records: &recs[..n],
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..len], data);
        let mut out2 = [0u8; MAX_DATAGRAM];
        let mut w = BatchWriter::new(&v.header, &mut out2).unwrap();
        for r in &recs[..n] {
            w.push(r).unwrap();
        }
        let len2 = w.finish();
        assert_eq!(&out2[..len2], data);
        let mut t = SeqTracker::new();
        t.check(&v.header);
        t.check(&v.header);
    }
    if let Ok(run) = repl::parse_records(data) {
        let mut out = [0u8; 64];
        let mut at = 0;
        for r in run {
            let n = repl::encode_record(&r, &mut out).unwrap();
            assert_eq!(&out[..n], &data[at..at + n]);
            at += n;
        }
        assert_eq!(at, data.len());
    }
});
