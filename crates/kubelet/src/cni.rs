//! The node's CNI configuration: a bridge with host-local IPAM over the node's pod CIDR, plus portmap
//! for hostPorts. Written once per node: CNI DEL uses the current file, so it never changes under
//! live pods.

use std::path::Path;

use serde_json::json;

use crate::config::AgentPaths;
use crate::error::{Error, Result};

/// The file name of the configuration list.
pub const CONFIG_FILE: &str = "10-kubers.conflist";

/// The CNI configuration list for a node whose pods get addresses from `pod_cidr`.
pub fn conflist(paths: &AgentPaths, pod_cidr: &str) -> serde_json::Value {
    json!({
        "cniVersion": "1.0.0",
        "name": "kubers",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": paths.cni_ipam_dir(),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    })
}

/// Writes the configuration unless the same one is already there.
pub fn write(paths: &AgentPaths, pod_cidr: &str) -> Result<()> {
    let dir = paths.cni_conf_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|error| Error::io(format!("creating {}", dir.display()), error))?;
    let path = dir.join(CONFIG_FILE);
    let text = serde_json::to_string_pretty(&conflist(paths, pod_cidr))
        .map_err(|error| Error::Config(format!("CNI configuration: {error}")))?;
    if read(&path).as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    std::fs::write(&path, text)
        .map_err(|error| Error::io(format!("writing {}", path.display()), error))
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}
