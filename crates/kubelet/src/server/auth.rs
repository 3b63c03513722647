//! Who may use the kubelet's endpoint, as upstream's kubelet with x509 authentication and the
//! `Webhook` authorizer: the client certificate (verified against the cluster CA during the TLS
//! handshake) names the user (CN) and groups (O); the API server decides with a
//! SubjectAccessReview on `nodes/<subresource>` of this node, cached like upstream's webhook
//! (allowed for 5 minutes, denied for 30 seconds). The API server's own client certificate is in
//! `system:masters`, which every authorizer allows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::http::Failure;

/// How long an allowed decision is reused.
const ALLOWED_TTL: Duration = Duration::from_secs(5 * 60);
/// How long a denied decision is reused.
const DENIED_TTL: Duration = Duration::from_secs(30);

/// A verified client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The user (certificate common name).
    pub user: String,
    /// The groups (certificate organizations).
    pub groups: Vec<String>,
}

/// The identity a verified client certificate names, if any.
pub fn identity(der: &[u8]) -> Option<Identity> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let user = subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    if user.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|attribute| attribute.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(Identity { user, groups })
}

/// The authorization attributes of a request: the API verb of its method and the `nodes`
/// subresource its path falls under (upstream's `GetRequestAttributes`).
pub fn attributes(method: &Method, path: &str) -> (&'static str, &'static str) {
    let verb = match *method {
        Method::POST => "create",
        Method::GET | Method::HEAD => "get",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    };
    let under = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let subresource = if under("/stats") {
        "stats"
    } else if under("/metrics") {
        "metrics"
    } else if under("/logs") {
        "log"
    } else if under("/spec") {
        "spec"
    } else if under("/checkpoint") {
        "checkpoint"
    } else {
        "proxy"
    };
    (verb, subresource)
}

type Key = (Identity, &'static str, &'static str);

/// Asks the API server whether a client may make a request, remembering the answers.
pub struct Authorizer {
    client: kube::Client,
    node_name: String,
    cache: Mutex<HashMap<Key, (bool, Instant)>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// An authorizer for requests to node `node_name`.
    pub fn new(client: kube::Client, node_name: String) -> Self {
        Authorizer {
            client,
            node_name,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Allows the request, or answers 401 (no identity), 403 (denied) or 500 (no answer).
    pub async fn check(
        &self,
        identity: Option<&Identity>,
        method: &Method,
        path: &str,
    ) -> Result<(), Failure> {
        let Some(identity) = identity else {
            return Err(Failure::new(StatusCode::UNAUTHORIZED, "Unauthorized"));
        };
        let (verb, subresource) = attributes(method, path);
        let key = (identity.clone(), verb, subresource);
        let cached = self.cache.lock().ok().and_then(|cache| {
            cache.get(&key).and_then(|(allowed, at)| {
                let ttl = if *allowed { ALLOWED_TTL } else { DENIED_TTL };
                (at.elapsed() < ttl).then_some(*allowed)
            })
        });
        let describe = format!(
            "(user={}, verb={verb}, resource=nodes, subresource={subresource})",
            identity.user
        );
        let allowed = match cached {
            Some(allowed) => allowed,
            None => {
                let allowed = self
                    .review(identity, verb, subresource)
                    .await
                    .map_err(|error| {
                        tracing::warn!(%error, "authorizing a kubelet request failed");
                        Failure::internal(format!("Authorization error {describe}"))
                    })?;
                if let Ok(mut cache) = self.cache.lock() {
                    cache.retain(|_, (allowed, at)| {
                        at.elapsed() < if *allowed { ALLOWED_TTL } else { DENIED_TTL }
                    });
                    cache.insert(key, (allowed, Instant::now()));
                }
                allowed
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(Failure::new(
                StatusCode::FORBIDDEN,
                format!("Forbidden {describe}"),
            ))
        }
    }

    async fn review(
        &self,
        identity: &Identity,
        verb: &str,
        subresource: &str,
    ) -> Result<bool, kube::Error> {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(identity.user.clone()),
                groups: Some(identity.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(verb.to_string()),
                    version: Some("v1".to_string()),
                    resource: Some("nodes".to_string()),
                    subresource: Some(subresource.to_string()),
                    name: Some(self.node_name.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let reviews: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = reviews.create(&PostParams::default(), &review).await?;
        Ok(answer.status.is_some_and(|status| status.allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_attributes() {
        assert_eq!(
            attributes(&Method::POST, "/exec/ns/pod/c"),
            ("create", "proxy")
        );
        assert_eq!(
            attributes(&Method::GET, "/containerLogs/ns/pod/c"),
            ("get", "proxy")
        );
        assert_eq!(attributes(&Method::GET, "/stats/summary"), ("get", "stats"));
        assert_eq!(attributes(&Method::GET, "/logs/syslog"), ("get", "log"));
        assert_eq!(attributes(&Method::GET, "/metricsx"), ("get", "proxy"));
    }

    #[test]
    fn no_identity_in_garbage() {
        assert_eq!(identity(b"not a certificate"), None);
    }
}
