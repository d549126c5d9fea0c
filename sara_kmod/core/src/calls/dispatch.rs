//! Per-call dispatch of SIP messages: what the data path does with one parsed message, given whether
//! its call is in the Call-ID index.
//!
//! The kernel's steps for a datagram on a SIP service: parse it (`dpi::sip::parse`; an error is
//! [`Fallback::NotSip`]), build its [`super::CallKey`] (an error is [`Fallback::NoCallId`] or
//! [`Fallback::CallIdTooLong`]), look it up in the index, then [`classify`] with the result.

use super::super::dpi::sip::{Method, SipMessage, Start};
use super::{CallIdError, CallKey};

/// What the data path does with one SIP message (see [`classify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dispatch {
    /// An INVITE whose call is not indexed: a new session. Admission for new sessions, selection by
    /// the service's policy, then the call is indexed (refused and counted if the index is full, as a
    /// full flow table refuses a session).
    NewCall,
    /// A message of an indexed call (any request — ACK, PRACK, UPDATE, INFO, re-INVITE, CANCEL, BYE,
    /// in-dialog OPTIONS/NOTIFY/REFER… — or a response): to that call's server, refreshing its entry.
    /// `end`: a BYE, the call is over (its session ends; its entry lingers for retransmissions).
    Call {
        /// The message ends the call (BYE).
        end: bool,
    },
    /// A request that may stand outside any dialog (OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, PUBLISH,
    /// MESSAGE, REFER, extensions) whose call is not indexed: no session, no index entry; the server is
    /// picked by rendezvous hashing of the call's hash ([`super::CallKey::hash`]) over the available
    /// servers, so every retransmission (same client, same Call-ID) reaches the same server, and
    /// distinct Call-IDs spread evenly.
    OutOfDialog,
    /// A message that only exists within a call (ACK, BYE, CANCEL, PRACK, UPDATE, INFO, or a response)
    /// whose call is not indexed (lost, expired, or placed before this dispatcher knew it): forwarded
    /// by the same stable hash as [`Dispatch::OutOfDialog`], and counted as an unknown Call-ID.
    UnknownCall,
    /// No usable Call-ID: forwarded by the fallback rule — rendezvous hashing of the datagram's flow
    /// hash (its 5-tuple) over the available servers, stateless and stable per socket pair — and
    /// counted by reason.
    Fallback(Fallback),
}

/// Why a message has no usable Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// Not a parsable SIP message (e.g. a CRLF keep-alive, RFC 5626, or a truncated datagram).
    NotSip,
    /// No Call-ID header in the bytes inspected.
    NoCallId,
    /// A Call-ID longer than [`super::MAX_CALL_ID`].
    CallIdTooLong,
}

impl From<CallIdError> for Fallback {
    fn from(e: CallIdError) -> Self {
        match e {
            CallIdError::Missing => Fallback::NoCallId,
            CallIdError::TooLong => Fallback::CallIdTooLong,
        }
    }
}

/// What to do with `msg`, whose call is (`known`) or is not in the index. `known` is ignored when the
/// message has no usable Call-ID.
pub fn classify(msg: &SipMessage<'_>, known: bool) -> Dispatch {
    // Any client address: only the Call-ID's presence and length are checked here.
    if let Err(e) = CallKey::new([0; 16], msg.call_id.unwrap_or(&[])) {
        return Dispatch::Fallback(e.into());
    }
    match (msg.start, known) {
        (Start::Request(Method::Bye), true) => Dispatch::Call { end: true },
        (_, true) => Dispatch::Call { end: false },
        (Start::Request(Method::Invite), false) => Dispatch::NewCall,
        (
            Start::Request(
                Method::Ack
                | Method::Bye
                | Method::Cancel
                | Method::Prack
                | Method::Update
                | Method::Info,
            )
            | Start::Response(_),
            false,
        ) => Dispatch::UnknownCall,
        (Start::Request(_), false) => Dispatch::OutOfDialog,
    }
}
