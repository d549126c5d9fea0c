//! The gateway's pure half: pairs what the servers' replies say with what the clients announced,
//! and decides what to report (no I/O; tested on the host with captured packets).

use super::*;

// ---- pairing --------------------------------------------------------------------------------

/// Counters of the gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GwCounters {
    /// IPv4 TCP/UDP packets looked at.
    pub packets: u64,
    /// Signalling payloads inspected (both directions).
    pub inspected: u64,
    /// Payloads the parsers refused or that announce nothing usable.
    pub not_announcing: u64,
    /// Completed identities found, by protocol.
    pub rtsp: u64,
    /// …
    pub sip: u64,
    /// …
    pub ftp: u64,
    /// Identities found again within [`DEDUP_MS`] (not reported twice).
    pub duplicates: u64,
    /// Flows a reply left incomplete (no server port, an RTCP flow without its pair…).
    pub incomplete: u64,
    /// Flows whose server side is an address other than the VIP (they do not cross the dispatcher).
    pub other_address: u64,
    /// SIP calls or FTP transfers dropped to keep memory bounded.
    pub state_evicted: u64,
    /// SIP calls and FTP transfers expired.
    pub state_expired: u64,
}

impl GwCounters {
    /// Completed identities found (reported).
    pub fn reported(&self) -> u64 {
        self.rtsp + self.sip + self.ftp
    }
}

/// One side's media of a SIP call: (media index, RTCP?) → (address named, port, protocol).
type Media = Vec<((u8, bool), (Option<[u8; 4]>, u16, u8))>;

#[derive(Debug, Clone, Default)]
struct SipCall {
    client: Media,
    server: Media,
    seen_ms: u64,
}

#[derive(Debug, Clone, Copy)]
struct FtpPending {
    signalling: FlowKey,
    created_ms: u64,
}

/// The gateway's inspection and pairing state: feed it packets, it yields completed identities.
/// Pure (no I/O, no clock of its own): tests drive it with payloads and times.
#[derive(Debug, Clone)]
pub struct Tracker {
    vips: Vec<[u8; 4]>,
    services: Vec<ServiceSpec>,
    state_timeout_ms: u64,
    max_state: usize,
    sip: HashMap<(FlowKey, Vec<u8>), SipCall>,
    ftp: HashMap<([u8; 4], [u8; 4], u16), FtpPending>,
    recent: HashMap<AnnounceEntry, u64>,
    counters: GwCounters,
}

impl Tracker {
    /// A tracker for these VIPs and services.
    pub fn new(
        vips: &[Ipv4Addr],
        services: &[ServiceSpec],
        state_timeout_ms: u64,
        max_state: usize,
    ) -> Self {
        Tracker {
            vips: vips.iter().map(|v| v.octets()).collect(),
            services: services.to_vec(),
            state_timeout_ms,
            max_state: max_state.max(1),
            sip: HashMap::new(),
            ftp: HashMap::new(),
            recent: HashMap::new(),
            counters: GwCounters::default(),
        }
    }

    /// The counters.
    pub fn counters(&self) -> GwCounters {
        self.counters
    }

    /// SIP calls and pending FTP transfers held now.
    pub fn state_len(&self) -> (usize, usize) {
        (self.sip.len(), self.ftp.len())
    }

    fn service(&self, port: u16, proto: u8) -> Option<Sig> {
        self.services
            .iter()
            .find(|s| s.port == port && s.proto == proto)
            .map(|s| s.sig)
    }

    fn is_vip(&self, a: [u8; 4]) -> bool {
        self.vips.contains(&a)
    }

    /// One captured IPv4 packet (from its IP header; it may be cut short). Completed identities are
    /// appended to `out`.
    pub fn packet(&mut self, ip: &[u8], now_ms: u64, out: &mut Vec<AnnounceEntry>) {
        let Ok(info) = sara_core::wire::parse_l4_head(ip) else {
            return;
        };
        if !info.has_ports() {
            return;
        }
        self.counters.packets += 1;
        let k = info.key;
        let start = info.payload_offset.min(ip.len());
        let end = info
            .payload_offset
            .saturating_add(info.payload_len)
            .min(ip.len());
        let payload = ip.get(start..end).unwrap_or(&[]);
        if self.is_vip(k.src_addr) {
            if let Some(sig) = self.service(k.src_port, k.protocol) {
                if !payload.is_empty() {
                    self.from_server(sig, &k.reversed(), payload, now_ms, out);
                }
            }
        } else if self.is_vip(k.dst_addr) {
            match self.service(k.dst_port, k.protocol) {
                Some(sig) if !payload.is_empty() => self.from_client(sig, &k, payload, now_ms, out),
                Some(_) => {}
                None if info.is_tcp_syn() => self.client_syn(&k, now_ms, out),
                None => {}
            }
        }
    }

    /// A payload a server sent on the signalling flow `sig` (oriented client → VIP).
    pub fn from_server(
        &mut self,
        kind: Sig,
        sig: &FlowKey,
        payload: &[u8],
        now_ms: u64,
        out: &mut Vec<AnnounceEntry>,
    ) {
        self.counters.inspected += 1;
        match kind {
            Sig::Rtsp => match dpi::inspect(Sig::Rtsp, Direction::FromServer, payload) {
                Ok(a) => {
                    for f in a.flows() {
                        let Some(port) = f.server.port else {
                            self.counters.incomplete += 1;
                            continue;
                        };
                        if let Some(e) = self.entry(sig, f, port) {
                            self.counters.rtsp += self.emit(e, now_ms, out);
                        }
                    }
                }
                Err(_) => self.counters.not_announcing += 1,
            },
            Sig::Sip => self.sip_payload(sig, payload, Direction::FromServer, now_ms, out),
            Sig::Ftp => match dpi::ftp::parse(payload) {
                Ok(
                    ftp @ (dpi::ftp::Ftp::Passive { .. } | dpi::ftp::Ftp::ExtendedPassive { .. }),
                ) => {
                    let a = ftp.announce();
                    let Some(f) = a.flows().first() else { return };
                    let Some(port) = f.server.port else { return };
                    let addr = f.server.addr.unwrap_or(sig.dst_addr);
                    if addr != sig.dst_addr {
                        self.counters.other_address += 1;
                        return;
                    }
                    let key = (sig.src_addr, addr, port);
                    if !self.ftp.contains_key(&key) && self.ftp.len() >= self.max_state {
                        self.expire(now_ms);
                        if self.ftp.len() >= self.max_state {
                            evict_oldest(&mut self.ftp, |p| p.created_ms);
                            self.counters.state_evicted += 1;
                        }
                    }
                    self.ftp.insert(
                        key,
                        FtpPending {
                            signalling: *sig,
                            created_ms: now_ms,
                        },
                    );
                }
                _ => self.counters.not_announcing += 1,
            },
        }
    }

    /// A payload the client sent on the signalling flow `sig` (only SIP's SDP matters here).
    pub fn from_client(
        &mut self,
        kind: Sig,
        sig: &FlowKey,
        payload: &[u8],
        now_ms: u64,
        out: &mut Vec<AnnounceEntry>,
    ) {
        if kind == Sig::Sip {
            self.counters.inspected += 1;
            self.sip_payload(sig, payload, Direction::FromClient, now_ms, out);
        }
    }

    /// A client's TCP SYN to VIP:`key.dst_port`, not a service port: an FTP data connection?
    pub fn client_syn(&mut self, key: &FlowKey, now_ms: u64, out: &mut Vec<AnnounceEntry>) {
        let k = (key.src_addr, key.dst_addr, key.dst_port);
        let Some(p) = self.ftp.remove(&k) else { return };
        if now_ms.saturating_sub(p.created_ms) > FTP_PENDING_MS {
            self.counters.state_expired += 1;
            return;
        }
        let e = AnnounceEntry {
            signalling: p.signalling,
            announced: *key,
        };
        self.counters.ftp += self.emit(e, now_ms, out);
    }

    fn sip_payload(
        &mut self,
        sig: &FlowKey,
        payload: &[u8],
        dir: Direction,
        now_ms: u64,
        out: &mut Vec<AnnounceEntry>,
    ) {
        let Ok(m) = sip::parse(payload) else {
            self.counters.not_announcing += 1;
            return;
        };
        let Some(call_id) = m.call_id else {
            self.counters.not_announcing += 1;
            return;
        };
        let call_id = call_id.get(..MAX_CALL_ID).unwrap_or(call_id).to_vec();
        let key = (*sig, call_id);
        let a = match m.announce(dir) {
            Ok(a) => a,
            Err(_) => {
                self.counters.not_announcing += 1;
                return;
            }
        };
        if a.session_end {
            if self.sip.remove(&key).is_some() {
                self.counters.state_expired += 1;
            }
            return;
        }
        let media: Media = a
            .flows()
            .iter()
            .filter_map(|f| {
                let ep = match dir {
                    Direction::FromClient => f.client,
                    Direction::FromServer => f.server,
                };
                ep.port.map(|p| ((f.index, f.rtcp), (ep.addr, p, f.proto)))
            })
            .collect();
        if !self.sip.contains_key(&key) && self.sip.len() >= self.max_state {
            self.expire(now_ms);
            if self.sip.len() >= self.max_state {
                evict_oldest(&mut self.sip, |c| c.seen_ms);
                self.counters.state_evicted += 1;
            }
        }
        let call = self.sip.entry(key).or_default();
        call.seen_ms = now_ms;
        match dir {
            Direction::FromClient => call.client = media,
            Direction::FromServer => call.server = media,
        }
        let call = call.clone();
        for (idx, (caddr, cport, cproto)) in &call.client {
            let Some((_, (saddr, sport, sproto))) = call.server.iter().find(|(i, _)| i == idx)
            else {
                continue;
            };
            if cproto != sproto {
                self.counters.incomplete += 1;
                continue;
            }
            let f = AnnouncedFlow {
                proto: *cproto,
                client: dpi::Endpoint {
                    addr: *caddr,
                    port: Some(*cport),
                },
                server: dpi::Endpoint {
                    addr: *saddr,
                    port: Some(*sport),
                },
                index: idx.0,
                rtcp: idx.1,
            };
            if let Some(e) = self.entry(sig, &f, *sport) {
                self.counters.sip += self.emit(e, now_ms, out);
            }
        }
    }

    /// The report for flow `f` of the session on `sig`, completed with the server port `port`: the
    /// client end as the kernel stored it when the client announced it (its address, else the
    /// signalling source), the VIP as destination. `None` (counted) when the server names another
    /// address than the VIP, or a port is missing.
    fn entry(&mut self, sig: &FlowKey, f: &AnnouncedFlow, port: u16) -> Option<AnnounceEntry> {
        let Some(cport) = f.client.port else {
            self.counters.incomplete += 1;
            return None;
        };
        if let Some(a) = f.server.addr {
            if a != sig.dst_addr && a != [0, 0, 0, 0] {
                self.counters.other_address += 1;
                return None;
            }
        }
        Some(AnnounceEntry {
            signalling: *sig,
            announced: FlowKey::new(
                f.client.addr.unwrap_or(sig.src_addr),
                cport,
                sig.dst_addr,
                port,
                f.proto,
            ),
        })
    }

    /// Appends `e` unless reported within [`DEDUP_MS`]; returns 1 if appended.
    fn emit(&mut self, e: AnnounceEntry, now_ms: u64, out: &mut Vec<AnnounceEntry>) -> u64 {
        if let Some(t) = self.recent.get(&e) {
            if now_ms.saturating_sub(*t) < DEDUP_MS {
                self.counters.duplicates += 1;
                return 0;
            }
        }
        if self.recent.len() >= 4 * self.max_state {
            self.recent
                .retain(|_, t| now_ms.saturating_sub(*t) < DEDUP_MS);
            if self.recent.len() >= 4 * self.max_state {
                evict_oldest(&mut self.recent, |t| *t);
            }
        }
        self.recent.insert(e, now_ms);
        out.push(e);
        1
    }

    /// Forgets what is too old: SIP calls silent for the state timeout, FTP data ports not used in
    /// [`FTP_PENDING_MS`], the duplicate filter's old entries.
    pub fn expire(&mut self, now_ms: u64) {
        let (s0, f0) = (self.sip.len(), self.ftp.len());
        let st = self.state_timeout_ms;
        self.sip
            .retain(|_, c| now_ms.saturating_sub(c.seen_ms) <= st);
        self.ftp
            .retain(|_, p| now_ms.saturating_sub(p.created_ms) <= FTP_PENDING_MS);
        self.recent
            .retain(|_, t| now_ms.saturating_sub(*t) < DEDUP_MS);
        self.counters.state_expired += (s0 - self.sip.len()) as u64 + (f0 - self.ftp.len()) as u64;
    }
}

fn evict_oldest<K: Clone + Eq + std::hash::Hash, V>(
    m: &mut HashMap<K, V>,
    age: impl Fn(&V) -> u64,
) {
    if let Some(k) = m.iter().min_by_key(|(_, v)| age(v)).map(|(k, _)| k.clone()) {
        m.remove(&k);
    }
}
