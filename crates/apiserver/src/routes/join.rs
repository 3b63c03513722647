//! The node join endpoints on the API port, as k3s' supervisor serves them beside its API server:
//!
//! - `GET /cacerts`: the cluster CA certificate (PEM), unauthenticated, so a joining node can
//!   download it and check it against the CA hash of its `K10...` token;
//! - `POST /v1-kubers/client-kubelet.crt`: the node's client certificate (`system:node:<name>` in
//!   `system:nodes`) for the DER certificate signing request in the body;
//! - `POST /v1-kubers/serving-kubelet.crt`: the kubelet's serving certificate for its name and
//!   addresses.
//!
//! The node names itself in the `kubers-Node-Name` header and its addresses in `kubers-Node-IP`
//! (comma-separated), k3s' `k3s-Node-Name` and `k3s-Node-IP`. The two signing endpoints accept the
//! join token as bearer token and no other credential; they sit outside the authenticated router
//! (and so outside the authorizer), as k3s checks its `k3s:agent` role itself.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::authn::{JoinTokenAuthenticator, TokenAuthenticator, TokenOutcome};
use crate::errors::ApiError;
use crate::pki::{self, Pki};

/// The header naming the joining node.
pub const NODE_NAME_HEADER: &str = "kubers-Node-Name";
/// The header listing the joining node's addresses.
pub const NODE_IP_HEADER: &str = "kubers-Node-IP";
/// The largest certificate signing request accepted.
const CSR_LIMIT: usize = 64 * 1024;

/// What the join endpoints need: the CA to sign with and the join token to check.
#[derive(Clone)]
struct Join {
    pki: Arc<Pki>,
    token: Arc<JoinTokenAuthenticator>,
}

/// The join endpoints, for merging into the API server's router.
pub fn router(pki: Pki) -> Router {
    let token = Arc::new(JoinTokenAuthenticator::new(pki.token()));
    let state = Join {
        pki: Arc::new(pki),
        token,
    };
    Router::new()
        .route("/cacerts", get(cacerts))
        .route("/v1-kubers/client-kubelet.crt", post(client_kubelet))
        .route("/v1-kubers/serving-kubelet.crt", post(serving_kubelet))
        .layer(DefaultBodyLimit::max(CSR_LIMIT))
        .with_state(state)
}

/// `GET /cacerts`.
async fn cacerts(State(join): State<Join>) -> Response {
    pem_response(join.pki.ca_cert_pem().to_owned())
}

/// `POST /v1-kubers/client-kubelet.crt`.
async fn client_kubelet(State(join): State<Join>, headers: HeaderMap, body: Bytes) -> Response {
    let signed = async {
        let node = join.check(&headers).await?;
        let bundle = join
            .pki
            .sign_node_client(&body, &node)
            .map_err(signing_error)?;
        tracing::info!(node = %node, "issued a node client certificate");
        Ok::<_, ApiError>(bundle)
    };
    signed
        .await
        .map_or_else(IntoResponse::into_response, pem_response)
}

/// `POST /v1-kubers/serving-kubelet.crt`.
async fn serving_kubelet(State(join): State<Join>, headers: HeaderMap, body: Bytes) -> Response {
    let signed = async {
        let node = join.check(&headers).await?;
        let ips = node_ips(&headers)?;
        let bundle = join
            .pki
            .sign_kubelet_serving(&body, &node, &ips)
            .map_err(signing_error)?;
        tracing::info!(node = %node, ?ips, "issued a kubelet serving certificate");
        Ok::<_, ApiError>(bundle)
    };
    signed
        .await
        .map_or_else(IntoResponse::into_response, pem_response)
}

impl Join {
    /// Checks the join token and returns the node's name.
    async fn check(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        match self.token.authenticate_token(token, &[]).await {
            TokenOutcome::Authenticated { .. } => {}
            TokenOutcome::NotMine | TokenOutcome::Invalid(_) => {
                return Err(ApiError::unauthorized());
            }
        }
        let name = headers
            .get(NODE_NAME_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .unwrap_or("");
        if name.is_empty() {
            return Err(ApiError::bad_request(format!(
                "the {NODE_NAME_HEADER} header is required"
            )));
        }
        if let Some(problem) = kubers_core::validation::names::dns_subdomain(name).first() {
            return Err(ApiError::bad_request(format!(
                "invalid node name {name:?}: {problem}"
            )));
        }
        Ok(name.to_owned())
    }
}

/// The addresses in the `kubers-Node-IP` header.
fn node_ips(headers: &HeaderMap) -> Result<Vec<IpAddr>, ApiError> {
    let Some(value) = headers.get(NODE_IP_HEADER) else {
        return Ok(Vec::new());
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::bad_request(format!("invalid {NODE_IP_HEADER} header")))?;
    text.split(',')
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .map(|ip| {
            ip.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid node IP address {ip}")))
        })
        .collect()
}

/// A signing failure: the request's fault (400) or the server's (500).
fn signing_error(error: pki::Error) -> ApiError {
    match error {
        pki::Error::SigningRequest { .. } => ApiError::bad_request(error.to_string()),
        other => ApiError::internal(other),
    }
}

/// PEM text, as k3s answers.
fn pem_response(pem: String) -> Response {
    let mut response = (StatusCode::OK, pem).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::PkiConfig;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn pki(dir: &tempfile::TempDir) -> Pki {
        Pki::load_or_create(&PkiConfig {
            dir: dir.path().join("tls"),
            token_path: dir.path().join("token"),
            token: Some("s3cret".into()),
            ..PkiConfig::default()
        })
        .expect("pki")
    }

    fn csr() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        rcgen::CertificateParams::default()
            .serialize_request(&key)
            .expect("csr")
            .der()
            .to_vec()
    }

    async fn send(pki: &Pki, request: Request<Body>) -> (StatusCode, String) {
        let response = router(pki.clone()).oneshot(request).await.expect("answer");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn signing(
        path: &str,
        token: Option<&str>,
        node: Option<&str>,
        body: Vec<u8>,
    ) -> Request<Body> {
        let mut request = Request::post(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(node) = node {
            request = request.header(NODE_NAME_HEADER, node);
        }
        request
            .header(NODE_IP_HEADER, "10.1.2.3")
            .body(Body::from(body))
            .expect("request")
    }

    #[tokio::test]
    async fn cacerts_needs_no_credentials() {
        let dir = tempfile::tempdir().expect("dir");
        let pki = pki(&dir);
        let request = Request::get("/cacerts")
            .body(Body::empty())
            .expect("request");
        let (status, body) = send(&pki, request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, pki.ca_cert_pem());
    }

    #[tokio::test]
    async fn certificates_need_the_join_token() {
        let dir = tempfile::tempdir().expect("dir");
        let pki = pki(&dir);
        for path in [
            "/v1-kubers/client-kubelet.crt",
            "/v1-kubers/serving-kubelet.crt",
        ] {
            for token in [None, Some("wrong")] {
                let (status, body) = send(&pki, signing(path, token, Some("n1"), csr())).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {token:?}: {body}");
                assert!(body.contains("\"reason\":\"Unauthorized\""), "{body}");
            }
            for token in ["s3cret", pki.token()] {
                let (status, body) =
                    send(&pki, signing(path, Some(token), Some("n1"), csr())).await;
                assert_eq!(status, StatusCode::OK, "{path}: {body}");
                assert!(body.ends_with(pki.ca_cert_pem()));
            }
        }
    }

    #[tokio::test]
    async fn bad_names_addresses_and_requests_are_400() {
        let dir = tempfile::tempdir().expect("dir");
        let pki = pki(&dir);
        let path = "/v1-kubers/client-kubelet.crt";
        let cases = [
            (
                signing(path, Some("s3cret"), None, csr()),
                "header is required",
            ),
            (
                signing(path, Some("s3cret"), Some("Bad_Name"), csr()),
                "invalid node name",
            ),
            (
                signing(path, Some("s3cret"), Some("n1"), b"junk".to_vec()),
                "invalid certificate signing request",
            ),
        ];
        for (request, expected) in cases {
            let (status, body) = send(&pki, request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(body.contains(expected), "{expected}: {body}");
        }
        let mut request = signing(
            "/v1-kubers/serving-kubelet.crt",
            Some("s3cret"),
            Some("n1"),
            csr(),
        );
        request
            .headers_mut()
            .insert(NODE_IP_HEADER, HeaderValue::from_static("10.0.0.1,nope"));
        let (status, body) = send(&pki, request).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("invalid node IP address nope"), "{body}");
    }
}
