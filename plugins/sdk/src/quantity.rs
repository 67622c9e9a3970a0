//! The quantity a proposal is about, as one number: the one place that reads a proposal's
//! tabled value and the members' preferred `Position`s, and writes a forecast back.
//!
//! Guarantee: a date and an amount are never mixed. A date is counted in whole days since
//! 1970-01-01 (proleptic Gregorian calendar, no time zone), so distances between dates are in
//! days; a number of days converts back to the nearest date. An amount (a personnel ceiling) is
//! used as it is.

use crate::PolicyError;
use crate::proto::{Date, Position, Proposal, position, proposal::Action};

/// What kind of quantity a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityKind {
    /// A calendar date, as days since 1970-01-01.
    Date,
    /// An amount, for example a personnel ceiling.
    Amount,
}

impl QuantityKind {
    /// "date" or "amount".
    pub fn label(self) -> &'static str {
        match self {
            QuantityKind::Date => "date",
            QuantityKind::Amount => "amount",
        }
    }

    /// The unit of a distance between two values: "days" or "units".
    pub fn unit(self) -> &'static str {
        match self {
            QuantityKind::Date => "days",
            QuantityKind::Amount => "units",
        }
    }
}

/// A value of a quantity: its kind and the number that stands for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity {
    /// Date or amount.
    pub kind: QuantityKind,
    /// Days since 1970-01-01 for a date; the amount itself otherwise.
    pub value: f64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of `date`, or an error naming `what` if it is not a valid date.
pub fn date_days(date: &Date, what: &str) -> Result<i64, PolicyError> {
    let valid = (1..=9999).contains(&date.year)
        && (1..=12).contains(&date.month)
        && date.day >= 1
        && (date.day as u32) <= days_in_month(i64::from(date.year), date.month as u32);
    if !valid {
        return Err(PolicyError::InvalidRequest(format!(
            "{what}: {}-{}-{} is not a valid date",
            date.year, date.month, date.day
        )));
    }
    Ok(days_from_civil(
        i64::from(date.year),
        date.month as u32,
        date.day as u32,
    ))
}

/// The date nearest to `days` (halves round away from zero), clamped to years 1 to 9999.
pub fn date_from_days(days: f64) -> Date {
    let lo = days_from_civil(1, 1, 1);
    let hi = days_from_civil(9999, 12, 31);
    let d = if days.is_finite() {
        (days.round() as i64).clamp(lo, hi)
    } else {
        lo
    };
    let (year, month, day) = civil_from_days(d);
    Date {
        year: year as i32,
        month: month as i32,
        day: day as i32,
    }
}

/// `YYYY-MM-DD`.
pub fn format_date(date: &Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

/// The value the proposal tables, if its action has a quantity: the end date of an end or
/// extend proposal, the personnel ceiling of a resize or launch proposal.
pub fn tabled(proposal: &Proposal) -> Result<Option<Quantity>, PolicyError> {
    Ok(match &proposal.action {
        Some(Action::EndMission(a)) => a
            .end_date
            .as_ref()
            .map(|d| date_days(d, "the proposal's end date"))
            .transpose()?
            .map(|days| Quantity {
                kind: QuantityKind::Date,
                value: days as f64,
            }),
        Some(Action::ExtendMission(a)) => a
            .end_date
            .as_ref()
            .map(|d| date_days(d, "the proposal's end date"))
            .transpose()?
            .map(|days| Quantity {
                kind: QuantityKind::Date,
                value: days as f64,
            }),
        Some(Action::ResizeMission(a)) => Some(Quantity {
            kind: QuantityKind::Amount,
            value: f64::from(a.personnel_ceiling),
        }),
        Some(Action::LaunchMission(a)) => Some(Quantity {
            kind: QuantityKind::Amount,
            value: f64::from(a.personnel_ceiling),
        }),
        _ => None,
    })
}

/// A ballot's position as a quantity (`None` for an empty position); `what` names it in errors.
pub fn position(position: &Position, what: &str) -> Result<Option<Quantity>, PolicyError> {
    Ok(match &position.value {
        Some(position::Value::Date(d)) => Some(Quantity {
            kind: QuantityKind::Date,
            value: date_days(d, what)? as f64,
        }),
        Some(position::Value::Amount(a)) => {
            if !a.is_finite() {
                return Err(PolicyError::InvalidRequest(format!(
                    "{what}: the amount {a} is not a finite number"
                )));
            }
            Some(Quantity {
                kind: QuantityKind::Amount,
                value: *a,
            })
        }
        None => None,
    })
}

/// The `Position` that stands for `value` of `kind` (a date is rounded to the nearest day).
pub fn to_position(kind: QuantityKind, value: f64) -> Position {
    Position {
        value: Some(match kind {
            QuantityKind::Date => position::Value::Date(date_from_days(value)),
            QuantityKind::Amount => position::Value::Amount(value),
        }),
    }
}

/// `value` for a person: a date as `YYYY-MM-DD` (nearest day), an amount with at most six
/// decimals and no trailing zeros.
pub fn format_value(kind: QuantityKind, value: f64) -> String {
    match kind {
        QuantityKind::Date => format_date(&date_from_days(value)),
        QuantityKind::Amount => {
            let text = format!("{value:.6}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            if text == "-0" {
                "0".to_string()
            } else {
                text.to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 9, 30), 20_726);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for d in [-800_000, -1, 0, 1, 59, 60, 11_016, 20_726, 2_900_000] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
        let date = date_from_days(20_726.4);
        assert_eq!(format_date(&date), "2026-09-30");
        assert_eq!(format_date(&date_from_days(20_726.5)), "2026-10-01");
    }

    #[test]
    fn invalid_dates_are_refused() {
        let bad = Date {
            year: 2026,
            month: 2,
            day: 29,
        };
        assert!(date_days(&bad, "x").is_err());
        let leap = Date {
            year: 2028,
            month: 2,
            day: 29,
        };
        assert!(date_days(&leap, "x").is_ok());
    }

    #[test]
    fn amounts_format_without_trailing_zeros() {
        assert_eq!(format_value(QuantityKind::Amount, 7.0), "7");
        assert_eq!(format_value(QuantityKind::Amount, 7.188031156), "7.188031");
        assert_eq!(format_value(QuantityKind::Amount, -0.0000001), "0");
    }
}
