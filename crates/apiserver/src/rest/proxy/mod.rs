//! The pod subresources served by the pod's kubelet: `pods/log` (streamed back as it comes) and
//! the `pods/exec`, `pods/attach` and `pods/portforward` upgrades, proxied to the kubelet
//! unchanged whatever the client speaks (WebSocket `v5.channel.k8s.io` and older, SPDY/3.1,
//! port-forward tunnelled in WebSocket), as upstream's `UpgradeAwareHandler` with
//! `ExtendWebSocketsToKubelet`: the kubelet answers each protocol itself. `node`: the
//! `nodes/proxy` subresource.

mod kubelet;
mod node;
mod options;

pub use kubelet::KubeletClient;
pub use node::{node, node_root};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use kubers_core::registry::{self, GroupResource};
use serde_json::Value;

use self::kubelet::Endpoint;
use self::options::{CommandOptions, LogOptions};
use crate::App;
use crate::errors::ApiError;

/// Request headers an upgrade passes on to the kubelet (never credentials).
const UPGRADE_HEADERS: [&str; 7] = [
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
    "user-agent",
];
/// The most of a kubelet error body read into a `Status` message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

const PODS: GroupResource<'static> = GroupResource {
    group: "",
    resource: "pods",
};

/// `GET /api/v1/namespaces/{namespace}/pods/{name}/log`.
pub async fn log(
    State(app): State<App>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve_log(&app, &namespace, &name, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET|POST .../pods/{name}/exec`.
pub async fn exec(
    State(app): State<App>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve_stream(&app, &namespace, &name, request, Kind::Exec)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET|POST .../pods/{name}/attach`.
pub async fn attach(
    State(app): State<App>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve_stream(&app, &namespace, &name, request, Kind::Attach)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET|POST .../pods/{name}/portforward`.
pub async fn portforward(
    State(app): State<App>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve_stream(&app, &namespace, &name, request, Kind::PortForward)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Which streaming subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exec,
    Attach,
    PortForward,
}

/// The pod as stored.
async fn read_pod(app: &App, namespace: &str, name: &str) -> Result<Value, ApiError> {
    let info = registry::find("", "v1", "pods").ok_or_else(ApiError::no_such_path)?;
    let key = registry::storage_key(info, Some(namespace), Some(name));
    let stored = app
        .store
        .get(&key)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found(PODS, name))?;
    serde_json::from_slice(&stored.value).map_err(ApiError::internal)
}

fn node_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|node| !node.is_empty())
}

async fn serve_log(
    app: &App,
    namespace: &str,
    name: &str,
    request: Request,
) -> Result<Response, ApiError> {
    if request.method() != Method::GET {
        return Err(ApiError::method_not_supported(
            PODS,
            &request.method().as_str().to_ascii_lowercase(),
        ));
    }
    let options = LogOptions::parse(request.uri().query().unwrap_or(""), name)?;
    let pod = read_pod(app, namespace, name).await?;
    let container = options::container(&pod, options.container.as_deref())?;
    let Some(node) = node_name(&pod) else {
        // Not scheduled yet: no logs, as upstream.
        return Ok(text_response(StatusCode::OK, Body::empty()));
    };
    let endpoint = kubelet::node_endpoint(app, node).await?;
    let mut path = format!("/containerLogs/{namespace}/{name}/{container}");
    let query = options.kubelet_query();
    if !query.is_empty() {
        path = format!("{path}?{query}");
    }
    let response = app
        .kubelet
        .send(&endpoint, kubelet_request(Method::GET, &path)?)
        .await?;
    if !response.status().is_success() {
        return Err(kubelet_failure(response, name).await);
    }
    Ok(text_response(
        StatusCode::OK,
        Body::new(response.into_body()),
    ))
}

fn text_response(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn kubelet_request(method: Method, path: &str) -> Result<hyper::Request<Empty<Bytes>>, ApiError> {
    let mut request = hyper::Request::new(Empty::new());
    *request.method_mut() = method;
    *request.uri_mut() = path.parse().map_err(|error| {
        ApiError::bad_request(format!("invalid kubelet path {path:?}: {error}"))
    })?;
    Ok(request)
}

/// A kubelet error answer as upstream's `GenericHttpResponseChecker` reports it.
async fn kubelet_failure(response: hyper::Response<hyper::body::Incoming>, name: &str) -> ApiError {
    let status = response.status();
    let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).to_string();
    match status {
        StatusCode::BAD_REQUEST => ApiError::bad_request(text),
        StatusCode::INTERNAL_SERVER_ERROR => ApiError::status(
            500,
            "InternalError",
            format!("Internal error occurred: {text}"),
        ),
        StatusCode::NOT_FOUND => {
            let mut error = ApiError::not_found(PODS, name);
            if let Some(body) = error.0.body.as_object_mut() {
                body.insert("message".into(), Value::String(text));
            }
            error
        }
        other => ApiError::status(
            other.as_u16(),
            other.canonical_reason().unwrap_or("Unknown"),
            text,
        ),
    }
}

/// Whether the request asks for a protocol upgrade.
fn is_upgrade(request: &Request) -> bool {
    let connection = request
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    connection && request.headers().contains_key(header::UPGRADE)
}

async fn serve_stream(
    app: &App,
    namespace: &str,
    name: &str,
    mut request: Request,
    kind: Kind,
) -> Result<Response, ApiError> {
    let method = request.method().clone();
    if method != Method::GET && method != Method::POST {
        return Err(ApiError::method_not_supported(
            PODS,
            &method.as_str().to_ascii_lowercase(),
        ));
    }
    if !is_upgrade(&request) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let query = request.uri().query().unwrap_or("").to_string();
    let pod = read_pod(app, namespace, name).await?;
    let path = match kind {
        Kind::Exec | Kind::Attach => {
            let options = CommandOptions::parse(&query)?;
            let container = options::container(&pod, options.container.as_deref())?;
            let (segment, with_command) = match kind {
                Kind::Exec => ("exec", true),
                _ => ("attach", false),
            };
            format!(
                "/{segment}/{namespace}/{name}/{container}?{}",
                options.kubelet_query(with_command)
            )
        }
        Kind::PortForward => {
            let query = options::port_forward_query(&query)?;
            let path = format!("/portForward/{namespace}/{name}");
            if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            }
        }
    };
    let Some(node) = node_name(&pod) else {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    };
    let endpoint = kubelet::node_endpoint(app, node).await?;
    let mut upstream = kubelet_request(method, &path)?;
    for name in UPGRADE_HEADERS {
        for value in request.headers().get_all(name) {
            upstream.headers_mut().append(name, value.clone());
        }
    }
    let response = app.kubelet.send(&endpoint, upstream).await?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        // The kubelet's refusal goes back as it is, as upstream passes it through.
        let (parts, body) = response.into_parts();
        return Ok(Response::from_parts(parts, Body::new(body)));
    }
    let mut answer = Response::new(Body::empty());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *answer.headers_mut() = response.headers().clone();
    let client = hyper::upgrade::on(&mut request);
    tokio::spawn(splice(client, response, endpoint));
    Ok(answer)
}

/// Joins the client's upgraded connection with the kubelet's.
async fn splice(
    client: hyper::upgrade::OnUpgrade,
    kubelet: hyper::Response<hyper::body::Incoming>,
    endpoint: Endpoint,
) {
    let (client, kubelet) = match tokio::join!(client, hyper::upgrade::on(kubelet)) {
        (Ok(client), Ok(kubelet)) => (client, kubelet),
        (client, kubelet) => {
            let error = client.err().or(kubelet.err());
            tracing::debug!(?error, %endpoint, "a stream upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut kubelet = TokioIo::new(kubelet);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut kubelet).await {
        tracing::debug!(%error, %endpoint, "a proxied stream ended with an error");
    }
}
