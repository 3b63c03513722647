//! Who sent a request and what they may do, like upstream's API server filters:
//!
//! - [`authn`]: the authenticator chain that turns credentials into a [`UserInfo`] (client
//!   certificates, the static token file, the node join token, service-account tokens).
//! - [`authz`]: the authorizer seam every request passes, with upstream's 403 messages.
//! - [`tokens`]: service-account JWTs (signing, claims, verification).
//!
//! Requests without credentials get 401, except to the public health and version paths.

pub mod authn;
pub mod authz;
pub mod tokens;
mod user;

pub use authn::ConnectionIdentity;
pub use user::UserInfo;

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
}
