//! Forecast least loaded ("shell", eq. 9): the available server with the least forecast load `l̃_j`,
//! plus RSerPool's "least used with degradation".
//!
//! The control plane pushes `l̃_j` every δ ([`Candidate::push_forecast`]). Between two pushes every
//! session sent to a server adds [`Forecast::increment_ppm`] to that server's estimate
//! ([`Candidate::bump_ppm`]), so a burst of new sessions is spread over the servers instead of herding
//! onto the one that was least loaded at the last push; a push resets the increments.
//!
//! Servers whose load monitor is alive (`load_known`) are preferred: a server of unknown load is not
//! chosen while another is known (spec "Monitoring protocols"). When no available server has a known
//! load, the least incremented one is chosen (an even spread, since nothing is known).
//!
//! Ties go to the server with fewer active sessions, then to the lowest index.

use super::{min_available_by, Candidate, Input, Policy};

/// The forecast policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forecast {
    /// Load added to a server's estimate per session sent to it, in parts per million of full load.
    pub increment_ppm: u32,
}

impl Forecast {
    /// Default increment: 1 per-mille per session (a server saturates after ~1000 sessions). The
    /// control plane should push a better one: the measured load per session.
    pub const DEFAULT_INCREMENT_PPM: u32 = 1000;

    /// The policy with a given increment.
    pub const fn new(increment_ppm: u32) -> Forecast {
        Forecast { increment_ppm }
    }

    /// A candidate's current estimate in parts per million: forecast + increments (unknown load
    /// counts as 0 + increments, compared only among unknowns).
    pub fn estimate_ppm(c: &Candidate) -> u32 {
        let base = if c.load_known {
            u32::from(c.forecast).saturating_mul(1000)
        } else {
            0
        };
        base.saturating_add(c.bump_ppm)
    }
}

impl Default for Forecast {
    fn default() -> Self {
        Forecast::new(Forecast::DEFAULT_INCREMENT_PPM)
    }
}

impl Policy for Forecast {
    fn select(&mut self, servers: &mut [Candidate], _input: Input) -> Option<usize> {
        // Known loads first (false < true: key `!load_known` puts known ones first).
        let i = min_available_by(servers, |c| {
            (!c.load_known, Forecast::estimate_ppm(c), c.sessions)
        })?;
        let c = servers.get_mut(i)?;
        c.bump_ppm = c.bump_ppm.saturating_add(self.increment_ppm);
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::servers;
    use super::super::ServerState;
    use super::*;

    fn pick(p: &mut Forecast, s: &mut [Candidate]) -> usize {
        p.select(s, Input::default()).unwrap()
    }

    #[test]
    fn least_forecast_wins() {
        let mut s = servers(3);
        for (c, f) in s.iter_mut().zip([500, 200, 350]) {
            c.push_forecast(f, true);
        }
        assert_eq!(pick(&mut Forecast::new(0), &mut s), 1);
        s[1].state = ServerState::Draining;
        assert_eq!(pick(&mut Forecast::new(0), &mut s), 2);
    }

    #[test]
    fn a_burst_between_two_pushes_is_spread_not_herded() {
        let mut s = servers(2);
        s[0].push_forecast(300, true);
        s[1].push_forecast(310, true);
        let mut p = Forecast::new(1000); // 1 per-mille per session
        let mut n = [0u32; 2];
        for _ in 0..100 {
            n[pick(&mut p, &mut s)] += 1;
        }
        // The first 10 fill the 10 ‰ gap, then they alternate: 55 / 45, not 100 / 0.
        assert_eq!(n, [55, 45]);
        // Without the increment every session of the burst would go to the same server.
        let mut herd = [0u32; 2];
        let mut s2 = servers(2);
        s2[0].push_forecast(300, true);
        s2[1].push_forecast(310, true);
        for _ in 0..100 {
            herd[pick(&mut Forecast::new(0), &mut s2)] += 1;
        }
        assert_eq!(herd, [100, 0]);
        // A push resets the increments.
        s[0].push_forecast(300, true);
        s[1].push_forecast(310, true);
        assert_eq!((s[0].bump_ppm, s[1].bump_ppm), (0, 0));
        assert_eq!(pick(&mut p, &mut s), 0);
    }

    #[test]
    fn unknown_load_is_not_chosen_while_others_are_known() {
        let mut s = servers(3);
        s[0].push_forecast(900, true);
        s[1].push_forecast(0, false); // monitor failed
        s[2].push_forecast(950, true);
        let mut p = Forecast::default();
        for _ in 0..500 {
            assert_ne!(pick(&mut p, &mut s), 1);
        }
        // Once no known server is available, the unknown one is used.
        s[0].state = ServerState::Down;
        s[2].state = ServerState::Down;
        assert_eq!(pick(&mut p, &mut s), 1);
    }

    #[test]
    fn all_unknown_spreads_evenly() {
        let mut s = servers(4);
        let mut p = Forecast::default();
        let mut n = [0u32; 4];
        for _ in 0..400 {
            n[pick(&mut p, &mut s)] += 1;
        }
        assert_eq!(n, [100; 4]);
    }

    #[test]
    fn ties_go_to_fewer_sessions() {
        let mut s = servers(3);
        for c in s.iter_mut() {
            c.push_forecast(400, true);
        }
        s[0].sessions = 9;
        s[1].sessions = 3;
        s[2].sessions = 5;
        assert_eq!(pick(&mut Forecast::new(0), &mut s), 1);
    }
}
