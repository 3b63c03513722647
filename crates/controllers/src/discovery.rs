//! The resources the API server serves, from (aggregated) discovery: what the namespace controller
//! empties and what the garbage collector watches.

use kube::core::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::discovery::Discovery;

/// One served resource in its group's preferred version.
#[derive(Clone, Debug)]
pub struct Served {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
    /// Its verbs.
    pub verbs: Vec<String>,
}

impl Served {
    /// Whether the resource supports every verb of `verbs`.
    pub fn supports(&self, verbs: &[&str]) -> bool {
        verbs
            .iter()
            .all(|verb| self.verbs.iter().any(|served| served == verb))
    }
}

/// Every resource in its group's preferred version.
pub async fn served(client: kube::Client) -> Result<Vec<Served>, kube::Error> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(discovery) => discovery,
        Err(_) => Discovery::new(client).run().await?,
    };
    Ok(discovery
        .groups()
        .flat_map(|group| group.recommended_resources())
        .map(|(resource, capabilities): (ApiResource, ApiCapabilities)| Served {
            resource,
            namespaced: capabilities.scope == Scope::Namespaced,
            verbs: capabilities.operations,
        })
        .collect())
}
