//! Hash (the walking skeleton's default, genl `POLICY_HASH`): the flow's hash decides, by
//! highest-random-weight (rendezvous) hashing over the available servers: each server scores
//! `mix(flow_hash, server id)` and the highest score wins.
//!
//! Properties: the same flow hash always picks the same server while the set is unchanged; flows spread
//! uniformly; when a server leaves, only the flows that were on it move (each to its second-best
//! server), and when it comes back only those come back. (Stickiness of established sessions is the
//! flow table's job; this keeps new sessions of a client predictable and stable across server changes.)

use super::{Candidate, Input, Policy};

/// Rendezvous hashing of the flow over the available servers (stateless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hash;

/// Score of a (flow hash, server id) pair: the SplitMix64 finaliser of their combination.
pub fn score(flow_hash: u64, id: u16) -> u64 {
    let mut z = flow_hash ^ u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Policy for Hash {
    fn select(&mut self, servers: &mut [Candidate], input: Input) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for i in 0..servers.len() {
            let Some(c) = servers.get(i).filter(|c| c.available()) else {
                continue;
            };
            let s = score(input.flow_hash, c.id);
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, i));
            }
        }
        best.map(|(_, i)| i)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{histogram, servers};
    use super::super::ServerState;
    use super::*;

    fn h(k: u64) -> u64 {
        score(k, 0xffff)
    }

    #[test]
    fn deterministic_and_uniform() {
        let mut s = servers(4);
        let input = Input {
            flow_hash: 42,
            rand: 0,
        };
        let first = Hash.select(&mut s, input);
        for _ in 0..10 {
            assert_eq!(Hash.select(&mut s, Input { rand: 7, ..input }), first);
        }
        let hist = histogram(&mut Hash, &mut s, 40_000);
        assert!(
            hist.iter().all(|&n| (9_400..10_600).contains(&n)),
            "{hist:?}"
        );
    }

    #[test]
    fn a_server_leaving_moves_only_its_flows() {
        let mut all = servers(5);
        let mut less = servers(5);
        less[2].state = ServerState::Down;
        let mut moved_from_others = 0;
        let mut moved_from_2 = 0;
        for k in 0..10_000u64 {
            let input = Input {
                flow_hash: h(k),
                rand: 0,
            };
            let a = Hash.select(&mut all, input).unwrap();
            let b = Hash.select(&mut less, input).unwrap();
            if a != b {
                if a == 2 {
                    moved_from_2 += 1;
                } else {
                    moved_from_others += 1;
                }
            }
        }
        assert_eq!(moved_from_others, 0);
        assert!((1_800..2_200).contains(&moved_from_2), "{moved_from_2}");
    }
}
