//! What every daemon (`sarectl agent`, `manager`, `gateway`, `ha run`) does with [`crate::auth`]:
//! the command-line flags, the key file it keeps watching, sealing what it sends, opening what it
//! receives, and the log of refusals.
//!
//! * **Flags** ([`AuthArgs`]): `--key-file FILE` or `--insecure`, one of them (both: an error;
//!   neither: the daemon refuses to start and says how to make a key). The manager's cluster file may
//!   name the key file too (`"key_file"`); the flag wins.
//! * **Sender ids**: an agent seals as its server id (1‥65535), a dispatcher's `ha run` as its
//!   `--id`; the manager and the gateway, which have no id of their own, take one above the server
//!   ids ([`MANAGER_SENDER_ID`], [`GATEWAY_SENDER_ID`], `--sender-id` to change it: each gateway
//!   needs its own, as the replay window is per sender id).
//! * **Receiving** ([`DaemonAuth::open`]): a source outside `--accept-from` is refused as
//!   `wrong_source` before any MAC is computed; then [`crate::auth::Receiver::receive`] (trailer,
//!   tag, the daemon's `admit` check, replay window), never taking the daemon's own sender id. Only
//!   what passed is parsed.
//! * **Keys**: [`DaemonAuth::poll`] looks at the key file once a second ([`KEY_POLL`]); a changed file
//!   is taken and logged, a bad one logged once per change while the old keys stay in force.
//! * **Log**: refusals are counted by reason ([`crate::auth::Rejections`], in the daemons' status)
//!   and logged at most once per reason every [`REJECT_LOG_EVERY`], with the count since the last
//!   line. The lines wait in [`DaemonAuth::take_log`] for the daemon's own log.
//! * **`--insecure`**: nothing is sealed or verified, datagrams go and are taken exactly as before
//!   keys existed (`--accept-from` still applies); a warning is logged at start and the status says
//!   `insecure`.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Error, Result};
use crate::auth::{
    KeyError, KeyFileWatch, Opened, Receiver, Reject, Rejections, SealError, Sealer,
};

/// The manager's default sender id (it sends nothing; its id is the one it never takes).
pub const MANAGER_SENDER_ID: u32 = 0xFFFF_0000;
/// The gateway's default sender id.
pub const GATEWAY_SENDER_ID: u32 = 0xFFFF_0001;
/// Sender ids from here up are not server ids: the manager, gateways.
pub const FIRST_NON_SERVER_ID: u32 = 0x1_0000;
/// How often a daemon looks at its key file.
pub const KEY_POLL: Duration = Duration::from_secs(1);
/// At most one log line per refusal reason this often.
pub const REJECT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Where the error for a daemon without keys sends the operator.
pub const NO_KEY_HELP: &str = "control datagrams are authenticated with a key the whole cluster \
     shares: make one with `sarectl key generate /etc/sara/key`, copy it to every node (mode 0600) \
     and pass `--key-file /etc/sara/key` (see `sarectl key --help`); or pass --insecure to send and \
     accept unauthenticated datagrams, as before keys existed";

/// `--key-file FILE | --insecure`, for every daemon.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthArgs {
    /// The cluster's key file (made by `sarectl key generate`, the same on every node, mode 0600):
    /// what this daemon sends is sealed with its first key, and only datagrams sealed with one of its
    /// keys are taken. Re-read within a second when it changes.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub key_file: Option<PathBuf>,
    /// Run without authentication: send and accept unauthenticated datagrams, as before keys
    /// existed. Anyone who can send UDP to this daemon can then forge what it believes.
    #[arg(long)]
    pub insecure: bool,
}

/// How a daemon treats control datagrams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Seal and verify with the keys of this file.
    KeyFile(PathBuf),
    /// No authentication (`--insecure`).
    Insecure,
}

impl AuthArgs {
    /// The mode these flags choose; `from_config` is a key file named by the daemon's configuration
    /// (the flag wins over it, `--insecure` too). Neither: an error saying how to make a key.
    pub fn mode(&self, from_config: Option<&Path>) -> Result<AuthMode> {
        match (&self.key_file, self.insecure, from_config) {
            (Some(_), true, _) => Err(Error::new(
                "--key-file and --insecure cannot be used together: choose one",
            )),
            (Some(f), false, _) => Ok(AuthMode::KeyFile(f.clone())),
            (None, true, _) => Ok(AuthMode::Insecure),
            (None, false, Some(f)) => Ok(AuthMode::KeyFile(f.to_path_buf())),
            (None, false, None) => Err(Error::new(format!("no key file given: {NO_KEY_HELP}"))),
        }
    }
}

// ---- source networks ------------------------------------------------------------------------

/// An address prefix, `10.0.0.0/24` or `fd00::/8` (a bare address is the host alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside (an IPv4 address in IPv6 form, `::ffff:a.b.c.d`, counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let form = "expected an address or a network like 10.0.0.0/24 (or fd00::/8)";
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{s}': '{a}' is not an IP address; {form}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0..={max}; {form}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether `ip` is in one of `nets` (all addresses when `nets` is empty).
pub fn allowed(nets: &[Cidr], ip: IpAddr) -> bool {
    nets.is_empty() || nets.iter().any(|n| n.contains(ip))
}

// ---- the daemon's side ----------------------------------------------------------------------

/// The authentication state shown in a daemon's status (`"auth"`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthStatus {
    /// `keys` (datagrams sealed and verified) or `insecure`.
    pub mode: String,
    /// The key file.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The ids of the keys in force, the sealing key first.
    #[serde(default)]
    pub key_ids: Vec<u32>,
    /// The id this daemon seals with (and never takes).
    #[serde(default)]
    pub sender_id: u32,
    /// The source networks taken (`--accept-from`; empty: any).
    #[serde(default)]
    pub accept_from: Vec<String>,
    /// Datagrams refused, by reason.
    #[serde(default)]
    pub rejections: Rejections,
    /// All refusals.
    #[serde(default)]
    pub rejected: u64,
}

impl AuthStatus {
    /// One line for people: `authentication: keys 2, 1 from FILE (sender id N); refused 3: 2
    /// bad_tag, 1 replay`.
    pub fn line(&self) -> String {
        let head = if self.mode == "insecure" {
            "OFF (--insecure): datagrams are neither sealed nor verified".to_string()
        } else {
            format!(
                "keys {} from {} (sender id {})",
                self.key_ids
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.key_file.as_deref().unwrap_or("?"),
                self.sender_id
            )
        };
        let from = if self.accept_from.is_empty() {
            String::new()
        } else {
            format!("; from {} only", self.accept_from.join(", "))
        };
        let reasons: Vec<String> = self
            .rejections
            .by_reason()
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        let refused = if reasons.is_empty() {
            "refused 0".to_string()
        } else {
            format!("refused {}: {}", self.rejected, reasons.join(", "))
        };
        format!("authentication: {head}{from}; {refused}")
    }
}

/// What an operator reads about a refusal reason.
pub fn reject_hint(r: Reject) -> &'static str {
    match r {
        Reject::Malformed => {
            "too short or too long to carry an authentication trailer (is the sender running \
             without --key-file, or with --insecure?)"
        }
        Reject::UnknownKey => {
            "sealed with a key id that is not in the key file (do all nodes have the same key \
             file? see `sarectl key show`)"
        }
        Reject::BadTag => {
            "the tag does not verify: forged, changed on the way, or sealed with another key of \
             the same id"
        }
        Reject::UnknownSender => {
            "genuine, but its sender id may not send this (a server id that is not the message's \
             own, or this daemon's own id)"
        }
        Reject::WrongSource => {
            "from an address this daemon does not take it from (--accept-from, the server's ip in \
             the cluster file, the --peer address)"
        }
        Reject::Replay => {
            "a sequence number already taken from that sender: replayed or duplicated"
        }
        Reject::TooOld => {
            "older than the sender's replay window (delayed, replayed late, or a sender restarted \
             with its clock set back)"
        }
        Reject::TooManySenders => "from a new sender id, but the table of senders is full",
    }
}

/// Log lines about refusals: at most one per reason every [`REJECT_LOG_EVERY`], saying how many
/// were refused since the previous line.
#[derive(Debug, Default)]
struct RejectLog {
    last_line: [Option<Instant>; Reject::COUNT],
    held: [u64; Reject::COUNT],
    last_from: [Option<SocketAddr>; Reject::COUNT],
}

fn slot(r: Reject) -> usize {
    Reject::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

impl RejectLog {
    fn note(&mut self, r: Reject, from: SocketAddr, now: Instant, out: &mut Vec<String>) {
        let i = slot(r);
        self.held[i] = self.held[i].saturating_add(1);
        self.last_from[i] = Some(from);
        let due = self.last_line[i].is_none_or(|t| now.duration_since(t) >= REJECT_LOG_EVERY);
        if due {
            self.line(r, now, out);
        }
    }

    fn line(&mut self, r: Reject, now: Instant, out: &mut Vec<String>) {
        let i = slot(r);
        let n = std::mem::take(&mut self.held[i]);
        let from = self.last_from[i]
            .map(|a| a.to_string())
            .unwrap_or_else(|| "?".into());
        let since = self.last_line[i].map(|t| now.duration_since(t).as_secs());
        self.last_line[i] = Some(now);
        let hint = reject_hint(r);
        out.push(match since {
            _ if n <= 1 => format!("refused a datagram from {from} as {r}: {hint}"),
            Some(s) => format!(
                "refused {n} datagrams as {r} in the last {s} s (the last from {from}): {hint}"
            ),
            None => format!("refused {n} datagrams as {r} (the last from {from}): {hint}"),
        });
    }

    /// The lines held back whose time has come.
    fn flush(&mut self, now: Instant, out: &mut Vec<String>) {
        for r in Reject::ALL {
            let i = slot(r);
            let due = self.last_line[i].is_none_or(|t| now.duration_since(t) >= REJECT_LOG_EVERY);
            if self.held[i] > 0 && due {
                self.line(r, now, out);
            }
        }
    }
}

/// One daemon's authentication: its keys (none with `--insecure`), its [`Sealer`], its
/// [`Receiver`], the source networks it takes, and its log lines.
#[derive(Debug)]
pub struct DaemonAuth {
    keys: Option<KeyFileWatch>,
    sealer: Sealer,
    receiver: Receiver,
    accept_from: Vec<Cidr>,
    next_poll: Option<Instant>,
    rejects: RejectLog,
    lines: Vec<String>,
}

impl DaemonAuth {
    /// Opens the key file of `mode` (it must be good: a daemon does not start without keys) for a
    /// daemon that seals as `sender`.
    pub fn new(mode: &AuthMode, sender: u32) -> Result<DaemonAuth> {
        match mode {
            AuthMode::Insecure => Ok(DaemonAuth::insecure(sender)),
            AuthMode::KeyFile(p) => {
                let w = KeyFileWatch::open(p).map_err(|e| match &e {
                    KeyError::Io { err, .. } if err.kind() == std::io::ErrorKind::NotFound => {
                        Error::new(format!(
                            "{e} (make the cluster's key file with `sarectl key generate {}` on \
                             one node and copy it to the others; see `sarectl key --help`)",
                            p.display()
                        ))
                    }
                    _ => Error::new(e.to_string()),
                })?;
                Ok(DaemonAuth::with_watch(w, sender))
            }
        }
    }

    /// No authentication (`--insecure`).
    pub fn insecure(sender: u32) -> DaemonAuth {
        DaemonAuth {
            keys: None,
            sealer: Sealer::new(sender),
            receiver: Receiver::new(),
            accept_from: Vec::new(),
            next_poll: None,
            rejects: RejectLog::default(),
            lines: Vec::new(),
        }
    }

    /// Authentication with the keys of this watch.
    pub fn with_watch(keys: KeyFileWatch, sender: u32) -> DaemonAuth {
        DaemonAuth {
            keys: Some(keys),
            ..DaemonAuth::insecure(sender)
        }
    }

    /// Takes datagrams only from these networks (none: from anywhere).
    pub fn with_accept_from(mut self, nets: Vec<Cidr>) -> DaemonAuth {
        self.accept_from = nets;
        self
    }

    /// Whether datagrams go and come unauthenticated.
    pub fn is_insecure(&self) -> bool {
        self.keys.is_none()
    }

    /// The id this daemon seals with.
    pub fn sender(&self) -> u32 {
        self.sealer.sender()
    }

    /// What the daemon logs when it starts.
    pub fn start_line(&self) -> String {
        let from = if self.accept_from.is_empty() {
            String::new()
        } else {
            format!(
                "; taking datagrams from {} only",
                self.accept_from
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        match &self.keys {
            None => format!(
                "WARNING: --insecure: control datagrams are sent and taken without \
                 authentication; anyone who can send UDP here can forge what this daemon \
                 believes (make a key with `sarectl key generate` and use --key-file){from}"
            ),
            Some(w) => format!(
                "authenticating control datagrams with the keys of {} (ids {:?}, sealing with \
                 {}) as sender {}{from}",
                w.path().display(),
                w.ring().ids(),
                w.ring().sealing().id,
                self.sealer.sender()
            ),
        }
    }

    /// `msg` as it goes on the wire: sealed (or unchanged with `--insecure`).
    pub fn seal(&mut self, msg: Vec<u8>) -> std::result::Result<Vec<u8>, SealError> {
        match &self.keys {
            None => Ok(msg),
            Some(w) => self.sealer.seal_to_vec(w.ring(), &msg),
        }
    }

    /// Takes one datagram from `from`: its source must be in `--accept-from`; then (with keys) its
    /// trailer, tag, `admit` (the daemon's check of the verified sender id; this daemon's own id is
    /// refused before it is asked) and the replay window. Returns the message to parse; a refusal
    /// is counted and logged (rate-limited).
    pub fn open<'a>(
        &mut self,
        datagram: &'a [u8],
        from: SocketAddr,
        now: Instant,
        admit: impl FnOnce(&Opened<'a>) -> std::result::Result<(), Reject>,
    ) -> std::result::Result<&'a [u8], Reject> {
        let r = if !allowed(&self.accept_from, from.ip()) {
            self.receiver.count(Reject::WrongSource);
            Err(Reject::WrongSource)
        } else {
            match &self.keys {
                None => Ok(datagram),
                Some(w) => {
                    let own = self.sealer.sender();
                    self.receiver
                        .receive(w.ring(), datagram, |o| {
                            if o.sender == own {
                                Err(Reject::UnknownSender)
                            } else {
                                admit(o)
                            }
                        })
                        .map(|o| o.msg)
                }
            }
        };
        if let Err(why) = r {
            self.rejects.note(why, from, now, &mut self.lines);
        }
        r
    }

    /// Counts (and logs) a refusal the daemon decided itself.
    pub fn refuse(&mut self, why: Reject, from: SocketAddr, now: Instant) {
        self.receiver.count(why);
        self.rejects.note(why, from, now, &mut self.lines);
    }

    /// Call often: once a [`KEY_POLL`], looks at the key file (a change is taken and logged, a bad
    /// file logged once and the old keys kept) and logs the refusals held back.
    pub fn poll(&mut self, now: Instant) {
        if self.next_poll.is_some_and(|t| now < t) {
            return;
        }
        self.next_poll = Some(now + KEY_POLL);
        self.poll_keys();
        self.rejects.flush(now, &mut self.lines);
    }

    /// Looks at the key file now.
    pub fn poll_keys(&mut self) {
        let Some(w) = self.keys.as_mut() else {
            return;
        };
        match w.poll() {
            Ok(false) => {}
            Ok(true) => self.lines.push(format!(
                "key file {} changed: keys now {:?}, sealing with {}",
                w.path().display(),
                w.ring().ids(),
                w.ring().sealing().id
            )),
            Err(e) => self.lines.push(format!(
                "key file {} changed but is refused: {e}; keeping keys {:?}",
                w.path().display(),
                w.ring().ids()
            )),
        }
    }

    /// Log lines since the last call (refusals, key reloads).
    pub fn take_log(&mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    /// The refusals so far.
    pub fn rejections(&self) -> &Rejections {
        self.receiver.rejections()
    }

    /// The status part.
    pub fn status(&self) -> AuthStatus {
        let r = *self.receiver.rejections();
        AuthStatus {
            mode: if self.keys.is_some() {
                "keys".into()
            } else {
                "insecure".into()
            },
            key_file: self.keys.as_ref().map(|w| w.path().display().to_string()),
            key_ids: self
                .keys
                .as_ref()
                .map(|w| w.ring().ids())
                .unwrap_or_default(),
            sender_id: self.sealer.sender(),
            accept_from: self.accept_from.iter().map(|c| c.to_string()).collect(),
            rejected: r.total(),
            rejections: r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{write_key_file, Key, KeyRing};

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sara-secure-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn ring(id: u32, fill: u8) -> KeyRing {
        KeyRing::single(Key {
            id,
            bytes: [fill; 32],
        })
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn flags_choose_the_mode() {
        let none = AuthArgs::default();
        let e = none.mode(None).unwrap_err();
        assert!(
            e.message().contains("sarectl key generate /etc/sara/key")
                && e.message().contains("--key-file /etc/sara/key")
                && e.message().contains("--insecure"),
            "{e}"
        );
        let cfg = Path::new("/etc/sara/from-config");
        assert_eq!(none.mode(Some(cfg)).unwrap(), AuthMode::KeyFile(cfg.into()));
        let key = AuthArgs {
            key_file: Some("/k".into()),
            insecure: false,
        };
        assert_eq!(key.mode(Some(cfg)).unwrap(), AuthMode::KeyFile("/k".into()));
        let insecure = AuthArgs {
            key_file: None,
            insecure: true,
        };
        assert_eq!(insecure.mode(Some(cfg)).unwrap(), AuthMode::Insecure);
        let both = AuthArgs {
            key_file: Some("/k".into()),
            insecure: true,
        };
        assert!(both.mode(None).unwrap_err().message().contains("together"));

        use clap::Parser;
        #[derive(Parser, Debug)]
        struct Cli {
            #[command(flatten)]
            auth: AuthArgs,
        }
        let e = Cli::try_parse_from(["x", "--key-file", "/k", "--insecure"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
        let c = Cli::try_parse_from(["x", "--key-file", "/k"]).unwrap();
        assert_eq!(c.auth.key_file, Some(PathBuf::from("/k")));
    }

    #[test]
    fn networks() {
        let n: Cidr = "10.0.0.0/24".parse().unwrap();
        assert!(n.contains("10.0.0.200".parse().unwrap()));
        assert!(!n.contains("10.0.1.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.7".parse().unwrap()));
        assert!(!n.contains("fd00::1".parse().unwrap()));
        let h: Cidr = "10.0.0.3".parse().unwrap();
        assert_eq!(h.to_string(), "10.0.0.3/32");
        assert!(
            h.contains("10.0.0.3".parse().unwrap()) && !h.contains("10.0.0.4".parse().unwrap())
        );
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(
            v6.contains("fd12::1".parse().unwrap()) && !v6.contains("fe80::1".parse().unwrap())
        );
        for (bad, why) in [
            ("10.0.0.0/33", "0..=32"),
            ("fd00::/129", "0..=128"),
            ("10.0.0/24", "not an IP address"),
            ("host/8", "not an IP address"),
            ("10.0.0.0/x", "prefix length"),
        ] {
            let e = bad.parse::<Cidr>().unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(allowed(&[], "192.0.2.1".parse().unwrap()));
        assert!(!allowed(&[n, h], "192.0.2.1".parse().unwrap()));
        assert!(allowed(&[n, h], "10.0.0.3".parse().unwrap()));
    }

    #[test]
    fn seal_open_and_refusals_are_counted_and_logged_rate_limited() {
        let d = temp_dir("open");
        let p = d.join("key");
        write_key_file(&p, &ring(1, 7), false).unwrap();
        let mut tx = DaemonAuth::new(&AuthMode::KeyFile(p.clone()), 5).unwrap();
        let mut rx = DaemonAuth::new(&AuthMode::KeyFile(p.clone()), MANAGER_SENDER_ID)
            .unwrap()
            .with_accept_from(vec!["10.0.0.0/24".parse().unwrap()]);
        assert!(
            rx.start_line().contains("ids [1], sealing with 1"),
            "{}",
            rx.start_line()
        );
        assert!(rx.start_line().contains("from 10.0.0.0/24 only"));
        let t0 = Instant::now();
        let ok = addr("10.0.0.11:4000");
        let sealed = tx.seal(b"hello".to_vec()).unwrap();
        assert_eq!(sealed.len(), 5 + 32);
        let admit = |o: &Opened<'_>| {
            if o.sender == 5 {
                Ok(())
            } else {
                Err(Reject::UnknownSender)
            }
        };
        assert_eq!(rx.open(&sealed, ok, t0, admit), Ok(&b"hello"[..]));
        // Replayed, forged, unsealed, from outside --accept-from, refused by admit, own id.
        assert_eq!(rx.open(&sealed, ok, t0, admit), Err(Reject::Replay));
        let mut forged = tx.seal(b"hello".to_vec()).unwrap();
        forged[0] ^= 1;
        assert_eq!(rx.open(&forged, ok, t0, admit), Err(Reject::BadTag));
        assert_eq!(rx.open(b"hello", ok, t0, admit), Err(Reject::Malformed));
        let other = tx.seal(b"x".to_vec()).unwrap();
        assert_eq!(
            rx.open(&other, addr("192.0.2.1:1"), t0, admit),
            Err(Reject::WrongSource)
        );
        assert_eq!(
            rx.open(&other, ok, t0, |_| Err(Reject::UnknownSender)),
            Err(Reject::UnknownSender)
        );
        let mut me = DaemonAuth::new(&AuthMode::KeyFile(p.clone()), MANAGER_SENDER_ID).unwrap();
        let mine = me.seal(b"x".to_vec()).unwrap();
        assert_eq!(
            rx.open(&mine, ok, t0, |_| Ok(())),
            Err(Reject::UnknownSender),
            "its own id is never taken"
        );
        // Not refused by the window (nothing before moved it): taken now.
        assert_eq!(rx.open(&other, ok, t0, admit), Ok(&b"x"[..]));
        let s = rx.status();
        assert_eq!(s.mode, "keys");
        assert_eq!(s.key_ids, [1]);
        assert_eq!(s.sender_id, MANAGER_SENDER_ID);
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
        assert_eq!(s.rejected, 6);
        let line = s.line();
        assert!(
            line.starts_with(&format!(
                "authentication: keys 1 from {} (sender id {MANAGER_SENDER_ID}); from 10.0.0.0/24 only; refused 6: 1 malformed",
                p.display()
            )),
            "{line}"
        );
        // One line per reason so far.
        let log = rx.take_log();
        assert_eq!(log.len(), 5, "{log:#?}");
        assert!(log[0].starts_with("refused a datagram from 10.0.0.11:4000 as replay: "));
        // A flood of forgeries: one more line only after 10 s, with the count.
        for i in 0..100u32 {
            let t = t0 + Duration::from_millis(u64::from(i) * 50);
            assert_eq!(rx.open(&forged, ok, t, admit), Err(Reject::BadTag));
        }
        assert!(rx.take_log().is_empty());
        rx.poll(t0 + Duration::from_secs(30));
        // Then what was held back: the 100 forgeries, and the second unknown_sender.
        let log = rx.take_log();
        assert_eq!(log.len(), 2, "{log:#?}");
        assert!(
            log[0].starts_with("refused 100 datagrams as bad_tag in the last 30 s (the last from 10.0.0.11:4000): "),
            "{log:#?}"
        );
        assert!(log[1].contains("as unknown_sender"), "{log:#?}");
        rx.poll(t0 + Duration::from_secs(60));
        assert!(rx.take_log().is_empty());
        assert_eq!(rx.rejections().bad_tag, 101);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn insecure_is_as_before() {
        let mut a = DaemonAuth::new(&AuthMode::Insecure, 3).unwrap();
        assert!(a.is_insecure());
        assert!(a.start_line().starts_with("WARNING: --insecure"));
        assert_eq!(a.seal(b"msg".to_vec()).unwrap(), b"msg");
        let t = Instant::now();
        assert_eq!(
            a.open(b"anything", addr("192.0.2.1:1"), t, |_| Err(
                Reject::UnknownSender
            )),
            Ok(&b"anything"[..])
        );
        let mut a = a.with_accept_from(vec!["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(
            a.open(b"anything", addr("192.0.2.1:1"), t, |_| Ok(())),
            Err(Reject::WrongSource)
        );
        let s = a.status();
        assert_eq!((s.mode.as_str(), s.rejected), ("insecure", 1));
        assert!(
            s.line().starts_with("authentication: OFF (--insecure)"),
            "{}",
            s.line()
        );
    }

    #[test]
    fn key_reload_and_bad_files() {
        let d = temp_dir("reload");
        let p = d.join("key");
        assert!(DaemonAuth::new(&AuthMode::KeyFile(p.clone()), 1)
            .unwrap_err()
            .message()
            .contains("sarectl key generate"));
        write_key_file(&p, &ring(1, 1), false).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = DaemonAuth::new(&AuthMode::KeyFile(p.clone()), 1).unwrap_err();
        assert!(
            e.message().contains("chmod 600") && !e.message().contains("generate"),
            "{e}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut tx = DaemonAuth::new(&AuthMode::KeyFile(p.clone()), 9).unwrap();
        let mut rx = DaemonAuth::new(&AuthMode::KeyFile(p.clone()), 8).unwrap();
        let t = Instant::now();
        rx.poll(t);
        assert!(rx.take_log().is_empty());
        // Rotation step 1 then 2: the new key seals, both are taken.
        let both = KeyRing::new(vec![
            Key {
                id: 2,
                bytes: [2; 32],
            },
            Key {
                id: 1,
                bytes: [1; 32],
            },
        ])
        .unwrap();
        let old = tx.seal(b"old".to_vec()).unwrap();
        write_key_file(&p, &both, true).unwrap();
        // Not looked at again within the second; then taken.
        rx.poll(t + Duration::from_millis(500));
        assert!(rx.take_log().is_empty());
        rx.poll(t + KEY_POLL);
        let log = rx.take_log();
        assert_eq!(log.len(), 1);
        assert!(
            log[0].contains("changed: keys now [2, 1], sealing with 2"),
            "{log:?}"
        );
        tx.poll_keys();
        let new = tx.seal(b"new".to_vec()).unwrap();
        assert_eq!(
            rx.open(&old, addr("10.0.0.1:1"), t, |_| Ok(())),
            Ok(&b"old"[..])
        );
        assert_eq!(
            rx.open(&new, addr("10.0.0.1:1"), t, |_| Ok(())),
            Ok(&b"new"[..])
        );
        // A bad file: logged once, the keys kept.
        std::fs::write(d.join("bad"), "junk\n").unwrap();
        std::fs::rename(d.join("bad"), &p).unwrap();
        rx.poll_keys();
        rx.poll_keys();
        let log = rx.take_log();
        assert_eq!(log.len(), 1, "{log:?}");
        assert!(
            log[0].contains("refused") && log[0].contains("keeping keys [2, 1]"),
            "{log:?}"
        );
        assert_eq!(rx.status().key_ids, [2, 1]);
        let _ = std::fs::remove_dir_all(&d);
    }
}
