//! Server selection for new sessions (spec "Server selection").
//!
//! Every policy implements [`Policy`]: given the service's servers as a slice of [`Candidate`]s and the
//! per-packet [`Input`] (flow hash, random draw), it returns the index of the chosen candidate, or
//! `None` when no server is available. All policies skip servers that are down or draining
//! ([`Candidate::available`]).
//!
//! The kernel keeps one `[Candidate]` per service, persistent (policy state such as smooth-WRR current
//! weights and forecast increments lives in the candidates, so the policies need no allocation), updates
//! `state`, `weight` and `sessions` as things change, and calls [`Candidate::push_forecast`] when the
//! control plane pushes loads. After a successful selection it adds the session to `sessions` (and takes
//! it off when the session ends).
//!
//! | policy ([`AnyPolicy`], genl `POLICY_*`) | file | chooses |
//! |---|---|---|
//! | hash (default) | `hash.rs` | highest-random-weight of (flow hash, server id) |
//! | forecast ("shell") | `forecast.rs` | least forecast load + per-session increment, known loads first |
//! | round robin | `rr.rs` | next available in order |
//! | random | `random.rs` | uniformly among available |
//! | least sessions | `least_sessions.rs` | fewest active sessions |
//! | weighted round robin | `wrr.rs` | smooth WRR (nginx), proportional to weights |

pub mod forecast;
pub mod hash;
pub mod least_sessions;
pub mod random;
pub mod rr;
pub mod wrr;

// In sara.ko the core is a private module: re-exports the kernel does not use would trip
// `unused_imports` under -Dwarnings.
#[allow(unused_imports)]
pub use forecast::Forecast;
#[allow(unused_imports)]
pub use hash::Hash;
#[allow(unused_imports)]
pub use least_sessions::LeastSessions;
#[allow(unused_imports)]
pub use random::Random;
#[allow(unused_imports)]
pub use rr::RoundRobin;
#[allow(unused_imports)]
pub use wrr::WeightedRoundRobin;

use super::admission::PerMille;
use super::genl;

/// Administrative/health state of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServerState {
    /// Accepts new sessions.
    #[default]
    Up,
    /// Down (failure detector or operator): no new sessions.
    Down,
    /// Draining (planned failure): no new sessions, established ones kept.
    Draining,
}

impl ServerState {
    /// From the generic netlink value (`genl::STATE_*`).
    pub const fn from_genl(v: u8) -> Option<ServerState> {
        match v {
            genl::STATE_UP => Some(ServerState::Up),
            genl::STATE_DOWN => Some(ServerState::Down),
            genl::STATE_DRAINING => Some(ServerState::Draining),
            _ => None,
        }
    }
}

/// One server of a service, as the policies see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Candidate {
    /// Server id.
    pub id: u16,
    /// State.
    pub state: ServerState,
    /// The server's load monitor is alive (a load vector within 3δ); otherwise its load is unknown.
    pub load_known: bool,
    /// Last pushed forecast load `l̃_j`, per-mille.
    pub forecast: PerMille,
    /// Active sessions on this server (kept by the caller).
    pub sessions: u32,
    /// Weight for weighted policies (0: never chosen by WRR).
    pub weight: u16,
    /// Policy state (forecast): increments added since the last push, in parts per million of full load.
    pub bump_ppm: u32,
    /// Policy state (smooth WRR): current weight.
    pub wrr_current: i64,
}

impl Candidate {
    /// An up server with weight 1, unknown load, no sessions.
    pub const fn new(id: u16) -> Candidate {
        Candidate {
            id,
            state: ServerState::Up,
            load_known: false,
            forecast: 0,
            sessions: 0,
            weight: 1,
            bump_ppm: 0,
            wrr_current: 0,
        }
    }

    /// May get new sessions (up, neither down nor draining).
    pub const fn available(&self) -> bool {
        matches!(self.state, ServerState::Up)
    }

    /// A push from the control plane: new forecast, monitor status; the increments since the previous
    /// push are dropped (the new forecast accounts for those sessions).
    pub fn push_forecast(&mut self, forecast: PerMille, load_known: bool) {
        self.forecast = forecast;
        self.load_known = load_known;
        self.bump_ppm = 0;
    }
}

/// Per-packet input of a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Input {
    /// The flow hash of the packet opening the session (`FlowHasher::hash`).
    pub flow_hash: u64,
    /// A uniform random draw (`get_random_u32()` in the kernel).
    pub rand: u32,
}

/// A selection policy.
pub trait Policy {
    /// Chooses among `servers` for a new session; `None` when none is available. May update the
    /// policy's state and the candidates' policy-state fields.
    fn select(&mut self, servers: &mut [Candidate], input: Input) -> Option<usize>;
}

/// Any of the policies, chosen per service by its genl `POLICY_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyPolicy {
    /// `POLICY_HASH`.
    Hash(Hash),
    /// `POLICY_FORECAST`.
    Forecast(Forecast),
    /// `POLICY_RR`.
    RoundRobin(RoundRobin),
    /// `POLICY_RANDOM`.
    Random(Random),
    /// `POLICY_LEAST_SESSIONS`.
    LeastSessions(LeastSessions),
    /// `POLICY_WRR`.
    WeightedRoundRobin(WeightedRoundRobin),
}

impl AnyPolicy {
    /// The policy for a genl `POLICY_*` value, in its initial state.
    pub const fn from_genl(v: u8) -> Option<AnyPolicy> {
        Some(match v {
            genl::POLICY_HASH => AnyPolicy::Hash(Hash),
            genl::POLICY_FORECAST => {
                AnyPolicy::Forecast(Forecast::new(Forecast::DEFAULT_INCREMENT_PPM))
            }
            genl::POLICY_RR => AnyPolicy::RoundRobin(RoundRobin::new()),
            genl::POLICY_RANDOM => AnyPolicy::Random(Random),
            genl::POLICY_LEAST_SESSIONS => AnyPolicy::LeastSessions(LeastSessions),
            genl::POLICY_WRR => AnyPolicy::WeightedRoundRobin(WeightedRoundRobin),
            _ => return None,
        })
    }

    /// The genl `POLICY_*` value.
    pub const fn genl(&self) -> u8 {
        match self {
            AnyPolicy::Hash(_) => genl::POLICY_HASH,
            AnyPolicy::Forecast(_) => genl::POLICY_FORECAST,
            AnyPolicy::RoundRobin(_) => genl::POLICY_RR,
            AnyPolicy::Random(_) => genl::POLICY_RANDOM,
            AnyPolicy::LeastSessions(_) => genl::POLICY_LEAST_SESSIONS,
            AnyPolicy::WeightedRoundRobin(_) => genl::POLICY_WRR,
        }
    }
}

impl Policy for AnyPolicy {
    fn select(&mut self, servers: &mut [Candidate], input: Input) -> Option<usize> {
        match self {
            AnyPolicy::Hash(p) => p.select(servers, input),
            AnyPolicy::Forecast(p) => p.select(servers, input),
            AnyPolicy::RoundRobin(p) => p.select(servers, input),
            AnyPolicy::Random(p) => p.select(servers, input),
            AnyPolicy::LeastSessions(p) => p.select(servers, input),
            AnyPolicy::WeightedRoundRobin(p) => p.select(servers, input),
        }
    }
}

/// Index of the available candidate with the least `key`, ties to the lowest index.
///
/// The policies use index loops rather than `enumerate`/`position`/`count`: those adaptors keep a
/// counter compiled with overflow checks, which would leave (unreachable) panic paths in sara.ko.
fn min_available_by<K: Ord, F: Fn(&Candidate) -> K>(
    servers: &[Candidate],
    key: F,
) -> Option<usize> {
    let mut best: Option<(K, usize)> = None;
    for i in 0..servers.len() {
        let Some(c) = servers.get(i) else { continue };
        if !c.available() {
            continue;
        }
        let k = key(c);
        if best.as_ref().is_none_or(|(bk, _)| k < *bk) {
            best = Some((k, i));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
pub(super) mod testutil {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// `n` up servers with ids 1..=n.
    pub fn servers(n: u16) -> Vec<Candidate> {
        (1..=n).map(Candidate::new).collect()
    }

    /// Runs `k` selections and returns how often each index was chosen.
    pub fn histogram<P: Policy>(p: &mut P, s: &mut [Candidate], k: u32) -> Vec<u32> {
        let mut h = std::vec![0; s.len()];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..k {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = p
                .select(
                    s,
                    Input {
                        flow_hash: x,
                        rand: (x >> 32) as u32,
                    },
                )
                .unwrap();
            h[i] += 1;
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::servers;
    use super::*;

    #[test]
    fn every_policy_skips_down_and_draining_and_returns_none_when_nothing_is_up() {
        for v in 0..=genl::POLICY_MAX {
            let mut p = AnyPolicy::from_genl(v).unwrap();
            assert_eq!(p.genl(), v);
            let mut s = servers(4);
            s[0].state = ServerState::Down;
            s[1].state = ServerState::Draining;
            s[3].state = ServerState::Down;
            for k in 0..50u32 {
                let input = Input {
                    flow_hash: u64::from(k).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    rand: k.wrapping_mul(0x8000_0001),
                };
                assert_eq!(p.select(&mut s, input), Some(2), "policy {v}");
            }
            s[2].state = ServerState::Down;
            assert_eq!(p.select(&mut s, Input::default()), None, "policy {v}");
            assert_eq!(p.select(&mut [], Input::default()), None, "policy {v}");
        }
        assert_eq!(AnyPolicy::from_genl(genl::POLICY_MAX + 1), None);
    }

    #[test]
    fn states_from_genl() {
        assert_eq!(
            ServerState::from_genl(genl::STATE_UP),
            Some(ServerState::Up)
        );
        assert_eq!(
            ServerState::from_genl(genl::STATE_DOWN),
            Some(ServerState::Down)
        );
        assert_eq!(
            ServerState::from_genl(genl::STATE_DRAINING),
            Some(ServerState::Draining)
        );
        assert_eq!(ServerState::from_genl(9), None);
    }
}
