//! The CRI client: runtime and image services of containerd over its unix socket.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::error::{Error, Result};

/// Clients of both CRI services over one connection. Cheap to clone.
#[derive(Clone)]
pub struct Cri {
    /// `runtime.v1.RuntimeService`.
    pub runtime: RuntimeServiceClient<Channel>,
    /// `runtime.v1.ImageService`.
    pub images: ImageServiceClient<Channel>,
}

impl std::fmt::Debug for Cri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cri")
    }
}

impl Cri {
    /// Connects lazily to the CRI socket at `socket` (a path or a `unix://` URL).
    pub fn connect(socket: &Path) -> Result<Self> {
        let path: PathBuf = socket
            .to_str()
            .and_then(|text| text.strip_prefix("unix://"))
            .map(PathBuf::from)
            .unwrap_or_else(|| socket.to_path_buf());
        let endpoint = Endpoint::try_from("http://[::]:0")
            .map_err(|error| Error::Config(format!("CRI endpoint: {error}")))?;
        let channel = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }));
        let max = 16 * 1024 * 1024;
        Ok(Cri {
            runtime: RuntimeServiceClient::new(channel.clone())
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
            images: ImageServiceClient::new(channel).max_decoding_message_size(max),
        })
    }

    /// The runtime's name and version, e.g. `("containerd", "1.6.20~ds1")`.
    pub async fn version(&self) -> Result<(String, String)> {
        let response = self
            .runtime
            .clone()
            .version(k8s_cri::v1::VersionRequest {
                version: "v1".into(),
            })
            .await
            .map_err(|status| Error::cri("Version", status))?
            .into_inner();
        Ok((response.runtime_name, response.runtime_version))
    }
}
