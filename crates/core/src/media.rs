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

#[cfg(test)]
mod tests {
    use super::*;

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
