//! The router: health, version, discovery, OpenAPI and metrics endpoints by path, every other API URL to the generic
//! REST store, all behind authentication and authorization.

mod discovery;
mod health;
pub(crate) mod join;
mod openapi;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::App;
use crate::auth::authz::{self, Decision};
use crate::auth::{self, ConnectionIdentity};
use crate::errors::ApiError;
use crate::metrics;
use crate::rest;

/// Pod subresources served by the pod's kubelet (`rest::proxy`).
const POD_LOG: &str = "/api/v1/namespaces/{namespace}/pods/{name}/log";
const POD_EXEC: &str = "/api/v1/namespaces/{namespace}/pods/{name}/exec";
const POD_ATTACH: &str = "/api/v1/namespaces/{namespace}/pods/{name}/attach";
const POD_PORTFORWARD: &str = "/api/v1/namespaces/{namespace}/pods/{name}/portforward";
/// The node subresource served by the node's kubelet.
const NODE_PROXY: &str = "/api/v1/nodes/{name}/proxy";
const NODE_PROXY_PATH: &str = "/api/v1/nodes/{name}/proxy/{*path}";

/// The whole HTTP surface of the API server.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/version", get(health::version))
        .route("/healthz", get(health::ok))
        .route("/livez", get(health::ok))
        .route("/readyz", get(health::ok))
        .route("/healthz/{check}", get(health::ok))
        .route("/livez/{check}", get(health::ok))
        .route("/readyz/{check}", get(health::ok))
        .route("/api", get(discovery::core_versions))
        .route("/api/v1", get(discovery::core_resources))
        .route("/apis", get(discovery::groups))
        .route("/apis/{group}", get(discovery::group))
        .route("/apis/{group}/{version}", get(discovery::group_resources))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi/v2", get(openapi::v2))
        .route("/openapi/v3", get(openapi::index))
        .route("/openapi/v3/{*path}", get(openapi::document))
        .route(POD_LOG, any(rest::proxy::log))
        .route(POD_EXEC, any(rest::proxy::exec))
        .route(POD_ATTACH, any(rest::proxy::attach))
        .route(POD_PORTFORWARD, any(rest::proxy::portforward))
        .route(NODE_PROXY, any(rest::proxy::node_root))
        .route(NODE_PROXY_PATH, any(rest::proxy::node))
        .fallback(rest::handle)
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(middleware::from_fn_with_state(app.clone(), metrics::record))
        .with_state(app)
}

/// Rejects unauthenticated requests with 401, except to the public health and version paths, and
/// requests the authorizer does not allow with 403.
async fn authenticate(State(app): State<App>, request: Request, next: Next) -> Response {
    if auth::is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let connection = request
        .extensions()
        .get::<ConnectionIdentity>()
        .cloned()
        .unwrap_or_default();
    let Some(user) = app
        .authenticator
        .authenticate(&connection, request.headers())
        .await
    else {
        return ApiError::unauthorized().into_response();
    };
    let attributes = authz::request::attributes(
        &user,
        request.method(),
        request.uri().path(),
        request.uri().query().unwrap_or(""),
    );
    let answer = app.authorizer.authorize(&attributes).await;
    if answer.decision != Decision::Allow {
        return authz::forbidden(&attributes, &answer.reason).into_response();
    }
    if let Some(create) = authz::request::websocket_upgrade_create(&attributes) {
        let answer = app.authorizer.authorize(&create).await;
        if answer.decision != Decision::Allow {
            return authz::forbidden(&create, &answer.reason).into_response();
        }
    }
    let mut request = request;
    request.extensions_mut().insert(user);
    next.run(request).await
}

#[cfg(test)]
mod tests;
