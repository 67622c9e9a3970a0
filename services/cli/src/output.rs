//! Output helpers: JSON documents and lines, comfy-table tables, aligned `field: value` records,
//! words for enum values, dates, timestamps, positions and decisions, resource names from what
//! the user typed, and the one-line form of a gRPC status.

use std::fmt::Display;
use std::io::{ErrorKind, Write};

use accord_proto::v1::{
    Choice, Date, Decision, MemberStatus, MissionArea, MissionStatus, Outcome, ParameterType,
    PartnerCategory, PolicyHealth, PolicyIdentity, Position, Procedure, ProposalEventType,
    ProposalState, SummitParticipation, position,
};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use tonic::Code;

/// Writes `value` and a newline to stdout. A closed pipe (`accord … | head`) ends the process
/// quietly instead of panicking.
pub fn print(value: impl Display) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{value}").and_then(|()| out.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

/// Prints one JSON document, indented.
pub fn print_json(value: &serde_json::Value) {
    print(serde_json::to_string_pretty(value).expect("a JSON value serialises"));
}

/// Prints one JSON value on one line (for streams: one object per line).
pub fn print_json_line(value: &serde_json::Value) {
    print(serde_json::to_string(value).expect("a JSON value serialises"));
}

/// The canonical name of a gRPC code, e.g. `NOT_FOUND`.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `CODE: message` for a status.
pub fn status_line(status: &tonic::Status) -> String {
    let message = status.message().trim();
    if message.is_empty() {
        code_name(status.code()).to_string()
    } else {
        format!("{}: {message}", code_name(status.code()))
    }
}

/// `text` with its line breaks turned into spaces.
pub fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A table with `header`, in the style every command uses.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    table
}

/// Right-aligns the columns at `indices` (numbers).
pub fn align_right(table: &mut Table, indices: &[usize]) {
    for &i in indices {
        if let Some(column) = table.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Prints `label: value` lines with the values aligned; empty values are left out.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    for (label, value) in fields {
        if !value.is_empty() {
            print(format!(
                "{label:<width$}  {value}",
                label = format!("{label}:")
            ));
        }
    }
}

/// `SOME_PREFIX_DRAWING_DOWN` → `drawing-down`.
pub fn enum_word(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace('_', "-")
}

macro_rules! enum_words {
    ($($(#[$doc:meta])* $fn:ident: $ty:ty, $prefix:literal;)*) => {$(
        $(#[$doc])*
        pub fn $fn(value: i32) -> String {
            match <$ty>::try_from(value) {
                Ok(v) => enum_word(v.as_str_name(), $prefix),
                Err(_) => format!("unknown ({value})"),
            }
        }
    )*};
}

enum_words! {
    /// A member status in words ("active").
    member_status: MemberStatus, "MEMBER_STATUS_";
    /// A mission status in words ("drawing-down").
    mission_status: MissionStatus, "MISSION_STATUS_";
    /// A mission area in words ("in-area").
    mission_area: MissionArea, "MISSION_AREA_";
    /// A partner category in words ("indo-pacific").
    partner_category: PartnerCategory, "PARTNER_CATEGORY_";
    /// A summit participation in words ("restricted").
    participation: SummitParticipation, "SUMMIT_PARTICIPATION_";
    /// A choice in words ("support").
    choice: Choice, "CHOICE_";
    /// An outcome in words ("adopted").
    outcome: Outcome, "OUTCOME_";
    /// A proposal state in words ("open").
    proposal_state: ProposalState, "PROPOSAL_STATE_";
    /// A procedure in words ("open-vote").
    procedure: Procedure, "PROCEDURE_";
    /// A policy health in words ("healthy").
    policy_health: PolicyHealth, "POLICY_HEALTH_";
    /// A parameter type in words ("member-numbers").
    parameter_type: ParameterType, "PARAMETER_TYPE_";
    /// An event type in words ("ballot-cast").
    event_type: ProposalEventType, "PROPOSAL_EVENT_TYPE_";
}

/// The id at the end of a resource name ("members/USA" → "USA").
pub fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// The resource name for what the user typed: a bare id gets `{collection}/` in front
/// (upper-cased when `upper`); anything with a slash is sent as it is.
pub fn resource_name(collection: &str, input: &str, upper: bool) -> String {
    let input = input.trim();
    if input.contains('/') {
        input.to_string()
    } else if upper {
        format!("{collection}/{}", input.to_ascii_uppercase())
    } else {
        format!("{collection}/{input}")
    }
}

/// Member names as codes, at most `max` of them ("DEU, FRA, … (+3 more)"); "none" when empty.
pub fn member_codes(names: &[String], max: usize) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    let mut text = names
        .iter()
        .take(max)
        .map(|n| short(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > max {
        text.push_str(&format!(", … (+{} more)", names.len() - max));
    }
    text
}

/// A date as `YYYY-MM-DD`; empty when unset.
pub fn date(date: Option<&Date>) -> String {
    match date {
        Some(d) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        None => String::new(),
    }
}

/// A timestamp as RFC 3339 (UTC, seconds); empty when unset.
pub fn timestamp(ts: Option<&prost_types::Timestamp>) -> String {
    let Some(ts) = ts else {
        return String::new();
    };
    match chrono::DateTime::from_timestamp(ts.seconds, ts.nanos.max(0) as u32) {
        Some(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => format!("{}s", ts.seconds),
    }
}

/// A number without needless decimals ("2500", "0.65").
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A position ("2027-03-31" or "2500"); empty when unset.
pub fn position(position: Option<&Position>) -> String {
    match position.and_then(|p| p.value.as_ref()) {
        Some(position::Value::Date(d)) => date(Some(d)),
        Some(position::Value::Amount(a)) => number(*a),
        None => String::new(),
    }
}

/// A share as a percentage ("66.7%").
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// An optional number with `decimals`; "-" when missing.
pub fn optional(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) => format!("{v:.decimals$}"),
        None => "-".to_string(),
    }
}

/// A policy identity: "unanimity 1.0.0 (sha256 0123456789ab)".
pub fn identity(identity: Option<&PolicyIdentity>) -> String {
    match identity {
        Some(p) if !p.library_sha256.is_empty() => format!(
            "{} {} (sha256 {})",
            p.policy_id,
            p.version,
            sha_prefix(&p.library_sha256)
        ),
        Some(p) => format!("{} {}", p.policy_id, p.version),
        None => String::new(),
    }
}

/// The first 12 hex digits of a SHA-256.
pub fn sha_prefix(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// A decision in readable lines: outcome, support, blockers, pivotal members, probability,
/// holdouts, forecast, metrics and the explanation.
pub fn decision_lines(decision: &Decision) -> Vec<String> {
    let mut lines = Vec::new();
    let by = identity(decision.policy.as_ref());
    lines.push(format!(
        "Decision{}: {}{}",
        if by.is_empty() {
            String::new()
        } else {
            format!(" by {by}")
        },
        outcome(decision.outcome),
        if decision.settled {
            " (settled)"
        } else {
            " (not settled)"
        }
    ));
    let mut fields: Vec<(&str, String)> = vec![
        ("support", percent(decision.support_share)),
        ("blockers", member_codes(&decision.blockers, 12)),
        ("pivotal", member_codes(&decision.pivotal_members, 12)),
    ];
    if let Some(p) = decision.adoption_probability {
        fields.push(("P(adopted)", format!("{p:.3}")));
    }
    if !decision.likely_holdouts.is_empty() {
        fields.push((
            "likely holdouts",
            member_codes(&decision.likely_holdouts, 8),
        ));
    }
    let forecast = position(decision.forecast_position.as_ref());
    if !forecast.is_empty() {
        fields.push(("forecast", forecast));
    }
    if !decision.metrics.is_empty() {
        let mut metrics: Vec<_> = decision.metrics.iter().collect();
        metrics.sort_by(|a, b| a.0.cmp(b.0));
        fields.push((
            "metrics",
            metrics
                .iter()
                .map(|(k, v)| format!("{k}={}", number(**v)))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    for (label, value) in fields {
        lines.push(format!("  {:<width$}  {value}", format!("{label}:")));
    }
    if !decision.explanation.is_empty() {
        lines.push("  explanation:".to_string());
        for line in &decision.explanation {
            lines.push(format!("    {line}"));
        }
    }
    lines
}

/// Prints a decision.
pub fn print_decision(decision: &Decision) {
    for line in decision_lines(decision) {
        print(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_names_and_numbers() {
        assert_eq!(
            mission_status(MissionStatus::DrawingDown as i32),
            "drawing-down"
        );
        assert_eq!(member_status(MemberStatus::Active as i32), "active");
        assert_eq!(member_status(99), "unknown (99)");
        assert_eq!(resource_name("members", "usa", true), "members/USA");
        assert_eq!(resource_name("members", "members/USA", true), "members/USA");
        assert_eq!(resource_name("proposals", "3", false), "proposals/3");
        assert_eq!(number(2500.0), "2500");
        assert_eq!(number(0.65), "0.65");
        assert_eq!(percent(2.0 / 3.0), "66.7%");
        assert_eq!(
            member_codes(&["members/DEU".into(), "members/FRA".into()], 1),
            "DEU, … (+1 more)"
        );
        assert_eq!(
            status_line(&tonic::Status::not_found("member members/XXX not found")),
            "NOT_FOUND: member members/XXX not found"
        );
        assert_eq!(one_line("a\nb\r\n c"), "a b c");
        assert_eq!(
            timestamp(Some(&prost_types::Timestamp {
                seconds: 0,
                nanos: 0
            })),
            "1970-01-01T00:00:00Z"
        );
    }
}
