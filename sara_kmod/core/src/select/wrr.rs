//! Smooth weighted round robin (nginx's algorithm; RSerPool "Weighted Round Robin"): over any window of
//! `W = Σ weights` selections with a stable set of servers, server `j` is chosen exactly `weight_j`
//! times, and its choices are spread through the window (weights 5, 1, 1 give `a a b a c a a`, not
//! `a a a a a b c`).
//!
//! Each selection: every available server with a non-zero weight adds its weight to its current weight;
//! the one with the largest current weight (ties: lowest index) is chosen and loses `W`. Servers that
//! are not available (or weigh 0) are reset to 0 and skipped. The state is in
//! [`Candidate::wrr_current`]; it stays within `[-W, W]`.

use super::{Candidate, Input, Policy};

/// Smooth weighted round robin (state lives in the candidates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeightedRoundRobin;

impl Policy for WeightedRoundRobin {
    fn select(&mut self, servers: &mut [Candidate], _input: Input) -> Option<usize> {
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        for i in 0..servers.len() {
            let Some(c) = servers.get_mut(i) else {
                continue;
            };
            if !c.available() || c.weight == 0 {
                c.wrr_current = 0;
                continue;
            }
            let w = i64::from(c.weight);
            c.wrr_current = c.wrr_current.saturating_add(w);
            total = total.saturating_add(w);
            if best.is_none_or(|(_, cur)| c.wrr_current > cur) {
                best = Some((i, c.wrr_current));
            }
        }
        let (i, _) = best?;
        let c = servers.get_mut(i)?;
        c.wrr_current = c.wrr_current.saturating_sub(total);
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::servers;
    use super::super::ServerState;
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn run(s: &mut [Candidate], k: usize) -> Vec<usize> {
        let mut p = WeightedRoundRobin;
        (0..k)
            .map(|_| p.select(s, Input::default()).unwrap())
            .collect()
    }

    #[test]
    fn smooth_sequence() {
        let mut s = servers(3);
        for (c, w) in s.iter_mut().zip([5, 1, 1]) {
            c.weight = w;
        }
        assert_eq!(run(&mut s, 7), [0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn proportions_over_every_period() {
        let mut s = servers(4);
        let weights = [3u16, 7, 1, 9];
        for (c, w) in s.iter_mut().zip(weights) {
            c.weight = w;
        }
        let period: usize = weights.iter().map(|&w| usize::from(w)).sum();
        for _ in 0..5 {
            let seq = run(&mut s, period);
            for (i, &w) in weights.iter().enumerate() {
                assert_eq!(seq.iter().filter(|&&x| x == i).count(), usize::from(w));
            }
        }
        for c in &s {
            assert!(c.wrr_current.abs() <= period as i64);
        }
    }

    #[test]
    fn zero_weight_and_unavailable_are_skipped() {
        let mut s = servers(3);
        s[0].weight = 0;
        s[1].weight = 2;
        s[2].weight = 1;
        s[2].state = ServerState::Draining;
        assert!(run(&mut s, 10).iter().all(|&i| i == 1));
        s[1].weight = 0;
        assert_eq!(WeightedRoundRobin.select(&mut s, Input::default()), None);
    }
}
