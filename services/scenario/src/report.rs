//! Rendering a scenario's results: a side-by-side table per proposal for people, and the same
//! as JSON for scripts.

use accord_proto::v1::{Choice, Decision, Outcome, Procedure, proposal::Action};
use comfy_table::{Cell, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::{Value, json};

use crate::forecast;
use crate::run::{ProposalReport, Report, Row};

fn short(names: &[String], limit: usize) -> String {
    let codes: Vec<&str> = names
        .iter()
        .map(|n| n.trim_start_matches("members/"))
        .collect();
    if codes.is_empty() {
        return "—".to_string();
    }
    if codes.len() <= limit {
        codes.join(", ")
    } else {
        format!(
            "{} +{} more",
            codes[..limit].join(", "),
            codes.len() - limit
        )
    }
}

/// A probability to three places, without rounding a small non-zero value to zero.
fn probability(p: f64) -> String {
    if p > 0.0 && p < 0.0005 {
        "<0.001".to_string()
    } else if p < 1.0 && p > 0.9995 {
        ">0.999".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// The P(adopted) cell. A Monte Carlo estimate of 0 is not written as a bare 0: it gets the
/// 95 % upper bound of the rule of three (`3/trials`), and the policy's mean-field value when it
/// reports one (`adoption_probability_mean_field`), so that "very unlikely" never reads as
/// "impossible".
fn adoption(d: &Decision) -> Option<String> {
    let p = d.adoption_probability?;
    let trials = d.metrics.get("trials").copied().unwrap_or(0.0);
    if p > 0.0 || trials < 1.0 {
        return Some(probability(p));
    }
    let mut text = format!("<{:.0e}", 3.0 / trials);
    if let Some(mean_field) = d
        .metrics
        .get("adoption_probability_mean_field")
        .filter(|m| **m > 0.0)
    {
        text.push_str(&format!(" (≈{mean_field:.0e})"));
    }
    Some(text)
}

fn outcome_word(decision: &Decision) -> &'static str {
    match Outcome::try_from(decision.outcome) {
        Ok(Outcome::Adopted) => "ADOPTED",
        Ok(Outcome::Rejected) => "rejected",
        Ok(Outcome::Pending) => "pending",
        _ => "?",
    }
}

/// One line saying what a proposal would do.
pub fn describe_action(report: &ProposalReport) -> String {
    match report.proposal.action.as_ref() {
        Some(Action::EndMission(a)) => format!(
            "end {} on {}",
            a.mission,
            a.end_date
                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                .unwrap_or_default()
        ),
        Some(Action::ResizeMission(a)) => {
            format!("resize {} to {} personnel", a.mission, a.personnel_ceiling)
        }
        Some(Action::ExtendMission(a)) => format!(
            "extend {} to {}",
            a.mission,
            a.end_date
                .map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
                .unwrap_or_default()
        ),
        Some(Action::LaunchMission(a)) => {
            format!("launch missions/{} ({})", a.mission_id, a.display_name)
        }
        Some(Action::SetSummitParticipation(a)) => {
            let level = match a.participation {
                1 => "full",
                2 => "restricted",
                _ => "no",
            };
            format!(
                "{level} participation for {} at {}",
                a.partners.join(", "),
                if a.summit.is_empty() {
                    "the summit"
                } else {
                    &a.summit
                }
            )
        }
        Some(Action::GenericMotion(a)) => format!("motion: {}", a.text),
        None => String::new(),
    }
}

fn tally(report: &ProposalReport) -> String {
    let count = |c: Choice| {
        report
            .ballots
            .iter()
            .filter(|b| b.choice == c as i32)
            .count()
    };
    format!(
        "ballots: {} support, {} object, {} abstain",
        count(Choice::Support),
        count(Choice::Object),
        count(Choice::Abstain)
    )
}

/// The side-by-side table of one proposal.
pub fn table(report: &ProposalReport) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(140)
        .set_header(vec![
            "Policy",
            "Outcome",
            "Support",
            "Blockers / pivotal",
            "P(adopted)",
            "Likely holdouts",
        ]);
    for row in &report.rows {
        match &row.result {
            Ok(d) => {
                let who = if !d.blockers.is_empty() {
                    format!("blocked by {}", short(&d.blockers, 6))
                } else if !d.pivotal_members.is_empty() && d.pivotal_members.len() < 32 {
                    format!("pivotal: {}", short(&d.pivotal_members, 6))
                } else if !d.pivotal_members.is_empty() {
                    "any member could block".to_string()
                } else {
                    "—".to_string()
                };
                table.add_row(vec![
                    Cell::new(&row.label),
                    Cell::new(outcome_word(d)),
                    Cell::new(format!("{:.1}%", 100.0 * d.support_share)),
                    Cell::new(who),
                    Cell::new(adoption(d).unwrap_or_else(|| "—".to_string())),
                    Cell::new(short(&d.likely_holdouts, 5)),
                ]);
            }
            Err((code, message)) => {
                table.add_row(vec![
                    Cell::new(&row.label),
                    Cell::new(format!("error {code}")),
                    Cell::new(message),
                    Cell::new(""),
                    Cell::new(""),
                    Cell::new(""),
                ]);
            }
        }
    }
    table
}

/// The whole report for people.
pub fn render(report: &Report) -> String {
    let mut out = format!("{}\n", report.title);
    if !report.description.is_empty() {
        out.push_str(&format!("{}\n", report.description.trim()));
    }
    out.push_str(&format!(
        "(seed {}; every decision taken at the proposal's deadline)\n",
        report.seed
    ));
    for (i, p) in report.proposals.iter().enumerate() {
        out.push_str(&format!(
            "\n{}. {} [{}]\n   {}; sponsor {}; {}\n",
            i + 1,
            p.proposal.title,
            p.id,
            describe_action(p),
            p.proposal.sponsor.trim_start_matches("members/"),
            tally(p)
        ));
        out.push_str(&format!("{}\n", table(p)));
        for line in forecast_lines(p) {
            out.push_str(&format!("   {line}\n"));
        }
    }
    if let Some(sweep) = &report.sweep {
        out.push('\n');
        for line in crate::sweep::summary(sweep) {
            out.push_str(&format!("{line}\n"));
        }
    }
    out
}

fn is_date(p: &ProposalReport) -> bool {
    matches!(
        p.proposal.action,
        Some(Action::EndMission(_) | Action::ExtendMission(_))
    )
}

/// A figure of a decision's metrics as text: a date for a date quantity (days since
/// 1970-01-01), the amount otherwise.
fn figure(p: &ProposalReport, v: f64) -> String {
    if is_date(p) {
        forecast::date_text(v)
    } else {
        format!("{v:.0}")
    }
}

fn distance(p: &ProposalReport, d: f64) -> String {
    if is_date(p) {
        format!("{:+.0} days", d)
    } else {
        format!("{:+.0} troops", d)
    }
}

fn tabled_value(p: &ProposalReport) -> Option<(String, f64)> {
    match p.proposal.action.as_ref()? {
        Action::EndMission(a) => a.end_date.map(|d| {
            (
                format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
                forecast::days_from_civil(d.year as i64, d.month as u32, d.day as u32) as f64,
            )
        }),
        Action::ExtendMission(a) => a.end_date.map(|d| {
            (
                format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
                forecast::days_from_civil(d.year as i64, d.month as u32, d.day as u32) as f64,
            )
        }),
        Action::ResizeMission(a) => Some((
            a.personnel_ceiling.to_string(),
            f64::from(a.personnel_ceiling),
        )),
        Action::LaunchMission(a) => Some((
            a.personnel_ceiling.to_string(),
            f64::from(a.personnel_ceiling),
        )),
        _ => None,
    }
}

/// The forecast lines of one proposal: the forecast compromise next to the tabled value, the
/// zone of agreement of every column that asks for it, and how far pressure moves the
/// compromise (Friedkin–Johnsen columns).
pub fn forecast_lines(p: &ProposalReport) -> Vec<String> {
    let Some((tabled_text, tabled)) = tabled_value(p) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    let bargaining = p
        .rows
        .iter()
        .find(|r| r.policy == "bargaining" && r.result.is_ok());
    for row in p.rows.iter().filter(|r| r.policy == "bargaining") {
        let Ok(d) = &row.result else { continue };
        let Some(f) = forecast::number(d.forecast_position.as_ref()) else {
            continue;
        };
        let metric = |k: &str| d.metrics.get(k).map(|v| figure(p, *v)).unwrap_or_default();
        lines.push(format!(
            "Forecast compromise ({}): {} against the {} proposal {} ({}); compromise mean {}, weighted median {}.",
            row.label,
            forecast::value(d.forecast_position.as_ref()),
            p.proposal.sponsor.trim_start_matches("members/"),
            tabled_text,
            distance(p, f - tabled),
            metric("mean"),
            metric("median"),
        ));
    }
    for row in &p.rows {
        if let Some(zone) = &row.zone {
            let mut zone_lines = forecast::zone_lines(zone);
            zone_lines.truncate(2);
            lines.push(format!("{} [{}]", zone_lines[0], row.label));
            if let Some(l) = zone_lines.get(1) {
                lines.push(l.trim().to_string());
            }
        }
    }
    for row in p.rows.iter().filter(|r| {
        r.policy == "pressure"
            && r.parameters.get("model").map(String::as_str) == Some("friedkin_johnsen")
    }) {
        let Ok(d) = &row.result else { continue };
        let before = bargaining
            .and_then(|b| b.result.as_ref().ok())
            .and_then(|b| b.metrics.get("mean").copied());
        let after = bargaining
            .and_then(|b| b.result.as_ref().ok())
            .and_then(|b| forecast::compromise_after_pressure(b, d));
        let mut line = format!("{}:", row.label);
        if let (Some(before), Some(after)) = (before, after) {
            line.push_str(&format!(
                " the compromise mean moves from {} to {} ({}) towards the lead;",
                figure(p, before),
                figure(p, after),
                distance(p, after - before)
            ));
        }
        line.push_str(&format!(
            " {} still block the proposal as tabled",
            if d.blockers.is_empty() {
                "none".to_string()
            } else {
                format!("{} members", d.blockers.len())
            }
        ));
        match d.metrics.get("smallest_pressure") {
            Some(sp) => line.push_str(&format!(
                "; the smallest pressure at which nobody blocks is {sp:.2} (given: {}).",
                row.parameters
                    .get("pressure")
                    .map(String::as_str)
                    .unwrap_or("1")
            )),
            None => line.push_str("; no pressure makes everyone accept it."),
        }
        lines.push(line);
    }
    lines
}

fn row_json(row: &Row) -> Value {
    let procedure = match row.procedure {
        Procedure::Silence => "silence",
        _ => "open",
    };
    let mut value = match &row.result {
        Ok(decision) => json!({
            "label": row.label,
            "policy": row.policy,
            "procedure": procedure,
            "parameters": row.parameters,
            "adopted": decision.outcome == Outcome::Adopted as i32,
            "decision": accord_proto::json::to_json(decision),
        }),
        Err((code, message)) => json!({
            "label": row.label,
            "policy": row.policy,
            "procedure": procedure,
            "parameters": row.parameters,
            "error": { "code": code, "message": message },
        }),
    };
    if let (Some(zone), Some(object)) = (&row.zone, value.as_object_mut()) {
        object.insert(
            "zone_of_agreement".to_string(),
            accord_proto::json::to_json(zone),
        );
    }
    value
}

/// The whole report as data.
pub fn to_json(report: &Report) -> Value {
    json!({
        "title": report.title,
        "description": report.description,
        "seed": report.seed,
        "proposals": report.proposals.iter().map(|p| json!({
            "id": p.id,
            "proposal": accord_proto::json::to_json(&p.proposal),
            "source": p.source,
            "ballots": p.ballots.iter().map(accord_proto::json::to_json).collect::<Vec<_>>(),
            "results": p.rows.iter().map(row_json).collect::<Vec<_>>(),
            "forecast": forecast_lines(p),
        })).collect::<Vec<_>>(),
        "sweep": report.sweep.as_ref().map(crate::sweep::to_json),
    })
}

#[cfg(test)]
mod tests {
    use super::probability;

    #[test]
    fn probabilities_never_round_to_a_false_certainty() {
        assert_eq!(probability(0.0), "0.000");
        assert_eq!(probability(0.0001), "<0.001");
        assert_eq!(probability(0.25), "0.250");
        assert_eq!(probability(0.99996), ">0.999");
        assert_eq!(probability(1.0), "1.000");
    }

    #[test]
    fn an_estimate_of_zero_is_a_bound_not_a_zero() {
        use accord_proto::v1::Decision;
        let mut d = Decision {
            adoption_probability: Some(0.0),
            ..Default::default()
        };
        d.metrics.insert("trials".into(), 100_000.0);
        assert_eq!(super::adoption(&d).unwrap(), "<3e-5");
        d.metrics
            .insert("adoption_probability_mean_field".into(), 1.7e-18);
        assert_eq!(super::adoption(&d).unwrap(), "<3e-5 (≈2e-18)");
        // Without trials (a deterministic policy) a 0 is a 0.
        d.metrics.clear();
        assert_eq!(super::adoption(&d).unwrap(), "0.000");
        d.adoption_probability = Some(0.25);
        assert_eq!(super::adoption(&d).unwrap(), "0.250");
    }
}
