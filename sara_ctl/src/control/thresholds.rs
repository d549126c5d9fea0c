//! Moving admission thresholds (paper eq. 4, as the spec reads it).
//!
//! The operator sets `T1 < T2 < T3 < C` (per-mille). Every interval the manager calls
//! [`MovingThresholds::update`] with `x = max(l_d, l_c)`:
//! * while `x > T2`: `T2 ← max(T1 + ε, T2 − β·(x − T2))` — linear decrease, proportional to the
//!   excess over T2;
//! * while `x > T3`: `T3 ← max(T2 + ε, T3·(1 − γ·(x − T3)/(C − T3)))` — multiplicative decrease,
//!   by a factor that shrinks as x approaches C (`(x − T3)/(C − T3)` is clamped to [0, 1]); T2 is
//!   updated first and T3's floor uses the new T2;
//! * once `x < T1`: T2 and T3 return to the operator's values;
//! * for `T1 ≤ x ≤ T2` (and T3 likewise) the thresholds hold where they are.
//!
//! The state is kept in `f64`; what goes to the kernel ([`Thresholds`]) is rounded to integer
//! per-mille. ε ≥ 1 per-mille guarantees `T1 < T2 < T3 < C` after rounding too (and the rounding
//! is clamped to keep it, whatever the float arithmetic does).
//!
//! Defaults: β = 0.5 (T2 moves down by half the excess per interval), γ = 0.5 (T3 at most halves
//! per interval, when x reaches C), ε = 10 per-mille (the thresholds stay at least 1 % apart).

use super::{Error, Result};
use serde::{Deserialize, Serialize};

/// Admission thresholds in integer per-mille, as the kernel takes them (`A_T1`, `A_T2`, `A_T3`,
/// `A_TC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// New sessions start being refused above T1.
    pub t1: u16,
    /// Every new session is refused above T2.
    pub t2: u16,
    /// Packets of established sessions start being dropped above T3.
    pub t3: u16,
    /// Capacity C: everything is dropped at or above it.
    pub c: u16,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            t1: 600,
            t2: 750,
            t3: 900,
            c: 1000,
        }
    }
}

impl Thresholds {
    /// True when `T1 < T2 < T3 < C ≤ 1000`.
    pub fn is_ordered(&self) -> bool {
        self.t1 < self.t2 && self.t2 < self.t3 && self.t3 < self.c && self.c <= 1000
    }
}

/// How fast the thresholds move.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MoveParams {
    /// β ≥ 0: T2 decreases by β times the excess of x over T2, per interval.
    pub beta: f64,
    /// γ in [0, 1]: T3 is multiplied by `1 − γ·(x − T3)/(C − T3)` per interval.
    pub gamma: f64,
    /// ε ≥ 1 per-mille: the smallest gap kept between T1 and T2 and between T2 and T3.
    pub epsilon: f64,
}

impl Default for MoveParams {
    fn default() -> Self {
        MoveParams {
            beta: 0.5,
            gamma: 0.5,
            epsilon: 10.0,
        }
    }
}

/// The operator's thresholds and the moved T2, T3.
#[derive(Debug, Clone)]
pub struct MovingThresholds {
    base: Thresholds,
    params: MoveParams,
    t2: f64,
    t3: f64,
}

impl MovingThresholds {
    /// Checks the operator's thresholds and parameters.
    pub fn new(base: Thresholds, params: MoveParams) -> Result<Self> {
        let Thresholds { t1, t2, t3, c } = base;
        if !base.is_ordered() {
            return Err(Error::new(format!(
                "admission thresholds must satisfy T1 < T2 < T3 < C <= 1000 (per-mille); \
                 got T1={t1} T2={t2} T3={t3} C={c}"
            )));
        }
        let MoveParams {
            beta,
            gamma,
            epsilon,
        } = params;
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(Error::new(format!(
                "beta must be a number >= 0; got {beta}"
            )));
        }
        if !(0.0..=1.0).contains(&gamma) {
            return Err(Error::new(format!(
                "gamma must be between 0 and 1; got {gamma}"
            )));
        }
        if !(epsilon.is_finite() && epsilon >= 1.0) {
            return Err(Error::new(format!(
                "epsilon must be at least 1 per-mille (it keeps the thresholds apart); got {epsilon}"
            )));
        }
        if f64::from(t2) - f64::from(t1) < epsilon || f64::from(t3) - f64::from(t2) < epsilon {
            return Err(Error::new(format!(
                "T2 - T1 and T3 - T2 must each be at least epsilon = {epsilon} per-mille; \
                 got T1={t1} T2={t2} T3={t3}"
            )));
        }
        Ok(MovingThresholds {
            base,
            params,
            t2: f64::from(t2),
            t3: f64::from(t3),
        })
    }

    /// The operator's thresholds.
    pub fn base(&self) -> Thresholds {
        self.base
    }

    /// The parameters.
    pub fn params(&self) -> MoveParams {
        self.params
    }

    /// The moved T2 and T3, unrounded.
    pub fn exact(&self) -> (f64, f64) {
        (self.t2, self.t3)
    }

    /// True when T2 or T3 is below the operator's value.
    pub fn is_moved(&self) -> bool {
        self.current() != self.base
    }

    /// Moves the thresholds for one interval with load `x = max(l_d, l_c)` (per-mille) and returns
    /// the thresholds in force.
    pub fn update(&mut self, x: f64) -> Thresholds {
        if x.is_nan() {
            return self.current();
        }
        let t1 = f64::from(self.base.t1);
        let c = f64::from(self.base.c);
        let MoveParams {
            beta,
            gamma,
            epsilon,
        } = self.params;
        if x < t1 {
            self.t2 = f64::from(self.base.t2);
            self.t3 = f64::from(self.base.t3);
        } else {
            if x > self.t2 {
                self.t2 = (self.t2 - beta * (x - self.t2)).max(t1 + epsilon);
            }
            if x > self.t3 {
                let ratio = ((x - self.t3) / (c - self.t3)).clamp(0.0, 1.0);
                self.t3 = (self.t3 * (1.0 - gamma * ratio)).max(self.t2 + epsilon);
            }
        }
        self.current()
    }

    /// The thresholds in force, in integer per-mille; always `T1 < T2 < T3 < C`.
    pub fn current(&self) -> Thresholds {
        let b = self.base;
        // `new` guarantees t1 + 1 <= t2 <= base.t2 and t2 + 1 <= t3 <= base.t3 in exact
        // arithmetic; the clamps keep it after rounding.
        let t2 = (self.t2.round() as u16).clamp(b.t1 + 1, b.t2);
        let t3 = (self.t3.round() as u16).clamp(t2 + 1, b.t3);
        Thresholds {
            t1: b.t1,
            t2,
            t3,
            c: b.c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt() -> MovingThresholds {
        MovingThresholds::new(Thresholds::default(), MoveParams::default()).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn t2_moves_linearly_down_to_its_floor() {
        let mut m = mt(); // 600 / 750 / 900 / 1000, β = γ = 0.5, ε = 10
                          // 750 − 0.5·(800 − 750) = 725
        assert_eq!(
            m.update(800.0),
            Thresholds {
                t1: 600,
                t2: 725,
                t3: 900,
                c: 1000
            }
        );
        // 725 − 0.5·75 = 687.5 → 688 in force
        assert_eq!(m.update(800.0).t2, 688);
        assert!(close(m.exact().0, 687.5));
        // 687.5 − 0.5·112.5 = 631.25
        assert_eq!(m.update(800.0).t2, 631);
        // 631.25 − 0.5·168.75 = 546.875 → floor T1 + ε = 610
        assert_eq!(m.update(800.0).t2, 610);
        assert_eq!(m.update(800.0).t2, 610);
        assert_eq!(m.current().t3, 900, "x never exceeded T3");
    }

    #[test]
    fn t3_moves_multiplicatively_down_to_its_floor() {
        let mut m = mt();
        // T2: 750 − 0.5·200 = 650. T3: 900·(1 − 0.5·50/100) = 675 (floor 660).
        assert_eq!(
            m.update(950.0),
            Thresholds {
                t1: 600,
                t2: 650,
                t3: 675,
                c: 1000
            }
        );
        // T2: max(610, 650 − 150) = 610. T3: 675·(1 − 0.5·275/325) = 389.4… → floor 620.
        assert_eq!(
            m.update(950.0),
            Thresholds {
                t1: 600,
                t2: 610,
                t3: 620,
                c: 1000
            }
        );
    }

    #[test]
    fn x_at_capacity_uses_full_ratio() {
        let base = Thresholds {
            t1: 100,
            t2: 200,
            t3: 900,
            c: 950,
        };
        let p = MoveParams {
            beta: 0.0,
            gamma: 0.25,
            epsilon: 10.0,
        };
        let mut m = MovingThresholds::new(base, p).unwrap();
        // ratio (1000 − 900)/(950 − 900) = 2 → clamped to 1: 900·0.75 = 675. β = 0: T2 stays.
        assert_eq!(
            m.update(1000.0),
            Thresholds {
                t1: 100,
                t2: 200,
                t3: 675,
                c: 950
            }
        );
    }

    #[test]
    fn hold_between_t1_and_t2_then_reset_below_t1() {
        let mut m = mt();
        m.update(950.0);
        let moved = m.current();
        assert!(m.is_moved());
        assert_eq!(m.update(650.0), moved, "T1 <= x <= T2: hold");
        assert_eq!(m.update(600.0), moved, "x = T1 is not below T1");
        assert_eq!(m.update(599.0), Thresholds::default());
        assert!(!m.is_moved());
        assert_eq!(m.update(f64::NAN), Thresholds::default());
    }

    #[test]
    fn bad_operator_values_are_refused_with_the_reason() {
        let p = MoveParams::default();
        let e = MovingThresholds::new(
            Thresholds {
                t1: 700,
                t2: 600,
                t3: 900,
                c: 1000,
            },
            p,
        )
        .unwrap_err();
        assert!(e.message().contains("T1 < T2 < T3 < C"), "{e}");
        let e = MovingThresholds::new(
            Thresholds {
                t1: 600,
                t2: 700,
                t3: 900,
                c: 1001,
            },
            p,
        )
        .unwrap_err();
        assert!(e.message().contains("C=1001"), "{e}");
        let e = MovingThresholds::new(
            Thresholds {
                t1: 600,
                t2: 605,
                t3: 900,
                c: 1000,
            },
            p,
        )
        .unwrap_err();
        assert!(e.message().contains("epsilon"), "{e}");
        let t = Thresholds::default();
        assert!(MovingThresholds::new(t, MoveParams { epsilon: 0.5, ..p }).is_err());
        assert!(MovingThresholds::new(t, MoveParams { gamma: 1.5, ..p }).is_err());
        assert!(MovingThresholds::new(t, MoveParams { beta: -1.0, ..p }).is_err());
        assert!(MovingThresholds::new(
            t,
            MoveParams {
                beta: f64::INFINITY,
                ..p
            }
        )
        .is_err());
    }

    /// xorshift64*: a tiny deterministic generator, so the property test needs no dependency and
    /// a failure names its seed.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn property_invariant_holds_for_random_load_sequences() {
        for seed in 1..=3000u64 {
            let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let epsilon = 1.0 + r.unit() * 30.0;
            let e = epsilon.ceil() as u64;
            // Random valid operator thresholds.
            let c = 1000 - r.below(100) as u16;
            let t1 = r.below(u64::from(c) - 2 * e - 2) as u16;
            let t2 = t1 + e as u16 + r.below(u64::from(c) - u64::from(t1) - 2 * e - 1) as u16;
            let t3 = t2 + e as u16 + r.below(u64::from(c) - u64::from(t2) - e) as u16;
            let base = Thresholds { t1, t2, t3, c };
            let params = MoveParams {
                beta: r.unit() * 3.0,
                gamma: r.unit(),
                epsilon,
            };
            let mut m = MovingThresholds::new(base, params)
                .unwrap_or_else(|e| panic!("seed {seed}: {base:?} {params:?}: {e}"));
            let mut x = r.unit() * 1000.0;
            let mut prev = m.current();
            for step in 0..200 {
                // Mix random jumps and random walks, including exact threshold values.
                x = match r.below(4) {
                    0 => r.unit() * 1000.0,
                    1 => (x + (r.unit() - 0.5) * 100.0).clamp(0.0, 1000.0),
                    2 => f64::from([t1, t2, t3, c][r.below(4) as usize]),
                    _ => x,
                };
                let cur = m.update(x);
                let (t2f, t3f) = m.exact();
                let ctx = || format!("seed {seed} step {step} x {x} base {base:?} {params:?}");
                assert!(cur.is_ordered(), "{cur:?} {}", ctx());
                assert_eq!((cur.t1, cur.c), (t1, c), "{}", ctx());
                assert!(cur.t2 <= t2 && cur.t3 <= t3, "{cur:?} {}", ctx());
                assert!(t2f >= f64::from(t1) + epsilon - 1e-9, "{t2f} {}", ctx());
                assert!(t3f >= t2f + epsilon - 1e-9, "{t2f} {t3f} {}", ctx());
                if x < f64::from(t1) {
                    assert_eq!(cur, base, "{}", ctx());
                } else {
                    assert!(
                        cur.t2 <= prev.t2 && cur.t3 <= prev.t3,
                        "{cur:?} {prev:?} {}",
                        ctx()
                    );
                }
                prev = cur;
            }
        }
    }
}
