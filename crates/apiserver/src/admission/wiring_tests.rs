//! Every mutating path reaches the admission chain with upstream's attributes: requests driven
//! through the router against a private store, with `NamespaceLifecycle` and a plugin that records
//! what it is shown (operation, subresource, name, the object's and the old object's kinds).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kubers_store::Store;
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;
use crate::App;
use crate::auth::ConnectionIdentity;
use crate::auth::authn::Authenticator;
use crate::auth::authz;
use crate::auth::tokens::Issuer;

/// What a plugin was shown: operation, subresource, name, object kind, old object kind, and
/// whether the validating half saw it.
type Seen = (Operation, Option<String>, String, String, String, bool);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    fn record(&self, attributes: &Attributes<'_>, object: &Value, old: Option<&Value>, v: bool) {
        let kind = |value: Option<&Value>| {
            value
                .and_then(|value| value.get("kind"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if let Ok(mut seen) = self.0.lock() {
            seen.push((
                attributes.operation,
                attributes.subresource.map(str::to_owned),
                attributes.name.to_owned(),
                kind(Some(object)),
                kind(old),
                v,
            ));
        }
    }

    fn take(&self) -> Vec<Seen> {
        self.0
            .lock()
            .map(|mut seen| std::mem::take(&mut *seen))
            .unwrap_or_default()
    }
}

#[async_trait]
impl MutatingPlugin for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    async fn admit(
        &self,
        _store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        self.record(attributes, object, old, false);
        Ok(())
    }
}

#[async_trait]
impl ValidatingPlugin for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    async fn validate(
        &self,
        _store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        self.record(attributes, object, old, true);
        Ok(())
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    app: App,
    recorder: Recorder,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteConfig::new(dir.path().join("db"))).expect("store opens"));
    let meta = |name: &str, namespace: Option<&str>| {
        let mut meta = json!({"name": name, "uid": format!("uid-{name}"),
            "creationTimestamp": "2026-01-01T00:00:00Z"});
        if let Some(namespace) = namespace {
            meta["namespace"] = json!(namespace);
        }
        meta
    };
    let seeds = [
        (
            "/registry/namespaces/default",
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": meta("default", None),
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
        ),
        (
            "/registry/namespaces/doomed",
            json!({"kind": "Namespace", "apiVersion": "v1", "metadata": meta("doomed", None),
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Terminating"}}),
        ),
        (
            "/registry/deployments/default/web",
            json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": meta("web", Some("default")),
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}}}),
        ),
        (
            "/registry/pods/default/p",
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": meta("p", Some("default")),
                "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Pending"}}),
        ),
        (
            "/registry/pods/doomed/p",
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": meta("p", Some("doomed")),
                "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Running"}}),
        ),
        (
            "/registry/serviceaccounts/doomed/default",
            json!({"kind": "ServiceAccount", "apiVersion": "v1", "metadata": meta("default", Some("doomed"))}),
        ),
        (
            "/registry/configmaps/default/a",
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta("a", Some("default"))}),
        ),
        (
            "/registry/configmaps/default/b",
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta("b", Some("default"))}),
        ),
    ];
    for (key, object) in seeds {
        store
            .create(key, bytes::Bytes::from(object.to_string()))
            .await
            .expect("seed");
    }
    let recorder = Recorder::default();
    let key = rcgen::KeyPair::generate().expect("key");
    let app = App {
        metrics: Arc::new(crate::metrics::Metrics::new(store.as_ref())),
        caches: Arc::new(crate::cache::Caches::new(
            Arc::clone(&store),
            crate::cache::CacheConfig::default(),
        )),
        store,
        authenticator: Authenticator::new(Vec::new()),
        authorizer: authz::from_modes(&["AlwaysAllow".to_owned()]).expect("modes"),
        admission: Arc::new(Admission::new(
            vec![Box::new(NamespaceLifecycle), Box::new(recorder.clone())],
            vec![Box::new(recorder.clone())],
        )),
        token_issuer: Arc::new(
            Issuer::new(
                &key.serialize_pem(),
                "https://kubernetes.default.svc.cluster.local",
                Vec::new(),
            )
            .expect("issuer"),
        ),
        advertise_address: "127.0.0.1:6443".to_owned(),
        service_cidr: crate::Ipv4Cidr::parse("10.43.0.0/16").expect("cidr"),
        kubelet: crate::rest::proxy::KubeletClient::anonymous().expect("kubelet client"),
    };
    Fixture {
        _dir: dir,
        app,
        recorder,
    }
}

async fn send(
    fixture: &Fixture,
    method: Method,
    path: &str,
    content_type: &str,
    body: Value,
) -> (StatusCode, Value) {
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectionIdentity::from_certificate(
            "system:admin".into(),
            vec!["system:masters".into()],
        ));
    let response = crate::routes::router(fixture.app.clone())
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn seen(operation: Operation, sub: Option<&str>, name: &str, kind: &str, old: &str) -> [Seen; 2] {
    let one = |validating| {
        (
            operation,
            sub.map(str::to_owned),
            name.to_owned(),
            kind.to_owned(),
            old.to_owned(),
            validating,
        )
    };
    [one(false), one(true)]
}

const JSON: &str = "application/json";

#[tokio::test]
async fn scale_is_admitted_as_an_update_of_the_scale() {
    let fixture = fixture().await;
    let path = "/apis/apps/v1/namespaces/default/deployments/web/scale";
    let (status, _) = send(&fixture, Method::GET, path, JSON, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fixture.recorder.take(), [], "a read is not admitted");
    let (status, body) = send(
        &fixture,
        Method::PATCH,
        path,
        "application/merge-patch+json",
        json!({"spec": {"replicas": 3}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["spec"]["replicas"], 3);
    let update = seen(Operation::Update, Some("scale"), "web", "Scale", "Scale");
    assert_eq!(fixture.recorder.take(), update);
    let scale = json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 2}});
    let (status, body) = send(&fixture, Method::PUT, path, JSON, scale).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(fixture.recorder.take(), update);
}

#[tokio::test]
async fn subresource_creates_are_refused_in_a_terminating_namespace() {
    let fixture = fixture().await;
    let binding = json!({"kind": "Binding", "apiVersion": "v1", "metadata": {"name": "p"},
        "target": {"kind": "Node", "name": "n1"}});
    let (status, body) = send(
        &fixture,
        Method::POST,
        "/api/v1/namespaces/doomed/pods/p/binding",
        JSON,
        binding.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        r#"pods "p" is forbidden: unable to create new content in namespace doomed because it is being terminated"#
    );
    assert_eq!(
        body["details"]["causes"][0]["reason"],
        "NamespaceTerminating"
    );
    let (status, body) = send(
        &fixture,
        Method::POST,
        "/api/v1/namespaces/doomed/serviceaccounts/default/token",
        JSON,
        json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "spec": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        r#"serviceaccounts "default" is forbidden: unable to create new content in namespace doomed because it is being terminated"#
    );
    let (status, body) = send(
        &fixture,
        Method::POST,
        "/api/v1/namespaces/doomed/pods/p/eviction",
        JSON,
        json!({"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "p"}}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        r#"pods "p" is forbidden: unable to create new content in namespace doomed because it is being terminated"#
    );
    assert_eq!(
        fixture.recorder.take(),
        [],
        "refused before the later plugins"
    );

    let (status, body) = send(
        &fixture,
        Method::POST,
        "/api/v1/namespaces/default/pods/p/binding",
        JSON,
        binding,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        fixture.recorder.take(),
        seen(Operation::Create, Some("binding"), "p", "Binding", "")
    );
}

#[tokio::test]
async fn an_eviction_is_a_create_then_the_pods_delete() {
    let fixture = fixture().await;
    let (status, body) = send(
        &fixture,
        Method::POST,
        "/api/v1/namespaces/default/pods/p/eviction",
        JSON,
        json!({"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "p"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut expected = seen(Operation::Create, Some("eviction"), "p", "Eviction", "").to_vec();
    expected.extend(seen(Operation::Delete, None, "p", "", "Pod"));
    assert_eq!(fixture.recorder.take(), expected);
}

#[tokio::test]
async fn deletecollection_admits_each_item_as_a_delete() {
    let fixture = fixture().await;
    let (status, body) = send(
        &fixture,
        Method::DELETE,
        "/api/v1/namespaces/default/configmaps",
        JSON,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2));
    let mut expected = seen(Operation::Delete, None, "a", "", "ConfigMap").to_vec();
    expected.extend(seen(Operation::Delete, None, "b", "", "ConfigMap"));
    assert_eq!(fixture.recorder.take(), expected);
}

#[tokio::test]
async fn finalize_is_an_update_of_the_namespace() {
    let fixture = fixture().await;
    let (status, body) = send(
        &fixture,
        Method::PUT,
        "/api/v1/namespaces/doomed/finalize",
        JSON,
        json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "doomed"},
            "spec": {"finalizers": []}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        fixture.recorder.take(),
        seen(
            Operation::Update,
            Some("finalize"),
            "doomed",
            "Namespace",
            "Namespace"
        )
    );
}
