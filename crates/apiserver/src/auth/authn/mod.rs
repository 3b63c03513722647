//! The authenticator chain, in upstream's order: a verified client certificate names the user
//! (CN) and groups (O); otherwise a bearer token is tried against the static token file, the
//! service-account token issuer and the node join token. The first that accepts a token wins; a
//! token nobody accepts, or no credentials at all, leave the request unauthenticated (401).
//! Every authenticated user is in `system:authenticated`.

mod join_token;
mod service_account;
mod token_file;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{HeaderMap, header};

pub use join_token::JoinTokenAuthenticator;
pub use service_account::ServiceAccountAuthenticator;
pub use token_file::TokenFile;

use super::UserInfo;

/// The identity a TLS connection proved with its client certificate, if any.
#[derive(Clone, Debug, Default)]
pub struct ConnectionIdentity(pub Option<UserInfo>);

impl ConnectionIdentity {
    /// The identity of a verified client certificate.
    pub fn from_certificate(user: String, groups: Vec<String>) -> Self {
        ConnectionIdentity(Some(UserInfo::authenticated(user, groups)))
    }
}

/// What one token authenticator made of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOutcome {
    /// Not a token this authenticator knows: the next one is asked.
    NotMine,
    /// The token names this user, for these audiences.
    Authenticated {
        /// The user.
        user: UserInfo,
        /// The audiences the token was accepted for (empty: the API server's).
        audiences: Vec<String>,
    },
    /// The token is this authenticator's kind but not valid (expired, revoked, wrong audience).
    Invalid(String),
}

/// One way of checking bearer tokens.
#[async_trait]
pub trait TokenAuthenticator: Send + Sync {
    /// Checks `token`, for `audiences` (empty: the API server's own).
    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> TokenOutcome;
}

/// The chain of authenticators a request passes.
#[derive(Clone)]
pub struct Authenticator {
    tokens: Arc<Vec<Box<dyn TokenAuthenticator>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("token_authenticators", &self.tokens.len())
            .finish()
    }
}

impl Authenticator {
    /// A chain trying the token authenticators in the given order.
    pub fn new(tokens: Vec<Box<dyn TokenAuthenticator>>) -> Self {
        Authenticator {
            tokens: Arc::new(tokens),
        }
    }

    /// The user of a request: the client certificate's, else the bearer token's, else `None`.
    pub async fn authenticate(
        &self,
        connection: &ConnectionIdentity,
        headers: &HeaderMap,
    ) -> Option<UserInfo> {
        if let Some(user) = &connection.0 {
            return Some(user.clone());
        }
        let token = bearer_token(headers)?;
        match self.authenticate_token(token, &[]).await {
            Ok((user, _)) => Some(user),
            Err(error) => {
                tracing::debug!(%error, "bearer token refused");
                None
            }
        }
    }

    /// Checks a bearer token against every token authenticator (for requests and TokenReview);
    /// returns the user and the audiences it was accepted for, or why it was refused.
    pub async fn authenticate_token(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<(UserInfo, Vec<String>), String> {
        let mut errors = Vec::new();
        for authenticator in self.tokens.iter() {
            match authenticator.authenticate_token(token, audiences).await {
                TokenOutcome::NotMine => {}
                TokenOutcome::Authenticated { user, audiences } => {
                    return Ok((user.with_authenticated_group(), audiences));
                }
                TokenOutcome::Invalid(error) => errors.push(error),
            }
        }
        Err(if errors.is_empty() {
            "invalid bearer token".to_owned()
        } else {
            format!("[invalid bearer token, {}]", errors.join(", "))
        })
    }
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            authorization.parse().expect("header"),
        );
        headers
    }

    #[tokio::test]
    async fn chain_order_and_refusals() {
        let file = TokenFile::parse("static-token,alice,1001,\"dev,ops\"\n", "tokens.csv")
            .expect("token file");
        let auth = Authenticator::new(vec![
            Box::new(file),
            Box::new(JoinTokenAuthenticator::new("K10abc::server:s3cret")),
        ]);
        let none = ConnectionIdentity::default();
        assert_eq!(auth.authenticate(&none, &HeaderMap::new()).await, None);
        let alice = auth
            .authenticate(&none, &headers("Bearer static-token"))
            .await
            .expect("alice");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.uid, "1001");
        assert_eq!(alice.groups, ["dev", "ops", "system:authenticated"]);
        for token in ["K10abc::server:s3cret", "s3cret"] {
            let node = auth
                .authenticate(&none, &headers(&format!("bearer {token}")))
                .await
                .expect("join token");
            assert_eq!(node.name, join_token::NODE_USER, "{token}");
        }
        assert_eq!(
            auth.authenticate(&none, &headers("Bearer nope")).await,
            None
        );
        assert_eq!(auth.authenticate(&none, &headers("Basic abc")).await, None);
        let admin = ConnectionIdentity::from_certificate(
            "system:admin".into(),
            vec!["system:masters".into()],
        );
        let user = auth
            .authenticate(&admin, &headers("Bearer static-token"))
            .await
            .expect("certificate");
        assert_eq!(user.name, "system:admin", "the certificate wins");
    }
}
