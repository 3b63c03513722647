//! The authentication and authorization filters in front of every route, driven through the router
//! with a private store: 401 without credentials, 403 with upstream's exact message from a denying
//! authorizer, the request through when allowed.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use kubers_store::Store;
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use serde_json::Value;
use tower::ServiceExt;

use super::router;
use crate::App;
use crate::admission::Admission;
use crate::auth::ConnectionIdentity;
use crate::auth::authn::{Authenticator, TokenFile};
use crate::auth::authz;
use crate::auth::tokens::Issuer;

fn app(dir: &tempfile::TempDir, modes: &[&str]) -> App {
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(SqliteConfig::new(dir.path().join("db"))).expect("store opens"));
    let key = rcgen::KeyPair::generate().expect("key");
    let tokens = TokenFile::parse("bob-token,bob,1001,dev\n", "tokens.csv").expect("tokens");
    App {
        metrics: Arc::new(crate::metrics::Metrics::new(store.as_ref())),
        caches: Arc::new(crate::cache::Caches::new(
            Arc::clone(&store),
            crate::cache::CacheConfig::default(),
        )),
        store,
        authenticator: Authenticator::new(vec![Box::new(tokens)]),
        authorizer: authz::from_modes(&modes.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>())
            .expect("modes"),
        admission: Arc::new(Admission::standard()),
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
    }
}

async fn send(app: &App, path: &str, token: Option<&str>, admin: bool) -> (StatusCode, Value) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::empty()).expect("request");
    if admin {
        request
            .extensions_mut()
            .insert(ConnectionIdentity::from_certificate(
                "system:admin".into(),
                vec!["system:masters".into()],
            ));
    }
    let response = router(app.clone())
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

#[tokio::test]
async fn denying_authorizer_answers_upstreams_403() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(&dir, &["AlwaysDeny"]);
    let (status, body) = send(
        &app,
        "/api/v1/namespaces/default/pods",
        Some("bob-token"),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        r#"pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default": Everything is forbidden."#
    );
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(body["details"], serde_json::json!({"kind": "pods"}));
    let (status, body) = send(&app, "/metrics", Some("bob-token"), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        r#"forbidden: User "bob" cannot get path "/metrics": Everything is forbidden."#
    );
    let (status, _) = send(&app, "/api/v1/namespaces/default/pods", None, true).await;
    assert_eq!(status, StatusCode::OK, "system:masters is always allowed");
}

#[tokio::test]
async fn unauthenticated_requests_get_401_except_public_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(&dir, &["AlwaysAllow"]);
    for token in [None, Some("wrong")] {
        let (status, body) = send(&app, "/api/v1/namespaces/default/pods", token, false).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(body["message"], "Unauthorized");
    }
    let (status, _) = send(&app, "/healthz", None, false).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &app,
        "/api/v1/namespaces/default/configmaps",
        Some("bob-token"),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn node_proxy_needs_the_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = app(&dir, &["AlwaysAllow"]);
    for path in [
        "/api/v1/nodes/n1/proxy/stats/summary",
        "/api/v1/nodes/n1:10250/proxy",
    ] {
        let (status, body) = send(&app, path, None, true).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["message"], r#"nodes "n1" not found"#, "{path}");
    }
}
