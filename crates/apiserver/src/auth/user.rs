//! The authenticated user: upstream's `user.Info` (name, uid, groups, extra).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// The group whose members may do anything (upstream's `user.SystemPrivilegedGroup`).
pub const MASTERS: &str = "system:masters";

/// An authenticated user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name (`system:admin`, `system:serviceaccount:default:default`).
    pub name: String,
    /// A unique id, when the authenticator knows one (a service account's uid, the token file's).
    pub uid: String,
    /// The groups (`system:masters`, `system:authenticated`).
    pub groups: Vec<String>,
    /// Extra attributes (`authentication.kubernetes.io/pod-name`, ...).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// An authenticated user: `groups` plus `system:authenticated` (added once).
    pub fn authenticated(name: impl Into<String>, groups: Vec<String>) -> Self {
        UserInfo {
            name: name.into(),
            groups,
            ..UserInfo::default()
        }
        .with_authenticated_group()
    }

    /// Adds `system:authenticated` unless present (upstream's `AuthenticatedGroupAdder`).
    pub fn with_authenticated_group(mut self) -> Self {
        if !self.groups.iter().any(|group| group == AUTHENTICATED) {
            self.groups.push(AUTHENTICATED.to_owned());
        }
        self
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|candidate| candidate == group)
    }

    /// The `UserInfo` of authentication.k8s.io (`username`, `uid`, `groups`, `extra`; empty fields
    /// left out like upstream's `omitempty`).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if !self.name.is_empty() {
            map.insert("username".into(), json!(self.name));
        }
        if !self.uid.is_empty() {
            map.insert("uid".into(), json!(self.uid));
        }
        if !self.groups.is_empty() {
            map.insert("groups".into(), json!(self.groups));
        }
        if !self.extra.is_empty() {
            map.insert("extra".into(), json!(self.extra));
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticated_group_is_added_once() {
        let user = UserInfo::authenticated("bob", vec![AUTHENTICATED.to_owned()]);
        assert_eq!(user.groups, vec![AUTHENTICATED.to_owned()]);
        let user = UserInfo::authenticated("bob", vec!["dev".to_owned()]);
        assert_eq!(
            user.groups,
            vec!["dev".to_owned(), AUTHENTICATED.to_owned()]
        );
        assert_eq!(
            user.to_json(),
            json!({"username": "bob", "groups": ["dev", AUTHENTICATED]})
        );
    }
}
