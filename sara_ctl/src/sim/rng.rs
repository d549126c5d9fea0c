//! A small deterministic PRNG (xoshiro256**, seeded through SplitMix64) and the distributions the
//! simulator draws from. No dependency, so a run is reproducible bit for bit from its seed on every
//! platform and with every version of the crate graph.

/// xoshiro256** (Blackman & Vigna), seeded with SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

/// One SplitMix64 step: used to expand a seed and to derive independent stream seeds.
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for stream `stream` derived from `seed` (distinct streams are independent for practical
/// purposes).
pub fn derive(seed: u64, stream: u64) -> u64 {
    let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
    splitmix64(&mut x);
    splitmix64(&mut x)
}

impl Rng {
    /// A generator from a 64-bit seed (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let s = [
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
            splitmix64(&mut x),
        ];
        Rng { s }
    }

    /// 64 uniform bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// 32 uniform bits (the kernel's `get_random_u32()`).
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        // 1 − U is in (0, 1]: the log is finite.
        -mean * (1.0 - self.unit()).ln()
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Lognormal with the given mean and shape σ (the σ of the underlying normal).
    pub fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
        let mu = mean.ln() - sigma * sigma / 2.0;
        (mu + sigma * self.normal()).exp()
    }

    /// Poisson with mean `lambda` (Knuth's product method for small means, a normal approximation
    /// above 30; the simulator's per-step means are far below that).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            let v = lambda + lambda.sqrt() * self.normal();
            return v.round().max(0.0) as u32;
        }
        let l = (-lambda).exp();
        let mut k = 0u32;
        let mut p = 1.0;
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
        (0..n).map(|_| f()).sum::<f64>() / n as f64
    }

    #[test]
    fn deterministic_and_streams_differ() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..5).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(derive(7, 1), derive(7, 2));
        assert_ne!(
            Rng::new(derive(7, 1)).next_u64(),
            Rng::new(derive(7, 2)).next_u64()
        );
    }

    #[test]
    fn distributions_have_the_right_means() {
        let mut r = Rng::new(42);
        let u = mean_of(200_000, || r.unit());
        assert!((u - 0.5).abs() < 0.005, "{u}");
        let e = mean_of(200_000, || r.exp(20.0));
        assert!((e - 20.0).abs() < 0.3, "{e}");
        let l = mean_of(400_000, || r.lognormal(20.0, 0.8));
        assert!((l - 20.0).abs() < 0.4, "{l}");
        let n = mean_of(200_000, || r.normal());
        assert!(n.abs() < 0.01, "{n}");
        for lambda in [0.3, 2.5, 12.0, 50.0] {
            let p = mean_of(200_000, || f64::from(r.poisson(lambda)));
            assert!((p - lambda).abs() < 0.02 * lambda.max(1.0), "{lambda}: {p}");
        }
        assert_eq!(r.poisson(0.0), 0);
        let b = mean_of(100_000, || f64::from(u8::from(r.bernoulli(0.3))));
        assert!((b - 0.3).abs() < 0.01, "{b}");
    }
}
