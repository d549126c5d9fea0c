//! Keys: the shared secrets that seal control datagrams, the key ring a daemon holds (one or two
//! keys, so keys rotate without an outage), the key file, and its watch.
//!
//! ## Key file
//!
//! Text, one key per line, `#` starts a comment (to the end of the line), blank lines are ignored:
//!
//! ```text
//! # SARA control-datagram keys: the first key seals, every key listed is accepted.
//! sara-key-v1 2 8f0c…(64 hex digits)…
//! sara-key-v1 1 33a1…(64 hex digits)…
//! ```
//!
//! * `sara-key-v1`: the format (a later format gets a new word, which this code refuses by name).
//! * the key id, decimal `u32`: sent in every trailer, so a receiver knows which key to verify with;
//!   the ids in one file are distinct.
//! * the key: 32 bytes (256 bits, the HMAC-SHA-256 output size), 64 hex digits (either case).
//!
//! One or two keys. The first seals what this node sends; both are accepted on receipt. Rotation
//! (docs/decisions.md, "Authenticated control datagrams"): add the new key as the second line on
//! every node; then make it the first line on every node; then remove the old line. Daemons reload
//! the file when it changes ([`KeyFileWatch`]), so no step needs a restart.
//!
//! The file is a secret: [`KeyRing::load`] refuses a file that its group or others may read or
//! write (any of the mode bits 0o077), with an error that says `chmod 600 FILE`. [`write_key_file`]
//! creates it with mode 0600, atomically (a reader sees the old file or the new one, never half).

use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Size of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Most keys a ring (and a key file) holds: the current one and the next (or previous) one.
pub const MAX_KEYS: usize = 2;
/// The first word of a key line.
pub const KEY_LINE_TAG: &str = "sara-key-v1";
/// Largest key file read (a few lines; anything bigger is not a key file).
pub const MAX_FILE_LEN: u64 = 64 * 1024;

/// A shared secret and its id. `Debug` does not show the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// Sent in each trailer: which key sealed the datagram.
    pub id: u32,
    /// The HMAC-SHA-256 key.
    pub bytes: [u8; KEY_LEN],
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("bytes", &"<secret>")
            .finish()
    }
}

impl Key {
    /// The key's line in a key file (`sara-key-v1 ID HEX`, no newline).
    pub fn to_line(&self) -> String {
        let mut s = format!("{KEY_LINE_TAG} {} ", self.id);
        for b in self.bytes {
            s.push(hex_digit(b >> 4));
            s.push(hex_digit(b & 0xf));
        }
        s
    }
}

/// A new key with id `id` and 32 bytes from the operating system's random source (`getrandom`).
pub fn generate(id: u32) -> Result<Key, KeyError> {
    let mut bytes = [0u8; KEY_LEN];
    getrandom::fill(&mut bytes).map_err(KeyError::Random)?;
    Ok(Key { id, bytes })
}

/// The keys a daemon holds: one or two, with distinct ids. The first ([`KeyRing::sealing`]) seals
/// what this node sends; every key is accepted on receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<Key>,
}

impl KeyRing {
    /// A ring of 1..=[`MAX_KEYS`] keys with distinct ids, the first being the sealing key.
    pub fn new(keys: Vec<Key>) -> Result<KeyRing, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKey { path: None });
        }
        if keys.len() > MAX_KEYS {
            return Err(KeyError::TooManyKeys {
                path: None,
                line: None,
            });
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(KeyError::DuplicateId {
                    path: None,
                    line: None,
                    id: k.id,
                });
            }
        }
        Ok(KeyRing { keys })
    }

    /// A ring of one key.
    pub fn single(key: Key) -> KeyRing {
        KeyRing { keys: vec![key] }
    }

    /// The key that seals what this node sends (the file's first key).
    pub fn sealing(&self) -> &Key {
        // Never empty: every constructor puts at least one key in.
        &self.keys[0]
    }

    /// The key of id `id`, if the ring has it.
    pub fn get(&self, id: u32) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// Every key, the sealing key first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The key ids, the sealing key's first (for logs: never the bytes).
    pub fn ids(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.id).collect()
    }

    /// Parses a key file's text (see the module documentation). Errors name the line (1-based).
    pub fn parse(text: &str) -> Result<KeyRing, KeyError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let key = parse_line(content).map_err(|what| KeyError::Parse {
                path: None,
                line,
                what,
            })?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(KeyError::DuplicateId {
                    path: None,
                    line: Some(line),
                    id: key.id,
                });
            }
            if keys.len() == MAX_KEYS {
                return Err(KeyError::TooManyKeys {
                    path: None,
                    line: Some(line),
                });
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(KeyError::NoKey { path: None });
        }
        Ok(KeyRing { keys })
    }

    /// The ring as a key file's text: a comment, then one line per key, the sealing key first.
    pub fn to_file_text(&self) -> String {
        let mut s = String::from(
            "# SARA control-datagram keys (sarectl key generate). Keep this file mode 0600.\n\
             # The first key seals what this node sends; every key listed is accepted.\n",
        );
        for k in &self.keys {
            s.push_str(&k.to_line());
            s.push('\n');
        }
        s
    }

    /// Reads and parses the key file at `path`. Refuses a file that is not a regular file, or that
    /// its group or others may read or write (mode & 0o077 ≠ 0: fix with `chmod 600 FILE`).
    pub fn load(path: &Path) -> Result<KeyRing, KeyError> {
        load_stamped(path).map(|(ring, _)| ring)
    }
}

/// One `sara-key-v1 ID HEX` line (comment and surrounding blanks already removed).
fn parse_line(content: &str) -> Result<Key, String> {
    let mut words = content.split_whitespace();
    let tag = words.next().unwrap_or("");
    // Errors quote nothing of the line: it may hold key bytes in the wrong place.
    if tag != KEY_LINE_TAG {
        return Err(format!(
            "expected `{KEY_LINE_TAG} ID HEX`: the line does not start with `{KEY_LINE_TAG}` \
             (unknown format word)"
        ));
    }
    let id_word = words
        .next()
        .ok_or_else(|| format!("expected `{KEY_LINE_TAG} ID HEX`: the key id is missing"))?;
    let id: u32 = id_word
        .parse()
        .map_err(|_| "the key id is not a decimal number in 0..=4294967295".to_string())?;
    let hex = words.next().ok_or_else(|| {
        format!("expected `{KEY_LINE_TAG} ID HEX`: the key (64 hex digits) is missing")
    })?;
    if words.next().is_some() {
        return Err(format!(
            "expected `{KEY_LINE_TAG} ID HEX`: unexpected text after the key"
        ));
    }
    let bytes = parse_hex_key(hex)?;
    Ok(Key { id, bytes })
}

fn parse_hex_key(hex: &str) -> Result<[u8; KEY_LEN], String> {
    let digits = hex.as_bytes();
    if digits.len() != 2 * KEY_LEN {
        return Err(format!(
            "the key must be {} hex digits ({KEY_LEN} bytes), found {}",
            2 * KEY_LEN,
            digits.len()
        ));
    }
    let mut out = [0u8; KEY_LEN];
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return Err("the key has a character that is not a hex digit".into()),
        }
    }
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn hex_digit(v: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(v & 0xf)])
}

/// What identifies one version of a file for [`KeyFileWatch`]: any change of these is a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mode: m.mode(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// Opens, checks and parses `path`; the stamp is the opened file's own (fstat), not the path's.
fn load_stamped(path: &Path) -> Result<(KeyRing, Stamp), KeyError> {
    let io_err = |err| KeyError::Io {
        path: path.to_path_buf(),
        err,
    };
    let f = File::open(path).map_err(io_err)?;
    let meta = f.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(KeyError::Parse {
            path: Some(path.to_path_buf()),
            line: 0,
            what: format!(
                "{} bytes: too big for a key file (at most {MAX_FILE_LEN})",
                meta.len()
            ),
        });
    }
    let mut text = String::new();
    f.take(MAX_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(io_err)?;
    let ring = KeyRing::parse(&text).map_err(|e| e.with_path(path))?;
    Ok((ring, Stamp::of(&meta)))
}

/// Writes `ring` as the key file `path` with mode 0600, atomically: the text goes to a new file
/// beside it (`.NAME.new`, created exclusively with mode 0600 and synced), which then takes the
/// name. With `replace` false an existing `path` is left alone and [`KeyError::Exists`] returned
/// (the final step is then a hard link, which refuses an existing name, rather than a rename).
pub fn write_key_file(path: &Path, ring: &KeyRing, replace: bool) -> Result<(), KeyError> {
    let io_err = |err| KeyError::Io {
        path: path.to_path_buf(),
        err,
    };
    let name = path.file_name().ok_or_else(|| KeyError::NotAFile {
        path: path.to_path_buf(),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".new");
    let tmp = path.with_file_name(tmp_name);
    if !replace && fs::symlink_metadata(path).is_ok() {
        return Err(KeyError::Exists {
            path: path.to_path_buf(),
        });
    }
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
    };
    let mut f = match open() {
        Ok(f) => f,
        // A leftover of an interrupted write: remove it (the link, if it is one) and start again.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(&tmp).map_err(io_err)?;
            open().map_err(io_err)?
        }
        Err(e) => return Err(io_err(e)),
    };
    let written = (|| {
        // The umask may have taken bits from 0600; set exactly 0600.
        f.set_permissions(Permissions::from_mode(0o600))?;
        f.write_all(ring.to_file_text().as_bytes())?;
        f.sync_all()?;
        if replace {
            fs::rename(&tmp, path)
        } else {
            fs::hard_link(&tmp, path).and_then(|()| fs::remove_file(&tmp))
        }
    })();
    match written {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            if e.kind() == io::ErrorKind::AlreadyExists {
                Err(KeyError::Exists {
                    path: path.to_path_buf(),
                })
            } else {
                Err(io_err(e))
            }
        }
    }
}

/// A key file a daemon keeps reading: [`KeyFileWatch::poll`] (once a second, say) reloads the file
/// when its inode, size, mode, mtime or ctime changed, and keeps the ring it has when the new file is
/// bad (returning why, once per change, for the log).
#[derive(Debug)]
pub struct KeyFileWatch {
    path: PathBuf,
    ring: KeyRing,
    /// The version the ring came from, or the last version tried (good or bad).
    seen: Option<Stamp>,
}

impl KeyFileWatch {
    /// Loads `path` (which must be good: a daemon does not start without keys) and watches it.
    pub fn open(path: &Path) -> Result<KeyFileWatch, KeyError> {
        let (ring, stamp) = load_stamped(path)?;
        Ok(KeyFileWatch {
            path: path.to_path_buf(),
            ring,
            seen: Some(stamp),
        })
    }

    /// The ring in force.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Looks at the file: `Ok(false)` unchanged since the last look; `Ok(true)` changed and loaded
    /// (the ring may hold the same keys, e.g. after a chmod); `Err` changed but refused (unreadable,
    /// missing, wrong mode, bad text): the previous ring stays in force and the same version of the
    /// file is not reported again.
    pub fn poll(&mut self) -> Result<bool, KeyError> {
        let now = fs::metadata(&self.path).ok().map(|m| Stamp::of(&m));
        if now == self.seen {
            return Ok(false);
        }
        match load_stamped(&self.path) {
            Ok((ring, stamp)) => {
                self.ring = ring;
                self.seen = Some(stamp);
                Ok(true)
            }
            Err(e) => {
                self.seen = now;
                Err(e)
            }
        }
    }
}

/// What is wrong with a key file, a key ring, or key generation. `Display` is the operator's text.
#[derive(Debug)]
pub enum KeyError {
    /// The file could not be opened, read or written.
    Io {
        /// The key file.
        path: PathBuf,
        /// Why.
        err: io::Error,
    },
    /// The path is not a regular file (or has no file name, when writing).
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file's group or others may read or write it.
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A line is not `sara-key-v1 ID HEX` (or the file is too big: line 0).
    Parse {
        /// The key file, if the text came from one.
        path: Option<PathBuf>,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        what: String,
    },
    /// No key at all.
    NoKey {
        /// The key file, if the text came from one.
        path: Option<PathBuf>,
    },
    /// More than [`MAX_KEYS`] keys.
    TooManyKeys {
        /// The key file, if the text came from one.
        path: Option<PathBuf>,
        /// The line of the key too many.
        line: Option<usize>,
    },
    /// Two keys with one id.
    DuplicateId {
        /// The key file, if the text came from one.
        path: Option<PathBuf>,
        /// The line of the second one.
        line: Option<usize>,
        /// The id.
        id: u32,
    },
    /// [`write_key_file`] without `replace`: the file exists.
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// The operating system's random source failed.
    Random(getrandom::Error),
}

impl KeyError {
    /// The same error, naming the file the text came from.
    fn with_path(self, p: &Path) -> KeyError {
        let p = Some(p.to_path_buf());
        match self {
            KeyError::Parse { line, what, .. } => KeyError::Parse {
                path: p,
                line,
                what,
            },
            KeyError::NoKey { .. } => KeyError::NoKey { path: p },
            KeyError::TooManyKeys { line, .. } => KeyError::TooManyKeys { path: p, line },
            KeyError::DuplicateId { line, id, .. } => KeyError::DuplicateId { path: p, line, id },
            other => other,
        }
    }
}

/// `FILE:LINE: ` (or less, when either is unknown).
fn place(path: &Option<PathBuf>, line: Option<usize>) -> String {
    match (path, line) {
        (Some(p), Some(l)) => format!("{}:{l}: ", p.display()),
        (Some(p), None) => format!("{}: ", p.display()),
        (None, Some(l)) => format!("line {l}: "),
        (None, None) => String::new(),
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io { path, err } => write!(f, "key file {}: {err}", path.display()),
            KeyError::NotAFile { path } => {
                write!(f, "key file {}: not a regular file", path.display())
            }
            KeyError::Permissions { path, mode } => write!(
                f,
                "key file {p} has mode {mode:04o}: its group or others may read or write it, so \
                 its keys are refused; run `chmod 600 {p}` (and check who owns it)",
                p = path.display()
            ),
            KeyError::Parse { path, line, what } => {
                let l = (*line > 0).then_some(*line);
                write!(f, "{}{what}", place(path, l))
            }
            KeyError::NoKey { path } => write!(
                f,
                "{}no key (expected 1 or {MAX_KEYS} lines `{KEY_LINE_TAG} ID HEX`)",
                place(path, None)
            ),
            KeyError::TooManyKeys { path, line } => write!(
                f,
                "{}more than {MAX_KEYS} keys (keep the current key and, while rotating, one other)",
                place(path, *line)
            ),
            KeyError::DuplicateId { path, line, id } => {
                write!(f, "{}key id {id} is listed twice", place(path, *line))
            }
            KeyError::Exists { path } => {
                write!(f, "key file {} exists; not overwriting it", path.display())
            }
            KeyError::Random(e) => write!(f, "no random bytes from the operating system: {e}"),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty directory of its own for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sara-auth-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn key(id: u32, fill: u8) -> Key {
        Key {
            id,
            bytes: [fill; KEY_LEN],
        }
    }

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    const HEX_A: &str = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

    #[test]
    fn parses_keys_comments_and_blanks() {
        let text = format!(
            "# keys\n\n  sara-key-v1 7 {HEX_A}   # the new one\n\tsara-key-v1 4294967295 {}\n",
            "0f".repeat(32)
        );
        let ring = KeyRing::parse(&text).unwrap();
        assert_eq!(ring.ids(), [7, u32::MAX]);
        assert_eq!(ring.sealing().id, 7);
        assert_eq!(ring.sealing().bytes[..4], [0x00, 0x11, 0x22, 0x33]);
        assert_eq!(ring.sealing().bytes[28..], [0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(ring.get(u32::MAX).unwrap().bytes, [0x0f; KEY_LEN]);
        assert!(ring.get(8).is_none());
        // The text it writes reads back the same.
        assert_eq!(KeyRing::parse(&ring.to_file_text()).unwrap(), ring);
        assert_eq!(
            ring.sealing().to_line(),
            format!("sara-key-v1 7 {}", HEX_A.to_lowercase())
        );
    }

    #[test]
    fn parse_errors_name_the_line() {
        let good = format!("sara-key-v1 1 {HEX_A}");
        let cases: Vec<(String, usize, &str)> = vec![
            (
                format!("# c\nsara-key-v2 1 {HEX_A}"),
                2,
                "unknown format word",
            ),
            (format!("{good}\nsara-key-v1\n"), 2, "key id is missing"),
            ("sara-key-v1 2".into(), 1, "64 hex digits) is missing"),
            (format!("sara-key-v1 -1 {HEX_A}"), 1, "not a decimal number"),
            (
                format!("sara-key-v1 4294967296 {HEX_A}"),
                1,
                "not a decimal number",
            ),
            (format!("\n\nsara-key-v1 1 {}", &HEX_A[..62]), 3, "found 62"),
            (format!("sara-key-v1 1 {HEX_A}00"), 1, "found 66"),
            (
                format!("sara-key-v1 1 {}g", &HEX_A[..63]),
                1,
                "not a hex digit",
            ),
            (format!("sara-key-v1 1 {HEX_A} extra"), 1, "unexpected text"),
        ];
        for (text, line, what) in cases {
            match KeyRing::parse(&text) {
                Err(e @ KeyError::Parse { line: l, .. }) => {
                    assert_eq!(l, line, "{text}: {e}");
                    let msg = e.to_string();
                    assert!(msg.starts_with(&format!("line {line}: ")), "{msg}");
                    assert!(msg.contains(what), "{msg} lacks {what}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let e = KeyRing::parse(&format!("{good}\n# x\n{good}\n")).unwrap_err();
        assert!(
            matches!(
                e,
                KeyError::DuplicateId {
                    line: Some(3),
                    id: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        let three = format!("{good}\nsara-key-v1 2 {HEX_A}\nsara-key-v1 3 {HEX_A}\n");
        let e = KeyRing::parse(&three).unwrap_err();
        assert!(
            matches!(e, KeyError::TooManyKeys { line: Some(3), .. }),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("line 3: more than 2 keys"), "{e}");
        for empty in ["", "# only a comment\n\n   \n"] {
            let e = KeyRing::parse(empty).unwrap_err();
            assert!(matches!(e, KeyError::NoKey { .. }), "{e:?}");
        }
        // An error quotes nothing of the line (it may be key bytes in the wrong place).
        for text in [
            format!("{HEX_A} 1"),
            format!("sara-key-v1 {HEX_A} 1"),
            format!("sara-key-v1 1 {HEX_A}x"),
        ] {
            let msg = KeyRing::parse(&text).unwrap_err().to_string();
            assert!(!msg.contains(&HEX_A[..8]), "{msg}");
        }
    }

    #[test]
    fn ring_rules() {
        assert!(matches!(KeyRing::new(vec![]), Err(KeyError::NoKey { .. })));
        assert!(matches!(
            KeyRing::new(vec![key(1, 1), key(2, 2), key(3, 3)]),
            Err(KeyError::TooManyKeys { .. })
        ));
        assert!(matches!(
            KeyRing::new(vec![key(1, 1), key(1, 2)]),
            Err(KeyError::DuplicateId { id: 1, .. })
        ));
        let r = KeyRing::new(vec![key(2, 2), key(1, 1)]).unwrap();
        assert_eq!(r.sealing().id, 2);
        assert_eq!(r.keys().len(), 2);
        assert_eq!(KeyRing::single(key(9, 9)).ids(), [9]);
        // Debug never shows key bytes.
        let shown = format!("{r:?}");
        assert!(
            shown.contains("<secret>") && !shown.contains("[2, 2"),
            "{shown}"
        );
    }

    #[test]
    fn generate_gives_fresh_random_keys() {
        let a = generate(5).unwrap();
        let b = generate(5).unwrap();
        assert_eq!(a.id, 5);
        assert_ne!(a.bytes, b.bytes);
        assert_ne!(a.bytes, [0; KEY_LEN]);
    }

    #[test]
    fn write_then_load() {
        let d = temp_dir("write");
        let p = d.join("keys");
        let ring = KeyRing::single(generate(1).unwrap());
        write_key_file(&p, &ring, false).unwrap();
        assert_eq!(mode_of(&p), 0o600);
        assert_eq!(KeyRing::load(&p).unwrap(), ring);
        assert!(!d.join(".keys.new").exists());
        // Not overwritten without `replace`.
        let other = KeyRing::new(vec![generate(2).unwrap(), ring.sealing().clone()]).unwrap();
        let e = write_key_file(&p, &other, false).unwrap_err();
        assert!(matches!(e, KeyError::Exists { .. }), "{e:?}");
        assert_eq!(KeyRing::load(&p).unwrap(), ring);
        // Replaced with it, by a new inode (a rename), still 0600; a leftover temporary is no
        // obstacle.
        fs::write(d.join(".keys.new"), "junk").unwrap();
        let ino = fs::metadata(&p).unwrap().ino();
        write_key_file(&p, &other, true).unwrap();
        assert_eq!(KeyRing::load(&p).unwrap(), other);
        assert_ne!(fs::metadata(&p).unwrap().ino(), ino);
        assert_eq!(mode_of(&p), 0o600);
        assert!(!d.join(".keys.new").exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn load_refuses_group_or_world_access() {
        let d = temp_dir("perm");
        let p = d.join("keys");
        fs::write(&p, format!("sara-key-v1 1 {HEX_A}\n")).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666] {
            fs::set_permissions(&p, Permissions::from_mode(mode)).unwrap();
            let e = KeyRing::load(&p).unwrap_err();
            assert!(
                matches!(e, KeyError::Permissions { mode: m, .. } if m == mode),
                "{e:?}"
            );
            let msg = e.to_string();
            assert!(msg.contains(&format!("chmod 600 {}", p.display())), "{msg}");
            assert!(msg.contains(&format!("{mode:04o}")), "{msg}");
        }
        for mode in [0o600, 0o400] {
            fs::set_permissions(&p, Permissions::from_mode(mode)).unwrap();
            assert_eq!(KeyRing::load(&p).unwrap().ids(), [1]);
        }
        // Errors from a file name the file and the line.
        fs::set_permissions(&p, Permissions::from_mode(0o600)).unwrap();
        fs::write(&p, format!("# x\nsara-key-v1 1 {}\n", &HEX_A[..10])).unwrap();
        let msg = KeyRing::load(&p).unwrap_err().to_string();
        assert!(msg.starts_with(&format!("{}:2: ", p.display())), "{msg}");
        fs::write(&p, "# nothing\n").unwrap();
        let msg = KeyRing::load(&p).unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("{}: no key", p.display())),
            "{msg}"
        );
        // Not a file; missing.
        assert!(matches!(KeyRing::load(&d), Err(KeyError::NotAFile { .. })));
        let e = KeyRing::load(&d.join("missing")).unwrap_err();
        assert!(
            matches!(e, KeyError::Io { .. }) && e.to_string().contains("missing"),
            "{e}"
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn watch_reloads_changes_and_keeps_the_old_ring_on_a_bad_file() {
        let d = temp_dir("watch");
        let p = d.join("keys");
        let one = KeyRing::single(key(1, 1));
        write_key_file(&p, &one, false).unwrap();
        let mut w = KeyFileWatch::open(&p).unwrap();
        assert_eq!(w.path(), p);
        assert_eq!(w.ring(), &one);
        assert!(!w.poll().unwrap());

        // Rotation step 1: a second key, replaced atomically.
        let two = KeyRing::new(vec![key(1, 1), key(2, 2)]).unwrap();
        write_key_file(&p, &two, true).unwrap();
        assert!(w.poll().unwrap());
        assert_eq!(w.ring(), &two);
        assert!(!w.poll().unwrap());

        // A bad file: reported once, the ring stays.
        let tmp = d.join("bad");
        fs::write(&tmp, "sara-key-v1 3 abc\n").unwrap();
        fs::set_permissions(&tmp, Permissions::from_mode(0o600)).unwrap();
        fs::rename(&tmp, &p).unwrap();
        let e = w.poll().unwrap_err();
        assert!(e.to_string().contains(":1: "), "{e}");
        assert_eq!(w.ring(), &two);
        assert!(!w.poll().unwrap());

        // Fixed: loaded.
        let three = KeyRing::new(vec![key(2, 2), key(1, 1)]).unwrap();
        write_key_file(&p, &three, true).unwrap();
        assert!(w.poll().unwrap());
        assert_eq!(w.ring(), &three);

        // A chmod is a change: refused, ring kept; chmod back: loaded again.
        fs::set_permissions(&p, Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(w.poll(), Err(KeyError::Permissions { .. })));
        assert_eq!(w.ring(), &three);
        assert!(!w.poll().unwrap());
        fs::set_permissions(&p, Permissions::from_mode(0o600)).unwrap();
        assert!(w.poll().unwrap());

        // Removed: reported once, ring kept; back: loaded.
        fs::remove_file(&p).unwrap();
        assert!(matches!(w.poll(), Err(KeyError::Io { .. })));
        assert!(!w.poll().unwrap());
        assert_eq!(w.ring(), &three);
        write_key_file(&p, &one, false).unwrap();
        assert!(w.poll().unwrap());
        assert_eq!(w.ring(), &one);

        // An in-place rewrite of another size is seen too.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        writeln!(f, "sara-key-v1 2 {HEX_A}").unwrap();
        drop(f);
        assert!(w.poll().unwrap());
        assert_eq!(w.ring().ids(), [1, 2]);

        assert!(KeyFileWatch::open(&d.join("missing")).is_err());
        let _ = fs::remove_dir_all(&d);
    }
}
