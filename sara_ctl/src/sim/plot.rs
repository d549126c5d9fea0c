//! PNG plots with `plotters`' bitmap backend.
//!
//! Text goes through plotters' `ab_glyph` feature: pure Rust, no fontconfig or freetype. It needs a
//! TrueType font registered at run time; [`load_font`] takes the one given, or the first of
//! [`FONT_CANDIDATES`] that exists (Debian package `fonts-dejavu-core` provides the first).

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::model::{Metrics, PolicyKind};
use super::sweep::{pct, traffic_name};

/// Fonts tried when none is given.
pub const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers a TTF as plotters' "sans-serif" and returns its path. The bytes are leaked: plotters
/// keeps a `'static` reference, and it is loaded once per process.
pub fn load_font(path: Option<&Path>) -> Result<PathBuf, String> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => FONT_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!(
                    "no TrueType font found (tried {}); install the Debian package \
                     fonts-dejavu-core or pass --font FILE.ttf",
                    FONT_CANDIDATES.join(", ")
                )
            })?,
    };
    let bytes =
        std::fs::read(&path).map_err(|e| format!("reading font {}: {e}", path.display()))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{} is not a TrueType/OpenType font", path.display()))?;
    Ok(path)
}

/// What a plot shows on its y axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Completed sessions per second.
    Completed,
    /// Established sessions lost per second.
    Lost,
    /// Useful throughput: completed work per second, % of capacity.
    Useful,
}

impl Quantity {
    fn value(self, m: &Metrics) -> f64 {
        match self {
            Quantity::Completed => m.completed_per_s(),
            Quantity::Lost => m.lost_per_s(),
            Quantity::Useful => m.useful_utilisation() * 100.0,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Quantity::Completed => "completed sessions / s",
            Quantity::Lost => "established sessions lost / s",
            Quantity::Useful => "useful throughput (completed work, % of capacity)",
        }
    }

    /// File stem.
    pub fn stem(self) -> &'static str {
        match self {
            Quantity::Completed => "completed",
            Quantity::Lost => "lost",
            Quantity::Useful => "useful",
        }
    }
}

fn style(p: PolicyKind) -> (RGBColor, u32) {
    match p {
        PolicyKind::Sara => (RGBColor(200, 30, 30), 3),
        PolicyKind::SaraNoForecast => (RGBColor(240, 140, 20), 2),
        PolicyKind::Forecast => (RGBColor(30, 90, 200), 2),
        PolicyKind::LeastUsed => (RGBColor(20, 160, 160), 2),
        PolicyKind::LeastSessions => (RGBColor(120, 60, 170), 2),
        PolicyKind::RoundRobin => (RGBColor(40, 150, 40), 2),
        PolicyKind::Random => (RGBColor(110, 110, 110), 2),
    }
}

/// Draws `quantity` against the offered load for every policy of one traffic variant into `file`.
/// `ideal`: the completion rate of a perfect cluster at 100 % (drawn as min(offered, 100 %) · ideal
/// on the completed plot; the useful-throughput plot draws min(offered, 100 %)).
pub fn plot(
    file: &Path,
    results: &[Metrics],
    bursty: bool,
    quantity: Quantity,
    ideal: Option<f64>,
) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", file.display());
    let rows: Vec<&Metrics> = results
        .iter()
        .filter(|m| m.point.bursty == bursty)
        .collect();
    if rows.is_empty() {
        return Err(err(&"no results for this traffic variant"));
    }
    let x_min = rows.iter().map(|m| pct(m)).min().unwrap_or(50) as f64;
    let x_max = rows.iter().map(|m| pct(m)).max().unwrap_or(200) as f64;
    let x_max = if x_max > x_min { x_max } else { x_min + 10.0 };
    let mut y_max = rows.iter().map(|m| quantity.value(m)).fold(0.0, f64::max);
    let ideal = match quantity {
        Quantity::Completed => ideal,
        Quantity::Useful => Some(100.0),
        Quantity::Lost => None,
    };
    if let Some(i) = ideal {
        y_max = y_max.max(i);
    }
    let y_max = if y_max > 0.0 { y_max * 1.08 } else { 1.0 };

    let root = BitMapBackend::new(file, (1000, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!(
        "{} vs offered load, {} traffic",
        quantity.label(),
        traffic_name(bursty)
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("offered load (% of cluster capacity)")
        .y_desc(quantity.label())
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(|e| err(&e))?;

    if let Some(ideal) = ideal {
        let pts: Vec<(f64, f64)> = [x_min, 100.0f64.clamp(x_min, x_max), x_max]
            .into_iter()
            .map(|x| (x, ideal * (x / 100.0).min(1.0)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, BLACK.mix(0.35).stroke_width(1)))
            .map_err(|e| err(&e))?
            .label(match quantity {
                Quantity::Completed => "perfect cluster, sessions of mean work: min(offered, 100%)",
                _ => "perfect cluster: min(offered, 100%)",
            })
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.35)));
    }

    let mut policies: Vec<PolicyKind> = Vec::new();
    for m in &rows {
        if !policies.contains(&m.point.policy) {
            policies.push(m.point.policy);
        }
    }
    for p in policies {
        let mut pts: Vec<(f64, f64)> = rows
            .iter()
            .filter(|m| m.point.policy == p)
            .map(|m| (f64::from(pct(m)), quantity.value(m)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (color, width) = style(p);
        let name = match (p.admission(), p.forecasting()) {
            (true, true) => format!("{} (admission + forecast)", p.name()),
            (true, false) => format!("{} (admission, no forecast)", p.name()),
            _ => p.name().to_string(),
        };
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width))
            });
        chart
            .draw_series(pts.into_iter().map(|xy| Circle::new(xy, 3, color.filled())))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(match quantity {
            Quantity::Completed | Quantity::Useful => SeriesLabelPosition::LowerRight,
            Quantity::Lost => SeriesLabelPosition::UpperLeft,
        })
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 15))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
