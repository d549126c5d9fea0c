//! The agent's load vector (paper Fig. 8), read from the live system. Every component is per-mille
//! (0‥1000, 1000 = saturated):
//!
//! | component | source | per-mille of |
//! |---|---|---|
//! | `cpu` | `/proc/stat` first line, difference since the previous sample | busy time (everything but idle and iowait) over all time |
//! | `mem` | `/proc/meminfo` | `1 − MemAvailable/MemTotal` (MemFree + Buffers + Cached on kernels without MemAvailable) |
//! | `net` | `/proc/net/sockstat` against `/proc/sys/net/ipv4/tcp_mem`, `udp_mem` | the larger of TCP and UDP socket memory over its hard limit (third value) |
//! | `io` | `/sys/block/*/inflight` and `queue/nr_requests` (else `/proc/diskstats`, 128) | the fullest device's in-flight requests over its queue depth; 0 with no disk; loop, ram and zram devices are skipped |
//! | `backlog` | TCP: `sock_diag` netlink (else `/proc/net/tcp{,6}` and `somaxconn`); UDP: `/proc/net/udp{,6}` and `rmem_default` | the served port's accept queue over its listen backlog; for UDP, bytes waiting over the default receive buffer |
//!
//! The scalar load is the weighted mean `Σ wᵢ·cᵢ / Σ wᵢ` ([`Weights`]).
//!
//! A file that cannot be read gives 0 for its component and a problem message naming the file (each
//! distinct message is returned once, so the agent logs it once). Paths are relative to a root
//! (`/` in production) so tests can use fixture trees.

use super::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The five load components, per-mille.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Components {
    /// CPU busy time.
    pub cpu: u16,
    /// Memory in use.
    pub mem: u16,
    /// Socket memory (network buffers).
    pub net: u16,
    /// Block I/O queue.
    pub io: u16,
    /// Application backlog (accept queue).
    pub backlog: u16,
}

/// Weights of the components in the scalar load.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// CPU weight.
    pub cpu: f64,
    /// Memory weight.
    pub mem: f64,
    /// Network buffers weight.
    pub net: f64,
    /// I/O queue weight.
    pub io: f64,
    /// Application backlog weight.
    pub backlog: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            cpu: 0.4,
            mem: 0.2,
            net: 0.1,
            io: 0.1,
            backlog: 0.2,
        }
    }
}

impl Weights {
    /// Parses `cpu=0.5,mem=0.2,…`; names not given weigh 0; at least one weight must be > 0.
    pub fn parse(s: &str) -> Result<Self> {
        let mut w = Weights {
            cpu: 0.0,
            mem: 0.0,
            net: 0.0,
            io: 0.0,
            backlog: 0.0,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                Error::new(format!("weight {part:?} is not NAME=NUMBER (e.g. cpu=0.5)"))
            })?;
            let v: f64 = value
                .trim()
                .parse()
                .map_err(|_| Error::new(format!("weight {part:?}: {value:?} is not a number")))?;
            let slot = match name.trim() {
                "cpu" => &mut w.cpu,
                "mem" => &mut w.mem,
                "net" => &mut w.net,
                "io" => &mut w.io,
                "backlog" => &mut w.backlog,
                other => {
                    return Err(Error::new(format!(
                        "unknown weight {other:?}: the components are cpu, mem, net, io, backlog"
                    )))
                }
            };
            *slot = v;
        }
        w.validate()?;
        Ok(w)
    }

    /// Every weight finite and ≥ 0, at least one > 0.
    pub fn validate(&self) -> Result<()> {
        let all = [self.cpu, self.mem, self.net, self.io, self.backlog];
        if all.iter().any(|w| !w.is_finite() || *w < 0.0) || all.iter().sum::<f64>() <= 0.0 {
            return Err(Error::new(format!(
                "load weights must be numbers >= 0, at least one above 0; got cpu={} mem={} net={} io={} backlog={}",
                self.cpu, self.mem, self.net, self.io, self.backlog
            )));
        }
        Ok(())
    }

    /// The scalar load, per-mille: `Σ wᵢ·cᵢ / Σ wᵢ`.
    pub fn scalar(&self, c: &Components) -> u16 {
        let sum = self.cpu + self.mem + self.net + self.io + self.backlog;
        if sum.is_nan() || sum <= 0.0 {
            return 0;
        }
        let v = self.cpu * f64::from(c.cpu)
            + self.mem * f64::from(c.mem)
            + self.net * f64::from(c.net)
            + self.io * f64::from(c.io)
            + self.backlog * f64::from(c.backlog);
        super::to_permille(v / sum)
    }
}

fn ratio_permille(num: f64, den: f64) -> u16 {
    if den > 0.0 {
        super::to_permille(num / den * 1000.0)
    } else {
        0
    }
}

// ---- CPU ------------------------------------------------------------------------------------

/// Cumulative CPU time of the machine, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Everything but idle and iowait.
    pub busy: u64,
    /// user + nice + system + idle + iowait + irq + softirq + steal (guest time is inside user).
    pub total: u64,
}

/// Parses the aggregate `cpu` line of `/proc/stat`.
pub fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// CPU load between two readings, per-mille (0 when no time passed).
pub fn cpu_permille(prev: CpuTimes, cur: CpuTimes) -> u16 {
    let dt = cur.total.saturating_sub(prev.total);
    let db = cur.busy.saturating_sub(prev.busy);
    ratio_permille(db as f64, dt as f64)
}

// ---- memory ---------------------------------------------------------------------------------

/// Memory in use from `/proc/meminfo`, per-mille.
pub fn parse_meminfo(text: &str) -> Option<u16> {
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    let total = field("MemTotal")?;
    let avail = match field("MemAvailable") {
        Some(a) => a,
        None => field("MemFree")? + field("Buffers").unwrap_or(0) + field("Cached").unwrap_or(0),
    };
    Some(ratio_permille(
        total.saturating_sub(avail) as f64,
        total as f64,
    ))
}

// ---- network buffers ------------------------------------------------------------------------

/// Pages of socket memory from `/proc/net/sockstat`: `(tcp, udp)`.
pub fn parse_sockstat(text: &str) -> (Option<u64>, Option<u64>) {
    let mem = |proto: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(proto))?;
        let mut it = line.split_whitespace();
        while let Some(t) = it.next() {
            if t == "mem" {
                return it.next()?.parse().ok();
            }
        }
        None
    };
    (mem("TCP:"), mem("UDP:"))
}

/// The hard limit (third value, pages) of `tcp_mem` / `udp_mem`.
pub fn parse_mem_limit(text: &str) -> Option<u64> {
    text.split_whitespace().nth(2)?.parse().ok()
}

// ---- block I/O ------------------------------------------------------------------------------

/// Queue depth assumed when a device does not say (`/sys/block/X/queue/nr_requests`).
pub const DEFAULT_NR_REQUESTS: u64 = 128;

fn skip_device(name: &str) -> bool {
    ["loop", "ram", "zram"].iter().any(|p| name.starts_with(p))
}

/// In-flight requests from `/sys/block/X/inflight` (reads + writes).
pub fn parse_inflight(text: &str) -> Option<u64> {
    let mut it = text.split_whitespace().map(|t| t.parse::<u64>().ok());
    Some(it.next()??.saturating_add(it.next()??))
}

/// `(device, in-flight requests)` from `/proc/diskstats`, loop/ram/zram devices skipped.
pub fn parse_diskstats(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let name = *t.get(2)?;
            let inflight = t.get(11)?.parse().ok()?;
            (!skip_device(name)).then(|| (name.to_string(), inflight))
        })
        .collect()
}

// ---- application backlog --------------------------------------------------------------------

/// The served port whose backlog is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BacklogPort {
    /// Accept queue of the TCP socket listening on this port.
    Tcp(u16),
    /// Receive queue of the UDP socket bound to this port.
    Udp(u16),
}

impl BacklogPort {
    /// Parses `tcp:PORT` or `udp:PORT`.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::new(format!("backlog port {s:?} is not tcp:PORT or udp:PORT"));
        let (proto, port) = s.split_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(bad)?;
        match proto {
            "tcp" => Ok(BacklogPort::Tcp(port)),
            "udp" => Ok(BacklogPort::Udp(port)),
            _ => Err(bad()),
        }
    }
}

/// Sum of the queues of the sockets on `port` in `/proc/net/{tcp,udp}{,6}`, for sockets in `state`
/// (hex, `0A` LISTEN for TCP, `07` for UDP): `Some(total rx_queue)` when at least one socket matched.
pub fn parse_proc_net_queue(text: &str, port: u16, state: &str) -> Option<u64> {
    let mut found = None;
    for line in text.lines().skip(1) {
        let t: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(st), Some(queues)) = (t.get(1), t.get(3), t.get(4)) else {
            continue;
        };
        let Some(p) = local
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
        else {
            continue;
        };
        if p != port || !st.eq_ignore_ascii_case(state) {
            continue;
        }
        let rx = queues
            .split(':')
            .nth(1)
            .and_then(|q| u64::from_str_radix(q, 16).ok())
            .unwrap_or(0);
        found = Some(found.unwrap_or(0) + rx);
    }
    found
}

/// Listening TCP sockets on `port` from a `sock_diag` dump answer: `(queued, backlog)` summed
/// over the sockets found (IPv4 and IPv6 answers are parsed alike), or `None` if none.
pub fn parse_inet_diag(answer: &[u8], port: u16) -> (Option<(u64, u64)>, bool) {
    const NLMSG_HDR: usize = 16;
    const NLMSG_DONE: u16 = 3;
    const NLMSG_ERROR: u16 = 2;
    let mut found: Option<(u64, u64)> = None;
    let mut off = 0;
    let mut done = false;
    while off + NLMSG_HDR <= answer.len() {
        let h = &answer[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let ty = u16::from_ne_bytes([h[4], h[5]]);
        if len < NLMSG_HDR || off + len > answer.len() {
            break;
        }
        if ty == NLMSG_DONE || ty == NLMSG_ERROR {
            done = true;
            break;
        }
        let m = &h[NLMSG_HDR..len];
        // inet_diag_msg: family, state, timer, retrans, id{sport be16, …} …, rqueue @56, wqueue @60
        if m.len() >= 64 {
            let sport = u16::from_be_bytes([m[4], m[5]]);
            if sport == port {
                let rq = u32::from_ne_bytes([m[56], m[57], m[58], m[59]]);
                let wq = u32::from_ne_bytes([m[60], m[61], m[62], m[63]]);
                let (q, b) = found.unwrap_or((0, 0));
                found = Some((q + u64::from(rq), b + u64::from(wq)));
            }
        }
        off += (len + 3) & !3;
    }
    (found, done)
}

/// Asks the kernel (netlink `sock_diag`) for the listening TCP sockets of `family` (AF_INET or
/// AF_INET6) and returns the raw answer.
fn inet_diag_dump(family: u8) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let fd = crate::sys::socket(libc::AF_NETLINK, libc::SOCK_DGRAM, libc::NETLINK_SOCK_DIAG)?;
    let mut sock = std::fs::File::from(fd);
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const TCP_LISTEN: u32 = 10;
    let flags: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    let mut req = Vec::with_capacity(72);
    req.extend_from_slice(&72u32.to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // seq
    req.extend_from_slice(&0u32.to_ne_bytes()); // pid
    req.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    req.extend_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    req.extend_from_slice(&[0u8; 48]); // inet_diag_sockid: no filter
    sock.write_all(&req)?;
    let mut all = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
        // Stop at NLMSG_DONE / NLMSG_ERROR.
        if parse_inet_diag(&buf[..n], 0).1 {
            break;
        }
    }
    Ok(all)
}

/// `(queued, backlog)` of the TCP listeners on `port`, from `sock_diag`.
pub fn tcp_listen_backlog(port: u16) -> std::io::Result<Option<(u64, u64)>> {
    let mut total: Option<(u64, u64)> = None;
    for fam in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        if let (Some((q, b)), _) = parse_inet_diag(&inet_diag_dump(fam)?, port) {
            let (tq, tb) = total.unwrap_or((0, 0));
            total = Some((tq + q, tb + b));
        }
    }
    Ok(total)
}

// ---- the sampler ----------------------------------------------------------------------------

/// One reading of the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The components.
    pub components: Components,
    /// Problems not reported before, one line each, naming the file and the component set to 0.
    pub new_problems: Vec<String>,
}

/// Reads the load components, keeping the previous CPU reading for the deltas.
#[derive(Debug)]
pub struct Sampler {
    root: PathBuf,
    backlog: Option<BacklogPort>,
    use_sock_diag: bool,
    prev_cpu: Option<CpuTimes>,
    reported: BTreeSet<String>,
}

impl Sampler {
    /// A sampler of the live system (`/`).
    pub fn new(backlog: Option<BacklogPort>) -> Self {
        Sampler {
            root: PathBuf::from("/"),
            backlog,
            use_sock_diag: true,
            prev_cpu: None,
            reported: BTreeSet::new(),
        }
    }

    /// A sampler of a fixture tree (`root/proc/…`, `root/sys/…`); never asks the kernel.
    pub fn with_root(root: impl Into<PathBuf>, backlog: Option<BacklogPort>) -> Self {
        Sampler {
            root: root.into(),
            backlog,
            use_sock_diag: false,
            prev_cpu: None,
            reported: BTreeSet::new(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn read(&self, p: &str, problems: &mut Vec<String>, what: &str) -> Option<String> {
        let path = self.path(p);
        match std::fs::read_to_string(&path) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!(
                    "cannot read {} ({what} reported as 0): {e}",
                    path.display()
                ));
                None
            }
        }
    }

    fn unreadable(&self, p: &str, problems: &mut Vec<String>, what: &str) {
        problems.push(format!(
            "cannot understand {} ({what} reported as 0)",
            self.path(p).display()
        ));
    }

    /// Reads every component. The first CPU value is the average since boot.
    pub fn sample(&mut self) -> Sample {
        let mut problems = Vec::new();
        let mut c = Components::default();

        if let Some(t) = self.read("/proc/stat", &mut problems, "CPU load") {
            match parse_proc_stat(&t) {
                Some(cur) => {
                    let prev = self.prev_cpu.unwrap_or(CpuTimes { busy: 0, total: 0 });
                    c.cpu = cpu_permille(prev, cur);
                    self.prev_cpu = Some(cur);
                }
                None => self.unreadable("/proc/stat", &mut problems, "CPU load"),
            }
        }

        if let Some(t) = self.read("/proc/meminfo", &mut problems, "memory load") {
            match parse_meminfo(&t) {
                Some(m) => c.mem = m,
                None => self.unreadable("/proc/meminfo", &mut problems, "memory load"),
            }
        }

        c.net = self.net(&mut problems);
        c.io = self.io(&mut problems);
        c.backlog = self.backlog(&mut problems);

        let new_problems = problems
            .into_iter()
            .filter(|p| self.reported.insert(p.clone()))
            .collect();
        Sample {
            components: c,
            new_problems,
        }
    }

    fn net(&self, problems: &mut Vec<String>) -> u16 {
        const WHAT: &str = "network-buffer load";
        let Some(t) = self.read("/proc/net/sockstat", problems, WHAT) else {
            return 0;
        };
        let (tcp, udp) = parse_sockstat(&t);
        let mut out = 0;
        for (used, limit_file) in [
            (tcp, "/proc/sys/net/ipv4/tcp_mem"),
            (udp, "/proc/sys/net/ipv4/udp_mem"),
        ] {
            let Some(used) = used else { continue };
            let Some(lt) = self.read(limit_file, problems, WHAT) else {
                continue;
            };
            match parse_mem_limit(&lt) {
                Some(limit) => out = out.max(ratio_permille(used as f64, limit as f64)),
                None => self.unreadable(limit_file, problems, WHAT),
            }
        }
        out
    }

    fn io(&self, problems: &mut Vec<String>) -> u16 {
        const WHAT: &str = "I/O queue load";
        let sys_block = self.path("/sys/block");
        if let Ok(dir) = std::fs::read_dir(&sys_block) {
            let mut out = 0;
            for entry in dir.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if skip_device(&name) {
                    continue;
                }
                let dev = sys_block.join(&name);
                let Some(inflight) = std::fs::read_to_string(dev.join("inflight"))
                    .ok()
                    .and_then(|t| parse_inflight(&t))
                else {
                    continue;
                };
                let depth = std::fs::read_to_string(dev.join("queue/nr_requests"))
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .filter(|d| *d > 0)
                    .unwrap_or(DEFAULT_NR_REQUESTS);
                out = out.max(ratio_permille(inflight as f64, depth as f64));
            }
            return out;
        }
        // No /sys/block (unusual): fall back to /proc/diskstats, silently 0 if neither exists
        // only when there is no disk at all.
        match self.read("/proc/diskstats", problems, WHAT) {
            Some(t) => parse_diskstats(&t)
                .into_iter()
                .map(|(_, n)| ratio_permille(n as f64, DEFAULT_NR_REQUESTS as f64))
                .max()
                .unwrap_or(0),
            None => 0,
        }
    }

    fn backlog(&self, problems: &mut Vec<String>) -> u16 {
        const WHAT: &str = "application backlog";
        match self.backlog {
            None => 0,
            Some(BacklogPort::Tcp(port)) => {
                if self.use_sock_diag {
                    match tcp_listen_backlog(port) {
                        Ok(Some((q, b))) => return ratio_permille(q as f64, b.max(1) as f64),
                        Ok(None) => {
                            problems.push(format!(
                                "no socket listens on TCP port {port} ({WHAT} reported as 0)"
                            ));
                            return 0;
                        }
                        Err(e) => problems.push(format!(
                            "cannot ask the kernel for the listening sockets (netlink sock_diag): {e}; \
                             using /proc/net/tcp and somaxconn instead"
                        )),
                    }
                }
                let mut queued = None;
                for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
                    if let Ok(t) = std::fs::read_to_string(self.path(f)) {
                        if let Some(q) = parse_proc_net_queue(&t, port, "0A") {
                            queued = Some(queued.unwrap_or(0) + q);
                        }
                    }
                }
                let Some(queued) = queued else {
                    problems.push(format!(
                        "no socket listens on TCP port {port} ({WHAT} reported as 0)"
                    ));
                    return 0;
                };
                let max = self
                    .read("/proc/sys/net/core/somaxconn", problems, WHAT)
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .unwrap_or(4096);
                ratio_permille(queued as f64, max.max(1) as f64)
            }
            Some(BacklogPort::Udp(port)) => {
                let mut queued = None;
                for f in ["/proc/net/udp", "/proc/net/udp6"] {
                    if let Ok(t) = std::fs::read_to_string(self.path(f)) {
                        if let Some(q) = parse_proc_net_queue(&t, port, "07") {
                            queued = Some(queued.unwrap_or(0) + q);
                        }
                    }
                }
                let Some(queued) = queued else {
                    problems.push(format!(
                        "no socket is bound to UDP port {port} ({WHAT} reported as 0)"
                    ));
                    return 0;
                };
                let rcvbuf = self
                    .read("/proc/sys/net/core/rmem_default", problems, WHAT)
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .unwrap_or(212_992);
                ratio_permille(queued as f64, rcvbuf.max(1) as f64)
            }
        }
    }

    /// The root this sampler reads under.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT_A: &str =
        "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\nintr 1\n";
    const STAT_B: &str = "cpu  250 0 150 800 150 0 0 50 0 0\ncpu0 1 0 1 1 1 0 0 0 0 0\n";

    #[test]
    fn cpu_from_proc_stat() {
        let a = parse_proc_stat(STAT_A).unwrap();
        assert_eq!(
            a,
            CpuTimes {
                busy: 200,
                total: 1000
            }
        );
        let b = parse_proc_stat(STAT_B).unwrap();
        assert_eq!(
            b,
            CpuTimes {
                busy: 450,
                total: 1400
            }
        );
        // Δbusy 250 over Δtotal 400 = 625 ‰.
        assert_eq!(cpu_permille(a, b), 625);
        assert_eq!(cpu_permille(a, a), 0);
        assert_eq!(parse_proc_stat("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 x 3 4\n"), None);
        // Old kernels with only four fields.
        assert_eq!(
            parse_proc_stat("cpu  1 2 3 4\n"),
            Some(CpuTimes { busy: 6, total: 10 })
        );
    }

    #[test]
    fn memory_from_meminfo() {
        let t =
            "MemTotal:       1000000 kB\nMemFree:         100000 kB\nMemAvailable:    250000 kB\n";
        assert_eq!(parse_meminfo(t), Some(750));
        let old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 100 kB\nCached: 200 kB\n";
        assert_eq!(parse_meminfo(old), Some(600));
        assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
        // "MemTotalX" must not be taken for MemTotal.
        assert_eq!(parse_meminfo("MemTotalX: 5 kB\nMemFree: 1 kB\n"), None);
    }

    #[test]
    fn network_buffers_from_sockstat() {
        let t = "sockets: used 12\nTCP: inuse 1 orphan 0 tw 0 alloc 1 mem 339\nUDP: inuse 0 mem 7\nUDPLITE: inuse 0\n";
        assert_eq!(parse_sockstat(t), (Some(339), Some(7)));
        assert_eq!(parse_sockstat("sockets: used 1\n"), (None, None));
        assert_eq!(parse_mem_limit("287898\t383866\t575796\n"), Some(575_796));
        assert_eq!(parse_mem_limit("1 2\n"), None);
    }

    #[test]
    fn io_from_inflight_and_diskstats() {
        assert_eq!(parse_inflight("       3        5\n"), Some(8));
        assert_eq!(parse_inflight("3\n"), None);
        let t = "   7       0 loop0 0 0 0 0 0 0 0 0 9 0 0 0 0 0 0 0 0\n 254       0 vda 1 2 3 4 5 6 7 8 12 10 11\n 254       1 vda1 1 2 3 4 5 6 7 8 2 10 11\n";
        assert_eq!(
            parse_diskstats(t),
            vec![("vda".to_string(), 12), ("vda1".to_string(), 2)]
        );
    }

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 1514 1 0 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000010 00:00000000 00000000     0        0 1515 1 0 100 0 0 10 0\n   2: 0100007F:0016 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 1516 1 0 100 0 0 10 0\n";

    #[test]
    fn backlog_from_proc_net_tcp() {
        // Port 8080 = 0x1F90: one listener with 5 waiting; the established socket is not counted.
        assert_eq!(parse_proc_net_queue(TCP, 8080, "0A"), Some(5));
        assert_eq!(parse_proc_net_queue(TCP, 22, "0A"), Some(2));
        assert_eq!(parse_proc_net_queue(TCP, 443, "0A"), None);
        let udp = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n  100: 00000000:13C4 00000000:0000 07 00000000:00001000 00:00000000 00000000     0        0 1 2 0 0\n";
        assert_eq!(parse_proc_net_queue(udp, 5060, "07"), Some(4096));
    }

    #[test]
    fn inet_diag_answer() {
        // One inet_diag_msg (72 bytes) for port 8080, rqueue 3, wqueue 128; then NLMSG_DONE.
        let mut a = Vec::new();
        a.extend_from_slice(&(16u32 + 72).to_ne_bytes());
        a.extend_from_slice(&20u16.to_ne_bytes());
        a.extend_from_slice(&[0u8; 10]);
        let mut m = [0u8; 72];
        m[0] = 2;
        m[1] = 10;
        m[4..6].copy_from_slice(&8080u16.to_be_bytes());
        m[56..60].copy_from_slice(&3u32.to_ne_bytes());
        m[60..64].copy_from_slice(&128u32.to_ne_bytes());
        a.extend_from_slice(&m);
        assert_eq!(parse_inet_diag(&a, 8080), (Some((3, 128)), false));
        assert_eq!(parse_inet_diag(&a, 80), (None, false));
        a.extend_from_slice(&20u32.to_ne_bytes());
        a.extend_from_slice(&3u16.to_ne_bytes());
        a.extend_from_slice(&[0u8; 14]);
        assert_eq!(parse_inet_diag(&a, 8080), (Some((3, 128)), true));
        // Truncated input never panics.
        for n in 0..a.len() {
            let _ = parse_inet_diag(&a[..n], 8080);
        }
    }

    #[test]
    fn live_sock_diag_sees_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        match tcp_listen_backlog(port) {
            Ok(Some((queued, backlog))) => {
                assert_eq!(queued, 0);
                assert!(backlog >= 1, "{backlog}");
            }
            Ok(None) => panic!("sock_diag did not list our listener on {port}"),
            // A sandbox without NETLINK_SOCK_DIAG: the sampler falls back to /proc/net/tcp.
            Err(e) => eprintln!("sock_diag unavailable here: {e}"),
        }
    }

    #[test]
    fn weights() {
        let c = Components {
            cpu: 500,
            mem: 1000,
            net: 0,
            io: 0,
            backlog: 250,
        };
        assert_eq!(Weights::default().scalar(&c), 200 + 200 + 50);
        let w = Weights::parse("cpu=1, mem=1").unwrap();
        assert_eq!(w.scalar(&c), 750);
        assert_eq!(Weights::parse("cpu=2,backlog=2").unwrap().scalar(&c), 375);
        for (bad, msg) in [
            ("cpu", "NAME=NUMBER"),
            ("cpu=x", "not a number"),
            ("disk=1", "unknown weight"),
            ("cpu=0", "at least one"),
            ("cpu=-1,mem=2", ">= 0"),
        ] {
            let e = Weights::parse(bad).unwrap_err();
            assert!(e.message().contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn backlog_port_parse() {
        assert_eq!(
            BacklogPort::parse("tcp:8080").unwrap(),
            BacklogPort::Tcp(8080)
        );
        assert_eq!(
            BacklogPort::parse("udp:5060").unwrap(),
            BacklogPort::Udp(5060)
        );
        for bad in ["8080", "sctp:1", "tcp:0", "tcp:70000"] {
            assert!(BacklogPort::parse(bad).is_err(), "{bad}");
        }
    }

    fn write(root: &Path, p: &str, s: &str) {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, s).unwrap();
    }

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sara-measure-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn sampler_on_a_fixture_tree() {
        let root = tmpdir("full");
        write(&root, "proc/stat", STAT_A);
        write(
            &root,
            "proc/meminfo",
            "MemTotal: 1000 kB\nMemAvailable: 400 kB\n",
        );
        write(
            &root,
            "proc/net/sockstat",
            "TCP: inuse 1 orphan 0 tw 0 alloc 1 mem 100\nUDP: inuse 0 mem 300\n",
        );
        write(&root, "proc/sys/net/ipv4/tcp_mem", "10 20 1000\n");
        write(&root, "proc/sys/net/ipv4/udp_mem", "10 20 1000\n");
        write(&root, "sys/block/vda/inflight", "   16   16\n");
        write(&root, "sys/block/vda/queue/nr_requests", "64\n");
        write(&root, "sys/block/vdb/inflight", "1 0\n"); // no nr_requests: 128
        write(&root, "sys/block/loop0/inflight", "128 128\n"); // skipped
        write(&root, "proc/net/tcp", TCP);
        write(&root, "proc/sys/net/core/somaxconn", "10\n");
        let mut s = Sampler::with_root(&root, Some(BacklogPort::Tcp(8080)));
        let a = s.sample();
        assert!(a.new_problems.is_empty(), "{:?}", a.new_problems);
        // CPU since boot 200/1000; mem 600; net max(100, 300)/1000; io 32/64; backlog 5/10.
        assert_eq!(
            a.components,
            Components {
                cpu: 200,
                mem: 600,
                net: 300,
                io: 500,
                backlog: 500
            }
        );
        write(&root, "proc/stat", STAT_B);
        assert_eq!(s.sample().components.cpu, 625);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn sampler_tolerates_a_tiny_vm() {
        let root = tmpdir("tiny");
        write(&root, "proc/stat", STAT_A);
        write(
            &root,
            "proc/meminfo",
            "MemTotal: 1000 kB\nMemAvailable: 1000 kB\n",
        );
        std::fs::create_dir_all(root.join("sys/block")).unwrap(); // no disks
        let mut s = Sampler::with_root(&root, Some(BacklogPort::Tcp(8080)));
        let a = s.sample();
        assert_eq!(
            a.components,
            Components {
                cpu: 200,
                mem: 0,
                net: 0,
                io: 0,
                backlog: 0
            }
        );
        let p = a.new_problems.join("\n");
        assert!(
            p.contains("proc/net/sockstat (network-buffer load reported as 0)"),
            "{p}"
        );
        assert!(p.contains("no socket listens on TCP port 8080"), "{p}");
        assert!(!p.contains("I/O"), "no disk is not a problem: {p}");
        // Problems are reported once.
        assert!(s.sample().new_problems.is_empty());
        // A garbled file is named too.
        write(&root, "proc/meminfo", "garbage\n");
        let p = s.sample().new_problems.join("\n");
        assert!(
            p.contains("cannot understand") && p.contains("proc/meminfo"),
            "{p}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn live_system_sample_is_in_range() {
        let mut s = Sampler::new(None);
        let a = s.sample().components;
        for v in [a.cpu, a.mem, a.net, a.io, a.backlog] {
            assert!(v <= 1000);
        }
    }
}
