//! Short-term load forecast of one server ("shell", paper eq. 5–8).
//!
//! For each load sample `l` (per-mille, one every δ) of a server, [`Forecaster::push`]:
//! 1. computes the prediction error of the forecast made at the previous sample (eq. 7):
//!    `err = |l̂(previous) − l| / l`, clamped to [0, 1]; when `l = 0` the absolute error is used,
//!    as a fraction of full load (`l̂(previous) / 1000`); with no previous forecast `err = 1`
//!    (the estimate is then the measurement itself);
//! 2. appends `l` to the window of the last T samples (eq. 5) — shorter than T at start;
//! 3. fits the least-squares line through the window (sample k at abscissa k) and evaluates it one
//!    step ahead (eq. 6): `l̂`, clamped to 0‥1000 (a load cannot leave that range);
//! 4. damps the forecast with the error (eq. 8): `l̃ = (1 − err)·l̂ + err·l`.
//!
//! `l̃` is what server selection compares (eq. 9) and what the manager pushes as `A_FORECAST`.

use serde::Serialize;
use std::collections::VecDeque;

/// Default window length T, in samples.
pub const DEFAULT_WINDOW: usize = 5;

/// What the forecaster knows after a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The measured load `l`, per-mille.
    pub load: f64,
    /// The one-step-ahead least-squares forecast `l̂`, per-mille (0‥1000).
    pub forecast: f64,
    /// Prediction error of the previous forecast against `l` (0‥1).
    pub err: f64,
    /// Damped estimate `l̃ = (1 − err)·l̂ + err·l`, per-mille.
    pub damped: f64,
}

/// Sliding window and forecast state of one server.
#[derive(Debug, Clone)]
pub struct Forecaster {
    capacity: usize,
    window: VecDeque<f64>,
    previous_forecast: Option<f64>,
    last: Option<Estimate>,
}

impl Forecaster {
    /// A forecaster over the last `window` samples (at least 1; a window of 1 forecasts the last
    /// sample).
    pub fn new(window: usize) -> Self {
        let capacity = window.max(1);
        Forecaster {
            capacity,
            window: VecDeque::with_capacity(capacity),
            previous_forecast: None,
            last: None,
        }
    }

    /// Window length T.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The samples in the window, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = f64> + '_ {
        self.window.iter().copied()
    }

    /// The estimate after the last sample, if any.
    pub fn last(&self) -> Option<Estimate> {
        self.last
    }

    /// Forgets every sample (used when a server's load monitor failed: its old samples no longer
    /// describe it).
    pub fn reset(&mut self) {
        self.window.clear();
        self.previous_forecast = None;
        self.last = None;
    }

    /// Takes one load sample (per-mille; clamped to 0‥1000) and returns the new estimate.
    pub fn push(&mut self, load: f64) -> Estimate {
        let load = if load.is_nan() {
            0.0
        } else {
            load.clamp(0.0, 1000.0)
        };
        let err = match self.previous_forecast {
            Some(p) => prediction_error(p, load),
            None => 1.0,
        };
        if self.window.len() == self.capacity {
            self.window.pop_front();
        }
        self.window.push_back(load);
        let (a, b) = self.window.as_slices();
        let forecast = if b.is_empty() {
            least_squares_next(a)
        } else {
            least_squares_next(&self.window.iter().copied().collect::<Vec<_>>())
        }
        .unwrap_or(load)
        .clamp(0.0, 1000.0);
        self.previous_forecast = Some(forecast);
        let est = Estimate {
            load,
            forecast,
            err,
            damped: damped(forecast, load, err),
        };
        self.last = Some(est);
        est
    }
}

/// The least-squares line through `samples` (sample k at abscissa k), evaluated at abscissa
/// `samples.len()`. `None` for no sample; the sample itself for one.
pub fn least_squares_next(samples: &[f64]) -> Option<f64> {
    let n = samples.len();
    match n {
        0 => None,
        1 => Some(samples[0]),
        _ => {
            let nf = n as f64;
            let x_mean = (nf - 1.0) / 2.0;
            let y_mean = samples.iter().sum::<f64>() / nf;
            let mut sxy = 0.0;
            let mut sxx = 0.0;
            for (k, y) in samples.iter().enumerate() {
                let dx = k as f64 - x_mean;
                sxy += dx * (y - y_mean);
                sxx += dx * dx;
            }
            let slope = sxy / sxx;
            Some(y_mean + slope * (nf - x_mean))
        }
    }
}

/// Prediction error (eq. 7): `|predicted − measured| / measured`, clamped to [0, 1]; when
/// `measured` is 0, the absolute error as a fraction of full load (`|predicted| / 1000`).
pub fn prediction_error(predicted: f64, measured: f64) -> f64 {
    let diff = (predicted - measured).abs();
    let e = if measured == 0.0 {
        diff / 1000.0
    } else {
        diff / measured.abs()
    };
    if e.is_nan() {
        1.0
    } else {
        e.clamp(0.0, 1.0)
    }
}

/// Damped estimate (eq. 8): `(1 − err)·forecast + err·measured`.
pub fn damped(forecast: f64, measured: f64, err: f64) -> f64 {
    (1.0 - err) * forecast + err * measured
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[track_caller]
    fn check(e: Estimate, forecast: f64, err: f64, damped: f64) {
        assert!(
            close(e.forecast, forecast),
            "forecast {} != {forecast} ({e:?})",
            e.forecast
        );
        assert!(close(e.err, err), "err {} != {err} ({e:?})", e.err);
        assert!(
            close(e.damped, damped),
            "damped {} != {damped} ({e:?})",
            e.damped
        );
    }

    #[test]
    fn least_squares_by_hand() {
        assert_eq!(least_squares_next(&[]), None);
        assert_eq!(least_squares_next(&[42.0]), Some(42.0));
        assert!(close(least_squares_next(&[100.0, 200.0]).unwrap(), 300.0));
        // x̄ = 1.5, ȳ = 502.5, Sxy = −5, Sxx = 5: slope −1, at x = 4: 502.5 − 2.5 = 500.
        assert!(close(
            least_squares_next(&[500.0, 520.0, 480.0, 510.0]).unwrap(),
            500.0
        ));
    }

    #[test]
    fn constant_series() {
        let mut f = Forecaster::new(4);
        check(f.push(500.0), 500.0, 1.0, 500.0); // no previous forecast: err = 1
        for _ in 0..10 {
            check(f.push(500.0), 500.0, 0.0, 500.0);
        }
        assert_eq!(f.samples().count(), 4);
    }

    #[test]
    fn linear_ramp() {
        let mut f = Forecaster::new(4);
        check(f.push(100.0), 100.0, 1.0, 100.0);
        // previous l̂ = 100, l = 200: err = 0.5; window [100, 200]: l̂ = 300; l̃ = 150 + 100.
        check(f.push(200.0), 300.0, 0.5, 250.0);
        check(f.push(300.0), 400.0, 0.0, 400.0);
        check(f.push(400.0), 500.0, 0.0, 500.0);
        // The window is full: it slides, the forecast stays exact.
        check(f.push(500.0), 600.0, 0.0, 600.0);
        assert_eq!(
            f.samples().collect::<Vec<_>>(),
            vec![200.0, 300.0, 400.0, 500.0]
        );
    }

    #[test]
    fn window_shorter_than_t_at_start() {
        let mut f = Forecaster::new(10);
        f.push(100.0);
        f.push(300.0);
        // Only 3 samples of 10: the line through [100, 300, 200] (slope 50, ȳ 200) at x = 3: 300.
        let e = f.push(200.0);
        assert_eq!(f.samples().count(), 3);
        // previous l̂ = 500 (line through 100, 300), l = 200: err = 300 / 200 → clamped to 1.
        check(e, 300.0, 1.0, 200.0);
    }

    #[test]
    fn step() {
        let mut f = Forecaster::new(3);
        for _ in 0..3 {
            f.push(200.0);
        }
        // previous l̂ = 200, l = 800: err = 600 / 800 = 0.75. Window [200, 200, 800]: ȳ = 400,
        // slope 300, at x = 3: 1000. l̃ = 0.25·1000 + 0.75·800 = 850.
        check(f.push(800.0), 1000.0, 0.75, 850.0);
        // Window [200, 800, 800]: ȳ = 600, slope 300, at x = 3: 1200 → clamped to 1000.
        // err = |1000 − 800| / 800 = 0.25; l̃ = 0.75·1000 + 0.25·800 = 950.
        check(f.push(800.0), 1000.0, 0.25, 950.0);
        // Window [800, 800, 800]: l̂ = 800; err = 0.25 again; l̃ = 800.
        check(f.push(800.0), 800.0, 0.25, 800.0);
        check(f.push(800.0), 800.0, 0.0, 800.0);
    }

    #[test]
    fn noisy_series() {
        let mut f = Forecaster::new(4);
        check(f.push(500.0), 500.0, 1.0, 500.0);
        // err = 20/520; window [500, 520]: l̂ = 540; l̃ = 540 − 20·err.
        let e = 20.0 / 520.0;
        check(f.push(520.0), 540.0, e, 540.0 - 20.0 * e);
        // err = 60/480 = 0.125; window [500, 520, 480]: ȳ = 500, slope −10, l̂ = 480; l̃ = 480.
        check(f.push(480.0), 480.0, 0.125, 480.0);
        // err = 30/510; window [500, 520, 480, 510]: l̂ = 500; l̃ = 500 + 10·err.
        let e = 30.0 / 510.0;
        check(f.push(510.0), 500.0, e, 500.0 + 10.0 * e);
        // Window slides to [520, 480, 510, 490]: ȳ = 500, Sxy = −30, slope −6, l̂ = 485.
        // err = 10/490; l̃ = 485 + 5·err.
        let e = 10.0 / 490.0;
        check(f.push(490.0), 485.0, e, 485.0 + 5.0 * e);
    }

    #[test]
    fn zero_load_uses_absolute_error() {
        let mut f = Forecaster::new(2);
        f.push(50.0);
        // previous l̂ = 50, l = 0: absolute error 50 per-mille = 0.05.
        // Window [50, 0]: slope −50, l̂ = −50 → clamped to 0. l̃ = 0.
        check(f.push(0.0), 0.0, 0.05, 0.0);
        check(f.push(0.0), 0.0, 0.0, 0.0);
    }

    #[test]
    fn error_is_clamped_and_inputs_are_sanitised() {
        assert_eq!(prediction_error(900.0, 100.0), 1.0);
        assert_eq!(prediction_error(100.0, 100.0), 0.0);
        assert!(close(prediction_error(90.0, 100.0), 0.1));
        assert!(close(prediction_error(1000.0, 0.0), 1.0));
        let mut f = Forecaster::new(3);
        assert_eq!(f.push(f64::NAN).load, 0.0);
        assert_eq!(f.push(4000.0).load, 1000.0);
        assert_eq!(f.push(-5.0).load, 0.0);
    }

    #[test]
    fn window_of_one_and_reset() {
        let mut f = Forecaster::new(0);
        assert_eq!(f.capacity(), 1);
        check(f.push(300.0), 300.0, 1.0, 300.0);
        // previous l̂ = 300, l = 600: err = 0.5; l̂ = 600; l̃ = 600.
        check(f.push(600.0), 600.0, 0.5, 600.0);
        f.reset();
        assert!(f.last().is_none());
        check(f.push(100.0), 100.0, 1.0, 100.0);
    }
}
