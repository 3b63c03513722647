//! Cron schedules as upstream parses them (`robfig/cron/v3`'s `ParseStandard`): five fields
//! (minute, hour, day of month, month, day of week) with `*`, `?`, lists, ranges, steps and month
//! and weekday names; the descriptors `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//! `@midnight`, `@hourly` and `@every <duration>`; and a `TZ=`/`CRON_TZ=` prefix. The next time
//! after an instant follows the library's walk over the calendar in the schedule's time zone, so
//! daylight-saving changes behave as upstream's (a wall time skipped by a spring-forward change
//! does not run that day; one repeated by a fall-back change runs twice).

use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// Set in a field's bits when it was `*` or `?` (day-of-month and day-of-week then combine with
/// "and" instead of "or").
const STAR: u64 = 1 << 63;

/// Years searched ahead before a schedule is declared unsatisfiable (`31 2` never comes).
const YEAR_LIMIT: i16 = 5;

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Calendar fields evaluated in a time zone.
    Spec(Spec),
    /// `@every <duration>`: a fixed period (whole seconds, at least one).
    Every(Duration),
}

/// The calendar fields of a schedule, one bit per allowed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    zone: TimeZone,
}

/// The range and names of one field.
struct Bounds {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// Bits `start..=end` every `step`.
fn bits(start: u32, end: u32, step: u32) -> u64 {
    if step == 1 {
        return (u64::MAX >> (63 - end)) & !((1u64 << start) - 1);
    }
    (start..=end)
        .step_by(step as usize)
        .fold(0, |acc, value| acc | 1 << value)
}

/// Every value of a field, as `*`.
fn all(bounds: &Bounds) -> u64 {
    bits(bounds.min, bounds.max, 1) | STAR
}

fn parse_int(text: &str) -> Result<u32, String> {
    let value: i64 = text
        .parse()
        .map_err(|error| format!("failed to parse int from {text}: {error}"))?;
    if value < 0 {
        return Err(format!("negative number ({value}) not allowed: {text}"));
    }
    u32::try_from(value).map_err(|error| format!("failed to parse int from {text}: {error}"))
}

fn parse_int_or_name(text: &str, bounds: &Bounds) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    match bounds.names.iter().find(|(name, _)| *name == lower) {
        Some((_, value)) => Ok(*value),
        None => parse_int(text),
    }
}

/// One comma-separated part of a field: `*`, `?`, `N`, `N-M`, each optionally `/step`.
fn range(expr: &str, bounds: &Bounds) -> Result<u64, String> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_and_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_and_high.len() == 1;
    let (start, mut end, mut extra) = if matches!(low_and_high[0], "*" | "?") {
        (bounds.min, bounds.max, STAR)
    } else {
        let start = parse_int_or_name(low_and_high[0], bounds)?;
        let end = match low_and_high.len() {
            1 => start,
            2 => parse_int_or_name(low_and_high[1], bounds)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end, 0)
    };
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_int(range_and_step[1])?;
            // "N/step" means "N-max/step".
            if single {
                end = bounds.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < bounds.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            bounds.min
        ));
    }
    if end > bounds.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            bounds.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(bits(start, end, step) | extra)
}

fn field(text: &str, bounds: &Bounds) -> Result<u64, String> {
    text.split(',')
        .try_fold(0, |acc, part| Ok(acc | range(part, bounds)?))
}

/// A Go duration (`1h30m`, `90s`, `1.5h`, `500ms`).
fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_end..];
        total += number * nanos;
    }
    Some(Duration::from_nanos(total as u64))
}

fn descriptor(spec: &str, zone: TimeZone) -> Result<Schedule, String> {
    let fields = |minute, hour, dom, month, dow| {
        Ok(Schedule::Spec(Spec {
            minute,
            hour,
            dom,
            month,
            dow,
            zone: zone.clone(),
        }))
    };
    match spec {
        "@yearly" | "@annually" => fields(1, 1, 1 << DOM.min, 1 << MONTHS.min, all(&DOW)),
        "@monthly" => fields(1, 1, 1 << DOM.min, all(&MONTHS), all(&DOW)),
        "@weekly" => fields(1, 1, all(&DOM), all(&MONTHS), 1 << DOW.min),
        "@daily" | "@midnight" => fields(1, 1, all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => fields(1, all(&HOURS), all(&DOM), all(&MONTHS), all(&DOW)),
        _ => match spec.strip_prefix("@every ") {
            Some(text) => {
                let period = parse_go_duration(text.trim())
                    .ok_or_else(|| format!("failed to parse duration {spec}: {text}"))?;
                // Whole seconds, at least one (the library's `Every`).
                Ok(Schedule::Every(Duration::from_secs(
                    period.as_secs().max(1),
                )))
            }
            None => Err(format!("unrecognized descriptor: {spec}")),
        },
    }
}

impl Schedule {
    /// Parses `spec`; a schedule without a `TZ=`/`CRON_TZ=` prefix runs in `zone`.
    pub fn parse(spec: &str, zone: TimeZone) -> Result<Schedule, String> {
        if spec.is_empty() {
            return Err("empty spec string".to_owned());
        }
        let mut zone = zone;
        let mut spec = spec;
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let space = spec.find(' ').unwrap_or(spec.len());
            let equals = spec.find('=').unwrap_or(0);
            let name = &spec[equals + 1..space];
            zone = TimeZone::get(name)
                .map_err(|error| format!("provided bad location {name}: {error}"))?;
            spec = spec[space..].trim();
        }
        if spec.starts_with('@') {
            return descriptor(spec, zone);
        }
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: [{}]",
                fields.len(),
                fields.join(" ")
            ));
        }
        Ok(Schedule::Spec(Spec {
            minute: field(fields[0], &MINUTES)?,
            hour: field(fields[1], &HOURS)?,
            dom: field(fields[2], &DOM)?,
            month: field(fields[3], &MONTHS)?,
            dow: field(fields[4], &DOW)?,
            zone,
        }))
    }

    /// The first time strictly after `after` (whole seconds), or `None` when the schedule never
    /// comes within five years (`0 0 31 2 *`).
    pub fn next(&self, after: Timestamp) -> Option<Timestamp> {
        match self {
            Schedule::Every(period) => {
                let start = Timestamp::from_second(after.as_second()).ok()?;
                start
                    .checked_add(jiff::SignedDuration::try_from(*period).ok()?)
                    .ok()
            }
            Schedule::Spec(spec) => spec.next(after).map(|t| t.timestamp()),
        }
    }
}

fn has(bits: u64, value: i8) -> bool {
    u8::try_from(value).is_ok_and(|value| value < 64 && bits & (1 << value) != 0)
}

impl Spec {
    fn day_matches(&self, t: &Zoned) -> bool {
        let dom = has(self.dom, t.day());
        let dow = has(self.dow, t.weekday().to_sunday_zero_offset());
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// Midnight of `date` in the schedule's zone.
    fn midnight(&self, date: jiff::civil::Date) -> Option<Zoned> {
        date.at(0, 0, 0, 0).to_zoned(self.zone.clone()).ok()
    }

    /// `t` less `seconds` (truncation in absolute time, unambiguous around a change).
    fn back(&self, t: &Zoned, seconds: i64) -> Option<Zoned> {
        let second = t.timestamp().as_second().checked_sub(seconds)?;
        Some(
            Timestamp::from_second(second)
                .ok()?
                .to_zoned(self.zone.clone()),
        )
    }

    fn next(&self, after: Timestamp) -> Option<Zoned> {
        // The next whole second.
        let mut t = Timestamp::from_second(after.as_second().checked_add(1)?)
            .ok()?
            .to_zoned(self.zone.clone());
        let mut truncated = false;
        let year_limit = t.year().checked_add(YEAR_LIMIT)?;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while !has(self.month, t.month()) {
                if !truncated {
                    truncated = true;
                    t = self.midnight(t.date().first_of_month())?;
                }
                t = t.checked_add(1.month()).ok()?;
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&t) {
                if !truncated {
                    truncated = true;
                    t = self.midnight(t.date())?;
                }
                t = t.checked_add(1.day()).ok()?;
                // A daylight-saving change may have moved midnight: back to the day's start.
                if t.hour() != 0 {
                    let hours = i64::from(t.hour());
                    let shift = if hours > 12 { 24 - hours } else { -hours };
                    t = t.checked_add(shift.hours()).ok()?;
                }
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while !has(self.hour, t.hour()) {
                if !truncated {
                    truncated = true;
                    let seconds = i64::from(t.minute()) * 60 + i64::from(t.second());
                    t = self.back(&t, seconds)?;
                }
                t = t.checked_add(1.hour()).ok()?;
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while !has(self.minute, t.minute()) {
                if !truncated {
                    truncated = true;
                    t = self.back(&t, i64::from(t.second()))?;
                }
                t = t.checked_add(1.minute()).ok()?;
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // Seconds are always 0 in a standard schedule.
            while t.second() != 0 {
                truncated = true;
                t = t.checked_add(1.second()).ok()?;
                if t.second() == 0 {
                    continue 'wrap;
                }
            }
            return Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn next_of(spec: &str, after: &str) -> String {
        Schedule::parse(spec, TimeZone::UTC)
            .expect("parses")
            .next(utc(after))
            .map(|t| t.to_string())
            .unwrap_or_else(|| "never".to_owned())
    }

    #[test]
    fn fields_parse_like_robfig_cron() {
        assert_eq!(
            next_of("*/1 * * * *", "2024-03-01T10:00:30Z"),
            "2024-03-01T10:01:00Z"
        );
        assert_eq!(
            next_of("*/15 * * * *", "2024-03-01T10:01:00Z"),
            "2024-03-01T10:15:00Z"
        );
        assert_eq!(
            next_of("5 4 * * *", "2024-03-01T10:00:00Z"),
            "2024-03-02T04:05:00Z"
        );
        assert_eq!(
            next_of("0 0 1 jan *", "2024-03-01T00:00:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next_of("0 9 * * MON-FRI", "2024-03-01T10:00:00Z"),
            "2024-03-04T09:00:00Z"
        );
        assert_eq!(
            next_of("0 0 ? * sun", "2024-03-01T10:00:00Z"),
            "2024-03-03T00:00:00Z"
        );
        assert_eq!(
            next_of("30 1,13 * * *", "2024-03-01T10:00:00Z"),
            "2024-03-01T13:30:00Z"
        );
        assert_eq!(
            next_of("10/20 * * * *", "2024-03-01T10:31:00Z"),
            "2024-03-01T10:50:00Z"
        );
        // Day of month and day of week, both restricted: either one.
        assert_eq!(
            next_of("0 0 13 * 5", "2024-03-01T10:00:00Z"),
            "2024-03-08T00:00:00Z"
        );
        // A day that never comes.
        assert_eq!(next_of("0 0 31 2 *", "2024-03-01T10:00:00Z"), "never");
    }

    #[test]
    fn descriptors_and_every() {
        assert_eq!(
            next_of("@hourly", "2024-03-01T10:20:00Z"),
            "2024-03-01T11:00:00Z"
        );
        assert_eq!(
            next_of("@daily", "2024-03-01T10:20:00Z"),
            "2024-03-02T00:00:00Z"
        );
        assert_eq!(
            next_of("@weekly", "2024-03-01T10:20:00Z"),
            "2024-03-03T00:00:00Z"
        );
        assert_eq!(
            next_of("@monthly", "2024-03-01T10:20:00Z"),
            "2024-04-01T00:00:00Z"
        );
        assert_eq!(
            next_of("@yearly", "2024-03-01T10:20:00Z"),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            next_of("@every 90s", "2024-03-01T10:20:00Z"),
            "2024-03-01T10:21:30Z"
        );
        assert_eq!(
            next_of("@every 1h30m", "2024-03-01T10:20:00Z"),
            "2024-03-01T11:50:00Z"
        );
    }

    #[test]
    fn errors_carry_robfig_messages() {
        let error = |spec: &str| Schedule::parse(spec, TimeZone::UTC).expect_err("refused");
        assert_eq!(error(""), "empty spec string");
        assert_eq!(
            error("* * * *"),
            "expected exactly 5 fields, found 4: [* * * *]"
        );
        assert_eq!(
            error("60 * * * *"),
            "end of range (60) above maximum (59): 60"
        );
        assert_eq!(
            error("* * 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            error("5-1 * * * *"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            error("*/0 * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(error("@often"), "unrecognized descriptor: @often");
        assert!(
            error("TZ=Mars/Olympus * * * * *").starts_with("provided bad location Mars/Olympus")
        );
        assert!(error("x * * * *").starts_with("failed to parse int from x"));
    }

    #[test]
    fn time_zones_and_daylight_saving() {
        let berlin = TimeZone::get("Europe/Berlin").expect("tzdb has Europe/Berlin");
        let daily = Schedule::parse("30 2 * * *", berlin.clone()).expect("parses");
        // 2024-03-31: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
        assert_eq!(
            daily
                .next(utc("2024-03-30T02:00:00Z"))
                .map(|t| t.to_string()),
            Some("2024-04-01T00:30:00Z".to_owned())
        );
        // Before the change, 02:30 CET is 01:30 UTC.
        assert_eq!(
            daily
                .next(utc("2024-03-29T00:00:00Z"))
                .map(|t| t.to_string()),
            Some("2024-03-29T01:30:00Z".to_owned())
        );
        // 2024-10-27: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
        let first = daily.next(utc("2024-10-26T12:00:00Z")).expect("next");
        assert_eq!(first.to_string(), "2024-10-27T00:30:00Z");
        let second = daily.next(first).expect("next");
        assert_eq!(second.to_string(), "2024-10-27T01:30:00Z");
        // A midnight schedule keeps local midnight across the change.
        let midnight = Schedule::parse("0 0 * * *", berlin.clone()).expect("parses");
        assert_eq!(
            midnight
                .next(utc("2024-03-30T23:30:00Z"))
                .map(|t| t.to_string()),
            Some("2024-03-31T22:00:00Z".to_owned())
        );
        // The prefix overrides the default zone.
        let prefixed =
            Schedule::parse("CRON_TZ=America/New_York 0 9 * * *", TimeZone::UTC).expect("parses");
        assert_eq!(
            prefixed
                .next(utc("2024-07-01T00:00:00Z"))
                .map(|t| t.to_string()),
            Some("2024-07-01T13:00:00Z".to_owned())
        );
        let Schedule::Spec(spec) = daily else {
            panic!("a calendar schedule")
        };
        assert_eq!(
            spec.next(utc("2024-03-29T00:00:00Z"))
                .map(|t| t.offset().seconds()),
            Some(3600)
        );
    }
}
