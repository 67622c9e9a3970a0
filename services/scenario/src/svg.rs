//! Pictures of a scenario's results, drawn with plotters' SVG backend: per proposal, a seat
//! chart of the alliance coloured by ballot, and for each pressure policy a bar chart of each
//! pressed member's probability of conceding.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use accord_proto::v1::{Choice, MemberStatus};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::run::{ProposalReport, Report};

const SUPPORT: RGBColor = RGBColor(46, 125, 50);
const OBJECT: RGBColor = RGBColor(198, 40, 40);
const ABSTAIN: RGBColor = RGBColor(249, 168, 37);
const NO_BALLOT: RGBColor = RGBColor(189, 189, 189);

type DrawResult<T> = Result<T, Box<dyn std::error::Error>>;

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

/// Seat positions of a hemicycle with `n` seats, in rows, ordered left to right (also used by
/// the web seat chart).
pub fn hemicycle(n: usize, center: (f64, f64), inner: f64, row_gap: f64) -> Vec<(f64, f64)> {
    if n == 0 {
        return Vec::new();
    }
    let rows = n.div_ceil(12).max(1);
    let radii: Vec<f64> = (0..rows).map(|k| inner + k as f64 * row_gap).collect();
    let total: f64 = radii.iter().sum();
    let mut counts: Vec<usize> = radii
        .iter()
        .map(|r| ((n as f64) * r / total).round() as usize)
        .collect();
    let assigned: usize = counts.iter().sum();
    let last = counts.len() - 1;
    counts[last] = (counts[last] + n).saturating_sub(assigned).max(1);
    let mut seats: Vec<(f64, f64, f64)> = Vec::new(); // (angle, x, y)
    for (radius, &count) in radii.iter().zip(&counts) {
        for j in 0..count {
            let angle = if count == 1 {
                PI / 2.0
            } else {
                PI - j as f64 * PI / (count - 1) as f64
            };
            seats.push((
                angle,
                center.0 + radius * angle.cos(),
                center.1 - radius * angle.sin(),
            ));
        }
    }
    seats.sort_by(|a, b| b.0.total_cmp(&a.0));
    seats.truncate(n);
    seats.into_iter().map(|(_, x, y)| (x, y)).collect()
}

/// Draws the seat chart of one proposal to `path`.
pub fn seat_chart(report: &Report, proposal: &ProposalReport, path: &Path) -> DrawResult<()> {
    let choice_of = |code: &str| {
        proposal
            .ballots
            .iter()
            .find(|b| b.member.trim_start_matches("members/") == code)
            .and_then(|b| Choice::try_from(b.choice).ok())
            .unwrap_or(Choice::Unspecified)
    };
    let rank = |c: Choice| match c {
        Choice::Support => 0,
        Choice::Abstain => 1,
        Choice::Unspecified => 2,
        Choice::Object => 3,
    };
    let mut members: Vec<(&str, Choice)> = report
        .members
        .iter()
        .filter(|m| m.status == MemberStatus::Active as i32)
        .map(|m| (m.code.as_str(), choice_of(&m.code)))
        .collect();
    members.sort_by_key(|(code, choice)| (rank(*choice), *code));

    let (width, height) = (900u32, 540u32);
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let centred = |size: u32| {
        ("sans-serif", size)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center))
    };
    root.draw(&Text::new(
        proposal.proposal.title.clone(),
        (width as i32 / 2, 24),
        centred(20),
    ))?;
    root.draw(&Text::new(
        format!(
            "{} allies by ballot ({})",
            members.len(),
            crate::report::describe_action(proposal)
        ),
        (width as i32 / 2, 50),
        centred(13),
    ))?;

    let center = (width as f64 / 2.0, height as f64 - 90.0);
    let seats = hemicycle(members.len(), center, 170.0, 52.0);
    for ((code, choice), (x, y)) in members.iter().zip(&seats) {
        let colour = match choice {
            Choice::Support => SUPPORT,
            Choice::Object => OBJECT,
            Choice::Abstain => ABSTAIN,
            Choice::Unspecified => NO_BALLOT,
        };
        root.draw(&Circle::new((*x as i32, *y as i32), 20, colour.filled()))?;
        root.draw(&Text::new(
            code.to_string(),
            (*x as i32, *y as i32),
            centred(10).color(&WHITE),
        ))?;
    }

    let legend = [
        (SUPPORT, "support", Choice::Support),
        (ABSTAIN, "abstain", Choice::Abstain),
        (NO_BALLOT, "no ballot", Choice::Unspecified),
        (OBJECT, "object", Choice::Object),
    ];
    for (i, (colour, name, choice)) in legend.iter().enumerate() {
        let count = members.iter().filter(|(_, c)| c == choice).count();
        let x = 150 + i as i32 * 170;
        let y = height as i32 - 30;
        root.draw(&Circle::new((x, y), 8, colour.filled()))?;
        root.draw(&Text::new(
            format!("{name}: {count}"),
            (x + 14, y),
            ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    root.present()?;
    Ok(())
}

/// Draws, for one pressure decision, each pressed member's probability of conceding.
fn concession_chart(
    proposal: &ProposalReport,
    label: &str,
    points: &[(String, f64)],
    path: &Path,
) -> DrawResult<()> {
    let root = SVGBackend::new(path, (900, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    // A segmented range a..b has a slot for every value from a to b inclusive.
    let last = points.len().saturating_sub(1) as u32;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "{} — {label}: probability of conceding",
                proposal.proposal.title
            ),
            ("sans-serif", 17),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((0u32..last).into_segmented(), 0f64..1f64)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(points.len().max(1))
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => points
                .get(*i as usize)
                .map(|p| p.0.clone())
                .unwrap_or_default(),
            _ => String::new(),
        })
        .y_desc("P(concede)")
        .x_desc("pressed members (ballot differs from the lead's)")
        .draw()?;
    chart.draw_series(points.iter().enumerate().map(|(i, (_, p))| {
        let colour = if *p >= 0.5 { SUPPORT } else { OBJECT };
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i as u32), 0.0),
                (SegmentValue::Exact(i as u32 + 1), *p),
            ],
            colour.filled(),
        );
        bar.set_margin(0, 0, 4, 4);
        bar
    }))?;
    root.present()?;
    Ok(())
}

/// Writes every chart of `report` into `dir` (created if needed); returns the files written.
pub fn write_all(report: &Report, dir: &Path) -> DrawResult<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for proposal in &report.proposals {
        let path = dir.join(format!("{}-seats.svg", proposal.id));
        seat_chart(report, proposal, &path)?;
        written.push(path);
        for row in &proposal.rows {
            let Ok(decision) = &row.result else { continue };
            if row.policy != "pressure" {
                continue;
            }
            let mut points: Vec<(String, f64)> = decision
                .member_results
                .iter()
                .filter_map(|m| {
                    m.metrics
                        .get("concede_probability")
                        .map(|p| (m.member.trim_start_matches("members/").to_string(), *p))
                })
                .collect();
            if points.is_empty() {
                continue; // a Friedkin-Johnsen row: positions, no concessions to chart
            }
            points.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let path = dir.join(format!(
                "{}-{}-concessions.svg",
                proposal.id,
                slug(&row.label)
            ));
            concession_chart(proposal, &row.label, &points, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hemicycle_has_one_seat_per_member_all_above_the_centre() {
        for n in [1, 5, 12, 32, 33, 100] {
            let seats = hemicycle(n, (450.0, 450.0), 170.0, 52.0);
            assert_eq!(seats.len(), n);
            assert!(seats.iter().all(|(_, y)| *y <= 450.0 + 1e-9));
        }
    }

    #[test]
    fn labels_become_file_name_slugs() {
        assert_eq!(slug("US pressure (Monte Carlo)"), "us-pressure-monte-carlo");
    }
}
