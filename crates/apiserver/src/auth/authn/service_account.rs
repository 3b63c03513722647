//! Service-account tokens as bearer tokens, checked like upstream's `pkg/serviceaccount/jwt.go` and
//! `claims.go`: the signature, issuer, lifetime and audience, then that the service account still
//! exists with the uid the token names, and so do the pod, secret and node it is bound to. The user
//! is `system:serviceaccount:<ns>:<name>` with the account's uid, in `system:serviceaccounts` and
//! `system:serviceaccounts:<ns>`, with the bound pod, node and token id as extra attributes.

use std::sync::Arc;

use async_trait::async_trait;
use kubers_store::Store;
use serde_json::Value;

use super::{TokenAuthenticator, TokenOutcome};
use crate::auth::UserInfo;
use crate::auth::tokens::{Claims, Issuer, ObjectRef, claims};

/// Objects deleted more than this long ago no longer back a token (upstream's 60 s grace).
const DELETION_GRACE_SECONDS: i64 = 60;

/// Accepts service-account tokens this server issued.
#[derive(Clone)]
pub struct ServiceAccountAuthenticator {
    issuer: Arc<Issuer>,
    store: Arc<dyn Store>,
}

impl ServiceAccountAuthenticator {
    /// An authenticator for `issuer`'s tokens, looking accounts and bound objects up in `store`.
    pub fn new(issuer: Arc<Issuer>, store: Arc<dyn Store>) -> Self {
        ServiceAccountAuthenticator { issuer, store }
    }

    /// The object stored under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Value>, String> {
        match self.store.get(key).await {
            Ok(Some(kv)) => serde_json::from_slice(&kv.value)
                .map(Some)
                .map_err(|error| format!("{key}: {error}")),
            Ok(None) => Ok(None),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Checks that the object `reference` points at (a `kind` in `namespace`) exists, is not
    /// deleted and has the uid the claim names.
    async fn check_bound(
        &self,
        resource: &str,
        kind: &str,
        namespace: Option<&str>,
        reference: &ObjectRef,
        now: i64,
    ) -> Result<(), String> {
        let key = match namespace {
            Some(namespace) => format!("/registry/{resource}/{namespace}/{}", reference.name),
            None => format!("/registry/{resource}/{}", reference.name),
        };
        let shown = match namespace {
            Some(namespace) => format!("{namespace}/{}", reference.name),
            None => reference.name.clone(),
        };
        let Some(object) = self.get(&key).await? else {
            return Err(format!("{resource} \"{}\" not found", reference.name));
        };
        if deleted_before(&object, now - DELETION_GRACE_SECONDS) {
            return Err(format!("{kind} {shown} has been deleted"));
        }
        let uid = object
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        if uid != reference.uid {
            let what = if kind == "service account" {
                "service account UID".to_owned()
            } else {
                format!("{kind} UID")
            };
            return Err(format!(
                "{what} ({uid}) does not match claim ({})",
                reference.uid
            ));
        }
        Ok(())
    }

    async fn validate(&self, claims: &Claims, now: i64) -> Result<UserInfo, String> {
        let Some(kubernetes) = &claims.kubernetes else {
            return Err("service account token claims could not be validated".to_owned());
        };
        let namespace = kubernetes.namespace.as_str();
        let account = &kubernetes.serviceaccount;
        if claims.sub != claims::username(namespace, &account.name) {
            return Err("sub claim does not match the service account".to_owned());
        }
        self.check_bound(
            "serviceaccounts",
            "service account",
            Some(namespace),
            account,
            now,
        )
        .await?;
        let mut user = UserInfo {
            name: claims.sub.clone(),
            uid: account.uid.clone(),
            groups: claims::groups(namespace),
            ..UserInfo::default()
        };
        if let Some(pod) = &kubernetes.pod {
            self.check_bound("pods", "pod", Some(namespace), pod, now)
                .await?;
            extra(&mut user, "pod-name", &pod.name);
            extra(&mut user, "pod-uid", &pod.uid);
        }
        if let Some(secret) = &kubernetes.secret {
            self.check_bound("secrets", "secret", Some(namespace), secret, now)
                .await?;
        }
        if let Some(node) = &kubernetes.node {
            self.check_bound("minions", "node", None, node, now).await?;
            extra(&mut user, "node-name", &node.name);
            extra(&mut user, "node-uid", &node.uid);
        }
        if !claims.jti.is_empty() {
            extra(&mut user, "credential-id", &format!("JTI={}", claims.jti));
        }
        if let Some(warn_after) = kubernetes.warnafter
            && now > warn_after
        {
            tracing::info!(user = %user.name, "stale service account token in use (past warnafter)");
        }
        Ok(user)
    }
}

#[async_trait]
impl TokenAuthenticator for ServiceAccountAuthenticator {
    async fn authenticate_token(&self, token: &str, audiences: &[String]) -> TokenOutcome {
        if !self.issuer.is_ours(token) {
            return TokenOutcome::NotMine;
        }
        let now = chrono::Utc::now().timestamp();
        let (claims, audiences) = match self.issuer.verify(token, audiences, now) {
            Ok(verified) => verified,
            Err(error) => return TokenOutcome::Invalid(error),
        };
        match self.validate(&claims, now).await {
            Ok(user) => TokenOutcome::Authenticated { user, audiences },
            Err(error) => TokenOutcome::Invalid(error),
        }
    }
}

fn extra(user: &mut UserInfo, key: &str, value: &str) {
    if !value.is_empty() {
        user.extra.insert(
            format!("authentication.kubernetes.io/{key}"),
            vec![value.to_owned()],
        );
    }
}

/// Whether `object` was marked for deletion before `cutoff` (seconds since the epoch).
fn deleted_before(object: &Value, cutoff: i64) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .is_some_and(|at| at.timestamp() < cutoff)
}
