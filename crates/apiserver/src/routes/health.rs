//! `/version` and the health endpoints (`/healthz`, `/livez`, `/readyz`).

use axum::Json;
use serde_json::{Value, json};

/// The Kubernetes version kubers serves.
pub const KUBERNETES_VERSION: (&str, &str, &str) = ("1", "34", "v1.34.0+kubers");

/// `GET /version`.
pub async fn version() -> Json<Value> {
    let (major, minor, git_version) = KUBERNETES_VERSION;
    Json(json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, arch()),
    }))
}

/// `GET /healthz` and friends.
pub async fn ok() -> &'static str {
    "ok"
}

/// The architecture as Go names it.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
