//! Forecasts: what could pass when a proposal is about a quantity (an end date, a troop
//! ceiling) — the zone of agreement under a rule, from the members' positions and the ranges
//! their ballots accept.
//!
//! Guarantee: a pure computation over the request (no store, no policy call), deterministic,
//! with every member's range reported as used and marked stated or derived; values are never
//! mixed (dates are whole days since 1970-01-01, amounts as they are; one place,
//! `accord_policy_sdk::quantity`, converts them). The rule is documented in docs/policies.md
//! ("Zone of agreement").
//!
//! Each counted member (status active) gets a closed range of acceptable values:
//! - a stated `acceptable_range` is used as stated (an unset end is unbounded);
//! - a position without a range gives `x ± tolerance · (1 − s) · Δ₀` (`s` the salience, 0.5 when
//!   unstated; `Δ₀` the range of the positions and the tabled value) — the bargaining policy's
//!   slack — widened to include the tabled value when the member supports it;
//! - a ballot without a position counts by its choice: support accepts any value, an objection
//!   none; an abstention and a missing ballot do not stand in the way under unanimity (any
//!   value) and are not in favour of any value under qualified majority (counted, never
//!   accepting).
//!
//! Support of a value `v` = weight of the members whose range holds `v` / counted weight. A value
//! passes when its support is 1 (unanimity) or at least the quota. The values considered run
//! from the lowest to the highest value anyone names (positions, finite range ends, the tabled
//! value; amounts not below 0).

use accord_policy_sdk::quantity::{self, QuantityKind};
use accord_proto::names::{self, MEMBERS};
use accord_proto::v1::{
    AgreementRule, Ballot, Choice, Member, MemberRange, MemberStatus, Proposal, ValueInterval,
    ZoneOfAgreement, ZoneOfAgreementRequest,
};

use crate::error::{DomainError, DomainResult};

/// Default share of the range of positions a member of salience 0 accepts either side.
pub const DEFAULT_TOLERANCE: f64 = 0.1;
/// Default quota of a qualified majority: the EU Council's member threshold.
pub const DEFAULT_QUOTA: f64 = 0.55;
/// Salience of a ballot that states none.
pub const DEFAULT_SALIENCE: f64 = 0.5;
/// The weights a zone question may use, with the member attribute each reads.
pub const WEIGHTS: [(&str, Option<&str>); 4] = [
    ("equal", None),
    ("defence_spending", Some("defence_expenditure_usd_mn")),
    ("gdp", Some("gdp_usd_bn")),
    ("population", Some("population_mn")),
];

/// One counted member's range, before it is written out.
#[derive(Debug, Clone)]
struct Range {
    member: String,
    low: f64,
    high: f64,
    stated: bool,
    weight: f64,
    /// Accepts no value (objection without a position; under qualified majority also an
    /// abstention or no ballot without a position).
    nothing: bool,
    /// Neither accepting nor refusing (abstention or no ballot, under qualified majority):
    /// listed in neither list.
    neutral: bool,
}

impl Range {
    fn holds(&self, v: f64) -> bool {
        !self.nothing && self.low <= v && v <= self.high
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> DomainError {
    DomainError::invalid(field, reason)
}

fn value_of(
    kind: QuantityKind,
    position: &accord_proto::v1::Position,
    field: &str,
) -> DomainResult<Option<f64>> {
    let q = quantity::position(position, field).map_err(|e| invalid(field, e.to_string()))?;
    match q {
        Some(q) if q.kind != kind => Err(invalid(
            field,
            format!(
                "is {} {}, but the proposal's quantity is {} {}",
                article(q.kind),
                q.kind.label(),
                article(kind),
                kind.label()
            ),
        )),
        Some(q) => Ok(Some(q.value)),
        None => Ok(None),
    }
}

fn article(kind: QuantityKind) -> &'static str {
    match kind {
        QuantityKind::Date => "a",
        QuantityKind::Amount => "an",
    }
}

/// Checks a zone question's options (`field` names them in errors).
pub fn check_request(field: &str, request: &ZoneOfAgreementRequest) -> DomainResult<()> {
    AgreementRule::try_from(request.rule).map_err(|_| {
        invalid(
            &format!("{field}.rule"),
            format!("{} is unknown", request.rule),
        )
    })?;
    if let Some(q) = request.quota {
        if !(q > 0.0 && q <= 1.0) {
            return Err(invalid(
                &format!("{field}.quota"),
                format!("{q} is outside (0, 1]"),
            ));
        }
    }
    if let Some(t) = request.tolerance {
        if !(0.0..=1.0).contains(&t) {
            return Err(invalid(
                &format!("{field}.tolerance"),
                format!("{t} is outside [0, 1]"),
            ));
        }
    }
    if !request.weight.is_empty() && !WEIGHTS.iter().any(|(w, _)| *w == request.weight) {
        return Err(invalid(
            &format!("{field}.weight"),
            "is not equal, defence_spending, gdp or population",
        ));
    }
    Ok(())
}

/// Checks a ballot's acceptable range against the proposal's quantity (`field` names the
/// ballot).
pub fn check_range(proposal: &Proposal, ballot: &Ballot, field: &str) -> DomainResult<()> {
    let Some(range) = &ballot.acceptable_range else {
        return Ok(());
    };
    let field = format!("{field}.acceptable_range");
    let tabled = quantity::tabled(proposal).map_err(|e| invalid(&field, e.to_string()))?;
    let Some(tabled) = tabled else {
        return Err(invalid(
            &field,
            "the proposal has no quantity (an end date or a ceiling) to accept a range of",
        ));
    };
    let low = match &range.low {
        Some(p) => value_of(tabled.kind, p, &format!("{field}.low"))?,
        None => None,
    };
    let high = match &range.high {
        Some(p) => value_of(tabled.kind, p, &format!("{field}.high"))?,
        None => None,
    };
    if let (Some(l), Some(h)) = (low, high) {
        if l > h {
            return Err(invalid(&field, "low is above high"));
        }
    }
    Ok(())
}

/// The zone of agreement on `proposal`'s quantity among `members` (the active ones count),
/// each with its last ballot in `ballots`.
pub fn zone_of_agreement(
    proposal: &Proposal,
    members: &[Member],
    ballots: &[Ballot],
    request: &ZoneOfAgreementRequest,
) -> DomainResult<ZoneOfAgreement> {
    const FIELD: &str = "what_could_pass";
    check_request(FIELD, request)?;
    let rule = match AgreementRule::try_from(request.rule) {
        Ok(AgreementRule::QualifiedMajority) => AgreementRule::QualifiedMajority,
        _ => AgreementRule::Unanimity,
    };
    let majority = rule == AgreementRule::QualifiedMajority;
    let quota = if majority {
        request.quota.unwrap_or(DEFAULT_QUOTA)
    } else {
        1.0
    };
    let tolerance = request.tolerance.unwrap_or(DEFAULT_TOLERANCE);
    let weight_name = if request.weight.is_empty() || !majority {
        "equal"
    } else {
        request.weight.as_str()
    };
    let attribute = WEIGHTS
        .iter()
        .find(|(w, _)| *w == weight_name)
        .and_then(|(_, a)| *a);

    let tabled = quantity::tabled(proposal)
        .map_err(|e| invalid("proposal", e.to_string()))?
        .ok_or_else(|| {
            invalid(
                FIELD,
                "the proposal tables no quantity (an end date or a personnel ceiling): only end, \
                 extend, resize and launch proposals have a zone of agreement",
            )
        })?;
    let kind = tabled.kind;
    let t = tabled.value;

    // Positions and stated ranges, per counted member.
    struct Input<'a> {
        member: &'a Member,
        ballot: Option<&'a Ballot>,
        position: Option<f64>,
        low: Option<f64>,
        high: Option<f64>,
    }
    let mut inputs = Vec::new();
    for member in members
        .iter()
        .filter(|m| m.status == MemberStatus::Active as i32)
    {
        let ballot = ballots.iter().rev().find(|b| b.member == member.name);
        let what = format!("the ballot of {}", member.code);
        let position = match ballot.and_then(|b| b.position.as_ref()) {
            Some(p) => value_of(kind, p, &format!("{what}: position"))?,
            None => None,
        };
        let (low, high) = match ballot.and_then(|b| b.acceptable_range.as_ref()) {
            Some(r) => (
                match &r.low {
                    Some(p) => value_of(kind, p, &format!("{what}: acceptable_range.low"))?,
                    None => None,
                },
                match &r.high {
                    Some(p) => value_of(kind, p, &format!("{what}: acceptable_range.high"))?,
                    None => None,
                },
            ),
            None => (None, None),
        };
        inputs.push(Input {
            member,
            ballot,
            position,
            low,
            high,
        });
    }
    if inputs.is_empty() {
        return Err(DomainError::Precondition(
            "no active member takes part in decisions".into(),
        ));
    }

    // The values considered, and Δ₀.
    let named: Vec<f64> = inputs
        .iter()
        .flat_map(|i| [i.position, i.low, i.high])
        .flatten()
        .chain([t])
        .collect();
    let positions: Vec<f64> = inputs
        .iter()
        .filter_map(|i| i.position)
        .chain([t])
        .collect();
    let range0 = positions.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - positions.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut domain_low = named.iter().cloned().fold(f64::INFINITY, f64::min);
    let domain_high = named.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if kind == QuantityKind::Amount {
        domain_low = domain_low.max(0.0);
    }

    // Each member's range.
    let mut ranges = Vec::with_capacity(inputs.len());
    let mut stated = 0usize;
    let mut derived = 0usize;
    for i in &inputs {
        let weight = match attribute {
            Some(a) => i
                .member
                .attributes
                .get(a)
                .copied()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(0.0),
            None => 1.0,
        };
        let choice = i
            .ballot
            .map(|b| Choice::try_from(b.choice).unwrap_or(Choice::Unspecified))
            .unwrap_or(Choice::Unspecified);
        let mut range = Range {
            member: i.member.name.clone(),
            low: domain_low,
            high: domain_high,
            stated: false,
            weight,
            nothing: false,
            neutral: false,
        };
        let has_range = i.ballot.is_some_and(|b| b.acceptable_range.is_some());
        if has_range {
            range.low = i.low.unwrap_or(domain_low).max(domain_low);
            range.high = i.high.unwrap_or(domain_high).min(domain_high);
            range.stated = true;
            stated += 1;
        } else if let Some(x) = i.position {
            let s = i
                .ballot
                .and_then(|b| b.salience)
                .unwrap_or(DEFAULT_SALIENCE);
            let mut d = tolerance * (1.0 - s) * range0;
            if kind == QuantityKind::Date {
                d = d.floor();
            }
            range.low = x - d;
            range.high = x + d;
            if choice == Choice::Support {
                range.low = range.low.min(t);
                range.high = range.high.max(t);
            }
            range.low = range.low.max(domain_low);
            derived += 1;
        } else {
            match choice {
                Choice::Support => {}
                Choice::Object => range.nothing = true,
                _ if majority => {
                    range.nothing = true;
                    range.neutral = true;
                }
                _ => {}
            }
        }
        ranges.push(range);
    }
    let total: f64 = ranges.iter().map(|r| r.weight).sum();
    let support = |v: f64| -> f64 {
        if total <= 0.0 {
            return 0.0;
        }
        ranges
            .iter()
            .filter(|r| r.holds(v))
            .map(|r| r.weight)
            .sum::<f64>()
            / total
    };
    let passes = |s: f64| {
        if majority {
            s >= quota - 1e-12 && s > 0.0
        } else {
            s >= 1.0 - 1e-12
        }
    };

    // Breakpoints: every range end and the tabled value, within the domain.
    let mut points: Vec<f64> = ranges
        .iter()
        .filter(|r| !r.nothing)
        .flat_map(|r| [r.low, r.high])
        .chain([t, domain_low, domain_high])
        .filter(|v| *v >= domain_low && *v <= domain_high)
        .collect();
    points.sort_by(f64::total_cmp);
    points.dedup();
    // Pieces: each point, and the open gap after it; support is constant on each.
    let mut passing: Vec<(f64, f64, f64)> = Vec::new(); // low, high, least support in it
    let mut best = (t, support(t));
    for (k, &p) in points.iter().enumerate() {
        let s = support(p);
        if s > best.1 + 1e-12 || ((s - best.1).abs() <= 1e-12 && (p - t).abs() < (best.0 - t).abs())
        {
            best = (p, s);
        }
        let mut pieces = vec![(p, p, s)];
        if let Some(&next) = points.get(k + 1) {
            let mid = (p + next) / 2.0;
            let gap = support(mid);
            // Dates: only whole days count; a gap of one day holds none.
            if kind == QuantityKind::Amount || next - p >= 2.0 {
                pieces.push((p, next, gap));
            }
        }
        for (lo, hi, s) in pieces {
            if !passes(s) {
                continue;
            }
            match passing.last_mut() {
                Some(last) if last.1 >= lo => {
                    last.1 = last.1.max(hi);
                    last.2 = last.2.min(s);
                }
                _ => passing.push((lo, hi, s)),
            }
        }
    }
    // An interval made only of a gap (its ends did not pass) cannot occur: ranges are closed,
    // so an end holds at least the support of the gap next to it.

    let tabled_passes = passes(support(t));
    let adopted = if tabled_passes {
        Some(t)
    } else {
        passing
            .iter()
            .flat_map(|(lo, hi, _)| [*lo, *hi])
            .min_by(|a, b| (a - t).abs().total_cmp(&(b - t).abs()))
    };
    let focus = adopted.unwrap_or(best.0);
    let accepting: Vec<String> = ranges
        .iter()
        .filter(|r| !r.neutral && r.holds(focus))
        .map(|r| r.member.clone())
        .collect();
    let refusing: Vec<String> = ranges
        .iter()
        .filter(|r| !r.neutral && !r.holds(focus))
        .map(|r| r.member.clone())
        .collect();

    let fmt = |v: f64| quantity::format_value(kind, v);
    let pct = |s: f64| format!("{:.1}%", 100.0 * s);
    let codes = |names: &[String]| -> String {
        let codes: Vec<&str> = names
            .iter()
            .map(|n| names::parse(MEMBERS, n).unwrap_or(n))
            .collect();
        if codes.is_empty() {
            "nobody".to_string()
        } else if codes.len() > 12 {
            format!("{} and {} more", codes[..12].join(", "), codes.len() - 12)
        } else {
            codes.join(", ")
        }
    };
    let mut explanation = vec![match rule {
        AgreementRule::QualifiedMajority => format!(
            "Zone of agreement under a qualified majority: a value passes when the members \
             accepting it hold at least {} of the counted weight ({weight_name}).",
            pct(quota)
        ),
        _ => "Zone of agreement under unanimity: a value passes when every member accepts it \
              (an abstention or a missing ballot does not stand in the way)."
            .to_string(),
    }];
    let nothing = ranges.iter().filter(|r| r.nothing && !r.neutral).count();
    explanation.push(format!(
        "Ranges: {stated} stated on the ballots, {derived} derived as position ± {tolerance} · \
         (1 − salience) · {} {} (the range of the positions and the tabled value){}{}.",
        fmt_distance(kind, range0),
        kind.unit(),
        if nothing > 0 {
            format!("; {nothing} objecting without a position accept no value")
        } else {
            String::new()
        },
        if majority {
            let neutral = ranges.iter().filter(|r| r.neutral).count();
            format!("; {neutral} abstaining or silent without a position are counted but accept no value")
        } else {
            String::new()
        }
    ));
    if passing.is_empty() {
        explanation.push(format!(
            "No value passes. The most supported value, {}, is accepted by {} of the counted \
             weight; refusing it: {}.",
            fmt(best.0),
            pct(best.1),
            codes(&refusing)
        ));
    } else {
        let parts: Vec<String> = passing
            .iter()
            .map(|(lo, hi, s)| {
                if lo == hi {
                    format!("{} (support {})", fmt(*lo), pct(*s))
                } else {
                    format!(
                        "{} to {} (support at least {})",
                        fmt(*lo),
                        fmt(*hi),
                        pct(*s)
                    )
                }
            })
            .collect();
        explanation.push(format!("Values that pass: {}.", parts.join("; ")));
    }
    if tabled_passes {
        explanation.push(format!(
            "The tabled value {} passes (support {}).",
            fmt(t),
            pct(support(t))
        ));
    } else if let Some(a) = adopted {
        explanation.push(format!(
            "The tabled value {} does not pass (support {}); the passing value nearest to it, \
             {} ({} {} away), would be adopted, with {}; still refusing: {}.",
            fmt(t),
            pct(support(t)),
            fmt(a),
            fmt_distance(kind, (a - t).abs()),
            kind.unit(),
            pct(support(a)),
            codes(&refusing)
        ));
    } else {
        explanation.push(format!(
            "The tabled value {} does not pass (support {}).",
            fmt(t),
            pct(support(t))
        ));
    }

    let position = |v: f64| Some(quantity::to_position(kind, v));
    Ok(ZoneOfAgreement {
        rule: rule as i32,
        quota,
        tabled: position(t),
        tabled_passes,
        passing: passing
            .iter()
            .map(|(lo, hi, s)| ValueInterval {
                low: position(*lo),
                high: position(*hi),
                support: *s,
            })
            .collect(),
        adopted: adopted.and_then(position),
        most_supported: position(best.0),
        most_support: best.1,
        accepting,
        refusing,
        member_ranges: ranges
            .iter()
            .map(|r| MemberRange {
                member: r.member.clone(),
                low: if r.nothing { None } else { position(r.low) },
                high: if r.nothing { None } else { position(r.high) },
                stated: r.stated,
                weight: r.weight,
                accepts_nothing: r.nothing,
            })
            .collect(),
        explanation,
    })
}

fn fmt_distance(kind: QuantityKind, d: f64) -> String {
    quantity::format_value(
        QuantityKind::Amount,
        if kind == QuantityKind::Date {
            d.round()
        } else {
            d
        },
    )
}

/// True when `proposal` tables no quantity (its action has no end date or ceiling).
pub fn has_no_quantity(proposal: &Proposal) -> bool {
    !matches!(quantity::tabled(proposal), Ok(Some(_)) | Err(_))
}
