//! The node join token as a bearer token. In k3s the join token authenticates a node agent as the
//! user `node` in the group `k3s:agent` (its `passwd` entry), which may then fetch the node's own
//! credentials; kubers keeps that identity: the token, in full (`K10<hash>::server:<secret>`) or
//! its secret part alone, is the user `node` in the group `kubers:agent`. It is no administrator: what
//! the group may do is the authorizer's decision (see `authz`).

use async_trait::async_trait;

use super::{TokenAuthenticator, TokenOutcome};
use crate::auth::UserInfo;

/// The user the join token authenticates.
pub const NODE_USER: &str = "node";
/// The group of the join token's user.
pub const AGENT_GROUP: &str = "kubers:agent";

/// Accepts the node join token.
#[derive(Clone, Debug)]
pub struct JoinTokenAuthenticator {
    full: String,
    secret: String,
}

impl JoinTokenAuthenticator {
    /// An authenticator for `token` (`K10<hash>::server:<secret>`, or a bare secret).
    pub fn new(token: &str) -> Self {
        let secret = token
            .rsplit_once("::server:")
            .map_or(token, |(_, secret)| secret);
        JoinTokenAuthenticator {
            full: token.to_owned(),
            secret: secret.to_owned(),
        }
    }
}

#[async_trait]
impl TokenAuthenticator for JoinTokenAuthenticator {
    async fn authenticate_token(&self, token: &str, _audiences: &[String]) -> TokenOutcome {
        let matches = |expected: &str| !expected.is_empty() && same(token, expected);
        if matches(&self.full) || matches(&self.secret) {
            TokenOutcome::Authenticated {
                user: UserInfo::authenticated(NODE_USER, vec![AGENT_GROUP.to_owned()]),
                audiences: Vec::new(),
            }
        } else {
            TokenOutcome::NotMine
        }
    }
}

/// Compares two secrets in time that depends on their lengths only.
fn same(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}
