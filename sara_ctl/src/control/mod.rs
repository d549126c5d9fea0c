//! SARA's control plane: monitoring agent (on each server) and manager (on the dispatcher).
//!
//! * [`forecast`] — per-server sliding window, least-squares forecast, prediction error, damped
//!   estimate (paper eq. 5–8).
//! * [`cluster`] — cluster load (eq. 1).
//! * [`thresholds`] — moving admission thresholds T2/T3 (eq. 4 as the spec reads it).
//! * [`detector`] — heartbeat failure detector and load-monitor watchdog (Fig. 7, Fig. 8).
//! * [`measure`] — the agent's load vector read from `/proc` and `/sys`.
//! * [`agent`] — `sarectl agent …`: sends heartbeats and load vectors over UDP.
//! * [`manager`] — `sarectl manager …`: receives them, decides, pushes to `sara.ko`.
//! * [`secure`] — what every daemon does with [`crate::auth`]: `--key-file`/`--insecure`, sealing,
//!   opening, key reload, the log of refusals.
//! * [`wire`] — the monitoring messages as the control plane uses them (encoding lives in
//!   `sara_core::msg`).
//!
//! Units: every load is in per-mille (0‥1000, 1000 = full). Inside the control plane loads are
//! `f64` per-mille; what goes to the kernel is rounded to integer per-mille (`u16`).

pub mod agent;
pub mod cluster;
pub mod detector;
pub mod forecast;
pub mod manager;
pub mod measure;
pub mod secure;
pub mod thresholds;
pub mod when;
pub mod wire;

use std::fmt;

/// An error of the control plane, already worded for an operator: it says what was being done
/// (which file, which socket, which address) and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Result of the control plane's fallible operations.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds "while doing what" to an I/O (or any displayable) error.
pub(crate) trait Context<T> {
    /// Wraps the error as `"{what}: {error}"`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {e}", what())))
    }
}

/// Converts a per-mille value computed in floating point to the kernel's integer per-mille:
/// rounded to the nearest, clamped to 0‥1000, NaN as 0.
pub fn to_permille(v: f64) -> u16 {
    if v.is_nan() {
        return 0;
    }
    // Clamped first, so the cast is exact.
    v.round().clamp(0.0, 1000.0) as u16
}

/// Milliseconds since the Unix epoch, from the system clock (0 if the clock is before 1970).
pub(crate) fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permille_rounding_and_clamping() {
        assert_eq!(to_permille(0.4), 0);
        assert_eq!(to_permille(0.5), 1);
        assert_eq!(to_permille(417.6), 418);
        assert_eq!(to_permille(-3.0), 0);
        assert_eq!(to_permille(1000.4), 1000);
        assert_eq!(to_permille(5000.0), 1000);
        assert_eq!(to_permille(f64::NAN), 0);
    }

    #[test]
    fn context_names_the_action() {
        let r: std::result::Result<(), std::io::Error> =
            Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let e = r
            .ctx(|| "reading /etc/sara/cluster.json".into())
            .unwrap_err();
        assert!(
            e.message().starts_with("reading /etc/sara/cluster.json: "),
            "{e}"
        );
    }
}
