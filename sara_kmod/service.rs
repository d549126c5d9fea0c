// SPDX-License-Identifier: GPL-2.0

//! The service and server types of a namespace's configuration (IPVS keeps them in `ip_vs.h`): a
//! leaf every other file of the module may use. A configuration version ([`crate::netns::Config`])
//! holds them; their changing parts (pushed loads, packet and session counts) are atomics shared
//! by every version.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::sync::Arc;

/// A virtual service: packets to `vip:port/proto` are balanced.
#[derive(Clone)]
pub(crate) struct Service {
    /// Virtual IPv4 address, network order.
    pub(crate) vip: [u8; 4],
    /// Port, host order.
    pub(crate) port: u16,
    /// IP protocol (6 or 17).
    pub(crate) proto: u8,
    /// Signalling protocol inspected (`genl::SIG_*`).
    pub(crate) sig: u8,
    /// Selection policy (`genl::POLICY_*`).
    pub(crate) policy: u8,
    /// Idle timeout of the service's flows, seconds.
    pub(crate) timeout_s: u32,
    /// What happens to a down server's flows (`genl::DOWN_*`).
    pub(crate) down_action: u8,
    /// Packets forwarded for this service (shared by every version of the configuration).
    pub(crate) packets: Arc<AtomicU64>,
}

/// A real server of the cluster (every service is served by every server).
#[derive(Clone)]
pub(crate) struct Server {
    /// Operator's id, 1..=65535.
    pub(crate) id: u16,
    /// Server's own IPv4 address, network order.
    pub(crate) ip: [u8; 4],
    /// MAC address packets are sent to.
    pub(crate) mac: [u8; 6],
    /// Interface the server is reached through.
    pub(crate) ifindex: i32,
    /// That interface's name as given, NUL-padded.
    pub(crate) ifname: [u8; 16],
    /// Weight for weighted policies.
    pub(crate) weight: u32,
    /// What the control plane pushes and the packet path counts (shared by every version of the
    /// configuration, so a push needs no new configuration).
    pub(crate) live: Arc<ServerLive>,
}

/// A server's changing state: set by control-plane pushes, read by the packet path.
pub(crate) struct ServerLive {
    /// `genl::STATE_*`.
    pub(crate) state: AtomicU8,
    /// Damped load forecast l̃_j, per-mille.
    pub(crate) forecast: AtomicU16,
    /// Last measured load l_j, per-mille.
    pub(crate) load: AtomicU16,
    /// Whether the server's load monitor is alive (a push said so).
    pub(crate) load_known: AtomicBool,
    /// Packets forwarded to this server.
    pub(crate) packets: AtomicU64,
    /// Live sessions on this server (opened here or moved here, not yet ended).
    pub(crate) sessions: AtomicU32,
}

impl ServerLive {
    /// A server just added: up, load unknown.
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU8::new(crate::sara_core::genl::STATE_UP),
            forecast: AtomicU16::new(0),
            load: AtomicU16::new(0),
            load_known: AtomicBool::new(false),
            packets: AtomicU64::new(0),
            sessions: AtomicU32::new(0),
        }
    }

    /// One session fewer (never below zero).
    pub(crate) fn session_gone(&self) {
        let _ = self
            .sessions
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// Whether new sessions may go to this server.
    pub(crate) fn is_up(&self) -> bool {
        self.state.load(Ordering::Relaxed) == crate::sara_core::genl::STATE_UP
    }
}

/// The cluster-wide values of the last control-plane push.
pub(crate) struct Loads {
    /// T1, T2, T3, C packed as four u16 (T1 lowest), so readers see one consistent set.
    thresholds: AtomicU64,
    /// Dispatcher load l_d, per-mille.
    pub(crate) dispatcher: AtomicU16,
    /// Cluster load l_c, per-mille.
    pub(crate) cluster: AtomicU16,
    /// Per-session increment of a server's forecast between pushes, per-mille.
    pub(crate) increment: AtomicU16,
    /// Pushes received.
    pub(crate) pushes: AtomicU64,
}

/// Thresholds in force before the first push: admission never refuses (T1..C at the top).
pub(crate) const NO_THRESHOLDS: [u16; 4] = [997, 998, 999, 1000];

impl Loads {
    pub(crate) fn new() -> Self {
        let l = Self {
            thresholds: AtomicU64::new(0),
            dispatcher: AtomicU16::new(0),
            cluster: AtomicU16::new(0),
            increment: AtomicU16::new(5),
            pushes: AtomicU64::new(0),
        };
        l.set_thresholds(NO_THRESHOLDS);
        l
    }

    /// Publishes `[T1, T2, T3, C]` (validated by the caller).
    pub(crate) fn set_thresholds(&self, t: [u16; 4]) {
        let v = t
            .iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 16) | u64::from(x));
        self.thresholds.store(v, Ordering::Relaxed);
    }

    /// `[T1, T2, T3, C]` in force.
    pub(crate) fn thresholds(&self) -> [u16; 4] {
        let v = self.thresholds.load(Ordering::Relaxed);
        [
            v as u16,
            (v >> 16) as u16,
            (v >> 32) as u16,
            (v >> 48) as u16,
        ]
    }
}
