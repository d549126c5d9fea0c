//! Least sessions: the available server with the fewest active sessions (RSerPool "Least Used" with
//! sessions as the load). Ties go to the lowest index; the caller counts the new session in
//! [`Candidate::sessions`] right after, so a burst alternates between tied servers.

use super::{min_available_by, Candidate, Input, Policy};

/// Least sessions (stateless).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeastSessions;

impl Policy for LeastSessions {
    fn select(&mut self, servers: &mut [Candidate], _input: Input) -> Option<usize> {
        min_available_by(servers, |c| c.sessions)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::servers;
    use super::super::ServerState;
    use super::*;

    #[test]
    fn picks_the_minimum() {
        let mut s = servers(4);
        for (c, n) in s.iter_mut().zip([7, 3, 9, 3]) {
            c.sessions = n;
        }
        assert_eq!(LeastSessions.select(&mut s, Input::default()), Some(1));
        s[1].state = ServerState::Down;
        assert_eq!(LeastSessions.select(&mut s, Input::default()), Some(3));
        // With the caller counting sessions, a burst evens the servers out.
        s[1].state = ServerState::Up;
        for _ in 0..20 {
            let i = LeastSessions.select(&mut s, Input::default()).unwrap();
            s[i].sessions += 1;
        }
        let n: [u32; 4] = core::array::from_fn(|i| s[i].sessions);
        assert_eq!(n.iter().sum::<u32>(), 42);
        assert!(
            n.iter().max().unwrap() - n.iter().min().unwrap() <= 1,
            "{n:?}"
        );
    }
}
