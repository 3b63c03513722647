//! The query parameters of resource requests (`watch`, `resourceVersion`, `limit`, `continue`, ...).

use crate::errors::ApiError;

/// Parsed query parameters; unknown ones are ignored, like upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// `watch=true|1`.
    pub watch: bool,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` (`NotOlderThan`, `Exact`).
    pub resource_version_match: Option<String>,
    /// `limit` (0 = none).
    pub limit: usize,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `timeoutSeconds` of a watch.
    pub timeout_seconds: Option<u64>,
    /// `allowWatchBookmarks`.
    pub allow_watch_bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `gracePeriodSeconds` of a delete.
    pub grace_period_seconds: Option<i64>,
    /// `fieldManager` of a write (empty when absent).
    pub field_manager: String,
    /// `force` of a patch.
    pub force: Option<bool>,
    /// `fieldValidation` of a create, update or patch, as given (checked by `fields`).
    pub field_validation: Option<String>,
}

impl Query {
    /// Parses a query string (`a=b&c=d`, percent-encoded).
    pub fn parse(raw: &str) -> Result<Query, ApiError> {
        let pairs: Vec<(String, String)> = query_pairs(raw);
        let mut query = Query::default();
        for (name, value) in pairs {
            let flag = || matches!(value.as_str(), "true" | "1");
            match name.as_str() {
                "watch" => query.watch = flag(),
                "resourceVersion" => query.resource_version = Some(value).filter(|v| !v.is_empty()),
                "resourceVersionMatch" => {
                    query.resource_version_match = Some(value).filter(|v| !v.is_empty())
                }
                "limit" => {
                    let limit: i64 = value.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid limit {value:?}: must be an integer"
                        ))
                    })?;
                    query.limit = usize::try_from(limit).unwrap_or(0);
                }
                "continue" => query.continue_token = Some(value).filter(|v| !v.is_empty()),
                "labelSelector" => query.label_selector = Some(value).filter(|v| !v.is_empty()),
                "fieldSelector" => query.field_selector = Some(value).filter(|v| !v.is_empty()),
                "timeoutSeconds" => {
                    query.timeout_seconds = Some(value.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid timeoutSeconds {value:?}"))
                    })?)
                }
                "allowWatchBookmarks" => query.allow_watch_bookmarks = flag(),
                "sendInitialEvents" => query.send_initial_events = flag(),
                "dryRun" => query.dry_run = value == "All",
                "fieldValidation" => query.field_validation = Some(value),
                "gracePeriodSeconds" => {
                    query.grace_period_seconds = Some(value.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid gracePeriodSeconds {value:?}"))
                    })?)
                }
                "fieldManager" => query.field_manager = value,
                "force" => {
                    query.force = Some(matches!(
                        value.as_str(),
                        "true" | "1" | "t" | "T" | "TRUE" | "True"
                    ))
                }
                _ => {}
            }
        }
        Ok(query)
    }
}

/// Splits and percent-decodes `a=b&c=d`.
fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match text
                    .get(i + 1..i + 3)
                    .map(|hex| u8::from_str_radix(hex, 16))
                {
                    Some(Ok(byte)) => {
                        out.push(byte);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_queries() {
        let query = Query::parse(
            "allowWatchBookmarks=true&fieldSelector=metadata.name%3Dweb-1&resourceVersionMatch=NotOlderThan\
             &sendInitialEvents=true&timeoutSeconds=420&watch=true",
        )
        .expect("valid");
        assert!(query.watch && query.allow_watch_bookmarks && query.send_initial_events);
        assert_eq!(query.field_selector.as_deref(), Some("metadata.name=web-1"));
        assert_eq!(query.timeout_seconds, Some(420));
        let list = Query::parse("limit=500&labelSelector=kubernetes.io%2Fcluster-service%3Dtrue")
            .expect("valid");
        assert_eq!(list.limit, 500);
        assert_eq!(
            list.label_selector.as_deref(),
            Some("kubernetes.io/cluster-service=true")
        );
        assert!(Query::parse("limit=x").is_err());
        let write =
            Query::parse("fieldManager=kubectl-create&fieldValidation=Strict").expect("valid");
        assert_eq!(write.field_validation.as_deref(), Some("Strict"));
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("%zz"), "%zz");
    }
}
