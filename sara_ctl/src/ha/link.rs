//! The failover daemon's side of the network, without sockets: what goes to the peer is sealed
//! ([`Link::seal`]), what comes is checked and opened ([`Link::open`]) before [`super::node::Node`]
//! parses it.
//!
//! A datagram is taken only from the `--peer` address (and from `--accept-from`, if given), sealed
//! with a key of the key file by a sender id that is not this dispatcher's own `--id` and that is
//! the one its batch header names (`sender_id`): the trailer's sender is the header's. Refusals are
//! counted by reason ([`crate::auth::Rejections`], in the status file's `auth`). With `--insecure`
//! datagrams go and come unsealed, and one from another address than the peer's is counted as
//! garbage, as before keys existed.

use std::net::SocketAddr;
use std::time::Instant;

use sara_core::msg::repl;

use crate::auth::{Opened, Reject};
use crate::control::secure::{AuthStatus, DaemonAuth};

/// The sealing and opening of one dispatcher's datagrams to and from its peer.
#[derive(Debug)]
pub struct Link {
    auth: DaemonAuth,
    peer: SocketAddr,
    /// Datagrams that could not be sealed (none are expected: batches are sized for the trailer).
    pub seal_errors: u64,
}

/// Whether a datagram whose trailer verified may be the peer's: its batch header names the
/// trailer's sender (a message that is no batch is let through, for the node to count as garbage).
pub fn admit(o: &Opened<'_>) -> Result<(), Reject> {
    match repl::parse(o.msg) {
        Ok(b) if u32::from(b.header.sender_id) != o.sender => Err(Reject::UnknownSender),
        _ => Ok(()),
    }
}

impl Link {
    /// A link to `peer` with this authentication (its sender id is this dispatcher's `--id`).
    pub fn new(auth: DaemonAuth, peer: SocketAddr) -> Link {
        Link {
            auth,
            peer,
            seal_errors: 0,
        }
    }

    /// The peer's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// What the daemon logs when it starts.
    pub fn start_line(&self) -> String {
        self.auth.start_line()
    }

    /// One datagram as it goes to the peer (`None`: it could not be sealed; counted).
    pub fn seal(&mut self, msg: Vec<u8>) -> Option<Vec<u8>> {
        match self.auth.seal(msg) {
            Ok(d) => Some(d),
            Err(_) => {
                self.seal_errors += 1;
                None
            }
        }
    }

    /// A datagram from `from`: the message for the node, or `None` when it is refused (counted;
    /// with `--insecure`, one from another address than the peer's is added to `garbage`).
    pub fn open<'a>(
        &mut self,
        datagram: &'a [u8],
        from: SocketAddr,
        now: Instant,
        garbage: &mut u64,
    ) -> Option<&'a [u8]> {
        if from.ip().to_canonical() != self.peer.ip().to_canonical() {
            if self.auth.is_insecure() {
                *garbage += 1;
            } else {
                self.auth.refuse(Reject::WrongSource, from, now);
            }
            return None;
        }
        self.auth.open(datagram, from, now, admit).ok()
    }

    /// Call often: key file reload, held-back refusal lines.
    pub fn poll(&mut self, now: Instant) {
        self.auth.poll(now);
    }

    /// Log lines since the last call.
    pub fn take_log(&mut self) -> Vec<String> {
        self.auth.take_log()
    }

    /// The status file's `auth`.
    pub fn status(&self) -> AuthStatus {
        self.auth.status()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::auth::{write_key_file, Key, KeyRing};
    use crate::control::secure::AuthMode;
    use sara_core::msg::repl::{BatchHeader, BatchWriter, Record, Role};
    use sara_core::msg::MAX_DATAGRAM;
    use std::path::{Path, PathBuf};

    pub(crate) fn key_file(dir: &Path, fill: u8) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(format!("key-{fill}"));
        let ring = KeyRing::single(Key {
            id: 1,
            bytes: [fill; 32],
        });
        write_key_file(&p, &ring, true).unwrap();
        p
    }

    fn link(key: &Path, id: u16, peer: &str) -> Link {
        let auth = DaemonAuth::new(&AuthMode::KeyFile(key.into()), u32::from(id)).unwrap();
        Link::new(auth, peer.parse().unwrap())
    }

    /// A batch from dispatcher `id` with `n` records.
    fn batch(id: u16, n: usize) -> Vec<u8> {
        let h = BatchHeader {
            sender_id: id,
            role: Role::Active,
            priority: 255,
            epoch: 7,
            seq: 0,
            flags: 0,
        };
        let mut b = vec![0u8; MAX_DATAGRAM];
        let mut w = BatchWriter::new(&h, &mut b).unwrap();
        for i in 0..n {
            w.push(&Record::SessionEnded {
                session_id: i as u32,
            })
            .unwrap();
        }
        let len = w.finish();
        b.truncate(len);
        b
    }

    #[test]
    fn sealed_batches_from_the_peer_only() {
        let dir = std::env::temp_dir().join(format!("sara-ha-link-{}", std::process::id()));
        let key = key_file(&dir, 0x33);
        let forger_key = key_file(&dir, 0x44);
        let mut a = link(&key, 1, "10.0.0.3:7410");
        let mut b = link(&key, 2, "10.0.0.2:7410");
        let a_addr: SocketAddr = "10.0.0.2:7410".parse().unwrap();
        let t = Instant::now();
        let mut garbage = 0;
        // Taken.
        let d = a.seal(batch(1, 3)).unwrap();
        assert_eq!(b.open(&d, a_addr, t, &mut garbage), Some(&batch(1, 3)[..]));
        // Replayed; forged (another key of the same id); unsealed; from another address.
        assert_eq!(b.open(&d, a_addr, t, &mut garbage), None);
        let mut forger = link(&forger_key, 1, "10.0.0.3:7410");
        let f = forger.seal(batch(1, 0)).unwrap();
        assert_eq!(b.open(&f, a_addr, t, &mut garbage), None);
        assert_eq!(b.open(&batch(1, 0), a_addr, t, &mut garbage), None);
        let d2 = a.seal(batch(1, 0)).unwrap();
        assert_eq!(
            b.open(&d2, "10.0.0.9:7410".parse().unwrap(), t, &mut garbage),
            None
        );
        // A key holder sealing as 1 a batch whose header says 3: unknown_sender; as b's own id: too.
        let lie = a.seal(batch(3, 0)).unwrap();
        assert_eq!(b.open(&lie, a_addr, t, &mut garbage), None);
        let mut me = link(&key, 2, "10.0.0.3:7410");
        let mine = me.seal(batch(2, 0)).unwrap();
        assert_eq!(b.open(&mine, a_addr, t, &mut garbage), None);
        // The genuine one that was refused for its address only is taken from the right one.
        assert!(b.open(&d2, a_addr, t, &mut garbage).is_some());
        let s = b.status();
        let r = s.rejections;
        assert_eq!(
            (
                r.replay,
                r.bad_tag,
                r.malformed,
                r.wrong_source,
                r.unknown_sender
            ),
            (1, 1, 1, 1, 2)
        );
        assert_eq!((s.rejected, garbage), (6, 0));
        // A full batch, sealed, still fits the datagram budget.
        let full = a.seal(batch(1, repl::MAX_RECORDS)).unwrap();
        assert!(full.len() <= MAX_DATAGRAM, "{}", full.len());
        assert!(b.open(&full, a_addr, t, &mut garbage).is_some());
        assert_eq!(a.seal_errors, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn insecure_is_as_before() {
        let mut b = Link::new(DaemonAuth::insecure(2), "10.0.0.2:7410".parse().unwrap());
        let t = Instant::now();
        let mut garbage = 0;
        assert_eq!(b.seal(batch(2, 1)), Some(batch(2, 1)));
        let d = batch(1, 1);
        assert_eq!(
            b.open(&d, "10.0.0.2:9999".parse().unwrap(), t, &mut garbage),
            Some(&d[..])
        );
        assert_eq!(
            b.open(&d, "10.0.0.9:7410".parse().unwrap(), t, &mut garbage),
            None
        );
        assert_eq!(garbage, 1);
        assert_eq!(b.status().rejected, 0);
        assert_eq!(b.status().mode, "insecure");
    }
}
