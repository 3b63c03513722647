//! Joining a cluster with the server's token, as k3s agents do: download the cluster CA from
//! `/cacerts` and check it against the hash in a `K10...` token, then have the server sign a client
//! certificate (`system:node:<name>` in `system:nodes`) and a kubelet serving certificate for keys
//! generated here, with the token's secret as bearer credential. The results stay under
//! `DIR/agent/` (`credentials`) and are reused on restart while they fit.
//!
//! - `token`: the token formats and the CA hash;
//! - `client`: the HTTPS requests to the join endpoints;
//! - `credentials`: the stored files, their reuse checks and the kubeconfig.

mod client;
mod credentials;
mod token;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use hyper::{Method, StatusCode};
use rcgen::{CertificateParams, KeyPair};

pub use self::client::parse_server;
pub use self::credentials::Files;
pub use self::token::{JoinToken, ca_hash};

use self::client::ServerClient;
use self::credentials::Issued;
use crate::config::{AgentPaths, TlsFiles};

/// The header naming the joining node (k3s: `k3s-Node-Name`).
const NODE_NAME_HEADER: &str = "kubers-Node-Name";
/// The header listing its addresses (k3s: `k3s-Node-IP`).
const NODE_IP_HEADER: &str = "kubers-Node-IP";
/// How long to wait between attempts to reach a server that does not answer yet.
const RETRY_DELAY: Duration = Duration::from_secs(2);

/// What a join needs.
#[derive(Clone)]
pub struct JoinConfig {
    /// The server, `https://HOST:6443`.
    pub server: String,
    /// The join token as given (`K10<hash>::server:<secret>` or the secret alone).
    pub token: String,
    /// The agent's data folder (credentials go under `DIR/agent/`).
    pub data_dir: PathBuf,
    /// The node's name.
    pub node_name: String,
    /// The node's address, for the serving certificate.
    pub node_ip: IpAddr,
}

impl std::fmt::Debug for JoinConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinConfig")
            .field("server", &self.server)
            .field("node_name", &self.node_name)
            .field("node_ip", &self.node_ip)
            .finish_non_exhaustive()
    }
}

/// The credentials of a joined node.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The kubeconfig with the node's client certificate.
    pub kubeconfig: PathBuf,
    /// The kubelet's serving certificate and key.
    pub serving: TlsFiles,
}

/// Why a node could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The token or server URL cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The CA the server sent is not the one the token names.
    #[error("{0}")]
    CaMismatch(String),
    /// The server refused the token.
    #[error(
        "the server at {server} refused the join token ({status}): check --token against the server's DIR/server/token"
    )]
    Unauthorized {
        /// The server.
        server: String,
        /// Its answer.
        status: StatusCode,
    },
    /// The server refused a certificate request for another reason.
    #[error("{what}: the server answered {status}: {message}")]
    Refused {
        /// Which request.
        what: &'static str,
        /// The answer's status.
        status: StatusCode,
        /// The answer's message.
        message: String,
    },
    /// The server could not be reached.
    #[error(transparent)]
    Transport(#[from] client::TransportError),
    /// A key or certificate request could not be generated.
    #[error("generating the {what}: {source}")]
    Generate {
        /// Which one.
        what: &'static str,
        /// The cause.
        #[source]
        source: rcgen::Error,
    },
    /// The credentials could not be written.
    #[error("writing the node credentials under {}: {source}", path.display())]
    Write {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Joins the cluster (or reuses the credentials of an earlier join) and writes the kubeconfig.
pub async fn join(config: &JoinConfig) -> Result<Joined, JoinError> {
    let token = JoinToken::parse(&config.token).map_err(JoinError::Invalid)?;
    parse_server(&config.server).map_err(JoinError::Invalid)?;
    let paths = AgentPaths::new(&config.data_dir);
    let files = Files::new(paths.root());
    let write_error = |source| JoinError::Write {
        path: paths.root().to_path_buf(),
        source,
    };
    match files.unusable(&token, &config.node_name, config.node_ip) {
        None => tracing::info!("reusing the node credentials of an earlier join"),
        Some(reason) => {
            tracing::info!(%reason, server = %config.server, "joining the cluster");
            let issued = request_credentials(config, &token).await?;
            files.store(&issued).map_err(write_error)?;
            tracing::info!(node = %config.node_name, "joined the cluster");
        }
    }
    files
        .write_kubeconfig(&config.server)
        .map_err(write_error)?;
    Ok(Joined {
        kubeconfig: files.kubeconfig(),
        serving: files.serving(),
    })
}

/// Downloads and checks the CA, then has the server sign both certificates.
async fn request_credentials(config: &JoinConfig, token: &JoinToken) -> Result<Issued, JoinError> {
    let ca = download_ca(&config.server).await?;
    if token.ca_hash.is_none() {
        tracing::warn!(
            "the token does not include a CA hash: use the full token from the server's \
             DIR/server/token to enable cluster CA validation"
        );
    }
    token.verify_ca(&ca).map_err(JoinError::CaMismatch)?;
    let client = ServerClient::verifying(&config.server, &ca).map_err(JoinError::Invalid)?;
    let headers = [
        (NODE_NAME_HEADER, config.node_name.clone()),
        (NODE_IP_HEADER, config.node_ip.to_string()),
        ("authorization", format!("Bearer {}", token.secret)),
    ];
    let (client_cert, client_key) = sign(
        &client,
        config,
        &headers,
        "/v1-kubers/client-kubelet.crt",
        "node client certificate",
    )
    .await?;
    let (serving_cert, serving_key) = sign(
        &client,
        config,
        &headers,
        "/v1-kubers/serving-kubelet.crt",
        "kubelet serving certificate",
    )
    .await?;
    Ok(Issued {
        ca,
        client_cert,
        client_key,
        serving_cert,
        serving_key,
    })
}

/// `GET /cacerts`, retried while the server cannot be reached.
async fn download_ca(server: &str) -> Result<Vec<u8>, JoinError> {
    let client = ServerClient::insecure(server).map_err(JoinError::Invalid)?;
    loop {
        match client.send(Method::GET, "/cacerts", &[], Vec::new()).await {
            Ok((status, body)) if status.is_success() => return Ok(body.to_vec()),
            Ok((status, body)) => {
                return Err(JoinError::Refused {
                    what: "downloading the cluster CA",
                    status,
                    message: String::from_utf8_lossy(&body).into_owned(),
                });
            }
            Err(error) => {
                tracing::info!(%error, "waiting for the server to answer");
                tokio::time::sleep(RETRY_DELAY).await;
            }
        }
    }
}

/// Generates a key, sends a request for it to `path` and returns the certificate and the key.
async fn sign(
    client: &ServerClient,
    config: &JoinConfig,
    headers: &[(&str, String)],
    path: &str,
    what: &'static str,
) -> Result<(String, String), JoinError> {
    let generate = |source| JoinError::Generate { what, source };
    let key = KeyPair::generate().map_err(generate)?;
    let request = CertificateParams::default()
        .serialize_request(&key)
        .map_err(generate)?;
    let (status, body) = client
        .send(Method::POST, path, headers, request.der().to_vec())
        .await?;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(JoinError::Unauthorized {
            server: config.server.clone(),
            status,
        });
    }
    if !status.is_success() {
        return Err(JoinError::Refused {
            what,
            status,
            message: status_message(&body),
        });
    }
    let cert = String::from_utf8(body.to_vec()).map_err(|_| JoinError::Refused {
        what,
        status,
        message: "the answer is not PEM text".to_string(),
    })?;
    Ok((cert, key.serialize_pem()))
}

/// The message of a `Status` answer, or the answer itself.
fn status_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|status| status["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}
