//! Why a control datagram was refused, and the counters of refusals by reason.
//!
//! [`Reject`] is every reason a receiver refuses a datagram, whichever step decided it: the trailer
//! ([`super::trailer::open`]: malformed, unknown key, bad tag), the daemon's own checks between
//! verification and the replay window (unknown sender, wrong source), and the replay window
//! ([`super::replay`]: replay, too old, too many senders). [`Rejections`] counts them; its JSON form
//! (field names = [`Reject::name`]) is stable, for the daemons' status documents.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a datagram was refused. Stable snake_case names ([`Reject::name`]) for counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    /// Shorter than a trailer plus one message byte, or longer than the datagram budget
    /// ([`super::trailer::MAX_SEALED`]): no trailer can be read.
    Malformed,
    /// The trailer names a key id that is not in the key ring.
    UnknownKey,
    /// The tag does not verify: forged, modified in transit, or sealed with another key of that id.
    BadTag,
    /// Genuine, but the sender id is not one this daemon takes messages from (decided by the daemon).
    UnknownSender,
    /// Genuine, but it came from an address that sender id does not use (decided by the daemon).
    WrongSource,
    /// Genuine, but this sequence number was already accepted from that sender: a replay (or a
    /// duplicate the network made).
    Replay,
    /// Genuine, but older than that sender's replay window: a late replay, a datagram delayed
    /// beyond the window, or a sender restarted with its clock set back (see [`super::Sequencer`]).
    TooOld,
    /// Genuine, from a sender never seen before, but the replay table already holds its maximum
    /// number of senders ([`super::replay::MAX_SENDERS`]).
    TooManySenders,
}

impl Reject {
    /// Number of reasons.
    pub const COUNT: usize = 8;

    /// Every reason, in counter order.
    pub const ALL: [Reject; Reject::COUNT] = [
        Reject::Malformed,
        Reject::UnknownKey,
        Reject::BadTag,
        Reject::UnknownSender,
        Reject::WrongSource,
        Reject::Replay,
        Reject::TooOld,
        Reject::TooManySenders,
    ];

    /// Stable lower-case name (counters, logs, JSON).
    pub fn name(self) -> &'static str {
        match self {
            Reject::Malformed => "malformed",
            Reject::UnknownKey => "unknown_key",
            Reject::BadTag => "bad_tag",
            Reject::UnknownSender => "unknown_sender",
            Reject::WrongSource => "wrong_source",
            Reject::Replay => "replay",
            Reject::TooOld => "too_old",
            Reject::TooManySenders => "too_many_senders",
        }
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for Reject {}

/// Refused datagrams, counted by reason. Serialises as a JSON object with one field per reason,
/// named as [`Reject::name`] (`{"malformed":0,"unknown_key":0,…}`), in [`Reject::ALL`]'s order;
/// read back from a status file with missing fields as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rejections {
    /// [`Reject::Malformed`].
    pub malformed: u64,
    /// [`Reject::UnknownKey`].
    pub unknown_key: u64,
    /// [`Reject::BadTag`].
    pub bad_tag: u64,
    /// [`Reject::UnknownSender`].
    pub unknown_sender: u64,
    /// [`Reject::WrongSource`].
    pub wrong_source: u64,
    /// [`Reject::Replay`].
    pub replay: u64,
    /// [`Reject::TooOld`].
    pub too_old: u64,
    /// [`Reject::TooManySenders`].
    pub too_many_senders: u64,
}

impl Rejections {
    /// All zero.
    pub const fn new() -> Self {
        Rejections {
            malformed: 0,
            unknown_key: 0,
            bad_tag: 0,
            unknown_sender: 0,
            wrong_source: 0,
            replay: 0,
            too_old: 0,
            too_many_senders: 0,
        }
    }

    fn slot(&mut self, r: Reject) -> &mut u64 {
        match r {
            Reject::Malformed => &mut self.malformed,
            Reject::UnknownKey => &mut self.unknown_key,
            Reject::BadTag => &mut self.bad_tag,
            Reject::UnknownSender => &mut self.unknown_sender,
            Reject::WrongSource => &mut self.wrong_source,
            Reject::Replay => &mut self.replay,
            Reject::TooOld => &mut self.too_old,
            Reject::TooManySenders => &mut self.too_many_senders,
        }
    }

    /// Counts one refusal (saturating).
    pub fn count(&mut self, r: Reject) {
        let c = self.slot(r);
        *c = c.saturating_add(1);
    }

    /// The count of one reason.
    pub fn get(&self, r: Reject) -> u64 {
        match r {
            Reject::Malformed => self.malformed,
            Reject::UnknownKey => self.unknown_key,
            Reject::BadTag => self.bad_tag,
            Reject::UnknownSender => self.unknown_sender,
            Reject::WrongSource => self.wrong_source,
            Reject::Replay => self.replay,
            Reject::TooOld => self.too_old,
            Reject::TooManySenders => self.too_many_senders,
        }
    }

    /// Every reason with its count, in [`Reject::ALL`]'s order (zeros included), for text output.
    pub fn by_reason(&self) -> impl Iterator<Item = (Reject, u64)> + '_ {
        Reject::ALL.into_iter().map(move |r| (r, self.get(r)))
    }

    /// All refusals together (saturating).
    pub fn total(&self) -> u64 {
        self.by_reason().fold(0u64, |t, (_, n)| t.saturating_add(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_distinct() {
        let names: Vec<&str> = Reject::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "malformed",
                "unknown_key",
                "bad_tag",
                "unknown_sender",
                "wrong_source",
                "replay",
                "too_old",
                "too_many_senders"
            ]
        );
        for r in Reject::ALL {
            assert_eq!(r.to_string(), r.name());
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.name())
            );
        }
    }

    #[test]
    fn counts_by_reason() {
        let mut c = Rejections::new();
        assert_eq!(c, Rejections::default());
        c.count(Reject::BadTag);
        c.count(Reject::BadTag);
        c.count(Reject::Replay);
        c.count(Reject::TooManySenders);
        assert_eq!(c.get(Reject::BadTag), 2);
        assert_eq!(c.total(), 4);
        let listed: Vec<(Reject, u64)> = c.by_reason().filter(|&(_, n)| n > 0).collect();
        assert_eq!(
            listed,
            [
                (Reject::BadTag, 2),
                (Reject::Replay, 1),
                (Reject::TooManySenders, 1)
            ]
        );
        assert_eq!(c.by_reason().count(), Reject::COUNT);
        c.bad_tag = u64::MAX;
        c.count(Reject::BadTag);
        assert_eq!(c.bad_tag, u64::MAX);
        assert_eq!(c.total(), u64::MAX);
    }

    #[test]
    fn json_fields_are_the_reason_names() {
        let mut c = Rejections::new();
        for (i, r) in Reject::ALL.into_iter().enumerate() {
            for _ in 0..=i {
                c.count(r);
            }
        }
        let v: serde_json::Value = serde_json::to_value(c).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), Reject::COUNT);
        for (i, r) in Reject::ALL.into_iter().enumerate() {
            assert_eq!(obj[r.name()], serde_json::json!(i + 1), "{r}");
        }
        assert_eq!(
            serde_json::to_string(&Rejections::new()).unwrap(),
            "{\"malformed\":0,\"unknown_key\":0,\"bad_tag\":0,\"unknown_sender\":0,\
             \"wrong_source\":0,\"replay\":0,\"too_old\":0,\"too_many_senders\":0}"
        );
    }
}
