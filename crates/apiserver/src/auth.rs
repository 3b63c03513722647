//! Authentication: who sent a request. A verified client certificate names the user (CN) and groups (O);
//! a bearer token is checked against the node join token. Everything else is anonymous.

use std::sync::Arc;

use axum::http::{HeaderMap, header};

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`system:admin`).
    pub name: String,
    /// The groups (`system:masters`, `system:authenticated`).
    pub groups: Vec<String>,
}

impl UserInfo {
    fn authenticated(name: String, mut groups: Vec<String>) -> Self {
        if !groups.iter().any(|group| group == "system:authenticated") {
            groups.push("system:authenticated".to_owned());
        }
        UserInfo { name, groups }
    }
}

/// The identity a TLS connection proved with its client certificate, if any.
#[derive(Clone, Debug, Default)]
pub struct ConnectionIdentity(pub Option<UserInfo>);

impl ConnectionIdentity {
    /// The identity of a verified client certificate.
    pub fn from_certificate(user: String, groups: Vec<String>) -> Self {
        ConnectionIdentity(Some(UserInfo::authenticated(user, groups)))
    }
}

/// Checks bearer tokens.
#[derive(Clone, Debug)]
pub struct Authenticator {
    join_token: Arc<str>,
}

impl Authenticator {
    /// An authenticator that accepts the node join token.
    pub fn new(join_token: &str) -> Self {
        Authenticator {
            join_token: Arc::from(join_token),
        }
    }

    /// The user of a request: the client certificate's, else the bearer token's, else `None`.
    pub fn authenticate(
        &self,
        connection: &ConnectionIdentity,
        headers: &HeaderMap,
    ) -> Option<UserInfo> {
        if let Some(user) = &connection.0 {
            return Some(user.clone());
        }
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        // The join token in full (`K10<hash>::server:<secret>`) or its secret part alone.
        let secret = self
            .join_token
            .rsplit_once("::server:")
            .map_or(&*self.join_token, |(_, secret)| secret);
        if !token.is_empty() && (token == &*self.join_token || token == secret) {
            return Some(UserInfo::authenticated(
                "kubers:server-token".to_owned(),
                vec!["system:masters".to_owned()],
            ));
        }
        None
    }
}

/// Paths anyone may read (`/healthz`, `/livez`, `/readyz`, `/version` and their sub-paths).
pub fn is_public(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz", "/version"]
        .iter()
        .any(|public| {
            path == *public
                || path
                    .strip_prefix(public)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths() {
        for (path, public) in [
            ("/healthz", true),
            ("/healthz/ping", true),
            ("/version", true),
            ("/versions", false),
            ("/api", false),
        ] {
            assert_eq!(is_public(path), public, "{path}");
        }
    }

    #[test]
    fn tokens() {
        let auth = Authenticator::new("K10abc::server:s3cret");
        let mut headers = HeaderMap::new();
        let none = ConnectionIdentity::default();
        assert_eq!(auth.authenticate(&none, &headers), None);
        for token in ["K10abc::server:s3cret", "s3cret"] {
            headers.insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().expect("header"),
            );
            assert!(auth.authenticate(&none, &headers).is_some(), "{token}");
        }
        headers.insert(
            header::AUTHORIZATION,
            "Bearer nope".parse().expect("header"),
        );
        assert_eq!(auth.authenticate(&none, &headers), None);
    }
}
