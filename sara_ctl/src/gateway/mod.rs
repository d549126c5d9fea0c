//! `sarectl gateway`: the gateway's half of signalling inspection (sara-spec.md, "Signalling
//! inspection"). Replies from the servers never cross the dispatcher (direct routing), so the
//! server-side port of an announced flow (RTSP `server_port=`, the SDP answer's `m=` port, an FTP
//! 227/229 data port) is learned here, on the router in front of the cluster, and reported to the
//! active dispatcher (UDP, `sara_core::msg::announce`), whose manager completes the wildcard entry in
//! `sara.ko` (`CMD_ANNOUNCE`).
//!
//! * Capture: an `AF_PACKET` socket (`SOCK_DGRAM`, all protocols) bound to the interface facing the
//!   servers. It sees the servers' replies coming in (source VIP:service port: in direct routing the
//!   servers answer from the VIP) and the clients' packets going out towards the dispatcher
//!   (destination VIP). Only IPv4 TCP/UDP is looked at (`sara_core::wire::parse_l4_head`); the
//!   kernel's receive time of each packet (`SO_TIMESTAMPNS`) is the capture time in the log.
//! * Inspection reuses the core's parsers ([`sara_core::dpi`]), as the kernel does, per packet (the
//!   first segment of a message; a reply split over segments is not reassembled).
//! * Pairing ([`Tracker`]):
//!   - RTSP: a 2xx SETUP reply carries both `client_port=` and `server_port=`: reported at once.
//!   - SIP: the client's SDP (offer in an INVITE, or answer in an ACK) passes the gateway on its way
//!     to the dispatcher, the server's SDP in a response comes back through it; both are kept per
//!     signalling flow and `Call-ID`, and each media line present on both sides (same index, RTP or
//!     RTCP) gives `client c=:port → VIP:server port`. A BYE forgets the call.
//!   - FTP: a 227/229 reply gives the data port; the client's port is known when its SYN to
//!     VIP:that port passes the gateway: reported then.
//! * Reports are batched (up to `msg::announce::MAX_ENTRIES` per datagram, sent as soon as no more
//!   captured packets are waiting), numbered (`sequence` +1 per datagram), and a completed identity is
//!   not reported twice within [`DEDUP_MS`] (TCP retransmissions of a reply).
//! * Each datagram is sealed with the cluster key (`--key-file`, [`crate::control::secure`]) as
//!   sender `--sender-id` (default [`GATEWAY_SENDER_ID`], above the server ids: the manager takes
//!   reports only from such ids); `--insecure` sends them unauthenticated.
//! * Bounded memory: at most `--max-state` SIP calls and pending FTP transfers each (the oldest is
//!   dropped, and counted, to make room); SIP calls are forgotten after `--state-timeout` of silence,
//!   pending FTP data ports after [`FTP_PENDING_MS`].
//!
//! The race: the client's first packet of an announced flow (ffmpeg's RTP/RTCP "punch" packets
//! right after the SETUP reply, an FTP data SYN) may reach the dispatcher before the report; the
//! kernel then confirms the flow by that packet, and the report finds nothing to complete (the
//! manager counts it as rejected). Reports matter when the client's first packet comes later than
//! the report: behind a WAN, or never (media only from the server).

use crate::sys::packet::PacketSocket;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sara_core::dpi::{self, sip, AnnouncedFlow, Direction, Sig};
use sara_core::flow::{FlowKey, PROTO_TCP, PROTO_UDP};
use sara_core::msg::announce::{self, Announce, AnnounceEntry, MAX_ENTRIES};
use sara_core::msg::MAX_DATAGRAM;

use crate::cli::{proto_name, show_key};
use crate::control::secure::{AuthArgs, DaemonAuth, FIRST_NON_SERVER_ID, GATEWAY_SENDER_ID};

/// A completed identity is not reported again within this many milliseconds.
pub const DEDUP_MS: u64 = 30_000;
/// A pending FTP data port waits this long for the client's SYN.
pub const FTP_PENDING_MS: u64 = 30_000;
/// Default cap of SIP calls and of pending FTP transfers (each).
pub const DEFAULT_MAX_STATE: usize = 4096;
/// Most bytes of a Call-ID kept (longer ones are cut: still a fine key).
const MAX_CALL_ID: usize = 128;
/// Log lines about single reports: the first this many, then at most one per second.
const LOG_BURST: u64 = 200;

const GATEWAY_AFTER_HELP: &str = "\
The gateway runs on the router in front of the cluster, where the servers' replies pass (in
direct routing they never cross the dispatcher). It captures on --dev (the interface facing the
servers), reads the servers' signalling replies (RTSP SETUP replies, SIP responses with SDP, FTP
227/229) and the clients' SDP and FTP data SYNs, and sends each completed identity of an announced
flow (client ip:port -> VIP:server port) to the manager on the active dispatcher, which completes
the flow in sara.ko. Without reports, SARA still sends announced flows to the right server (it
matches the unknown port with a wildcard); with them, the flow table holds exact identities.

Services are PORT/PROTO:SIG, SIG one of rtsp, sip, ftp; they apply to every --vip. Default:
554/tcp:rtsp, 5060/udp:sip, 5060/tcp:sip, 21/tcp:ftp. One log line per report on stderr (the first
200, then at most one a second), with the capture time of the reply (captured_us, Unix
microseconds) and the datagram's sequence number, which the manager's log repeats.

Reports are sealed with the cluster key of --key-file (see 'sarectl key --help') as sender
--sender-id (default 4294901761 = 0xFFFF0001; give each gateway its own id above 65535: the
manager keeps one replay window per sender id, and takes reports from no server id). --insecure
sends them unauthenticated, as before keys existed.

Examples:
  sarectl gateway --dispatcher 10.0.0.2:7400 --dev eth0 --vip 10.0.0.100 --key-file /etc/sara/key
  sarectl gateway --dispatcher 10.0.0.2:7400 --dev eth0 --vip 10.0.0.100 --key-file /etc/sara/key \\
      --service 554/tcp:rtsp --service 5060/udp:sip --service 21/tcp:ftp";

/// One signalling service the gateway inspects: port, protocol, signalling protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceSpec {
    /// Port of the service (on every VIP).
    pub port: u16,
    /// IP protocol (6 or 17).
    pub proto: u8,
    /// Signalling protocol inspected.
    pub sig: Sig,
}

impl FromStr for ServiceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("'{s}': expected PORT/PROTO:SIG, e.g. 554/tcp:rtsp");
        let (pp, sig) = s.split_once(':').ok_or_else(usage)?;
        let (port, proto) = pp.split_once('/').ok_or_else(usage)?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("'{s}': port must be 1..65535"))?;
        let proto = match proto.to_ascii_lowercase().as_str() {
            "tcp" => PROTO_TCP,
            "udp" => PROTO_UDP,
            _ => return Err(format!("'{s}': protocol must be tcp or udp")),
        };
        let sig = match sig.to_ascii_lowercase().as_str() {
            "rtsp" => Sig::Rtsp,
            "sip" => Sig::Sip,
            "ftp" => Sig::Ftp,
            _ => return Err(format!("'{s}': signalling must be rtsp, sip or ftp")),
        };
        Ok(ServiceSpec { port, proto, sig })
    }
}

impl fmt::Display for ServiceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}:{}",
            self.port,
            proto_name(self.proto),
            sig_name(self.sig)
        )
    }
}

/// The services inspected when none is given.
pub fn default_services() -> Vec<ServiceSpec> {
    ["554/tcp:rtsp", "5060/udp:sip", "5060/tcp:sip", "21/tcp:ftp"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// `sarectl gateway …`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = GATEWAY_AFTER_HELP)]
pub struct GatewayArgs {
    /// The manager on the active dispatcher (its --listen address), UDP IP:PORT.
    #[arg(long, value_name = "IP:PORT")]
    pub dispatcher: SocketAddr,
    /// Interface facing the servers (where their replies come in).
    #[arg(long, value_name = "IFNAME")]
    pub dev: String,
    /// Virtual IP of the services (repeat for several).
    #[arg(long, value_name = "IP", required = true)]
    pub vip: Vec<Ipv4Addr>,
    /// A signalling service, PORT/PROTO:SIG (repeat; default 554/tcp:rtsp 5060/udp:sip 5060/tcp:sip 21/tcp:ftp).
    #[arg(long, value_name = "PORT/PROTO:SIG")]
    pub service: Vec<ServiceSpec>,
    /// Seconds of silence after which a SIP call's state is forgotten.
    #[arg(long, value_name = "S", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    pub state_timeout: u64,
    /// Most SIP calls (and, separately, pending FTP transfers) kept.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_STATE, value_parser = parse_max_state)]
    pub max_state: usize,
    /// `--key-file FILE` or `--insecure`.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// The sender id this gateway seals its reports with, 65536..4294967295 (one per gateway).
    #[arg(long, value_name = "N", default_value_t = GATEWAY_SENDER_ID,
          value_parser = clap::value_parser!(u32).range(i64::from(FIRST_NON_SERVER_ID)..))]
    pub sender_id: u32,
}

fn parse_max_state(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!("'{s}': must be 1..1000000")),
    }
}

fn sig_name(s: Sig) -> &'static str {
    match s {
        Sig::Rtsp => "rtsp",
        Sig::Sip => "sip",
        Sig::Ftp => "ftp",
    }
}

mod tracker;
pub use tracker::{GwCounters, Tracker};

// ---- reports --------------------------------------------------------------------------------

/// Encodes entries into announcement datagrams of at most [`MAX_ENTRIES`] each, numbered from
/// `*seq` (incremented per datagram).
pub fn datagrams(entries: &[AnnounceEntry], seq: &mut u32) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    for chunk in entries.chunks(MAX_ENTRIES) {
        let mut b = vec![0u8; MAX_DATAGRAM];
        let this = *seq;
        // Cannot fail: 1..=MAX_ENTRIES valid entries (the tracker only builds TCP/UDP flows with
        // non-zero ports) into a buffer of MAX_DATAGRAM.
        if let Ok(n) = announce::emit(
            &Announce {
                seq: this,
                entries: chunk,
            },
            &mut b,
        ) {
            b.truncate(n);
            out.push((this, b));
            *seq = seq.wrapping_add(1);
        }
    }
    out
}

fn unix_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

// ---- capture --------------------------------------------------------------------------------

/// A packet socket on one interface, all protocols (so that outgoing packets are seen too),
/// without link-layer headers, with kernel receive timestamps.
pub struct Capture {
    sock: PacketSocket,
}

/// One captured packet.
pub type Captured = crate::sys::packet::Received;

fn last_os_error(what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Capture {
    /// Opens and binds the socket (needs CAP_NET_RAW).
    pub fn open(dev: &str) -> io::Result<Capture> {
        let ifindex =
            crate::sys::if_index(dev).map_err(|e| last_os_error(&format!("interface {dev}"), e))?;
        let sock = PacketSocket::open(libc::ETH_P_ALL as u16)
            .map_err(|e| last_os_error("opening a packet socket (needs CAP_NET_RAW)", e))?;
        sock.bind(ifindex)
            .map_err(|e| last_os_error(&format!("binding the packet socket to {dev}"), e))?;
        sock.set_option(libc::SO_TIMESTAMPNS, 1)
            .map_err(|e| last_os_error("setting a packet socket option", e))?;
        // A larger buffer rides out bursts; failure is harmless.
        let _ = sock.set_option(libc::SO_RCVBUF, 4 << 20);
        Ok(Capture { sock })
    }

    /// Waits at most `timeout` for a packet (`Duration::ZERO`: do not wait). `None` on timeout.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<Captured>> {
        self.sock.recv(buf, timeout)
    }
}

// ---- the loop -------------------------------------------------------------------------------

/// Log lines with a budget: the first [`LOG_BURST`], then one a second (what was held back is
/// counted in the next line).
struct Limiter {
    lines: u64,
    last: Option<Instant>,
    held: u64,
}

impl Limiter {
    fn new() -> Self {
        Limiter {
            lines: 0,
            last: None,
            held: 0,
        }
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        let now = Instant::now();
        let ok = self.lines < LOG_BURST
            || self
                .last
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if !ok {
            self.held += 1;
            return;
        }
        self.lines += 1;
        self.last = Some(now);
        let held = std::mem::take(&mut self.held);
        if held > 0 {
            eprintln!(
                "sarectl gateway: {} ({held} report lines held back)",
                line()
            );
        } else {
            eprintln!("sarectl gateway: {}", line());
        }
    }
}

/// Runs `sarectl gateway …` until killed.
pub fn run(args: GatewayArgs) -> crate::control::Result<()> {
    use crate::control::Error;
    let services = if args.service.is_empty() {
        default_services()
    } else {
        args.service.clone()
    };
    // Keys first: without them (or --insecure) the gateway does not start.
    let mut auth = DaemonAuth::new(&args.auth.mode(None)?, args.sender_id)?;
    let cap = Capture::open(&args.dev)
        .map_err(|e| Error::new(format!("capturing on {}: {e}", args.dev)))?;
    let bind: SocketAddr = if args.dispatcher.is_ipv4() {
        "0.0.0.0:0"
            .parse()
            .map_err(|_| Error::new("bad bind address"))?
    } else {
        "[::]:0"
            .parse()
            .map_err(|_| Error::new("bad bind address"))?
    };
    let sock =
        UdpSocket::bind(bind).map_err(|e| Error::new(format!("opening the report socket: {e}")))?;
    let mut tracker = Tracker::new(
        &args.vip,
        &services,
        args.state_timeout.saturating_mul(1000),
        args.max_state,
    );
    eprintln!(
        "sarectl gateway: capturing on {} for VIP {} services {}; reporting to {}",
        args.dev,
        args.vip
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(","),
        services
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        args.dispatcher
    );
    eprintln!("sarectl gateway: {}", auth.start_line());
    let started = Instant::now();
    let mut seq: u32 = 1;
    let mut buf = vec![0u8; 65536 + 64];
    let mut pending: Vec<(AnnounceEntry, SystemTime)> = Vec::new();
    let mut entries = Vec::new();
    let mut limiter = Limiter::new();
    let mut sent_datagrams: u64 = 0;
    let mut send_errors: u64 = 0;
    let mut last_expire = Instant::now();
    let mut last_summary = Instant::now();
    let mut summarized = GwCounters::default();
    let mut down = false;
    loop {
        auth.poll(Instant::now());
        for l in auth.take_log() {
            eprintln!("sarectl gateway: {l}");
        }
        // Wait for a packet when nothing is pending; else only drain what is already there.
        let wait = if pending.is_empty() {
            Duration::from_millis(500)
        } else {
            Duration::ZERO
        };
        let got = match cap.recv(&mut buf, wait) {
            Ok(g) => g,
            // The interface went down (or away and back): wait for it, say so once.
            Err(e) if e.raw_os_error() == Some(libc::ENETDOWN) => {
                if !down {
                    eprintln!("sarectl gateway: {} is down; waiting for it", args.dev);
                    down = true;
                }
                std::thread::sleep(Duration::from_millis(200));
                None
            }
            Err(e) => return Err(Error::new(format!("capturing on {}: {e}", args.dev))),
        };
        if got.is_some() && down {
            eprintln!("sarectl gateway: {} is up again", args.dev);
            down = false;
        }
        if let Some(p) = got {
            if p.ethertype == libc::ETH_P_IP as u16 {
                let ms = started.elapsed().as_millis() as u64;
                entries.clear();
                tracker.packet(buf.get(..p.len).unwrap_or(&[]), ms, &mut entries);
                pending.extend(entries.iter().map(|e| (*e, p.time)));
            }
            if pending.len() < MAX_ENTRIES {
                continue;
            }
        }
        if !pending.is_empty() {
            let es: Vec<AnnounceEntry> = pending.iter().map(|(e, _)| *e).collect();
            let dgrams = datagrams(&es, &mut seq);
            for (i, (s, d)) in dgrams.into_iter().enumerate() {
                let r = auth
                    .seal(d)
                    .map_err(|e| io::Error::other(format!("cannot seal it: {e}")))
                    .and_then(|d| sock.send_to(&d, args.dispatcher));
                let sent = SystemTime::now();
                match r {
                    Ok(_) => sent_datagrams += 1,
                    Err(e) => {
                        send_errors += 1;
                        limiter.log(|| {
                            format!("sending report seq={s} to {} failed: {e}", args.dispatcher)
                        });
                    }
                }
                let lo = i * MAX_ENTRIES;
                for (e, t) in pending.iter().skip(lo).take(MAX_ENTRIES) {
                    limiter.log(|| {
                        format!(
                            "report seq={s} {} session {} captured_us={} sent_us={}",
                            show_key(&e.announced),
                            show_key(&e.signalling),
                            unix_us(*t),
                            unix_us(sent)
                        )
                    });
                }
            }
            pending.clear();
        }
        if last_expire.elapsed() >= Duration::from_secs(1) {
            tracker.expire(started.elapsed().as_millis() as u64);
            last_expire = Instant::now();
        }
        let k = tracker.counters();
        if last_summary.elapsed() >= Duration::from_secs(10) && k != summarized {
            let (calls, ftp) = tracker.state_len();
            eprintln!(
                "sarectl gateway: {} identities reported (rtsp {}, sip {}, ftp {}) in {} datagrams, \
                 {} send errors; {} packets, {} signalling payloads, {} duplicates, {} incomplete, \
                 {} not via the VIP; state: {} SIP calls, {} FTP transfers ({} expired, {} evicted)",
                k.reported(),
                k.rtsp,
                k.sip,
                k.ftp,
                sent_datagrams,
                send_errors,
                k.packets,
                k.inspected,
                k.duplicates,
                k.incomplete,
                k.other_address,
                calls,
                ftp,
                k.state_expired,
                k.state_evicted
            );
            summarized = k;
            last_summary = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIP: [u8; 4] = [10, 0, 0, 100];
    const CLIENT: [u8; 4] = [10, 0, 1, 2];

    fn capture(name: &str) -> Vec<u8> {
        let p = format!(
            "{}/../sara_kmod/core/testdata/captures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn tracker() -> Tracker {
        Tracker::new(&[Ipv4Addr::from(VIP)], &default_services(), 60_000, 8)
    }

    /// An IPv4 packet (checksums left 0: the gateway does not check them).
    fn packet(
        src: [u8; 4],
        sport: u16,
        dst: [u8; 4],
        dport: u16,
        proto: u8,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let l4 = if proto == PROTO_TCP {
            let mut t = vec![0u8; 20];
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[12] = 5 << 4;
            t[13] = flags;
            t
        } else {
            let mut u = vec![0u8; 8];
            u[0..2].copy_from_slice(&sport.to_be_bytes());
            u[2..4].copy_from_slice(&dport.to_be_bytes());
            u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            u
        };
        let total = 20 + l4.len() + payload.len();
        let mut ip = vec![0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&src);
        ip[16..20].copy_from_slice(&dst);
        ip.extend_from_slice(&l4);
        ip.extend_from_slice(payload);
        ip
    }

    #[test]
    fn services_parse() {
        let s: ServiceSpec = "554/tcp:rtsp".parse().unwrap();
        assert_eq!((s.port, s.proto, s.sig), (554, PROTO_TCP, Sig::Rtsp));
        assert_eq!(s.to_string(), "554/tcp:rtsp");
        assert_eq!("5060/UDP:SIP".parse::<ServiceSpec>().unwrap().sig, Sig::Sip);
        for bad in [
            "554",
            "554/tcp",
            "0/tcp:rtsp",
            "554/sctp:rtsp",
            "554/tcp:http",
            "x/tcp:ftp",
        ] {
            assert!(bad.parse::<ServiceSpec>().is_err(), "{bad}");
        }
        assert_eq!(default_services().len(), 4);
    }

    #[test]
    fn rtsp_setup_reply_from_ffmpeg_and_gst_rtsp_server() {
        let mut t = tracker();
        let reply = capture("ffmpeg-gst-rtsp-server-setup-reply.txt");
        let mut out = Vec::new();
        // The reply leaves the server from VIP:554 towards the client's RTSP connection.
        t.packet(
            &packet(VIP, 554, CLIENT, 40000, PROTO_TCP, 0x18, &reply),
            5,
            &mut out,
        );
        let sig = FlowKey::new(CLIENT, 40000, VIP, 554, PROTO_TCP);
        assert_eq!(
            out,
            vec![
                AnnounceEntry {
                    signalling: sig,
                    announced: FlowKey::new(CLIENT, 7624, VIP, 42182, PROTO_UDP)
                },
                AnnounceEntry {
                    signalling: sig,
                    announced: FlowKey::new(CLIENT, 7625, VIP, 42183, PROTO_UDP)
                },
            ]
        );
        assert_eq!(t.counters().rtsp, 2);
        // A retransmission is not reported twice; the client's SETUP itself announces nothing here.
        out.clear();
        t.packet(
            &packet(VIP, 554, CLIENT, 40000, PROTO_TCP, 0x18, &reply),
            50,
            &mut out,
        );
        let setup = capture("ffmpeg-gst-rtsp-server-setup.txt");
        t.packet(
            &packet(CLIENT, 40000, VIP, 554, PROTO_TCP, 0x18, &setup),
            51,
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(t.counters().duplicates, 2);
        // The wire format carries them.
        let mut seq = 7;
        let d = datagrams(
            &[AnnounceEntry {
                signalling: sig,
                announced: FlowKey::new(CLIENT, 7624, VIP, 42182, PROTO_UDP),
            }],
            &mut seq,
        );
        assert_eq!((d.len(), d[0].0, seq), (1, 7, 8));
        let v = announce::parse(&d[0].1).unwrap();
        assert_eq!(v.seq, 7);
        assert_eq!(v.entries().next().unwrap().announced.dst_port, 42182);
    }

    #[test]
    fn rtsp_other_captures() {
        let mut t = tracker();
        let sig = FlowKey::new(CLIENT, 40001, VIP, 554, PROTO_TCP);
        let mut out = Vec::new();
        t.from_server(
            Sig::Rtsp,
            &sig,
            &capture("gst-rtspsrc-gst-rtsp-server-setup-reply.txt"),
            0,
            &mut out,
        );
        assert!(!out.is_empty(), "{:?}", t.counters());
        assert!(out.iter().all(|e| e.announced.dst_addr == VIP
            && e.announced.src_port != 0
            && e.announced.dst_port != 0));
        // Interleaved: nothing; other replies: nothing.
        out.clear();
        for c in [
            "ffmpeg-gst-rtsp-server-setup-interleaved-reply.txt",
            "ffmpeg-gst-rtsp-server-describe-reply.txt",
        ] {
            t.from_server(Sig::Rtsp, &sig, &capture(c), 0, &mut out);
        }
        assert!(out.is_empty());
        assert_eq!(t.counters().not_announcing, 2);
    }

    /// A server's SDP as a server behind the VIP sends it (direct routing: its media address is the
    /// VIP): the capture's `c=` lines rewritten, Content-Length fixed.
    fn from_vip(sip: &[u8], addr: &str) -> Vec<u8> {
        let text = String::from_utf8(sip.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let body = body.replace(&format!("c=IN IP4 {addr}"), "c=IN IP4 10.0.0.100");
        let head: Vec<String> = head
            .split("\r\n")
            .map(|l| {
                if l.to_ascii_lowercase().starts_with("content-length:") {
                    format!("Content-Length: {}", body.len())
                } else {
                    l.to_string()
                }
            })
            .collect();
        format!("{}\r\n\r\n{body}", head.join("\r\n")).into_bytes()
    }

    #[test]
    fn sip_offer_and_answer_from_sipp_are_paired_by_call_id() {
        let mut t = tracker();
        let invite = capture("sipp-uac-invite.txt");
        let ok = capture("sipp-uas-200-ok.txt");
        let mut out = Vec::new();
        // INVITE client:5061 -> VIP:5060 (offer: media 127.0.0.1:6004, RTCP 6005).
        t.packet(
            &packet(CLIENT, 5061, VIP, 5060, PROTO_UDP, 0, &invite),
            0,
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(t.state_len(), (1, 0));
        // SIPp's 200 OK as captured names 127.0.0.1 for its media: not via the VIP, not reported.
        t.packet(
            &packet(VIP, 5060, CLIENT, 5061, PROTO_UDP, 0, &ok),
            1,
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(t.counters().other_address, 2);
        // 200 OK VIP:5060 -> client:5061 (answer: media VIP:6000, RTCP 6001).
        let ok = from_vip(&ok, "127.0.0.1");
        t.packet(
            &packet(VIP, 5060, CLIENT, 5061, PROTO_UDP, 0, &ok),
            3,
            &mut out,
        );
        let sig = FlowKey::new(CLIENT, 5061, VIP, 5060, PROTO_UDP);
        let lo = [127, 0, 0, 1];
        assert_eq!(
            out,
            vec![
                AnnounceEntry {
                    signalling: sig,
                    announced: FlowKey::new(lo, 6004, VIP, 6000, PROTO_UDP)
                },
                AnnounceEntry {
                    signalling: sig,
                    announced: FlowKey::new(lo, 6005, VIP, 6001, PROTO_UDP)
                },
            ],
            "the client end is the offer's c= address, as the kernel stored it"
        );
        assert_eq!(t.counters().sip, 2);
        // The answer again (retransmitted 200 OK): no new report. BYE forgets the call.
        out.clear();
        t.packet(
            &packet(VIP, 5060, CLIENT, 5061, PROTO_UDP, 0, &ok),
            4,
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(t.counters().duplicates, 2);
        let bye = capture("sipp-uac-bye.txt");
        t.packet(
            &packet(CLIENT, 5061, VIP, 5060, PROTO_UDP, 0, &bye),
            5,
            &mut out,
        );
        assert_eq!(t.state_len(), (0, 0));
    }

    #[test]
    fn sip_answer_first_then_offer_and_other_call_ids() {
        let mut t = tracker();
        let sig = FlowKey::new(CLIENT, 5061, VIP, 5060, PROTO_UDP);
        let mut out = Vec::new();
        // The server's SDP first (as in a late offer: 200 OK, then the client's SDP in the ACK).
        let ok = from_vip(&capture("sipp-uas-200-ok.txt"), "127.0.0.1");
        t.from_server(Sig::Sip, &sig, &ok, 0, &mut out);
        assert!(out.is_empty());
        // Another call on the same flow does not pair with it.
        t.from_client(Sig::Sip, &sig, &capture("baresip-invite.txt"), 1, &mut out);
        assert!(out.is_empty());
        t.from_client(Sig::Sip, &sig, &capture("sipp-uac-invite.txt"), 2, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(t.state_len(), (2, 0));
        // baresip's answer pairs with baresip's offer (its own Call-ID).
        out.clear();
        let answer = from_vip(&capture("baresip-200-answering.txt"), "192.0.2.2");
        t.from_server(Sig::Sip, &sig, &answer, 3, &mut out);
        assert!(!out.is_empty(), "{:?}", t.counters());
        assert!(
            out.iter()
                .all(|e| e.announced.src_addr == [192, 0, 2, 2] && e.announced.dst_addr == VIP),
            "{out:?}"
        );
    }

    #[test]
    fn ftp_passive_reply_then_syn() {
        let mut t = tracker();
        let sig = FlowKey::new(CLIENT, 40100, VIP, 21, PROTO_TCP);
        let mut out = Vec::new();
        t.from_server(
            Sig::Ftp,
            &sig,
            b"229 Entering Extended Passive Mode (|||30001|)\r\n",
            0,
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(t.state_len(), (0, 1));
        // An unrelated SYN (other port) does nothing; the client's SYN to VIP:30001 completes it.
        t.packet(
            &packet(CLIENT, 50000, VIP, 30002, PROTO_TCP, 0x02, b""),
            1,
            &mut out,
        );
        assert!(out.is_empty());
        t.packet(
            &packet(CLIENT, 50001, VIP, 30001, PROTO_TCP, 0x02, b""),
            2,
            &mut out,
        );
        assert_eq!(
            out,
            vec![AnnounceEntry {
                signalling: sig,
                announced: FlowKey::new(CLIENT, 50001, VIP, 30001, PROTO_TCP)
            }]
        );
        assert_eq!(t.state_len(), (0, 0));
        // 227 with the VIP; a 227 naming another address is not reported.
        out.clear();
        t.from_server(
            Sig::Ftp,
            &sig,
            b"227 Entering Passive Mode (10,0,0,100,117,50).\r\n",
            10,
            &mut out,
        );
        t.from_server(
            Sig::Ftp,
            &sig,
            b"227 Entering Passive Mode (10,0,0,11,117,51).\r\n",
            10,
            &mut out,
        );
        assert_eq!(t.counters().other_address, 1);
        t.client_syn(
            &FlowKey::new(CLIENT, 50002, VIP, 30002, PROTO_TCP),
            11,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        // vsftpd's captured replies parse too.
        for c in ["curl-vsftpd-pasv-227.txt", "curl-vsftpd-epsv-229.txt"] {
            t.from_server(Sig::Ftp, &sig, &capture(c), 20, &mut out);
        }
        assert!(t.state_len().1 >= 1, "{:?}", t.counters());
    }

    #[test]
    fn memory_is_bounded_and_state_expires() {
        let mut t = tracker(); // max_state 8
        let mut out = Vec::new();
        let invite = String::from_utf8(capture("sipp-uac-invite.txt")).unwrap();
        for i in 0..20u16 {
            let sig = FlowKey::new(CLIENT, 6000 + i, VIP, 5060, PROTO_UDP);
            let p = invite.replace("1-27286@127.0.0.1", &format!("call-{i}"));
            t.from_client(Sig::Sip, &sig, p.as_bytes(), u64::from(i), &mut out);
            t.from_server(
                Sig::Ftp,
                &sig,
                format!("229 ok (|||{}|)\r\n", 30000 + i).as_bytes(),
                u64::from(i),
                &mut out,
            );
        }
        assert_eq!(t.state_len(), (8, 8));
        assert_eq!(t.counters().state_evicted, 24);
        t.expire(200_000);
        assert_eq!(t.state_len(), (0, 0));
        assert_eq!(t.counters().state_expired, 16);
    }

    #[test]
    fn garbage_never_panics() {
        let mut t = tracker();
        let mut out = Vec::new();
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            t.packet(&junk, 0, &mut out);
            t.packet(
                &packet(VIP, 554, CLIENT, 1, PROTO_TCP, 0x18, &junk),
                0,
                &mut out,
            );
            t.packet(
                &packet(VIP, 5060, CLIENT, 1, PROTO_UDP, 0, &junk),
                0,
                &mut out,
            );
            t.packet(
                &packet(VIP, 21, CLIENT, 1, PROTO_TCP, 0x18, &junk),
                0,
                &mut out,
            );
        }
        // A packet cut short in its payload still parses as far as it goes.
        let reply = capture("ffmpeg-gst-rtsp-server-setup-reply.txt");
        let p = packet(VIP, 554, CLIENT, 40000, PROTO_TCP, 0x18, &reply);
        t.packet(&p[..60], 0, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn keys_first_and_full_reports_fit_sealed() {
        use crate::control::secure::{AuthMode, MANAGER_SENDER_ID};
        use clap::Parser;
        #[derive(Parser, Debug)]
        enum Cli {
            Gateway(GatewayArgs),
        }
        let base = [
            "sarectl",
            "gateway",
            "--dispatcher",
            "127.0.0.1:9",
            "--dev",
            "no-such-if0",
            "--vip",
            "10.0.0.100",
        ];
        let parse = |extra: &[&str]| {
            let v: Vec<&str> = base.iter().chain(extra).copied().collect();
            Cli::try_parse_from(v).map(|Cli::Gateway(a)| a)
        };
        // Without keys or --insecure: refused before anything is opened.
        let e = run(parse(&[]).unwrap()).unwrap_err();
        assert!(
            e.message().contains("sarectl key generate /etc/sara/key"),
            "{e}"
        );
        // With --insecure it gets as far as the capture (which needs the interface).
        let e = run(parse(&["--insecure"]).unwrap()).unwrap_err();
        assert!(e.message().contains("capturing on no-such-if0"), "{e}");
        assert_eq!(parse(&[]).unwrap().sender_id, GATEWAY_SENDER_ID);
        assert_eq!(parse(&["--sender-id", "70000"]).unwrap().sender_id, 70000);
        assert!(parse(&["--sender-id", "65535"]).is_err(), "a server id");
        assert!(parse(&["--key-file", "/k", "--insecure"]).is_err());

        // Full reports, sealed, fit the datagram budget and open at the manager.
        let dir = std::env::temp_dir().join(format!("sara-gw-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key");
        crate::auth::write_key_file(
            &key,
            &crate::auth::KeyRing::single(crate::auth::generate(1).unwrap()),
            false,
        )
        .unwrap();
        let mode = AuthMode::KeyFile(key);
        let mut gw = DaemonAuth::new(&mode, GATEWAY_SENDER_ID).unwrap();
        let mut mgr = DaemonAuth::new(&mode, MANAGER_SENDER_ID).unwrap();
        let e = AnnounceEntry {
            signalling: FlowKey::new(CLIENT, 40000, VIP, 554, PROTO_TCP),
            announced: FlowKey::new(CLIENT, 7624, VIP, 42182, PROTO_UDP),
        };
        let mut seq = 1;
        let d = datagrams(&vec![e; 2 * MAX_ENTRIES + 1], &mut seq);
        assert_eq!(d.len(), 3);
        let from: std::net::SocketAddr = "10.0.0.1:5000".parse().unwrap();
        for (_, msg) in d {
            let sealed = gw.seal(msg.clone()).unwrap();
            assert!(sealed.len() <= MAX_DATAGRAM, "{}", sealed.len());
            let got = mgr
                .open(&sealed, from, Instant::now(), |o| {
                    crate::control::manager::admit(o, from, &Default::default())
                })
                .unwrap();
            assert_eq!(got, &msg[..]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn command_line() {
        use clap::Parser;
        #[derive(Parser, Debug)]
        enum Cli {
            Gateway(GatewayArgs),
        }
        let Cli::Gateway(a) = Cli::try_parse_from([
            "sarectl",
            "gateway",
            "--dispatcher",
            "10.0.0.2:7400",
            "--dev",
            "eth0",
            "--vip",
            "10.0.0.100",
            "--service",
            "554/tcp:rtsp",
        ])
        .unwrap();
        assert_eq!(a.service.len(), 1);
        assert_eq!(a.max_state, DEFAULT_MAX_STATE);
        assert!(Cli::try_parse_from([
            "sarectl",
            "gateway",
            "--dispatcher",
            "10.0.0.2:7400",
            "--dev",
            "eth0"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "sarectl",
            "gateway",
            "--dispatcher",
            "10.0.0.2:7400",
            "--dev",
            "eth0",
            "--vip",
            "10.0.0.100",
            "--service",
            "554/tcp:http"
        ])
        .is_err());
    }
}
