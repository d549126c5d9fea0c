// SPDX-License-Identifier: GPL-2.0

//! The packet path (IPVS: `ip_vs_core.c`): runs in softirq for every IPv4 packet entering the
//! namespace, before routing.
//!
//! Walking-skeleton behaviour: a packet for a configured virtual service goes to one of the
//! available servers chosen by rendezvous hashing of its keyed 5-tuple hash (`sara_core`'s `Hash`
//! policy: one flow always reaches one server, and a server leaving moves only its own flows), by
//! direct routing; everything else passes untouched.

use crate::netns::NetState;
use crate::sara_core::counters as c;
use crate::sara_core::flow::FlowKey;
use crate::sara_core::select::hash::score;
use crate::sys::rcu::RcuGuard;
use crate::sys::skb::{Skb, Xmit};
use core::sync::atomic::Ordering;

/// A netfilter verdict.
#[repr(u32)]
pub(crate) enum Verdict {
    /// NF_DROP: netfilter frees the packet.
    Drop = 0,
    /// NF_ACCEPT: the packet goes on through the stack.
    Accept = 1,
    /// NF_STOLEN: we transmitted the packet.
    Stolen = 2,
}

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// IPv4 addresses, protocol and header length of a packet, from its linear head.
struct Ip {
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ihl: u32,
    non_first_fragment: bool,
}

fn ipv4(b: &[u8]) -> Option<Ip> {
    let hdr: &[u8; 20] = b.get(..20)?.try_into().ok()?;
    let ihl = u32::from(hdr[0] & 0x0f) * 4;
    if hdr[0] >> 4 != 4 || ihl < 20 {
        return None;
    }
    let frag = u16::from_be_bytes([hdr[6], hdr[7]]);
    Some(Ip {
        src: [hdr[12], hdr[13], hdr[14], hdr[15]],
        dst: [hdr[16], hdr[17], hdr[18], hdr[19]],
        proto: hdr[9],
        ihl,
        non_first_fragment: frag & 0x1fff != 0,
    })
}

/// Handles one packet.
pub(crate) fn packet(st: &NetState, mut skb: Skb, g: &RcuGuard) -> Verdict {
    let cfg = st.config.read(g);
    if cfg.services.is_empty() {
        return Verdict::Accept;
    }
    st.counters.inc(c::PKT_SEEN);

    let Some(ip) = ipv4(skb.linear().0) else {
        st.counters.inc(c::PKT_PASSED); // the stack's own checks deal with it
        return Verdict::Accept;
    };
    if !cfg.is_vip(ip.dst) {
        st.counters.inc(c::PKT_PASSED);
        return Verdict::Accept;
    }
    if ip.proto != IPPROTO_TCP && ip.proto != IPPROTO_UDP {
        st.counters.inc(c::PKT_PASSED); // ICMP etc. to the VIP: the dispatcher answers itself
        return Verdict::Accept;
    }
    if ip.non_first_fragment {
        st.counters.inc(c::DROP_FRAGMENT);
        return Verdict::Drop;
    }
    // Ports are the first 4 bytes after the IP header.
    if !skb.pull(ip.ihl + 4) {
        st.counters.inc(c::DROP_MALFORMED);
        return Verdict::Drop;
    }
    let (head, _) = skb.linear();
    let off = ip.ihl as usize;
    let Some(ports) = head.get(off..off + 4) else {
        st.counters.inc(c::DROP_MALFORMED);
        return Verdict::Drop;
    };
    let sport = u16::from_be_bytes([ports[0], ports[1]]);
    let dport = u16::from_be_bytes([ports[2], ports[3]]);
    let Some(svc) = cfg.service(ip.dst, dport, ip.proto) else {
        st.counters.inc(c::PKT_PASSED);
        return Verdict::Accept;
    };

    let h = st.hasher.hash(&FlowKey::new(ip.src, sport, ip.dst, dport, ip.proto));
    let Some(server) = cfg.servers.iter().filter(|s| s.live.is_up()).max_by_key(|s| score(h, s.id)) else {
        st.counters.inc(c::DROP_NO_SERVER);
        return Verdict::Drop;
    };

    match skb.xmit(server.ifindex, &server.mac) {
        Xmit::Queued => {
            st.counters.inc(c::PKT_FORWARDED);
            svc.packets.fetch_add(1, Ordering::Relaxed);
            server.live.packets.fetch_add(1, Ordering::Relaxed);
            Verdict::Stolen
        }
        Xmit::DeviceDropped => {
            st.counters.inc(c::DROP_XMIT);
            Verdict::Stolen
        }
        Xmit::NoDevice => {
            st.counters.inc(c::DROP_NO_DEVICE);
            Verdict::Drop
        }
        Xmit::NoMemory => {
            st.counters.inc(c::DROP_NOMEM);
            Verdict::Drop
        }
    }
}
