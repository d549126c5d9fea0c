//! Authenticated control datagrams (issue #15): every UDP message of `sara_core::msg` that a SARA
//! daemon sends carries a 32-byte trailer — sender id, key id, a 64-bit sequence and a 128-bit
//! HMAC-SHA-256 tag — and a receiver believes nothing of a datagram before the tag verified and the
//! sequence passed the sender's replay window.
//!
//! ## The threat
//!
//! The control datagrams (heartbeats and load vectors to the manager, announcements from the
//! gateway, replication batches and dispatcher heartbeats between the dispatchers) travel on the
//! cluster's networks, and whoever can send a UDP datagram there — a compromised or misbehaving
//! host on the client side of the network, or anything that can spoof a cluster address — could,
//! without this layer:
//!
//! * **forge** messages: declare a server up or down or loaded, announce flows that steer a client's
//!   traffic, inject sessions into the backup dispatcher's table, claim the active role;
//! * **modify** genuine messages in transit;
//! * **replay** genuine messages recorded earlier: a dead server's "up" heartbeats, an old load
//!   vector, a replication batch.
//!
//! With it, a datagram is believed only if it was sealed by a holder of a cluster key
//! ([`trailer`]), is unchanged (any bit flipped fails the tag), and is not one already taken nor
//! older than its sender's window ([`replay`]). The daemons then check that the verified sender id
//! is one they take messages from, arriving from the address it uses ([`Receiver::receive`]'s
//! `admit`).
//!
//! ## What is not protected
//!
//! * **No confidentiality, by design.** The messages carry load figures, server ids and flow
//!   5-tuples that anyone on the path already sees in the traffic itself; what an attacker must not
//!   do is *change what the balancer believes*, which is integrity and authenticity. Encrypting
//!   would add a cipher, nonces and their failure modes for no secret worth keeping, and would
//!   keep `tcpdump` from showing operators what the daemons say. The message bytes go on the wire
//!   unchanged, the trailer after them.
//! * **Not against a key holder.** Keys are shared by the cluster (one or two at a time, for
//!   rotation: [`keys`]); any node holding the key can seal as any sender id. A node is trusted or
//!   it is not; per-node keys are a later step if needed.
//! * **Not against dropping or delaying**: an on-path attacker can still discard datagrams (the
//!   failure detector then sees a failure, which is what it is for).
//! * **A receiver that restarts** forgets its windows: the first datagram it then gets from each
//!   sender is judged by its tag alone, so a recording replayed before the sender's next genuine
//!   datagram is taken until that one arrives (see [`ReplayGuard::set_first_floor`] for a bound).
//! * **Senders restarted with their clock set back** are refused as `too_old` for about as long as
//!   the step back ([`replay`]'s caveat).
//!
//! ## Use
//!
//! ```no_run
//! use sara_ctl::auth::{KeyFileWatch, Receiver, Reject, Sealer};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut keys = KeyFileWatch::open("/etc/sara/keys".as_ref())?;
//! let mut tx = Sealer::new(7);
//! let mut rx = Receiver::new();
//! # let (msg, datagram) = (&[1u8][..], &[0u8; 40][..]);
//! // Once a second:
//! if let Err(e) = keys.poll() {
//!     eprintln!("{e}; keeping keys {:?}", keys.ring().ids());
//! }
//! // Sending:
//! let sealed = tx.seal_to_vec(keys.ring(), msg)?;
//! // Receiving:
//! let admit = |o: &sara_ctl::auth::Opened<'_>| match o.sender {
//!     3 => Ok(()), // and the source address is the one sender 3 uses
//!     _ => Err(Reject::UnknownSender),
//! };
//! match rx.receive(keys.ring(), datagram, admit) {
//!     Ok(o) => { /* parse o.msg with sara_core::msg */ }
//!     Err(_why) => { /* counted in rx.rejections() */ }
//! }
//! # let _ = sealed; Ok(()) }
//! ```
//!
//! The design choices (layout, tag length, window, rotation steps) are in docs/decisions.md,
//! "Authenticated control datagrams".

pub mod counters;
pub mod endpoint;
pub mod keys;
pub mod replay;
pub mod trailer;

pub use counters::{Reject, Rejections};
pub use endpoint::{Receiver, Sealer};
pub use keys::{generate, write_key_file, Key, KeyError, KeyFileWatch, KeyRing};
pub use replay::{ReplayGuard, ReplayWindow, Sequencer};
pub use trailer::{open, seal, seal_to_vec, Opened, SealError, MAX_MESSAGE, TRAILER_LEN};
