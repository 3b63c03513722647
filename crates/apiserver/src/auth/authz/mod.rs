//! The authorizer seam: every authenticated request is described by [`Attributes`] (upstream's
//! `authorizer.Attributes`, from `request`) and put to an [`Authorizer`], which answers allow, deny
//! or no opinion with a reason. Anything but allow is a 403 worded like upstream's
//! (`pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace
//! "default"`). The access reviews ask the same authorizer, and `SelfSubjectRulesReview` its rules.
//!
//! `--authorization-mode` picks the authorizers (`AlwaysAllow`, `AlwaysDeny`; RBAC comes later);
//! `system:masters` is always allowed first, as upstream's privileged-group authorizer does.

mod builtin;
pub mod request;

use std::sync::Arc;

use async_trait::async_trait;
use kubers_core::status::{self, ForbiddenRequest};

pub use builtin::{AlwaysAllow, AlwaysDeny, PrivilegedGroups, Union};

use super::UserInfo;
use crate::errors::ApiError;

/// What is being asked: who does which verb on what.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    /// The user.
    pub user: UserInfo,
    /// The verb: `get`, `list`, `watch`, `create`, ... for resources; the lowercase HTTP method for
    /// other paths.
    pub verb: String,
    /// Whether the request is for an API resource (else a non-resource path such as `/metrics`).
    pub resource_request: bool,
    /// The namespace, empty for cluster-scoped and all-namespaces requests.
    pub namespace: String,
    /// The API group, empty for core.
    pub api_group: String,
    /// The API version.
    pub api_version: String,
    /// The resource (plural).
    pub resource: String,
    /// The subresource, or empty.
    pub subresource: String,
    /// The object name, or empty.
    pub name: String,
    /// The URL path (for non-resource requests).
    pub path: String,
}

/// An authorizer's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The request may proceed.
    Allow,
    /// The request is refused, whatever later authorizers would say.
    Deny,
    /// This authorizer does not decide; the next one is asked.
    NoOpinion,
}

/// A decision and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The decision.
    pub decision: Decision,
    /// Why (may be empty); shown after the 403 message and in access reviews.
    pub reason: String,
}

impl Authorization {
    /// Allow, with a reason.
    pub fn allow(reason: impl Into<String>) -> Self {
        Authorization {
            decision: Decision::Allow,
            reason: reason.into(),
        }
    }

    /// Deny, with a reason.
    pub fn deny(reason: impl Into<String>) -> Self {
        Authorization {
            decision: Decision::Deny,
            reason: reason.into(),
        }
    }

    /// No opinion, with a reason.
    pub fn no_opinion(reason: impl Into<String>) -> Self {
        Authorization {
            decision: Decision::NoOpinion,
            reason: reason.into(),
        }
    }
}

/// A rule on API resources (`authorization.k8s.io/v1` `ResourceRule`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceRule {
    /// Verbs, `*` for all.
    pub verbs: Vec<String>,
    /// API groups, `*` for all.
    pub api_groups: Vec<String>,
    /// Resources (`pods`, `pods/log`), `*` for all.
    pub resources: Vec<String>,
    /// Object names, empty for all.
    pub resource_names: Vec<String>,
}

/// A rule on non-resource paths (`NonResourceRule`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NonResourceRule {
    /// Verbs, `*` for all.
    pub verbs: Vec<String>,
    /// Paths, with a trailing `*` as a prefix match.
    pub non_resource_urls: Vec<String>,
}

/// What a user may do in a namespace, for `SelfSubjectRulesReview`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// Rules on resources.
    pub resource_rules: Vec<ResourceRule>,
    /// Rules on other paths.
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether the authorizer could not list everything (some of its decisions are not rules).
    pub incomplete: bool,
    /// Why the list is incomplete, if it is.
    pub evaluation_error: String,
}

/// Decides whether a request may proceed.
#[async_trait]
pub trait Authorizer: Send + Sync {
    /// The decision for `attributes`.
    async fn authorize(&self, attributes: &Attributes) -> Authorization;

    /// The rules `user` has in `namespace` (upstream's `RuleResolver`).
    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules;
}

/// The authorizer chain for `--authorization-mode` (comma-separated, like kube-apiserver's):
/// `system:masters` first, then each mode in order.
pub fn from_modes(modes: &[String]) -> Result<Arc<dyn Authorizer>, String> {
    let mut chain: Vec<Box<dyn Authorizer>> = vec![Box::new(PrivilegedGroups::masters())];
    for mode in modes {
        match mode.as_str() {
            "AlwaysAllow" => chain.push(Box::new(AlwaysAllow)),
            "AlwaysDeny" => chain.push(Box::new(AlwaysDeny)),
            other => {
                return Err(format!(
                    "unknown authorization mode {other:?}: supported are AlwaysAllow and AlwaysDeny"
                ));
            }
        }
    }
    Ok(Arc::new(Union::new(chain)))
}

/// The 403 for a request that was not allowed, worded like upstream's `ForbiddenStatusError`.
pub fn forbidden(attributes: &Attributes, reason: &str) -> ApiError {
    let error = if attributes.resource_request {
        status::forbidden(&ForbiddenRequest {
            user: &attributes.user.name,
            verb: &attributes.verb,
            group: &attributes.api_group,
            resource: &attributes.resource,
            subresource: &attributes.subresource,
            namespace: &attributes.namespace,
            name: &attributes.name,
            reason,
        })
    } else {
        status::forbidden_path(
            &attributes.user.name,
            &attributes.verb,
            &attributes.path,
            reason,
        )
    };
    ApiError(error)
}

#[cfg(test)]
mod tests;
