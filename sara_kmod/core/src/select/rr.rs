//! Round robin: the available servers in turn, in slice order (RSerPool "Round Robin").

use super::{Candidate, Input, Policy};

/// Round robin; remembers where it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundRobin {
    next: usize,
}

impl RoundRobin {
    /// Starts at the first server.
    pub const fn new() -> Self {
        RoundRobin { next: 0 }
    }
}

impl Policy for RoundRobin {
    fn select(&mut self, servers: &mut [Candidate], _input: Input) -> Option<usize> {
        let n = servers.len();
        let start = if self.next < n { self.next } else { 0 };
        let up = |i: &usize| servers.get(*i).is_some_and(Candidate::available);
        let found = (start..n).find(up).or_else(|| (0..start).find(up))?;
        self.next = found.saturating_add(1);
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::servers;
    use super::super::ServerState;
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn cycles_over_available_servers() {
        let mut s = servers(4);
        let mut p = RoundRobin::new();
        let seq: Vec<usize> = (0..8)
            .map(|_| p.select(&mut s, Input::default()).unwrap())
            .collect();
        assert_eq!(seq, [0, 1, 2, 3, 0, 1, 2, 3]);
        s[2].state = ServerState::Down;
        let seq: Vec<usize> = (0..6)
            .map(|_| p.select(&mut s, Input::default()).unwrap())
            .collect();
        assert_eq!(seq, [0, 1, 3, 0, 1, 3]);
        // The list shrinks below the cursor.
        let mut short = servers(2);
        p.next = 7;
        assert_eq!(p.select(&mut short, Input::default()), Some(0));
    }
}
