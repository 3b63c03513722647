//! HTTPS requests to the server's join endpoints: one connection per request (a join makes three),
//! HTTP/1.1 over rustls. The CA download trusts any server certificate, as k3s' first `/cacerts`
//! request does; the token's hash is what makes that download trustworthy. Every later request
//! verifies the server against the downloaded CA.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use kubers_core::tls::{PemError, ServerCheck, client_config, roots_from_pem};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long one request may take, connection included (k3s' client timeout).
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer read.
const BODY_LIMIT: usize = 1024 * 1024;

/// A failure to get an answer at all (the server may not be up yet).
#[derive(Debug, thiserror::Error)]
#[error("{method} {url}: {message}")]
pub struct TransportError {
    method: Method,
    url: String,
    message: String,
}

/// The server at `--server`, reached with one TLS configuration.
#[derive(Clone)]
pub struct ServerClient {
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
}

impl ServerClient {
    /// A client that accepts any server certificate, for the CA download only.
    pub fn insecure(server: &str) -> Result<Self, String> {
        let address = parse_server(server)?;
        Self::new(address, ServerCheck::Skip)
    }

    /// A client that verifies the server against the CA bundle `ca_pem`.
    pub fn verifying(server: &str, ca_pem: &[u8]) -> Result<Self, String> {
        let address = parse_server(server)?;
        let roots = roots_from_pem(ca_pem).map_err(|error| match error {
            PemError::NoCertificate => "the cluster CA holds no certificate".to_string(),
            error => format!("the cluster CA: {error}"),
        })?;
        Self::new(address, ServerCheck::Roots(roots))
    }

    fn new((host, port): (String, u16), check: ServerCheck) -> Result<Self, String> {
        let config = client_config(check, None).map_err(|error| error.to_string())?;
        Ok(ServerClient {
            host,
            port,
            tls: Arc::new(config),
        })
    }

    /// Sends one request and returns the status and the body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), TransportError> {
        let url = format!("https://{}{path}", self.authority());
        let failed = |message: String| TransportError {
            method: method.clone(),
            url: url.clone(),
            message,
        };
        let exchange = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|error| failed(format!("dial tcp {}: {error}", self.authority())))?;
            let name = match self.host.parse::<IpAddr>() {
                Ok(ip) => ServerName::IpAddress(ip.into()),
                Err(_) => ServerName::try_from(self.host.clone())
                    .map_err(|error| failed(error.to_string()))?,
            };
            let tls = TlsConnector::from(Arc::clone(&self.tls))
                .connect(name, tcp)
                .await
                .map_err(|error| failed(error.to_string()))?;
            let (mut sender, connection) = http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|error| failed(error.to_string()))?;
            tokio::spawn(connection);
            let mut request = Request::builder()
                .method(method.clone())
                .uri(
                    path.parse::<Uri>()
                        .map_err(|error| failed(error.to_string()))?,
                )
                .header(hyper::header::HOST, self.authority());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let request = request
                .body(Full::new(Bytes::from(body)))
                .map_err(|error| failed(error.to_string()))?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|error| failed(error.to_string()))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map_err(|error| failed(error.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| failed("timed out".to_string()))?
    }

    fn authority(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// The host and port of an `https://` server URL.
pub fn parse_server(server: &str) -> Result<(String, u16), String> {
    let uri: Uri = server
        .parse()
        .map_err(|error| format!("invalid server url {server:?}: {error}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!(
            "only https:// URLs are supported, invalid scheme: {server}"
        ));
    }
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| format!("invalid server url {server:?}: no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host.to_string(), uri.port_u16().unwrap_or(443)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls() {
        assert_eq!(
            parse_server("https://10.0.0.1:6443"),
            Ok(("10.0.0.1".into(), 6443))
        );
        assert_eq!(
            parse_server("https://server.example/"),
            Ok(("server.example".into(), 443))
        );
        assert_eq!(
            parse_server("https://[fd00::1]:6443"),
            Ok(("fd00::1".into(), 6443))
        );
        assert_eq!(
            parse_server("http://10.0.0.1:6443"),
            Err("only https:// URLs are supported, invalid scheme: http://10.0.0.1:6443".into())
        );
    }
}
