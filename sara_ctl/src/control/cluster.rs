//! Cluster load (paper eq. 1, as the spec reads it):
//! `l_c = α·mean(l_j) + (1 − α)·var(l_j)` over the available servers, with each `l_j` taken as a
//! fraction of 1 (so the variance is in 0‥0.25), the result given back in per-mille.
//!
//! The variance is the population variance (divided by N, not N − 1): the servers are the whole
//! cluster, not a sample of it. With α < 1 a cluster that is full everywhere gives `α·1000`
//! (800 with the default α): thresholds are set on that scale.

/// Default smoothing factor α.
pub const DEFAULT_ALPHA: f64 = 0.8;

/// Cluster load in per-mille from the loads (per-mille) of the available servers, or `None` when
/// there is no available server. `alpha` is clamped to [0, 1].
pub fn cluster_load(loads_permille: &[f64], alpha: f64) -> Option<f64> {
    if loads_permille.is_empty() {
        return None;
    }
    let alpha = if alpha.is_nan() {
        DEFAULT_ALPHA
    } else {
        alpha.clamp(0.0, 1.0)
    };
    let n = loads_permille.len() as f64;
    let fractions = loads_permille.iter().map(|l| l.clamp(0.0, 1000.0) / 1000.0);
    let mean = fractions.clone().sum::<f64>() / n;
    let var = fractions.map(|f| (f - mean) * (f - mean)).sum::<f64>() / n;
    Some((alpha * mean + (1.0 - alpha) * var) * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(loads: &[f64], alpha: f64) -> f64 {
        cluster_load(loads, alpha).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn no_server_no_load() {
        assert_eq!(cluster_load(&[], DEFAULT_ALPHA), None);
    }

    #[test]
    fn balanced_cluster_is_alpha_times_mean() {
        // mean 0.5, variance 0: 0.8·0.5 = 0.4 → 400.
        assert!(close(lc(&[500.0, 500.0], 0.8), 400.0));
        // one server at 700: 0.8·0.7 = 560.
        assert!(close(lc(&[700.0], 0.8), 560.0));
        // everything full: 800 with α = 0.8.
        assert!(close(lc(&[1000.0, 1000.0, 1000.0], 0.8), 800.0));
    }

    #[test]
    fn imbalance_adds_variance() {
        // 0.2 and 0.8: mean 0.5, variance ((−0.3)² + 0.3²)/2 = 0.09.
        // 0.8·0.5 + 0.2·0.09 = 0.4 + 0.018 = 0.418 → 418.
        assert!(close(lc(&[200.0, 800.0], 0.8), 418.0));
        // 0 and 1: mean 0.5, variance 0.25: 0.4 + 0.05 = 0.45 → 450.
        assert!(close(lc(&[0.0, 1000.0], 0.8), 450.0));
        // 100, 200, 600: mean 0.3, variance (0.04 + 0.01 + 0.09)/3 = 0.14/3.
        // 0.8·0.3 + 0.2·0.14/3 = 0.24 + 0.009333… → 249.333…
        assert!(close(lc(&[100.0, 200.0, 600.0], 0.8), 240.0 + 28.0 / 3.0));
    }

    #[test]
    fn alpha_extremes_and_sanitising() {
        assert!(close(lc(&[200.0, 800.0], 1.0), 500.0)); // mean only
        assert!(close(lc(&[200.0, 800.0], 0.0), 90.0)); // variance only
        assert!(close(lc(&[200.0, 800.0], 7.0), 500.0)); // α clamped to 1
        assert!(close(lc(&[200.0, 800.0], f64::NAN), 418.0)); // NaN → default
        assert!(close(lc(&[5000.0], 1.0), 1000.0)); // loads clamped to 0‥1000
    }
}
