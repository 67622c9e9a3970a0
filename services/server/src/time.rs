//! Time and calendar helpers: timestamps, dates, validation.

use std::time::SystemTime;

use accord_proto::v1::Date;
use chrono::{Datelike, NaiveDate};
use prost_types::Timestamp;

/// Now, as a protobuf timestamp.
/// Now, in Unix milliseconds.
pub fn now_millis() -> i64 {
    let now = now();
    now.seconds * 1000 + i64::from(now.nanos) / 1_000_000
}

/// Unix milliseconds as a timestamp.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

pub fn now() -> Timestamp {
    Timestamp::from(SystemTime::now())
}

/// `a` < `b`.
pub fn before(a: &Timestamp, b: &Timestamp) -> bool {
    (a.seconds, a.nanos) < (b.seconds, b.nanos)
}

/// The timestamp `seconds` after `t`.
pub fn plus_seconds(t: &Timestamp, seconds: i64) -> Timestamp {
    Timestamp {
        seconds: t.seconds + seconds,
        nanos: t.nanos,
    }
}

/// The calendar date of `date`, if valid.
pub fn to_naive(date: &Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
    .filter(|d| (1..=9999).contains(&d.year()))
}

/// Today's date (UTC) as a protocol date.
pub fn today() -> Date {
    let today = chrono::Utc::now().date_naive();
    Date {
        year: today.year(),
        month: today.month() as i32,
        day: today.day() as i32,
    }
}

/// `YYYY-MM-DD`.
pub fn format_date(date: &Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year, date.month, date.day)
}

/// Seconds between `a` and `b` (`b` − `a`), for scheduling.
pub fn seconds_until(a: &Timestamp, b: &Timestamp) -> f64 {
    (b.seconds - a.seconds) as f64 + (b.nanos - a.nanos) as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_validated() {
        assert!(
            to_naive(&Date {
                year: 2026,
                month: 9,
                day: 30
            })
            .is_some()
        );
        assert!(
            to_naive(&Date {
                year: 2026,
                month: 2,
                day: 29
            })
            .is_none()
        );
        assert!(
            to_naive(&Date {
                year: 2026,
                month: 13,
                day: 1
            })
            .is_none()
        );
        assert!(
            to_naive(&Date {
                year: 0,
                month: 1,
                day: 1
            })
            .is_none()
        );
        assert!(
            to_naive(&Date {
                year: 2026,
                month: -1,
                day: 1
            })
            .is_none()
        );
        assert_eq!(
            format_date(&Date {
                year: 2026,
                month: 9,
                day: 3
            }),
            "2026-09-03"
        );
    }
}
