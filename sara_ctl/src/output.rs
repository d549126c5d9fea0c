//! What `sarectl` prints: aligned tables for people, JSON for scripts, Prometheus text for
//! scrapers. Every function returns the text; the caller prints it.

use serde::Serialize;

use crate::proto::{Server, Service, Stats};

/// How a listing is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned table.
    Table,
    /// JSON (pretty, one document).
    Json,
    /// Prometheus text exposition format (stats only).
    Prometheus,
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// An aligned table: a header row, then the rows; columns separated by two spaces, no trailing
/// spaces. Widths count characters, not bytes.
pub fn table(headers: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let n = headers.len();
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for r in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate().take(n) {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = width[i] - c.chars().count();
            let right = align.get(i) == Some(&Align::Right);
            if right {
                line.extend(std::iter::repeat_n(' ', pad));
            }
            line.push_str(c);
            if !right && i + 1 < n {
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into())
}

/// JSON text of any output value, ending with a newline.
pub fn json<T: Serialize + ?Sized>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("\"{e}\""));
    s.push('\n');
    s
}

/// `sarectl service list`.
pub fn services_table(services: &[Service]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            vec![
                format!("{}:{}/{}", s.vip, s.port, s.protocol),
                opt(&s.sig),
                opt(&s.policy),
                s.timeout
                    .map(|t| format!("{t}s"))
                    .unwrap_or_else(|| "-".into()),
                opt(&s.down_action),
                opt(&s.packets),
            ]
        })
        .collect();
    table(
        &[
            "SERVICE",
            "SIG",
            "POLICY",
            "TIMEOUT",
            "DOWN-ACTION",
            "PACKETS",
        ],
        &[Left, Left, Left, Right, Left, Right],
        &rows,
    )
}

/// `sarectl server list`.
pub fn servers_table(servers: &[Server]) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|s| {
            vec![
                s.id.to_string(),
                s.ip.to_string(),
                s.mac.clone(),
                opt(&s.dev),
                opt(&s.ifindex),
                opt(&s.weight),
                opt(&s.state),
                match (s.load_known, s.load) {
                    (Some(true), Some(l)) => l.to_string(),
                    _ => "-".into(),
                },
                match (s.load_known, s.forecast) {
                    (Some(true), Some(f)) => f.to_string(),
                    _ => "-".into(),
                },
                opt(&s.sessions),
                opt(&s.packets),
            ]
        })
        .collect();
    table(
        &[
            "ID", "IP", "MAC", "DEV", "IFINDEX", "WEIGHT", "STATE", "LOAD", "FORECAST", "SESSIONS",
            "PACKETS",
        ],
        &[
            Right, Left, Left, Left, Right, Right, Left, Right, Right, Right, Right,
        ],
        &rows,
    )
}

/// `sarectl stats`: name, value, and what the counter counts.
pub fn stats_table(stats: &Stats) -> String {
    use Align::*;
    let rows: Vec<Vec<String>> = stats
        .counters
        .iter()
        .map(|c| {
            vec![
                c.name().into_owned(),
                c.value.to_string(),
                c.help().into_owned(),
            ]
        })
        .collect();
    table(
        &["COUNTER", "VALUE", "DESCRIPTION"],
        &[Left, Right, Left],
        &rows,
    )
}

/// Escape a `# HELP` text for the Prometheus text format.
fn prom_escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `sarectl stats --prometheus`: every counter as `sara_<name>_total`, with HELP and TYPE.
pub fn stats_prometheus(stats: &Stats) -> String {
    let mut out = String::new();
    for c in &stats.counters {
        let metric = format!("sara_{}_total", c.name());
        out.push_str(&format!(
            "# HELP {metric} {}\n",
            prom_escape_help(&c.help())
        ));
        out.push_str(&format!("# TYPE {metric} counter\n"));
        out.push_str(&format!("{metric} {}\n", c.value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Counter;
    use std::net::Ipv4Addr;

    fn service() -> Service {
        Service {
            vip: Ipv4Addr::new(192, 0, 2, 10),
            port: 5060,
            protocol: "udp".into(),
            sig: Some("sip".into()),
            policy: Some("least-sessions".into()),
            timeout: Some(30),
            down_action: Some("redispatch".into()),
            packets: Some(1234567),
        }
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["A", "NUM", "LAST"],
            &[Align::Left, Align::Right, Align::Left],
            &[
                vec!["long-name".into(), "7".into(), "x".into()],
                vec!["é".into(), "1234".into(), "".into()],
            ],
        );
        assert_eq!(
            t,
            "A           NUM  LAST\nlong-name     7  x\né          1234\n"
        );
    }

    #[test]
    fn services_table_layout() {
        let mut other = service();
        other.vip = Ipv4Addr::new(10, 0, 0, 1);
        other.port = 21;
        other.protocol = "tcp".into();
        other.sig = None;
        other.timeout = None;
        other.packets = Some(0);
        let t = services_table(&[service(), other]);
        assert_eq!(
            t,
            "\
SERVICE              SIG  POLICY          TIMEOUT  DOWN-ACTION  PACKETS
192.0.2.10:5060/udp  sip  least-sessions      30s  redispatch   1234567
10.0.0.1:21/tcp      -    least-sessions        -  redispatch         0
"
        );
        assert_eq!(
            services_table(&[]),
            "SERVICE  SIG  POLICY  TIMEOUT  DOWN-ACTION  PACKETS\n"
        );
    }

    #[test]
    fn servers_table_layout() {
        let s = Server {
            id: 12,
            ip: Ipv4Addr::new(10, 0, 0, 12),
            mac: "52:54:00:00:00:0c".into(),
            dev: Some("eth1".into()),
            ifindex: Some(3),
            weight: Some(1),
            state: Some("up".into()),
            sessions: Some(2),
            forecast: Some(300),
            load: Some(250),
            load_known: Some(true),
            packets: None,
        };
        assert_eq!(
            servers_table(&[s]),
            "\
ID  IP         MAC                DEV   IFINDEX  WEIGHT  STATE  LOAD  FORECAST  SESSIONS  PACKETS
12  10.0.0.12  52:54:00:00:00:0c  eth1        3       1  up      250       300         2        -
"
        );
    }

    #[test]
    fn json_has_stable_names_numbers_and_strings() {
        let v: serde_json::Value = serde_json::from_str(&json(&[service()])).unwrap();
        assert_eq!(
            v,
            serde_json::json!([{
                "vip": "192.0.2.10", "port": 5060, "protocol": "udp", "sig": "sip",
                "policy": "least-sessions", "timeout": 30, "down_action": "redispatch",
                "packets": 1234567
            }])
        );
        let s = Server {
            id: 1,
            ip: Ipv4Addr::new(10, 0, 0, 1),
            mac: "52:54:00:00:00:01".into(),
            dev: None,
            ifindex: None,
            weight: None,
            state: None,
            sessions: None,
            forecast: None,
            load: None,
            load_known: None,
            packets: None,
        };
        let v: serde_json::Value = serde_json::from_str(&json(&s)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "id": 1, "ip": "10.0.0.1", "mac": "52:54:00:00:00:01", "dev": null,
                "ifindex": null, "weight": null, "state": null, "sessions": null,
                "forecast": null, "load": null, "load_known": null, "packets": null
            })
        );
    }

    #[test]
    fn stats_text_and_prometheus() {
        let stats = Stats {
            counters: vec![
                Counter {
                    id: sara_core::counters::PKT_SEEN,
                    value: 10,
                },
                Counter { id: 300, value: 2 },
            ],
        };
        let t = stats_table(&stats);
        assert!(
            t.starts_with("COUNTER       VALUE  DESCRIPTION\npackets_seen     10  IPv4 packets"),
            "{t}"
        );
        assert!(
            t.contains("counter_300       2  counter 300 (not known to this sarectl)\n"),
            "{t}"
        );
        let p = stats_prometheus(&stats);
        assert_eq!(
            p,
            "\
# HELP sara_packets_seen_total IPv4 packets the hook looked at in this namespace
# TYPE sara_packets_seen_total counter
sara_packets_seen_total 10
# HELP sara_counter_300_total counter 300 (not known to this sarectl)
# TYPE sara_counter_300_total counter
sara_counter_300_total 2
"
        );
        assert_eq!(prom_escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn every_counter_makes_a_valid_metric_name() {
        for (id, _) in sara_core::counters::COUNTERS.iter().enumerate() {
            let p = stats_prometheus(&Stats {
                counters: vec![Counter { id, value: 1 }],
            });
            let metric = p.lines().last().unwrap().split(' ').next().unwrap();
            assert!(metric.starts_with("sara_") && metric.ends_with("_total"));
            assert!(
                metric
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{metric}"
            );
        }
    }
}
