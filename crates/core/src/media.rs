//! `Accept` header parsing (RFC 9110 media ranges with parameters and `q` weights), and the choices
//! the API server makes from it: aggregated or legacy discovery, Table or plain object.

/// One media range of an `Accept` header, e.g. `application/json;as=Table;v=v1;g=meta.k8s.io`.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRange {
    /// Type, lowercased, e.g. `application` or `*`.
    pub kind: String,
    /// Subtype, lowercased, e.g. `json` or `*`.
    pub subtype: String,
    /// Parameters other than `q`, keys lowercased, values unquoted, in header order.
    pub params: Vec<(String, String)>,
    /// Weight from `q`, 1.0 when absent.
    pub q: f32,
}

impl MediaRange {
    /// The value of parameter `key` (lowercase), if present.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the range names `type/subtype` exactly (no wildcards).
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind == kind && self.subtype == subtype
    }

    /// Whether the range would accept a plain `application/json` body (no `as=` conversion asked).
    pub fn accepts_plain_json(&self) -> bool {
        let type_ok = self.kind == "*" || self.kind == "application";
        let subtype_ok = self.subtype == "*" || self.subtype == "json";
        type_ok && subtype_ok && self.param("as").is_none()
    }

    fn wildcards(&self) -> u8 {
        u8::from(self.kind == "*") + u8::from(self.subtype == "*")
    }
}

/// The ranges of an `Accept` header in the order a server should consider them: by `q` descending,
/// then the more specific first, otherwise in header order. Ranges with `q=0` are dropped; an empty
/// or unparsable header yields nothing (the caller treats that as `*/*`).
pub fn parse_accept(header: &str) -> Vec<MediaRange> {
    let mut ranges: Vec<MediaRange> = header.split(',').filter_map(parse_range).collect();
    ranges.retain(|range| range.q > 0.0);
    ranges.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then_with(|| a.wildcards().cmp(&b.wildcards()))
    });
    ranges
}

fn parse_range(text: &str) -> Option<MediaRange> {
    let mut parts = text.split(';');
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    let (kind, subtype) = (
        kind.trim().to_ascii_lowercase(),
        subtype.trim().to_ascii_lowercase(),
    );
    if kind.is_empty() || subtype.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut q = 1.0;
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().trim_matches('"');
        if key == "q" {
            q = value
                .parse::<f32>()
                .ok()
                .filter(|q| q.is_finite())?
                .clamp(0.0, 1.0);
        } else {
            params.push((key, value.to_owned()));
        }
    }
    Some(MediaRange {
        kind,
        subtype,
        params,
        q,
    })
}

/// Walks the ranges in preference order and returns the first choice `pick` makes; `pick` returns
/// `Some(Some(x))` to choose `x`, `Some(None)` to settle on the plain default, `None` to skip the range.
pub(crate) fn negotiate<T>(
    header: &str,
    pick: impl Fn(&MediaRange) -> Option<Option<T>>,
) -> Option<T> {
    parse_accept(header).iter().find_map(pick).flatten()
}

/// The Table content type kubers answers with.
pub const TABLE_V1: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Whether the client asked for a server-side Table (`as=Table;g=meta.k8s.io;v=v1` or `v1beta1`)
/// ahead of anything plain it also accepts, as `kubectl get` does.
pub fn wants_table(accept: &str) -> bool {
    negotiate(accept, |range| {
        let table = range.is("application", "json")
            && range.param("as") == Some("Table")
            && range.param("g") == Some("meta.k8s.io")
            && matches!(range.param("v"), Some("v1" | "v1beta1"));
        if table {
            Some(Some(()))
        } else if range.accepts_plain_json() || range.param("as").is_none() {
            Some(None)
        } else {
            None
        }
    })
    .is_some()
}

/// The media types resources are answered in, as upstream's `NotAcceptable` message lists them:
/// JSON, and YAML (which the JSON answer is). kubers has no protobuf encoder for objects, so unlike
/// upstream's built-in resources it does not offer `application/vnd.kubernetes.protobuf`, like
/// upstream's resources without protobuf (custom resources).
pub const RESOURCE_MEDIA_TYPES: [&str; 2] = ["application/json", "application/yaml"];

/// Whether an `Accept` header allows an answer in one of [`RESOURCE_MEDIA_TYPES`] (whatever the
/// `as=` conversion it asks for): an empty or unparsable header, or a range such as `*/*`,
/// `application/*` or `application/json`. A header naming only protobuf (or any other type) is not,
/// and upstream answers that with 406.
pub fn accepts_resource_media(accept: &str) -> bool {
    let ranges = parse_accept(accept);
    ranges.is_empty()
        || ranges.iter().any(|range| {
            (range.kind == "*" || range.kind == "application")
                && matches!(range.subtype.as_str(), "*" | "json" | "yaml")
        })
}

/// Upstream's 406 message for an `Accept` header [`accepts_resource_media`] refuses.
pub fn not_acceptable_message() -> String {
    format!(
        "only the following media types are accepted: {}",
        RESOURCE_MEDIA_TYPES.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_only_is_not_acceptable() {
        for accepted in [
            "",
            "*/*",
            "application/json",
            "application/vnd.kubernetes.protobuf, application/json",
            "application/vnd.kubernetes.protobuf;q=1, */*;q=0.1",
            A_TABLE,
            "application/yaml",
        ] {
            assert!(accepts_resource_media(accepted), "{accepted}");
        }
        for refused in [
            "application/vnd.kubernetes.protobuf",
            "application/vnd.kubernetes.protobuf;stream=watch",
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io",
            "text/html",
            "application/json;q=0, application/vnd.kubernetes.protobuf",
        ] {
            assert!(!accepts_resource_media(refused), "{refused}");
        }
        assert_eq!(
            not_acceptable_message(),
            "only the following media types are accepted: application/json, application/yaml"
        );
    }

    const A_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    #[test]
    fn parses_ranges_in_preference_order() {
        fn check(header: &str, expected: &[&str]) {
            let got: Vec<String> = parse_accept(header)
                .iter()
                .map(|r| format!("{}/{} q={}", r.kind, r.subtype, r.q))
                .collect();
            assert_eq!(got, expected, "{header}");
        }
        check("application/json", &["application/json q=1"]);
        check(
            "application/json, */*",
            &["application/json q=1", "*/* q=1"],
        );
        check(
            "*/*, application/json",
            &["application/json q=1", "*/* q=1"],
        );
        check(
            "text/plain;q=0.5, Application/JSON",
            &["application/json q=1", "text/plain q=0.5"],
        );
        check("application/json;q=0, text/plain", &["text/plain q=1"]);
        check("", &[]);
        check("garbage", &[]);
        check("application/json;q=bogus", &[]);
    }

    #[test]
    fn keeps_parameters() {
        let ranges = parse_accept("application/json; as=Table ;v=\"v1\";g=meta.k8s.io");
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].param("as"), Some("Table"));
        assert_eq!(ranges[0].param("v"), Some("v1"));
        assert_eq!(ranges[0].param("g"), Some("meta.k8s.io"));
    }

    #[test]
    fn table_negotiation() {
        fn check(accept: &str, expected: bool) {
            assert_eq!(wants_table(accept), expected, "{accept}");
        }
        check(A_TABLE, true);
        check("application/json;as=Table;v=v1beta1;g=meta.k8s.io", true);
        check("application/json", false);
        check("application/json, */*", false);
        check(
            "application/vnd.kubernetes.protobuf,application/json",
            false,
        );
        check(
            "application/json;as=Table;v=v9;g=meta.k8s.io,application/json",
            false,
        );
        check(
            "application/json;q=0.5,application/json;as=Table;v=v1;g=meta.k8s.io",
            true,
        );
        check("", false);
    }
}
