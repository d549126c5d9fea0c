//! Packet views (`sara_core::wire`) on arbitrary bytes, and the whole inspection path: L4 parse, then
//! DPI of the payload. No panic; payload bounds consistent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sara_core::dpi::{inspect, Direction, Sig};
use sara_core::wire::{self, EthernetFrame, Ipv4Packet, TcpPacket, UdpPacket};

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = wire::parse_l4(data) {
        assert!(info.ip_header_len >= 20 && info.ip_header_len <= 60);
        assert!(info.ip_total_len <= data.len());
        let _ = info.frag_key();
        let _ = (info.has_ports(), info.is_tcp_syn(), info.is_tcp_close());
        if let Some(p) = info.payload(data) {
            assert_eq!(p.len(), info.payload_len);
            for sig in [Sig::Rtsp, Sig::Sip, Sig::Ftp] {
                let _ = inspect(sig, Direction::FromClient, p);
            }
        }
    }
    if let Ok(info) = wire::parse_l4_head(data) {
        let _ = info.payload(data);
    }
    if let Ok(eth) = EthernetFrame::new_checked(data) {
        let _ = (
            eth.dst_addr(),
            eth.src_addr(),
            eth.ethertype(),
            eth.payload().len(),
        );
        if let Ok((_, l3)) = eth.network() {
            let _ = wire::parse_l4(l3);
        }
    }
    if let Ok(ip) = Ipv4Packet::new_checked(data) {
        let _ = (
            ip.version(),
            ip.header_len(),
            ip.total_len(),
            ip.fragment(),
            ip.verify_checksum(),
        );
        let _ = (
            ip.src_addr(),
            ip.dst_addr(),
            ip.options().len(),
            ip.payload().len(),
        );
    }
    if let Ok(t) = TcpPacket::new_checked(data) {
        let _ = (
            t.src_port(),
            t.dst_port(),
            t.flags(),
            t.header_len(),
            t.options().len(),
            t.payload().len(),
        );
    }
    if let Ok(u) = UdpPacket::new_checked(data) {
        let _ = (
            u.src_port(),
            u.dst_port(),
            u.len(),
            u.checksum(),
            u.payload().len(),
        );
    }
    let _ = wire::internet_checksum(data);
});
