//! What can go wrong talking to `sara.ko`, the words an operator reads for it, and `sarectl`'s exit
//! status.
//!
//! Exit status (stable; scripts and the VM tests rely on it):
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0 | success |
//! | 1 | the kernel refused the request (netlink error: errno + extended ack) |
//! | 2 | usage error: bad arguments (clap's own exit code), or a wrong cluster file (`sarectl apply`) |
//! | 3 | `sara.ko` is not loaded: generic netlink family `sara` not found |
//! | 4 | any other error: socket, I/O, timeout, malformed reply |

use std::fmt;

use sara_core::genl;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The kernel refused the request.
pub const EXIT_KERNEL: u8 = 1;
/// Bad arguments (what clap exits with on a usage error).
pub const EXIT_USAGE: u8 = 2;
/// `sara.ko` is not loaded (family `sara` missing).
pub const EXIT_NOT_LOADED: u8 = 3;
/// Socket, I/O, timeout or malformed reply.
pub const EXIT_IO: u8 = 4;

/// The exit-status section of `sarectl --help`.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success
  1  the kernel refused the request (its reason is printed)
  2  usage error: bad or missing arguments, or a cluster file that is unreadable or wrong
  3  sara.ko is not loaded (generic netlink family \"sara\" not found)
  4  any other error: socket, I/O, timeout, unexpected reply";

/// Policy limits the kernel reported for a rejected attribute (`NLMSGERR_ATTR_POLICY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyHint {
    /// Smallest accepted unsigned value.
    pub min_value: Option<u64>,
    /// Largest accepted unsigned value.
    pub max_value: Option<u64>,
    /// Smallest accepted signed value.
    pub min_value_s: Option<i64>,
    /// Largest accepted signed value.
    pub max_value_s: Option<i64>,
    /// Smallest accepted payload length in bytes.
    pub min_len: Option<u32>,
    /// Largest accepted payload length in bytes.
    pub max_len: Option<u32>,
}

impl PolicyHint {
    /// True when the kernel gave no limit at all.
    pub fn is_empty(&self) -> bool {
        *self == PolicyHint::default()
    }
}

/// A refusal from the kernel: an `NLMSG_ERROR` with a negative error, decoded with its extended ack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelError {
    /// The errno, positive (`EINVAL` = 22).
    pub errno: i32,
    /// `NLMSGERR_ATTR_MSG`: the kernel's own words, if it gave any.
    pub message: Option<String>,
    /// `NLMSGERR_ATTR_OFFS`: offset of the offending attribute in the request (from its nlmsghdr).
    pub bad_attr_offset: Option<u32>,
    /// Type of the attribute at `bad_attr_offset`, looked up in the request that was sent.
    pub bad_attr: Option<u16>,
    /// `NLMSGERR_ATTR_MISS_TYPE`: a required attribute that was missing.
    pub missing_attr: Option<u16>,
    /// `NLMSGERR_ATTR_POLICY`: the limits of the rejected attribute.
    pub policy: Option<PolicyHint>,
}

impl KernelError {
    /// A refusal with only an errno.
    pub fn from_errno(errno: i32) -> Self {
        KernelError {
            errno,
            ..Default::default()
        }
    }

    /// Everything the kernel said, for an operator: words for the errno, then its message, the
    /// attribute it objected to, and the policy limits.
    pub fn describe(&self) -> String {
        let mut s = errno_words(self.errno);
        if let Some(m) = self
            .message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            s.push_str(": ");
            s.push_str(m);
        }
        let mut details = Vec::new();
        if let Some(t) = self.missing_attr {
            details.push(format!("missing attribute {}", attr_label(t)));
        }
        if let Some(t) = self.bad_attr {
            details.push(format!("offending attribute {}", attr_label(t)));
        } else if let Some(off) = self.bad_attr_offset {
            details.push(format!("offending attribute at byte {off} of the request"));
        }
        if let Some(p) = self.policy.as_ref().filter(|p| !p.is_empty()) {
            details.push(policy_words(p));
        }
        if !details.is_empty() {
            s.push_str(" (");
            s.push_str(&details.join("; "));
            s.push(')');
        }
        s
    }
}

fn range_words(what: &str, min: Option<String>, max: Option<String>) -> Option<String> {
    match (min, max) {
        (Some(a), Some(b)) if a == b => Some(format!("{what} must be {a}")),
        (Some(a), Some(b)) => Some(format!("{what} must be {a}..={b}")),
        (Some(a), None) => Some(format!("{what} must be at least {a}")),
        (None, Some(b)) => Some(format!("{what} must be at most {b}")),
        (None, None) => None,
    }
}

fn policy_words(p: &PolicyHint) -> String {
    let s = |v: Option<u64>| v.map(|v| v.to_string());
    let i = |v: Option<i64>| v.map(|v| v.to_string());
    let l = |v: Option<u32>| v.map(|v| v.to_string());
    [
        range_words("value", s(p.min_value), s(p.max_value)),
        range_words("value", i(p.min_value_s), i(p.max_value_s)),
        range_words("length in bytes", l(p.min_len), l(p.max_len)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ")
}

pub use crate::kernel::names::{attr_label, attr_name};

/// Symbolic name of the errnos a netlink request can meet.
pub fn errno_name(errno: i32) -> Option<&'static str> {
    Some(match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::E2BIG => "E2BIG",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::EMSGSIZE => "EMSGSIZE",
        libc::ENOBUFS => "ENOBUFS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        _ => return None,
    })
}

/// The system's description of an errno, without Rust's " (os error N)" suffix.
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Operator words for an errno returned by `sara.ko`.
pub fn errno_words(errno: i32) -> String {
    match errno {
        libc::EPERM | libc::EACCES => {
            "permission denied: changing SARA needs CAP_NET_ADMIN (run as root)".into()
        }
        libc::EEXIST => "already exists".into(),
        libc::ENOENT => "not found".into(),
        libc::ENODEV => "no such network interface".into(),
        libc::EINVAL => "invalid request".into(),
        libc::ENOMEM => "the kernel is out of memory".into(),
        libc::ENOSPC => "no space left: a SARA table is full".into(),
        libc::EBUSY => "busy: the object is in use, try again later".into(),
        libc::EOPNOTSUPP => "not supported by this sara.ko (is it older than sarectl?)".into(),
        libc::ERANGE => "value out of range".into(),
        libc::EMSGSIZE => "request or reply too large".into(),
        _ => match errno_name(errno) {
            Some(n) => format!("{} ({n})", strerror(errno)),
            None => format!("{} (errno {errno})", strerror(errno)),
        },
    }
}

/// Everything a `sarectl` command can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The kernel refused a request. `context` says what was being done ("cannot add server 3").
    Kernel {
        /// What was being attempted, or empty.
        context: String,
        /// The kernel's answer.
        err: Box<KernelError>,
    },
    /// The generic netlink family `sara` does not resolve.
    FamilyNotFound,
    /// Socket or I/O failure, timeout.
    Io(String),
    /// The kernel answered something this sarectl cannot read.
    Protocol(String),
    /// Arguments that passed clap but are still unusable.
    Usage(String),
}

impl Error {
    /// The process exit status for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Kernel { .. } => EXIT_KERNEL,
            Error::Usage(_) => EXIT_USAGE,
            Error::FamilyNotFound => EXIT_NOT_LOADED,
            Error::Io(_) | Error::Protocol(_) => EXIT_IO,
        }
    }

    /// Attach what was being attempted to a kernel refusal; other errors are returned unchanged.
    pub fn context(self, what: impl Into<String>) -> Self {
        match self {
            Error::Kernel { err, .. } => Error::Kernel {
                context: what.into(),
                err,
            },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernel { context, err } if context.is_empty() => {
                write!(f, "the kernel refused the request: {}", err.describe())
            }
            Error::Kernel { context, err } => write!(f, "{context}: {}", err.describe()),
            Error::FamilyNotFound => write!(
                f,
                "generic netlink family \"{}\" not found — is sara.ko loaded?",
                genl::FAMILY_NAME
            ),
            Error::Io(m) => f.write_str(m),
            Error::Protocol(m) => write!(f, "unexpected answer from sara.ko: {m}"),
            Error::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_words_for_operators() {
        let perm = "permission denied: changing SARA needs CAP_NET_ADMIN (run as root)";
        assert_eq!(errno_words(libc::EPERM), perm);
        assert_eq!(errno_words(libc::EACCES), perm);
        assert_eq!(errno_words(libc::EEXIST), "already exists");
        assert_eq!(errno_words(libc::ENOENT), "not found");
        assert_eq!(errno_words(libc::ENODEV), "no such network interface");
        assert_eq!(errno_words(libc::EINVAL), "invalid request");
        assert!(errno_words(libc::ENOMEM).contains("out of memory"));
        assert!(errno_words(libc::ENOSPC).contains("full"));
        assert!(errno_words(libc::EBUSY).starts_with("busy"));
        assert!(errno_words(libc::EOPNOTSUPP).starts_with("not supported"));
        // Unknown errnos still say something, with their number or name.
        assert!(errno_words(libc::EIO).contains("EIO"));
        assert!(errno_words(4095).contains("errno 4095"));
        assert!(!errno_words(4095).contains("os error"));
    }

    #[test]
    fn kernel_error_description_carries_the_kernel_message() {
        let e = KernelError {
            errno: libc::EINVAL,
            message: Some("server MAC must be 6 bytes".into()),
            bad_attr_offset: Some(36),
            bad_attr: Some(9), // A_SERVER_MAC
            missing_attr: None,
            policy: Some(PolicyHint {
                min_len: Some(6),
                max_len: Some(6),
                ..Default::default()
            }),
        };
        assert_eq!(
            e.describe(),
            "invalid request: server MAC must be 6 bytes (offending attribute A_SERVER_MAC (9); \
             length in bytes must be 6)"
        );
        let e = KernelError {
            missing_attr: Some(1), // A_VIP
            ..KernelError::from_errno(libc::EINVAL)
        };
        assert_eq!(
            e.describe(),
            "invalid request (missing attribute A_VIP (1))"
        );
        let e = KernelError {
            bad_attr_offset: Some(40),
            policy: Some(PolicyHint {
                min_value: Some(1),
                max_value: Some(65535),
                ..Default::default()
            }),
            ..KernelError::from_errno(libc::ERANGE)
        };
        assert_eq!(
            e.describe(),
            "value out of range (offending attribute at byte 40 of the request; value must be 1..=65535)"
        );
    }

    #[test]
    fn display_and_exit_codes() {
        assert_eq!(
            Error::FamilyNotFound.to_string(),
            "generic netlink family \"sara\" not found — is sara.ko loaded?"
        );
        assert_eq!(Error::FamilyNotFound.exit_code(), 3);
        let k = Error::Kernel {
            context: String::new(),
            err: Box::new(KernelError::from_errno(libc::EEXIST)),
        };
        assert_eq!(k.exit_code(), 1);
        let k = k.context("cannot add service 10.0.0.1:80/tcp");
        assert_eq!(
            k.to_string(),
            "cannot add service 10.0.0.1:80/tcp: already exists"
        );
        assert_eq!(Error::Io("x".into()).exit_code(), 4);
        assert_eq!(Error::Protocol("x".into()).exit_code(), 4);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(
            Error::Io("x".into()).context("ignored"),
            Error::Io("x".into())
        );
    }
}
