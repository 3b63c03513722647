//! The built-in authorizers: allow everything, deny everything, allow privileged groups, and the
//! union that asks each in turn (upstream's `authorizerfactory` and `union` packages).

use async_trait::async_trait;

use super::{
    Attributes, Authorization, Authorizer, Decision, NonResourceRule, ResourceRule, Rules,
};
use crate::auth::UserInfo;
use crate::auth::user::MASTERS;

/// Rules that allow everything.
fn everything() -> Rules {
    let all = vec!["*".to_owned()];
    Rules {
        resource_rules: vec![ResourceRule {
            verbs: all.clone(),
            api_groups: all.clone(),
            resources: all.clone(),
            resource_names: Vec::new(),
        }],
        non_resource_rules: vec![NonResourceRule {
            verbs: all.clone(),
            non_resource_urls: all,
        }],
        incomplete: false,
        evaluation_error: String::new(),
    }
}

/// Allows every request (`--authorization-mode=AlwaysAllow`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysAllow;

#[async_trait]
impl Authorizer for AlwaysAllow {
    async fn authorize(&self, _attributes: &Attributes) -> Authorization {
        Authorization::allow("")
    }

    async fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        everything()
    }
}

/// Denies every request (`--authorization-mode=AlwaysDeny`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysDeny;

#[async_trait]
impl Authorizer for AlwaysDeny {
    async fn authorize(&self, _attributes: &Attributes) -> Authorization {
        Authorization::no_opinion("Everything is forbidden.")
    }

    async fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules::default()
    }
}

/// Allows members of the given groups everything, and has no opinion on anyone else.
#[derive(Clone, Debug)]
pub struct PrivilegedGroups {
    groups: Vec<String>,
}

impl PrivilegedGroups {
    /// `system:masters`, always first in the chain.
    pub fn masters() -> Self {
        PrivilegedGroups {
            groups: vec![MASTERS.to_owned()],
        }
    }

    fn privileged(&self, user: &UserInfo) -> bool {
        self.groups.iter().any(|group| user.in_group(group))
    }
}

#[async_trait]
impl Authorizer for PrivilegedGroups {
    async fn authorize(&self, attributes: &Attributes) -> Authorization {
        if self.privileged(&attributes.user) {
            Authorization::allow("")
        } else {
            Authorization::no_opinion("")
        }
    }

    /// None: like upstream, the privileged-group authorizer is no rule resolver (what a member may
    /// do shows in the rules of the other authorizers, e.g. the `cluster-admin` binding).
    async fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules::default()
    }
}

/// Asks each authorizer in turn: the first allow or deny decides; when all have no opinion, the
/// request is not allowed and the reasons are joined with `, ` (upstream's union authorizer).
pub struct Union {
    authorizers: Vec<Box<dyn Authorizer>>,
}

impl Union {
    /// A union of `authorizers`, asked in order.
    pub fn new(authorizers: Vec<Box<dyn Authorizer>>) -> Self {
        Union { authorizers }
    }
}

#[async_trait]
impl Authorizer for Union {
    async fn authorize(&self, attributes: &Attributes) -> Authorization {
        let mut reasons = Vec::new();
        for authorizer in &self.authorizers {
            let answer = authorizer.authorize(attributes).await;
            match answer.decision {
                Decision::Allow | Decision::Deny => return answer,
                Decision::NoOpinion => {
                    if !answer.reason.is_empty() {
                        reasons.push(answer.reason);
                    }
                }
            }
        }
        Authorization::no_opinion(reasons.join(", "))
    }

    async fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let mut all = Rules::default();
        let mut errors = Vec::new();
        for authorizer in &self.authorizers {
            let rules = authorizer.rules_for(user, namespace).await;
            all.resource_rules.extend(rules.resource_rules);
            all.non_resource_rules.extend(rules.non_resource_rules);
            all.incomplete |= rules.incomplete;
            if !rules.evaluation_error.is_empty() {
                errors.push(rules.evaluation_error);
            }
        }
        all.evaluation_error = errors.join(", ");
        all
    }
}
