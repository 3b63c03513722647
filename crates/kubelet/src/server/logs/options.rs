//! The query of `/containerLogs` (a v1 `PodLogOptions`), decoded and checked like upstream's kubelet.

use chrono::{DateTime, FixedOffset, Utc};

/// What the client asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming while the container runs.
    pub follow: bool,
    /// The previous, terminated instance of the container.
    pub previous: bool,
    /// Prefix each line with its timestamp.
    pub timestamps: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// At most this many bytes.
    pub limit_bytes: Option<i64>,
    /// Records older than this are skipped (from `sinceSeconds` or `sinceTime`).
    pub since: Option<DateTime<FixedOffset>>,
}

/// A query that does not decode or is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// A value of the wrong type (upstream answers 400).
    Decode,
    /// Values that fail `ValidatePodLogOptions` (upstream answers 422).
    Invalid,
}

/// Decodes `raw` (the URL query) as of `now`.
pub fn parse(raw: &str, now: DateTime<Utc>) -> Result<LogOptions, OptionsError> {
    let mut options = LogOptions::default();
    let mut since_seconds: Option<i64> = None;
    let mut since_time: Option<DateTime<FixedOffset>> = None;
    for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
        match name.as_ref() {
            "follow" => options.follow = flag(&value)?,
            "previous" => options.previous = flag(&value)?,
            "timestamps" => options.timestamps = flag(&value)?,
            // "tail" is the old spelling; "all" means no limit.
            "tailLines" | "tail" if value == "all" => options.tail_lines = None,
            "tailLines" | "tail" => options.tail_lines = Some(number(&value)?),
            "limitBytes" => options.limit_bytes = Some(number(&value)?),
            "sinceSeconds" => since_seconds = Some(number(&value)?),
            "sinceTime" => {
                since_time =
                    Some(DateTime::parse_from_rfc3339(&value).map_err(|_| OptionsError::Decode)?)
            }
            _ => {}
        }
    }
    if options.tail_lines.is_some_and(|lines| lines < 0)
        || options.limit_bytes.is_some_and(|bytes| bytes < 1)
        || since_seconds.is_some_and(|seconds| seconds < 1)
        || (since_seconds.is_some() && since_time.is_some())
    {
        return Err(OptionsError::Invalid);
    }
    options.since = match (since_seconds, since_time) {
        (Some(seconds), _) => Some((now - chrono::Duration::seconds(seconds)).fixed_offset()),
        (None, time) => time,
    };
    Ok(options)
}

fn flag(value: &str) -> Result<bool, OptionsError> {
    match value {
        "true" | "1" | "True" | "TRUE" | "t" | "T" => Ok(true),
        "false" | "0" | "False" | "FALSE" | "f" | "F" | "" => Ok(false),
        _ => Err(OptionsError::Decode),
    }
}

fn number(value: &str) -> Result<i64, OptionsError> {
    value.parse().map_err(|_| OptionsError::Decode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:01:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn queries() {
        let options = parse(
            "follow=true&timestamps=1&tailLines=5&limitBytes=100&sinceSeconds=60",
            now(),
        )
        .expect("valid");
        assert!(options.follow && options.timestamps && !options.previous);
        assert_eq!(options.tail_lines, Some(5));
        assert_eq!(options.limit_bytes, Some(100));
        assert_eq!(
            options.since.map(|since| since.to_rfc3339()),
            Some("2024-01-01T00:00:00+00:00".to_string())
        );
        let options = parse(
            "previous=true&sinceTime=2024-01-01T00%3A00%3A30Z&tail=all",
            now(),
        )
        .expect("valid");
        assert!(options.previous);
        assert_eq!(options.tail_lines, None);
        assert_eq!(
            options.since.map(|since| since.to_rfc3339()),
            Some("2024-01-01T00:00:30+00:00".to_string())
        );
        assert_eq!(parse("", now()), Ok(LogOptions::default()));
    }

    #[test]
    fn bad_queries() {
        assert_eq!(parse("follow=maybe", now()), Err(OptionsError::Decode));
        assert_eq!(parse("tailLines=x", now()), Err(OptionsError::Decode));
        assert_eq!(parse("tailLines=-1", now()), Err(OptionsError::Invalid));
        assert_eq!(parse("limitBytes=0", now()), Err(OptionsError::Invalid));
        assert_eq!(parse("sinceSeconds=0", now()), Err(OptionsError::Invalid));
        assert_eq!(
            parse("sinceSeconds=5&sinceTime=2024-01-01T00:00:30Z", now()),
            Err(OptionsError::Invalid)
        );
    }
}
