//! Ages as kubectl prints them: upstream's `duration.HumanDuration` (`119s`, `5m10s`, `150m`, `7h5m`,
//! `2d4h`, `2y3d`) and the printers' `<unknown>` for objects without a creation time.

use chrono::{DateTime, TimeDelta, Utc};

/// A duration the way `kubectl get` shows ages: exact seconds under two minutes, then ever coarser
/// units; up to one second in the future still reads `0s` (clock skew), further is `<invalid>`.
pub fn human_duration(d: TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dy}d")
        };
    }
    format!("{years}y")
}

/// The age of something created at `created`, seen at `now`.
pub fn human_age(created: DateTime<Utc>, now: DateTime<Utc>) -> String {
    human_duration(now - created)
}

/// The printers' age cell for an RFC 3339 timestamp: `<unknown>` when absent or unparsable.
pub fn age_of(timestamp: Option<&str>, now: DateTime<Utc>) -> String {
    timestamp
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map_or_else(
            || "<unknown>".to_owned(),
            |created| human_age(created.with_timezone(&Utc), now),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(d: TimeDelta, expected: &str) {
        assert_eq!(human_duration(d), expected, "{d:?}");
    }

    #[test]
    fn upstream_cases() {
        // The table of apimachinery's util/duration TestHumanDuration.
        let s = TimeDelta::seconds;
        let m = TimeDelta::minutes;
        let h = TimeDelta::hours;
        check(s(1), "1s");
        check(s(70), "70s");
        check(s(190), "3m10s");
        check(m(70), "70m");
        check(h(47), "47h");
        check(h(49), "2d1h");
        check(h(8 * 24 + 2), "8d");
        check(h(367 * 24), "367d");
        check(h(365 * 2 * 24 + 25), "2y1d");
        check(h(365 * 8 * 24 + 2), "8y");
    }

    #[test]
    fn boundaries() {
        let s = TimeDelta::seconds;
        let m = TimeDelta::minutes;
        let h = TimeDelta::hours;
        check(s(0), "0s");
        check(TimeDelta::milliseconds(-1500), "0s");
        check(s(-1), "0s");
        check(s(-2), "<invalid>");
        check(s(119), "119s");
        check(s(120), "2m");
        check(s(121), "2m1s");
        check(m(9) + s(59), "9m59s");
        check(m(10), "10m");
        check(m(179), "179m");
        check(m(180), "3h");
        check(h(7) + m(59), "7h59m");
        check(h(8), "8h");
        check(h(48), "2d");
        check(h(24 * 8 - 1), "7d23h");
        check(h(24 * 8), "8d");
        check(h(24 * 365 * 2 - 1), "729d");
        check(h(24 * 365 * 2), "2y");
        check(h(24 * 365 * 8 - 1), "7y364d");
        check(h(24 * 365 * 8), "8y");
    }

    #[test]
    fn ages_from_timestamps() {
        let now =
            DateTime::parse_from_rfc3339("2025-01-01T00:10:00Z").map(|t| t.with_timezone(&Utc));
        let now = now.unwrap();
        assert_eq!(age_of(Some("2025-01-01T00:00:00Z"), now), "10m");
        assert_eq!(age_of(Some("2025-01-01T00:07:59Z"), now), "2m1s");
        assert_eq!(age_of(Some("2025-01-01T00:08:01Z"), now), "119s");
        assert_eq!(age_of(None, now), "<unknown>");
        assert_eq!(age_of(Some("yesterday"), now), "<unknown>");
    }
}
