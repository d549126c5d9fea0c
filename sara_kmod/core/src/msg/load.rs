//! The load vector (paper Fig. 8): a server agent's load sample, sent to the manager every δ.
//! 28 bytes exactly.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          magic "SA"           |  version = 1  |   type = 1    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           host_id             |         reserved (0)          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          sequence                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        timestamp (ms)                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              cpu              |            memory             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        network buffers        |          I/O queue            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      application backlog      |          scalar load          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! * `host_id`: the server's id (as in its heartbeats).
//! * `sequence`: +1 per vector sent (wrapping); gaps count lost vectors.
//! * `timestamp`: the sender's wall clock in milliseconds since the Unix epoch, modulo 2³² (compare
//!   with serial-number arithmetic; it orders samples and measures their spacing).
//! * the six loads are per-mille, 0..=1000 (1000 = full): CPU use, memory use, network buffer use,
//!   I/O queue length and application backlog (each scaled by the agent against its configured
//!   capacity), and the scalar load, the agent's weighted sum of the others.

use super::{Error, MsgType, Reader, Writer};

/// Size of a load vector.
pub const LEN: usize = 28;
/// Largest per-mille value.
pub const PER_MILLE_MAX: u16 = 1000;

/// One load sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LoadVector {
    /// Server id.
    pub host_id: u16,
    /// Sequence number.
    pub seq: u32,
    /// Milliseconds since the Unix epoch, modulo 2³².
    pub timestamp_ms: u32,
    /// CPU use, per-mille.
    pub cpu: u16,
    /// Memory use, per-mille.
    pub memory: u16,
    /// Network buffer use, per-mille.
    pub net_buffers: u16,
    /// I/O queue length, per-mille of its capacity.
    pub io_queue: u16,
    /// Application backlog, per-mille of its capacity.
    pub backlog: u16,
    /// Scalar load (weighted sum), per-mille.
    pub load: u16,
}

impl LoadVector {
    fn loads(&self) -> [u16; 6] {
        [
            self.cpu,
            self.memory,
            self.net_buffers,
            self.io_queue,
            self.backlog,
            self.load,
        ]
    }
}

/// Parses a load vector: exactly [`LEN`] bytes, common header of type [`MsgType::Load`], reserved 0,
/// every load 0..=1000.
pub fn parse(buf: &[u8]) -> Result<LoadVector, Error> {
    let mut r = Reader::new(buf);
    r.header(MsgType::Load)?;
    let host_id = r.u16()?;
    r.reserved::<2>()?;
    let v = LoadVector {
        host_id,
        seq: r.u32()?,
        timestamp_ms: r.u32()?,
        cpu: r.u16()?,
        memory: r.u16()?,
        net_buffers: r.u16()?,
        io_queue: r.u16()?,
        backlog: r.u16()?,
        load: r.u16()?,
    };
    r.end()?;
    if v.loads().iter().any(|&l| l > PER_MILLE_MAX) {
        return Err(Error::BadValue);
    }
    Ok(v)
}

/// Writes a load vector into `out`; returns [`LEN`]. Fails with [`Error::BadValue`] if a load is above
/// 1000.
pub fn emit(v: &LoadVector, out: &mut [u8]) -> Result<usize, Error> {
    if v.loads().iter().any(|&l| l > PER_MILLE_MAX) {
        return Err(Error::BadValue);
    }
    if out.len() < LEN {
        return Err(Error::BufferTooSmall);
    }
    let mut w = Writer::new(out);
    w.header(MsgType::Load)?;
    w.u16(v.host_id)?;
    w.u16(0)?;
    w.u32(v.seq)?;
    w.u32(v.timestamp_ms)?;
    for l in v.loads() {
        w.u16(l)?;
    }
    Ok(w.pos())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: LoadVector = LoadVector {
        host_id: 3,
        seq: 0x0102_0304,
        timestamp_ms: 0xdead_beef,
        cpu: 1000,
        memory: 512,
        net_buffers: 1,
        io_queue: 0,
        backlog: 999,
        load: 700,
    };
    const GOLDEN: [u8; LEN] = [
        0x53, 0x41, 0x01, 0x01, // header
        0x00, 0x03, 0x00, 0x00, // host, reserved
        0x01, 0x02, 0x03, 0x04, // seq
        0xde, 0xad, 0xbe, 0xef, // timestamp
        0x03, 0xe8, 0x02, 0x00, // cpu, memory
        0x00, 0x01, 0x00, 0x00, // net buffers, I/O queue
        0x03, 0xe7, 0x02, 0xbc, // backlog, load
    ];

    #[test]
    fn golden_bytes() {
        let mut b = [0u8; 64];
        assert_eq!(emit(&V, &mut b), Ok(LEN));
        assert_eq!(b[..LEN], GOLDEN);
        assert_eq!(parse(&GOLDEN), Ok(V));
    }

    #[test]
    fn rejects() {
        assert_eq!(parse(&GOLDEN[..LEN - 1]), Err(Error::Truncated));
        let mut long = [0u8; LEN + 1];
        long[..LEN].copy_from_slice(&GOLDEN);
        assert_eq!(parse(&long), Err(Error::TooLong));
        let mut b = GOLDEN;
        b[2] = 2;
        assert_eq!(parse(&b), Err(Error::BadVersion));
        b = GOLDEN;
        b[3] = 2;
        assert_eq!(parse(&b), Err(Error::BadType));
        b = GOLDEN;
        b[0] = 0;
        assert_eq!(parse(&b), Err(Error::BadMagic));
        b = GOLDEN;
        b[7] = 1;
        assert_eq!(parse(&b), Err(Error::BadValue));
        b = GOLDEN;
        b[17] = 0xe9; // cpu 1001
        assert_eq!(parse(&b), Err(Error::BadValue));
        assert_eq!(
            emit(&LoadVector { load: 1001, ..V }, &mut [0u8; LEN]),
            Err(Error::BadValue)
        );
        assert_eq!(emit(&V, &mut [0u8; LEN - 1]), Err(Error::BufferTooSmall));
    }
}
