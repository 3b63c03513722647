//! The admin kubeconfig, shaped like k3s' `/etc/rancher/k3s/k3s.yaml`: one cluster, context and
//! user, all named "default", with the CA and client credentials inline as base64.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{Error, Pki, Result, SECRET_MODE, files};

/// The name of the cluster, context and user.
const NAME: &str = "default";

/// A kubeconfig file (the subset kubers writes).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Kubeconfig {
    #[serde(rename = "apiVersion")]
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) clusters: Vec<NamedCluster>,
    pub(super) contexts: Vec<NamedContext>,
    pub(super) current_context: String,
    pub(super) preferences: serde_yaml::Mapping,
    pub(super) users: Vec<NamedUser>,
}

/// A named cluster entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct NamedCluster {
    pub(super) name: String,
    pub(super) cluster: Cluster,
}

/// A named context entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct NamedContext {
    pub(super) name: String,
    pub(super) context: Context,
}

/// A named user entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct NamedUser {
    pub(super) name: String,
    pub(super) user: User,
}

/// A cluster entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub(super) struct Cluster {
    pub(super) certificate_authority_data: String,
    pub(super) server: String,
}

/// A context entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct Context {
    pub(super) cluster: String,
    pub(super) user: String,
}

/// A user entry.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub(super) struct User {
    pub(super) client_certificate_data: String,
    pub(super) client_key_data: String,
}

/// Writes an admin kubeconfig for `server_url` to `path` (mode 0600, parents created, atomic).
pub fn write_kubeconfig(path: &Path, server_url: &str, pki: &Pki) -> Result<()> {
    let config = admin_kubeconfig(server_url, pki);
    let yaml = serde_yaml::to_string(&config).map_err(|source| Error::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    files::write_atomic(path, yaml.as_bytes(), SECRET_MODE)
}

/// The admin kubeconfig for `server_url`.
fn admin_kubeconfig(server_url: &str, pki: &Pki) -> Kubeconfig {
    Kubeconfig {
        api_version: "v1".to_string(),
        kind: "Config".to_string(),
        clusters: vec![NamedCluster {
            name: NAME.to_string(),
            cluster: Cluster {
                certificate_authority_data: STANDARD.encode(pki.ca_cert_pem()),
                server: server_url.to_string(),
            },
        }],
        contexts: vec![NamedContext {
            name: NAME.to_string(),
            context: Context {
                cluster: NAME.to_string(),
                user: NAME.to_string(),
            },
        }],
        current_context: NAME.to_string(),
        preferences: serde_yaml::Mapping::new(),
        users: vec![NamedUser {
            name: NAME.to_string(),
            user: User {
                client_certificate_data: STANDARD.encode(pki.admin_cert_pem()),
                client_key_data: STANDARD.encode(pki.admin_key_pem()),
            },
        }],
    }
}
