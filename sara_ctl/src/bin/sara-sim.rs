//! `sara-sim`: sweeps SARA and the baseline policies over offered loads 50–200 %, smooth and bursty
//! traffic, and writes a CSV, PNG plots and a summary. The model is documented in
//! `sara_ctl::sim::model`.
//!
//! ```text
//! cargo run --release -p sara_ctl --bin sara-sim -- --out build/bench/sim
//! ```

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use sara_ctl::control::thresholds::Thresholds;
use sara_ctl::sim::model::{Config, PolicyKind};
use sara_ctl::sim::plot::{self, Quantity};
use sara_ctl::sim::sweep::{self, Sweep};
use sara_ctl::sim::traffic;

#[derive(Parser, Debug)]
#[command(
    name = "sara-sim",
    about = "Simulate SARA's admission control and server selection against RR, random and least used",
    long_about = "Simulates a cluster of servers behind a SARA dispatcher, in discrete time, with the \
project's own admission (sara_core::admission), selection (sara_core::select) and control-plane \
(forecast, cluster load, moving thresholds) code. Sweeps every policy over offered loads 50..200 % \
of the cluster's capacity, with Poisson and with on/off bursty arrivals, and writes sim.csv, \
completed_{smooth,bursty}.png, lost_{smooth,bursty}.png and useful_{smooth,bursty}.png into --out, and a summary on stdout. \
Deterministic: the same arguments give the same output."
)]
struct Args {
    /// Output directory (created if missing).
    #[arg(long, default_value = "build/bench/sim")]
    out: PathBuf,
    /// Master seed.
    #[arg(long, default_value_t = 2007)]
    seed: u64,
    /// Server capacities, in capacity units (one unit = one voice call).
    #[arg(long, value_delimiter = ',', default_value = "100,80,60,40")]
    capacities: Vec<f64>,
    /// Policies to run (default: all): sara, sara-nofc, forecast, least-used, least-sessions, rr, random.
    #[arg(long, value_delimiter = ',')]
    policies: Vec<String>,
    /// Offered loads in percent: FROM:TO:STEP.
    #[arg(long, default_value = "50:200:10")]
    loads: String,
    /// Measured seconds per run (after the warm-up).
    #[arg(long, default_value_t = 3600.0)]
    measure: f64,
    /// Warm-up seconds per run.
    #[arg(long, default_value_t = 300.0)]
    warmup: f64,
    /// Time step, seconds.
    #[arg(long, default_value_t = 0.1)]
    dt: f64,
    /// Load sampling period δ, seconds.
    #[arg(long, default_value_t = 1.0)]
    delta: f64,
    /// Delay from a load sample to the push it causes, seconds.
    #[arg(long, default_value_t = 0.5)]
    delay: f64,
    /// Loss hazard of a session per second per unit of server overload.
    #[arg(long, default_value_t = 0.5)]
    loss_rate: f64,
    /// Session mix: default (voice calls, video streams, short transfers) or voice (calls only).
    #[arg(long, default_value = "default")]
    mix: String,
    /// Operator's admission thresholds T1,T2,T3,C (per-mille of the cluster load l_c; with α = 0.8
    /// a cluster full everywhere has l_c = 800).
    #[arg(long, value_delimiter = ',', default_value = "600,750,900,1000")]
    thresholds: Vec<u16>,
    /// Threads (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// TrueType font for the plots (default: DejaVu Sans from fonts-dejavu-core, or another common one).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Write the CSV and the summary only.
    #[arg(long)]
    no_plots: bool,
}

fn parse_loads(s: &str) -> Result<Vec<u32>, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str| {
        p.trim()
            .parse::<u32>()
            .map_err(|_| format!("--loads: '{p}' is not a whole number of percent"))
    };
    let (from, to, step) = match parts.as_slice() {
        [one] => (num(one)?, num(one)?, 1),
        [a, b, c] => (num(a)?, num(b)?, num(c)?),
        _ => {
            return Err(format!(
                "--loads must be FROM:TO:STEP or one value; got '{s}'"
            ))
        }
    };
    if step == 0 || from == 0 || from > to {
        return Err(format!(
            "--loads needs 0 < FROM <= TO and STEP > 0; got '{s}'"
        ));
    }
    Ok((from..=to).step_by(step as usize).collect())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sara-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<(), String> {
    let a = Args::parse();
    let mix = traffic::mix_by_name(&a.mix)
        .ok_or_else(|| format!("unknown mix '{}'; known: default, voice", a.mix))?;
    let thresholds = match a.thresholds.as_slice() {
        &[t1, t2, t3, c] => Thresholds { t1, t2, t3, c },
        _ => return Err("--thresholds takes four values: T1,T2,T3,C".into()),
    };
    let cfg = Config {
        capacities: a.capacities.clone(),
        mix,
        thresholds,
        dt: a.dt,
        warmup: a.warmup,
        measure: a.measure,
        delta: a.delta,
        delay: a.delay,
        loss_rate: a.loss_rate,
        ..Config::default()
    };
    cfg.validate()?;
    let policies = if a.policies.is_empty() {
        PolicyKind::ALL.to_vec()
    } else {
        a.policies
            .iter()
            .map(|n| {
                PolicyKind::from_name(n).ok_or_else(|| {
                    let names: Vec<&str> = PolicyKind::ALL.iter().map(|p| p.name()).collect();
                    format!("unknown policy '{n}'; known: {}", names.join(", "))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let sweep = Sweep {
        policies,
        loads_pct: parse_loads(&a.loads)?,
        bursty: vec![false, true],
        seed: a.seed,
    };
    let font = if a.no_plots {
        None
    } else {
        Some(plot::load_font(a.font.as_deref())?)
    };
    std::fs::create_dir_all(&a.out).map_err(|e| format!("creating {}: {e}", a.out.display()))?;

    let cap = cfg.total_capacity();
    let b = cfg.bursts;
    let (off, on) = b.rates(1.0);
    println!(
        "sara-sim: {} servers (capacities {:?}, total {cap}), {} runs of {} s (+{} s warm-up), \
         dt {} s, δ {} s, push delay {} s, loss hazard {}/s per unit overload",
        cfg.capacities.len(),
        cfg.capacities,
        sweep.points().len(),
        cfg.measure,
        cfg.warmup,
        cfg.dt,
        cfg.delta,
        cfg.delay,
        cfg.loss_rate
    );
    println!(
        "  traffic: mean work {:.3} unit·s/session, 100% = {:.2} sessions/s; bursty: on {} s / off {} s, \
         rate {off:.2}×λ off, {on:.2}×λ on; forecast increment {} ppm; thresholds {:?}",
        traffic::mean_work(&cfg.mix),
        traffic::rate_for(1.0, cap, &cfg.mix),
        b.mean_on,
        b.mean_off,
        cfg.increment(),
        cfg.thresholds
    );
    let t0 = Instant::now();
    let results = sweep.run(&cfg, a.jobs);
    let elapsed = t0.elapsed();

    let csv_path = a.out.join("sim.csv");
    std::fs::write(&csv_path, sweep::csv(&cfg, &results))
        .map_err(|e| format!("writing {}: {e}", csv_path.display()))?;
    let mut written = vec![csv_path];
    if font.is_some() {
        // Ideal completion rate at 100 %: the whole capacity serving sessions of the mean work.
        let ideal = traffic::rate_for(1.0, cap, &cfg.mix);
        for bursty in [false, true] {
            for q in [Quantity::Completed, Quantity::Lost, Quantity::Useful] {
                let f = a
                    .out
                    .join(format!("{}_{}.png", q.stem(), sweep::traffic_name(bursty)));
                plot::plot(&f, &results, bursty, q, Some(ideal))?;
                written.push(f);
            }
        }
    }
    println!();
    print!("{}", sweep::summary(&results));
    print!("{}", sweep::claims_text(&sweep::claims(&results)));
    println!();
    println!(
        "{} runs in {:.1} s; wrote {}",
        results.len(),
        elapsed.as_secs_f64(),
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_parse() {
        assert_eq!(parse_loads("50:200:10").unwrap().len(), 16);
        assert_eq!(parse_loads("120").unwrap(), vec![120]);
        assert!(parse_loads("0:10:5").is_err());
        assert!(parse_loads("50:40:5").is_err());
        assert!(parse_loads("50:60").is_err());
    }
}
