//! What the manager sends to `sara.ko`: one [`Push`] per interval and each gateway report, through
//! a [`KernelSink`] (the kernel client, or printed with `--dry-run`, or captured in tests).

use super::*;

// ---- the push -------------------------------------------------------------------------------

pub use crate::kernel::{Push, PushServer};

/// Error of a sink, worded for an operator.
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// Where pushes go: `sara.ko` over generic netlink in production, a capture in tests.
pub trait KernelSink {
    /// Sends one push.
    fn push(&mut self, p: &Push) -> std::result::Result<(), SinkError>;

    /// Sends one gateway report (`CMD_ANNOUNCE`: the completed 5-tuple of an announced flow).
    /// `Ok(Refused)` when the kernel answered no; `Err` when it could not be asked.
    fn announce(
        &mut self,
        k: &sara_core::flow::FlowKey,
    ) -> std::result::Result<AnnounceOutcome, SinkError> {
        let _ = k;
        Err("this sink does not take gateway reports".into())
    }
}

/// The kernel's answer to one gateway report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnounceOutcome {
    /// The wildcard entry was completed.
    Completed,
    /// Refused (`ENOENT`: no announced flow waits for this report), with the kernel's words.
    Refused {
        /// Positive errno.
        errno: i32,
        /// The kernel's message, or empty.
        message: String,
    },
}

pub(super) fn show_flow(k: &sara_core::flow::FlowKey) -> String {
    crate::cli::show_key(k)
}

/// Prints each push as one JSON line on standard output (`--dry-run`).
#[derive(Debug, Default)]
pub struct PrintSink;

impl KernelSink for PrintSink {
    fn push(&mut self, p: &Push) -> std::result::Result<(), SinkError> {
        use std::io::Write;
        let line = serde_json::to_string(p)?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        Ok(())
    }

    fn announce(
        &mut self,
        k: &sara_core::flow::FlowKey,
    ) -> std::result::Result<AnnounceOutcome, SinkError> {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::json!({"announce": show_flow(k)}))?;
        out.flush()?;
        Ok(AnnounceOutcome::Completed)
    }
}

/// Keeps every push with the monotonic time it was made (tests). Clones share the same list.
#[derive(Debug, Clone, Default)]
pub struct CaptureSink {
    /// The pushes, oldest first.
    pub pushes: Arc<Mutex<Vec<(std::time::Instant, Push)>>>,
    /// The gateway reports, oldest first; those whose destination port is odd are refused (tests).
    pub announces: Arc<Mutex<Vec<sara_core::flow::FlowKey>>>,
}

impl KernelSink for CaptureSink {
    fn push(&mut self, p: &Push) -> std::result::Result<(), SinkError> {
        self.pushes
            .lock()
            .map_err(|_| "capture poisoned")?
            .push((std::time::Instant::now(), p.clone()));
        Ok(())
    }

    fn announce(
        &mut self,
        k: &sara_core::flow::FlowKey,
    ) -> std::result::Result<AnnounceOutcome, SinkError> {
        self.announces
            .lock()
            .map_err(|_| "capture poisoned")?
            .push(*k);
        Ok(if k.dst_port % 2 == 1 {
            AnnounceOutcome::Refused {
                errno: libc::ENOENT,
                message: "no live announced flow matches this report".into(),
            }
        } else {
            AnnounceOutcome::Completed
        })
    }
}

/// Pushes to `sara.ko` over generic netlink (family `sara`, in the manager's network namespace;
/// needs CAP_NET_ADMIN). After a failure the connection is opened again at the next push, so the
/// manager survives a reload of the module.
#[derive(Default)]
pub struct NetlinkSink {
    pub(super) client: Option<crate::kernel::Client>,
}

impl NetlinkSink {
    /// Opens the connection now, to report at start-up that the module is missing.
    pub fn open() -> Result<Self> {
        let client = crate::kernel::Client::open()
            .map_err(|e| Error::new(format!("connecting to sara.ko over generic netlink: {e}")))?;
        Ok(NetlinkSink {
            client: Some(client),
        })
    }
}

impl KernelSink for NetlinkSink {
    fn push(&mut self, p: &Push) -> std::result::Result<(), SinkError> {
        let client = match &mut self.client {
            Some(c) => c,
            None => self.client.insert(crate::kernel::Client::open()?),
        };
        match client.push(p) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.client = None;
                Err(Box::new(e))
            }
        }
    }

    fn announce(
        &mut self,
        k: &sara_core::flow::FlowKey,
    ) -> std::result::Result<AnnounceOutcome, SinkError> {
        let client = match &mut self.client {
            Some(c) => c,
            None => self.client.insert(crate::kernel::Client::open()?),
        };
        match client.announce(k) {
            Ok(_) => Ok(AnnounceOutcome::Completed),
            // The kernel answered: the connection is fine.
            Err(crate::error::Error::Kernel { err, .. }) => Ok(AnnounceOutcome::Refused {
                errno: err.errno,
                message: err.message.clone().unwrap_or_default(),
            }),
            Err(e) => {
                self.client = None;
                Err(Box::new(e))
            }
        }
    }
}
