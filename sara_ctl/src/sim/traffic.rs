//! Offered traffic: session classes (several flows, a load while active, a random duration) and the
//! arrival process (Poisson, or on/off bursts with the same mean rate).
//!
//! The traffic of a run is drawn from its own random stream, so every policy of a sweep point sees
//! the very same sessions arriving at the very same times (common random numbers): differences
//! between policies are the policies', not the dice's.

use super::rng::Rng;

/// A kind of session: how often it is offered, how many flows it has, how much of a server it uses
/// while active, and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionClass {
    /// Name (for the docs and the tests).
    pub name: &'static str,
    /// Share of the offered sessions (the shares of a mix add up to 1).
    pub share: f64,
    /// Flows in the session (signalling + announced); informational: the load is per session.
    pub flows: u8,
    /// Load the session puts on its server while active, in capacity units.
    pub load: f64,
    /// Mean duration, seconds.
    pub mean_duration: f64,
    /// Lognormal shape σ of the duration (0: exponential).
    pub sigma: f64,
}

/// The default mix: SIP voice calls, RTSP video streams and short FTP-like transfers.
pub const DEFAULT_MIX: [SessionClass; 3] = [
    SessionClass {
        name: "voice (SIP + RTP/RTCP)",
        share: 0.60,
        flows: 3,
        load: 1.0,
        mean_duration: 20.0,
        sigma: 0.8,
    },
    SessionClass {
        name: "video (RTSP + RTP/RTCP)",
        share: 0.25,
        flows: 3,
        load: 3.0,
        mean_duration: 40.0,
        sigma: 0.8,
    },
    SessionClass {
        name: "transfer (FTP control + data)",
        share: 0.15,
        flows: 2,
        load: 0.5,
        mean_duration: 5.0,
        sigma: 0.0,
    },
];

/// A single class: SIP voice calls only (every session has the same load, so completed sessions
/// and completed work measure the same thing).
pub const VOICE_MIX: [SessionClass; 1] = [SessionClass {
    name: "voice (SIP + RTP/RTCP)",
    share: 1.0,
    flows: 3,
    load: 1.0,
    mean_duration: 20.0,
    sigma: 0.8,
}];

/// The mix named `name` (`default` or `voice`).
pub fn mix_by_name(name: &str) -> Option<Vec<SessionClass>> {
    match name {
        "default" => Some(DEFAULT_MIX.to_vec()),
        "voice" => Some(VOICE_MIX.to_vec()),
        _ => None,
    }
}

/// Mean work of one session, `E[load · duration]`, in capacity-unit-seconds.
pub fn mean_work(mix: &[SessionClass]) -> f64 {
    mix.iter().map(|c| c.share * c.load * c.mean_duration).sum()
}

/// Mean load of one session, `E[load]`, in capacity units.
pub fn mean_load(mix: &[SessionClass]) -> f64 {
    mix.iter().map(|c| c.share * c.load).sum()
}

/// Arrival rate (sessions/s) that offers `offered` (1.0 = 100 %) of `capacity` (capacity units).
pub fn rate_for(offered: f64, capacity: f64, mix: &[SessionClass]) -> f64 {
    offered * capacity / mean_work(mix)
}

/// On/off bursts: a base Poisson stream always, plus an extra stream during "on" periods. Both
/// period lengths are exponential.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bursts {
    /// Mean "on" period, seconds.
    pub mean_on: f64,
    /// Mean "off" period, seconds.
    pub mean_off: f64,
    /// Share of the mean rate offered as the steady base stream (the rest comes in bursts).
    pub base_share: f64,
}

impl Default for Bursts {
    /// On 4 s, off 12 s (on a quarter of the time), half the sessions in bursts: the rate is
    /// 0.5·λ off and 0.5·λ + 0.5·λ/0.25 = 2.5·λ on.
    fn default() -> Self {
        Bursts {
            mean_on: 4.0,
            mean_off: 12.0,
            base_share: 0.5,
        }
    }
}

impl Bursts {
    /// Fraction of the time spent "on".
    pub fn on_fraction(&self) -> f64 {
        self.mean_on / (self.mean_on + self.mean_off)
    }

    /// (off rate, on rate) for a mean rate `lambda`.
    pub fn rates(&self, lambda: f64) -> (f64, f64) {
        let base = lambda * self.base_share;
        let extra = lambda * (1.0 - self.base_share) / self.on_fraction();
        (base, base + extra)
    }
}

/// One offered session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Index of its class in the mix.
    pub class: usize,
    /// Load while active, capacity units.
    pub load: f64,
    /// Duration, seconds.
    pub duration: f64,
}

/// The arrival process of a run, stepped in fixed time steps.
#[derive(Debug, Clone)]
pub struct Traffic {
    rng: Rng,
    mix: Vec<SessionClass>,
    lambda: f64,
    bursts: Option<Bursts>,
    on: bool,
    /// Time left in the current on/off period.
    left: f64,
}

impl Traffic {
    /// Sessions of `mix` at mean rate `lambda` (sessions/s), Poisson or bursty.
    pub fn new(seed: u64, mix: &[SessionClass], lambda: f64, bursts: Option<Bursts>) -> Traffic {
        let mut rng = Rng::new(seed);
        let (on, left) = match bursts {
            Some(b) => {
                let on = rng.bernoulli(b.on_fraction());
                let left = rng.exp(if on { b.mean_on } else { b.mean_off });
                (on, left)
            }
            None => (false, f64::INFINITY),
        };
        Traffic {
            rng,
            mix: mix.to_vec(),
            lambda,
            bursts,
            on,
            left,
        }
    }

    /// True while a burst is on.
    pub fn in_burst(&self) -> bool {
        self.on
    }

    /// The sessions arriving during the next `dt` seconds, appended to `out`.
    pub fn step(&mut self, dt: f64, out: &mut Vec<Arrival>) {
        let rate = match self.bursts {
            None => self.lambda,
            Some(b) => {
                // Period changes are applied at step granularity (dt ≪ the periods).
                self.left -= dt;
                while self.left <= 0.0 {
                    self.on = !self.on;
                    self.left += self.rng.exp(if self.on { b.mean_on } else { b.mean_off });
                }
                let (off, on) = b.rates(self.lambda);
                if self.on {
                    on
                } else {
                    off
                }
            }
        };
        let n = self.rng.poisson(rate * dt);
        for _ in 0..n {
            let mut u = self.rng.unit();
            let mut class = self.mix.len() - 1;
            for (i, c) in self.mix.iter().enumerate() {
                if u < c.share {
                    class = i;
                    break;
                }
                u -= c.share;
            }
            let c = self.mix[class];
            let duration = if c.sigma > 0.0 {
                self.rng.lognormal(c.mean_duration, c.sigma)
            } else {
                self.rng.exp(c.mean_duration)
            };
            out.push(Arrival {
                class,
                load: c.load,
                duration,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(bursts: Option<Bursts>, lambda: f64, secs: f64) -> (usize, f64) {
        let mut t = Traffic::new(3, &DEFAULT_MIX, lambda, bursts);
        let dt = 0.1;
        let mut out = Vec::new();
        let steps = (secs / dt) as usize;
        for _ in 0..steps {
            t.step(dt, &mut out);
        }
        let work: f64 = out.iter().map(|a| a.load * a.duration).sum::<f64>() / out.len() as f64;
        (out.len(), work)
    }

    #[test]
    fn mix_is_a_distribution_and_work_matches() {
        let s: f64 = DEFAULT_MIX.iter().map(|c| c.share).sum();
        assert!((s - 1.0).abs() < 1e-12);
        assert!((mean_work(&DEFAULT_MIX) - 42.375).abs() < 1e-9);
        assert!((mean_load(&DEFAULT_MIX) - 1.425).abs() < 1e-9);
        assert!((rate_for(1.0, 280.0, &DEFAULT_MIX) - 280.0 / 42.375).abs() < 1e-9);
        assert_eq!(mix_by_name("voice").unwrap(), VOICE_MIX.to_vec());
        assert_eq!(mix_by_name("default").unwrap().len(), 3);
        assert!(mix_by_name("other").is_none());
        assert!((mean_work(&VOICE_MIX) - 20.0).abs() < 1e-12);
    }

    #[test]
    fn smooth_and_bursty_offer_the_same_mean() {
        let lambda = 6.0;
        let secs = 40_000.0;
        let (n, w) = count(None, lambda, secs);
        assert!((n as f64 / secs - lambda).abs() < 0.05, "{n}");
        assert!((w - 42.375).abs() < 1.5, "{w}");
        let (nb, _) = count(Some(Bursts::default()), lambda, secs);
        assert!((nb as f64 / secs - lambda).abs() < 0.15, "{nb}");
        let (off, on) = Bursts::default().rates(lambda);
        assert!((off - 3.0).abs() < 1e-9 && (on - 15.0).abs() < 1e-9);
    }

    #[test]
    fn same_seed_same_sessions() {
        let mut a = Traffic::new(9, &DEFAULT_MIX, 5.0, Some(Bursts::default()));
        let mut b = Traffic::new(9, &DEFAULT_MIX, 5.0, Some(Bursts::default()));
        let (mut va, mut vb) = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            a.step(0.1, &mut va);
            b.step(0.1, &mut vb);
        }
        assert_eq!(va, vb);
    }
}
