// Shared checks, included by the DPI targets with `include!`.
use sara_core::dpi::{Announcement, MAX_FLOWS, PROTO_TCP, PROTO_UDP};

/// What every announcement must satisfy, whatever the input.
#[allow(dead_code)]
fn check_announcement(a: &Announcement) {
    assert!(a.flows().len() <= MAX_FLOWS);
    assert!(!a.is_empty());
    for f in a.flows() {
        assert!(f.proto == PROTO_TCP || f.proto == PROTO_UDP);
        assert_ne!(f.client.port, Some(0));
        assert_ne!(f.server.port, Some(0));
    }
}
