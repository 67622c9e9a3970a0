//! Forecast lines shared by the scenario report and the command line: the zone of agreement
//! (what could pass) as text, and the compromise after pressure, computed from the decisions
//! the server returned (nothing here decides anything).

use accord_proto::v1::{AgreementRule, Decision, Position, ZoneOfAgreement, position};

/// A position as text: `YYYY-MM-DD` or the amount (at most one decimal).
pub fn value(p: Option<&Position>) -> String {
    match p.and_then(|p| p.value.as_ref()) {
        Some(position::Value::Date(d)) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        Some(position::Value::Amount(a)) => {
            let text = format!("{a:.1}");
            text.trim_end_matches(".0").to_string()
        }
        None => "—".to_string(),
    }
}

/// A position as a number: days since 1970-01-01 for a date, the amount otherwise.
pub fn number(p: Option<&Position>) -> Option<f64> {
    match p?.value.as_ref()? {
        position::Value::Date(d) => {
            Some(days_from_civil(d.year as i64, d.month as u32, d.day as u32) as f64)
        }
        position::Value::Amount(a) => Some(*a),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, as `YYYY-MM-DD` (nearest day).
pub fn date_text(days: f64) -> String {
    let z = days.round() as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn codes(names: &[String], limit: usize) -> String {
    let codes: Vec<&str> = names
        .iter()
        .map(|n| n.trim_start_matches("members/"))
        .collect();
    if codes.is_empty() {
        "nobody".to_string()
    } else if codes.len() > limit {
        format!(
            "{} +{} more",
            codes[..limit].join(", "),
            codes.len() - limit
        )
    } else {
        codes.join(", ")
    }
}

/// One line summing the zone up: "Zone of agreement (unanimity): 2027-03-01 to 2027-04-15 …".
pub fn zone_summary(zone: &ZoneOfAgreement) -> String {
    let rule = match AgreementRule::try_from(zone.rule) {
        Ok(AgreementRule::QualifiedMajority) => {
            format!("qualified majority {:.0}%", 100.0 * zone.quota)
        }
        _ => "unanimity".to_string(),
    };
    let passing = if zone.passing.is_empty() {
        "no value passes".to_string()
    } else {
        zone.passing
            .iter()
            .map(|i| {
                let (lo, hi) = (value(i.low.as_ref()), value(i.high.as_ref()));
                if lo == hi {
                    lo
                } else {
                    format!("{lo} to {hi}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("Zone of agreement ({rule}): {passing}")
}

/// The zone as lines: the summary, the adopted value and by whom, then the server's explanation.
pub fn zone_lines(zone: &ZoneOfAgreement) -> Vec<String> {
    let mut lines = vec![zone_summary(zone)];
    match &zone.adopted {
        Some(adopted) => lines.push(format!(
            "  would be adopted: {}{} — accepted by {}; refusing: {}",
            value(Some(adopted)),
            if zone.tabled_passes {
                " (as tabled)".to_string()
            } else {
                format!(" (tabled: {})", value(zone.tabled.as_ref()))
            },
            codes(&zone.accepting, 8),
            codes(&zone.refusing, 8)
        )),
        None => lines.push(format!(
            "  nothing passes; the most supported value is {} ({:.1}% of the weight); refusing it: {}",
            value(zone.most_supported.as_ref()),
            100.0 * zone.most_support,
            codes(&zone.refusing, 8)
        )),
    }
    for line in &zone.explanation {
        lines.push(format!("  {line}"));
    }
    lines
}

/// The compromise mean of the positions after pressure: each member's Friedkin–Johnsen
/// equilibrium position (from `pressure`, model friedkin_johnsen) weighted by its capability ×
/// salience in `bargaining` (the weight the bargaining policy reports). `None` when either
/// decision lacks the figures.
pub fn compromise_after_pressure(bargaining: &Decision, pressure: &Decision) -> Option<f64> {
    let mut sum = 0.0;
    let mut weight = 0.0;
    for result in &bargaining.member_results {
        let w = result.weight;
        if w.is_nan() || w <= 0.0 || !result.metrics.contains_key("position") {
            continue;
        }
        let x = pressure
            .member_results
            .iter()
            .find(|r| r.member == result.member)
            .and_then(|r| r.metrics.get("equilibrium_position"))?;
        sum += w * x;
        weight += w;
    }
    (weight > 0.0).then(|| sum / weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(days_from_civil(2026, 9, 30), 20_726);
        assert_eq!(date_text(20_726.0), "2026-09-30");
        assert_eq!(date_text(20_726.6), "2026-10-01");
    }
}
