//! The standard chain against a private store: upstream's answers for missing and terminating
//! namespaces, immortal namespaces, service accounts and priority classes.

use std::sync::Arc;

use kubers_core::registry;
use kubers_store::Store;
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use serde_json::{Value, json};

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    user: UserInfo,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteConfig::new(dir.path().join("db"))).expect("store opens"));
    for (key, object) in [
        (
            "/registry/namespaces/default",
            json!({"status": {"phase": "Active"}}),
        ),
        (
            "/registry/namespaces/doomed",
            json!({"status": {"phase": "Terminating"}}),
        ),
        (
            "/registry/serviceaccounts/default/quiet",
            json!({"metadata": {"name": "quiet"}, "automountServiceAccountToken": false}),
        ),
    ] {
        store
            .create(key, bytes::Bytes::from(object.to_string()))
            .await
            .expect("seed");
    }
    Fixture {
        _dir: dir,
        store,
        user: UserInfo::authenticated("alice", Vec::new()),
    }
}

async fn admit(
    fixture: &Fixture,
    resource: &str,
    operation: Operation,
    namespace: Option<&str>,
    name: &str,
    object: &mut Value,
) -> Result<(), String> {
    let info = registry::find("", "v1", resource).expect("resource");
    let attributes = Attributes {
        operation,
        info,
        subresource: None,
        namespace,
        name,
        user: &fixture.user,
        dry_run: false,
    };
    let chain = Admission::standard();
    chain
        .admit(
            &Reads::new(fixture.store.as_ref(), None),
            &attributes,
            object,
            None,
        )
        .await
        .map_err(|error| error.0.message().to_owned())?;
    chain
        .validate(
            &Reads::new(fixture.store.as_ref(), None),
            &attributes,
            object,
            None,
        )
        .await
        .map_err(|error| error.0.message().to_owned())
}

fn pod(name: &str, account: Option<&str>) -> Value {
    let mut pod = json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c"}]}});
    if let Some(account) = account {
        pod["spec"]["serviceAccountName"] = json!(account);
    }
    pod
}

#[tokio::test]
async fn namespace_lifecycle() {
    let fixture = fixture().await;
    let mut map = json!({"metadata": {"name": "c"}});
    let create = Operation::Create;
    assert_eq!(
        admit(&fixture, "configmaps", create, Some("nope"), "c", &mut map).await,
        Err(r#"namespaces "nope" not found"#.to_owned())
    );
    assert_eq!(
        admit(&fixture, "configmaps", create, Some("doomed"), "c", &mut map).await,
        Err(r#"configmaps "c" is forbidden: unable to create new content in namespace doomed because it is being terminated"#.to_owned())
    );
    assert!(
        admit(
            &fixture,
            "configmaps",
            Operation::Delete,
            Some("doomed"),
            "c",
            &mut Value::Null
        )
        .await
        .is_ok()
    );
    assert_eq!(
        admit(
            &fixture,
            "namespaces",
            Operation::Delete,
            None,
            "kube-system",
            &mut Value::Null
        )
        .await,
        Err(
            r#"namespaces "kube-system" is forbidden: this namespace may not be deleted"#
                .to_owned()
        )
    );
    assert!(
        admit(
            &fixture,
            "configmaps",
            create,
            Some("default"),
            "c",
            &mut map
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn service_accounts_and_priority() {
    let fixture = fixture().await;
    let create = Operation::Create;
    let mut web = pod("web", None);
    admit(&fixture, "pods", create, Some("default"), "web", &mut web)
        .await
        .expect("a missing default account is tolerated");
    assert_eq!(web["spec"]["serviceAccountName"], "default");
    assert_eq!(web["spec"]["serviceAccount"], "default");
    assert_eq!(web["spec"]["priority"], 0);
    assert_eq!(web["spec"]["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(web["spec"]["tolerations"].as_array().map(Vec::len), Some(2));
    let volume = web["spec"]["volumes"][0]["name"]
        .as_str()
        .expect("token volume");
    assert!(volume.starts_with("kube-api-access-"), "{volume}");

    let mut quiet = pod("quiet", Some("quiet"));
    admit(
        &fixture,
        "pods",
        create,
        Some("default"),
        "quiet",
        &mut quiet,
    )
    .await
    .expect("admitted");
    assert!(
        quiet["spec"].get("volumes").is_none(),
        "the account opts out"
    );

    let mut stranger = pod("stranger", Some("missing"));
    assert_eq!(
        admit(&fixture, "pods", create, Some("default"), "stranger", &mut stranger).await,
        Err(r#"pods "stranger" is forbidden: error looking up service account default/missing: serviceaccount "missing" not found"#.to_owned())
    );

    let mut classy = pod("classy", None);
    classy["spec"]["priorityClassName"] = json!("gold");
    assert_eq!(
        admit(
            &fixture,
            "pods",
            create,
            Some("default"),
            "classy",
            &mut classy
        )
        .await,
        Err(r#"pods "classy" is forbidden: no PriorityClass with name gold was found"#.to_owned())
    );

    let mut mirror = pod("static", Some("default"));
    mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "x"});
    assert_eq!(
        admit(
            &fixture,
            "pods",
            create,
            Some("default"),
            "static",
            &mut mirror
        )
        .await,
        Err(
            r#"pods "static" is forbidden: a mirror pod may not reference service accounts"#
                .to_owned()
        )
    );
}

#[tokio::test]
async fn subresources_pass_namespace_lifecycle_like_upstream() {
    let fixture = fixture().await;
    let chain = Admission::standard();
    let pods = registry::find("", "v1", "pods").expect("pods");
    let accounts = registry::find("", "v1", "serviceaccounts").expect("serviceaccounts");
    let attributes = |info, operation, subresource, namespace, name| Attributes {
        operation,
        info,
        subresource: Some(subresource),
        namespace: Some(namespace),
        name,
        user: &fixture.user,
        dry_run: false,
    };
    let message = |result: Result<(), ApiError>| result.map_err(|e| e.0.message().to_owned());
    let store = fixture.store.as_ref();
    let mut binding = json!({"kind": "Binding", "target": {"name": "n1"}});
    let create = Operation::Create;
    let bind = attributes(pods, create, "binding", "doomed", "web");
    assert_eq!(
        message(chain.admit(&Reads::new(store, None), &bind, &mut binding, None).await),
        Err(r#"pods "web" is forbidden: unable to create new content in namespace doomed because it is being terminated"#.to_owned())
    );
    let mut token = json!({"kind": "TokenRequest", "spec": {}});
    let issue = attributes(accounts, create, "token", "doomed", "default");
    assert_eq!(
        message(chain.admit(&Reads::new(store, None), &issue, &mut token, None).await),
        Err(r#"serviceaccounts "default" is forbidden: unable to create new content in namespace doomed because it is being terminated"#.to_owned())
    );
    let evict = attributes(pods, create, "eviction", "nope", "web");
    assert_eq!(
        message(
            chain
                .admit(&Reads::new(store, None), &evict, &mut json!({}), None)
                .await
        ),
        Err(r#"namespaces "nope" not found"#.to_owned())
    );
    // Updates of subresources in a terminating namespace go through (the namespace controller and
    // kubelets still write status), and the pod plugins leave a binding alone.
    let status = attributes(pods, Operation::Update, "status", "doomed", "web");
    let mut pod = pod("web", None);
    let before = pod.clone();
    chain
        .admit_and_validate(&Reads::new(store, None), &status, &mut pod, Some(&before))
        .await
        .expect("status update admitted");
    assert_eq!(pod, before, "no pod plugin mutates a subresource write");
    let bind = attributes(pods, create, "binding", "default", "web");
    let mut binding = json!({"kind": "Binding", "target": {"name": "n1"}});
    chain
        .admit_and_validate(&Reads::new(store, None), &bind, &mut binding, None)
        .await
        .expect("binding admitted");
    assert_eq!(
        binding,
        json!({"kind": "Binding", "target": {"name": "n1"}})
    );
}
