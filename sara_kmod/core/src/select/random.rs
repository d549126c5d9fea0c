//! Random: uniformly among the available servers, from the caller's random draw (RSerPool "Random").

use super::super::flow::reduce;
use super::{Candidate, Input, Policy};

/// Random choice (stateless; the draw is [`Input::rand`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Random;

impl Policy for Random {
    fn select(&mut self, servers: &mut [Candidate], input: Input) -> Option<usize> {
        let n = servers.iter().fold(0u32, |n, c| {
            if c.available() {
                n.saturating_add(1)
            } else {
                n
            }
        });
        // The k-th available server (0-based), k uniform in 0..n.
        let mut k = reduce(input.rand, n);
        for i in 0..servers.len() {
            if servers.get(i).is_some_and(Candidate::available) {
                if k == 0 {
                    return Some(i);
                }
                k = k.saturating_sub(1);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{histogram, servers};
    use super::super::ServerState;
    use super::*;

    #[test]
    fn uniform_over_available() {
        let mut s = servers(5);
        s[1].state = ServerState::Down;
        let h = histogram(&mut Random, &mut s, 40_000);
        assert_eq!(h[1], 0);
        for i in [0, 2, 3, 4] {
            assert!((9_400..10_600).contains(&h[i]), "{h:?}");
        }
        // The draw maps by multiply-shift: low draws to the first available, high to the last.
        assert_eq!(
            Random.select(
                &mut s,
                Input {
                    rand: 0,
                    flow_hash: 0
                }
            ),
            Some(0)
        );
        assert_eq!(
            Random.select(
                &mut s,
                Input {
                    rand: u32::MAX,
                    flow_hash: 0
                }
            ),
            Some(4)
        );
    }
}
