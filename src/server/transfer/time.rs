//! Times in CSV files: written as RFC 3339 in UTC; read from what spreadsheets and CRMs write.

use crate::domain::Millis;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

pub fn write(at: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(at)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// RFC 3339 (`2026-03-01T09:30:00Z`, any offset), `2026-03-01 09:30[:00]` and `2026-03-01`
/// (taken as UTC), or Unix milliseconds.
pub fn read(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
    }
    s.parse::<Millis>().ok().filter(|ms| *ms >= 0)
}

const DAY_MS: Millis = 86_400_000;

/// The period `from..to` of a history export from its first and last day (`to` included):
/// up to and including `now` (an event of this very millisecond too), and from 7 days before the
/// end, when not given.
pub fn period(from: Option<&str>, to: Option<&str>, now: Millis) -> Result<(Millis, Millis), String> {
    let day = |s: Option<&str>, what: &str| {
        s.filter(|s| !s.trim().is_empty())
            .map(|s| read(s).ok_or_else(|| format!("{what} is not a date like 2026-03-01: {s:?}")))
            .transpose()
    };
    let to = day(to, "to")?.map_or(now + 1, |t| t + DAY_MS);
    let from = day(from, "from")?.unwrap_or(to - 7 * DAY_MS);
    if from >= to {
        return Err("from must be before to".into());
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_back_as_written_and_in_common_spellings() {
        let at = 1_772_357_400_123;
        assert_eq!(write(at), "2026-03-01T09:30:00.123Z");
        assert_eq!(read(&write(at)), Some(at));
        assert_eq!(read("2026-03-01T10:30:00.123+01:00"), Some(at));
        assert_eq!(read("2026-03-01 09:30"), Some(at - 123));
        assert_eq!(read("2026-03-01"), Some(at - 123 - (9 * 60 + 30) * 60_000));
        assert_eq!(read("1772357400123"), Some(at));
        assert_eq!(read("yesterday"), None);
        assert_eq!(read("01/03/2026"), None, "ambiguous day/month orders are refused");
    }

    #[test]
    fn a_period_includes_its_last_day_and_defaults_to_a_week() {
        let day = 86_400_000;
        let (from, to) = period(Some("2026-03-01"), Some("2026-03-01"), 0).unwrap();
        assert_eq!(to - from, day);
        assert_eq!(period(None, None, 10 * day).unwrap(), (3 * day + 1, 10 * day + 1), "now included");
        assert!(period(Some("2026-03-02"), Some("2026-03-01"), 0).is_err());
        assert!(period(Some("March"), None, 0).unwrap_err().contains("from is not a date"));
    }
}
