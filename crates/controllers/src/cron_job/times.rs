//! When a CronJob should have started, as upstream's `mostRecentScheduleTime`: the latest schedule
//! time not after now since the last one (or the CronJob's creation), whether starts were missed
//! (more than 100 is "many"), and how long until the next one.

use std::time::Duration;

use jiff::Timestamp;

use super::schedule::Schedule;

/// How many missed starts are "too many".
const MANY_MISSED: i64 = 100;

/// Slack after a schedule time before the CronJob is looked at again (for clock skew).
const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

/// How many starts were missed since the earliest time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missed {
    /// None.
    None,
    /// Some, at most 100.
    Few,
    /// More than 100.
    Many,
}

/// What [`most_recent`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Recent {
    /// The last schedule time, or the creation time (moved up to the starting deadline).
    pub earliest: Timestamp,
    /// The latest schedule time in `(earliest, now]`, if any.
    pub most_recent: Option<Timestamp>,
    /// How many starts were missed.
    pub missed: Missed,
}

/// The inputs the computation takes from a CronJob.
#[derive(Debug, Clone, Copy)]
pub struct History {
    /// `metadata.creationTimestamp`.
    pub created: Timestamp,
    /// `status.lastScheduleTime`.
    pub last_schedule: Option<Timestamp>,
    /// `spec.startingDeadlineSeconds`.
    pub starting_deadline_seconds: Option<i64>,
}

/// Upstream's `mostRecentScheduleTime`. Fails when two consecutive schedule times are less than a
/// second apart (a schedule such as `0 0 31 2 *` that never comes).
pub fn most_recent(
    history: History,
    now: Timestamp,
    schedule: &Schedule,
    include_deadline: bool,
) -> Result<Recent, String> {
    let mut earliest = history.last_schedule.unwrap_or(history.created);
    if include_deadline && let Some(deadline) = history.starting_deadline_seconds {
        let limit = Timestamp::from_second(now.as_second().saturating_sub(deadline))
            .unwrap_or(Timestamp::MIN);
        if limit > earliest {
            earliest = limit;
        }
    }
    let never = || "time difference between two schedules is less than 1 second".to_owned();
    let t1 = schedule.next(earliest).ok_or_else(never)?;
    if now < t1 {
        return Ok(Recent {
            earliest,
            most_recent: None,
            missed: Missed::None,
        });
    }
    let t2 = schedule.next(t1).ok_or_else(never)?;
    if now < t2 {
        return Ok(Recent {
            earliest,
            most_recent: Some(t1),
            missed: Missed::None,
        });
    }
    let between = t2.as_second() - t1.as_second();
    if between < 1 {
        return Err(never());
    }
    // A rough count of the missed starts (the gap between the first two, repeated), then an exact
    // walk over the last stretch.
    let elapsed = now.as_second() - t1.as_second();
    let missed_count = elapsed / between + 1;
    let potential_earliest = Timestamp::from_second(
        t1.as_second()
            .saturating_add((missed_count - 2).saturating_mul(between)),
    )
    .unwrap_or(t1);
    let mut most_recent = None;
    let mut t = schedule.next(potential_earliest);
    while let Some(time) = t.filter(|time| *time <= now) {
        most_recent = Some(time);
        t = schedule.next(time);
    }
    let missed = if missed_count > MANY_MISSED {
        Missed::Many
    } else if missed_count > 0 {
        Missed::Few
    } else {
        Missed::None
    };
    Ok(Recent {
        earliest,
        most_recent,
        missed,
    })
}

/// How long until the CronJob should be looked at again (upstream's `nextScheduleTimeDuration`):
/// the schedule time after the most recent one, plus 100 ms. `None` when the schedule never comes.
pub fn until_next(history: History, now: Timestamp, schedule: &Schedule) -> Option<Duration> {
    let from = match most_recent(history, now, schedule, false) {
        Err(_) => now,
        Ok(Recent {
            most_recent: Some(time),
            ..
        }) => time,
        Ok(Recent {
            earliest,
            missed: Missed::None,
            ..
        }) => earliest,
        Ok(_) => now,
    };
    let next = schedule.next(from)?;
    let left = next.duration_since(now);
    let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
    Some(left + NEXT_SCHEDULE_DELTA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a timestamp")
    }

    fn every_minute() -> Schedule {
        Schedule::parse("*/1 * * * *", TimeZone::UTC).expect("parses")
    }

    fn history(created: &str, last: Option<&str>, deadline: Option<i64>) -> History {
        History {
            created: at(created),
            last_schedule: last.map(at),
            starting_deadline_seconds: deadline,
        }
    }

    #[test]
    fn nothing_is_due_before_the_first_schedule_time() {
        let recent = most_recent(
            history("2024-03-01T10:00:10Z", None, None),
            at("2024-03-01T10:00:50Z"),
            &every_minute(),
            true,
        )
        .expect("computes");
        assert_eq!(recent.most_recent, None);
        assert_eq!(recent.missed, Missed::None);
    }

    #[test]
    fn the_latest_missed_time_is_due() {
        let recent = most_recent(
            history("2024-03-01T09:00:00Z", Some("2024-03-01T10:00:00Z"), None),
            at("2024-03-01T10:05:30Z"),
            &every_minute(),
            true,
        )
        .expect("computes");
        assert_eq!(recent.most_recent, Some(at("2024-03-01T10:05:00Z")));
        assert_eq!(recent.missed, Missed::Few);
        // Exactly one due: none missed.
        let recent = most_recent(
            history("2024-03-01T09:00:00Z", Some("2024-03-01T10:00:00Z"), None),
            at("2024-03-01T10:01:30Z"),
            &every_minute(),
            true,
        )
        .expect("computes");
        assert_eq!(recent.most_recent, Some(at("2024-03-01T10:01:00Z")));
        assert_eq!(recent.missed, Missed::None);
    }

    #[test]
    fn more_than_a_hundred_missed_starts_are_many_unless_a_deadline_bounds_them() {
        let long_ago = history("2024-03-01T00:00:00Z", None, None);
        let now = at("2024-03-01T05:00:30Z");
        let recent = most_recent(long_ago, now, &every_minute(), true).expect("computes");
        assert_eq!(recent.missed, Missed::Many);
        assert_eq!(recent.most_recent, Some(at("2024-03-01T05:00:00Z")));
        let bounded = history("2024-03-01T00:00:00Z", None, Some(200));
        let recent = most_recent(bounded, now, &every_minute(), true).expect("computes");
        assert_eq!(recent.missed, Missed::Few);
    }

    #[test]
    fn the_next_look_is_just_after_the_next_schedule_time() {
        let left = until_next(
            history("2024-03-01T10:00:10Z", None, None),
            at("2024-03-01T10:00:50Z"),
            &every_minute(),
        );
        assert_eq!(left, Some(Duration::from_millis(10_100)));
        let never = Schedule::parse("0 0 31 2 *", TimeZone::UTC).expect("parses");
        assert!(
            most_recent(
                history("2024-03-01T10:00:10Z", None, None),
                at("2024-03-01T10:00:50Z"),
                &never,
                true
            )
            .is_err()
        );
    }
}
