//! The sweep (policy × offered load × burst), its CSV, its summary table and the check of the
//! paper's qualitative claims.

use std::fmt::Write as _;

use super::model::{run, Config, Metrics, Point, PolicyKind};
use super::rng::derive;

/// What to sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Policies.
    pub policies: Vec<PolicyKind>,
    /// Offered loads, percent of the total capacity.
    pub loads_pct: Vec<u32>,
    /// Traffic variants: false = Poisson, true = on/off bursts.
    pub bursty: Vec<bool>,
    /// Master seed.
    pub seed: u64,
}

impl Default for Sweep {
    fn default() -> Self {
        Sweep {
            policies: PolicyKind::ALL.to_vec(),
            loads_pct: (5..=20).map(|i| i * 10).collect(),
            bursty: vec![false, true],
            seed: 2007,
        }
    }
}

impl Sweep {
    /// The points, in output order (burst, policy, load). Traffic seeds depend on (load, burst)
    /// only, so every policy sees the same sessions at a given point.
    pub fn points(&self) -> Vec<Point> {
        let mut v = Vec::new();
        for &bursty in &self.bursty {
            for &policy in &self.policies {
                for &pct in &self.loads_pct {
                    let stream = u64::from(pct) * 2 + u64::from(bursty);
                    v.push(Point {
                        policy,
                        offered: f64::from(pct) / 100.0,
                        bursty,
                        traffic_seed: derive(self.seed, stream),
                        run_seed: derive(self.seed, 1_000_000 + stream),
                    });
                }
            }
        }
        v
    }

    /// Runs every point on `jobs` threads (results in point order; the same for any `jobs`).
    pub fn run(&self, cfg: &Config, jobs: usize) -> Vec<Metrics> {
        let points = self.points();
        let jobs = jobs.clamp(1, points.len().max(1));
        if jobs == 1 {
            return points.iter().map(|p| run(cfg, *p)).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut out: Vec<Option<Metrics>> = vec![None; points.len()];
        let results = std::sync::Mutex::new(&mut out);
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(p) = points.get(i) else { break };
                    let m = run(cfg, *p);
                    results.lock().expect("no panic while holding")[i] = Some(m);
                });
            }
        });
        out.into_iter()
            .map(|m| m.expect("every point ran"))
            .collect()
    }
}

/// Percent of the offered load, as the sweep names it.
pub fn pct(m: &Metrics) -> u32 {
    (m.point.offered * 100.0).round() as u32
}

/// Traffic variant name.
pub fn traffic_name(bursty: bool) -> &'static str {
    if bursty {
        "bursty"
    } else {
        "smooth"
    }
}

/// The CSV: a header and one row per policy × load × burst.
pub fn csv(cfg: &Config, results: &[Metrics]) -> String {
    let n = cfg.capacities.len();
    let mut s = String::from(
        "policy,admission,forecasting,traffic,offered_pct,secs,offered,admitted,refused,\
         completed,lost,completed_per_s,lost_per_s,lost_pct,refused_pct,useful_util_pct,mean_lc",
    );
    for j in 1..=n {
        let _ = write!(s, ",load_s{j}_pct");
    }
    for j in 1..=n {
        let _ = write!(s, ",overload_s{j}_pct");
    }
    s.push('\n');
    for m in results {
        let p = m.point.policy;
        let _ = write!(
            s,
            "{},{},{},{},{},{:.1},{},{},{},{},{},{:.4},{:.4},{:.3},{:.3},{:.3},{:.1}",
            p.name(),
            p.admission(),
            p.forecasting(),
            traffic_name(m.point.bursty),
            pct(m),
            m.secs,
            m.offered,
            m.admitted,
            m.refused,
            m.completed,
            m.lost,
            m.completed_per_s(),
            m.lost_per_s(),
            m.lost_share() * 100.0,
            m.refused_share() * 100.0,
            m.useful_utilisation() * 100.0,
            m.mean_lc,
        );
        for l in &m.mean_load {
            let _ = write!(s, ",{:.2}", l * 100.0);
        }
        for o in &m.overloaded {
            let _ = write!(s, ",{:.2}", o * 100.0);
        }
        s.push('\n');
    }
    s
}

fn find(results: &[Metrics], p: PolicyKind, pct_: u32, bursty: bool) -> Option<&Metrics> {
    results
        .iter()
        .find(|m| m.point.policy == p && pct(m) == pct_ && m.point.bursty == bursty)
}

/// The loads shown in the summary table (those of the sweep among 50, 80, 100, 120, 150, 200).
fn shown_loads(results: &[Metrics]) -> Vec<u32> {
    let mut all: Vec<u32> = results.iter().map(pct).collect();
    all.sort_unstable();
    all.dedup();
    let wanted = [50, 80, 100, 120, 150, 200];
    let v: Vec<u32> = all.iter().copied().filter(|l| wanted.contains(l)).collect();
    if v.is_empty() {
        all
    } else {
        v
    }
}

/// A per-run figure the summary and the claims compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Completed sessions per second (higher is better).
    Completed,
    /// Established sessions lost per second (lower is better).
    Lost,
    /// Useful throughput: completed work per second, % of capacity (higher is better).
    Useful,
}

impl Figure {
    /// The value for a run.
    pub fn of(self, m: &Metrics) -> f64 {
        match self {
            Figure::Completed => m.completed_per_s(),
            Figure::Lost => m.lost_per_s(),
            Figure::Useful => m.useful_utilisation() * 100.0,
        }
    }

    fn higher_is_better(self) -> bool {
        !matches!(self, Figure::Lost)
    }

    fn name(self) -> &'static str {
        match self {
            Figure::Completed => "completed sessions/s",
            Figure::Lost => "established sessions lost/s",
            Figure::Useful => "useful throughput (completed work, % of capacity)",
        }
    }
}

/// The summary tables: completed sessions/s with established sessions lost/s, and the useful
/// throughput, per policy, for a few offered loads, for each traffic variant.
pub fn summary(results: &[Metrics]) -> String {
    let loads = shown_loads(results);
    let mut policies: Vec<PolicyKind> = Vec::new();
    for m in results {
        if !policies.contains(&m.point.policy) {
            policies.push(m.point.policy);
        }
    }
    let mut variants: Vec<bool> = results.iter().map(|m| m.point.bursty).collect();
    variants.sort_unstable();
    variants.dedup();
    let mut s = String::new();
    for bursty in variants {
        for (title, cell) in [
            (
                "completed sessions/s (established sessions lost/s)",
                (|m: &Metrics| format!("{:.2} ({:.2})", m.completed_per_s(), m.lost_per_s()))
                    as fn(&Metrics) -> String,
            ),
            (
                "useful throughput, % of capacity (refused %)",
                |m: &Metrics| {
                    format!(
                        "{:.1} ({:.0})",
                        m.useful_utilisation() * 100.0,
                        m.refused_share() * 100.0
                    )
                },
            ),
        ] {
            let _ = writeln!(
                s,
                "{} traffic: {title} by offered load",
                traffic_name(bursty)
            );
            let _ = write!(s, "{:<15}", "policy");
            for l in &loads {
                let _ = write!(s, "{:>14}", format!("{l}%"));
            }
            s.push('\n');
            for &p in &policies {
                let _ = write!(s, "{:<15}", p.name());
                for &l in &loads {
                    let c = find(results, p, l, bursty).map_or_else(|| "-".into(), cell);
                    let _ = write!(s, "{c:>14}");
                }
                s.push('\n');
            }
            s.push('\n');
        }
    }
    s
}

/// One qualitative claim, checked on the results.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// What is claimed.
    pub claim: String,
    /// Whether the results support it.
    pub holds: bool,
    /// The figures behind the verdict.
    pub evidence: String,
}

/// Compares policy `a` with `b` on `fig` over the points with offered ≥ `from` %: the mean relative
/// gain of `a` (positive = `a` better, whatever the direction of the figure), whether `a` is better
/// at every point, and the per-load figures.
fn compare(
    results: &[Metrics],
    a: PolicyKind,
    b: PolicyKind,
    bursty: bool,
    from: u32,
    fig: Figure,
) -> Option<(f64, bool, String)> {
    let mut rel = Vec::new();
    let mut every = true;
    let mut text = String::new();
    for m in results
        .iter()
        .filter(|m| m.point.policy == a && m.point.bursty == bursty && pct(m) >= from)
    {
        let o = find(results, b, pct(m), bursty)?;
        let (va, vb) = (fig.of(m), fig.of(o));
        // Relative gain of a over b in the figure's good direction: more of a good figure, or the
        // share of b's losses that a avoids.
        let (r, better) = if fig.higher_is_better() {
            (va / vb.max(1e-9) - 1.0, va > vb)
        } else {
            ((vb - va) / vb.max(1e-9), va < vb)
        };
        every &= better;
        rel.push(r);
        let _ = write!(text, " {}%: {va:.2} vs {vb:.2};", pct(m));
    }
    if rel.is_empty() {
        return None;
    }
    Some((rel.iter().sum::<f64>() / rel.len() as f64, every, text))
}

/// Checks the paper's two qualitative claims, as far as the sweep has the policies they need.
///
/// 1. Admission control raises completed sessions per unit of time under overload (offered ≥
///    120 %): `sara` against the same selection without admission (`forecast`), on completed
///    sessions/s, on useful throughput and on established sessions lost.
/// 2. Forecasting helps under bursts (bursty traffic, offered ≥ 100 %): `sara` against `sara-nofc`
///    (admission on the measured loads, least used on the last samples) and `forecast` against
///    `least-used` (the same without admission), on the same three figures; the smooth-traffic
///    comparison is given as a control.
pub fn claims(results: &[Metrics]) -> Vec<Claim> {
    let mut v = Vec::new();
    let figs = [Figure::Completed, Figure::Useful, Figure::Lost];
    for bursty in [false, true] {
        for fig in figs {
            if let Some((r, every, text)) = compare(
                results,
                PolicyKind::Sara,
                PolicyKind::Forecast,
                bursty,
                120,
                fig,
            ) {
                v.push(Claim {
                    claim: format!(
                        "admission control improves {} under overload ({} traffic, sara vs \
                         forecast, offered >= 120%)",
                        fig.name(),
                        traffic_name(bursty)
                    ),
                    holds: r > 0.0,
                    evidence: format!(
                        "mean gain {:+.1}%, better at {} point;{text}",
                        r * 100.0,
                        if every { "every" } else { "not every" }
                    ),
                });
            }
        }
    }
    for (a, b, what) in [
        (
            PolicyKind::Sara,
            PolicyKind::SaraNoForecast,
            "sara vs sara-nofc",
        ),
        (
            PolicyKind::Forecast,
            PolicyKind::LeastUsed,
            "forecast vs least-used",
        ),
    ] {
        for fig in figs {
            let Some((r, every, text)) = compare(results, a, b, true, 100, fig) else {
                continue;
            };
            let control = compare(results, a, b, false, 100, fig)
                .map(|(c, _, _)| format!(" (smooth traffic: {:+.1}%)", c * 100.0))
                .unwrap_or_default();
            v.push(Claim {
                claim: format!(
                    "forecasting improves {} under bursts ({what}, bursty traffic, offered >= 100%)",
                    fig.name()
                ),
                holds: r > 0.0,
                evidence: format!(
                    "mean gain {:+.1}%{control}, better at {} point;{text}",
                    r * 100.0,
                    if every { "every" } else { "not every" }
                ),
            });
        }
    }
    v
}

/// The claims as text.
pub fn claims_text(claims: &[Claim]) -> String {
    let mut s = String::from("Paper's qualitative claims in this model:\n");
    for c in claims {
        let _ = writeln!(
            s,
            "  [{}] {}\n        {}",
            if c.holds { "holds" } else { "DOES NOT HOLD" },
            c.claim,
            c.evidence.trim_end_matches(';')
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> (Config, Sweep) {
        let cfg = Config {
            warmup: 60.0,
            measure: 200.0,
            ..Config::default()
        };
        let sweep = Sweep {
            policies: vec![
                PolicyKind::Sara,
                PolicyKind::Forecast,
                PolicyKind::RoundRobin,
            ],
            loads_pct: vec![50, 120, 200],
            bursty: vec![false, true],
            seed: 5,
        };
        (cfg, sweep)
    }

    #[test]
    fn default_sweep_is_the_issue_s_grid() {
        let s = Sweep::default();
        assert_eq!(s.loads_pct.first(), Some(&50));
        assert_eq!(s.loads_pct.last(), Some(&200));
        assert_eq!(s.loads_pct.len(), 16);
        assert_eq!(s.points().len(), 16 * 7 * 2);
    }

    #[test]
    fn traffic_seed_depends_on_load_and_burst_only() {
        let (_, sweep) = tiny();
        let pts = sweep.points();
        for a in &pts {
            for b in &pts {
                let same_cell = a.offered == b.offered && a.bursty == b.bursty;
                assert_eq!(same_cell, a.traffic_seed == b.traffic_seed);
            }
        }
    }

    #[test]
    fn threads_do_not_change_results_and_csv_has_one_row_per_point() {
        let (cfg, sweep) = tiny();
        let one = sweep.run(&cfg, 1);
        let three = sweep.run(&cfg, 3);
        assert_eq!(one, three);
        let text = csv(&cfg, &one);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + sweep.points().len());
        let cols = lines[0].split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols));
        assert!(lines[0].starts_with("policy,admission,forecasting,traffic,offered_pct"));
        assert!(lines[1].starts_with("sara,true,true,smooth,50,"));
        let table = summary(&one);
        assert!(table.contains("smooth traffic") && table.contains("bursty traffic"));
        assert!(table.contains("120%") && table.contains("rr"));
        let c = claims(&one);
        assert!(!c.is_empty());
        assert!(claims_text(&c).contains("admission control improves"));
    }
}
