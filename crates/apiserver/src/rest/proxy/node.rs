//! `nodes/proxy`: a request to `/api/v1/nodes/{name}/proxy/{path}` goes to `/{path}` on the node's
//! kubelet (upstream's `NodeProxyREST`), e.g. `kubectl get --raw
//! /api/v1/nodes/NAME/proxy/stats/summary`. The method, query, body and headers are passed on
//! (without the client's credentials or hop-by-hop headers; the API server presents its own
//! kubelet client certificate), and the kubelet's status, headers and body come back as they are.
//! The name may carry a port (`NAME:10250`), as upstream allows.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};

use super::kubelet;
use crate::App;
use crate::errors::ApiError;

/// Headers never passed through a proxy (RFC 9110 hop-by-hop, credentials, the host).
const DROPPED: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::AUTHORIZATION,
    header::HOST,
];

/// `/api/v1/nodes/{name}/proxy`.
pub async fn node_root(
    State(app): State<App>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    forward(&app, &name, "", request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `/api/v1/nodes/{name}/proxy/{*path}`.
pub async fn node(
    State(app): State<App>,
    Path((name, path)): Path<(String, String)>,
    request: Request,
) -> Response {
    forward(&app, &name, &path, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn forward(
    app: &App,
    name: &str,
    path: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let (node, port) = split_port(name)?;
    let mut endpoint = kubelet::node_endpoint(app, node).await?;
    if let Some(port) = port {
        endpoint.port = port;
    }
    let (parts, body) = request.into_parts();
    let mut target = format!("/{path}");
    if let Some(query) = parts.uri.query() {
        target = format!("{target}?{query}");
    }
    let mut upstream = hyper::Request::new(body);
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = target.parse().map_err(|error| {
        ApiError::bad_request(format!("invalid proxy path {target:?}: {error}"))
    })?;
    *upstream.headers_mut() = passed_on(&parts.headers);
    let response = app.kubelet.send(&endpoint, upstream).await?;
    let (parts, body) = response.into_parts();
    let mut answer = Response::new(Body::new(body));
    *answer.status_mut() = parts.status;
    *answer.headers_mut() = passed_on(&parts.headers);
    Ok(answer)
}

/// `name` or `name:port`.
fn split_port(name: &str) -> Result<(&str, Option<u16>), ApiError> {
    match name.split_once(':') {
        None => Ok((name, None)),
        Some((node, port)) => {
            let port = port.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid port in node name {name:?}"))
            })?;
            Ok((node, Some(port)))
        }
    }
}

/// `headers` without the ones a proxy drops.
fn passed_on(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in &DROPPED {
        kept.remove(name);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_ports() {
        assert_eq!(split_port("n1").ok(), Some(("n1", None)));
        assert_eq!(split_port("n1:10250").ok(), Some(("n1", Some(10250))));
        assert!(split_port("n1:http").is_err());
    }

    #[test]
    fn credentials_and_hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        headers.insert(header::CONNECTION, "close".parse().unwrap());
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        let kept = passed_on(&headers);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[header::ACCEPT], "application/json");
    }
}
