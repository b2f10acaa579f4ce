//! Timestamps as Appwrite stores and prints them: UTC, millisecond precision, rendered as
//! `2024-05-01T12:34:56.789+00:00` (`DateTime::formatTz`, format `Y-m-d\TH:i:s.vP`).

use chrono::{DateTime, DurationRound, NaiveDate, NaiveDateTime, TimeDelta, Utc};

pub type Timestamp = DateTime<Utc>;

/// The current time, truncated to milliseconds like MariaDB's `DATETIME(3)` columns.
pub fn now() -> Timestamp {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(now)
}

pub fn format(ts: &Timestamp) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

/// Parses the date formats PHP's `new \DateTime()` accepts in practice: RFC 3339 / ISO 8601
/// with an offset, a naive date-time (taken as UTC, with `T` or a space) or a bare date.
pub fn parse(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(value) {
        return Some(ts.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

/// Parses and truncates to milliseconds, the precision values are stored with.
pub fn parse_stored(value: &str) -> Option<Timestamp> {
    parse(value).map(|ts| ts.duration_trunc(TimeDelta::milliseconds(1)).unwrap_or(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_millis_and_utc_offset() {
        let ts = parse("2024-05-01T14:34:56.789+02:00").unwrap();
        assert_eq!(format(&ts), "2024-05-01T12:34:56.789+00:00");
        assert_eq!(format(&parse("2024-05-01").unwrap()), "2024-05-01T00:00:00.000+00:00");
        assert!(parse("yesterday-ish").is_none());
    }
}
