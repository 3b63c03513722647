//! The union's order, masters' bypass and upstream's exact 403 wording.

use super::*;

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo::authenticated(name, groups.iter().map(|g| (*g).to_owned()).collect())
}

fn list_pods(user: UserInfo) -> Attributes {
    Attributes {
        user,
        verb: "list".into(),
        resource_request: true,
        namespace: "default".into(),
        api_version: "v1".into(),
        resource: "pods".into(),
        ..Attributes::default()
    }
}

#[tokio::test]
async fn modes() {
    let deny = from_modes(&["AlwaysDeny".to_owned()]).expect("modes");
    let admin = deny
        .authorize(&list_pods(user("system:admin", &["system:masters"])))
        .await;
    assert_eq!(admin.decision, Decision::Allow, "masters bypass every mode");
    let bob = deny.authorize(&list_pods(user("bob", &[]))).await;
    assert_eq!(bob, Authorization::no_opinion("Everything is forbidden."));
    let allow = from_modes(&["AlwaysAllow".to_owned()]).expect("modes");
    assert_eq!(
        allow.authorize(&list_pods(user("bob", &[]))).await.decision,
        Decision::Allow
    );
    assert!(
        allow
            .rules_for(&user("bob", &[]), "default")
            .await
            .resource_rules
            .iter()
            .any(|rule| rule.verbs == ["*"] && rule.resources == ["*"])
    );
    assert!(from_modes(&["RBAC".to_owned()]).is_err());
}

#[test]
fn forbidden_messages() {
    let error = forbidden(&list_pods(user("x", &[])), "").0;
    assert_eq!(error.code, 403);
    assert_eq!(
        error.message(),
        r#"pods is forbidden: User "x" cannot list resource "pods" in API group "" in the namespace "default""#
    );
    let mut get = list_pods(user("x", &[]));
    get.verb = "get".into();
    get.name = "web".into();
    get.subresource = "log".into();
    assert_eq!(
        forbidden(&get, "Everything is forbidden.").0.message(),
        r#"pods "web" is forbidden: User "x" cannot get resource "pods/log" in API group "" in the namespace "default": Everything is forbidden."#
    );
    let path = Attributes {
        user: user("x", &[]),
        verb: "get".into(),
        path: "/metrics".into(),
        ..Attributes::default()
    };
    assert_eq!(
        forbidden(&path, "").0.message(),
        r#"forbidden: User "x" cannot get path "/metrics""#
    );
}
