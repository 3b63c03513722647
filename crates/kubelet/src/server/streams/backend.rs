//! Connections to containerd's streaming server (the URL a CRI `Exec`, `Attach` or `PortForward`
//! returns, plain HTTP on the node's loopback): sending an upgrade request and, when it is
//! accepted, proxying the upgraded connection byte for byte, as upstream's `UpgradeAwareHandler`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::server::http::{self, Body, Failure};

/// Request headers never passed on: the hop's own, and credentials meant for the kubelet.
const DROPPED: [header::HeaderName; 4] = [
    header::HOST,
    header::AUTHORIZATION,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
];
/// The most of an error body read from the streaming server.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Sends `method` with `headers` to `url` (an `http://` URL of the streaming server) and returns
/// its answer; the connection stays usable for an upgrade.
pub async fn send(
    url: &str,
    method: Method,
    headers: &HeaderMap,
) -> Result<Response<Incoming>, Failure> {
    let uri: Uri = url
        .parse()
        .map_err(|error| Failure::internal(format!("invalid streaming URL {url:?}: {error}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| Failure::internal(format!("streaming URL {url:?} has no host")))?
        .clone();
    let port = authority.port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((authority.host(), port))
        .await
        .map_err(|error| Failure::internal(format!("connecting to {authority}: {error}")))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|error| Failure::internal(format!("connecting to {authority}: {error}")))?;
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%error, "streaming server connection ended");
        }
    });
    let path = uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_string();
    let mut request = Request::new(Empty::<Bytes>::new());
    *request.method_mut() = method;
    *request.uri_mut() = path
        .parse()
        .map_err(|error| Failure::internal(format!("invalid streaming path {path:?}: {error}")))?;
    let request_headers = request.headers_mut();
    for (name, value) in headers {
        if !DROPPED.contains(name) {
            request_headers.append(name, value.clone());
        }
    }
    let host = HeaderValue::from_str(authority.as_str())
        .map_err(|error| Failure::internal(error.to_string()))?;
    request_headers.insert(header::HOST, host);
    sender
        .send_request(request)
        .await
        .map_err(|error| Failure::internal(format!("streaming request to {authority}: {error}")))
}

/// Upgrades the backend's `101` answer into its connection.
pub async fn upgraded(response: Response<Incoming>) -> Result<Upgraded, Failure> {
    hyper::upgrade::on(response)
        .await
        .map_err(|error| Failure::internal(format!("upgrading the streaming connection: {error}")))
}

/// The client's view of a backend answer that is not an upgrade: its status and (bounded) body.
pub async fn passthrough(response: Response<Incoming>) -> Response<Body> {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let body = match Limited::new(response.into_body(), ERROR_BODY_LIMIT)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) => Bytes::from(error.to_string()),
    };
    let mut answer = Response::new(http::full(body));
    *answer.status_mut() = status;
    if let Some(content_type) = content_type {
        answer
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    answer
}

/// Proxies the client's upgrade request to `url` unchanged: the backend's `101` goes back to the
/// client and both upgraded connections are joined; any other answer is passed through.
pub async fn proxy(mut request: Request<Incoming>, url: &str) -> Response<Body> {
    let response = match send(url, request.method().clone(), request.headers()).await {
        Ok(response) => response,
        Err(failure) => return failure.into_response(),
    };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return passthrough(response).await;
    }
    let mut answer = Response::new(http::empty());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    *answer.headers_mut() = response.headers().clone();
    let client = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let (client, backend) = match tokio::join!(client, upgraded(response)) {
            (Ok(client), Ok(backend)) => (client, backend),
            (Err(error), _) => {
                tracing::debug!(%error, "the client did not complete the upgrade");
                return;
            }
            (_, Err(failure)) => {
                tracing::debug!(message = %failure.message, "the streaming server did not upgrade");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut backend = TokioIo::new(backend);
        if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            tracing::debug!(%error, "a proxied stream ended with an error");
        }
    });
    answer
}
