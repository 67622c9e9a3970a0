//! Charts of a sensitivity sweep, drawn with plotters' SVG backend: for one variable, per
//! proposal, P(adopted) against the variable (one line per policy column) and, where a column
//! forecasts a value, the forecast against the variable; for two variables, per proposal and
//! column, a heat map of P(adopted) (or of the forecast, for a forecasting column).
//!
//! Guarantee: every file is a complete SVG document (checked with an XML parser in the tests).

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::sweep::{SweepResult, SweepRow};

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn rows<'a>(sweep: &'a SweepResult, proposal: &str, column: &str) -> Vec<&'a SweepRow> {
    sweep
        .rows
        .iter()
        .filter(|r| r.proposal == proposal && r.column == column)
        .collect()
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    }
}

/// One variable: `value(row)` of every column against the variable.
fn line_chart(
    sweep: &SweepResult,
    proposal: &str,
    what: &str,
    value: &dyn Fn(&SweepRow) -> Option<f64>,
    y_dates: bool,
    path: &Path,
) -> DrawResult<bool> {
    let var = &sweep.variables[0];
    let series: Vec<(String, Vec<(f64, f64)>)> = sweep
        .columns
        .iter()
        .map(|c| {
            (
                c.clone(),
                rows(sweep, proposal, c)
                    .iter()
                    .filter_map(|r| value(r).map(|y| (r.values[0], y)))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, points)| !points.is_empty())
        .collect();
    if series.is_empty() {
        return Ok(false);
    }
    let xs = (var.values[0], *var.values.last().unwrap_or(&var.values[0]));
    let (x0, x1) = padded(xs.0, xs.1);
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.1.iter().map(|p| p.1))
        .collect();
    let (y0, y1) = if y_dates {
        padded(
            ys.iter().cloned().fold(f64::INFINITY, f64::min),
            ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        )
    } else {
        (0.0, 1.0)
    };
    let root = SVGBackend::new(path, (900, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{proposal}: {what} against {}", var.name),
            ("sans-serif", 17),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let x_text = |x: &f64| var.text(*x);
    let y_text = |y: &f64| {
        if y_dates {
            crate::forecast::date_text(*y)
        } else {
            format!("{y:.2}")
        }
    };
    chart
        .configure_mesh()
        .x_desc(var.name.as_str())
        .y_desc(what)
        .x_label_formatter(&x_text)
        .y_label_formatter(&y_text)
        .x_labels(8)
        .draw()?;
    for (i, (label, points)) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().cloned(),
                colour.stroke_width(2),
            ))?
            .label(label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(true)
}

/// Two variables: a heat map of `value(row)` for one column.
fn heat_map(
    sweep: &SweepResult,
    proposal: &str,
    column: &str,
    what: &str,
    value: &dyn Fn(&SweepRow) -> Option<f64>,
    path: &Path,
) -> DrawResult<bool> {
    let (a, b) = (&sweep.variables[0], &sweep.variables[1]);
    let cells: Vec<(usize, usize, f64)> = rows(sweep, proposal, column)
        .iter()
        .filter_map(|r| {
            let i = r.point / b.values.len();
            let j = r.point % b.values.len();
            value(r).map(|v| (i, j, v))
        })
        .collect();
    if cells.is_empty() {
        return Ok(false);
    }
    let lo = cells.iter().map(|c| c.2).fold(f64::INFINITY, f64::min);
    let hi = cells.iter().map(|c| c.2).fold(f64::NEG_INFINITY, f64::max);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (na, nb) = (a.values.len(), b.values.len());
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{proposal} · {column}: {what} (from {} to {})",
                fmt(lo, what),
                fmt(hi, what)
            ),
            ("sans-serif", 16),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..na as f64, 0f64..nb as f64)?;
    let ax = |x: &f64| a.text(a.values[(*x as usize).min(na - 1)]);
    let bx = |y: &f64| b.text(b.values[(*y as usize).min(nb - 1)]);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(a.name.as_str())
        .y_desc(b.name.as_str())
        .x_label_formatter(&ax)
        .y_label_formatter(&bx)
        .x_labels(8)
        .y_labels(8)
        .draw()?;
    let span = (hi - lo).max(1e-12);
    chart.draw_series(cells.iter().map(|(i, j, v)| {
        let t = (v - lo) / span;
        // Red (low) to green (high).
        let colour = RGBColor(
            (198.0 + (46.0 - 198.0) * t) as u8,
            (40.0 + (125.0 - 40.0) * t) as u8,
            (40.0 + (50.0 - 40.0) * t) as u8,
        );
        Rectangle::new(
            [(*i as f64, *j as f64), (*i as f64 + 1.0, *j as f64 + 1.0)],
            colour.filled(),
        )
    }))?;
    root.present()?;
    Ok(true)
}

fn fmt(v: f64, what: &str) -> String {
    if what.contains("date") {
        crate::forecast::date_text(v)
    } else {
        format!("{v:.3}")
    }
}

fn forecast_is_date(sweep: &SweepResult, proposal: &str) -> bool {
    sweep.rows.iter().any(|r| {
        r.proposal == proposal
            && r.result.as_ref().is_ok_and(|d| {
                matches!(
                    d.forecast_position.as_ref().and_then(|p| p.value.as_ref()),
                    Some(accord_proto::v1::position::Value::Date(_))
                )
            })
    })
}

/// Writes the sweep's charts into `dir` (created if needed); returns the files written.
pub fn write_all(sweep: &SweepResult, dir: &Path) -> DrawResult<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let p_adopted = |r: &SweepRow| r.p_adopted();
    let forecast = |r: &SweepRow| r.forecast();
    for proposal in &sweep.proposals {
        let dates = forecast_is_date(sweep, proposal);
        let forecast_what = if dates {
            "forecast date"
        } else {
            "forecast value"
        };
        if sweep.variables.len() == 1 {
            let path = dir.join(format!("{proposal}-sweep-adoption.svg"));
            if line_chart(sweep, proposal, "P(adopted)", &p_adopted, false, &path)? {
                written.push(path);
            }
            let path = dir.join(format!("{proposal}-sweep-forecast.svg"));
            if line_chart(sweep, proposal, forecast_what, &forecast, true, &path)? {
                written.push(path);
            }
        } else {
            for column in &sweep.columns {
                let has_forecast = rows(sweep, proposal, column)
                    .iter()
                    .any(|r| r.forecast().is_some());
                let path = dir.join(format!("{proposal}-{}-heatmap.svg", slug(column)));
                let drawn = if has_forecast {
                    heat_map(sweep, proposal, column, forecast_what, &forecast, &path)?
                } else {
                    heat_map(sweep, proposal, column, "P(adopted)", &p_adopted, &path)?
                };
                if drawn {
                    written.push(path);
                }
            }
        }
    }
    Ok(written)
}
