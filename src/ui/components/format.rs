//! How numbers and times are written on screen.

/// Whole currency units with thousands separators: `$12,500`.
pub fn money(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}")
}

/// `HH:MM:SS.mmm` UTC of a millisecond timestamp.
pub fn clock(ms: i64) -> String {
    let ms_of_day = ms.rem_euclid(86_400_000);
    let (h, m, s, milli) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{h:02}:{m:02}:{s:02}.{milli:03}")
}

/// `YYYY-MM-DD HH:MM` UTC of a millisecond timestamp.
pub fn day_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// What is left of a lease, roughly: `29 min left`, `45 s left`, and once it ran out
/// `expiring…` (until the expiry pass gives the lead back).
pub fn time_left(ms: i64) -> String {
    match ms {
        ..=0 => "expiring…".into(),
        1..=59_999 => format!("{} s left", (ms + 999) / 1000),
        _ => format!("{} min left", (ms + 59_999) / 60_000),
    }
}

/// A span of time as a person says it, to the unit below the largest: "45 s", "12 min",
/// "3 h 5 min", "2 d 4 h".
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    match () {
        _ if m == 0 => format!("{s} s"),
        _ if h == 0 => format!("{m} min"),
        _ if d == 0 => format!("{h} h {} min", m % 60),
        _ => format!("{d} d {} h", h % 24),
    }
}

/// Who else has a lead open: "bob is viewing", "bob and carol are viewing", "bob, carol and 2
/// others are viewing"; None when nobody else does.
pub fn viewing(users: &[crate::domain::Username]) -> Option<String> {
    Some(match users {
        [] => return None,
        [one] => format!("{one} is viewing"),
        [a, b] => format!("{a} and {b} are viewing"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} others are viewing", rest.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_name_two_units_at_most() {
        assert_eq!(duration(-5), "0 s");
        assert_eq!(duration(45_999), "45 s");
        assert_eq!(duration(12 * 60_000 + 30_000), "12 min");
        assert_eq!(duration((3 * 60 + 5) * 60_000), "3 h 5 min");
        assert_eq!(duration((52 * 60 + 1) * 60_000), "2 d 4 h");
    }

    #[test]
    fn viewers_are_named_up_to_two() {
        let users: Vec<_> = ["bob", "carol", "dave", "erin"].map(|u| crate::domain::Username::parse(u).unwrap()).into();
        assert_eq!(viewing(&users[..0]), None);
        assert_eq!(viewing(&users[..1]).unwrap(), "bob is viewing");
        assert_eq!(viewing(&users[..2]).unwrap(), "bob and carol are viewing");
        assert_eq!(viewing(&users).unwrap(), "bob, carol and 2 others are viewing");
    }

    #[test]
    fn time_left_rounds_up() {
        assert_eq!(time_left(30 * 60_000), "30 min left");
        assert_eq!(time_left(29 * 60_000 + 1), "30 min left");
        assert_eq!(time_left(60_000), "1 min left");
        assert_eq!(time_left(44_001), "45 s left");
        assert_eq!((time_left(0), time_left(-5)), ("expiring…".to_string(), "expiring…".to_string()));
    }

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(0), "$0");
        assert_eq!(money(999), "$999");
        assert_eq!(money(1_000), "$1,000");
        assert_eq!(money(61_250), "$61,250");
        assert_eq!(money(1_234_567), "$1,234,567");
    }

    #[test]
    fn clock_formats_utc_milliseconds() {
        assert_eq!(clock(0), "00:00:00.000");
        assert_eq!(clock(86_400_000 + 3_723_004), "01:02:03.004");
        assert_eq!(day_time(86_400_000 + 3_723_004), "1970-01-02 01:02");
    }
}
