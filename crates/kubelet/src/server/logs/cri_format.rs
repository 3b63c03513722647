//! The CRI log format containerd writes container output in, one record per line:
//! `2016-10-06T00:17:09.669794202Z stdout F log content`. The tag is `F` for a full line (its
//! content keeps the trailing newline) or `P` for a partial one (a long line split by the runtime;
//! the newline that ends the record is not part of the content).

use chrono::{DateTime, FixedOffset, SecondsFormat};

/// The output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// When the runtime read the output.
    pub timestamp: DateTime<FixedOffset>,
    /// Where it came from.
    pub stream: Stream,
    /// Whether the runtime split a longer line here.
    pub partial: bool,
    /// The output itself: with its newline for full records, without for partial ones.
    pub content: &'a [u8],
}

impl Record<'_> {
    /// Whether the content ends a line, so the next record starts a new one.
    pub fn ends_line(&self) -> bool {
        self.content.last().is_none_or(|byte| *byte == b'\n')
    }
}

/// Why a line is not a CRI log record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No space after the timestamp.
    #[error("timestamp is not found")]
    NoTimestamp,
    /// The timestamp is not RFC 3339.
    #[error("unexpected timestamp format: {0:?}")]
    Timestamp(String),
    /// No space after the stream.
    #[error("stream type is not found")]
    NoStream,
    /// Neither stdout nor stderr.
    #[error("unexpected stream type {0:?}")]
    UnknownStream(String),
    /// No space after the tag.
    #[error("log tag is not found")]
    NoTag,
}

/// Parses one line of a CRI log file (with or without its trailing newline).
pub fn parse(line: &[u8]) -> Result<Record<'_>, ParseError> {
    let (timestamp, rest) = split_space(line).ok_or(ParseError::NoTimestamp)?;
    let timestamp = std::str::from_utf8(timestamp)
        .ok()
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .ok_or_else(|| ParseError::Timestamp(String::from_utf8_lossy(timestamp).into_owned()))?;
    let (stream, rest) = split_space(rest).ok_or(ParseError::NoStream)?;
    let stream = match stream {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        other => {
            return Err(ParseError::UnknownStream(
                String::from_utf8_lossy(other).into_owned(),
            ));
        }
    };
    let (tags, mut content) = split_space(rest).ok_or(ParseError::NoTag)?;
    // Tags are `:`-separated for forward compatibility; the first says partial or full.
    let partial = tags.split(|byte| *byte == b':').next() == Some(b"P");
    if partial {
        content = content.strip_suffix(b"\n").unwrap_or(content);
    }
    Ok(Record {
        timestamp,
        stream,
        partial,
        content,
    })
}

fn split_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|byte| *byte == b' ')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// A timestamp as `kubectl logs --timestamps` prints it: RFC 3339 with exactly nine fractional
/// digits (upstream's `RFC3339NanoFixed`), keeping the record's offset.
pub fn format_timestamp(timestamp: &DateTime<FixedOffset>) -> String {
    timestamp.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(line: &str, expected: Result<(&str, Stream, bool, &str), ParseError>) {
        let parsed = parse(line.as_bytes()).map(|record| {
            (
                format_timestamp(&record.timestamp),
                record.stream,
                record.partial,
                String::from_utf8_lossy(record.content).into_owned(),
            )
        });
        let expected = expected.map(|(time, stream, partial, content)| {
            (time.to_string(), stream, partial, content.to_string())
        });
        assert_eq!(parsed, expected, "{line:?}");
    }

    #[test]
    fn records() {
        check(
            "2016-10-06T00:17:09.669794202Z stdout F log content 1\n",
            Ok((
                "2016-10-06T00:17:09.669794202Z",
                Stream::Stdout,
                false,
                "log content 1\n",
            )),
        );
        check(
            "2016-10-06T00:17:09.669794203Z stderr P log content 2\n",
            Ok((
                "2016-10-06T00:17:09.669794203Z",
                Stream::Stderr,
                true,
                "log content 2",
            )),
        );
        // Lenient input (fewer fractional digits, an offset), fixed-width output.
        check(
            "2016-10-06T02:17:09.5+02:00 stdout F:x text with  spaces\n",
            Ok((
                "2016-10-06T02:17:09.500000000+02:00",
                Stream::Stdout,
                false,
                "text with  spaces\n",
            )),
        );
        check(
            "2016-10-06T00:17:09Z stdout F \n",
            Ok((
                "2016-10-06T00:17:09.000000000Z",
                Stream::Stdout,
                false,
                "\n",
            )),
        );
    }

    #[test]
    fn malformed_lines() {
        check("garbage", Err(ParseError::NoTimestamp));
        check(
            "yesterday stdout F x",
            Err(ParseError::Timestamp("yesterday".into())),
        );
        check("2016-10-06T00:17:09Z stdout", Err(ParseError::NoStream));
        check(
            "2016-10-06T00:17:09Z stdin F x",
            Err(ParseError::UnknownStream("stdin".into())),
        );
        check("2016-10-06T00:17:09Z stdout F", Err(ParseError::NoTag));
    }

    #[test]
    fn line_ends() {
        let full = parse(b"2016-10-06T00:17:09Z stdout F a\n").expect("valid");
        let partial = parse(b"2016-10-06T00:17:09Z stdout P a\n").expect("valid");
        assert!(full.ends_line());
        assert!(!partial.ends_line());
    }
}
