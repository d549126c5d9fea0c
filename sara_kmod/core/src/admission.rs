//! Admission control (SA2C, spec "Admission control").
//!
//! Loads are per-mille ([`PerMille`], 0..=1000, 1000 = full). The load index is
//! `x = max(l_d, l_c)` ([`load_index`]): the dispatcher's own load and the cluster load (or its forecast),
//! both computed by the control plane and pushed.
//!
//! Drop probability of a packet that would open a **new session** (eq. 2):
//! `0` if `x ≤ T1`; `(x − T1)/(T2 − T1)` if `T1 < x ≤ T2`; `1` if `x > T2`.
//! Of a packet of an **established session**:
//! `0` if `x ≤ T3`; `(x − T3)/(C − T3)` if `T3 < x < C`; `1` if `x ≥ C`.
//!
//! Fixed point, exact: a probability is kept as the rational `num/den` of the formula ([`DropProb`],
//! both ≤ 1000), so it is exactly 0 and 1 at the boundaries and exact in between. The decision compares
//! a uniform 32-bit random draw (an input, so tests are deterministic; the kernel passes
//! `get_random_u32()`) without division: drop iff `rand · den < num · 2³²`. Exactly
//! `⌈num · 2³² / den⌉` of the 2³² draws drop, so the refused share differs from `num/den` by less than
//! 2⁻³² (no modulo bias, no rounding of the probability). All arithmetic fits in `u64`.
//!
//! The moving thresholds of eq. 4 are computed by the control plane, which pushes plain
//! [`Thresholds`]; the kernel only validates and applies them.

/// A load or threshold in per-mille (0..=1000).
pub type PerMille = u16;

/// Full load.
pub const FULL: PerMille = 1000;

/// Why thresholds were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdError {
    /// Not `T1 < T2 < T3 < C`.
    NotIncreasing,
    /// `C` above 1000.
    AboveFull,
}

impl core::fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ThresholdError::NotIncreasing => "thresholds must satisfy T1 < T2 < T3 < C",
            ThresholdError::AboveFull => "threshold C must be at most 1000 per mille",
        })
    }
}

/// The operator's (or the moving) thresholds, validated: `T1 < T2 < T3 < C ≤ 1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    t1: PerMille,
    t2: PerMille,
    t3: PerMille,
    c: PerMille,
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let it through.
    Admit,
    /// Drop it (counted as `DROP_ADMISSION_NEW` or `DROP_ADMISSION_EST`).
    Drop,
}

/// Which drop function applies to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// The packet would open a new session.
    NewSession,
    /// The packet belongs to an established session (any known flow).
    Established,
}

/// An exact drop probability `num/den` (0 ≤ num ≤ den, 1 ≤ den ≤ 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropProb {
    num: u16,
    den: u16,
}

impl DropProb {
    /// Never drop.
    pub const ZERO: DropProb = DropProb { num: 0, den: 1 };
    /// Always drop.
    pub const ONE: DropProb = DropProb { num: 1, den: 1 };

    /// `num/den`, clamped to [0, 1]; `den = 0` gives 1.
    pub const fn new(num: u16, den: u16) -> DropProb {
        if den == 0 || num >= den {
            DropProb::ONE
        } else {
            DropProb { num, den }
        }
    }

    /// Numerator.
    pub const fn num(self) -> u16 {
        self.num
    }

    /// Denominator.
    pub const fn den(self) -> u16 {
        self.den
    }

    /// The probability in parts per million, rounded to nearest (for display and counters).
    pub fn per_million(self) -> u32 {
        let num = u64::from(self.num).saturating_mul(1_000_000);
        let den = u64::from(self.den).max(1);
        let q = num.checked_div(den).unwrap_or(0);
        let r = num.checked_rem(den).unwrap_or(0);
        let q = if r.saturating_mul(2) >= den {
            q.saturating_add(1)
        } else {
            q
        };
        u32::try_from(q).unwrap_or(1_000_000)
    }

    /// The decision for a uniform random draw: drop iff `rand · den < num · 2³²`.
    pub fn drops(self, rand: u32) -> bool {
        u64::from(rand).saturating_mul(u64::from(self.den)) < (u64::from(self.num) << 32)
    }
}

/// The load index `x = max(l_d, l_c)`.
pub fn load_index(l_d: PerMille, l_c: PerMille) -> PerMille {
    l_d.max(l_c)
}

impl Thresholds {
    /// Validated thresholds.
    pub const fn new(
        t1: PerMille,
        t2: PerMille,
        t3: PerMille,
        c: PerMille,
    ) -> Result<Self, ThresholdError> {
        if !(t1 < t2 && t2 < t3 && t3 < c) {
            return Err(ThresholdError::NotIncreasing);
        }
        if c > FULL {
            return Err(ThresholdError::AboveFull);
        }
        Ok(Thresholds { t1, t2, t3, c })
    }

    /// T1: new sessions start being refused above it.
    pub const fn t1(&self) -> PerMille {
        self.t1
    }
    /// T2: new sessions are all refused above it.
    pub const fn t2(&self) -> PerMille {
        self.t2
    }
    /// T3: established sessions' packets start being dropped above it.
    pub const fn t3(&self) -> PerMille {
        self.t3
    }
    /// C: established sessions' packets are all dropped from it on.
    pub const fn c(&self) -> PerMille {
        self.c
    }

    /// Drop probability of a new-session packet at load index `x`.
    pub fn p_new(&self, x: PerMille) -> DropProb {
        if x <= self.t1 {
            DropProb::ZERO
        } else if x <= self.t2 {
            DropProb::new(x.saturating_sub(self.t1), self.t2.saturating_sub(self.t1))
        } else {
            DropProb::ONE
        }
    }

    /// Drop probability of an established-session packet at load index `x`.
    pub fn p_established(&self, x: PerMille) -> DropProb {
        if x <= self.t3 {
            DropProb::ZERO
        } else if x < self.c {
            DropProb::new(x.saturating_sub(self.t3), self.c.saturating_sub(self.t3))
        } else {
            DropProb::ONE
        }
    }

    /// Drop probability of a packet of `kind` at load index `x`.
    pub fn p(&self, kind: PacketKind, x: PerMille) -> DropProb {
        match kind {
            PacketKind::NewSession => self.p_new(x),
            PacketKind::Established => self.p_established(x),
        }
    }

    /// The decision for a packet of `kind` under loads `l_d`, `l_c` with random draw `rand`.
    pub fn decide(&self, kind: PacketKind, l_d: PerMille, l_c: PerMille, rand: u32) -> Decision {
        if self.p(kind, load_index(l_d, l_c)).drops(rand) {
            Decision::Drop
        } else {
            Decision::Admit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th() -> Thresholds {
        Thresholds::new(600, 800, 900, 1000).unwrap()
    }

    #[test]
    fn validation() {
        assert!(Thresholds::new(0, 1, 2, 3).is_ok());
        assert!(Thresholds::new(997, 998, 999, 1000).is_ok());
        assert_eq!(
            Thresholds::new(600, 600, 900, 1000),
            Err(ThresholdError::NotIncreasing)
        );
        assert_eq!(
            Thresholds::new(600, 800, 800, 1000),
            Err(ThresholdError::NotIncreasing)
        );
        assert_eq!(
            Thresholds::new(600, 800, 1000, 1000),
            Err(ThresholdError::NotIncreasing)
        );
        assert_eq!(
            Thresholds::new(800, 600, 900, 1000),
            Err(ThresholdError::NotIncreasing)
        );
        assert_eq!(
            Thresholds::new(600, 800, 900, 1001),
            Err(ThresholdError::AboveFull)
        );
        let t = th();
        assert_eq!((t.t1(), t.t2(), t.t3(), t.c()), (600, 800, 900, 1000));
    }

    #[test]
    fn new_session_regions_and_boundaries() {
        let t = th();
        assert_eq!(t.p_new(0), DropProb::ZERO);
        assert_eq!(t.p_new(600), DropProb::ZERO, "x = T1 → 0");
        assert_eq!(t.p_new(601), DropProb::new(1, 200), "just above T1");
        assert_eq!(t.p_new(700), DropProb::new(100, 200));
        assert_eq!(t.p_new(700).per_million(), 500_000);
        assert_eq!(t.p_new(799), DropProb::new(199, 200));
        assert_eq!(t.p_new(800), DropProb::ONE, "x = T2 → (T2−T1)/(T2−T1) = 1");
        assert_eq!(t.p_new(801), DropProb::ONE);
        assert_eq!(t.p_new(1000), DropProb::ONE);
        assert_eq!(t.p_new(u16::MAX), DropProb::ONE);
    }

    #[test]
    fn established_regions_and_boundaries() {
        let t = th();
        assert_eq!(t.p_established(800), DropProb::ZERO);
        assert_eq!(t.p_established(900), DropProb::ZERO, "x = T3 → 0");
        assert_eq!(t.p_established(901), DropProb::new(1, 100));
        assert_eq!(t.p_established(950), DropProb::new(50, 100));
        assert_eq!(t.p_established(999), DropProb::new(99, 100));
        assert_eq!(t.p_established(1000), DropProb::ONE, "x = C → 1");
        assert_eq!(t.p_established(1200), DropProb::ONE);
        let t = Thresholds::new(100, 200, 300, 500).unwrap();
        assert_eq!(t.p_established(499).per_million(), 995_000);
        assert_eq!(t.p_established(500), DropProb::ONE);
    }

    #[test]
    fn load_index_is_the_max() {
        let t = th();
        assert_eq!(load_index(700, 300), 700);
        assert_eq!(load_index(300, 700), 700);
        assert_eq!(
            t.decide(PacketKind::NewSession, 100, 900, 0),
            Decision::Drop
        );
        assert_eq!(
            t.decide(PacketKind::NewSession, 900, 100, 0),
            Decision::Drop
        );
        assert_eq!(
            t.decide(PacketKind::Established, 900, 100, 0),
            Decision::Admit
        );
    }

    #[test]
    fn zero_and_one_are_exact_for_every_draw() {
        for r in [0u32, 1, 12345, u32::MAX / 2, u32::MAX - 1, u32::MAX] {
            assert!(!DropProb::ZERO.drops(r));
            assert!(DropProb::ONE.drops(r));
            assert_eq!(
                th().decide(PacketKind::NewSession, 600, 600, r),
                Decision::Admit
            );
            assert_eq!(
                th().decide(PacketKind::NewSession, 800, 0, r),
                Decision::Drop
            );
            assert_eq!(
                th().decide(PacketKind::Established, 900, 0, r),
                Decision::Admit
            );
            assert_eq!(
                th().decide(PacketKind::Established, 1000, 0, r),
                Decision::Drop
            );
        }
    }

    #[test]
    fn the_refused_share_matches_the_probability() {
        // Exact: the number of dropping draws is ⌈num·2³²/den⌉. Check on a stratified sweep of N draws
        // (one per 2³²/N interval), where the count must be within 1 of N·num/den.
        for (num, den) in [
            (1u16, 3u16),
            (1, 200),
            (199, 200),
            (50, 100),
            (333, 1000),
            (7, 9),
        ] {
            let p = DropProb::new(num, den);
            let n: u64 = 30_000;
            let step = (1u64 << 32) / n;
            let dropped = (0..n).filter(|i| p.drops((i * step) as u32)).count() as u64;
            let want = n * u64::from(num) / u64::from(den);
            assert!(
                dropped.abs_diff(want) <= 1,
                "{num}/{den}: {dropped} vs {want}"
            );
        }
        // And with pseudo-random draws, as in the kernel.
        let t = th();
        let mut x = 0x853c_49e6_748f_ea9bu64;
        let draws = 200_000;
        let mut dropped = 0;
        for _ in 0..draws {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if t.decide(PacketKind::NewSession, 650, 0, (x >> 32) as u32) == Decision::Drop {
                dropped += 1;
            }
        }
        // p = 50/200 = 0.25; 3 standard deviations of a binomial(200000, 0.25) ≈ 580.
        assert!((dropped as i64 - 50_000).abs() < 600, "{dropped}");
    }

    #[test]
    fn drop_prob_constructor_clamps() {
        assert_eq!(DropProb::new(5, 0), DropProb::ONE);
        assert_eq!(DropProb::new(7, 5), DropProb::ONE);
        assert_eq!(DropProb::new(0, 5).per_million(), 0);
        assert_eq!(DropProb::new(1, 3).per_million(), 333_333);
        assert_eq!(DropProb::new(2, 3).per_million(), 666_667);
        assert_eq!(
            (DropProb::new(2, 3).num(), DropProb::new(2, 3).den()),
            (2, 3)
        );
    }
}
