//! `sara-sim`: a deterministic discrete-time simulation of a SARA cluster, to measure the useful
//! throughput (completed sessions per unit of time) and the established sessions lost, for SARA
//! (admission control + forecast) and for the baselines (no admission, RSerPool's round robin,
//! random and least used), over offered loads of 50–200 %, with smooth and bursty arrivals.
//!
//! It reuses the project's own decision code, not a re-implementation:
//! * `sara_core::admission::Thresholds` (the kernel's per-packet drop decision, fixed point);
//! * `sara_core::select::{Forecast, RoundRobin, Random, LeastSessions}` through the `Policy` trait,
//!   on the kernel's `Candidate`s (forecast pushes, per-session increments, session counts);
//! * the control plane's [`crate::control::forecast::Forecaster`] (eq. 5–8),
//!   [`crate::control::cluster::cluster_load`] (eq. 1) and
//!   [`crate::control::thresholds::MovingThresholds`] (eq. 4).
//!
//! * [`rng`] — seeded xoshiro256** and the distributions;
//! * [`traffic`] — session classes and Poisson / on-off arrivals;
//! * [`model`] — the cluster model and one run (the model is documented there);
//! * [`sweep`] — the sweep, CSV, summary and the check of the paper's claims;
//! * [`plot`] — the PNG plots.

pub mod model;
pub mod plot;
pub mod rng;
pub mod sweep;
pub mod traffic;
