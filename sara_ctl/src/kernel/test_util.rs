//! Test helpers of the kernel client: an attribute and message encoder independent of `neli`, a
//! flow nest as `sara.ko` sends it, and the gathering of an answer from datagrams.

use sara_core::genl;

use super::attr::align4;
use super::msg::{decode_datagram, Answer, Outcome};

/// A test-side attribute encoder, independent of neli: header, payload, padding.
pub(super) fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(align4(v.len()), 0);
    v
}
pub(super) fn nest(ty: u16, inner: &[Vec<u8>]) -> Vec<u8> {
    nla(ty | 0x8000, &inner.concat())
}
pub(super) fn nlmsg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&4242u32.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize(align4(v.len()), 0);
    v
}
pub(super) fn genlmsg(cmd: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![cmd, genl::VERSION, 0, 0];
    v.extend(attrs.concat());
    v
}

/// A flow nest as sara.ko sends it: every attribute, `A_PAD` before the 64-bit ones.
#[allow(clippy::too_many_arguments)]
pub(super) fn flow_nest(
    src: [u8; 4],
    sport: u16,
    dport: u16,
    proto: u8,
    session: u32,
    identity: u8,
    wildcard: u8,
    packets: u64,
) -> Vec<u8> {
    nest(
        genl::A_FLOW,
        &[
            nla(genl::A_FLOW_SRC, &src),
            nla(genl::A_FLOW_SPORT, &sport.to_ne_bytes()),
            nla(genl::A_FLOW_DST, &[10, 0, 0, 100]),
            nla(genl::A_FLOW_DPORT, &dport.to_ne_bytes()),
            nla(genl::A_PROTO, &[proto]),
            nla(genl::A_SERVER_ID, &1u32.to_ne_bytes()),
            nla(genl::A_SESSION_ID, &session.to_ne_bytes()),
            nla(genl::A_FLOW_STATUS, &[genl::FLOW_STATUS_ESTABLISHED]),
            nla(genl::A_FLOW_IDENTITY, &[identity]),
            nla(genl::A_FLOW_WILDCARD, &[wildcard]),
            nla(genl::A_FLOW_ENDED, &[0]),
            nla(genl::A_FLOW_IDLE_MS, &123u32.to_ne_bytes()),
            nla(genl::A_FLOW_TIMEOUT_MS, &30_000u32.to_ne_bytes()),
            nla(genl::A_PAD, &[]),
            nla(genl::A_PACKETS, &packets.to_ne_bytes()),
            nla(genl::A_PAD, &[]),
            nla(genl::A_FLOW_BYTES, &(packets * 100).to_ne_bytes()),
        ],
    )
}

pub(super) const NLM_F_MULTI: u16 = libc::NLM_F_MULTI as u16;

pub(super) fn gather(seq: u32, datagrams: &[Vec<u8>]) -> Vec<Option<Outcome>> {
    let mut answer = Answer::new(seq);
    datagrams
        .iter()
        .map(|d| answer.feed(decode_datagram(d).unwrap()).unwrap())
        .collect()
}
