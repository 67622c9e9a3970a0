//! The `model = friedkin_johnsen` decision: positions pulled towards the lead nation's, at
//! equilibrium, and who still blocks the proposal as tabled.
//!
//! Guarantee: the post-pressure positions are the closed-form Friedkin–Johnsen equilibrium of the
//! lead-nation network ([`crate::influence::LeadNetwork`]), solved as a linear system, and the
//! reported smallest pressure is exact (from each member's acceptance interval), not searched.
//!
//! Reading of the request (see docs/policies.md, "pressure", "Friedkin–Johnsen"):
//! - the tabled value `T` is the proposal's quantity (an end date, or a personnel ceiling); the
//!   lead's position is its ballot's, or `T` when its ballot has none; with neither, the
//!   request is invalid;
//! - every other eligible member with a position follows the network: its tie to the lead is its
//!   susceptibility (override or the documented default), its stubbornness its salience;
//! - a member accepts when its equilibrium position lies within `d = tolerance · Δ₀` of `T`,
//!   `Δ₀` the range of the initial positions, the lead's and `T` (the lead itself is judged the
//!   same way but does not move);
//! - a member without a position counts by its ballot: an objection blocks and no pressure
//!   moves it; a member without a ballot follows the lead (silence = consent).

use std::collections::BTreeMap;

use accord_policy_sdk::Request;
use accord_policy_sdk::proto::{Choice, Decision, MemberResult, Outcome};
use accord_policy_sdk::quantity::{self, QuantityKind};
use accord_policy_sdk::request::{Electorate, deadline_passed, member_name};
use accord_policy_sdk::{PolicyError, proto::MemberStatus};

use crate::influence::{Acceptance, Follower, LeadNetwork};
use crate::{Settings, Ties, check_overrides, format_pressure, resistance};

/// How one member stands after pressure.
struct Standing {
    position: Option<f64>,
    equilibrium: Option<f64>,
    influence: f64,
    tie: f64,
    salience: f64,
    blocks: bool,
    acceptance: Option<Acceptance>,
}

pub(crate) fn decide(
    request: &Request<'_>,
    electorate: &Electorate<'_>,
    settings: &Settings,
    overrides: &BTreeMap<String, f64>,
) -> Result<Decision, PolicyError> {
    let lead_code = settings.lead.as_str();
    let Some(lead_member) = request.members().iter().find(|m| m.code == lead_code) else {
        return Err(PolicyError::parameter(
            "lead",
            format!("the request has no member {lead_code}"),
        ));
    };
    if lead_member.status != MemberStatus::Active as i32 {
        return Err(PolicyError::InvalidRequest(format!(
            "the lead nation {lead_code} is not an active member"
        )));
    }
    check_overrides(request, overrides)?;
    let voters = electorate.members();
    let lead_index = voters
        .iter()
        .position(|v| v.code == lead_code)
        .ok_or_else(|| {
            PolicyError::InvalidRequest(format!("the lead nation {lead_code} is not eligible"))
        })?;

    // Positions, all of one kind, and the tabled value.
    let tabled = match &request.proposal {
        Some(p) => quantity::tabled(p)?,
        None => None,
    };
    let mut kind = tabled.map(|t| t.kind);
    let mut positions = Vec::with_capacity(voters.len());
    for v in voters {
        let q = match v.ballot.and_then(|b| b.position.as_ref()) {
            Some(p) => quantity::position(p, &format!("the position of {}", v.code))?,
            None => None,
        };
        if let Some(q) = q {
            if kind.is_some_and(|k| k != q.kind) {
                return Err(PolicyError::InvalidRequest(format!(
                    "the position of {} is of another kind ({}) than the proposal's quantity",
                    v.code,
                    q.kind.label()
                )));
            }
            kind = Some(q.kind);
        }
        positions.push(q.map(|q| q.value));
    }
    let lead_position = positions[lead_index].or(tabled.map(|t| t.value));
    let (Some(lead_position), Some(kind)) = (lead_position, kind) else {
        return Err(PolicyError::InvalidRequest(format!(
            "model = friedkin_johnsen needs positions: the proposal tables no quantity and the \
             lead {lead_code} states no position"
        )));
    };
    let target = tabled.map_or(lead_position, |t| t.value);

    let ties = Ties::new(lead_member, lead_code);
    let mut followers = Vec::new();
    let mut follower_of = vec![None; voters.len()];
    let mut standings = Vec::with_capacity(voters.len());
    for (m, v) in voters.iter().enumerate() {
        let tie = ties.susceptibility(v, overrides);
        let salience = resistance(v, settings.default_salience)?;
        match positions[m] {
            Some(x) if m != lead_index => {
                follower_of[m] = Some(followers.len());
                followers.push(Follower {
                    position: x,
                    tie,
                    salience,
                });
            }
            _ => {}
        }
        standings.push(Standing {
            position: positions[m],
            equilibrium: None,
            influence: 0.0,
            tie,
            salience,
            blocks: false,
            acceptance: None,
        });
    }
    let network = LeadNetwork {
        lead_position,
        followers,
    };
    let pressure = settings.dynamics.pressure;
    let equilibrium = network
        .equilibrium(pressure)
        .map_err(|e| PolicyError::Failed(e.to_string()))?;

    let (mut lo, mut hi) = (target.min(lead_position), target.max(lead_position));
    for x in positions.iter().flatten() {
        lo = lo.min(*x);
        hi = hi.max(*x);
    }
    let span = hi - lo;
    let distance = settings.tolerance * span;
    let eps = 1e-9 * (1.0 + span + target.abs());
    let far = |x: f64| (x - target).abs() > distance + eps;

    for (m, v) in voters.iter().enumerate() {
        let st = &mut standings[m];
        if m == lead_index {
            st.equilibrium = Some(lead_position);
            st.blocks = far(lead_position);
            st.acceptance = (!st.blocks).then_some(Acceptance {
                lo: 0.0,
                hi: f64::INFINITY,
                open_at_zero: false,
            });
        } else if let Some(k) = follower_of[m] {
            st.equilibrium = Some(equilibrium[k]);
            st.influence = network.influence(pressure, k);
            st.blocks = far(equilibrium[k]);
            st.acceptance = network.acceptance(k, target, distance);
        } else {
            st.blocks = v.choice() == Choice::Object;
            st.acceptance = (!st.blocks).then_some(Acceptance {
                lo: 0.0,
                hi: f64::INFINITY,
                open_at_zero: false,
            });
        }
    }

    // The smallest pressure at which nobody blocks: the lower end of the intersection of every
    // member's acceptance interval.
    let mut smallest: Option<(f64, bool)> = Some((0.0, false));
    let mut upper = f64::INFINITY;
    for st in &standings {
        match (st.acceptance, smallest) {
            (Some(a), Some((lo, open))) => {
                smallest = Some(if a.lo > lo {
                    (a.lo, false)
                } else if a.lo == lo {
                    (lo, open || a.open_at_zero)
                } else {
                    (lo, open)
                });
                upper = upper.min(a.hi);
            }
            _ => smallest = None,
        }
    }
    let smallest = smallest.filter(|(lo, open)| {
        if *open {
            upper > *lo
        } else {
            upper >= *lo * (1.0 - 1e-12)
        }
    });
    let last_to_give_way = smallest.and_then(|(p, _)| {
        (p > 0.0).then(|| {
            (0..voters.len())
                .filter(|&m| standings[m].acceptance.is_some_and(|a| a.lo == p))
                .map(|m| voters[m].code)
                .collect::<Vec<_>>()
        })
    });

    let blocking: Vec<usize> = (0..voters.len()).filter(|&m| standings[m].blocks).collect();
    let outcome = if blocking.is_empty() {
        Outcome::Adopted
    } else {
        Outcome::Rejected
    };
    // Holdouts: blockers needing the most pressure first (never moved by any: first of all).
    let need = |m: usize| standings[m].acceptance.map_or(f64::INFINITY, |a| a.lo);
    let mut holdouts = blocking.clone();
    holdouts.sort_by(|&a, &b| need(b).total_cmp(&need(a)).then(a.cmp(&b)));

    let counted = |m: usize| -> Choice {
        let st = &standings[m];
        if st.blocks {
            Choice::Object
        } else if voters[m].choice() == Choice::Abstain {
            Choice::Abstain
        } else {
            Choice::Support
        }
    };
    let supporters = (0..voters.len())
        .filter(|&m| counted(m) == Choice::Support)
        .count();
    let member_results = voters
        .iter()
        .enumerate()
        .map(|(m, v)| {
            let st = &standings[m];
            let mut metrics = BTreeMap::from([
                ("susceptibility".to_string(), st.tie),
                ("resistance".to_string(), st.salience),
            ]);
            if let (Some(x), Some(e)) = (st.position, st.equilibrium) {
                metrics.insert("position".to_string(), x);
                metrics.insert("equilibrium_position".to_string(), e);
                metrics.insert("influence_weight".to_string(), st.influence);
            }
            if let Some(a) = st.acceptance {
                metrics.insert("give_way_pressure".to_string(), a.lo);
            }
            MemberResult {
                member: member_name(v.code),
                cast_choice: v.choice() as i32,
                counted_choice: counted(m) as i32,
                weight: 1.0,
                blocker: st.blocks,
                pivotal: blocking.len() == 1 && blocking[0] == m,
                metrics,
            }
        })
        .collect();

    let fmt = |x: f64| quantity::format_value(kind, x);
    let unit = kind.unit();
    let mut lines = vec![
        format!(
            "Lead-nation pressure, Friedkin–Johnsen model (a scenario tool, not a validated \
             model): each member moves towards the lead {lead_code} at {} with influence weight \
             w = min(1, {} × susceptibility), held back by its salience (stubbornness); \
             equilibrium x* = (I − ΛW)⁻¹(I − Λ)x(0), Λ = diag(1 − salience).",
            fmt(lead_position),
            pressure
        ),
        format!(
            "The proposal as tabled: {}; a member accepts when its equilibrium position lies \
             within {} × range {} = {} {unit} of it; members without a position count by their \
             ballot, members without a ballot follow the lead.",
            fmt(target),
            settings.tolerance,
            quantity::format_value(QuantityKind::Amount, span),
            quantity::format_value(QuantityKind::Amount, distance)
        ),
    ];
    for (m, v) in voters.iter().enumerate() {
        let st = &standings[m];
        if m == lead_index {
            continue;
        }
        let Some(x) = st.position else {
            if st.blocks {
                lines.push(format!(
                    "{}: objects without a position: no pressure moves it.",
                    v.code
                ));
            }
            continue;
        };
        let e = st.equilibrium.unwrap_or(x);
        let give_way = match st.acceptance {
            None => "no pressure brings it within reach".to_string(),
            Some(a) if a.lo == 0.0 && !a.open_at_zero && !st.blocks => String::new(),
            Some(a) => format!(
                "gives way from pressure {}",
                format_pressure(a.lo, a.open_at_zero)
            ),
        };
        lines.push(format!(
            "{}: susceptibility {:.2} → weight {:.2}, salience {:.2}: {} → {}{}{}",
            v.code,
            st.tie,
            st.influence,
            st.salience,
            fmt(x),
            fmt(e),
            if st.blocks { ", blocks" } else { ", accepts" },
            if give_way.is_empty() {
                String::new()
            } else {
                format!(" ({give_way})")
            }
        ));
    }
    let blocking_codes: Vec<&str> = holdouts.iter().map(|&m| voters[m].code).collect();
    lines.push(if blocking.is_empty() {
        format!(
            "At pressure {pressure} nobody blocks: adopted as tabled ({supporters} of {} support).",
            voters.len()
        )
    } else {
        format!(
            "At pressure {pressure} {} member(s) still block: {} → rejected as tabled.",
            blocking.len(),
            blocking_codes.join(", ")
        )
    });
    lines.push(match (&smallest, &last_to_give_way) {
        (Some((p, open)), Some(last)) if *p > 0.0 => format!(
            "Smallest pressure at which nobody blocks: {} (the last to give way: {}).",
            format_pressure(*p, *open),
            last.join(", ")
        ),
        (Some((p, open)), _) => format!(
            "Smallest pressure at which nobody blocks: {}.",
            format_pressure(*p, *open)
        ),
        (None, _) => "No pressure makes every member accept the proposal as tabled.".to_string(),
    });

    let mut metrics = BTreeMap::from([
        ("tabled".to_string(), target),
        ("lead_position".to_string(), lead_position),
        ("acceptable_distance".to_string(), distance),
        ("blocking".to_string(), blocking.len() as f64),
        ("pressure".to_string(), pressure),
    ]);
    if let Some((p, _)) = smallest {
        metrics.insert("smallest_pressure".to_string(), p);
    }
    Ok(Decision {
        outcome: outcome as i32,
        settled: deadline_passed(request),
        support_share: supporters as f64 / voters.len().max(1) as f64,
        member_results,
        blockers: blocking
            .iter()
            .map(|&m| member_name(voters[m].code))
            .collect(),
        pivotal_members: Vec::new(),
        explanation: lines,
        metrics,
        adoption_probability: None,
        likely_holdouts: holdouts
            .iter()
            .map(|&m| member_name(voters[m].code))
            .collect(),
        forecast_position: None,
        policy: None,
    })
}
