//! The monitoring messages as the control plane uses them: heartbeat (paper Fig. 6) and load
//! vector (Fig. 8). The byte layout is `sara_core::msg`'s (the one wire format of SARA); this module
//! only adapts it: one datagram in, one [`Message`] out, and the reverse.

use super::measure::Components;
use sara_core::msg;

pub use msg::heartbeat::{Flag, Heartbeat};
pub use msg::load::LoadVector;

/// A decoded monitoring datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// Heartbeat.
    Heartbeat(Heartbeat),
    /// Load vector.
    Load(LoadVector),
}

/// The bytes of a heartbeat.
pub fn encode_heartbeat(h: &Heartbeat) -> Vec<u8> {
    let mut b = vec![0u8; msg::heartbeat::LEN];
    // Cannot fail: the buffer has the exact size and every flag value is valid.
    let n = msg::heartbeat::emit(h, &mut b).unwrap_or(0);
    b.truncate(n);
    b
}

/// The bytes of a load vector; loads above 1000 are sent as 1000.
pub fn encode_load(v: &LoadVector) -> Vec<u8> {
    let mut v = *v;
    for x in [
        &mut v.cpu,
        &mut v.memory,
        &mut v.net_buffers,
        &mut v.io_queue,
        &mut v.backlog,
        &mut v.load,
    ] {
        *x = (*x).min(msg::load::PER_MILLE_MAX);
    }
    let mut b = vec![0u8; msg::load::LEN];
    let n = msg::load::emit(&v, &mut b).unwrap_or(0);
    b.truncate(n);
    b
}

/// Decodes one datagram: a heartbeat is exactly 11 bytes, anything else must be a load vector.
/// The error names why it is not a monitoring message (`sara_core::msg::Error`).
pub fn decode(buf: &[u8]) -> Result<Message, msg::Error> {
    if buf.len() == msg::heartbeat::LEN {
        msg::heartbeat::parse(buf).map(Message::Heartbeat)
    } else {
        msg::load::parse(buf).map(Message::Load)
    }
}

/// The components of a load vector.
pub fn components(v: &LoadVector) -> Components {
    Components {
        cpu: v.cpu,
        mem: v.memory,
        net: v.net_buffers,
        io: v.io_queue,
        backlog: v.backlog,
    }
}

/// A load vector from its parts.
pub fn load_vector(
    host_id: u16,
    seq: u32,
    timestamp_ms: u32,
    c: &Components,
    load: u16,
) -> LoadVector {
    LoadVector {
        host_id,
        seq,
        timestamp_ms,
        cpu: c.cpu,
        memory: c.mem,
        net_buffers: c.net,
        io_queue: c.io,
        backlog: c.backlog,
        load,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let h = Heartbeat {
            host_id: 7,
            seq: 0xdead_beef,
            flag: Flag::PlannedFailure,
            timestamp: 1_772_366_400,
        };
        let b = encode_heartbeat(&h);
        assert_eq!(b.len(), 11, "Fig. 6's 11 bytes");
        assert_eq!(decode(&b), Ok(Message::Heartbeat(h)));
        let c = Components {
            cpu: 1,
            mem: 2,
            net: 3,
            io: 4,
            backlog: 1000,
        };
        let v = load_vector(2, 9, 12345, &c, 500);
        assert_eq!(components(&v), c);
        assert_eq!(decode(&encode_load(&v)), Ok(Message::Load(v)));
        let big = load_vector(2, 9, 0, &Components { cpu: 5000, ..c }, 500);
        match decode(&encode_load(&big)) {
            Ok(Message::Load(l)) => assert_eq!(l.cpu, 1000),
            other => panic!("{other:?}"),
        }
        assert!(decode(b"").is_err());
        assert!(decode(b"hello world, not sara").is_err());
        let mut bad = b.clone();
        bad[6] = 0x19; // version 1, flag 9
        assert_eq!(decode(&bad), Err(msg::Error::BadValue));
        for n in 0..b.len() {
            assert!(decode(&b[..n]).is_err());
        }
    }
}
