//! The manager's status file (what `sarectl status` reads): counters and per-server state. Its
//! table for people is in [`crate::output`].

use super::*;

// ---- status ---------------------------------------------------------------------------------

/// Counters of the manager.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Datagrams received.
    pub datagrams: u64,
    /// Heartbeats taken into account (including late and duplicate ones).
    pub heartbeats: u64,
    /// Load vectors taken into account.
    pub load_vectors: u64,
    /// Datagrams that are not monitoring messages (ignored). With keys, only those whose trailer
    /// verified: the others are in the status's `auth.rejections`.
    pub garbage: u64,
    /// Messages from server ids not in the configuration (ignored).
    pub unknown_server: u64,
    /// Pushes sent to the kernel.
    pub pushes: u64,
    /// Pushes the kernel (or the sink) refused.
    pub push_failures: u64,
    /// Gateway report datagrams taken (valid `msg::announce`).
    #[serde(default)]
    pub announce_datagrams: u64,
    /// Entries in them.
    #[serde(default)]
    pub announce_entries: u64,
    /// Entries the kernel completed.
    #[serde(default)]
    pub announce_completed: u64,
    /// Entries the kernel refused (no announced flow waiting for them).
    #[serde(default)]
    pub announce_rejected: u64,
    /// Entries that could not be sent to the kernel.
    #[serde(default)]
    pub announce_failed: u64,
    /// Gateway report datagrams lost (gaps in their sequence numbers).
    #[serde(default)]
    pub announce_lost: u64,
    /// Longest time from receiving a report datagram to the kernel's last ack (µs).
    #[serde(default)]
    pub announce_max_us: u64,
}

/// One server in the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Id.
    pub id: u16,
    /// Name from the configuration.
    pub name: Option<String>,
    /// `unknown`, `up`, `draining` or `down`.
    pub state: String,
    /// Why, for people.
    pub reason: String,
    /// Milliseconds since the last heartbeat.
    pub last_heartbeat_ago_ms: Option<u64>,
    /// Latest heartbeat flag.
    pub flag: Option<u8>,
    /// Announced planned failure (UTC).
    pub planned_failure: Option<String>,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// Heartbeats lost (sequence gaps).
    pub lost: u64,
    /// Heartbeats that came after a later one.
    pub late: u64,
    /// Agent restarts seen.
    pub restarts: u64,
    /// Server clock minus manager clock (s).
    pub clock_skew_s: Option<i64>,
    /// `waiting`, `alive` or `failed`.
    pub load_monitor: String,
    /// Whether the load is known.
    pub load_known: bool,
    /// Milliseconds since the last load vector.
    pub last_vector_ago_ms: Option<u64>,
    /// Load vectors received.
    pub vectors: u64,
    /// Last load vector's components.
    pub components: Option<Components>,
    /// Last scalar load l (per-mille).
    pub load: Option<u16>,
    /// Forecast l̂ (per-mille).
    pub forecast: Option<f64>,
    /// Prediction error (0‥1).
    pub err: Option<f64>,
    /// Damped estimate l̃ (per-mille).
    pub damped: Option<f64>,
}

/// The manager's state, as written to the status file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Format version of this document.
    pub version: u32,
    /// When it was written (Unix ms).
    pub time_unix_ms: u64,
    /// Listening address.
    pub listen: String,
    /// Milliseconds since the manager started.
    pub uptime_ms: u64,
    /// Counters.
    pub counters: Counters,
    /// Last push error, if the last push failed.
    pub last_push_error: Option<String>,
    /// l_d (per-mille).
    pub load_dispatcher: u16,
    /// l_c (per-mille).
    pub load_cluster: u16,
    /// Whether l_c comes from the forecasts.
    pub forecast: bool,
    /// x = max(l_d, l_c).
    pub x: u16,
    /// The operator's thresholds.
    pub thresholds_operator: Thresholds,
    /// The thresholds in force (moved).
    pub thresholds_in_force: Thresholds,
    /// How they move.
    pub moving: MoveParams,
    /// Servers, by id.
    pub servers: Vec<ServerStatus>,
    /// Authentication: keys or `insecure`, and the datagrams refused by reason (absent in status
    /// files of managers older than issue #15).
    #[serde(default)]
    pub auth: Option<super::super::secure::AuthStatus>,
}

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename.
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).ctx(|| {
            format!(
                "creating the directory {} for the status file",
                dir.display()
            )
        })?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let text =
        serde_json::to_string_pretty(value).ctx(|| "encoding the status as JSON".to_string())?;
    std::fs::write(&tmp, text + "\n")
        .ctx(|| format!("writing the status file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| {
        format!(
            "renaming {} to the status file {}",
            tmp.display(),
            path.display()
        )
    })
}

/// Reads a status file written by the manager (for `sarectl status`).
pub fn read_status(path: &Path) -> Result<Status> {
    let text = std::fs::read_to_string(path).ctx(|| {
        format!(
            "reading the manager status {} (is 'sarectl manager' running with this --status-file?)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).ctx(|| format!("reading the manager status {}", path.display()))
}
