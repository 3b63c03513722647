//! The claims of a service-account token, as upstream's `pkg/serviceaccount/claims.go` writes them:
//! `iss`, `sub` (`system:serviceaccount:<ns>:<name>`), `aud`, `exp`, `iat`, `nbf`, `jti` and the private
//! `kubernetes.io` claim naming the namespace, the account and the objects the token is bound to (pod,
//! secret, the pod's node), with `warnafter` for the extended lifetime of projected tokens.

use serde::{Deserialize, Serialize};

/// A name and uid in the `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The object's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The object's uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaim {
    /// The service account's namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// The service account.
    #[serde(default)]
    pub serviceaccount: ObjectRef,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    /// The node the bound pod runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// After this time (seconds since the epoch) the token still works but is reported as stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// Every claim of a service-account token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(default)]
    pub iss: String,
    /// Subject: `system:serviceaccount:<namespace>:<name>`.
    #[serde(default)]
    pub sub: String,
    /// Audiences.
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// Expiry (seconds since the epoch).
    #[serde(default)]
    pub exp: i64,
    /// Issued at.
    #[serde(default)]
    pub iat: i64,
    /// Not before.
    #[serde(default)]
    pub nbf: i64,
    /// Token id: the credential id reported as `authentication.kubernetes.io/credential-id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jti: String,
    /// The `kubernetes.io` claim; absent from tokens kubers did not issue.
    #[serde(
        rename = "kubernetes.io",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes: Option<KubernetesClaim>,
}

/// `aud` may be one string or a list (RFC 7519).
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// `system:serviceaccount:<namespace>:<name>`, upstream's `MakeUsername`.
pub fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The groups of a service account: `system:serviceaccounts`, `system:serviceaccounts:<namespace>`.
pub fn groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".to_owned(),
        format!("system:serviceaccounts:{namespace}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            username("kube-system", "coredns"),
            "system:serviceaccount:kube-system:coredns"
        );
    }

    #[test]
    fn audience_may_be_a_string() {
        let claims: Claims =
            serde_json::from_str(r#"{"aud":"api","sub":"x"}"#).expect("claims parse");
        assert_eq!(claims.aud, vec!["api".to_owned()]);
        let text = serde_json::to_value(Claims {
            kubernetes: Some(KubernetesClaim {
                namespace: "default".into(),
                serviceaccount: ObjectRef {
                    name: "default".into(),
                    uid: "u".into(),
                },
                ..KubernetesClaim::default()
            }),
            ..Claims::default()
        })
        .expect("serialize");
        assert_eq!(
            text["kubernetes.io"],
            serde_json::json!({"namespace": "default", "serviceaccount": {"name": "default", "uid": "u"}})
        );
    }
}
